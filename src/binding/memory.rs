//! The Memory provider's native functions. They run synchronously on the
//! calling thread — the compare-and-write needs no thread hop (see
//! README, "Performance") — and the TypeScript layer hands back settled
//! promises.
//!
//! They are plain functions over an external store handle (`store_handle`)
//! rather than class methods: a class method call pays for unwrapping and
//! type-tag checking the `this` object (~350 ns here), more than the
//! store's own work.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::error::{DsError, NapiResult as Result};
use crate::memory::store::Reply;
use crate::memory::{registry, Store};
use crate::query::QueryFilter;
use crate::validate::PartitionKeyPath;
use crate::write::{Expectation, WriteOutcome};

use super::arg_str::ArgStr;
use super::outcome::{doc_or_miss, miss_code, MISS_CONFLICT, MISS_NOT_FOUND};
use super::store_handle::{StoreArg, StoreHandle};

/// Opens an isolated store, or the process-wide store named `shared`.
#[napi(ts_return_type = "ExternalObject<'MemoryStore'>")]
pub fn memory_open(partition_key_path: String, shared: Option<String>) -> Result<StoreHandle> {
    let pk = PartitionKeyPath::parse(&partition_key_path)?;
    let store = match shared {
        Some(name) => registry::open_shared(&name, pk)?,
        None => Arc::new(Store::new(pk)),
    };
    Ok(StoreHandle(store))
}

/// The count every change to any Memory store's documents moves (see
/// `store::write_count`): while it reads the same, nothing has changed.
/// A number, exact below 2^53 (some hundred days at a billion writes a second).
#[napi]
pub fn memory_write_count() -> f64 {
    crate::memory::store::write_count() as f64
}

/// Deletes every document of `store` when this handle is its only holder
/// (a store of its own, or a shared one since dropped and opened by no one
/// else): `close` frees them at once, not when the handle is collected,
/// which V8, seeing none of that memory, may put off for gigabytes.
/// Whether it did.
#[napi]
pub fn memory_release(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
) -> bool {
    if !store.sole_holder() {
        return false;
    }
    store.clear();
    true
}

/// Forgets the process-wide store `name`; `true` when there was one.
#[napi]
pub fn memory_drop_shared(name: String) -> Result<bool> {
    Ok(registry::drop_shared(&name)?)
}

/// `pkJson` is `JSON.stringify(partitionKey)`.
#[napi]
pub fn memory_get(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] id: ArgStr,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
) -> Result<Option<String>> {
    Ok(store.get(&id, &pk_json)?)
}

/// `get` for a caller that holds the version `knownEtag`, the document
/// named by its map `key` (see `memoryUpdateIfMatchAt`): when that is
/// still the current one, a number, the stamp of its shard (see
/// `memoryStampHolds`); else the document's JSON, or `null`.
#[napi]
pub fn memory_get_fresh_at(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] key: ArgStr,
    #[napi(ts_arg_type = "string | undefined | null")] known_etag: Option<ArgStr>,
) -> Result<Option<Either<String, f64>>> {
    Ok(store
        .get_fresh_at(&key, known_etag.as_deref())?
        .map(|r| match r {
            Reply::Unchanged(stamp) => Either::B(stamp as f64),
            Reply::Doc(text) | Reply::Fields(text) => Either::A(text),
        }))
}

/// Whether no document of the shard that `stamp` (given by
/// `memoryGetFreshAt` or `memoryUpdateIfMatchAt`) names has changed since:
/// then the version it was given with is still the current one.
#[napi]
pub fn memory_stamp_holds(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    stamp: f64,
) -> bool {
    // Stamps are whole numbers below 2^53; anything else was never given.
    (0.0..9_007_199_254_740_992.0).contains(&stamp)
        && stamp.fract() == 0.0
        && store.stamp_holds(stamp as u64)
}

#[napi]
pub fn memory_create(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] doc_json: ArgStr,
) -> Result<String> {
    Ok(store.create(&doc_json)?)
}

/// `create`, answering only the new system fields and the stamp of the
/// document's shard, as `memoryUpdateIfMatchAt` answers a write onto the
/// version held (`"+"`, etag, rev, `,`, `_ts`, `,`, stamp): for a caller
/// that keeps the document it sent.
#[napi]
pub fn memory_create_fields(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] doc_json: ArgStr,
) -> Result<String> {
    Ok(store.create_fields(&doc_json)?)
}

/// `createFields` for a document whose long string members come apart
/// from its text: `docJson` holds a placeholder for each, `strings` their
/// keys and values (key, value, …), written into the stored text here.
#[napi]
pub fn memory_create_fields_with(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] doc_json: ArgStr,
    #[napi(ts_arg_type = "string[]")] strings: Vec<ArgStr>,
) -> Result<String> {
    let strings: Vec<&str> = strings.iter().map(ArgStr::as_str).collect();
    Ok(store.create_fields_with(&doc_json, &strings)?)
}

#[napi]
pub fn memory_upsert(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] doc_json: ArgStr,
) -> Result<String> {
    Ok(store.upsert(&doc_json)?)
}

#[napi]
pub fn memory_replace(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] doc_json: ArgStr,
) -> Result<String> {
    Ok(store.replace(&doc_json)?)
}

#[napi]
pub fn memory_update(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] id: ArgStr,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
    #[napi(ts_arg_type = "string")] patch_json: ArgStr,
) -> Result<String> {
    Ok(store.update(&id, &pk_json, &patch_json)?)
}

/// The document's JSON on a match; `1` (conflict) or `2` (not found) otherwise.
#[napi]
pub fn memory_update_if_match(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] id: ArgStr,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
    etag: Option<String>,
    rev: Option<f64>,
    #[napi(ts_arg_type = "string")] patch_json: ArgStr,
) -> Result<Either<String, u32>> {
    let expected = Expectation::from_js(etag, rev)?;
    Ok(doc_or_miss(store.update_if_match(
        &id,
        &pk_json,
        &expected,
        &patch_json,
    )?))
}

/// `updateIfMatch` for a caller that holds the version `knownEtag`, the
/// document named by its map `key` (the partition key's JSON, a newline, the
/// id). On a match, the document's JSON, or, when the write landed on the
/// version held, `"+"` and only the new system fields and stamp
/// (`"<16 hex>"` etag, rev, `,`, `_ts`, `,`, the stamp of the shard as the
/// write left it: see `memoryStampHolds`); `1` (conflict) or `2` (not
/// found) otherwise. Short strings are read without the heap (`ArgStr`).
#[napi]
pub fn memory_update_if_match_at(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] key: ArgStr,
    #[napi(ts_arg_type = "string | undefined | null")] etag: Option<ArgStr>,
    rev: Option<f64>,
    #[napi(ts_arg_type = "string")] patch_json: ArgStr,
    #[napi(ts_arg_type = "string | undefined | null")] known_etag: Option<ArgStr>,
) -> Result<Either<String, u32>> {
    let expected = Expectation::from_js(etag.map(|e| e.to_owned()), rev)?;
    Ok(
        match store.update_if_match_at(&key, &expected, &patch_json, known_etag.as_deref())? {
            WriteOutcome::Written(Reply::Doc(text) | Reply::Fields(text)) => Either::A(text),
            WriteOutcome::Written(Reply::Unchanged(_)) => {
                return Err(DsError::internal("a write answered \"unchanged\"").into())
            }
            WriteOutcome::Conflict => Either::B(MISS_CONFLICT),
            WriteOutcome::NotFound => Either::B(MISS_NOT_FOUND),
        },
    )
}

/// `0` when deleted; `1` (conflict) or `2` (not found) otherwise.
#[napi]
pub fn memory_delete_if_match(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] id: ArgStr,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
    etag: Option<String>,
    rev: Option<f64>,
) -> Result<u32> {
    let expected = Expectation::from_js(etag, rev)?;
    Ok(miss_code(store.delete_if_match(&id, &pk_json, &expected)?))
}

#[napi]
pub fn memory_delete(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] id: ArgStr,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
) -> Result<bool> {
    Ok(store.delete(&id, &pk_json)?)
}

/// `filterJson` is the portable query filter as JSON; returns a JSON array.
#[napi]
pub fn memory_query(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    filter_json: Option<String>,
) -> Result<String> {
    let filter = QueryFilter::parse(filter_json.as_deref())?;
    Ok(store.query(&filter)?)
}

/// `queryPage`: at most `max` documents of the filter written after the
/// version `after` (the etag number a previous page answered). Returns
/// `{"items":[…],"next":"<etag number>"|null}`.
#[napi]
pub fn memory_query_page(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    filter_json: Option<String>,
    after: Option<String>,
    max: u32,
) -> Result<String> {
    let filter = QueryFilter::parse(filter_json.as_deref())?;
    let after = match after.as_deref() {
        None => 0,
        Some(a) => a.parse::<u64>().map_err(|_| {
            DsError::invalid("queryPage: continuation is not a token this provider gave")
        })?,
    };
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    let (items, next) = store.query_page(&filter, after, max)?;
    Ok(match next {
        Some(n) => format!(r#"{{"items":{items},"next":"{n}"}}"#),
        None => format!(r#"{{"items":{items},"next":null}}"#),
    })
}

/// `batch`: `opsJson` is the operations as `lib/batch.ts` encodes them;
/// returns the `BatchResult` as JSON text. All applied or none, in one
/// critical section.
#[napi]
pub fn memory_batch(
    #[napi(ts_arg_type = "ExternalObject<'MemoryStore'>")] store: StoreArg,
    #[napi(ts_arg_type = "string")] pk_json: ArgStr,
    #[napi(ts_arg_type = "string")] ops_json: ArgStr,
) -> Result<String> {
    let batch = crate::batch::parse(&pk_json, &ops_json, store.partition_key())?;
    Ok(store.batch(&batch)?.to_json())
}

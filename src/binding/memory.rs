//! `NativeMemoryStore`: synchronous methods that run on the calling thread.
//! The compare-and-write needs no thread hop (see `design/performance.md`);
//! the TypeScript layer hands back settled promises.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::error::NapiResult as Result;
use crate::memory::{registry, Expected, Store, WriteOutcome};
use crate::query::QueryFilter;
use crate::validate::{expected_rev, PartitionKeyPath};

/// Returned by `updateIfMatch` instead of a document.
pub const MISS_CONFLICT: u32 = 1;
pub const MISS_NOT_FOUND: u32 = 2;

#[napi]
pub struct NativeMemoryStore {
    store: Arc<Store>,
}

#[napi]
impl NativeMemoryStore {
    /// Opens an isolated store, or the process-wide store named `shared`.
    #[napi(constructor)]
    pub fn new(partition_key_path: String, shared: Option<String>) -> Result<Self> {
        let pk = PartitionKeyPath::parse(&partition_key_path)?;
        let store = match shared {
            Some(name) => registry::open_shared(&name, pk)?,
            None => Arc::new(Store::new(pk)),
        };
        Ok(NativeMemoryStore { store })
    }

    /// `pkJson` is `JSON.stringify(partitionKey)`.
    #[napi]
    pub fn get(&self, id: String, pk_json: String) -> Result<Option<String>> {
        Ok(self.store.get(&id, &pk_json)?)
    }

    #[napi]
    pub fn create(&self, doc_json: String) -> Result<String> {
        Ok(self.store.create(&doc_json)?)
    }

    #[napi]
    pub fn upsert(&self, doc_json: String) -> Result<String> {
        Ok(self.store.upsert(&doc_json)?)
    }

    #[napi]
    pub fn replace(&self, doc_json: String) -> Result<String> {
        Ok(self.store.replace(&doc_json)?)
    }

    #[napi]
    pub fn update(&self, id: String, pk_json: String, patch_json: String) -> Result<String> {
        Ok(self.store.update(&id, &pk_json, &patch_json)?)
    }

    /// The document's JSON on a match; `1` (conflict) or `2` (not found) otherwise.
    #[napi]
    pub fn update_if_match(
        &self,
        id: String,
        pk_json: String,
        etag: Option<String>,
        rev: Option<f64>,
        patch_json: String,
    ) -> Result<Either<String, u32>> {
        let rev = rev.map(expected_rev).transpose()?;
        let expected = Expected::new(etag.as_deref(), rev)?;
        Ok(
            match self
                .store
                .update_if_match(&id, &pk_json, &expected, &patch_json)?
            {
                WriteOutcome::Written(doc) => Either::A(doc),
                WriteOutcome::Conflict => Either::B(MISS_CONFLICT),
                WriteOutcome::NotFound => Either::B(MISS_NOT_FOUND),
            },
        )
    }

    #[napi]
    pub fn delete(&self, id: String, pk_json: String) -> Result<bool> {
        Ok(self.store.delete(&id, &pk_json)?)
    }

    /// `filterJson` is the portable query filter as JSON; returns a JSON array.
    #[napi]
    pub fn query(&self, filter_json: Option<String>) -> Result<String> {
        let filter = QueryFilter::parse(filter_json.as_deref())?;
        Ok(self.store.query(&filter)?)
    }
}

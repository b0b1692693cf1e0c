//! `NativeCosmosStore`: async methods on napi's tokio runtime. The awaited
//! network round trip dwarfs the thread hop (README, "Performance").
//!
//! napi's async rejections carry only its own `Status` codes, so the error's
//! wire JSON (`DsError::wire`) travels as a `[[{…}]] message` prefix;
//! `lib/errors.ts` decodes it before anyone sees it.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncBlock, AsyncBlockBuilder, Either, ToNapiValue};
use napi::Env;
use napi_derive::napi;
use tokio_util::sync::CancellationToken;

use super::credential::{GetToken, JsCredential};
use super::outcome::{doc_or_miss, miss_code};
use crate::cosmos::call::{Call, Meter};
use crate::cosmos::options::RawOptions;
use crate::cosmos::{ConnectOptions, CosmosStore};
use crate::error::{DsError, DsResult};
use crate::query::QueryFilter;
use crate::write::Expectation;

/// napi's own error type: async rejections cannot carry a custom code.
type Result<T> = napi::Result<T>;

/// A `DsError` as the rejection `lib/cosmos.ts` decodes.
fn reject(e: DsError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[[{}]] {}", e.wire(), e.message),
    )
}

/// Options of `CosmosProvider.connect` (see `lib/types.ts`).
#[napi(object)]
pub struct NativeCosmosOptions {
    pub endpoint: Option<String>,
    pub key: Option<String>,
    pub connection_string: Option<String>,
    pub database: String,
    pub container: String,
    pub partition_key_path: String,
    pub emulator: Option<bool>,
    pub create_if_not_exists: Option<bool>,
    /// Names the credential object passed as `getToken` (see `lib/cosmos.ts`).
    pub credential_id: Option<u32>,
    pub timeout_ms: Option<u32>,
    pub preferred_regions: Option<Vec<String>>,
    pub consistency_level: Option<String>,
}

#[napi]
pub struct NativeCosmosStore {
    store: Arc<CosmosStore>,
}

/// One call's own limits (`CallOptions` in `lib/types.ts`): its deadline,
/// and an abort the TypeScript layer fires when the caller's signal does;
/// and what the call heard, for `onDiagnostics`.
#[napi]
pub struct NativeCall {
    timeout: Option<Duration>,
    abort: CancellationToken,
    meter: Arc<Meter>,
}

/// What a call heard from the server (`CallDiagnostics` in `lib/types.ts`).
#[napi(object)]
pub struct NativeMetered {
    pub requests: u32,
    pub request_charge: f64,
    pub activity_id: Option<String>,
    pub status: Option<u32>,
    pub sub_status: Option<u32>,
}

thread_local! {
    /// Fired when this thread's JavaScript environment is torn down.
    static ENV_ENDED: RefCell<Option<CancellationToken>> = const { RefCell::new(None) };
}

/// A token fired when the calling thread's environment ends (a worker
/// terminated or exiting, the process exiting). Every call listens to it,
/// so what an ended worker queued is never sent: nobody is left to hear
/// its answer, and a write landing seconds after its thread is gone
/// surprises whoever ended it. A write already in flight is resolved as an
/// aborted one is.
fn env_ended(env: &Env) -> Result<CancellationToken> {
    ENV_ENDED.with(|slot| {
        let mut slot = slot.borrow_mut();
        if let Some(token) = slot.as_ref().filter(|t| !t.is_cancelled()) {
            return Ok(token.clone());
        }
        let token = CancellationToken::new();
        env.add_env_cleanup_hook(token.clone(), |t| t.cancel())?;
        *slot = Some(token.clone());
        Ok(token)
    })
}

#[napi]
impl NativeCall {
    /// `timeoutMs` is checked by the TypeScript layer (a whole number ≥ 1).
    #[napi(constructor)]
    pub fn new(env: Env, timeout_ms: Option<u32>) -> Result<Self> {
        Ok(NativeCall {
            timeout: timeout_ms.map(|ms| Duration::from_millis(u64::from(ms))),
            abort: env_ended(&env)?.child_token(),
            meter: Arc::default(),
        })
    }

    /// What the call heard so far (read it once the call has settled).
    #[napi]
    pub fn diagnostics(&self) -> NativeMetered {
        let m = self.meter.read();
        NativeMetered {
            requests: m.requests,
            request_charge: m.request_charge,
            activity_id: m.activity_id,
            status: m.status.map(u32::from),
            sub_status: m.sub_status.map(u32::from),
        }
    }

    /// Stops the call: what it has not sent is not sent; a write in flight
    /// is resolved by a re-read.
    #[napi]
    pub fn abort(&self) {
        self.abort.cancel();
    }
}

/// The limits of a call on `store`: its own, or the provider's alone;
/// either way it stops when its environment ends.
fn limits(env: &Env, store: &CosmosStore, call: Option<&NativeCall>) -> Result<Call> {
    Ok(match call {
        Some(c) => store
            .call(c.timeout, Some(c.abort.clone()))
            .metered(Arc::clone(&c.meter)),
        None => store.call(None, Some(env_ended(env)?)),
    })
}

/// Connects to the container (creating it when asked) on the shared
/// client of its account.
/// With `getToken`, requests are signed with Entra ID tokens it gives
/// instead of a key.
#[napi]
pub async fn cosmos_connect(
    options: NativeCosmosOptions,
    #[napi(ts_arg_type = "((scopes: string) => Promise<NativeAccessToken>) | undefined | null")]
    get_token: Option<GetToken>,
) -> Result<NativeCosmosStore> {
    let opts = ConnectOptions::parse(RawOptions {
        endpoint: options.endpoint,
        key: options.key,
        connection_string: options.connection_string,
        credential_id: options.credential_id,
        database: options.database,
        container: options.container,
        partition_key_path: options.partition_key_path,
        emulator: options.emulator.unwrap_or(false),
        create_if_not_exists: options.create_if_not_exists.unwrap_or(false),
        timeout_ms: options.timeout_ms,
        preferred_regions: options.preferred_regions,
        consistency_level: options.consistency_level,
    })
    .map_err(reject)?;
    let store = CosmosStore::connect(opts, get_token.map(JsCredential::shared))
        .await
        .map_err(reject)?;
    Ok(NativeCosmosStore {
        store: Arc::new(store),
    })
}

/// Runs `op` on the store as a promise. The future owns its own `Arc` of
/// the store and never borrows the JavaScript object: a worker thread that
/// ends (`worker.terminate()`, `process.exit()`) finalizes that object while
/// the request is still in flight, and a future holding `&self` would then
/// read freed memory. The promise of an ended worker settles into nothing
/// (napi-rs drops a settle whose environment is gone).
fn spawn<T, F, Fut>(
    env: &Env,
    store: &Arc<CosmosStore>,
    call: Option<&NativeCall>,
    op: F,
) -> Result<AsyncBlock<T>>
where
    T: ToNapiValue + Send + 'static,
    F: FnOnce(Arc<CosmosStore>, Call) -> Fut,
    Fut: Future<Output = DsResult<T>> + Send + 'static,
{
    let fut = op(Arc::clone(store), limits(env, store, call)?);
    AsyncBlockBuilder::new(async move { fut.await.map_err(reject) }).build(env)
}

#[napi]
impl NativeCosmosStore {
    /// `pkJson` is `JSON.stringify(partitionKey)`.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn get(
        &self,
        env: &Env,
        id: String,
        pk_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<Option<String>>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.get(&c, &id, &pk_json).await
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn create(
        &self,
        env: &Env,
        doc_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.create(&c, &doc_json).await
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn upsert(
        &self,
        env: &Env,
        doc_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.upsert(&c, &doc_json).await
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn replace(
        &self,
        env: &Env,
        doc_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.replace(&c, &doc_json).await
        })
    }

    #[napi(ts_return_type = "Promise<string>")]
    pub fn update(
        &self,
        env: &Env,
        id: String,
        pk_json: String,
        patch_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.update(&c, &id, &pk_json, &patch_json).await
        })
    }

    /// The document's JSON on a match; `1` (conflict) or `2` (not found) otherwise.
    #[napi(ts_return_type = "Promise<string | number>")]
    // The arguments are the JavaScript call's, flattened so none is JSON-encoded twice.
    #[allow(clippy::too_many_arguments)]
    pub fn update_if_match(
        &self,
        env: &Env,
        id: String,
        pk_json: String,
        etag: Option<String>,
        rev: Option<f64>,
        patch_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<Either<String, u32>>> {
        spawn(env, &self.store, call, |s, c| async move {
            let expected = Expectation::from_js(etag, rev)?;
            Ok(doc_or_miss(
                s.update_if_match(&c, &id, &pk_json, &expected, &patch_json)
                    .await?,
            ))
        })
    }

    /// `0` when deleted; `1` (conflict) or `2` (not found) otherwise.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn delete_if_match(
        &self,
        env: &Env,
        id: String,
        pk_json: String,
        etag: Option<String>,
        rev: Option<f64>,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<u32>> {
        spawn(env, &self.store, call, |s, c| async move {
            let expected = Expectation::from_js(etag, rev)?;
            Ok(miss_code(
                s.delete_if_match(&c, &id, &pk_json, &expected).await?,
            ))
        })
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete(
        &self,
        env: &Env,
        id: String,
        pk_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<bool>> {
        spawn(env, &self.store, call, |s, c| async move {
            s.delete(&c, &id, &pk_json).await
        })
    }

    /// `filterJson` is the portable query filter as JSON; returns a JSON array.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn query(
        &self,
        env: &Env,
        filter_json: Option<String>,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            let filter = QueryFilter::parse(filter_json.as_deref())?;
            s.query(&c, &filter).await
        })
    }

    /// One page of the query (`queryPage`): `{"items":[…],"continuation":…}` as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn query_page(
        &self,
        env: &Env,
        filter_json: Option<String>,
        max_items: u32,
        continuation: Option<String>,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            let filter = QueryFilter::parse(filter_json.as_deref())?;
            s.query_page(&c, &filter, max_items, continuation).await
        })
    }

    /// `batch`: `opsJson` is the operations as `lib/batch.ts` encodes them;
    /// resolves to the `BatchResult` as JSON text. One transactional batch.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn batch(
        &self,
        env: &Env,
        pk_json: String,
        ops_json: String,
        call: Option<&NativeCall>,
    ) -> Result<AsyncBlock<String>> {
        spawn(env, &self.store, call, |s, c| async move {
            let batch = crate::batch::parse(&pk_json, &ops_json, s.partition_key())?;
            Ok(s.batch(&c, &batch).await?.to_json())
        })
    }
}

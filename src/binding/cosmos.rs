//! `NativeCosmosStore`: async methods on napi's tokio runtime. The awaited
//! network round trip dwarfs the thread hop (see `design/performance.md`).
//!
//! napi's `async fn` rejects only with its own `Status` codes, so the
//! contract code travels in the message as `[[code@status]] message`;
//! `lib/cosmos.ts` moves it back to `err.code` before anyone sees it.

use std::sync::Arc;

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use super::memory::{MISS_CONFLICT, MISS_NOT_FOUND};
use crate::cosmos::options::RawOptions;
use crate::cosmos::{ConnectOptions, CosmosStore};
use crate::error::DsError;
use crate::memory::WriteOutcome;
use crate::query::QueryFilter;
use crate::validate::expected_rev;

/// napi's own error type: async rejections cannot carry a custom code.
type Result<T> = napi::Result<T>;

/// A `DsError` as the rejection `lib/cosmos.ts` decodes.
fn reject(e: DsError) -> napi::Error {
    napi::Error::new(
        napi::Status::GenericFailure,
        format!("[[{}]] {}", e.wire_code(), e.message),
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
}

#[napi]
pub struct NativeCosmosStore {
    store: Arc<CosmosStore>,
}

/// Connects to the container (creating it when asked) on the shared
/// client of its account.
#[napi]
pub async fn cosmos_connect(options: NativeCosmosOptions) -> Result<NativeCosmosStore> {
    let opts = ConnectOptions::parse(RawOptions {
        endpoint: options.endpoint,
        key: options.key,
        connection_string: options.connection_string,
        database: options.database,
        container: options.container,
        partition_key_path: options.partition_key_path,
        emulator: options.emulator.unwrap_or(false),
        create_if_not_exists: options.create_if_not_exists.unwrap_or(false),
    })
    .map_err(reject)?;
    let store = CosmosStore::connect(opts).await.map_err(reject)?;
    Ok(NativeCosmosStore {
        store: Arc::new(store),
    })
}

#[napi]
impl NativeCosmosStore {
    /// `pkJson` is `JSON.stringify(partitionKey)`.
    #[napi]
    pub async fn get(&self, id: String, pk_json: String) -> Result<Option<String>> {
        self.store.get(&id, &pk_json).await.map_err(reject)
    }

    #[napi]
    pub async fn create(&self, doc_json: String) -> Result<String> {
        self.store.create(&doc_json).await.map_err(reject)
    }

    #[napi]
    pub async fn upsert(&self, doc_json: String) -> Result<String> {
        self.store.upsert(&doc_json).await.map_err(reject)
    }

    #[napi]
    pub async fn replace(&self, doc_json: String) -> Result<String> {
        self.store.replace(&doc_json).await.map_err(reject)
    }

    #[napi]
    pub async fn update(&self, id: String, pk_json: String, patch_json: String) -> Result<String> {
        self.store
            .update(&id, &pk_json, &patch_json)
            .await
            .map_err(reject)
    }

    /// The document's JSON on a match; `1` (conflict) or `2` (not found) otherwise.
    #[napi]
    pub async fn update_if_match(
        &self,
        id: String,
        pk_json: String,
        etag: Option<String>,
        rev: Option<f64>,
        patch_json: String,
    ) -> Result<Either<String, u32>> {
        let rev = rev.map(expected_rev).transpose().map_err(reject)?;
        Ok(
            match self
                .store
                .update_if_match(&id, &pk_json, etag.as_deref(), rev, &patch_json)
                .await
                .map_err(reject)?
            {
                WriteOutcome::Written(doc) => Either::A(doc),
                WriteOutcome::Conflict => Either::B(MISS_CONFLICT),
                WriteOutcome::NotFound => Either::B(MISS_NOT_FOUND),
            },
        )
    }

    #[napi]
    pub async fn delete(&self, id: String, pk_json: String) -> Result<bool> {
        self.store.delete(&id, &pk_json).await.map_err(reject)
    }

    /// `filterJson` is the portable query filter as JSON; returns a JSON array.
    #[napi]
    pub async fn query(&self, filter_json: Option<String>) -> Result<String> {
        let filter = QueryFilter::parse(filter_json.as_deref()).map_err(reject)?;
        self.store.query(&filter).await.map_err(reject)
    }
}

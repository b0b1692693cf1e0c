//! One SDK client per account, shared by every provider in the process:
//! the SDK's runtime owns the connection pool, so providers opened on the
//! same account reuse connections. Two runtimes at most: the default one
//! (TLS verified, HTTP/2 allowed) and the emulator one (HTTP/1.1, and
//! `RequiredUnlessEmulator`, which relaxes certificate checks for loopback
//! hosts only — the options already refuse `emulator` for any other host).

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use azure_core::credentials::TokenCredential;
use azure_core::http::headers::{HeaderValue, CONTENT_TYPE};

use azure_data_cosmos::clients::ContainerClient;
use azure_data_cosmos::models::{ContainerProperties, PartitionKeyDefinition};
use azure_data_cosmos::options::{
    BinaryEncodingOptions, ConnectionPoolOptions, ContentResponseOnWrite, OperationOptions,
    OperationOptionsBuilder, PartitionFailoverOptions, PartitionTopologyCacheMode,
    ReadConsistencyStrategy, Region, ServerCertificateValidation,
};
use azure_data_cosmos::{
    AccountEndpoint, AccountReference, CosmosClient, CosmosError, CosmosRuntime, RoutingStrategy,
};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::errors::{from_cosmos, status_of, Redactor};
use super::options::{Auth, ConnectOptions, Consistency};
use crate::error::{DsError, DsResult};

/// Clients by account: endpoint, emulator flag and a hash of how requests
/// are signed (the key, so a rotated key gets a new client and the key
/// itself is not kept twice; or which credential object).
#[derive(Clone, PartialEq, Eq, Hash)]
struct AccountId {
    endpoint: String,
    emulator: bool,
    auth_hash: u64,
    /// Client-wide settings: providers that differ in them cannot share.
    preferred_regions: Vec<String>,
    consistency: Option<Consistency>,
}

/// Where an Entra ID token credential's tokens come from.
pub type Credential = Arc<dyn TokenCredential>;

fn clients() -> &'static Mutex<HashMap<AccountId, CosmosClient>> {
    static CLIENTS: OnceLock<Mutex<HashMap<AccountId, CosmosClient>>> = OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

async fn runtime(emulator: bool) -> Result<CosmosRuntime, CosmosError> {
    static DEFAULT: OnceCell<CosmosRuntime> = OnceCell::const_new();
    static EMULATOR: OnceCell<CosmosRuntime> = OnceCell::const_new();
    let cell = if emulator { &EMULATOR } else { &DEFAULT };
    cell.get_or_try_init(|| async move {
        let mut pool = ConnectionPoolOptions::builder();
        if emulator {
            pool = pool
                .with_server_certificate_validation(
                    ServerCertificateValidation::RequiredUnlessEmulator,
                )
                .with_is_http2_allowed(false)
                .with_gateway_v2_disabled(true);
        }
        CosmosRuntime::builder()
            .with_connection_pool(pool.build()?)
            .build()
            .await
    })
    .await
    .cloned()
}

/// The shared client for the account `opts` names.
pub async fn client(
    opts: &ConnectOptions,
    credential: Option<Credential>,
    redactor: &Redactor,
) -> DsResult<CosmosClient> {
    let mut h = DefaultHasher::new();
    opts.auth.hash(&mut h);
    let id = AccountId {
        endpoint: opts.endpoint.clone(),
        emulator: opts.emulator,
        auth_hash: h.finish(),
        preferred_regions: opts.preferred_regions.clone(),
        consistency: opts.consistency,
    };
    if let Some(c) = clients().lock().get(&id) {
        return Ok(c.clone());
    }
    let what = format!("connecting to {}", opts.endpoint);
    let endpoint: AccountEndpoint = opts
        .endpoint
        .parse()
        .map_err(|e| from_cosmos(&e, &what, redactor))?;
    let account = match (&opts.auth, credential) {
        (Auth::Credential(_), Some(c)) => AccountReference::with_credential(endpoint, c),
        (Auth::Key(key), _) => {
            AccountReference::with_authentication_key(endpoint, key.expose().to_owned())
        }
        (Auth::Credential(_), None) => {
            return Err(DsError::internal(
                "the options name a credential, but none was given",
            ))
        }
    };
    let built = build_client(opts, account)
        .await
        .map_err(|e| from_cosmos(&e, &what, redactor))?;
    // Two first connects may race; keep whichever got in first.
    Ok(clients().lock().entry(id).or_insert(built).clone())
}

/// Every request's options unless the request's own say otherwise.
fn default_operation_options(consistency: Option<Consistency>) -> OperationOptions {
    // Documents cross as JSON text, so ask for JSON (not Cosmos binary) and
    // for the written document back on every write.
    let mut operation = OperationOptionsBuilder::new()
        .with_content_response_on_write(ContentResponseOnWrite::Enabled);
    if let Some(c) = consistency {
        // Applied by the SDK to reads only; writes are at the account's level.
        operation = operation.with_read_consistency_strategy(match c {
            Consistency::Strong => ReadConsistencyStrategy::GlobalStrong,
            Consistency::Session => ReadConsistencyStrategy::Session,
            Consistency::Eventual => ReadConsistencyStrategy::Eventual,
        });
    }
    // The SDK sends `Content-Type: application/json` on every request whose
    // operation names no other type, but first looks for one through a
    // lookup that builds an error when it is missing, and with
    // `RUST_BACKTRACE` set captures a backtrace: a tenth of the worker's time
    // per point read. Set here, it is found; the wire is unchanged, and a
    // patch or query still replaces it with its own type.
    operation
        .with_custom_headers(HashMap::from([(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )]))
        .build()
}

async fn build_client(
    opts: &ConnectOptions,
    account: AccountReference,
) -> Result<CosmosClient, CosmosError> {
    let mut builder = CosmosClient::builder()
        .with_runtime(runtime(opts.emulator).await?)
        .with_default_operation_options(default_operation_options(opts.consistency))
        .with_binary_encoding_options(BinaryEncodingOptions::new().with_enabled(false));
    if opts.emulator {
        // Test servers report partition-key-range ids as numbers, which
        // eager topology loading rejects.
        builder = builder.with_partition_failover_options(
            PartitionFailoverOptions::builder()
                .with_partition_topology_cache_mode(PartitionTopologyCacheMode::Lazy)
                .build()?,
        );
    }
    builder
        .build(
            account,
            RoutingStrategy::PreferredRegions(
                opts.preferred_regions
                    .iter()
                    .cloned()
                    .map(Region::new)
                    .collect(),
            ),
        )
        .await
}

/// The container `opts` names, created first (with its database) when
/// `createIfNotExists` is set.
pub async fn container(
    opts: &ConnectOptions,
    credential: Option<Credential>,
    redactor: &Redactor,
) -> DsResult<ContainerClient> {
    let client = client(opts, credential, redactor).await?;
    if opts.create_if_not_exists {
        let what = format!("creating database {:?}", opts.database);
        ignore_conflict(client.create_database(&opts.database, None).await.map(drop))
            .map_err(|e| from_cosmos(&e, &what, redactor))?;
        let props = ContainerProperties::new(
            opts.container.clone(),
            PartitionKeyDefinition::from(opts.partition_key.path()),
        );
        let what = format!("creating container {:?}", opts.container);
        ignore_conflict(
            client
                .database_client(&opts.database)
                .create_container(props, None)
                .await
                .map(drop),
        )
        .map_err(|e| from_cosmos(&e, &what, redactor))?;
    }
    let what = format!(
        "opening container {:?} of database {:?}",
        opts.container, opts.database
    );
    let container = client
        .database_client(&opts.database)
        .container_client(&opts.container, None)
        .await
        .map_err(|e| {
            let err = from_cosmos(&e, &what, redactor);
            if status_of(&e).0 == 404 {
                DsError::new(
                    err.code,
                    format!(
                        "{what}: it does not exist (pass createIfNotExists: true to create it)"
                    ),
                )
                .with_status(404)
            } else {
                err
            }
        })?;
    check_partition_key(&container, opts, &what, redactor).await?;
    Ok(container)
}

/// Refuses a container partitioned on another path than `partitionKeyPath`:
/// writes would land under a partition key the reads never ask for.
async fn check_partition_key(
    container: &ContainerClient,
    opts: &ConnectOptions,
    what: &str,
    redactor: &Redactor,
) -> DsResult<()> {
    let props = container
        .read(None)
        .await
        .and_then(|r| r.into_model())
        .map_err(|e| from_cosmos(&e, what, redactor))?;
    let want = opts.partition_key.path();
    let paths = props.partition_key.paths();
    if paths.len() == 1 && paths[0] == want {
        return Ok(());
    }
    Err(DsError::invalid(format!(
        "{what}: the container is partitioned on {paths:?}, but partitionKeyPath is {want:?}"
    )))
}

/// A create that met an existing resource is fine here.
fn ignore_conflict(r: Result<(), CosmosError>) -> Result<(), CosmosError> {
    match r {
        Err(e) if status_of(&e).0 == 409 => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_names_its_json_content_type_up_front() {
        // Without it the SDK builds (and may backtrace) an error per request
        // to learn that the header is missing.
        for consistency in [None, Some(Consistency::Session)] {
            let opts = default_operation_options(consistency);
            let headers = opts.custom_headers.expect("custom headers set");
            assert_eq!(
                headers.get(&CONTENT_TYPE).map(HeaderValue::as_str),
                Some("application/json")
            );
        }
    }
}

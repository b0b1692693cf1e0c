//! The Cosmos DB provider: the same contract as `memory/`, over the
//! `azure_data_cosmos` SDK on tokio.
//!
//! - `options` — connection options: endpoint + key or connection string,
//!   the emulator flag (loopback only).
//! - `client` — one SDK client (and connection pool) per account, shared by
//!   every provider in the process.
//! - `errors` — SDK errors to contract codes, with secrets redacted.
//! - `sql` — the portable query as parameterized SQL.
//! - `token` — the write-token ring stored in each document, which tells
//!   whether a write whose response was lost has landed.
//! - `outcome` — the verdict on such a write, from a re-read.
//! - `cache` — the last version of each document this process saw, so a
//!   conditional write on that version needs no read first.
//! - `turns` — one unconditional writer at a time per document, so they do
//!   not retry each other out.
//! - `trace` — the SDK's tracing to stderr, scrubbed, when
//!   `BYTELYST_DATASTORE_TRACE` is set.
//! - `call` — one call's deadline and abort signal.
//! - `store` — the provider's operations.
//! - `batch` — `batch` as one transactional batch request.

mod batch;
mod cache;
pub mod call;
pub mod client;
pub mod errors;
pub mod options;
pub mod outcome;
pub mod sql;
pub mod store;
pub mod token;
pub mod trace;
mod turns;

pub use options::ConnectOptions;
pub use store::CosmosStore;

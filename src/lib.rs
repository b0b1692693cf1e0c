#![deny(clippy::all)]
//! `@bytelyst/datastore`: a native datastore for Node.js with an atomic
//! conditional write (`updateIfMatch`).
//!
//! - `memory/` — the in-process store; the compare-and-write is
//!   `memory::store::Store::update_if_match` (one lock section).
//! - `cosmos/` — the Azure Cosmos DB store; its compare-and-write is
//!   `cosmos::store::CosmosStore::update_if_match` (`If-Match` on the server).
//! - `batch` — the operations of a batch, checked, its limits and outcome.
//! - `write` — what both providers' writes share: the outcome, the
//!   expectation, the prepared document, the merge.
//! - `doc` — documents as JSON text: members, system fields.
//! - `layout` — where a stored body's members are, kept for its next merge.
//! - `pages` — a large new body's pages mapped in one call before it is written.
//! - `validate` — ids, partition keys, sizes, field names.
//! - `query` — the portable query filter and value ordering.
//! - `error` — contract error codes and their wire format.
//! - `binding/` — the napi-rs functions and classes JavaScript calls.

pub mod batch;
pub mod binding;
pub mod cosmos;
pub mod doc;
pub mod error;
pub mod layout;
pub mod memory;
pub mod pages;
pub mod query;
pub mod validate;
pub mod write;

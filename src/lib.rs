#![deny(clippy::all)]
//! `@bytelyst/datastore`: a native datastore for Node.js with an atomic
//! conditional write (`updateIfMatch`).
//!
//! - `memory/` — the in-process store; the compare-and-write is
//!   `memory::store::Store::update_if_match`.
//! - `doc`, `validate`, `query`, `error` — shared by every provider.
//! - `binding/` — the napi-rs classes JavaScript calls.

pub mod binding;
pub mod cosmos;
pub mod doc;
pub mod error;
pub mod memory;
pub mod query;
pub mod validate;

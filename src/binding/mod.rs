//! The napi-rs surface. These functions and classes take and return JSON
//! text; the typed TypeScript layer in `lib/` turns that into objects,
//! generics and the `UpdateIfMatchResult` union.
//!
//! - `arg_str` — a short string argument read without the heap.
//! - `memory` — synchronous functions over an external Memory store handle.
//! - `cosmos` — the Cosmos store class, whose methods return promises.
//! - `credential` — a JavaScript `TokenCredential` as the SDK's credential.
//! - `outcome` — a conditional write's answer as both hand it over.
//! - `runtime` — the tokio runtime the Cosmos promises run on, and its size.
//! - `store_handle` — the Memory store handle JavaScript holds, checked per thread.

pub mod arg_str;
pub mod cosmos;
pub mod credential;
pub mod memory;
pub mod outcome;
pub mod runtime;
pub mod store_handle;

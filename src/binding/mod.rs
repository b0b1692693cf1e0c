//! The napi-rs surface. These classes take and return JSON text; the typed
//! TypeScript layer in `lib/` turns that into objects, generics and the
//! `UpdateIfMatchResult` union.

pub mod cosmos;
pub mod memory;

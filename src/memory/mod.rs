//! The in-process provider: documents live in Rust memory, behind
//! `parking_lot` locks, shared across worker threads when opened by name.

mod batch;
#[cfg(test)]
mod model_tests;
mod query;
pub mod registry;
mod shard;
pub mod store;

pub use store::Store;

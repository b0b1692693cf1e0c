//! The tokio runtime the Cosmos provider's promises run on, sized here
//! rather than by napi-rs's default (one worker per core).
//!
//! Every Cosmos call is a hop from the JavaScript thread to a worker and
//! back, and on a loopback round trip the hops are most of the latency.
//! With a worker per core, a worker competes with the JavaScript thread for
//! its core, and tasks move between workers (more cross-thread wake-ups per
//! call): measured on the 2-core machine, `get` p50 at concurrency 1 was
//! 1.25× `@azure/cosmos`'s with two workers and 0.98× with one, and
//! concurrency 32 was no slower (README, "What each change bought"). So the
//! runtime leaves the JavaScript thread a core of its own.
//! `TOKIO_WORKER_THREADS` (tokio's own variable) still decides when set.

use std::num::NonZeroUsize;

/// Workers for a machine of `cores` cores: all but one, at least one.
/// `None` when `TOKIO_WORKER_THREADS` is set: tokio reads it itself.
pub fn worker_threads(cores: usize, env_set: bool) -> Option<usize> {
    if env_set {
        return None;
    }
    Some(cores.saturating_sub(1).max(1))
}

#[napi_derive::module_init]
fn init() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let env_set = std::env::var_os("TOKIO_WORKER_THREADS").is_some();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all().thread_name("bytelyst-datastore");
    if let Some(n) = worker_threads(cores, env_set) {
        builder.worker_threads(n);
    }
    // On failure napi-rs builds its default runtime when first needed.
    if let Ok(rt) = builder.build() {
        napi::bindgen_prelude::create_custom_tokio_runtime(rt);
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn the_javascript_thread_keeps_a_core() {
        assert_eq!(worker_threads(1, false), Some(1));
        assert_eq!(worker_threads(2, false), Some(1));
        assert_eq!(worker_threads(8, false), Some(7));
        assert_eq!(worker_threads(0, false), Some(1));
        assert_eq!(worker_threads(8, true), None);
    }
}

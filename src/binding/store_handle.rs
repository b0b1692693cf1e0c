//! The Memory store as JavaScript holds it: an external value made by
//! `StoreHandle` (`memoryOpen`'s answer), taken back as `StoreArg` by every
//! other Memory function.
//!
//! napi-rs's `External<T>` checks each external argument against one
//! process-wide registry behind a `Mutex`: every thread's calls take that
//! one lock. An external value never leaves the thread (V8 isolate) that
//! made it, and Node runs its finalizer on that thread, so a registry per
//! thread is as sound: no lock, and a lookup is a hash of one pointer.
//! It saved ~20 ns of a call (`memoryStampHolds` 175 -> 155 ns); most of
//! the rest, against 42 ns for `memoryWriteCount`, which takes no
//! argument, is napi-rs's per-call borrow scope, which this does not touch.

use std::cell::RefCell;
use std::ffi::c_void;
use std::ops::Deref;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Error, Result, Status, ValueType};
use rustc_hash::FxHashSet;

use crate::memory::Store;

thread_local! {
    /// The payloads (`Box<Arc<Store>>` addresses) of the live handles this
    /// thread made: only these are ever read as a store.
    static LIVE: RefCell<FxHashSet<usize>> = RefCell::new(FxHashSet::default());
}

/// A store to hand to JavaScript as a new external value.
pub struct StoreHandle(pub Arc<Store>);

/// Drops a handle's payload once JavaScript no longer holds it.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // Gone from the registry before it is freed. `try_with`: at a thread's
    // exit the registry may already be gone, and then nothing can ask it.
    let _ = LIVE.try_with(|live| live.borrow_mut().remove(&(data as usize)));
    // SAFETY: `data` is the `Box` that `to_napi_value` leaked for this external, finalized once.
    drop(unsafe { Box::from_raw(data.cast::<Arc<Store>>()) });
}

impl ToNapiValue for StoreHandle {
    unsafe fn to_napi_value(env: sys::napi_env, handle: Self) -> Result<sys::napi_value> {
        let data = Box::into_raw(Box::new(handle.0));
        let mut value = ptr::null_mut();
        // SAFETY: `env` as Node-API hands it to a callback; `finalize` frees `data` exactly once.
        let status = unsafe {
            sys::napi_create_external(
                env,
                data.cast(),
                Some(finalize),
                ptr::null_mut(),
                &mut value,
            )
        };
        if status != sys::Status::napi_ok {
            // SAFETY: no external holds `data`: it is still only ours.
            drop(unsafe { Box::from_raw(data) });
            return Err(Error::new(
                Status::GenericFailure,
                "could not create the store handle",
            ));
        }
        // `try_with`: during a thread's exit the handle is made but never read as a store.
        let _ = LIVE.try_with(|live| live.borrow_mut().insert(data as usize));
        Ok(value)
    }
}

impl TypeName for StoreHandle {
    fn type_name() -> &'static str {
        "MemoryStore"
    }
    fn value_type() -> ValueType {
        ValueType::External
    }
}

/// A store handle argument. It borrows the store for the call: the
/// argument keeps its external value, and so the payload, alive meanwhile.
pub struct StoreArg(&'static Arc<Store>);

impl StoreArg {
    /// No other handle, and no shared-store registry entry, holds this
    /// store: no one else can reach it (only this thread's JavaScript holds
    /// the handle).
    pub fn sole_holder(&self) -> bool {
        Arc::strong_count(self.0) == 1
    }
}

impl Deref for StoreArg {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.0
    }
}

impl FromNapiValue for StoreArg {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut data = ptr::null_mut();
        // SAFETY: `env` and `value` as Node-API hands them to a callback.
        let status = unsafe { sys::napi_get_value_external(env, value, &mut data) };
        // Another addon's external, or a value that is none, is never read.
        let ours = status == sys::Status::napi_ok
            && LIVE
                .try_with(|live| live.borrow().contains(&(data as usize)))
                .unwrap_or(false);
        if !ours {
            return Err(Error::new(
                Status::InvalidArg,
                "expected a Memory store handle (memoryOpen's answer)",
            ));
        }
        // SAFETY: a live payload this thread made (`LIVE`), kept alive by the argument for the call.
        Ok(StoreArg(unsafe { &*data.cast::<Arc<Store>>() }))
    }
}

impl TypeName for StoreArg {
    fn type_name() -> &'static str {
        "MemoryStore"
    }
    fn value_type() -> ValueType {
        ValueType::External
    }
}

impl ValidateNapiValue for StoreArg {}

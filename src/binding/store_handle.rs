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
//!
//! A store of its own is freed with its handle, and V8 collects a handle
//! when its own heap asks for it, not the store's: the handle tells V8 the
//! store's size (`napi_adjust_external_memory`, as a `Buffer` does), so a
//! provider dropped without `close` is collected while its memory matters.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::ops::Deref;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, ToNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Error, Result, Status, ValueType};
use rustc_hash::FxHashSet;

use crate::memory::Store;

thread_local! {
    /// The payloads (`Box<Payload>` addresses) of the live handles this
    /// thread made: only these are ever read as a store.
    static LIVE: RefCell<FxHashSet<usize>> = RefCell::new(FxHashSet::default());
}

/// The store's size is looked at every this many calls through a handle
/// (a sum over its shards, ~30 ns)...
const LOOK_EVERY: u32 = 16;
/// ...and told to V8 when it has moved this many bytes since it last was.
const TELL_FROM: i64 = 1 << 20;

/// A store to hand to JavaScript as a new external value.
pub struct StoreHandle {
    pub store: Arc<Store>,
    /// The store is this handle's own (not shared): its size is told to V8.
    pub own: bool,
}

/// What a handle's external value holds. Only the thread that made it
/// reads it (an external value never leaves its isolate).
struct Payload {
    store: Arc<Store>,
    own: bool,
    /// Bytes told to V8 so far.
    told: Cell<i64>,
    /// Calls through this handle, to look at the size every `LOOK_EVERY`.
    calls: Cell<u32>,
}

impl Payload {
    /// Tells V8 how far the store's size has moved since it was last told,
    /// when that is `at_least` bytes or more.
    fn tell(&self, env: sys::napi_env, at_least: i64) {
        let now = i64::try_from(self.store.bytes()).unwrap_or(i64::MAX);
        let change = now - self.told.get();
        if change == 0 || change.abs() < at_least {
            return;
        }
        let mut total = 0i64;
        // SAFETY: `env` as Node-API hands it to a callback or a finalizer.
        if unsafe { sys::napi_adjust_external_memory(env, change, &mut total) }
            == sys::Status::napi_ok
        {
            self.told.set(now);
        }
    }
}

/// Drops a handle's payload once JavaScript no longer holds it.
unsafe extern "C" fn finalize(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // Gone from the registry before it is freed. `try_with`: at a thread's
    // exit the registry may already be gone, and then nothing can ask it.
    let _ = LIVE.try_with(|live| live.borrow_mut().remove(&(data as usize)));
    // SAFETY: `data` is the `Box` that `to_napi_value` leaked for this external, finalized once.
    let payload = unsafe { Box::from_raw(data.cast::<Payload>()) };
    let told = payload.told.get();
    if told != 0 {
        let mut total = 0i64;
        // SAFETY: as above; V8 takes back what it was told (allowed in a finalizer).
        unsafe { sys::napi_adjust_external_memory(env, -told, &mut total) };
    }
    drop(payload);
}

impl ToNapiValue for StoreHandle {
    unsafe fn to_napi_value(env: sys::napi_env, handle: Self) -> Result<sys::napi_value> {
        let data = Box::into_raw(Box::new(Payload {
            store: handle.store,
            own: handle.own,
            told: Cell::new(0),
            calls: Cell::new(0),
        }));
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
pub struct StoreArg(&'static Payload);

impl StoreArg {
    /// No other handle, and no shared-store registry entry, holds this
    /// store: no one else can reach it (only this thread's JavaScript holds
    /// the handle).
    pub fn sole_holder(&self) -> bool {
        Arc::strong_count(&self.0.store) == 1
    }

    /// Tells V8 the store's size now, however little it moved (after `clear`).
    pub fn tell_size(&self, env: sys::napi_env) {
        if self.0.own {
            self.0.tell(env, 1);
        }
    }
}

impl Deref for StoreArg {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0.store
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
        let payload = unsafe { &*data.cast::<Payload>() };
        if payload.own {
            let calls = payload.calls.get().wrapping_add(1);
            payload.calls.set(calls);
            if calls % LOOK_EVERY == 0 {
                payload.tell(env, TELL_FROM);
            }
        }
        Ok(StoreArg(payload))
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

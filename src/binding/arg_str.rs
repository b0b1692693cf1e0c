//! `ArgStr`: a JavaScript string argument read into a buffer on the stack,
//! or, when too long for it, into a heap buffer kept for the next call.
//!
//! napi-rs reads a `String` argument with two Node-API calls, one to
//! measure its UTF-8 length (a pass over the string) and one to copy it into
//! a zeroed heap buffer, then frees that buffer when the call returns. For
//! the few short strings of a hot call (a key, an etag, a small patch) that
//! was ~12 % of a 300-byte `updateIfMatch` (perf). Here one copy into a
//! stack buffer does; a longer string is copied once into a pooled buffer
//! (`read_long`, `POOL`), and only one of wide characters that does not fit
//! it takes napi-rs's way. Written by hand: no crate offers a Node-API
//! string argument without the heap.

use std::cell::RefCell;
use std::ffi::c_char;
use std::mem::MaybeUninit;

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue};
use napi::{sys, Error, Result, Status, ValueType};

/// Bytes read on the stack. Node writes at most `INLINE - 1` of them (it
/// keeps one for a terminating NUL) and never splits a character: a string
/// cut short stops where its next character (up to 4 bytes) did not fit,
/// after `INLINE - 4` bytes or more. So a count below that is the whole
/// string (`__test__/native-args.spec.ts` tries every length near it).
const INLINE: usize = 256;

pub struct ArgStr {
    inline: [MaybeUninit<u8>; INLINE],
    len: usize,
    /// The string, when it did not fit `inline`.
    heap: Option<String>,
}

/// Buffers of long arguments kept for the next call on this thread, at
/// most `POOL_BUFFERS` of at most `POOL_BYTES` each. A 64 KB buffer
/// allocated and freed at every call sat at the top of glibc's heap, which
/// gave it back to the kernel (`brk`) and took it again the next call,
/// page faults and all: `__brk` was 5 % of a 64 KB `create` (perf).
const POOL_BUFFERS: usize = 4;
const POOL_BYTES: usize = 1 << 20;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

impl Drop for ArgStr {
    fn drop(&mut self) {
        if let Some(s) = self.heap.take() {
            give_back(s.into_bytes());
        }
    }
}

/// Keeps `buf` for a later call, if the pool has room and it is not too big.
fn give_back(buf: Vec<u8>) {
    if buf.capacity() <= POOL_BYTES {
        // `try_with`: at a thread's exit the pool may be gone; the buffer is then just freed.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_BUFFERS {
                pool.push(buf);
            }
        });
    }
}

/// An empty buffer with room for `cap` bytes, from the pool when it has one.
fn pooled(cap: usize) -> Vec<u8> {
    let mut buf = POOL
        .try_with(|pool| pool.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    buf.clear();
    buf.reserve_exact(cap);
    buf
}

impl ArgStr {
    pub fn as_str(&self) -> &str {
        match &self.heap {
            Some(s) => s,
            // SAFETY: `from_napi_value` checked these `len` initialised bytes are UTF-8.
            None => unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                    self.inline.as_ptr().cast::<u8>(),
                    self.len,
                ))
            },
        }
    }
}

impl std::ops::Deref for ArgStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl FromNapiValue for ArgStr {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        let mut arg = ArgStr {
            inline: [MaybeUninit::uninit(); INLINE],
            len: 0,
            heap: None,
        };
        let mut written = 0usize;
        // SAFETY: the buffer holds INLINE bytes; Node writes at most that many and reports how many.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                env,
                value,
                arg.inline.as_mut_ptr().cast::<c_char>(),
                INLINE,
                &mut written,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(Error::new(
                Status::StringExpected,
                "expected a string argument",
            ));
        }
        if written + 4 < INLINE {
            // SAFETY: Node initialised `written` bytes.
            let bytes =
                unsafe { std::slice::from_raw_parts(arg.inline.as_ptr().cast::<u8>(), written) };
            // Node writes UTF-8 (a lone surrogate as U+FFFD); checked all the same, as it is cheap here.
            std::str::from_utf8(bytes).map_err(|e| {
                Error::new(
                    Status::StringExpected,
                    format!("argument is not UTF-8 ({e})"),
                )
            })?;
            arg.len = written;
            return Ok(arg);
        }
        arg.heap = Some(unsafe { read_long(env, value)? });
        Ok(arg)
    }
}

/// A string too long for the stack: read in one copy into a heap buffer
/// sized from its length in UTF-16 units (most text takes a byte a unit),
/// not measured in UTF-8 first nor zeroed, as napi-rs's `String` does (the
/// measuring was ~9 % of a 64 KB `create`, perf). A string that did not fit
/// (characters of two or three bytes) is read again napi-rs's way.
///
/// # Safety
/// `env` and `value` as Node-API hands them to a callback.
unsafe fn read_long(env: sys::napi_env, value: sys::napi_value) -> Result<String> {
    let mut units = 0usize;
    // SAFETY: a null buffer asks only the length, in UTF-16 units.
    let status = unsafe {
        sys::napi_get_value_string_utf16(env, value, std::ptr::null_mut(), 0, &mut units)
    };
    if status != sys::Status::napi_ok {
        return Err(Error::new(
            Status::StringExpected,
            "expected a string argument",
        ));
    }
    let cap = units.saturating_add(8);
    // Node is given `cap` bytes whatever the pooled buffer holds: the edge where a string of wide
    // characters does not fit, and is read again below, stays where the tests put it.
    let mut buf = pooled(cap);
    let mut written = 0usize;
    // SAFETY: the buffer has room for `cap` bytes; Node writes at most that many and reports how many.
    let status = unsafe {
        sys::napi_get_value_string_utf8(
            env,
            value,
            buf.as_mut_ptr().cast::<c_char>(),
            cap,
            &mut written,
        )
    };
    if status == sys::Status::napi_ok && written + 4 < cap {
        // SAFETY: Node initialised `written` bytes, UTF-8 (a lone surrogate written as U+FFFD),
        // which napi-rs's own `String` trusts as well.
        unsafe {
            buf.set_len(written);
            return Ok(String::from_utf8_unchecked(buf));
        }
    }
    give_back(buf);
    // SAFETY: as napi-rs's own `String` argument.
    unsafe { String::from_napi_value(env, value) }
}

impl TypeName for ArgStr {
    fn type_name() -> &'static str {
        "String"
    }
    fn value_type() -> ValueType {
        ValueType::String
    }
}

impl ValidateNapiValue for ArgStr {}

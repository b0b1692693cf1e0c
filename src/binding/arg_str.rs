//! `ArgStr`: a short JavaScript string argument read into a buffer on the
//! stack.
//!
//! napi-rs reads a `String` argument with two Node-API calls, one to
//! measure its UTF-8 length (a pass over the string) and one to copy it into
//! a zeroed heap buffer, then frees that buffer when the call returns. For
//! the few short strings of a hot call (a key, an etag, a small patch) that
//! was ~12 % of a 300-byte `updateIfMatch` (perf). Here one copy into a
//! stack buffer does, and only a string too long for it takes napi-rs's way.
//! Written by hand: no crate offers a Node-API string argument without the
//! heap.

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
        // SAFETY: as napi-rs's own `String` argument.
        arg.heap = Some(unsafe { String::from_napi_value(env, value)? });
        Ok(arg)
    }
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

//! A conditional write's outcome as JavaScript receives it, for both
//! providers: the document's JSON, or a number saying why nothing was
//! written. `lib/codec.ts` decodes it by the exported constants.

use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::write::WriteOutcome;

/// What a conditional write answers instead of a document (or of `0`, for
/// a delete) when it wrote nothing: the compare failed. Exported to
/// JavaScript, so `lib/codec.ts` decodes by these and not by copies.
#[napi]
pub const MISS_CONFLICT: u32 = 1;
/// ... or the document does not exist.
#[napi]
pub const MISS_NOT_FOUND: u32 = 2;

/// A conditional write's outcome as a number: `0` written, else the miss.
pub fn miss_code<T>(out: WriteOutcome<T>) -> u32 {
    match out {
        WriteOutcome::Written(_) => 0,
        WriteOutcome::Conflict => MISS_CONFLICT,
        WriteOutcome::NotFound => MISS_NOT_FOUND,
    }
}

/// `updateIfMatch`'s answer: the document's JSON, or the miss code.
pub fn doc_or_miss(out: WriteOutcome) -> Either<String, u32> {
    match out {
        WriteOutcome::Written(doc) => Either::A(doc),
        other => Either::B(miss_code(other)),
    }
}

//! Errors with the contract's codes. Every rejection a caller sees carries one
//! of these codes (and, for Cosmos, the HTTP status when there was one).

use std::fmt;

/// The contract's error codes (README, "The contract, briefly"). Fixed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    Conflict,
    NotFound,
    TooLarge,
    Throttled,
    Unavailable,
    Timeout,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidArgument => "invalid_argument",
            Code::Conflict => "conflict",
            Code::NotFound => "not_found",
            Code::TooLarge => "too_large",
            Code::Throttled => "throttled",
            Code::Unavailable => "unavailable",
            Code::Timeout => "timeout",
            Code::Internal => "internal",
        }
    }
}

/// What Cosmos DB said about a failed request, where it said it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diagnostics {
    pub sub_status: Option<u16>,
    pub activity_id: Option<String>,
    pub request_charge: Option<f64>,
    pub retry_after_ms: Option<u64>,
}

/// A datastore error: a contract code, a message naming what was wrong, and
/// the HTTP status (with the server's diagnostics) when a server answered.
#[derive(Debug, Clone, PartialEq)]
pub struct DsError {
    pub code: Code,
    pub message: String,
    pub status: Option<u16>,
    pub diagnostics: Diagnostics,
}

pub type DsResult<T> = Result<T, DsError>;

impl DsError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        DsError {
            code,
            message: message.into(),
            status: None,
            diagnostics: Diagnostics::default(),
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }

    pub fn with_diagnostics(mut self, diagnostics: Diagnostics) -> Self {
        self.diagnostics = diagnostics;
        self
    }

    /// The one wire format `lib/errors.ts` decodes: a JSON object with the
    /// code, the status and the diagnostics that are present (napi errors
    /// carry one string besides the message).
    pub fn wire(&self) -> String {
        let d = &self.diagnostics;
        let mut w = serde_json::Map::new();
        w.insert("code".into(), self.code.as_str().into());
        if let Some(s) = self.status {
            w.insert("status".into(), s.into());
        }
        if let Some(s) = d.sub_status {
            w.insert("subStatus".into(), s.into());
        }
        if let Some(a) = &d.activity_id {
            w.insert("activityId".into(), a.as_str().into());
        }
        if let Some(c) = d.request_charge.and_then(serde_json::Number::from_f64) {
            w.insert("requestCharge".into(), c.into());
        }
        if let Some(r) = d.retry_after_ms {
            w.insert("retryAfterMs".into(), r.into());
        }
        serde_json::Value::Object(w).to_string()
    }
}

impl fmt::Display for DsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for DsError {}

/// napi's `Error<S>` uses `S` as the thrown error's `code` property.
pub struct WireCode(pub String);

impl AsRef<str> for WireCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<DsError> for napi::Error<WireCode> {
    fn from(e: DsError) -> Self {
        napi::Error::new(WireCode(e.wire()), e.message)
    }
}

/// The result type of exported functions: rejections carry a contract code.
pub type NapiResult<T> = napi::Result<T, WireCode>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_carries_what_is_present() {
        assert_eq!(
            DsError::invalid("x").wire(),
            r#"{"code":"invalid_argument"}"#
        );
        let e = DsError::new(Code::Throttled, "x")
            .with_status(429)
            .with_diagnostics(Diagnostics {
                sub_status: Some(3200),
                activity_id: Some("a-1".into()),
                request_charge: Some(1.5),
                retry_after_ms: Some(20),
            });
        assert_eq!(
            e.wire(),
            r#"{"activityId":"a-1","code":"throttled","requestCharge":1.5,"retryAfterMs":20,"status":429,"subStatus":3200}"#
        );
    }

    #[test]
    fn shown_and_thrown_with_code_and_message() {
        let e = DsError::new(Code::NotFound, "no document \"a\"").with_status(404);
        assert_eq!(e.to_string(), "not_found: no document \"a\"");
        // The thrown error's `code` is the wire JSON (building the
        // `napi::Error` itself links against Node, so it is left to the JS suites).
        assert_eq!(
            WireCode(e.wire()).as_ref(),
            r#"{"code":"not_found","status":404}"#
        );
    }
}

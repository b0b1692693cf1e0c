//! Errors with the contract's codes. Every rejection a caller sees carries one
//! of these codes (and, for Cosmos, the HTTP status when there was one).

use std::fmt;

/// The contract's error codes (`design/contract.md`, "Errors"). Fixed names.
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

/// A datastore error: a contract code, a message naming what was wrong, and
/// the HTTP status when a server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsError {
    pub code: Code,
    pub message: String,
    pub status: Option<u16>,
}

pub type DsResult<T> = Result<T, DsError>;

impl DsError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        DsError {
            code,
            message: message.into(),
            status: None,
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

    /// The string the JavaScript layer reads from `err.code`: the code, and
    /// `@status` when there is one (the TS layer splits it into `code` and
    /// `status`, because napi errors carry one string besides the message).
    pub fn wire_code(&self) -> String {
        match self.status {
            Some(s) => format!("{}@{}", self.code.as_str(), s),
            None => self.code.as_str().to_owned(),
        }
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
        napi::Error::new(WireCode(e.wire_code()), e.message)
    }
}

/// The result type of exported functions: rejections carry a contract code.
pub type NapiResult<T> = napi::Result<T, WireCode>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_code_carries_status_only_when_present() {
        assert_eq!(DsError::invalid("x").wire_code(), "invalid_argument");
        assert_eq!(
            DsError::new(Code::Throttled, "x")
                .with_status(429)
                .wire_code(),
            "throttled@429"
        );
    }
}

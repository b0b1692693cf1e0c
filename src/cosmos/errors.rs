//! SDK errors to the contract's codes. Messages are built here from the
//! status and the SDK's one-line summary, and every secret the provider
//! knows is scrubbed from them: no key, connection string or authorization
//! header ever reaches JavaScript.

use azure_data_cosmos::CosmosError;

use crate::error::{Code, Diagnostics, DsError};

/// Sub-status the SDK sets on a client-side end-to-end timeout (408).
const CLIENT_OPERATION_TIMEOUT: u16 = 20008;

/// The contract code for an HTTP status (and Cosmos sub-status).
pub fn classify(status: u16, _sub_status: Option<u16>) -> Code {
    match status {
        400 | 401 | 403 | 405 | 422 => Code::InvalidArgument,
        404 => Code::NotFound,
        409 | 412 => Code::Conflict,
        413 => Code::TooLarge,
        429 => Code::Throttled,
        408 => Code::Timeout,
        500..=599 => Code::Unavailable,
        // Anything else the SDK could not classify: the request may or may
        // not have reached the server.
        _ => Code::Unavailable,
    }
}

/// The HTTP status and sub-status of an SDK error.
pub fn status_of(e: &CosmosError) -> (u16, Option<u16>) {
    let st = e.status();
    (
        u16::from(st.status_code()),
        st.sub_status().map(|s| s.value()),
    )
}

/// Sub-status of a 404 whose container or database does not exist
/// ("owner resource does not exist"), as opposed to a missing document.
pub const OWNER_MISSING: u16 = 1003;

/// True when the answer says the document itself does not exist (and its
/// container does).
pub fn is_missing_document(e: &CosmosError) -> bool {
    let (status, sub) = status_of(e);
    status == 404 && sub != Some(OWNER_MISSING)
}

/// True when the server (or the SDK before sending) refused the request
/// outright, so it cannot have been applied: nothing to resolve.
pub fn is_definite_rejection(status: u16, sub_status: Option<u16>) -> bool {
    matches!(status, 400 | 401 | 403 | 405 | 413 | 422)
        || (status == 404 && sub_status == Some(OWNER_MISSING))
}

/// True for a client-side deadline.
pub fn is_timeout(status: u16, sub_status: Option<u16>) -> bool {
    status == 408 || sub_status == Some(CLIENT_OPERATION_TIMEOUT)
}

/// Removes secrets from text bound for a caller.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Redactor {
            // Very short strings would redact ordinary words; keys are long.
            secrets: secrets.into_iter().filter(|s| s.len() >= 8).collect(),
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "<redacted>");
            }
        }
        scrub_auth(&out)
    }
}

/// Cuts anything after an `authorization` header name or an `AccountKey=`
/// up to the end of its line or part: belt and braces in case the SDK ever
/// renders one.
fn scrub_auth(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let rest = &lower[i..];
        let hit = ["authorization", "accountkey="]
            .iter()
            .filter_map(|m| rest.find(m).map(|p| (p, m.len())))
            .min();
        match hit {
            Some((p, len)) => {
                out.push_str(&text[i..i + p + len]);
                out.push_str("<redacted>");
                let after = i + p + len;
                let end = text[after..]
                    .find(['\n', ';', ','])
                    .map_or(text.len(), |e| after + e);
                i = end;
            }
            None => {
                out.push_str(&text[i..]);
                break;
            }
        }
    }
    out
}

/// What the server said about a failed request: sub-status, activity id,
/// request charge and retry-after, where its response carried them.
pub fn diagnostics_of(e: &CosmosError) -> Diagnostics {
    let (_, sub_status) = status_of(e);
    let headers = e.response().map(|r| r.headers());
    Diagnostics {
        sub_status,
        activity_id: headers
            .and_then(|h| h.activity_id.as_ref())
            .map(|a| a.as_str().to_owned()),
        request_charge: headers.and_then(|h| h.request_charge).map(f64::from),
        retry_after_ms: headers.and_then(|h| h.retry_after_ms),
    }
}

/// An SDK error as a `DsError`: the contract code, the HTTP status when the
/// server answered, and `what` (the operation and id) in the message.
pub fn from_cosmos(e: &CosmosError, what: &str, redactor: &Redactor) -> DsError {
    let (status, sub) = status_of(e);
    let code = if is_timeout(status, sub) {
        Code::Timeout
    } else {
        classify(status, sub)
    };
    let summary = e.to_string();
    let message = if status == 404 && sub == Some(OWNER_MISSING) {
        format!("{what}: the container or its database does not exist (was it deleted?): {summary}")
    } else {
        format!("{what}: {summary}")
    };
    // `what` may carry caller text (an endpoint): the whole message is scrubbed.
    let err = DsError::new(code, redactor.scrub(&message)).with_diagnostics(diagnostics_of(e));
    if e.is_from_wire() || status == 408 || status == 429 {
        err.with_status(status)
    } else {
        err
    }
}

/// The error for a write whose outcome could not be determined.
pub fn unknown_outcome(e: &CosmosError, what: &str, why: &str, redactor: &Redactor) -> DsError {
    let (status, sub) = status_of(e);
    let code = match (is_timeout(status, sub), classify(status, sub)) {
        (true, _) => Code::Timeout,
        (false, Code::Throttled) => Code::Throttled,
        _ => Code::Unavailable,
    };
    let summary = e.to_string();
    let err = DsError::new(
        code,
        redactor.scrub(&format!("{what}: the outcome is unknown ({why}); the write may or may not have been applied: {summary}")),
    )
    .with_diagnostics(diagnostics_of(e));
    if e.is_from_wire() {
        err.with_status(status)
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_contract_codes() {
        let cases = [
            (400, Code::InvalidArgument),
            (404, Code::NotFound),
            (409, Code::Conflict),
            (412, Code::Conflict),
            (413, Code::TooLarge),
            (429, Code::Throttled),
            (408, Code::Timeout),
            (500, Code::Unavailable),
            (503, Code::Unavailable),
        ];
        for (status, code) in cases {
            assert_eq!(classify(status, None), code, "{status}");
        }
        assert!(is_timeout(408, Some(CLIENT_OPERATION_TIMEOUT)));
        assert!(
            is_definite_rejection(401, None)
                && is_definite_rejection(404, Some(OWNER_MISSING))
                && !is_definite_rejection(404, None)
                && !is_definite_rejection(503, None)
                && !is_definite_rejection(412, None)
        );
    }

    #[test]
    fn scrubs_keys_and_auth_headers() {
        let key = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DjzJ2rdSJhT0V8Yp/3ZzRbX3QBtIACRAZKRD4yNx8xrnkpWpIA==";
        let r = Redactor::new([key.to_owned()]);
        let text = format!(
            "failed with key {key}\nAuthorization: type%3Dmaster%26sig%3Dabc\nAccountEndpoint=https://x/;AccountKey=zzz;Other=1"
        );
        let out = r.scrub(&text);
        assert!(!out.contains(key), "{out}");
        assert!(!out.contains("sig%3Dabc"), "{out}");
        assert!(!out.contains("zzz"), "{out}");
        assert!(out.contains("Other=1"), "{out}");
    }

    /// An error the SDK made itself (no wire response): a timeout, a
    /// transport failure, or a status it synthesized.
    fn sdk_error(status: u16, sub_status: Option<u16>, message: &'static str) -> CosmosError {
        let mut st = azure_data_cosmos::CosmosStatus::new(status.into());
        if let Some(s) = sub_status {
            st = st.with_sub_status(s);
        }
        CosmosError::builder()
            .with_status(st)
            .with_message(message)
            .build()
    }

    #[test]
    fn sdk_errors_become_contract_errors() {
        let none = Redactor::default();
        let e = sdk_error(404, None, "gone");
        assert_eq!(status_of(&e), (404, None));
        assert!(is_missing_document(&e));
        let d = from_cosmos(&e, "get \"a\"", &none);
        assert_eq!(
            (d.code, d.status),
            (Code::NotFound, None),
            "not from the wire: no status"
        );
        assert!(d.message.starts_with("get \"a\": "), "{}", d.message);
        assert!(d.message.contains("gone"), "{}", d.message);
        assert_eq!(d.diagnostics, Diagnostics::default());

        let owner = sdk_error(404, Some(OWNER_MISSING), "no container");
        assert_eq!(status_of(&owner), (404, Some(OWNER_MISSING)));
        assert!(!is_missing_document(&owner));
        assert!(!is_missing_document(&sdk_error(410, None, "x")));
        let d = from_cosmos(&owner, "get \"a\"", &none);
        assert_eq!(d.code, Code::NotFound);
        assert_eq!(d.diagnostics.sub_status, Some(OWNER_MISSING));
        assert!(
            d.message.contains("does not exist (was it deleted?)"),
            "{}",
            d.message
        );
        assert!(!from_cosmos(&e, "x", &none)
            .message
            .contains("was it deleted"));

        // A deadline (by status or the SDK's sub-status) is a timeout; 408
        // and 429 keep their status even when the SDK made them.
        let deadline = sdk_error(408, Some(CLIENT_OPERATION_TIMEOUT), "deadline");
        let d = from_cosmos(&deadline, "x", &none);
        assert_eq!((d.code, d.status), (Code::Timeout, Some(408)));
        let d = from_cosmos(
            &sdk_error(503, Some(CLIENT_OPERATION_TIMEOUT), "t"),
            "x",
            &none,
        );
        assert_eq!((d.code, d.status), (Code::Timeout, None));
        let d = from_cosmos(&sdk_error(429, None, "busy"), "x", &none);
        assert_eq!((d.code, d.status), (Code::Throttled, Some(429)));
        let d = from_cosmos(&sdk_error(503, None, "reset"), "x", &none);
        assert_eq!((d.code, d.status), (Code::Unavailable, None));

        // The message is scrubbed.
        let key = "0123456789abcdef0123456789abcdef";
        let r = Redactor::new([key.to_owned()]);
        let d = from_cosmos(&e, &format!("connect with {key}"), &r);
        assert!(
            !d.message.contains(key) && d.message.contains("<redacted>"),
            "{}",
            d.message
        );
    }

    #[test]
    fn an_unknown_outcome_is_a_timeout_throttled_or_unavailable() {
        let none = Redactor::default();
        let code = |status, sub| {
            unknown_outcome(&sdk_error(status, sub, "m"), "update \"a\"", "why", &none).code
        };
        assert_eq!(code(408, None), Code::Timeout);
        assert_eq!(code(503, Some(CLIENT_OPERATION_TIMEOUT)), Code::Timeout);
        assert_eq!(code(429, None), Code::Throttled);
        assert_eq!(code(503, None), Code::Unavailable);
        assert_eq!(
            code(412, None),
            Code::Unavailable,
            "not the conflict it looks like"
        );
        let d = unknown_outcome(&sdk_error(503, Some(7), "m"), "update \"a\"", "why", &none);
        assert_eq!(d.status, None, "not from the wire: no status");
        assert_eq!(d.diagnostics.sub_status, Some(7));
        assert!(
            d.message
                .starts_with("update \"a\": the outcome is unknown (why)"),
            "{}",
            d.message
        );
        let key = "0123456789abcdef0123456789abcdef";
        let d = unknown_outcome(
            &sdk_error(503, None, "m"),
            key,
            "why",
            &Redactor::new([key.to_owned()]),
        );
        assert!(!d.message.contains(key), "{}", d.message);
    }

    #[test]
    fn redaction_rules() {
        // Short strings are not secrets (they would redact ordinary words).
        let r = Redactor::new(["short".to_owned(), "12345678".to_owned()]);
        assert_eq!(r.scrub("a short 12345678 b"), "a short <redacted> b");
        // A header value is cut up to the end of its line or part only.
        assert_eq!(
            Redactor::default().scrub("x AUTHORIZATION: abc\nnext; AccountKey=k;Other=1"),
            "x AUTHORIZATION<redacted>\nnext; AccountKey=<redacted>;Other=1"
        );
        assert_eq!(Redactor::default().scrub("plain"), "plain");
    }
}

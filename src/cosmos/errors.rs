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
}

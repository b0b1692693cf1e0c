//! The SDK's own tracing, for an operator who needs to see what it does.
//! `BYTELYST_DATASTORE_TRACE=<filter>` (tracing-subscriber's `EnvFilter`
//! syntax: `debug`, or `azure_data_cosmos=debug,azure_core=info`) writes the
//! events of the `azure_*` crates to stderr. Off unless set.
//!
//! Every line passes through a `Redactor` holding the key of every account
//! connected in this process (and cuts `authorization` values), so turning
//! tracing on can never print a secret.

use std::io::Write;
use std::sync::OnceLock;

use parking_lot::RwLock;
use tracing_subscriber::EnvFilter;

use super::errors::Redactor;

/// The environment variable that switches tracing on.
pub const ENV: &str = "BYTELYST_DATASTORE_TRACE";

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Adds a secret every trace line is scrubbed of.
pub fn remember_secret(secret: &str) {
    let mut secrets = SECRETS.write();
    if !secrets.iter().any(|s| s == secret) {
        secrets.push(secret.to_owned());
    }
}

/// Installs the stderr subscriber once, when `BYTELYST_DATASTORE_TRACE` is
/// set and no other global subscriber is installed; otherwise does nothing.
pub fn install_from_env() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let Ok(directives) = std::env::var(ENV) else {
            return;
        };
        let Ok(filter) = EnvFilter::try_new(directives.trim()) else {
            eprintln!("{ENV}: not a tracing filter (try `debug` or `azure_data_cosmos=debug`); tracing stays off");
            return;
        };
        // Another subscriber may own the process (an embedding app): leave it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_target(true)
            .with_writer(ScrubbedLine::default)
            .try_init();
    });
}

/// One formatted event, written to stderr scrubbed when dropped.
#[derive(Default)]
struct ScrubbedLine {
    buf: Vec<u8>,
}

impl Write for ScrubbedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let line = scrub_line(&String::from_utf8_lossy(&self.buf));
        // A closed stderr has nowhere to report to.
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// A trace line without any remembered secret or authorization value.
fn scrub_line(text: &str) -> String {
    Redactor::new(SECRETS.read().iter().cloned()).scrub(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_remembered_keys_and_authorization_values() {
        remember_secret("c2VjcmV0LWtleS1vZi10aGUtdGVzdA==");
        let line = scrub_line(
            "DEBUG azure_core: key=c2VjcmV0LWtleS1vZi10aGUtdGVzdA== authorization: type%3Dmaster%26sig%3Dabc\n",
        );
        assert!(!line.contains("c2VjcmV0LWtleS1vZi10aGUtdGVzdA=="), "{line}");
        assert!(!line.contains("sig%3Dabc"), "{line}");
        assert!(
            line.starts_with("DEBUG azure_core: key=<redacted>"),
            "{line}"
        );
    }
}

//! A JavaScript `TokenCredential` (`@azure/identity`'s
//! `DefaultAzureCredential`, or any object with `getToken`) as the SDK's
//! Entra ID credential. The SDK asks for a token whenever it has none that
//! is fresh enough; each ask calls back into JavaScript on its own thread
//! (a threadsafe function) and awaits the promise `getToken` returns.

use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::error::{Error as AzureError, ErrorKind};
use napi::bindgen_prelude::Promise;
use napi::threadsafe_function::ThreadsafeFunction;
use napi::Status;
use napi_derive::napi;
use time::OffsetDateTime;

/// What `getToken` resolves to, as the TypeScript layer hands it over.
#[napi(object)]
pub struct NativeAccessToken {
    pub token: String,
    /// Milliseconds since the epoch, as `@azure/core-auth`'s `AccessToken`.
    pub expires_on_timestamp: f64,
}

/// `(scopes joined by spaces) => Promise<NativeAccessToken>`. Weak: a
/// provider that waits for nothing does not keep the process alive.
pub type GetToken =
    ThreadsafeFunction<String, Promise<NativeAccessToken>, String, Status, false, true>;

pub struct JsCredential {
    get_token: Arc<GetToken>,
}

impl JsCredential {
    pub fn shared(get_token: GetToken) -> Arc<dyn TokenCredential> {
        Arc::new(JsCredential {
            get_token: Arc::new(get_token),
        })
    }
}

impl fmt::Debug for JsCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JsCredential")
    }
}

fn credential_error(what: impl fmt::Display) -> AzureError {
    AzureError::with_message(
        ErrorKind::Credential,
        format!("credential.getToken: {what}"),
    )
}

#[async_trait::async_trait]
impl TokenCredential for JsCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let promise = self
            .get_token
            .call_async(scopes.join(" "))
            .await
            .map_err(|e| credential_error(e.reason))?;
        let t = promise.await.map_err(|e| credential_error(e.reason))?;
        if t.token.is_empty() {
            return Err(credential_error("answered an empty token"));
        }
        if !t.expires_on_timestamp.is_finite() {
            return Err(credential_error("answered no expiry (expiresOnTimestamp)"));
        }
        let nanos = (t.expires_on_timestamp * 1_000_000.0) as i128;
        let expires_on = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| credential_error("answered an expiry out of range"))?;
        Ok(AccessToken::new(t.token, expires_on))
    }
}

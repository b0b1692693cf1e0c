//! One provider call's limits: its own deadline (a per-call `timeoutMs`)
//! or else the provider's per-request one, and the caller's abort signal.
//! A request the call stops waiting for is abandoned, not undone: a write
//! interrupted in flight is resolved by a re-read (`store::write`), which
//! runs under `resolving()` so the abort that interrupted it cannot
//! interrupt the resolution too.

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures::future::{self, Either};
use tokio_util::sync::CancellationToken;

use crate::error::{Code, DsError};

/// Why a call stopped waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The caller's `AbortSignal` fired.
    Aborted,
    /// The call's own deadline (`timeoutMs` given to the call) passed.
    Deadline,
}

impl Stop {
    /// How a message says it.
    pub fn describe(self) -> &'static str {
        match self {
            Stop::Aborted => "aborted (the caller's signal fired)",
            Stop::Deadline => "timed out (the call's timeoutMs passed)",
        }
    }

    /// The rejection of a call stopped before anything it sent could apply.
    pub fn before_sent(self, what: &str) -> DsError {
        DsError::new(
            Code::Timeout,
            format!(
                "{what}: {} before it was sent; nothing was written",
                self.describe()
            ),
        )
    }

    /// The rejection of a read (or a query) stopped while in flight.
    pub fn read(self, what: &str) -> DsError {
        DsError::new(Code::Timeout, format!("{what}: {}", self.describe()))
    }

    /// The rejection of a write stopped while in flight whose re-read
    /// could not tell whether it landed.
    pub fn unknown(self, what: &str, why: &str) -> DsError {
        DsError::new(
            Code::Timeout,
            format!(
                "{what}: the outcome is unknown ({why}); {} while the request was in flight, and the write may or may not have been applied",
                self.describe()
            ),
        )
    }
}

/// The limits of one call.
#[derive(Clone, Default)]
pub struct Call {
    /// The whole call's deadline, when the call was given a `timeoutMs`.
    deadline: Option<Instant>,
    /// Its length, for the requests that resolve an interrupted write.
    timeout: Option<Duration>,
    /// Each request's deadline (the provider's `timeoutMs`) otherwise.
    per_request: Option<Duration>,
    abort: Option<CancellationToken>,
}

impl Call {
    /// A call under the provider's per-request deadline, with its own
    /// `timeout` (which replaces it) and abort token when given.
    pub fn new(
        per_request: Option<Duration>,
        timeout: Option<Duration>,
        abort: Option<CancellationToken>,
    ) -> Self {
        Call {
            deadline: timeout.map(|t| Instant::now() + t),
            timeout,
            per_request,
            abort,
        }
    }

    /// The SDK's end-to-end deadline for the next request: what is left of
    /// the call's own, or the provider's per-request one.
    pub fn request_deadline(&self) -> Option<Duration> {
        match self.deadline {
            Some(d) => Some(
                d.saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(1)),
            ),
            None => self.per_request,
        }
    }

    /// Why the call must stop now, if it must.
    pub fn stopped(&self) -> Option<Stop> {
        if self.abort.as_ref().is_some_and(|a| a.is_cancelled()) {
            return Some(Stop::Aborted);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Stop::Deadline);
        }
        None
    }

    /// `f`'s output, or why the call stopped waiting for it first.
    pub async fn run<F: Future>(&self, f: F) -> Result<F::Output, Stop> {
        if let Some(stop) = self.stopped() {
            return Err(stop);
        }
        if self.abort.is_none() && self.deadline.is_none() {
            return Ok(f.await);
        }
        match future::select(pin!(f), pin!(self.until_stopped())).await {
            Either::Left((out, _)) => Ok(out),
            Either::Right((stop, _)) => Err(stop),
        }
    }

    async fn until_stopped(&self) -> Stop {
        let aborted = async {
            match &self.abort {
                Some(a) => a.cancelled().await,
                None => future::pending().await,
            }
        };
        let late = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => future::pending().await,
            }
        };
        match future::select(pin!(aborted), pin!(late)).await {
            Either::Left(_) => Stop::Aborted,
            Either::Right(_) => Stop::Deadline,
        }
    }

    /// The limits of the re-read that resolves a write this call
    /// interrupted: no abort, and a fresh deadline of the call's length
    /// (or the provider's per-request one).
    pub fn resolving(&self) -> Call {
        Call {
            deadline: None,
            timeout: None,
            per_request: self.timeout.or(self.per_request),
            abort: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_abort_stops_the_wait_and_resolving_ignores_it() {
        let token = CancellationToken::new();
        let call = Call::new(None, None, Some(token.clone()));
        assert_eq!(call.run(async { 1 }).await, Ok(1));
        token.cancel();
        assert_eq!(call.stopped(), Some(Stop::Aborted));
        assert_eq!(call.run(future::pending::<()>()).await, Err(Stop::Aborted));
        assert_eq!(call.resolving().run(async { 2 }).await, Ok(2));
    }

    #[tokio::test]
    async fn a_call_deadline_replaces_the_per_request_one() {
        let call = Call::new(
            Some(Duration::from_secs(60)),
            Some(Duration::from_millis(20)),
            None,
        );
        assert!(call.request_deadline() <= Some(Duration::from_millis(20)));
        assert_eq!(call.run(future::pending::<()>()).await, Err(Stop::Deadline));
        assert_eq!(
            call.resolving().request_deadline(),
            Some(Duration::from_millis(20))
        );
        let plain = Call::new(Some(Duration::from_secs(60)), None, None);
        assert_eq!(plain.request_deadline(), Some(Duration::from_secs(60)));
    }
}

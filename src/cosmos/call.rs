//! One provider call's limits: its own deadline (a per-call `timeoutMs`)
//! or else the provider's per-request one, and the caller's abort signal.
//! A request the call stops waiting for is abandoned, not undone: a write
//! interrupted in flight is resolved by a re-read (`store::write`), which
//! runs under `resolving()` so the abort that interrupted it cannot
//! interrupt the resolution too.
//!
//! A call also meters the answers it hears (`Meter`): how many, their
//! request charge summed, and the last one's status and activity id, for
//! the provider's `onDiagnostics` hook.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_data_cosmos::models::ResponseHeaders;
use azure_data_cosmos::{CosmosError, CosmosStatus};
use parking_lot::Mutex;

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

/// What one call heard from the server, over all its requests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metered {
    /// Answers heard (reads before a write, re-reads and resends included;
    /// the SDK's own retries inside one request are not seen apart).
    pub requests: u32,
    /// `x-ms-request-charge` summed over them.
    pub request_charge: f64,
    /// The last answer's.
    pub activity_id: Option<String>,
    pub status: Option<u16>,
    pub sub_status: Option<u16>,
}

/// Where a call's answers are metered; shared with the JavaScript object
/// that reads it when the call has settled.
#[derive(Debug, Default)]
pub struct Meter(Mutex<Metered>);

impl Meter {
    pub fn read(&self) -> Metered {
        self.0.lock().clone()
    }

    fn record(
        &self,
        status: u16,
        sub_status: Option<u16>,
        charge: Option<f64>,
        activity: Option<String>,
    ) {
        let mut m = self.0.lock();
        m.requests += 1;
        m.request_charge += charge.unwrap_or(0.0);
        m.status = Some(status);
        m.sub_status = sub_status;
        if activity.is_some() {
            m.activity_id = activity;
        }
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
    meter: Option<Arc<Meter>>,
}

impl Call {
    /// The same call, metered into `meter`.
    pub fn metered(mut self, meter: Arc<Meter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Meters a successful answer.
    pub fn heard(&self, status: CosmosStatus, headers: &ResponseHeaders) {
        if let Some(m) = &self.meter {
            m.record(
                u16::from(status.status_code()),
                status.sub_status().map(|s| s.value()),
                headers.request_charge().map(|c| f64::from(*c)),
                headers.activity_id().map(|a| a.as_str().to_owned()),
            );
        }
    }

    /// Meters a page of a query's answer.
    pub fn heard_page(&self, headers: &ResponseHeaders) {
        if let Some(m) = &self.meter {
            m.record(
                200,
                headers.substatus().map(|s| s.value()),
                headers.request_charge().map(|c| f64::from(*c)),
                headers.activity_id().map(|a| a.as_str().to_owned()),
            );
        }
    }

    /// Meters a failed answer, when the server gave one (a request lost or
    /// abandoned has none).
    pub fn heard_error(&self, e: &CosmosError) {
        let Some(m) = &self.meter else { return };
        if !e.is_from_wire() {
            return;
        }
        let d = super::errors::diagnostics_of(e);
        let (status, sub_status) = super::errors::status_of(e);
        m.record(status, sub_status, d.request_charge, d.activity_id);
    }

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
            meter: None,
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
            meter: self.meter.clone(),
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

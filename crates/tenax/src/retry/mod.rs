//! Retries: the [`Policy`] (which outcomes are worth another attempt, full-jitter backoff,
//! `Retry-After`), the per-host [`Budget`], and what a response's retries were ([`Retry`],
//! [`Reason`]). The loop that applies them is the client's retry stage.
//!
//! Retries are on by default for idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, TRACE):
//! 3 attempts, full-jitter backoff from 50 ms up to 20 s (from 1 s after 429 and 503), `Retry-After`
//! honoured up to 60 s, a per-host budget so that retries cannot multiply an outage. A POST is
//! retried only if the request never left or the server refused it unprocessed, or with an
//! `Idempotency-Key` ([`Policy::idempotency_keys`]). Each [`Response`](crate::Response) says
//! what happened ([`Response::retries`](crate::Response::retries)).
//!
//! ```no_run
//! # async fn demo(client: tenax::Client) -> tenax::Result<()> {
//! let res = client.get("http://127.0.0.1:8080/flaky").send().await?;
//! for r in res.retries() {
//!     println!("attempt {} failed ({}), waited {:?}", r.attempt, r.reason, r.delay);
//! }
//! # Ok(()) }
//! ```
//!
//! Runnable: `cargo run -p tenax --example 05_retries` (and `04_operation_deadline` for a
//! deadline over the retries).

mod backoff;
mod budget;
mod policy;
mod retry_after;

pub(crate) use backoff::full_jitter;
pub(crate) use budget::Budgets;
pub(crate) use policy::{Classifier, RetryBudget, RetryPolicy};
pub use policy::{RetryBudget as Budget, RetryPolicy as Policy};
pub(crate) use policy::{Verdict, WriteStall, is_idempotent, is_transient};
pub(crate) use retry_after::parse_retry_after;

/// One retry that a request made: which attempt failed, why, and how long it waited.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// Why it was retried (shown as e.g. `status 503` or `connect timeout`).
    pub reason: Reason,
    /// How long the client waited before the next attempt.
    pub delay: std::time::Duration,
}

/// Why an attempt was retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The server answered with this status (408, 429, 502, 503 or 504 by default).
    Status(http::StatusCode),
    /// This phase ran out of time.
    Timeout(crate::TimeoutPhase),
    /// The connection could not be made.
    Connect,
    /// The server closed the connection without answering.
    EmptyReply,
    /// The connection broke while the request was sent or the response read.
    ConnectionBroken,
    /// A custom classifier chose to retry an outcome of none of these kinds.
    Classifier,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Status(s) => write!(f, "status {}", s.as_u16()),
            Reason::Timeout(p) => write!(f, "{p} timeout"),
            Reason::Connect => f.write_str("connect error"),
            Reason::EmptyReply => f.write_str("empty reply"),
            Reason::ConnectionBroken => f.write_str("connection broken"),
            Reason::Classifier => f.write_str("classifier"),
        }
    }
}

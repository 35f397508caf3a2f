//! Circuit breakers, one per host: a host that keeps failing stops receiving requests for a
//! while, so that callers fail in microseconds instead of each paying a connect or read
//! timeout, and the host is not kept down by the traffic it cannot serve.
//!
//! Off by default; [`ClientBuilder::circuit_breaker`](crate::ClientBuilder::circuit_breaker)
//! turns it on with a [`Policy`]. The states are Polly's and Resilience4j's:
//!
//! - **Closed**: attempts go through; their outcomes are counted over a sliding window
//!   ([`Policy::sampling_window`], default 10 s). The circuit opens once the window holds at
//!   least [`Policy::min_throughput`] attempts (default 20) of which a share of at least
//!   [`Policy::failure_ratio`] (default 0.5) failed, or after
//!   [`Policy::consecutive_failures`] failures in a row (default 10: a host that went down
//!   after a busy minute is not sent hundreds of attempts before the ratio catches up).
//! - **Open**: for the break duration ([`Policy::break_duration`], default 5 s, shortened by up
//!   to 20 % at random so that many clients do not probe together) every attempt to the host
//!   fails at once with [`Error::is_circuit_open`](crate::Error::is_circuit_open): no socket,
//!   no wait. The error names the host and when it will be probed.
//! - **Half-open**: the next attempts (up to [`Policy::probes`], default 1) go through as
//!   probes while the others are still refused; the circuit closes when that many succeed, and
//!   opens again at the first failure.
//!
//! A failure is what the retry classifier calls transient (connect errors, connect, read and
//! write timeouts, broken connections, empty replies), a DNS failure, an invalid response, or a
//! status 5xx, 408 or 429; [`Policy::classify`] overrides it. The caller's own mistakes (other
//! 4xx statuses, an invalid URL) count as successes: the host answered. The operation deadline,
//! the pool timeout and a closed client count as nothing. Each attempt is counted, retries
//! included, so a request being retried when the circuit opens stops at its next attempt.
//!
//! State changes and refusals are [events](crate::events::EventKind::CircuitChanged) (and
//! metrics with the `metrics` feature); [`Client::circuit`](crate::Client::circuit) tells a
//! host's state.
//!
//! ```
//! use std::time::Duration;
//!
//! let client = tenax::Client::builder()
//!     .circuit_breaker(
//!         tenax::breaker::Policy::default()
//!             .failure_ratio(0.5)
//!             .min_throughput(10)
//!             .break_duration(Duration::from_secs(2)),
//!     )
//!     .build()?;
//! # drop(client); Ok::<(), tenax::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::Error;
use crate::retry::Classifier;

mod circuit;

pub(crate) use circuit::{Admission, Breakers, Change, Outcome, Ticket};

/// When a host's circuit opens and for how long; see the [module docs](self).
#[derive(Clone)]
pub struct Policy {
    pub(crate) failure_ratio: f64,
    pub(crate) min_throughput: u32,
    pub(crate) consecutive: u32,
    pub(crate) sampling_window: Duration,
    pub(crate) break_duration: Duration,
    pub(crate) break_jitter: f64,
    pub(crate) probes: u32,
    classifier: Option<Classifier>,
}

impl Default for Policy {
    /// Opens when half of at least 20 attempts in 10 s failed, or 10 in a row; open for 5 s
    /// (up to 20 % less at random); one probe closes it.
    fn default() -> Self {
        Policy {
            failure_ratio: 0.5,
            min_throughput: 20,
            consecutive: 10,
            sampling_window: Duration::from_secs(10),
            break_duration: Duration::from_secs(5),
            break_jitter: 0.2,
            probes: 1,
            classifier: None,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("failure_ratio", &self.failure_ratio)
            .field("min_throughput", &self.min_throughput)
            .field("consecutive_failures", &self.consecutive)
            .field("sampling_window", &self.sampling_window)
            .field("break_duration", &self.break_duration)
            .field("break_jitter", &self.break_jitter)
            .field("probes", &self.probes)
            .field("classifier", &self.classifier.is_some())
            .finish()
    }
}

impl Policy {
    /// The share of failed attempts in the window that opens the circuit, between 0 and 1.
    /// Default is 0.5.
    #[must_use]
    pub fn failure_ratio(mut self, ratio: f64) -> Self {
        self.failure_ratio = ratio.clamp(0.0, 1.0);
        self
    }

    /// The fewest attempts in the window before the ratio is judged (a few failures of a
    /// quiet host do not open it). Default is 20.
    #[must_use]
    pub fn min_throughput(mut self, n: u32) -> Self {
        self.min_throughput = n.max(1);
        self
    }

    /// Failures in a row that open the circuit whatever the ratio (0: only the ratio).
    /// Default is 10.
    #[must_use]
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive = n;
        self
    }

    /// The sliding window attempts are counted over. Default is 10 s.
    #[must_use]
    pub fn sampling_window(mut self, window: Duration) -> Self {
        self.sampling_window = window.max(Duration::from_millis(10));
        self
    }

    /// How long the circuit stays open before it is probed. Default is 5 s.
    #[must_use]
    pub fn break_duration(mut self, d: Duration) -> Self {
        self.break_duration = d;
        self
    }

    /// The most the break duration is shortened at random, as a share of it (0 to 1), so that
    /// many clients do not probe a recovering host at the same moment. Default is 0.2.
    #[must_use]
    pub fn break_jitter(mut self, share: f64) -> Self {
        self.break_jitter = share.clamp(0.0, 1.0);
        self
    }

    /// How many probes go through when the break is over, and how many must succeed to close
    /// the circuit. Default is 1.
    #[must_use]
    pub fn probes(mut self, n: u32) -> Self {
        self.probes = n.max(1);
        self
    }

    /// Decide yourself what counts as a failure: given the status (when a response came) or
    /// the error, return `Some(true)` for a failure, `Some(false)` for a success, `None` for
    /// the default rule.
    #[must_use]
    pub fn classify(
        mut self,
        f: impl Fn(Option<StatusCode>, Option<&Error>) -> Option<bool> + Send + Sync + 'static,
    ) -> Self {
        self.classifier = Some(Arc::new(f));
        self
    }

    /// What an attempt's outcome means to the circuit.
    pub(crate) fn judge(&self, status: Option<StatusCode>, err: Option<&Error>) -> Outcome {
        if let Some(f) = &self.classifier {
            match f(status, err) {
                Some(true) => return Outcome::Failure,
                Some(false) => return Outcome::Success,
                None => {}
            }
        }
        match (status, err) {
            (Some(s), _) if s.is_server_error() || matches!(s.as_u16(), 408 | 429) => {
                Outcome::Failure
            }
            (Some(_), _) => Outcome::Success,
            (None, Some(e)) if host_failed(e) => Outcome::Failure,
            // The caller's limits (deadline, pool timeout) and mistakes say nothing of the host.
            _ => Outcome::Ignored,
        }
    }
}

/// Whether an error is the host's doing: it could not be reached, broke, stalled or answered
/// something that is not HTTP.
fn host_failed(e: &Error) -> bool {
    crate::retry::is_transient(e, crate::retry::WriteStall::Transient)
        || e.is_dns()
        || e.is_protocol()
        || e.is_tls() && !e.is_certificate()
}

/// The state of a host's circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CircuitState {
    /// Attempts go through and are counted.
    Closed,
    /// Attempts fail at once until the break is over.
    Open,
    /// Probes go through; their outcome closes or opens the circuit.
    HalfOpen,
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half-open",
        })
    }
}

//! The retry policy: how many attempts, which methods and outcomes, how long to wait.

use super::Reason;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};

use crate::{Error, TimeoutPhase};

/// The retry budget of each host: retries may be at most `ratio` of the requests of the last
/// `window`, plus `min_per_sec` for each second of it. It stops a failing server from being
/// hit with three times its load.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryBudget {
    /// Share of requests that may be retried. Default is 0.2.
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic. Default is 10.
    pub min_per_sec: f64,
    /// The window requests and retries are counted over. Default is 10 s.
    pub window: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            ratio: 0.2,
            min_per_sec: 10.0,
            window: Duration::from_secs(10),
        }
    }
}

/// A caller's rule over an attempt's outcome (the status, or the error): `Some(true)`,
/// `Some(false)`, or `None` for the default (the retry policy's and the breaker's).
pub(crate) type Classifier =
    Arc<dyn Fn(Option<StatusCode>, Option<&Error>) -> Option<bool> + Send + Sync>;

/// When and how to try a request again. On by default (see [`Default`]); set per client with
/// [`ClientBuilder::retry`](crate::ClientBuilder::retry) and per request with
/// [`RequestBuilder::retry`](crate::RequestBuilder::retry); [`RetryPolicy::none`] turns it off.
///
/// - Methods: the idempotent ones of RFC 9110 (GET, HEAD, OPTIONS, TRACE, PUT, DELETE); POST and
///   PATCH only when the request carries an `Idempotency-Key` header (see
///   [`idempotency_keys`](Self::idempotency_keys)).
/// - Outcomes: connect errors, connect and read timeouts, connections that broke before the
///   response head, and statuses 408, 429, 502, 503, 504. Never once part of the body has been
///   delivered. [`classify`](Self::classify) widens or narrows this.
/// - Waits: full-jitter exponential backoff, `random(0, min(cap, base · 2^n))`, with a larger
///   base for 429 and 503; a `Retry-After` from the server instead, up to a cap.
/// - The per-host [`RetryBudget`], and the operation deadline, bound it all.
///
/// ```
/// use std::time::Duration;
///
/// let policy = tenax::retry::Policy::default()
///     .max_attempts(5) // the first and four retries
///     .backoff(Duration::from_millis(100), Duration::from_secs(5));
/// let client = tenax::Client::builder().retry(policy).build()?;
/// # drop(client); Ok::<(), tenax::Error>(())
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
    pub(crate) throttle_base: Duration,
    pub(crate) retry_after_cap: Duration,
    pub(crate) idempotency_keys: bool,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) replay_buffer: usize,
    classifier: Option<Classifier>,
}

impl Default for RetryPolicy {
    /// 3 attempts in all; backoff base 50 ms, cap 20 s, base 1 s for 429 and 503;
    /// `Retry-After` honoured up to 60 s; no generated idempotency keys; the default
    /// [`RetryBudget`]; streaming bodies replayed up to 64 KiB.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(50),
            cap: Duration::from_secs(20),
            throttle_base: Duration::from_secs(1),
            retry_after_cap: Duration::from_secs(60),
            idempotency_keys: false,
            budget: Some(RetryBudget::default()),
            replay_buffer: 64 << 10,
            classifier: None,
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("base", &self.base)
            .field("cap", &self.cap)
            .field("throttle_base", &self.throttle_base)
            .field("retry_after_cap", &self.retry_after_cap)
            .field("idempotency_keys", &self.idempotency_keys)
            .field("budget", &self.budget)
            .field("replay_buffer", &self.replay_buffer)
            .field("classifier", &self.classifier.is_some())
            .finish()
    }
}

/// What to do with an outcome.
pub(crate) enum Verdict {
    Final,
    Retry {
        /// The server asked to slow down (429, 503): the larger backoff base applies.
        throttle: bool,
        reason: Reason,
    },
}

/// RFC 9110 §9.2.2.
pub(crate) fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

impl RetryPolicy {
    /// No retries: every request gets one attempt.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Attempts in all, the first included (1 = no retry). Default is 3.
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Backoff base and cap. Default is 50 ms and 20 s.
    #[must_use]
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.base = base;
        self.cap = cap.max(base);
        self
    }

    /// Backoff base after 429 and 503 (the server is overloaded). Default is 1 s.
    #[must_use]
    pub fn throttle_base(mut self, base: Duration) -> Self {
        self.throttle_base = base;
        self
    }

    /// The longest `Retry-After` honoured: longer requests are cut to it. Default is 60 s.
    #[must_use]
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// Give POST and PATCH requests without an `Idempotency-Key` a generated one (the same
    /// for every attempt of the request), making them retryable. Default is false.
    #[must_use]
    pub fn idempotency_keys(mut self, on: bool) -> Self {
        self.idempotency_keys = on;
        self
    }

    /// The per-host retry budget (`None`: unlimited). Default is [`RetryBudget::default`].
    #[must_use]
    pub fn budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// A streaming request body is retried only if it ends within this many bytes (buffered
    /// for replay); longer ones get one attempt. Default is 64 KiB.
    #[must_use]
    pub fn replay_buffer(mut self, bytes: usize) -> Self {
        self.replay_buffer = bytes;
        self
    }

    /// Decide yourself: given the status (when a response came) or the error, return
    /// `Some(true)` to retry, `Some(false)` not to, `None` for the default rule. Methods,
    /// attempts, budget and deadline still apply.
    #[must_use]
    pub fn classify(
        mut self,
        f: impl Fn(Option<StatusCode>, Option<&Error>) -> Option<bool> + Send + Sync + 'static,
    ) -> Self {
        self.classifier = Some(Arc::new(f));
        self
    }

    /// Whether this outcome of an attempt is worth another.
    pub(crate) fn judge(&self, status: Option<StatusCode>, err: Option<&Error>) -> Verdict {
        if let Some(f) = &self.classifier {
            match f(status, err) {
                Some(true) => {
                    return Verdict::Retry {
                        throttle: matches!(status.map(|s| s.as_u16()), Some(429 | 503)),
                        reason: reason(status, err),
                    };
                }
                Some(false) => return Verdict::Final,
                None => {}
            }
        }
        if let Some(s) = status {
            return match s.as_u16() {
                429 | 503 => Verdict::Retry {
                    throttle: true,
                    reason: reason(status, None),
                },
                408 | 502 | 504 => Verdict::Retry {
                    throttle: false,
                    reason: reason(status, None),
                },
                _ => Verdict::Final,
            };
        }
        let Some(e) = err else {
            return Verdict::Final;
        };
        if is_transient(e, WriteStall::Final) {
            Verdict::Retry {
                throttle: false,
                reason: reason(None, Some(e)),
            }
        } else {
            Verdict::Final
        }
    }
}

/// Whether a write timeout counts as transient: a request whose server stopped reading may be
/// in the middle of processing it (`Final`, for requests); a download only resumes a read
/// (`Transient`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteStall {
    Final,
    Transient,
}

/// The one rule of what failure is worth another try: the connection could not be made, broke,
/// stalled, or closed without an answer. (A WebSocket reconnects after more than this: a new
/// connection replays nothing, see `ws::default_decision`.)
pub(crate) fn is_transient(e: &Error, write_stall: WriteStall) -> bool {
    e.is_connect()
        || e.is_empty_reply()
        || e.is_recv()
        || e.is_send()
        || match e.timeout_phase() {
            Some(TimeoutPhase::Connect | TimeoutPhase::Read) => true,
            Some(TimeoutPhase::Write) => write_stall == WriteStall::Transient,
            _ => false,
        }
}

fn reason(status: Option<StatusCode>, err: Option<&Error>) -> Reason {
    match (status, err) {
        (Some(s), _) => Reason::Status(s),
        (None, Some(e)) => match e.timeout_phase() {
            Some(p) => Reason::Timeout(p),
            None if e.is_connect() => Reason::Connect,
            None if e.is_empty_reply() => Reason::EmptyReply,
            None => Reason::ConnectionBroken,
        },
        (None, None) => Reason::Classifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transient_rule_with_the_write_stall_named() {
        let stalled = Error::timeout(TimeoutPhase::Write, Duration::from_secs(1), "writing");
        assert!(!is_transient(&stalled, WriteStall::Final));
        assert!(is_transient(&stalled, WriteStall::Transient));
        let read = Error::timeout(TimeoutPhase::Read, Duration::from_secs(1), "reading");
        assert!(is_transient(&read, WriteStall::Final));
        let pool = Error::timeout(TimeoutPhase::Pool, Duration::from_secs(1), "waiting");
        assert!(!is_transient(&pool, WriteStall::Transient));
        assert!(!is_transient(&Error::builder("bad"), WriteStall::Transient));
    }
}

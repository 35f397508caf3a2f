//! The retry stage: one request's attempts, in a loop that owns every retry decision — which
//! requests may be tried again (and their idempotency key), the verdict on each outcome, the
//! wait (the server's `Retry-After`, else full-jitter backoff), the host's retry budget, and
//! the operation deadline over it all. Below it, `attempt.rs` makes one attempt.

use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri};

use super::Client;
use super::guarded::Guard;
use super::wire::{Answer, IDEMPOTENCY_KEY, When, generated_key};
use crate::body::Body;
use crate::error::Error;
use crate::events::{EventKind, RequestId};
use crate::origin::Origin;
use crate::request::Parts;
use crate::retry::{self, Reason, Retry, RetryPolicy, Verdict};
use crate::{Response, Result, TimeoutPhase};

/// What the loop knows of the request across its attempts.
pub(super) struct Request<'a> {
    pub(super) method: &'a Method,
    pub(super) uri: &'a mut Uri,
    pub(super) origin: Origin,
    pub(super) started: Instant,
    pub(super) deadline: Option<Instant>,
    can_retry: bool,
    retries: Vec<Retry>,
}

/// What the loop does after an attempt.
enum Next {
    /// The outcome is the request's (`exhausted`: retries would have followed, but none is left).
    Finish { exhausted: bool },
    /// Waiting would pass the deadline: fail with this error.
    Fail(Error),
    /// Wait `delay`, then try again.
    Retry { delay: Duration, reason: Reason },
}

impl Client {
    /// Runs a request to its response (or final error). `parts` is borrowed, not owned, so
    /// that the request is held once in the caller's future rather than copied into this one.
    /// `id`: the request's number for the observer (0 without one).
    pub(super) async fn run(&self, parts: &mut Parts, id: RequestId) -> Result<Response> {
        let inner = &*self.inner;
        let policy = parts.retry.as_ref().unwrap_or(&inner.retry);
        let deadline = match (parts.deadline, crate::deadline::current()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let max_body = parts.max_body.or(inner.max_body);
        let can_retry = self.prepare(&parts.method, &mut parts.headers, policy);
        let body = std::mem::take(&mut parts.body);
        let mut body = if can_retry {
            body.buffer_for_replay(policy.replay_buffer)
        } else {
            body
        };
        let mut req = Request {
            method: &parts.method,
            origin: Origin::of(&parts.uri).expect("checked when the URL was parsed"),
            uri: &mut parts.uri,
            started: Instant::now(),
            deadline,
            can_retry,
            retries: Vec::new(),
        };
        if let (true, Some(budget)) = (can_retry, &policy.budget) {
            inner.budgets.deposit(&req.origin, budget);
        }
        let headers = &mut parts.headers;
        let mut hedges = crate::hedge::Hedges::default();
        loop {
            let attempt_no = req.retries.len() as u32 + 1;
            // One attempt and its verdict, in a block: what it holds (the attempt's future, its
            // outcome) must not stay in this future's state across the wait below.
            let delay = {
                let (this_headers, this_body, when, last) =
                    self.inputs(&req, headers, &mut body, policy, parts.timeouts, id);
                // Only a request that may be sent again is hedged.
                let hedge = (parts
                    .extras
                    .as_deref()
                    .and_then(|e| e.hedge.as_ref())
                    .or(inner.hedge.as_ref()))
                .filter(|h| req.can_retry && h.max_hedges > 0);
                let res = if hedge.is_some() || self.admits() {
                    // Past the circuit breaker and the rate limit, with hedges: rare, and
                    // boxed, so that it does not enlarge this future.
                    let guard = Guard {
                        hedge: hedge.copied(),
                        budget: policy.budget.as_ref(),
                        attempt_no,
                        hedges: &mut hedges,
                    };
                    let guarded = self.guarded(&req, this_headers, this_body, when, guard);
                    match Box::pin(guarded).await {
                        Ok(res) => res,
                        Err(refused) => {
                            if let Some(flag) =
                                parts.extras.as_deref().and_then(|e| e.overload.as_ref())
                            {
                                flag.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                            let e = refused.with_url(req.method, req.uri);
                            return Err(e.with_attempts(attempt_no - 1));
                        }
                    }
                } else {
                    // The attempt is made inside its deadline's future, not bound first: each
                    // binding is a copy of the attempt's ~2.3 KB future. Awaited here, not in a
                    // function of its own, whose output (the response head and body) would be
                    // copied once more on return.
                    let attempt = || {
                        let inputs = (this_headers, this_body, when);
                        let (method, uri, origin) = (req.method, &*req.uri, &req.origin);
                        let fut = self.attempt(method, uri, origin, inputs.0, inputs.1, inputs.2);
                        crate::deadline::Expiring::new(fut, deadline)
                    };
                    // An observed request's attempt has a span of its own (boxed: the span's
                    // wrapper would be one more copy of the attempt in every request's future).
                    #[cfg(feature = "tracing")]
                    let res = if id.is_some() {
                        Box::pin(crate::events::trace::attempt(attempt_no, true, attempt())).await
                    } else {
                        attempt().await
                    };
                    #[cfg(not(feature = "tracing"))]
                    let res = attempt().await;
                    match res {
                        Some(res) => res,
                        None => Err(req.deadline_error()),
                    }
                };
                self.attempted(id, attempt_no, &res);
                if let Some(flag) = parts.extras.as_deref().and_then(|e| e.overload.as_ref()) {
                    let (status, err) = outcome(&res);
                    if crate::batch::overloaded(status, err) {
                        flag.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                match self.next(&req, &res, policy, last, id) {
                    Next::Finish { exhausted } => {
                        let body_policy = (inner.decompress, max_body);
                        return req.finish(res, exhausted, body_policy, hedges);
                    }
                    Next::Fail(e) => {
                        // The last attempt's failure is the cause.
                        let e = match res {
                            Err(last) => e.with_source(last),
                            Ok(_) => e,
                        };
                        return Err(e.with_url(req.method, req.uri));
                    }
                    Next::Retry { delay, reason } => {
                        // Dropping a failed response reads a small rest of its body in the
                        // background, so that its connection can serve the next attempt.
                        drop(res);
                        self.scheduled(id, attempt_no, reason, delay);
                        req.retries.push(Retry {
                            attempt: attempt_no,
                            reason,
                            delay,
                        });
                        delay
                    }
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// Readies the request's headers (correlation id, idempotency key) and says whether it may
    /// be tried again: idempotent methods, and POST/PATCH with a key.
    fn prepare(&self, method: &Method, headers: &mut HeaderMap, policy: &RetryPolicy) -> bool {
        // One correlation id for every attempt and redirect of the request.
        if let Some(name) = &self.inner.correlation
            && !headers.contains_key(name)
        {
            headers.insert(name.clone(), generated_key());
        }
        if policy.max_attempts <= 1 {
            return false;
        }
        if retry::is_idempotent(method) {
            return true;
        }
        let keyed = *method == Method::POST || *method == Method::PATCH;
        if keyed && policy.idempotency_keys && !headers.contains_key(IDEMPOTENCY_KEY) {
            headers.insert(IDEMPOTENCY_KEY, generated_key());
        }
        keyed && headers.contains_key(IDEMPOTENCY_KEY)
    }

    /// What the next attempt sends (headers, body) and its limits; also whether it is the
    /// last one possible (its body cannot be kept for another). (Inlined: what it returns is
    /// built where the loop keeps it.)
    #[inline(always)]
    fn inputs(
        &self,
        req: &Request<'_>,
        headers: &mut HeaderMap,
        body: &mut Body,
        policy: &RetryPolicy,
        timeouts: crate::timeouts::TimeoutOverrides,
        id: RequestId,
    ) -> (HeaderMap, Body, When, bool) {
        let attempt_no = req.retries.len() as u32 + 1;
        // The body for this attempt; a body that cannot be replayed makes it the last.
        let (this_body, last) = match body.try_clone() {
            Some(copy) if req.can_retry && attempt_no < policy.max_attempts => (copy, false),
            _ => (std::mem::take(body), true),
        };
        let mut this_headers = if last {
            std::mem::take(headers)
        } else {
            headers.clone()
        };
        if let (Some(name), Some(d)) = (&self.inner.deadline_header, req.deadline) {
            let ms = d.saturating_duration_since(Instant::now()).as_millis();
            this_headers.insert(name.clone(), HeaderValue::from(ms as u64));
        }
        let when = When {
            timeouts,
            attempt_start: if attempt_no == 1 {
                req.started
            } else {
                Instant::now()
            },
            deadline: req.deadline,
            id,
        };
        (this_headers, this_body, when, last)
    }

    /// The verdict on an attempt's outcome: finish, fail at the deadline, or wait and retry.
    fn next(
        &self,
        req: &Request<'_>,
        res: &Result<Answer>,
        policy: &RetryPolicy,
        last: bool,
        id: RequestId,
    ) -> Next {
        let attempt_no = req.retries.len() as u32 + 1;
        let at_deadline =
            matches!(res, Err(e) if e.timeout_phase() == Some(TimeoutPhase::Deadline));
        if !req.can_retry || at_deadline {
            return Next::Finish { exhausted: false };
        }
        let Verdict::Retry { throttle, reason } = verdict(res, policy) else {
            return Next::Finish { exhausted: false };
        };
        if last {
            return Next::Finish { exhausted: true };
        }
        // How long to wait: what the server asked for, else full-jitter backoff.
        let asked = match res {
            Ok(a) => retry_after(a.headers()),
            Err(_) => None,
        };
        let delay = match asked {
            Some(d) => d.min(policy.retry_after_cap),
            None => {
                let base = if throttle {
                    policy.throttle_base
                } else {
                    policy.base
                };
                retry::full_jitter(base, policy.cap, attempt_no - 1, &mut fastrand::Rng::new())
            }
        };
        if let Some(d) = req.deadline
            && Instant::now() + delay >= d
        {
            // Waiting would pass the deadline: fail now, saying why.
            let mut e = Error::timeout(
                TimeoutPhase::Deadline,
                d.saturating_duration_since(req.started),
                "before the next attempt",
            );
            if let Some(asked) = asked {
                e = e.with_retry_after(asked);
            }
            return Next::Fail(e.with_attempts(attempt_no));
        }
        if let Some(b) = &policy.budget
            && !self.inner.budgets.withdraw(&req.origin, b)
        {
            if let Some(obs) = self.observer(id) {
                obs.emit(
                    id,
                    EventKind::RetryBudgetExhausted {
                        attempt: attempt_no,
                    },
                );
            }
            return Next::Finish { exhausted: true };
        }
        Next::Retry { delay, reason }
    }

    /// Tells the observer how an attempt ended.
    fn attempted(&self, id: RequestId, attempt: u32, res: &Result<Answer>) {
        let Some(obs) = self.observer(id) else {
            return;
        };
        obs.emit(
            id,
            match res {
                Ok(a) => EventKind::ResponseHead {
                    attempt,
                    status: a.status(),
                    version: a.version(),
                    headers: a.headers().clone(),
                },
                Err(e) => EventKind::AttemptFailed {
                    attempt,
                    error: e.kind_name(),
                    phase: e.timeout_phase(),
                    message: crate::error::message_chain(e),
                },
            },
        );
    }

    /// Tells the observer a retry is coming.
    fn scheduled(&self, id: RequestId, attempt: u32, reason: Reason, delay: Duration) {
        if let Some(obs) = self.observer(id) {
            obs.emit(
                id,
                EventKind::RetryScheduled {
                    attempt,
                    reason,
                    delay,
                },
            );
        }
    }
}

/// The wait a response's `Retry-After` asks for.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    retry::parse_retry_after(value, std::time::SystemTime::now())
}

/// An attempt's outcome as the policies judge it: the status, or the error.
pub(super) fn outcome(res: &Result<Answer>) -> (Option<http::StatusCode>, Option<&Error>) {
    match res {
        Ok(a) => (Some(a.status()), None),
        Err(e) => (None, Some(e)),
    }
}

/// The policy's verdict on an outcome.
fn verdict(res: &Result<Answer>, policy: &RetryPolicy) -> Verdict {
    let (status, err) = outcome(res);
    policy.judge(status, err)
}

impl Request<'_> {
    /// The operation deadline ran out during an attempt.
    pub(super) fn deadline_error(&self) -> Error {
        let limit = self.deadline.map_or(Duration::ZERO, |d| {
            d.saturating_duration_since(self.started)
        });
        Error::timeout(TimeoutPhase::Deadline, limit, "for the whole request")
    }

    /// The request's outcome: the response (with the retries it took), or the error with the
    /// request's URL and attempts. (Inlined: the outcome is large, and a call would copy it.)
    #[inline(always)]
    fn finish(
        self,
        res: Result<Answer>,
        exhausted: bool,
        (decompress, max_body): (bool, Option<u64>),
        hedges: crate::hedge::Hedges,
    ) -> Result<Response> {
        let attempts = self.retries.len() as u32 + 1;
        let mut r = match res {
            Ok(r) => r,
            Err(e) => {
                let e = e.with_url(self.method, self.uri).with_attempts(attempts);
                return Err(if exhausted { e.retries_exhausted() } else { e });
            }
        };
        r.set_request(std::mem::take(self.uri), self.started);
        if !self.retries.is_empty() {
            r.set_retries(self.retries);
        }
        if hedges.sent > 0 {
            r.set_hedges(hedges);
        }
        r.set_body_policy(decompress, max_body);
        Ok(r)
    }
}

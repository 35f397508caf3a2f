//! Operation deadlines: one limit over every attempt, backoff wait and body read of a request,
//! or of everything Tenax does inside a scope.
//!
//! Runnable: `cargo run -p tenax --example 04_operation_deadline`.
//!
//! ```no_run
//! # async fn demo(client: tenax::Client) -> tenax::Result<()> {
//! use std::time::Duration;
//!
//! // Three requests that must all be done within one second, retries included.
//! let pages = tenax::deadline::scope(Duration::from_secs(1), async {
//!     let a = client.get("http://127.0.0.1:8080/a").send().await?.text().await?;
//!     let b = client.get("http://127.0.0.1:8080/b").send().await?.text().await?;
//!     Ok::<_, tenax::Error>((a, b))
//! })
//! .await??;
//! # let _ = pages; Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::{Error, TimeoutPhase};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the current scope, if the current task is inside one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before the current scope's deadline, if inside one.
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// Runs `fut` with a deadline `limit` from now: every request Tenax makes inside it (in this
/// task; a spawned task does not inherit it) shares the deadline, and `fut` itself is stopped
/// when it passes, with an error whose phase is [`TimeoutPhase::Deadline`]. Scopes nest: an
/// inner scope can only shorten the deadline.
pub async fn scope<F: Future>(limit: Duration, fut: F) -> Result<F::Output, Error> {
    let mine = Instant::now() + limit;
    let at = current().map_or(mine, |outer| outer.min(mine));
    match tokio::time::timeout_at(at.into(), DEADLINE.scope(at, fut)).await {
        Ok(out) => Ok(out),
        Err(_) => Err(Error::timeout(
            TimeoutPhase::Deadline,
            limit,
            "for the operation",
        )),
    }
}

/// Runs `fut` with the deadline `at` for the requests inside it (an outer one, if earlier,
/// holds), without stopping `fut` itself: the caller does that.
pub(crate) async fn within<F: Future>(at: Instant, fut: F) -> F::Output {
    let at = current().map_or(at, |outer| outer.min(at));
    DEADLINE.scope(at, fut).await
}

pin_project_lite::pin_project! {
    /// A future under an optional deadline: `None` when the deadline passed first.
    ///
    /// One field for the future, whether or not there is a deadline (a `select!` or a
    /// `timeout_at` in one arm of a `match` would hold — and copy — the request's attempt
    /// twice), and no timer at all without one.
    pub(crate) struct Expiring<F> {
        #[pin]
        fut: F,
        expiry: Option<Pin<Box<tokio::time::Sleep>>>,
    }
}

impl<F: Future> Expiring<F> {
    /// `fut`, to end at `deadline` if there is one.
    #[inline(always)]
    pub(crate) fn new(fut: F, deadline: Option<Instant>) -> Expiring<F> {
        Expiring {
            fut,
            expiry: deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into()))),
        }
    }
}

impl<F: Future> Future for Expiring<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // The future first: an answer that is ready wins over a deadline that is too.
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Some(out));
        }
        match this.expiry {
            Some(sleep) => sleep.as_mut().poll(cx).map(|()| None),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_inner_scope_can_only_shorten() {
        assert_eq!(current(), None);
        let res = scope(Duration::from_secs(1), async {
            let outer = current().unwrap();
            scope(Duration::from_secs(2), async {
                assert_eq!(current(), Some(outer), "the outer, shorter deadline holds");
                tokio::time::sleep(Duration::from_secs(5)).await;
            })
            .await
        })
        .await;
        let err = res.unwrap().unwrap_err();
        assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Deadline));
    }

    #[tokio::test(start_paused = true)]
    async fn a_scope_that_finishes_in_time_returns_its_value() {
        let v = scope(Duration::from_secs(1), async { 7 }).await.unwrap();
        assert_eq!(v, 7);
    }
}

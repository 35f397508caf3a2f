//! `tracing` spans (feature `tracing`): one per request and one per attempt, with
//! OpenTelemetry's HTTP client attribute names, and every event logged at debug level inside
//! them.

use std::future::Future;

use http::{Method, StatusCode, Uri, Version};
use tracing::field::Empty;
use tracing::{Instrument, Span};

use super::{Event, EventKind};

/// The span of a request (a redirect is a new request).
pub(crate) fn request_span(method: &Method, url: &Uri) -> Span {
    let origin = crate::origin::Origin::of(url);
    tracing::info_span!(
        "http.client.request",
        otel.kind = "client",
        http.request.method = %method,
        server.address = origin.as_ref().map_or("", |o| o.host()),
        server.port = origin.as_ref().map_or(0, |o| o.port()),
        url.full = %url,
        http.response.status_code = Empty,
        network.protocol.version = Empty,
        error.type = Empty,
        http.request.resend_count = Empty,
    )
}

/// Runs one attempt inside its span (when `traced`); attempts after the first carry their
/// resend count.
pub(crate) fn attempt<F: Future>(n: u32, traced: bool, fut: F) -> impl Future<Output = F::Output> {
    let span = if !traced {
        Span::none()
    } else if n > 1 {
        tracing::debug_span!("http.client.attempt", http.request.resend_count = n - 1)
    } else {
        tracing::debug_span!("http.client.attempt")
    };
    fut.instrument(span)
}

/// Records a request's outcome on its span.
pub(crate) fn record_end(
    span: &Span,
    status: Option<(StatusCode, Version)>,
    error: Option<&'static str>,
    attempts: u32,
) {
    if let Some((status, version)) = status {
        span.record("http.response.status_code", status.as_u16());
        span.record("network.protocol.version", protocol(version));
    }
    if let Some(e) = error {
        span.record("error.type", e);
    }
    if attempts > 1 {
        span.record("http.request.resend_count", attempts - 1);
    }
}

fn protocol(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// Logs an event (inside the current span): circuit changes at warn level, retries and
/// exhausted budgets at info, the rest at debug.
pub(crate) fn log(event: &Event) {
    match &event.kind {
        EventKind::RequestStart { .. }
        | EventKind::RequestEnd { .. }
        | EventKind::RequestHead { .. } => {}
        EventKind::PoolWait { host, waited } => {
            tracing::debug!(server.address = %host, ?waited, "waited for a connection")
        }
        EventKind::ConnectionOpened {
            host,
            remote,
            version,
            tls,
        } => tracing::debug!(server.address = %host, %remote, ?version, ?tls, "connection opened"),
        EventKind::ConnectionClosed { host, remote } => {
            tracing::debug!(server.address = %host, %remote, "connection closed")
        }
        EventKind::ResponseHead {
            attempt, status, ..
        } => tracing::debug!(attempt, status = status.as_u16(), "response head"),
        EventKind::AttemptFailed {
            attempt,
            error,
            phase,
            message,
        } => {
            tracing::debug!(attempt, error.type = error, phase = ?phase, %message, "attempt failed")
        }
        EventKind::RetryScheduled {
            attempt,
            reason,
            delay,
        } => tracing::info!(attempt, %reason, ?delay, "retry scheduled"),
        EventKind::RetryBudgetExhausted { attempt } => {
            tracing::info!(attempt, "retry budget exhausted")
        }
        EventKind::CircuitChanged {
            host,
            state,
            attempts,
            failures,
        } => tracing::warn!(server.address = %host, %state, attempts, failures, "circuit breaker"),
        EventKind::CircuitRejected { host, probe_in } => {
            tracing::debug!(server.address = %host, ?probe_in, "refused: circuit open")
        }
        EventKind::HedgeSent {
            attempt,
            hedge,
            after,
        } => tracing::debug!(attempt, hedge, ?after, "hedge sent"),
        EventKind::ConcurrencyLimit { host, limit } => {
            tracing::debug!(server.address = ?host, limit, "concurrency limit")
        }
        EventKind::RateLimited { host, waited } => {
            tracing::debug!(server.address = %host, ?waited, "waited for the rate limit")
        }
        EventKind::WebSocket { url, event } => tracing::info!(url.full = %url, ?event, "websocket"),
    }
}

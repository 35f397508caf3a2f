//! Observability: events for hooks, a bounded channel adapter, and (with features) tracing
//! spans and metrics.
//!
//! Runnable: `cargo run -p tenax --example 11_observability`.
//!
//! Hooks set with [`ClientBuilder::on_event`](crate::ClientBuilder::on_event) run on the
//! request's own task, synchronously, as things happen: they must be cheap (count, copy into a
//! channel). [`channel`] is the adapter for a slow consumer: it never blocks a request, and a
//! full channel drops the event and counts it.

use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode, Uri, Version};
use tokio::sync::mpsc;

use crate::TimeoutPhase;

#[cfg(feature = "metrics")]
mod metrics;
#[cfg(feature = "tracing")]
pub(crate) mod trace;

/// The number of an observed request; `None` for a request nobody observes.
pub(crate) type RequestId = Option<NonZeroU64>;

/// Something that happened in a client, as a hook sees it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Event {
    /// The request it belongs to: a number unique within the client, counting from 1. `None`
    /// for a connection closing (it outlives the requests it served) and WebSocket events.
    pub request: Option<u64>,
    /// When it happened.
    pub at: Instant,
    /// What happened.
    pub kind: EventKind,
}

/// What happened; see [`Event`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EventKind {
    /// A request started (once per request, before its first attempt; a redirect is a new
    /// request).
    RequestStart {
        /// Its method.
        method: Method,
        /// Its URL.
        url: Uri,
    },
    /// The request waited for a connection from the pool: every connection allowed was busy.
    PoolWait {
        /// The host (`host:port`) it waited for.
        host: String,
        /// How long it waited.
        waited: Duration,
    },
    /// A connection was opened (TCP, TLS and the HTTP handshake done) for the request.
    ConnectionOpened {
        /// The host (`host:port`) it is for.
        host: String,
        /// The address it is connected to.
        remote: SocketAddr,
        /// The HTTP version it speaks.
        version: Version,
        /// The TLS version, for a TLS connection.
        tls: Option<crate::tls::Version>,
    },
    /// A connection closed.
    ConnectionClosed {
        /// The host (`host:port`) it was for.
        host: String,
        /// The address it was connected to.
        remote: SocketAddr,
    },
    /// An attempt's request head went to its connection (what the server is sent: `curl -v`'s
    /// `>` lines).
    RequestHead {
        /// The method.
        method: Method,
        /// The request line's target: the path and query (the whole URL through an HTTP proxy,
        /// and on HTTP/2, where it goes in pseudo-headers).
        target: Uri,
        /// The HTTP version of the connection.
        version: Version,
        /// The headers, `Host` and the client's defaults included, and the `Content-Length`
        /// the connection adds for a body of known length.
        headers: HeaderMap,
    },
    /// An attempt received its response head.
    ResponseHead {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The status.
        status: StatusCode,
        /// The HTTP version of the response.
        version: Version,
        /// The response's headers.
        headers: HeaderMap,
    },
    /// An attempt failed.
    AttemptFailed {
        /// The attempt's number, from 1.
        attempt: u32,
        /// The error's kind, as [`Error::kind_name`](crate::Error::kind_name) names it.
        error: &'static str,
        /// The timeout phase, when a timeout ended it.
        phase: Option<TimeoutPhase>,
        /// The error's message and its causes, joined by ": ".
        message: String,
    },
    /// Another attempt will follow after a wait.
    RetryScheduled {
        /// The number of the attempt that failed.
        attempt: u32,
        /// Why it is retried (shown as e.g. "status 503" or "connect error").
        reason: crate::retry::Reason,
        /// The wait before the next attempt.
        delay: Duration,
    },
    /// A retry was allowed by the policy but the host's retry budget was spent.
    RetryBudgetExhausted {
        /// The number of the attempt whose retry was refused.
        attempt: u32,
    },
    /// A host's circuit breaker changed state (see [`breaker`](crate::breaker)).
    CircuitChanged {
        /// The host (`host:port`).
        host: String,
        /// Its new state.
        state: crate::breaker::CircuitState,
        /// When it opened from closed: the attempts counted in the window, and how many of
        /// them failed (zero otherwise).
        attempts: u64,
        /// See `attempts`.
        failures: u64,
    },
    /// An attempt was refused because its host's circuit is open: no connection was tried.
    CircuitRejected {
        /// The host (`host:port`).
        host: String,
        /// When the circuit will be probed (`None` while a probe is in flight).
        probe_in: Option<Duration>,
    },
    /// A hedge went out: the attempt had no response head after `after`.
    HedgeSent {
        /// The attempt it hedges, from 1.
        attempt: u32,
        /// Which hedge of that attempt, from 1.
        hedge: u32,
        /// How long the attempt had waited.
        after: Duration,
    },
    /// An attempt waited for a token of its host's rate limit.
    RateLimited {
        /// The host (`host:port`).
        host: String,
        /// How long it waited.
        waited: Duration,
    },
    /// An adaptive batch's concurrency limit moved (see [`Adaptive`](crate::Adaptive)).
    ConcurrencyLimit {
        /// The host (`host:port`) whose own limit it is; `None` for the batch's.
        host: Option<String>,
        /// The limit now.
        limit: usize,
    },
    /// The request ended: with its final response head, or an error.
    RequestEnd {
        /// Its method.
        method: Method,
        /// Its URL.
        url: Uri,
        /// Attempts made.
        attempts: u32,
        /// From the start to the final response head (or the error).
        elapsed: Duration,
        /// The final status, when there is a response.
        status: Option<StatusCode>,
        /// The error's kind, when it failed.
        error: Option<&'static str>,
    },
    /// A WebSocket's state changed (the same events as
    /// [`WebSocket::events`](crate::ws::WebSocket::events)).
    WebSocket {
        /// Its URL.
        url: Arc<str>,
        /// What happened.
        event: crate::ws::WsEvent,
    },
}

pub(crate) type Hook = Arc<dyn Fn(&Event) + Send + Sync>;

/// The client's hooks and counters; present only when something listens.
pub(crate) struct Observer {
    hooks: Vec<Hook>,
    next_request: AtomicU64,
}

impl Observer {
    /// An observer for `hooks`, or none when there is nothing to observe with (no hook, no
    /// metrics, no tracing compiled in).
    pub(crate) fn new(hooks: Vec<Hook>) -> Option<Arc<Observer>> {
        let always = cfg!(any(feature = "metrics", feature = "tracing"));
        (always || !hooks.is_empty()).then(|| {
            Arc::new(Observer {
                hooks,
                next_request: AtomicU64::new(1),
            })
        })
    }

    /// Whether a request should be observed now: there are hooks, metrics are compiled in,
    /// or a `tracing` subscriber has been installed (without one, spans and events would cost
    /// time for no one).
    pub(crate) fn active(&self) -> bool {
        #[cfg(feature = "tracing")]
        if tracing::dispatcher::has_been_set() {
            return true;
        }
        cfg!(feature = "metrics") || !self.hooks.is_empty()
    }

    /// A new request's number (from 1).
    pub(crate) fn next_request(&self) -> NonZeroU64 {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN)
    }

    /// Hands `kind` to every hook (and to metrics).
    pub(crate) fn emit(&self, request: RequestId, kind: EventKind) {
        let event = Event {
            request: request.map(NonZeroU64::get),
            at: Instant::now(),
            kind,
        };
        #[cfg(feature = "metrics")]
        metrics::record(&event);
        #[cfg(feature = "tracing")]
        trace::log(&event);
        for hook in &self.hooks {
            hook(&event);
        }
    }
}

/// A hook for [`ClientBuilder::on_event`](crate::ClientBuilder::on_event) that puts events in
/// a bounded channel of `capacity` (at least 1), and the channel's receiving end. A full
/// channel never blocks a request: the event is dropped and counted
/// ([`EventReceiver::dropped`]).
///
/// ```no_run
/// # async fn demo() -> tenax::Result<()> {
/// let (hook, mut events) = tenax::events::channel(1024);
/// let client = tenax::Client::builder().on_event(hook).build()?;
/// tokio::spawn(async move {
///     while let Some(e) = events.recv().await {
///         println!("{:?}", e.kind);
///     }
/// });
/// # let _ = client; Ok(()) }
/// ```
pub fn channel(capacity: usize) -> (impl Fn(&Event) + Send + Sync + 'static, EventReceiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    let counter = dropped.clone();
    let hook = move |e: &Event| {
        if tx.try_send(e.clone()).is_err() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    };
    (hook, EventReceiver { rx, dropped })
}

/// The receiving end of [`channel`].
#[derive(Debug)]
pub struct EventReceiver {
    rx: mpsc::Receiver<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventReceiver {
    /// The next event; `None` once every client holding the hook is gone and the channel is
    /// empty.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Events dropped so far because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_channel_drops_and_counts() {
        let (hook, mut rx) = channel(2);
        let obs = Observer::new(vec![Arc::new(hook)]).unwrap();
        for i in 1..6 {
            obs.emit(
                NonZeroU64::new(i),
                EventKind::RetryBudgetExhausted { attempt: 1 },
            );
        }
        assert_eq!(rx.dropped(), 3);
        assert_eq!(rx.try_recv().unwrap().request, Some(1));
        assert_eq!(rx.try_recv().unwrap().request, Some(2));
        assert!(rx.try_recv().is_none());
    }
}

//! The WebSocket's task: connect, run the session, judge the disconnection, back off,
//! reconnect — until closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use http::{Method, Uri};
use tokio::sync::{Mutex as AsyncMutex, Notify, broadcast, oneshot};
use tokio::time::Instant;

use super::config::Config;
use super::event::{Closed, Decision, Disconnect, DisconnectReason, WsEvent, default_decision};
use super::frame::{Codec, Limits};
use super::handshake::{Asks, handshake};
use super::inbox::Inbox;
use super::outbox::{Item, Outbox};
use super::session::{End, Session, Ws};
use super::{ClientParts, ConnectInfo, Shared, WebSocket};
use crate::connect;
use crate::error::{Error, Kind};
use crate::retry::full_jitter;
use crate::{Result, TimeoutPhase};

/// Bytes queued in the codec before it flushes by itself, within one batch. It bounds the
/// codec's copies of messages still held by the outbox (a slow peer costs at most this much
/// more per connection).
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Events kept for a slow reader (each WebSocket preallocates them: keep it small).
const EVENTS: usize = 16;

/// Spawns the task and waits for the first connection (or the end).
pub(crate) async fn start(parts: ClientParts, uri: Uri, cfg: Config) -> Result<WebSocket> {
    let (shared, rx) = shared(&parts, &uri, &cfg);
    let (first_tx, first_rx) = oneshot::channel();
    let task = tokio::spawn(drive(shared.clone(), parts, uri, cfg, first_tx));
    match first_rx.await {
        Ok(Ok(())) => Ok(WebSocket::new(shared, task, rx)),
        Ok(Err(e)) => {
            let _ = task.await;
            Err(e)
        }
        Err(_) => Err(Error::new(Kind::Closed).with_what("(the WebSocket task ended)")),
    }
}

/// The state the handle and the task share, and the handle's event receiver.
fn shared(
    parts: &ClientParts,
    uri: &Uri,
    cfg: &Config,
) -> (Arc<Shared>, broadcast::Receiver<WsEvent>) {
    let (events, rx) = broadcast::channel(EVENTS);
    let shared = Arc::new(Shared {
        outbox: Outbox::new(cfg.outbox_messages, cfg.outbox_bytes),
        inbox: Inbox::new(cfg.inbox),
        close_requested: AtomicBool::new(false),
        close_deadline: std::sync::Mutex::new(None),
        close_notify: Notify::new(),
        events,
        connected: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        received: AtomicU64::new(0),
        reconnects: AtomicU64::new(0),
        possibly_lost: AtomicU64::new(0),
        unsent: AsyncMutex::new(Vec::new()),
        observer: parts
            .observer
            .clone()
            .map(|o| (o, Arc::from(uri.to_string()))),
    });
    shared.outbox.measure_as(uri, cfg.outbox_messages);
    (shared, rx)
}

async fn open(
    parts: &ClientParts,
    uri: &Uri,
    cfg: &Config,
) -> std::result::Result<(Ws, Option<String>), DisconnectReason> {
    let failed = |e: Error| DisconnectReason::Failed(Arc::new(e.with_url(&Method::GET, uri)));
    let origin = crate::origin::Origin::of(uri)
        .ok_or_else(|| failed(Error::invalid_url("the URL has no usable host and port")))?;
    let (tls, host, port) = (origin.is_https(), origin.host(), origin.port());
    let c = connect::connect(
        &parts.resolver,
        host,
        port,
        tls.then_some(&parts.tls),
        parts.timeouts.connect,
        parts.proxies.route(&origin, true, &parts.tls),
        parts.tcp,
    )
    .await
    .map_err(failed)?;
    // A peer that stops reading fails our writes after the client's write timeout.
    c.state.set_write_timeout(parts.timeouts.write);
    let mut headers = parts.headers.clone();
    for (k, v) in &cfg.headers {
        headers.insert(k, v.clone());
    }
    parts.cookies.add_to(uri, &mut headers);
    let asks = Asks {
        headers: &headers,
        protocols: &cfg.protocols,
        compression: cfg.compression.as_ref(),
        cookies: &parts.cookies,
    };
    let (io, agreed) = tokio::time::timeout(cfg.handshake_timeout, handshake(c.stream, uri, asks))
        .await
        .map_err(|_| {
            failed(Error::timeout(
                TimeoutPhase::Read,
                cfg.handshake_timeout,
                "waiting for the WebSocket handshake",
            ))
        })?
        .map_err(|r| match r {
            DisconnectReason::Failed(e) => failed(e.duplicate()),
            other => other,
        })?;
    let limits = Limits {
        max_message: cfg.max_message,
        frame_size: cfg.frame_size,
        // The codec flushes on its own once this much is queued (two 4 KiB messages per
        // system call). The session flushes each batch it takes from the outbox, whose
        // messages are in memory already.
        flush_threshold: FLUSH_THRESHOLD,
    };
    let ws = Codec::new(io, limits, agreed.compression);
    let protocol = agreed.protocol;
    Ok((ws, protocol))
}

/// The error the caller of `connect` gets when the WebSocket closed before a connection.
fn closed_error(closed: &Closed, uri: &Uri, attempts: u32, cfg: &Config) -> Error {
    let e = match closed.reason() {
        None => Error::new(Kind::Closed).with_what("(the WebSocket was closed)"),
        Some(DisconnectReason::Rejected { status, .. }) => {
            Error::new(Kind::Status(*status)).with_what("answering the WebSocket handshake")
        }
        Some(DisconnectReason::Failed(e)) => e.duplicate(),
        Some(DisconnectReason::HeartbeatTimeout) => Error::timeout(
            TimeoutPhase::Heartbeat,
            cfg.pong_timeout,
            "waiting for a pong",
        ),
        Some(DisconnectReason::ReadDeadline) => Error::timeout(
            TimeoutPhase::Read,
            cfg.read_deadline.unwrap_or_default(),
            "waiting for a WebSocket message",
        ),
        Some(r) => Error::new(Kind::WebSocket).with_source(r.to_string()),
    };
    let e = e.with_url(&Method::GET, uri).with_attempts(attempts);
    match closed {
        Closed::AttemptsExhausted(_) | Closed::DeadlineExceeded(_) => e.retries_exhausted(),
        _ => e,
    }
}

// A plain function returning an `async move` block, not an `async fn`: an async fn's
// arguments are kept twice in its state (rust-lang/rust#62958), and this state is what
// every idle connection costs (`the_connection_task_stays_small`).
#[allow(clippy::manual_async_fn)]
fn drive(
    shared: Arc<Shared>,
    parts: ClientParts,
    uri: Uri,
    cfg: Config,
    first: oneshot::Sender<Result<()>>,
) -> impl std::future::Future<Output = ()> {
    async move {
        let mut first = Some(first);
        // Failed attempts in the current series.
        let mut failures: u32 = 0;
        let mut series_start: Option<Instant> = None;
        let mut ever_connected = false;
        let mut total_attempts: u32 = 0;
        let mut rng = fastrand::Rng::new();

        let closed = 'run: loop {
            if shared.close_requested.load(Ordering::Acquire) {
                break Closed::ByUser;
            }
            let attempt = failures + 1;
            total_attempts += 1;
            shared.emit(WsEvent::Connecting { attempt });
            // Written so that no value holding the codec outlives its move into the session:
            // a partly moved `Result` would keep a second copy of it in the task's state for
            // as long as the connection lives (memory per idle connection).
            let (reason, connected_for, lost) = 'attempt: {
                let (ws, protocol) = match tokio::select! {
                    // Boxed: the connect and handshake state lives only while connecting, not
                    // for the whole life of the task.
                    r = Box::pin(open(&parts, &uri, &cfg)) => r,
                    _ = shared.close_notify.notified() => break 'run Closed::ByUser,
                } {
                    Err(reason) => break 'attempt (reason, Duration::ZERO, 0),
                    Ok(opened) => opened,
                };
                let compressed = ws.compressed();
                let info = ConnectInfo {
                    attempt,
                    reconnect: ever_connected,
                    protocol: protocol.clone(),
                    compressed,
                };
                let hello = match on_connect(&cfg, info).await {
                    Ok(hello) => hello,
                    Err(reason) => break 'attempt (reason, Duration::ZERO, 0),
                };
                if ever_connected {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                ever_connected = true;
                shared.connected.store(true, Ordering::Release);
                shared.emit(WsEvent::Connected {
                    attempt,
                    protocol,
                    compressed,
                });
                if let Some(f) = first.take() {
                    let _ = f.send(Ok(()));
                }
                let t0 = Instant::now();
                let mut session = Session::new(ws, &shared, &cfg, hello);
                let end = std::future::poll_fn(|cx| session.poll(cx)).await;
                let lost = wind_down(session, &shared);
                match end {
                    End::User => break 'run Closed::ByUser,
                    End::Lost(r) => (r, t0.elapsed(), lost),
                }
            };
            if connected_for >= cfg.healthy_after {
                failures = 0;
                series_start = None;
            }
            shared.possibly_lost.fetch_add(lost, Ordering::Relaxed);
            shared.emit(WsEvent::Disconnected(Disconnect {
                reason: reason.clone(),
                possibly_lost: lost,
                connected_for,
            }));
            if shared.close_requested.load(Ordering::Acquire) {
                break Closed::ByUser;
            }
            let delay = match next_wait(&cfg, reason, &mut failures, &mut series_start, &mut rng) {
                Ok(delay) => delay,
                Err(closed) => break closed,
            };
            shared.emit(WsEvent::Reconnecting {
                attempt: failures + 1,
                delay,
            });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shared.close_notify.notified() => break Closed::ByUser,
            }
        };

        shared.connected.store(false, Ordering::Release);
        shared.outbox.close();
        *shared.unsent.lock().await = shared.outbox.drain();
        shared.inbox.close();
        if let Some(f) = first.take() {
            let _ = f.send(Err(closed_error(&closed, &uri, total_attempts, &cfg)));
        }
        shared.emit(WsEvent::Closed(closed));
    }
}

/// The messages an on-connect hook sends first (none without a hook), within the handshake
/// timeout; a failing or late hook ends the connection like any failure.
async fn on_connect(
    cfg: &Config,
    info: ConnectInfo,
) -> std::result::Result<Vec<Item>, DisconnectReason> {
    let Some(hook) = &cfg.on_connect else {
        return Ok(Vec::new());
    };
    let failed = |e: Error| DisconnectReason::Failed(Arc::new(e));
    let hello = match tokio::time::timeout(cfg.handshake_timeout, hook(info)).await {
        Ok(Ok(hello)) => hello,
        Ok(Err(e)) => return Err(failed(e)),
        Err(_) => {
            return Err(failed(Error::timeout(
                TimeoutPhase::Read,
                cfg.handshake_timeout,
                "waiting for the on-connect hook",
            )));
        }
    };
    Ok(hello
        .into_iter()
        .map(|m| Item {
            msg: m.into(),
            bytes: 0,
            counted: false,
            hello: true,
            confirm: None,
            seq: 0,
        })
        .collect())
}

/// A session that ended: not connected any more, and whatever it had taken but not written
/// goes back to the front of the outbox, in order. Returns how many messages may have been
/// lost (written but not confirmed).
fn wind_down(mut session: Session<'_>, shared: &Shared) -> u64 {
    shared.connected.store(false, Ordering::Release);
    let lost = session.possibly_lost();
    let unconfirmed = std::mem::take(&mut session.unconfirmed);
    let unflushed = std::mem::take(&mut session.unflushed);
    let pending = std::mem::take(&mut session.pending);
    drop(session);
    shared
        .outbox
        .requeue_front(unconfirmed.into_iter().chain(unflushed).chain(pending));
    lost
}

/// After a disconnect: the wait before the next attempt (full jitter, at least the server's
/// `Retry-After`), or why there is none — a fatal reason, reconnecting off, attempts or the
/// reconnect deadline spent.
fn next_wait(
    cfg: &Config,
    reason: DisconnectReason,
    failures: &mut u32,
    series_start: &mut Option<Instant>,
    rng: &mut fastrand::Rng,
) -> std::result::Result<Duration, Closed> {
    let decision = match &cfg.classify {
        Some(f) => f(&reason),
        None => default_decision(&reason),
    };
    let floor = match decision {
        Decision::Fatal => return Err(Closed::Fatal(reason)),
        Decision::RetryAfter(d) => d,
        _ => Duration::ZERO,
    };
    if !cfg.reconnect {
        return Err(Closed::NoReconnect(reason));
    }
    *failures += 1;
    if cfg.max_attempts.is_some_and(|max| *failures >= max) {
        return Err(Closed::AttemptsExhausted(reason));
    }
    let start = *series_start.get_or_insert_with(Instant::now);
    let delay = full_jitter(cfg.backoff_base, cfg.backoff_max, *failures - 1, rng).max(floor);
    if let Some(limit) = cfg.reconnect_deadline
        && passes_deadline(start.elapsed(), delay, limit)
    {
        return Err(Closed::DeadlineExceeded(reason));
    }
    Ok(delay)
}

/// Whether waiting `delay` after `elapsed` passes `limit`. Saturating: a server's
/// `Retry-After` can be as large as `u64::MAX` seconds.
fn passes_deadline(elapsed: Duration, delay: Duration, limit: Duration) -> bool {
    elapsed.saturating_add(delay) > limit
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every idle connection holds one of these tasks (an `async fn`, or a partly moved
    /// `Result`, would keep its arguments or the codec twice: BENCHMARKS.md, idle WebSockets). A regression would show here before it shows in the idle-memory bench.
    #[test]
    fn the_connection_task_stays_small() {
        let client = crate::Client::new();
        let parts = client.ws_parts();
        let uri: Uri = "ws://127.0.0.1/".parse().unwrap();
        let cfg = Config::default();
        let (shared, _rx) = shared(&parts, &uri, &cfg);
        let (first, _) = oneshot::channel();
        let task = drive(shared, parts, uri, cfg, first);
        let size = std::mem::size_of_val(&task);
        assert!(size <= 2048, "the connection task is {size} bytes");
    }

    #[test]
    fn a_huge_retry_after_late_in_a_series_does_not_overflow() {
        let huge = Duration::from_secs(u64::MAX);
        assert!(passes_deadline(
            Duration::from_millis(1500),
            huge,
            Duration::from_secs(5)
        ));
        assert!(!passes_deadline(
            Duration::from_secs(1),
            Duration::from_secs(1),
            Duration::from_secs(5)
        ));
    }
}

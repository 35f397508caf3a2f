//! A pooled connection and the tracker of connection tasks.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use hyper::client::conn::{TrySendError, http1, http2};
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::Slot;
use crate::body::Body;
use crate::connect::{IoState, PeerSettings};

/// The request sender of a connection.
pub(crate) enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(tx) => tx.is_closed(),
            Sender::H2(tx) => tx.is_closed(),
        }
    }

    /// Waits until the connection can take a request; fails if it has closed.
    pub(crate) async fn ready(&mut self) -> Result<(), hyper::Error> {
        match self {
            Sender::H1(tx) => tx.ready().await,
            Sender::H2(tx) => tx.ready().await,
        }
    }

    /// Sends a request; on failure, gives the request back if it was never written.
    pub(crate) async fn send(
        &mut self,
        req: http::Request<Body>,
    ) -> Result<http::Response<hyper::body::Incoming>, TrySendError<http::Request<Body>>> {
        match self {
            Sender::H1(tx) => tx.try_send_request(req).await,
            Sender::H2(tx) => tx.try_send_request(req).await,
        }
    }
}

/// What every request on one connection shares.
pub(crate) struct ConnInfo {
    pub(crate) io: Arc<IoState>,
    pub(crate) remote: SocketAddr,
    /// The `Host` header of every request on this connection, made once.
    pub(crate) host_header: HeaderValue,
    /// The TLS version agreed, for https.
    pub(crate) tls_version: Option<crate::tls::Version>,
    /// Requests go to an HTTP proxy, with the whole URL in the request line.
    pub(crate) absolute_form: bool,
    /// The proxy's `Proxy-Authorization`, when `absolute_form` and it has credentials.
    pub(crate) proxy_auth: Option<http::HeaderValue>,
}

/// A shared HTTP/2 connection: requests take leases on it, one per stream.
pub(crate) struct H2Conn {
    pub(crate) tx: http2::SendRequest<Body>,
    pub(crate) info: ConnInfo,
    pub(crate) settings: Arc<PeerSettings>,
    /// The connection's place in the pool's counts, released when the last lease ends.
    pub(crate) slot: Slot,
}

/// The timer of the read timeout of an HTTP/1.1 connection's requests, one at a time: made
/// once and reset for each request rather than made and dropped per request. A reset to a
/// later time is one atomic step in tokio's timer wheel (the wheel moves the entry only when
/// the old time comes); making and dropping a timer took the wheel's lock twice per request.
/// Between requests it keeps the last request's waker until its time: at most one spurious
/// wake-up, a read timeout after that request.
#[derive(Default)]
pub(crate) struct ConnTimer(Option<std::pin::Pin<Box<tokio::time::Sleep>>>);

impl ConnTimer {
    /// The timer, set to `at`.
    pub(crate) fn at(&mut self, at: std::time::Instant) -> std::pin::Pin<&mut tokio::time::Sleep> {
        let sleep = match &mut self.0 {
            Some(sleep) => {
                sleep.as_mut().reset(at.into());
                sleep
            }
            none => none.insert(Box::pin(tokio::time::sleep_until(at.into()))),
        };
        sleep.as_mut()
    }
}

/// An HTTP/1.1 connection's own parts.
pub(crate) struct Exclusive {
    pub(crate) slot: Slot,
    pub(crate) info: ConnInfo,
    pub(crate) timer: ConnTimer,
}

/// How a request holds its connection.
pub(crate) enum Hold {
    /// An HTTP/1.1 connection, all to itself. (Boxed once per connection: the holder moves
    /// with every request, from the pool to the response body and back.)
    Exclusive(Box<Exclusive>),
    /// A stream of a shared HTTP/2 connection.
    Lease(Arc<H2Conn>),
}

/// What a request holds while it uses a connection. Dropping it closes an HTTP/1.1 connection
/// (its state is unknown) or ends the lease of an HTTP/2 stream.
pub(crate) struct Conn {
    pub(crate) tx: Sender,
    pub(crate) hold: Hold,
}

impl Conn {
    /// Whether the connection is still open (the server has not closed it).
    pub(crate) fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }

    pub(crate) fn info(&self) -> &ConnInfo {
        match &self.hold {
            Hold::Exclusive(x) => &x.info,
            Hold::Lease(h2) => &h2.info,
        }
    }

    /// The sender, what the connection shares, and its own timer (HTTP/1.1), at once.
    pub(crate) fn parts_mut(&mut self) -> (&mut Sender, &ConnInfo, Option<&mut ConnTimer>) {
        let (info, timer) = match &mut self.hold {
            Hold::Exclusive(x) => (&x.info, Some(&mut x.timer)),
            Hold::Lease(h2) => (&h2.info, None),
        };
        (&mut self.tx, info, timer)
    }

    pub(crate) fn is_h2(&self) -> bool {
        matches!(self.hold, Hold::Lease(_))
    }

    /// What the server announced on this HTTP/2 connection; `None` for HTTP/1.1.
    pub(crate) fn h2_settings(&self) -> Option<Arc<PeerSettings>> {
        match &self.hold {
            Hold::Lease(h2) => Some(h2.settings.clone()),
            Hold::Exclusive(_) => None,
        }
    }

    pub(crate) fn slot(&self) -> &Slot {
        match &self.hold {
            Hold::Exclusive(x) => &x.slot,
            Hold::Lease(h2) => &h2.slot,
        }
    }

    /// The pool this connection belongs to, while it exists.
    pub(crate) fn slot_pool(&self) -> Option<Arc<super::Pool>> {
        self.slot().pool()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Hold::Lease(h2) = &self.hold
            && let Some(pool) = h2.slot.pool()
        {
            pool.end_lease(h2);
        }
    }
}

/// Counts the connection tasks that are alive, and can abort them all (for `close`).
#[derive(Default)]
pub(crate) struct Tracker {
    tasks: Mutex<Tasks>,
    emptied: Notify,
}

#[derive(Default)]
struct Tasks {
    live: HashMap<u64, AbortHandle>,
    /// Tasks that ended before `spawn` could register them.
    ended_early: HashSet<u64>,
}

impl Tracker {
    fn tasks(&self) -> std::sync::MutexGuard<'_, Tasks> {
        crate::sync::lock(&self.tasks)
    }
}

struct LiveGuard {
    tracker: Arc<Tracker>,
    id: u64,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut tasks = self.tracker.tasks();
        if tasks.live.remove(&self.id).is_none() {
            tasks.ended_early.insert(self.id);
        }
        if tasks.live.is_empty() {
            self.tracker.emptied.notify_waiters();
        }
    }
}

impl Tracker {
    /// Spawns a connection task and tracks it until it ends.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        id: u64,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        let guard = LiveGuard {
            tracker: self.clone(),
            id,
        };
        let handle = tokio::spawn(async move {
            let _guard = guard;
            task.await;
        });
        let mut tasks = self.tasks();
        if !tasks.ended_early.remove(&id) {
            tasks.live.insert(id, handle.abort_handle());
        }
    }

    pub(crate) fn live(&self) -> usize {
        self.tasks().live.len()
    }

    /// Waits until no connection task is alive, for at most `limit`. Returns whether none is.
    pub(crate) async fn wait_empty(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.emptied.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.live() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.live() == 0;
            }
        }
    }

    pub(crate) fn abort_all(&self) {
        for h in self.tasks().live.values() {
            h.abort();
        }
    }
}

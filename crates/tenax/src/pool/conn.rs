//! A pooled connection, the origin it belongs to, and the tracker of connection tasks.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::client::conn::http1::SendRequest;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

use super::Slot;
use crate::body::Body;
use crate::connect::IoState;

/// Where a connection goes: scheme, host and port (the proxy joins this key later).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Origin {
    pub(crate) https: bool,
    pub(crate) host: Arc<str>,
    pub(crate) port: u16,
}

/// An open HTTP/1.1 connection: the request sender, what the socket reports, and its place in
/// the pool. Dropping it closes the connection.
pub(crate) struct Conn {
    pub(crate) tx: SendRequest<Body>,
    pub(crate) io: Arc<IoState>,
    pub(crate) slot: Slot,
    pub(crate) remote: SocketAddr,
}

impl Conn {
    /// Whether the connection task is still running (the server has not closed it).
    pub(crate) fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }

    /// The pool this connection belongs to, while it exists.
    pub(crate) fn slot_pool(&self) -> Option<Arc<super::Pool>> {
        self.slot.pool()
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
        self.tasks.lock().unwrap_or_else(|e| e.into_inner())
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

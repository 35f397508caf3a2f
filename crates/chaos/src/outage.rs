//! A host that goes down and comes back: for an outage the listener is closed (new connections
//! are refused) and every open connection is cut; afterwards the same port listens again.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::stats::lock;

/// The outage asked for, and whether the server is down now.
pub(crate) struct Outage {
    until: Mutex<Option<Instant>>,
    asked: Notify,
    down: watch::Sender<bool>,
}

impl Default for Outage {
    fn default() -> Self {
        Outage {
            until: Mutex::new(None),
            asked: Notify::new(),
            down: watch::Sender::new(false),
        }
    }
}

impl Outage {
    /// Asks for an outage of `d` from now; resolves once the listener is closed.
    pub(crate) async fn begin(&self, d: Duration) {
        let mut down = self.down.subscribe();
        *lock(&self.until) = Some(Instant::now() + d);
        self.asked.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(5), down.wait_for(|d| *d)).await;
    }

    /// Resolves when an outage is asked for, with its end.
    pub(crate) async fn asked(&self) -> Instant {
        loop {
            self.asked.notified().await;
            if let Some(until) = lock(&self.until).take() {
                return until;
            }
        }
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    pub(crate) fn is_down(&self) -> bool {
        *self.down.borrow()
    }
}

/// Listens on `addr` again, trying every few milliseconds (the port was ours a moment ago).
pub(crate) async fn rebind(addr: SocketAddr) -> TcpListener {
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

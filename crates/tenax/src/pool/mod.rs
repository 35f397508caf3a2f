//! The connection pool: connection limits (global and per host), a fair FIFO queue of waiting
//! requests bounded by the `pool` timeout, an idle set per host reaped by a timer, and close.
//!
//! Counting: every open connection (and every one being opened) holds a [`Slot`]. Dropping a
//! slot releases its place and grants it to the first waiter that may use it. Connections are
//! dropped (and so closed) outside the pool's lock: a slot's drop takes the lock itself.

mod conn;

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::config::PoolLimits;
use crate::error::{Error, Kind};
use crate::{TimeoutPhase, Timings};

use conn::PassHasher;
pub(crate) use conn::{Conn, Origin, Tracker};

/// What a checkout hands out.
pub(crate) enum Checkout {
    /// An idle connection to reuse (already checked to be open).
    Reuse(Conn),
    /// A place to open a new connection in.
    New(Slot),
}

enum Grant {
    Conn(Conn),
    Permit(Slot),
}

struct Waiter {
    origin: Origin,
    tx: oneshot::Sender<Grant>,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct Host {
    /// Open connections, idle and busy, plus those being opened.
    open: usize,
    /// Most recently used last: reuse pops the warmest connection.
    idle: Vec<Idle>,
}

#[derive(Default)]
struct State {
    total: usize,
    hosts: HashMap<Origin, Host, BuildHasherDefault<PassHasher>>,
    waiters: VecDeque<Waiter>,
    closed: bool,
    reaper_running: bool,
}

pub(crate) struct Pool {
    state: Mutex<State>,
    limits: PoolLimits,
    next_id: AtomicU64,
    pub(crate) tracker: Arc<Tracker>,
}

/// A place in the pool's counts, held by an open (or opening) connection.
pub(crate) struct Slot {
    pool: Option<Weak<Pool>>,
    origin: Origin,
}

impl Slot {
    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The pool this slot counts in, while it exists.
    fn pool(&self) -> Option<Arc<Pool>> {
        self.pool.as_ref().and_then(Weak::upgrade)
    }

    /// Forget the pool without releasing: the caller moved the counts itself.
    fn disarm(&mut self) {
        self.pool = None;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool() {
            pool.release(&self.origin);
        }
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Pool {
    pub(crate) fn new(limits: PoolLimits) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            limits,
            next_id: AtomicU64::new(1),
            tracker: Arc::new(Tracker::default()),
        })
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn slot(self: &Arc<Self>, origin: Origin) -> Slot {
        Slot {
            pool: Some(Arc::downgrade(self)),
            origin,
        }
    }

    /// Gets an idle connection or a place to open one, waiting in FIFO order behind earlier
    /// requests when the limits are reached, for at most `timeout`.
    pub(crate) async fn checkout(
        self: &Arc<Self>,
        origin: &Origin,
        timeout: Option<Duration>,
        start: Instant,
        timings: &mut Timings,
    ) -> Result<Checkout, Error> {
        let res = self.checkout_inner(origin, timeout, start).await;
        timings.pool_wait = start.elapsed();
        res
    }

    async fn checkout_inner(
        self: &Arc<Self>,
        origin: &Origin,
        timeout: Option<Duration>,
        start: Instant,
    ) -> Result<Checkout, Error> {
        loop {
            let mut doomed = Vec::new();
            let rx = {
                let mut st = lock(&self.state);
                if st.closed {
                    return Err(Error::new(Kind::Closed));
                }
                if let Some(conn) = self.take_idle(&mut st, origin, &mut doomed) {
                    drop(st);
                    drop(doomed);
                    return Ok(Checkout::Reuse(conn));
                }
                // Waiters that could use a free place get it first: the queue is fair. Those
                // left are blocked by their own host's limit, so a newcomer for another host
                // may take a free place.
                st.waiters.retain(|w| !w.tx.is_closed());
                self.grant_permits(&mut st, &mut doomed);
                if let Some(slot) = self.reserve(&mut st, origin, &mut doomed) {
                    drop(st);
                    drop(doomed);
                    return Ok(Checkout::New(slot));
                }
                let (tx, rx) = oneshot::channel();
                st.waiters.push_back(Waiter {
                    origin: origin.clone(),
                    tx,
                });
                rx
            };
            drop(doomed);
            match self.wait(rx, timeout, start).await? {
                Grant::Permit(slot) => return Ok(Checkout::New(slot)),
                Grant::Conn(conn) if conn.is_open() => return Ok(Checkout::Reuse(conn)),
                // Closed while it was being handed over: ask again.
                Grant::Conn(conn) => drop(conn),
            }
        }
    }

    async fn wait(
        &self,
        mut rx: oneshot::Receiver<Grant>,
        timeout: Option<Duration>,
        start: Instant,
    ) -> Result<Grant, Error> {
        let res = match timeout {
            None => Ok((&mut rx).await),
            Some(limit) => {
                let left = limit.saturating_sub(start.elapsed());
                tokio::time::timeout(left, &mut rx).await
            }
        };
        match res {
            Ok(Ok(grant)) => Ok(grant),
            Ok(Err(_)) => Err(Error::new(Kind::Closed)),
            Err(_) => {
                // A grant may have arrived just as time ran out: take it rather than waste it.
                rx.close();
                match rx.try_recv() {
                    Ok(grant) => Ok(grant),
                    Err(_) => Err(Error::timeout(
                        TimeoutPhase::Pool,
                        timeout.unwrap_or_default(),
                        "waiting for a connection from the pool",
                    )),
                }
            }
        }
    }

    /// Pops the most recent open idle connection for `origin`; dead or expired ones go to
    /// `doomed`.
    fn take_idle(&self, st: &mut State, origin: &Origin, doomed: &mut Vec<Conn>) -> Option<Conn> {
        let host = st.hosts.get_mut(origin)?;
        let now = Instant::now();
        while let Some(idle) = host.idle.pop() {
            let expired = self
                .limits
                .idle_timeout
                .is_some_and(|t| now.duration_since(idle.since) >= t);
            if idle.conn.is_open() && !expired {
                return Some(idle.conn);
            }
            doomed.push(idle.conn);
        }
        None
    }

    /// Takes a place for a new connection to `origin` if the limits allow, evicting an idle
    /// connection of another host when only the global limit stands in the way.
    fn reserve(
        self: &Arc<Self>,
        st: &mut State,
        origin: &Origin,
        doomed: &mut Vec<Conn>,
    ) -> Option<Slot> {
        let per_host = st.hosts.get(origin).map_or(0, |h| h.open);
        if per_host >= self.limits.max_connections_per_host {
            return None;
        }
        if st.total >= self.limits.max_connections && !self.evict_other(st, origin, doomed) {
            return None;
        }
        st.total += 1;
        st.hosts.entry(origin.clone()).or_default().open += 1;
        Some(self.slot(origin.clone()))
    }

    /// Closes the oldest idle connection of a host other than `origin`, moving its place out of
    /// the counts. Returns whether one was found.
    fn evict_other(&self, st: &mut State, origin: &Origin, doomed: &mut Vec<Conn>) -> bool {
        let victim = st
            .hosts
            .iter()
            .filter(|(o, h)| *o != origin && !h.idle.is_empty())
            .min_by_key(|(_, h)| h.idle[0].since)
            .map(|(o, _)| o.clone());
        let Some(victim) = victim else { return false };
        let host = st.hosts.get_mut(&victim).expect("found above");
        let mut idle = host.idle.remove(0);
        idle.conn.slot.disarm();
        host.open -= 1;
        st.total -= 1;
        doomed.push(idle.conn);
        true
    }

    /// A slot was dropped: its connection is gone. Hand the place to waiters.
    fn release(self: &Arc<Self>, origin: &Origin) {
        let mut doomed = Vec::new();
        {
            let mut st = lock(&self.state);
            st.total -= 1;
            if let Some(h) = st.hosts.get_mut(origin) {
                h.open -= 1;
                if h.open == 0 && h.idle.is_empty() {
                    st.hosts.remove(origin);
                }
            }
            self.grant_permits(&mut st, &mut doomed);
        }
        drop(doomed);
    }

    /// Gives places to the first waiters (in FIFO order) whose host is under its limit, while
    /// the global limit allows (evicting idle connections of other hosts if it must).
    fn grant_permits(self: &Arc<Self>, st: &mut State, doomed: &mut Vec<Conn>) {
        loop {
            let max_per_host = self.limits.max_connections_per_host;
            let Some(i) = st.waiters.iter().position(|w| {
                !w.tx.is_closed() && st.hosts.get(&w.origin).map_or(0, |h| h.open) < max_per_host
            }) else {
                return;
            };
            let origin = st.waiters[i].origin.clone();
            let Some(slot) = self.reserve(st, &origin, doomed) else {
                return;
            };
            let w = st.waiters.remove(i).expect("index from position");
            if let Err(Grant::Permit(mut slot2)) = w.tx.send(Grant::Permit(slot)) {
                // The waiter left in the meantime: undo and try the next one.
                slot2.disarm();
                st.total -= 1;
                if let Some(h) = st.hosts.get_mut(&origin) {
                    h.open -= 1;
                }
            }
        }
    }

    /// Returns a connection whose response was read to the end. It goes to the first waiter
    /// for its host, or to the idle set; closed connections are dropped.
    pub(crate) fn put(self: &Arc<Self>, mut conn: Conn) {
        if !conn.is_open() {
            return;
        }
        let mut doomed = Vec::new();
        let mut start_reaper = false;
        {
            let mut st = lock(&self.state);
            if st.closed {
                doomed.push(conn);
            } else {
                // First, a waiter for this very host.
                loop {
                    let origin = conn.slot.origin();
                    let Some(i) = st
                        .waiters
                        .iter()
                        .position(|w| !w.tx.is_closed() && w.origin == *origin)
                    else {
                        break;
                    };
                    let w = st.waiters.remove(i).expect("index from position");
                    match w.tx.send(Grant::Conn(conn)) {
                        Ok(()) => return,
                        Err(Grant::Conn(c)) => conn = c,
                        Err(Grant::Permit(_)) => unreachable!("sent a connection"),
                    }
                }
                let origin = conn.slot.origin().clone();
                let host = st.hosts.entry(origin).or_default();
                if host.idle.len() >= self.limits.max_idle_per_host {
                    doomed.push(conn);
                } else {
                    host.idle.push(Idle {
                        conn,
                        since: Instant::now(),
                    });
                    // Waiters for other hosts blocked by the global limit may take its place.
                    self.grant_permits(&mut st, &mut doomed);
                    if self.limits.idle_timeout.is_some() && !st.reaper_running {
                        st.reaper_running = true;
                        start_reaper = true;
                    }
                }
            }
        }
        drop(doomed);
        if start_reaper {
            self.start_reaper();
        }
    }

    fn start_reaper(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            lock(&self.state).reaper_running = false;
            return;
        };
        let weak = Arc::downgrade(self);
        rt.spawn(async move {
            loop {
                let Some(pool) = weak.upgrade() else { return };
                let next = pool.reap();
                drop(pool);
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => return,
                }
            }
        });
    }

    /// Closes expired idle connections; returns when the next one expires, or `None` (and
    /// marks the reaper stopped) when nothing is idle.
    fn reap(&self) -> Option<Instant> {
        let timeout = self.limits.idle_timeout?;
        let now = Instant::now();
        let mut doomed = Vec::new();
        let next = {
            let mut st = lock(&self.state);
            let mut next: Option<Instant> = None;
            for host in st.hosts.values_mut() {
                let mut i = 0;
                while i < host.idle.len() {
                    let due = host.idle[i].since + timeout;
                    if due <= now || !host.idle[i].conn.is_open() {
                        doomed.push(host.idle.remove(i).conn);
                    } else {
                        next = Some(next.map_or(due, |n| n.min(due)));
                        i += 1;
                    }
                }
            }
            if next.is_none() {
                st.reaper_running = false;
            }
            next
        };
        drop(doomed);
        next
    }

    /// Refuses new checkouts, fails waiters, and closes idle connections. Busy connections
    /// close when their responses end (see [`put`](Self::put)).
    pub(crate) fn close(&self) {
        let (doomed, waiters) = {
            let mut st = lock(&self.state);
            st.closed = true;
            let doomed: Vec<Conn> = st
                .hosts
                .values_mut()
                .flat_map(|h| h.idle.drain(..).map(|i| i.conn))
                .collect();
            (doomed, std::mem::take(&mut st.waiters))
        };
        drop(waiters);
        drop(doomed);
    }
}

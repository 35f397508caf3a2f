//! The connection pool: its [`Limits`] (set with
//! [`ClientBuilder::pool_limits`](crate::ClientBuilder::pool_limits)) and what
//! [`Client::stats`](crate::Client::stats) reports of it ([`Stats`], [`HostStats`]).
//!
//! Inside: connection limits (global and per host), a fair FIFO queue of waiting requests
//! bounded by the pool timeout, an idle set per host reaped by a timer, shared HTTP/2
//! connections with a stream limit each, and close.

// Counting: every open connection (and every one being opened) holds a `Slot`. Dropping a slot
// releases its place and grants it to the first waiter that may use it. Connections and leases
// are dropped outside the pool's lock: their drops take the lock themselves.

mod conn;
mod h2;
mod limits;
mod reaper;
mod stats;

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{Error, Kind};
use crate::sync::lock;
use crate::{TimeoutPhase, Timings};

pub(crate) use crate::origin::Origin;
use crate::origin::PassHasher;
pub(crate) use conn::{Conn, ConnInfo, ConnTimer, Exclusive, H2Conn, Hold, Sender, Tracker};
use h2::{lease_h2, waits_for_h2};
pub use limits::Limits;
pub use stats::{HostStats, Stats};
use stats::{gauge, gauge_all};

/// How long a connection that comes back while `max_idle_per_host` are idle is kept.
const OVER_CAP_GRACE: Duration = Duration::from_secs(1);

/// What a new connection to an origin will speak, as far as the request knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum H2 {
    /// HTTP/1.1.
    No,
    /// HTTP/2 if the server agrees (ALPN): until the first connection says, later requests
    /// wait for it rather than open their own.
    Likely,
    /// HTTP/2 by configuration.
    Certain,
}

/// What a request asks of the pool.
#[derive(Clone, Copy)]
pub(crate) struct Want {
    /// What a new connection will probably speak.
    pub(crate) h2: H2,
    /// Do not reuse: open a new connection.
    pub(crate) fresh: bool,
    /// The pool timeout.
    pub(crate) timeout: Option<Duration>,
    /// When the request started (the pool timeout counts from it).
    pub(crate) start: Instant,
}

/// What a checkout hands out.
pub(crate) enum Checkout {
    /// An idle HTTP/1.1 connection, or a stream of an HTTP/2 one.
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
    /// The server's `Keep-Alive: timeout`, less a margin, when it sent one (or the short
    /// grace of a connection kept over the idle cap).
    limit: Option<Duration>,
}

impl Idle {
    /// When it expires: its own limit, else the pool's idle timeout.
    fn due(&self, idle_timeout: Option<Duration>) -> Option<Instant> {
        self.limit.or(idle_timeout).map(|l| self.since + l)
    }
}

struct H2Entry {
    conn: Arc<H2Conn>,
    in_use: usize,
    idle_since: Option<Instant>,
}

#[derive(Default)]
struct Host {
    /// Open connections, idle and busy, plus those being opened.
    open: usize,
    /// Connections being opened.
    opening: usize,
    /// The last connection opened to this host spoke HTTP/2 (or HTTP/2 is required): wait for
    /// a connection being opened rather than open another.
    h2: bool,
    /// A connection to this host has been opened: `h2` is known, not guessed.
    known: bool,
    /// Most recently used last: reuse pops the warmest connection.
    idle: Vec<Idle>,
    h2_conns: Vec<H2Entry>,
}

impl Host {
    /// Open connections that no request is using: idle HTTP/1.1 ones, HTTP/2 ones without
    /// streams.
    fn idle_count(&self) -> usize {
        self.idle.len() + self.h2_conns.iter().filter(|e| e.in_use == 0).count()
    }
}

#[derive(Default)]
struct State {
    total: usize,
    hosts: HashMap<Origin, Host, BuildHasherDefault<PassHasher>>,
    waiters: VecDeque<Waiter>,
    closed: bool,
    reaper_running: bool,
    /// When the running reaper will next look (none: it is not sleeping on a time).
    reaper_next: Option<Instant>,
}

/// What to drop once the lock is released.
#[derive(Default)]
struct Doomed {
    conns: Vec<Conn>,
    h2: Vec<Arc<H2Conn>>,
}

pub(crate) struct Pool {
    state: Mutex<State>,
    limits: Limits,
    next_id: AtomicU64,
    pub(crate) tracker: Arc<Tracker>,
    /// Wakes the idle reaper when the pool closes, so that no task of the client outlives
    /// `close` (the reaper may otherwise sleep until the next idle timeout, 90 s by default).
    closing: Arc<tokio::sync::Notify>,
    /// Wakes the idle reaper when a connection falls idle with an earlier expiry than the one
    /// it sleeps for (one kept over the cap, or one with a short `Keep-Alive`).
    reschedule: Arc<tokio::sync::Notify>,
}

/// A place in the pool's counts, held by an open (or opening) connection.
pub(crate) struct Slot {
    pool: Option<Weak<Pool>>,
    origin: Origin,
    /// Still being opened: counted in the host's `opening`.
    opening: bool,
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
            pool.release(&self.origin, self.opening);
        }
    }
}

impl Pool {
    pub(crate) fn new(limits: Limits) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State::default()),
            limits,
            next_id: AtomicU64::new(1),
            tracker: Arc::new(Tracker::default()),
            closing: Arc::new(tokio::sync::Notify::new()),
            reschedule: Arc::new(tokio::sync::Notify::new()),
        })
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Gets a connection (an idle HTTP/1.1 one, or a stream of an HTTP/2 one) or a place to
    /// open one, waiting in FIFO order behind earlier requests when the limits are reached, for
    /// at most `timeout`. `h2`: what a new connection will probably speak. `fresh`: do not
    /// reuse, open a new connection. Also says whether the request had to queue.
    pub(crate) async fn checkout(
        self: &Arc<Self>,
        origin: &Origin,
        want: Want,
        timings: &mut Timings,
    ) -> Result<(Checkout, bool), Error> {
        let start = want.start;
        let res = self
            .checkout_inner(origin, want.h2, want.fresh, want.timeout, start)
            .await;
        timings.pool_wait = start.elapsed();
        res
    }

    async fn checkout_inner(
        self: &Arc<Self>,
        origin: &Origin,
        h2: H2,
        fresh: bool,
        timeout: Option<Duration>,
        start: Instant,
    ) -> Result<(Checkout, bool), Error> {
        let mut queued = false;
        loop {
            let mut doomed = Doomed::default();
            let rx = {
                let mut st = lock(&self.state);
                if st.closed {
                    return Err(Error::new(Kind::Closed));
                }
                if !fresh && let Some(host) = st.hosts.get_mut(origin) {
                    let reuse =
                        lease_h2(host, &mut doomed).or_else(|| self.take_idle(host, &mut doomed));
                    if let Some(conn) = reuse {
                        gauge(&st, origin);
                        drop(st);
                        drop(doomed);
                        return Ok((Checkout::Reuse(conn), queued));
                    }
                }
                // Waiters that could use a free place get it first: the queue is fair. Those
                // left are blocked by their own host, so a newcomer for another host may take
                // a free place.
                st.waiters.retain(|w| !w.tx.is_closed());
                self.grant_permits(&mut st, &mut doomed);
                if h2 != H2::No {
                    let host = st.hosts.entry(origin.clone()).or_default();
                    if h2 == H2::Certain || !host.known {
                        host.h2 = true;
                    }
                }
                let wait_for_h2 = !fresh && waits_for_h2(&st, origin);
                if !wait_for_h2 && let Some(slot) = self.reserve(&mut st, origin, &mut doomed) {
                    drop(st);
                    drop(doomed);
                    return Ok((Checkout::New(slot), queued));
                }
                let (tx, rx) = oneshot::channel();
                st.waiters.push_back(Waiter {
                    origin: origin.clone(),
                    tx,
                });
                rx
            };
            drop(doomed);
            queued = true;
            // Waiting is the rare path: its timer lives on the heap, not in every request.
            match Box::pin(self.wait(rx, timeout, start)).await? {
                Grant::Permit(slot) => return Ok((Checkout::New(slot), true)),
                Grant::Conn(conn) if conn.is_open() => return Ok((Checkout::Reuse(conn), true)),
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

    /// Pops the most recent open idle connection of `host`; dead or expired ones go to
    /// `doomed`.
    fn take_idle(&self, host: &mut Host, doomed: &mut Doomed) -> Option<Conn> {
        if host.idle.is_empty() {
            return None;
        }
        let now = Instant::now();
        while let Some(idle) = host.idle.pop() {
            let expired = idle.due(self.limits.idle_timeout).is_some_and(|d| d <= now);
            if idle.conn.is_open() && !expired {
                return Some(idle.conn);
            }
            doomed.conns.push(idle.conn);
        }
        None
    }

    /// Takes a place for a new connection to `origin` if the limits allow, evicting an idle
    /// connection of another host when only the global limit stands in the way.
    fn reserve(
        self: &Arc<Self>,
        st: &mut State,
        origin: &Origin,
        doomed: &mut Doomed,
    ) -> Option<Slot> {
        let per_host = st.hosts.get(origin).map_or(0, |h| h.open);
        if per_host >= self.limits.max_connections_per_host {
            return None;
        }
        if st.total >= self.limits.max_connections && !self.evict_other(st, origin, doomed) {
            return None;
        }
        st.total += 1;
        let host = st.hosts.entry(origin.clone()).or_default();
        host.open += 1;
        host.opening += 1;
        Some(Slot {
            pool: Some(Arc::downgrade(self)),
            origin: origin.clone(),
            opening: true,
        })
    }

    /// Closes the oldest idle HTTP/1.1 connection of a host other than `origin`, moving its
    /// place out of the counts. Returns whether one was found.
    fn evict_other(&self, st: &mut State, origin: &Origin, doomed: &mut Doomed) -> bool {
        let victim = st
            .hosts
            .iter()
            .filter(|(o, h)| *o != origin && !h.idle.is_empty())
            .min_by_key(|(_, h)| h.idle[0].since)
            .map(|(o, _)| o.clone());
        let Some(victim) = victim else { return false };
        let host = st.hosts.get_mut(&victim).expect("found above");
        let mut idle = host.idle.remove(0);
        if let Hold::Exclusive(x) = &mut idle.conn.hold {
            x.slot.disarm();
        }
        host.open -= 1;
        st.total -= 1;
        doomed.conns.push(idle.conn);
        gauge(st, &victim);
        true
    }

    /// A slot was dropped: its connection is gone (or never came). Hand the place to waiters.
    fn release(self: &Arc<Self>, origin: &Origin, opening: bool) {
        let mut doomed = Doomed::default();
        {
            let mut st = lock(&self.state);
            st.total -= 1;
            if let Some(h) = st.hosts.get_mut(origin) {
                h.open -= 1;
                if opening {
                    h.opening -= 1;
                }
                if h.open == 0 && h.idle.is_empty() && h.h2_conns.is_empty() && !h.h2 {
                    st.hosts.remove(origin);
                }
            }
            gauge(&st, origin);
            self.grant_permits(&mut st, &mut doomed);
        }
        drop(doomed);
    }

    /// Gives places to the first waiters (in FIFO order) whose host is under its limit and not
    /// about to get an HTTP/2 connection, while the global limit allows (evicting idle
    /// connections of other hosts if it must).
    fn grant_permits(self: &Arc<Self>, st: &mut State, doomed: &mut Doomed) {
        loop {
            let max_per_host = self.limits.max_connections_per_host;
            let Some(i) = st.waiters.iter().position(|w| {
                !w.tx.is_closed()
                    && st.hosts.get(&w.origin).map_or(0, |h| h.open) < max_per_host
                    && !waits_for_h2(st, &w.origin)
            }) else {
                return;
            };
            let origin = st.waiters[i].origin.clone();
            let Some(slot) = self.reserve(st, &origin, doomed) else {
                return;
            };
            let w = st.waiters.remove(i).expect("index from position");
            if let Err(Grant::Permit(mut slot)) = w.tx.send(Grant::Permit(slot)) {
                // The waiter left in the meantime: undo and try the next one.
                slot.disarm();
                st.total -= 1;
                if let Some(h) = st.hosts.get_mut(&origin) {
                    h.open -= 1;
                    h.opening -= 1;
                }
            }
        }
    }

    /// A new connection in `slot` turned out HTTP/1.1: later requests to its host may open
    /// their own rather than wait for it.
    pub(crate) fn opened_h1(self: &Arc<Self>, slot: &mut Slot) {
        let mut doomed = Doomed::default();
        {
            let mut st = lock(&self.state);
            if let Some(h) = st.hosts.get_mut(&slot.origin) {
                h.opening -= 1;
                h.h2 = false;
                h.known = true;
            }
            slot.opening = false;
            gauge(&st, &slot.origin);
            self.grant_permits(&mut st, &mut doomed);
        }
        drop(doomed);
    }

    /// Returns a connection whose response was read to the end. An HTTP/1.1 connection goes to
    /// the first waiter for its host, or to the idle set (to be retired after `limit` idle, if
    /// the server announced one); a lease simply ends. Closed connections are dropped.
    pub(crate) fn put(self: &Arc<Self>, mut conn: Conn, limit: Option<Duration>) {
        if !conn.is_open() || conn.is_h2() {
            return;
        }
        let mut doomed = Doomed::default();
        let mut start_reaper = false;
        {
            let mut st = lock(&self.state);
            if st.closed {
                doomed.conns.push(conn);
            } else {
                // First, a waiter for this very host.
                loop {
                    let origin = conn.slot().origin();
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
                let origin = conn.slot().origin().clone();
                let host = st.hosts.entry(origin.clone()).or_default();
                if self.limits.max_idle_per_host == 0 || limit == Some(Duration::ZERO) {
                    doomed.conns.push(conn);
                } else {
                    // Over the cap, a connection is kept only briefly: in a burst, responses
                    // that land in the same instant would otherwise close connections that
                    // the next requests, a moment later, open again.
                    let limit = if host.idle.len() >= self.limits.max_idle_per_host {
                        Some(limit.map_or(OVER_CAP_GRACE, |l| l.min(OVER_CAP_GRACE)))
                    } else {
                        limit
                    };
                    let idle = Idle {
                        conn,
                        since: Instant::now(),
                        limit,
                    };
                    let due = idle.due(self.limits.idle_timeout);
                    host.idle.push(idle);
                    // Waiters for other hosts blocked by the global limit may take its place.
                    self.grant_permits(&mut st, &mut doomed);
                    start_reaper = self.want_reaper(&mut st);
                    if !start_reaper
                        && let Some(due) = due
                        && st.reaper_next.is_none_or(|next| due < next)
                    {
                        st.reaper_next = Some(due);
                        self.reschedule.notify_one();
                    }
                }
                gauge(&st, &origin);
            }
        }
        drop(doomed);
        if start_reaper {
            self.start_reaper();
        }
    }

    /// Refuses new checkouts, fails waiters, and closes idle connections. Busy connections
    /// close when their responses end (see [`put`](Self::put)).
    pub(crate) fn close(&self) {
        let mut doomed = Doomed::default();
        let waiters = {
            let mut st = lock(&self.state);
            st.closed = true;
            for h in st.hosts.values_mut() {
                doomed.conns.extend(h.idle.drain(..).map(|i| i.conn));
                doomed.h2.extend(h.h2_conns.drain(..).map(|e| e.conn));
            }
            gauge_all(&st);
            std::mem::take(&mut st.waiters)
        };
        self.closing.notify_waiters();
        drop(waiters);
        drop(doomed);
    }
}

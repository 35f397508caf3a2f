//! HTTP/2 in the pool: a connection is shared by leases (one per stream in use) up to the
//! server's stream limit; waiters for its host get the next leases.

use std::sync::Arc;
use std::time::Instant;

use super::{
    Conn, Doomed, Grant, H2Conn, H2Entry, Hold, Host, Origin, Pool, Sender, State, gauge, lock,
};

impl Pool {
    /// Hands streams of `origin`'s HTTP/2 connections to its waiters, up to each connection's
    /// stream limit.
    pub(super) fn grant_leases(&self, st: &mut State, origin: &Origin, doomed: &mut Doomed) {
        loop {
            let Some(i) = st
                .waiters
                .iter()
                .position(|w| !w.tx.is_closed() && w.origin == *origin)
            else {
                return;
            };
            let Some(conn) = st.hosts.get_mut(origin).and_then(|h| lease_h2(h, doomed)) else {
                return;
            };
            let w = st.waiters.remove(i).expect("index from position");
            if let Err(Grant::Conn(conn)) = w.tx.send(Grant::Conn(conn)) {
                // Dropping the lease takes the lock: do it later.
                doomed.conns.push(conn);
            }
            gauge(st, origin);
        }
    }

    /// A new connection turned out HTTP/2: it joins the pool, the caller gets the first lease,
    /// and waiters for its host get the next ones. A server that allows no stream yet
    /// (SETTINGS_MAX_CONCURRENT_STREAMS = 0) gives no lease: the caller waits for one with
    /// [`lease_on`](Self::lease_on), and the connection counts as idle meanwhile (the reaper
    /// retires it if the limit is never raised).
    pub(crate) fn opened_h2(self: &Arc<Self>, mut h2: H2Conn) -> (Arc<H2Conn>, Option<Conn>) {
        let mut doomed = Doomed::default();
        let origin = h2.slot.origin.clone();
        h2.slot.opening = false;
        let h2 = Arc::new(h2);
        let allowed = h2.settings.max_streams() > 0;
        let conn = allowed.then(|| Conn {
            tx: Sender::H2(h2.tx.clone()),
            hold: Hold::Lease(h2.clone()),
        });
        let mut start_reaper = false;
        {
            let mut st = lock(&self.state);
            let host = st.hosts.entry(origin.clone()).or_default();
            host.opening -= 1;
            host.h2 = true;
            host.known = true;
            host.h2_conns.push(H2Entry {
                conn: h2.clone(),
                in_use: usize::from(allowed),
                idle_since: (!allowed).then(Instant::now),
            });
            if !allowed {
                start_reaper = self.want_reaper(&mut st);
            }
            self.grant_leases(&mut st, &origin, &mut doomed);
            gauge(&st, &origin);
            // Waiters beyond the server's stream limit may open another connection.
            self.grant_permits(&mut st, &mut doomed);
        }
        drop(doomed);
        if start_reaper {
            self.start_reaper();
        }
        (h2, conn)
    }

    /// A stream on this HTTP/2 connection if the server's limit has room for one; `None`
    /// also once the connection has left the pool (closed or retired).
    pub(crate) fn lease_on(self: &Arc<Self>, h2: &Arc<H2Conn>) -> Option<Conn> {
        let mut st = lock(&self.state);
        let origin = &h2.slot.origin;
        let host = st.hosts.get_mut(origin)?;
        let e = host
            .h2_conns
            .iter_mut()
            .find(|e| Arc::ptr_eq(&e.conn, h2))?;
        if e.conn.tx.is_closed() || e.in_use >= e.conn.settings.max_streams() {
            return None;
        }
        e.in_use += 1;
        e.idle_since = None;
        let conn = Conn {
            tx: Sender::H2(e.conn.tx.clone()),
            hold: Hold::Lease(e.conn.clone()),
        };
        let origin = origin.clone();
        gauge(&st, &origin);
        Some(conn)
    }

    /// A request's lease on an HTTP/2 stream ended.
    pub(super) fn end_lease(self: &Arc<Self>, h2: &Arc<H2Conn>) {
        let mut doomed = Doomed::default();
        let mut start_reaper = false;
        {
            let mut st = lock(&self.state);
            let origin = &h2.slot.origin;
            if let Some(host) = st.hosts.get_mut(origin)
                && let Some(i) = host.h2_conns.iter().position(|e| Arc::ptr_eq(&e.conn, h2))
            {
                let e = &mut host.h2_conns[i];
                e.in_use -= 1;
                if e.conn.tx.is_closed() {
                    doomed.h2.push(host.h2_conns.swap_remove(i).conn);
                } else if e.in_use == 0 {
                    e.idle_since = Some(Instant::now());
                    start_reaper = self.want_reaper(&mut st);
                }
            }
            let origin = origin.clone();
            self.grant_leases(&mut st, &origin, &mut doomed);
            gauge(&st, &origin);
        }
        drop(doomed);
        if start_reaper {
            self.start_reaper();
        }
    }
}

/// A stream on an open HTTP/2 connection of `host` with room under the server's stream limit;
/// closed connections go to `doomed`.
pub(super) fn lease_h2(host: &mut Host, doomed: &mut Doomed) -> Option<Conn> {
    let mut i = 0;
    while i < host.h2_conns.len() {
        let e = &mut host.h2_conns[i];
        if e.conn.tx.is_closed() {
            doomed.h2.push(host.h2_conns.swap_remove(i).conn);
            continue;
        }
        if e.in_use < e.conn.settings.max_streams() {
            e.in_use += 1;
            e.idle_since = None;
            return Some(Conn {
                tx: Sender::H2(e.conn.tx.clone()),
                hold: Hold::Lease(e.conn.clone()),
            });
        }
        i += 1;
    }
    None
}

/// Whether requests to `origin` should wait for the HTTP/2 connection being opened to it
/// rather than open their own.
pub(super) fn waits_for_h2(st: &State, origin: &Origin) -> bool {
    st.hosts.get(origin).is_some_and(|h| h.h2 && h.opening > 0)
}

//! What the pool reports: counts, the per-host snapshot of `Client::stats`, and the
//! `http.client.open_connections` gauges (feature `metrics`).

use std::collections::HashMap;

use super::{Host, Origin, Pool, State, lock};

/// A snapshot of a client's connection pool, from [`Client::stats`](crate::Client::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections open or being opened, all hosts together.
    pub open: usize,
    /// Requests waiting for a connection, all hosts together.
    pub waiting: usize,
    /// Host by host, sorted by origin; hosts with neither connections nor waiters are left out.
    pub hosts: Vec<HostStats>,
}

/// One host's part of a [`Stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// `scheme://host:port`.
    pub origin: String,
    /// Connections open (idle or busy).
    pub open: usize,
    /// Connections being opened.
    pub opening: usize,
    /// Open connections no request is using.
    pub idle: usize,
    /// Open connections in use (`open - idle`).
    pub active: usize,
    /// Requests waiting for a connection to this host.
    pub waiting: usize,
    /// HTTP/2 streams in use, over all of the host's HTTP/2 connections.
    pub h2_streams: usize,
}

impl Pool {
    /// Connections open and unused: idle HTTP/1.1 ones, HTTP/2 ones without streams.
    pub(crate) fn idle(&self) -> usize {
        let st = lock(&self.state);
        st.hosts.values().map(Host::idle_count).sum()
    }

    /// A snapshot of the pool, host by host (sorted by origin).
    pub(crate) fn stats(&self) -> Stats {
        let st = lock(&self.state);
        let mut by_origin: HashMap<&Origin, HostStats> = st
            .hosts
            .iter()
            .filter(|(_, h)| h.open > 0)
            .map(|(origin, h)| {
                let idle = h.idle_count();
                let open = h.open - h.opening;
                let stats = HostStats {
                    open,
                    opening: h.opening,
                    idle,
                    active: open.saturating_sub(idle),
                    h2_streams: h.h2_conns.iter().map(|e| e.in_use).sum(),
                    ..HostStats::default()
                };
                (origin, stats)
            })
            .collect();
        let mut waiting = 0;
        for w in st.waiters.iter().filter(|w| !w.tx.is_closed()) {
            waiting += 1;
            by_origin.entry(&w.origin).or_default().waiting += 1;
        }
        let mut hosts: Vec<HostStats> = by_origin
            .into_iter()
            .map(|(o, mut h)| {
                let scheme = if o.is_https() { "https" } else { "http" };
                h.origin = format!("{scheme}://{}", o.host_port());
                h
            })
            .collect();
        hosts.sort_by(|a, b| a.origin.cmp(&b.origin));
        Stats {
            open: st.total,
            waiting,
            hosts,
        }
    }
}

/// Sets `origin`'s connection gauges (feature `metrics`): OpenTelemetry's
/// `http.client.open_connections`, by `http.connection.state` (idle, active). Called where
/// a host's counts change, under the pool's lock.
#[cfg(feature = "metrics")]
pub(super) fn gauge(st: &State, origin: &Origin) {
    let (idle, active) = st.hosts.get(origin).map_or((0, 0), |h| {
        let idle = h.idle_count();
        (idle, (h.open - h.opening).saturating_sub(idle))
    });
    let host = origin.host_port();
    metrics::gauge!(
        "http.client.open_connections",
        "server.address" => host.clone(),
        "http.connection.state" => "idle",
    )
    .set(idle as f64);
    metrics::gauge!(
        "http.client.open_connections",
        "server.address" => host,
        "http.connection.state" => "active",
    )
    .set(active as f64);
}

#[cfg(not(feature = "metrics"))]
#[inline(always)]
pub(super) fn gauge(_: &State, _: &Origin) {}

/// [`gauge`] for every host.
pub(super) fn gauge_all(st: &State) {
    if cfg!(feature = "metrics") {
        for origin in st.hosts.keys() {
            gauge(st, origin);
        }
    }
}

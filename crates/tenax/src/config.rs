//! Timeouts and pool limits: one config type each, used by the client and per request.

use std::time::Duration;

/// Time limits per phase of a request. `None` means no limit for that phase.
///
/// Set them on the client ([`ClientBuilder::timeouts`](crate::ClientBuilder::timeouts)) and
/// override any of them per request ([`RequestBuilder::timeouts`](crate::RequestBuilder::timeouts)).
/// The error of a timeout names its phase ([`Error::timeout_phase`](crate::Error::timeout_phase)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Resolving the name and opening the TCP connection, for a new connection.
    /// Default is 10 s.
    pub connect: Option<Duration>,
    /// Writing the request: fails when the socket accepts no bytes for this long.
    /// Default is 30 s.
    pub write: Option<Duration>,
    /// Waiting for the response head once the request is written, and then the longest wait
    /// for each next chunk of the body. Default is 30 s.
    pub read: Option<Duration>,
    /// Waiting for a connection from the pool when the connection limits are reached.
    /// Default is 30 s.
    pub pool: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Some(Duration::from_secs(10)),
            write: Some(Duration::from_secs(30)),
            read: Some(Duration::from_secs(30)),
            pool: Some(Duration::from_secs(30)),
        }
    }
}

impl Timeouts {
    /// No limit on any phase.
    pub fn none() -> Self {
        Timeouts {
            connect: None,
            write: None,
            read: None,
            pool: None,
        }
    }
}

/// Per-request overrides of the client's [`Timeouts`]: each phase left `None` here keeps the
/// client's value.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TimeoutOverrides {
    pub(crate) connect: Option<Option<Duration>>,
    pub(crate) write: Option<Option<Duration>>,
    pub(crate) read: Option<Option<Duration>>,
    pub(crate) pool: Option<Option<Duration>>,
}

impl TimeoutOverrides {
    pub(crate) fn all(t: Timeouts) -> Self {
        TimeoutOverrides {
            connect: Some(t.connect),
            write: Some(t.write),
            read: Some(t.read),
            pool: Some(t.pool),
        }
    }

    pub(crate) fn apply(&self, base: Timeouts) -> Timeouts {
        Timeouts {
            connect: self.connect.unwrap_or(base.connect),
            write: self.write.unwrap_or(base.write),
            read: self.read.unwrap_or(base.read),
            pool: self.pool.unwrap_or(base.pool),
        }
    }
}

/// Limits of the connection pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolLimits {
    /// Open connections in all, to every host, counting those being opened. Requests beyond
    /// it wait in a fair FIFO queue, bounded by the `pool` timeout. Default is 100.
    pub max_connections: usize,
    /// Open connections to one host (scheme, host, port). Default is unlimited
    /// (`usize::MAX`), i.e. only `max_connections` applies.
    pub max_connections_per_host: usize,
    /// Idle connections kept per host; more are closed after 1 s idle (so that a burst does
    /// not close and reopen them). `0`: none are kept. Default is 32.
    pub max_idle_per_host: usize,
    /// An idle connection is closed after this long unused, by a timer. `None` keeps idle
    /// connections until the server closes them. Default is 90 s.
    pub idle_timeout: Option<Duration>,
}

impl Default for PoolLimits {
    fn default() -> Self {
        PoolLimits {
            max_connections: 100,
            max_connections_per_host: usize::MAX,
            max_idle_per_host: 32,
            idle_timeout: Some(Duration::from_secs(90)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let base = Timeouts::default();
        let o = TimeoutOverrides {
            read: Some(Some(Duration::from_secs(1))),
            pool: Some(None),
            ..Default::default()
        };
        let t = o.apply(base);
        assert_eq!(t.read, Some(Duration::from_secs(1)));
        assert_eq!(t.pool, None);
        assert_eq!(t.connect, base.connect);
        assert_eq!(t.write, base.write);
    }
}

/// A snapshot of a client's connection pool, from [`Client::stats`](crate::Client::stats).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections open or being opened, all hosts together.
    pub open: usize,
    /// Requests waiting for a connection, all hosts together.
    pub waiting: usize,
    /// Host by host, sorted by origin; hosts with neither connections nor waiters are left out.
    pub hosts: Vec<HostStats>,
}

/// One host's part of a [`PoolStats`].
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

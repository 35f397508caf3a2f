//! Timeouts by phase: the client's and a request's (one type for both), what a request
//! overrides, and running a future under a phase's limit.

use std::future::Future;
use std::time::Duration;

use std::fmt;

use crate::error::Error;

/// Which phase of a request ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Waiting for a connection from the pool (all connections busy at the limits).
    Pool,
    /// Resolving the name and opening the connection.
    Connect,
    /// Writing the request: the socket accepted no bytes for that long.
    Write,
    /// Waiting for the response head after the request was written, or for the next body
    /// chunk while reading the body.
    Read,
    /// A WebSocket heartbeat: no frame at all came back within the pong timeout after a ping.
    Heartbeat,
    /// A download's minimum speed: fewer bytes than the minimum arrived in a window.
    MinSpeed,
    /// The operation deadline: every attempt, wait and read of the request together
    /// ([`RequestBuilder::deadline`](crate::RequestBuilder::deadline),
    /// [`deadline::scope`](crate::deadline::scope)).
    Deadline,
}

impl TimeoutPhase {
    /// The phase's name as the CLI's JSON reports it: `pool`, `connect`, `write`, `read`,
    /// `deadline`, `heartbeat`, `min-speed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeoutPhase::Pool => "pool",
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Write => "write",
            TimeoutPhase::Read => "read",
            TimeoutPhase::Deadline => "deadline",
            TimeoutPhase::Heartbeat => "heartbeat",
            TimeoutPhase::MinSpeed => "min-speed",
        }
    }
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time limits per phase of a request. `None` means no limit for that phase.
///
/// Set them on the client ([`ClientBuilder::timeouts`](crate::ClientBuilder::timeouts)) and
/// override any of them per request ([`RequestBuilder::timeouts`](crate::RequestBuilder::timeouts)).
/// The error of a timeout names its phase ([`Error::timeout_phase`](crate::Error::timeout_phase)).
///
/// ```
/// use std::time::Duration;
///
/// let mut t = tenax::Timeouts::default();
/// t.connect = Some(Duration::from_secs(2));
/// t.read = Some(Duration::from_secs(5));
/// let client = tenax::Client::builder().timeouts(t).build()?;
/// // Per request: only this phase changes.
/// let req = client.get("http://127.0.0.1:8080/slow").read_timeout(Duration::from_secs(60));
/// # drop(req); Ok::<(), tenax::Error>(())
/// ```
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

/// Runs `fut` within `limit` (no limit when `None`); running out gives a timeout error of
/// `phase`, saying `what` was happening.
pub(crate) async fn with_timeout<T>(
    limit: Option<Duration>,
    phase: TimeoutPhase,
    what: &'static str,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    match limit {
        None => fut.await,
        Some(limit) => match tokio::time::timeout(limit, fut).await {
            Ok(res) => res,
            Err(_) => Err(Error::timeout(phase, limit, what)),
        },
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

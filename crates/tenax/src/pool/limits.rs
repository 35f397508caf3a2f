//! The pool's limits, with their defaults.

use std::time::Duration;

/// Limits of the connection pool.
///
/// ```
/// let mut limits = tenax::pool::Limits::default();
/// limits.max_connections = 32;
/// limits.max_connections_per_host = 8;
/// let client = tenax::Client::builder().pool_limits(limits).build()?;
/// # drop(client); Ok::<(), tenax::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
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

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 100,
            max_connections_per_host: usize::MAX,
            max_idle_per_host: 32,
            idle_timeout: Some(Duration::from_secs(90)),
        }
    }
}

//! Per-phase timings of one request.

use std::time::Duration;

/// How long each phase of a request took. Phases that did not happen are `None`: a reused
/// connection has no DNS or connect time, an IP literal no DNS time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Waiting for a connection from the pool (zero when one was free at once).
    pub pool_wait: Duration,
    /// Resolving the host name.
    pub dns: Option<Duration>,
    /// Opening the TCP connection.
    pub connect: Option<Duration>,
    /// The TLS handshake.
    pub tls: Option<Duration>,
    /// Writing the request, from the first byte to the last one the socket accepted.
    pub write: Option<Duration>,
    /// From sending the request to receiving the response head (time to first byte).
    pub ttfb: Duration,
    /// Reading the body, once it has been read to its end.
    pub body: Option<Duration>,
    /// The whole request, from the call to the end of the body, once the body has been read.
    pub total: Option<Duration>,
}

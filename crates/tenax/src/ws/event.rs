//! What happens to a WebSocket over its life, and how a disconnection is judged.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use crate::Error;

/// A change of a WebSocket's state, from [`WebSocket::events`](super::WebSocket::events).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum WsEvent {
    /// Opening connection number `attempt` of the current series (1 for the first try, and
    /// again 1 after a connection that stayed healthy).
    Connecting {
        /// The attempt's number in the current series.
        attempt: u32,
    },
    /// The handshake succeeded and the on-connect hook ran; queued messages follow.
    Connected {
        /// The attempt's number in the current series.
        attempt: u32,
        /// The subprotocol the server chose, if any.
        protocol: Option<String>,
        /// Whether the server agreed to compression (permessage-deflate).
        compressed: bool,
    },
    /// A connection ended (or could not be opened); what happens next follows as
    /// `Reconnecting` or `Closed`.
    Disconnected(Disconnect),
    /// Waiting `delay` before attempt number `attempt`.
    Reconnecting {
        /// The number of the attempt that follows the wait.
        attempt: u32,
        /// The wait: full-jitter backoff, at least the server's `Retry-After`.
        delay: Duration,
    },
    /// The WebSocket is closed for good: no further connection will be made.
    Closed(Closed),
}

/// Why a connection ended, and what may have been lost with it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Disconnect {
    /// Why it ended.
    pub reason: DisconnectReason,
    /// Messages that were written to the socket after the last pong that confirmed receipt:
    /// the peer may not have read them. They are not sent again. Messages not yet written
    /// (or whose write did not finish) stay queued and go out after the next connection's
    /// on-connect hook.
    pub possibly_lost: u64,
    /// How long the connection was open (zero when it never opened).
    pub connected_for: Duration,
}

/// Why a connection ended or could not be opened.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The server answered the handshake with another status than 101.
    Rejected {
        /// The status.
        status: StatusCode,
        /// The server's `Retry-After`, if it sent one.
        retry_after: Option<Duration>,
    },
    /// The peer closed the connection with a close frame.
    ClosedByPeer {
        /// The close code (1005 when the frame carried none).
        code: u16,
        /// The reason text.
        reason: String,
    },
    /// The connection ended without a close frame (close code 1006).
    Eof,
    /// No frame at all came back within the pong timeout after a ping.
    HeartbeatTimeout,
    /// No data message arrived within the read deadline.
    ReadDeadline,
    /// The consumer stayed behind (the inbound buffer full) longer than the lag timeout.
    Lagging,
    /// Opening the connection or using it failed: DNS, TCP, TLS, an invalid handshake
    /// response, an I/O error, a protocol violation by the peer, a stalled write.
    Failed(Arc<Error>),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::Rejected { status, .. } => {
                write!(f, "handshake rejected with {status}")
            }
            DisconnectReason::ClosedByPeer { code, reason } if reason.is_empty() => {
                write!(f, "closed by the peer with code {code}")
            }
            DisconnectReason::ClosedByPeer { code, reason } => {
                write!(f, "closed by the peer with code {code} ({reason})")
            }
            DisconnectReason::Eof => f.write_str("connection lost without a close frame (1006)"),
            DisconnectReason::HeartbeatTimeout => f.write_str("no pong within the pong timeout"),
            DisconnectReason::ReadDeadline => f.write_str("no message within the read deadline"),
            DisconnectReason::Lagging => f.write_str("the consumer fell behind"),
            DisconnectReason::Failed(e) => {
                write!(f, "{e}")?;
                let mut next = std::error::Error::source(&**e);
                while let Some(s) = next {
                    write!(f, ": {s}")?;
                    next = s.source();
                }
                Ok(())
            }
        }
    }
}

/// Why a WebSocket closed for good.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Closed {
    /// [`WebSocket::close`](super::WebSocket::close) was called, or the handle dropped.
    ByUser,
    /// The last disconnection was judged fatal (see [`default_decision`]).
    Fatal(DisconnectReason),
    /// Reconnecting is off and the connection ended.
    NoReconnect(DisconnectReason),
    /// The maximum number of attempts was reached.
    AttemptsExhausted(DisconnectReason),
    /// The reconnect deadline passed.
    DeadlineExceeded(DisconnectReason),
}

impl Closed {
    /// The disconnection that led to the close, unless the user closed.
    pub fn reason(&self) -> Option<&DisconnectReason> {
        match self {
            Closed::ByUser => None,
            Closed::Fatal(r)
            | Closed::NoReconnect(r)
            | Closed::AttemptsExhausted(r)
            | Closed::DeadlineExceeded(r) => Some(r),
        }
    }
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::ByUser => f.write_str("closed by the user"),
            Closed::Fatal(r) => write!(f, "fatal: {r}"),
            Closed::NoReconnect(r) => write!(f, "{r} (reconnecting is off)"),
            Closed::AttemptsExhausted(r) => write!(f, "{r} (attempts exhausted)"),
            Closed::DeadlineExceeded(r) => write!(f, "{r} (reconnect deadline passed)"),
        }
    }
}

/// What to do after a disconnection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Reconnect after the backoff delay.
    Retry,
    /// Reconnect after at least this long (a server's `Retry-After`).
    RetryAfter(Duration),
    /// Do not reconnect: the WebSocket closes.
    Fatal,
}

/// The default judgement of a disconnection, which a
/// [`WsBuilder::classify`](super::WsBuilder::classify) function can fall back on:
///
/// - a handshake answered 400, 401, 403 or 404 is fatal (the same request would get the same
///   answer); 429 and 503 retry after at least their `Retry-After`; other statuses retry;
/// - close codes 1002 (protocol error), 1003 (unsupported data), 1007 (invalid payload),
///   1008 (policy violation), 1009 (message too big) and 1010 (missing extension) are fatal;
///   every other code retries (1000, 1001 going away, 1011 server error, 1012 restart,
///   1013 try again later, application codes);
/// - a connection lost without a close frame, a heartbeat or read-deadline timeout, a lagging
///   consumer and network errors retry; an invalid URL or TLS configuration and certificate
///   failures are fatal.
pub fn default_decision(reason: &DisconnectReason) -> Decision {
    match reason {
        DisconnectReason::Rejected {
            status,
            retry_after,
        } => match status.as_u16() {
            400 | 401 | 403 | 404 => Decision::Fatal,
            429 | 503 => retry_after.map_or(Decision::Retry, Decision::RetryAfter),
            _ => Decision::Retry,
        },
        DisconnectReason::ClosedByPeer {
            code: 1002 | 1003 | 1007 | 1008 | 1009 | 1010,
            ..
        } => Decision::Fatal,
        DisconnectReason::Failed(e) if e.is_builder() || e.is_certificate() => Decision::Fatal,
        _ => Decision::Retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_s_classification() {
        let rejected = |s: u16, ra: Option<u64>| DisconnectReason::Rejected {
            status: StatusCode::from_u16(s).unwrap(),
            retry_after: ra.map(Duration::from_secs),
        };
        for s in [400, 401, 403, 404] {
            assert_eq!(default_decision(&rejected(s, None)), Decision::Fatal, "{s}");
        }
        assert_eq!(
            default_decision(&rejected(503, Some(1))),
            Decision::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(default_decision(&rejected(429, None)), Decision::Retry);
        assert_eq!(default_decision(&rejected(502, None)), Decision::Retry);
        let closed = |code: u16| DisconnectReason::ClosedByPeer {
            code,
            reason: String::new(),
        };
        for c in [1002, 1003, 1007, 1008] {
            assert_eq!(default_decision(&closed(c)), Decision::Fatal, "{c}");
        }
        for c in [1000, 1001, 1006, 1011, 1012, 1013, 4000] {
            assert_eq!(default_decision(&closed(c)), Decision::Retry, "{c}");
        }
        for r in [
            DisconnectReason::Eof,
            DisconnectReason::HeartbeatTimeout,
            DisconnectReason::ReadDeadline,
            DisconnectReason::Lagging,
        ] {
            assert_eq!(default_decision(&r), Decision::Retry);
        }
    }
}

//! hyper's errors in our terms: which kind, which phase, and what an HTTP/2 stream's end
//! means after what the server said (a GOAWAY).

use super::{Error, Kind, find_io, find_write_stall};
use crate::TimeoutPhase;
use crate::connect::tls;
use crate::connect::{GoAway, PeerSettings};

/// Where a hyper error happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum During {
    /// The HTTP/1.1 handshake.
    Handshake,
    /// The HTTP/2 handshake, or waiting for the server's first SETTINGS.
    H2Handshake,
    /// Sending the request and waiting for the response head.
    Head,
    /// Reading the response body.
    Body,
}

impl During {
    fn what(self) -> &'static str {
        match self {
            During::Handshake => "during the handshake",
            During::H2Handshake => "during the HTTP/2 handshake",
            During::Head => "waiting for the response head",
            During::Body => "while reading the body",
        }
    }

    fn fallback(self) -> Kind {
        match self {
            During::Handshake | During::H2Handshake => Kind::Connect,
            During::Head | During::Body => Kind::Recv,
        }
    }
}

/// Turns a hyper error into ours: write stalls are write timeouts, parse errors protocol
/// errors, a close before any response an empty reply. `h2`: the connection's HTTP/2 state,
/// for a stream the connection's end closed (h2 reports it as a broken pipe, whether or not
/// anything failed to be written).
pub(crate) fn classify_hyper(e: hyper::Error, during: During, h2: Option<&PeerSettings>) -> Error {
    if let Some(limit) = find_write_stall(&e) {
        return Error::timeout(TimeoutPhase::Write, limit, "writing the request");
    }
    let broken_pipe = find_io(&e).is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe);
    if let Some(settings) = h2
        && broken_pipe
    {
        return h2_stream_closed(e, during, settings.goaway());
    }
    let kind = if let Some(kind) = tls::tls_kind_in(&e) {
        kind
    } else if e.is_parse() || e.is_parse_status() {
        Kind::Protocol
    } else if e.is_incomplete_message() && during == During::Head {
        Kind::EmptyReply
    } else if e.is_body_write_aborted() || e.is_user() || broken_pipe {
        Kind::Send
    } else {
        during.fallback()
    };
    Error::new(kind).with_what(during.what()).with_source(e)
}

/// An HTTP/2 stream ended by its connection's end: what that means depends on what the server
/// said before. A GOAWAY that did not refuse the stream means it took the request.
fn h2_stream_closed(e: hyper::Error, during: During, goaway: Option<GoAway>) -> Error {
    let (kind, what) = match (during, goaway) {
        (During::Head, Some(_)) => (Kind::Recv, "after processing the request"),
        (During::Head, None) => (Kind::EmptyReply, "without answering"),
        _ => (Kind::Recv, "in the middle of the response"),
    };
    let mut why = format!("the server closed the connection {what}");
    if let Some(g) = goaway {
        why.push_str(&format!(
            " (GOAWAY, last stream {}, error code {:#x})",
            g.last_stream, g.code
        ));
    }
    Error::new(kind)
        .with_what(during.what())
        .with_source(H2Closed { why, cause: e })
}

/// Why an HTTP/2 stream ended, with hyper's error as its cause.
#[derive(Debug)]
struct H2Closed {
    why: String,
    cause: hyper::Error,
}

impl std::fmt::Display for H2Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl std::error::Error for H2Closed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

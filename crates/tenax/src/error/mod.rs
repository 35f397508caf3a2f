//! The one error type of Tenax: opaque, one pointer wide, answering through predicates.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use http::StatusCode;

mod chain;
mod hyper;

use crate::timeouts::TimeoutPhase;
pub(crate) use chain::{WriteStalled, chain, find_io, find_write_stall, message_chain};
pub(crate) use hyper::{During, classify_hyper};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Bad input from the caller: header, method, configuration.
    Builder,
    /// A URL that cannot be used: malformed, another scheme, no host, a port out of range
    /// (a kind of builder error).
    Url,
    /// The client was closed.
    Closed,
    /// The host name did not resolve.
    Dns,
    /// The TCP connection could not be opened.
    Connect,
    /// The TLS handshake failed (protocol versions, alerts, client certificate refused...).
    Tls,
    /// The server's certificate did not verify.
    Certificate,
    /// The server's public key matched none of the pins.
    PinMismatch,
    /// A phase ran out of time.
    Timeout(TimeoutPhase),
    /// `error_for_status` on a 4xx or 5xx.
    Status(StatusCode),
    /// The body was larger than the cap.
    BodyTooLarge,
    /// The server's response was not valid HTTP.
    Protocol,
    /// Writing the request failed.
    Send,
    /// The server closed the connection without answering.
    EmptyReply,
    /// Reading the response failed: reset, truncated body.
    Recv,
    /// The response body could not be decoded (JSON, UTF-8).
    Decode,
    /// A redirect could not be followed: too many, an unusable Location, a downgrade to http.
    Redirect,
    /// Writing a download to its file failed.
    Write,
    /// A download's SHA-256 did not match the expected one.
    Digest,
    /// The proxy refused the tunnel (`CONNECT` answered with another status than 2xx) or
    /// answered with something else than HTTP.
    Proxy,
    /// The proxy's host name did not resolve.
    ProxyDns,
    /// A WebSocket failed: an invalid handshake response, a protocol violation by the peer,
    /// a message over the size limit.
    WebSocket,
    /// A WebSocket's outbox is full (`try_send`).
    OutboxFull,
    /// The host's circuit breaker is open: the attempt was refused without a connection.
    CircuitOpen,
}

/// What went wrong with a request.
///
/// Opaque on purpose: ask it questions with the `is_*` predicates. Its `Display` names the phase,
/// the limit that was hit and the peer, e.g. "read timed out after 5s waiting for the response
/// head from 127.0.0.1:8080 (GET http://127.0.0.1:8080/slow)"; the underlying cause, when there
/// is one, is its [`source`](std::error::Error::source), as with every error that follows
/// Rust's conventions (print the chain to see it all).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let client = tenax::Client::builder().retry(tenax::retry::Policy::none()).build()?;
/// // Nothing listens on port 1: the connection is refused.
/// let e = client.get("http://127.0.0.1:1/").send().await.unwrap_err();
/// assert!(e.is_connect() && !e.is_timeout());
/// assert_eq!(e.url(), Some("http://127.0.0.1:1/"));
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    /// What was happening, e.g. "waiting for the response head".
    what: Option<&'static str>,
    limit: Option<Duration>,
    peer: Option<Peer>,
    url: Option<String>,
    method: Option<http::Method>,
    source: Option<BoxError>,
    /// Attempts made, when retries were possible.
    attempts: u32,
    retry_after: Option<Duration>,
    retry_exhausted: bool,
}

/// Who we were talking to: a resolved address, or a host name before resolution.
pub(crate) enum Peer {
    Addr(SocketAddr),
    Host(String),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Addr(a) => write!(f, "{a}"),
            Peer::Host(h) => f.write_str(h),
        }
    }
}

impl Error {
    pub(crate) fn new(kind: Kind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                what: None,
                limit: None,
                peer: None,
                url: None,
                method: None,
                source: None,
                attempts: 1,
                retry_after: None,
                retry_exhausted: false,
            }),
        }
    }

    pub(crate) fn with_attempts(mut self, n: u32) -> Self {
        self.inner.attempts = n;
        self
    }

    pub(crate) fn with_retry_after(mut self, d: Duration) -> Self {
        self.inner.retry_after = Some(d);
        self
    }

    pub(crate) fn retries_exhausted(mut self) -> Self {
        self.inner.retry_exhausted = true;
        self
    }

    pub(crate) fn builder(source: impl Into<BoxError>) -> Self {
        Error::new(Kind::Builder).with_source(source)
    }

    pub(crate) fn invalid_url(source: impl Into<BoxError>) -> Self {
        Error::new(Kind::Url).with_source(source)
    }

    pub(crate) fn timeout(phase: TimeoutPhase, limit: Duration, what: &'static str) -> Self {
        let mut e = Error::new(Kind::Timeout(phase));
        e.inner.limit = Some(limit);
        e.inner.what = Some(what);
        e
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_what(mut self, what: &'static str) -> Self {
        self.inner.what = Some(what);
        self
    }

    pub(crate) fn with_peer(mut self, peer: Peer) -> Self {
        if self.inner.peer.is_none() {
            self.inner.peer = Some(peer);
        }
        self
    }

    pub(crate) fn with_url(mut self, method: &http::Method, url: &http::Uri) -> Self {
        if self.inner.url.is_none() {
            self.inner.url = Some(url.to_string());
            self.inner.method = Some(method.clone());
        }
        self
    }

    /// Whether a limit of time was hit; [`timeout_phase`](Self::timeout_phase) says which.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, Kind::Timeout(_))
    }

    /// The phase that ran out of time, if this is a timeout.
    pub fn timeout_phase(&self) -> Option<TimeoutPhase> {
        match self.inner.kind {
            Kind::Timeout(p) => Some(p),
            _ => None,
        }
    }

    /// Whether the connection could not be opened (refused, unreachable). Connect timeouts
    /// answer [`is_timeout`](Self::is_timeout) instead; name resolution failures
    /// [`is_dns`](Self::is_dns).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// Whether the host name could not be resolved.
    pub fn is_dns(&self) -> bool {
        matches!(self.inner.kind, Kind::Dns | Kind::ProxyDns)
    }

    /// Whether the proxy failed: its name did not resolve (then [`is_dns`](Self::is_dns)
    /// holds too) or it refused the tunnel (the message names its status, e.g. 407).
    pub fn is_proxy(&self) -> bool {
        matches!(self.inner.kind, Kind::Proxy | Kind::ProxyDns)
    }

    /// Whether the TLS handshake failed, for any reason: certificate, pin, version, alert.
    pub fn is_tls(&self) -> bool {
        matches!(
            self.inner.kind,
            Kind::Tls | Kind::Certificate | Kind::PinMismatch
        )
    }

    /// Whether the server's certificate could not be verified, or its key matched no pin
    /// (curl's exit code 60).
    pub fn is_certificate(&self) -> bool {
        matches!(self.inner.kind, Kind::Certificate | Kind::PinMismatch)
    }

    /// Whether the server's public key matched none of the configured pins.
    pub fn is_pin_mismatch(&self) -> bool {
        self.inner.kind == Kind::PinMismatch
    }

    /// Whether this came from [`Response::error_for_status`](crate::Response::error_for_status).
    pub fn is_status(&self) -> bool {
        matches!(self.inner.kind, Kind::Status(_))
    }

    /// The HTTP status, for a status error.
    pub fn status(&self) -> Option<StatusCode> {
        match self.inner.kind {
            Kind::Status(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the response body was larger than the size cap.
    pub fn is_body_too_large(&self) -> bool {
        self.inner.kind == Kind::BodyTooLarge
    }

    /// Whether the caller's input was invalid: URL, header name or value, method.
    pub fn is_builder(&self) -> bool {
        matches!(self.inner.kind, Kind::Builder | Kind::Url)
    }

    /// Whether a URL could not be used: malformed, a scheme other than those allowed, no
    /// host, a port not from 1 to 65535 (curl's exit code 3). [`is_builder`](Self::is_builder)
    /// holds too.
    pub fn is_invalid_url(&self) -> bool {
        self.inner.kind == Kind::Url
    }

    /// Whether the client had been closed.
    pub fn is_closed(&self) -> bool {
        self.inner.kind == Kind::Closed
    }

    /// Whether the server's response was not valid HTTP.
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == Kind::Protocol
    }

    /// Whether writing the request failed (the connection broke while sending).
    pub fn is_send(&self) -> bool {
        self.inner.kind == Kind::Send
    }

    /// Whether the server closed the connection without sending any response.
    pub fn is_empty_reply(&self) -> bool {
        self.inner.kind == Kind::EmptyReply
    }

    /// Whether reading the response failed after it started: a reset, or a body shorter than
    /// announced.
    pub fn is_recv(&self) -> bool {
        self.inner.kind == Kind::Recv
    }

    /// Whether a redirect could not be followed: too many of them (curl's exit code 47), a
    /// Location that is not a usable URL, or a refused downgrade from https to http.
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == Kind::Redirect
    }

    /// Whether the body could not be decoded as asked (JSON, UTF-8).
    pub fn is_decode(&self) -> bool {
        self.inner.kind == Kind::Decode
    }

    /// The URL of the request this error belongs to, when known (its password, if it had
    /// one, never: credentials leave the URL when it is parsed).
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// The method of the request this error belongs to, when known.
    pub fn method(&self) -> Option<&http::Method> {
        self.inner.method.as_ref()
    }

    /// How many attempts the request made before this error (1 when it was not retried).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// A short, stable name of the error's kind, fit for a metric label or OpenTelemetry's
    /// `error.type`: `builder`, `closed`, `dns`, `connect`, `tls`, `certificate`,
    /// `pin_mismatch`, `timeout`, `status`, `body_too_large`, `protocol`, `send`,
    /// `empty_reply`, `recv`, `decode`, `redirect`, `write`, `digest`, `proxy`, `proxy_dns`,
    /// `websocket`, `outbox_full`, `circuit_open`.
    pub fn kind_name(&self) -> &'static str {
        match self.inner.kind {
            Kind::Builder | Kind::Url => "builder",
            Kind::Closed => "closed",
            Kind::Dns => "dns",
            Kind::Connect => "connect",
            Kind::Tls => "tls",
            Kind::Certificate => "certificate",
            Kind::PinMismatch => "pin_mismatch",
            Kind::Timeout(_) => "timeout",
            Kind::Status(_) => "status",
            Kind::BodyTooLarge => "body_too_large",
            Kind::Protocol => "protocol",
            Kind::Send => "send",
            Kind::EmptyReply => "empty_reply",
            Kind::Recv => "recv",
            Kind::Decode => "decode",
            Kind::Redirect => "redirect",
            Kind::Write => "write",
            Kind::Digest => "digest",
            Kind::Proxy => "proxy",
            Kind::ProxyDns => "proxy_dns",
            Kind::WebSocket => "websocket",
            Kind::OutboxFull => "outbox_full",
            Kind::CircuitOpen => "circuit_open",
        }
    }

    /// The wait the server asked for with `Retry-After`, when the request failed because that
    /// wait would have passed the deadline.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether the request failed with a retryable error after using up its attempts or the
    /// host's retry budget.
    pub fn is_retry_exhausted(&self) -> bool {
        self.inner.retry_exhausted
    }

    /// Whether a WebSocket failed: an invalid handshake response, a protocol violation by the
    /// peer or a message over the size limit. A handshake answered with another status than 101
    /// is [`is_status`](Self::is_status) instead, with the [`status`](Self::status).
    pub fn is_websocket(&self) -> bool {
        self.inner.kind == Kind::WebSocket
    }

    /// Whether a download's SHA-256 differed from the expected one.
    pub fn is_digest_mismatch(&self) -> bool {
        self.inner.kind == Kind::Digest
    }

    /// Whether writing a download's file failed (disk full, permissions).
    pub fn is_write(&self) -> bool {
        self.inner.kind == Kind::Write
    }

    /// Whether the request was refused at once because the host's circuit breaker is open
    /// (see [`breaker`](crate::breaker)): no connection was tried. The message names the host
    /// and when it will be probed; [`limit`](Self::limit) is that wait, when known.
    pub fn is_circuit_open(&self) -> bool {
        self.inner.kind == Kind::CircuitOpen
    }

    /// The host's circuit is open: `probe_in` is the rest of the break (`None` while its
    /// probes are in flight).
    pub(crate) fn circuit_open(host: String, probe_in: Option<Duration>) -> Self {
        let mut e = Error::new(Kind::CircuitOpen).with_peer(Peer::Host(host));
        e.inner.limit = probe_in;
        if probe_in.is_none() {
            e.inner.what = Some("(a probe is in flight)");
        }
        e
    }

    /// Whether a WebSocket's outbox had no room (`try_send`).
    pub fn is_outbox_full(&self) -> bool {
        self.inner.kind == Kind::OutboxFull
    }

    /// A copy for a second owner (the WebSocket's events and its caller both see a failure):
    /// the same kind, phase, peer and message; the cause is kept as its text.
    pub(crate) fn duplicate(&self) -> Error {
        let i = &self.inner;
        let mut e = Error::new(i.kind);
        e.inner.what = i.what;
        e.inner.limit = i.limit;
        e.inner.peer = i.peer.as_ref().map(|p| match p {
            Peer::Addr(a) => Peer::Addr(*a),
            Peer::Host(h) => Peer::Host(h.clone()),
        });
        e.inner.url = i.url.clone();
        e.inner.method = i.method.clone();
        e.inner.attempts = i.attempts;
        e.inner.retry_after = i.retry_after;
        e.inner.retry_exhausted = i.retry_exhausted;
        if let Some(src) = &i.source {
            let mut text = src.to_string();
            let mut next = src.source();
            while let Some(s) = next {
                text.push_str(": ");
                text.push_str(&s.to_string());
                next = s.source();
            }
            e.inner.source = Some(text.into());
        }
        e
    }

    /// The limit that was hit: the timeout's duration, when this is a timeout; the rest of
    /// the break, when the circuit is open.
    pub fn limit(&self) -> Option<Duration> {
        self.inner.limit
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        match i.kind {
            // The operation deadline is shared by several phases and attempts: say it passed.
            Kind::Timeout(TimeoutPhase::Deadline) => f.write_str("deadline exceeded")?,
            Kind::Timeout(phase) => {
                write!(f, "{phase} timed out")?;
                if let Some(limit) = i.limit.filter(|l| !l.is_zero()) {
                    write!(f, " after {limit:?}")?;
                }
            }
            Kind::Builder => f.write_str("invalid request")?,
            Kind::Url => f.write_str("invalid URL")?,
            Kind::Closed => f.write_str("the client is closed")?,
            Kind::Dns => f.write_str("could not resolve host")?,
            Kind::Connect => f.write_str("could not connect")?,
            Kind::Tls => f.write_str("TLS error")?,
            Kind::Certificate => f.write_str("the server's certificate did not verify")?,
            Kind::PinMismatch => f.write_str("the server's public key matches no pin")?,
            Kind::Status(s) => write!(f, "HTTP status {s}")?,
            Kind::BodyTooLarge => f.write_str("response body too large")?,
            Kind::Protocol => f.write_str("invalid HTTP response")?,
            Kind::Send => f.write_str("failed to send the request")?,
            Kind::EmptyReply => {
                f.write_str("the server closed the connection without a response")?
            }
            Kind::Recv => f.write_str("failed to read the response")?,
            Kind::Decode => f.write_str("could not decode the response body")?,
            Kind::Redirect => f.write_str("redirect not followed")?,
            Kind::WebSocket => f.write_str("WebSocket error")?,
            Kind::Write => f.write_str("could not write the file")?,
            Kind::Digest => f.write_str("the download's SHA-256 does not match")?,
            Kind::Proxy => f.write_str("proxy error")?,
            Kind::ProxyDns => f.write_str("could not resolve the proxy")?,
            Kind::OutboxFull => f.write_str("the WebSocket outbox is full")?,
            Kind::CircuitOpen => f.write_str("circuit breaker open")?,
        }
        if let Some(what) = i.what {
            write!(f, " {what}")?;
        }
        if let Some(peer) = &i.peer {
            // Failures while reading come from the peer; the rest happened on the way to it.
            let reading = matches!(
                i.kind,
                Kind::Recv | Kind::EmptyReply | Kind::Protocol | Kind::Timeout(TimeoutPhase::Read)
            );
            match (reading, i.kind) {
                (_, Kind::Dns) => write!(f, " {peer}")?,
                (_, Kind::CircuitOpen) => write!(f, " for {peer}")?,
                (true, _) => write!(f, " from {peer}")?,
                (false, _) => write!(f, " to {peer}")?,
            }
        }
        if let (Kind::CircuitOpen, Some(wait)) = (i.kind, i.limit) {
            write!(f, ", next probe in {:.1}s", wait.as_secs_f64())?;
        }
        if let (Some(method), Some(url)) = (&i.method, &i.url) {
            write!(f, " ({method} {url})")?;
        }
        if i.attempts > 1 {
            write!(f, " after {} attempts", i.attempts)?;
        }
        if i.retry_exhausted {
            f.write_str(", retries exhausted")?;
        }
        if let Some(ra) = i.retry_after {
            write!(f, " (the server asked to retry after {ra:?})")?;
        }
        // The cause is not repeated here: it is the `source()`, for the caller to print.
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("tenax::Error");
        d.field("kind", &self.inner.kind);
        if let (Some(method), Some(url)) = (&self.inner.method, &self.inner.url) {
            d.field("method", method).field("url", url);
        }
        if let Some(src) = &self.inner.source {
            d.field("source", src);
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
        assert_eq!(
            std::mem::size_of::<Result<()>>(),
            std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn message_names_phase_limit_peer_and_url() {
        let e = Error::timeout(
            TimeoutPhase::Read,
            Duration::from_secs(5),
            "waiting for the response head",
        )
        .with_peer(Peer::Addr("127.0.0.1:8080".parse().unwrap()))
        .with_url(
            &http::Method::GET,
            &"http://127.0.0.1:8080/x".parse().unwrap(),
        );
        assert_eq!(
            e.to_string(),
            "read timed out after 5s waiting for the response head from 127.0.0.1:8080 \
             (GET http://127.0.0.1:8080/x)"
        );
        assert!(e.is_timeout());
        assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read));
        assert_eq!(e.limit(), Some(Duration::from_secs(5)));
        assert!(!e.is_connect());
    }

    #[test]
    fn write_stall_is_found_through_io_errors() {
        let io = std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            WriteStalled(Duration::from_secs(1)),
        );
        let e = Error::new(Kind::Send).with_source(io);
        assert_eq!(find_write_stall(&e), Some(Duration::from_secs(1)));
    }
}

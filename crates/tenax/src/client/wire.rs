//! The wire side of an attempt: sending, the read timeout for the head, replays, and
//! turning hyper's errors and headers into ours.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::Uri;
use http::header::{self, HeaderMap, HeaderValue};

use crate::body::{Body, RecvBody};
use crate::connect::IoState;
use crate::connect::tls;
use crate::error::{Error, Kind, find_io, find_write_stall};
use crate::pool::Conn;
use crate::{Result, TimeoutPhase, Timings};

/// The time limits of one attempt.
pub(super) struct When {
    pub(super) timeouts: crate::config::TimeoutOverrides,
    /// When this attempt started: its pool wait and pool timeout count from here.
    pub(super) attempt_start: Instant,
    /// The operation deadline.
    pub(super) deadline: Option<Instant>,
    /// Count this attempt in the host's retry budget (a first attempt).
    pub(super) deposit: Option<crate::RetryBudget>,
    /// The request's number for the observer (0 without one).
    pub(super) id: u64,
}

pub(super) const IDEMPOTENCY_KEY: header::HeaderName =
    header::HeaderName::from_static("idempotency-key");

/// A random idempotency key: 128 bits in hex.
pub(super) fn generated_key() -> HeaderValue {
    let key = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&key).expect("hex is a valid header value")
}

/// What an attempt that got a response head brings back: the head, the body, timings, whether
/// the connection was reused, when the head came, the TLS version.
pub(super) type Attempted = (
    http::response::Parts,
    RecvBody,
    Timings,
    bool,
    Instant,
    Option<crate::TlsVersion>,
);

/// Why a request got no response head.
pub(super) enum SendError {
    /// The read timeout ran out.
    Timeout(Error),
    /// The connection failed; the request comes back if it was never written. (Boxed: the
    /// request is large, and this is the rare path.)
    Failed(Box<hyper::client::conn::TrySendError<http::Request<Body>>>),
}

/// Sends the request and waits for the response head, with the read timeout counted from the
/// moment the request was written (a write in progress pushes it back: that is the write
/// timeout's business).
pub(super) async fn send(
    conn: &mut Conn,
    req: http::Request<Body>,
    read: Option<Duration>,
    body_ended: Option<&AtomicBool>,
    send_start: Instant,
) -> Result<http::Response<hyper::body::Incoming>, SendError> {
    let (tx, info) = conn.parts_mut();
    let io: &IoState = &info.io;
    let fut = tx.send(req);
    let Some(read) = read else {
        return fut.await.map_err(|e| SendError::Failed(Box::new(e)));
    };
    tokio::pin!(fut);
    let sleep = tokio::time::sleep(read);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            res = &mut fut => return res.map_err(|e| SendError::Failed(Box::new(e))),
            () = &mut sleep => {
                let now = Instant::now();
                let body_done = body_ended.is_none_or(|b| b.load(Ordering::Relaxed));
                let written = body_done && !io.write_blocked();
                let from = if written { io.last_write().max(send_start) } else { now };
                let due = from + read;
                if due <= now {
                    return Err(SendError::Timeout(Error::timeout(
                        TimeoutPhase::Read,
                        read,
                        "waiting for the response head",
                    )));
                }
                sleep.as_mut().reset(due.into());
            }
        }
    }
}

/// A copy of a request whose body is whole, for sending it again.
pub(super) fn copy_request(req: &http::Request<Body>) -> Option<http::Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Whether an HTTP/2 server declined the request without processing it: REFUSED_STREAM, or a
/// graceful GOAWAY that excluded the stream (RFC 9113 §8.7). Such requests are safe to send
/// again, whatever their method.
pub(super) fn is_refused(e: &hyper::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        cur = err.source();
    }
    false
}

/// How long an idle connection may be kept, from the server's `Keep-Alive: timeout=N`: N less
/// a margin of one second (none at all for N ≤ 1), and never longer than the pool's idle
/// timeout. `None` when the server said nothing.
pub(super) fn keep_alive_limit(
    headers: &HeaderMap,
    idle_timeout: Option<Duration>,
) -> Option<Duration> {
    const KEEP_ALIVE: header::HeaderName = header::HeaderName::from_static("keep-alive");
    let v = headers.get(KEEP_ALIVE)?.to_str().ok()?;
    let secs: u64 = v.split(',').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("timeout")
            .then(|| v.trim().parse().ok())?
    })?;
    let limit = Duration::from_secs(secs.saturating_sub(1));
    Some(idle_timeout.map_or(limit, |t| t.min(limit)))
}

/// Turns a hyper error into ours: write stalls are write timeouts, parse errors protocol
/// errors, a close before any response an empty reply; otherwise `fallback`.
pub(crate) fn classify_hyper(e: hyper::Error, fallback: Kind, what: &'static str) -> Error {
    if let Some(limit) = find_write_stall(&e) {
        return Error::timeout(TimeoutPhase::Write, limit, "writing the request");
    }
    let kind = if let Some(kind) = tls::tls_kind_in(&e) {
        kind
    } else if e.is_parse() || e.is_parse_status() {
        Kind::Protocol
    } else if e.is_incomplete_message() && what == "waiting for the response head" {
        Kind::EmptyReply
    } else if e.is_body_write_aborted() || e.is_user() {
        Kind::Send
    } else if let Some(io) = find_io(&e) {
        match io.kind() {
            std::io::ErrorKind::BrokenPipe => Kind::Send,
            _ => fallback,
        }
    } else {
        fallback
    };
    Error::new(kind).with_what(what).with_source(e)
}

/// The request target for HTTP/1.1 to an origin server: path and query only.
pub(super) fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_keeps_path_and_query() {
        let u: Uri = "http://h:1/a/b?c=d".parse().unwrap();
        assert_eq!(origin_form(&u), "/a/b?c=d");
        let u: Uri = "http://h".parse().unwrap();
        assert_eq!(origin_form(&u), "/");
    }

    fn ka(v: &str) -> Option<Duration> {
        let mut h = HeaderMap::new();
        h.insert("keep-alive", HeaderValue::from_str(v).unwrap());
        keep_alive_limit(&h, Some(Duration::from_secs(90)))
    }

    #[test]
    fn keep_alive_timeouts_leave_a_margin() {
        assert_eq!(ka("timeout=5, max=100"), Some(Duration::from_secs(4)));
        assert_eq!(ka("max=100, Timeout = 3"), Some(Duration::from_secs(2)));
        assert_eq!(ka("timeout=1"), Some(Duration::ZERO));
        assert_eq!(ka("timeout=0"), Some(Duration::ZERO));
        assert_eq!(ka("timeout=1000"), Some(Duration::from_secs(90)));
        assert_eq!(ka("timeout=x"), None);
        assert_eq!(ka("max=5"), None);
        assert_eq!(ka(""), None);
    }

    #[test]
    fn arbitrary_keep_alive_values_never_panic() {
        let mut rng = fastrand::Rng::with_seed(3);
        let alphabet: Vec<char> = "timeoutmax=,0123456789 -".chars().collect();
        for _ in 0..20_000 {
            let len = rng.usize(0..30);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            let _ = ka(&s);
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn with(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(header::HeaderName::from_static("keep-alive"), v);
        }
        h
    }

    proptest! {
        #[test]
        fn any_keep_alive_parses_or_not_without_panicking(v in "\\PC{0,60}", idle in proptest::option::of(any::<u64>())) {
            let idle = idle.map(Duration::from_millis);
            if let Some(limit) = keep_alive_limit(&with(&v), idle) {
                prop_assert!(idle.is_none_or(|i| limit <= i));
            }
        }

        #[test]
        fn timeouts_are_read_among_other_parameters(n in any::<u64>(), max in any::<u32>(), idle_s in 1u64..1_000_000) {
            let idle = Duration::from_secs(idle_s);
            for v in [format!("timeout={n}"), format!("max={max}, timeout={n}"), format!(" Timeout = {n} ,max={max}")] {
                let limit = keep_alive_limit(&with(&v), Some(idle));
                prop_assert_eq!(limit, Some(Duration::from_secs(n.saturating_sub(1)).min(idle)), "{}", v);
            }
        }
    }
}

//! The wire side of an attempt: sending, the read timeout for the head, replays, and
//! turning hyper's errors and headers into ours.

use std::time::{Duration, Instant};

use http::Uri;
use http::header::{self, HeaderMap, HeaderValue};

use crate::body::Body;
use crate::connect::IoState;
use crate::error::Error;
use crate::pool::{Conn, ConnTimer};
use crate::progress::SendProgress;
use crate::{Result, TimeoutPhase};

/// The time limits of one attempt.
#[derive(Clone, Copy)]
pub(super) struct When {
    pub(super) timeouts: crate::timeouts::TimeoutOverrides,
    /// When this attempt started: its pool wait and pool timeout count from here.
    pub(super) attempt_start: Instant,
    /// The operation deadline.
    pub(super) deadline: Option<Instant>,
    /// The request's number for the observer (0 without one).
    pub(super) id: crate::events::RequestId,
}

pub(super) const IDEMPOTENCY_KEY: header::HeaderName =
    header::HeaderName::from_static("idempotency-key");

/// A random idempotency key: 128 bits in hex.
pub(super) fn generated_key() -> HeaderValue {
    let key = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&key).expect("hex is a valid header value")
}

/// What an attempt that got a response head brings back: the response, boxed once where the
/// head arrived (then only a pointer moves up the stages); the retry stage gives it the
/// request's URL, start and retries when it becomes the answer.
pub(super) type Answer = crate::Response;

/// Why a request got no response head.
pub(super) enum SendError {
    /// The read timeout ran out.
    Timeout(Error),
    /// The connection failed; the request comes back if it was never written. (Boxed: the
    /// request is large, and this is the rare path.)
    Failed(Box<hyper::client::conn::TrySendError<http::Request<Body>>>),
}

/// What tells when the request was written, for the read timeout's start (and, on HTTP/2,
/// for the body's write stalls).
pub(super) enum Written<'a> {
    /// HTTP/1.1: the socket's last write, once the body (if watched) has been handed over.
    H1 {
        io: &'a IoState,
        body: Option<&'a SendProgress>,
    },
    /// HTTP/2: the stream's own body; no body (or a whole one already handed over) means
    /// written when sent. Other streams' traffic on the connection never counts.
    H2 { body: Option<&'a SendProgress> },
}

impl Written<'_> {
    /// When to look again, or the timeout that has run out. `None`: no timer is needed.
    fn next_check(
        &self,
        now: Instant,
        send_start: Instant,
        read: Option<Duration>,
        write: Option<Duration>,
    ) -> Result<Option<Instant>> {
        let read_from = match self {
            Written::H1 { io, body } => {
                let body_done = body.is_none_or(|b| b.ended_at().is_some());
                (body_done && !io.write_blocked()).then(|| io.last_write().max(send_start))
            }
            Written::H2 { body: None } => Some(send_start),
            Written::H2 { body: Some(b) } => match (b.ended_at(), write) {
                (Some(at), _) => Some(at.max(send_start)),
                (None, Some(w)) => {
                    // `None` while the body waits for its own source: look again later.
                    let stall = b.stalled_at(w).map(|t| t.max(send_start + w));
                    if stall.is_some_and(|due| due <= now) {
                        return Err(Error::timeout(
                            TimeoutPhase::Write,
                            w,
                            "sending the request body (the server's HTTP/2 flow-control window let nothing through)",
                        ));
                    }
                    let recheck = stall.unwrap_or(now + w);
                    return Ok(Some(read.map_or(recheck, |r| recheck.min(now + r))));
                }
                (None, None) => None,
            },
        };
        let Some(read) = read else {
            return Ok(None);
        };
        match read_from {
            // Not written yet: the read timeout has not started.
            None => Ok(Some(now + read)),
            Some(from) if from + read <= now => Err(Error::timeout(
                TimeoutPhase::Read,
                read,
                "waiting for the response head",
            )),
            Some(from) => Ok(Some(from + read)),
        }
    }
}

/// Sends the request and waits for the response head, with the read timeout counted from the
/// moment the request was written (a write in progress pushes it back: that is the write
/// timeout's business).
pub(super) async fn send(
    conn: &mut Conn,
    req: http::Request<Body>,
    (read, write): (Option<Duration>, Option<Duration>),
    body: Option<&SendProgress>,
    send_start: Instant,
) -> Result<http::Response<hyper::body::Incoming>, SendError> {
    let h2 = conn.is_h2();
    let (tx, info, timer) = conn.parts_mut();
    // An HTTP/2 stream's timer is its own (the connection's are shared).
    let mut own = ConnTimer::default();
    let timer = timer.unwrap_or(&mut own);
    let written = if h2 {
        Written::H2 { body }
    } else {
        Written::H1 { io: &info.io, body }
    };
    // Pinned where it is made: the request inside is never moved again.
    let fut = tx.send(req);
    tokio::pin!(fut);
    let mut check = written.next_check(Instant::now(), send_start, read, write);
    loop {
        let at = match check {
            Err(e) => return Err(SendError::Timeout(e)),
            Ok(None) => return fut.await.map_err(|e| SendError::Failed(Box::new(e))),
            Ok(Some(at)) => at,
        };
        tokio::select! {
            biased;
            res = &mut fut => return res.map_err(|e| SendError::Failed(Box::new(e))),
            () = timer.at(at) => {}
        }
        check = written.next_check(Instant::now(), send_start, read, write);
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
pub(crate) fn keep_alive_limit(
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

//! The response body under every [`Response`](crate::Response): it enforces the read timeout
//! between chunks and returns the connection to the pool at the end.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::Body as _;
use tokio::time::Sleep;

use crate::TimeoutPhase;
use crate::error::{Error, Peer};
use crate::pool::Conn;

/// The body of a response as it arrives: enforces the read timeout between chunks, and hands
/// the connection back to the pool once the body has been read to its end. A body dropped
/// before its end takes its connection down with it: its state is unknown.
pub(crate) struct RecvBody {
    /// `None` only once a drop has handed the rest of the body to a background drain.
    inner: Option<hyper::body::Incoming>,
    conn: Option<Conn>,
    /// How long the connection may stay idle, from the server's `Keep-Alive` header.
    keep_alive: Option<Duration>,
    read_timeout: Option<Duration>,
    /// The operation deadline, which bounds the body's reads too.
    deadline: Option<std::time::Instant>,
    idle: Option<Pin<Box<Sleep>>>,
    idle_armed: bool,
    /// The armed timer is the operation deadline, not the read timeout.
    idle_is_deadline: bool,
    peer: std::net::SocketAddr,
    done: bool,
    /// This body is itself a background drain: dropping it never starts another.
    draining: bool,
    /// Whether `Content-Length` counts the body's bytes (not for HEAD, 204 or 304).
    counted: bool,
    /// An error found with the last chunk (a body short of its length), for the next read.
    pending: Option<Error>,
}

impl RecvBody {
    /// `counted`: whether the `Content-Length` counts this body's bytes (not for a HEAD
    /// request's response, nor a 204 or 304).
    pub(crate) fn new(
        inner: hyper::body::Incoming,
        conn: Conn,
        (read_timeout, deadline): (Option<Duration>, Option<std::time::Instant>),
        keep_alive: Option<Duration>,
        counted: bool,
    ) -> RecvBody {
        let peer = conn.info().remote;
        let mut body = RecvBody {
            inner: Some(inner),
            conn: Some(conn),
            keep_alive,
            read_timeout,
            deadline,
            idle: None,
            idle_armed: false,
            idle_is_deadline: false,
            peer,
            done: false,
            draining: false,
            counted,
            pending: None,
        };
        if body
            .inner
            .as_ref()
            .is_some_and(http_body::Body::is_end_stream)
        {
            body.finish();
        }
        body
    }

    /// The body ended cleanly: the connection may serve another request.
    fn finish(&mut self) {
        self.done = true;
        if let Some(conn) = self.conn.take()
            && let Some(pool) = conn.slot_pool()
        {
            pool.put(conn, self.keep_alive);
        }
    }

    /// Reads the body to its end if it is announced as at most `limit` bytes, so that its
    /// connection can be reused; otherwise (or on any error) drops it.
    pub(crate) async fn drain(mut self, limit: u64) {
        if self.exact_len().is_some_and(|n| n <= limit) {
            while let Some(Ok(_)) = std::future::poll_fn(|cx| self.poll_chunk(cx)).await {}
        }
    }

    /// The address of the server the body comes from.
    pub(crate) fn peer(&self) -> std::net::SocketAddr {
        self.peer
    }

    /// Whether the whole body has been received.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// The body's exact length, when the server announced it.
    pub(crate) fn exact_len(&self) -> Option<u64> {
        self.inner
            .as_ref()
            .and_then(|b| http_body::Body::size_hint(b).exact())
    }

    /// The body ended: its connection may serve another request — unless the body is short
    /// of its `Content-Length`, which is an error, never a short body passed off as whole.
    /// (hyper ends an HTTP/2 body without an error when the server resets the stream with
    /// NO_ERROR, which RFC 9113 §8.1 allows only after a complete response; HTTP/1.1's short
    /// bodies are hyper's own errors.)
    fn end(&mut self) -> Option<Error> {
        let Some(left) = self.exact_len().filter(|&n| n > 0 && self.counted) else {
            self.finish();
            return None;
        };
        self.conn = None;
        self.done = true;
        let why = format!(
            "the server ended the body {left} bytes short of its Content-Length (the stream \
             was reset before its end)"
        );
        let err = Error::new(crate::error::Kind::Recv)
            .with_what("while reading the body")
            .with_source(why)
            .with_peer(Peer::Addr(self.peer));
        Some(err)
    }

    /// The next chunk of data; trailers are skipped.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        if self.done {
            return Poll::Ready(self.pending.take().map(Err));
        }
        loop {
            let Some(inner) = self.inner.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.idle_armed = false;
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if self
                        .inner
                        .as_ref()
                        .is_some_and(http_body::Body::is_end_stream)
                    {
                        self.pending = self.end();
                    }
                    if data.is_empty() {
                        if self.done {
                            return Poll::Ready(self.pending.take().map(Err));
                        }
                        continue;
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Ready(None) => return Poll::Ready(self.end().map(Err)),
                Poll::Ready(Some(Err(e))) => {
                    let h2 = self.conn.take().and_then(|c| c.h2_settings());
                    self.done = true;
                    let during = crate::error::During::Body;
                    let err = crate::error::classify_hyper(e, during, h2.as_deref())
                        .with_peer(Peer::Addr(self.peer));
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Pending => {
                    if self.read_timeout.is_none() && self.deadline.is_none() {
                        return Poll::Pending;
                    }
                    if !self.idle_armed {
                        let now = std::time::Instant::now();
                        let by_read = self.read_timeout.map(|t| now + t);
                        let (at, is_deadline) = match (by_read, self.deadline) {
                            (Some(r), Some(d)) if d < r => (d, true),
                            (Some(r), _) => (r, false),
                            (None, Some(d)) => (d, true),
                            (None, None) => unreachable!("checked above"),
                        };
                        let at = tokio::time::Instant::from_std(at);
                        match &mut self.idle {
                            Some(s) => s.as_mut().reset(at),
                            None => self.idle = Some(Box::pin(tokio::time::sleep_until(at))),
                        }
                        self.idle_armed = true;
                        self.idle_is_deadline = is_deadline;
                    }
                    let idle = self.idle.as_mut().expect("armed above");
                    ready!(idle.as_mut().poll(cx));
                    self.conn = None;
                    self.done = true;
                    let err = if self.idle_is_deadline {
                        Error::timeout(
                            TimeoutPhase::Deadline,
                            Duration::ZERO,
                            "while reading the body",
                        )
                    } else {
                        Error::timeout(
                            TimeoutPhase::Read,
                            self.read_timeout.unwrap_or_default(),
                            "waiting for the next body chunk",
                        )
                    }
                    .with_peer(Peer::Addr(self.peer));
                    return Poll::Ready(Some(Err(err)));
                }
            }
        }
    }
}

/// The most of a dropped HTTP/1.1 body that is read in the background to keep its connection.
const DRAIN_ON_DROP: u64 = 64 << 10;
/// How long such a background read may wait for the server.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

impl Drop for RecvBody {
    /// A response dropped with a small, announced rest of an HTTP/1.1 body still to come gets
    /// that rest read in the background (for at most a second), so its connection can go back
    /// to the pool; anything else closes the connection (an HTTP/2 stream is simply reset).
    fn drop(&mut self) {
        if self.done || self.draining || self.conn.as_ref().is_none_or(Conn::is_h2) {
            return;
        }
        if self.exact_len().is_none_or(|n| n > DRAIN_ON_DROP) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let rest = RecvBody {
            inner: self.inner.take(),
            conn: self.conn.take(),
            keep_alive: self.keep_alive,
            read_timeout: Some(
                self.read_timeout
                    .map_or(DRAIN_TIMEOUT, |t| t.min(DRAIN_TIMEOUT)),
            ),
            deadline: None,
            idle: None,
            idle_armed: false,
            idle_is_deadline: false,
            peer: self.peer,
            done: false,
            draining: true,
            counted: self.counted,
            pending: None,
        };
        rt.spawn(rest.drain(DRAIN_ON_DROP));
    }
}

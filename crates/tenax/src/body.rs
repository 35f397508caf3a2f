//! Request bodies, and the response body under every [`Response`](crate::Response): it enforces
//! the read timeout between chunks and returns the connection to the pool at the end.

use std::fmt;
use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Body as _, Frame, SizeHint};
use tokio::time::Sleep;

use crate::TimeoutPhase;
use crate::error::{BoxError, Error, Kind, Peer};
use crate::pool::Conn;

/// A request body: empty, bytes (replayable), or a stream of chunks.
pub struct Body {
    kind: BodyKind,
}

enum BodyKind {
    Empty,
    Full(Option<Bytes>),
    Stream {
        stream: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
        /// Set once the stream has ended, so the read timeout can start.
        ended: Option<Arc<AtomicBool>>,
    },
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body read from a stream of chunks, sent with chunked transfer encoding.
    pub fn from_stream<S, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        struct MapErr<S>(S);
        impl<S, E> Stream for MapErr<S>
        where
            S: Stream<Item = Result<Bytes, E>> + Unpin,
            E: Into<BoxError>,
        {
            type Item = Result<Bytes, BoxError>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                Pin::new(&mut self.0)
                    .poll_next(cx)
                    .map(|o| o.map(|r| r.map_err(Into::into)))
            }
        }
        Body {
            kind: BodyKind::Stream {
                stream: Box::pin(MapErr(Box::pin(stream))),
                ended: None,
            },
        }
    }

    /// The body's length, when known before sending.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            BodyKind::Stream { .. } => None,
        }
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// A copy of a body that is whole (empty or bytes); `None` for a stream.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        match &self.kind {
            BodyKind::Empty => Some(Body::empty()),
            BodyKind::Full(b) => Some(Body {
                kind: BodyKind::Full(b.clone()),
            }),
            BodyKind::Stream { .. } => None,
        }
    }

    /// For a streaming body, a flag that turns true once the whole body has been handed to
    /// the connection; `None` for bodies that are whole from the start.
    pub(crate) fn end_flag(&mut self) -> Option<Arc<AtomicBool>> {
        match &mut self.kind {
            BodyKind::Stream { ended, .. } => Some(
                ended
                    .get_or_insert_with(|| Arc::new(AtomicBool::new(false)))
                    .clone(),
            ),
            _ => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body(empty)"),
            BodyKind::Full(b) => write!(f, "Body({} bytes)", b.as_ref().map_or(0, Bytes::len)),
            BodyKind::Stream { .. } => f.write_str("Body(stream)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body {
            kind: BodyKind::Full(Some(b)),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Bytes::from_static(s).into()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            BodyKind::Empty => Poll::Ready(None),
            BodyKind::Full(b) => Poll::Ready(
                b.take()
                    .filter(|b| !b.is_empty())
                    .map(|b| Ok(Frame::data(b))),
            ),
            BodyKind::Stream { stream, ended } => {
                let next = ready!(stream.as_mut().poll_next(cx));
                if next.is_none()
                    && let Some(flag) = ended
                {
                    flag.store(true, Ordering::Relaxed);
                }
                Poll::Ready(next.map(|r| r.map(Frame::data)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Empty => true,
            BodyKind::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            BodyKind::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.len() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

// ===== response body =====

/// The body of a response as it arrives: enforces the read timeout between chunks, and hands
/// the connection back to the pool once the body has been read to its end. A body dropped
/// before its end takes its connection down with it: its state is unknown.
pub(crate) struct RecvBody {
    inner: hyper::body::Incoming,
    conn: Option<Conn>,
    /// How long the connection may stay idle, from the server's `Keep-Alive` header.
    keep_alive: Option<Duration>,
    read_timeout: Option<Duration>,
    idle: Option<Pin<Box<Sleep>>>,
    idle_armed: bool,
    peer: std::net::SocketAddr,
    done: bool,
}

impl RecvBody {
    pub(crate) fn new(
        inner: hyper::body::Incoming,
        conn: Conn,
        read_timeout: Option<Duration>,
        keep_alive: Option<Duration>,
    ) -> RecvBody {
        let peer = conn.info().remote;
        let mut body = RecvBody {
            inner,
            conn: Some(conn),
            keep_alive,
            read_timeout,
            idle: None,
            idle_armed: false,
            peer,
            done: false,
        };
        if http_body::Body::is_end_stream(&body.inner) {
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
        http_body::Body::size_hint(&self.inner).exact()
    }

    /// The next chunk of data; trailers are skipped.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.idle_armed = false;
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if http_body::Body::is_end_stream(&self.inner) {
                        self.finish();
                    }
                    if data.is_empty() {
                        if self.done {
                            return Poll::Ready(None);
                        }
                        continue;
                    }
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Ready(None) => {
                    self.finish();
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.conn = None;
                    self.done = true;
                    let err =
                        crate::client::classify_hyper(e, Kind::Recv, "while reading the body")
                            .with_peer(Peer::Addr(self.peer));
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Pending => {
                    let Some(limit) = self.read_timeout else {
                        return Poll::Pending;
                    };
                    if !self.idle_armed {
                        let deadline = tokio::time::Instant::now() + limit;
                        match &mut self.idle {
                            Some(s) => s.as_mut().reset(deadline),
                            None => self.idle = Some(Box::pin(tokio::time::sleep_until(deadline))),
                        }
                        self.idle_armed = true;
                    }
                    let idle = self.idle.as_mut().expect("armed above");
                    ready!(idle.as_mut().poll(cx));
                    self.conn = None;
                    self.done = true;
                    let err = Error::timeout(
                        TimeoutPhase::Read,
                        limit,
                        "waiting for the next body chunk",
                    )
                    .with_peer(Peer::Addr(self.peer));
                    return Poll::Ready(Some(Err(err)));
                }
            }
        }
    }
}

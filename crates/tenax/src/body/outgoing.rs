//! The request body: empty, whole bytes (replayable), or a stream of chunks; watched on its way
//! to the connection when an attempt needs to know how far it got (`progress.rs`).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Frame, SizeHint};

use crate::error::BoxError;
use crate::progress::{H2_PIECE, SendProgress};

/// A request body: empty, bytes (replayable), or a stream of chunks. It is also the body of
/// the `http::Response` the `tower` integration answers (`tenax::ServiceFuture`, feature `tower`),
/// streaming as the response arrives.
///
/// ```
/// use bytes::Bytes;
/// use tenax::Body;
///
/// let whole = Body::from("a string"); // replayable: retries and redirects can send it again
/// assert_eq!(whole.len(), Some(8));
/// let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from("a")), Ok(Bytes::from("b"))]);
/// let streamed = Body::from_stream(chunks); // sent chunked, once
/// assert_eq!(streamed.len(), None);
/// ```
pub struct Body {
    kind: BodyKind,
}

enum BodyKind {
    Empty,
    Full(Option<Bytes>),
    Stream {
        stream: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
        /// The length, when known before sending (then sent as `Content-Length`).
        len: Option<u64>,
    },
    /// Watched on its way by the attempt that sends it (see `progress.rs`); boxed, so that
    /// every other body stays as small as it was.
    Watched(Box<Watched>),
}

/// A body watched on its way to a connection.
struct Watched {
    /// The body itself (never `Watched`).
    kind: BodyKind,
    progress: Arc<SendProgress>,
    /// HTTP/2: hand the body over in pieces of at most `H2_PIECE` bytes.
    pieces: bool,
    /// What is left of the chunk being handed over in pieces.
    rest: Bytes,
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
                len: None,
            },
        }
    }

    /// A stream of exactly `len` bytes, sent with that `Content-Length`. A stream that ends
    /// short of `len` or goes past it fails the request rather than send a wrong body.
    pub(crate) fn sized_stream(
        stream: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
        len: u64,
    ) -> Body {
        struct Sized {
            stream: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
            left: u64,
        }
        impl Stream for Sized {
            type Item = Result<Bytes, BoxError>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                let next = ready!(self.stream.as_mut().poll_next(cx));
                let checked = match next {
                    Some(Ok(chunk)) if chunk.len() as u64 > self.left => {
                        Some(Err("the body is longer than the length it was given".into()))
                    }
                    Some(Ok(chunk)) => {
                        self.left -= chunk.len() as u64;
                        Some(Ok(chunk))
                    }
                    None if self.left > 0 => Some(Err(format!(
                        "the body ended {} bytes short of the length it was given",
                        self.left
                    )
                    .into())),
                    other => other,
                };
                Poll::Ready(checked)
            }
        }
        Body {
            kind: BodyKind::Stream {
                stream: Box::pin(Sized { stream, left: len }),
                len: Some(len),
            },
        }
    }

    /// The bytes of a whole body (empty or bytes); `None` for a stream.
    pub(crate) fn as_bytes(&self) -> Option<Bytes> {
        match &self.kind {
            BodyKind::Empty => Some(Bytes::new()),
            BodyKind::Full(b) => Some(b.clone().unwrap_or_default()),
            _ => None,
        }
    }

    /// The body's length, when known before sending.
    pub fn len(&self) -> Option<u64> {
        self.kind.len()
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// A copy of a body that is whole (empty or bytes); `None` for a stream.
    pub(crate) fn try_clone(&self) -> Option<Body> {
        self.kind.try_clone().map(|kind| Body { kind })
    }

    /// Makes a streaming body replayable when it can be cheaply: the chunks its stream has
    /// ready now are taken, and if the stream ends within `limit` bytes the body becomes whole
    /// (bytes). Otherwise it stays a stream (with what was taken put back in front), and a
    /// retry will not be possible. Never waits for the stream.
    pub(crate) fn buffer_for_replay(self, limit: usize) -> Body {
        let BodyKind::Stream {
            mut stream,
            len: stream_len,
        } = self.kind
        else {
            return self;
        };
        let mut taken: Vec<Bytes> = Vec::new();
        let mut len = 0usize;
        let mut cx = Context::from_waker(std::task::Waker::noop());
        loop {
            match stream.as_mut().poll_next(&mut cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    len += chunk.len();
                    taken.push(chunk);
                    if len > limit {
                        break;
                    }
                }
                Poll::Ready(None) => {
                    let mut all = bytes::BytesMut::with_capacity(len);
                    for c in &taken {
                        all.extend_from_slice(c);
                    }
                    return all.freeze().into();
                }
                // An error, or nothing ready: leave the rest to the connection.
                Poll::Ready(Some(Err(e))) => {
                    let rest = futures_core_once(Err(e));
                    return Body::prefixed(taken, Box::pin(rest), stream_len);
                }
                Poll::Pending => break,
            }
        }
        Body::prefixed(taken, stream, stream_len)
    }

    fn prefixed(
        taken: Vec<Bytes>,
        rest: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
        len: Option<u64>,
    ) -> Body {
        struct Prefixed {
            prefix: std::collections::VecDeque<Bytes>,
            rest: Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send>>,
        }
        impl Stream for Prefixed {
            type Item = Result<Bytes, BoxError>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                if let Some(b) = self.prefix.pop_front() {
                    return Poll::Ready(Some(Ok(b)));
                }
                self.rest.as_mut().poll_next(cx)
            }
        }
        Body {
            kind: BodyKind::Stream {
                stream: Box::pin(Prefixed {
                    prefix: taken.into(),
                    rest,
                }),
                len,
            },
        }
    }

    /// Watches this body on its way to the connection, for the read timeout's start and, on
    /// HTTP/2, for write stalls (the body is then handed over in pieces). `None` for a body
    /// there is nothing to watch of: empty, or whole bytes on HTTP/1.1 (written at once).
    pub(crate) fn watch(&mut self, h2: bool) -> Option<Arc<SendProgress>> {
        let kind = match std::mem::replace(&mut self.kind, BodyKind::Empty) {
            BodyKind::Watched(w) => w.kind,
            kind => kind,
        };
        let worth = match &kind {
            BodyKind::Empty | BodyKind::Watched(_) => false,
            BodyKind::Full(b) => h2 && b.as_ref().is_some_and(|b| !b.is_empty()),
            BodyKind::Stream { .. } => true,
        };
        if !worth {
            self.kind = kind;
            return None;
        }
        let progress = Arc::new(SendProgress::new());
        self.kind = BodyKind::Watched(Box::new(Watched {
            kind,
            progress: progress.clone(),
            pieces: h2,
            rest: Bytes::new(),
        }));
        Some(progress)
    }
}

impl BodyKind {
    fn len(&self) -> Option<u64> {
        match self {
            BodyKind::Empty => Some(0),
            BodyKind::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            BodyKind::Stream { len, .. } => *len,
            BodyKind::Watched(w) => w.kind.len(),
        }
    }

    fn try_clone(&self) -> Option<BodyKind> {
        match self {
            BodyKind::Empty => Some(BodyKind::Empty),
            BodyKind::Full(b) => Some(BodyKind::Full(b.clone())),
            BodyKind::Stream { .. } => None,
            BodyKind::Watched(w) => w.kind.try_clone(),
        }
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        match self {
            BodyKind::Empty => Poll::Ready(None),
            BodyKind::Full(b) => Poll::Ready(b.take().filter(|b| !b.is_empty()).map(Ok)),
            BodyKind::Stream { stream, .. } => stream.as_mut().poll_next(cx),
            BodyKind::Watched(w) => w.poll_piece(cx),
        }
    }
}

impl Watched {
    /// The next piece, recording the body's progress.
    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, BoxError>>> {
        if !self.rest.is_empty() {
            let piece = self.rest.split_to(self.rest.len().min(H2_PIECE));
            self.progress.pulled();
            return Poll::Ready(Some(Ok(piece)));
        }
        let Poll::Ready(next) = self.kind.poll_chunk(cx) else {
            self.progress.source_waiting();
            return Poll::Pending;
        };
        match next {
            None => {
                self.progress.end();
                Poll::Ready(None)
            }
            Some(Ok(mut chunk)) => {
                if self.pieces && chunk.len() > H2_PIECE {
                    self.rest = chunk.split_off(H2_PIECE);
                }
                self.progress.pulled();
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
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
            BodyKind::Watched(_) => f.write_str("Body(being sent)"),
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
        let next = ready!(self.kind.poll_chunk(cx));
        Poll::Ready(next.map(|r| r.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Empty => true,
            BodyKind::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            BodyKind::Stream { .. } => false,
            // The end is found by asking once more: on HTTP/2 that ask comes only after the
            // last piece found room in the window.
            BodyKind::Watched(w) => w.progress.ended_at().is_some() && w.rest.is_empty(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.len() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

/// A stream of one item.
fn futures_core_once(
    item: Result<Bytes, BoxError>,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send {
    struct Once(Option<Result<Bytes, BoxError>>);
    impl Stream for Once {
        type Item = Result<Bytes, BoxError>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(self.0.take())
        }
    }
    Once(Some(item))
}

//! The response: head, per-phase timings, and the body read whole, by chunks, or as a stream.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, StatusCode, Uri, Version};

use crate::Timings;
use crate::body::RecvBody;
use crate::error::{Error, Kind};

/// The most that [`Response::bytes`], [`text`](Response::text), [`json`](Response::json) and
/// [`read_all`](Response::read_all) buffer: 64 MiB. Stream larger bodies with
/// [`chunks`](Response::chunks).
pub const DEFAULT_MAX_BUFFERED: u64 = 64 << 20;

/// The most a buffered read reserves from the server's `Content-Length` before the bytes arrive.
const PREALLOC_MAX: usize = 256 << 10;

/// A response whose head has arrived. Its body is read with one of the methods below; a
/// response dropped before its body ends closes its connection rather than reuse it.
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let base = server.url("");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use futures_util::StreamExt;
///
/// let client = tenax::Client::new();
/// let res = client.get(format!("{base}/bytes/1000")).send().await?.error_for_status()?;
/// assert_eq!(res.content_length(), Some(1000));
/// println!("first byte after {:?}", res.timings().ttfb);
/// // The body as it arrives, one chunk in memory at a time.
/// let mut body = res.bytes_stream();
/// let mut total = 0;
/// while let Some(chunk) = body.next().await {
///     total += chunk?.len();
/// }
/// assert_eq!(total, 1000);
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
pub struct Response {
    /// Boxed: a response is returned through every stage of the request path and then to the
    /// caller, and a pointer moves where ~850 bytes were copied (a dozen times per request).
    r: Box<Fields>,
}

/// What a response holds.
struct Fields {
    method: http::Method,
    attempts: u32,
    /// Hedges sent (up to 32,767), and whether one won (the top bit): two bytes, as a
    /// response is moved often.
    hedges: u16,
    retries: Vec<crate::retry::Retry>,
    tls_version: Option<crate::tls::Version>,
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Uri,
    remote_addr: SocketAddr,
    reused: bool,
    timings: Timings,
    started: Instant,
    head_at: Instant,
    body: BodyStream,
}

pub(crate) struct Head {
    pub(crate) method: http::Method,
    pub(crate) tls_version: Option<crate::tls::Version>,
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) url: Uri,
    pub(crate) remote_addr: SocketAddr,
    pub(crate) reused: bool,
    pub(crate) timings: Timings,
    pub(crate) started: Instant,
    pub(crate) head_at: Instant,
}

impl Response {
    pub(crate) fn new(head: Head, body: RecvBody) -> Response {
        let r = Box::new(Fields {
            method: head.method,
            attempts: 1,
            hedges: 0,
            retries: Vec::new(),
            tls_version: head.tls_version,
            status: head.status,
            version: head.version,
            headers: head.headers,
            url: head.url,
            remote_addr: head.remote_addr,
            reused: head.reused,
            timings: head.timings,
            started: head.started,
            head_at: head.head_at,
            body: BodyStream {
                raw: body,
                decoder: None,
                cap: None,
                seen: 0,
                checked: false,
                over: false,
                failed: false,
            },
        });
        Response { r }
    }

    /// Sets how the body is read: decoded (when the client decodes and the server used a
    /// coding this build knows: `Content-Encoding` and `Content-Length` are then removed from
    /// the headers, which describe the encoded body), and capped at `cap` decoded bytes.
    pub(crate) fn set_body_policy(&mut self, decompress: bool, cap: Option<u64>) {
        if decompress && let Some(d) = crate::decode::Decoder::for_headers(&self.r.headers) {
            self.r.headers.remove(http::header::CONTENT_ENCODING);
            self.r.headers.remove(http::header::CONTENT_LENGTH);
            self.r.body.decoder = Some(Box::new(d));
        }
        self.r.body.cap = cap;
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.r.status
    }

    /// The HTTP version the response came in.
    pub fn version(&self) -> Version {
        self.r.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.r.headers
    }

    /// How many attempts the request took (1 when it was not retried).
    pub fn attempts(&self) -> u32 {
        self.r.attempts
    }

    /// The retries the request made: which attempt failed, why, and the wait before the next.
    pub fn retries(&self) -> &[crate::retry::Retry] {
        &self.r.retries
    }

    /// How the request was hedged (see [`hedge`](crate::hedge)): hedges sent, and whether
    /// one of them won. All zero for a request that was not hedged.
    pub fn hedges(&self) -> crate::hedge::Hedges {
        crate::hedge::Hedges {
            sent: u32::from(self.r.hedges & 0x7fff),
            won: self.r.hedges & 0x8000 != 0,
        }
    }

    pub(crate) fn set_hedges(&mut self, hedges: crate::hedge::Hedges) {
        let sent = hedges.sent.min(0x7fff) as u16;
        self.r.hedges = sent | if hedges.won { 0x8000 } else { 0 };
    }

    /// The request's URL, and its start (its first attempt's), for the total time.
    pub(crate) fn set_request(&mut self, url: Uri, started: Instant) {
        self.r.url = url;
        self.r.started = started;
    }

    pub(crate) fn set_retries(&mut self, retries: Vec<crate::retry::Retry>) {
        self.r.attempts = retries.len() as u32 + 1;
        self.r.retries = retries;
    }

    /// The TLS version of the connection, for https (the ALPN choice shows in
    /// [`version`](Self::version)).
    pub fn tls_version(&self) -> Option<crate::tls::Version> {
        self.r.tls_version
    }

    /// The URL that was requested.
    pub fn url(&self) -> &Uri {
        &self.r.url
    }

    /// The address of the server the response came from.
    pub fn remote_addr(&self) -> SocketAddr {
        self.r.remote_addr
    }

    /// Whether the request went over a connection reused from the pool.
    pub fn reused(&self) -> bool {
        self.r.reused
    }

    /// The per-phase timings: everything up to the head at once; `body` and `total` once the
    /// body has been read to its end with [`read_all`](Self::read_all).
    pub fn timings(&self) -> &Timings {
        &self.r.timings
    }

    /// The body length the server announced (`Content-Length`), if any. For a HEAD request,
    /// the length the body would have had.
    pub fn content_length(&self) -> Option<u64> {
        self.r
            .headers
            .get(http::header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// Turns a 4xx or 5xx status into an error ([`Error::is_status`]); other responses pass.
    pub fn error_for_status(self) -> Result<Response, Error> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// Like [`error_for_status`](Self::error_for_status), keeping the response.
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        match self.status_error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    fn status_error(&self) -> Option<Error> {
        (self.r.status.is_client_error() || self.r.status.is_server_error())
            .then(|| Error::new(Kind::Status(self.r.status)).with_url(&self.r.method, &self.r.url))
    }

    /// The next chunk of the body as it arrives, `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let res = std::future::poll_fn(|cx| self.r.body.poll_chunk(cx)).await;
        if res.is_none() {
            self.record_body_end();
        }
        res.transpose()
    }

    fn record_body_end(&mut self) {
        if self.r.timings.total.is_none() && self.r.body.is_done() {
            let now = Instant::now();
            self.r.timings.body = Some(now - self.r.head_at);
            self.r.timings.total = Some(now - self.r.started);
        }
    }

    /// Reads the rest of the body (at most [`DEFAULT_MAX_BUFFERED`] bytes) and keeps the
    /// response, so that [`timings`](Self::timings) then include the body and the total.
    pub async fn read_all(&mut self) -> Result<Bytes, Error> {
        let cap = self.r.body.cap.unwrap_or(DEFAULT_MAX_BUFFERED);
        let expected = self.r.body.exact_len();
        if let Some(len) = expected
            && len > cap
        {
            return Err(too_large(cap, len));
        }
        let first = match self.chunk().await? {
            None => return Ok(Bytes::new()),
            Some(b) => b,
        };
        // The common case, a body in one chunk, is returned without a copy.
        let Some(second) = self.chunk().await? else {
            return check_cap(first, cap);
        };
        // The server's Content-Length is a claim, not bytes: reserve what arrived, or at most
        // a modest hint, and grow with what comes (1,000 responses claiming 64 MiB each would
        // otherwise reserve 64 GB before a byte arrived).
        let arrived = first.len() + second.len();
        let hint = expected.map_or(arrived, |n| (n as usize).min(PREALLOC_MAX).max(arrived));
        let mut buf = BytesMut::with_capacity(hint);
        buf.extend_from_slice(&first);
        buf.extend_from_slice(&second);
        while let Some(chunk) = self.chunk().await? {
            if (buf.len() + chunk.len()) as u64 > cap {
                return Err(too_large(cap, (buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        check_cap(buf.freeze(), cap)
    }

    /// The whole body (at most [`DEFAULT_MAX_BUFFERED`] bytes).
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        self.read_all().await
    }

    /// The whole body as UTF-8 text (at most [`DEFAULT_MAX_BUFFERED`] bytes).
    pub async fn text(self) -> Result<String, Error> {
        let b = self.bytes().await?;
        String::from_utf8(b.to_vec()).map_err(|e| Error::new(Kind::Decode).with_source(e))
    }

    /// The whole body parsed as JSON (at most [`DEFAULT_MAX_BUFFERED`] bytes).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let b = self.bytes().await?;
        serde_json::from_slice(&b).map_err(|e| Error::new(Kind::Decode).with_source(e))
    }

    /// The body as a stream of chunks, as they arrive: memory stays bounded by one chunk, and
    /// a consumer that stops polling stops the socket being read.
    pub fn chunks(self) -> Chunks {
        Chunks { body: self.r.body }
    }

    /// The body as a stream of chunks: [`chunks`](Self::chunks) under the name reqwest users
    /// know.
    pub fn bytes_stream(self) -> Chunks {
        self.chunks()
    }

    /// The body as a stream of UTF-8 lines (without their `\n` or `\r\n`), read as they
    /// arrive: memory stays bounded by the longest line, at most [`DEFAULT_MAX_LINE`] bytes
    /// unless [`Lines::max_line`] says otherwise; a longer line fails with
    /// [`Error::is_body_too_large`].
    pub fn lines(self) -> Lines {
        Lines {
            body: self.r.body,
            buf: BytesMut::new(),
            scanned: 0,
            max: DEFAULT_MAX_LINE,
            done: false,
        }
    }

    /// The body as newline-delimited JSON: one value per non-empty line, parsed as the lines
    /// arrive (each at most [`DEFAULT_MAX_LINE`] bytes, see [`NdJson::max_line`]).
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn ndjson<T: serde::de::DeserializeOwned>(self) -> NdJson<T> {
        NdJson {
            lines: self.lines(),
            _t: std::marker::PhantomData,
        }
    }
}

fn too_large(cap: u64, seen: u64) -> Error {
    Error::new(Kind::BodyTooLarge).with_source(format!(
        "the body has at least {seen} bytes, over the cap of {cap} bytes"
    ))
}

fn check_cap(b: Bytes, cap: u64) -> Result<Bytes, Error> {
    if b.len() as u64 > cap {
        return Err(too_large(cap, b.len() as u64));
    }
    Ok(b)
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.r.url)
            .field("status", &self.r.status)
            .field("version", &self.r.version)
            .field("remote_addr", &self.r.remote_addr)
            .field("reused", &self.r.reused)
            .finish()
    }
}

/// The body as the caller sees it: decoded when the client decodes, counted against the cap.
struct BodyStream {
    raw: RecvBody,
    decoder: Option<Box<crate::decode::Decoder>>,
    /// The most decoded bytes the caller accepts.
    cap: Option<u64>,
    seen: u64,
    /// Whether the announced length was checked against the cap.
    checked: bool,
    /// The cap was crossed: the part up to it was returned, the error comes next.
    over: bool,
    failed: bool,
}

impl BodyStream {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if self.failed {
            return Poll::Ready(None);
        }
        if let Some(cap) = self.cap {
            if self.over {
                self.failed = true;
                return Poll::Ready(Some(Err(too_large(cap, self.seen))));
            }
            if !self.checked {
                self.checked = true;
                // Announced too large: fail before reading any of it.
                if let Some(len) = self.exact_len()
                    && len > cap
                {
                    self.failed = true;
                    return Poll::Ready(Some(Err(too_large(cap, len))));
                }
            }
        }
        let res = match &mut self.decoder {
            Some(d) => d.poll_decoded(&mut self.raw, cx),
            None => self.raw.poll_chunk(cx),
        };
        match res {
            Poll::Ready(Some(Ok(b))) => {
                let before = self.seen;
                self.seen += b.len() as u64;
                match self.cap {
                    Some(cap) if self.seen > cap => {
                        // Cut at the cap: the bytes up to it, then the error.
                        let keep = (cap - before) as usize;
                        if keep == 0 {
                            self.failed = true;
                            return Poll::Ready(Some(Err(too_large(cap, self.seen))));
                        }
                        self.over = true;
                        Poll::Ready(Some(Ok(b.slice(..keep))))
                    }
                    _ => Poll::Ready(Some(Ok(b))),
                }
            }
            Poll::Ready(Some(Err(e))) => {
                self.failed = true;
                Poll::Ready(Some(Err(e)))
            }
            other => other,
        }
    }

    fn is_done(&self) -> bool {
        self.raw.is_done()
    }

    /// The length the caller will read, when known in advance (not for a decoded body).
    fn exact_len(&self) -> Option<u64> {
        match self.decoder {
            Some(_) => None,
            None => self.raw.exact_len(),
        }
    }
}

/// The longest line [`Response::lines`] and [`Response::ndjson`] accept by default: 1 MiB.
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// The body of a [`Response`] as a [`Stream`] of lines; see [`Response::lines`].
pub struct Lines {
    body: BodyStream,
    buf: BytesMut,
    /// How much of `buf` is known to hold no newline.
    scanned: usize,
    max: usize,
    done: bool,
}

impl Lines {
    /// The longest line accepted, in bytes. Default is [`DEFAULT_MAX_LINE`].
    pub fn max_line(mut self, bytes: usize) -> Lines {
        self.max = bytes.max(1);
        self
    }

    fn line(&mut self, end: usize, skip: usize) -> Result<String, Error> {
        let mut line = self.buf.split_to(end);
        bytes::Buf::advance(&mut self.buf, skip);
        self.scanned = 0;
        if line.last() == Some(&b'\r') {
            line.truncate(line.len() - 1);
        }
        String::from_utf8(line.to_vec()).map_err(|e| Error::new(Kind::Decode).with_source(e))
    }
}

impl Stream for Lines {
    type Item = Result<String, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(i) = this.buf[this.scanned..].iter().position(|&b| b == b'\n') {
                let end = this.scanned + i;
                if end > this.max {
                    this.done = true;
                    return Poll::Ready(Some(Err(line_too_long(this.max))));
                }
                return Poll::Ready(Some(this.line(end, 1)));
            }
            this.scanned = this.buf.len();
            if this.buf.len() > this.max {
                this.done = true;
                return Poll::Ready(Some(Err(line_too_long(this.max))));
            }
            match ready!(this.body.poll_chunk(cx)) {
                Some(Ok(b)) => this.buf.extend_from_slice(&b),
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    let end = this.buf.len();
                    return Poll::Ready(Some(this.line(end, 0)));
                }
            }
        }
    }
}

fn line_too_long(max: usize) -> Error {
    Error::new(Kind::BodyTooLarge).with_source(format!("a line is longer than {max} bytes"))
}

impl fmt::Debug for Lines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lines")
    }
}

/// The body of a [`Response`] as a [`Stream`] of JSON values; see [`Response::ndjson`].
#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub struct NdJson<T> {
    lines: Lines,
    _t: std::marker::PhantomData<fn() -> T>,
}

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl<T> NdJson<T> {
    /// The longest line accepted, in bytes. Default is [`DEFAULT_MAX_LINE`].
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.lines = self.lines.max_line(bytes);
        self
    }
}

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl<T: serde::de::DeserializeOwned> Stream for NdJson<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match ready!(Pin::new(&mut this.lines).poll_next(cx)) {
                Some(Ok(line)) if line.trim().is_empty() => continue,
                Some(Ok(line)) => {
                    return Poll::Ready(Some(
                        serde_json::from_str(&line)
                            .map_err(|e| Error::new(Kind::Decode).with_source(e)),
                    ));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl<T> fmt::Debug for NdJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NdJson")
    }
}

/// The body of a [`Response`] as a [`Stream`] of chunks; see [`Response::chunks`].
pub struct Chunks {
    body: BodyStream,
}

impl Stream for Chunks {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.body.poll_chunk(cx)
    }
}

impl fmt::Debug for Chunks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Chunks")
    }
}

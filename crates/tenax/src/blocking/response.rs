//! A blocking client's response: the head at once, the body read on the client's thread.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use http::{HeaderMap, StatusCode, Uri, Version};

use super::Shared;
use crate::{Error, Result, Timings};

/// A response of a blocking [`Client`](super::Client). Its body is read by
/// [`bytes`](Self::bytes), [`text`](Self::text), [`json`](Self::json), or as an
/// [`io::Read`] (a chunk at a time, as it arrives).
pub struct Response {
    /// `None` only while a read runs on the client's thread.
    inner: Option<crate::Response>,
    /// What is left of the chunk being read through `io::Read`.
    rest: Bytes,
    shared: Arc<Shared>,
}

impl Response {
    pub(super) fn new(inner: crate::Response, shared: Arc<Shared>) -> Response {
        Response {
            inner: Some(inner),
            rest: Bytes::new(),
            shared,
        }
    }

    fn inner(&self) -> &crate::Response {
        self.inner
            .as_ref()
            .expect("a response is back after each read")
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.inner().status()
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.inner().version()
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        self.inner().headers()
    }

    /// The final URL, after redirects.
    pub fn url(&self) -> &Uri {
        self.inner().url()
    }

    /// The peer's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.inner().remote_addr()
    }

    /// How long each phase took.
    pub fn timings(&self) -> &Timings {
        self.inner().timings()
    }

    /// The `Content-Length`, when the body is not decoded.
    pub fn content_length(&self) -> Option<u64> {
        self.inner().content_length()
    }

    /// The response, or an error for which [`Error::is_status`] holds on a 4xx or 5xx.
    pub fn error_for_status(self) -> Result<Response> {
        self.inner().error_for_status_ref()?;
        Ok(self)
    }

    /// The whole body (decoded, capped as the client says).
    pub fn bytes(mut self) -> Result<Bytes> {
        let res = self.take();
        self.shared.rt.block_on(res.bytes())?
    }

    /// The whole body as UTF-8 text.
    pub fn text(mut self) -> Result<String> {
        let res = self.take();
        self.shared.rt.block_on(res.text())?
    }

    /// The whole body parsed as JSON.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::de::DeserializeOwned + Send + 'static>(mut self) -> Result<T> {
        let res = self.take();
        self.shared.rt.block_on(res.json())?
    }

    /// Copies the body to `w` as it arrives; the bytes copied.
    pub fn copy_to<W: io::Write + ?Sized>(&mut self, w: &mut W) -> Result<u64> {
        let mut total = 0;
        while let Some(chunk) = self.next_chunk()? {
            w.write_all(&chunk)
                .map_err(|e| Error::new(crate::error::Kind::Write).with_source(e))?;
            total += chunk.len() as u64;
        }
        Ok(total)
    }

    fn take(&mut self) -> crate::Response {
        self.inner
            .take()
            .expect("a response is back after each read")
    }

    /// The next chunk of the body, read on the client's thread.
    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if !self.rest.is_empty() {
            return Ok(Some(std::mem::take(&mut self.rest)));
        }
        let mut res = self.take();
        let (res, chunk) = self.shared.rt.block_on(async move {
            let chunk = res.chunk().await;
            (res, chunk)
        })?;
        self.inner = Some(res);
        chunk
    }
}

impl io::Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.rest.is_empty() {
            match self.next_chunk().map_err(io::Error::other)? {
                Some(chunk) => self.rest = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest.advance(n);
        Ok(n)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(r) => f.debug_tuple("blocking::Response").field(r).finish(),
            None => f.write_str("blocking::Response(being read)"),
        }
    }
}

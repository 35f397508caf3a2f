//! Entry points for the fuzz targets in `fuzz/` (cargo-fuzz), compiled only with `--cfg
//! fuzzing`, which cargo-fuzz sets: each takes arbitrary bytes to one of Tenax's own parsers
//! and must return — no panic, no hang — whatever the bytes. Not an API.

use std::task::{Context, Poll};
use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, header};

/// `data` as text, when it is UTF-8.
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// One header of `name` with `data` as its value, when `data` can be a header value.
fn one_header(name: header::HeaderName, data: &[u8]) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    h.insert(name, HeaderValue::from_bytes(data).ok()?);
    Some(h)
}

/// A URL as `client.get(text)` and `ws::builder(text)` parse it.
pub fn url(data: &[u8]) {
    if let Some(s) = text(data) {
        let http = crate::url::parse(s, crate::url::Schemes::Http);
        let ws = crate::url::parse(s, crate::url::Schemes::WebSocket);
        if let Ok(t) = http {
            // What was accepted has a port from 1 to 65535 and prints back as a URL.
            assert!(crate::url::port_of(&t.uri).is_some_and(|p| p > 0), "{s:?}");
        }
        drop(ws);
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(data: &[u8]) {
    if let Some(s) = text(data) {
        let _ = crate::retry::parse_retry_after(s, SystemTime::now());
    }
}

/// `Content-Range` of a resumed download.
pub fn content_range(data: &[u8]) {
    if let Some(h) = one_header(header::CONTENT_RANGE, data) {
        let _ = crate::download::content_range(&h);
    }
}

/// `Keep-Alive: timeout=N` against an idle timeout.
pub fn keep_alive(data: &[u8]) {
    if let Some(h) = one_header(header::HeaderName::from_static("keep-alive"), data) {
        let idle = Some(std::time::Duration::from_secs(90));
        if let Some(limit) = crate::client::keep_alive_limit(&h, idle) {
            assert!(limit <= std::time::Duration::from_secs(90));
        }
    }
}

/// A proxy URL, and a `NO_PROXY` list (before the first newline) against a host (after it).
pub fn proxy(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = crate::Proxy::all(s);
    let (list, host) = s.split_once('\n').unwrap_or((s, "example.com"));
    let _ = crate::proxy::NoProxy::parse(list).matches(host);
}

/// An HTTP/1.1 response head as read for a proxy's `CONNECT` answer and a WebSocket
/// upgrade: byte by byte (the first byte of `data` even) or ahead (odd).
pub fn h1_head(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let mut io = bytes;
    let fut = crate::h1_head::read(&mut io, 16 * 1024, mode % 2 == 1);
    let _ = poll_once(fut);
}

/// The permessage-deflate parameters a server's answer agrees to.
pub fn deflate_answer(data: &[u8]) {
    if let Some(s) = text(data) {
        let _ = crate::ws::accept_deflate(s, &crate::ws::Compression::default());
    }
}

/// WebSocket frames from a server, without compression (first byte even) or with it (odd):
/// every message until the stream ends or fails.
pub fn ws_frames(data: &[u8]) {
    use futures_core::Stream;
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let agreed = (mode % 2 == 1).then(|| {
        crate::ws::accept_deflate("permessage-deflate", &crate::ws::Compression::default())
            .expect("the plainest answer is agreed")
    });
    let limits = crate::ws::Limits {
        max_message: 1 << 20,
        frame_size: 16 * 1024,
        flush_threshold: 64 * 1024,
    };
    let mut codec = crate::ws::Codec::new(Wire { input: bytes }, limits, agreed);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    // Every poll consumes input or ends: bounded by the input's length (and the writes of
    // answers to pings and closes, which the wire takes at once).
    for _ in 0..bytes.len() * 2 + 16 {
        match std::pin::Pin::new(&mut codec).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(_) | Poll::Pending => return,
        }
    }
}

/// Polls `fut` until it is ready, for readers over a slice (never pending for long).
fn poll_once<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Some(v);
        }
    }
    None
}

/// A connection that reads `input` and takes every write.
struct Wire<'a> {
    input: &'a [u8],
}

impl tokio::io::AsyncRead for Wire<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = self.input.len().min(buf.remaining());
        buf.put_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Wire<'_> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

//! The byte stream under hyper: plain TCP or TLS over it, with an optional HTTP/2 frame
//! sniffer that learns what hyper does not expose: the server's stream limit (SETTINGS) and
//! whether it said GOAWAY.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio_rustls::client::TlsStream;

use super::io::ConnIo;

pub(crate) enum Stream {
    Plain(ConnIo, Option<Sniffer>),
    Tls(Box<TlsStream<ConnIo>>, Option<Sniffer>),
    /// TLS to the server inside TLS to an `https://` proxy.
    TlsInTls(Box<TlsStream<TlsStream<ConnIo>>>, Option<Sniffer>),
}

impl Stream {
    /// Starts watching the server's HTTP/2 SETTINGS frames.
    pub(crate) fn sniff_settings(&mut self) -> Arc<PeerSettings> {
        let settings = Arc::new(PeerSettings::default());
        let sniffer = Some(Sniffer::new(settings.clone()));
        match self {
            Stream::Plain(_, s) | Stream::Tls(_, s) | Stream::TlsInTls(_, s) => *s = sniffer,
        }
        settings
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let (res, sniffer) = match self.get_mut() {
            Stream::Plain(io, s) => (Pin::new(io).poll_read(cx, buf), s),
            Stream::Tls(io, s) => (Pin::new(io.as_mut()).poll_read(cx, buf), s),
            Stream::TlsInTls(io, s) => (Pin::new(io.as_mut()).poll_read(cx, buf), s),
        };
        if let Some(s) = sniffer {
            s.feed(&buf.filled()[before..]);
        }
        res
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(io, _) => Pin::new(io).poll_write(cx, b),
            Stream::Tls(io, _) => Pin::new(io.as_mut()).poll_write(cx, b),
            Stream::TlsInTls(io, _) => Pin::new(io.as_mut()).poll_write(cx, b),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(io, _) => Pin::new(io).poll_write_vectored(cx, bufs),
            Stream::Tls(io, _) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
            Stream::TlsInTls(io, _) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(io, _) => io.is_write_vectored(),
            Stream::Tls(io, _) => io.is_write_vectored(),
            Stream::TlsInTls(io, _) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io, _) => Pin::new(io).poll_flush(cx),
            Stream::Tls(io, _) => Pin::new(io.as_mut()).poll_flush(cx),
            Stream::TlsInTls(io, _) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(io, _) => Pin::new(io).poll_shutdown(cx),
            Stream::Tls(io, _) => Pin::new(io.as_mut()).poll_shutdown(cx),
            Stream::TlsInTls(io, _) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What the server announced on an HTTP/2 connection: its SETTINGS, and a GOAWAY.
#[derive(Debug)]
pub(crate) struct PeerSettings {
    /// SETTINGS_MAX_CONCURRENT_STREAMS; `usize::MAX` until announced (no limit).
    max_streams: AtomicUsize,
    seen: AtomicBool,
    seen_notify: Notify,
    /// Woken when the stream limit changes or the connection ends.
    changed: Notify,
    /// The last GOAWAY: last stream id in the high half, error code in the low; `u64::MAX`
    /// for none.
    goaway: AtomicU64,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            max_streams: AtomicUsize::new(usize::MAX),
            seen: AtomicBool::new(false),
            seen_notify: Notify::new(),
            changed: Notify::new(),
            goaway: AtomicU64::new(u64::MAX),
        }
    }
}

/// A GOAWAY the server sent: streams up to `last_stream` may have been processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GoAway {
    pub(crate) last_stream: u32,
    pub(crate) code: u32,
}

impl PeerSettings {
    pub(crate) fn max_streams(&self) -> usize {
        self.max_streams.load(Ordering::Relaxed)
    }

    /// The server's GOAWAY, if it sent one.
    pub(crate) fn goaway(&self) -> Option<GoAway> {
        let v = self.goaway.load(Ordering::Relaxed);
        (v != u64::MAX).then_some(GoAway {
            last_stream: (v >> 32) as u32,
            code: v as u32,
        })
    }

    /// Completes when the stream limit changes or the connection ends (see
    /// [`ended`](Self::ended)); enable it before looking at the state it watches.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// The connection has ended: wakes those waiting for a change.
    pub(crate) fn ended(&self) {
        self.changed.notify_waiters();
    }

    /// Waits for the server's first SETTINGS frame.
    pub(crate) async fn wait_first(&self) {
        let notified = self.seen_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.seen.load(Ordering::Acquire) {
            return;
        }
        notified.await;
    }
}

/// Follows HTTP/2 frame boundaries in what the server sends, reading SETTINGS frames.
pub(crate) struct Sniffer {
    settings: Arc<PeerSettings>,
    header: [u8; 9],
    header_len: usize,
    /// Payload bytes of the current frame still to come.
    remaining: usize,
    /// The current frame is a SETTINGS frame (not an ACK) or a GOAWAY: collect its payload
    /// (a GOAWAY's first 8 bytes).
    collecting: Option<u8>,
    payload: Vec<u8>,
}

const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;

impl Sniffer {
    fn new(settings: Arc<PeerSettings>) -> Sniffer {
        Sniffer {
            settings,
            header: [0; 9],
            header_len: 0,
            remaining: 0,
            collecting: None,
            payload: Vec::new(),
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining == 0 && self.header_len < 9 {
                let take = (9 - self.header_len).min(data.len());
                self.header[self.header_len..self.header_len + take].copy_from_slice(&data[..take]);
                self.header_len += take;
                data = &data[take..];
                if self.header_len == 9 {
                    let h = self.header;
                    let len =
                        (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
                    self.collecting = match h[3] {
                        SETTINGS if h[4] & ACK == 0 => Some(SETTINGS),
                        GOAWAY => Some(GOAWAY),
                        _ => None,
                    };
                    self.payload.clear();
                    self.remaining = len;
                    if len == 0 {
                        self.end_frame();
                    }
                }
                continue;
            }
            let take = self.remaining.min(data.len());
            match self.collecting {
                Some(SETTINGS) => self.payload.extend_from_slice(&data[..take]),
                Some(_) => {
                    let room = 8usize.saturating_sub(self.payload.len()).min(take);
                    self.payload.extend_from_slice(&data[..room]);
                }
                None => {}
            }
            self.remaining -= take;
            data = &data[take..];
            if self.remaining == 0 {
                self.end_frame();
            }
        }
    }

    fn end_frame(&mut self) {
        match self.collecting {
            Some(SETTINGS) => self.end_settings(),
            Some(_) if self.payload.len() == 8 => {
                let p = &self.payload;
                let last = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff;
                let code = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let packed = (u64::from(last) << 32) | u64::from(code);
                self.settings.goaway.store(packed, Ordering::Relaxed);
            }
            _ => {}
        }
        self.collecting = None;
        self.header_len = 0;
    }

    fn end_settings(&mut self) {
        for s in self.payload.chunks_exact(6) {
            let id = u16::from_be_bytes([s[0], s[1]]);
            if id == MAX_CONCURRENT_STREAMS {
                let v = u32::from_be_bytes([s[2], s[3], s[4], s[5]]);
                self.settings
                    .max_streams
                    .store(usize::try_from(v).unwrap_or(usize::MAX), Ordering::Relaxed);
                self.settings.changed.notify_waiters();
            }
        }
        if !self.settings.seen.swap(true, Ordering::AcqRel) {
            self.settings.seen_notify.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            0,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn learns_the_stream_limit_across_split_reads() {
        let settings = Arc::new(PeerSettings::default());
        let mut s = Sniffer::new(settings.clone());
        let mut bytes = frame(0x0, 0, &[1u8; 100]); // DATA
        // SETTINGS: INITIAL_WINDOW_SIZE, then MAX_CONCURRENT_STREAMS = 10.
        bytes.extend(frame(SETTINGS, 0, &[0, 4, 0, 1, 0, 0, 0, 3, 0, 0, 0, 10]));
        bytes.extend(frame(SETTINGS, ACK, &[]));
        bytes.extend(frame(0x6, 0, &[0; 8])); // PING
        assert_eq!(settings.max_streams(), usize::MAX);
        for chunk in bytes.chunks(7) {
            s.feed(chunk);
        }
        assert_eq!(settings.max_streams(), 10);
        assert!(settings.seen.load(Ordering::Relaxed));
        // A later SETTINGS frame updates it.
        s.feed(&frame(SETTINGS, 0, &[0, 3, 0, 0, 0, 50]));
        assert_eq!(settings.max_streams(), 50);
    }

    #[test]
    fn remembers_a_goaway_across_split_reads() {
        let settings = Arc::new(PeerSettings::default());
        let mut s = Sniffer::new(settings.clone());
        assert_eq!(settings.goaway(), None);
        let mut bytes = frame(
            GOAWAY,
            0,
            &[0, 0, 0, 7, 0, 0, 0, 2, b'd', b'e', b'b', b'u', b'g'],
        );
        bytes.extend(frame(0x0, 0, &[1u8; 10]));
        for chunk in bytes.chunks(3) {
            s.feed(chunk);
        }
        assert_eq!(
            settings.goaway(),
            Some(GoAway {
                last_stream: 7,
                code: 2
            })
        );
    }
}

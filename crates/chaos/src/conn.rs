//! Per-connection state and the socket wrapper that lets routes act on the connection itself:
//! reset it on close (RST instead of FIN) or close it after an idle period.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::server::OpenGuard;

/// What a route may ask of the connection it arrived on.
pub(crate) struct ConnCtx {
    epoch: Instant,
    /// Milliseconds since `epoch` of the last byte read or written.
    last_io_ms: AtomicU64,
    /// Close with RST (SO_LINGER 0) rather than FIN when the connection ends.
    reset_on_close: AtomicBool,
    /// Close the connection after this many milliseconds without I/O; 0 = never.
    idle_close_ms: AtomicU64,
    /// Drop the connection now, every stream on it with it (HTTP/2's connection-level faults).
    abort: AtomicBool,
    /// Wakes the connection driver when a rule changes.
    pub(crate) rules_changed: Notify,
}

impl ConnCtx {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ConnCtx {
            epoch: Instant::now(),
            last_io_ms: AtomicU64::new(0),
            reset_on_close: AtomicBool::new(false),
            idle_close_ms: AtomicU64::new(0),
            abort: AtomicBool::new(false),
            rules_changed: Notify::new(),
        })
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    pub(crate) fn reset_on_close(&self) {
        self.reset_on_close.store(true, Ordering::Relaxed);
    }

    /// Drops the connection at once — with RST if [`reset_on_close`](Self::reset_on_close)
    /// was asked, else FIN — without a GOAWAY: what a crashed server or a middlebox does.
    pub(crate) fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
        self.rules_changed.notify_one();
    }

    /// Whether [`abort`](Self::abort) was asked.
    pub(crate) fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    pub(crate) fn close_when_idle_for(&self, idle: Duration) {
        let ms = (idle.as_millis() as u64).max(1);
        self.idle_close_ms.store(ms, Ordering::Relaxed);
        self.rules_changed.notify_one();
    }

    /// How long until the idle-close rule fires: `None` if there is no such rule,
    /// `Some(ZERO)` if it is due now.
    pub(crate) fn idle_close_due_in(&self) -> Option<Duration> {
        let limit = self.idle_close_ms.load(Ordering::Relaxed);
        if limit == 0 {
            return None;
        }
        let idle = (self.epoch.elapsed().as_millis() as u64)
            .saturating_sub(self.last_io_ms.load(Ordering::Relaxed));
        Some(Duration::from_millis(limit.saturating_sub(idle)))
    }
}

/// A TCP stream that records activity and honours `reset_on_close` when dropped.
pub(crate) struct ChaosIo {
    stream: TcpStream,
    ctx: Arc<ConnCtx>,
    _open: OpenGuard,
}

impl ChaosIo {
    pub(crate) fn new(stream: TcpStream, ctx: Arc<ConnCtx>, open: OpenGuard) -> Self {
        ctx.touch();
        ChaosIo {
            stream,
            ctx,
            _open: open,
        }
    }
}

impl Drop for ChaosIo {
    fn drop(&mut self) {
        if self.ctx.reset_on_close.load(Ordering::Relaxed) {
            // SO_LINGER with a zero timeout makes close() send RST and discard unsent data.
            let _ = socket2::SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        }
    }
}

impl AsyncRead for ChaosIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.ctx.touch();
        }
        res
    }
}

impl AsyncWrite for ChaosIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.ctx.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.ctx.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

//! The socket under every connection: a TCP stream that enforces the write timeout and tells
//! the request path when it last made write progress.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::error::WriteStalled;

/// What the request path and the socket share about one connection.
#[derive(Debug)]
pub(crate) struct IoState {
    epoch: Instant,
    /// The write timeout of the request now using the connection, in ms; 0 = none.
    write_timeout_ms: AtomicU64,
    /// Microseconds since `epoch` of the last write that made progress.
    last_write_us: AtomicU64,
    /// Whether the last write attempt found the socket full.
    write_blocked: AtomicBool,
}

impl IoState {
    fn new() -> Arc<Self> {
        Arc::new(IoState {
            epoch: Instant::now(),
            write_timeout_ms: AtomicU64::new(0),
            last_write_us: AtomicU64::new(0),
            write_blocked: AtomicBool::new(false),
        })
    }

    pub(crate) fn set_write_timeout(&self, t: Option<Duration>) {
        let ms = t.map_or(0, |d| (d.as_millis() as u64).max(1));
        self.write_timeout_ms.store(ms, Ordering::Relaxed);
    }

    fn write_timeout(&self) -> Option<Duration> {
        match self.write_timeout_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// When a write last made progress.
    pub(crate) fn last_write(&self) -> Instant {
        self.epoch + Duration::from_micros(self.last_write_us.load(Ordering::Relaxed))
    }

    /// Whether the socket is refusing our bytes right now.
    pub(crate) fn write_blocked(&self) -> bool {
        self.write_blocked.load(Ordering::Relaxed)
    }

    fn note_progress(&self) {
        let us = self.epoch.elapsed().as_micros() as u64;
        self.last_write_us.store(us, Ordering::Relaxed);
        self.write_blocked.store(false, Ordering::Relaxed);
    }
}

/// A TCP stream whose writes fail with a [`WriteStalled`] error when the socket accepts no
/// bytes for the write timeout.
pub(crate) struct ConnIo {
    tcp: TcpStream,
    state: Arc<IoState>,
    /// Armed while a write is pending; allocated on the first stall only.
    stall: Option<Pin<Box<Sleep>>>,
    stall_armed: bool,
}

impl ConnIo {
    pub(crate) fn new(tcp: TcpStream) -> (Self, Arc<IoState>) {
        let state = IoState::new();
        let io = ConnIo {
            tcp,
            state: state.clone(),
            stall: None,
            stall_armed: false,
        };
        (io, state)
    }

    fn on_write(
        &mut self,
        cx: &mut Context<'_>,
        res: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match res {
            Poll::Ready(Ok(n)) => {
                self.stall_armed = false;
                if n > 0 {
                    self.state.note_progress();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => {
                self.stall_armed = false;
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                self.state.write_blocked.store(true, Ordering::Relaxed);
                let Some(limit) = self.state.write_timeout() else {
                    return Poll::Pending;
                };
                if !self.stall_armed {
                    let deadline = tokio::time::Instant::now() + limit;
                    match &mut self.stall {
                        Some(s) => s.as_mut().reset(deadline),
                        None => self.stall = Some(Box::pin(tokio::time::sleep_until(deadline))),
                    }
                    self.stall_armed = true;
                }
                let stall = self.stall.as_mut().expect("armed above");
                ready!(stall.as_mut().poll(cx));
                self.stall_armed = false;
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    WriteStalled(limit),
                )))
            }
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.on_write(cx, res)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.on_write(cx, res)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

//! The WebSocket's socket under the codec: the bytes read past the handshake first, reads
//! ahead in bursts, and writes gathered or written as they are.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The WebSocket's socket: bytes already read (past the handshake) in front, reads ahead in
/// bursts, and writes coalesced.
///
/// Writes: the codec hands its frames over as a vectored write of two slices each (header,
/// payload), and tokio-util writes at most 64 slices per call: a flush of 100 small messages
/// took four system calls, and the peer answered in four smaller batches. Small writes are
/// copied into one buffer (at most [`WRITE_BUF`] bytes; it grows with use, so a connection
/// that only pings keeps a few bytes) that a flush writes at once; larger writes go straight
/// to the socket.
///
/// Reads: the codec reads into a buffer of 8 KiB. When a read fills it (more is likely
/// waiting), the next reads take up to [`READ_AHEAD`] bytes at once into a buffer of our own,
/// until one comes back short; then that buffer is freed (an idle connection keeps none).
/// 100 messages of 4 KiB in flight took one system call per two messages each way before.
pub(crate) struct WsIo<S> {
    io: S,
    wbuf: Vec<u8>,
    /// How much of `wbuf` is written.
    wpos: usize,
    /// Read (past the handshake, or ahead), not handed over yet: `rbuf[rpos..rend]`.
    rbuf: Vec<u8>,
    rpos: usize,
    rend: usize,
    /// The last read filled the caller's buffer: read ahead.
    burst: bool,
}

/// The most bytes read at once while reading ahead.
const READ_AHEAD: usize = 64 * 1024;

/// The largest run of small writes gathered into one system call.
const WRITE_BUF: usize = 16 * 1024;

/// Writes whose pieces average less than this are gathered; larger ones are written as
/// they are (a 4 KiB message gathered 16 KiB at a time took one system call per four).
const GATHER_BELOW: usize = 512;

impl<S: AsyncWrite + Unpin> WsIo<S> {
    /// `pre`: the bytes read past the handshake's head (usually none).
    pub(super) fn new(pre: Vec<u8>, io: S) -> Self {
        WsIo {
            io,
            wbuf: Vec::new(),
            wpos: 0,
            rend: pre.len(),
            rbuf: pre,
            rpos: 0,
            burst: false,
        }
    }

    /// Writes out the gathered bytes.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.wpos < self.wbuf.len() {
            let n =
                std::task::ready!(Pin::new(&mut self.io).poll_write(cx, &self.wbuf[self.wpos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wpos += n;
        }
        self.wbuf.clear();
        self.wpos = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_gather(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if !bufs.is_empty() && total >= GATHER_BELOW * bufs.len() {
            // Pieces this large go out as they are, in one vectored write, after what was
            // gathered before them (copying them would cost more than it saves).
            std::task::ready!(self.poll_drain(cx))?;
            return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        }
        if self.wbuf.len() + total > WRITE_BUF {
            std::task::ready!(self.poll_drain(cx))?;
        }
        if total >= WRITE_BUF {
            return Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        }
        for b in bufs {
            self.wbuf.extend_from_slice(b);
        }
        Poll::Ready(Ok(total))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WsIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.rpos == this.rend {
            if !this.burst || buf.remaining() >= READ_AHEAD {
                let before = buf.filled().len();
                std::task::ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
                this.burst = buf.remaining() == 0 && buf.filled().len() > before;
                return Poll::Ready(Ok(()));
            }
            if this.rbuf.len() < READ_AHEAD {
                this.rbuf = vec![0; READ_AHEAD];
            }
            let mut ahead = ReadBuf::new(&mut this.rbuf);
            std::task::ready!(Pin::new(&mut this.io).poll_read(cx, &mut ahead))?;
            let n = ahead.filled().len();
            (this.rpos, this.rend) = (0, n);
            if n < READ_AHEAD / 2 {
                this.burst = false;
            }
        }
        let n = (this.rend - this.rpos).min(buf.remaining());
        buf.put_slice(&this.rbuf[this.rpos..this.rpos + n]);
        this.rpos += n;
        if this.rpos == this.rend && !this.burst {
            // Drained and no burst: free the buffer (an idle connection keeps none).
            this.rbuf = Vec::new();
            (this.rpos, this.rend) = (0, 0);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WsIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_gather(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_gather(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn pair() -> (TcpStream, TcpStream) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (b, _) = l.accept().await.unwrap();
        (a, b)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    /// The codec reads 8 KiB at a time: a burst is read ahead in larger pieces, every byte
    /// arrives in order, and the buffer is freed once the burst is over.
    #[tokio::test]
    async fn a_burst_is_read_ahead_in_order_and_its_buffer_freed() {
        let (mut tx, rx) = pair().await;
        let want = pattern(3 << 20);
        let sent = want.clone();
        let writer = tokio::spawn(async move {
            tx.write_all(&sent).await.unwrap();
            tx
        });
        let mut io = WsIo::new(b"head-rest".to_vec(), rx);
        let mut got = Vec::new();
        let mut ahead = false;
        let mut chunk = vec![0u8; 8 * 1024];
        while got.len() < want.len() + 9 {
            let n = io.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
            ahead |= !io.rbuf.is_empty();
        }
        assert_eq!(&got[..9], b"head-rest");
        assert!(got[9..] == want[..], "the bytes came through in order");
        assert!(ahead, "3 MiB at once was read ahead");
        // A short read ends the burst and frees the buffer.
        let mut tx = writer.await.unwrap();
        tx.write_all(b"tail").await.unwrap();
        let mut tail = Vec::new();
        while tail.len() < 4 {
            let n = io.read(&mut chunk).await.unwrap();
            tail.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(tail, b"tail");
        assert_eq!(io.rbuf.capacity(), 0, "the read-ahead buffer is freed");
    }

    /// Small writes are gathered, large ones written as they are, in the order given.
    #[tokio::test]
    async fn gathered_and_direct_writes_keep_their_order() {
        let (tx, mut rx) = pair().await;
        let mut io = WsIo::new(Vec::new(), tx);
        let mut want = Vec::new();
        for i in 0..200usize {
            let piece = pattern(if i % 3 == 0 { 9000 + i } else { 10 + i % 50 });
            let head = [i as u8; 2];
            want.extend_from_slice(&head);
            want.extend_from_slice(&piece);
            let mut bufs = [io::IoSlice::new(&head), io::IoSlice::new(&piece)];
            let mut rest = &mut bufs[..];
            while !rest.is_empty() {
                let n = std::future::poll_fn(|cx| Pin::new(&mut io).poll_write_vectored(cx, rest))
                    .await
                    .unwrap();
                io::IoSlice::advance_slices(&mut rest, n);
            }
        }
        io.flush().await.unwrap();
        drop(io);
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.unwrap();
        assert!(got == want, "{} bytes, in order", want.len());
    }
}

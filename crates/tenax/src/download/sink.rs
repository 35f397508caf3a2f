//! The download's file writer: the body's chunks, as they arrived (no copy), gathered into
//! large vectored writes on the blocking pool, one write in flight while the next gathers.
//!
//! Why not `BufWriter<tokio::fs::File>`: it copied every byte twice on the way (into the
//! `BufWriter`, then into the file's own buffer) and crossed to the blocking pool every
//! 256 KiB (the figures: BENCHMARKS.md, "1 GiB download").

use std::fs::File;
use std::io::{self, IoSlice, Seek, SeekFrom, Write};
use std::path::Path;

use bytes::Bytes;
use tokio::task::JoinHandle;

/// Bytes gathered before a write is handed to the blocking pool. Memory held is at most
/// twice this (one batch being written, one gathering), plus the chunks' own buffers.
const BATCH_BYTES: usize = 1 << 20;

/// Chunks gathered before a write, whatever their size (a body of tiny chunks must not
/// build a huge list; the system takes at most 1,024 slices per call).
const BATCH_CHUNKS: usize = 256;

type Flight = JoinHandle<(File, io::Result<()>)>;

pub(super) struct FileSink {
    /// `None` while a write has it on the blocking pool.
    file: Option<File>,
    flight: Option<Flight>,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

impl FileSink {
    /// Creates (or empties) the file.
    pub(super) async fn create(path: &Path) -> io::Result<FileSink> {
        let path = path.to_path_buf();
        let file = blocking(move || File::create(path)).await?;
        Ok(FileSink {
            file: Some(file),
            flight: None,
            pending: Vec::new(),
            pending_bytes: 0,
        })
    }

    /// Queues a chunk; a full batch goes to the file (after the previous one is written, so
    /// memory stays bounded when the disk is slower than the network).
    pub(super) async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        self.pending_bytes += chunk.len();
        self.pending.push(chunk);
        if self.pending_bytes >= BATCH_BYTES || self.pending.len() >= BATCH_CHUNKS {
            self.submit().await?;
        }
        Ok(())
    }

    /// Everything queued is in the file (not necessarily on disk: see [`FileSink::sync`]).
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            self.submit().await?;
        }
        self.land().await
    }

    /// Empties the file, to write it again from the start.
    pub(super) async fn truncate(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.with_file(|f| {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0)).map(drop)
        })
        .await
    }

    /// Flushes, then syncs the file to disk.
    pub(super) async fn sync(&mut self) -> io::Result<()> {
        self.flush().await?;
        self.with_file(|f| f.sync_all()).await
    }

    async fn submit(&mut self) -> io::Result<()> {
        self.land().await?;
        let chunks = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        self.fly(move |file| write_all_chunks(file, &chunks))
    }

    /// Runs `f` on the file on the blocking pool, as the write in flight. Nothing is awaited
    /// between taking the file and recording the flight: cancelling a caller (a download's
    /// deadline) never loses the file.
    fn fly(
        &mut self,
        f: impl FnOnce(&mut File) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        let mut file = self.file.take().ok_or_else(lost)?;
        self.flight = Some(tokio::task::spawn_blocking(move || {
            let r = f(&mut file);
            (file, r)
        }));
        Ok(())
    }

    /// Waits for the write in flight, if any, and takes the file back. Cancel-safe: the
    /// flight stays recorded until it has landed.
    async fn land(&mut self) -> io::Result<()> {
        let Some(flight) = &mut self.flight else {
            return Ok(());
        };
        let landed = flight.await;
        self.flight = None;
        let (file, r) = landed.map_err(io::Error::other)?;
        self.file = Some(file);
        r
    }

    async fn with_file(
        &mut self,
        f: impl FnOnce(&mut File) -> io::Result<()> + Send + 'static,
    ) -> io::Result<()> {
        self.land().await?;
        self.fly(f)?;
        self.land().await
    }
}

/// The file went with a blocking task that panicked.
fn lost() -> io::Error {
    io::Error::other("the file was lost: a write to it panicked")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

/// Writes every chunk, in order, in as few system calls as the system allows.
fn write_all_chunks(file: &mut impl Write, chunks: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call, to exercise partial writes.
    struct Trickle {
        out: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_vectored_writes_keep_every_byte_in_order() {
        let chunks: Vec<Bytes> = (0..50u8)
            .map(|i| Bytes::from(vec![i; usize::from(i) * 3 + 1]))
            .collect();
        let want: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        for step in [1, 7, 64, 1 << 20] {
            let mut w = Trickle {
                out: Vec::new(),
                step,
            };
            write_all_chunks(&mut w, &chunks).unwrap();
            assert_eq!(w.out, want, "step {step}");
        }
    }

    /// A flush dropped while its write is in flight (a download's deadline) loses neither
    /// the file nor the write: the next flush lands it.
    #[tokio::test]
    async fn a_cancelled_flush_loses_nothing() {
        use futures_util::FutureExt;
        let dir = std::env::temp_dir().join(format!("tenax-sink-c-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut sink = FileSink::create(&path).await.unwrap();
        let mut want = Vec::new();
        for round in 0..20u8 {
            let chunk = Bytes::from(vec![round; 300_000]);
            want.extend_from_slice(&chunk);
            sink.write(chunk).await.unwrap();
            // Polled once: the batch goes to the blocking pool, then the future is dropped.
            assert!(sink.flush().now_or_never().is_none_or(|r| r.is_ok()));
        }
        sink.sync().await.unwrap();
        assert!(
            std::fs::read(&path).unwrap() == want,
            "every byte, in order"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn batches_flush_truncate_and_sync() {
        let dir = std::env::temp_dir().join(format!("tenax-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        let mut sink = FileSink::create(&path).await.unwrap();
        let mut want = Vec::new();
        // Over two batches by size and one by count.
        for i in 0..(BATCH_CHUNKS + 40) {
            let chunk = Bytes::from(vec![(i % 251) as u8; 9000]);
            want.extend_from_slice(&chunk);
            sink.write(chunk).await.unwrap();
        }
        sink.flush().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), want);
        sink.truncate().await.unwrap();
        sink.write(Bytes::from_static(b"again")).await.unwrap();
        sink.sync().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

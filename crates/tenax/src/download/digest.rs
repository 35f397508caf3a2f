//! A download's SHA-256, computed on a thread of its own while the transfer goes on.
//!
//! Hashing a gigabyte costs about as much CPU as receiving and writing it (SHA-NI runs at
//! ~1.5 GB/s). Done on the task that reads the body, it halved the download's rate; on a
//! blocking thread fed with the same chunks (shared, not copied), the transfer and the hash
//! overlap, and the rate drops only as far as the machine's spare cores allow
//! (BENCHMARKS.md, "1 GiB download").

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes gathered before they go to the hashing thread (one hand-over per batch, not per
/// chunk).
const BATCH_BYTES: usize = 1 << 20;

/// Batches queued for the hashing thread: when it falls behind, the transfer waits, so the
/// memory held stays under `(QUEUE + 2) × BATCH_BYTES` plus the chunks' own buffers.
const QUEUE: usize = 4;

/// A running SHA-256 fed with a download's chunks, in order.
pub(super) struct Hashing {
    tx: mpsc::Sender<Vec<Bytes>>,
    thread: JoinHandle<[u8; 32]>,
    pending: Vec<Bytes>,
    pending_bytes: usize,
}

impl Hashing {
    /// A new digest and its thread (from the runtime's blocking pool).
    pub(super) fn start() -> Hashing {
        let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(QUEUE);
        let thread = tokio::task::spawn_blocking(move || {
            let mut h = Sha256::new();
            while let Some(batch) = rx.blocking_recv() {
                for chunk in &batch {
                    h.update(chunk);
                }
            }
            h.finalize().into()
        });
        Hashing {
            tx,
            thread,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// Adds the next chunk (a shared reference to its bytes, not a copy).
    pub(super) async fn update(&mut self, chunk: &Bytes) {
        self.pending_bytes += chunk.len();
        self.pending.push(chunk.clone());
        if self.pending_bytes >= BATCH_BYTES {
            self.send().await;
        }
    }

    /// The digest of everything added.
    pub(super) async fn finish(mut self) -> std::io::Result<[u8; 32]> {
        self.send().await;
        drop(self.tx);
        self.thread.await.map_err(std::io::Error::other)
    }

    async fn send(&mut self) {
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        if !batch.is_empty() {
            // The thread only stops when this sender is gone (or it panicked, which
            // `finish` reports).
            let _ = self.tx.send(batch).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_digest_is_sha256_of_every_chunk_in_order() {
        let chunks: Vec<Bytes> = (0..300u32)
            .map(|i| Bytes::from(vec![(i % 251) as u8; (i as usize * 7919) % 40_000 + 1]))
            .collect();
        let mut h = Hashing::start();
        let mut want = Sha256::new();
        for c in &chunks {
            h.update(c).await;
            want.update(c);
        }
        let want: [u8; 32] = want.finalize().into();
        assert_eq!(h.finish().await.unwrap(), want);
        let empty: [u8; 32] = Sha256::new().finalize().into();
        assert_eq!(Hashing::start().finish().await.unwrap(), empty);
    }
}

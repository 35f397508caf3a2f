//! How far a request body has gone, as the connection pulls it: when the read timeout may
//! start (the whole body handed over) and, on HTTP/2, whether the body is stalled.
//!
//! HTTP/1.1 sees its writes on the socket, and a stalled socket fails the write timeout there.
//! An HTTP/2 stream shares its socket with other streams and PINGs, whose writes say nothing
//! about this request: its body moves only as the server's flow-control window lets it, and
//! hyper pulls the next chunk only once the last one found room. So on HTTP/2 the body is
//! handed over in frames of at most [`H2_PIECE`] bytes, and a body that no frame of which was
//! pulled for the write timeout (while it was not waiting for its own source) is stalled.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The largest piece of a body handed to an HTTP/2 stream at once: the protocol's default
/// frame size.
pub(crate) const H2_PIECE: usize = 16 * 1024;

const NOT_YET: u64 = u64::MAX;

/// The progress of one request body on one connection.
#[derive(Debug)]
pub(crate) struct SendProgress {
    start: Instant,
    /// Nanoseconds from `start` to the last piece pulled.
    last_pull: AtomicU64,
    /// Nanoseconds from `start` to the end of the body, `NOT_YET` before.
    ended: AtomicU64,
    /// The body's own source (a stream) had nothing ready when last asked: the wait is not the
    /// connection's.
    source_waiting: AtomicBool,
}

impl SendProgress {
    pub(crate) fn new() -> SendProgress {
        SendProgress {
            start: Instant::now(),
            last_pull: AtomicU64::new(0),
            ended: AtomicU64::new(NOT_YET),
            source_waiting: AtomicBool::new(false),
        }
    }

    fn since_start(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(NOT_YET - 1)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.start + Duration::from_nanos(nanos)
    }

    /// A piece was handed to the connection.
    pub(crate) fn pulled(&self) {
        self.source_waiting.store(false, Ordering::Relaxed);
        self.last_pull.store(self.since_start(), Ordering::Relaxed);
    }

    /// The body's source had nothing ready.
    pub(crate) fn source_waiting(&self) {
        self.source_waiting.store(true, Ordering::Relaxed);
    }

    /// The connection asked for more after the last piece: the whole body was handed over.
    pub(crate) fn end(&self) {
        let now = self.since_start();
        let _ = self
            .ended
            .compare_exchange(NOT_YET, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// When the whole body was handed over, if it was.
    pub(crate) fn ended_at(&self) -> Option<Instant> {
        let n = self.ended.load(Ordering::Relaxed);
        (n != NOT_YET).then(|| self.at(n))
    }

    /// When the body is stalled if nothing moves before: the last pull plus `write`; `None`
    /// while it waits for its own source.
    pub(crate) fn stalled_at(&self, write: Duration) -> Option<Instant> {
        if self.source_waiting.load(Ordering::Relaxed) {
            return None;
        }
        Some(self.at(self.last_pull.load(Ordering::Relaxed)) + write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_waiting_for_its_source_is_not_stalled() {
        let p = SendProgress::new();
        let w = Duration::from_secs(1);
        assert!(p.stalled_at(w).unwrap() <= Instant::now() + w);
        p.source_waiting();
        assert_eq!(p.stalled_at(w), None);
        p.pulled();
        assert!(p.stalled_at(w).is_some());
        assert_eq!(p.ended_at(), None);
        p.end();
        let first = p.ended_at().unwrap();
        p.end();
        assert_eq!(p.ended_at(), Some(first), "the first end counts");
    }
}

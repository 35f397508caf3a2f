//! The one sliding window of the request path: two counts over the last `window`, in ten
//! buckets (the retry budget counts requests and retries; a circuit breaker, attempts and
//! failures).

use std::time::{Duration, Instant};

const BUCKETS: usize = 10;

/// Two counts over a sliding window of ten buckets.
#[derive(Debug)]
pub(crate) struct Window {
    epoch: Instant,
    /// Index (in bucket units since `epoch`) of the newest bucket.
    head: u64,
    /// The width of one bucket, in microseconds: a tenth of the window.
    width_us: u64,
    a: [u32; BUCKETS],
    b: [u32; BUCKETS],
}

impl Window {
    pub(crate) fn new(now: Instant, window: Duration) -> Window {
        let width = (window / BUCKETS as u32).max(Duration::from_millis(1));
        Window {
            epoch: now,
            head: 0,
            width_us: width.as_micros() as u64,
            a: [0; BUCKETS],
            b: [0; BUCKETS],
        }
    }

    fn advance(&mut self, now: Instant) {
        let idx = self.bucket(now);
        let steps = idx.saturating_sub(self.head).min(BUCKETS as u64);
        for s in 1..=steps {
            let i = ((self.head + s) % BUCKETS as u64) as usize;
            self.a[i] = 0;
            self.b[i] = 0;
        }
        self.head = self.head.max(idx);
    }

    /// The bucket `now` falls in, counted from `epoch`.
    fn bucket(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.epoch);
        // In microseconds: u64 arithmetic, no 128-bit division on the request path.
        since.as_micros() as u64 / self.width_us
    }

    /// Adds to the counts of the bucket `now` falls in.
    pub(crate) fn add(&mut self, now: Instant, a: u32, b: u32) {
        self.advance(now);
        let i = (self.head % BUCKETS as u64) as usize;
        self.a[i] = self.a[i].saturating_add(a);
        self.b[i] = self.b[i].saturating_add(b);
    }

    /// Both counts over the window ending at `now`.
    pub(crate) fn sums(&mut self, now: Instant) -> (u64, u64) {
        self.advance(now);
        let sum = |c: &[u32]| c.iter().map(|&n| u64::from(n)).sum();
        (sum(&self.a), sum(&self.b))
    }

    /// Forgets everything counted.
    pub(crate) fn clear(&mut self) {
        self.a = [0; BUCKETS];
        self.b = [0; BUCKETS];
    }

    /// Whether anything was counted within the window before `now`.
    pub(crate) fn active(&self, now: Instant) -> bool {
        self.bucket(now) < self.head + BUCKETS as u64
    }
}

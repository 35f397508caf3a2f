//! Adaptive concurrency: a limit that grows while latency holds and shrinks when it climbs or
//! the server pushes back (AIMD, as TCP and Netflix's concurrency-limits do).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// How many requests a [`Batch`](crate::Batch) runs at once: a fixed number, or
/// [`Adaptive`]. A number converts into it, so `concurrency(20)` reads as before.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Concurrency {
    /// At most this many at once.
    Fixed(usize),
    /// A limit found as the batch runs.
    Adaptive(Adaptive),
}

impl From<usize> for Concurrency {
    fn from(n: usize) -> Self {
        Concurrency::Fixed(n.max(1))
    }
}

impl From<Adaptive> for Concurrency {
    fn from(a: Adaptive) -> Self {
        Concurrency::Adaptive(a)
    }
}

/// A concurrency limit that adapts to the server: it starts at `initial`, doubles while
/// responses come back as fast as the fastest (slow start, until latency starts to rise),
/// then grows by one per round trip. It is cut by
/// `backoff`, once per round trip, when a request met overload — a timeout, a connection
/// refused or broken, a `429` or `503` on any attempt — or when latency passes `tolerance`
/// times the fastest seen plus `slack` (requests queue at the server); a request that met
/// overload is not replaced until the limit allows. It stays within `min..=max`.
///
/// ```no_run
/// # async fn demo(client: tenax::Client) {
/// use futures_util::StreamExt;
/// let reqs = (0..10_000).map(|i| client.get(format!("http://127.0.0.1:8080/item/{i}")));
/// let mut batch = client.batch(reqs).concurrency(tenax::Adaptive::default());
/// while let Some((_, res)) = batch.next().await {
///     let _ = res;
/// }
/// println!("settled at {} in flight", batch.limit());
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Adaptive {
    /// The lowest limit. Default is 1.
    pub min: usize,
    /// The highest limit. Default is 1,024.
    pub max: usize,
    /// The limit to start from. Default is 4.
    pub initial: usize,
    /// What the limit is multiplied by on a sign of overload. Default is 0.9.
    pub backoff: f64,
    /// Latency above `tolerance` × the fastest seen (plus `slack`) is a sign of queueing.
    /// Default is 1.5.
    pub tolerance: f64,
    /// Latency allowed above the tolerance, so that a fast server's microseconds of jitter
    /// are not taken for queueing. Default is 1 ms.
    pub slack: Duration,
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive {
            min: 1,
            max: 1024,
            initial: 4,
            backoff: 0.9,
            tolerance: 1.5,
            slack: Duration::from_millis(1),
        }
    }
}

impl Adaptive {
    /// Within `min..=max`. Default is `1..=1024`.
    #[must_use]
    pub fn bounds(mut self, min: usize, max: usize) -> Self {
        self.min = min.max(1);
        self.max = max.max(self.min);
        self
    }

    /// The limit to start from. Default is 4.
    #[must_use]
    pub fn initial(mut self, n: usize) -> Self {
        self.initial = n.max(1);
        self
    }
}

/// Set by the request path when an attempt of the request met overload (see [`Adaptive`]).
pub(crate) type Overload = Arc<AtomicBool>;

/// Whether an attempt's outcome is a sign of overload.
pub(crate) fn overloaded(status: Option<http::StatusCode>, err: Option<&crate::Error>) -> bool {
    match (status, err) {
        (Some(s), _) => matches!(s.as_u16(), 429 | 503),
        (None, Some(e)) => {
            crate::retry::is_transient(e, crate::retry::WriteStall::Transient)
                || e.is_circuit_open()
        }
        (None, None) => false,
    }
}

/// The limit as it runs.
#[derive(Debug)]
pub(crate) struct Limiter {
    cfg: Adaptive,
    limit: f64,
    slow_start: bool,
    /// The fastest completion seen.
    fastest: Option<Duration>,
    last_cut: Option<Instant>,
}

impl Limiter {
    pub(crate) fn new(cfg: Adaptive) -> Limiter {
        let cfg = cfg.bounds(cfg.min, cfg.max);
        Limiter {
            limit: cfg.initial.clamp(cfg.min, cfg.max) as f64,
            cfg,
            slow_start: true,
            fastest: None,
            last_cut: None,
        }
    }

    /// The limit now.
    pub(crate) fn limit(&self) -> usize {
        self.limit as usize
    }

    /// A request ended after `latency`; `in_flight` were running with it.
    pub(crate) fn completed(
        &mut self,
        latency: Duration,
        overload: bool,
        in_flight: usize,
        now: Instant,
    ) {
        let fastest = *self.fastest.get_or_insert(latency);
        if !overload {
            self.fastest = Some(fastest.min(latency));
        }
        let queued = latency > fastest.mul_f64(self.cfg.tolerance) + self.cfg.slack;
        // One cut per round trip: the completions of one burst say the same thing.
        if (overload || queued)
            && self
                .last_cut
                .is_none_or(|t| now.duration_since(t) >= fastest)
        {
            self.limit *= self.cfg.backoff;
            self.last_cut = Some(now);
            self.slow_start = false;
        }
        if overload {
            // The server refused what is in flight: the refused request is not replaced (a
            // fast refusal would otherwise be replaced as fast as it comes).
            self.limit = self.limit.min(in_flight.saturating_sub(1) as f64);
        }
        self.limit = self.limit.max(self.cfg.min as f64);
        if overload || queued {
            return;
        }
        // Slow start ends at the first rise of latency, half way to the tolerance: doubling
        // once more would overshoot by a whole round trip of requests.
        let rising = fastest.mul_f64(1.0 + (self.cfg.tolerance - 1.0) / 2.0) + self.cfg.slack / 2;
        if self.slow_start && latency > rising {
            self.slow_start = false;
        }
        // Grow only while the limit is being used.
        if in_flight as f64 * 2.0 >= self.limit {
            let step = if self.slow_start {
                1.0
            } else {
                1.0 / self.limit
            };
            self.limit = (self.limit + step).min(self.cfg.max as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_while_latency_holds_and_shrinks_on_queueing_and_overload() {
        let mut l = Limiter::new(Adaptive::default());
        let t0 = Instant::now();
        let fast = Duration::from_millis(20);
        for i in 0..100 {
            let lim = l.limit();
            l.completed(fast, false, lim, t0 + fast * i);
        }
        let grown = l.limit();
        assert!(grown > 50, "slow start doubles: {grown}");
        // Latency climbs past 1.5 × 20 ms + 1 ms: cut, once per round trip.
        let t1 = t0 + Duration::from_secs(10);
        l.completed(Duration::from_millis(60), false, grown, t1);
        l.completed(Duration::from_millis(60), false, grown, t1);
        assert_eq!(l.limit(), (grown as f64 * 0.9) as usize);
        // A 503 (overload) cuts too, however fast it came.
        let t2 = t1 + Duration::from_secs(1);
        let before = l.limit();
        l.completed(Duration::from_millis(1), true, before, t2);
        assert!(l.limit() < before);
        // After slow start, growth is one per limit's worth of completions.
        let lim = l.limit();
        for k in 0..lim {
            l.completed(fast, false, lim, t2 + fast * (k as u32 + 1));
        }
        assert_eq!(l.limit(), lim + 1);
    }

    #[test]
    fn an_unused_limit_does_not_grow_and_bounds_hold() {
        let cfg = Adaptive::default().bounds(2, 8).initial(100);
        let mut l = Limiter::new(cfg);
        assert_eq!(l.limit(), 8);
        let t0 = Instant::now();
        for _ in 0..100 {
            l.completed(
                Duration::from_millis(1),
                true,
                1,
                t0 + Duration::from_secs(1000),
            );
        }
        assert!(l.limit() >= 2);
        let mut l = Limiter::new(Adaptive::default().initial(10));
        for i in 0..100 {
            l.completed(
                Duration::from_millis(1),
                false,
                1,
                t0 + Duration::from_millis(i),
            );
        }
        assert_eq!(l.limit(), 10);
    }
}

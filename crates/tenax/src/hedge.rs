//! Hedged requests: when a response head is slow to come, a second attempt goes out on another
//! connection, and the first head to arrive wins (the tail-at-scale remedy of Dean and Barroso,
//! as in gRPC's and tower's hedging).
//!
//! Off by default; per request with [`RequestBuilder::hedge`](crate::RequestBuilder::hedge),
//! for every request with [`ClientBuilder::hedge`](crate::ClientBuilder::hedge). Only requests
//! that may be retried are hedged (idempotent methods, or POST/PATCH with an
//! `Idempotency-Key`) and only with a body that can be sent twice. Each hedge takes a retry
//! from the host's retry budget (no hedge when it is spent: hedging cannot double the load of
//! a host in trouble) and a token from its rate limit, if any (no hedge without one). The
//! attempts that lose are cancelled: their connections are closed. The response says how many
//! attempts went and which won ([`Response::hedges`](crate::Response::hedges)).

use std::time::{Duration, Instant};

use crate::host_map::HostState;

/// When to send a hedge, and how many; see the [module docs](self).
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Hedge {
    pub(crate) delay: Delay,
    pub(crate) max_hedges: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Delay {
    Fixed(Duration),
    /// The host's observed head latency at this quantile, `initial` until enough samples.
    Quantile {
        q: f64,
        initial: Duration,
        floor: Duration,
    },
}

/// Head latencies a host must have shown before its quantile is trusted.
const MIN_SAMPLES: u32 = 20;

impl Hedge {
    /// A hedge after `delay` without a response head. One hedge at most (see
    /// [`max_hedges`](Self::max_hedges)).
    pub fn after(delay: Duration) -> Hedge {
        Hedge {
            delay: Delay::Fixed(delay),
            max_hedges: 1,
        }
    }

    /// A hedge once the wait passes the host's observed head latency at quantile `q`
    /// (`0.95`: slower than 95 % of its recent responses), learnt from this client's hedged
    /// requests to it (the last 512 to 1,024). Until 20 have been seen, the delay is
    /// `initial` (default 1 s); it is never under a floor (default 1 ms).
    pub fn quantile(q: f64) -> Hedge {
        Hedge {
            delay: Delay::Quantile {
                q: q.clamp(0.0, 1.0),
                initial: Duration::from_secs(1),
                floor: Duration::from_millis(1),
            },
            max_hedges: 1,
        }
    }

    /// With [`quantile`](Self::quantile): the delay until the host has shown enough
    /// responses. Default is 1 s.
    #[must_use]
    pub fn initial_delay(mut self, d: Duration) -> Hedge {
        if let Delay::Quantile { initial, .. } = &mut self.delay {
            *initial = d;
        }
        self
    }

    /// With [`quantile`](Self::quantile): the shortest delay. Default is 1 ms.
    #[must_use]
    pub fn min_delay(mut self, d: Duration) -> Hedge {
        if let Delay::Quantile { floor, .. } = &mut self.delay {
            *floor = d;
        }
        self
    }

    /// The most hedges per attempt, each one delay after the one before. Default is 1.
    #[must_use]
    pub fn max_hedges(mut self, n: u32) -> Hedge {
        self.max_hedges = n;
        self
    }

    /// The delay before a hedge, given the host's latencies.
    pub(crate) fn delay(&self, latencies: Option<&Latencies>) -> Duration {
        match self.delay {
            Delay::Fixed(d) => d,
            Delay::Quantile { q, initial, floor } => latencies
                .and_then(|l| l.quantile(q))
                .unwrap_or(initial)
                .max(floor),
        }
    }

    pub(crate) fn learns(&self) -> bool {
        matches!(self.delay, Delay::Quantile { .. })
    }
}

/// How a response's attempts were hedged: how many went at once, which won.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hedges {
    /// Hedges sent (0 when the first attempt answered in time), over all attempts.
    pub sent: u32,
    /// Whether a hedge's head arrived first (the response is the hedge's).
    pub won: bool,
}

/// A host's recent head latencies, in logarithmic buckets (about 10 % wide) over two
/// generations of 512 samples each, so the quantile follows the host as it changes.
#[derive(Debug)]
pub(crate) struct Latencies {
    current: [u32; BUCKETS],
    previous: [u32; BUCKETS],
    in_current: u32,
    in_previous: u32,
    last: Instant,
}

const BUCKETS: usize = 160;
const GENERATION: u32 = 512;
/// The first bucket's upper edge, in microseconds.
const BASE_US: f64 = 10.0;
const GROWTH: f64 = 1.1;

impl Latencies {
    pub(crate) fn new(now: Instant) -> Latencies {
        Latencies {
            current: [0; BUCKETS],
            previous: [0; BUCKETS],
            in_current: 0,
            in_previous: 0,
            last: now,
        }
    }

    pub(crate) fn record(&mut self, d: Duration, now: Instant) {
        let us = d.as_secs_f64() * 1e6;
        let b = if us <= BASE_US {
            0
        } else {
            ((us / BASE_US).ln() / GROWTH.ln()).ceil() as usize
        };
        self.current[b.min(BUCKETS - 1)] += 1;
        self.in_current += 1;
        self.last = now;
        if self.in_current == GENERATION {
            self.previous = self.current;
            self.in_previous = self.in_current;
            self.current = [0; BUCKETS];
            self.in_current = 0;
        }
    }

    /// The latency under which a share `q` of the samples lie (its bucket's upper edge);
    /// `None` with too few samples.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.in_current + self.in_previous;
        if n < MIN_SAMPLES {
            return None;
        }
        let rank = ((f64::from(n) * q).ceil() as u32).clamp(1, n);
        let mut seen = 0;
        for b in 0..BUCKETS {
            seen += self.current[b] + self.previous[b];
            if seen >= rank {
                let us = BASE_US * GROWTH.powi(b as i32);
                return Some(Duration::from_secs_f64(us / 1e6));
            }
        }
        None
    }
}

impl HostState for Latencies {
    fn idle(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last) > Duration::from_secs(300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quantile_is_within_a_bucket_and_waits_for_samples() {
        let now = Instant::now();
        let mut l = Latencies::new(now);
        for ms in 1..=19 {
            l.record(Duration::from_millis(ms), now);
        }
        assert_eq!(l.quantile(0.95), None);
        for ms in 20..=100 {
            l.record(Duration::from_millis(ms), now);
        }
        let p95 = l.quantile(0.95).unwrap().as_secs_f64() * 1e3;
        assert!((95.0..=95.0 * 1.1).contains(&p95), "{p95}");
        let hedge = Hedge::quantile(0.95).min_delay(Duration::from_millis(500));
        assert_eq!(hedge.delay(Some(&l)), Duration::from_millis(500));
        assert_eq!(Hedge::quantile(0.5).delay(None), Duration::from_secs(1));
    }

    #[test]
    fn old_samples_age_out_after_two_generations() {
        let now = Instant::now();
        let mut l = Latencies::new(now);
        for _ in 0..GENERATION {
            l.record(Duration::from_secs(1), now);
        }
        for _ in 0..2 * GENERATION {
            l.record(Duration::from_millis(1), now);
        }
        let p99 = l.quantile(0.99).unwrap();
        assert!(p99 < Duration::from_millis(2), "{p99:?}");
    }
}

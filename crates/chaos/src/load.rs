//! Routes that behave like a loaded server: a slow tail (`/tail`) and a fixed capacity
//! (`/capacity/{c}`). Resilience features (hedging, adaptive concurrency) are measured on them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::StatusCode;
use tokio::sync::Semaphore;

use crate::query::Query;
use crate::routes::{RouteResult, bad, seg, text};
use crate::server::Shared;
use crate::stats::lock;

/// `/tail?p=0.05&ms=2000[&fast_ms=0][&seed=S]`: a share `p` of the requests answers after `ms`
/// milliseconds, the others after `fast_ms`. Which ones are slow follows a sequence fixed by
/// `seed` and the server's count of `/tail` calls, so a run is repeatable. With `every=N`
/// instead of `p`, exactly the calls 0, N, 2N… (counted by the server) are slow.
pub(crate) async fn tail(q: &Query, shared: &Shared) -> RouteResult {
    let p: f64 = q.num("p", 0.05).map_err(bad)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(bad("p must be between 0 and 1"));
    }
    let slow_ms: u64 = q.num("ms", 2000).map_err(bad)?;
    let fast_ms: u64 = q.num("fast_ms", 0).map_err(bad)?;
    let seed: u64 = q.num("seed", 0).map_err(bad)?;
    let every: Option<u64> = q
        .get("every")
        .map(|_| q.num("every", 1))
        .transpose()
        .map_err(bad)?;
    let n = shared.load.tail_calls.fetch_add(1, Ordering::Relaxed);
    let slow = match every {
        Some(k) => n.is_multiple_of(k.max(1)),
        None => {
            (splitmix64(seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as f64 / u64::MAX as f64) < p
        }
    };
    let (ms, which) = if slow {
        (slow_ms, "slow\n")
    } else {
        (fast_ms, "fast\n")
    };
    wait(Duration::from_millis(ms), shared).await?;
    Ok(text(StatusCode::OK, which))
}

/// `/capacity/{c}?ms=20`: a server that works on `c` requests at once (each takes `ms`), queues
/// `c` more (their latency climbs), and answers 503 at once to any request beyond `2c` in
/// flight. Requests with the same `c` share the capacity.
pub(crate) async fn capacity(c: &str, q: &Query, shared: &Shared) -> RouteResult {
    let c: u64 = seg(c, "capacity")?;
    if c == 0 || c > 100_000 {
        return Err(bad("capacity must be between 1 and 100000"));
    }
    let ms: u64 = q.num("ms", 20).map_err(bad)?;
    let station = shared.load.station(c);
    let now = station.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    let _out = Leave(&station.in_flight);
    if now > 2 * c {
        shared.load.rejected.fetch_add(1, Ordering::Relaxed);
        return Err((StatusCode::SERVICE_UNAVAILABLE, "over capacity".into()));
    }
    let _worker = station
        .workers
        .acquire()
        .await
        .map_err(|_| (StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()))?;
    wait(Duration::from_millis(ms), shared).await?;
    Ok(text(StatusCode::OK, "served\n"))
}

/// The load routes' state.
#[derive(Default)]
pub(crate) struct Load {
    tail_calls: AtomicU64,
    /// 503s answered by `/capacity` routes.
    pub(crate) rejected: AtomicU64,
    stations: std::sync::Mutex<HashMap<u64, Arc<Station>>>,
}

impl Load {
    fn station(&self, c: u64) -> Arc<Station> {
        lock(&self.stations)
            .entry(c)
            .or_insert_with(|| {
                Arc::new(Station {
                    in_flight: AtomicU64::new(0),
                    workers: Semaphore::new(c as usize),
                })
            })
            .clone()
    }
}

/// One capacity: its workers and the requests it holds (working or queued).
struct Station {
    in_flight: AtomicU64,
    workers: Semaphore,
}

/// Counts a request out of its station however its handler ends (a client that gives up
/// drops the handler).
struct Leave<'a>(&'a AtomicU64);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn wait(d: Duration, shared: &Shared) -> Result<(), (StatusCode, String)> {
    if d.is_zero() {
        return Ok(());
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => Ok(()),
        _ = shared.shutdown_signal() => Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down".into())),
    }
}

/// A 64-bit mix (SplitMix64's finaliser): evenly spread bits from a counter.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_sequence_has_the_asked_share() {
        let slow = (0..100_000u64)
            .filter(|n| {
                (splitmix64(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as f64 / u64::MAX as f64) < 0.05
            })
            .count();
        assert!((4_500..5_500).contains(&slow), "{slow}");
    }
}

//! Resilience beyond retries, each measured side by side with the client without it, against
//! one tenax-chaos server on its own thread:
//!
//! - breaker: 2,000 requests, one every 6 ms, to a host that goes down 1 s in and stays down
//!   5 s (the 6 s after it are long enough for one break duration): attempts that reached the dead host, how fast requests failed during the outage,
//!   how soon traffic came back after it (default retry policy in both runs);
//! - hedging: 1,000 GETs of `/tail?p=0.05&ms=2000` at 20 at a time: p99 with a hedge past
//!   the observed p95 and without, and the extra requests sent;
//! - adaptive: `/capacity/16?ms=20` at fixed concurrencies 4…256 and adaptive (no retries, so
//!   a 503 is a result): successful responses a second and the share of 503s; then
//!   `/bytes/13` at a fixed 256 and adaptive.
//!
//! `cargo bench -p tenax-bench --bench resilience [-- breaker|hedging|adaptive]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::events::{Event, EventKind};
use tenax::{Adaptive, Client, Concurrency, Hedge, retry};
use tenax_chaos::ChaosServer;

fn main() {
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        if wants("breaker") {
            breaker().await;
        }
        if wants("hedging") {
            hedging().await;
        }
        if wants("adaptive") {
            adaptive().await;
        }
    });
}

// ===== breaker =====

/// What one outage run saw.
#[derive(Debug, Default)]
struct Outage {
    /// Attempts that went to the network while the host was down.
    reached: u64,
    /// Requests that ended while the host was down, and their latencies.
    during: Vec<Duration>,
    /// From the host's recovery to the first success.
    back: Option<Duration>,
    refused: u64,
}

async fn breaker() {
    println!("== breaker: 2,000 requests, one every 6 ms; the host is down from 1 s to 6 s ==");
    let plain = outage_run(None).await;
    let policy = tenax::breaker::Policy::default();
    let guarded = outage_run(Some(policy)).await;
    for (name, r) in [
        ("no breaker", &plain),
        ("breaker (default policy)", &guarded),
    ] {
        let mut during = r.during.clone();
        during.sort();
        let pct = |p: usize| {
            during
                .get(during.len() * p / 100)
                .copied()
                .unwrap_or_default()
        };
        println!(
            "{name:>26}: attempts to the dead host {:>5} ({:.1} % of 2,000 requests); \
             {} requests ended in the outage, p50 {:.3} ms, p99 {:.3} ms; refused {}; \
             traffic back {} after recovery",
            r.reached,
            r.reached as f64 / 20.0,
            during.len(),
            pct(50).as_secs_f64() * 1e3,
            pct(99).as_secs_f64() * 1e3,
            r.refused,
            r.back.map_or("never".into(), |d| format!(
                "{:.0} ms",
                d.as_secs_f64() * 1e3
            )),
        );
    }
    println!(
        "ratio: {:.3} of the attempts to the dead host",
        guarded.reached as f64 / plain.reached.max(1) as f64
    );
}

async fn outage_run(policy: Option<tenax::breaker::Policy>) -> Outage {
    let server = ChaosServer::builder().start_in_thread().unwrap();
    let down = Arc::new(std::sync::Mutex::new(false));
    let reached = Arc::new(AtomicU64::new(0));
    let hook = {
        let (down, reached) = (down.clone(), reached.clone());
        move |e: &Event| {
            let attempt = matches!(
                e.kind,
                EventKind::AttemptFailed { .. } | EventKind::ResponseHead { .. }
            );
            if attempt && *down.lock().unwrap() {
                reached.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let mut b = Client::builder().on_event(hook);
    if let Some(p) = policy {
        b = b.circuit_breaker(p);
    }
    let client = b.build().unwrap();
    let url = server.url("/bytes/13");
    let start = Instant::now();
    let down_at = start + Duration::from_secs(1);
    let mut tasks = futures_util::stream::FuturesUnordered::new();
    let mut all = Vec::new();
    let mut outage = None;
    for i in 0..2000u32 {
        tokio::time::sleep_until((start + Duration::from_millis(6) * i).into()).await;
        if outage.is_none() && Instant::now() >= down_at {
            server.outage(Duration::from_secs(5)).await;
            *down.lock().unwrap() = true;
            outage = Some(Instant::now());
        }
        if *down.lock().unwrap() && !server.is_down() {
            *down.lock().unwrap() = false;
        }
        let (c, u) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let res = c.get(u).send().await;
            (t, Instant::now(), res.map(|r| r.status()))
        }));
        // Collect what has finished, without waiting.
        while let Some(Some(done)) = futures_util::FutureExt::now_or_never(tasks.next()) {
            all.push(done.unwrap());
        }
    }
    while let Some(done) = tasks.next().await {
        all.push(done.unwrap());
    }
    let mut r = Outage::default();
    for (began, ended, res) in all {
        let in_outage = outage.is_some_and(|o| ended >= o && ended < o + Duration::from_secs(5));
        if in_outage {
            r.during.push(ended - began);
        }
        match res {
            Ok(s) if s == 200 => {
                if let Some(o) = outage {
                    let up = o + Duration::from_secs(5);
                    if ended >= up {
                        let after = ended - up;
                        r.back = Some(r.back.map_or(after, |b: Duration| b.min(after)));
                    }
                }
            }
            Err(e) if e.is_circuit_open() => r.refused += 1,
            _ => {}
        }
    }
    r.reached = reached.load(Ordering::Relaxed);
    server.shutdown().await;
    r
}

// ===== hedging =====

async fn hedging() {
    println!("== hedging: 1,000 GETs of /tail?p=0.05&ms=2000, 20 at a time ==");
    let server = ChaosServer::builder().start_in_thread().unwrap();
    let url = server.url("/tail?p=0.05&ms=2000&seed=1");
    let (plain_p99, plain_p50, _) = tail_run(&url, None).await;
    let hedge = Hedge::quantile(0.95).initial_delay(Duration::from_millis(250));
    let (p99, p50, sent) = tail_run(&url, Some(hedge)).await;
    println!(
        "{:>26}: p50 {:.1} ms, p99 {:.1} ms",
        "no hedging",
        plain_p50 * 1e3,
        plain_p99 * 1e3
    );
    println!(
        "{:>26}: p50 {:.1} ms, p99 {:.1} ms; {sent} hedges ({:.1} % more requests)",
        "hedge past p95",
        p50 * 1e3,
        p99 * 1e3,
        f64::from(sent) / 10.0
    );
    println!("ratio: p99 {:.3} of the unhedged", p99 / plain_p99);
    server.shutdown().await;
}

/// p99 and p50 latency in seconds, and the hedges sent.
async fn tail_run(url: &str, hedge: Option<Hedge>) -> (f64, f64, u32) {
    let mut b = Client::builder();
    if let Some(h) = hedge {
        b = b.hedge(h);
    }
    let client = b.build().unwrap();
    let reqs = (0..1000).map(|_| client.get(url));
    let mut batch = client
        .batch_with(reqs, |req| async move {
            let t = Instant::now();
            let res = req.send().await.unwrap();
            let sent = res.hedges().sent;
            res.bytes().await.unwrap();
            (t.elapsed(), sent)
        })
        .concurrency(20);
    let (mut lat, mut sent) = (Vec::new(), 0);
    while let Some((_, (took, s))) = batch.next().await {
        lat.push(took.as_secs_f64());
        sent += s;
    }
    lat.sort_by(f64::total_cmp);
    (lat[lat.len() * 99 / 100 - 1], lat[lat.len() / 2], sent)
}

// ===== adaptive =====

async fn adaptive() {
    println!(
        "== adaptive: /capacity/16?ms=20 (16 at once, 16 queued, 503 beyond 32), 2,000 GETs =="
    );
    let server = ChaosServer::builder().start_in_thread().unwrap();
    let url = server.url("/capacity/16?ms=20");
    // The best fixed concurrency: the highest rate of successes among the runs that served
    // (nearly) every request; a run refused 98 % of the time is fast, and useless.
    let mut best = (0.0f64, 0usize);
    for c in [4, 8, 16, 24, 32, 64, 128, 256] {
        let r = capacity_run(&server, &url, 2000, c.into()).await;
        println!("{:>26}: {r}", format!("fixed {c}"));
        if r.refused_pct <= 1.0 && r.ok_rate > best.0 {
            best = (r.ok_rate, c);
        }
    }
    let auto = capacity_run(&server, &url, 2000, Adaptive::default().into()).await;
    println!("{:>26}: {auto}", "adaptive");
    println!(
        "ratio: adaptive {:.3} of the best fixed ({}), 503s {:.2} %, limit min/median/max {}/{}/{}",
        auto.ok_rate / best.0,
        best.1,
        auto.refused_pct,
        auto.limits.0,
        auto.limits.1,
        auto.limits.2
    );
    println!("== adaptive: /bytes/13, 100,000 GETs ==");
    let url = server.url("/bytes/13");
    for c in [16, 64] {
        let r = capacity_run(&server, &url, 100_000, c.into()).await;
        println!("{:>26}: {r}", format!("fixed {c}"));
    }
    let fixed = capacity_run(&server, &url, 100_000, 256.into()).await;
    println!("{:>26}: {fixed}", "fixed 256");
    let auto = capacity_run(&server, &url, 100_000, Adaptive::default().into()).await;
    println!("{:>26}: {auto}", "adaptive");
    println!(
        "ratio: adaptive {:.3} of fixed 256",
        auto.ok_rate / fixed.ok_rate
    );
    server.shutdown().await;
}

struct CapacityRun {
    ok: u64,
    wall: f64,
    ok_rate: f64,
    refused_pct: f64,
    /// The limit over the run: min, median, max of the limits seen at each completion.
    limits: (usize, usize, usize),
}

impl std::fmt::Display for CapacityRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6} ok in {:>5.2} s: {:>7.0} ok/s, {:>5.2} % 503s, limit {}/{}/{}",
            self.ok,
            self.wall,
            self.ok_rate,
            self.refused_pct,
            self.limits.0,
            self.limits.1,
            self.limits.2
        )
    }
}

async fn capacity_run(server: &ChaosServer, url: &str, n: usize, c: Concurrency) -> CapacityRun {
    let client = Client::builder()
        .retry(retry::Policy::none())
        .max_connections(512)
        .max_idle_per_host(512)
        .build()
        .unwrap();
    let before = server.capacity_rejections();
    let t = Instant::now();
    let mut batch = client
        .batch_with((0..n).map(|_| client.get(url)), |req| async move {
            let res = req.send().await.unwrap();
            let ok = res.status() == 200;
            res.bytes().await.unwrap();
            ok
        })
        .concurrency(c);
    let (mut ok, mut limits) = (0u64, Vec::with_capacity(n));
    while let Some((_, good)) = batch.next().await {
        ok += u64::from(good);
        limits.push(batch.limit());
    }
    let wall = t.elapsed().as_secs_f64();
    limits.sort_unstable();
    client.close().await;
    CapacityRun {
        ok,
        wall,
        ok_rate: ok as f64 / wall,
        refused_pct: (server.capacity_rejections() - before) as f64 * 100.0 / n as f64,
        limits: (
            limits[0],
            limits[limits.len() / 2],
            limits[limits.len() - 1],
        ),
    }
}

//! Demo segments beyond retries: a circuit breaker over an outage, hedging against a slow
//! tail, a per-host rate limit, and adaptive batch concurrency against a fixed capacity.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::{Adaptive, Client, Concurrency, Hedge, RateLimit, retry};
use tenax_chaos::ChaosServer;

use crate::demo::{Row, pass_if};

pub async fn segments(plain: &ChaosServer) -> Vec<Row> {
    vec![
        breaker().await,
        hedging(plain).await,
        rate_limit(plain).await,
        adaptive(plain).await,
    ]
}

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

/// Requests every 2 ms over a 600 ms outage: how many reach the dead host, with and without a
/// breaker, and how soon traffic is back. Its own server: the outage must not touch the others.
async fn breaker() -> Row {
    let segment = "05 circuit breaker, host down 0.6 s";
    let Ok(server) = ChaosServer::builder().start_in_thread() else {
        return Row::fail(segment, "could not start a server");
    };
    let t = Instant::now();
    let pause = Duration::from_millis(300);
    let policy = tenax::breaker::Policy::default()
        .min_throughput(10)
        .break_duration(pause);
    let (plain, guarded) = (
        outage_run(&server, None).await,
        outage_run(&server, Some(policy)).await,
    );
    server.shutdown().await;
    let (Some(plain), Some(guarded)) = (plain, guarded) else {
        return Row::fail(segment, "the host did not come back");
    };
    Row {
        segment,
        status: pass_if(guarded.reached * 4 < plain.reached && guarded.back <= pause * 2),
        detail: format!(
            "{} of {} requests reached the dead host ({} of {} without a breaker); the others \
             failed in {:.0} µs each; traffic back {:.0} ms after the host",
            guarded.reached,
            guarded.sent,
            plain.reached,
            plain.sent,
            guarded.refused_each.as_secs_f64() * 1e6,
            guarded.back.as_secs_f64() * 1e3,
        ),
        ms: ms(t.elapsed()),
    }
}

struct OutageRun {
    sent: u32,
    reached: u32,
    refused_each: Duration,
    back: Duration,
}

/// One request every 2 ms from the start of a 600 ms outage until one succeeds.
async fn outage_run(
    server: &ChaosServer,
    policy: Option<tenax::breaker::Policy>,
) -> Option<OutageRun> {
    let mut b = Client::builder().retry(retry::Policy::none());
    if let Some(p) = policy {
        b = b.circuit_breaker(p);
    }
    let client = b.build().ok()?;
    let url = server.url("/bytes/1");
    server.outage(Duration::from_millis(600)).await;
    let up_at = Instant::now() + Duration::from_millis(600);
    let (mut sent, mut reached, mut refused, mut refused_time) = (0, 0, 0u32, Duration::ZERO);
    let give_up = Instant::now() + Duration::from_secs(5);
    while Instant::now() < give_up {
        sent += 1;
        let t = Instant::now();
        match client.get(&url).send().await {
            Ok(_) => {
                let back = Instant::now().saturating_duration_since(up_at);
                let refused_each = refused_time / refused.max(1);
                return Some(OutageRun {
                    sent,
                    reached,
                    refused_each,
                    back,
                });
            }
            Err(e) if e.is_circuit_open() => {
                refused += 1;
                refused_time += t.elapsed();
            }
            Err(_) => reached += 1,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// 300 requests, 20 at a time, to a route where one in twenty answers after 400 ms: the p99
/// without hedging and with a hedge past the observed p95.
async fn hedging(server: &ChaosServer) -> Row {
    let segment = "05 hedged requests, slow tail (p95)";
    let t = Instant::now();
    let url = server.url("/tail?p=0.05&ms=400&seed=7");
    let plain = tail_run(&url, None).await;
    let hedge = Hedge::quantile(0.95).initial_delay(Duration::from_millis(100));
    let hedged = tail_run(&url, Some(hedge)).await;
    let extra = f64::from(hedged.1) / 300.0 * 100.0;
    Row {
        segment,
        status: pass_if(hedged.0 * 4 <= plain.0 && extra <= 12.0),
        detail: format!(
            "p99 {:.1} ms with hedges ({:.1} ms without), {extra:.1} % more requests",
            hedged.0.as_secs_f64() * 1e3,
            plain.0.as_secs_f64() * 1e3,
        ),
        ms: ms(t.elapsed()),
    }
}

/// The p99 latency of 300 GETs of `url` at 20 at a time, and the hedges sent.
async fn tail_run(url: &str, hedge: Option<Hedge>) -> (Duration, u32) {
    let mut b = Client::builder();
    if let Some(h) = hedge {
        b = b.hedge(h);
    }
    let Ok(client) = b.build() else {
        return (Duration::MAX, 0);
    };
    let reqs = (0..300).map(|_| client.get(url));
    let mut batch = client
        .batch_with(reqs, |req| async move {
            let t = Instant::now();
            let res = req.send().await;
            (t.elapsed(), res.map(|r| r.hedges().sent).unwrap_or(0))
        })
        .concurrency(20);
    let (mut latencies, mut hedges) = (Vec::new(), 0);
    while let Some((_, (took, sent))) = batch.next().await {
        latencies.push(took);
        hedges += sent;
    }
    latencies.sort();
    (latencies[latencies.len() * 99 / 100 - 1], hedges)
}

/// Ten requests at 50 a second with a burst of one: evenly spaced, 20 ms apart.
async fn rate_limit(server: &ChaosServer) -> Row {
    let segment = "05 rate limit per host (50/s)";
    let Ok(client) = Client::builder()
        .rate_limit(RateLimit::per_host(50.0, 1))
        .build()
    else {
        return Row::fail(segment, "could not build the client");
    };
    let t = Instant::now();
    let mut ok = 0;
    for _ in 0..10 {
        ok += u32::from(client.get(server.url("/bytes/1")).send().await.is_ok());
    }
    let took = t.elapsed();
    Row {
        segment,
        status: pass_if(ok == 10 && took >= Duration::from_millis(170)),
        detail: format!(
            "10 requests took {:.0} ms: one at once, then one per 20 ms token",
            took.as_secs_f64() * 1e3
        ),
        ms: ms(took),
    }
}

/// 600 requests to a server that works on 8 at once and refuses beyond 16 in flight: a
/// fixed 64 at a time against the adaptive limit.
async fn adaptive(server: &ChaosServer) -> Row {
    let segment = "06 adaptive concurrency (capacity 8)";
    let t = Instant::now();
    let url = server.url("/capacity/8?ms=10");
    let fixed = capacity_run(&url, 64.into()).await;
    let auto = capacity_run(&url, Adaptive::default().into()).await;
    Row {
        segment,
        status: pass_if(auto.0 * 100 <= 600 * 2 && auto.1 <= 16),
        detail: format!(
            "503s: {} of 600 at a fixed 64, {} adaptive (settled at {}) in {:.0} ms",
            fixed.0,
            auto.0,
            auto.1,
            auto.2.as_secs_f64() * 1e3
        ),
        ms: ms(t.elapsed()),
    }
}

/// 503s among 600 GETs of `url`, the limit at the end, and the time taken.
async fn capacity_run(url: &str, c: Concurrency) -> (u32, usize, Duration) {
    let Ok(client) = Client::builder().retry(retry::Policy::none()).build() else {
        return (u32::MAX, usize::MAX, Duration::MAX);
    };
    let t = Instant::now();
    let mut batch = client
        .batch((0..600).map(|_| client.get(url)))
        .concurrency(c);
    let mut refused = 0;
    while let Some((_, res)) = batch.next().await {
        refused += u32::from(res.is_ok_and(|r| r.status() == 503));
    }
    (refused, batch.limit(), t.elapsed())
}

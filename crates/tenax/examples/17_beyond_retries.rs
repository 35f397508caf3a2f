//! Beyond retries (extends recipes 05 and 06): a circuit breaker per host, hedged requests
//! against a slow tail, a per-host rate limit, and a batch whose concurrency adapts to the
//! server. All off by default; each is one line of configuration.
//!
//! Run: `cargo run -p tenax --example 17_beyond_retries`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::{Adaptive, Client, Hedge, RateLimit, breaker, retry};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        // A host that keeps failing gets no traffic for a while: requests fail at once.
        .circuit_breaker(breaker::Policy::default().break_duration(Duration::from_millis(500)))
        // A slow answer past what this host usually takes (its p95) gets a second attempt.
        .hedge(Hedge::quantile(0.95).initial_delay(Duration::from_millis(100)))
        // At most 200 requests a second to any one host, bursts of 20.
        .rate_limit(RateLimit::per_host(200.0, 20))
        .build()?;

    // Hedging: every tenth call answers after 2 s; a hedge answers for the slow ones.
    let tail = server.url("/tail?every=10&ms=2000");
    let (mut slowest, mut hedges) = (Duration::ZERO, 0);
    for _ in 0..100 {
        let t = Instant::now();
        let res = client.get(&tail).send().await?;
        slowest = slowest.max(t.elapsed());
        hedges += res.hedges().sent;
    }
    println!("100 GETs of a slow tail: slowest {slowest:?}, {hedges} hedges sent");
    assert!(slowest < Duration::from_millis(1500), "hedges cut the tail");

    // The circuit breaker: the host goes down for a second.
    let url = server.url("/bytes/10");
    server.outage(Duration::from_secs(1)).await;
    let (mut reached, mut refused) = (0, 0);
    let started = Instant::now();
    let back = loop {
        match client.get(&url).send().await {
            Ok(_) => break started.elapsed(),
            Err(e) if e.is_circuit_open() => refused += 1,
            Err(_) => reached += 1,
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    println!(
        "outage of 1 s: {reached} requests failed against the dead host, {refused} were \
         refused at once by the breaker; traffic back after {back:?}"
    );
    assert!(
        refused > reached,
        "the breaker took the load off the dead host"
    );

    // Adaptive concurrency: a server that works on 8 at once and refuses beyond 16.
    let once = Client::builder().retry(retry::Policy::none()).build()?;
    let reqs = (0..400).map(|_| once.get(server.url("/capacity/8?ms=10")));
    let mut batch = once.batch(reqs).concurrency(Adaptive::default());
    let mut refused = 0;
    while let Some((_, res)) = batch.next().await {
        refused += usize::from(res?.status() == 503);
    }
    println!(
        "400 requests to a capacity of 8: {refused} refused, the limit settled at {}",
        batch.limit()
    );
    assert!(refused <= 16);
    Ok(())
}

//! Recipe 05: retries with exponential backoff and jitter, for idempotent requests only —
//! on by default, with `Retry-After` and a per-host budget.
//!
//! Run: `cargo run -p tenax --example 05_retries`.

use std::time::Duration;

use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // The defaults, spelled out: 3 attempts, full jitter from 50 ms (1 s after 429/503),
    // capped at 20 s, Retry-After honoured up to 60 s, 20 % + 10/s retry budget per host.
    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .retry(retry::Policy::default().max_attempts(3))
        .build()?;

    // Fails twice with 502, then succeeds.
    let res = client
        .get(server.url("/flaky/a?fail=2&status=502"))
        .send()
        .await?;
    println!("GET: {} after {} attempts", res.status(), res.attempts());
    for r in res.retries() {
        println!(
            "  attempt {} failed ({}), waited {:?}",
            r.attempt, r.reason, r.delay
        );
    }

    // POST is not idempotent: one attempt...
    let res = client
        .post(server.url("/flaky/b?fail=1"))
        .body("pay")
        .send()
        .await?;
    println!("POST: {} after {} attempt", res.status(), res.attempts());
    // ...unless it carries an Idempotency-Key (or the policy generates one).
    let res = client
        .post(server.url("/flaky/c?fail=1&status=502"))
        .header("idempotency-key", "payment-1")
        .body("pay")
        .send()
        .await?;
    println!(
        "POST with a key: {} after {} attempts",
        res.status(),
        res.attempts()
    );

    // The server says when to come back.
    let res = client
        .get(server.url("/flaky/d?fail=1&status=503&retry_after=1"))
        .send()
        .await?;
    assert_eq!(res.retries()[0].delay, Duration::from_secs(1));
    println!(
        "Retry-After: {} after waiting {:?}",
        res.status(),
        res.retries()[0].delay
    );
    Ok(())
}

//! Recipe 11: observability — event hooks (through a bounded channel that never blocks a
//! request), a correlation id the same across retries, and the pool's per-host snapshot.
//! Build with `--features tracing` for spans with OpenTelemetry attribute names, and
//! `--features metrics` for the `metrics` facade.
//!
//! Run: `cargo run -p tenax --example 11_observability`.

use std::time::Duration;

use tenax::events::EventKind;
use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    // Hooks run on the request's task: this one only copies into a channel of 1024, and a
    // full channel drops (and counts) rather than slowing requests down.
    let (hook, mut events) = tenax::events::channel(1024);
    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .on_event(hook)
        .correlation_id(true)
        .max_connections(2)
        .retry(
            retry::Policy::default().backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .build()?;

    // A consumer on its own task: print what happens.
    let printer = tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            let id = e.request.map_or("-".to_string(), |n| n.to_string());
            match e.kind {
                EventKind::RequestStart { method, url } => println!("[{id}] start {method} {url}"),
                EventKind::ResponseHead {
                    attempt, status, ..
                } => println!("[{id}] attempt {attempt}: {status}"),
                EventKind::RetryScheduled { reason, delay, .. } => {
                    println!("[{id}] retry after {delay:?} ({reason})")
                }
                EventKind::PoolWait { waited, .. } => {
                    println!("[{id}] waited {waited:?} for a connection")
                }
                EventKind::ConnectionOpened { remote, .. } => {
                    println!("[{id}] connected to {remote}")
                }
                EventKind::RequestEnd {
                    attempts, elapsed, ..
                } => println!("[{id}] end after {attempts} attempt(s), {elapsed:?}"),
                _ => {}
            }
        }
        events.dropped()
    });

    // A flaky endpoint: two 503s, then 200. The hook sees every attempt.
    let res = client.get(server.url("/flaky/ex11?fail=2")).send().await?;
    println!("final: {} after {} attempts", res.status(), res.attempts());
    // Reading the body to its end gives the connection back to the pool.
    res.bytes().await?;
    let ids: Vec<_> = server
        .flaky_calls("ex11")
        .into_iter()
        .map(|c| c.request_id.unwrap_or_default())
        .collect();
    println!("X-Request-Id seen by the server on each attempt: {ids:?}");

    // Four slow requests through two connections: the snapshot shows who waits.
    let slow: Vec<_> = (0..4)
        .map(|_| tokio::spawn(client.get(server.url("/delay/200")).send()))
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    for host in client.stats().hosts {
        println!(
            "{}: {} open, {} active, {} idle, {} waiting",
            host.origin, host.open, host.active, host.idle, host.waiting
        );
    }
    for s in slow {
        s.await??;
    }

    client.close().await;
    drop(client);
    let dropped = printer.await?;
    println!("events dropped: {dropped}");
    Ok(())
}

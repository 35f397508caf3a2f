//! Recipe 08: connector limits and a DNS cache — answers cached (fixed TTL, coalesced
//! lookups, served stale when a refresh fails), static overrides like curl's `--resolve`, and
//! Happy Eyeballs so that one hanging address does not cost the connect timeout.
//!
//! Run: `cargo run -p tenax --example 08_dns_and_connect`.

use std::time::{Duration, Instant};

use tenax::Client;
use tenax_chaos::{Blackhole, ChaosServer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    let port = server.addr().port();

    // Limits and the cache, spelled out (these are the defaults, but the idle limit: 0 here
    // so that every request opens a connection and resolves the name).
    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .max_connections(100)
        .max_connections_per_host(10)
        .max_idle_per_host(0)
        .dns_ttl(Duration::from_secs(60))
        .dns_stale(Duration::from_secs(300))
        .build()?;
    for _ in 0..20 {
        client
            .get(format!("http://localhost:{port}/bytes/1"))
            .send()
            .await?;
    }
    println!("20 connections to localhost: {:?}", client.dns_stats());

    // A name that only this client knows, and a first address that hangs.
    let hole = Blackhole::start_on(format!("127.0.0.2:{port}").parse()?).await?;
    let client = Client::builder()
        .resolve_to(
            "service.internal",
            Some(port),
            ["127.0.0.2".parse()?, "127.0.0.1".parse()?],
        )
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let t0 = Instant::now();
    let res = client
        .get(format!("http://service.internal:{port}/bytes/1"))
        .send()
        .await?;
    println!(
        "service.internal: {} from {} after {:?} (the hanging address cost 250 ms, not 10 s)",
        res.status(),
        res.remote_addr(),
        t0.elapsed()
    );
    drop(hole);
    Ok(())
}

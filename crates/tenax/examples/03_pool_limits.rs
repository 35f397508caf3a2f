//! Recipe 03: pool limits and HTTP/2. However many requests are in flight, no more than
//! `max_connections` sockets are open; the rest wait their turn in a fair queue, for at most
//! the pool timeout. Over TLS, HTTP/2 is agreed by ALPN and one connection carries many
//! requests at once; past the server's stream limit, another connection opens (within the
//! limits).
//!
//! Run: `cargo run -p tenax --example 03_pool_limits`.

use std::time::Duration;

use tenax::{Client, pool};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    let mut limits = pool::Limits::default();
    limits.max_connections = 8;
    limits.max_connections_per_host = 8;
    limits.max_idle_per_host = 4;
    limits.idle_timeout = Some(Duration::from_secs(30));
    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .pool_limits(limits)
        .pool_timeout(Duration::from_secs(5))
        .build()?;

    // 80 concurrent requests that each take 50 ms: ten rounds over eight connections.
    let mut tasks = Vec::new();
    for _ in 0..80 {
        let (client, url) = (client.clone(), server.url("/delay/50"));
        tasks.push(tokio::spawn(async move {
            let res = client.get(url).send().await?;
            let waited = res.timings().pool_wait;
            res.bytes().await?;
            Ok::<_, tenax::Error>(waited)
        }));
    }
    let mut longest_wait = Duration::ZERO;
    for t in tasks {
        longest_wait = longest_wait.max(t.await??);
    }
    let conns = server.connections_accepted();
    println!("80 requests over {conns} connections; the longest pool wait was {longest_wait:?}");
    assert!(conns <= 8);
    client.close().await;

    // HTTP/2: 100 concurrent requests, one TLS connection.
    let tls = ChaosServer::builder().tls(true).start_in_thread()?;
    let ca = tenax::tls::Certificate::from_pem(tls.ca_pem().unwrap_or_default().as_bytes())?;
    let client = Client::builder().add_root_certificate(ca).build()?;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (client, url) = (client.clone(), tls.url("/delay/50"));
        tasks.push(tokio::spawn(async move {
            let res = client.get(url).send().await?;
            let version = res.version();
            res.bytes().await?;
            Ok::<_, tenax::Error>(version)
        }));
    }
    for t in tasks {
        assert_eq!(t.await??, tenax::Version::HTTP_2);
    }
    println!(
        "100 concurrent HTTP/2 requests over {} connection",
        tls.connections_accepted()
    );
    client.close().await;
    Ok(())
}

//! Recipe 01: a GET with phase timeouts (connect / read / write / pool), and an error that
//! says which phase ran out.
//!
//! Run: `cargo run -p tenax --example 01_phase_timeouts` (starts its own tenax-chaos server on
//! 127.0.0.1; needs no network).

use std::time::Duration;

use tenax::{Client, TimeoutPhase};
use tenax_chaos::{Blackhole, ChaosServer};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    let hole = Blackhole::start().await?;

    // Phase timeouts as httpx's Timeout(connect=2.0, read=5.0, write=5.0, pool=2.0) sets them,
    // shortened so that the example runs quickly.
    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(500))
        .read_timeout(Duration::from_millis(500))
        .write_timeout(Duration::from_millis(500))
        .pool_timeout(Duration::from_millis(500))
        .build()?;

    let res = client
        .get(server.url("/bytes/13"))
        .send()
        .await?
        .error_for_status()?;
    println!("ok: {} in {:?} (ttfb)", res.status(), res.timings().ttfb);

    for (what, url) in [("connect", hole.url("/")), ("read", server.url("/stall"))] {
        match client.get(&url).send().await {
            Err(e) if e.is_timeout() => {
                let phase = e.timeout_phase().expect("a timeout names its phase");
                println!("{what}: {phase} timeout as expected: {e}");
                assert_eq!(phase.as_str(), what);
            }
            other => return Err(format!("{what}: expected a timeout, got {other:?}").into()),
        }
    }

    // A server that stops reading: the write timeout fires.
    let err = client
        .post(server.url("/slow-read?bps=1024"))
        .body(vec![0u8; 32 << 20])
        .send()
        .await
        .expect_err("the server does not read");
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Write));
    println!("write: {err}");

    client.close().await;
    Ok(())
}

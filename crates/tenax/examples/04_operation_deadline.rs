//! Recipe 04: one deadline over a whole operation — every attempt, backoff wait and body read
//! of every request inside it — on top of the per-phase timeouts.
//!
//! Run: `cargo run -p tenax --example 04_operation_deadline`.

use std::time::{Duration, Instant};

use tenax::{Client, TimeoutPhase};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // Your code: the set-up you would paste into a project.
    let client = Client::new();

    // One request with its own deadline.
    let t = Instant::now();
    let err = client
        .get(server.url("/delay/5000"))
        .deadline(Duration::from_millis(500))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Deadline));
    println!("one request: {err} after {:?}", t.elapsed());

    // Three steps under one scope of 1 s: the third never gets its turn.
    let t = Instant::now();
    let res = tenax::deadline::scope(Duration::from_secs(1), async {
        for step in 1..=3 {
            let left = tenax::deadline::remaining().unwrap_or_default();
            println!("step {step}: {left:?} left");
            client
                .get(server.url("/delay/400"))
                .send()
                .await?
                .bytes()
                .await?;
        }
        Ok::<_, tenax::Error>(())
    })
    .await;
    let err = match res {
        Ok(Ok(())) => return Err("three 400 ms steps finished within 1 s?".into()),
        Ok(Err(e)) | Err(e) => e,
    };
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Deadline));
    println!("the scope ended after {:?}: {err}", t.elapsed());
    Ok(())
}

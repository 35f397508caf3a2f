//! Recipe 06: a bounded batch consumed as it completes — at most N requests at once, taken
//! lazily from an iterator, results in completion order, one failure stopping nothing, a
//! deadline over the whole batch, cancellation by dropping it.
//!
//! Run: `cargo run -p tenax --example 06_batch`.

use std::time::Duration;

use futures_util::StreamExt;
use tenax::Client;
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // Your code: the set-up you would paste into a project.
    let client = Client::new();

    // 100 URLs of different speeds; the iterator is consumed only as slots free up.
    let urls = (0..100).map(|i| server.url(&format!("/delay/{}", (i * 37) % 200)));
    let mut batch = client
        .batch_with(urls.map(|u| client.get(u)), |req| async move {
            let res = req.send().await?;
            let status = res.status();
            res.bytes().await.map(|b| (status, b.len()))
        })
        .concurrency(10)
        .deadline(Duration::from_secs(10));
    let mut order = Vec::new();
    while let Some((index, result)) = batch.next().await {
        match result {
            Ok((status, _)) if status.is_success() => order.push(index),
            Ok((status, _)) => println!("#{index}: {status}"),
            Err(e) => println!("#{index}: {e}"),
        }
    }
    println!(
        "{} done, in completion order: {:?}…; the server saw at most {} at once",
        order.len(),
        &order[..10],
        server.max_in_flight()
    );
    Ok(())
}

//! Recipe 02: one client, reused for every request, closed explicitly at the end.
//!
//! `Client` is a cheap clone (an `Arc` inside): share it. `close()` lets requests in flight
//! finish, closes every connection, and makes later requests fail with `is_closed()`.
//!
//! Run: `cargo run -p tenax --example 02_reuse_and_close`.

use tenax::Client;
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // Your code: the set-up you would paste into a project.
    let client = Client::new();

    let mut tasks = Vec::new();
    for i in 0..100 {
        let (client, url) = (client.clone(), server.url(&format!("/bytes/{}", i + 1)));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await?.bytes().await
        }));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await??.len();
    }
    println!(
        "100 requests, {bytes} bytes, over {} connections",
        server.connections_accepted()
    );
    println!("open before close: {}", client.open_connections());

    client.close().await;
    println!("open after close: {}", client.open_connections());
    assert_eq!(client.open_connections(), 0);

    let err = client.get(server.url("/bytes/1")).send().await.unwrap_err();
    assert!(err.is_closed());
    println!("after close: {err}");
    Ok(())
}

//! Recipe 16: structured concurrency — an HTTP batch and a WebSocket session in one scope,
//! under one deadline, sharing their fate: the first failure cancels the rest, each task's
//! outcome is reported, and the scope's client is closed when it ends.
//!
//! Run: `cargo run -p tenax --example 16_scope`.

use std::time::Duration;

use futures_util::StreamExt;
use tenax::Client;
use tenax::scope::Scope;
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    for fail in [false, true] {
        // Your code: the set-up you would paste into a project.
        let client = Client::new();
        // Every request inside shares the 2 s deadline; the client closes with the scope.
        let mut scope = Scope::new()
            .deadline(Duration::from_secs(2))
            .owns(client.clone());

        let (c, url) = (client.clone(), server.url("/delay/20"));
        scope.spawn("http batch", async move {
            let reqs = (0..50).map(|_| c.get(&url));
            let mut batch = c
                .batch_with(reqs, |r| async move { r.send().await?.bytes().await })
                .concurrency(10);
            let mut n = 0;
            while let Some((_, res)) = batch.next().await {
                res?;
                n += 1;
            }
            Ok::<_, tenax::Error>(format!("{n} responses"))
        });

        let ws = client.websocket(server.ws_url("/ws/echo"));
        scope.spawn("websocket", async move {
            let mut socket = ws.connect().await?;
            let mut n = 0;
            for i in 0..10 {
                socket
                    .send(format!("tick {i}"))
                    .await
                    .map_err(|e| e.into_error())?;
                if socket.recv().await.is_some() {
                    n += 1;
                }
            }
            socket.close(Duration::from_secs(1)).await;
            Ok::<_, tenax::Error>(format!("{n} echoes"))
        });

        if fail {
            let (c, url) = (client.clone(), server.url("/status/500"));
            scope.spawn("failing", async move {
                c.get(url).send().await?.error_for_status()?;
                Ok::<_, tenax::Error>(String::new())
            });
        }

        let report = scope.join().await;
        println!(
            "scope {} in {:?}:",
            if fail {
                "with a failing task"
            } else {
                "without failures"
            },
            report.elapsed()
        );
        for task in report.tasks() {
            match task.outcome() {
                tenax::scope::Outcome::Ok(what) => println!("  {}: ok, {what}", task.name()),
                other => println!("  {}: {other}", task.name()),
            }
        }
        println!("  connections left open: {}", client.open_connections());
    }
    Ok(())
}

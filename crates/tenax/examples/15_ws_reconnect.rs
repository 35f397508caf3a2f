//! Recipe 15: reconnect with exponential backoff — on by default: full jitter, reset after a
//! healthy period, fatal handshake statuses and close codes, an on-connect hook that
//! resubscribes before the queue is replayed, and state events.
//!
//! Run: `cargo run -p tenax --example 15_ws_reconnect`.

use std::time::Duration;

use tenax::ws::{self, Message, WsEvent};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    // The server drops TCP after every 3 echoes; each connection resubscribes first.
    // Your code: the set-up you would paste into a project.
    let mut socket = ws::builder(server.ws_url("/ws/drop/3?key=example"))
        .backoff(Duration::from_millis(50), Duration::from_secs(2))
        .healthy_after(Duration::from_secs(10))
        .on_connect(|info| async move {
            Ok(vec![Message::text(format!(
                "subscribe (reconnect: {})",
                info.reconnect
            ))])
        })
        .connect()
        .await?;
    let mut events = socket.events();
    for i in 0..10 {
        socket.send(Message::text(format!("tick {i}"))).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Some(e) = events.try_recv() {
        match e {
            WsEvent::Disconnected(d) => println!("disconnected: {}", d.reason),
            WsEvent::Reconnecting { attempt, delay } => {
                println!("  reconnecting in {delay:?} (attempt {attempt})")
            }
            WsEvent::Connected { attempt, .. } => println!("connected (attempt {attempt})"),
            _ => {}
        }
    }
    println!(
        "server received {} messages; {:?}",
        server.ws_count("example"),
        socket.stats()
    );
    socket.close(Duration::from_secs(1)).await;

    // A 401 is fatal: one attempt, no retry loop.
    let e = ws::connect(server.ws_url("/ws/reject/401"))
        .await
        .unwrap_err();
    println!("{e} ({} attempt)", e.attempts());
    Ok(())
}

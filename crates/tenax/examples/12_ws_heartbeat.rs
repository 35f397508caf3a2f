//! Recipe 12: a WebSocket client with a heartbeat — a peer that stops answering pings is
//! detected within interval + timeout, and the connection is dropped at once.
//!
//! Run: `cargo run -p tenax --example 12_ws_heartbeat`.

use std::time::{Duration, Instant};

use tenax::ws::{self, Message, WsEvent};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    // A live peer: the echo comes back; pings are answered in the background.
    // Your code: the set-up you would paste into a project.
    let mut socket = ws::builder(server.ws_url("/ws/echo"))
        .heartbeat(Some(Duration::from_secs(1)))
        .pong_timeout(Duration::from_secs(1))
        .max_message(1 << 20)
        .connect()
        .await?;
    socket.send(Message::text("ping me")).await?;
    println!("echo: {:?}", socket.recv().await);
    socket.close(Duration::from_secs(1)).await;

    // A peer that never answers: declared dead after ~interval + timeout.
    let mut socket = ws::builder(server.ws_url("/ws/silent"))
        .heartbeat(Some(Duration::from_millis(500)))
        .pong_timeout(Duration::from_millis(500))
        .reconnect(false)
        .connect()
        .await?;
    let t0 = Instant::now();
    let mut events = socket.events();
    while let Some(e) = events.recv().await {
        if let WsEvent::Disconnected(d) = e {
            println!("after {:?}: {}", t0.elapsed(), d.reason);
            break;
        }
    }
    Ok(())
}

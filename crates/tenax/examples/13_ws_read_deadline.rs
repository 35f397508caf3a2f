//! Recipe 13: a read deadline, separate from the heartbeat — a stream that goes quiet (while
//! still answering pings) is detected and becomes a reconnect.
//!
//! Run: `cargo run -p tenax --example 13_ws_read_deadline`.

use std::time::Duration;

use tenax::ws::{self, WsEvent};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;
    // The echo route sends nothing unless spoken to: a quiet feed.
    // Your code: the set-up you would paste into a project.
    let mut socket = ws::builder(server.ws_url("/ws/echo"))
        .read_deadline(Some(Duration::from_millis(500)))
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .max_attempts(Some(3))
        .connect()
        .await?;
    let mut events = socket.events();
    while let Some(e) = events.recv().await {
        match e {
            WsEvent::Disconnected(d) => println!("disconnected: {}", d.reason),
            WsEvent::Reconnecting { attempt, delay } => {
                println!("reconnecting in {delay:?} (attempt {attempt})")
            }
            WsEvent::Closed(c) => {
                println!("closed: {c}");
                break;
            }
            _ => {}
        }
    }
    Ok(())
}

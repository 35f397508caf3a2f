//! Recipe 14: an outbound queue with back-pressure — bounded by messages and bytes,
//! `send().await` waits when full, `try_send` hands the message back, writes are coalesced,
//! and `close` flushes within a deadline and returns what was not sent.
//!
//! Run: `cargo run -p tenax --example 14_ws_outbox`.

use std::time::Duration;

use tenax::ws::{self, Message};
use tenax_chaos::ChaosServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder().start_in_thread()?;

    // A reading peer: 1000 messages go out in a few coalesced writes; close flushes them all.
    // Your code: the set-up you would paste into a project.
    let socket = ws::builder(server.ws_url("/ws/count/example"))
        .outbox(64, 1 << 20)
        .connect()
        .await?;
    for i in 0..1000 {
        socket.send(Message::text(format!("event {i}"))).await?;
    }
    let unsent = socket.close(Duration::from_secs(5)).await;
    println!(
        "server counted {}, unsent {}",
        server.ws_count("example"),
        unsent.len()
    );

    // A peer that never reads: the socket fills, then the outbox, then try_send refuses.
    let socket = ws::builder(server.ws_url("/ws/silent"))
        .heartbeat(None)
        .outbox(4, 4 << 20)
        .connect()
        .await?;
    let chunk = vec![0u8; 256 * 1024];
    let mut accepted = 0;
    loop {
        match socket.try_send(chunk.clone()) {
            Ok(()) => {
                accepted += 1;
                tokio::task::yield_now().await;
            }
            Err(e) => {
                println!("after {accepted} messages: {}", e.error());
                break;
            }
        }
    }
    let waited = tokio::time::timeout(Duration::from_millis(200), socket.send(chunk)).await;
    println!("send waited for room: {}", waited.is_err());
    let unsent = socket.close(Duration::from_millis(200)).await;
    println!("close handed back {} messages", unsent.len());
    Ok(())
}

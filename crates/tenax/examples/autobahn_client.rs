//! The Autobahn|Testsuite client run: connects to a fuzzing server (kosoku or autobahn),
//! echoes every message of every case through `tenax::ws`, then asks for the reports.
//! `.ci/run` starts the server and checks the reports (`.ci/autobahn_check.py`).
//!
//! Run: `cargo run -p tenax --example autobahn_client -- ws://127.0.0.1:9001`.

use std::time::Duration;

use tenax::ws::{self, Message};

const AGENT: &str = "tenax";

fn builder(url: String) -> ws::WsBuilder {
    ws::builder(url)
        .reconnect(false)
        .heartbeat(None)
        .max_message(64 << 20)
}

/// The compression offered in every case (groups 12 and 13 agree to it, the others decline):
/// every message compressed, and `client_no_context_takeover` offered, which is what lets a
/// server ask for it (cases 13.2, 13.5 to 13.7 accept only such an offer). The server's own
/// context takeover, toward us, is kept unless a case asks otherwise.
fn compression() -> ws::Compression {
    let mut c = ws::Compression::default();
    c.threshold = 0;
    c.client_no_context_takeover = true;
    c
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let mut socket = builder(format!("{base}/getCaseCount")).connect().await?;
    let count: u32 = match socket.recv().await {
        Some(Message::Text(t)) => t.trim().parse()?,
        other => return Err(format!("unexpected case count {other:?}").into()),
    };
    drop(socket);
    eprintln!("{count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={AGENT}");
        let Ok(mut socket) = builder(url).compression(compression()).connect().await else {
            continue;
        };
        while let Some(m) = socket.recv().await {
            if socket.send(m).await.is_err() {
                break;
            }
        }
        socket.close(Duration::from_secs(5)).await;
    }
    let socket = builder(format!("{base}/updateReports?agent={AGENT}"))
        .connect()
        .await?;
    socket.close(Duration::from_secs(5)).await;
    Ok(())
}

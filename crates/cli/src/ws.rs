//! `tenax ws URL`: stdin lines out as text messages, messages received to stdout (one per
//! line), state changes to stderr.

use std::time::Duration;

use base64::Engine as _;
use tenax::ws::{Closed, DisconnectReason, Message, WsEvent};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::args;
use crate::get::{ConnArgs, print_error};
use crate::report::{exit, exit_code};

/// Options of `tenax ws`.
#[derive(clap::Args, Debug)]
pub struct WsArgs {
    /// ws:// or wss:// URL (ws:// is assumed when there is no scheme)
    url: String,
    /// Header for the handshake request, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = args::header)]
    headers: Vec<(String, String)>,
    /// Ping interval, seconds (0: no heartbeat) [default: 20]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    heartbeat: Option<args::Limit>,
    /// The peer is dead when no frame comes back this long after a ping, seconds [default: 20]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    pong_timeout: Option<args::Limit>,
    /// Reconnect when no message arrives for this long, seconds [default: none]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    read_deadline: Option<args::Limit>,
    /// Reconnect after a connection ends (the default)
    #[arg(long, overrides_with = "no_reconnect")]
    reconnect: bool,
    /// Exit when the connection ends instead of reconnecting
    #[arg(long)]
    no_reconnect: bool,
    /// Give up after this many failed attempts in a row [default: no limit]
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Give up when reconnecting lasts this long, seconds [default: no limit]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    reconnect_deadline: Option<args::Limit>,
    /// First backoff ceiling, seconds [default: 0.5]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    backoff_base: Option<args::Limit>,
    /// Largest backoff ceiling, seconds [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    backoff_max: Option<args::Limit>,
    /// A connection open this long resets the attempt counter, seconds [default: 10]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    healthy_after: Option<args::Limit>,
    /// Largest message accepted, e.g. 64k, 16M [default: 16M]
    #[arg(long, value_name = "SIZE", value_parser = args::size)]
    max_message: Option<usize>,
    /// Offer compression (permessage-deflate); messages are compressed if the server agrees
    /// [default: off, as the library]
    #[arg(long)]
    compress: bool,
    /// Offer this subprotocol (repeatable)
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocols: Vec<String>,
    /// Send this text after connecting, before stdin (repeatable)
    #[arg(long = "send", value_name = "TEXT")]
    send: Vec<String>,
    /// Exit after this many messages were received
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Do not read stdin (send only --send messages)
    #[arg(long)]
    no_stdin: bool,
    /// After the end of input, exit once no message has come for this long, seconds
    /// [default: when every message sent has had a reply, or after 5 s]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    idle_exit: Option<args::Limit>,
    #[command(flatten)]
    conn: ConnArgs,
}

/// How long the end waits: for replies after the end of input, and for the close handshake.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

fn secs(l: Option<args::Limit>) -> Option<Option<Duration>> {
    l.map(|l| l.0)
}

/// The exit code for a WebSocket that closed for good.
fn closed_exit(c: &Closed) -> u8 {
    match c.reason() {
        None => 0,
        Some(DisconnectReason::Rejected { .. }) => exit::HTTP_ERROR,
        Some(DisconnectReason::HeartbeatTimeout | DisconnectReason::ReadDeadline) => exit::TIMEOUT,
        Some(DisconnectReason::Failed(e)) => exit_code(e),
        Some(_) => exit::RECV,
    }
}

fn describe(e: &WsEvent) -> String {
    match e {
        WsEvent::Connecting { attempt } => format!("connecting (attempt {attempt})"),
        WsEvent::Connected {
            protocol,
            compressed,
            ..
        } => {
            let mut agreed = Vec::new();
            if let Some(p) = protocol {
                agreed.push(format!("subprotocol {p}"));
            }
            if *compressed {
                agreed.push("permessage-deflate".to_string());
            }
            if agreed.is_empty() {
                "connected".to_string()
            } else {
                format!("connected ({})", agreed.join(", "))
            }
        }
        WsEvent::Disconnected(d) => format!(
            "disconnected after {:.1?}: {} ({} message(s) possibly lost)",
            d.connected_for, d.reason, d.possibly_lost
        ),
        WsEvent::Reconnecting { attempt, delay } => {
            format!("reconnecting in {delay:.2?} (attempt {attempt})")
        }
        WsEvent::Closed(c) => format!("closed: {c}"),
        other => format!("{other:?}"),
    }
}

/// A WebSocket URL as a person types it: without a scheme, `ws://` is assumed (as `get`
/// assumes `http://`).
fn ws_url(s: &str) -> String {
    if s.contains("://") {
        s.to_string()
    } else {
        format!("ws://{s}")
    }
}

/// One message on stdout: text as a line, binary as `base64:…`.
async fn write_message(out: &mut tokio::io::Stdout, m: &Message) -> std::io::Result<()> {
    let line = match m {
        Message::Text(t) => format!("{t}\n"),
        Message::Binary(b) => format!(
            "base64:{}\n",
            base64::engine::general_purpose::STANDARD.encode(b)
        ),
        other => format!("{other:?}\n"),
    };
    out.write_all(line.as_bytes()).await?;
    out.flush().await
}

pub fn run(args: WsArgs) -> u8 {
    crate::report::run_command(ws(args))
}

async fn ws(a: WsArgs) -> u8 {
    let client = match a
        .conn
        .apply(tenax::Client::builder())
        .and_then(|b| b.build().map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(m) => {
            eprintln!("tenax: {m}");
            return exit::USAGE;
        }
    };
    let mut b = client.websocket(ws_url(&a.url));
    for (k, v) in &a.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some(h) = secs(a.heartbeat) {
        b = b.heartbeat(h);
    }
    if let Some(Some(p)) = secs(a.pong_timeout) {
        b = b.pong_timeout(p);
    }
    if let Some(r) = secs(a.read_deadline) {
        b = b.read_deadline(r);
    }
    b = b.reconnect(!a.no_reconnect);
    b = b.max_attempts(a.max_attempts);
    if let Some(d) = secs(a.reconnect_deadline) {
        b = b.reconnect_deadline(d);
    }
    let base = secs(a.backoff_base).map_or(Duration::from_millis(500), |d| d.unwrap_or_default());
    let max = secs(a.backoff_max).map_or(Duration::from_secs(30), |d| d.unwrap_or_default());
    b = b.backoff(base, max);
    if let Some(h) = secs(a.healthy_after) {
        b = b.healthy_after(h.unwrap_or_default());
    }
    if let Some(m) = a.max_message {
        b = b.max_message(m);
    }
    if !a.subprotocols.is_empty() {
        b = b.subprotocols(a.subprotocols.clone());
    }
    if a.compress {
        b = b.compression(tenax::ws::Compression::default());
    }
    let mut socket = match b.connect().await {
        Ok(s) => s,
        Err(e) => {
            print_error(&e);
            return exit_code(&e);
        }
    };
    let mut events = socket.events();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    for text in &a.send {
        if socket.send(Message::text(text.as_str())).await.is_err() {
            break;
        }
        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let sender = socket.sender();
    let reading_stdin = !a.no_stdin;
    let counted = sent.clone();
    let stdin = async move {
        if !reading_stdin {
            // No input: listen until the peer closes or --count.
            return std::future::pending::<()>().await;
        }
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if sender.send(Message::text(line)).await.is_err() {
                break;
            }
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    tokio::pin!(stdin);
    let mut stdin_open = true;
    let mut received = 0u64;
    let mut out = tokio::io::stdout();
    let mut code = 0;
    // After the end of input: when to stop waiting for replies.
    let mut give_up: Option<tokio::time::Instant> = None;
    let idle = a.idle_exit.and_then(|l| l.0);
    loop {
        let wait_until =
            give_up.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            m = socket.recv() => {
                let Some(m) = m else { break };
                if write_message(&mut out, &m).await.is_err() {
                    break;
                }
                received += 1;
                if a.count.is_some_and(|n| received >= n) {
                    break;
                }
                if !stdin_open && a.count.is_none() {
                    match idle {
                        Some(d) => give_up = Some(tokio::time::Instant::now() + d),
                        // Every message sent has had its reply: done.
                        None if received >= sent.load(std::sync::atomic::Ordering::Relaxed) => break,
                        None => {}
                    }
                }
            }
            e = events.recv() => match e {
                Some(e) => {
                    eprintln!("tenax: {}", describe(&e));
                    if let WsEvent::Closed(c) = &e {
                        // Closed for good: nothing more will come.
                        code = closed_exit(c);
                        break;
                    }
                }
                None => break,
            },
            _ = &mut stdin, if stdin_open => {
                stdin_open = false;
                // Input ended: wait for the replies (unless waiting for --count messages).
                if a.count.is_none() {
                    let all_answered = received >= sent.load(std::sync::atomic::Ordering::Relaxed);
                    if idle.is_none() && all_answered {
                        break;
                    }
                    give_up = Some(tokio::time::Instant::now() + idle.unwrap_or(CLOSE_TIMEOUT));
                }
            }
            _ = tokio::time::sleep_until(wait_until), if give_up.is_some() => break,
        }
    }
    let unsent = socket.close(CLOSE_TIMEOUT).await;
    while let Some(e) = events.try_recv() {
        eprintln!("tenax: {}", describe(&e));
        if let WsEvent::Closed(c) = &e {
            code = closed_exit(c);
        }
    }
    if !unsent.is_empty() {
        eprintln!("tenax: {} message(s) could not be sent", unsent.len());
        if code == 0 {
            code = exit::SEND;
        }
    }
    code
}

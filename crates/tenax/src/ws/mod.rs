//! A resilient WebSocket client: heartbeat, read deadline, a bounded outbox that survives
//! reconnects, and reconnect with jittered backoff — each on by default.
//!
//! Runnable, one per pattern, each against its own fault-injecting server:
//! `cargo run -p tenax --example 12_ws_heartbeat` (a silent peer found by heartbeat),
//! `13_ws_read_deadline`, `14_ws_outbox` (a bounded outbox across a drop), `15_ws_reconnect`.
//!
//! ```no_run
//! # async fn demo() -> tenax::Result<()> {
//! use std::time::Duration;
//! use tenax::ws::{self, Message};
//!
//! let mut socket = ws::builder("ws://127.0.0.1:9001/feed")
//!     .heartbeat(Some(Duration::from_secs(10)))
//!     .on_connect(|_info| async { Ok(vec![Message::text(r#"{"subscribe":"ticks"}"#)]) })
//!     .connect()
//!     .await?;
//! socket.send(Message::text("hello")).await?;
//! while let Some(msg) = socket.recv().await {
//!     println!("{:?}", msg.as_text());
//! }
//! let unsent = socket.close(Duration::from_secs(2)).await;
//! # let _ = unsent; Ok(()) }
//! ```
//!
//! Defaults (each stated on its setter): ping every 20 s, pong timeout 20 s (any inbound frame
//! counts as liveness), no read deadline, messages up to 16 MiB, outbox 1024 messages /
//! 16 MiB, inbound buffer 1024 messages, reconnect on with full-jitter backoff from 0.5 s to
//! 30 s, the attempt counter reset after 10 s of health.
//!
//! Delivery: a message leaves the outbox only once its write to the socket finished; if the
//! connection fails first, it is sent again after the reconnect. A message that was written
//! but not confirmed by a later pong may have been lost with the connection: the
//! [`Disconnected`](WsEvent::Disconnected) event counts those
//! ([`Disconnect::possibly_lost`]) rather than losing them silently.

mod config;
mod deflate;
mod driver;
mod event;
mod frame;
mod handshake;
#[cfg(fuzzing)]
pub(crate) use deflate::accept as accept_deflate;
#[cfg(fuzzing)]
pub(crate) use frame::{Codec, Limits};
mod inbox;
mod io;
mod message;
mod outbox;
mod session;
mod socket;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use http::HeaderMap;
use tokio::sync::{Mutex as AsyncMutex, Notify, broadcast};

pub use config::WsBuilder;
pub use deflate::Compression;
pub use event::{Closed, Decision, Disconnect, DisconnectReason, WsEvent, default_decision};
pub use message::Message;
pub use outbox::SendError;
pub use socket::{Events, WebSocket, WsSender, WsStats};

use crate::Client;
use crate::connect::DnsCache;
use crate::timeouts::Timeouts;

/// A WebSocket builder on a default [`Client`] (see [`Client::websocket`] to share a client's
/// TLS settings and resolver).
pub fn builder(url: impl crate::IntoUrl) -> WsBuilder {
    Client::new().websocket(url)
}

/// Opens a WebSocket with every default; see [`WsBuilder::connect`].
pub async fn connect(url: impl crate::IntoUrl) -> crate::Result<WebSocket> {
    builder(url).connect().await
}

/// What the on-connect hook learns about the connection.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ConnectInfo {
    /// The attempt's number in the current series (1 for the first try).
    pub attempt: u32,
    /// Whether an earlier connection of this WebSocket was up (this one replaces it).
    pub reconnect: bool,
    /// The subprotocol the server chose, if any.
    pub protocol: Option<String>,
    /// Whether the server agreed to compression (permessage-deflate).
    pub compressed: bool,
}

/// What a connection needs of the client.
pub(crate) struct ClientParts {
    pub(crate) resolver: Arc<DnsCache>,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) timeouts: Timeouts,
    pub(crate) headers: HeaderMap,
    pub(crate) proxies: crate::proxy::Proxies,
    pub(crate) tcp: crate::connect::TcpOptions,
    pub(crate) observer: Option<Arc<crate::events::Observer>>,
    pub(crate) cookies: crate::client::cookies::Cookies,
}

/// State shared by the handle, its senders and the connection's task.
pub(crate) struct Shared {
    pub(crate) outbox: outbox::Outbox,
    pub(crate) inbox: inbox::Inbox,
    pub(crate) close_requested: AtomicBool,
    /// When a requested close cuts the connection, flushed or not.
    pub(crate) close_deadline: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Wakes the task when a close is requested between connections.
    pub(crate) close_notify: Notify,
    pub(crate) events: broadcast::Sender<WsEvent>,
    pub(crate) connected: AtomicBool,
    pub(crate) sent: AtomicU64,
    pub(crate) received: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) possibly_lost: AtomicU64,
    /// Messages left when the WebSocket closed, for the caller of `close`.
    pub(crate) unsent: AsyncMutex<Vec<Message>>,
    /// The client's observer, and the URL its events name.
    pub(crate) observer: Option<(Arc<crate::events::Observer>, Arc<str>)>,
}

impl Shared {
    fn emit(&self, e: WsEvent) {
        // No receiver is fine; a slow one loses the oldest events (the channel is bounded).
        if let Some((obs, url)) = &self.observer {
            obs.emit(
                None,
                crate::events::EventKind::WebSocket {
                    url: url.clone(),
                    event: e.clone(),
                },
            );
        }
        let _ = self.events.send(e);
    }
}

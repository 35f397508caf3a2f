//! `WsBuilder`: every setting of a WebSocket, with its default.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use crate::url::Target;

use super::event::{Decision, DisconnectReason};
use super::message::Message;
use super::{ConnectInfo, WebSocket};
use crate::error::Error;
use crate::{Client, Result};

pub(crate) type Classify = Arc<dyn Fn(&DisconnectReason) -> Decision + Send + Sync>;
pub(crate) type Hello = Pin<Box<dyn Future<Output = Result<Vec<Message>>> + Send + 'static>>;
pub(crate) type OnConnect = Arc<dyn Fn(ConnectInfo) -> Hello + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) read_deadline: Option<Duration>,
    pub(crate) max_message: usize,
    pub(crate) frame_size: usize,
    pub(crate) outbox_messages: usize,
    pub(crate) outbox_bytes: usize,
    pub(crate) inbox: usize,
    pub(crate) lag_timeout: Option<Duration>,
    pub(crate) replay: bool,
    pub(crate) headers: HeaderMap,
    pub(crate) protocols: Vec<String>,
    pub(crate) handshake_timeout: Duration,
    pub(crate) reconnect: bool,
    pub(crate) backoff_base: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) healthy_after: Duration,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) reconnect_deadline: Option<Duration>,
    pub(crate) classify: Option<Classify>,
    pub(crate) on_connect: Option<OnConnect>,
    pub(crate) compression: Option<super::Compression>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heartbeat: Some(Duration::from_secs(20)),
            pong_timeout: Duration::from_secs(20),
            read_deadline: None,
            max_message: 16 << 20,
            frame_size: 4 << 20,
            outbox_messages: 1024,
            outbox_bytes: 16 << 20,
            inbox: 1024,
            lag_timeout: None,
            replay: false,
            headers: HeaderMap::new(),
            protocols: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            compression: None,
            reconnect: true,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            healthy_after: Duration::from_secs(10),
            max_attempts: None,
            reconnect_deadline: None,
            classify: None,
            on_connect: None,
        }
    }
}

/// Configures a resilient WebSocket; from [`Client::websocket`] or [`ws::builder`](super::builder).
///
/// The connection goes through the client's name resolution, TLS settings (roots, client
/// certificate, pins, versions) and its connect and write timeouts.
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let url = server.ws_url("/ws/echo");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use tenax::ws::Message;
///
/// let mut socket = tenax::ws::builder(&url)
///     .heartbeat(Duration::from_secs(20))
///     .read_deadline(Duration::from_secs(60))
///     .outbox(1_000, 1 << 20)
///     .connect()
///     .await?;
/// socket.send(Message::text("hello")).await.unwrap();
/// assert_eq!(socket.recv().await, Some(Message::text("hello")));
/// socket.close(Duration::from_secs(2)).await;
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
#[must_use]
pub struct WsBuilder {
    client: Client,
    url: Result<Target>,
    cfg: Config,
    invalid: Option<Error>,
}

impl std::fmt::Debug for WsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsBuilder").field("url", &self.url).finish()
    }
}

impl WsBuilder {
    pub(crate) fn new(client: Client, url: Result<Target>) -> WsBuilder {
        WsBuilder {
            client,
            url,
            cfg: Config::default(),
            invalid: None,
        }
    }

    /// Offers permessage-deflate (RFC 7692) in the handshake; if the server agrees, messages of
    /// at least [`Compression::threshold`](super::Compression::threshold) bytes are sent
    /// compressed and compressed messages are inflated, each at most
    /// [`max_message`](Self::max_message) bytes once inflated (a deflate bomb stops there).
    /// `None` offers nothing. Default is none (decision 0011 says why).
    pub fn compression(mut self, compression: impl Into<Option<super::Compression>>) -> Self {
        self.cfg.compression = compression.into();
        self
    }

    /// Sends a ping this often; `None` turns the heartbeat off. Default is every 20 s.
    pub fn heartbeat(mut self, interval: impl Into<Option<Duration>>) -> Self {
        let interval: Option<Duration> = interval.into();
        self.cfg.heartbeat = interval.filter(|d| !d.is_zero());
        self
    }

    /// Declares the peer dead when no frame at all (any frame counts, not only the pong)
    /// arrives this long after a ping; the connection is dropped at once, without waiting for
    /// a closing handshake that cannot come. Default is 20 s.
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.pong_timeout = timeout;
        self
    }

    /// Reconnects when no data message (text or binary; pongs do not count) arrives for this
    /// long: for feeds that must not go quiet. Default is none.
    pub fn read_deadline(mut self, deadline: impl Into<Option<Duration>>) -> Self {
        let deadline: Option<Duration> = deadline.into();
        self.cfg.read_deadline = deadline.filter(|d| !d.is_zero());
        self
    }

    /// The largest message accepted from the peer; a larger one ends the connection (close
    /// code 1009). Default is 16 MiB.
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.cfg.max_message = bytes.max(1);
        self
    }

    /// Outgoing messages larger than this are sent as several frames of at most this size.
    /// Default is 4 MiB.
    pub fn frame_size(mut self, bytes: usize) -> Self {
        self.cfg.frame_size = bytes.max(1);
        self
    }

    /// Bounds the outbox: at most `messages` messages and `bytes` bytes wait to be written
    /// (messages written into a connection that then failed keep their room until they are
    /// written again). `send` waits for room; `try_send` fails. Default is 1024 messages and
    /// 16 MiB.
    pub fn outbox(mut self, messages: usize, bytes: usize) -> Self {
        self.cfg.outbox_messages = messages.max(1);
        self.cfg.outbox_bytes = bytes.max(1);
        self
    }

    /// Bounds the inbound buffer: when this many received messages wait for the consumer, the
    /// connection stops reading and back-pressure reaches the peer. Default is 1024 messages.
    pub fn inbox(mut self, messages: usize) -> Self {
        self.cfg.inbox = messages.max(1);
        self
    }

    /// Declares a consumer that kept the inbound buffer full this long lagging, and restarts
    /// the connection (the on-connect hook can resynchronise). Default is none: back-pressure
    /// only.
    pub fn lag_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout: Option<Duration> = timeout.into();
        self.cfg.lag_timeout = timeout.filter(|d| !d.is_zero());
        self
    }

    /// At-least-once delivery: keeps each written message (and its room in the outbox) until
    /// a pong shows the peer read past it, and sends the unconfirmed ones again after a
    /// reconnect, so nothing written into a dying connection is lost; the peer may see a
    /// message twice. A ping follows every write within 25 ms (at once when half the outbox
    /// waits for confirmation), so the peer must answer pings. Default is off: a message is
    /// released once written, and the ones a failure may have lost are counted in
    /// [`Disconnect::possibly_lost`](super::Disconnect::possibly_lost).
    pub fn replay_unconfirmed(mut self, on: bool) -> Self {
        self.cfg.replay = on;
        self
    }

    /// Adds a header to the handshake request (authentication, for instance). The handshake's
    /// own headers (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) cannot be replaced.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
        K::Error: std::fmt::Display,
        V::Error: std::fmt::Display,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(n), Ok(v)) => {
                self.cfg.headers.append(n, v);
            }
            (Err(e), _) => {
                self.invalid
                    .get_or_insert(Error::builder(format!("invalid header name: {e}")));
            }
            (_, Err(e)) => {
                self.invalid
                    .get_or_insert(Error::builder(format!("invalid header value: {e}")));
            }
        }
        self
    }

    /// Offers these subprotocols (`Sec-WebSocket-Protocol`), in order of preference.
    /// Default is none.
    pub fn subprotocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cfg.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// The longest wait for the server's answer to the upgrade request (after the client's
    /// connect timeout for TCP and TLS). Default is 10 s.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.handshake_timeout = timeout;
        self
    }

    /// Whether to reconnect after a connection ends (and retry the first connection).
    /// Default is on.
    pub fn reconnect(mut self, on: bool) -> Self {
        self.cfg.reconnect = on;
        self
    }

    /// The reconnect backoff: full jitter, `random(0, min(max, base · 2^n))` before attempt
    /// `n + 1`. Default is base 0.5 s, max 30 s.
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.cfg.backoff_base = base;
        self.cfg.backoff_max = max.max(base);
        self
    }

    /// A connection that stayed open this long resets the attempt counter (so a flapping
    /// server keeps getting longer waits). Default is 10 s.
    pub fn healthy_after(mut self, period: Duration) -> Self {
        self.cfg.healthy_after = period;
        self
    }

    /// Closes after this many failed attempts in a row. Default is no limit.
    pub fn max_attempts(mut self, attempts: Option<u32>) -> Self {
        self.cfg.max_attempts = attempts.filter(|&n| n > 0);
        self
    }

    /// Closes when reconnecting has gone on this long without a healthy connection.
    /// Default is no limit.
    pub fn reconnect_deadline(mut self, deadline: impl Into<Option<Duration>>) -> Self {
        let deadline: Option<Duration> = deadline.into();
        self.cfg.reconnect_deadline = deadline;
        self
    }

    /// Replaces the judgement of disconnections ([`default_decision`](super::default_decision),
    /// which the function can call for the cases it does not change).
    pub fn classify<F>(mut self, f: F) -> Self
    where
        F: Fn(&DisconnectReason) -> Decision + Send + Sync + 'static,
    {
        self.cfg.classify = Some(Arc::new(f));
        self
    }

    /// Runs after every successful handshake, before queued messages are sent: the messages
    /// it returns (authentication, subscriptions) go first, on that connection only. An error
    /// ends the connection, which is then judged like any failure. It must finish within the
    /// handshake timeout. Default is none.
    pub fn on_connect<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(ConnectInfo) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Message>>> + Send + 'static,
    {
        self.cfg.on_connect = Some(Arc::new(move |info| Box::pin(hook(info)) as Hello));
        self
    }

    /// Opens the WebSocket: resolves once the first connection is up (its on-connect hook
    /// done), or fails when the connection is judged fatal (a 401 handshake, say) or the
    /// attempts or reconnect deadline run out. With reconnecting on, failures of the first
    /// connection are retried like later ones.
    pub async fn connect(self) -> Result<WebSocket> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        let Target { uri, auth } = self.url?;
        let mut cfg = self.cfg;
        // Credentials in the URL, unless the handshake has its own.
        if let Some(auth) = auth
            && !cfg.headers.contains_key(http::header::AUTHORIZATION)
        {
            cfg.headers.insert(http::header::AUTHORIZATION, auth);
        }
        super::driver::start(self.client.ws_parts(), uri, cfg).await
    }
}

//! The server: builder, handle, accept loop and per-connection driver.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::conn::{ChaosIo, ConnCtx};
use crate::stats::{FlakyCall, Stats};
use crate::tls::{self, TlsVersions};
use crate::{Error, routes};

/// How long `shutdown()` lets open connections finish before it aborts them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// A TLS handshake that takes longer than this is abandoned.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by the accept loop, every connection and every route.
pub(crate) struct Shared {
    pub(crate) stats: Stats,
    pub(crate) load: crate::load::Load,
    pub(crate) outage: crate::outage::Outage,
    shutdown: watch::Receiver<bool>,
    http: auto::Builder<TokioExecutor>,
}

impl Shared {
    /// Resolves once the server is shutting down (or its handle was dropped).
    pub(crate) async fn shutdown_signal(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// Counts a connection as open for as long as its socket lives (upgrades included).
pub(crate) struct OpenGuard(Arc<Shared>);

impl OpenGuard {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.stats.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(shared.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A running chaos server. Dropping the handle shuts the server down.
///
/// ```no_run
/// # async fn demo() -> Result<(), tenax_chaos::Error> {
/// let server = tenax_chaos::ChaosServer::builder().start().await?;
/// println!("try {}", server.url("/flaky/k?fail=2"));
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct ChaosServer {
    addr: SocketAddr,
    tls: Option<tls::TlsMaterial>,
    shared: Arc<Shared>,
    shutdown_tx: watch::Sender<bool>,
    done_rx: watch::Receiver<bool>,
}

/// Configures and starts a [`ChaosServer`].
#[derive(Clone, Debug)]
#[must_use]
pub struct Builder {
    addr: SocketAddr,
    tls: Option<TlsVersions>,
    require_client_cert: bool,
    h2_max_streams: Option<u32>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            tls: None,
            require_client_cert: false,
            h2_max_streams: None,
        }
    }
}

impl Builder {
    /// The address to listen on. Default is `127.0.0.1:0` (a free port on loopback).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Serve TLS (ALPN `h2` and `http/1.1`) with a CA generated at start, whose certificate
    /// [`ChaosServer::ca_pem`] returns. Default is plain TCP (HTTP/1.1 and h2c prior knowledge).
    pub fn tls(mut self, on: bool) -> Self {
        self.tls = on.then(|| self.tls.unwrap_or_default());
        self
    }

    /// Serve TLS restricted to these versions (implies [`tls(true)`](Self::tls)).
    /// Default is TLS 1.2 and 1.3.
    pub fn tls_versions(mut self, versions: TlsVersions) -> Self {
        self.tls = Some(versions);
        self
    }

    /// Refuse TLS clients that present no certificate signed by the server's CA (mutual TLS;
    /// implies [`tls(true)`](Self::tls)). [`ChaosServer::client_cert_pem`] and
    /// [`ChaosServer::client_key_pem`] give a certificate that passes. Default is off.
    pub fn require_client_cert(mut self, on: bool) -> Self {
        self.require_client_cert = on;
        if on {
            self.tls = Some(self.tls.unwrap_or_default());
        }
        self
    }

    /// The HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS the server announces. Default is hyper's
    /// (200).
    pub fn http2_max_concurrent_streams(mut self, n: u32) -> Self {
        self.h2_max_streams = Some(n);
        self
    }

    /// Starts the server on the current tokio runtime.
    ///
    /// The server's tasks live on that runtime: with `#[tokio::test]` (current_thread) the
    /// server and the client under test share one thread, which is fine for behaviour tests.
    /// Use [`start_in_thread`](Self::start_in_thread) to keep the server's CPU apart.
    pub async fn start(self) -> Result<ChaosServer, Error> {
        let (server, serve) = self.bind().await?;
        tokio::spawn(serve);
        Ok(server)
    }

    /// Starts the server on a thread of its own with its own current_thread runtime, so its
    /// work neither competes with nor is counted in the caller's runtime. Usable from sync code.
    pub fn start_in_thread(self) -> Result<ChaosServer, Error> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("tenax-chaos".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(Error::io("starting the server runtime", e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match self.bind().await {
                        Ok((server, serve)) => {
                            let _ = tx.send(Ok(server));
                            serve.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                });
            })
            .map_err(|e| Error::io("spawning the server thread", e))?;
        rx.recv()
            .map_err(|_| Error::msg("the server thread ended before it started"))?
    }

    async fn bind(self) -> Result<(ChaosServer, impl Future<Output = ()> + Send), Error> {
        let tls = match self.tls {
            Some(v) => Some(tls::generate(v, self.require_client_cert)?),
            None => None,
        };
        let listener = TcpListener::bind(self.addr)
            .await
            .map_err(|e| Error::io(format!("binding {}", self.addr), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            // Idle keep-alive connections stay open until the client closes them: pool tests
            // need to see the client's idle timeout, not ours.
            .header_read_timeout(None);
        http.http2().timer(TokioTimer::new());
        if let Some(n) = self.h2_max_streams {
            http.http2().max_concurrent_streams(n);
        }
        let shared = Arc::new(Shared {
            stats: Stats::default(),
            load: Default::default(),
            outage: Default::default(),
            shutdown: shutdown_rx,
            http,
        });
        let acceptor = tls.as_ref().map(|t| TlsAcceptor::from(t.config.clone()));
        let serve = accept_loop(listener, acceptor, shared.clone(), done_tx);
        Ok((
            ChaosServer {
                addr,
                tls,
                shared,
                shutdown_tx,
                done_rx,
            },
            serve,
        ))
    }
}

impl ChaosServer {
    /// A builder with the defaults: plain TCP on `127.0.0.1:0`.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `http://127.0.0.1:PORT{path}` (or `https://`); `path` should start with `/`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// `ws://127.0.0.1:PORT{path}` (or `wss://`).
    pub fn ws_url(&self, path: &str) -> String {
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The PEM certificate of the CA that signed the server's certificate (TLS mode only).
    /// Trust it in a client to verify the server.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// The DER certificate of the CA (TLS mode only).
    pub fn ca_der(&self) -> Option<&[u8]> {
        self.tls.as_ref().map(|t| t.ca_der.as_ref())
    }

    /// The DER certificate the server presents (TLS mode only), e.g. to compute a pin.
    pub fn cert_der(&self) -> Option<&[u8]> {
        self.tls.as_ref().map(|t| t.leaf_der.as_ref())
    }

    /// A client certificate (PEM) signed by the server's CA, for mutual TLS (TLS mode only).
    pub fn client_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.client_cert_pem.as_str())
    }

    /// The private key (PEM, PKCS#8) of [`client_cert_pem`](Self::client_cert_pem).
    pub fn client_key_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.client_key_pem.as_str())
    }

    /// How many requests a route has served, by its name: the first path segment (`"bytes"`,
    /// `"flaky"`, ...), or `"ws/NAME"` for WebSocket routes; unknown paths count as
    /// `"not-found"`.
    pub fn hits(&self, route: &str) -> u64 {
        self.shared.stats.hits(route)
    }

    /// Every call `/flaky/{key}` received, in order.
    pub fn flaky_calls(&self, key: &str) -> Vec<FlakyCall> {
        self.shared.stats.flaky_calls(key)
    }

    /// `/ws/echo` with permessage-deflate: bytes of the data messages it received and echoed,
    /// and bytes their frames took on the wire (so `wire / messages` is the compression).
    pub fn ws_compression_bytes(&self) -> (u64, u64) {
        let c = &self.shared.stats.ws_deflate;
        (
            c.message_bytes.load(std::sync::atomic::Ordering::Relaxed),
            c.wire_bytes.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// How many data messages `/ws/count/{key}` (or `/ws/drop/{n}?key=`) received for `key`.
    pub fn ws_count(&self, key: &str) -> u64 {
        self.shared.stats.ws_count(key)
    }

    /// The data messages received under `key` (`/ws/count/{key}`, `/ws/drop/{n}?key=`), in
    /// arrival order.
    pub fn ws_messages(&self, key: &str) -> Vec<Vec<u8>> {
        self.shared.stats.ws_payloads(key)
    }

    /// The most requests the server was handling at once (from arrival to the response
    /// head), since the start or the last [`reset_max_in_flight`](Self::reset_max_in_flight).
    pub fn max_in_flight(&self) -> u64 {
        self.shared.stats.max_in_flight.load(Ordering::Relaxed)
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> u64 {
        self.shared.stats.in_flight.load(Ordering::Relaxed)
    }

    /// Starts counting [`max_in_flight`](Self::max_in_flight) again.
    pub fn reset_max_in_flight(&self) {
        self.shared.stats.max_in_flight.store(0, Ordering::Relaxed);
    }

    /// Takes the server down for `d`: its port refuses connections and every open connection
    /// is cut, then it listens on the same port again (a host that crashed and came back).
    /// Resolves once the port is closed. `GET /_outage?ms=N` does the same over HTTP.
    pub async fn outage(&self, d: Duration) {
        self.shared.outage.begin(d).await;
    }

    /// Whether the server is in an [`outage`](Self::outage) now.
    pub fn is_down(&self) -> bool {
        self.shared.outage.is_down()
    }

    /// How many requests the `/capacity/{c}` routes refused with 503 (over `2c` in flight).
    pub fn capacity_rejections(&self) -> u64 {
        self.shared.load.rejected.load(Ordering::Relaxed)
    }

    /// How many TCP connections the server has accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.stats.accepted.load(Ordering::Relaxed)
    }

    /// How many accepted TCP connections are still open (WebSocket upgrades included).
    pub fn connections_open(&self) -> u64 {
        self.shared.stats.open.load(Ordering::Relaxed)
    }

    /// Everything above as one JSON document: what `GET /_stats` returns.
    pub fn stats_json(&self) -> String {
        self.shared.stats.to_json().to_string()
    }

    /// Stops accepting, lets open connections finish for up to 2 s, then aborts the rest.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(true);
        let mut done = self.done_rx.clone();
        let _ = tokio::time::timeout(
            SHUTDOWN_GRACE + Duration::from_secs(3),
            done.wait_for(|d| *d),
        )
        .await;
    }
}

impl std::fmt::Debug for ChaosServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosServer")
            .field("addr", &self.addr)
            .field("tls", &self.is_tls())
            .finish()
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    done_tx: watch::Sender<bool>,
) {
    let mut conns = JoinSet::new();
    let addr = listener.local_addr().ok();
    let mut listener = Some(listener);
    loop {
        let outage_end = tokio::select! {
            _ = shared.shutdown_signal() => break,
            until = shared.outage.asked() => until,
            res = accept(&listener) => match res {
                Ok((stream, _peer)) => {
                    shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(serve_conn(stream, tls.clone(), shared.clone()));
                    continue;
                }
                // Out of descriptors or a connection reset before accept: back off briefly.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        // The host goes down: connections are refused and the open ones cut, until the end.
        let Some(addr) = addr else { continue };
        listener = None;
        conns.abort_all();
        shared.outage.set_down(true);
        tokio::select! {
            _ = shared.shutdown_signal() => break,
            _ = tokio::time::sleep_until(outage_end.into()) => {}
        }
        listener = Some(crate::outage::rebind(addr).await);
        shared.outage.set_down(false);
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    conns.shutdown().await;
    let _ = done_tx.send(true);
}

/// The next connection; never resolves while the server is down.
async fn accept(listener: &Option<TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

async fn serve_conn(stream: TcpStream, tls: Option<TlsAcceptor>, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let ctx = ConnCtx::new();
    let io = ChaosIo::new(stream, ctx.clone(), OpenGuard::new(&shared));
    match tls {
        None => drive(TokioIo::new(io), ctx, shared).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io));
            let tls_stream = tokio::select! {
                res = handshake => match res {
                    Ok(Ok(s)) => s,
                    _ => return,
                },
                _ = shared.shutdown_signal() => return,
            };
            drive(TokioIo::new(tls_stream), ctx, shared).await
        }
    }
}

async fn drive<I>(io: TokioIo<I>, ctx: Arc<ConnCtx>, shared: Arc<Shared>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = {
        let (ctx, shared) = (ctx.clone(), shared.clone());
        service_fn(move |req| {
            let (ctx, shared) = (ctx.clone(), shared.clone());
            async move { Ok::<_, Infallible>(routes::handle(req, ctx, shared).await) }
        })
    };
    let conn = shared.http.serve_connection_with_upgrades(io, svc);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let idle = ctx.idle_close_due_in().filter(|_| !closing);
        tokio::select! {
            _ = conn.as_mut() => break,
            _ = shared.shutdown_signal(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = ctx.rules_changed.notified() => {
                if ctx.aborted() {
                    // Dropped, not shut down: no GOAWAY, the socket closed under every stream.
                    break;
                }
            }
            _ = tokio::time::sleep(idle.unwrap_or_default()), if idle.is_some() => {
                if ctx.idle_close_due_in() == Some(Duration::ZERO) {
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

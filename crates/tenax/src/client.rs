//! The client: a cheap handle on a shared pool and configuration, and the path of a request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri, Version};
use hyper_util::rt::TokioIo;

use crate::body::{Body, RecvBody};
use crate::config::{PoolLimits, Timeouts};
use crate::connect::{self, IoState, Resolve, SystemResolver};
use crate::error::{Error, Kind, Peer, find_io, find_write_stall};
use crate::pool::{Checkout, Conn, Origin, Pool, Slot};
use crate::request::{IntoUrl, Parts, RequestBuilder};
use crate::response::Head;
use crate::{Response, Result, TimeoutPhase, Timings};

/// An HTTP client: one pool of connections, shared by every clone.
///
/// Make one and reuse it (cloning is cheap: an `Arc` inside); [`close`](Self::close) it when
/// done to drain in-flight requests and close every connection. Dropping the last clone is
/// safe too: idle connections close.
///
/// ```no_run
/// # async fn demo() -> tenax::Result<()> {
/// use std::time::Duration;
///
/// let client = tenax::Client::builder()
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(5))
///     .max_connections(16)
///     .build()?;
/// let body = client.get("http://127.0.0.1:8080/status").send().await?.text().await?;
/// client.close().await;
/// # let _ = body; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    pool: Arc<Pool>,
    timeouts: Timeouts,
    resolver: Arc<dyn Resolve>,
    default_headers: HeaderMap,
    close_timeout: Duration,
}

/// Configures a [`Client`]. Every setter's documentation states its default.
#[must_use]
pub struct ClientBuilder {
    timeouts: Timeouts,
    limits: PoolLimits,
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    close_timeout: Duration,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            timeouts: Timeouts::default(),
            limits: PoolLimits::default(),
            default_headers: HeaderMap::new(),
            user_agent: HeaderValue::from_static(concat!("tenax/", env!("CARGO_PKG_VERSION"))),
            close_timeout: Duration::from_secs(10),
        }
    }
}

impl ClientBuilder {
    /// Every phase timeout at once. Default is [`Timeouts::default`]: connect 10 s, write 30 s,
    /// read 30 s, pool 30 s.
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.timeouts = t;
        self
    }

    /// Resolving and opening a connection (`None`: no limit). Default is 10 s.
    pub fn connect_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeouts.connect = t.into();
        self
    }

    /// No write progress for this long fails the request (`None`: no limit). Default is 30 s.
    pub fn write_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeouts.write = t.into();
        self
    }

    /// Waiting for the response head, then for each body chunk (`None`: no limit).
    /// Default is 30 s.
    pub fn read_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeouts.read = t.into();
        self
    }

    /// Waiting for a pooled connection at the limits (`None`: no limit). Default is 30 s.
    pub fn pool_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.timeouts.pool = t.into();
        self
    }

    /// Every pool limit at once. Default is [`PoolLimits::default`].
    pub fn pool_limits(mut self, limits: PoolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Open connections in all. Default is 100.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n;
        self
    }

    /// Open connections per host. Default is unlimited (only `max_connections` applies).
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.limits.max_connections_per_host = n;
        self
    }

    /// Idle connections kept per host. Default is 32.
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.limits.max_idle_per_host = n;
        self
    }

    /// Idle connections are closed after this long (`None`: kept). Default is 90 s.
    pub fn idle_timeout(mut self, t: impl Into<Option<Duration>>) -> Self {
        self.limits.idle_timeout = t.into();
        self
    }

    /// Headers sent with every request (a request's own headers of the same name win).
    /// Default is none beyond `User-Agent` and `Accept: */*`.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// The `User-Agent` header. Default is `tenax/VERSION`.
    pub fn user_agent(mut self, value: HeaderValue) -> Self {
        self.user_agent = value;
        self
    }

    /// How long [`Client::close`] lets in-flight requests finish before it cuts their
    /// connections. Default is 10 s.
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.close_timeout = t;
        self
    }

    /// Builds the client. Fails ([`Error::is_builder`]) on a limit of zero.
    pub fn build(self) -> Result<Client> {
        if self.limits.max_connections == 0 || self.limits.max_connections_per_host == 0 {
            return Err(Error::builder("connection limits must be at least 1"));
        }
        let mut headers = self.default_headers;
        headers.entry(header::USER_AGENT).or_insert(self.user_agent);
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        Ok(Client {
            inner: Arc::new(ClientInner {
                pool: Pool::new(self.limits),
                timeouts: self.timeouts,
                resolver: Arc::new(SystemResolver),
                default_headers: headers,
                close_timeout: self.close_timeout,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .finish()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeouts", &self.inner.timeouts)
            .finish()
    }
}

impl Client {
    /// A client with every default (see [`ClientBuilder`]).
    pub fn new() -> Client {
        ClientBuilder::default()
            .build()
            .expect("the default configuration is valid")
    }

    /// A builder to configure a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A request with any method.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// A GET request.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A HEAD request.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A POST request.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Closes the client: new requests fail at once ([`Error::is_closed`]), requests in
    /// flight may finish for the close timeout (default 10 s) before their connections are cut,
    /// and idle connections close. When it returns, no connection of this client is open.
    pub async fn close(&self) {
        let tracker = self.inner.pool.tracker.clone();
        self.inner.pool.close();
        if !tracker.wait_empty(self.inner.close_timeout).await {
            tracker.abort_all();
            tracker.wait_empty(Duration::from_secs(1)).await;
        }
    }

    /// Connection tasks alive right now (open connections, idle or busy).
    pub fn open_connections(&self) -> usize {
        self.inner.pool.tracker.live()
    }

    pub(crate) async fn execute(&self, parts: Parts) -> Result<Response> {
        let Parts {
            method,
            uri,
            headers,
            body,
            timeouts,
        } = parts;
        let started = Instant::now();
        match self
            .attempt(&method, &uri, headers, body, timeouts, started)
            .await
        {
            Ok((head, body, timings, reused, head_at)) => Ok(Response::new(
                Head {
                    method,
                    status: head.status,
                    version: head.version,
                    headers: head.headers,
                    url: uri,
                    remote_addr: body.peer(),
                    reused,
                    timings,
                    started,
                    head_at,
                },
                body,
            )),
            Err(e) => Err(e.with_url(&method, &uri)),
        }
    }

    /// One attempt: a connection from the pool (or a new one), the request written, the
    /// response head read.
    async fn attempt(
        &self,
        method: &Method,
        uri: &Uri,
        headers: HeaderMap,
        mut body: Body,
        timeouts: crate::config::TimeoutOverrides,
        started: Instant,
    ) -> Result<(http::response::Parts, RecvBody, Timings, bool, Instant)> {
        let inner = &*self.inner;
        let t = timeouts.apply(inner.timeouts);
        let mut timings = Timings::default();
        let origin = Origin::of(uri).expect("checked when the URL was parsed");
        if origin.is_https() {
            return Err(Error::builder(
                "https is not supported yet (TLS lands with the next release)",
            ));
        }

        let (mut conn, reused) = loop {
            match inner
                .pool
                .checkout(&origin, t.pool, started, &mut timings)
                .await?
            {
                Checkout::Reuse(mut c) => {
                    // Waits for the connection to be ready for the next request; fails if the
                    // server closed it while it was idle. Then take another.
                    if std::future::poll_fn(|cx| c.tx.poll_ready(cx)).await.is_ok() {
                        break (c, true);
                    }
                }
                Checkout::New(slot) => break (self.open(slot, &t, &mut timings).await?, false),
            }
        };

        let mut req = http::Request::new(Body::empty());
        *req.method_mut() = method.clone();
        *req.uri_mut() = origin_form(uri);
        *req.version_mut() = Version::HTTP_11;
        let h = req.headers_mut();
        *h = headers;
        for (name, value) in &inner.default_headers {
            if !h.contains_key(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        if !h.contains_key(header::HOST) {
            h.insert(header::HOST, conn.host_header.clone());
        }
        let body_ended = body.end_flag();
        *req.body_mut() = body;

        conn.io.set_write_timeout(t.write);
        // A reused connection starts sending when the checkout ended; a new one after connecting.
        let send_start = if reused {
            started + timings.pool_wait
        } else {
            Instant::now()
        };
        let remote = conn.remote;
        let res = send(&mut conn, req, t.read, body_ended.as_deref(), send_start)
            .await
            .map_err(|e| e.with_peer(Peer::Addr(remote)))?;
        let head_at = Instant::now();
        timings.ttfb = head_at - send_start;
        let last_write = conn.io.last_write();
        timings.write = (last_write > send_start).then(|| last_write - send_start);

        let (head, incoming) = res.into_parts();
        let body = RecvBody::new(incoming, conn, t.read);
        Ok((head, body, timings, reused, head_at))
    }

    /// Opens a new connection in `slot`, within the connect timeout.
    async fn open(&self, slot: Slot, t: &Timeouts, timings: &mut Timings) -> Result<Conn> {
        let origin = slot.origin();
        let c = connect::connect(
            &*self.inner.resolver,
            origin.host(),
            origin.port(),
            t.connect,
        )
        .await?;
        let host_header = origin.host_header();
        timings.dns = c.dns;
        timings.connect = Some(c.tcp);
        let (tx, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(c.io))
            .await
            .map_err(|e| classify_hyper(e, Kind::Connect, "during the handshake"))?;
        let pool = &self.inner.pool;
        pool.tracker.spawn(pool.next_conn_id(), async move {
            // The connection's errors reach the request that was using it.
            let _ = conn.await;
        });
        Ok(Conn {
            tx,
            io: c.state,
            slot,
            remote: c.remote,
            host_header,
        })
    }
}

/// Sends the request and waits for the response head, with the read timeout counted from the
/// moment the request was written (a write in progress pushes it back: that is the write
/// timeout's business).
async fn send(
    conn: &mut Conn,
    req: http::Request<Body>,
    read: Option<Duration>,
    body_ended: Option<&AtomicBool>,
    send_start: Instant,
) -> Result<http::Response<hyper::body::Incoming>> {
    let io: &IoState = &conn.io;
    let fut = conn.tx.send_request(req);
    let classify = |e| classify_hyper(e, Kind::Recv, "waiting for the response head");
    let Some(read) = read else {
        return fut.await.map_err(classify);
    };
    tokio::pin!(fut);
    let sleep = tokio::time::sleep(read);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            res = &mut fut => return res.map_err(classify),
            () = &mut sleep => {
                let now = Instant::now();
                let body_done = body_ended.is_none_or(|b| b.load(Ordering::Relaxed));
                let written = body_done && !io.write_blocked();
                let from = if written { io.last_write().max(send_start) } else { now };
                let due = from + read;
                if due <= now {
                    return Err(Error::timeout(
                        TimeoutPhase::Read,
                        read,
                        "waiting for the response head",
                    ));
                }
                sleep.as_mut().reset(due.into());
            }
        }
    }
}

/// Turns a hyper error into ours: write stalls are write timeouts, parse errors protocol
/// errors, a close before any response an empty reply; otherwise `fallback`.
pub(crate) fn classify_hyper(e: hyper::Error, fallback: Kind, what: &'static str) -> Error {
    if let Some(limit) = find_write_stall(&e) {
        return Error::timeout(TimeoutPhase::Write, limit, "writing the request");
    }
    let kind = if e.is_parse() || e.is_parse_status() {
        Kind::Protocol
    } else if e.is_incomplete_message() && what == "waiting for the response head" {
        Kind::EmptyReply
    } else if e.is_body_write_aborted() || e.is_user() {
        Kind::Send
    } else if let Some(io) = find_io(&e) {
        match io.kind() {
            std::io::ErrorKind::BrokenPipe => Kind::Send,
            _ => fallback,
        }
    } else {
        fallback
    };
    Error::new(kind).with_what(what).with_source(e)
}

/// The request target for HTTP/1.1 to an origin server: path and query only.
fn origin_form(uri: &Uri) -> Uri {
    match uri.path_and_query() {
        Some(pq) => Uri::from(pq.clone()),
        None => Uri::from_static("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _assert_auto_traits() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>() {}
        is_send_sync::<Client>();
        is_send_sync::<Error>();
        is_send::<Response>();
        is_send::<RequestBuilder>();
        is_send::<crate::Chunks>();
    }

    #[test]
    fn origin_form_keeps_path_and_query() {
        let u: Uri = "http://h:1/a/b?c=d".parse().unwrap();
        assert_eq!(origin_form(&u), "/a/b?c=d");
        let u: Uri = "http://h".parse().unwrap();
        assert_eq!(origin_form(&u), "/");
    }

    #[test]
    fn zero_limits_are_refused() {
        let e = Client::builder().max_connections(0).build().unwrap_err();
        assert!(e.is_builder());
    }
}

//! The client: a cheap handle on a shared pool and configuration, and the path of a request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri, Version};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::body::{Body, RecvBody};
use crate::config::{PoolLimits, Timeouts};
use crate::connect::tls::{self, Certificate, HttpVersions, Identity, TlsOptions, TlsVersion};
use crate::connect::{self, IoState, Resolve, SystemResolver};
use crate::error::{Error, Kind, Peer, find_io, find_write_stall};
use crate::pool::{Checkout, Conn, ConnInfo, H2, H2Conn, Hold, Origin, Pool, Sender, Slot, Want};
use crate::request::{IntoUrl, Parts, RequestBuilder};
use crate::response::Head;
use crate::retry::{self, Retry, RetryPolicy, Verdict};
use crate::timeouts_phase::with_timeout;
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
    pool_idle_timeout: Option<Duration>,
    timeouts: Timeouts,
    resolver: Arc<dyn Resolve>,
    default_headers: HeaderMap,
    close_timeout: Duration,
    versions: HttpVersions,
    tls: Arc<rustls::ClientConfig>,
    h2: Http2Options,
    retry: RetryPolicy,
    deadline_header: Option<header::HeaderName>,
    redirect: crate::RedirectPolicy,
}

/// HTTP/2 connection settings.
#[derive(Clone, Copy, Debug)]
struct Http2Options {
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Duration,
    initial_stream_window: u32,
    initial_connection_window: u32,
    adaptive_window: bool,
}

impl Default for Http2Options {
    fn default() -> Self {
        Http2Options {
            keep_alive_interval: Some(Duration::from_secs(30)),
            keep_alive_timeout: Duration::from_secs(20),
            initial_stream_window: 2 << 20,
            initial_connection_window: 5 << 20,
            adaptive_window: false,
        }
    }
}

impl Http2Options {
    fn builder(&self) -> hyper::client::conn::http2::Builder<TokioExecutor> {
        let mut b = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
        b.timer(TokioTimer::new())
            .keep_alive_interval(self.keep_alive_interval)
            .keep_alive_timeout(self.keep_alive_timeout)
            .initial_stream_window_size(self.initial_stream_window)
            .initial_connection_window_size(self.initial_connection_window)
            .adaptive_window(self.adaptive_window);
        b
    }
}

/// Configures a [`Client`]. Every setter's documentation states its default.
#[must_use]
pub struct ClientBuilder {
    timeouts: Timeouts,
    limits: PoolLimits,
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    close_timeout: Duration,
    versions: HttpVersions,
    tls: TlsOptions,
    h2: Http2Options,
    retry: RetryPolicy,
    deadline_header: Option<header::HeaderName>,
    redirect: crate::RedirectPolicy,
    /// The first invalid input given to a setter, reported by `build`.
    invalid: Option<Error>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            timeouts: Timeouts::default(),
            limits: PoolLimits::default(),
            default_headers: HeaderMap::new(),
            user_agent: HeaderValue::from_static(concat!("tenax/", env!("CARGO_PKG_VERSION"))),
            close_timeout: Duration::from_secs(10),
            versions: HttpVersions::Auto,
            tls: TlsOptions::default(),
            h2: Http2Options::default(),
            retry: RetryPolicy::default(),
            deadline_header: None,
            redirect: crate::RedirectPolicy::default(),
            invalid: None,
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

    /// Also trust this root certificate (for https). Default is the built-in roots only.
    pub fn add_root_certificate(mut self, cert: Certificate) -> Self {
        self.tls.roots.push(cert);
        self
    }

    /// Trust the Mozilla roots built into Tenax (webpki-roots). Default is true; turn it off
    /// to trust only the certificates you add.
    pub fn tls_built_in_root_certs(mut self, on: bool) -> Self {
        self.tls.built_in_roots = on;
        self
    }

    /// Trust the operating system's certificate store too. Default is false.
    #[cfg(feature = "native-roots")]
    pub fn tls_native_root_certs(mut self, on: bool) -> Self {
        self.tls.native_roots = on;
        self
    }

    /// Present this client certificate when a server asks for one (mutual TLS). Default is
    /// none.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.tls.identity = Some(identity);
        self
    }

    /// The lowest TLS version to accept. Default is TLS 1.2.
    pub fn tls_min_version(mut self, v: TlsVersion) -> Self {
        self.tls.min_version = v;
        self
    }

    /// Accept a server only if its certificate's public key has this SHA-256 pin, written as
    /// curl takes it: `sha256//BASE64`. Repeatable: any of the pins matches. A mismatch fails
    /// with [`Error::is_pin_mismatch`]. Default is no pin.
    pub fn pin_sha256(mut self, pin: &str) -> Self {
        match crate::connect::tls::parse_pin(pin) {
            Ok(p) => self.tls.pins.push(p),
            Err(e) => {
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// **Dangerous**: accept any server certificate, even one that does not verify, so that
    /// anyone on the path can read and change the traffic. Pins, if set, are still checked.
    /// Default is false.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.tls.danger_accept_invalid_certs = accept;
        self
    }

    /// Speak HTTP/1.1 only. Default: HTTP/2 when the server agrees by ALPN on https,
    /// HTTP/1.1 otherwise.
    pub fn http1_only(mut self) -> Self {
        self.versions = HttpVersions::Http1;
        self
    }

    /// Speak HTTP/2 only: required by ALPN on https, by prior knowledge on http.
    /// Default: HTTP/2 when the server agrees by ALPN on https, HTTP/1.1 otherwise.
    pub fn http2_only(mut self) -> Self {
        self.versions = HttpVersions::Http2;
        self
    }

    /// Send an HTTP/2 PING this often to check that a connection is alive (`None`: never).
    /// Default is 30 s.
    pub fn http2_keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.h2.keep_alive_interval = interval.into();
        self
    }

    /// Close an HTTP/2 connection whose PING goes unanswered this long. Default is 20 s.
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.h2.keep_alive_timeout = timeout;
        self
    }

    /// The HTTP/2 flow-control window of each stream, in bytes. Default is 2 MiB.
    pub fn http2_initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.h2.initial_stream_window = bytes;
        self
    }

    /// The HTTP/2 flow-control window of each connection, in bytes. Default is 5 MiB.
    pub fn http2_initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.h2.initial_connection_window = bytes;
        self
    }

    /// Size HTTP/2 windows from the measured bandwidth-delay product (overrides the initial
    /// windows). Default is false.
    pub fn http2_adaptive_window(mut self, on: bool) -> Self {
        self.h2.adaptive_window = on;
        self
    }

    /// The retry policy of every request (a request may set its own). Default is
    /// [`RetryPolicy::default`]: 3 attempts for idempotent requests, full-jitter backoff,
    /// `Retry-After`, a per-host budget.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Which redirects to follow. Default is [`RedirectPolicy::default`](crate::RedirectPolicy):
    /// up to 10, credentials dropped across origins, no https → http.
    pub fn redirect(mut self, policy: crate::RedirectPolicy) -> Self {
        self.redirect = policy;
        self
    }

    /// Send the time left before a request's deadline, in milliseconds, in this header of each
    /// attempt, so that servers can give up when the caller will have. Default is none.
    pub fn deadline_header(mut self, name: header::HeaderName) -> Self {
        self.deadline_header = Some(name);
        self
    }

    /// Builds the client. Fails ([`Error::is_builder`]) on a limit of zero, an invalid pin, or
    /// a TLS configuration that trusts nothing.
    pub fn build(self) -> Result<Client> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        if self.limits.max_connections == 0 || self.limits.max_connections_per_host == 0 {
            return Err(Error::builder("connection limits must be at least 1"));
        }
        let mut headers = self.default_headers;
        headers.entry(header::USER_AGENT).or_insert(self.user_agent);
        headers
            .entry(header::ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        let tls = tls::client_config(&self.tls, self.versions)?;
        Ok(Client {
            inner: Arc::new(ClientInner {
                pool: Pool::new(self.limits),
                pool_idle_timeout: self.limits.idle_timeout,
                timeouts: self.timeouts,
                resolver: Arc::new(SystemResolver),
                default_headers: headers,
                close_timeout: self.close_timeout,
                versions: self.versions,
                tls,
                h2: self.h2,
                retry: self.retry,
                deadline_header: self.deadline_header,
                redirect: self.redirect,
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

    pub(crate) fn redirect_policy(&self) -> crate::RedirectPolicy {
        self.inner.redirect
    }

    /// Connection tasks alive right now (open connections, idle or busy).
    pub fn open_connections(&self) -> usize {
        self.inner.pool.tracker.live()
    }

    /// Open connections that no request is using right now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle()
    }

    /// Runs a request to its response (or final error). `parts` is borrowed, not owned, so
    /// that the request is held once in the caller's future rather than copied into this one.
    pub(crate) async fn execute(&self, parts: &mut Parts) -> Result<Response> {
        let Parts {
            method,
            uri,
            headers,
            body,
            timeouts,
            retry,
            deadline,
        } = parts;
        let (method, uri) = (&*method, uri);
        let (timeouts, deadline) = (*timeouts, *deadline);
        let inner = &*self.inner;
        let started = Instant::now();
        let policy = retry.as_ref().unwrap_or(&inner.retry);
        let deadline = match (deadline, crate::deadline::current()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };

        // Which requests may be tried again: idempotent methods, and POST/PATCH with a key.
        let mut can_retry = policy.max_attempts > 1;
        if can_retry && !retry::is_idempotent(method) {
            let keyed = *method == Method::POST || *method == Method::PATCH;
            if keyed && policy.idempotency_keys && !headers.contains_key(IDEMPOTENCY_KEY) {
                headers.insert(IDEMPOTENCY_KEY, generated_key());
            }
            can_retry = keyed && headers.contains_key(IDEMPOTENCY_KEY);
        }
        let body = std::mem::take(body);
        let mut body = if can_retry {
            body.buffer_for_replay(policy.replay_buffer)
        } else {
            body
        };
        let origin = Origin::of(uri).expect("checked when the URL was parsed");
        // The first attempt counts in the host's retry budget (in the pool, at checkout).
        let mut deposit = if can_retry { policy.budget } else { None };

        let mut retries: Vec<Retry> = Vec::new();
        loop {
            let attempt_no = retries.len() as u32 + 1;
            // One attempt and its verdict, in a block: what it holds (the attempt's future, its
            // outcome) must not stay in this future's state across the wait below.
            let delay = {
                // The body for this attempt; a body that cannot be replayed makes it the last.
                let (this_body, last) = match body.try_clone() {
                    Some(copy) if can_retry && attempt_no < policy.max_attempts => (copy, false),
                    _ => (std::mem::take(&mut body), true),
                };
                let mut this_headers = if last {
                    std::mem::take(headers)
                } else {
                    headers.clone()
                };
                if let (Some(name), Some(d)) = (&inner.deadline_header, deadline) {
                    let ms = d.saturating_duration_since(Instant::now()).as_millis();
                    this_headers.insert(name.clone(), HeaderValue::from(ms as u64));
                }
                let when = When {
                    timeouts,
                    attempt_start: if attempt_no == 1 {
                        started
                    } else {
                        Instant::now()
                    },
                    deadline,
                    deposit: deposit.take(),
                };
                // One slot for the attempt whether or not there is a deadline (a `match` with
                // `timeout_at` in one arm would keep two copies of the attempt in this future).
                let mut expiry = deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into())));
                let res = tokio::select! {
                    biased;
                    res = self.attempt(method, uri, &origin, this_headers, this_body, when) => res,
                    () = async {
                        match expiry.as_mut() {
                            Some(s) => s.await,
                            None => std::future::pending().await,
                        }
                    } => Err(Error::timeout(
                        TimeoutPhase::Deadline,
                        deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(started)),
                        "for the whole request",
                    )),
                };
                // The outcome is final: hand it over (moving what the response keeps).
                macro_rules! finish {
                    ($res:expr, $exhausted:expr) => {
                        return match $res {
                            Ok((head, body, timings, reused, head_at, tls_version)) => {
                                let mut r = Response::new(
                                    Head {
                                        tls_version,
                                        method: method.clone(),
                                        status: head.status,
                                        version: head.version,
                                        headers: head.headers,
                                        url: std::mem::take(uri),
                                        remote_addr: body.peer(),
                                        reused,
                                        timings,
                                        started,
                                        head_at,
                                    },
                                    body,
                                );
                                if !retries.is_empty() {
                                    r.set_retries(retries);
                                }
                                Ok(r)
                            }
                            Err(e) => {
                                let e = e.with_url(method, uri).with_attempts(attempt_no);
                                Err(if $exhausted { e.retries_exhausted() } else { e })
                            }
                        }
                    };
                }
                if !can_retry
                    || matches!(&res, Err(e) if e.timeout_phase() == Some(TimeoutPhase::Deadline))
                {
                    finish!(res, false);
                }
                let verdict = match &res {
                    Ok((head, ..)) => policy.judge(Some(head.status), None),
                    Err(e) => policy.judge(None, Some(e)),
                };
                let Verdict::Retry { throttle, reason } = verdict else {
                    finish!(res, false);
                };
                if last {
                    finish!(res, true);
                }
                // How long to wait: what the server asked for, else full-jitter backoff.
                let asked = match &res {
                    Ok((head, ..)) => head
                        .headers
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, std::time::SystemTime::now())),
                    Err(_) => None,
                };
                let delay = match asked {
                    Some(d) => d.min(policy.retry_after_cap),
                    None => {
                        let base = if throttle {
                            policy.throttle_base
                        } else {
                            policy.base
                        };
                        let mut rng = fastrand::Rng::new();
                        retry::full_jitter(base, policy.cap, attempt_no - 1, &mut rng)
                    }
                };
                if let Some(d) = deadline
                    && Instant::now() + delay >= d
                {
                    // Waiting would pass the deadline: fail now, saying why.
                    let mut e = Error::timeout(
                        TimeoutPhase::Deadline,
                        d.saturating_duration_since(started),
                        "before the next attempt",
                    );
                    if let Some(asked) = asked {
                        e = e.with_retry_after(asked);
                    }
                    if let Err(last_err) = res {
                        e = e.with_source(last_err);
                    }
                    return Err(e.with_url(method, uri).with_attempts(attempt_no));
                }
                if let Some(b) = &policy.budget
                    && !inner.pool.budget_withdraw(&origin, b)
                {
                    finish!(res, true);
                }
                // Dropping a failed response reads a small rest of its body in the background, so
                // that its connection can serve the next attempt (and nothing big stays alive in
                // this future across the wait).
                drop(res);
                retries.push(Retry {
                    attempt: attempt_no,
                    reason,
                    delay,
                });
                delay
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: a connection from the pool (or a new one), the request written, the
    /// response head read. A request that never left (the reused connection had closed) or
    /// that an HTTP/2 server refused unprocessed is sent once more on a fresh connection.
    async fn attempt(
        &self,
        method: &Method,
        uri: &Uri,
        origin: &Origin,
        headers: HeaderMap,
        mut body: Body,
        when: When,
    ) -> Result<Attempted> {
        let When {
            timeouts,
            attempt_start,
            deadline,
            mut deposit,
        } = when;
        let inner = &*self.inner;
        let t = timeouts.apply(inner.timeouts);
        let mut timings = Timings::default();
        // HTTP/2 over cleartext is by prior knowledge only; over TLS it is likely (ALPN).
        let h2 = match inner.versions {
            HttpVersions::Http1 => H2::No,
            HttpVersions::Http2 => H2::Certain,
            HttpVersions::Auto if origin.is_https() => H2::Likely,
            HttpVersions::Auto => H2::No,
        };

        let mut req = http::Request::new(Body::empty());
        *req.method_mut() = method.clone();
        let h = req.headers_mut();
        *h = headers;
        for (name, value) in &inner.default_headers {
            if !h.contains_key(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        let body_ended = body.end_flag();
        *req.body_mut() = body;

        let mut fresh = false;
        loop {
            let (mut conn, reused) = loop {
                let checkout = inner
                    .pool
                    .checkout(
                        origin,
                        Want {
                            h2,
                            fresh,
                            timeout: t.pool,
                            start: attempt_start,
                            deposit: deposit.take(),
                        },
                        &mut timings,
                    )
                    .await?;
                match checkout {
                    Checkout::Reuse(mut c) => {
                        // Waits for the connection to be ready for the next request; fails if
                        // the server closed it while it was idle. Then take another.
                        if c.tx.ready().await.is_ok() {
                            break (c, true);
                        }
                    }
                    Checkout::New(slot) => {
                        break (Box::pin(self.open(slot, &t, &mut timings)).await?, false);
                    }
                }
            };

            let h2 = conn.is_h2();
            if h2 {
                // HTTP/2 carries scheme and authority in pseudo-headers, from the full URI.
                *req.uri_mut() = uri.clone();
                *req.version_mut() = Version::HTTP_2;
                req.headers_mut().remove(header::HOST);
            } else {
                *req.uri_mut() = origin_form(uri);
                *req.version_mut() = Version::HTTP_11;
                if !req.headers().contains_key(header::HOST) {
                    req.headers_mut()
                        .insert(header::HOST, conn.info().host_header.clone());
                }
            }
            // An HTTP/2 server may refuse a stream it did not process; keep what it takes to
            // send the request again (bodies that are whole only).
            let replay = if h2 && !fresh {
                copy_request(&req).map(Box::new)
            } else {
                None
            };

            let info = conn.info();
            info.io.set_write_timeout(t.write);
            let remote = info.remote;
            // A reused connection starts sending when the checkout ended; a new one after
            // connecting.
            let send_start = if reused {
                attempt_start + timings.pool_wait
            } else {
                Instant::now()
            };
            match send(&mut conn, req, t.read, body_ended.as_deref(), send_start).await {
                Ok(res) => {
                    let head_at = Instant::now();
                    timings.ttfb = head_at - send_start;
                    let last_write = conn.info().io.last_write();
                    timings.write = (last_write > send_start).then(|| last_write - send_start);
                    let (head, incoming) = res.into_parts();
                    let keep_alive = keep_alive_limit(&head.headers, inner.pool_idle_timeout);
                    let tls_version = conn.info().tls_version;
                    let body = RecvBody::new(incoming, conn, t.read, keep_alive, deadline);
                    return Ok((head, body, timings, reused, head_at, tls_version));
                }
                Err(SendError::Timeout(e)) => return Err(e.with_peer(Peer::Addr(remote))),
                Err(SendError::Failed(mut e)) => {
                    drop(conn);
                    if !fresh {
                        if let Some(unsent) = e.take_message().filter(|_| reused) {
                            fresh = true;
                            req = unsent;
                            continue;
                        }
                        if let Some(copy) = replay.filter(|_| is_refused(e.error())) {
                            fresh = true;
                            req = *copy;
                            continue;
                        }
                    }
                    let err =
                        classify_hyper(e.into_error(), Kind::Recv, "waiting for the response head");
                    return Err(err.with_peer(Peer::Addr(remote)));
                }
            }
        }
    }

    /// Opens a new connection in `slot` (TLS for https; HTTP/2 by ALPN or prior knowledge),
    /// within the connect timeout.
    async fn open(&self, mut slot: Slot, t: &Timeouts, timings: &mut Timings) -> Result<Conn> {
        let inner = &*self.inner;
        let origin = slot.origin();
        let tls = if origin.is_https() {
            Some(&inner.tls)
        } else {
            None
        };
        let c = connect::connect(
            &*inner.resolver,
            origin.host(),
            origin.port(),
            tls,
            t.connect,
        )
        .await?;
        timings.dns = c.dns;
        timings.connect = Some(c.tcp);
        timings.tls = c.tls;
        let use_h2 = if origin.is_https() {
            c.alpn_h2
        } else {
            inner.versions == HttpVersions::Http2
        };
        if origin.is_https() && inner.versions == HttpVersions::Http2 && !c.alpn_h2 {
            return Err(Error::new(Kind::Protocol)
                .with_peer(Peer::Addr(c.remote))
                .with_source("the server did not agree to HTTP/2 (ALPN)"));
        }
        let info = ConnInfo {
            io: c.state,
            remote: c.remote,
            host_header: origin.host_header(),
            tls_version: c.tls_version,
        };
        let pool = &inner.pool;
        let mut stream = c.stream;
        if use_h2 {
            let settings = stream.sniff_settings();
            let (tx, conn) = inner
                .h2
                .builder()
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|e| classify_hyper(e, Kind::Connect, "during the HTTP/2 handshake"))?;
            let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
            pool.tracker.spawn(pool.next_conn_id(), async move {
                let _ = ended_tx.send(conn.await.err());
            });
            // The server's first SETTINGS carry its stream limit, which the pool needs; a
            // connection that ends first (a TLS alert, a refusal) fails the request.
            let first_settings = async {
                tokio::select! {
                    () = settings.wait_first() => Ok(()),
                    ended = ended_rx => Err(match ended {
                        Ok(Some(e)) => classify_hyper(e, Kind::Connect, "during the HTTP/2 handshake"),
                        _ => Error::new(Kind::EmptyReply).with_what("during the HTTP/2 handshake"),
                    }),
                }
            };
            with_timeout(
                t.connect,
                TimeoutPhase::Connect,
                "waiting for the server's HTTP/2 settings",
                first_settings,
            )
            .await
            .map_err(|e| e.with_peer(Peer::Addr(info.remote)))?;
            return Ok(pool.opened_h2(H2Conn {
                tx,
                info,
                settings,
                slot,
            }));
        }
        let (tx, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| classify_hyper(e, Kind::Connect, "during the handshake"))?;
        pool.tracker.spawn(pool.next_conn_id(), async move {
            // The connection's errors reach the request that was using it.
            let _ = conn.await;
        });
        pool.opened_h1(&mut slot);
        Ok(Conn {
            tx: Sender::H1(tx),
            hold: Hold::Exclusive { slot, info },
        })
    }
}

/// The time limits of one attempt.
struct When {
    timeouts: crate::config::TimeoutOverrides,
    /// When this attempt started: its pool wait and pool timeout count from here.
    attempt_start: Instant,
    /// The operation deadline.
    deadline: Option<Instant>,
    /// Count this attempt in the host's retry budget (a first attempt).
    deposit: Option<crate::RetryBudget>,
}

const IDEMPOTENCY_KEY: header::HeaderName = header::HeaderName::from_static("idempotency-key");

/// A random idempotency key: 128 bits in hex.
fn generated_key() -> HeaderValue {
    let key = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&key).expect("hex is a valid header value")
}

/// What an attempt that got a response head brings back: the head, the body, timings, whether
/// the connection was reused, when the head came, the TLS version.
type Attempted = (
    http::response::Parts,
    RecvBody,
    Timings,
    bool,
    Instant,
    Option<crate::TlsVersion>,
);

/// Why a request got no response head.
enum SendError {
    /// The read timeout ran out.
    Timeout(Error),
    /// The connection failed; the request comes back if it was never written. (Boxed: the
    /// request is large, and this is the rare path.)
    Failed(Box<hyper::client::conn::TrySendError<http::Request<Body>>>),
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
) -> Result<http::Response<hyper::body::Incoming>, SendError> {
    let (tx, info) = conn.parts_mut();
    let io: &IoState = &info.io;
    let fut = tx.send(req);
    let Some(read) = read else {
        return fut.await.map_err(|e| SendError::Failed(Box::new(e)));
    };
    tokio::pin!(fut);
    let sleep = tokio::time::sleep(read);
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            biased;
            res = &mut fut => return res.map_err(|e| SendError::Failed(Box::new(e))),
            () = &mut sleep => {
                let now = Instant::now();
                let body_done = body_ended.is_none_or(|b| b.load(Ordering::Relaxed));
                let written = body_done && !io.write_blocked();
                let from = if written { io.last_write().max(send_start) } else { now };
                let due = from + read;
                if due <= now {
                    return Err(SendError::Timeout(Error::timeout(
                        TimeoutPhase::Read,
                        read,
                        "waiting for the response head",
                    )));
                }
                sleep.as_mut().reset(due.into());
            }
        }
    }
}

/// A copy of a request whose body is whole, for sending it again.
fn copy_request(req: &http::Request<Body>) -> Option<http::Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

/// Whether an HTTP/2 server declined the request without processing it: REFUSED_STREAM, or a
/// graceful GOAWAY that excluded the stream (RFC 9113 §8.7). Such requests are safe to send
/// again, whatever their method.
fn is_refused(e: &hyper::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(h2) = err.downcast_ref::<h2::Error>() {
            return h2.reason() == Some(h2::Reason::REFUSED_STREAM)
                || (h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR));
        }
        cur = err.source();
    }
    false
}

/// How long an idle connection may be kept, from the server's `Keep-Alive: timeout=N`: N less
/// a margin of one second (none at all for N ≤ 1), and never longer than the pool's idle
/// timeout. `None` when the server said nothing.
fn keep_alive_limit(headers: &HeaderMap, idle_timeout: Option<Duration>) -> Option<Duration> {
    const KEEP_ALIVE: header::HeaderName = header::HeaderName::from_static("keep-alive");
    let v = headers.get(KEEP_ALIVE)?.to_str().ok()?;
    let secs: u64 = v.split(',').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("timeout")
            .then(|| v.trim().parse().ok())?
    })?;
    let limit = Duration::from_secs(secs.saturating_sub(1));
    Some(idle_timeout.map_or(limit, |t| t.min(limit)))
}

/// Turns a hyper error into ours: write stalls are write timeouts, parse errors protocol
/// errors, a close before any response an empty reply; otherwise `fallback`.
pub(crate) fn classify_hyper(e: hyper::Error, fallback: Kind, what: &'static str) -> Error {
    if let Some(limit) = find_write_stall(&e) {
        return Error::timeout(TimeoutPhase::Write, limit, "writing the request");
    }
    let kind = if let Some(kind) = tls::tls_kind_in(&e) {
        kind
    } else if e.is_parse() || e.is_parse_status() {
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

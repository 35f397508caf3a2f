//! The client: a cheap handle on a shared pool and configuration, and the path of a request.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Uri, Version};
use hyper_util::rt::TokioIo;

use crate::body::{Body, RecvBody};
use crate::config::Timeouts;
use crate::connect::tls::HttpVersions;
use crate::connect::{self, DnsCache};
use crate::error::{Error, Kind, Peer};
use crate::events::EventKind;
use crate::pool::{Checkout, Conn, ConnInfo, H2, H2Conn, Hold, Origin, Pool, Sender, Slot, Want};
use crate::request::{IntoUrl, Parts, RequestBuilder};
use crate::response::Head;
use crate::retry::{self, Retry, RetryPolicy, Verdict};
use crate::timeouts_phase::with_timeout;
use crate::{Response, Result, TimeoutPhase, Timings};

mod builder;
mod wire;

pub use builder::ClientBuilder;
use builder::Http2Options;
pub(crate) use wire::classify_hyper;
use wire::{
    Attempted, IDEMPOTENCY_KEY, SendError, When, copy_request, generated_key, is_refused,
    keep_alive_limit, origin_form, send,
};

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
    resolver: Arc<DnsCache>,
    default_headers: HeaderMap,
    close_timeout: Duration,
    versions: HttpVersions,
    tls: Arc<rustls::ClientConfig>,
    /// `tls` with HTTP/1.1 as the only ALPN protocol (WebSockets, `https://` proxies); made
    /// on first use.
    h1_tls: std::sync::OnceLock<Arc<rustls::ClientConfig>>,
    h2: Http2Options,
    retry: RetryPolicy,
    deadline_header: Option<header::HeaderName>,
    redirect: crate::RedirectPolicy,
    decompress: bool,
    max_body: Option<u64>,
    proxies: crate::proxy::Proxies,
    tcp: connect::TcpOptions,
    correlation: Option<header::HeaderName>,
    /// Hooks, metrics and tracing; `None` when nothing observes (the common, free case).
    observer: Option<Arc<crate::events::Observer>>,
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
        self.close_within(self.inner.close_timeout).await;
    }

    /// Closes the client at once: no wait for requests in flight (a scope calls it once its
    /// tasks are gone, to cut connections their cancelled requests left behind).
    pub(crate) async fn shutdown(&self) {
        self.close_within(Duration::ZERO).await;
    }

    /// Closes the pool, lets requests in flight finish for `grace`, then cuts what is left.
    async fn close_within(&self, grace: Duration) {
        let tracker = self.inner.pool.tracker.clone();
        self.inner.pool.close();
        if !tracker.wait_empty(grace).await {
            tracker.abort_all();
            tracker.wait_empty(Duration::from_secs(1)).await;
        }
    }

    /// The client's TLS configuration with HTTP/1.1 as the only ALPN protocol (WebSocket
    /// upgrades, `https://` proxies); made on first use.
    fn h1_tls(&self) -> &Arc<rustls::ClientConfig> {
        self.inner.h1_tls.get_or_init(|| {
            let mut tls = (*self.inner.tls).clone();
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(tls)
        })
    }

    /// What a WebSocket connection needs of the client: its resolver, timeouts, default headers,
    /// proxies and a TLS configuration that offers only HTTP/1.1 (the upgrade is an HTTP/1.1
    /// request).
    pub(crate) fn ws_parts(&self) -> crate::ws::ClientParts {
        let tls = self.h1_tls();
        crate::ws::ClientParts {
            resolver: self.inner.resolver.clone(),
            tls: tls.clone(),
            timeouts: self.inner.timeouts,
            headers: self.inner.default_headers.clone(),
            proxies: self.inner.proxies.clone(),
            tcp: self.inner.tcp,
            observer: self.inner.observer.clone(),
        }
    }

    /// Runs `requests` with bounded concurrency (default 50), yielding `(index, result)` as
    /// each completes; see [`Batch`](crate::Batch). The responses' bodies are read by the
    /// caller, outside the bound: use [`batch_with`](Self::batch_with) to read them inside it.
    ///
    /// ```no_run
    /// # async fn demo(client: tenax::Client) {
    /// use futures_util::StreamExt;
    /// let urls = (0..1000).map(|i| format!("http://127.0.0.1:8080/item/{i}"));
    /// let mut batch = client.batch(urls.map(|u| client.get(u))).concurrency(20);
    /// while let Some((i, res)) = batch.next().await {
    ///     println!("{i}: {:?}", res.map(|r| r.status()));
    /// }
    /// # }
    /// ```
    pub fn batch<I>(&self, requests: I) -> crate::batch::Sends<I::IntoIter>
    where
        I: IntoIterator<Item = RequestBuilder>,
    {
        crate::Batch::new(
            futures_util::stream::iter(requests),
            crate::batch::default_work(),
        )
    }

    /// Like [`batch`](Self::batch), running `work` for each request inside its concurrency
    /// slot (send it, read the body, parse it...), and yielding what `work` returns.
    pub fn batch_with<I, F, Fut>(
        &self,
        requests: I,
        work: F,
    ) -> crate::Batch<futures_util::stream::Iter<I::IntoIter>, F, Fut>
    where
        I: IntoIterator<Item = RequestBuilder>,
        F: FnMut(RequestBuilder) -> Fut,
        Fut: std::future::Future,
    {
        crate::Batch::new(futures_util::stream::iter(requests), work)
    }

    /// Like [`batch_with`](Self::batch_with), taking the requests from a `Stream` (a channel,
    /// lines read from a file...) as slots free up. A source that is not `Unpin` can be
    /// boxed with `Box::pin`.
    pub fn batch_stream<S, F, Fut>(&self, requests: S, work: F) -> crate::Batch<S, F, Fut>
    where
        S: futures_core::Stream<Item = RequestBuilder> + Unpin,
        F: FnMut(RequestBuilder) -> Fut,
        Fut: std::future::Future,
    {
        crate::Batch::new(requests, work)
    }

    /// A download of `url` to the file `dest`: streamed, verified, resumed after a failure
    /// mid-body, and put in place atomically; see [`DownloadBuilder`](crate::DownloadBuilder).
    pub fn download(
        &self,
        url: impl IntoUrl,
        dest: impl AsRef<std::path::Path>,
    ) -> crate::DownloadBuilder {
        crate::DownloadBuilder::new(self.clone(), url, dest.as_ref())
    }

    /// What the DNS cache has done so far: answers from the cache, lookups, stale answers,
    /// failures.
    pub fn dns_stats(&self) -> crate::DnsStats {
        self.inner.resolver.stats()
    }

    /// A WebSocket connection to `url` (`ws://` or `wss://`), over this client's name
    /// resolution, TLS configuration and timeouts; see [`ws::WsBuilder`](crate::ws::WsBuilder)
    /// for its heartbeat, outbox and reconnect settings.
    pub fn websocket(&self, url: impl AsRef<str>) -> crate::ws::WsBuilder {
        crate::ws::WsBuilder::new(self.clone(), url.as_ref())
    }

    pub(crate) fn redirect_policy(&self) -> crate::RedirectPolicy {
        self.inner.redirect
    }

    /// Connection tasks alive right now (open connections, idle or busy).
    pub fn open_connections(&self) -> usize {
        self.inner.pool.tracker.live()
    }

    /// A snapshot of the connection pool, host by host: connections open, idle, active and
    /// being opened, requests waiting for one.
    pub fn stats(&self) -> crate::PoolStats {
        self.inner.pool.stats()
    }

    /// Open connections that no request is using right now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle()
    }

    /// Runs a request to its response (or final error), telling the observer, if any.
    pub(crate) async fn execute(&self, parts: &mut Parts) -> Result<Response> {
        let Some(obs) = self.inner.observer.as_deref().filter(|o| o.active()) else {
            return self.run(parts, 0).await;
        };
        let id = obs.next_request();
        let started = Instant::now();
        let (method, url) = (parts.method.clone(), parts.uri.clone());
        obs.emit(
            Some(id),
            EventKind::RequestStart {
                method: method.clone(),
                url: url.clone(),
            },
        );
        #[cfg(feature = "tracing")]
        let span = crate::events::trace::request_span(&method, &url);
        #[cfg(feature = "tracing")]
        let res = tracing::Instrument::instrument(self.run(parts, id), span.clone()).await;
        #[cfg(not(feature = "tracing"))]
        let res = self.run(parts, id).await;
        let (status, error, attempts) = match &res {
            Ok(r) => (Some((r.status(), r.version())), None, r.attempts()),
            Err(e) => (None, Some(e.kind_name()), e.attempts().max(1)),
        };
        #[cfg(feature = "tracing")]
        crate::events::trace::record_end(&span, status, error, attempts);
        obs.emit(
            Some(id),
            EventKind::RequestEnd {
                method,
                url,
                attempts,
                elapsed: started.elapsed(),
                status: status.map(|(s, _)| s),
                error,
            },
        );
        res
    }

    /// Runs a request to its response (or final error). `parts` is borrowed, not owned, so
    /// that the request is held once in the caller's future rather than copied into this one.
    /// `id`: the request's number for the observer (0 without one).
    async fn run(&self, parts: &mut Parts, id: u64) -> Result<Response> {
        let Parts {
            method,
            uri,
            headers,
            body,
            timeouts,
            retry,
            deadline,
            max_body,
        } = parts;
        let max_body = max_body.or(self.inner.max_body);
        let (method, uri) = (&*method, uri);
        let (timeouts, deadline) = (*timeouts, *deadline);
        let inner = &*self.inner;
        let started = Instant::now();
        let policy = retry.as_ref().unwrap_or(&inner.retry);
        let deadline = match (deadline, crate::deadline::current()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };

        // One correlation id for every attempt and redirect of the request.
        if let Some(name) = &inner.correlation
            && !headers.contains_key(name)
        {
            headers.insert(name.clone(), generated_key());
        }

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
                    id,
                };
                // One slot for the attempt whether or not there is a deadline (a `match` with
                // `timeout_at` in one arm would keep two copies of the attempt in this future).
                let mut expiry = deadline.map(|d| Box::pin(tokio::time::sleep_until(d.into())));
                let attempt = self.attempt(method, uri, &origin, this_headers, this_body, when);
                #[cfg(feature = "tracing")]
                let attempt = crate::events::trace::attempt(attempt_no, id != 0, attempt);
                let res = tokio::select! {
                    biased;
                    res = attempt => res,
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
                if let Some(obs) = self.observer(id) {
                    obs.emit(
                        Some(id),
                        match &res {
                            Ok((head, ..)) => EventKind::ResponseHead {
                                attempt: attempt_no,
                                status: head.status,
                                version: head.version,
                            },
                            Err(e) => EventKind::AttemptFailed {
                                attempt: attempt_no,
                                error: e.kind_name(),
                                phase: e.timeout_phase(),
                                message: crate::error::message_chain(e),
                            },
                        },
                    );
                }
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
                                r.set_body_policy(inner.decompress, max_body);
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
                    if let Some(obs) = self.observer(id) {
                        obs.emit(
                            Some(id),
                            EventKind::RetryBudgetExhausted {
                                attempt: attempt_no,
                            },
                        );
                    }
                    finish!(res, true);
                }
                // Dropping a failed response reads a small rest of its body in the background, so
                // that its connection can serve the next attempt (and nothing big stays alive in
                // this future across the wait).
                drop(res);
                if let Some(obs) = self.observer(id) {
                    obs.emit(
                        Some(id),
                        EventKind::RetryScheduled {
                            attempt: attempt_no,
                            reason: reason.clone(),
                            delay,
                        },
                    );
                }
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
            id,
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
        // Ask for what we can decode — except for ranges, whose offsets are in the encoded
        // representation and which resumed downloads want as stored.
        if inner.decompress
            && !h.contains_key(header::ACCEPT_ENCODING)
            && !h.contains_key(header::RANGE)
            && let Some(codings) = crate::decode::accept_encoding()
        {
            h.insert(header::ACCEPT_ENCODING, codings.clone());
        }
        let body_ended = body.end_flag();
        *req.body_mut() = body;

        let mut fresh = false;
        loop {
            let (mut conn, reused) = loop {
                let (checkout, queued) = inner
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
                if queued && let Some(obs) = self.observer(id) {
                    obs.emit(
                        Some(id),
                        EventKind::PoolWait {
                            host: origin.host_port(),
                            waited: timings.pool_wait,
                        },
                    );
                }
                match checkout {
                    Checkout::Reuse(mut c) => {
                        // Waits for the connection to be ready for the next request; fails if
                        // the server closed it while it was idle. Then take another.
                        if c.tx.ready().await.is_ok() {
                            break (c, true);
                        }
                    }
                    Checkout::New(slot) => {
                        break (
                            Box::pin(self.open(slot, &t, &mut timings, id)).await?,
                            false,
                        );
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
                let info = conn.info();
                if info.absolute_form {
                    // Through an HTTP proxy: the whole URL in the request line.
                    *req.uri_mut() = uri.clone();
                    if let Some(a) = &info.proxy_auth {
                        req.headers_mut()
                            .insert(header::PROXY_AUTHORIZATION, a.clone());
                    }
                } else {
                    *req.uri_mut() = origin_form(uri);
                }
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

    /// The observer, for a request that is observed (`id` is not 0).
    fn observer(&self, id: u64) -> Option<&Arc<crate::events::Observer>> {
        self.inner.observer.as_ref().filter(|_| id != 0)
    }

    /// Tells the observer that a connection opened, and returns a guard that tells it the
    /// connection closed when dropped (at the end of the connection's task, however it ends).
    fn watch_connection(
        &self,
        origin: &Origin,
        id: u64,
        remote: std::net::SocketAddr,
        version: Version,
    ) -> Option<ClosedGuard> {
        let obs = self.observer(id)?.clone();
        let host = origin.host_port();
        obs.emit(
            Some(id),
            EventKind::ConnectionOpened {
                host: host.clone(),
                remote,
                version,
            },
        );
        Some(ClosedGuard { obs, host, remote })
    }

    /// Opens a new connection in `slot` (TLS for https; HTTP/2 by ALPN or prior knowledge),
    /// within the connect timeout.
    async fn open(
        &self,
        mut slot: Slot,
        t: &Timeouts,
        timings: &mut Timings,
        id: u64,
    ) -> Result<Conn> {
        let inner = &*self.inner;
        let origin = slot.origin();
        let tls = if origin.is_https() {
            Some(&inner.tls)
        } else {
            None
        };
        let via = inner.proxies.for_target(origin.host(), origin.is_https());
        let route = match via {
            None => connect::Route::Direct,
            // https goes through a CONNECT tunnel; http requests go to the proxy in absolute
            // form.
            Some(proxy) => connect::Route::Proxy {
                proxy,
                tunnel: origin.is_https(),
                proxy_tls: self.h1_tls(),
            },
        };
        let absolute = via.filter(|p| !origin.is_https() && p.takes_absolute_form());
        let c = connect::connect(
            &inner.resolver,
            origin.host(),
            origin.port(),
            tls,
            t.connect,
            route,
            inner.tcp,
        )
        .await?;
        timings.dns = c.dns;
        timings.connect = Some(c.tcp);
        timings.tls = c.tls;
        let use_h2 = if origin.is_https() {
            c.alpn_h2
        } else {
            // A proxy speaks HTTP/1.1 to us for http:// targets.
            inner.versions == HttpVersions::Http2 && absolute.is_none()
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
            absolute_form: absolute.is_some(),
            proxy_auth: absolute.and_then(|p| p.auth().cloned()),
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
            let closed = self.watch_connection(origin, id, info.remote, Version::HTTP_2);
            pool.tracker.spawn(pool.next_conn_id(), async move {
                let _ = ended_tx.send(conn.await.err());
                drop(closed);
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
        let closed = self.watch_connection(origin, id, info.remote, Version::HTTP_11);
        pool.tracker.spawn(pool.next_conn_id(), async move {
            // The connection's errors reach the request that was using it.
            let _ = conn.await;
            drop(closed);
        });
        pool.opened_h1(&mut slot);
        Ok(Conn {
            tx: Sender::H1(tx),
            hold: Hold::Exclusive { slot, info },
        })
    }
}

/// Tells the observer that a connection closed, when dropped.
struct ClosedGuard {
    obs: Arc<crate::events::Observer>,
    host: String,
    remote: std::net::SocketAddr,
}

impl Drop for ClosedGuard {
    fn drop(&mut self) {
        let host = std::mem::take(&mut self.host);
        let remote = self.remote;
        self.obs
            .emit(None, EventKind::ConnectionClosed { host, remote });
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

//! The client: a cheap handle on a shared pool and configuration, and the path of a request.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::Method;
use http::header::{self, HeaderMap};

use crate::connect::tls::HttpVersions;
use crate::connect::{self, DnsCache};
use crate::events::{EventKind, RequestId};
use crate::pool::Pool;
use crate::request::{IntoUrl, Parts, Request, RequestBuilder};
use crate::retry::RetryPolicy;
use crate::timeouts::Timeouts;
use crate::{Response, Result};

mod admission;
mod attempt;
mod builder;
pub(crate) mod cookies;
mod guarded;
mod hedging;
mod retries;
mod wire;
#[cfg(fuzzing)]
pub(crate) use wire::keep_alive_limit;

pub use builder::ClientBuilder;
use builder::Http2Options;

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
    /// The retry budget of each host (the retry stage's; the pool knows nothing of retries).
    budgets: crate::retry::Budgets,
    /// The circuit of each host, with a breaker policy.
    breakers: Option<crate::breaker::Breakers>,
    /// The hedging of requests that set none.
    hedge: Option<crate::Hedge>,
    /// Head latencies per host, for hedges that follow a quantile.
    latencies: crate::host_map::HostMap<crate::hedge::Latencies>,
    /// Rate limits and their buckets, when any is set.
    rate_limits: Option<crate::rate_limit::RateLimits>,
    deadline_header: Option<header::HeaderName>,
    redirect: crate::redirect::Policy,
    decompress: bool,
    max_body: Option<u64>,
    proxies: crate::proxy::Proxies,
    tcp: connect::TcpOptions,
    correlation: Option<header::HeaderName>,
    /// Hooks, metrics and tracing; `None` when nothing observes (the common, free case).
    observer: Option<Arc<crate::events::Observer>>,
    cookies: cookies::Cookies,
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
        ClientBuilder::<Client>::default()
            .build()
            .expect("the default configuration is valid")
    }

    /// Sends a [`Request`] built earlier ([`RequestBuilder::build`]), as
    /// [`RequestBuilder::send`] would have.
    pub fn execute(
        &self,
        request: Request,
    ) -> impl std::future::Future<Output = Result<Response>> + Send + 'static {
        RequestBuilder::<Client>::from_parts(self.clone(), request).send()
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

    /// Closes the client: new requests fail at once ([`Error::is_closed`](crate::Error::is_closed)), requests in
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
            cookies: self.inner.cookies.clone(),
        }
    }

    /// The cookie store, if any (the cookie stage's).
    pub(crate) fn cookies(&self) -> &cookies::Cookies {
        &self.inner.cookies
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
    pub fn dns_stats(&self) -> crate::dns::Stats {
        self.inner.resolver.stats()
    }

    /// A WebSocket connection to `url` (`ws://` or `wss://`), over this client's name
    /// resolution, TLS configuration and timeouts; see [`ws::WsBuilder`](crate::ws::WsBuilder)
    /// for its heartbeat, outbox and reconnect settings.
    pub fn websocket(&self, url: impl IntoUrl) -> crate::ws::WsBuilder {
        crate::ws::WsBuilder::new(self.clone(), url.into_ws_target())
    }

    pub(crate) fn redirect_policy(&self) -> crate::redirect::Policy {
        self.inner.redirect
    }

    /// The state of the circuit of `url`'s host (scheme, host and port); `None` without a
    /// [circuit breaker](ClientBuilder::circuit_breaker) or for a URL that cannot be used.
    pub fn circuit(&self, url: impl IntoUrl) -> Option<crate::breaker::CircuitState> {
        let breakers = self.inner.breakers.as_ref()?;
        let origin = crate::origin::Origin::of(&url.into_target().ok()?.uri)?;
        Some(breakers.state(&origin))
    }

    /// Connection tasks alive right now (open connections, idle or busy).
    pub fn open_connections(&self) -> usize {
        self.inner.pool.tracker.live()
    }

    /// A snapshot of the connection pool, host by host: connections open, idle, active and
    /// being opened, requests waiting for one.
    pub fn stats(&self) -> crate::pool::Stats {
        self.inner.pool.stats()
    }

    /// Open connections that no request is using right now.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.idle()
    }

    /// The observer, when something listens (a batch tells it of its limits).
    pub(crate) fn observer_handle(&self) -> Option<Arc<crate::events::Observer>> {
        self.inner.observer.clone().filter(|o| o.active())
    }

    /// The observer, for a request that is observed (`id` is some).
    fn observer(&self, id: RequestId) -> Option<&Arc<crate::events::Observer>> {
        self.inner.observer.as_ref().filter(|_| id.is_some())
    }

    /// Runs a request to its response (or final error), telling the observer, if any.
    pub(crate) async fn send_hop(&self, parts: &mut Parts) -> Result<Response> {
        let Some(obs) = self.inner.observer.as_deref().filter(|o| o.active()) else {
            return self.run(parts, None).await;
        };
        let id = Some(obs.next_request());
        let started = Instant::now();
        let (method, url) = (parts.method.clone(), parts.uri.clone());
        obs.emit(
            id,
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
            id,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn _assert_auto_traits() {
        fn is_send_sync<T: Send + Sync>() {}
        fn is_send<T: Send>() {}
        is_send_sync::<Client>();
        is_send_sync::<crate::Error>();
        is_send::<Response>();
        is_send::<RequestBuilder>();
        is_send::<crate::Chunks>();
    }

    #[test]
    fn a_user_agent_is_a_string_checked_at_build() {
        assert!(Client::builder().user_agent("my-app/1.0").build().is_ok());
        let e = Client::builder().user_agent("a\r\nb").build().unwrap_err();
        assert!(e.is_builder(), "{e}");
    }

    #[test]
    fn zero_limits_are_refused() {
        let e = Client::builder().max_connections(0).build().unwrap_err();
        assert!(e.is_builder());
    }
}

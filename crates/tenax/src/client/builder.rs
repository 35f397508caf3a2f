//! Configuring a client: every setter states its default.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderValue};
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::Result;
use crate::connect::tls::{self, Certificate, HttpVersions, Identity, TlsOptions, TlsVersion};
use crate::connect::{DnsCache, DnsConfig, Resolve, SystemResolver};
use crate::error::Error;
use crate::pool;
use crate::pool::Pool;
use crate::retry::RetryPolicy;
use crate::timeouts::Timeouts;

use super::{Client, ClientInner};

/// HTTP/2 connection settings.
#[derive(Clone, Copy, Debug)]
pub(super) struct Http2Options {
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
    pub(super) fn builder(&self) -> hyper::client::conn::http2::Builder<TokioExecutor> {
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
///
/// `C` is the client it builds: [`Client`], or with the `blocking` feature
/// `tenax::blocking::Client` (`tenax::blocking::ClientBuilder`), with the same setters.
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let url = server.url("/bytes/5");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let client = tenax::Client::builder()
///     .connect_timeout(Duration::from_secs(2))
///     .read_timeout(Duration::from_secs(5))
///     .max_connections_per_host(8)
///     .user_agent("my-app/1.0")
///     .build()?;
/// let res = client.get(&url).send().await?;
/// assert_eq!(res.status(), 200);
/// client.close().await;
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
#[must_use]
pub struct ClientBuilder<C = Client> {
    /// What `build` makes.
    client: std::marker::PhantomData<fn() -> C>,
    timeouts: Timeouts,
    limits: pool::Limits,
    default_headers: HeaderMap,
    user_agent: HeaderValue,
    close_timeout: Duration,
    versions: HttpVersions,
    tls: TlsOptions,
    h2: Http2Options,
    retry: RetryPolicy,
    breaker: Option<crate::breaker::Policy>,
    hedge: Option<crate::Hedge>,
    rate_limits: Vec<crate::RateLimit>,
    deadline_header: Option<header::HeaderName>,
    redirect: crate::redirect::Policy,
    decompress: bool,
    max_body: Option<u64>,
    resolver: Option<Arc<dyn Resolve>>,
    proxies: Vec<crate::Proxy>,
    no_proxy: Option<String>,
    proxy_from_env: bool,
    tcp: crate::connect::TcpOptions,
    correlation: Option<header::HeaderName>,
    hooks: Vec<crate::events::Hook>,
    dns: DnsConfig,
    overrides: std::collections::HashMap<(String, Option<u16>), Vec<std::net::IpAddr>>,
    #[cfg(feature = "cookies")]
    cookies: Option<Arc<dyn crate::cookie::CookieStore>>,
    /// The first invalid input given to a setter, reported by `build`.
    invalid: Option<Error>,
}

impl<C> Default for ClientBuilder<C> {
    fn default() -> Self {
        ClientBuilder {
            client: std::marker::PhantomData,
            timeouts: Timeouts::default(),
            limits: pool::Limits::default(),
            default_headers: HeaderMap::new(),
            user_agent: HeaderValue::from_static(concat!("tenax/", env!("CARGO_PKG_VERSION"))),
            close_timeout: Duration::from_secs(10),
            versions: HttpVersions::Auto,
            tls: TlsOptions::default(),
            h2: Http2Options::default(),
            retry: RetryPolicy::default(),
            breaker: None,
            hedge: None,
            rate_limits: Vec::new(),
            deadline_header: None,
            redirect: crate::redirect::Policy::default(),
            decompress: true,
            max_body: None,
            resolver: None,
            proxies: Vec::new(),
            no_proxy: None,
            proxy_from_env: true,
            tcp: crate::connect::TcpOptions::default(),
            correlation: None,
            hooks: Vec::new(),
            dns: DnsConfig::default(),
            overrides: std::collections::HashMap::new(),
            #[cfg(feature = "cookies")]
            cookies: None,
            invalid: None,
        }
    }
}

impl<C> ClientBuilder<C> {
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

    /// Every pool limit at once. Default is [`pool::Limits::default`].
    pub fn pool_limits(mut self, limits: pool::Limits) -> Self {
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

    /// Idle connections kept per host. Default is 32. A connection that comes back while
    /// that many are idle is kept for at most 1 s more, so that in a burst the next requests
    /// reuse it rather than open new connections; `0` keeps none (every request gets a new
    /// connection).
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

    /// The `User-Agent` header (a string, or a `HeaderValue`); an invalid value (CR, LF,
    /// other control bytes) fails [`build`](Self::build). Default is `tenax/VERSION`.
    pub fn user_agent<V>(mut self, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        match value.try_into() {
            Ok(v) => self.user_agent = v,
            Err(e) => {
                let e = Error::builder(format!("invalid User-Agent: {}", e.into()));
                self.invalid.get_or_insert(e);
            }
        }
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
    #[cfg_attr(docsrs, doc(cfg(feature = "native-roots")))]
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
    /// [`retry::Policy::default`](crate::retry::Policy::default): 3 attempts for idempotent requests, full-jitter backoff,
    /// `Retry-After`, a per-host budget.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// A circuit breaker per host: a host whose attempts keep failing gets none for a while,
    /// and requests to it fail at once ([`Error::is_circuit_open`]); see
    /// [`breaker`](crate::breaker). Default is none.
    pub fn circuit_breaker(mut self, policy: crate::breaker::Policy) -> Self {
        self.breaker = Some(policy);
        self
    }

    /// Hedge every request that may be retried: a second attempt after a delay without a
    /// response head, the first head winning; see [`hedge`](crate::hedge). A request may set
    /// its own ([`RequestBuilder::hedge`](crate::RequestBuilder::hedge)). Default is none.
    pub fn hedge(mut self, hedge: crate::Hedge) -> Self {
        self.hedge = Some(hedge);
        self
    }

    /// Limits the rate of requests to a host (or to every host, each its own bucket); may be
    /// called several times, a host's own limit winning over the one for every host. See
    /// [`RateLimit`](crate::RateLimit). Default is no limit. A rate that is not a positive
    /// number fails [`build`](Self::build).
    pub fn rate_limit(mut self, limit: crate::RateLimit) -> Self {
        if !limit.is_valid() && self.invalid.is_none() {
            self.invalid = Some(Error::builder(format!(
                "a rate limit must be a positive number of requests per second, not {}",
                limit.per_second
            )));
        }
        self.rate_limits.push(limit);
        self
    }

    /// Which redirects to follow. Default is [`redirect::Policy::default`](crate::redirect::Policy):
    /// up to 10, credentials dropped across origins, no https → http.
    pub fn redirect(mut self, policy: crate::redirect::Policy) -> Self {
        self.redirect = policy;
        self
    }

    /// Sends requests through this proxy (several may be given: the first that applies to a
    /// request's scheme is used). Explicit proxies replace the environment's. Default is
    /// none, but see [`proxy_from_env`](Self::proxy_from_env).
    pub fn proxy(mut self, proxy: crate::Proxy) -> Self {
        self.proxies.push(proxy);
        self
    }

    /// Hosts that never go through a proxy, in `NO_PROXY` syntax (`a.com,.b.org,10.0.0.1,*`),
    /// in place of the environment's `NO_PROXY`. Default is the environment's.
    pub fn no_proxy(mut self, list: &str) -> Self {
        self.no_proxy = Some(list.to_string());
        self
    }

    /// Whether to take proxies from `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// (lower case first) when none is given. Loopback targets never use the environment's
    /// proxies. Default is on.
    pub fn proxy_from_env(mut self, on: bool) -> Self {
        self.proxy_from_env = on;
        self
    }

    /// Sends a correlation id with every request, in `X-Request-Id` (see
    /// [`correlation_header`](Self::correlation_header)): 32 random hex digits, the same for
    /// every attempt and redirect of the request, unless the request has one already.
    /// Default is off.
    pub fn correlation_id(mut self, on: bool) -> Self {
        self.correlation = on.then(|| header::HeaderName::from_static("x-request-id"));
        self
    }

    /// Calls `hook` with every [`Event`](crate::events::Event) of the client: request start
    /// and end, each attempt's response head or error (with its number), retries scheduled
    /// (reason and delay), pool waits, connections opened and closed, WebSocket state changes.
    /// Several hooks may be set; each sees every event. Default is none (and then events cost
    /// nothing).
    ///
    /// Hooks run synchronously on the request's task as things happen: they must be cheap and
    /// must not block. To hand events to a slow consumer, use
    /// [`events::channel`](crate::events::channel), which drops (and counts) what does not fit.
    pub fn on_event(
        mut self,
        hook: impl Fn(&crate::events::Event) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.push(std::sync::Arc::new(hook));
        self
    }

    /// Like [`correlation_id`](Self::correlation_id), in this header.
    pub fn correlation_header(mut self, name: header::HeaderName) -> Self {
        self.correlation = Some(name);
        self
    }

    /// Turns TCP keepalive on for new connections, first probe after `idle` without traffic
    /// (finds dead peers of long idle connections at the TCP level). Default is off.
    pub fn tcp_keepalive(mut self, idle: Duration) -> Self {
        self.tcp.keepalive = Some(idle);
        self
    }

    /// Connects from this local address (addresses of the other family are skipped).
    /// Default is the system's choice.
    pub fn local_address(mut self, ip: std::net::IpAddr) -> Self {
        self.tcp.local = Some(ip);
        self
    }

    /// Resolves names with this resolver instead of the system's (`getaddrinfo`); the DNS
    /// cache stays in front of it. Default is the system resolver.
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// How long an answer is used before it is looked up again (the system resolver reports
    /// no record TTL, so it is fixed). Default is 60 s.
    pub fn dns_ttl(mut self, ttl: Duration) -> Self {
        self.dns.ttl = ttl;
        self
    }

    /// Bounds for the TTLs a resolver reports (such as `HickoryResolver`, feature
    /// `hickory-dns`): a record's TTL is raised to `min` and cut to `max`. Default is 1 s and
    /// 1 hour.
    pub fn dns_ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.dns.min_ttl = min;
        self.dns.max_ttl = max.max(min);
        self
    }

    /// How long after its TTL an answer is still served when looking it up again fails
    /// (the resolver is down, the network flapped). Default is 5 minutes.
    pub fn dns_stale(mut self, window: Duration) -> Self {
        self.dns.stale = window;
        self
    }

    /// How long a failed lookup is remembered (so a name that does not resolve is not looked
    /// up for every request). Default is 5 s.
    pub fn dns_negative_ttl(mut self, ttl: Duration) -> Self {
        self.dns.negative_ttl = ttl;
        self
    }

    /// Whether to cache answers at all (off: every new connection asks the resolver).
    /// Default is on.
    pub fn dns_cache(mut self, on: bool) -> Self {
        self.dns.enabled = on;
        self
    }

    /// Resolves `host` to `addrs` without asking any resolver, like curl's `--resolve`; with
    /// `port`, only for that port. TLS still checks the certificate against `host`.
    /// Default is none.
    pub fn resolve_to(
        mut self,
        host: &str,
        port: Option<u16>,
        addrs: impl IntoIterator<Item = std::net::IpAddr>,
    ) -> Self {
        self.overrides.insert(
            (host.to_ascii_lowercase(), port),
            addrs.into_iter().collect(),
        );
        self
    }

    /// Whether to ask for compressed bodies (`Accept-Encoding`) and decode them, for the
    /// codings this crate was built with (features `gzip`, `deflate`, `brotli`, `zstd`; the
    /// `tenax` command line has them all). Size caps count decoded bytes. Requests with a
    /// `Range` header, or their own `Accept-Encoding`, are left as they are. Default is on
    /// (and has no effect without those features).
    pub fn decompress(mut self, on: bool) -> Self {
        self.decompress = on;
        self
    }

    /// The most body bytes (decoded) any response may have: a larger `Content-Length` fails
    /// before the body is read, and a body that grows past it is cut there, with an error
    /// for which [`Error::is_body_too_large`](crate::Error::is_body_too_large) holds. Per
    /// request: [`RequestBuilder::max_body_bytes`](crate::RequestBuilder::max_body_bytes).
    /// Default is none for streamed bodies; `bytes()`, `text()` and `json()` stop at 64 MiB.
    pub fn max_body_bytes(mut self, bytes: u64) -> Self {
        self.max_body = Some(bytes);
        self
    }

    /// Send the time left before a request's deadline, in milliseconds, in this header of each
    /// attempt, so that servers can give up when the caller will have. Default is none.
    pub fn deadline_header(mut self, name: header::HeaderName) -> Self {
        self.deadline_header = Some(name);
        self
    }

    /// Keeps cookies in a [`Jar`](crate::cookie::Jar) of the client's own: responses' `Set-Cookie`
    /// are kept and sent back by RFC 6265's rules (requests, redirects and WebSocket
    /// handshakes alike). Default is no cookie store (feature `cookies`).
    ///
    /// ```
    /// let client = tenax::Client::builder().cookie_store(true).build().unwrap();
    /// # drop(client);
    /// ```
    #[cfg(feature = "cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
    pub fn cookie_store(mut self, on: bool) -> Self {
        self.cookies = on.then(|| {
            Arc::new(crate::cookie::Jar::default()) as Arc<dyn crate::cookie::CookieStore>
        });
        self
    }

    /// Keeps cookies in `store` (shared with whoever else holds it: a [`Jar`](crate::cookie::Jar)
    /// to read or save, or a store of your own). Default is no cookie store (feature
    /// `cookies`).
    #[cfg(feature = "cookies")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cookies")))]
    pub fn cookie_provider<S: crate::cookie::CookieStore + 'static>(
        mut self,
        store: Arc<S>,
    ) -> Self {
        self.cookies = Some(store);
        self
    }

    /// The asynchronous client this configuration makes.
    pub(crate) fn build_async(self) -> Result<Client> {
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
                resolver: Arc::new(DnsCache::new(
                    self.resolver.unwrap_or_else(|| Arc::new(SystemResolver)),
                    self.dns,
                    self.overrides,
                )),
                default_headers: headers,
                close_timeout: self.close_timeout,
                versions: self.versions,
                tls,
                h1_tls: std::sync::OnceLock::new(),
                h2: self.h2,
                retry: self.retry,
                budgets: crate::retry::Budgets::default(),
                breakers: self.breaker.map(crate::breaker::Breakers::new),
                hedge: self.hedge,
                latencies: Default::default(),
                rate_limits: crate::rate_limit::RateLimits::new(self.rate_limits),
                deadline_header: self.deadline_header,
                redirect: self.redirect,
                decompress: self.decompress && crate::decode::accept_encoding().is_some(),
                tcp: self.tcp,
                correlation: self.correlation,
                observer: crate::events::Observer::new(self.hooks),
                proxies: if !self.proxies.is_empty() {
                    crate::proxy::Proxies::new(self.proxies, self.no_proxy.as_deref())
                } else if self.proxy_from_env {
                    crate::proxy::Proxies::from_env().with_no_proxy(self.no_proxy.as_deref())
                } else {
                    crate::proxy::Proxies::default()
                },
                max_body: self.max_body,
                #[cfg(feature = "cookies")]
                cookies: super::cookies::Cookies::new(self.cookies),
                #[cfg(not(feature = "cookies"))]
                cookies: super::cookies::Cookies::default(),
            }),
        })
    }
}

impl ClientBuilder<Client> {
    /// Builds the client. Fails ([`Error::is_builder`]) on a limit of zero, an invalid pin, or
    /// a TLS configuration that trusts nothing.
    pub fn build(self) -> Result<Client> {
        self.build_async()
    }
}

impl<C> fmt::Debug for ClientBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("timeouts", &self.timeouts)
            .field("limits", &self.limits)
            .finish()
    }
}

//! The options of the client itself: [`ConnArgs`] for every command that connects (HTTP and
//! WebSocket: timeouts to connect, TLS, proxies, name resolution), [`ClientArgs`] for the HTTP
//! commands (limits, protocols, retries, redirects, bodies, and what is said on stderr).

use std::path::PathBuf;
use std::time::Duration;

use crate::args;

/// How to reach a server: shared by `get`, `download`, `batch` and `ws`.
#[derive(clap::Args, Debug)]
pub struct ConnArgs {
    /// Connect timeout, seconds (0: none) [default: 10]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    connect_timeout: Option<args::Limit>,
    /// Write timeout: no write progress for this long, seconds (0: none) [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    write_timeout: Option<args::Limit>,
    /// Trust only the CA certificates in this PEM file (instead of the built-in roots)
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; the key too, unless --key is given
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Private key (PEM) of --cert
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Accept the server only if its public key has this pin (repeatable)
    #[arg(long = "pin", value_name = "sha256//BASE64")]
    pins: Vec<String>,
    /// Lowest TLS version to accept [default: 1.2]
    #[arg(long, value_name = "VERSION", value_parser = ["1.2", "1.3"])]
    tls_min: Option<String>,
    /// Do not verify the server's certificate (DANGEROUS: anyone on the path can read and
    /// change the traffic)
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Proxy, http://[user:password@]host:port or socks5://… (else HTTP_PROXY and co.)
    #[arg(short = 'x', long, value_name = "URL")]
    proxy: Option<String>,
    /// Hosts that skip the proxy, e.g. 'localhost,.internal' ('*': all)
    #[arg(long, value_name = "LIST")]
    noproxy: Option<String>,
    /// Resolve HOST:PORT to ADDR without DNS, as curl (repeatable)
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR", value_parser = args::resolve)]
    resolve: Vec<(String, u16, Vec<std::net::IpAddr>)>,
    /// Connect over IPv4 only
    #[arg(short = '4', long = "ipv4", conflicts_with = "ipv6")]
    ipv4: bool,
    /// Connect over IPv6 only
    #[arg(short = '6', long = "ipv6")]
    ipv6: bool,
    /// The User-Agent header [default: tenax/VERSION]
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    user_agent: Option<String>,
}

/// Options of the HTTP client, shared by `get`, `download` and `batch`.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    #[command(flatten)]
    conn: ConnArgs,
    /// Read timeout: response head, then each body chunk, seconds (0: none) [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    read_timeout: Option<args::Limit>,
    /// Pool timeout: waiting for a connection at the limits, seconds (0: none) [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    pool_timeout: Option<args::Limit>,
    /// Open connections in all [default: 100]
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Open connections per host [default: unlimited]
    #[arg(long, value_name = "N")]
    max_connections_per_host: Option<usize>,
    /// Idle connections kept per host (not an option: `batch` sets it).
    #[arg(skip)]
    max_idle_per_host: Option<usize>,
    /// Announce retries and redirects (not an option: `batch`, whose URLs are many, does not).
    #[arg(skip = true)]
    announce: bool,
    /// Speak HTTP/1.1 only
    #[arg(long, conflicts_with = "http2")]
    http1: bool,
    /// Speak HTTP/2 only (on http://, by prior knowledge)
    #[arg(long)]
    http2: bool,
    /// Extra attempts after the first for failed idempotent requests [default: 2]
    #[arg(
        long,
        visible_alias = "retry",
        value_name = "N",
        conflicts_with = "no_retry"
    )]
    retries: Option<u32>,
    /// One attempt only
    #[arg(long)]
    no_retry: bool,
    /// Follow redirects (credentials are dropped when one leaves the origin)
    #[arg(short = 'L', long)]
    location: bool,
    /// With -L: the most redirects to follow [default: 50]
    #[arg(long, value_name = "N", requires = "location")]
    max_redirs: Option<usize>,
    /// Deadline for the whole operation, retries and waits included, seconds (0: none)
    #[arg(short = 'm', long, visible_alias = "max-time", value_name = "S", value_parser = args::limit)]
    deadline: Option<args::Limit>,
    /// Most body bytes accepted (after decoding), e.g. 10M; more is exit 63
    #[arg(long, value_name = "SIZE", value_parser = args::size)]
    max_size: Option<usize>,
    /// Ask for a compressed body (gzip, deflate, br, zstd) and decode it
    #[arg(long)]
    compressed: bool,
    /// Connection facts ('*'), request ('>') and response ('<') headers on stderr, as curl;
    /// twice (-vv): the tracing spans of --trace too
    #[arg(short = 'v', long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Tracing output on stderr: a span per request and attempt with OpenTelemetry's
    /// attribute names, connections, retries and errors as they happen
    #[arg(long)]
    trace: bool,
    /// Say nothing on stderr: no error message, no announcement of retries and redirects
    #[arg(short = 's', long)]
    silent: bool,
    /// With -s: still print the error message when the request fails
    #[arg(short = 'S', long = "show-error")]
    show_error: bool,
    #[command(flatten)]
    resilience: crate::resilience_args::ResilienceArgs,
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading the {what} {}: {e}", path.display()))
}

impl ConnArgs {
    /// Applies these options to a client's configuration; a file that cannot be read or
    /// parsed is a usage error (a message).
    pub fn apply(&self, mut b: tenax::ClientBuilder) -> Result<tenax::ClientBuilder, String> {
        if let Some(p) = &self.proxy {
            b = b.proxy(tenax::Proxy::all(p).map_err(|e| crate::report::error_chain(&e))?);
        }
        if let Some(list) = &self.noproxy {
            b = b.no_proxy(list);
        }
        for (host, port, addrs) in &self.resolve {
            b = b.resolve_to(host, Some(*port), addrs.iter().copied());
        }
        // A local address of one family: connections to the other fail at once, and Happy
        // Eyeballs goes on with the addresses of this one.
        if self.ipv4 {
            b = b.local_address(std::net::Ipv4Addr::UNSPECIFIED.into());
        } else if self.ipv6 {
            b = b.local_address(std::net::Ipv6Addr::UNSPECIFIED.into());
        }
        if let Some(ua) = &self.user_agent {
            b = b.user_agent(ua.as_str());
        }
        b = self.apply_tls(b)?;
        if let Some(args::Limit(t)) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(args::Limit(t)) = self.write_timeout {
            b = b.write_timeout(t);
        }
        Ok(b)
    }

    fn apply_tls(&self, mut b: tenax::ClientBuilder) -> Result<tenax::ClientBuilder, String> {
        if let Some(path) = &self.cacert {
            let pem = read_file(path, "CA file")?;
            let certs =
                tenax::tls::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string())?;
            if certs.is_empty() {
                return Err(format!("no certificate in {}", path.display()));
            }
            b = b.tls_built_in_root_certs(false);
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(cert) = &self.cert {
            let chain = read_file(cert, "client certificate")?;
            let key = match &self.key {
                Some(k) => read_file(k, "private key")?,
                None => chain.clone(),
            };
            let id = tenax::tls::Identity::from_pem(&chain, &key).map_err(|e| e.to_string())?;
            b = b.identity(id);
        }
        for pin in &self.pins {
            b = b.pin_sha256(pin);
        }
        if self.tls_min.as_deref() == Some("1.3") {
            b = b.tls_min_version(tenax::tls::Version::Tls13);
        }
        if self.insecure {
            eprintln!("tenax: warning: --insecure: the server's certificate is not verified");
            b = b.danger_accept_invalid_certs(true);
        }
        Ok(b)
    }
}

impl ClientArgs {
    /// Allows `n` connections in all unless `--max-connections` was given: `batch` runs that
    /// many requests at once, and they should not queue for the pool's default of 100.
    /// Keeps as many idle too: a connection whose request ended waits for the next request
    /// rather than being closed over the default of 32 idle per host.
    pub fn allow_connections(&mut self, n: usize) {
        let n = n.max(1);
        self.max_connections.get_or_insert(n);
        self.max_idle_per_host = Some(n);
    }

    /// Says nothing of each request's retries and redirects (a batch of many URLs would
    /// flood stderr; its summary counts failures), and observes nothing unless `-v`.
    pub fn announce_nothing(&mut self) {
        self.announce = false;
    }

    /// The operation deadline, if one was given.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline.and_then(|l| l.0)
    }

    /// Whether `-s` was given.
    pub fn is_silent(&self) -> bool {
        self.silent
    }

    /// Whether error messages are printed (not with `-s`, unless `-S`).
    pub fn shows_errors(&self) -> bool {
        !self.silent || self.show_error
    }

    /// The attempts a request gets in all.
    pub fn max_attempts(&self) -> u32 {
        match (self.no_retry, self.retries) {
            (true, _) => 1,
            (false, Some(n)) => n.saturating_add(1),
            (false, None) => 3,
        }
    }

    /// Builds the client; a file that cannot be read or parsed is a usage error (a message).
    pub fn build(&self) -> Result<tenax::Client, String> {
        self.builder()?.build().map_err(|e| e.to_string())
    }

    /// The client's configuration, for a command that adds to it.
    pub fn builder(&self) -> Result<tenax::ClientBuilder, String> {
        if self.trace || self.verbose >= 2 {
            crate::report::verbose();
        }
        // As curl: no Accept-Encoding unless asked for.
        let mut b = tenax::Client::builder().decompress(self.compressed);
        b = self.conn.apply(b)?;
        // Not for a batch unless -v: an observed request pays for its events (heads copied,
        // URLs cloned). A single request is observed even with -s (`-i` keeps every head).
        if self.verbose > 0 || self.announce {
            let announce = self.announce && !self.silent;
            b = crate::verbose::Narrator::new(self.verbose > 0, announce, self.max_attempts())
                .attach(b);
        }
        if let Some(m) = self.max_size {
            b = b.max_body_bytes(m as u64);
        }
        if self.http1 {
            b = b.http1_only();
        }
        if self.http2 {
            b = b.http2_only();
        }
        // Like curl: redirects are followed only when asked.
        b = b.redirect(if self.location {
            tenax::redirect::Policy::limited(self.max_redirs.unwrap_or(50))
        } else {
            tenax::redirect::Policy::none()
        });
        if self.no_retry {
            b = b.retry(tenax::retry::Policy::none());
        } else if let Some(n) = self.retries {
            b = b.retry(tenax::retry::Policy::default().max_attempts(n.saturating_add(1)));
        }
        Ok(self.resilience.apply(self.apply_limits(b)))
    }

    /// Whether requests are hedged (`--hedge-after`).
    pub fn hedges(&self) -> bool {
        self.resilience.hedge().is_some()
    }

    fn apply_limits(&self, mut b: tenax::ClientBuilder) -> tenax::ClientBuilder {
        if let Some(args::Limit(t)) = self.read_timeout {
            b = b.read_timeout(t);
        }
        if let Some(args::Limit(t)) = self.pool_timeout {
            b = b.pool_timeout(t);
        }
        if let Some(n) = self.max_connections {
            b = b.max_connections(n);
        }
        if let Some(n) = self.max_idle_per_host {
            b = b.max_idle_per_host(n);
        }
        if let Some(n) = self.max_connections_per_host {
            b = b.max_connections_per_host(n);
        }
        b
    }
}

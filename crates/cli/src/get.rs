//! `tenax get URL`: one request, the body to stdout or a file, or a JSON summary.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::args;
use crate::report::{Outcome, exit, exit_code, timings_text};

/// Options of the client itself, shared by the request commands.
#[derive(clap::Args, Debug)]
pub struct ClientArgs {
    /// Connect timeout, seconds (0: none) [default: 10]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    connect_timeout: Option<args::Limit>,
    /// Read timeout: response head, then each body chunk, seconds (0: none) [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    read_timeout: Option<args::Limit>,
    /// Write timeout: no write progress for this long, seconds (0: none) [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit)]
    write_timeout: Option<args::Limit>,
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
    /// Speak HTTP/1.1 only
    #[arg(long, conflicts_with = "http2")]
    http1: bool,
    /// Speak HTTP/2 only (on http://, by prior knowledge)
    #[arg(long)]
    http2: bool,
    /// Extra attempts after the first for failed idempotent requests [default: 2]
    #[arg(long, value_name = "N", conflicts_with = "no_retry")]
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
    #[arg(long, value_name = "S", value_parser = args::limit)]
    deadline: Option<args::Limit>,
    /// Most body bytes accepted (after decoding), e.g. 10M; more is exit 63
    #[arg(long, value_name = "SIZE", value_parser = args::size)]
    max_size: Option<usize>,
    /// Ask for a compressed body (gzip, deflate, br, zstd) and decode it
    #[arg(long)]
    compressed: bool,
    /// Tracing output on stderr: a span per request and attempt with OpenTelemetry's
    /// attribute names, connections, retries and errors as they happen
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Proxy for the request, http://[user:password@]host:port (else HTTP_PROXY and co.)
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Hosts that skip the proxy, e.g. 'localhost,.internal' ('*': all)
    #[arg(long, value_name = "LIST")]
    noproxy: Option<String>,
    /// Resolve HOST:PORT to ADDR without DNS, as curl (repeatable)
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR", value_parser = args::resolve)]
    resolve: Vec<(String, u16, Vec<std::net::IpAddr>)>,
}

fn read_file(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("reading the {what} {}: {e}", path.display()))
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

    /// The operation deadline, if one was given.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline.and_then(|l| l.0)
    }

    /// Builds the client; a file that cannot be read or parsed is a usage error (a message).
    pub fn build(&self) -> Result<tenax::Client, String> {
        self.builder()?.build().map_err(|e| e.to_string())
    }

    /// The client's configuration, for a command that adds to it.
    pub fn builder(&self) -> Result<tenax::ClientBuilder, String> {
        if self.verbose {
            crate::report::verbose();
        }
        // As curl: no Accept-Encoding unless asked for.
        let mut b = tenax::Client::builder().decompress(self.compressed);
        if let Some(m) = self.max_size {
            b = b.max_body_bytes(m as u64);
        }
        if let Some(p) = &self.proxy {
            b = b.proxy(tenax::Proxy::all(p).map_err(|e| {
                let mut m = e.to_string();
                if let Some(s) = std::error::Error::source(&e) {
                    m = format!("{m}: {s}");
                }
                m
            })?);
        }
        if let Some(list) = &self.noproxy {
            b = b.no_proxy(list);
        }
        for (host, port, addrs) in &self.resolve {
            b = b.resolve_to(host, Some(*port), addrs.iter().copied());
        }
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
        if let Some(args::Limit(t)) = self.connect_timeout {
            b = b.connect_timeout(t);
        }
        if let Some(args::Limit(t)) = self.read_timeout {
            b = b.read_timeout(t);
        }
        if let Some(args::Limit(t)) = self.write_timeout {
            b = b.write_timeout(t);
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
        Ok(b)
    }
}

/// Options of `tenax get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// The URL (http:// is assumed when there is no scheme)
    url: String,
    /// Method [default: GET, or POST with --data]
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    method: Option<String>,
    /// Request header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    #[command(flatten)]
    send: crate::send::SendArgs,
    /// Write the body to FILE instead of stdout
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 22, printing no body, on an HTTP status >= 400
    #[arg(short = 'f', long = "fail")]
    fail: bool,
    /// Print one JSON summary to stdout instead of the body
    #[arg(long)]
    json: bool,
    /// Print phase timings to stderr
    #[arg(long)]
    timings: bool,
    #[command(flatten)]
    client: ClientArgs,
}

fn usage(msg: impl std::fmt::Display) -> u8 {
    eprintln!("tenax: {msg}");
    exit::USAGE
}

/// The error and its causes, on one line: `tenax: what: why: deeper why`.
pub fn print_error(e: &dyn std::error::Error) {
    eprintln!("tenax: {}", crate::report::error_chain(e));
}

pub fn run(args: GetArgs) -> u8 {
    crate::report::run_command(get(args))
}

async fn get(args: GetArgs) -> u8 {
    let jar = match args.send.jar() {
        Ok(j) => j,
        Err((code, msg)) => return refuse(code, msg),
    };
    let client = match args.client.builder().and_then(|mut b| {
        if let Some(jar) = &jar {
            b = b.cookie_provider(jar.clone());
        }
        b.build().map_err(|e| e.to_string())
    }) {
        Ok(c) => c,
        Err(e) => return usage(e),
    };
    let url = match args.send.query_url(&args::url(&args.url)) {
        Ok(u) => u,
        Err((code, msg)) => return refuse(code, msg),
    };
    let method = match &args.method {
        Some(m) => match tenax::Method::from_bytes(m.as_bytes()) {
            Ok(m) => m,
            Err(_) => return usage(format!("{m:?} is not a valid method")),
        },
        None if args.send.has_body() => tenax::Method::POST,
        None => tenax::Method::GET,
    };
    let mut req = client.request(method, &url);
    if let Some(d) = args.client.deadline() {
        req = req.deadline(d);
    }
    let mut has_content_type = false;
    for h in &args.headers {
        match args::header(h) {
            Ok((name, value)) => {
                has_content_type |= name.eq_ignore_ascii_case("content-type");
                req = req.header(name, value);
            }
            Err(e) => return usage(e),
        }
    }
    let req = match args.send.apply(req, has_content_type).await {
        Ok(r) => r,
        Err((code, msg)) => return refuse(code, msg),
    };

    let started = Instant::now();
    // Shown and reported with its password (if any) redacted.
    let mut outcome = Outcome::new(tenax::redact_url(&url).into_owned());
    let code = exchange(req, &args, &mut outcome).await;
    outcome.elapsed = started.elapsed();
    if args.timings
        && let Some(t) = &outcome.timings
    {
        eprint!("{}", timings_text(t, outcome.reused));
    }
    if args.json {
        let mut line = Vec::new();
        outcome.write_json_line(None, &mut line);
        let _ = std::io::Write::write_all(&mut std::io::stdout(), &line);
    }
    client.close().await;
    match args.send.save_jar(jar.as_deref()) {
        Ok(()) => code,
        Err((c, msg)) => refuse(c, msg),
    }
}

/// A message and an exit code of curl's for a request the flags could not make.
fn refuse(code: u8, msg: impl std::fmt::Display) -> u8 {
    eprintln!("tenax: {msg}");
    code
}

/// Sends the request and delivers the body; fills `outcome` and returns the exit code.
async fn exchange(req: tenax::RequestBuilder, args: &GetArgs, outcome: &mut Outcome) -> u8 {
    let fail = |outcome: &mut Outcome, e: tenax::Error| {
        let code = exit_code(&e);
        if !args.json {
            print_error(&e);
        }
        outcome.attempts = e.attempts();
        outcome.error = Some(e);
        code
    };
    let mut res = match req.send().await {
        Ok(r) => r,
        Err(e) => return fail(outcome, e),
    };
    outcome.status = Some(res.status().as_u16());
    outcome.attempts = res.attempts();
    outcome.version = Some(res.version());
    outcome.tls_version = res.tls_version();
    outcome.reused = res.reused();
    outcome.timings = Some(*res.timings());
    if args.fail
        && let Err(e) = res.error_for_status_ref()
    {
        return fail(outcome, e);
    }

    let mut sink: Box<dyn Write> = if args.json {
        Box::new(std::io::sink())
    } else if let Some(path) = &args.output {
        match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => {
                eprintln!("tenax: creating {}: {e}", path.display());
                return exit::WRITE_OUTPUT;
            }
        }
    } else {
        Box::new(std::io::stdout().lock())
    };
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                outcome.bytes += chunk.len() as u64;
                if let Err(e) = sink.write_all(&chunk) {
                    eprintln!("tenax: writing the body: {e}");
                    return exit::WRITE_OUTPUT;
                }
            }
            Ok(None) => break,
            Err(e) => {
                outcome.timings = Some(*res.timings());
                return fail(outcome, e);
            }
        }
    }
    outcome.timings = Some(*res.timings());
    if let Err(e) = sink.flush() {
        eprintln!("tenax: writing the body: {e}");
        return exit::WRITE_OUTPUT;
    }
    0
}

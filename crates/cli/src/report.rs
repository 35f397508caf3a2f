//! What a request ended as, for people and scripts: exit codes (curl's), error kinds and the
//! JSON summary of CLI.md.

use std::time::Duration;

use serde_json::{Value, json};

/// curl's exit codes, so scripts keep working.
pub mod exit {
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const BAD_URL: u8 = 3;
    pub const PROXY_DNS: u8 = 5;
    pub const DNS: u8 = 6;
    pub const CONNECT: u8 = 7;
    pub const WEIRD_REPLY: u8 = 8;
    pub const TLS: u8 = 35;
    pub const CERTIFICATE: u8 = 60;
    pub const HTTP_ERROR: u8 = 22;
    pub const WRITE_OUTPUT: u8 = 23;
    pub const TIMEOUT: u8 = 28;
    pub const TOO_MANY_REDIRECTS: u8 = 47;
    pub const EMPTY_REPLY: u8 = 52;
    pub const SEND: u8 = 55;
    pub const RECV: u8 = 56;
    pub const TOO_LARGE: u8 = 63;
}

/// Runs a command on a current_thread runtime (the fastest on two cores) and returns its exit
/// code; a runtime that cannot start is a failure, said once.
pub fn run_command(f: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => {
            let code = rt.block_on(f);
            // Without waiting for blocking tasks: a read of stdin that never ends (`tenax ws`
            // whose connection closed for good) would keep the process alive.
            rt.shutdown_background();
            code
        }
        Err(e) => {
            eprintln!("tenax: starting the runtime: {e}");
            exit::FAILURE
        }
    }
}

/// Prints Tenax's tracing output (spans of requests and attempts, their events) on stderr.
/// Other crates' (hyper, h2, rustls) stay quiet: they would drown it.
pub fn verbose() {
    use tracing_subscriber::fmt::format::FmtSpan;
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
        .with(
            tracing_subscriber::filter::Targets::new().with_target("tenax", tracing::Level::DEBUG),
        );
    // A second call (or another subscriber) leaves the first in place.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// The exit code for a failed request.
pub fn exit_code(e: &tenax::Error) -> u8 {
    if e.is_proxy() {
        // curl: 5 when the proxy's name does not resolve, 56 when it refuses the tunnel.
        if e.is_dns() {
            exit::PROXY_DNS
        } else {
            exit::RECV
        }
    } else if e.is_certificate() {
        exit::CERTIFICATE
    } else if e.is_tls() {
        exit::TLS
    } else if e.is_timeout() {
        exit::TIMEOUT
    } else if e.is_dns() {
        exit::DNS
    } else if e.is_connect() || e.is_circuit_open() {
        // No connection was made: the circuit breaker refused one (curl has no closer code).
        exit::CONNECT
    } else if e.is_status() {
        exit::HTTP_ERROR
    } else if e.is_body_too_large() {
        exit::TOO_LARGE
    } else if e.is_redirect() {
        exit::TOO_MANY_REDIRECTS
    } else if e.is_empty_reply() {
        exit::EMPTY_REPLY
    } else if e.is_send() {
        exit::SEND
    } else if e.is_recv() {
        exit::RECV
    } else if e.is_protocol() {
        exit::WEIRD_REPLY
    } else if e.is_write() {
        exit::WRITE_OUTPUT
    } else if e.is_invalid_url() {
        exit::BAD_URL
    } else if e.is_builder() {
        exit::USAGE
    } else {
        exit::FAILURE
    }
}

/// The error kind the JSON summary reports.
pub fn error_kind(e: &tenax::Error) -> &'static str {
    if e.is_proxy() {
        "proxy"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "tls"
    } else if e.is_dns() {
        "dns"
    } else if e.is_connect() {
        "connect"
    } else if e.is_circuit_open() {
        "circuit_open"
    } else if e.is_status() {
        "status"
    } else if e.is_body_too_large() {
        "body_too_large"
    } else if e.is_protocol() {
        "protocol"
    } else if e.is_redirect() {
        "redirect"
    } else if e.is_digest_mismatch() {
        "digest"
    } else if e.is_builder() {
        "usage"
    } else {
        "io"
    }
}

/// The error and its causes on one line: `what: why: deeper why`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        // hyper repeats its cause's message in its own; say each thing once.
        if !line.ends_with(&s) {
            line.push_str(": ");
            line.push_str(&s);
        }
        cause = c.source();
    }
    line
}

/// The error object of a JSON summary.
pub fn error_json(e: &tenax::Error) -> Value {
    json!({
        "kind": error_kind(e),
        "phase": e.timeout_phase().map(|p| p.as_str()),
        "message": error_chain(e),
    })
}

/// A duration in milliseconds, to the microsecond (half a microsecond rounds up).
fn ms(d: Duration) -> f64 {
    micros(d) as f64 / 1e3
}

/// Whole microseconds of `d`, half a microsecond rounding up (saturating).
fn micros(d: Duration) -> u64 {
    let whole = d.as_secs().saturating_mul(1_000_000);
    whole.saturating_add(u64::from((d.subsec_nanos() + 500) / 1000))
}

#[cfg(test)]
fn opt_ms(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| ms(d).into())
}

/// The `timings` object of a JSON summary, built as a document: the reference
/// [`Outcome::write_json_line`] is tested against.
#[cfg(test)]
fn timings_json(t: &tenax::Timings) -> Value {
    json!({
        "pool_wait_ms": ms(t.pool_wait),
        "dns_ms": opt_ms(t.dns),
        "connect_ms": opt_ms(t.connect),
        "tls_ms": opt_ms(t.tls),
        "write_ms": opt_ms(t.write),
        "ttfb_ms": ms(t.ttfb),
        "total_ms": opt_ms(t.total),
    })
}

pub fn version_str(v: tenax::Version) -> &'static str {
    match v {
        tenax::Version::HTTP_09 => "HTTP/0.9",
        tenax::Version::HTTP_10 => "HTTP/1.0",
        tenax::Version::HTTP_11 => "HTTP/1.1",
        tenax::Version::HTTP_2 => "HTTP/2",
        tenax::Version::HTTP_3 => "HTTP/3",
        _ => "unknown",
    }
}

/// What one request ended as.
pub struct Outcome {
    pub url: String,
    pub status: Option<u16>,
    pub version: Option<tenax::Version>,
    pub tls_version: Option<tenax::tls::Version>,
    pub attempts: u32,
    pub bytes: u64,
    pub elapsed: Duration,
    pub timings: Option<tenax::Timings>,
    pub reused: bool,
    pub error: Option<tenax::Error>,
    /// How the request was hedged, when hedging is on.
    pub hedges: Option<tenax::hedge::Hedges>,
}

impl Outcome {
    /// An exchange with `url` that has not happened yet.
    pub fn new(url: String) -> Outcome {
        Outcome {
            url,
            status: None,
            version: None,
            tls_version: None,
            attempts: 1,
            bytes: 0,
            elapsed: Duration::ZERO,
            timings: None,
            reused: false,
            error: None,
            hedges: None,
        }
    }

    /// The JSON summary of CLI.md as one line, with `"index"` when given (`batch`), appended
    /// to `out`; keys sorted. Written without building a document first: `tenax batch` writes
    /// one per URL.
    pub fn write_json_line(&self, index: Option<usize>, out: &mut Vec<u8>) {
        let mut o = Obj::new(out);
        o.key("attempts").num(self.attempts.into());
        o.key("bytes").num(self.bytes);
        o.key("elapsed_ms").ms(self.elapsed);
        match &self.error {
            None => o.key("error").null(),
            Some(e) => {
                let mut inner = o.key("error").obj();
                inner.key("kind").str(error_kind(e));
                inner.key("message").str(&error_chain(e));
                match e.timeout_phase() {
                    Some(p) => inner.key("phase").str(p.as_str()),
                    None => inner.key("phase").null(),
                }
                inner.end();
            }
        }
        if let Some(h) = self.hedges {
            let mut inner = o.key("hedges").obj();
            inner.key("sent").num(h.sent.into());
            inner.key("won").raw(if h.won { "true" } else { "false" });
            inner.end();
        }
        match self.version {
            Some(v) => o.key("http_version").str(version_str(v)),
            None => o.key("http_version").null(),
        }
        if let Some(i) = index {
            o.key("index").num(i as u64);
        }
        o.key("reused")
            .raw(if self.reused { "true" } else { "false" });
        match self.status {
            Some(s) => o.key("status").num(s.into()),
            None => o.key("status").null(),
        }
        match &self.timings {
            None => o.key("timings").null(),
            Some(t) => {
                let mut inner = o.key("timings").obj();
                for (k, v) in [
                    ("connect_ms", t.connect),
                    ("dns_ms", t.dns),
                    ("pool_wait_ms", Some(t.pool_wait)),
                    ("tls_ms", t.tls),
                    ("total_ms", t.total),
                    ("ttfb_ms", Some(t.ttfb)),
                    ("write_ms", t.write),
                ] {
                    match v {
                        Some(d) => inner.key(k).ms(d),
                        None => inner.key(k).null(),
                    }
                }
                inner.end();
            }
        }
        match self.tls_version {
            Some(tenax::tls::Version::Tls13) => o.key("tls_version").str("TLSv1.3"),
            Some(_) => o.key("tls_version").str("TLSv1.2"),
            None => o.key("tls_version").null(),
        }
        o.key("url").str(&self.url);
        o.end();
        out.push(b'\n');
    }

    /// The JSON summary of CLI.md, built as a document: the reference
    /// [`write_json_line`](Self::write_json_line) is tested against.
    #[cfg(test)]
    pub fn to_json(&self) -> Value {
        json!({
            "url": self.url,
            "status": self.status,
            "http_version": self.version.map(version_str),
            "tls_version": self.tls_version.map(|v| match v {
                tenax::tls::Version::Tls13 => "TLSv1.3",
                _ => "TLSv1.2",
            }),
            "attempts": self.attempts,
            "bytes": self.bytes,
            "elapsed_ms": ms(self.elapsed),
            "timings": self.timings.as_ref().map(timings_json),
            "reused": self.reused,
            "error": self.error.as_ref().map(error_json),
        })
    }
}

/// Phase timings for people, one per line (for `--timings`).
pub fn timings_text(t: &tenax::Timings, reused: bool) -> String {
    let show = |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.3} ms", ms(d)));
    format!(
        "pool wait  {}\ndns        {}\nconnect    {}\ntls        {}\nwrite      {}\nttfb       {}\nbody       {}\ntotal      {}\nreused     {}\n",
        show(Some(t.pool_wait)),
        show(t.dns),
        show(t.connect),
        show(t.tls),
        show(t.write),
        show(Some(t.ttfb)),
        show(t.body),
        show(t.total),
        if reused { "yes" } else { "no" },
    )
}

/// A JSON object written as it goes (keys in the caller's order).
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

/// The value slot after a key.
struct Slot<'a, 'b>(&'b mut Obj<'a>);

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn key<'b>(&'b mut self, k: &str) -> Slot<'a, 'b> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
        Slot(self)
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

impl<'a, 'b> Slot<'a, 'b> {
    fn raw(self, v: &str) {
        self.0.out.extend_from_slice(v.as_bytes());
    }

    fn null(self) {
        self.raw("null");
    }

    fn num(self, v: u64) {
        push_u64(self.0.out, v);
    }

    /// A duration in milliseconds to the microsecond, the number [`ms`] makes, written from
    /// integers: the same value once parsed, at a tenth of the cost of formatting a float
    /// (eight of them per line of `tenax batch`).
    fn ms(self, d: Duration) {
        let micros = micros(d);
        if micros >= 1_000_000_000_000_000 {
            // Past ~31 years: where a float's shortest form may need fewer digits.
            serde_json::to_writer(&mut *self.0.out, &ms(d)).expect("numbers serialize");
            return;
        }
        let out = &mut *self.0.out;
        push_u64(out, micros / 1000);
        out.push(b'.');
        let frac = micros % 1000;
        if frac == 0 {
            out.push(b'0');
            return;
        }
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        let last = digits.iter().rposition(|&d| d != 0).unwrap_or(0);
        out.extend(digits[..=last].iter().map(|&d| b'0' + d as u8));
    }

    fn str(self, v: &str) {
        // Most strings here (URLs, versions, kinds) need no escaping: copied as they are.
        if v.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            let out = &mut *self.0.out;
            out.push(b'"');
            out.extend_from_slice(v.as_bytes());
            out.push(b'"');
            return;
        }
        serde_json::to_writer(&mut *self.0.out, v).expect("strings serialize");
    }

    fn obj(self) -> Obj<'b> {
        Obj::new(self.0.out)
    }
}

/// Writes `n` in decimal.
fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod json_line_tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for v in [
            "http://h/a?b=c",
            "",
            "é ü ✓",
            "a\"b",
            "back\\slash",
            "tab\tnl\n\u{1}",
            "\u{7f}",
        ] {
            let mut out = Vec::new();
            Obj::new(&mut out).key("s").str(v);
            let ours = String::from_utf8(out).unwrap();
            assert_eq!(
                ours,
                format!("{{\"s\":{}", serde_json::to_string(v).unwrap())
            );
        }
    }

    #[test]
    fn milliseconds_written_from_integers_parse_to_the_same_number() {
        let mut x: u64 = 7;
        let mut next = move || {
            // A 64-bit LCG (Knuth's MMIX constants): spread samples, repeatable.
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            x >> 17
        };
        let mut samples: Vec<Duration> = (0..3000).map(Duration::from_micros).collect();
        samples.extend((0..20_000).map(|_| Duration::from_nanos(next() % 86_400_000_000_000)));
        samples.extend([
            Duration::from_nanos(1_499),
            Duration::from_nanos(2_500),
            Duration::MAX,
        ]);
        for d in samples {
            let mut out = Vec::new();
            Obj::new(&mut out).key("t").ms(d);
            let text = String::from_utf8(out).unwrap();
            let v: Value = serde_json::from_str(&format!("{text}}}")).unwrap();
            assert_eq!(v["t"].as_f64(), Some(ms(d)), "{d:?}: {text}");
        }
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        push_u64(&mut out, 0);
        assert_eq!(out, b"184467440737095516150");
    }

    #[test]
    fn the_json_line_is_the_json_summary() {
        let mut ok = Outcome::new("http://127.0.0.1:1/a\"b".into());
        ok.status = Some(200);
        ok.version = Some(tenax::Version::HTTP_11);
        ok.attempts = 2;
        ok.bytes = 13;
        ok.elapsed = Duration::from_micros(1500);
        ok.reused = true;
        ok.timings = Some(tenax::Timings::default());
        let mut line = Vec::new();
        ok.write_json_line(Some(7), &mut line);
        assert_eq!(line.last(), Some(&b'\n'));
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        let mut expected = ok.to_json();
        expected["index"] = 7.into();
        assert_eq!(parsed, expected);
        // Same text as serde_json's own rendering, key order included.
        assert_eq!(
            String::from_utf8(line).unwrap().trim_end(),
            expected.to_string()
        );

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt
            .block_on(tenax::Client::new().get("http://127.0.0.1:1/").send())
            .unwrap_err();
        let mut failed = Outcome::new("http://127.0.0.1:1/".into());
        failed.error = Some(err);
        let mut line = Vec::new();
        failed.write_json_line(None, &mut line);
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, failed.to_json());
    }
}

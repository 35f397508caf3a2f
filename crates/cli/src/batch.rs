//! `tenax batch [FILE|-]`: one URL per line (blank lines and `#` comments skipped), fetched
//! with bounded concurrency; one JSON line per URL on stdout in completion order, a summary
//! on stderr.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use crate::args;
use crate::get::ClientArgs;
use crate::report::{Outcome, error_kind, exit, exit_code};

/// Options of `tenax batch`.
#[derive(clap::Args, Debug)]
pub struct BatchArgs {
    /// File of URLs, one per line ('-' or none: stdin)
    file: Option<PathBuf>,
    /// Requests at once (and connections allowed, unless --max-connections says otherwise);
    /// 'auto': a limit that grows while latency holds and shrinks when it climbs or the
    /// server answers 429/503 or times out (up to 512)
    #[arg(long, value_name = "N|auto", default_value = "50", value_parser = concurrency)]
    concurrency: Limit,
    /// Requests at once to one host (scheme, host, port), within --concurrency; 'auto': each
    /// host its own adaptive limit [default: no limit]
    #[arg(long, value_name = "N|auto", value_parser = concurrency)]
    concurrency_per_host: Option<Limit>,
    /// Header for every request, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = args::header)]
    headers: Vec<(String, String)>,
    /// Count an HTTP status >= 400 as a failure (error kind "status", exit 22), as curl -f
    #[arg(short = 'f', long = "fail")]
    fail: bool,
    /// Save each body in DIR under its URL's file name ('index.html' when it has none; NAME.1,
    /// NAME.2… when taken)
    #[arg(long = "output-dir", value_name = "DIR")]
    output_dir: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

/// A concurrency limit from the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    Fixed(usize),
    Auto,
}

/// The most an `auto` limit goes to (and the connections it is allowed).
const AUTO_MAX: usize = 512;

impl Limit {
    /// The most requests it lets run at once.
    fn most(self) -> usize {
        match self {
            Limit::Fixed(n) => n,
            Limit::Auto => AUTO_MAX,
        }
    }

    fn to_library(self) -> tenax::Concurrency {
        match self {
            Limit::Fixed(n) => n.into(),
            Limit::Auto => tenax::Adaptive::default().bounds(1, AUTO_MAX).into(),
        }
    }
}

/// `--concurrency`: a number of at least 1, or `auto`.
fn concurrency(s: &str) -> Result<Limit, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(Limit::Auto);
    }
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(Limit::Fixed(n)),
        _ => Err(format!(
            "{s:?} is not a number of requests (1 or more) or 'auto'"
        )),
    }
}

pub fn run(args: BatchArgs) -> u8 {
    crate::report::run_command(batch(args))
}

/// What `fetch` does with each response besides counting it.
#[derive(Clone, Default)]
struct FetchOptions {
    fail: bool,
    output_dir: Option<PathBuf>,
    hedges: bool,
}

/// Reads the body to its end, counting it (and saving it with `--output-dir`); the outcome
/// of one URL, and why its body could not be saved, if it could not.
async fn fetch(req: tenax::RequestBuilder, opts: Rc<FetchOptions>) -> (Outcome, Option<String>) {
    let started = Instant::now();
    let mut out = Outcome::new(String::new());
    let mut unsaved = None;
    match req.send().await {
        Err(e) => {
            out.attempts = e.attempts();
            out.error = Some(e);
        }
        Ok(mut res) => {
            out.status = Some(res.status().as_u16());
            out.attempts = res.attempts();
            out.version = Some(res.version());
            out.tls_version = res.tls_version();
            out.reused = res.reused();
            out.hedges = opts.hedges.then(|| res.hedges());
            if opts.fail
                && let Err(e) = res.error_for_status_ref()
            {
                out.error = Some(e);
            } else {
                unsaved = read_body(&mut res, &opts, &mut out).await;
            }
            out.timings = Some(*res.timings());
        }
    }
    out.elapsed = started.elapsed();
    (out, unsaved)
}

/// Reads a body to its end, into a file of `--output-dir` if there is one; why it could not
/// be saved, if it could not (a read error is the outcome's).
async fn read_body(
    res: &mut tenax::Response,
    opts: &FetchOptions,
    out: &mut Outcome,
) -> Option<String> {
    let mut file = None;
    if let Some(dir) = &opts.output_dir {
        match create_in(dir, &res.url().to_string()) {
            Ok(f) => file = Some(std::io::BufWriter::new(f)),
            Err(e) => return Some(format!("saving into {}: {e}", dir.display())),
        }
    }
    loop {
        match res.chunk().await {
            Ok(Some(c)) => {
                out.bytes += c.len() as u64;
                if let Some(f) = &mut file
                    && let Err(e) = f.write_all(&c)
                {
                    return Some(format!("saving {}: {e}", res.url()));
                }
            }
            Ok(None) => break,
            Err(e) => {
                out.error = Some(e);
                return None;
            }
        }
    }
    file.and_then(|mut f| f.flush().err())
        .map(|e| format!("saving {}: {e}", res.url()))
}

/// A new file in `dir` named after the URL's last path segment (`index.html` without one),
/// with `.1`, `.2`… added when the name is taken.
fn create_in(dir: &std::path::Path, url: &str) -> std::io::Result<std::fs::File> {
    let name = crate::output::file_name(url).unwrap_or_else(|_| "index.html".into());
    let mut path = dir.join(&name);
    for n in 1.. {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                path = dir.join(format!("{name}.{n}"));
            }
            other => return other,
        }
    }
    unreachable!("some suffix is free")
}

/// What the summary says beyond successes, failures and latency: hedges sent and won,
/// requests the circuit breaker refused, and the concurrency limit as it went.
#[derive(Default)]
struct Extra {
    hedges_sent: u64,
    hedges_won: u64,
    refused: u64,
    /// How many completions saw each limit (index: the limit).
    limits: Vec<u64>,
}

impl Extra {
    fn record(&mut self, o: &Outcome, limit: usize) {
        if let Some(h) = o.hedges {
            self.hedges_sent += u64::from(h.sent);
            self.hedges_won += u64::from(h.won);
        }
        if o.error.as_ref().is_some_and(|e| e.is_circuit_open()) {
            self.refused += 1;
        }
        if self.limits.len() <= limit {
            self.limits.resize(limit + 1, 0);
        }
        self.limits[limit] += 1;
    }

    /// `; 12 hedges (9 won); breaker refused 40; concurrency 4/17/23 (min/median/max)`,
    /// each part only when it applies.
    fn summary(&self, hedging: bool, adaptive: bool) -> String {
        let mut s = String::new();
        if hedging {
            s += &format!("; {} hedges ({} won)", self.hedges_sent, self.hedges_won);
        }
        if self.refused > 0 {
            s += &format!("; breaker refused {}", self.refused);
        }
        let total: u64 = self.limits.iter().sum();
        if adaptive && total > 0 {
            let seen = |i: &usize| self.limits[*i] > 0;
            let min = (0..self.limits.len()).find(seen).unwrap_or(0);
            let max = (0..self.limits.len()).rev().find(seen).unwrap_or(0);
            let mut below = 0;
            let median = (0..self.limits.len())
                .find(|&i| {
                    below += self.limits[i];
                    below * 2 >= total
                })
                .unwrap_or(0);
            s += &format!("; concurrency {min}/{median}/{max} (min/median/max)");
        }
        s
    }
}

/// Latencies in logarithmic buckets (about 2 % wide), so that the summary's percentiles take
/// the same memory for ten URLs and ten million.
struct Latencies {
    buckets: Vec<u64>,
    count: u64,
}

/// Bucket growth factor: each bucket is 2 % wider than the one before.
const GROWTH: f64 = 1.02;

impl Latencies {
    fn new() -> Self {
        Latencies {
            buckets: Vec::new(),
            count: 0,
        }
    }

    fn bucket(d: Duration) -> usize {
        let us = d.as_secs_f64() * 1e6;
        if us < 1.0 {
            0
        } else {
            (us.ln() / GROWTH.ln()) as usize + 1
        }
    }

    fn record(&mut self, d: Duration) {
        let b = Self::bucket(d);
        if self.buckets.len() <= b {
            self.buckets.resize(b + 1, 0);
        }
        self.buckets[b] += 1;
        self.count += 1;
    }

    /// The latency below which a share `p` of the samples lie (the bucket's upper edge).
    fn percentile(&self, p: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((self.count as f64 * p).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_secs_f64(GROWTH.powi(b as i32) / 1e6);
            }
        }
        Duration::ZERO
    }
}

/// URLs handed over at once by the reading thread: one wake-up of the runtime per chunk.
const CHUNK: usize = 256;

/// Reads URLs on a thread of their own (a slow pipe must not stall the requests in flight)
/// into a small channel of chunks: memory holds only what is read ahead (at most 8 chunks).
/// A chunk goes as soon as the input has nothing more buffered, so that URLs typed or piped
/// slowly start at once.
fn read_urls(
    mut input: BufReader<Box<dyn Read + Send>>,
) -> tokio::sync::mpsc::Receiver<Vec<String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    std::thread::spawn(move || {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut line = Vec::new();
        loop {
            line.clear();
            let done = match input.read_until(b'\n', &mut line) {
                Ok(n) => n == 0,
                Err(e) => {
                    eprintln!("tenax: reading the URLs: {e}");
                    true
                }
            };
            // A line that is not UTF-8 still gets its result (an invalid URL), in its place.
            let text = match std::str::from_utf8(&line) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(&line),
            };
            let url = text.trim();
            if !url.is_empty() && !url.starts_with('#') {
                chunk.push(args::url(url));
            }
            if (done || chunk.len() == CHUNK || input.buffer().is_empty()) && !chunk.is_empty() {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
                if tx.blocking_send(full).is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    });
    rx
}

/// Hashes the batch's request indexes, consecutive integers: one multiplication (Fibonacci
/// hashing spreads them over the table) instead of SipHash, twice per request.
#[derive(Default)]
struct IndexHasher(u64);

impl std::hash::Hasher for IndexHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos} done {msg} ({per_sec}, {elapsed})",
            )
            .expect("a valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    })
}

async fn batch(mut a: BatchArgs) -> u8 {
    a.client.allow_connections(a.concurrency.most());
    a.client.announce_nothing();
    let client = match a.client.build() {
        Ok(c) => c,
        Err(m) => {
            eprintln!("tenax: {m}");
            return exit::USAGE;
        }
    };
    let input: Box<dyn Read + Send> = match &a.file {
        Some(p) if p.as_os_str() != "-" => match std::fs::File::open(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("tenax: reading {}: {e}", p.display());
                return exit::USAGE;
            }
        },
        _ => Box::new(std::io::stdin()),
    };
    // The URLs of the requests in flight, by index: memory holds only those.
    let urls: Rc<RefCell<HashMap<usize, String, BuildHasherDefault<IndexHasher>>>> = Rc::default();
    let taken = urls.clone();
    let mut index = 0usize;
    let headers = a.headers.clone();
    let c = client.clone();
    let chunks = read_urls(BufReader::with_capacity(64 * 1024, input));
    let requests = futures_util::stream::unfold(chunks, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    })
    .flat_map(futures_util::stream::iter)
    .map(move |url| {
        let mut req = c.get(&url);
        // Reported with its password (if any) redacted.
        let shown = match tenax::redact_url(&url) {
            std::borrow::Cow::Borrowed(_) => url,
            std::borrow::Cow::Owned(redacted) => redacted,
        };
        taken.borrow_mut().insert(index, shown);
        index += 1;
        for (k, v) in &headers {
            req = req.header(k.as_str(), v.as_str());
        }
        req
    });
    let opts = Rc::new(FetchOptions {
        fail: a.fail,
        output_dir: a.output_dir.clone(),
        hedges: a.client.hedges(),
    });
    let mut results = client
        .batch_stream(Box::pin(requests), move |req| fetch(req, opts.clone()))
        .concurrency(a.concurrency.to_library());
    if let Some(limit) = a.client.deadline() {
        results = results.deadline(limit);
    }
    if let Some(n) = a.concurrency_per_host {
        results = results.concurrency_per_host(n.to_library());
    }
    let (mut ok, mut first_failure) = (0u64, None);
    let mut failed: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut latencies = Latencies::new();
    let mut extra = Extra::default();
    let bar = progress_bar();
    let mut out = std::io::stdout().lock();
    let mut lines: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some((i, (mut outcome, unsaved))) = results.next().await {
        outcome.url = urls.borrow_mut().remove(&i).unwrap_or_default();
        outcome.write_json_line(Some(i), &mut lines);
        // Written when the buffer is full or the batch is not at full speed (fewer requests in
        // flight than allowed: the input is slow or ending), so that lines appear as results do.
        if lines.len() >= 60 * 1024 || results.in_flight() < results.limit() {
            if out.write_all(&lines).and_then(|()| out.flush()).is_err() {
                return exit::WRITE_OUTPUT;
            }
            lines.clear();
        }
        latencies.record(outcome.elapsed);
        extra.record(&outcome, results.limit());
        match (&outcome.error, unsaved) {
            (Some(e), _) => {
                *failed.entry(error_kind(e)).or_default() += 1;
                first_failure.get_or_insert(exit_code(e));
            }
            (None, Some(why)) => {
                eprintln!("tenax: {why}");
                *failed.entry("write").or_default() += 1;
                first_failure.get_or_insert(exit::WRITE_OUTPUT);
            }
            (None, None) => ok += 1,
        }
        if let Some(bar) = &bar {
            bar.inc(1);
            if !failed.is_empty() {
                bar.set_message(format!("({} failed)", failed.values().sum::<u64>()));
            }
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if out.write_all(&lines).and_then(|()| out.flush()).is_err() {
        return exit::WRITE_OUTPUT;
    }
    let failed_total: u64 = failed.values().sum();
    let kinds: Vec<String> = failed.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    eprintln!(
        "tenax: {ok} ok, {failed_total} failed{}; latency p50 {:.1} ms, p99 {:.1} ms{}",
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        latencies.percentile(0.5).as_secs_f64() * 1e3,
        latencies.percentile(0.99).as_secs_f64() * 1e3,
        extra.summary(a.client.hedges(), a.concurrency == Limit::Auto),
    );
    first_failure.unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_is_a_number_or_auto() {
        assert_eq!(concurrency("8"), Ok(Limit::Fixed(8)));
        assert_eq!(concurrency("AUTO"), Ok(Limit::Auto));
        assert!(concurrency("0").is_err());
        assert!(concurrency("many").is_err());
    }

    #[test]
    fn the_summary_tells_the_limit_over_time() {
        let mut e = Extra::default();
        for limit in [4, 8, 16, 17, 17, 17, 20] {
            e.record(&Outcome::new(String::new()), limit);
        }
        assert_eq!(
            e.summary(false, true),
            "; concurrency 4/17/20 (min/median/max)"
        );
        assert_eq!(e.summary(true, false), "; 0 hedges (0 won)");
    }

    #[test]
    fn percentiles_are_within_two_percent() {
        let mut l = Latencies::new();
        for ms in 1..=1000u64 {
            l.record(Duration::from_millis(ms));
        }
        let p50 = l.percentile(0.5).as_secs_f64() * 1e3;
        let p99 = l.percentile(0.99).as_secs_f64() * 1e3;
        assert!((500.0..=510.0 * 1.02).contains(&p50), "{p50}");
        assert!((990.0..=990.0 * 1.03).contains(&p99), "{p99}");
        assert_eq!(Latencies::new().percentile(0.5), Duration::ZERO);
        let mut one = Latencies::new();
        one.record(Duration::ZERO);
        assert!(one.percentile(0.99) <= Duration::from_micros(1));
    }
}

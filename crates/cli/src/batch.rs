//! `tenax batch [FILE|-]`: one URL per line (blank lines and `#` comments skipped), fetched
//! with bounded concurrency; one JSON line per URL on stdout in completion order, a summary
//! on stderr.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
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
    /// Requests at once
    #[arg(long, value_name = "N", default_value_t = 50)]
    concurrency: usize,
    /// Header for every request, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = args::header)]
    headers: Vec<(String, String)>,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: BatchArgs) -> u8 {
    crate::report::run_command(batch(args))
}

/// Reads the body to its end, counting it; the outcome of one URL.
async fn fetch(req: tenax::RequestBuilder) -> Outcome {
    let started = Instant::now();
    let mut out = Outcome::new(String::new());
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
            loop {
                match res.chunk().await {
                    Ok(Some(c)) => out.bytes += c.len() as u64,
                    Ok(None) => break,
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                }
            }
            out.timings = Some(*res.timings());
        }
    }
    out.elapsed = started.elapsed();
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn batch(a: BatchArgs) -> u8 {
    let client = match a.client.build() {
        Ok(c) => c,
        Err(m) => {
            eprintln!("tenax: {m}");
            return exit::USAGE;
        }
    };
    let input: Box<dyn BufRead> = match &a.file {
        Some(p) if p.as_os_str() != "-" => match std::fs::File::open(p) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                eprintln!("tenax: reading {}: {e}", p.display());
                return exit::USAGE;
            }
        },
        _ => Box::new(std::io::stdin().lock()),
    };
    // The URLs of the requests in flight, by index: memory holds only those.
    let urls: Rc<RefCell<HashMap<usize, String>>> = Rc::default();
    let taken = urls.clone();
    let mut index = 0usize;
    let headers = a.headers.clone();
    let c = client.clone();
    let requests = input
        .lines()
        .map_while(Result::ok)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(move |line| {
            let url = args::url(&line);
            taken.borrow_mut().insert(index, url.clone());
            index += 1;
            let mut req = c.get(url);
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req
        });
    let mut results = client
        .batch_with(requests, fetch)
        .concurrency(a.concurrency);
    if let Some(limit) = a.client.deadline() {
        results = results.deadline(limit);
    }
    let (mut ok, mut first_failure) = (0u64, None);
    let mut failed: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut latencies = Vec::new();
    let stdout = std::io::stdout();
    while let Some((i, mut outcome)) = results.next().await {
        outcome.url = urls.borrow_mut().remove(&i).unwrap_or_default();
        let mut line = outcome.to_json();
        line["index"] = i.into();
        {
            use std::io::Write;
            let mut out = stdout.lock();
            if writeln!(out, "{line}").is_err() {
                return exit::WRITE_OUTPUT;
            }
        }
        latencies.push(outcome.elapsed);
        match &outcome.error {
            None => ok += 1,
            Some(e) => {
                *failed.entry(error_kind(e)).or_default() += 1;
                first_failure.get_or_insert(exit_code(e));
            }
        }
    }
    latencies.sort();
    let failed_total: u64 = failed.values().sum();
    let kinds: Vec<String> = failed.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    eprintln!(
        "tenax: {ok} ok, {failed_total} failed{}; latency p50 {:.1} ms, p99 {:.1} ms",
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        },
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
    );
    first_failure.unwrap_or(0)
}

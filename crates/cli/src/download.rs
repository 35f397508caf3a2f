//! `tenax download URL -o FILE`: streamed to a temporary file, verified, put in place
//! atomically; a progress bar on a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crate::args;
use crate::get::{ClientArgs, print_error};
use crate::report::{exit, exit_code};

/// Options of `tenax download`.
#[derive(clap::Args, Debug)]
pub struct DownloadArgs {
    /// URL of the file
    url: String,
    /// Where to put it (written to a temporary file beside it, then renamed)
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Header, 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = args::header)]
    headers: Vec<(String, String)>,
    /// Expected SHA-256 (64 hex digits); a mismatch fails and leaves nothing
    #[arg(long, value_name = "HEX")]
    sha256: Option<String>,
    /// Resume with Range after a transient failure mid-body (up to 5 times)
    #[arg(long)]
    resume: bool,
    /// Fail when fewer than this many bytes arrive in a window (see --min-speed-window)
    #[arg(long, value_name = "BYTES", value_parser = args::size)]
    min_speed: Option<usize>,
    /// The window of --min-speed, seconds [default: 30]
    #[arg(long, value_name = "S", value_parser = args::limit, requires = "min_speed")]
    min_speed_window: Option<args::Limit>,
    /// At most this many bytes per second, e.g. 500k
    #[arg(long, value_name = "BYTES", value_parser = args::size)]
    limit_rate: Option<usize>,
    /// Keep the partial file (.NAME.tenax-part) when the download fails
    #[arg(long)]
    keep_partial: bool,
    /// Print a JSON summary on stdout
    #[arg(long)]
    json: bool,
    /// No progress bar
    #[arg(short = 's', long)]
    silent: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub fn run(args: DownloadArgs) -> u8 {
    crate::report::run_command(download(args))
}

async fn download(a: DownloadArgs) -> u8 {
    let client = match a.client.build() {
        Ok(c) => c,
        Err(m) => {
            eprintln!("tenax: {m}");
            return exit::USAGE;
        }
    };
    let url = args::url(&a.url);
    let mut d = client
        .download(&url, &a.output)
        .resume(a.resume)
        .keep_partial(a.keep_partial);
    for (k, v) in &a.headers {
        let (Ok(k), Ok(v)) = (
            tenax::header::HeaderName::try_from(k.as_str()),
            tenax::header::HeaderValue::try_from(v.as_str()),
        ) else {
            eprintln!("tenax: invalid header {k:?}");
            return exit::USAGE;
        };
        d = d.header(k, v);
    }
    if let Some(hex) = &a.sha256 {
        d = d.sha256(hex);
    }
    if let Some(min) = a.min_speed {
        let window = a
            .min_speed_window
            .and_then(|l| l.0)
            .unwrap_or(Duration::from_secs(30));
        d = d.min_speed(min as u64, window);
    }
    if let Some(rate) = a.limit_rate {
        d = d.max_rate(rate as u64);
    }
    if let Some(limit) = a.client.deadline() {
        d = d.deadline(limit);
    }
    let bar = (!a.silent && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .expect("a valid template"),
        );
        bar
    });
    if let Some(bar) = &bar {
        let bar = bar.clone();
        d = d.on_progress(move |p| {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.downloaded);
            if p.resumes > 0 {
                bar.set_message(format!("(resumed {}x)", p.resumes));
            }
        });
    }
    let res = d.send().await;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match res {
        Ok(done) => {
            if a.json {
                let v = serde_json::json!({
                    "url": tenax::redact_url(&url),
                    "path": done.path.display().to_string(),
                    "bytes": done.bytes,
                    "sha256": done.sha256,
                    "resumes": done.resumes,
                    "restarts": done.restarts,
                    "elapsed_ms": done.elapsed.as_secs_f64() * 1e3,
                    "error": null,
                });
                println!("{v}");
            } else if !a.silent {
                eprintln!(
                    "tenax: saved {} ({} bytes in {:.2?}{}{})",
                    done.path.display(),
                    done.bytes,
                    done.elapsed,
                    done.sha256
                        .as_deref()
                        .map(|h| format!(", sha256 {h} verified"))
                        .unwrap_or_default(),
                    if done.resumes > 0 {
                        format!(", resumed {} times", done.resumes)
                    } else {
                        String::new()
                    }
                );
            }
            0
        }
        Err(e) => {
            if a.json {
                let v = serde_json::json!({
                    "url": tenax::redact_url(&url),
                    "path": a.output.display().to_string(),
                    "error": crate::report::error_json(&e),
                });
                println!("{v}");
            }
            print_error(&e);
            exit_code(&e)
        }
    }
}

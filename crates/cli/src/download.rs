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
    /// Where to put it (written to a temporary file beside it, then renamed); a directory, or
    /// a path ending in '/': the URL's file name in it
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
    /// curl's '-C -': the same as --resume (only '-' is taken: the offset is the partial
    /// file's)
    #[arg(short = 'C', long = "continue-at", value_name = "-", value_parser = ["-"])]
    continue_at: Option<String>,
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
    let silent = !a.client.shows_errors() || a.client.is_silent();
    let output = match destination(&a.output, &url) {
        Ok(p) => p,
        Err((code, msg)) => {
            eprintln!("tenax: {msg}");
            return code;
        }
    };
    let mut d = client
        .download(&url, &output)
        .resume(a.resume || a.continue_at.is_some())
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
    let bar = (!silent && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .expect("a valid template"),
        );
        bar
    });
    let announced = std::sync::atomic::AtomicU32::new(0);
    let progress_bar = bar.clone();
    d = d.on_progress(move |p| {
        // Each resume said once on stderr (unless -s), as retries and redirects are.
        if !silent && announced.swap(p.resumes, std::sync::atomic::Ordering::Relaxed) < p.resumes {
            let line = format!(
                "tenax: resuming at byte {} (resume {})",
                p.downloaded, p.resumes
            );
            match &progress_bar {
                Some(bar) => bar.println(line),
                None => eprintln!("{line}"),
            }
        }
        if let Some(bar) = &progress_bar {
            if let Some(t) = p.total {
                bar.set_length(t);
            }
            bar.set_position(p.downloaded);
            if p.resumes > 0 {
                bar.set_message(format!("(resumed {}x)", p.resumes));
            }
        }
    });
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
            } else if !silent {
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
                    "path": output.display().to_string(),
                    "error": crate::report::error_json(&e),
                });
                println!("{v}");
            }
            if a.client.shows_errors() {
                print_error(&e);
            }
            exit_code(&e)
        }
    }
}

/// `-o DIR/` or an existing directory: the URL's file name in it; else the path as given.
fn destination(output: &std::path::Path, url: &str) -> Result<PathBuf, (u8, String)> {
    let dir_like = output.as_os_str().to_string_lossy().ends_with('/') || output.is_dir();
    if !dir_like {
        return Ok(output.to_path_buf());
    }
    Ok(output.join(crate::output::file_name(url)?))
}

//! `tenax`: resilient HTTP and WebSocket requests from the command line, and a demo of every
//! capability against an embedded fault-injecting server.

mod args;
mod batch;
mod client_args;
mod demo;
mod demo_batch;
mod demo_body;
mod demo_connect;
mod demo_http;
mod demo_resilience;
mod demo_retry;
mod demo_scope;
mod demo_tls;
mod demo_ws;
mod download;
mod get;
mod output;
mod report;
mod resilience_args;
mod send;
mod verbose;
mod writeout;
mod ws;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Resilient HTTP and WebSocket client (see `tenax demo`).
#[derive(Parser, Debug)]
#[command(name = "tenax", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send a request; the body goes to stdout (or -o FILE).
    Get(Box<get::GetArgs>),
    /// Stream a download to a file: atomic, verified, resumable.
    Download(Box<download::DownloadArgs>),
    /// Fetch one URL per line, with bounded concurrency; one JSON line per URL.
    Batch(Box<batch::BatchArgs>),
    /// Open a resilient WebSocket: stdin lines are sent, messages received are printed.
    Ws(Box<ws::WsArgs>),
    /// Start an embedded chaos server on 127.0.0.1 and run every capability against it.
    Demo(demo::DemoArgs),
}

/// The subcommands, which a first argument that looks like a URL is not.
const COMMANDS: &[&str] = &["get", "download", "batch", "ws", "demo", "help"];

/// `tenax URL …` is `tenax get URL …`, as curl and xh take it: a first argument that is no
/// subcommand and no flag, and has a scheme, a dot, a colon or is `localhost`.
fn looks_like_url(arg: &str) -> bool {
    !arg.starts_with('-')
        && !COMMANDS.contains(&arg)
        && (arg.contains("://")
            || arg.contains('.')
            || arg.contains(':')
            || arg.starts_with("localhost"))
}

/// A flag clap does not know: named, with curl users in mind; other errors as clap says them.
fn refuse(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ErrorKind};
    if e.kind() == ErrorKind::UnknownArgument
        && let Some(flag) = e.get(ContextKind::InvalidArg)
    {
        eprintln!(
            "tenax: {flag} is not supported (not every curl flag is; `tenax get --help` lists those that are)"
        );
        return ExitCode::from(2);
    }
    let _ = e.print();
    ExitCode::from(if e.use_stderr() { 2 } else { 0 })
}

fn main() -> ExitCode {
    let mut argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(looks_like_url)
    {
        argv.insert(1, "get".into());
    }
    let cli = match Cli::try_parse_from(argv) {
        Ok(cli) => cli,
        Err(e) => return refuse(e),
    };
    match cli.command {
        Command::Get(args) => ExitCode::from(get::run(*args)),
        Command::Download(args) => ExitCode::from(download::run(*args)),
        Command::Batch(args) => ExitCode::from(batch::run(*args)),
        Command::Ws(args) => ExitCode::from(ws::run(*args)),
        Command::Demo(args) => match demo::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tenax: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

//! `tenax`: resilient HTTP and WebSocket requests from the command line, and a demo of every
//! capability against an embedded fault-injecting server.

mod args;
mod batch;
mod demo;
mod demo_batch;
mod demo_body;
mod demo_connect;
mod demo_http;
mod demo_retry;
mod demo_scope;
mod demo_tls;
mod demo_ws;
mod download;
mod get;
mod report;
mod send;
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

fn main() -> ExitCode {
    let cli = Cli::parse();
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

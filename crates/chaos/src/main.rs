//! `tenax-chaos`: serve the fault-injecting routes until killed.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use tenax_chaos::{ChaosServer, TlsVersions};

/// A fault-injecting HTTP/1.1 + HTTP/2 + TLS + WebSocket server for testing HTTP clients.
///
/// Prints `listening on http://ADDR` (or https://) first, then serves until killed.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Serve TLS (ALPN h2 and http/1.1) with a CA generated at start.
    #[arg(long)]
    tls: bool,
    /// With --tls: accept only this TLS version (1.2 or 1.3).
    #[arg(long, value_parser = ["1.2", "1.3"], requires = "tls")]
    tls_only: Option<String>,
    /// With --tls: write the CA certificate (PEM) to this file, for clients to trust.
    #[arg(long, requires = "tls")]
    ca_out: Option<PathBuf>,
    /// With --tls: refuse clients without a certificate signed by the CA; the client
    /// certificate and key are written to FILE.pem and FILE.key.
    #[arg(long, value_name = "FILE", requires = "tls")]
    require_client_cert: Option<PathBuf>,
    /// The HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS to announce.
    #[arg(long, value_name = "N")]
    h2_max_streams: Option<u32>,
    /// Also open a black hole (a listener whose connects never complete, for connect
    /// timeouts) and print `blackhole on ADDR` on the second line.
    #[arg(long)]
    blackhole: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut builder = ChaosServer::builder().addr(args.addr).tls(args.tls);
        builder = match args.tls_only.as_deref() {
            Some("1.2") => builder.tls_versions(TlsVersions::Tls12Only),
            Some("1.3") => builder.tls_versions(TlsVersions::Tls13Only),
            _ => builder,
        };
        if args.require_client_cert.is_some() {
            builder = builder.require_client_cert(true);
        }
        if let Some(n) = args.h2_max_streams {
            builder = builder.http2_max_concurrent_streams(n);
        }
        let server = builder.start().await?;
        if let Some(base) = &args.require_client_cert {
            let cert = base.with_extension("pem");
            let key = base.with_extension("key");
            std::fs::write(&cert, server.client_cert_pem().unwrap_or_default())
                .map_err(|e| format!("tenax-chaos: writing {}: {e}", cert.display()))?;
            std::fs::write(&key, server.client_key_pem().unwrap_or_default())
                .map_err(|e| format!("tenax-chaos: writing {}: {e}", key.display()))?;
        }
        if let (Some(path), Some(pem)) = (&args.ca_out, server.ca_pem()) {
            std::fs::write(path, pem)
                .map_err(|e| format!("tenax-chaos: writing {}: {e}", path.display()))?;
        }
        let hole = match args.blackhole {
            true => Some(tenax_chaos::Blackhole::start().await?),
            false => None,
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.url(""))?;
        if let Some(h) = &hole {
            writeln!(out, "blackhole on {}", h.addr())?;
        }
        out.flush()?;
        drop(out);
        tokio::signal::ctrl_c().await?;
        server.shutdown().await;
        Ok(())
    })
}

//! `tenax demo`: starts the chaos servers in-process and runs every capability against them,
//! printing one row per segment. The table grows as capabilities land.

use std::time::{Duration, Instant};

use anyhow::Context;
use tenax_chaos::{Blackhole, ChaosServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Options of `tenax demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// How a demo segment ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
        }
    }
}

/// One segment of the demo and what it showed.
pub struct Row {
    pub segment: &'static str,
    pub status: Status,
    pub detail: String,
    pub ms: Option<f64>,
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(demo(args))
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    // The servers run on a thread of their own, so the client side is measured alone.
    let plain = ChaosServer::builder()
        .start_in_thread()
        .context("starting the chaos server")?;
    let tls = ChaosServer::builder()
        .tls(true)
        .start_in_thread()
        .context("starting the TLS chaos server")?;
    let hole = Blackhole::start()
        .await
        .context("starting the black hole")?;

    let mut rows = vec![
        probe_plain(&plain).await,
        Row {
            segment: "chaos server, TLS (ALPN h2, http/1.1)",
            status: pass_if(tls.ca_pem().is_some()),
            detail: format!("{} with a CA generated at start", tls.url("")),
            ms: None,
        },
        probe_blackhole(&hole).await,
    ];
    rows.extend(crate::demo_http::phase_timeouts(&plain, &hole).await);
    rows.push(crate::demo_http::reuse_and_close(&plain).await);
    rows.push(crate::demo_http::pool_limits(&plain).await);
    rows.extend(crate::demo_tls::versions(&plain, &tls).await);
    rows.push(crate::demo_tls::stream_limit().await);
    rows.extend(crate::demo_tls::trust(&tls).await);
    rows.push(crate::demo_retry::deadline(&plain).await);
    rows.extend(crate::demo_retry::retries(&plain).await);
    rows.extend(crate::demo_resilience::segments(&plain).await);
    rows.extend(crate::demo_ws::segments(&plain).await);
    rows.push(crate::demo_batch::segment(&plain).await);
    rows.push(crate::demo_scope::observability(&plain).await);
    rows.extend(crate::demo_scope::segments(&plain).await);
    rows.extend(crate::demo_body::segments(&plain).await);
    rows.extend(crate::demo_connect::segments(&plain, &tls).await);
    // Recipes in their order (the server checks, unnumbered, stay first; the sort is stable).
    rows.sort_by_key(|r| {
        let n = r.segment.get(..2).and_then(|p| p.parse::<u8>().ok());
        n.unwrap_or(0)
    });

    if args.json {
        let segments: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "segment": r.segment, "status": r.status.label(), "detail": r.detail,
                    "ms": r.ms,
                })
            })
            .collect();
        let doc = serde_json::json!({
            "chaos": plain.url(""),
            "chaos_tls": tls.url(""),
            "blackhole": hole.addr().to_string(),
            "segments": segments,
        });
        println!("{doc}");
    } else {
        println!("tenax demo: chaos server on {}", plain.url(""));
        println!();
        print_table(&rows);
    }
    let failed = rows.iter().filter(|r| r.status == Status::Fail).count();
    if !args.json {
        println!();
        println!(
            "legend: h2c = HTTP/2 over cleartext TCP (by prior knowledge); ALPN = the TLS \
             extension that picks HTTP/2 or HTTP/1.1; ttfb = time to the first byte of the \
             response; the black hole accepts no connection, so connects time out"
        );
        println!("{} passed, {failed} failed", rows.len() - failed);
    }
    plain.shutdown().await;
    tls.shutdown().await;
    anyhow::ensure!(failed == 0, "{failed} demo segment(s) failed");
    Ok(())
}

fn print_table(rows: &[Row]) {
    let w = rows.iter().map(|r| r.segment.len()).max().unwrap_or(0);
    println!("{:<w$}  {:<6}  {:>9}  detail", "segment", "status", "time");
    println!("{:-<w$}  {:-<6}  {:->9}  {:-<40}", "", "", "", "");
    for r in rows {
        let ms = r.ms.map(|ms| format!("{ms:.1} ms")).unwrap_or_default();
        let status = r.status.label();
        println!("{:<w$}  {:<6}  {:>9}  {}", r.segment, status, ms, r.detail);
    }
}

/// A raw HTTP/1.1 exchange with the plain server: proves it is up and serving.
async fn probe_plain(server: &ChaosServer) -> Row {
    let t = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(5), async {
        let mut tcp = TcpStream::connect(server.addr()).await?;
        tcp.write_all(b"GET /bytes/13 HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        tcp.read_to_end(&mut buf).await?;
        Ok::<_, std::io::Error>(buf)
    })
    .await;
    let ms = Some(t.elapsed().as_secs_f64() * 1e3);
    let segment = "chaos server, HTTP/1.1 + h2c";
    match res {
        Ok(Ok(buf)) if buf.starts_with(b"HTTP/1.1 200") => Row {
            segment,
            status: Status::Pass,
            detail: format!("{} answered GET /bytes/13 with 200", server.url("")),
            ms,
        },
        other => Row {
            segment,
            status: Status::Fail,
            detail: format!("unexpected answer: {other:?}"),
            ms,
        },
    }
}

/// A connect to the black hole must still be pending after 300 ms.
async fn probe_blackhole(hole: &Blackhole) -> Row {
    let wait = Duration::from_millis(300);
    let t = Instant::now();
    let res = tokio::time::timeout(wait, TcpStream::connect(hole.addr())).await;
    let ms = Some(t.elapsed().as_secs_f64() * 1e3);
    Row {
        segment: "black hole (connect never completes)",
        status: pass_if(res.is_err()),
        detail: match res {
            Err(_) => format!("connect to {} still pending after 300 ms", hole.addr()),
            Ok(r) => format!("connect completed: {r:?}"),
        },
        ms,
    }
}

impl Row {
    /// A segment that could not show what it should, and why.
    pub fn fail(segment: &'static str, why: impl std::fmt::Display) -> Row {
        Row {
            segment,
            status: Status::Fail,
            detail: why.to_string(),
            ms: None,
        }
    }
}

pub fn pass_if(ok: bool) -> Status {
    if ok { Status::Pass } else { Status::Fail }
}

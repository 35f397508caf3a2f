//! WebSocket echo, side by side: 64-byte text messages, 100 in flight on one connection,
//! against one echo server (tokio-tungstenite, reading all that is available then flushing
//! once, on a thread of its own); clients on a current_thread runtime on the main thread,
//! whose CPU time is measured. Then the memory of 10,000 idle connections with heartbeats,
//! each client in a fresh process of its own (the server in another child process, so only
//! the client's memory is counted).
//!
//! Run: `cargo bench -p tenax-bench --bench ws_echo`. `TENAX_BENCH_ROUNDS` rounds (default
//! 3), medians reported; `TENAX_BENCH_IDLE` connections for the memory figure (default 10000,
//! 0 skips it); `TENAX_BENCH_MSG` the message size (default 64);
//! `TENAX_BENCH_ONLY=idle-tenax` or `idle-tungstenite` measures only that
//! (e.g. under `valgrind --tool=massif`). `TENAX_BENCH_INSTRUCTIONS=N` counts the
//! instructions per message of the first three clients instead, each in a child process under
//! callgrind (`TENAX_BENCH_COUNT` messages against this process's echo server, see
//! `tenax_bench::instructions`).

use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tenax_bench::{rounds, thread_cpu};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message as TMsg;

/// Messages of one run: `TENAX_BENCH_COUNT`, default 200,000.
fn messages() -> usize {
    tenax_bench::fixed_count().map_or(200_000, |n| n as usize)
}
const IN_FLIGHT: usize = 100;

async fn serve(listener: TcpListener) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(m)) = ws.next().await {
                if !(m.is_text() || m.is_binary()) {
                    continue;
                }
                if ws.feed(m).await.is_err() {
                    return;
                }
                while let Some(Some(Ok(m))) = ws.next().now_or_never() {
                    if (m.is_text() || m.is_binary()) && ws.feed(m).await.is_err() {
                        return;
                    }
                }
                if ws.flush().await.is_err() {
                    return;
                }
            }
        });
    }
}

fn start_server_thread() -> String {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move { serve(TcpListener::from_std(std_listener).unwrap()).await });
        })
        .unwrap();
    format!("ws://{addr}/")
}

async fn tungstenite(url: &str) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// The message: 64 bytes, or `TENAX_BENCH_MSG` bytes.
fn payload() -> String {
    "x".repeat(
        std::env::var("TENAX_BENCH_MSG")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(64),
    )
}

/// tokio-tungstenite, `send` per message (a flush each).
async fn tung_send(url: &str) -> usize {
    let total = messages();
    let mut ws = tungstenite(url).await;
    let p = payload();
    for _ in 0..IN_FLIGHT {
        ws.send(TMsg::text(p.clone())).await.unwrap();
    }
    let (mut sent, mut got) = (IN_FLIGHT, 0);
    while got < total {
        ws.next().await.unwrap().unwrap();
        got += 1;
        if sent < total {
            ws.send(TMsg::text(p.clone())).await.unwrap();
            sent += 1;
        }
    }
    got
}

/// tokio-tungstenite, batched by hand: feed all that can go, flush once.
async fn tung_batched(url: &str) -> usize {
    let total = messages();
    let mut ws = tungstenite(url).await;
    let p = payload();
    for _ in 0..IN_FLIGHT {
        ws.feed(TMsg::text(p.clone())).await.unwrap();
    }
    ws.flush().await.unwrap();
    let (mut sent, mut got) = (IN_FLIGHT, 0);
    while got < total {
        ws.next().await.unwrap().unwrap();
        let mut n = 1;
        while let Some(Some(Ok(_))) = ws.next().now_or_never() {
            n += 1;
        }
        got += n;
        for _ in 0..n {
            if sent < total {
                ws.feed(TMsg::text(p.clone())).await.unwrap();
                sent += 1;
            }
        }
        ws.flush().await.unwrap();
    }
    got
}

/// Tenax: plain `send` per message; the outbox coalesces the writes.
async fn tenax_outbox(url: &str) -> usize {
    tenax_echo(url, None).await
}

/// Tenax against a server of `url`, offering `compression`.
async fn tenax_echo(url: &str, compression: Option<tenax::ws::Compression>) -> usize {
    let total = messages();
    let mut ws = tenax::ws::builder(url)
        .compression(compression)
        .connect()
        .await
        .unwrap();
    let p = payload();
    for _ in 0..IN_FLIGHT {
        ws.send(p.as_str()).await.unwrap();
    }
    let (mut sent, mut got) = (IN_FLIGHT, 0);
    while got < total {
        ws.recv().await.unwrap();
        got += 1;
        if sent < total {
            ws.send(p.as_str()).await.unwrap();
            sent += 1;
        }
    }
    ws.close(Duration::from_secs(1)).await;
    got
}

#[derive(Clone, Copy)]
struct Run {
    rate: f64,
    cpu_us: f64,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if std::env::var("TENAX_BENCH_SERVE").as_deref() == Ok("chaos") {
        // The idle figure's compressing server: tenax-chaos, until stdin closes.
        let server = tenax_chaos::ChaosServer::builder()
            .start_in_thread()
            .unwrap();
        println!("{}", server.addr());
        let mut s = String::new();
        let _ = std::io::stdin().read_line(&mut s);
        return;
    }
    if std::env::var_os("TENAX_BENCH_SERVE").is_some() {
        // The child process of the idle-memory figure: serve until stdin closes.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            println!("{}", l.local_addr().unwrap());
            tokio::spawn(serve(l));
            let _ = tokio::task::spawn_blocking(|| {
                let mut s = String::new();
                let _ = std::io::stdin().read_line(&mut s);
            })
            .await;
        });
        return;
    }
    // A child counted under callgrind talks to its parent's echo server.
    let url = match std::env::var("TENAX_BENCH_SERVER") {
        Ok(addr) => format!("ws://{addr}/"),
        Err(_) => start_server_thread(),
    };
    if let Some(n) = tenax_bench::instructions::requested() {
        count_echo(&url, n);
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let names = [
        "tungstenite send (flush each)",
        "tungstenite batched",
        "tenax outbox",
        "tenax, chaos echo, plain",
        "tenax, chaos echo, deflate",
    ];
    // tenax-chaos's echo, which agrees to permessage-deflate when offered (the tungstenite
    // server above has no compression).
    let chaos = tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .unwrap();
    let chaos_url = chaos.ws_url("/ws/echo");
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); names.len()];
    // TENAX_BENCH_ONLY=idle-tenax|idle-tungstenite: only one client's idle memory (for massif).
    let only = std::env::var("TENAX_BENCH_ONLY").unwrap_or_default();
    if let Some(which) = only.strip_prefix("idle-") {
        idle_memory(
            &rt,
            idle_count(),
            which.starts_with("tenax"),
            which == "tenax-deflate",
        );
        return;
    }
    for _ in 0..rounds() {
        for (i, runs) in runs.iter_mut().enumerate() {
            // TENAX_BENCH_ONLY=send|batched|tenax runs one client alone (for profiling).
            if !only.is_empty()
                && ["send", "batched", "tenax", "chaos-plain", "chaos-deflate"]
                    .iter()
                    .position(|&n| n == only)
                    != Some(i)
            {
                continue;
            }
            let t0 = Instant::now();
            let c0 = thread_cpu();
            let n = rt.block_on(async {
                match i {
                    0 => tung_send(&url).await,
                    1 => tung_batched(&url).await,
                    2 => tenax_outbox(&url).await,
                    3 => tenax_echo(&chaos_url, None).await,
                    _ => {
                        let mut c = tenax::ws::Compression::default();
                        c.threshold = 0;
                        tenax_echo(&chaos_url, Some(c)).await
                    }
                }
            });
            let (wall, cpu) = (t0.elapsed(), thread_cpu() - c0);
            runs.push(Run {
                rate: n as f64 / wall.as_secs_f64(),
                cpu_us: cpu.as_secs_f64() * 1e6 / n as f64,
            });
        }
    }
    println!(
        "WebSocket echo, {} B text, {IN_FLIGHT} in flight, 1 connection, {} messages",
        payload().len(),
        messages()
    );
    if runs.iter().any(Vec::is_empty) {
        for (name, r) in names.iter().zip(&runs).filter(|(_, r)| !r.is_empty()) {
            println!("  {name}: {:.3} µs CPU/msg", median_of(r, |x| x.cpu_us));
        }
        return;
    }
    let med: Vec<(f64, f64)> = runs
        .iter()
        .map(|r| (median_of(r, |x| x.rate), median_of(r, |x| x.cpu_us)))
        .collect();
    for (name, (rate, cpu)) in names.iter().zip(&med) {
        println!("  {name:<30} {rate:>12.0} msg/s  {cpu:>7.3} µs CPU/msg");
    }
    let (t_send, t_batch, ours) = (med[0], med[1], med[2]);
    println!(
        "  deflate vs plain, same server (tenax-chaos): {:.2}x rate, {:.2}x CPU/msg",
        med[4].0 / med[3].0,
        med[4].1 / med[3].1
    );
    println!(
        "  tenax vs tungstenite batched: {:.2}x rate, {:.2}x CPU/msg; vs send-per-message: {:.2}x rate, {:.2}x CPU/msg",
        ours.0 / t_batch.0,
        ours.1 / t_batch.1,
        ours.0 / t_send.0,
        ours.1 / t_send.1
    );

    let idle = idle_count();
    if idle > 0 {
        idle_memory_apart(idle);
    }
}

/// Instructions per message of the first three clients, each in a child process of this bench
/// under callgrind, `n` and `2n` messages against the echo server at `url` (in this process).
fn count_echo(url: &str, n: u64) {
    use tenax_bench::instructions::{per_unit, thousands};
    let exe = std::env::current_exe().expect("the bench's own path");
    let addr = url
        .trim_start_matches("ws://")
        .trim_end_matches('/')
        .to_string();
    let clients = [
        ("send", "tungstenite send (flush each)"),
        ("batched", "tungstenite batched"),
        ("tenax", "tenax outbox"),
    ];
    let counts: Vec<f64> = clients
        .iter()
        .map(|(only, name)| {
            per_unit(n, |k| {
                let mut cmd = std::process::Command::new(&exe);
                cmd.arg("--bench")
                    .env("TENAX_BENCH_ONLY", only)
                    .env("TENAX_BENCH_COUNT", k.to_string())
                    .env("TENAX_BENCH_ROUNDS", "1")
                    .env("TENAX_BENCH_IDLE", "0")
                    .env("TENAX_BENCH_SERVER", &addr)
                    .env_remove("TENAX_BENCH_INSTRUCTIONS");
                cmd
            })
            .unwrap_or_else(|e| panic!("counting {name}: {e}"))
        })
        .collect();
    println!(
        "WebSocket echo, {} B text, {IN_FLIGHT} in flight: user-space instructions per message (callgrind, {n} vs {} messages)",
        payload().len(),
        2 * n
    );
    for ((_, name), c) in clients.iter().zip(&counts) {
        println!(
            "  {name:<30} {:>10}  {:.3}x batched",
            thousands(*c),
            c / counts[1]
        );
    }
}

/// `TENAX_BENCH_IDLE`: connections for the idle-memory figure (default 10,000; 0 skips it).
fn idle_count() -> usize {
    std::env::var("TENAX_BENCH_IDLE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

fn median_of(runs: &[Run], f: fn(&Run) -> f64) -> f64 {
    let mut xs: Vec<f64> = runs.iter().map(f).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Each client's idle memory in a fresh process of its own: measured in one process, the
/// second client reused what the first had freed and the echo runs had grown, and looked
/// smaller than it is.
fn idle_memory_apart(n: usize) {
    println!("{n} idle connections, heartbeat every 1 s (client process RSS growth):");
    for which in ["tenax", "tenax-deflate", "tungstenite"] {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--bench")
            .env("TENAX_BENCH_ONLY", format!("idle-{which}"))
            .env("TENAX_BENCH_IDLE", n.to_string())
            .output()
            .expect("the bench runs itself");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        assert!(out.status.success(), "idle-{which} failed");
    }
}

fn idle_memory(rt: &tokio::runtime::Runtime, n: usize, tenax: bool, deflate: bool) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("TENAX_BENCH_SERVE", if deflate { "chaos" } else { "1" })
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the server child starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = if deflate {
        format!("ws://{}/ws/echo", line.trim())
    } else {
        format!("ws://{}/", line.trim())
    };
    let before = rss_kib();
    let grown = rt.block_on(async {
        if tenax {
            let client = tenax::Client::new();
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let compression = deflate.then(tenax::ws::Compression::default);
                v.push(
                    client
                        .websocket(&url)
                        .heartbeat(Some(Duration::from_secs(1)))
                        .compression(compression)
                        .connect()
                        .await
                        .unwrap(),
                );
            }
            // Three heartbeats go by: every connection pings and is answered.
            tokio::time::sleep(Duration::from_millis(3200)).await;
            let grown = rss_kib().saturating_sub(before);
            for ws in v {
                ws.close(Duration::ZERO).await;
            }
            grown
        } else {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(tungstenite(&url).await);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            rss_kib().saturating_sub(before)
        }
    });
    let which = match (tenax, deflate) {
        (true, false) => "tenax (heartbeat on)",
        (true, true) => "tenax, deflate agreed",
        _ => "tungstenite (no heartbeat)",
    };
    println!(
        "  {which:<30} {:>8.1} MiB in all, {:>6.0} B per connection",
        grown as f64 / 1024.0,
        grown as f64 * 1024.0 / n as f64
    );
    drop(child.stdin.take());
    let _ = child.wait();
}

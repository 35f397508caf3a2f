//! `tenax-soak --ops N [--seed S] [--concurrency C]`: N operations against tenax-chaos with
//! faults at realistic rates and short durations — HTTP/1.1, HTTP/2 (cleartext and TLS),
//! downloads resumed through resets, batches, WebSockets — each classified as it ends: `ok`,
//! or the one error its fault must produce. Anything else is *unclassified* and printed with
//! the seed and operation number that reproduce it. Invariants are checked as it runs and at
//! the end: no operation past its deadline (plus a tolerance), file descriptors, runtime tasks
//! and the server's open connections back to where they were once the clients are closed, and
//! memory flat (±10 % of what it was after the warm-up).
//!
//! The server runs in a child process (this binary with `--serve`), so that the memory and
//! descriptors measured are the clients' alone. The last line on stdout is one JSON object:
//! `{"ops":…, "ops_per_s":…, "unclassified":…, "invariant_breaks":…, …}`; the exit status is
//! non-zero when either count is not zero.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenax::{Client, retry};

mod ops;

use ops::{Env, Op};

/// What the soak was asked to do.
struct Args {
    ops: u64,
    seed: u64,
    concurrency: u64,
    /// Only the operations of this name (for finding which one breaks an invariant).
    only: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        ops: 100_000,
        seed: 1,
        concurrency: 128,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or(format!("{name} needs a value"))?;
            v.replace('_', "")
                .parse()
                .map_err(|_| format!("{name}: not a whole number: {v}"))
        };
        match flag.as_str() {
            "--ops" => a.ops = value("--ops")?,
            "--seed" => a.seed = value("--seed")?,
            "--concurrency" => a.concurrency = value("--concurrency")?.max(1),
            "--only" => a.only = Some(it.next().ok_or("--only needs an operation's name")?),
            "--serve" => serve(),
            "-h" | "--help" => {
                println!("tenax-soak --ops N [--seed S] [--concurrency C] [--only NAME]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(a)
}

/// The child: a plain and a TLS tenax-chaos, their addresses and CA on stdout, until stdin
/// closes.
fn serve() -> ! {
    let plain = tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .expect("the chaos server starts");
    let tls = tenax_chaos::ChaosServer::builder()
        .tls(true)
        .start_in_thread()
        .expect("the TLS chaos server starts");
    let ca = tls
        .ca_pem()
        .expect("a TLS server has a CA")
        .replace('\n', "\\n");
    println!("{} {} {ca}", plain.addr(), tls.addr());
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    std::process::exit(0);
}

/// The server child and what the soak needs to reach it.
struct Server {
    child: Child,
    plain: String,
    tls: String,
    ca_pem: String,
}

fn start_server() -> Server {
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server child starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the server child says where it listens");
    let mut parts = line.trim_end().splitn(3, ' ');
    let (plain, tls, ca) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().replace("\\n", "\n"),
    );
    Server {
        child,
        plain,
        tls,
        ca_pem: ca,
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            l.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// What the run found.
#[derive(Default)]
struct Findings {
    /// Outcomes by operation and what each ended as.
    tally: BTreeMap<(&'static str, String), u64>,
    unclassified: u64,
    breaks: Vec<String>,
    slowest: Duration,
}

impl Findings {
    fn broken(&mut self, what: String) {
        eprintln!("invariant break: {what}");
        self.breaks.push(what);
    }
}

/// Every client of the soak: plain (HTTP/1.1, and HTTP/2 by prior knowledge), TLS (h2 by
/// ALPN), and one more h2c client of its own for the faults that drop a whole HTTP/2
/// connection (every stream on it fails, as it should: an ordinary GET sharing it would end
/// as `recv` — found by CI's run); each with short timeouts and short backoffs so that faults
/// cost milliseconds.
fn clients(server: &Server) -> Vec<Client> {
    let fast = || {
        Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .read_timeout(Duration::from_millis(500))
            .retry(
                retry::Policy::default()
                    .backoff(Duration::from_millis(1), Duration::from_millis(5)),
            )
    };
    let ca = tenax::tls::Certificate::from_pem(server.ca_pem.as_bytes()).expect("the CA");
    vec![
        fast().build().expect("client"),
        fast().http2_only().build().expect("h2c client"),
        fast()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .build()
            .expect("TLS client"),
        fast()
            .http2_only()
            .build()
            .expect("h2c client for connection faults"),
    ]
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tenax-soak: {e}");
            std::process::exit(2);
        }
    };
    let mut server = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // Downloads go to memory when there is a tmpfs: a disk's fsync would be most of their time.
    let shm = std::path::Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("tenax-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let (fds_before, tasks_before) = rt.block_on(async { (open_fds(), alive_tasks()) });
    let findings = Arc::new(Mutex::new(Findings::default()));
    let started = Instant::now();
    let rss_warm = rt.block_on(run(&args, &server, &dir, findings.clone()));
    let elapsed = started.elapsed();
    let rss_end = rss_kib();
    let left = settle(&rt, &server, tasks_before);
    let (fds_after, tasks_after, server_open) = (left.fds, left.tasks, left.server_open);
    let _ = std::fs::remove_dir_all(&dir);
    drop(server.child.stdin.take());
    let _ = server.child.wait();

    let mut f = findings.lock().unwrap_or_else(|p| p.into_inner());
    if fds_after != fds_before {
        f.broken(format!("file descriptors {fds_before} -> {fds_after}"));
    }
    if tasks_after != tasks_before {
        f.broken(format!("runtime tasks {tasks_before} -> {tasks_after}"));
    }
    if server_open != Some(0) {
        f.broken(format!("server connections still open: {server_open:?}"));
    }
    if rss_end as f64 > rss_warm as f64 * 1.10 {
        f.broken(format!("RSS {rss_warm} KiB after warm-up -> {rss_end} KiB"));
    }
    report(&args, &f, elapsed, (rss_warm, rss_end));
    if f.unclassified > 0 || !f.breaks.is_empty() {
        std::process::exit(1);
    }
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Runs the operations; returns the RSS after the warm-up (the first fifth).
async fn run(args: &Args, server: &Server, dir: &std::path::Path, f: Arc<Mutex<Findings>>) -> u64 {
    let env = Arc::new(Env {
        clients: clients(server),
        plain: server.plain.clone(),
        tls: server.tls.clone(),
        dir: dir.to_path_buf(),
        seed: args.seed,
        only: args.only.clone(),
    });
    let next = Arc::new(AtomicU64::new(0));
    let warm_at = args.ops / 5;
    let rss_warm = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..args.concurrency {
        let (env, next, f, rss_warm) = (env.clone(), next.clone(), f.clone(), rss_warm.clone());
        let total = args.ops;
        workers.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    break;
                }
                if n == warm_at {
                    rss_warm.store(rss_kib(), Ordering::Relaxed);
                }
                one(&env, n, &f).await;
            }
        }));
    }
    for w in workers {
        if let Err(e) = w.await {
            f.lock()
                .unwrap_or_else(|p| p.into_inner())
                .broken(format!("a worker panicked: {e}"));
        }
    }
    for c in &env.clients {
        if tokio::time::timeout(Duration::from_secs(15), c.close())
            .await
            .is_err()
        {
            f.lock()
                .unwrap_or_else(|p| p.into_inner())
                .broken("a client's close outlived 15 s".into());
        }
    }
    rss_warm.load(Ordering::Relaxed)
}

/// Operation `n`: drawn from the seed, run under a hard bound, classified.
async fn one(env: &Env, n: u64, f: &Mutex<Findings>) {
    let op = Op::draw(env.seed, n, env.only.as_deref());
    let t = Instant::now();
    let bound = op.deadline() + ops::TOLERANCE;
    let outcome = tokio::time::timeout(bound * 4, op.run(env, n)).await;
    let took = t.elapsed();
    let mut f = f.lock().unwrap_or_else(|p| p.into_inner());
    f.slowest = f.slowest.max(took);
    let Ok(outcome) = outcome else {
        f.broken(format!(
            "seed {} op {n} ({}) hung past {:?}",
            env.seed,
            op.name(),
            bound * 4
        ));
        return;
    };
    if took > bound {
        f.broken(format!(
            "seed {} op {n} ({}) took {took:?}, past its deadline {:?} + {:?}",
            env.seed,
            op.name(),
            op.deadline(),
            ops::TOLERANCE
        ));
    }
    let ended = match &outcome {
        Ok(()) => "ok".to_string(),
        Err(e) => ops::ended_as(e),
    };
    if !op.expects(&ended) {
        f.unclassified += 1;
        let detail = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        eprintln!(
            "unclassified: seed {} op {n} ({}) ended as {ended}: {detail}",
            env.seed,
            op.name()
        );
    }
    *f.tally.entry((op.name(), ended)).or_default() += 1;
}

/// After the run: waits (up to 5 s) for the clients' tasks to end and the server's
/// connections to close; returns descriptors, tasks and the server's open connections.
fn settle(rt: &tokio::runtime::Runtime, server: &Server, tasks_before: usize) -> Settled {
    let t = Instant::now();
    loop {
        let open = server_connections_open(&server.plain);
        let tasks = rt.metrics().num_alive_tasks();
        // The probe's own connection is one of those open.
        if (open == Some(1) && tasks <= tasks_before) || t.elapsed() > Duration::from_secs(5) {
            return Settled {
                fds: open_fds(),
                tasks,
                server_open: open.map(|n| n.saturating_sub(1)),
            };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What is left once the clients are closed.
struct Settled {
    fds: u64,
    tasks: usize,
    server_open: Option<u64>,
}

/// The server's open connections, from `/_stats`, read with a plain blocking socket (no
/// client, no task of the runtime measured) and without parsing the whole document (it
/// lists every flaky key of the run).
fn server_connections_open(addr: &str) -> Option<u64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"GET /_stats HTTP/1.0\r\nHost: soak\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let key = "\"connections_open\":";
    let at = text.find(key)? + key.len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn report(args: &Args, f: &Findings, elapsed: Duration, (rss_warm, rss_end): (u64, u64)) {
    for ((op, ended), n) in &f.tally {
        println!("  {op:<18} {ended:<22} {n}");
    }
    let ops_per_s = args.ops as f64 / elapsed.as_secs_f64();
    let line = serde_json::json!({
        "ops": args.ops,
        "seed": args.seed,
        "concurrency": args.concurrency,
        "seconds": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "ops_per_s": ops_per_s.round(),
        "unclassified": f.unclassified,
        "invariant_breaks": f.breaks.len(),
        "slowest_ms": f.slowest.as_millis() as u64,
        "rss_kib_after_warmup": rss_warm,
        "rss_kib_at_end": rss_end,
    });
    println!("{line}");
}

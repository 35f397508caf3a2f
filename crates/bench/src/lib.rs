//! Measurement helpers shared by Tenax's side-by-side benchmarks.
//!
//! On a shared 2-core machine the figure that matters is CPU time per unit of work, so every
//! bench reads per-thread CPU time from `/proc` (nanosecond `schedstat`), runs its peers and
//! Tenax against the same server in one process, and prints ratios.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub mod instructions;

/// The chaos server a bench talks to: the parent's, when this process is a child counted
/// under callgrind (`TENAX_BENCH_SERVER=host:port`, and `TENAX_BENCH_CA` its CA's PEM when it
/// speaks TLS, so the server's work is not counted), else one started here on a thread of its
/// own.
pub struct Target {
    server: Option<tenax_chaos::ChaosServer>,
    addr: String,
    ca_pem: Option<String>,
}

impl Target {
    /// The parent's server, or a new plain-HTTP one.
    pub fn start() -> Target {
        Target::start_with(false)
    }

    /// The parent's server, or a new one speaking TLS (h2 and HTTP/1.1 by ALPN).
    pub fn start_tls() -> Target {
        Target::start_with(true)
    }

    fn start_with(tls: bool) -> Target {
        if let Ok(addr) = std::env::var("TENAX_BENCH_SERVER") {
            let ca_pem = std::env::var("TENAX_BENCH_CA").ok();
            assert_eq!(ca_pem.is_some(), tls, "TENAX_BENCH_CA is set for TLS only");
            return Target {
                server: None,
                addr,
                ca_pem,
            };
        }
        let server = tenax_chaos::ChaosServer::builder()
            .tls(tls)
            .start_in_thread()
            .expect("chaos server starts");
        Target {
            addr: server.addr().to_string(),
            ca_pem: server.ca_pem().map(str::to_owned),
            server: Some(server),
        }
    }

    /// `http://{addr}{path}`, or `https://` when the server speaks TLS.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The server's CA certificate (PEM), when it speaks TLS.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Connections the server has accepted, when it runs in this process.
    pub fn connections_accepted(&self) -> Option<u64> {
        self.server.as_ref().map(|s| s.connections_accepted())
    }

    /// Instructions per unit of each named client, each counted in a child process of this
    /// bench under callgrind (`TENAX_BENCH_ONLY=name TENAX_BENCH_COUNT=k`, see
    /// [`instructions`]), against this server.
    pub fn count_clients(&self, names: &[&str], n: u64) -> Vec<f64> {
        let exe = std::env::current_exe().expect("the bench's own path");
        names
            .iter()
            .map(|name| {
                instructions::per_unit(n, |k| {
                    let mut cmd = std::process::Command::new(&exe);
                    cmd.arg("--bench")
                        .env("TENAX_BENCH_ONLY", name)
                        .env("TENAX_BENCH_COUNT", k.to_string())
                        .env("TENAX_BENCH_SERVER", &self.addr)
                        .env_remove("TENAX_BENCH_INSTRUCTIONS");
                    if let Some(ca) = &self.ca_pem {
                        cmd.env("TENAX_BENCH_CA", ca);
                    }
                    cmd
                })
                .unwrap_or_else(|e| panic!("counting {name}: {e}"))
            })
            .collect()
    }
}

/// A whole number from the environment variable `name`, `default` when unset, unparsable or 0.
pub fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// The release `tenax` binary, built now, beside this bench's own directory
/// (`target/release/deps/..`).
pub fn tenax_binary() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "-q", "-p", "tenax-cli"])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building tenax-cli");
    let me = std::env::current_exe().expect("the bench's own path");
    let tenax = me.parent().unwrap().parent().unwrap().join("tenax");
    assert!(tenax.exists(), "{} not found", tenax.display());
    tenax
}

/// `TENAX_BENCH_ONLY=NAME`: runs that client of `clients` alone (for a profiler), for
/// `TENAX_BENCH_COUNT` requests when set (for instruction counts) or for the run length, and
/// says so; `false` when the variable is not set.
pub fn run_only<T: PartialEq + Debug + Clone + 'static>(
    rt: &tokio::runtime::Runtime,
    clients: &[(&str, Fetch<T>)],
    expect: T,
    in_flight: usize,
) -> bool {
    let Ok(only) = std::env::var("TENAX_BENCH_ONLY") else {
        return false;
    };
    let (_, fetch) = clients
        .iter()
        .find(|(n, _)| *n == only)
        .expect("a client name");
    let run = match fixed_count() {
        Some(n) => rt.block_on(load_count(fetch.clone(), expect, in_flight, n)),
        None => rt.block_on(load(fetch.clone(), expect, in_flight, run_length())),
    };
    println!(
        "{only}: {:.0} req/s, client {:.2} µs/req",
        run.rate(),
        run.client_us()
    );
    true
}

/// One request of a client under test, as a boxed future yielding what the bench checks.
pub type Fetch<T> = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = T>>>>;

/// Runs `in_flight` loops of `fetch` for `length` on the current (current_thread) runtime,
/// checking every result against `expect`, and measures the client thread's and the chaos
/// server thread's CPU.
pub async fn load<T: PartialEq + Debug + Clone + 'static>(
    fetch: Fetch<T>,
    expect: T,
    in_flight: usize,
    length: Duration,
) -> Run {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let meter = Meter::start();
    let local = tokio::task::LocalSet::new();
    for _ in 0..in_flight {
        let (done, stop, fetch, expect) =
            (done.clone(), stop.clone(), fetch.clone(), expect.clone());
        local.spawn_local(async move {
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(fetch().await, expect);
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    local
        .run_until(async {
            tokio::time::sleep(length).await;
            stop.store(true, Ordering::Relaxed);
        })
        .await;
    local.await;
    meter.finish(done.load(Ordering::Relaxed))
}

/// Wall time and the client's and chaos server's CPU, from a start to a finish.
struct Meter {
    cpu: Duration,
    server: Duration,
    at: Instant,
}

impl Meter {
    fn start() -> Meter {
        Meter {
            cpu: thread_cpu(),
            server: named_threads_cpu("tenax-chaos"),
            at: Instant::now(),
        }
    }

    fn finish(self, units: u64) -> Run {
        Run {
            units,
            wall: self.at.elapsed(),
            client_cpu: thread_cpu() - self.cpu,
            server_cpu: named_threads_cpu("tenax-chaos") - self.server,
        }
    }
}

/// Runs `in_flight` loops of `fetch` until `total` requests are done, for instruction counts
/// (`valgrind --tool=callgrind` counts the same for the same binary and work, whatever the
/// machine's neighbours do; a timed run does not do the same work twice).
pub async fn load_count<T: PartialEq + Debug + Clone + 'static>(
    fetch: Fetch<T>,
    expect: T,
    in_flight: usize,
    total: u64,
) -> Run {
    let started = Arc::new(AtomicU64::new(0));
    let meter = Meter::start();
    let local = tokio::task::LocalSet::new();
    for _ in 0..in_flight {
        let (started, fetch, expect) = (started.clone(), fetch.clone(), expect.clone());
        local.spawn_local(async move {
            while started.fetch_add(1, Ordering::Relaxed) < total {
                assert_eq!(fetch().await, expect);
            }
        });
    }
    local.await;
    meter.finish(total)
}

/// A fixed number of requests instead of a timed run: `TENAX_BENCH_COUNT`.
pub fn fixed_count() -> Option<u64> {
    std::env::var("TENAX_BENCH_COUNT")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
}

/// How many rounds each client runs: `TENAX_BENCH_ROUNDS`, default 3.
pub fn rounds() -> usize {
    std::env::var("TENAX_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// The median of one figure over runs.
pub fn median(runs: &[Run], figure: fn(&Run) -> f64) -> f64 {
    let mut xs: Vec<f64> = runs.iter().map(figure).collect();
    xs.sort_by(|a, b| a.total_cmp(b));
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

/// CPU time consumed so far by the calling thread, from `/proc/thread-self/schedstat`.
pub fn thread_cpu() -> Duration {
    read_schedstat("/proc/thread-self/schedstat").unwrap_or_default()
}

/// CPU time consumed so far by every thread of this process whose name is `name`
/// (as set by `std::thread::Builder::name`, truncated by the kernel to 15 bytes).
pub fn named_threads_cpu(name: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let name = &name[..name.len().min(15)];
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| read_schedstat(t.path().join("schedstat")))
        .sum()
}

fn read_schedstat(path: impl AsRef<std::path::Path>) -> Option<Duration> {
    let s = std::fs::read_to_string(path).ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// How long each measured run lasts: `TENAX_BENCH_SECS` (decimal seconds), default 3 s.
pub fn run_length() -> Duration {
    std::env::var("TENAX_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(3))
}

/// What one measured run did.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// Units of work completed (requests, messages, bytes...).
    pub units: u64,
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the client thread.
    pub client_cpu: Duration,
    /// CPU time of the server thread(s).
    pub server_cpu: Duration,
}

impl Run {
    /// Units per second of wall time.
    pub fn rate(&self) -> f64 {
        self.units as f64 / self.wall.as_secs_f64()
    }

    /// Client CPU microseconds per unit.
    pub fn client_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.units.max(1) as f64
    }

    /// Server CPU microseconds per unit.
    pub fn server_us(&self) -> f64 {
        self.server_cpu.as_secs_f64() * 1e6 / self.units.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_cpu_grows_with_work() {
        let before = thread_cpu();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() > before);
    }

    #[test]
    fn named_threads_are_found() {
        let h = std::thread::Builder::new()
            .name("bench-probe".into())
            .spawn(|| {
                let mut x = 0u64;
                for i in 0..20_000_000u64 {
                    x = x.wrapping_mul(31).wrapping_add(i);
                }
                std::hint::black_box(x);
                std::thread::sleep(Duration::from_millis(200));
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let cpu = named_threads_cpu("bench-probe");
        h.join().unwrap();
        assert!(cpu > Duration::ZERO);
    }
}

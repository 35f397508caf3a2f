//! A large download, side by side: `GET /file/{n}` (1 GiB by default) from tenax-chaos on
//! loopback, written to a file, by Tenax (`Client::download`: temporary file, fsync, rename;
//! with and without SHA-256), reqwest (chunks to a 256 KiB-buffered file, fsync; with and
//! without SHA-256) and curl (`-o`). Each client
//! runs in a process of its own, so that its peak RSS is its own.
//!
//! Run: `cargo bench -p tenax-bench --bench download`. `TENAX_BENCH_BYTES` sets the size,
//! `TENAX_BENCH_ROUNDS` the rounds (default 3; medians reported), `TENAX_BENCH_DIR` where the
//! file goes (default /dev/shm, else the temporary directory). `TENAX_BENCH_INSTRUCTIONS=N`
//! counts each client's user-space instructions per MiB instead (callgrind, N MiB and 2N MiB;
//! see `tenax_bench::instructions`).

use std::process::Command;
use std::time::Instant;

use sha2::Digest;
use tokio::io::AsyncWriteExt;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn cpu_secs() -> f64 {
    // utime + stime of this process, in clock ticks (100 per second on Linux).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// The child: one download, then `wall_s cpu_s peak_rss_kib` on stdout.
fn child(which: &str, url: &str, path: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = Instant::now();
    let bytes = rt.block_on(async {
        match which {
            "tenax" | "tenax-sha256" => {
                let d = tenax::Client::new()
                    .download(url, path)
                    .compute_sha256(which == "tenax-sha256")
                    .send()
                    .await
                    .unwrap();
                d.bytes
            }
            _ => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let hash = which == "reqwest-sha256";
                let client = reqwest::Client::new();
                let mut res = client.get(url).send().await.unwrap();
                let file = tokio::fs::File::create(path).await.unwrap();
                let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
                let mut h = sha2::Sha256::new();
                let mut n = 0u64;
                while let Some(chunk) = res.chunk().await.unwrap() {
                    out.write_all(&chunk).await.unwrap();
                    if hash {
                        h.update(&chunk);
                    }
                    n += chunk.len() as u64;
                }
                out.flush().await.unwrap();
                out.into_inner().sync_all().await.unwrap();
                std::hint::black_box(h.finalize());
                n
            }
        }
    });
    let wall = t0.elapsed().as_secs_f64();
    println!("{wall} {} {} {bytes}", cpu_secs(), status_kib("VmHWM:"));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Ok(which) = std::env::var("TENAX_BENCH_DL") {
        child(&which, &args[args.len() - 2], &args[args.len() - 1]);
        return;
    }
    let n: u64 = std::env::var("TENAX_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1 << 30);
    let server = tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .expect("chaos server starts");
    let url = server.url(&format!("/file/{n}"));
    // In memory (/dev/shm) when there is one: the disk's writeback of the previous run's
    // gigabyte would otherwise land on the next client's figures.
    let base = std::env::var_os("TENAX_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            let shm = std::path::PathBuf::from("/dev/shm");
            shm.is_dir().then_some(shm)
        })
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("tenax-bench-dl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("out.bin");
    let path_s = path.to_str().unwrap().to_string();
    let clients = ["reqwest", "tenax", "reqwest-sha256", "tenax-sha256", "curl"];
    if let Some(mib) = tenax_bench::instructions::requested() {
        // Not the SHA-256 runs: under valgrind's CPU the hash takes its portable code (no SHA
        // extensions), about 3,000 times the instructions of the transfer itself.
        count_per_mib(&server, &["reqwest", "tenax", "curl"], mib, &path_s);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let mut runs: Vec<Vec<(f64, f64, u64)>> = vec![Vec::new(); clients.len()];
    for _ in 0..tenax_bench::rounds() {
        for (i, which) in clients.iter().enumerate() {
            let _ = std::fs::remove_file(&path);
            let out = if *which == "curl" {
                let t0 = Instant::now();
                let o = Command::new("/usr/bin/time")
                    .args(["-f", "%U %S %M", "curl", "-s", "-o", &path_s, &url])
                    .output()
                    .expect("curl and /usr/bin/time run");
                let wall = t0.elapsed().as_secs_f64();
                let err = String::from_utf8_lossy(&o.stderr);
                let f: Vec<f64> = err
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
                (wall, f[0] + f[1], f[2] as u64)
            } else {
                let o = Command::new(std::env::current_exe().unwrap())
                    .env("TENAX_BENCH_DL", which)
                    .args(["--", &url, &path_s])
                    .output()
                    .expect("the child runs");
                let text = String::from_utf8_lossy(&o.stdout);
                let f: Vec<f64> = text
                    .split_whitespace()
                    .filter_map(|v| v.parse().ok())
                    .collect();
                assert_eq!(
                    f.len(),
                    4,
                    "child output: {text} {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                assert_eq!(f[3] as u64, n, "{which} downloaded everything");
                (f[0], f[1], f[2] as u64)
            };
            assert_eq!(std::fs::metadata(&path).unwrap().len(), n, "{which}");
            runs[i].push(out);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let med = |v: &[(f64, f64, u64)], k: usize| {
        let mut xs: Vec<f64> = v
            .iter()
            .map(|r| match k {
                0 => r.0,
                1 => r.1,
                _ => r.2 as f64,
            })
            .collect();
        xs.sort_by(|a, b| a.total_cmp(b));
        xs[xs.len() / 2]
    };
    println!("Download of {n} bytes from tenax-chaos to a file, one process per client");
    let mib = n as f64 / (1 << 20) as f64;
    let reqwest_rate = mib / med(&runs[0], 0);
    for (name, r) in clients.iter().zip(&runs) {
        let rate = mib / med(r, 0);
        println!(
            "  {name:<16} {rate:>8.0} MiB/s  CPU {:>6.2} s  peak RSS {:>6.1} MiB  ({:.2}x reqwest)",
            med(r, 1),
            med(r, 2) / 1024.0,
            rate / reqwest_rate
        );
    }
}

/// One client's download of `url` to `path` as a command: curl, or this bench as a child.
fn command(which: &str, url: &str, path: &str) -> Command {
    if which == "curl" {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-o", path, url]);
        return cmd;
    }
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("TENAX_BENCH_DL", which).args(["--", url, path]);
    cmd
}

/// Instructions per MiB of each client, `mib` and `2 * mib` MiB counted under callgrind.
fn count_per_mib(server: &tenax_chaos::ChaosServer, clients: &[&str], mib: u64, path: &str) {
    use tenax_bench::instructions::{per_unit, thousands};
    println!(
        "Download to a file: user-space instructions per MiB (callgrind, {mib} vs {} MiB)",
        2 * mib
    );
    let mut counts = Vec::new();
    for which in clients {
        let per_mib = per_unit(mib, |k| {
            command(which, &server.url(&format!("/file/{}", k << 20)), path)
        })
        .unwrap_or_else(|e| panic!("counting {which}: {e}"));
        counts.push(per_mib);
    }
    let curl = counts[clients.len() - 1];
    for (which, c) in clients.iter().zip(&counts) {
        println!("  {which:<16} {:>12}  {:.2}x curl", thousands(*c), c / curl);
    }
}

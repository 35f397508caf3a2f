//! Startup: `tenax get URL` as a whole process, to the last byte of a small response, next to
//! `curl URL`, over plain HTTP and over TLS (each trusting the chaos server's CA), against one
//! tenax-chaos server on a thread of this bench.
//!
//! `cargo bench -p tenax-bench --bench startup` (builds the release `tenax` binary first).
//! `TENAX_BENCH_RUNS` processes per client and round (default 200), `TENAX_BENCH_ROUNDS`
//! rounds (default 3; the median round is reported). `TENAX_BENCH_INSTRUCTIONS=1` also counts
//! one run of each under callgrind (user space, every thread of the process).

use std::process::{Command, Stdio};
use std::time::Instant;

use tenax_bench::{env_num, instructions};

/// One client's command line for `url`.
fn command(program: &str, url: &str, ca: Option<&str>) -> Command {
    let mut cmd = Command::new(program);
    if program.ends_with("curl") {
        cmd.args(["-s", "-o", "/dev/null"]);
        if let Some(ca) = ca {
            cmd.args(["--cacert", ca]);
        }
        cmd.arg(url);
    } else {
        cmd.args(["get", url, "-o", "/dev/null"]);
        if let Some(ca) = ca {
            cmd.args(["--cacert", ca]);
        }
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    cmd
}

/// Mean wall time of `runs` processes, in microseconds.
fn mean_us(program: &str, url: &str, ca: Option<&str>, runs: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..runs {
        let status = command(program, url, ca).status().expect("the client runs");
        assert!(status.success(), "{program} {url} failed");
    }
    start.elapsed().as_secs_f64() * 1e6 / runs as f64
}

fn main() {
    let tenax = tenax_bench::tenax_binary();
    let tenax = tenax.to_str().unwrap();
    let plain = tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .expect("chaos server starts");
    let tls = tenax_chaos::ChaosServer::builder()
        .tls(true)
        .start_in_thread()
        .expect("TLS chaos server starts");
    let dir = std::env::temp_dir().join(format!("tenax-bench-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, tls.ca_pem().expect("a TLS server has a CA")).unwrap();
    let ca = ca.to_str().unwrap().to_owned();
    let cases = [
        ("http", plain.url("/bytes/13"), None),
        ("https", tls.url("/bytes/13"), Some(ca.as_str())),
    ];
    let runs = env_num("TENAX_BENCH_RUNS", 200);
    let rounds = tenax_bench::rounds();
    println!(
        "startup to the last byte of GET /bytes/13, mean of {runs} processes, median of {rounds} rounds"
    );
    println!("| scheme | tenax get | curl | tenax / curl |");
    println!("|---|---|---|---|");
    for (scheme, url, ca) in &cases {
        let mut t = Vec::new();
        let mut c = Vec::new();
        for _ in 0..rounds {
            t.push(mean_us(tenax, url, *ca, runs));
            c.push(mean_us("curl", url, *ca, runs));
        }
        let (t, c) = (median(t), median(c));
        println!(
            "| {scheme} | {:.2} ms | {:.2} ms | {:.2}× |",
            t / 1e3,
            c / 1e3,
            t / c
        );
    }
    if instructions::requested().is_some() {
        println!("user-space instructions of one whole process (callgrind)");
        println!("| scheme | tenax get | curl | tenax / curl |");
        println!("|---|---|---|---|");
        for (scheme, url, ca) in &cases {
            let (t, _) = instructions::count(&mut command(tenax, url, *ca)).expect("tenax counted");
            let (c, _) = instructions::count(&mut command("curl", url, *ca)).expect("curl counted");
            println!(
                "| {scheme} | {} | {} | {:.2}× |",
                instructions::thousands(t as f64),
                instructions::thousands(c as f64),
                t as f64 / c as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

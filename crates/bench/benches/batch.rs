//! `tenax batch` over a file of URLs against one tenax-chaos server, next to the same requests
//! made by a program using the library directly (the small-GET work: send, read 13 bytes), at
//! the same concurrency. Each runs as its own process under `/usr/bin/time`, so CPU time
//! (user + system) and peak RSS are the whole process's. A run with a tenth of the URLs shows
//! whether memory grows with the input.
//!
//! `cargo bench -p tenax-bench --bench batch` (builds the release `tenax` binary first).
//! `TENAX_BENCH_URLS` (default 100000), `TENAX_BENCH_CONCURRENCY` (default 256),
//! `TENAX_BENCH_ROUNDS` (default 3). `TENAX_BENCH_INSTRUCTIONS=N` counts instructions per
//! request instead (whole processes under callgrind, N and 2N URLs; see
//! `tenax_bench::instructions`).

use std::path::Path;
use std::process::{Command, Stdio};

use futures_util::StreamExt;
use tenax_bench::env_num;

/// The library child: every URL of the file through `Client::batch_with`, bodies read.
fn library_child(file: &str, concurrency: usize) {
    let urls: Vec<String> = std::fs::read_to_string(file)
        .expect("the URL file")
        .lines()
        .map(str::to_owned)
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // As many connections as requests at once (`tenax batch` does the same); the idle cap
        // stays at its default (32): connections over it are kept 1 s, enough for a batch.
        let client = tenax::Client::builder()
            .max_connections(concurrency)
            .build()
            .unwrap();
        let reqs = urls.iter().map(|u| client.get(u.as_str()));
        let mut batch = client
            .batch_with(reqs, |r| async move { r.send().await?.bytes().await })
            .concurrency(concurrency);
        let mut ok = 0usize;
        while let Some((_, res)) = batch.next().await {
            ok += usize::from(res.is_ok());
        }
        assert_eq!(ok, urls.len(), "every request succeeded");
    });
}

/// Runs `cmd` under `/usr/bin/time`: (wall s, CPU s, peak RSS KiB).
fn timed(program: &Path, args: &[&str], envs: &[(&str, &str)]) -> (f64, f64, f64) {
    let mut cmd = Command::new("/usr/bin/time");
    cmd.args(["-f", "TIME %e %U %S %M"])
        .arg(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("/usr/bin/time runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{} failed: {err}", program.display());
    let line = err
        .lines()
        .find_map(|l| l.strip_prefix("TIME "))
        .unwrap_or_else(|| panic!("no figures in: {err}"));
    let f: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    (f[0], f[1] + f[2], f[3])
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() {
    let concurrency = env_num("TENAX_BENCH_CONCURRENCY", 256);
    if let Ok(file) = std::env::var("TENAX_BENCH_BATCH_FILE") {
        library_child(&file, concurrency);
        return;
    }
    let n = env_num("TENAX_BENCH_URLS", 100_000);
    let tenax = tenax_bench::tenax_binary();
    let me = std::env::current_exe().unwrap();

    let server = tenax_chaos::ChaosServer::builder()
        .start_in_thread()
        .expect("chaos server starts");
    let dir = std::env::temp_dir().join(format!("tenax-bench-batch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = server.url("/bytes/13");
    let write = |name: &str, count: usize| {
        let path = dir.join(name);
        let mut text = String::with_capacity(count * (url.len() + 1));
        for _ in 0..count {
            text.push_str(&url);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    if let Some(k) = tenax_bench::instructions::requested() {
        let k = k as usize;
        let files = [write("k.txt", k), write("2k.txt", 2 * k)];
        let file = |units: u64| files[usize::from(units as usize != k)].clone();
        let c = concurrency.to_string();
        let library = tenax_bench::instructions::per_unit(k as u64, |units| {
            let mut cmd = Command::new(&me);
            cmd.env("TENAX_BENCH_BATCH_FILE", file(units))
                .env("TENAX_BENCH_CONCURRENCY", &c);
            cmd
        })
        .expect("counting the library");
        let cli = tenax_bench::instructions::per_unit(k as u64, |units| {
            let mut cmd = Command::new(&tenax);
            cmd.args(["batch", &file(units), "--concurrency", &c]);
            cmd
        })
        .expect("counting tenax batch");
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "user-space instructions per request (callgrind, whole process, {k} vs {} URLs, concurrency {concurrency})",
            2 * k
        );
        println!(
            "| library (Client::batch_with) | {} | 1.000× |",
            tenax_bench::instructions::thousands(library)
        );
        println!(
            "| tenax batch | {} | {:.3}× |",
            tenax_bench::instructions::thousands(cli),
            cli / library
        );
        return;
    }
    let full = write("full.txt", n);
    let tenth = write("tenth.txt", n / 10);
    let c = concurrency.to_string();

    let kinds = [
        "library (Client::batch_with)",
        "tenax batch",
        "tenax batch, 1/10 of the URLs",
    ];
    let mut figures: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); kinds.len()];
    for _ in 0..tenax_bench::rounds() {
        figures[0].push(timed(
            &me,
            &[],
            &[
                ("TENAX_BENCH_BATCH_FILE", full.as_str()),
                ("TENAX_BENCH_CONCURRENCY", c.as_str()),
            ],
        ));
        figures[1].push(timed(&tenax, &["batch", &full, "--concurrency", &c], &[]));
        figures[2].push(timed(&tenax, &["batch", &tenth, "--concurrency", &c], &[]));
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{n} URLs (GET /bytes/13), concurrency {concurrency}, median of {} rounds",
        figures[0].len()
    );
    println!("| run | wall | req/s | CPU per request | vs library | peak RSS |");
    println!("|---|---|---|---|---|---|");
    let per_req = |i: usize| {
        let count = if i == 2 { n / 10 } else { n } as f64;
        median(figures[i].iter().map(|f| f.1 * 1e6 / count).collect())
    };
    let base = per_req(0);
    for (i, kind) in kinds.iter().enumerate() {
        let count = if i == 2 { n / 10 } else { n } as f64;
        let wall = median(figures[i].iter().map(|f| f.0).collect());
        let us = per_req(i);
        let rss = median(figures[i].iter().map(|f| f.2).collect()) / 1024.0;
        println!(
            "| {kind} | {wall:.2} s | {:.1}k | {us:.2} µs | {:.2}× | {rss:.1} MiB |",
            count / wall / 1e3,
            us / base
        );
    }
}

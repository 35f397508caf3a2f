//! Small GET, side by side: 64 requests in flight over keep-alive HTTP/1.1, `GET /bytes/13`
//! from tenax-chaos (on a thread of its own), on a current_thread runtime, for Tenax (every
//! default on: phase timeouts, pool limits, timings), hyper-util's legacy client and reqwest.
//!
//! Run: `cargo bench -p tenax-bench --bench small_get`. Clients take turns for
//! `TENAX_BENCH_ROUNDS` rounds (default 3); each figure is the median of its rounds.
//! `TENAX_BENCH_ONLY=NAME` runs one client; add `TENAX_BENCH_COUNT=N` for exactly N requests
//! (run it under `valgrind --tool=callgrind` to count instructions).
//! `TENAX_BENCH_INSTRUCTIONS=N` counts each client's instructions per request instead (see
//! `tenax_bench::instructions`).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as LegacyClient;
use hyper_util::rt::TokioExecutor;
use tenax_bench::instructions::{self, thousands};
use tenax_bench::{Run, Target, load, median, rounds, run_length};

const IN_FLIGHT: usize = 64;
/// Positions of the peers in the client list.
const HYPER: usize = 2;
const REQWEST: usize = 3;

type Fetch = tenax_bench::Fetch<usize>;

fn main() {
    // reqwest is built with rustls but no provider chosen (the workspace uses ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let server = Target::start();
    let url = server.url("/bytes/13");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rounds = rounds();

    let clients: Vec<(&str, Fetch)> = vec![
        ("tenax", {
            let c = tenax::Client::new();
            let url = url.clone();
            Arc::new(move || {
                let (c, url) = (c.clone(), url.clone());
                Box::pin(async move {
                    c.get(&url)
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap()
                        .len()
                })
            })
        }),
        ("tenax (Uri)", {
            // A parsed URL, as the hyper-util client takes it.
            let c = tenax::Client::new();
            let uri: http::Uri = url.parse().unwrap();
            Arc::new(move || {
                let (c, uri) = (c.clone(), uri.clone());
                Box::pin(async move {
                    c.get(uri)
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap()
                        .len()
                })
            })
        }),
        ("hyper-util legacy", {
            let c = LegacyClient::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
            let uri: http::Uri = url.parse().unwrap();
            Arc::new(move || {
                let (c, uri) = (c.clone(), uri.clone());
                Box::pin(async move {
                    let res = c.get(uri).await.unwrap();
                    res.into_body().collect().await.unwrap().to_bytes().len()
                })
            })
        }),
        ("reqwest", {
            let c = reqwest::Client::new();
            let url = url.clone();
            Arc::new(move || {
                let (c, url) = (c.clone(), url.clone());
                Box::pin(async move {
                    c.get(&url)
                        .send()
                        .await
                        .unwrap()
                        .bytes()
                        .await
                        .unwrap()
                        .len()
                })
            })
        }),
    ];

    // `TENAX_BENCH_ONLY=tenax` runs one client alone (for profiling); with
    // `TENAX_BENCH_COUNT=N`, exactly N requests (for instruction counts under callgrind).
    if tenax_bench::run_only(&rt, &clients, 13, IN_FLIGHT) {
        return;
    }
    if let Some(n) = instructions::requested() {
        let names: Vec<&str> = clients.iter().map(|(n, _)| *n).collect();
        let counts = server.count_clients(&names, n);
        println!(
            "small GET /bytes/13, {IN_FLIGHT} in flight: user-space instructions per request (callgrind, {n} vs {} requests)",
            2 * n
        );
        println!(
            "{:<18} {:>14} {:>10} {:>10}",
            "client", "instr/req", "vs hyper", "vs reqwest"
        );
        for (name, c) in names.iter().zip(&counts) {
            println!(
                "{name:<18} {:>14} {:>9.3}x {:>9.3}x",
                thousands(*c),
                c / counts[HYPER],
                c / counts[REQWEST]
            );
        }
        return;
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); clients.len()];
    for (_, fetch) in &clients {
        rt.block_on(load(fetch.clone(), 13, IN_FLIGHT, run_length() / 5));
    }
    for _ in 0..rounds {
        for (i, (_, fetch)) in clients.iter().enumerate() {
            runs[i].push(rt.block_on(load(fetch.clone(), 13, IN_FLIGHT, run_length())));
        }
    }

    println!(
        "small GET /bytes/13, {IN_FLIGHT} in flight, keep-alive, current_thread, median of {rounds} rounds of {:.1} s",
        run_length().as_secs_f64()
    );
    println!(
        "{:<18} {:>10} {:>14} {:>14} {:>10} {:>10}",
        "client", "req/s", "client µs/req", "server µs/req", "vs hyper", "vs reqwest"
    );
    let med = |v: &Vec<Run>, f: fn(&Run) -> f64| median(v, f);
    let cpu: Vec<f64> = runs.iter().map(|r| med(r, Run::client_us)).collect();
    for (i, (name, _)) in clients.iter().enumerate() {
        println!(
            "{:<18} {:>10.0} {:>14.2} {:>14.2} {:>9.2}x {:>9.2}x",
            name,
            med(&runs[i], Run::rate),
            cpu[i],
            med(&runs[i], Run::server_us),
            cpu[i] / cpu[HYPER],
            cpu[i] / cpu[REQWEST],
        );
    }
}

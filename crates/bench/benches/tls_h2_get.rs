//! Small GET over TLS 1.3 + HTTP/2, side by side: 64 requests in flight on one h2 connection,
//! `GET /bytes/13` from tenax-chaos in TLS mode (on a thread of its own), current_thread
//! runtime, Tenax (every default on) against reqwest with the same rustls configuration (ring,
//! the chaos CA as the only root, ALPN h2).
//!
//! Run: `cargo bench -p tenax-bench --bench tls_h2_get` (`TENAX_BENCH_ROUNDS`, default 3;
//! `TENAX_BENCH_SECS`, default 3). `TENAX_BENCH_ONLY=NAME` runs one client, with
//! `TENAX_BENCH_COUNT=N` for exactly N requests; `TENAX_BENCH_INSTRUCTIONS=N` counts each
//! client's instructions per request instead (see `tenax_bench::instructions`).

use std::sync::Arc;

use tenax_bench::instructions::{self, thousands};
use tenax_bench::{Run, Target, load, median, rounds, run_length};

const IN_FLIGHT: usize = 64;
/// What every request must return: 13 bytes over HTTP/2.
const EXPECT: (usize, http::Version) = (13, http::Version::HTTP_2);

type Fetch = tenax_bench::Fetch<(usize, http::Version)>;

fn main() {
    let server = Target::start_tls();
    let ca_pem = server.ca_pem().expect("a TLS server").to_string();
    let url = server.url("/bytes/13");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rounds = rounds();

    let tenax_client = tenax::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(tenax::tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let reqwest_client = {
        let mut roots = rustls::RootCertStore::empty();
        use rustls::pki_types::pem::PemObject;
        roots
            .add(rustls::pki_types::CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
            .unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .build()
            .unwrap()
    };

    let clients: Vec<(&str, Fetch)> = vec![
        ("tenax", {
            let (c, url) = (tenax_client, url.clone());
            Arc::new(move || {
                let (c, url) = (c.clone(), url.clone());
                Box::pin(async move {
                    let r = c.get(&url).send().await.unwrap();
                    let v = r.version();
                    (r.bytes().await.unwrap().len(), v)
                })
            })
        }),
        ("reqwest", {
            let (c, url) = (reqwest_client, url.clone());
            Arc::new(move || {
                let (c, url) = (c.clone(), url.clone());
                Box::pin(async move {
                    let r = c.get(&url).send().await.unwrap();
                    let v = r.version();
                    (r.bytes().await.unwrap().len(), v)
                })
            })
        }),
    ];

    if tenax_bench::run_only(&rt, &clients, EXPECT, IN_FLIGHT) {
        return;
    }
    if let Some(n) = instructions::requested() {
        let names: Vec<&str> = clients.iter().map(|(n, _)| *n).collect();
        let counts = server.count_clients(&names, n);
        println!(
            "GET /bytes/13 over TLS 1.3 + HTTP/2, {IN_FLIGHT} in flight: user-space instructions per request (callgrind, {n} vs {} requests)",
            2 * n
        );
        for (name, c) in names.iter().zip(&counts) {
            println!("{name:<10} {:>14} {:>9.3}x", thousands(*c), c / counts[1]);
        }
        return;
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); clients.len()];
    let mut opened = Vec::new();
    for (_, fetch) in &clients {
        let before = server.connections_accepted().unwrap_or(0);
        rt.block_on(load(fetch.clone(), EXPECT, IN_FLIGHT, run_length() / 5));
        opened.push(server.connections_accepted().unwrap_or(0) - before);
    }
    for _ in 0..rounds {
        for (i, (_, fetch)) in clients.iter().enumerate() {
            runs[i].push(rt.block_on(load(fetch.clone(), EXPECT, IN_FLIGHT, run_length())));
        }
    }
    println!(
        "GET /bytes/13 over TLS 1.3 + HTTP/2, {IN_FLIGHT} in flight on one connection, \
         current_thread, median of {rounds} rounds of {:.1} s",
        run_length().as_secs_f64()
    );
    println!(
        "{:<10} {:>10} {:>14} {:>14} {:>10} {:>12}",
        "client", "req/s", "client µs/req", "server µs/req", "vs reqwest", "connections"
    );
    let med = |v: &Vec<Run>, f: fn(&Run) -> f64| median(v, f);
    let cpu: Vec<f64> = runs.iter().map(|r| med(r, Run::client_us)).collect();
    for (i, (name, _)) in clients.iter().enumerate() {
        println!(
            "{:<10} {:>10.0} {:>14.2} {:>14.2} {:>9.2}x {:>12}",
            name,
            med(&runs[i], Run::rate),
            cpu[i],
            med(&runs[i], Run::server_us),
            cpu[i] / cpu[1],
            opened[i],
        );
    }
}

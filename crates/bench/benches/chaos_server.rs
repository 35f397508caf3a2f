//! The chaos server's own cost: 64 keep-alive HTTP/1.1 connections, each sending
//! `GET /bytes/13` back to back, from a raw hyper client on a current_thread runtime.
//!
//! Later benches share the two cores with this server, so its CPU per request is the floor
//! they stand on. Run: `cargo bench -p tenax-bench --bench chaos_server`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tenax_bench::{Run, named_threads_cpu, run_length, thread_cpu};
use tenax_chaos::ChaosServer;
use tokio::net::TcpStream;

const IN_FLIGHT: usize = 64;

fn main() {
    let server = ChaosServer::builder()
        .start_in_thread()
        .expect("chaos server starts");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let uri: http::Uri = server.url("/bytes/13").parse().unwrap();

    // Warm up, then measure.
    rt.block_on(load(&server, &uri, run_length() / 5));
    let run = rt.block_on(load(&server, &uri, run_length()));
    println!(
        "chaos server, GET /bytes/13, {IN_FLIGHT} keep-alive connections: {:.0} req/s, \
         server CPU {:.2} µs/req, raw hyper client CPU {:.2} µs/req ({} requests in {:.2} s)",
        run.rate(),
        run.server_us(),
        run.client_us(),
        run.units,
        run.wall.as_secs_f64(),
    );
}

async fn load(server: &ChaosServer, uri: &http::Uri, length: std::time::Duration) -> Run {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (cpu0, srv0, t0) = (
        thread_cpu(),
        named_threads_cpu("tenax-chaos"),
        Instant::now(),
    );
    let mut tasks = Vec::new();
    for _ in 0..IN_FLIGHT {
        let (done, stop, uri, addr) = (done.clone(), stop.clone(), uri.clone(), server.addr());
        tasks.push(tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
                .await
                .unwrap();
            tokio::spawn(conn);
            while !stop.load(Ordering::Relaxed) {
                let req = http::Request::get(uri.path())
                    .header("host", "127.0.0.1")
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                let res = tx.send_request(req).await.unwrap();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body.len(), 13);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    Run {
        units: done.load(Ordering::Relaxed),
        wall: t0.elapsed(),
        client_cpu: thread_cpu() - cpu0,
        server_cpu: named_threads_cpu("tenax-chaos") - srv0,
    }
}

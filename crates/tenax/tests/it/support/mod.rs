//! Helpers shared by the integration tests: the `it` binary's modules (`crate::support`), and
//! the binaries of their own that include this file with `#[path]`.
#![allow(dead_code)]

use std::future::Future;
use std::time::{Duration, Instant};

use tenax_chaos::ChaosServer;

/// A tenax-chaos server on a thread of its own, on `127.0.0.1:0`.
pub fn server() -> ChaosServer {
    ChaosServer::builder().start_in_thread().unwrap()
}

/// Waits until `cond` holds, checking every 10 ms; fails the test after 5 s, naming `what`.
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < give_up, "not within 5 s: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs `f`, failing the test if it takes longer than 30 s: every test is bounded in time.
pub async fn bounded<T>(f: impl Future<Output = T>) -> T {
    bounded_for(Duration::from_secs(30), f).await
}

/// Runs `f`, failing the test if it takes longer than `limit`.
pub async fn bounded_for<T>(limit: Duration, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .expect("the test finished in time")
}

/// An error's whole chain, `: `-separated, as the CLI prints it.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        text.push_str(": ");
        text.push_str(&s.to_string());
        next = s.source();
    }
    text
}

/// `n` bytes of JSON market ticks: repetitive text, as WebSocket feeds send, for compression.
pub fn json_ticks(n: usize) -> String {
    let mut s = String::with_capacity(n + 64);
    let mut i = 0u64;
    while s.len() < n {
        s.push_str(&format!(
            "{{\"symbol\":\"TNX\",\"price\":{}.25,\"seq\":{i}}}",
            100 + i % 7
        ));
        i += 1;
    }
    s.truncate(n);
    s
}

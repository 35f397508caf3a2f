//! Tests that measure the whole process (its address space), so they own a process: in the
//! shared integration binary other tests would move the figure.

use std::time::Duration;

use tenax::Client;

#[path = "it/support/mod.rs"]
mod support;
use support::bounded;

#[cfg(target_os = "linux")]
fn vm_peak_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmPeak:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_claimed_content_length_reserves_no_memory_before_the_bytes_arrive() {
    // Each response claims 64 MiB, sends two small chunks, then stops. The body buffer was
    // reserved from the claim: 64 of these reserved 4 GiB of address space (VmPeak shows it:
    // untouched pages never reach the resident size).
    let chunk = vec![b'x'; 1000];
    let mut head = b"HTTP/1.1 200 OK\r\ncontent-length: 67108864\r\n\r\n".to_vec();
    head.extend_from_slice(&chunk);
    let raw = tenax_chaos::RawServer::start(vec![
        tenax_chaos::RawStep::write(head),
        tenax_chaos::RawStep::Sleep(Duration::from_millis(20)),
        tenax_chaos::RawStep::write(chunk),
        tenax_chaos::RawStep::Sleep(Duration::from_millis(500)),
        tenax_chaos::RawStep::Close,
    ])
    .await
    .unwrap();
    let client = Client::new();
    let before = vm_peak_bytes();
    let reads = (0..64).map(|_| {
        let c = client.clone();
        let url = raw.url("/");
        tokio::spawn(async move { c.get(url).send().await?.bytes().await })
    });
    let results = bounded(futures_util::future::join_all(reads)).await;
    for r in results {
        assert!(r.unwrap().unwrap_err().is_recv(), "a truncated body");
    }
    let grown = vm_peak_bytes().saturating_sub(before);
    assert!(grown < 1 << 30, "address space grew by {} MiB", grown >> 20);
}

//! The hickory-dns resolver against a tiny DNS server on loopback: the records' own TTL
//! drives the cache, within `dns_ttl_bounds`. Runs with `--features hickory-dns`.
#![cfg(feature = "hickory-dns")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tenax::{Client, dns};
use tenax_chaos::ChaosServer;

/// Answers every A query with 127.0.0.1 and the given TTL (other types: no answer); counts
/// the A queries.
async fn dns_server(ttl: u32) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let q = &buf[..n];
            // The question: labels from byte 12 to a zero byte, then type and class.
            let mut i = 12;
            while i < q.len() && q[i] != 0 {
                i += 1 + q[i] as usize;
            }
            let end = i + 5;
            if end > q.len() {
                continue;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let is_a = qtype == 1;
            if is_a {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            let mut r = Vec::with_capacity(64);
            r.extend_from_slice(&q[..2]);
            r.extend_from_slice(&[0x81, 0x80, 0, 1, 0, u8::from(is_a), 0, 0, 0, 0]);
            r.extend_from_slice(&q[12..end]);
            if is_a {
                r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
                r.extend_from_slice(&ttl.to_be_bytes());
                r.extend_from_slice(&[0, 4, 127, 0, 0, 1]);
            }
            let _ = sock.send_to(&r, from).await;
        }
    });
    (addr, count)
}

#[tokio::test]
async fn the_records_ttl_drives_the_cache_within_its_bounds() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let port = s.addr().port();
    let (dns, queries) = dns_server(1).await;
    let url = format!("http://service.test:{port}/bytes/1");
    let client = Client::builder()
        .resolver(dns::HickoryResolver::with_name_servers(&[dns]).unwrap())
        .max_idle_per_host(0)
        .dns_ttl_bounds(Duration::ZERO, Duration::from_secs(60))
        .build()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), async {
        client.get(&url).send().await.unwrap();
        client.get(&url).send().await.unwrap();
        assert_eq!(queries.load(Ordering::SeqCst), 1, "within the 1 s TTL");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        client.get(&url).send().await.unwrap();
        assert_eq!(
            queries.load(Ordering::SeqCst),
            2,
            "the record's TTL, not the fixed 60 s"
        );
        // Raised to a 10 s minimum: no new query after the record's second.
        let (dns, queries) = dns_server(1).await;
        let client = Client::builder()
            .resolver(dns::HickoryResolver::with_name_servers(&[dns]).unwrap())
            .max_idle_per_host(0)
            .dns_ttl_bounds(Duration::from_secs(10), Duration::from_secs(60))
            .build()
            .unwrap();
        client.get(&url).send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        client.get(&url).send().await.unwrap();
        assert_eq!(queries.load(Ordering::SeqCst), 1);
    })
    .await
    .expect("the test finished in time");
}

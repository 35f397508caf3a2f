//! The blocking client (feature `blocking`) from plain functions, as a script would use it.

use std::io::Read;
use std::time::{Duration, Instant};

use tenax::blocking::Client;

use crate::support::server;

#[test]
fn a_blocking_client_does_100_requests_from_a_plain_function() {
    let s = server();
    let t0 = Instant::now();
    let client = Client::builder()
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for i in 0..100 {
        let res = client.get(s.url(&format!("/bytes/{i}"))).send().unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().unwrap().len(), i);
    }
    assert_eq!(s.hits("bytes"), 100);
    // One connection did them all: the pool is the async client's.
    assert_eq!(s.connections_accepted(), 1);
    let echo: serde_json::Value = client
        .post(s.url("/echo"))
        .form(&[("a", "1")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(echo["form"], serde_json::json!([["a", "1"]]));
    drop(client);
    assert!(t0.elapsed() < Duration::from_secs(30), "bounded in time");
}

#[test]
fn a_blocking_response_reads_as_io_read_and_errors_keep_their_predicates() {
    let s = server();
    let client = Client::new();
    let mut res = client.get(s.url("/stream/100000")).send().unwrap();
    let mut all = Vec::new();
    res.read_to_end(&mut all).unwrap();
    assert_eq!(all.len(), 100_000);
    assert_eq!(all, tenax_chaos::pattern(0, 100_000));
    let e = client
        .get(s.url("/status/503"))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap_err();
    assert!(e.is_status());
    let e = client.get("http://127.0.0.1:65536/").send().unwrap_err();
    assert!(e.is_invalid_url());
}

#[test]
fn dropping_the_last_blocking_client_closes_its_connections() {
    let s = server();
    let client = Client::new();
    client
        .get(s.url("/bytes/1"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(s.connections_open(), 1);
    drop(client);
    let give_up = Instant::now() + Duration::from_secs(5);
    while s.connections_open() > 0 {
        assert!(Instant::now() < give_up, "the connection was not closed");
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn the_blocking_client_refuses_clearly_inside_an_async_runtime() {
    let s = server();
    let client = std::thread::spawn(Client::new).join().unwrap();
    let e = client.get(s.url("/bytes/1")).send().unwrap_err();
    assert!(e.is_builder());
    let text = crate::support::chain(&e);
    assert!(text.contains("inside an async runtime"), "{text}");
    // Dropped here, inside the runtime: it must not block (the test would hang).
    drop(client);
}

//! Every HTTP route of tenax-chaos, driven by a plain client, with the fault asserted.

mod support;

use std::io::Read;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{StatusCode, Version};
use http_body_util::Full;
use support::*;
use tenax_chaos::{ChaosServer, RawServer, RawStep, pattern};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

async fn server() -> ChaosServer {
    ChaosServer::builder().start().await.expect("server starts")
}

#[tokio::test]
async fn bytes_has_length_or_is_chunked() {
    let s = server().await;
    let r = get(s.addr(), "/bytes/100000").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-length"), Some("100000"));
    assert_eq!(&r.body[..], &pattern(0, 100_000)[..]);

    let raw = raw(s.addr(), &get_close("/bytes/10?chunked=1"), BOUND).await;
    assert_eq!(raw.header("transfer-encoding").as_deref(), Some("chunked"));
    assert_eq!(raw.header("content-length"), None);
    assert_eq!(s.hits("bytes"), 2);
}

#[tokio::test]
async fn stream_paces_its_chunks() {
    let s = server().await;
    let t = Instant::now();
    let r = get(s.addr(), "/stream/1000?chunk=100&delay_ms=50").await;
    let took = t.elapsed();
    assert_eq!(&r.body[..], &pattern(0, 1000)[..]);
    assert_eq!(r.header("content-length"), None);
    // Ten chunks, nine pauses of 50 ms.
    assert!(took >= Duration::from_millis(430), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn delay_holds_the_head() {
    let s = server().await;
    let t = Instant::now();
    let r = get(s.addr(), "/delay/300").await;
    assert_eq!(r.status, StatusCode::OK);
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn stall_reads_the_request_and_never_answers() {
    let s = server().await;
    let r = raw(s.addr(), &get_close("/stall"), Duration::from_secs(1)).await;
    assert_eq!(r.end, End::Silent);
    assert!(r.head.is_empty() && r.body.is_empty());
    assert_eq!(s.hits("stall"), 1, "the request was read and routed");
}

#[tokio::test]
async fn drip_sends_at_the_given_rate() {
    let s = server().await;
    let t = Instant::now();
    let r = get(s.addr(), "/drip/200?bps=400").await;
    let took = t.elapsed();
    assert_eq!(r.body.len(), 200);
    assert_eq!(r.header("content-length"), Some("200"));
    // 200 bytes at 400 B/s: about half a second.
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[tokio::test]
async fn status_answers_with_code_and_retry_after() {
    let s = server().await;
    let r = get(s.addr(), "/status/503?retry_after=7").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.header("retry-after"), Some("7"));
    let r = get(s.addr(), "/status/418").await;
    assert_eq!(r.status.as_u16(), 418);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(
        get(s.addr(), "/status/99").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(s.addr(), "/status/abc").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn flaky_fails_exactly_k_times_per_key() {
    let s = server().await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let req = request("POST", "/flaky/a?fail=3&status=429&retry_after=2")
            .header("idempotency-key", format!("k{i}"))
            .body(Full::default())
            .unwrap();
        let r = send(s.addr(), req).await.unwrap();
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.header("retry-after"), Some("2"));
        } else {
            assert_eq!(r.header("retry-after"), None);
        }
        statuses.push(r.status.as_u16());
    }
    assert_eq!(statuses, [429, 429, 429, 200, 200]);
    // Another key has its own count; the default is one failure with 503.
    assert_eq!(
        get(s.addr(), "/flaky/b").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(get(s.addr(), "/flaky/b").await.status, StatusCode::OK);

    let calls = s.flaky_calls("a");
    assert_eq!(calls.len(), 5);
    assert!(calls.iter().all(|c| c.method == "POST"));
    assert_eq!(calls[4].idempotency_key.as_deref(), Some("k4"));
    assert_eq!(s.flaky_calls("b")[0].idempotency_key, None);

    let stats = get(s.addr(), "/_stats").await.json();
    assert_eq!(stats["flaky"]["a"].as_array().unwrap().len(), 5);
    assert_eq!(stats["hits"]["flaky"], 7);
}

#[tokio::test]
async fn reset_sends_n_bytes_then_rst() {
    let s = server().await;
    let r = raw(s.addr(), &get_close("/reset/5000"), BOUND).await;
    assert_eq!(r.end, End::Reset);
    assert_eq!(r.body.len(), 5000);
    assert_eq!(&r.body[..], &pattern(0, 5000)[..]);
    assert_eq!(
        r.header("content-length").as_deref(),
        Some(&*(5000 + (1 << 20)).to_string())
    );
}

#[tokio::test]
async fn truncate_promises_more_and_closes_cleanly() {
    let s = server().await;
    let r = raw(s.addr(), &get_close("/truncate/1000?total=4000"), BOUND).await;
    assert_eq!(r.end, End::Eof);
    assert_eq!(r.body.len(), 1000);
    assert_eq!(r.header("content-length").as_deref(), Some("4000"));
}

#[tokio::test]
async fn file_serves_ranges_with_validators() {
    let s = server().await;
    let full = get(s.addr(), "/file/1000").await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(&full.body[..], &pattern(0, 1000)[..]);
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").unwrap().to_string();
    let last_modified = full.header("last-modified").unwrap().to_string();

    let range = |r: &'static str| request("GET", "/file/1000").header("range", r);
    let part = send(
        s.addr(),
        range("bytes=100-199").body(Full::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(part.header("content-range"), Some("bytes 100-199/1000"));
    assert_eq!(&part.body[..], &pattern(100, 100)[..]);

    let tail = send(s.addr(), range("bytes=-10").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(tail.header("content-range"), Some("bytes 990-999/1000"));
    assert_eq!(&tail.body[..], &pattern(990, 10)[..]);

    let open = send(s.addr(), range("bytes=900-").body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(open.body.len(), 100);

    let past = send(
        s.addr(),
        range("bytes=1000-").body(Full::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(past.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.header("content-range"), Some("bytes */1000"));

    // If-Range: the current ETag or date keeps the range; anything else gets the whole file.
    for validator in [etag.as_str(), last_modified.as_str()] {
        let req = range("bytes=500-").header("if-range", validator);
        let r = send(s.addr(), req.body(Full::default()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status, StatusCode::PARTIAL_CONTENT, "{validator}");
    }
    let req = range("bytes=500-").header("if-range", "\"stale\"");
    let r = send(s.addr(), req.body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.len(), 1000);

    // A new version of the file has a new ETag.
    let v2 = get(s.addr(), "/file/1000?version=2").await;
    assert_ne!(v2.header("etag"), Some(etag.as_str()));

    let head = send(
        s.addr(),
        request("HEAD", "/file/1000").body(Full::default()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(head.header("content-length"), Some("1000"));
    assert!(head.body.is_empty());
}

#[tokio::test]
async fn file_can_reset_mid_body_for_resume_tests() {
    let s = server().await;
    let req =
        "GET /file/100000?reset_after=30000 HTTP/1.1\r\nhost: x\r\nrange: bytes=10000-\r\n\r\n";
    let r = raw(s.addr(), req, BOUND).await;
    assert_eq!(r.end, End::Reset);
    assert!(r.head.starts_with("HTTP/1.1 206"));
    assert_eq!(&r.body[..], &pattern(10_000, 30_000)[..]);
}

#[tokio::test]
async fn gzip_bomb_decodes_to_n_bytes() {
    let s = server().await;
    let n = 20 << 20;
    let r = get(s.addr(), &format!("/gzip-bomb/{n}")).await;
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.body.len() < n / 100, "compressed size {}", r.body.len());
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(&r.body[..])
        .read_to_end(&mut decoded)
        .expect("valid gzip");
    assert_eq!(decoded.len(), n);
    assert!(decoded.iter().all(|b| *b == 0));
}

#[tokio::test]
async fn redirects_count_down_and_point_anywhere() {
    let s = server().await;
    let r = get(s.addr(), "/redirect/2").await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.header("location"), Some("/redirect/1"));
    let r = get(s.addr(), "/redirect/1?status=307").await;
    assert_eq!(r.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(r.header("location"), Some("/redirect/0?status=307"));
    assert_eq!(get(s.addr(), "/redirect/0").await.status, StatusCode::OK);

    let r = get(
        s.addr(),
        "/redirect-to?url=http%3A%2F%2F127.0.0.2%3A9%2Fx&status=301",
    )
    .await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(r.header("location"), Some("http://127.0.0.2:9/x"));
    assert_eq!(
        get(s.addr(), "/redirect-to?url=/a&status=200").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(s.addr(), "/redirect-to").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn headers_and_echo_reflect_the_request() {
    let s = server().await;
    let req = request("GET", "/headers")
        .header("x-token", "abc")
        .body(Full::default())
        .unwrap();
    let r = send(s.addr(), req).await.unwrap().json();
    assert_eq!(r["headers"]["x-token"], "abc");

    let req = request("PUT", "/echo?x=1")
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(b"hello")))
        .unwrap();
    let r = send(s.addr(), req).await.unwrap().json();
    assert_eq!(r["method"], "PUT");
    assert_eq!(r["uri"], "/echo?x=1");
    assert_eq!(r["body"], "hello");
    assert_eq!(r["body_len"], 5);
    assert_eq!(r["headers"]["content-type"], "text/plain");

    let req = request("POST", "/echo?raw=1")
        .header("content-type", "application/x-test")
        .body(Full::new(Bytes::from_static(b"\x00\x01raw")))
        .unwrap();
    let r = send(s.addr(), req).await.unwrap();
    assert_eq!(&r.body[..], b"\x00\x01raw");
    assert_eq!(r.header("content-type"), Some("application/x-test"));
}

#[tokio::test]
async fn keepalive_timeout_announces_and_closes_idle_connections() {
    let s = server().await;
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    tcp.write_all(b"GET /keepalive-timeout/1 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let t = Instant::now();
    let r = raw_read(&mut tcp, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(r.head.starts_with("HTTP/1.1 200"));
    assert_eq!(r.header("keep-alive").as_deref(), Some("timeout=1"));
    assert_eq!(r.end, End::Eof, "the idle connection was closed");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn slow_read_backs_up_the_writer() {
    let s = server().await;
    let body_len = 64usize << 20;
    let mut tcp = TcpStream::connect(s.addr()).await.unwrap();
    let head = format!(
        "POST /slow-read?bps=1024 HTTP/1.1\r\nhost: x\r\ncontent-length: {body_len}\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![7u8; 1 << 20];
    let mut written = 0usize;
    let stalled = tokio::time::timeout(Duration::from_secs(2), async {
        while written < body_len {
            tcp.write_all(&chunk).await.unwrap();
            written += chunk.len();
        }
    })
    .await
    .is_err();
    assert!(
        stalled,
        "the whole {body_len}-byte body was written: nothing backed up"
    );
    assert!(written < body_len / 2, "{written} bytes written");
}

#[tokio::test]
async fn h2c_prior_knowledge_on_the_same_port() {
    let s = server().await;
    let r = h2c_get(s.addr(), "/bytes/1234").await;
    assert_eq!(r.version, Version::HTTP_2);
    assert_eq!(&r.body[..], &pattern(0, 1234)[..]);
    let r = get(s.addr(), "/bytes/1").await;
    assert_eq!(r.version, Version::HTTP_11);
}

#[tokio::test]
async fn bad_input_gets_400_or_404_never_a_hang() {
    let s = server().await;
    for path in [
        "/bytes/-1",
        "/bytes/x",
        "/drip/10?bps=0",
        "/file/10?reset_after=z",
        "/delay/soon",
    ] {
        assert_eq!(
            get(s.addr(), path).await.status,
            StatusCode::BAD_REQUEST,
            "{path}"
        );
    }
    for path in ["/", "/nope", "/bytes", "/ws/unknown"] {
        assert_eq!(
            get(s.addr(), path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    assert_eq!(s.hits("not-found"), 3);
    let r = raw(s.addr(), "GARBAGE\r\n\r\n", Duration::from_secs(5)).await;
    assert!(
        r.head.starts_with("HTTP/1.1 400") || r.end == End::Eof,
        "{:?}",
        r.head
    );
}

#[tokio::test]
async fn connection_counters_and_shutdown() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let addr = s.addr();
    let mut held = TcpStream::connect(addr).await.unwrap();
    held.write_all(b"GET /bytes/1 HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let _ = raw_read(&mut held, Duration::from_millis(300)).await;
    let _ = get(addr, "/bytes/1").await;
    assert_eq!(s.connections_accepted(), 2);
    // The second connection closes as its client goes away; the held one stays open.
    wait_until(|| s.connections_open() == 1).await;
    let t = Instant::now();
    s.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3));
    let r = raw_read(&mut held, Duration::from_secs(3)).await;
    assert_ne!(r.end, End::Silent, "shutdown closed the idle connection");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is gone"
    );
}

#[tokio::test]
async fn raw_server_plays_its_script() {
    let junk = RawServer::reply(&b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\nhi"[..])
        .await
        .unwrap();
    let r = raw(junk.addr(), &get_close("/"), BOUND).await;
    assert!(r.head.contains("Content-Length: nope"));
    assert_eq!(r.end, End::Eof);

    let script = vec![
        RawStep::write(&b"HTTP/1.1 200 OK\r\n"[..]),
        RawStep::Sleep(Duration::from_millis(200)),
        RawStep::Reset,
    ];
    let rst = RawServer::start(script).await.unwrap();
    let t = Instant::now();
    let r = raw(rst.addr(), &get_close("/"), BOUND).await;
    assert_eq!(r.end, End::Reset);
    assert!(t.elapsed() >= Duration::from_millis(190));
    assert_eq!(rst.connections(), 1);
}

#[tokio::test]
async fn blackhole_connects_never_complete() {
    let hole = tenax_chaos::Blackhole::start().await.unwrap();
    let t = Instant::now();
    let res = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(hole.addr())).await;
    assert!(res.is_err(), "connect completed: {res:?}");
    assert!(t.elapsed() >= Duration::from_millis(990));
}

//! The HTTP core against tenax-chaos: phase timeouts, pool limits, reuse, idle reaping, close,
//! and malformed responses. Real sockets on 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{server, wait_until};
use tenax::{Client, TimeoutPhase, Timeouts, retry};
use tenax_chaos::{Blackhole, RawServer, RawStep, pattern};

/// Every phase limited to 1 s: each fault must trip its own phase and no other.
fn one_second() -> Timeouts {
    let mut t = Timeouts::default();
    t.connect = Some(Duration::from_secs(1));
    t.write = Some(Duration::from_secs(1));
    t.read = Some(Duration::from_secs(1));
    t.pool = Some(Duration::from_secs(1));
    t
}

/// One attempt per request: these tests look at single faults, not at retries.
fn client() -> Client {
    Client::builder()
        .timeouts(one_second())
        .retry(retry::Policy::none())
        .build()
        .unwrap()
}

/// A 1 s timeout fires between 0.9 s and 2.5 s, even on a loaded 2-core machine.
fn assert_about_1s(took: Duration) {
    assert!(
        took >= Duration::from_millis(900) && took <= Duration::from_millis(2500),
        "took {took:?}"
    );
}

#[tokio::test]
async fn get_reads_the_body_and_reuses_the_connection() {
    let s = server();
    let c = client();
    let r = c.get(s.url("/bytes/13")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), tenax::Version::HTTP_11);
    assert!(!r.reused());
    assert_eq!(r.remote_addr(), s.addr());
    assert!(r.timings().connect.is_some());
    assert_eq!(r.timings().dns, None, "an IP literal skips DNS");
    assert_eq!(&r.bytes().await.unwrap()[..], &pattern(0, 13)[..]);

    let mut r = c.get(s.url("/bytes/100000")).send().await.unwrap();
    assert!(r.reused());
    assert_eq!(r.timings().connect, None);
    let body = r.read_all().await.unwrap();
    assert_eq!(&body[..], &pattern(0, 100_000)[..]);
    let t = r.timings();
    assert!(t.total.unwrap() >= t.ttfb);
    assert!(t.body.is_some());
    assert_eq!(s.connections_accepted(), 1);
}

#[tokio::test]
async fn connect_timeout_fires_on_a_black_hole_and_names_its_phase() {
    let hole = Blackhole::start().await.unwrap();
    let t = Instant::now();
    let e = client().get(hole.url("/")).send().await.unwrap_err();
    assert_about_1s(t.elapsed());
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Connect), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("connect timed out after 1s"), "{msg}");
    assert!(msg.contains(&hole.addr().to_string()), "{msg}");
}

#[tokio::test]
async fn read_timeout_fires_on_a_stalled_server() {
    let s = server();
    let t = Instant::now();
    let e = client().get(s.url("/stall")).send().await.unwrap_err();
    assert_about_1s(t.elapsed());
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read), "{e}");
    assert!(
        e.to_string().contains("waiting for the response head"),
        "{e}"
    );
    assert!(e.url().unwrap().ends_with("/stall"));
}

/// The read timeout's timer belongs to the connection and is reset for each request: after
/// many prompt answers it still fires, on time, for the one that stalls.
#[tokio::test]
async fn read_timeout_fires_on_a_reused_connection_after_prompt_answers() {
    let s = server();
    let c = client();
    for _ in 0..50 {
        let r = c.get(s.url("/bytes/1")).send().await.unwrap();
        assert_eq!(r.bytes().await.unwrap().len(), 1);
    }
    let t = Instant::now();
    let stalled = tokio::time::timeout(Duration::from_secs(10), c.get(s.url("/stall")).send());
    let e = stalled.await.expect("the timer fired").unwrap_err();
    assert_about_1s(t.elapsed());
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read), "{e}");
    assert_eq!(
        s.connections_accepted(),
        1,
        "the stalled request reused the connection"
    );
    // And the next prompt answer on a new connection is not cut short by the old timer.
    let r = c.get(s.url("/delay/300")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn read_timeout_also_bounds_each_body_chunk() {
    let s = server();
    let mut r = client()
        .get(s.url("/stream/1000?chunk=100&delay_ms=3000"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.chunk().await.unwrap().unwrap().len(), 100);
    let t = Instant::now();
    let e = r.chunk().await.unwrap_err();
    assert_about_1s(t.elapsed());
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read), "{e}");
}

#[tokio::test]
async fn write_timeout_fires_when_the_server_stops_reading() {
    let s = server();
    let body = vec![0u8; 64 << 20];
    let t = Instant::now();
    let e = client()
        .post(s.url("/slow-read?bps=1024"))
        .body(body)
        .send()
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Write), "{e}");
    // The socket buffers fill first; then the 1 s stall.
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

#[tokio::test]
async fn pool_timeout_fires_when_the_only_connection_is_busy() {
    let s = server();
    let c = Client::builder()
        .timeouts(one_second())
        .read_timeout(Duration::from_secs(10))
        .max_connections(1)
        .build()
        .unwrap();
    let busy = {
        let (c, url) = (c.clone(), s.url("/delay/3000"));
        tokio::spawn(async move { c.get(url).send().await.unwrap().bytes().await.unwrap() })
    };
    wait_until("the slow request holds the connection", || {
        s.hits("delay") == 1
    })
    .await;
    let t = Instant::now();
    let e = c.get(s.url("/bytes/1")).send().await.unwrap_err();
    assert_about_1s(t.elapsed());
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Pool), "{e}");
    busy.await.unwrap();
    // Once the connection is free again, it serves the next request.
    let r = c.get(s.url("/bytes/1")).send().await.unwrap();
    assert!(r.reused());
}

#[tokio::test]
async fn per_request_timeouts_override_the_client() {
    let s = server();
    let c = Client::builder()
        .read_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .get(s.url("/stall"))
        .read_timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read));
    assert_eq!(e.limit(), Some(Duration::from_millis(300)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_never_open_more_than_the_limit() {
    let s = server();
    let c = Client::builder().max_connections(8).build().unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..50 {
        let (c, next, url) = (c.clone(), next.clone(), s.url("/bytes/100"));
        workers.push(tokio::spawn(async move {
            let mut ok = 0;
            while next.fetch_add(1, Ordering::Relaxed) < 1000 {
                let body = c.get(&url).send().await.unwrap().bytes().await.unwrap();
                assert_eq!(body.len(), 100);
                ok += 1;
            }
            ok
        }));
    }
    let mut ok = 0;
    for w in workers {
        ok += w.await.unwrap();
    }
    assert_eq!(ok, 1000);
    assert!(
        s.connections_accepted() <= 8,
        "{} connections",
        s.connections_accepted()
    );
    assert!(c.open_connections() <= 8);
}

#[tokio::test]
async fn idle_connections_are_reaped_by_a_timer() {
    let s = server();
    let c = Client::builder()
        .idle_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    c.get(s.url("/bytes/1"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(c.open_connections(), 1);
    wait_until("the idle connection is closed", || {
        s.connections_open() == 0
    })
    .await;
    assert!(
        t.elapsed() >= Duration::from_millis(280),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(c.open_connections(), 0);
}

#[tokio::test]
async fn close_leaves_no_socket_open() {
    let s = server();
    let c = client();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (c, url) = (c.clone(), s.url(&format!("/delay/{}", i * 10)));
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await?.bytes().await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(s.connections_open() > 0);
    c.close().await;
    assert_eq!(c.open_connections(), 0);
    // Our sockets are closed: the server sees EOF on each and closes its end. (Counting the
    // server's sockets, not the process's descriptors: other tests share this process.)
    wait_until("every socket is closed", || s.connections_open() == 0).await;
    let e = c.get(s.url("/bytes/1")).send().await.unwrap_err();
    assert!(e.is_closed(), "{e}");
}

#[tokio::test]
async fn close_waits_for_requests_in_flight() {
    let s = server();
    let c = client();
    let slow = {
        let (c, url) = (c.clone(), s.url("/delay/500"));
        tokio::spawn(async move { c.get(url).send().await?.bytes().await })
    };
    wait_until("the request is in flight", || s.hits("delay") == 1).await;
    c.close().await;
    assert!(
        slow.await.unwrap().is_ok(),
        "the in-flight request finished"
    );
    assert_eq!(c.open_connections(), 0);
}

#[tokio::test]
async fn a_response_dropped_mid_body_does_not_return_its_connection() {
    let s = server();
    let c = client();
    let mut r = c
        .get(s.url("/stream/100000?chunk=1000&delay_ms=5"))
        .send()
        .await
        .unwrap();
    assert!(r.chunk().await.unwrap().is_some());
    drop(r);
    let r = c.get(s.url("/bytes/1")).send().await.unwrap();
    assert!(!r.reused());
    assert_eq!(s.connections_accepted(), 2);
}

#[tokio::test]
async fn malformed_and_broken_responses_are_typed_errors() {
    let garbage = RawServer::reply(&b"HTTP/1.1 abc nonsense\r\n\r\n"[..])
        .await
        .unwrap();
    let e = client().get(garbage.url("/")).send().await.unwrap_err();
    assert!(e.is_protocol(), "{e}");

    let bad_len = RawServer::reply(&b"HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\nhi"[..])
        .await
        .unwrap();
    let e = client().get(bad_len.url("/")).send().await.unwrap_err();
    assert!(e.is_protocol(), "{e}");

    let silent = RawServer::start(vec![RawStep::Close]).await.unwrap();
    let e = client().get(silent.url("/")).send().await.unwrap_err();
    assert!(e.is_empty_reply(), "{e}");

    let s = server();
    let r = client().get(s.url("/reset/5000")).send().await.unwrap();
    let e = r.bytes().await.unwrap_err();
    assert!(e.is_recv(), "{e}");
    let r = client().get(s.url("/truncate/5000")).send().await.unwrap();
    let e = r.bytes().await.unwrap_err();
    assert!(e.is_recv(), "{e}");
}

#[tokio::test]
async fn refused_connections_and_bad_input_are_typed_errors() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect(), "{e}");

    let c = client();
    for url in ["not a url", "ftp://127.0.0.1/", "127.0.0.1:80/x"] {
        assert!(c.get(url).send().await.unwrap_err().is_builder(), "{url}");
    }
    let e = c
        .get("http://127.0.0.1:9/")
        .header("x-evil", "a\r\nb: c")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
    let e = c
        .get("http://127.0.0.1:9/")
        .header("bad name", "x")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
}

#[tokio::test]
async fn status_errors_headers_query_and_bodies() {
    let s = server();
    let c = client();
    let r = c.get(s.url("/status/503")).send().await.unwrap();
    let e = r.error_for_status().unwrap_err();
    assert!(e.is_status());
    assert_eq!(e.status(), Some(tenax::StatusCode::SERVICE_UNAVAILABLE));
    assert!(
        c.get(s.url("/status/204"))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .is_ok()
    );

    let echo: serde_json::Value = c
        .put(s.url("/echo"))
        .query(&[("q", "a b&c")])
        .header("x-token", "t1")
        .json(&serde_json::json!({"k": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["method"], "PUT");
    assert_eq!(echo["uri"], "/echo?q=a+b%26c");
    assert_eq!(echo["headers"]["x-token"], "t1");
    assert_eq!(echo["headers"]["content-type"], "application/json");
    assert_eq!(
        echo["headers"]["user-agent"],
        format!("tenax/{}", tenax::VERSION)
    );
    assert_eq!(echo["body"], r#"{"k":1}"#);

    let r = c.head(s.url("/file/1000")).send().await.unwrap();
    assert_eq!(r.content_length(), Some(1000));
    assert!(r.bytes().await.unwrap().is_empty());
    // The HEAD response's connection went straight back to the pool.
    assert!(c.get(s.url("/bytes/1")).send().await.unwrap().reused());
}

#[tokio::test]
async fn localhost_goes_through_the_resolver() {
    let s = server();
    let url = format!("http://localhost:{}/bytes/5", s.addr().port());
    let r = client().get(url).send().await.unwrap();
    assert!(r.timings().dns.is_some());
    assert_eq!(r.bytes().await.unwrap().len(), 5);
}

#[tokio::test]
async fn a_host_at_its_limit_does_not_hold_up_other_hosts() {
    let s = server();
    let c = Client::builder()
        .timeouts(one_second())
        .read_timeout(Duration::from_secs(5))
        .pool_timeout(Duration::from_secs(5))
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let a = s.url("/delay/1500");
    let first = tokio::spawn({
        let (c, a) = (c.clone(), a.clone());
        async move { c.get(a).send().await.unwrap().bytes().await.unwrap() }
    });
    wait_until("the first request holds host A's only connection", || {
        s.hits("delay") == 1
    })
    .await;
    // A second request to host A waits in the queue...
    let second = tokio::spawn({
        let c = c.clone();
        async move { c.get(a).send().await.unwrap().bytes().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // ...while host B (the same server, by another name) is served at once.
    let b = format!("http://localhost:{}/bytes/1", s.addr().port());
    let t = Instant::now();
    c.get(b).send().await.unwrap().bytes().await.unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    first.await.unwrap();
    second.await.unwrap();
}

#[tokio::test]
async fn a_small_rest_of_a_dropped_body_is_drained_and_the_connection_kept() {
    let s = server();
    let c = client();
    // 2000 bytes, announced, sent 200 at a time every 10 ms.
    let mut r = c.get(s.url("/drip/2000?bps=20000")).send().await.unwrap();
    assert!(r.chunk().await.unwrap().is_some());
    drop(r);
    wait_until("the rest is read in the background", || {
        c.idle_connections() == 1
    })
    .await;
    let r = c.get(s.url("/bytes/1")).send().await.unwrap();
    assert!(r.reused());
    assert_eq!(s.connections_accepted(), 1);
}

#[tokio::test]
async fn an_oversized_response_head_is_a_protocol_error() {
    // Too many header lines, then a head larger than any sane limit: both refused, no hang.
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..500 {
        many.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"content-length: 0\r\n\r\n");
    let raw = RawServer::reply(many).await.unwrap();
    let e = client().get(raw.url("/")).send().await.unwrap_err();
    assert!(e.is_protocol(), "{e}");

    let mut huge = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 2 << 20));
    huge.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
    let raw = RawServer::reply(huge).await.unwrap();
    let t = Instant::now();
    let e = client().get(raw.url("/")).send().await.unwrap_err();
    assert!(e.is_protocol() || e.is_recv(), "{e}");
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn no_task_of_the_client_outlives_close() {
    // Regression: the idle reaper slept until the next idle timeout (90 s) after close.
    let s = server();
    let before = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let c = Client::new();
    c.get(s.url("/bytes/10"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
            > before
    );
    // Let the reaper run once and go to sleep until the connection's idle timeout.
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.close().await;
    let t = Instant::now();
    while tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
        > before
    {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "a task outlived close"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_burst_above_the_idle_cap_reuses_its_connections() {
    // Regression (found by the batch bench): connections coming back over max_idle_per_host
    // were closed at once, and the burst's next requests opened new ones (4x the CPU).
    let s = server();
    let c = Client::builder().max_idle_per_host(4).build().unwrap();
    let burst = || {
        let reqs = (0..40).map(|_| c.get(s.url("/delay/50")));
        c.batch_with(reqs, |r| async move { r.send().await?.bytes().await })
            .concurrency(40)
    };
    use futures_util::StreamExt;
    let mut first = burst();
    while let Some((_, r)) = first.next().await {
        r.unwrap();
    }
    let opened = s.connections_accepted();
    assert_eq!(opened, 40);
    let mut second = burst();
    while let Some((_, r)) = second.next().await {
        r.unwrap();
    }
    assert_eq!(
        s.connections_accepted(),
        opened,
        "the second burst reused the first's"
    );
    // Past the grace, only the cap stays.
    wait_until("idle connections fall back to the cap", || {
        c.idle_connections() <= 4
    })
    .await;
}

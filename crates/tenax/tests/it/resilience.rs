//! Retries, budgets, Retry-After and deadlines against tenax-chaos.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::server;
use bytes::Bytes;
use tenax::{Body, Client, TimeoutPhase, retry};

/// Retries with short waits, so the tests are quick.
fn fast() -> retry::Policy {
    retry::Policy::default()
        .backoff(Duration::from_millis(5), Duration::from_millis(50))
        .throttle_base(Duration::from_millis(10))
}

fn client(policy: retry::Policy) -> Client {
    Client::builder().retry(policy).build().unwrap()
}

#[tokio::test]
async fn a_flaky_get_succeeds_on_the_third_attempt() {
    let s = server();
    let r = client(fast())
        .get(s.url("/flaky/a?fail=2&status=503"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.attempts(), 3);
    let retries = r.retries();
    assert_eq!(retries.len(), 2);
    assert_eq!(
        retries[0].reason,
        tenax::retry::Reason::Status(tenax::StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(retries[0].reason.to_string(), "status 503");
    assert!(retries.iter().all(|r| r.delay <= Duration::from_millis(50)));
    assert_eq!(s.flaky_calls("a").len(), 3);
}

#[tokio::test]
async fn three_failures_return_the_last_response() {
    let s = server();
    let r = client(fast())
        .get(s.url("/flaky/z?fail=5&status=502"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 502);
    assert_eq!(r.attempts(), 3);
    assert_eq!(s.flaky_calls("z").len(), 3);
}

#[tokio::test]
async fn a_post_is_attempted_once() {
    let s = server();
    let r = client(fast())
        .post(s.url("/flaky/b?fail=1"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.attempts(), 1);
    assert_eq!(s.flaky_calls("b").len(), 1);
}

#[tokio::test]
async fn a_post_with_an_idempotency_key_is_retried_with_the_same_key() {
    let s = server();
    let r = client(fast())
        .post(s.url("/flaky/c?fail=2"))
        .header("idempotency-key", "order-17")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let calls = s.flaky_calls("c");
    assert_eq!(calls.len(), 3);
    assert!(
        calls
            .iter()
            .all(|c| c.method == "POST" && c.idempotency_key.as_deref() == Some("order-17"))
    );

    // Or one generated per request, kept across its attempts.
    let r = client(fast().idempotency_keys(true))
        .post(s.url("/flaky/d?fail=1"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let calls = s.flaky_calls("d");
    assert_eq!(calls.len(), 2);
    let key = calls[0].idempotency_key.clone().expect("a generated key");
    assert_eq!(calls[1].idempotency_key.as_deref(), Some(key.as_str()));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let s = server();
    let t = Instant::now();
    let r = client(fast())
        .get(s.url("/flaky/e?fail=1&status=503&retry_after=1"))
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    assert_eq!(r.status(), 200);
    assert_eq!(r.retries()[0].delay, Duration::from_secs(1));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_fails_at_once() {
    let s = server();
    let t = Instant::now();
    let e = client(fast())
        .get(s.url("/status/503?retry_after=10"))
        .deadline(Duration::from_secs(2))
        .send()
        .await
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_millis(500),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Deadline));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(10)));
    assert_eq!(e.attempts(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_caps_retry_amplification() {
    let s = server();
    let mut budget = retry::Budget::default();
    budget.min_per_sec = 1.0;
    let c = client(fast().budget(Some(budget)));
    let n = 200;
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, next, url) = (c.clone(), next.clone(), s.url("/status/503"));
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let r = c.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 503);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let attempts = s.hits("status") as usize;
    // Without a budget: 3 × 200 = 600. With it: 200 + 20 % + a floor of 10.
    assert!(
        attempts <= n + n / 5 + 10 + 5,
        "{attempts} attempts for {n} requests"
    );
    assert!(attempts > n, "some retries were allowed");
}

#[tokio::test]
async fn a_deadline_ends_a_slow_request_on_time() {
    let s = server();
    let t = Instant::now();
    let e = client(fast())
        .get(s.url("/delay/5000"))
        .deadline(Duration::from_secs(1))
        .send()
        .await
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Deadline), "{e}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_scope_bounds_several_requests_and_nests() {
    let s = server();
    let c = client(fast());
    let t = Instant::now();
    let res = tenax::deadline::scope(Duration::from_secs(1), async {
        // A nested, longer scope cannot extend the outer one.
        tenax::deadline::scope(Duration::from_secs(2), async {
            for _ in 0..3 {
                c.get(s.url("/delay/600")).send().await?.bytes().await?;
            }
            Ok::<_, tenax::Error>(())
        })
        .await
    })
    .await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "{took:?}"
    );
    let e = match res {
        Ok(Ok(Err(e))) | Ok(Err(e)) | Err(e) => e,
        Ok(Ok(Ok(()))) => panic!("three 600 ms requests finished within 1 s"),
    };
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Deadline), "{e}");
}

#[tokio::test]
async fn connect_errors_are_retried_then_reported_as_exhausted() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = client(fast())
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_connect());
    assert_eq!(e.attempts(), 3);
    assert!(e.is_retry_exhausted());
    // Bad input is not retried.
    let e = client(fast())
        .get("http://127.0.0.1:1/")
        .header("bad name", "x")
        .send()
        .await
        .unwrap_err();
    assert!(e.is_builder());
    assert_eq!(e.attempts(), 1);
}

#[tokio::test]
async fn small_streaming_bodies_are_replayed_and_large_ones_are_not() {
    let s = server();
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"hello ")),
        Ok(Bytes::from_static(b"world")),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let r = client(fast())
        .put(s.url("/flaky/f?fail=1"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.flaky_calls("f").len(), 2);

    let big: Vec<Result<Bytes, std::io::Error>> = (0..10)
        .map(|_| Ok(Bytes::from(vec![0u8; 16 << 10])))
        .collect();
    let body = Body::from_stream(futures_util::stream::iter(big));
    let r = client(fast())
        .put(s.url("/flaky/g?fail=1"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503, "a 160 KiB stream is not replayed");
    assert_eq!(s.flaky_calls("g").len(), 1);
}

#[tokio::test]
async fn a_classifier_can_widen_the_rule() {
    let s = server();
    let policy = fast().classify(|status, _| status.map(|s| s.as_u16() == 500).filter(|&b| b));
    let r = client(policy)
        .get(s.url("/flaky/h?fail=1&status=500"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.attempts(), 2);
}

#[tokio::test]
async fn the_remaining_time_can_be_sent_to_the_server() {
    let s = server();
    let c = Client::builder()
        .deadline_header(tenax::header::HeaderName::from_static("x-deadline-ms"))
        .build()
        .unwrap();
    let echo: serde_json::Value = c
        .get(s.url("/headers"))
        .deadline(Duration::from_secs(5))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ms: u64 = echo["headers"]["x-deadline-ms"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((4000..=5000).contains(&ms), "{ms}");
    // Without a deadline, no header.
    let echo: serde_json::Value = c
        .get(s.url("/headers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(echo["headers"].get("x-deadline-ms").is_none());
}

#[tokio::test]
async fn a_correlation_id_is_the_same_on_every_attempt() {
    let s = server();
    let client = Client::builder()
        .retry(fast())
        .correlation_id(true)
        .build()
        .unwrap();
    let r = client
        .get(s.url("/flaky/corr?fail=2&status=503"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.attempts(), 3);
    let calls = s.flaky_calls("corr");
    let id = calls[0].request_id.clone().expect("an id was sent");
    assert_eq!(id.len(), 32);
    assert!(
        calls
            .iter()
            .all(|c| c.request_id.as_deref() == Some(id.as_str()))
    );
    // The caller's own id is kept; another request gets another id.
    client
        .get(s.url("/flaky/own?fail=0"))
        .header("x-request-id", "mine")
        .send()
        .await
        .unwrap();
    assert_eq!(s.flaky_calls("own")[0].request_id.as_deref(), Some("mine"));
    client
        .get(s.url("/flaky/next?fail=0"))
        .send()
        .await
        .unwrap();
    assert_ne!(s.flaky_calls("next")[0].request_id, Some(id));
    // Off by default.
    Client::new()
        .get(s.url("/flaky/none?fail=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(s.flaky_calls("none")[0].request_id, None);
}

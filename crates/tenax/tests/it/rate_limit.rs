//! Per-host rate limits.

use std::time::{Duration, Instant};

use crate::support::{bounded, server};
use tenax::{Client, RateLimit, TimeoutPhase, retry};

#[tokio::test]
async fn requests_past_the_burst_wait_for_their_tokens() {
    bounded(async {
        let s = server();
        let c = Client::builder()
            .rate_limit(RateLimit::per_host(20.0, 2))
            .build()
            .unwrap();
        let started = Instant::now();
        for _ in 0..8 {
            c.get(s.url("/bytes/1")).send().await.unwrap();
        }
        // Two at once, then one every 50 ms: six waits.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(280), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn a_token_beyond_the_deadline_fails_at_once() {
    bounded(async {
        let s = server();
        let c = Client::builder()
            .rate_limit(RateLimit::per_host(1.0, 1))
            .build()
            .unwrap();
        c.get(s.url("/bytes/1")).send().await.unwrap();
        let started = Instant::now();
        let e = (c.get(s.url("/bytes/1")))
            .deadline(Duration::from_millis(300))
            .send()
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(200));
        assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Deadline));
        assert!(e.to_string().contains("rate limit"), "{e}");
        assert_eq!(s.hits("bytes"), 1);
    })
    .await;
}

#[tokio::test]
async fn a_429_with_retry_after_pauses_the_host() {
    bounded(async {
        let s = server();
        let c = Client::builder()
            .rate_limit(RateLimit::per_host(100.0, 10))
            .retry(retry::Policy::none())
            .build()
            .unwrap();
        let r = c
            .get(s.url("/status/429?retry_after=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let started = Instant::now();
        c.get(s.url("/bytes/1")).send().await.unwrap();
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_millis(2500), "{took:?}");
    })
    .await;
}

#[tokio::test]
async fn a_hosts_own_limit_leaves_the_others_alone() {
    bounded(async {
        let s = server();
        let c = Client::builder()
            .rate_limit(RateLimit::host("localhost", 1.0, 1))
            .build()
            .unwrap();
        let started = Instant::now();
        for _ in 0..10 {
            c.get(s.url("/bytes/1")).send().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_millis(900));
    })
    .await;
}

#[test]
fn a_rate_that_is_not_positive_is_refused() {
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = Client::builder()
            .rate_limit(RateLimit::per_host(rate, 1))
            .build()
            .unwrap_err();
        assert!(e.is_builder(), "{e}");
    }
}

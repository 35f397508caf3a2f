//! Circuit breakers against a tenax-chaos server that goes down and comes back.

use std::time::{Duration, Instant};

use crate::support::{bounded, server, wait_until};
use tenax::breaker::{CircuitState, Policy};
use tenax::events::EventKind;
use tenax::{Client, retry};

/// Opens after 5 attempts of which half failed, for `pause` exactly (no jitter).
fn policy(pause: Duration) -> Policy {
    Policy::default()
        .min_throughput(5)
        .failure_ratio(0.5)
        .break_duration(pause)
        .break_jitter(0.0)
}

fn client(policy: Policy) -> Client {
    Client::builder()
        .circuit_breaker(policy)
        .retry(retry::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_host_that_is_down_opens_its_circuit_and_requests_then_fail_at_once() {
    bounded(async {
        let s = server();
        let (hook, mut events) = tenax::events::channel(1024);
        let c = Client::builder()
            .circuit_breaker(policy(Duration::from_secs(30)))
            .retry(retry::Policy::none())
            .on_event(hook)
            .build()
            .unwrap();
        let url = s.url("/bytes/10");
        assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
        s.outage(Duration::from_secs(30)).await;
        let mut refused_after = None;
        for i in 0..20 {
            let e = c.get(&url).send().await.unwrap_err();
            if e.is_circuit_open() {
                refused_after = Some(i);
                break;
            }
            // Refused, or cut on the pooled connection the outage closed.
            assert!(e.is_connect() || e.is_empty_reply() || e.is_recv(), "{e}");
        }
        // One success and four connection failures: 4 of 5 failed.
        assert_eq!(refused_after, Some(4));
        assert_eq!(c.circuit(&url), Some(CircuitState::Open));
        let started = Instant::now();
        for _ in 0..100 {
            let e = c.get(&url).send().await.unwrap_err();
            assert!(e.is_circuit_open(), "{e}");
            let text = e.to_string();
            assert!(text.contains(&s.addr().to_string()), "{text}");
            assert!(text.contains("next probe in"), "{text}");
            assert_eq!(e.attempts(), 0);
        }
        let each = started.elapsed() / 100;
        assert!(
            each < Duration::from_millis(5),
            "{each:?} per refused request"
        );
        let mut kinds = Vec::new();
        while let Some(e) = events.try_recv() {
            match e.kind {
                EventKind::CircuitChanged {
                    state,
                    attempts,
                    failures,
                    ..
                } => kinds.push(format!("{state} {failures}/{attempts}")),
                EventKind::CircuitRejected { .. } => kinds.push("rejected".into()),
                _ => {}
            }
        }
        assert_eq!(kinds[0], "open 4/5");
        assert_eq!(kinds.iter().filter(|k| *k == "rejected").count(), 101);
    })
    .await;
}

#[tokio::test]
async fn traffic_resumes_within_one_break_of_the_hosts_recovery() {
    bounded(async {
        let s = server();
        let pause = Duration::from_millis(500);
        let c = client(policy(pause));
        let url = s.url("/bytes/10");
        s.outage(Duration::from_secs(1)).await;
        let down_at = Instant::now();
        // Requests every 10 ms until one succeeds.
        let mut refused = 0;
        let resumed = loop {
            match c.get(&url).send().await {
                Ok(r) => break (r.status(), Instant::now()),
                Err(e) if e.is_circuit_open() => refused += 1,
                Err(e) => assert!(e.is_connect() || e.is_empty_reply() || e.is_recv(), "{e}"),
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(resumed.0, 200);
        assert!(refused > 10, "the circuit opened: {refused} refused");
        let up_at = down_at + Duration::from_secs(1);
        let late = resumed.1.saturating_duration_since(up_at);
        assert!(late <= pause + Duration::from_millis(400), "{late:?} after");
        assert_eq!(c.circuit(&url), Some(CircuitState::Closed));
    })
    .await;
}

#[tokio::test]
async fn client_errors_never_open_the_circuit_and_server_errors_do() {
    bounded(async {
        let s = server();
        let c = client(policy(Duration::from_secs(30)));
        for _ in 0..50 {
            let r = c.get(s.url("/status/404")).send().await.unwrap();
            assert_eq!(r.status(), 404);
        }
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Closed));
        for _ in 0..50 {
            if let Err(e) = c.get(s.url("/status/500")).send().await {
                assert!(e.is_circuit_open(), "{e}");
                break;
            }
        }
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Open));
        // Another port is another host: its circuit is its own.
        let other = server();
        assert_eq!(
            c.get(other.url("/status/200"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_probe_gives_its_slot_back() {
    bounded(async {
        let s = server();
        let c = client(policy(Duration::from_millis(100)).min_throughput(1));
        assert_eq!(
            c.get(s.url("/status/503")).send().await.unwrap().status(),
            503
        );
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Open));
        wait_until("the break is over", || {
            c.circuit(s.url("/")) == Some(CircuitState::HalfOpen)
        })
        .await;
        // The probe stalls; its caller gives up.
        let stalled =
            tokio::time::timeout(Duration::from_millis(100), c.get(s.url("/stall")).send());
        assert!(stalled.await.is_err());
        // Without the slot back, this would be refused ("a probe is in flight").
        let r = c.get(s.url("/bytes/1")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Closed));
    })
    .await;
}

#[tokio::test]
async fn a_probe_in_flight_refuses_the_others_and_a_failed_probe_opens_again() {
    bounded(async {
        let s = server();
        let c = client(policy(Duration::from_millis(100)).min_throughput(1));
        assert_eq!(
            c.get(s.url("/status/500")).send().await.unwrap().status(),
            500
        );
        wait_until("the break is over", || {
            c.circuit(s.url("/")) == Some(CircuitState::HalfOpen)
        })
        .await;
        let probe = tokio::spawn({
            let (c, url) = (c.clone(), s.url("/delay/300"));
            async move { c.get(url).send().await.map(|r| r.status()) }
        });
        wait_until("the probe reached the server", || s.in_flight() == 1).await;
        let e = c.get(s.url("/bytes/1")).send().await.unwrap_err();
        assert!(
            e.is_circuit_open() && e.to_string().contains("a probe is in flight"),
            "{e}"
        );
        assert_eq!(probe.await.unwrap().unwrap(), 200);
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Closed));
        // Closed again; one failure (min throughput 1) opens it, and the next probe fails.
        assert_eq!(
            c.get(s.url("/status/502")).send().await.unwrap().status(),
            502
        );
        wait_until("the break is over", || {
            c.circuit(s.url("/")) == Some(CircuitState::HalfOpen)
        })
        .await;
        assert_eq!(
            c.get(s.url("/status/503")).send().await.unwrap().status(),
            503
        );
        assert_eq!(c.circuit(s.url("/")), Some(CircuitState::Open));
    })
    .await;
}

#[tokio::test]
async fn a_request_being_retried_stops_when_the_circuit_opens() {
    bounded(async {
        let s = server();
        let c = Client::builder()
            .circuit_breaker(policy(Duration::from_secs(30)).min_throughput(3))
            .retry(
                retry::Policy::default()
                    .max_attempts(10)
                    .backoff(Duration::from_millis(1), Duration::from_millis(5))
                    .budget(None),
            )
            .build()
            .unwrap();
        s.outage(Duration::from_secs(30)).await;
        let e = c.get(s.url("/bytes/1")).send().await.unwrap_err();
        assert!(e.is_circuit_open(), "{e}");
        assert_eq!(e.attempts(), 3, "three connection failures opened it: {e}");
    })
    .await;
}

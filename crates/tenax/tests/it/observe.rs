//! Observability against tenax-chaos: event hooks for every attempt, the bounded channel
//! adapter under a consumer that never reads, pool waits, connections, and `Client::stats`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tenax::events::{Event, EventKind};
use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

use crate::support::bounded;

/// A hook that keeps every event.
fn recorder() -> (
    impl Fn(&Event) + Send + Sync + 'static,
    Arc<Mutex<Vec<Event>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    (move |e: &Event| keep.lock().unwrap().push(e.clone()), seen)
}

#[tokio::test]
async fn hooks_see_every_attempt_of_a_retried_request() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let (hook, seen) = recorder();
    let client = Client::builder()
        .retry(
            retry::Policy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .on_event(hook)
        .build()
        .unwrap();
    let res = bounded(client.get(s.url("/flaky/k?fail=2&status=503")).send())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    drop(res);
    let events = seen.lock().unwrap().clone();
    let id = events[0]
        .request
        .expect("request events carry the request's number");
    assert!(
        matches!(&events[0].kind, EventKind::RequestStart { url, .. } if url.path() == "/flaky/k")
    );
    let heads: Vec<(u32, u16)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ResponseHead {
                attempt, status, ..
            } => Some((*attempt, status.as_u16())),
            _ => None,
        })
        .collect();
    assert_eq!(heads, [(1, 503), (2, 503), (3, 200)]);
    let retries: Vec<(u32, tenax::retry::Reason)> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::RetryScheduled {
                attempt,
                reason,
                delay,
            } => {
                assert!(*delay <= Duration::from_millis(20));
                Some((*attempt, *reason))
            }
            _ => None,
        })
        .collect();
    let status_503 = tenax::retry::Reason::Status(tenax::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retries, [(1, status_503), (2, status_503)]);
    let opened = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ConnectionOpened { .. }))
        .count();
    assert_eq!(opened, 1, "the three attempts share one connection");
    let last = events.iter().rev().find(|e| e.request == Some(id)).unwrap();
    match &last.kind {
        EventKind::RequestEnd {
            attempts, status, ..
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(status.map(|s| s.as_u16()), Some(200));
        }
        other => panic!("the last event of the request is {other:?}"),
    }
    // Closing the client closes its connection, and the hook hears it.
    bounded(client.close()).await;
    let closed = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ConnectionClosed { .. }))
        .count();
    assert_eq!(closed, 1);
}

#[tokio::test]
async fn failed_attempts_carry_their_kind_and_phase() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let (hook, seen) = recorder();
    let client = Client::builder()
        .read_timeout(Duration::from_millis(200))
        .retry(retry::Policy::none())
        .on_event(hook)
        .build()
        .unwrap();
    let err = bounded(client.get(s.url("/stall")).send())
        .await
        .unwrap_err();
    assert_eq!(err.kind_name(), "timeout");
    let events = seen.lock().unwrap().clone();
    let failed = events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::AttemptFailed {
                attempt: 1,
                error: "timeout",
                phase: Some(tenax::TimeoutPhase::Read),
                message,
            } => Some(message.clone()),
            _ => None,
        })
        .expect("the failed attempt was seen");
    assert!(failed.contains("read timed out"), "{failed}");
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::RequestEnd {
            error: Some("timeout"),
            status: None,
            ..
        }
    )));
}

#[tokio::test]
async fn a_consumer_that_never_reads_does_not_slow_requests() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    // Nobody reads these events: the adapter must drop and count, never block.
    let (hook, events) = tenax::events::channel(8);
    let client = Client::builder().on_event(hook).build().unwrap();
    let t0 = Instant::now();
    bounded(async {
        for _ in 0..300 {
            let r = client.get(s.url("/bytes/10")).send().await.unwrap();
            r.bytes().await.unwrap();
        }
    })
    .await;
    let took = t0.elapsed();
    // At least four events per request (start, connection or none, head, end): far more
    // than the channel holds.
    assert!(
        events.dropped() >= 300 * 3 - 8,
        "dropped {}",
        events.dropped()
    );
    assert!(took < Duration::from_secs(20), "300 requests took {took:?}");
}

#[tokio::test]
async fn a_slow_reader_of_the_channel_still_gets_events_in_order() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let (hook, mut events) = tenax::events::channel(1024);
    let client = Client::builder().on_event(hook).build().unwrap();
    bounded(client.get(s.url("/bytes/10")).send())
        .await
        .unwrap();
    let first = bounded(events.recv()).await.unwrap();
    assert!(matches!(first.kind, EventKind::RequestStart { .. }));
    assert_eq!(events.dropped(), 0);
}

#[tokio::test]
async fn stats_show_active_idle_and_waiting_per_host_and_pool_waits_are_events() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let (hook, seen) = recorder();
    let client = Client::builder()
        .max_connections(2)
        .on_event(hook)
        .build()
        .unwrap();
    bounded(async {
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let c = client.clone();
            let url = s.url("/delay/600");
            tasks.push(tokio::spawn(async move {
                c.get(url).send().await.unwrap().bytes().await.unwrap()
            }));
        }
        // Wait for the server to hold two requests and the pool to queue four.
        let start = Instant::now();
        let stats = loop {
            let st = client.stats();
            if s.in_flight() == 2 && st.waiting == 4 {
                break st;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{st:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(stats.open, 2);
        assert_eq!(stats.hosts.len(), 1);
        let host = &stats.hosts[0];
        assert_eq!(host.origin, format!("http://127.0.0.1:{}", s.addr().port()));
        assert_eq!(
            (host.open, host.active, host.idle, host.waiting),
            (2, 2, 0, 4)
        );
        for t in tasks {
            t.await.unwrap();
        }
    })
    .await;
    let st = client.stats();
    assert_eq!(st.waiting, 0);
    assert_eq!((st.hosts[0].idle, st.hosts[0].active), (2, 0));
    let waits: Vec<Duration> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::PoolWait { waited, .. } => Some(*waited),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 4, "four requests waited for a connection");
    assert!(
        waits.iter().all(|w| *w >= Duration::from_millis(400)),
        "{waits:?}"
    );
}

#[tokio::test]
async fn websocket_state_changes_reach_the_client_hooks() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let (hook, seen) = recorder();
    let client = Client::builder().on_event(hook).build().unwrap();
    let ws = bounded(client.websocket(s.ws_url("/ws/echo")).connect())
        .await
        .unwrap();
    bounded(ws.close(Duration::from_secs(2))).await;
    let states: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::WebSocket { url, event } => {
                assert!(url.ends_with("/ws/echo"));
                Some(format!("{event:?}"))
            }
            _ => None,
        })
        .collect();
    assert!(states[0].starts_with("Connecting"), "{states:?}");
    assert!(states[1].starts_with("Connected"), "{states:?}");
    assert!(states.last().unwrap().starts_with("Closed"), "{states:?}");
}

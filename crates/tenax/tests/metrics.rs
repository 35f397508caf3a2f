//! Metrics through the `metrics` facade (feature `metrics`): what a recorder receives for
//! requests, retries and connections. Run: `cargo test -p tenax --features metrics --test
//! metrics`.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

/// Every value by metric name and labels (`name{k=v,...}`): counters and gauges summed,
/// histograms as their samples.
#[derive(Default)]
struct Store {
    sums: Mutex<HashMap<String, f64>>,
    samples: Mutex<HashMap<String, Vec<f64>>>,
    /// Gauges' `set` values, in order.
    sets: Mutex<HashMap<String, Vec<f64>>>,
}

struct Handle {
    store: Arc<Store>,
    key: String,
}

fn name(key: &Key) -> String {
    let mut labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    labels.sort();
    format!("{}{{{}}}", key.name(), labels.join(","))
}

impl Handle {
    fn add(&self, v: f64) {
        *self
            .store
            .sums
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default() += v;
    }
}

impl metrics::CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.add(value as f64);
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.add(value);
    }
    fn decrement(&self, value: f64) {
        self.add(-value);
    }
    fn set(&self, value: f64) {
        let mut s = self.store.sets.lock().unwrap();
        s.entry(self.key.clone()).or_default().push(value);
    }
}

impl metrics::HistogramFn for Handle {
    fn record(&self, value: f64) {
        let mut s = self.store.samples.lock().unwrap();
        s.entry(self.key.clone()).or_default().push(value);
    }
}

struct TestRecorder(Arc<Store>);

impl TestRecorder {
    fn handle(&self, key: &Key) -> Arc<Handle> {
        Arc::new(Handle {
            store: self.0.clone(),
            key: name(key),
        })
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

#[tokio::test]
async fn requests_retries_and_connections_are_measured() {
    let store = Arc::new(Store::default());
    metrics::set_global_recorder(TestRecorder(store.clone())).unwrap();
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::builder()
        .retry(
            retry::Policy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(30), async {
        let r = client.get(s.url("/flaky/m?fail=1")).send().await.unwrap();
        r.bytes().await.unwrap();
        for _ in 0..3 {
            client
                .get(s.url("/bytes/4"))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        // A WebSocket: ten messages through the outbox.
        let ws = client
            .websocket(s.ws_url("/ws/echo"))
            .connect()
            .await
            .unwrap();
        for i in 0..10 {
            ws.send(format!("m{i}")).await.unwrap();
        }
        ws.close(Duration::from_secs(2)).await;
        client.close().await;
    })
    .await
    .unwrap();
    let host = "server.address=127.0.0.1";
    let sums = store.sums.lock().unwrap().clone();
    let samples = store.samples.lock().unwrap().clone();
    let get = |k: &str| sums.get(k).copied().unwrap_or(f64::NAN);
    let sets = store.sets.lock().unwrap().clone();
    let set_values = |k: &str| sets.get(k).cloned().unwrap_or_default();
    let last = |k: &str| set_values(k).last().copied().unwrap_or(f64::NAN);
    assert_eq!(get("tenax.retries{}"), 1.0, "{sums:?}");
    assert_eq!(
        get(&format!(
            "http.client.active_requests{{http.request.method=GET,{host}}}"
        )),
        0.0,
        "every request that started ended: {sums:?}"
    );
    let conns = |state: &str| {
        format!(
            "http.client.open_connections{{http.connection.state={state},{host}:{}}}",
            s.addr().port()
        )
    };
    for state in ["active", "idle"] {
        assert_eq!(last(&conns(state)), 0.0, "{state} after close: {sets:?}");
    }
    let most_idle = set_values(&conns("idle")).into_iter().fold(0.0, f64::max);
    assert_eq!(most_idle, 1.0, "idle between requests: {sets:?}");
    // The WebSocket outbox's depth rose with the messages sent, and fell to 0 once written.
    let depth: Vec<f64> = sets
        .iter()
        .filter(|(k, _)| k.starts_with("tenax.websocket.outbox.messages{url.full=ws://"))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    assert!(depth.iter().any(|d| *d >= 1.0), "{depth:?}");
    assert_eq!(depth.last(), Some(&0.0), "{depth:?}");
    let ok = format!(
        "http.client.request.duration{{error.type=,http.request.method=GET,http.response.status_code=200,{host}}}"
    );
    let durations = &samples[&ok];
    assert_eq!(durations.len(), 4, "{samples:?}");
    assert!(
        durations.iter().all(|d| *d > 0.0 && *d < 10.0),
        "{durations:?}"
    );
}

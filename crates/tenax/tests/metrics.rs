//! Metrics through the `metrics` facade (feature `metrics`): what a recorder receives for
//! requests, retries and connections. Run: `cargo test -p tenax --features metrics --test
//! metrics`.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use tenax::{Client, RetryPolicy};
use tenax_chaos::ChaosServer;

/// Every value by metric name and labels (`name{k=v,...}`): counters and gauges summed,
/// histograms as their samples.
#[derive(Default)]
struct Store {
    sums: Mutex<HashMap<String, f64>>,
    samples: Mutex<HashMap<String, Vec<f64>>>,
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
    fn set(&self, _: f64) {}
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
        .retry(RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)))
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
        client.close().await;
    })
    .await
    .unwrap();
    let host = "server.address=127.0.0.1";
    let sums = store.sums.lock().unwrap().clone();
    let samples = store.samples.lock().unwrap().clone();
    let get = |k: &str| sums.get(k).copied().unwrap_or(f64::NAN);
    assert_eq!(get("tenax.retries{}"), 1.0, "{sums:?}");
    assert_eq!(
        get(&format!(
            "http.client.active_requests{{http.request.method=GET,{host}}}"
        )),
        0.0,
        "every request that started ended: {sums:?}"
    );
    assert_eq!(
        get(&format!(
            "http.client.open_connections{{{host}:{}}}",
            s.addr().port()
        )),
        0.0,
        "the connection opened was closed: {sums:?}"
    );
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

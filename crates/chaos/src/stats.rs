//! What the server has seen: hits per route, flaky calls, WebSocket message counts, connections.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// One call to a `/flaky/{key}` route, as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlakyCall {
    /// The request method, e.g. `GET`.
    pub method: String,
    /// The `Idempotency-Key` request header, if it was sent.
    pub idempotency_key: Option<String>,
    /// The status the server answered with.
    pub status: u16,
    /// The `X-Request-Id` request header, if it was sent.
    pub request_id: Option<String>,
}

#[derive(Default)]
pub(crate) struct Stats {
    hits: Mutex<BTreeMap<&'static str, u64>>,
    flaky: Mutex<HashMap<String, Vec<FlakyCall>>>,
    ws_counts: Mutex<HashMap<String, u64>>,
    ws_payloads: Mutex<HashMap<String, Vec<Vec<u8>>>>,
    calls: Mutex<HashMap<String, u64>>,
    pub(crate) accepted: AtomicU64,
    /// Requests being handled now (until their response head), and the most at once.
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    pub(crate) open: AtomicU64,
    /// Bytes of `/ws/echo`'s compressed connections: messages, and their frames on the wire.
    pub(crate) ws_deflate: crate::ws_deflate::WireCount,
}

impl Stats {
    pub(crate) fn hit(&self, route: &'static str) {
        *lock(&self.hits).entry(route).or_default() += 1;
    }

    pub(crate) fn hits(&self, route: &str) -> u64 {
        lock(&self.hits).get(route).copied().unwrap_or(0)
    }

    /// Records a flaky call, decided from how many calls the key had before this one, and
    /// returns it with its 1-based number.
    pub(crate) fn flaky_call(
        &self,
        key: &str,
        decide: impl FnOnce(usize) -> FlakyCall,
    ) -> (FlakyCall, usize) {
        let mut map = lock(&self.flaky);
        let calls = map.entry(key.to_string()).or_default();
        let call = decide(calls.len());
        calls.push(call.clone());
        (call, calls.len())
    }

    pub(crate) fn flaky_calls(&self, key: &str) -> Vec<FlakyCall> {
        lock(&self.flaky).get(key).cloned().unwrap_or_default()
    }

    pub(crate) fn ws_message(&self, key: &str, payload: &[u8]) {
        *lock(&self.ws_counts).entry(key.to_string()).or_default() += 1;
        lock(&self.ws_payloads)
            .entry(key.to_string())
            .or_default()
            .push(payload.to_vec());
    }

    /// Counts a call under `key`; returns how many came before it.
    pub(crate) fn next_call(&self, key: &str) -> u64 {
        let mut calls = lock(&self.calls);
        let n = calls.entry(key.to_string()).or_default();
        *n += 1;
        *n - 1
    }

    pub(crate) fn ws_payloads(&self, key: &str) -> Vec<Vec<u8>> {
        lock(&self.ws_payloads)
            .get(key)
            .cloned()
            .unwrap_or_default()
    }

    pub(crate) fn ws_count(&self, key: &str) -> u64 {
        lock(&self.ws_counts).get(key).copied().unwrap_or(0)
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let hits: serde_json::Map<String, serde_json::Value> = lock(&self.hits)
            .iter()
            .map(|(k, v)| (k.to_string(), (*v).into()))
            .collect();
        let flaky: serde_json::Map<String, serde_json::Value> = lock(&self.flaky)
            .iter()
            .map(|(k, calls)| {
                let calls: Vec<serde_json::Value> = calls
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "method": c.method,
                            "idempotency_key": c.idempotency_key,
                            "status": c.status,
                        })
                    })
                    .collect();
                (k.clone(), calls.into())
            })
            .collect();
        let ws: serde_json::Map<String, serde_json::Value> = lock(&self.ws_counts)
            .iter()
            .map(|(k, v)| (k.clone(), (*v).into()))
            .collect();
        serde_json::json!({
            "connections_accepted": self.accepted.load(Ordering::Relaxed),
            "connections_open": self.open.load(Ordering::Relaxed),
            "hits": hits,
            "flaky": flaky,
            "ws_counts": ws,
        })
    }
}

/// Locks a mutex, ignoring poisoning: a panicked handler must not take the stats down with it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

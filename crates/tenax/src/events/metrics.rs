//! Metrics through the `metrics` facade (feature `metrics`), named after OpenTelemetry's HTTP
//! client conventions where one exists. Whatever recorder the application installed receives
//! them; without one they cost a few atomic loads.

use metrics::{counter, gauge, histogram};

use super::{Event, EventKind};

/// Records what `event` says.
pub(super) fn record(event: &Event) {
    match &event.kind {
        EventKind::RequestStart { method, url } => {
            gauge!(
                "http.client.active_requests",
                "http.request.method" => method.to_string(),
                "server.address" => host(url),
            )
            .increment(1.0);
        }
        EventKind::RequestEnd {
            method,
            url,
            elapsed,
            status,
            error,
            ..
        } => {
            let (method, server) = (method.to_string(), host(url));
            gauge!(
                "http.client.active_requests",
                "http.request.method" => method.clone(),
                "server.address" => server.clone(),
            )
            .decrement(1.0);
            let status = status.map_or_else(String::new, |s| s.as_u16().to_string());
            histogram!(
                "http.client.request.duration",
                "http.request.method" => method,
                "server.address" => server,
                "http.response.status_code" => status,
                "error.type" => error.unwrap_or(""),
            )
            .record(elapsed.as_secs_f64());
        }
        EventKind::PoolWait { host, waited } => {
            histogram!("tenax.pool.wait.duration", "server.address" => host.clone())
                .record(waited.as_secs_f64());
        }
        EventKind::RetryScheduled { .. } => counter!("tenax.retries").increment(1),
        EventKind::RetryBudgetExhausted { .. } => {
            counter!("tenax.retry_budget.exhausted").increment(1)
        }
        EventKind::CircuitChanged { host, state, .. } => counter!(
            "tenax.circuit.transitions",
            "server.address" => host.clone(),
            "state" => state.to_string(),
        )
        .increment(1),
        EventKind::CircuitRejected { host, .. } => {
            counter!("tenax.circuit.rejections", "server.address" => host.clone()).increment(1)
        }
        EventKind::HedgeSent { .. } => counter!("tenax.hedges").increment(1),
        EventKind::ConcurrencyLimit { host, limit } => gauge!(
            "tenax.batch.concurrency_limit",
            "server.address" => host.clone().unwrap_or_default(),
        )
        .set(*limit as f64),
        EventKind::RateLimited { host, waited } => {
            histogram!("tenax.rate_limit.wait.duration", "server.address" => host.clone())
                .record(waited.as_secs_f64());
        }
        EventKind::WebSocket { url, event } => {
            if let crate::ws::WsEvent::Reconnecting { .. } = event {
                counter!("tenax.websocket.reconnects", "url.full" => url.to_string()).increment(1);
            }
        }
        // Connections are counted by the pool, idle and active (`http.client.open_connections`).
        EventKind::ConnectionOpened { .. }
        | EventKind::ConnectionClosed { .. }
        | EventKind::RequestHead { .. }
        | EventKind::ResponseHead { .. }
        | EventKind::AttemptFailed { .. } => {}
    }
}

fn host(url: &http::Uri) -> String {
    url.host().unwrap_or("").to_owned()
}

//! Demo segments of observability (hooks, stats, correlation ids) and structured concurrency
//! (an HTTP batch and a WebSocket in one scope, under one deadline, sharing their fate).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::events::EventKind;
use tenax::scope::{Outcome, Scope};
use tenax::{Client, retry};
use tenax_chaos::ChaosServer;

use crate::demo::{Row, pass_if};

/// Recipe 11: every attempt of a retried request seen by a hook (through the bounded channel
/// adapter), one correlation id across the attempts, pool waits and the per-host snapshot.
pub async fn observability(server: &ChaosServer) -> Row {
    let segment = "11 hooks, stats, correlation id";
    let t = Instant::now();
    let (hook, mut events) = tenax::events::channel(256);
    let client = Client::builder()
        .retry(
            retry::Policy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .correlation_id(true)
        .max_connections(2)
        .on_event(hook)
        .build()
        .expect("a valid configuration");
    let key = format!("demo-obs-{}", std::process::id());
    let res = client
        .get(server.url(&format!("/flaky/{key}?fail=2&status=503")))
        .send()
        .await;
    let ok = matches!(&res, Ok(r) if r.status() == 200);
    drop(res);
    // Six slow requests through two connections: four wait, and the snapshot shows it.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (c, url) = (client.clone(), server.url("/delay/150"));
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await?.bytes().await
        }));
    }
    let mut snapshot = client.stats();
    let waited_since = Instant::now();
    while snapshot.waiting < 4 && waited_since.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        snapshot = client.stats();
    }
    let mut all_ok = ok;
    for task in tasks {
        all_ok &= matches!(task.await, Ok(Ok(_)));
    }
    client.close().await;
    let (mut heads, mut retries, mut waits, mut opened, mut closed) = (Vec::new(), 0, 0, 0, 0);
    while let Some(e) = events.try_recv() {
        match e.kind {
            EventKind::ResponseHead {
                attempt, status, ..
            } if status != 200 || attempt > 1 => heads.push((attempt, status.as_u16())),
            EventKind::RetryScheduled { .. } => retries += 1,
            EventKind::PoolWait { .. } => waits += 1,
            EventKind::ConnectionOpened { .. } => opened += 1,
            EventKind::ConnectionClosed { .. } => closed += 1,
            _ => {}
        }
    }
    let ids: Vec<Option<String>> = server
        .flaky_calls(&key)
        .into_iter()
        .map(|c| c.request_id)
        .collect();
    let one_id = ids.len() == 3 && ids[0].is_some() && ids.iter().all(|i| *i == ids[0]);
    let host = snapshot.hosts.first();
    Row {
        segment,
        status: pass_if(
            all_ok
                && heads == [(1, 503), (2, 503), (3, 200)]
                && retries == 2
                && one_id
                && waits == 4
                && snapshot.waiting == 4
                && opened == closed
                && events.dropped() == 0,
        ),
        detail: format!(
            "hook saw attempts {heads:?} and {retries} retries; one X-Request-Id for all 3; \
             stats at the limit: {} active, {} waiting; {waits} pool waits; {opened} connections opened and closed",
            host.map_or(0, |h| h.active),
            host.map_or(0, |h| h.waiting),
        ),
        ms: Some(t.elapsed().as_secs_f64() * 1e3),
    }
}

/// An HTTP batch of `n` short requests, 10 at a time; the number that succeeded.
async fn http_batch(client: Client, url: String, n: usize) -> Result<usize, tenax::Error> {
    let reqs = (0..n).map(|_| client.get(&url));
    let mut batch = client
        .batch_with(reqs, |r| async move {
            r.send().await?.error_for_status()?.bytes().await
        })
        .concurrency(10);
    let mut ok = 0;
    while let Some((_, res)) = batch.next().await {
        res?;
        ok += 1;
    }
    Ok(ok)
}

/// A WebSocket session: sends `n` messages and reads their echoes.
async fn ws_session(client: Client, url: String, n: usize) -> Result<usize, tenax::Error> {
    let mut ws = client.websocket(url).connect().await?;
    for i in 0..n {
        ws.send(format!("message {i}"))
            .await
            .map_err(|e| e.into_error())?;
    }
    let mut got = 0;
    while got < n && ws.recv().await.is_some() {
        got += 1;
    }
    ws.close(Duration::from_secs(1)).await;
    Ok(got)
}

fn outcome(o: &Outcome<usize>) -> String {
    match o {
        Outcome::Ok(n) => format!("ok ({n})"),
        Outcome::Failed(_) => "failed".into(),
        Outcome::Cancelled(_) => "cancelled".into(),
        _ => "?".into(),
    }
}

/// A client, and a scope of 3 s that owns it running two tasks: "http batch", `n` requests
/// to `path` (10 at a time), and "websocket", a session of `m` messages on `ws_path`.
fn batch_and_socket(
    server: &ChaosServer,
    (path, n): (&str, usize),
    (ws_path, m): (&str, usize),
) -> (Client, Scope<usize>) {
    let client = Client::new();
    let mut scope = Scope::new()
        .deadline(Duration::from_secs(3))
        .owns(client.clone());
    scope.spawn(
        "http batch",
        http_batch(client.clone(), server.url(path), n),
    );
    scope.spawn(
        "websocket",
        ws_session(client.clone(), server.ws_url(ws_path), m),
    );
    (client, scope)
}

/// Recipe 16: the happy path under one deadline, then shared fate.
pub async fn segments(server: &ChaosServer) -> Vec<Row> {
    let mut rows = Vec::new();

    let t = Instant::now();
    let (client, scope) = batch_and_socket(server, ("/delay/10", 100), ("/ws/echo", 20));
    let report = scope.join().await;
    let [batch, ws] = [&report.tasks()[0], &report.tasks()[1]];
    rows.push(Row {
        segment: "16 batch + WebSocket, one deadline",
        status: pass_if(
            matches!(batch.outcome(), Outcome::Ok(100))
                && matches!(ws.outcome(), Outcome::Ok(20))
                && client.open_connections() == 0,
        ),
        detail: format!(
            "within 3 s: http batch {} in {:.0} ms, websocket {} in {:.0} ms; every connection closed with the scope",
            outcome(batch.outcome()),
            batch.elapsed().as_secs_f64() * 1e3,
            outcome(ws.outcome()),
            ws.elapsed().as_secs_f64() * 1e3,
        ),
        ms: Some(t.elapsed().as_secs_f64() * 1e3),
    });

    let t = Instant::now();
    let (client, mut scope) = batch_and_socket(server, ("/delay/2000", 20), ("/ws/silent", 1));
    let c = client.clone();
    let failing = server.url("/status/500");
    scope.spawn("failing", async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.get(failing).send().await?.error_for_status()?;
        Ok::<usize, tenax::Error>(0)
    });
    let report = scope.join().await;
    let took = t.elapsed();
    let outcomes: Vec<String> = report
        .tasks()
        .iter()
        .map(|t| format!("{} {}", t.name(), outcome(t.outcome())))
        .collect();
    rows.push(Row {
        segment: "16 one failure cancels the rest",
        status: pass_if(
            report.tasks()[0].outcome().is_cancelled()
                && report.tasks()[1].outcome().is_cancelled()
                && report.tasks()[2].outcome().is_failed()
                && !report.deadline_passed()
                && took < Duration::from_secs(2)
                && client.open_connections() == 0,
        ),
        detail: format!(
            "{}; ended after {:.0} ms, nothing left open",
            outcomes.join(", "),
            took.as_secs_f64() * 1e3
        ),
        ms: Some(took.as_secs_f64() * 1e3),
    });
    rows
}

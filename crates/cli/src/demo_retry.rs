//! Demo segments of resilience: retries with backoff, idempotency, Retry-After, deadlines.

use std::time::{Duration, Instant};

use tenax::{Client, TimeoutPhase};
use tenax_chaos::ChaosServer;

use crate::demo::{Row, Status, pass_if};

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

fn waits(r: &tenax::Response) -> String {
    r.retries()
        .iter()
        .map(|x| format!("{:.0} ms after {}", x.delay.as_secs_f64() * 1e3, x.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn retries(server: &ChaosServer) -> Vec<Row> {
    let client = Client::new();
    let mut rows = Vec::new();

    let segment = "05 flaky GET, retried";
    let t = Instant::now();
    rows.push(
        match client
            .get(server.url("/flaky/demo-get?fail=2&status=502"))
            .send()
            .await
        {
            Ok(r) => Row {
                segment,
                status: pass_if(r.status() == 200 && r.attempts() == 3),
                detail: format!(
                    "{} on attempt {}; waited {}",
                    r.status(),
                    r.attempts(),
                    waits(&r)
                ),
                ms: ms(t.elapsed()),
            },
            Err(e) => Row::fail(segment, e),
        },
    );

    let segment = "05 POST without a key, not retried";
    let t = Instant::now();
    rows.push(
        match client
            .post(server.url("/flaky/demo-post?fail=1"))
            .body("order")
            .send()
            .await
        {
            Ok(r) => Row {
                segment,
                status: pass_if(r.status() == 503 && server.flaky_calls("demo-post").len() == 1),
                detail: format!(
                    "{} after {} attempt (POST is not idempotent)",
                    r.status(),
                    r.attempts()
                ),
                ms: ms(t.elapsed()),
            },
            Err(e) => Row::fail(segment, e),
        },
    );

    let segment = "05 POST with Idempotency-Key, retried";
    let t = Instant::now();
    let res = client
        .post(server.url("/flaky/demo-key?fail=1&status=502"))
        .header("idempotency-key", "order-42")
        .body("order")
        .send()
        .await;
    rows.push(match res {
        Ok(r) => {
            let calls = server.flaky_calls("demo-key");
            let same = calls
                .iter()
                .all(|c| c.idempotency_key.as_deref() == Some("order-42"));
            Row {
                segment,
                status: pass_if(r.status() == 200 && calls.len() == 2 && same),
                detail: format!(
                    "{} after {} attempts, the same key each time",
                    r.status(),
                    r.attempts()
                ),
                ms: ms(t.elapsed()),
            }
        }
        Err(e) => Row::fail(segment, e),
    });

    let segment = "05 503 with Retry-After: 1";
    let t = Instant::now();
    rows.push(
        match client
            .get(server.url("/flaky/demo-ra?fail=1&status=503&retry_after=1"))
            .send()
            .await
        {
            Ok(r) => {
                let took = t.elapsed();
                Row {
                    segment,
                    status: pass_if(r.status() == 200 && took >= Duration::from_millis(950)),
                    detail: format!(
                        "{} after {} attempts; waited {}",
                        r.status(),
                        r.attempts(),
                        waits(&r)
                    ),
                    ms: ms(took),
                }
            }
            Err(e) => Row::fail(segment, e),
        },
    );
    rows
}

pub async fn deadline(server: &ChaosServer) -> Row {
    let client = Client::new();
    let segment = "04 1 s deadline over 3 slow steps";
    let t = Instant::now();
    let res = tenax::deadline::scope(Duration::from_secs(1), async {
        for step in 0..3 {
            client
                .get(server.url("/delay/600"))
                .send()
                .await?
                .bytes()
                .await?;
            let _ = step;
        }
        Ok::<_, tenax::Error>(())
    })
    .await;
    let took = t.elapsed();
    let err = match res {
        Ok(Ok(())) => None,
        Ok(Err(e)) | Err(e) => Some(e),
    };
    match err {
        Some(e) => Row {
            segment,
            status: pass_if(
                e.timeout_phase() == Some(TimeoutPhase::Deadline)
                    && took >= Duration::from_millis(900)
                    && took < Duration::from_millis(2500),
            ),
            detail: format!("ended on time: {e}"),
            ms: ms(took),
        },
        None => Row {
            segment,
            status: Status::Fail,
            detail: "three 600 ms steps finished within 1 s?".into(),
            ms: ms(took),
        },
    }
}

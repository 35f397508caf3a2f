//! Demo segments of the HTTP core: each phase timeout on its own fault, reuse and close, pool
//! limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tenax::{Client, TimeoutPhase};
use tenax_chaos::{Blackhole, ChaosServer};

use crate::demo::{Row, Status, pass_if};

const LIMIT: Duration = Duration::from_millis(500);

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

/// Every phase limited to 0.5 s, one attempt per request: each fault must trip its own phase.
fn half_second_client(max_connections: usize) -> Client {
    Client::builder()
        .retry(tenax::retry::Policy::none())
        .connect_timeout(LIMIT)
        .read_timeout(LIMIT)
        .write_timeout(LIMIT)
        .pool_timeout(LIMIT)
        .max_connections(max_connections)
        .build()
        .expect("a valid configuration")
}

fn timeout_row(
    segment: &'static str,
    want: TimeoutPhase,
    res: Result<tenax::Response, tenax::Error>,
    took: Duration,
) -> Row {
    let in_time = took >= LIMIT.mul_f64(0.9) && took <= LIMIT * 4;
    match res {
        Err(e) if e.timeout_phase() == Some(want) => Row {
            segment,
            status: pass_if(in_time),
            detail: e.to_string(),
            ms: ms(took),
        },
        Err(e) => Row {
            segment,
            status: Status::Fail,
            detail: format!("expected a {want} timeout, got: {e}"),
            ms: ms(took),
        },
        Ok(r) => Row {
            segment,
            status: Status::Fail,
            detail: format!("expected a {want} timeout, got {}", r.status()),
            ms: ms(took),
        },
    }
}

pub async fn phase_timeouts(server: &ChaosServer, hole: &Blackhole) -> Vec<Row> {
    let client = half_second_client(1);
    let mut rows = Vec::new();

    let t = Instant::now();
    let res = client.get(hole.url("/")).send().await;
    rows.push(timeout_row(
        "01 connect timeout (black hole)",
        TimeoutPhase::Connect,
        res,
        t.elapsed(),
    ));

    let t = Instant::now();
    let res = client.get(server.url("/stall")).send().await;
    rows.push(timeout_row(
        "01 read timeout (/stall)",
        TimeoutPhase::Read,
        res,
        t.elapsed(),
    ));

    let t = Instant::now();
    let res = client
        .post(server.url("/slow-read?bps=1024"))
        .body(vec![0u8; 32 << 20])
        .send()
        .await;
    // (On loopback the socket buffers fill at once: the stall starts right away.)
    rows.push(timeout_row(
        "01 write timeout (/slow-read, 32 MiB)",
        TimeoutPhase::Write,
        res,
        t.elapsed(),
    ));

    // One connection, held by a slow request: the next one waits for the pool.
    let busy = {
        let (client, url) = (client.clone(), server.url("/delay/1500"));
        tokio::spawn(async move {
            client
                .get(url)
                .read_timeout(Duration::from_secs(5))
                .send()
                .await
        })
    };
    let before = server.hits("delay");
    while server.hits("delay") == before {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t = Instant::now();
    let res = client.get(server.url("/bytes/1")).send().await;
    rows.push(timeout_row(
        "01 pool timeout (1 connection, busy)",
        TimeoutPhase::Pool,
        res,
        t.elapsed(),
    ));
    let _ = busy.await;
    client.close().await;
    rows
}

/// Runs `n` GETs of `/bytes/100` over `workers` concurrent tasks; returns how many succeeded.
async fn load(client: &Client, server: &ChaosServer, n: usize, workers: usize) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, next, url) = (client.clone(), next.clone(), server.url("/bytes/100"));
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            while next.fetch_add(1, Ordering::Relaxed) < n {
                if let Ok(r) = client.get(&url).send().await
                    && r.bytes().await.is_ok()
                {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    ok
}

pub async fn reuse_and_close(server: &ChaosServer) -> Row {
    let client = Client::new();
    let accepted = server.connections_accepted();
    let t = Instant::now();
    let ok = load(&client, server, 200, 10).await;
    let conns = server.connections_accepted() - accepted;
    client.close().await;
    let open = client.open_connections();
    Row {
        segment: "02 one client reused, then closed",
        status: pass_if(ok == 200 && conns <= 10 && open == 0),
        detail: format!("{ok}/200 requests over {conns} connections; after close(): {open} open"),
        ms: ms(t.elapsed()),
    }
}

pub async fn pool_limits(server: &ChaosServer) -> Row {
    let client = Client::builder()
        .max_connections(4)
        .build()
        .expect("a valid configuration");
    let accepted = server.connections_accepted();
    let t = Instant::now();
    let ok = load(&client, server, 500, 50).await;
    let conns = server.connections_accepted() - accepted;
    client.close().await;
    Row {
        segment: "03 pool limit (max 4, 50 concurrent)",
        status: pass_if(ok == 500 && conns <= 4),
        detail: format!("{ok}/500 requests over {conns} connections, never more than 4"),
        ms: ms(t.elapsed()),
    }
}

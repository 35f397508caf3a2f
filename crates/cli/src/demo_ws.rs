//! Demo segments of the resilient WebSocket: heartbeat, read deadline, bounded outbox,
//! reconnect with the queue replayed, and a fatal handshake.

use std::time::{Duration, Instant};

use tenax::ws::{self, Closed, DisconnectReason, Message, WsEvent};
use tenax_chaos::ChaosServer;

use crate::demo::{Row, Status, pass_if};

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

/// Waits (bounded) for the WebSocket to close for good and says why.
async fn closed_reason(events: &mut ws::Events) -> Option<Closed> {
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.recv().await {
            if let WsEvent::Closed(c) = e {
                return Some(c);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

pub async fn segments(server: &ChaosServer) -> Vec<Row> {
    vec![
        heartbeat(server).await,
        read_deadline(server).await,
        outbox(server).await,
        compression(server).await,
        reconnect(server).await,
        fatal(server).await,
    ]
}

/// Connects without reconnecting and waits for the close: whether it came for the expected
/// reason, in under 2 s, and how long it took.
async fn closes_for(
    segment: &'static str,
    builder: ws::WsBuilder,
    expected: fn(&DisconnectReason) -> bool,
) -> Result<Duration, Row> {
    let t = Instant::now();
    let mut socket = builder
        .reconnect(false)
        .connect()
        .await
        .map_err(|e| Row::fail(segment, e))?;
    let closed = closed_reason(&mut socket.events()).await;
    let took = t.elapsed();
    match closed {
        Some(Closed::NoReconnect(r)) if expected(&r) && took < Duration::from_secs(2) => Ok(took),
        other => Err(Row::fail(
            segment,
            format!("closed after {took:?} with {other:?}"),
        )),
    }
}

async fn heartbeat(server: &ChaosServer) -> Row {
    let segment = "12 WebSocket heartbeat";
    let builder = ws::builder(server.ws_url("/ws/silent"))
        .heartbeat(Some(Duration::from_millis(300)))
        .pong_timeout(Duration::from_millis(300));
    match closes_for(segment, builder, |r| {
        matches!(r, DisconnectReason::HeartbeatTimeout)
    })
    .await
    {
        Ok(took) => Row {
            segment,
            status: Status::Pass,
            detail: format!(
                "silent peer declared dead after {:.0} ms (ping 300 ms + pong timeout 300 ms), no close wait",
                took.as_secs_f64() * 1e3
            ),
            ms: ms(took),
        },
        Err(row) => row,
    }
}

async fn read_deadline(server: &ChaosServer) -> Row {
    let segment = "13 WebSocket read deadline";
    let builder =
        ws::builder(server.ws_url("/ws/echo")).read_deadline(Some(Duration::from_millis(400)));
    match closes_for(segment, builder, |r| {
        matches!(r, DisconnectReason::ReadDeadline)
    })
    .await
    {
        Ok(took) => Row {
            segment,
            status: Status::Pass,
            detail: format!(
                "no message for {:.0} ms (deadline 400 ms; pongs do not count): connection dropped for a restart",
                took.as_secs_f64() * 1e3
            ),
            ms: ms(took),
        },
        Err(row) => row,
    }
}

async fn outbox(server: &ChaosServer) -> Row {
    let segment = "14 bounded outbound queue";
    let t = Instant::now();
    // A peer that never reads: the socket fills, then the outbox, then the producer waits.
    let socket = ws::builder(server.ws_url("/ws/silent"))
        .heartbeat(None)
        .outbox(8, 4 << 20)
        .connect()
        .await;
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return Row::fail(segment, e),
    };
    let big = bytes_of(256 * 1024);
    let mut accepted = 0;
    let mut full = false;
    for _ in 0..4000 {
        match socket.try_send(big.clone()) {
            Ok(()) => {
                accepted += 1;
                tokio::task::yield_now().await;
            }
            Err(e) => {
                full = e.error().is_outbox_full();
                break;
            }
        }
    }
    let waited = tokio::time::timeout(Duration::from_millis(200), socket.send(big.clone()))
        .await
        .is_err();
    let unsent = socket.close(Duration::from_millis(200)).await;
    Row {
        segment,
        status: pass_if(full && waited && unsent.len() >= 8),
        detail: format!(
            "{accepted} x 256 KiB accepted, then try_send: outbox full; send waited (back-pressure); close handed back {} unsent",
            unsent.len()
        ),
        ms: ms(t.elapsed()),
    }
}

/// The same 1,000 JSON ticks echoed with and without permessage-deflate: the bytes the
/// compressed ones took on the wire, against the bytes of the messages.
async fn compression(server: &ChaosServer) -> Row {
    let segment = "14 compression (permessage-deflate)";
    let t = Instant::now();
    let ticks: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                "{{\"symbol\":\"TNX\",\"bid\":{}.{:02},\"ask\":{}.{:02},\"seq\":{i},\"venue\":\"demo\"}}",
                100 + i % 5,
                i % 100,
                100 + i % 5,
                (i + 3) % 100
            )
        })
        .collect();
    let plain_bytes: usize = ticks.iter().map(|t| t.len() + 6).sum::<usize>() * 2;
    for compressed in [false, true] {
        let mut b = ws::builder(server.ws_url("/ws/echo")).heartbeat(None);
        if compressed {
            b = b.compression(ws::Compression::default());
        }
        let mut socket = match b.connect().await {
            Ok(s) => s,
            Err(e) => return Row::fail(segment, e),
        };
        for tick in &ticks {
            if let Err(e) = socket.send(Message::text(tick.clone())).await {
                return Row::fail(segment, e.into_error());
            }
        }
        for tick in &ticks {
            if socket.recv().await.as_ref().and_then(Message::as_text) != Some(tick.as_str()) {
                return Row::fail(segment, "an echo differed from its tick");
            }
        }
        socket.close(Duration::from_secs(2)).await;
    }
    let (messages, wire) = server.ws_compression_bytes();
    Row {
        segment,
        status: pass_if(messages > 0 && wire * 2 < messages),
        detail: format!(
            "1,000 JSON ticks echoed: {plain_bytes} bytes on the wire plain, {wire} compressed ({:.1}x smaller)",
            plain_bytes as f64 / wire.max(1) as f64
        ),
        ms: ms(t.elapsed()),
    }
}

fn bytes_of(n: usize) -> Message {
    Message::binary(vec![0x5a; n])
}

async fn reconnect(server: &ChaosServer) -> Row {
    let segment = "15 reconnect with backoff, queue replayed";
    let t = Instant::now();
    // The server drops TCP after every 5 echoes; one message every 30 ms. At-least-once
    // delivery: a message written just as the server dropped is sent again.
    let socket = ws::builder(server.ws_url("/ws/drop/5?key=demo-drip"))
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .replay_unconfirmed(true)
        .connect()
        .await;
    let mut socket = match socket {
        Ok(s) => s,
        Err(e) => return Row::fail(segment, e),
    };
    let mut events = socket.events();
    let n = 40u64;
    for i in 0..n {
        if let Err(e) = socket.send(format!("tick {i}")).await {
            return Row::fail(segment, e);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let done = tokio::time::timeout(Duration::from_secs(5), async {
        while server.ws_count("demo-drip") < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .is_ok();
    let stats = socket.stats();
    let mut delays = Vec::new();
    while let Some(e) = events.try_recv() {
        if let WsEvent::Reconnecting { delay, .. } = e {
            delays.push(format!("{:.0}", delay.as_secs_f64() * 1e3));
        }
    }
    socket.close(Duration::from_secs(1)).await;
    let counted = server.ws_count("demo-drip");
    Row {
        segment,
        status: pass_if(done && counted >= n && stats.reconnects >= 5),
        detail: format!(
            "{n} sent through {} drops, server counted {counted} (at least once each); backoff waits (ms): {}",
            stats.reconnects,
            delays.join(", ")
        ),
        ms: ms(t.elapsed()),
    }
}

async fn fatal(server: &ChaosServer) -> Row {
    let segment = "15 401 handshake is fatal";
    let t = Instant::now();
    match ws::builder(server.ws_url("/ws/reject/401")).connect().await {
        Ok(_) => Row {
            segment,
            status: Status::Fail,
            detail: "connected to a route that rejects".into(),
            ms: None,
        },
        Err(e) => Row {
            segment,
            status: pass_if(e.status().map(|s| s.as_u16()) == Some(401) && e.attempts() == 1),
            detail: format!("{e}; {} attempt, no retry", e.attempts()),
            ms: ms(t.elapsed()),
        },
    }
}

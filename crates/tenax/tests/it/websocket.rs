//! The resilient WebSocket against tenax-chaos: heartbeat, delivery across drops, handshake
//! classification, back-pressure, close.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::support::server;
use tenax::ws::{self, Closed, DisconnectReason, Message, WsEvent};
use tenax::{Client, TimeoutPhase};
use tenax_chaos::ChaosServer;

async fn bounded<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    crate::support::bounded_for(Duration::from_secs(secs), f).await
}

/// Reconnects quickly, so the tests are short.
fn fast(url: String) -> ws::WsBuilder {
    ws::builder(url)
        .backoff(Duration::from_millis(20), Duration::from_millis(100))
        .healthy_after(Duration::from_secs(60))
}

#[tokio::test]
async fn echo_round_trip_with_confirmed_send_and_stats() {
    let s = server();
    bounded(10, async {
        let mut socket = ws::connect(s.ws_url("/ws/echo")).await.unwrap();
        socket.send(Message::text("hello")).await.unwrap();
        socket
            .send_confirmed(Message::binary(vec![1u8, 2, 3]))
            .await
            .unwrap();
        assert_eq!(socket.recv().await, Some(Message::text("hello")));
        assert_eq!(socket.recv().await, Some(Message::binary(vec![1u8, 2, 3])));
        let st = socket.stats();
        assert!(st.connected);
        assert_eq!((st.sent, st.received, st.reconnects), (2, 2, 0));
        assert!(socket.close(Duration::from_secs(2)).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_silent_peer_is_detected_within_interval_plus_timeout_and_dropped_promptly() {
    let s = server();
    bounded(10, async {
        let mut socket = ws::builder(s.ws_url("/ws/silent"))
            .heartbeat(Some(Duration::from_millis(300)))
            .pong_timeout(Duration::from_millis(300))
            .reconnect(false)
            .connect()
            .await
            .unwrap();
        let mut events = socket.events();
        let t0 = Instant::now();
        let mut disconnected = None;
        while let Some(e) = events.recv().await {
            match e {
                WsEvent::Disconnected(d) => disconnected = Some((d, t0.elapsed())),
                WsEvent::Closed(c) => {
                    assert!(matches!(
                        c,
                        Closed::NoReconnect(DisconnectReason::HeartbeatTimeout)
                    ));
                    break;
                }
                _ => {}
            }
        }
        let (d, after) = disconnected.expect("a Disconnected event");
        assert!(
            matches!(d.reason, DisconnectReason::HeartbeatTimeout),
            "{:?}",
            d.reason
        );
        // 0.3 s to the ping, 0.3 s for the pong: 0.6 s, with room for a loaded machine.
        assert!(
            after >= Duration::from_millis(550) && after < Duration::from_millis(2500),
            "{after:?}"
        );
        // Closed for good: no 10 s wait for a closing handshake.
        assert_eq!(socket.recv().await, None);
        assert!(t0.elapsed() < Duration::from_secs(3));
    })
    .await;
}

#[tokio::test]
async fn a_drip_feed_through_ten_drops_loses_nothing() {
    let s = server();
    bounded(30, async {
        // At-least-once: a message written just as the server drops is sent again (by
        // default it would be counted as possibly lost instead).
        let mut socket = fast(s.ws_url("/ws/drop/3?key=drip"))
            .replay_unconfirmed(true)
            .connect()
            .await
            .unwrap();
        let n = 33;
        for i in 0..n {
            socket.send(Message::text(format!("m{i}"))).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Wait until the server saw every message (echoes are not needed for that).
        let want: HashSet<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
        loop {
            let got: HashSet<Vec<u8>> = s.ws_messages("drip").into_iter().collect();
            if want.is_subset(&got) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let st = socket.stats();
        assert!(st.reconnects >= 10, "{st:?}");
        assert!(s.ws_count("drip") >= n as u64);
        while socket.stats().queued > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(socket.events());
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn a_burst_through_drops_is_delivered_or_counted_as_possibly_lost() {
    let s = server();
    bounded(30, async {
        let mut socket = fast(s.ws_url("/ws/drop/50?key=burst"))
            .connect()
            .await
            .unwrap();
        let mut events = socket.events();
        let n = 400u64;
        for i in 0..n {
            socket.send(Message::text(format!("b{i}"))).await.unwrap();
        }
        // Every message is written eventually: queued ones survive each reconnect.
        while socket.stats().sent < n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // No silent loss: every message the server lacks is reported as possibly lost, once
        // what is in flight has landed and the socket has reconnected (waited for on those
        // conditions, at most 5 s).
        let missing = || {
            let got: HashSet<Vec<u8>> = s.ws_messages("burst").into_iter().collect();
            (0..n)
                .filter(|i| !got.contains(format!("b{i}").as_bytes()))
                .count() as u64
        };
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        let settled = |st: &tenax::ws::WsStats, missing: u64| {
            st.reconnects >= 1 && missing <= st.possibly_lost
        };
        while !settled(&socket.stats(), missing()) && std::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let st = socket.stats();
        let missing = missing();
        assert!(st.reconnects >= 1, "{st:?}");
        assert!(missing <= st.possibly_lost, "missing {missing}, {st:?}");
        let mut reported = 0;
        while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), events.recv()).await
        {
            if let WsEvent::Disconnected(d) = e {
                reported += d.possibly_lost;
            }
        }
        assert_eq!(reported, st.possibly_lost);
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn at_least_once_delivery_replays_what_a_drop_may_have_lost() {
    let s = server();
    bounded(30, async {
        let mut socket = fast(s.ws_url("/ws/drop/50?key=replay"))
            .replay_unconfirmed(true)
            .connect()
            .await
            .unwrap();
        let mut events = socket.events();
        let n = 400u64;
        for i in 0..n {
            socket.send(Message::text(format!("r{i}"))).await.unwrap();
        }
        let want: HashSet<Vec<u8>> = (0..n).map(|i| format!("r{i}").into_bytes()).collect();
        loop {
            let got: HashSet<Vec<u8>> = s.ws_messages("replay").into_iter().collect();
            if want.is_subset(&got) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let st = socket.stats();
        assert!(
            st.reconnects >= 7,
            "400 messages, 50 per connection: {st:?}"
        );
        assert_eq!(st.possibly_lost, 0, "{st:?}");
        while let Some(e) = events.try_recv() {
            if let WsEvent::Disconnected(d) = e {
                assert_eq!(d.possibly_lost, 0);
            }
        }
        let unsent = socket.close(Duration::from_secs(2)).await;
        assert!(unsent.is_empty(), "{}", unsent.len());
    })
    .await;
}

#[tokio::test]
async fn a_slow_consumer_gets_back_pressure_then_everything_in_order() {
    let s = server();
    bounded(20, async {
        let mut socket = ws::builder(s.ws_url("/ws/echo"))
            .inbox(4)
            .connect()
            .await
            .unwrap();
        for i in 0..100 {
            socket.send(format!("m{i}")).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        // The connection stopped reading at the bound; the rest waits in the socket.
        assert_eq!(socket.stats().received, 4, "{:?}", socket.stats());
        for i in 0..100 {
            assert_eq!(socket.recv().await, Some(Message::text(format!("m{i}"))));
        }
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn a_consumer_that_lags_past_the_lag_timeout_restarts_the_connection() {
    let s = server();
    bounded(20, async {
        let mut socket = fast(s.ws_url("/ws/echo"))
            .inbox(2)
            .lag_timeout(Some(Duration::from_millis(200)))
            .connect()
            .await
            .unwrap();
        let mut events = socket.events();
        for i in 0..10 {
            socket.send(format!("m{i}")).await.unwrap();
        }
        let t0 = Instant::now();
        loop {
            if let Some(WsEvent::Disconnected(d)) = events.recv().await {
                assert!(
                    matches!(d.reason, DisconnectReason::Lagging),
                    "{:?}",
                    d.reason
                );
                break;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(3));
        // What was received before stays readable.
        assert_eq!(socket.recv().await, Some(Message::text("m0")));
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn large_messages_go_out_fragmented_and_come_back_whole() {
    let s = server();
    bounded(10, async {
        let mut socket = ws::builder(s.ws_url("/ws/echo"))
            .frame_size(1024)
            .connect()
            .await
            .unwrap();
        let big: String = (0..100_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        socket.send(Message::text(big.clone())).await.unwrap();
        assert_eq!(socket.recv().await, Some(Message::text(big)));
        // A message over max_message from the peer ends the connection (close code 1009).
        let mut small = ws::builder(s.ws_url("/ws/echo"))
            .max_message(1000)
            .reconnect(false)
            .connect()
            .await
            .unwrap();
        small.send(Message::binary(vec![0u8; 5000])).await.unwrap();
        assert_eq!(small.recv().await, None);
        let mut events = small.events();
        let mut reason = None;
        while let Some(e) = events.try_recv() {
            if let WsEvent::Disconnected(d) = e {
                reason = Some(d.reason);
            }
        }
        match reason {
            Some(DisconnectReason::Failed(e)) => assert!(e.is_websocket(), "{e}"),
            other => panic!("{other:?}"),
        }
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn a_401_handshake_is_fatal_after_exactly_one_attempt() {
    let s = server();
    bounded(10, async {
        let e = fast(s.ws_url("/ws/reject/401"))
            .connect()
            .await
            .unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(401), "{e}");
        assert_eq!(e.attempts(), 1);
        assert_eq!(s.hits("ws/reject"), 1);
    })
    .await;
}

#[tokio::test]
async fn a_503_with_retry_after_waits_at_least_that_long() {
    let s = server();
    bounded(10, async {
        let t0 = Instant::now();
        let e = fast(s.ws_url("/ws/reject/503?retry_after=1"))
            .max_attempts(Some(2))
            .connect()
            .await
            .unwrap_err();
        let took = t0.elapsed();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(503));
        assert!(e.is_retry_exhausted());
        assert_eq!(s.hits("ws/reject"), 2);
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_millis(3500),
            "{took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn the_producer_blocks_when_the_outbox_is_full() {
    let s = server();
    bounded(20, async {
        // The silent route never reads: once the socket buffers fill, writes stop.
        let socket = ws::builder(s.ws_url("/ws/silent"))
            .heartbeat(None)
            .outbox(4, 1 << 20)
            .connect()
            .await
            .unwrap();
        let big = vec![7u8; 256 * 1024];
        let mut full = false;
        for _ in 0..2000 {
            match socket.try_send(Message::binary(big.clone())) {
                Ok(()) => tokio::task::yield_now().await,
                Err(e) => {
                    assert!(e.error().is_outbox_full(), "{e}");
                    assert_eq!(e.into_message().len(), big.len());
                    full = true;
                    break;
                }
            }
        }
        assert!(full, "the outbox never filled");
        let blocked = tokio::time::timeout(
            Duration::from_millis(300),
            socket.send(Message::binary(big.clone())),
        )
        .await;
        assert!(blocked.is_err(), "send must wait while the outbox is full");
        let unsent = socket.close(Duration::from_millis(200)).await;
        assert!(
            unsent.len() >= 4,
            "the queued messages come back: {}",
            unsent.len()
        );
    })
    .await;
}

#[tokio::test]
async fn close_flushes_everything_queued() {
    let s = server();
    bounded(10, async {
        let socket = ws::connect(s.ws_url("/ws/count/flush")).await.unwrap();
        for i in 0..200 {
            socket.send(format!("c{i}")).await.unwrap();
        }
        let unsent = socket.close(Duration::from_secs(5)).await;
        assert!(unsent.is_empty());
        assert_eq!(s.ws_count("flush"), 200);
    })
    .await;
}

#[tokio::test]
async fn the_on_connect_hook_goes_first_then_the_queue_is_replayed() {
    let s = server();
    bounded(20, async {
        let client = Client::new();
        let mut socket = client
            .websocket(s.ws_url("/ws/drop/2?key=hook"))
            .backoff(Duration::from_millis(20), Duration::from_millis(50))
            .on_connect(|info| async move {
                Ok(vec![Message::text(format!(
                    "auth{}",
                    u8::from(info.reconnect)
                ))])
            })
            .connect()
            .await
            .unwrap();
        // "auth0" and "x" are echoed, then the server drops; "y" goes after "auth1".
        socket.send("x").await.unwrap();
        assert_eq!(socket.recv().await, Some(Message::text("auth0")));
        assert_eq!(socket.recv().await, Some(Message::text("x")));
        while socket.stats().reconnects == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        socket.send("y").await.unwrap();
        assert_eq!(socket.recv().await, Some(Message::text("auth1")));
        assert_eq!(socket.recv().await, Some(Message::text("y")));
        let seen: Vec<String> = s
            .ws_messages("hook")
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect();
        assert_eq!(seen, ["auth0", "x", "auth1", "y"]);
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn a_peer_close_code_1008_is_fatal_and_1011_reconnects() {
    let s = server();
    bounded(10, async {
        let mut socket = fast(s.ws_url("/ws/close/1008")).connect().await.unwrap();
        socket.send("trigger").await.unwrap();
        assert_eq!(socket.recv().await, None, "closed for good");
        let mut events = socket.events();
        let mut closed = None;
        while let Some(e) = events.recv().await {
            if let WsEvent::Closed(c) = e {
                closed = Some(c);
                break;
            }
        }
        assert!(
            matches!(
                closed,
                Some(Closed::Fatal(DisconnectReason::ClosedByPeer {
                    code: 1008,
                    ..
                }))
            ),
            "{closed:?}"
        );

        let mut socket = fast(s.ws_url("/ws/close/1011")).connect().await.unwrap();
        socket.send("trigger").await.unwrap();
        let mut events = socket.events();
        loop {
            if let Some(WsEvent::Reconnecting { attempt, .. }) = events.recv().await {
                assert_eq!(attempt, 2);
                break;
            }
        }
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[tokio::test]
async fn a_read_deadline_restarts_a_quiet_connection() {
    let s = server();
    bounded(10, async {
        let mut socket = ws::builder(s.ws_url("/ws/echo"))
            .read_deadline(Some(Duration::from_millis(300)))
            .reconnect(false)
            .connect()
            .await
            .unwrap();
        let t0 = Instant::now();
        assert_eq!(socket.recv().await, None);
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_millis(280) && took < Duration::from_millis(2500),
            "{took:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn bad_urls_and_refused_connections_are_typed_errors() {
    for url in ["ftp://x/", "ws://", "not a url", "ws:///path"] {
        let e = ws::builder(url).connect().await.unwrap_err();
        assert!(e.is_builder(), "{url}: {e}");
    }
    // A port nobody listens on: refused, retried under the policy, then given up.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = bounded(
        10,
        fast(format!("ws://127.0.0.1:{port}/"))
            .max_attempts(Some(3))
            .connect(),
    )
    .await
    .unwrap_err();
    assert!(e.is_connect(), "{e}");
    assert_eq!(e.attempts(), 3);
    assert!(e.is_retry_exhausted());
    let e = bounded(
        10,
        ws::builder(s_heartbeat_url())
            .reconnect(false)
            .handshake_timeout(Duration::from_millis(300))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read), "{e}");
}

/// A raw server that accepts and never answers the upgrade request.
fn s_heartbeat_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let _conns: Vec<_> = l.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(5));
    });
    format!("ws://{addr}/")
}

#[tokio::test]
async fn wss_over_the_clients_tls_settings() {
    let s = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    bounded(10, async {
        let client = Client::builder()
            .add_root_certificate(
                tenax::tls::Certificate::from_pem(s.ca_pem().unwrap().as_bytes()).unwrap(),
            )
            .build()
            .unwrap();
        let mut socket = client
            .websocket(s.ws_url("/ws/echo"))
            .connect()
            .await
            .unwrap();
        socket.send("over tls").await.unwrap();
        assert_eq!(socket.recv().await, Some(Message::text("over tls")));
        socket.close(Duration::from_secs(1)).await;
    })
    .await;
}

#[test]
fn handles_are_send_and_sync() {
    fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<ws::WebSocket>();
    is_send_sync::<ws::WsSender>();
    is_send_sync::<ws::WsBuilder>();
}

/// Malformed or hostile handshake answers from a scripted server: a typed error each, never a
/// hang or a panic.
#[tokio::test]
async fn malformed_handshake_answers_are_typed_errors() {
    use tenax_chaos::{RawServer, RawStep};
    let cases: Vec<(&str, Vec<RawStep>)> = vec![
        (
            "101 without Sec-WebSocket-Accept",
            vec![
                RawStep::write(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                ),
                RawStep::Close,
            ],
        ),
        (
            "101 with a wrong accept key",
            vec![
                RawStep::write(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n",
                ),
                RawStep::Close,
            ],
        ),
        (
            "not HTTP",
            vec![RawStep::write("SSH-2.0-OpenSSH\r\n\r\n"), RawStep::Close],
        ),
        (
            "a head larger than 16 KiB",
            vec![RawStep::write(format!(
                "HTTP/1.1 101 Switching Protocols\r\nX-Big: {}\r\n\r\n",
                "a".repeat(20_000)
            ))],
        ),
        ("closed without answering", vec![RawStep::Close]),
        ("reset", vec![RawStep::Reset]),
    ];
    for (what, script) in cases {
        let server = RawServer::start(script).await.unwrap();
        let url = format!("ws://{}/", server.addr());
        let e = bounded(5, ws::builder(url).reconnect(false).connect())
            .await
            .unwrap_err();
        assert!(e.is_websocket() || e.is_recv(), "{what}: {e}");
    }
    // A server that accepts and never answers: the handshake timeout.
    let server = RawServer::start(vec![RawStep::Sleep(Duration::from_secs(10))])
        .await
        .unwrap();
    let e = bounded(
        5,
        ws::builder(format!("ws://{}/", server.addr()))
            .reconnect(false)
            .handshake_timeout(Duration::from_millis(300))
            .connect(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.timeout_phase(), Some(TimeoutPhase::Read), "{e}");
}

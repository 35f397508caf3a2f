//! WebSocket compression (permessage-deflate) against tenax-chaos's compressing echo: agreed,
//! messages of every size intact, fewer bytes on the wire, and a deflate bomb stopped at the
//! cap.

use std::time::Duration;

use tenax::ws::{self, Closed, Compression, DisconnectReason, Message, WsEvent};

use crate::support::{bounded, json_ticks, server};

#[tokio::test]
async fn compression_is_agreed_and_messages_of_64_bytes_to_4_mib_echo_intact() {
    let s = server();
    bounded(async {
        let agreed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = agreed.clone();
        let mut socket = ws::builder(s.ws_url("/ws/echo"))
            .compression(Compression::default())
            .on_connect(move |info| {
                seen.store(info.compressed, std::sync::atomic::Ordering::Relaxed);
                async { Ok(Vec::new()) }
            })
            .connect()
            .await
            .unwrap();
        assert!(
            agreed.load(std::sync::atomic::Ordering::Relaxed),
            "the server agreed"
        );
        let mut sent = Vec::new();
        for n in [64usize, 1000, 64 << 10, 1 << 20, 4 << 20] {
            sent.push(Message::text(json_ticks(n)));
        }
        let noise: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        sent.push(Message::binary(noise));
        for m in &sent {
            socket.send(m.clone()).await.unwrap();
        }
        for m in &sent {
            assert_eq!(socket.recv().await.as_ref(), Some(m));
        }
        let (messages, wire) = s.ws_compression_bytes();
        assert!(messages > 10 << 20, "{messages}");
        // JSON shrinks several times over; the random part not at all.
        assert!(wire * 3 < messages, "{wire} on the wire for {messages}");
        socket.close(Duration::from_secs(2)).await;
    })
    .await;
}

#[tokio::test]
async fn without_an_offer_nothing_is_compressed() {
    let s = server();
    bounded(async {
        let mut socket = ws::connect(s.ws_url("/ws/echo")).await.unwrap();
        socket
            .send(Message::text(json_ticks(10_000)))
            .await
            .unwrap();
        assert_eq!(socket.recv().await, Some(Message::text(json_ticks(10_000))));
        assert_eq!(s.ws_compression_bytes(), (0, 0), "the plain echo served it");
        socket.close(Duration::from_secs(2)).await;
    })
    .await;
}

#[tokio::test]
async fn a_deflate_bomb_stops_at_the_message_cap_with_a_typed_error() {
    let s = server();
    bounded(async {
        // 64 MiB of zeros in one compressed message of a few dozen KiB; the cap is 1 MiB.
        let mut socket = ws::builder(s.ws_url(&format!("/ws/echo?bomb={}", 64 << 20)))
            .compression(Compression::default())
            .max_message(1 << 20)
            .reconnect(false)
            .connect()
            .await
            .unwrap();
        let mut events = socket.events();
        assert_eq!(
            socket.recv().await,
            None,
            "nothing of the bomb is delivered"
        );
        let mut reason = None;
        while let Some(e) = events.recv().await {
            if let WsEvent::Closed(c) = e {
                reason = Some(c);
                break;
            }
        }
        match reason.as_ref().and_then(Closed::reason) {
            Some(DisconnectReason::Failed(e)) => {
                assert!(e.is_websocket(), "{e}");
                let text = crate::support::chain(e);
                assert!(text.contains("over the limit of 1048576"), "{text}");
            }
            _ => panic!("{reason:?}"),
        }
    })
    .await;
}

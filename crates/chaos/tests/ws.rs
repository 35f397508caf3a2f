//! The WebSocket routes, driven by tokio-tungstenite's client.

mod support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tenax_chaos::ChaosServer;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

type Ws = WebSocketStream<TcpStream>;

async fn ws_connect(s: &ChaosServer, path: &str) -> Result<Ws, WsError> {
    let tcp = TcpStream::connect(s.addr()).await.unwrap();
    let req = s.ws_url(path).into_client_request().unwrap();
    let (ws, _res) = tokio_tungstenite::client_async(req, tcp).await?;
    Ok(ws)
}

async fn next(ws: &mut Ws) -> Option<Result<Message, WsError>> {
    tokio::time::timeout(support::BOUND, ws.next())
        .await
        .expect("bounded")
}

#[tokio::test]
async fn echo_echoes_text_and_binary_and_closes_cleanly() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut ws = ws_connect(&s, "/ws/echo").await.unwrap();
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        next(&mut ws).await.unwrap().unwrap(),
        Message::text("hello")
    );
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(
        next(&mut ws).await.unwrap().unwrap(),
        Message::binary(vec![1u8, 2, 3])
    );
    ws.send(Message::Ping("p".into())).await.unwrap();
    assert_eq!(
        next(&mut ws).await.unwrap().unwrap(),
        Message::Pong("p".into())
    );
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = next(&mut ws).await {}
    assert_eq!(s.hits("ws/echo"), 1);
}

#[tokio::test]
async fn subprotocol_is_agreed() {
    let s = ChaosServer::builder().start().await.unwrap();
    let tcp = TcpStream::connect(s.addr()).await.unwrap();
    let mut req = s.ws_url("/ws/echo").into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "chat.v2, chat.v1".parse().unwrap(),
    );
    let (_ws, res) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    assert_eq!(res.headers()["sec-websocket-protocol"], "chat.v2");
}

#[tokio::test]
async fn silent_never_answers_pings() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut ws = ws_connect(&s, "/ws/silent").await.unwrap();
    ws.send(Message::Ping("are you there".into()))
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(1), ws.next()).await;
    assert!(got.is_err(), "the silent peer answered: {got:?}");
}

#[tokio::test]
async fn close_sends_the_code_after_the_first_message() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut ws = ws_connect(&s, "/ws/close/4000").await.unwrap();
    ws.send(Message::text("first")).await.unwrap();
    match next(&mut ws).await.unwrap().unwrap() {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::from(4000)),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn drop_closes_tcp_without_a_close_frame_after_n_messages() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut ws = ws_connect(&s, "/ws/drop/2").await.unwrap();
    for i in 0..2 {
        ws.send(Message::text(format!("m{i}"))).await.unwrap();
        assert_eq!(
            next(&mut ws).await.unwrap().unwrap(),
            Message::text(format!("m{i}"))
        );
    }
    ws.send(Message::text("m2")).await.ok();
    match next(&mut ws).await {
        Some(Err(WsError::Protocol(_))) | Some(Err(WsError::Io(_))) | None => {}
        other => panic!("expected the stream to end without a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn reject_answers_the_handshake_with_a_status() {
    let s = ChaosServer::builder().start().await.unwrap();
    match ws_connect(&s, "/ws/reject/503?retry_after=3").await {
        Err(WsError::Http(res)) => {
            assert_eq!(res.status().as_u16(), 503);
            assert_eq!(res.headers()["retry-after"], "3");
        }
        other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
    }
    match ws_connect(&s, "/ws/reject/401").await {
        Err(WsError::Http(res)) => assert_eq!(res.status().as_u16(), 401),
        other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn count_counts_messages_per_key() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut a = ws_connect(&s, "/ws/count/a").await.unwrap();
    let mut b = ws_connect(&s, "/ws/count/b").await.unwrap();
    for i in 0..3 {
        a.send(Message::text(format!("{i}"))).await.unwrap();
        next(&mut a).await.unwrap().unwrap();
    }
    b.send(Message::text("x")).await.unwrap();
    next(&mut b).await.unwrap().unwrap();
    // Control frames are not counted.
    a.send(Message::Ping("p".into())).await.unwrap();
    next(&mut a).await.unwrap().unwrap();
    assert_eq!(s.ws_count("a"), 3);
    assert_eq!(s.ws_count("b"), 1);
    assert_eq!(s.ws_count("c"), 0);
}

#[tokio::test]
async fn a_plain_request_to_a_ws_route_is_refused() {
    let s = ChaosServer::builder().start().await.unwrap();
    let r = support::get(s.addr(), "/ws/echo").await;
    assert_eq!(r.status.as_u16(), 400);
}

#[tokio::test]
async fn shutdown_ends_upgraded_connections() {
    let s = ChaosServer::builder().start().await.unwrap();
    let mut ws = ws_connect(&s, "/ws/silent").await.unwrap();
    let t = Instant::now();
    s.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(3), ws.next()).await;
    assert!(matches!(end, Ok(None) | Ok(Some(Err(_)))), "{end:?}");
    assert!(t.elapsed() < Duration::from_secs(4));
}

//! WebSocket routes, served by tokio-tungstenite over a hyper upgrade.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::body;
use crate::query::Query;
use crate::routes::{RouteResult, bad, seg, text};
use crate::server::Shared;

enum Behaviour {
    Echo,
    Silent,
    CloseAfterFirst(u16),
    /// Echo `n` messages, then drop the TCP connection; counted under a key if one is given.
    DropAfter(u64, Option<String>),
    Count(String),
}

type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

pub(crate) fn handle(
    req: Request<Incoming>,
    segs: &[&str],
    q: &Query,
    shared: &Arc<Shared>,
) -> RouteResult {
    let behaviour = match segs {
        ["ws", "reject", status] => return reject(status, q),
        ["ws", "echo"] => Behaviour::Echo,
        ["ws", "silent"] => Behaviour::Silent,
        ["ws", "close", code] => Behaviour::CloseAfterFirst(seg(code, "close code")?),
        ["ws", "drop", n] => {
            Behaviour::DropAfter(seg(n, "message count")?, q.get("key").map(str::to_owned))
        }
        ["ws", "count", key] => Behaviour::Count((*key).to_string()),
        _ => return Err((StatusCode::NOT_FOUND, "no such WebSocket route".into())),
    };

    let h = req.headers();
    let is_upgrade = h
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !is_upgrade {
        return Err(bad(
            "this route needs a WebSocket handshake (Upgrade: websocket)",
        ));
    }
    if h.get(header::SEC_WEBSOCKET_VERSION).map(|v| v.as_bytes()) != Some(b"13") {
        return Err(bad("Sec-WebSocket-Version must be 13"));
    }
    let key = h
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| bad("missing Sec-WebSocket-Key"))?;
    let accept = derive_accept_key(key.as_bytes());
    // Agree to the first subprotocol the client offers, if any.
    let protocol = h
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());

    // `?greet_cookie=1`: the first message is the handshake's `Cookie` header ("" for none).
    let greet = q.flag("greet_cookie").then(|| {
        h.get(header::COOKIE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
    });
    let set_cookies: Vec<HeaderValue> = q
        .all("set_cookie")
        .filter_map(|c| HeaderValue::from_str(c).ok())
        .collect();

    // permessage-deflate, when offered to the echo route: a frame loop of our own.
    let deflate = matches!(behaviour, Behaviour::Echo)
        .then(|| h.get(header::SEC_WEBSOCKET_EXTENSIONS))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(crate::ws_deflate::answer);
    let bomb: Option<usize> = q.get("bomb").and_then(|n| n.parse().ok());

    let shared = shared.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        if deflate.is_some() {
            tokio::select! {
                _ = crate::ws_deflate::serve(upgraded, &shared.stats.ws_deflate, bomb) => {}
                _ = shared.shutdown_signal() => {}
            }
            return;
        }
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        if let Some(cookie) = greet
            && ws.send(Message::text(cookie)).await.is_err()
        {
            return;
        }
        tokio::select! {
            _ = run(behaviour, ws, &shared) => {}
            _ = shared.shutdown_signal() => {}
        }
    });

    let mut res = Response::new(body::empty());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64"),
    );
    if let Some(p) = protocol.and_then(|p| HeaderValue::from_str(&p).ok()) {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, p);
    }
    if let Some(ext) = deflate {
        h.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static(ext),
        );
    }
    // `?set_cookie=V` (repeatable): a `Set-Cookie: V` on the 101.
    for c in set_cookies {
        h.append(header::SET_COOKIE, c);
    }
    Ok(res)
}

fn reject(status: &str, q: &Query) -> RouteResult {
    let code: u16 = seg(status, "status code")?;
    let status = StatusCode::from_u16(code)
        .ok()
        .filter(|s| s.as_u16() >= 200)
        .ok_or_else(|| bad(format!("status {code} is not a final status")))?;
    let mut res = text(status, format!("handshake rejected with {status}\n"));
    if let Some(ra) = q.get("retry_after") {
        let v = HeaderValue::from_str(ra).map_err(|_| bad("retry_after is not a header value"))?;
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(res)
}

async fn run(behaviour: Behaviour, mut ws: Ws, shared: &Shared) {
    let mut echoed = 0u64;
    match behaviour {
        Behaviour::Silent => {
            // Never read (so pings go unanswered) and never write, until shutdown.
            shared.shutdown_signal().await;
        }
        Behaviour::DropAfter(0, _) => drop(ws),
        Behaviour::Echo
        | Behaviour::Count(_)
        | Behaviour::DropAfter(..)
        | Behaviour::CloseAfterFirst(_) => {
            while let Some(Ok(msg)) = ws.next().await {
                // Control frames: tungstenite answers pings and closes by itself.
                if !(msg.is_text() || msg.is_binary()) {
                    continue;
                }
                match &behaviour {
                    Behaviour::Count(key) | Behaviour::DropAfter(_, Some(key)) => {
                        shared.stats.ws_message(key, &msg.clone().into_data())
                    }
                    Behaviour::CloseAfterFirst(code) => {
                        let frame = CloseFrame {
                            code: CloseCode::from(*code),
                            reason: "tenax-chaos closing on request".into(),
                        };
                        let _ = ws.send(Message::Close(Some(frame))).await;
                        // Wait (bounded) for the client's closing handshake.
                        let _ = tokio::time::timeout(Duration::from_secs(5), async {
                            while let Some(Ok(_)) = ws.next().await {}
                        })
                        .await;
                        return;
                    }
                    _ => {}
                }
                if ws.send(msg).await.is_err() {
                    return;
                }
                echoed += 1;
                if matches!(behaviour, Behaviour::DropAfter(n, _) if echoed >= n) {
                    // TCP close without a close frame.
                    drop(ws);
                    return;
                }
            }
        }
    }
}

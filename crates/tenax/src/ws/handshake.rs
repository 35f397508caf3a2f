//! The opening handshake (RFC 6455 §4), written here rather than in the codec so that a
//! rejection keeps its status and `Retry-After`, and bytes the server sends right after its
//! 101 are not lost.

use std::io;
use std::time::SystemTime;

use base64::Engine as _;
use http::{HeaderMap, StatusCode, Uri};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::deflate::{self, Agreed, Compression};
use super::event::DisconnectReason;
use super::io::WsIo;
use crate::error::{Error, Kind};
use crate::h1_head::HeadError;
use crate::retry::parse_retry_after;

/// The largest response head accepted.
const MAX_HEAD: usize = 16 * 1024;

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Headers the handshake sets itself; the same names among the user's headers are skipped.
const OWN: [&str; 7] = [
    "host",
    "sec-websocket-extensions",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
];

/// The value of `Sec-WebSocket-Accept` for a key.
pub(crate) fn accept_for(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_bytes());
    ctx.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(ctx.finish())
}

/// The upgrade request's bytes.
fn request(
    uri: &Uri,
    key: &str,
    headers: &HeaderMap,
    protocols: &[String],
    compression: Option<&Compression>,
) -> Vec<u8> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // Host and port only: user information never goes on the wire.
    let host = match uri.port() {
        Some(p) => format!("{}:{p}", uri.host().unwrap_or("")),
        None => uri.host().unwrap_or("").to_string(),
    };
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"GET ");
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\r\nSec-WebSocket-Version: 13\r\n");
    if let Some(c) = compression {
        out.extend_from_slice(b"Sec-WebSocket-Extensions: ");
        out.extend_from_slice(deflate::offer(c).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !protocols.is_empty() {
        out.extend_from_slice(b"Sec-WebSocket-Protocol: ");
        out.extend_from_slice(protocols.join(", ").as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        if OWN.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn invalid(msg: impl Into<String>) -> DisconnectReason {
    DisconnectReason::Failed(std::sync::Arc::new(
        Error::new(Kind::WebSocket)
            .with_what("in the handshake")
            .with_source(msg.into()),
    ))
}

fn io_failed(e: io::Error) -> DisconnectReason {
    DisconnectReason::Failed(std::sync::Arc::new(
        Error::new(Kind::Recv)
            .with_what("during the WebSocket handshake")
            .with_source(e),
    ))
}

/// What a handshake asks for beyond the URL.
pub(crate) struct Asks<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) protocols: &'a [String],
    pub(crate) compression: Option<&'a Compression>,
    pub(crate) cookies: &'a crate::client::cookies::Cookies,
}

/// What the server agreed to.
pub(crate) struct Agreement {
    pub(crate) protocol: Option<String>,
    pub(crate) compression: Option<Agreed>,
}

/// Sends the upgrade request and reads the answer: the stream (with any bytes read past the
/// head) and what the server agreed to, or why it did not switch protocols.
pub(crate) async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut io: S,
    uri: &Uri,
    asks: Asks<'_>,
) -> Result<(WsIo<S>, Agreement), DisconnectReason> {
    let Asks {
        headers,
        protocols,
        compression,
        cookies,
    } = asks;
    let key = base64::engine::general_purpose::STANDARD.encode(fastrand::u128(..).to_le_bytes());
    io.write_all(&request(uri, &key, headers, protocols, compression))
        .await
        .map_err(io_failed)?;
    io.flush().await.map_err(io_failed)?;

    let head = crate::h1_head::read(&mut io, MAX_HEAD, true)
        .await
        .map_err(|e| match e {
            HeadError::Io(e) => io_failed(e),
            other => invalid(other.to_string()),
        })?;
    let code = head.status;
    cookies.keep(uri, &head.headers);
    let header = |name: &str| {
        head.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
    };
    if code != 101 {
        let status = StatusCode::from_u16(code)
            .map_err(|_| invalid(format!("invalid status code {code}")))?;
        let retry_after =
            header("retry-after").and_then(|v| parse_retry_after(&v, SystemTime::now()));
        return Err(DisconnectReason::Rejected {
            status,
            retry_after,
        });
    }
    if !header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        return Err(invalid("101 without `Upgrade: websocket`"));
    }
    if !header("connection").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
    }) {
        return Err(invalid("101 without `Connection: upgrade`"));
    }
    if header("sec-websocket-accept").as_deref() != Some(accept_for(&key).as_str()) {
        return Err(invalid("Sec-WebSocket-Accept does not match the key sent"));
    }
    let agreed = match (
        header("sec-websocket-extensions").filter(|e| !e.is_empty()),
        compression,
    ) {
        (None, _) => None,
        (Some(ext), Some(offered)) => Some(deflate::accept(&ext, offered).map_err(invalid)?),
        (Some(ext), None) => {
            return Err(invalid(format!(
                "the server chose an extension that was not offered: {ext}"
            )));
        }
    };
    let protocol = header("sec-websocket-protocol").filter(|p| !p.is_empty());
    if let Some(p) = &protocol
        && !protocols.iter().any(|o| o == p)
    {
        return Err(invalid(format!(
            "the server chose the subprotocol {p:?}, which was not offered"
        )));
    }
    // Bytes that came after the head belong to the first frames: split off on their own, so
    // that the 1 KiB read buffer is not kept for the life of the connection (memory per idle
    // connection); usually there are none.
    Ok((
        WsIo::new(head.rest, io),
        Agreement {
            protocol,
            compression: agreed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_matches_rfc_6455_example() {
        // RFC 6455 §1.3.
        assert_eq!(
            accept_for("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn the_request_skips_user_headers_the_handshake_owns() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer t".parse().unwrap());
        h.insert("upgrade", "h2c".parse().unwrap());
        let uri: Uri = "ws://127.0.0.1:9/chat?room=1".parse().unwrap();
        let offer = Compression::default();
        let protocols = ["v1".into(), "v2".into()];
        let req = String::from_utf8(request(&uri, "k", &h, &protocols, Some(&offer))).unwrap();
        assert!(
            req.contains(
                "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            )
        );
        assert!(req.starts_with("GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n"));
        assert!(req.contains("authorization: Bearer t\r\n"));
        assert!(req.contains("Sec-WebSocket-Protocol: v1, v2\r\n"));
        assert!(!req.contains("h2c"));
        assert!(req.ends_with("\r\n\r\n"));
    }
}

//! An HTTP/1.1 response head read by hand, where hyper does not read it: a proxy's answer to
//! `CONNECT` and a WebSocket server's answer to the upgrade. One reader for both: a size
//! limit, `httparse` for the status line and headers, and the bytes read past the head.

use std::io;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt};

/// A response head, and what came after it.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    /// The status line's reason phrase.
    pub(crate) reason: String,
    pub(crate) headers: HeaderMap,
    /// Bytes read past the head (none when reading byte by byte).
    pub(crate) rest: Vec<u8>,
}

/// Why no head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The peer closed the connection; `answered`: in the middle of its head.
    Closed {
        answered: bool,
    },
    /// The head passed the size limit.
    TooLarge(usize),
    /// What came is not an HTTP/1.x response head.
    Invalid(String),
    Io(io::Error),
}

impl std::fmt::Display for HeadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeadError::Closed { answered: false } => {
                f.write_str("the server closed the connection without answering")
            }
            HeadError::Closed { answered: true } => {
                f.write_str("the server closed the connection in the middle of its answer")
            }
            HeadError::TooLarge(max) => write!(f, "the response head is larger than {max} bytes"),
            HeadError::Invalid(why) => write!(f, "invalid response head: {why}"),
            HeadError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// How to read: `ahead`: in chunks, keeping what comes after the head (a WebSocket's first
/// frames); otherwise byte by byte, so that nothing past the head is consumed (a tunnel's
/// first bytes belong to what runs inside it).
pub(crate) async fn read<S: AsyncRead + Unpin>(
    io: &mut S,
    max: usize,
    ahead: bool,
) -> Result<ResponseHead, HeadError> {
    let mut buf = Vec::with_capacity(if ahead { 1024 } else { 128 });
    let end = loop {
        if let Some(end) = head_end(&buf) {
            break end;
        }
        if buf.len() >= max {
            return Err(HeadError::TooLarge(max));
        }
        let n = if ahead {
            io.read_buf(&mut buf).await
        } else {
            let mut b = [0u8; 1];
            io.read(&mut b)
                .await
                .inspect(|&n| buf.extend_from_slice(&b[..n]))
        };
        if n.map_err(HeadError::Io)? == 0 {
            return Err(HeadError::Closed {
                answered: !buf.is_empty(),
            });
        }
    };
    let rest = buf.split_off(end);
    parse(&buf).map(|(status, reason, headers)| ResponseHead {
        status,
        reason,
        headers,
        rest,
    })
}

fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn parse(head: &[u8]) -> Result<(u16, String, HeaderMap), HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut res = httparse::Response::new(&mut slots);
    match res.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HeadError::Invalid("incomplete".into())),
        Err(e) => return Err(HeadError::Invalid(e.to_string())),
    }
    let mut headers = HeaderMap::with_capacity(res.headers.len());
    for h in res.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| HeadError::Invalid(format!("header name {:?}", h.name)))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| HeadError::Invalid(format!("value of {name}")))?;
        headers.append(name, value);
    }
    let status = res.code.unwrap_or(0);
    Ok((status, res.reason.unwrap_or("").to_string(), headers))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn heads_are_read_with_or_without_reading_ahead() {
        let wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nFRAME".to_vec();
        let head = read(&mut &wire[..], 1024, true).await.unwrap();
        assert_eq!(
            (head.status, head.reason.as_str()),
            (101, "Switching Protocols")
        );
        assert_eq!(head.headers["upgrade"], "websocket");
        assert_eq!(head.rest, b"FRAME");
        let mut io = &wire[..];
        let head = read(&mut io, 1024, false).await.unwrap();
        assert!(head.rest.is_empty());
        assert_eq!(io, b"FRAME", "nothing past the head was consumed");
    }

    #[tokio::test]
    async fn closes_limits_and_garbage_are_told_apart() {
        let e = read(&mut &b""[..], 1024, true).await.unwrap_err();
        assert!(matches!(e, HeadError::Closed { answered: false }), "{e}");
        let e = read(&mut &b"HTTP/1.1 200"[..], 1024, false)
            .await
            .unwrap_err();
        assert!(matches!(e, HeadError::Closed { answered: true }), "{e}");
        let long = vec![b'a'; 4096];
        let e = read(&mut &long[..], 1024, true).await.unwrap_err();
        assert!(matches!(e, HeadError::TooLarge(1024)), "{e}");
        let e = read(&mut &b"SSH-2.0\r\n\r\n"[..], 1024, true)
            .await
            .unwrap_err();
        assert!(matches!(e, HeadError::Invalid(_)), "{e}");
    }
}

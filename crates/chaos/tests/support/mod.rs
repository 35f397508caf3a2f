//! Plain clients for driving tenax-chaos in tests: hyper's low-level conn API for well-formed
//! exchanges, raw TCP where the fault itself (reset, truncation, stall) is what we look at.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Every exchange in these tests is bounded by this.
pub const BOUND: Duration = Duration::from_secs(20);

pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("body is JSON")
    }
}

/// One HTTP/1.1 request on a fresh connection, with hyper's client conn API.
pub async fn send(addr: SocketAddr, req: Request<Full<Bytes>>) -> Result<Reply, hyper::Error> {
    tokio::time::timeout(BOUND, async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        let res = tx.send_request(req).await?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    })
    .await
    .expect("exchange bounded in time")
}

pub fn request(method: &str, path: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
}

pub async fn get(addr: SocketAddr, path: &str) -> Reply {
    send(addr, request("GET", path).body(Full::default()).unwrap())
        .await
        .expect("GET succeeds")
}

/// One request over HTTP/2 with prior knowledge (h2c).
pub async fn h2c_get(addr: SocketAddr, path: &str) -> Reply {
    tokio::time::timeout(BOUND, async move {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut tx, conn) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            TokioIo::new(tcp),
        )
        .await
        .expect("h2 handshake");
        tokio::spawn(conn);
        let req = Request::builder()
            .uri(format!("http://{addr}{path}"))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let res = tx.send_request(req).await.expect("h2 request");
        let (parts, body) = res.into_parts();
        let body = body.collect().await.expect("h2 body").to_bytes();
        Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        }
    })
    .await
    .expect("exchange bounded in time")
}

/// How a raw read ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// FIN: read returned 0.
    Eof,
    /// RST: ECONNRESET.
    Reset,
    /// Nothing more arrived within the wait.
    Silent,
}

/// Raw bytes of a response: its head (up to the blank line) and whatever body followed.
pub struct Raw {
    pub head: String,
    pub body: Vec<u8>,
    pub end: End,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Writes `request` on a fresh connection and reads until EOF, reset, or `wait` of silence.
pub async fn raw(addr: SocketAddr, request: &str, wait: Duration) -> Raw {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    raw_read(&mut tcp, wait).await
}

pub async fn raw_read(tcp: &mut TcpStream, wait: Duration) -> Raw {
    let mut all = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        match tokio::time::timeout(wait, tcp.read(&mut buf)).await {
            Err(_) => break End::Silent,
            Ok(Ok(0)) => break End::Eof,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => break End::Reset,
            Ok(Err(e)) => panic!("unexpected read error: {e}"),
        }
    };
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(all.len());
    Raw {
        head: String::from_utf8_lossy(&all[..split]).into_owned(),
        body: all[split..].to_vec(),
        end,
    }
}

pub fn get_close(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
}

/// Polls `cond` every 10 ms until it holds; panics after 5 s.
pub async fn wait_until(mut cond: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < give_up,
            "condition not met within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

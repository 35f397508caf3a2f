//! A server that answers every connection with scripted bytes: malformed responses, early
//! closes and resets that a real HTTP server would never produce.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Error;

/// The most request-head bytes a raw server reads before it runs its script anyway.
const MAX_HEAD: usize = 64 * 1024;
/// How long a raw server waits for the request head before it runs its script anyway.
const HEAD_WAIT: Duration = Duration::from_secs(5);

/// One step of a raw server's script.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum RawStep {
    /// Write these bytes (and flush).
    Write(Bytes),
    /// Wait this long.
    Sleep(Duration),
    /// Close the connection with FIN.
    Close,
    /// Close the connection with RST.
    Reset,
    /// Read what the client sends until a whole HTTP/2 frame of this type has arrived (see
    /// [`h2`](crate::h2); the rest of the client's preface is skipped).
    AwaitH2Frame(u8),
    /// From now on, answer every HTTP/2 request (each HEADERS frame's stream) with a 200 and
    /// these bytes, until the client goes away: a well-behaved server after scripted faults.
    AnswerH2(Bytes),
}

impl RawStep {
    /// A [`RawStep::Write`] of these bytes.
    pub fn write(bytes: impl Into<Bytes>) -> RawStep {
        RawStep::Write(bytes.into())
    }
}

/// A loopback server that reads each request head (up to the blank line, 64 KiB or 5 s) and
/// then plays its script. A script that ends without `Close` or `Reset` keeps the connection
/// open until the client closes it or the server is dropped. The heads it read are kept, in
/// the order they arrived ([`heads`](Self::heads)): what a client really put on the wire.
pub struct RawServer {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
    heads: Arc<Mutex<Vec<Bytes>>>,
    _shutdown: watch::Sender<bool>,
}

impl RawServer {
    /// Starts a raw server on `127.0.0.1:0` on the current tokio runtime.
    pub async fn start(script: Vec<RawStep>) -> Result<RawServer, Error> {
        RawServer::start_each(vec![script]).await
    }

    /// A raw server whose `k`-th connection (from 0) plays `scripts[k]`, and every connection
    /// after the last script plays the last one: a fault on the first connection, say, and a
    /// normal answer on the one a client opens to try again.
    pub async fn start_each(scripts: Vec<Vec<RawStep>>) -> Result<RawServer, Error> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|e| Error::io("binding the raw server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let (tx, rx) = watch::channel(false);
        let connections = Arc::new(AtomicU64::new(0));
        let scripts: Arc<[Vec<RawStep>]> = scripts.into();
        let count = connections.clone();
        let heads: Arc<Mutex<Vec<Bytes>>> = Arc::default();
        let kept = heads.clone();
        tokio::spawn(async move {
            let mut stop = rx.clone();
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    res = listener.accept() => {
                        let Ok((stream, _)) = res else { continue };
                        let k = count.fetch_add(1, Ordering::Relaxed) as usize;
                        let (scripts, mut stop) = (scripts.clone(), rx.clone());
                        let kept = kept.clone();
                        tokio::spawn(async move {
                            let script = &scripts[k.min(scripts.len().saturating_sub(1))];
                            tokio::select! {
                                _ = play(stream, script, &kept) => {}
                                _ = stop.changed() => {}
                            }
                        });
                    }
                }
            }
        });
        Ok(RawServer {
            addr,
            connections,
            heads,
            _shutdown: tx,
        })
    }

    /// A raw server that writes `bytes` and closes.
    pub async fn reply(bytes: impl Into<Bytes>) -> Result<RawServer, Error> {
        RawServer::start(vec![RawStep::write(bytes), RawStep::Close]).await
    }

    /// The address the raw server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The request heads read so far (request line and headers, up to the blank line), in the
    /// order they arrived: one per connection.
    pub fn heads(&self) -> Vec<Bytes> {
        self.heads.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// How many connections the raw server has accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for RawServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Reads the request head; returns it and what arrived after it.
async fn read_head(stream: &mut TcpStream) -> (Vec<u8>, Vec<u8>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(HEAD_WAIT, async {
        while head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                return;
            }
        }
    })
    .await;
    let rest = match head.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => head.split_off(end + 4),
        None => Vec::new(),
    };
    (head, rest)
}

/// Reads until a frame of `kind` has arrived; false if the client went away first.
async fn await_frame(
    stream: &mut TcpStream,
    frames: &mut crate::h2::FrameReader,
    kind: u8,
) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        while let Some((k, _)) = frames.next_frame() {
            if k == kind {
                return true;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => frames.feed(&buf[..n]),
        }
    }
}

/// Answers each request (HEADERS frame) with a 200 and `body` until the client goes away.
/// (The client's SETTINGS go unacknowledged, as in every script: clients do not wait for it.)
async fn answer_h2(stream: &mut TcpStream, frames: &mut crate::h2::FrameReader, body: &Bytes) {
    use crate::h2;
    let mut buf = [0u8; 4096];
    loop {
        while let Some((kind, id)) = frames.next_frame() {
            if kind != h2::HEADERS {
                continue;
            }
            let reply = [
                h2::headers(id, 200, Some(body.len() as u64), false),
                h2::data(id, body, true),
            ]
            .concat();
            if stream.write_all(&reply).await.is_err() {
                return;
            }
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => frames.feed(&buf[..n]),
        }
    }
}

async fn play(mut stream: TcpStream, script: &[RawStep], heads: &Mutex<Vec<Bytes>>) {
    let (head, rest) = read_head(&mut stream).await;
    let mut frames = crate::h2::FrameReader::new(&rest, head.starts_with(b"PRI * HTTP/2.0"));
    heads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(head.into());
    for step in script {
        match step {
            RawStep::Write(b) => {
                if stream.write_all(b).await.is_err() || stream.flush().await.is_err() {
                    return;
                }
            }
            RawStep::Sleep(d) => tokio::time::sleep(*d).await,
            RawStep::Close => {
                let _ = stream.shutdown().await;
                return;
            }
            RawStep::Reset => {
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
            RawStep::AwaitH2Frame(kind) => {
                if !await_frame(&mut stream, &mut frames, *kind).await {
                    return;
                }
            }
            RawStep::AnswerH2(body) => {
                answer_h2(&mut stream, &mut frames, body).await;
                return;
            }
        }
    }
    // Hold the connection until the client goes away.
    let mut sink = [0u8; 4096];
    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
}

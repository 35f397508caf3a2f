//! A small proxy for tests: HTTP (`CONNECT` tunnels and absolute-form forwarding) and SOCKS5
//! on the same port, to loopback targets only, optionally demanding credentials (Basic for
//! HTTP, username/password for SOCKS5).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Error;

#[derive(Default)]
struct Counters {
    tunnels: AtomicU64,
    forwarded: AtomicU64,
    refused: AtomicU64,
    socks: AtomicU64,
    socks_names: AtomicU64,
}

/// A running proxy on `127.0.0.1`; it stops when dropped.
pub struct ProxyServer {
    addr: SocketAddr,
    /// The CA of the proxy's own certificate, in TLS mode.
    ca_pem: Option<String>,
    counters: Arc<Counters>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl ProxyServer {
    /// Starts a proxy on its own thread; with `auth = Some((user, password))` every request
    /// must carry those Basic credentials in `Proxy-Authorization` (else 407).
    pub fn start_in_thread(auth: Option<(&str, &str)>) -> Result<ProxyServer, Error> {
        ProxyServer::start(auth, false)
    }

    /// Like [`start_in_thread`](Self::start_in_thread), speaking TLS to its clients (an
    /// `https://` proxy) with a certificate from a CA generated at start
    /// ([`ca_pem`](Self::ca_pem)).
    pub fn start_in_thread_tls(auth: Option<(&str, &str)>) -> Result<ProxyServer, Error> {
        ProxyServer::start(auth, true)
    }

    fn start(auth: Option<(&str, &str)>, tls: bool) -> Result<ProxyServer, Error> {
        let material = if tls {
            Some(crate::tls::generate(crate::tls::TlsVersions::Both, false)?)
        } else {
            None
        };
        let ca_pem = material.as_ref().map(|m| m.ca_pem.clone());
        let acceptor = material.map(|m| tokio_rustls::TlsAcceptor::from(m.config));
        let creds = auth.map(|(u, p)| (u.to_string(), p.to_string()));
        let expected = auth.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let std_listener = std::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(|e| Error::io("binding the proxy", e))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("configuring the proxy socket", e))?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| Error::io("reading the proxy address", e))?;
        let counters = Arc::new(Counters::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let c = counters.clone();
        std::thread::Builder::new()
            .name("chaos-proxy".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let Ok(listener) = TcpListener::from_std(std_listener) else {
                        return;
                    };
                    let expected = expected.map(Arc::<str>::from);
                    let creds = creds.map(Arc::new);
                    let serve = async {
                        loop {
                            let Ok((conn, _)) = listener.accept().await else {
                                continue;
                            };
                            let (c, expected, creds) = (c.clone(), expected.clone(), creds.clone());
                            if let Some(acceptor) = acceptor.clone() {
                                tokio::spawn(async move {
                                    if let Ok(tls) = acceptor.accept(conn).await {
                                        let _ = handle(tls, c, expected).await;
                                    }
                                });
                                continue;
                            }
                            tokio::spawn(async move {
                                let mut first = [0u8; 1];
                                if conn.peek(&mut first).await.is_ok_and(|n| n == 1)
                                    && first[0] == 5
                                {
                                    let _ = socks5(conn, c, creds).await;
                                } else {
                                    let _ = handle(conn, c, expected).await;
                                }
                            });
                        }
                    };
                    tokio::select! {
                        () = serve => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| Error::io("starting the proxy thread", e))?;
        Ok(ProxyServer {
            addr,
            ca_pem,
            counters,
            _stop: stop,
        })
    }

    /// `http://127.0.0.1:PORT` (`https://` in TLS mode).
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM certificate of the CA behind the proxy's own certificate (TLS mode only).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `CONNECT` tunnels opened.
    pub fn tunnels(&self) -> u64 {
        self.counters.tunnels.load(Ordering::Relaxed)
    }

    /// Connections forwarded for absolute-form (plain HTTP) requests.
    pub fn forwarded(&self) -> u64 {
        self.counters.forwarded.load(Ordering::Relaxed)
    }

    /// SOCKS5 connections relayed.
    pub fn socks(&self) -> u64 {
        self.counters.socks.load(Ordering::Relaxed)
    }

    /// SOCKS5 requests that named their target by host name (socks5h) rather than address.
    pub fn socks_names(&self) -> u64 {
        self.counters.socks_names.load(Ordering::Relaxed)
    }

    /// `socks5://127.0.0.1:PORT`.
    pub fn socks_url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    /// Requests refused (407 for missing or wrong credentials, 403 for non-loopback targets).
    pub fn refused(&self) -> u64 {
        self.counters.refused.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for ProxyServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// A SOCKS5 (RFC 1928) CONNECT, with RFC 1929 username/password when `creds` are set.
async fn socks5(
    mut conn: TcpStream,
    c: Arc<Counters>,
    creds: Option<Arc<(String, String)>>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    conn.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    conn.read_exact(&mut methods).await?;
    let want = if creds.is_some() { 2 } else { 0 };
    if !methods.contains(&want) {
        c.refused.fetch_add(1, Ordering::Relaxed);
        return conn.write_all(&[5, 0xff]).await;
    }
    conn.write_all(&[5, want]).await?;
    if let Some(creds) = &creds {
        let mut v = [0u8; 2];
        conn.read_exact(&mut v).await?;
        let mut user = vec![0u8; v[1] as usize];
        conn.read_exact(&mut user).await?;
        let mut plen = [0u8; 1];
        conn.read_exact(&mut plen).await?;
        let mut pass = vec![0u8; plen[0] as usize];
        conn.read_exact(&mut pass).await?;
        if user != creds.0.as_bytes() || pass != creds.1.as_bytes() {
            c.refused.fetch_add(1, Ordering::Relaxed);
            return conn.write_all(&[1, 1]).await;
        }
        conn.write_all(&[1, 0]).await?;
    }
    let mut req = [0u8; 4];
    conn.read_exact(&mut req).await?;
    let host = match req[3] {
        1 => {
            let mut a = [0u8; 4];
            conn.read_exact(&mut a).await?;
            std::net::Ipv4Addr::from(a).to_string()
        }
        4 => {
            let mut a = [0u8; 16];
            conn.read_exact(&mut a).await?;
            format!("[{}]", std::net::Ipv6Addr::from(a))
        }
        3 => {
            let mut len = [0u8; 1];
            conn.read_exact(&mut len).await?;
            let mut name = vec![0u8; len[0] as usize];
            conn.read_exact(&mut name).await?;
            c.socks_names.fetch_add(1, Ordering::Relaxed);
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => return conn.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await,
    };
    let mut port = [0u8; 2];
    conn.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    // Loopback only, as for HTTP.
    let upstream = match tokio::net::lookup_host(format!("{host}:{port}")).await {
        Ok(mut addrs) => addrs.find(|a| a.ip().is_loopback()),
        Err(_) => None,
    };
    let Some(upstream) = upstream.filter(|_| req[1] == 1) else {
        c.refused.fetch_add(1, Ordering::Relaxed);
        return conn.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]).await;
    };
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return conn.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await;
    };
    c.socks.fetch_add(1, Ordering::Relaxed);
    conn.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut conn, &mut up).await?;
    Ok(())
}

async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    c: &Counters,
    status: &str,
    extra: &str,
) -> std::io::Result<()> {
    c.refused.fetch_add(1, Ordering::Relaxed);
    let msg = format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    conn.write_all(msg.as_bytes()).await?;
    conn.shutdown().await
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    c: Arc<Counters>,
    expected: Option<Arc<str>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 16 * 1024 {
            return refuse(conn, &c, "431 Request Header Fields Too Large", "").await;
        }
        let mut chunk = [0u8; 1024];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let auth = lines.clone().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("proxy-authorization")
            .then(|| v.trim().to_string())
    });
    if let Some(want) = &expected
        && auth.as_deref() != Some(want)
    {
        return refuse(
            conn,
            &c,
            "407 Proxy Authentication Required",
            "Proxy-Authenticate: Basic realm=\"tenax-chaos\"\r\n",
        )
        .await;
    }
    let authority = if method == "CONNECT" {
        target.to_string()
    } else {
        match target.strip_prefix("http://") {
            Some(rest) => rest.split('/').next().unwrap_or_default().to_string(),
            None => return refuse(conn, &c, "400 Bad Request", "").await,
        }
    };
    // Loopback only: this proxy must never reach beyond the machine.
    let upstream = match tokio::net::lookup_host(authority.as_str()).await {
        Ok(mut addrs) => addrs.find(|a| a.ip().is_loopback()),
        Err(_) => None,
    };
    let Some(upstream) = upstream else {
        return refuse(conn, &c, "403 Forbidden", "").await;
    };
    let Ok(mut up) = TcpStream::connect(upstream).await else {
        return refuse(conn, &c, "502 Bad Gateway", "").await;
    };
    if method == "CONNECT" {
        c.tunnels.fetch_add(1, Ordering::Relaxed);
        conn.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        up.write_all(&buf[head_end..]).await?;
    } else {
        c.forwarded.fetch_add(1, Ordering::Relaxed);
        // The request as the server expects it: credentials for the proxy stay here.
        let mut out = String::with_capacity(head.len());
        out.push_str(&request_line);
        out.push_str("\r\n");
        for l in head.split("\r\n").skip(1) {
            let name = l.split(':').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("proxy-authorization")
                || name.eq_ignore_ascii_case("proxy-connection")
            {
                continue;
            }
            out.push_str(l);
            out.push_str("\r\n");
        }
        let out = out.trim_end_matches("\r\n").to_string() + "\r\n\r\n";
        up.write_all(out.as_bytes()).await?;
        up.write_all(&buf[head_end..]).await?;
    }
    tokio::io::copy_bidirectional(&mut conn, &mut up).await?;
    Ok(())
}

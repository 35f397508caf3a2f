//! Opening connections: name resolution behind the [`Resolve`] trait, then TCP.
//!
//! The DNS cache, Happy Eyeballs, TLS and proxies plug in here as they land.

pub(crate) mod dns;
mod io;
mod stream;
pub(crate) mod tls;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::TimeoutPhase;
use crate::error::{Error, Kind, Peer};
use crate::h1_head::HeadError;
use crate::timeouts::with_timeout;

#[cfg(feature = "hickory-dns")]
#[cfg_attr(docsrs, doc(cfg(feature = "hickory-dns")))]
pub use dns::HickoryResolver;
pub(crate) use dns::{DnsCache, DnsConfig, SystemResolver};
pub use dns::{DnsStats, Resolve, Resolving, ResolvingWithTtl};
pub(crate) use io::{ConnIo, IoState};
pub(crate) use stream::{GoAway, PeerSettings, Stream};

/// A freshly opened connection and what opening it took.
pub(crate) struct Connected {
    pub(crate) stream: Stream,
    pub(crate) state: std::sync::Arc<IoState>,
    pub(crate) remote: SocketAddr,
    /// `None` for IP literals.
    pub(crate) dns: Option<Duration>,
    pub(crate) tcp: Duration,
    /// The TLS handshake's duration, for https.
    pub(crate) tls: Option<Duration>,
    /// Whether ALPN chose HTTP/2.
    pub(crate) alpn_h2: bool,
    /// The TLS version agreed, for https.
    pub(crate) tls_version: Option<tls::TlsVersion>,
}

/// A URL's host without the brackets of an IPv6 literal (`[::1]` → `::1`).
pub(crate) fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Parses `host` as an IP literal (`127.0.0.1`, `[::1]` or `::1`).
fn ip_literal(host: &str) -> Option<IpAddr> {
    bare_host(host).parse().ok()
}

/// Resolves `host`, opens a TCP connection to the first address that accepts and, with `tls`,
/// makes the TLS handshake; all within `timeout` (the connect phase).
/// Socket options for new connections.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TcpOptions {
    /// TCP keepalive: the idle time before the first probe.
    pub(crate) keepalive: Option<Duration>,
    /// The local address to connect from.
    pub(crate) local: Option<IpAddr>,
}

/// How a connection reaches its server: directly, or through a proxy, tunnelled with
/// `CONNECT` or not (plain-HTTP requests in absolute form).
#[derive(Clone, Copy)]
pub(crate) enum Route<'a> {
    Direct,
    Proxy {
        proxy: &'a crate::proxy::Proxy,
        tunnel: bool,
        /// For an `https://` proxy: the TLS configuration to reach it with (HTTP/1.1 only).
        proxy_tls: &'a std::sync::Arc<rustls::ClientConfig>,
    },
}

impl<'a> Route<'a> {
    /// The proxy requests go to in absolute form (plain `http://` through an HTTP proxy).
    pub(crate) fn absolute_form(&self) -> Option<&'a crate::proxy::Proxy> {
        match self {
            Route::Proxy {
                proxy,
                tunnel: false,
                ..
            } if proxy.takes_absolute_form() => Some(proxy),
            _ => None,
        }
    }
}

pub(crate) async fn connect(
    resolver: &DnsCache,
    host: &str,
    port: u16,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    timeout: Option<Duration>,
    route: Route<'_>,
    tcp: TcpOptions,
) -> Result<Connected, Error> {
    let work = async {
        let (addrs, dns) = dial_addrs(resolver, host, port, &route).await?;
        let t1 = Instant::now();
        let (stream, addr) =
            happy_eyeballs(dns::interleave(addrs), tcp)
                .await
                .map_err(|(addr, e)| {
                    Error::new(Kind::Connect)
                        .with_peer(Peer::Addr(addr))
                        .with_source(e)
                })?;
        // Requests are small writes followed by waits: never delay them.
        let _ = stream.set_nodelay(true);
        let tcp_time = t1.elapsed();
        let (io, state) = ConnIo::new(stream);
        let target = (host, port, tls);
        let l = layers(io, resolver, target, route, addr).await?;
        Ok(Connected {
            stream: l.stream,
            state,
            remote: addr,
            dns,
            tcp: tcp_time,
            tls: l.tls,
            alpn_h2: l.alpn_h2,
            tls_version: l.tls_version,
        })
    };
    with_timeout(timeout, TimeoutPhase::Connect, "connecting", work)
        .await
        .map_err(|e| e.with_peer(Peer::Host(format!("{host}:{port}"))))
}

/// The addresses to dial, and how long resolving them took (`None` for an IP literal): the
/// proxy's when there is one (its failure then says so), else the host's.
async fn dial_addrs(
    resolver: &DnsCache,
    host: &str,
    port: u16,
    route: &Route<'_>,
) -> Result<(Vec<SocketAddr>, Option<Duration>), Error> {
    let t0 = Instant::now();
    let (dial_host, dial_port, dns_kind) = match route {
        Route::Direct => (host, port, Kind::Dns),
        Route::Proxy { proxy, .. } => (proxy.host(), proxy.port(), Kind::ProxyDns),
    };
    if let Some(ip) = ip_literal(dial_host) {
        return Ok((vec![SocketAddr::new(ip, dial_port)], None));
    }
    let failed = |why: Box<dyn std::error::Error + Send + Sync>| {
        Error::new(dns_kind)
            .with_peer(Peer::Host(dial_host.to_string()))
            .with_source(why)
    };
    let addrs = resolver
        .lookup(dial_host, dial_port)
        .await
        .map_err(|e| failed(e.into()))?;
    if addrs.is_empty() {
        return Err(failed("the resolver returned no addresses".into()));
    }
    Ok((addrs, Some(t0.elapsed())))
}

/// What runs over the TCP connection, and what its TLS handshakes took and agreed.
struct Layered {
    stream: Stream,
    tls: Option<Duration>,
    alpn_h2: bool,
    tls_version: Option<tls::TlsVersion>,
}

impl Layered {
    fn new(
        stream: Stream,
        tls: Option<Duration>,
        (alpn_h2, tls_version): (bool, Option<tls::TlsVersion>),
    ) -> Layered {
        Layered {
            stream,
            tls,
            alpn_h2,
            tls_version,
        }
    }
}

/// What runs over the TCP connection: TLS to an `https://` proxy with the tunnel (or
/// absolute-form requests) inside it, or a SOCKS5 or `CONNECT` tunnel; then TLS to the server.
/// Also how long the TLS handshakes took, and what they agreed.
async fn layers(
    mut io: ConnIo,
    resolver: &DnsCache,
    (host, port, tls): (&str, u16, Option<&std::sync::Arc<rustls::ClientConfig>>),
    route: Route<'_>,
    addr: SocketAddr,
) -> Result<Layered, Error> {
    let at = |e: Error| e.with_peer(Peer::Addr(addr));
    if let Route::Proxy {
        proxy,
        tunnel: tunnelled,
        proxy_tls,
    } = route
        && proxy.kind() == crate::proxy::ProxyKind::Https
    {
        let t2 = Instant::now();
        let mut outer = handshake(proxy_tls, proxy.host(), io, addr).await?;
        if tunnelled {
            tunnel(&mut outer, host, port, proxy.auth())
                .await
                .map_err(at)?;
        }
        let Some(config) = tls else {
            let stream = Stream::Tls(Box::new(outer), None);
            return Ok(Layered::new(stream, Some(t2.elapsed()), (false, None)));
        };
        let inner = handshake(config, host, outer, addr).await?;
        let agreed = agreed(inner.get_ref().1);
        let stream = Stream::TlsInTls(Box::new(inner), None);
        return Ok(Layered::new(stream, Some(t2.elapsed()), agreed));
    }
    match route {
        Route::Proxy { proxy, .. }
            if matches!(proxy.kind(), crate::proxy::ProxyKind::Socks5 { .. }) =>
        {
            io = socks5(io, resolver, proxy, host, port).await.map_err(at)?;
        }
        Route::Proxy {
            proxy,
            tunnel: true,
            ..
        } => tunnel(&mut io, host, port, proxy.auth())
            .await
            .map_err(at)?,
        _ => {}
    }
    let Some(config) = tls else {
        return Ok(Layered::new(Stream::Plain(io, None), None, (false, None)));
    };
    let t2 = Instant::now();
    let stream = handshake(config, host, io, addr).await?;
    let agreed = agreed(stream.get_ref().1);
    Ok(Layered::new(
        Stream::Tls(Box::new(stream), None),
        Some(t2.elapsed()),
        agreed,
    ))
}

/// A TLS handshake with `name` over `io` (the server, or an `https://` proxy).
async fn handshake<S>(
    config: &std::sync::Arc<rustls::ClientConfig>,
    name: &str,
    io: S,
    addr: SocketAddr,
) -> Result<tokio_rustls::client::TlsStream<S>, Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio_rustls::TlsConnector::from(config.clone())
        .connect(tls::server_name(name)?, io)
        .await
        .map_err(|e| tls::handshake_error(e).with_peer(Peer::Addr(addr)))
}

/// What a TLS handshake agreed: HTTP/2 by ALPN, and the protocol version.
fn agreed(conn: &rustls::ClientConnection) -> (bool, Option<tls::TlsVersion>) {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => Some(tls::TlsVersion::Tls13),
        Some(_) => Some(tls::TlsVersion::Tls12),
        None => None,
    };
    (conn.alpn_protocol() == Some(b"h2"), version)
}

/// One TCP connection attempt, with the socket options.
async fn open_tcp(addr: SocketAddr, tcp: TcpOptions) -> std::io::Result<TcpStream> {
    if tcp.keepalive.is_none() && tcp.local.is_none() {
        return TcpStream::connect(addr).await;
    }
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(ip) = tcp.local {
        if ip.is_ipv4() != addr.is_ipv4() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrNotAvailable,
                format!("the local address {ip} is not of the family of {addr}"),
            ));
        }
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    if let Some(idle) = tcp.keepalive {
        socket2::SockRef::from(&socket)
            .set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle))?;
    }
    socket.connect(addr).await
}

/// Asks a SOCKS5 proxy at the other end of `io` for a connection to `host:port` (resolving
/// the name here for `socks5://`, leaving it to the proxy for `socks5h://`).
async fn socks5(
    io: ConnIo,
    resolver: &DnsCache,
    proxy: &crate::proxy::Proxy,
    host: &str,
    port: u16,
) -> Result<ConnIo, Error> {
    use tokio_socks::tcp::Socks5Stream;
    let remote_dns = matches!(
        proxy.kind(),
        crate::proxy::ProxyKind::Socks5 { remote_dns: true }
    );
    let target: tokio_socks::TargetAddr<'_> = match ip_literal(host) {
        Some(ip) => tokio_socks::TargetAddr::Ip(SocketAddr::new(ip, port)),
        None if remote_dns => tokio_socks::TargetAddr::Domain(bare_host(host).into(), port),
        None => {
            let addrs = resolver.lookup(host, port).await.map_err(|e| {
                Error::new(Kind::Dns)
                    .with_peer(Peer::Host(host.to_string()))
                    .with_source(e)
            })?;
            let first = addrs.first().copied().ok_or_else(|| {
                Error::new(Kind::Dns)
                    .with_peer(Peer::Host(host.to_string()))
                    .with_source("the resolver returned no addresses")
            })?;
            tokio_socks::TargetAddr::Ip(first)
        }
    };
    let res = match proxy.credentials() {
        Some((user, pass)) => {
            Socks5Stream::connect_with_password_and_socket(io, target, user, pass).await
        }
        None => Socks5Stream::connect_with_socket(io, target).await,
    };
    res.map(Socks5Stream::into_inner).map_err(|e| {
        Error::new(Kind::Proxy)
            .with_what("opening the SOCKS5 connection")
            .with_source(e)
    })
}

/// Opens a `CONNECT` tunnel to `host:port` through the proxy at the other end of `io`.
async fn tunnel<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    io: &mut S,
    host: &str,
    port: u16,
    auth: Option<&http::HeaderValue>,
) -> Result<(), Error> {
    use tokio::io::AsyncWriteExt;
    let mut req = format!("CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n").into_bytes();
    if let Some(a) = auth {
        req.extend_from_slice(b"Proxy-Authorization: ");
        req.extend_from_slice(a.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    let io_err = |e: std::io::Error| {
        Error::new(Kind::Proxy)
            .with_what("opening the tunnel")
            .with_source(e)
    };
    io.write_all(&req).await.map_err(io_err)?;
    io.flush().await.map_err(io_err)?;
    // Byte by byte up to the blank line: nothing of the tunnelled stream is read ahead.
    let proxy_err = |why: String| Error::new(Kind::Proxy).with_source(why);
    let head = crate::h1_head::read(io, 8 * 1024, false)
        .await
        .map_err(|e| match e {
            HeadError::Io(e) => io_err(e),
            HeadError::TooLarge(_) => {
                proxy_err("the proxy's answer to CONNECT is larger than 8 KiB".into())
            }
            HeadError::Closed { .. } => {
                proxy_err("the proxy closed the connection without answering CONNECT".into())
            }
            HeadError::Invalid(why) => {
                proxy_err(format!("the proxy's answer to CONNECT is not HTTP: {why}"))
            }
        })?;
    if (200..300).contains(&head.status) {
        return Ok(());
    }
    Err(proxy_err(format!(
        "the proxy answered CONNECT {host}:{port} with {} {}",
        head.status, head.reason
    )))
}

/// How long an attempt runs alone before the next address is tried too (RFC 8305: 250 ms).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to the first address that accepts: attempts start one after the other, each
/// `ATTEMPT_DELAY` after the previous (at once when the previous failed), and run together;
/// the first connection wins and the others are dropped.
async fn happy_eyeballs(
    addrs: Vec<SocketAddr>,
    tcp: TcpOptions,
) -> Result<(TcpStream, SocketAddr), (SocketAddr, std::io::Error)> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut pending = FuturesUnordered::new();
    let mut next = addrs.into_iter();
    let start = |addr: SocketAddr| async move { (addr, open_tcp(addr, tcp).await) };
    match next.next() {
        Some(a) => pending.push(start(a)),
        None => {
            return Err((
                SocketAddr::from(([0, 0, 0, 0], 0)),
                std::io::Error::other("no address to connect to"),
            ));
        }
    }
    let delay = tokio::time::sleep(ATTEMPT_DELAY);
    tokio::pin!(delay);
    let mut more = true;
    loop {
        tokio::select! {
            Some((addr, res)) = pending.next() => match res {
                Ok(tcp) => return Ok((tcp, addr)),
                Err(e) => {
                    match next.next() {
                        Some(a) => {
                            pending.push(start(a));
                            delay.as_mut().reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
                        }
                        // The last attempt failed: its error is the one reported.
                        None if pending.is_empty() => return Err((addr, e)),
                        None => more = false,
                    }
                }
            },
            () = &mut delay, if more => match next.next() {
                Some(a) => {
                    pending.push(start(a));
                    delay.as_mut().reset(tokio::time::Instant::now() + ATTEMPT_DELAY);
                }
                None => more = false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_skip_the_resolver() {
        assert_eq!(ip_literal("127.0.0.1"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(ip_literal("[::1]"), Some("::1".parse().unwrap()));
        assert_eq!(ip_literal("localhost"), None);
        assert_eq!(ip_literal("[localhost]"), None);
    }
}

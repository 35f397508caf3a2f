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
use crate::timeouts_phase::with_timeout;

pub(crate) use dns::{DnsCache, DnsConfig, SystemResolver};
pub use dns::{DnsStats, Resolve, Resolving};
pub(crate) use io::{ConnIo, IoState};
pub(crate) use stream::{PeerSettings, Stream};

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
pub(crate) async fn connect(
    resolver: &DnsCache,
    host: &str,
    port: u16,
    tls: Option<&std::sync::Arc<rustls::ClientConfig>>,
    timeout: Option<Duration>,
) -> Result<Connected, Error> {
    let work = async {
        let t0 = Instant::now();
        let (addrs, dns) = match ip_literal(host) {
            Some(ip) => (vec![SocketAddr::new(ip, port)], None),
            None => {
                let addrs = resolver.lookup(host, port).await.map_err(|e| {
                    Error::new(Kind::Dns)
                        .with_peer(Peer::Host(host.to_string()))
                        .with_source(e)
                })?;
                if addrs.is_empty() {
                    return Err(Error::new(Kind::Dns)
                        .with_peer(Peer::Host(host.to_string()))
                        .with_source("the resolver returned no addresses"));
                }
                (addrs, Some(t0.elapsed()))
            }
        };
        let t1 = Instant::now();
        match happy_eyeballs(dns::interleave(addrs)).await {
            Err((addr, e)) => Err(Error::new(Kind::Connect)
                .with_peer(Peer::Addr(addr))
                .with_source(e)),
            Ok((tcp, addr)) => {
                // Requests are small writes followed by waits: never delay them.
                let _ = tcp.set_nodelay(true);
                let tcp_time = t1.elapsed();
                let (io, state) = ConnIo::new(tcp);
                let Some(config) = tls else {
                    return Ok(Connected {
                        stream: Stream::Plain(io, None),
                        state,
                        remote: addr,
                        dns,
                        tcp: tcp_time,
                        tls: None,
                        alpn_h2: false,
                        tls_version: None,
                    });
                };
                let t2 = Instant::now();
                let name = tls::server_name(host)?;
                let stream = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, io)
                    .await
                    .map_err(|e| tls::handshake_error(e).with_peer(Peer::Addr(addr)))?;
                let alpn_h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                let tls_version = match stream.get_ref().1.protocol_version() {
                    Some(rustls::ProtocolVersion::TLSv1_3) => Some(tls::TlsVersion::Tls13),
                    Some(_) => Some(tls::TlsVersion::Tls12),
                    None => None,
                };
                Ok(Connected {
                    stream: Stream::Tls(Box::new(stream), None),
                    state,
                    remote: addr,
                    dns,
                    tcp: tcp_time,
                    tls: Some(t2.elapsed()),
                    alpn_h2,
                    tls_version,
                })
            }
        }
    };
    with_timeout(timeout, TimeoutPhase::Connect, "connecting", work)
        .await
        .map_err(|e| e.with_peer(Peer::Host(format!("{host}:{port}"))))
}

/// How long an attempt runs alone before the next address is tried too (RFC 8305: 250 ms).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to the first address that accepts: attempts start one after the other, each
/// `ATTEMPT_DELAY` after the previous (at once when the previous failed), and run together;
/// the first connection wins and the others are dropped.
async fn happy_eyeballs(
    addrs: Vec<SocketAddr>,
) -> Result<(TcpStream, SocketAddr), (SocketAddr, std::io::Error)> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let mut pending = FuturesUnordered::new();
    let mut next = addrs.into_iter();
    let start = |addr: SocketAddr| async move { (addr, TcpStream::connect(addr).await) };
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

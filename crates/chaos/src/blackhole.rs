//! A listener whose connects never complete: the fault behind connect timeouts.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::Error;

/// How long a filler connect may take before we call the backlog full.
const FILL_PROBE: Duration = Duration::from_millis(200);
/// Give up if this many connects all complete: the kernel is not dropping SYNs.
const MAX_FILLERS: usize = 64;

/// A loopback address whose TCP connects hang: a listener that never accepts, whose accept
/// backlog is already full, so the kernel drops further SYNs and the client keeps retrying.
///
/// Keep the value alive for as long as the address must stay a black hole.
pub struct Blackhole {
    addr: SocketAddr,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Blackhole {
    /// Binds `127.0.0.1:0` with a backlog of one and fills the backlog.
    pub async fn start() -> Result<Blackhole, Error> {
        Blackhole::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Like [`start`](Self::start), on a given loopback address (`[::1]:PORT`, or
    /// `127.0.0.2:PORT` beside a server on `127.0.0.1:PORT`, for Happy Eyeballs tests).
    pub async fn start_on(addr: SocketAddr) -> Result<Blackhole, Error> {
        if !addr.ip().is_loopback() {
            return Err(Error::msg("the black hole binds loopback addresses only"));
        }
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(|e| Error::io("creating a socket", e))?;
        socket
            .bind(addr)
            .map_err(|e| Error::io("binding the black hole", e))?;
        let listener = socket
            .listen(1)
            .map_err(|e| Error::io("listening on the black hole", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("reading the bound address", e))?;
        let mut fillers = Vec::new();
        while fillers.len() < MAX_FILLERS {
            match tokio::time::timeout(FILL_PROBE, TcpStream::connect(addr)).await {
                Ok(Ok(s)) => fillers.push(s),
                Ok(Err(e)) => return Err(Error::io("filling the black hole's backlog", e)),
                // This connect hung: the backlog is full. The abandoned attempt goes away.
                Err(_) => {
                    return Ok(Blackhole {
                        addr,
                        _listener: listener,
                        _fillers: fillers,
                    });
                }
            }
        }
        Err(Error::msg(
            "the black hole's backlog never filled (every connect completed)",
        ))
    }

    /// The address whose connects hang.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl std::fmt::Debug for Blackhole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blackhole")
            .field("addr", &self.addr)
            .finish()
    }
}

//! One attempt of a request: a connection from the pool or a new one (DNS, TCP, TLS,
//! the HTTP/1.1 or HTTP/2 handshake), the request written, the response head read.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{self, HeaderMap};
use http::{Method, Uri, Version};
use hyper_util::rt::TokioIo;

use crate::body::{Body, RecvBody};
use crate::connect;
use crate::connect::tls::HttpVersions;
use crate::error::{During, Error, Kind, Peer, classify_hyper};
use crate::events::{EventKind, RequestId};
use crate::pool::{Checkout, Conn, ConnInfo, H2, H2Conn, Hold, Origin, Sender, Slot, Want};
use crate::timeouts::Timeouts;
use crate::timeouts::with_timeout;
use crate::{Result, TimeoutPhase, Timings};

use super::Client;
use super::wire::{
    Answer, SendError, When, copy_request, is_refused, keep_alive_limit, origin_form, send,
};

impl Client {
    /// One attempt: a connection from the pool (or a new one), the request written, the
    /// response head read. A request that never left (the reused connection had closed) or
    /// that an HTTP/2 server refused unprocessed is sent once more on a fresh connection.
    pub(super) async fn attempt(
        &self,
        method: &Method,
        uri: &Uri,
        origin: &Origin,
        headers: HeaderMap,
        body: Body,
        when: When,
    ) -> Result<Answer> {
        let When {
            timeouts,
            attempt_start,
            deadline,
            id,
        } = when;
        let inner = &*self.inner;
        let t = timeouts.apply(inner.timeouts);
        let mut timings = Timings::default();
        // HTTP/2 over cleartext is by prior knowledge only; over TLS it is likely (ALPN).
        let h2 = match inner.versions {
            HttpVersions::Http1 => H2::No,
            HttpVersions::Http2 => H2::Certain,
            HttpVersions::Auto if origin.is_https() => H2::Likely,
            HttpVersions::Auto => H2::No,
        };
        let mut req = self.new_request(method, headers, body);

        let mut fresh = false;
        loop {
            let want = Want {
                h2,
                fresh,
                timeout: t.pool,
                start: attempt_start,
            };
            let (mut conn, reused) = self.connection(origin, want, &t, &mut timings, id).await?;

            let h2 = conn.is_h2();
            address(&mut req, &conn, uri);
            if let Some(obs) = self.observer(id) {
                obs.emit(id, request_head(&req));
            }
            // An HTTP/2 server may refuse a stream it did not process; keep what it takes to
            // send the request again (bodies that are whole only).
            let replay = if h2 && !fresh {
                copy_request(&req).map(Box::new)
            } else {
                None
            };

            // Watched on its way for the read timeout's start (and HTTP/2's write stalls).
            let progress = req.body_mut().watch(h2);
            let info = conn.info();
            info.io.set_write_timeout(t.write);
            let remote = info.remote;
            // A reused connection starts sending when the checkout ended; a new one after
            // connecting.
            let send_start = if reused {
                attempt_start + timings.pool_wait
            } else {
                Instant::now()
            };
            let limits = (t.read, t.write);
            match send(&mut conn, req, limits, progress.as_deref(), send_start).await {
                Ok(res) => {
                    let head_at = Instant::now();
                    timings.ttfb = head_at - send_start;
                    let last_write = conn.info().io.last_write();
                    timings.write = (last_write > send_start).then(|| last_write - send_start);
                    let limits = (t.read, deadline, inner.pool_idle_timeout);
                    let at = (reused, attempt_start, head_at);
                    return Ok(answer(method, res, conn, limits, timings, at));
                }
                Err(SendError::Timeout(e)) => return Err(e.with_peer(Peer::Addr(remote))),
                Err(SendError::Failed(mut e)) => {
                    let h2_settings = conn.h2_settings();
                    drop(conn);
                    if !fresh {
                        if let Some(unsent) = e.take_message().filter(|_| reused) {
                            fresh = true;
                            req = unsent;
                            continue;
                        }
                        if let Some(copy) = replay.filter(|_| is_refused(e.error())) {
                            fresh = true;
                            req = *copy;
                            continue;
                        }
                    }
                    let err = classify_hyper(e.into_error(), During::Head, h2_settings.as_deref());
                    return Err(err.with_peer(Peer::Addr(remote)));
                }
            }
        }
    }

    /// The request as hyper takes it: the caller's headers, the client's defaults, and
    /// `Accept-Encoding` for what this build decodes. (Inlined: built where the attempt keeps
    /// it, not copied there.)
    #[inline(always)]
    fn new_request(&self, method: &Method, headers: HeaderMap, body: Body) -> http::Request<Body> {
        let inner = &*self.inner;
        let mut req = http::Request::new(body);
        *req.method_mut() = method.clone();
        let h = req.headers_mut();
        *h = headers;
        for (name, value) in &inner.default_headers {
            if !h.contains_key(name) {
                h.insert(name.clone(), value.clone());
            }
        }
        // Ask for what we can decode — except for ranges, whose offsets are in the encoded
        // representation and which resumed downloads want as stored.
        if inner.decompress
            && !h.contains_key(header::ACCEPT_ENCODING)
            && !h.contains_key(header::RANGE)
            && let Some(codings) = crate::decode::accept_encoding()
        {
            h.insert(header::ACCEPT_ENCODING, codings.clone());
        }
        req
    }

    /// A connection for the attempt, and whether it was reused: from the pool (one the server
    /// closed while it was idle is passed over) or opened in the place the pool gave.
    async fn connection(
        &self,
        origin: &Origin,
        want: Want,
        t: &Timeouts,
        timings: &mut Timings,
        id: RequestId,
    ) -> Result<(Conn, bool)> {
        loop {
            let (checkout, queued) = self.inner.pool.checkout(origin, want, timings).await?;
            if queued && let Some(obs) = self.observer(id) {
                obs.emit(
                    id,
                    EventKind::PoolWait {
                        host: origin.host_port(),
                        waited: timings.pool_wait,
                    },
                );
            }
            match checkout {
                Checkout::Reuse(mut c) => {
                    // Waits for the connection to be ready for the next request; fails if the
                    // server closed it while it was idle. Then take another.
                    if c.tx.ready().await.is_ok() {
                        return Ok((c, true));
                    }
                }
                Checkout::New(slot) => {
                    return Ok((Box::pin(self.open(slot, t, timings, id)).await?, false));
                }
            }
        }
    }

    /// Tells the observer that a connection opened, and returns a guard that tells it the
    /// connection closed when dropped (at the end of the connection's task, however it ends).
    fn watch_connection(
        &self,
        origin: &Origin,
        id: RequestId,
        info: &ConnInfo,
        version: Version,
    ) -> Option<ClosedGuard> {
        let obs = self.observer(id)?.clone();
        let host = origin.host_port();
        let remote = info.remote;
        obs.emit(
            id,
            EventKind::ConnectionOpened {
                host: host.clone(),
                remote,
                version,
                tls: info.tls_version,
            },
        );
        Some(ClosedGuard { obs, host, remote })
    }

    /// Opens a new connection in `slot` (TLS for https; HTTP/2 by ALPN or prior knowledge),
    /// within the connect timeout.
    async fn open(
        &self,
        slot: Slot,
        t: &Timeouts,
        timings: &mut Timings,
        id: RequestId,
    ) -> Result<Conn> {
        let inner = &*self.inner;
        let origin = slot.origin();
        let tls = if origin.is_https() {
            Some(&inner.tls)
        } else {
            None
        };
        let route = inner.proxies.route(origin, false, self.h1_tls());
        let absolute = route.absolute_form();
        let c = connect::connect(
            &inner.resolver,
            origin.host(),
            origin.port(),
            tls,
            t.connect,
            route,
            inner.tcp,
        )
        .await?;
        timings.dns = c.dns;
        timings.connect = Some(c.tcp);
        timings.tls = c.tls;
        let use_h2 = if origin.is_https() {
            c.alpn_h2
        } else {
            // A proxy speaks HTTP/1.1 to us for http:// targets.
            inner.versions == HttpVersions::Http2 && absolute.is_none()
        };
        if origin.is_https() && inner.versions == HttpVersions::Http2 && !c.alpn_h2 {
            return Err(Error::new(Kind::Protocol)
                .with_peer(Peer::Addr(c.remote))
                .with_source("the server did not agree to HTTP/2 (ALPN)"));
        }
        let info = ConnInfo {
            io: c.state,
            remote: c.remote,
            host_header: origin.host_header(),
            tls_version: c.tls_version,
            absolute_form: absolute.is_some(),
            proxy_auth: absolute.and_then(|p| p.auth().cloned()),
        };
        if use_h2 {
            return self.start_h2(c.stream, info, slot, t, id).await;
        }
        self.start_h1(c.stream, info, slot, id).await
    }

    /// HTTP/2 over a new connection: the handshake, the connection's task, the server's first
    /// SETTINGS (its stream limit, which the pool needs), then a lease on the connection.
    async fn start_h2(
        &self,
        mut stream: connect::Stream,
        info: ConnInfo,
        slot: Slot,
        t: &Timeouts,
        id: RequestId,
    ) -> Result<Conn> {
        let inner = &*self.inner;
        let pool = &inner.pool;
        let settings = stream.sniff_settings();
        let (tx, conn) = inner
            .h2
            .builder()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| classify_hyper(e, During::H2Handshake, None))?;
        let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
        let closed = self.watch_connection(slot.origin(), id, &info, Version::HTTP_2);
        let watched = settings.clone();
        pool.tracker.spawn(pool.next_conn_id(), async move {
            let _ = ended_tx.send(conn.await.err());
            // A request waiting for the server to allow a stream learns it never will.
            watched.ended();
            drop(closed);
        });
        // A connection that ends before its first SETTINGS (a TLS alert, a refusal) fails the
        // request.
        let first_settings = async {
            tokio::select! {
                () = settings.wait_first() => Ok(()),
                ended = ended_rx => Err(match ended {
                    Ok(Some(e)) => classify_hyper(e, During::H2Handshake, None),
                    _ => Error::new(Kind::EmptyReply).with_what("during the HTTP/2 handshake"),
                }),
            }
        };
        let remote = info.remote;
        with_timeout(
            t.connect,
            TimeoutPhase::Connect,
            "waiting for the server's HTTP/2 settings",
            first_settings,
        )
        .await
        .map_err(|e| e.with_peer(Peer::Addr(remote)))?;
        let (h2, lease) = pool.opened_h2(H2Conn {
            tx,
            info,
            settings,
            slot,
        });
        match lease {
            Some(conn) => Ok(conn),
            None => wait_for_stream(pool, &h2, t.pool)
                .await
                .map_err(|e| e.with_peer(Peer::Addr(remote))),
        }
    }

    /// HTTP/1.1 over a new connection: the handshake and the connection's task; the request
    /// holds it alone.
    async fn start_h1(
        &self,
        stream: connect::Stream,
        info: ConnInfo,
        mut slot: Slot,
        id: RequestId,
    ) -> Result<Conn> {
        let pool = &self.inner.pool;
        let (tx, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| classify_hyper(e, During::Handshake, None))?;
        let closed = self.watch_connection(slot.origin(), id, &info, Version::HTTP_11);
        pool.tracker.spawn(pool.next_conn_id(), async move {
            // The connection's errors reach the request that was using it.
            let _ = conn.await;
            drop(closed);
        });
        pool.opened_h1(&mut slot);
        Ok(Conn {
            tx: Sender::H1(tx),
            hold: Hold::Exclusive(Box::new(crate::pool::Exclusive {
                slot,
                info,
                timer: Default::default(),
            })),
        })
    }
}

/// Waits, within the pool timeout, for a server that allowed no stream
/// (SETTINGS_MAX_CONCURRENT_STREAMS = 0) to raise its limit.
async fn wait_for_stream(
    pool: &Arc<crate::pool::Pool>,
    h2: &Arc<H2Conn>,
    limit: Option<Duration>,
) -> Result<Conn> {
    let wait = async {
        loop {
            // Listening before looking: a change in between is not missed.
            let changed = h2.settings.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(conn) = pool.lease_on(h2) {
                return Ok(conn);
            }
            if h2.tx.is_closed() {
                return Err(Error::new(Kind::EmptyReply)
                    .with_what("waiting for the server to allow a stream")
                    .with_source("the server closed the connection without allowing a stream"));
            }
            changed.await;
        }
    };
    with_timeout(
        limit,
        TimeoutPhase::Pool,
        "waiting for the server to allow a stream (its SETTINGS_MAX_CONCURRENT_STREAMS is 0)",
        wait,
    )
    .await
}

/// The head has come: the attempt's answer, its body reading under the read timeout and the
/// deadline, and going back to the pool at its end (kept as long as the server's `Keep-Alive`
/// and the pool's idle timeout allow). (Inlined: the answer is built where it is returned.)
#[inline(always)]
fn answer(
    method: &Method,
    res: http::Response<hyper::body::Incoming>,
    conn: Conn,
    (read, deadline, idle): (Option<Duration>, Option<Instant>, Option<Duration>),
    timings: Timings,
    (reused, started, head_at): (bool, Instant, Instant),
) -> Answer {
    let (head, incoming) = res.into_parts();
    let keep_alive = keep_alive_limit(&head.headers, idle);
    let tls_version = conn.info().tls_version;
    let counted = *method != Method::HEAD && !matches!(head.status.as_u16(), 204 | 304);
    let body = RecvBody::new(incoming, conn, (read, deadline), keep_alive, counted);
    let head = crate::response::Head {
        method: method.clone(),
        tls_version,
        status: head.status,
        version: head.version,
        headers: head.headers,
        // The retry stage gives the answer its URL and the request's start.
        url: Uri::default(),
        remote_addr: body.peer(),
        reused,
        timings,
        started,
        head_at,
    };
    crate::Response::new(head, body)
}

/// Addresses the request for its connection: on HTTP/2 the full URI (scheme and authority go
/// in pseudo-headers); on HTTP/1.1 the path (or the whole URL through an HTTP proxy, with its
/// credentials) and `Host`.
fn address(req: &mut http::Request<Body>, conn: &Conn, uri: &Uri) {
    if conn.is_h2() {
        *req.uri_mut() = uri.clone();
        *req.version_mut() = Version::HTTP_2;
        req.headers_mut().remove(header::HOST);
        return;
    }
    let info = conn.info();
    if info.absolute_form {
        // Through an HTTP proxy: the whole URL in the request line.
        *req.uri_mut() = uri.clone();
        if let Some(a) = &info.proxy_auth {
            req.headers_mut()
                .insert(header::PROXY_AUTHORIZATION, a.clone());
        }
    } else {
        *req.uri_mut() = origin_form(uri);
    }
    *req.version_mut() = Version::HTTP_11;
    if !req.headers().contains_key(header::HOST) {
        req.headers_mut()
            .insert(header::HOST, info.host_header.clone());
    }
}

/// What the observer is told of a request head as it goes out.
fn request_head(req: &http::Request<Body>) -> EventKind {
    let mut headers = req.headers().clone();
    if let Some(len) = req.body().len().filter(|n| *n > 0)
        && !headers.contains_key(header::CONTENT_LENGTH)
    {
        headers.insert(header::CONTENT_LENGTH, len.into());
    }
    EventKind::RequestHead {
        method: req.method().clone(),
        target: req.uri().clone(),
        version: req.version(),
        headers,
    }
}

/// Tells the observer that a connection closed, when dropped.
struct ClosedGuard {
    obs: Arc<crate::events::Observer>,
    host: String,
    remote: std::net::SocketAddr,
}

impl Drop for ClosedGuard {
    fn drop(&mut self) {
        let host = std::mem::take(&mut self.host);
        let remote = self.remote;
        self.obs
            .emit(None, EventKind::ConnectionClosed { host, remote });
    }
}

//! The HTTP routes. Each one produces one fault (or none) on request; see the crate README.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::{self, Body, Ending, MAX_CHUNK};
use crate::conn::ConnCtx;
use crate::query::Query;
use crate::server::Shared;
use crate::stats::FlakyCall;

/// The Last-Modified date of every `/file/{n}`: 2026-01-01T00:00:00Z.
const FILE_MTIME_SECS: u64 = 1_767_225_600;

type Res = Response<Body>;

pub(crate) async fn handle(req: Request<Incoming>, conn: Arc<ConnCtx>, shared: Arc<Shared>) -> Res {
    let path = req.uri().path().to_owned();
    let query = Query::parse(req.uri().query());
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let route = route_name(&segs);
    shared.stats.hit(route);
    let now = shared.stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
    shared.stats.max_in_flight.fetch_max(now, Ordering::Relaxed);
    // Counted until the response head is ready, however the handler ends.
    struct Done<'a>(&'a AtomicU64);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let _done = Done(&shared.stats.in_flight);
    let head_only = req.method() == Method::HEAD;
    let result = match (route, segs.as_slice()) {
        ("bytes", [_, n]) => bytes(n, &query),
        ("stream", [_, n]) => stream(n, &query),
        ("delay", [_, ms]) => delay(ms, &shared).await,
        ("stall", _) => stall(&shared).await,
        ("drip", [_, n]) => drip(n, &query),
        ("status", [_, code]) => status(code, &query),
        ("flaky", [_, key]) => flaky(key, &query, &req, &shared),
        ("reset", [_, n]) => reset(n, &query, &req, &conn),
        ("truncate", [_, n]) => truncate(n, &query, &req, &conn),
        ("file", [_, n]) => file(n, &query, &req, &conn, &shared),
        ("gzip-bomb", [_, n]) => gzip_bomb(n),
        ("encoded", [_, n]) => encoded(n, &query),
        ("redirect", [_, k]) => redirect(k, &query),
        ("redirect-to", _) => redirect_to(&query),
        ("headers", _) => Ok(headers(&req)),
        ("echo", _) => crate::echo::echo(req, &query).await,
        ("set-cookie", _) => crate::echo::set_cookie(&query),
        ("keepalive-timeout", [_, s]) => keepalive_timeout(s, &conn),
        ("slow-read", _) => slow_read(req, &query, &shared).await,
        ("tail", _) => crate::load::tail(&query, &shared).await,
        ("capacity", [_, c]) => crate::load::capacity(c, &query, &shared).await,
        ("_outage", _) => outage(&query, &shared),
        ("_stats", _) => Ok(json(StatusCode::OK, &shared.stats.to_json())),
        (r, _) if r.starts_with("ws/") => crate::ws::handle(req, &segs, &query, &shared),
        _ => Err((StatusCode::NOT_FOUND, format!("no such route: {path}"))),
    };
    let res = result.unwrap_or_else(|(status, msg)| text(status, format!("{msg}\n")));
    if head_only { without_body(res) } else { res }
}

/// A response to HEAD: the GET's head, its `Content-Length` included, and no body. (hyper does
/// this itself on HTTP/1.1; on HTTP/2 it would send the body, which a client must take as a
/// protocol error.)
fn without_body(res: Res) -> Res {
    let (mut parts, body) = res.into_parts();
    if let Some(n) = http_body::Body::size_hint(&body).exact()
        && !parts.headers.contains_key(header::CONTENT_LENGTH)
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    Response::from_parts(parts, body::empty())
}

/// The name a route's hits are counted under: its first segment (two for WebSocket routes).
fn route_name(segs: &[&str]) -> &'static str {
    const ROUTES: &[&str] = &[
        "bytes",
        "stream",
        "delay",
        "stall",
        "drip",
        "status",
        "flaky",
        "reset",
        "truncate",
        "file",
        "gzip-bomb",
        "encoded",
        "redirect",
        "redirect-to",
        "headers",
        "echo",
        "set-cookie",
        "keepalive-timeout",
        "slow-read",
        "tail",
        "capacity",
        "_outage",
        "_stats",
    ];
    const WS_ROUTES: &[&str] = &[
        "ws/echo",
        "ws/silent",
        "ws/close",
        "ws/drop",
        "ws/reject",
        "ws/count",
    ];
    if segs.first() == Some(&"ws") && segs.len() >= 2 {
        let name = format!("ws/{}", segs[1]);
        return WS_ROUTES
            .iter()
            .find(|r| **r == name)
            .copied()
            .unwrap_or("not-found");
    }
    let first = segs.first().copied().unwrap_or("");
    ROUTES
        .iter()
        .find(|r| **r == first)
        .copied()
        .unwrap_or("not-found")
}

pub(crate) type RouteResult = Result<Res, (StatusCode, String)>;

pub(crate) fn bad(msg: impl Into<String>) -> (StatusCode, String) {
    (StatusCode::BAD_REQUEST, msg.into())
}

pub(crate) fn seg<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, (StatusCode, String)> {
    s.parse()
        .map_err(|_| bad(format!("path segment {s:?} is not a valid {what}")))
}

pub(crate) fn text(status: StatusCode, s: impl Into<Bytes>) -> Res {
    let mut res = Response::new(body::full(s));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

pub(crate) fn json(status: StatusCode, v: &serde_json::Value) -> Res {
    let mut res = Response::new(body::full(v.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

pub(crate) fn with_len(mut res: Res, len: u64) -> Res {
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    res
}

pub(crate) fn octets(b: Body) -> Res {
    let mut res = Response::new(b);
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    res
}

fn millis(q: &Query, key: &str, default: u64) -> Result<Duration, (StatusCode, String)> {
    q.num(key, default).map(Duration::from_millis).map_err(bad)
}

// ===== routes =====

fn bytes(n: &str, q: &Query) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let b = body::pattern_body(0, n, MAX_CHUNK, Duration::ZERO, Ending::Finish);
    let res = octets(b);
    Ok(if q.flag("chunked") {
        res
    } else {
        with_len(res, n)
    })
}

fn stream(n: &str, q: &Query) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let chunk: usize = q.num("chunk", 1024).map_err(bad)?;
    let delay = millis(q, "delay_ms", 0)?;
    Ok(octets(body::pattern_body(
        0,
        n,
        chunk,
        delay,
        Ending::Finish,
    )))
}

/// `/_outage?ms=N`: answers 202, then the server goes down for `N` ms (see
/// `ChaosServer::outage`).
fn outage(q: &Query, shared: &Arc<Shared>) -> RouteResult {
    let ms: u64 = q.num("ms", 5000).map_err(bad)?;
    let shared = shared.clone();
    tokio::spawn(async move {
        // Long enough for this answer to leave before the connections are cut.
        tokio::time::sleep(Duration::from_millis(50)).await;
        shared.outage.begin(Duration::from_millis(ms)).await;
    });
    Ok(text(
        StatusCode::ACCEPTED,
        format!("down for {ms} ms in 50 ms\n"),
    ))
}

async fn delay(ms: &str, shared: &Shared) -> RouteResult {
    let ms: u64 = seg(ms, "number of milliseconds")?;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => Ok(text(StatusCode::OK, "ok\n")),
        _ = shared.shutdown_signal() => Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down".into())),
    }
}

async fn stall(shared: &Shared) -> RouteResult {
    shared.shutdown_signal().await;
    Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down".into()))
}

fn drip(n: &str, q: &Query) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let bps: u64 = q.num("bps", 1024).map_err(bad)?;
    if bps == 0 {
        return Err(bad("bps must be at least 1"));
    }
    // Send a chunk every `tick`: at least 10 ms apart, and at least one byte per chunk.
    let tick_ms = (1000 / bps).max(10);
    let chunk = (bps * tick_ms / 1000).max(1) as usize;
    let b = body::pattern_body(0, n, chunk, Duration::from_millis(tick_ms), Ending::Finish);
    Ok(with_len(octets(b), n))
}

fn parse_status(code: &str) -> Result<StatusCode, (StatusCode, String)> {
    let code: u16 = seg(code, "status code")?;
    match StatusCode::from_u16(code) {
        Ok(s) if code >= 200 => Ok(s),
        _ => Err(bad(format!(
            "status {code} is not a final status (200..=999)"
        ))),
    }
}

fn retry_after(res: &mut Res, q: &Query) -> Result<(), (StatusCode, String)> {
    if let Some(ra) = q.get("retry_after") {
        let v = HeaderValue::from_str(ra).map_err(|_| bad("retry_after is not a header value"))?;
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    Ok(())
}

fn status(code: &str, q: &Query) -> RouteResult {
    let status = parse_status(code)?;
    let mut res = text(status, format!("{status}\n"));
    retry_after(&mut res, q)?;
    Ok(res)
}

fn flaky(key: &str, q: &Query, req: &Request<Incoming>, shared: &Shared) -> RouteResult {
    let fail: usize = q.num("fail", 1).map_err(bad)?;
    let fail_status = parse_status(q.get("status").unwrap_or("503"))?;
    let idempotency_key = req
        .headers()
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let request_id = req
        .headers()
        .get("x-request-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (call, n) = shared.stats.flaky_call(key, |before| FlakyCall {
        method: req.method().to_string(),
        idempotency_key,
        request_id,
        status: if before < fail {
            fail_status.as_u16()
        } else {
            200
        },
    });
    let status = StatusCode::from_u16(call.status).unwrap_or(StatusCode::OK);
    let mut res = text(status, format!("call {n} for key {key}: {status}\n"));
    if status != StatusCode::OK {
        retry_after(&mut res, q)?;
    }
    Ok(res)
}

/// `n` bytes of `total`, then a reset: of the connection (RST), on HTTP/2 too, where every
/// other stream on the connection fails with it.
fn reset(n: &str, q: &Query, req: &Request<Incoming>, conn: &Arc<ConnCtx>) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let total: u64 = q.num("total", n + (1 << 20)).map_err(bad)?;
    if total <= n {
        return Err(bad("total must be larger than n"));
    }
    conn.reset_on_close();
    let ending = Ending::cut(req.version(), conn);
    let b = body::pattern_body(0, n, MAX_CHUNK, Duration::ZERO, ending);
    Ok(with_len(octets(b), total))
}

/// `n` bytes of `total`, then the connection closed cleanly (FIN) — on HTTP/2 the whole
/// connection, without a GOAWAY.
fn truncate(n: &str, q: &Query, req: &Request<Incoming>, conn: &Arc<ConnCtx>) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let total: u64 = q.num("total", n + 1024).map_err(bad)?;
    if total <= n {
        return Err(bad("total must be larger than n"));
    }
    let ending = Ending::cut(req.version(), conn);
    let b = body::pattern_body(0, n, MAX_CHUNK, Duration::ZERO, ending);
    Ok(with_len(octets(b), total))
}

/// A byte range request resolved against a body of `n` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Serve everything (no Range, an unsupported form, or a failed If-Range).
    Full,
    /// Serve `[start, end]`, inclusive.
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

fn parse_range(value: &str, n: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Full;
    };
    if spec.contains(',') {
        // Multiple ranges: a server may ignore Range (RFC 9110 §14.2); we do.
        return Range::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => {
            if start >= n {
                Range::Unsatisfiable
            } else {
                Range::Part(start, end.min(n - 1))
            }
        }
        (Ok(start), Err(_)) if b.is_empty() => {
            if start >= n {
                Range::Unsatisfiable
            } else {
                Range::Part(start, n - 1)
            }
        }
        (Err(_), Ok(suffix)) if a.is_empty() => {
            if suffix == 0 || n == 0 {
                Range::Unsatisfiable
            } else {
                Range::Part(n - suffix.min(n), n - 1)
            }
        }
        _ => Range::Full,
    }
}

fn file(
    n: &str,
    q: &Query,
    req: &Request<Incoming>,
    conn: &ConnCtx,
    shared: &Shared,
) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let etag = format!("\"file-{n}-{}\"", q.get("version").unwrap_or("1"));
    let last_modified =
        httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(FILE_MTIME_SECS));
    let reset_after: Option<u64> = match q.get("reset_after") {
        None => None,
        Some(_) => Some(q.num("reset_after", 0).map_err(bad)?),
    };

    // `reset_first=k` (with `key`): only the first k calls for the key are reset.
    let reset_after = match (q.get("reset_first"), q.get("key")) {
        (Some(k), Some(key)) => {
            let k: u64 = k.parse().map_err(|_| bad("reset_first is not a count"))?;
            reset_after.filter(|_| shared.stats.next_call(&format!("file:{key}")) < k)
        }
        (Some(_), None) => return Err(bad("reset_first needs a key")),
        _ => reset_after,
    };
    let ignore_range = q.get("ignore_range") == Some("1");
    let mut range = match req.headers().get(header::RANGE).map(|v| v.to_str()) {
        _ if ignore_range => Range::Full,
        Some(Ok(v)) if req.method() == Method::GET || req.method() == Method::HEAD => {
            parse_range(v, n)
        }
        _ => Range::Full,
    };
    if let Some(if_range) = req.headers().get(header::IF_RANGE) {
        // Strong comparison for ETags, exact match for dates (RFC 9110 §13.1.5).
        let matches = if_range.as_bytes() == etag.as_bytes()
            || if_range.as_bytes() == last_modified.as_bytes();
        if !matches {
            range = Range::Full;
        }
    }

    let (status, start, end) = match range {
        Range::Full => (StatusCode::OK, 0, n),
        Range::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b + 1),
        Range::Unsatisfiable => {
            let mut res = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            res.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{n}")).expect("ascii"),
            );
            return Ok(res);
        }
    };
    let len = end - start;
    let b = match reset_after {
        Some(m) if m < len => {
            conn.reset_on_close();
            body::pattern_body(start, start + m, MAX_CHUNK, Duration::ZERO, Ending::Abort)
        }
        _ => body::pattern_body(start, end, MAX_CHUNK, Duration::ZERO, Ending::Finish),
    };
    let mut res = with_len(octets(b), len);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).map_err(|_| bad("version is not a header value"))?,
    );
    h.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_str(&last_modified).expect("http date"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{n}", end - 1)).expect("ascii"),
        );
    }
    Ok(res)
}

fn gzip_bomb(n: &str) -> RouteResult {
    let n: u64 = seg(n, "byte count")?;
    let mut res = octets(body::gzip_bomb(n));
    res.headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Ok(res)
}

fn encoded(n: &str, q: &Query) -> RouteResult {
    let n: usize = seg(n, "byte count")?;
    if n > 64 << 20 {
        return Err(bad("at most 64 MiB"));
    }
    // Several codings (`gzip,br`) are applied in the order listed; `split` sends each on its
    // own `Content-Encoding` line.
    let codings = q.get("coding").unwrap_or("gzip");
    let mut encoded = body::pattern(0, n);
    for coding in codings.split(',') {
        encoded = body::encode(coding, &encoded).ok_or_else(|| {
            bad(format!(
                "unknown coding {coding:?} (gzip, deflate, br, zstd)"
            ))
        })?;
    }
    if let Some(t) = q.get("truncate") {
        let t: usize = t.parse().map_err(|_| bad("truncate is not a byte count"))?;
        encoded.truncate(t);
    }
    let mut res = octets(body::full(encoded));
    let lines: Vec<&str> = if q.flag("split") {
        codings.split(',').collect()
    } else {
        vec![codings]
    };
    for line in lines {
        res.headers_mut().append(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(line).map_err(|_| bad("coding is not a header value"))?,
        );
    }
    Ok(res)
}

fn redirect_status(q: &Query) -> Result<StatusCode, (StatusCode, String)> {
    let code: u16 = q.num("status", 302).map_err(bad)?;
    match StatusCode::from_u16(code) {
        Ok(s) if s.is_redirection() => Ok(s),
        _ => Err(bad(format!("status {code} is not a redirect (3xx)"))),
    }
}

fn location(status: StatusCode, to: &str) -> RouteResult {
    let mut res = text(status, format!("redirecting to {to}\n"));
    let v = HeaderValue::from_str(to).map_err(|_| bad("url is not a header value"))?;
    res.headers_mut().insert(header::LOCATION, v);
    Ok(res)
}

fn redirect(k: &str, q: &Query) -> RouteResult {
    let k: u32 = seg(k, "redirect count")?;
    let status = redirect_status(q)?;
    if k == 0 {
        return Ok(text(StatusCode::OK, "redirects done\n"));
    }
    let mut to = format!("/redirect/{}", k - 1);
    if let Some(s) = q.get("status") {
        to.push_str(&format!("?status={s}"));
    }
    location(status, &to)
}

fn redirect_to(q: &Query) -> RouteResult {
    let status = redirect_status(q)?;
    let to = q.get("url").ok_or_else(|| bad("missing url parameter"))?;
    location(status, to)
}

pub(crate) fn headers_json(req: &Request<Incoming>) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for name in req.headers().keys() {
        let joined: Vec<String> = req
            .headers()
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        map.insert(name.as_str().to_owned(), joined.join(", ").into());
    }
    map.into()
}

fn headers(req: &Request<Incoming>) -> Res {
    json(
        StatusCode::OK,
        &serde_json::json!({ "headers": headers_json(req) }),
    )
}

fn keepalive_timeout(s: &str, conn: &ConnCtx) -> RouteResult {
    let s: u64 = seg(s, "number of seconds")?;
    if s == 0 {
        return Err(bad("the keep-alive timeout must be at least 1 s"));
    }
    conn.close_when_idle_for(Duration::from_secs(s));
    let mut res = text(StatusCode::OK, "ok\n");
    res.headers_mut().insert(
        "keep-alive",
        HeaderValue::from_str(&format!("timeout={s}")).expect("ascii"),
    );
    Ok(res)
}

async fn slow_read(req: Request<Incoming>, q: &Query, shared: &Shared) -> RouteResult {
    let bps: u64 = q.num("bps", 1024).map_err(bad)?;
    if bps == 0 {
        return Err(bad("bps must be at least 1"));
    }
    let mut body = req.into_body();
    let mut total = 0u64;
    let read_all = async {
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
                // Pay for this frame at `bps` before asking hyper for the next one; hyper
                // reads no more from the socket meanwhile, so the client's writes back up.
                let pause = Duration::from_secs_f64(data.len() as f64 / bps as f64);
                tokio::time::sleep(pause).await;
            }
        }
    };
    tokio::select! {
        _ = read_all => Ok(text(StatusCode::OK, format!("read {total} bytes\n"))),
        _ = shared.shutdown_signal() => Err((StatusCode::SERVICE_UNAVAILABLE, "shutting down".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Range::Part(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), Range::Part(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), Range::Part(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 100), Range::Full);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Full);
        assert_eq!(parse_range("items=0-1", 100), Range::Full);
        assert_eq!(parse_range("bytes=x-y", 100), Range::Full);
    }

    #[test]
    fn every_route_has_a_hit_name() {
        assert_eq!(route_name(&["bytes", "10"]), "bytes");
        assert_eq!(route_name(&["ws", "echo"]), "ws/echo");
        assert_eq!(route_name(&["ws", "nope"]), "not-found");
        assert_eq!(route_name(&[""]), "not-found");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    /// A tiny xorshift, so this crate needs no random-number dependency for its tests.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn arbitrary_ranges_never_panic_and_stay_in_bounds() {
        let alphabet: Vec<char> = "bytes=-,0123456789 x".chars().collect();
        let mut st = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..50_000 {
            let len = (next(&mut st) % 24) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next(&mut st) % alphabet.len() as u64) as usize])
                .collect();
            let n = next(&mut st) % 1000;
            if let Range::Part(a, b) = parse_range(&s, n) {
                assert!(a <= b && b < n, "{s:?} over {n}: {a}-{b}");
            }
        }
    }
}

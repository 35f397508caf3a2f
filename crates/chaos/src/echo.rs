//! `/echo`: the request as the server read it — method, URI, headers, body — and what a client
//! library put in it: a form's pairs, multipart parts (sizes and SHA-256, read as they stream),
//! cookies and credentials. `/set-cookie`: responses that set cookies.

use base64::Engine;
use http::header::{self, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::body;
use crate::multipart::Reader;
use crate::query::{Query, percent_decode};
use crate::routes::{RouteResult, bad, headers_json, octets, with_len};

/// The most request body `/echo` buffers (multipart bodies are streamed, not buffered).
const ECHO_LIMIT: usize = 64 << 20;

pub(crate) async fn echo(req: Request<Incoming>, q: &Query) -> RouteResult {
    let mut report = json!({
        "method": req.method().to_string(),
        "uri": req.uri().to_string(),
        "version": format!("{:?}", req.version()),
        "headers": headers_json(&req),
        "cookies": cookies(&req),
        "auth": auth(&req),
    });
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let ct_text = content_type
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if let Some(boundary) = boundary_of(&ct_text)
        && !q.flag("raw")
    {
        let (parts, len) = multipart(req.into_body(), &boundary).await?;
        report["parts"] = parts;
        report["body_len"] = len.into();
        return Ok(crate::routes::json(StatusCode::OK, &report));
    }
    let body = Limited::new(req.into_body(), ECHO_LIMIT)
        .collect()
        .await
        .map_err(|e| {
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body not read: {e}"),
            )
        })?
        .to_bytes();
    if q.flag("raw") {
        let len = body.len() as u64;
        let mut res = with_len(octets(body::full(body)), len);
        if let Some(ct) = content_type {
            res.headers_mut().insert(header::CONTENT_TYPE, ct);
        }
        return Ok(res);
    }
    if ct_text.starts_with("application/x-www-form-urlencoded") {
        report["form"] = form(&body);
    }
    report["body"] = String::from_utf8_lossy(&body).into();
    report["body_len"] = body.len().into();
    Ok(crate::routes::json(StatusCode::OK, &report))
}

/// `/set-cookie?c=<Set-Cookie value>&c=…`: one `Set-Cookie` per `c`; with `location`, a 302
/// there.
pub(crate) fn set_cookie(q: &Query) -> RouteResult {
    let mut res = match q.get("location") {
        Some(to) => {
            let mut res = crate::routes::text(StatusCode::FOUND, "");
            let to = HeaderValue::from_str(to).map_err(|_| bad("invalid location"))?;
            res.headers_mut().insert(header::LOCATION, to);
            res
        }
        None => crate::routes::text(StatusCode::OK, "ok\n"),
    };
    for c in q.all("c") {
        let v = HeaderValue::from_str(c).map_err(|_| bad(format!("invalid cookie {c:?}")))?;
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// The boundary of a `multipart/form-data` type.
fn boundary_of(content_type: &str) -> Option<String> {
    let (mime, params) = content_type.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    })
}

/// Reads a multipart body as it arrives: its parts, and its length.
async fn multipart(
    mut body: Incoming,
    boundary: &str,
) -> Result<(Value, u64), (StatusCode, String)> {
    let mut reader = Reader::new(boundary);
    let mut len = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| bad(format!("request body not read: {e}")))?;
        if let Some(data) = frame.data_ref() {
            len += data.len() as u64;
            reader.feed(data).map_err(bad)?;
        }
    }
    let parts = reader.finish().map_err(bad)?;
    let parts = parts
        .into_iter()
        .map(|p| {
            json!({
                "name": p.name,
                "filename": p.file_name,
                "content_type": p.content_type,
                "size": p.size,
                "sha256": p.sha256,
            })
        })
        .collect();
    Ok((Value::Array(parts), len))
}

/// A form body's pairs, decoded, in order.
fn form(body: &[u8]) -> Value {
    let text = String::from_utf8_lossy(body);
    let pairs = Query::parse(Some(&text));
    Value::Array(pairs.pairs().iter().map(|(k, v)| json!([k, v])).collect())
}

/// The request's cookies, by name.
fn cookies(req: &Request<Incoming>) -> Value {
    let mut map = serde_json::Map::new();
    for v in req.headers().get_all(header::COOKIE) {
        for pair in String::from_utf8_lossy(v.as_bytes()).split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                map.insert(k.to_owned(), v.into());
            }
        }
    }
    map.into()
}

/// The request's credentials: Basic decoded into user and password, Bearer's token.
fn auth(req: &Request<Incoming>) -> Value {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else {
        return Value::Null;
    };
    let text = String::from_utf8_lossy(v.as_bytes());
    let (scheme, rest) = text.split_once(' ').unwrap_or((&text, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return json!({ "scheme": "Basic", "user": user, "password": password });
    }
    json!({ "scheme": scheme, "token": percent_decode(rest.trim()) })
}

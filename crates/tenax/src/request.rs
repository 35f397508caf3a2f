//! Building a request: method, URL, headers, query, body and per-request timeouts.

use std::fmt;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};

use crate::body::Body;
use crate::client::Client;
use crate::error::Error;
use crate::timeouts::{TimeoutOverrides, Timeouts};
use crate::url::{self, Schemes, Target};
use crate::{Response, Result, redirect};

/// Everything a request carries once built.
pub(crate) struct Parts {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeouts: TimeoutOverrides,
    pub(crate) retry: Option<crate::retry::RetryPolicy>,
    pub(crate) deadline: Option<std::time::Instant>,
    pub(crate) max_body: Option<u64>,
    /// The `Authorization` header came from the URL's user information: one the request sets
    /// replaces it.
    pub(crate) url_auth: bool,
}

impl Parts {
    /// A header the request sets itself: its own `Authorization` replaces the URL's.
    fn own_authorization(&mut self, name: &HeaderName) {
        if self.url_auth && name == http::header::AUTHORIZATION {
            self.headers.remove(http::header::AUTHORIZATION);
            self.url_auth = false;
        }
    }
}

/// A request being built; [`send`](Self::send) it. Invalid input (a malformed URL, header
/// name or value) is reported by `send` as an error for which [`Error::is_builder`] holds.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    parts: Result<Parts>,
}

/// What a URL can be given as: `&str`, `String`, or an already parsed [`http::Uri`] (which
/// saves parsing it again on every request). Sealed: implemented here only.
///
/// Every form is checked the same way: `http` or `https`, a host, a port from 1 to 65535.
/// Text is normalised as browsers, curl and reqwest do: dot segments removed, spaces and
/// non-ASCII bytes of the path and query percent-encoded, an international host name in its
/// `xn--` form. Credentials in the URL (`http://user:password@host/`) are sent as
/// `Authorization: Basic` (unless the request sets its own `Authorization`), never in the
/// request line, and are shown redacted (`user:***@`) in errors.
pub trait IntoUrl: sealed::Sealed {
    #[doc(hidden)]
    fn into_target(self) -> Result<Target>;

    /// The same for a WebSocket: `ws` or `wss` (`http` and `https` taken as those).
    #[doc(hidden)]
    fn into_ws_target(self) -> Result<Target>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for http::Uri {}
    impl Sealed for &http::Uri {}
}

impl IntoUrl for &str {
    fn into_target(self) -> Result<Target> {
        url::parse(self, Schemes::Http)
    }
    fn into_ws_target(self) -> Result<Target> {
        url::parse(self, Schemes::WebSocket)
    }
}

impl IntoUrl for String {
    fn into_target(self) -> Result<Target> {
        url::parse(&self, Schemes::Http)
    }
    fn into_ws_target(self) -> Result<Target> {
        url::parse(&self, Schemes::WebSocket)
    }
}

impl IntoUrl for &String {
    fn into_target(self) -> Result<Target> {
        url::parse(self, Schemes::Http)
    }
    fn into_ws_target(self) -> Result<Target> {
        url::parse(self, Schemes::WebSocket)
    }
}

impl IntoUrl for Uri {
    fn into_target(self) -> Result<Target> {
        url::check(self)
    }
    fn into_ws_target(self) -> Result<Target> {
        url::parse(&self.to_string(), Schemes::WebSocket)
    }
}

impl IntoUrl for &Uri {
    fn into_target(self) -> Result<Target> {
        url::check(self.clone())
    }
    fn into_ws_target(self) -> Result<Target> {
        url::parse(&self.to_string(), Schemes::WebSocket)
    }
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::to_target(client, method, url.into_target())
    }

    /// A request to a URL checked already (its credentials sent unless the request sets its
    /// own `Authorization`).
    pub(crate) fn to_target(client: Client, method: Method, url: Result<Target>) -> RequestBuilder {
        let parts = url.map(|t| {
            let mut headers = HeaderMap::new();
            let url_auth = t.auth.is_some();
            if let Some(auth) = t.auth {
                headers.insert(http::header::AUTHORIZATION, auth);
            }
            Parts {
                method,
                uri: t.uri,
                url_auth,
                headers,
                body: Body::empty(),
                timeouts: TimeoutOverrides::default(),
                retry: None,
                deadline: None,
                max_body: None,
            }
        });
        RequestBuilder { client, parts }
    }

    fn map(mut self, f: impl FnOnce(&mut Parts) -> Result<()>) -> Self {
        if let Ok(parts) = &mut self.parts
            && let Err(e) = f(parts)
        {
            self.parts = Err(e);
        }
        self
    }

    /// Adds a header (repeatable: values accumulate). Names and values are checked: CR, LF and
    /// other invalid bytes are refused.
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.map(|p| {
            let name = name
                .try_into()
                .map_err(|e| Error::builder(format!("invalid header name: {}", e.into())))?;
            let value = value.try_into().map_err(|e| {
                Error::builder(format!("invalid value for header {name}: {}", e.into()))
            })?;
            p.own_authorization(&name);
            p.headers.append(name, value);
            Ok(())
        })
    }

    /// Adds all these headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|p| {
            for (name, value) in &headers {
                p.own_authorization(name);
                p.headers.append(name.clone(), value.clone());
            }
            Ok(())
        })
    }

    /// Appends query parameters, percent-encoded (`application/x-www-form-urlencoded`).
    pub fn query<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        self.map(|p| {
            let mut pq = p.uri.path().to_string();
            let mut sep = '?';
            if let Some(q) = p.uri.query() {
                pq.push('?');
                pq.push_str(q);
                sep = '&';
            }
            for (k, v) in pairs {
                pq.push(sep);
                sep = '&';
                form_encode(k.as_ref(), &mut pq);
                pq.push('=');
                form_encode(v.as_ref(), &mut pq);
            }
            let mut uri_parts = p.uri.clone().into_parts();
            uri_parts.path_and_query = Some(
                pq.parse()
                    .map_err(|e| Error::builder(format!("invalid query: {e}")))?,
            );
            p.uri = Uri::from_parts(uri_parts)
                .map_err(|e| Error::builder(format!("invalid query: {e}")))?;
            Ok(())
        })
    }

    /// The request body: bytes, a string, or [`Body::from_stream`].
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.map(|p| {
            p.body = body.into();
            Ok(())
        })
    }

    /// A JSON body, with `Content-Type: application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        self.map(|p| {
            let v = serde_json::to_vec(value).map_err(Error::builder)?;
            p.headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            p.body = v.into();
            Ok(())
        })
    }

    /// Every phase timeout of this request, replacing the client's.
    pub fn timeouts(self, t: Timeouts) -> Self {
        self.map(|p| {
            p.timeouts = TimeoutOverrides::all(t);
            Ok(())
        })
    }

    /// This request's connect timeout (`None`: no limit). Default is the client's.
    pub fn connect_timeout(self, t: impl Into<Option<Duration>>) -> Self {
        let t = t.into();
        self.map(|p| {
            p.timeouts.connect = Some(t);
            Ok(())
        })
    }

    /// This request's write timeout (`None`: no limit). Default is the client's.
    pub fn write_timeout(self, t: impl Into<Option<Duration>>) -> Self {
        let t = t.into();
        self.map(|p| {
            p.timeouts.write = Some(t);
            Ok(())
        })
    }

    /// This request's read timeout (`None`: no limit). Default is the client's.
    pub fn read_timeout(self, t: impl Into<Option<Duration>>) -> Self {
        let t = t.into();
        self.map(|p| {
            p.timeouts.read = Some(t);
            Ok(())
        })
    }

    /// This request's pool timeout (`None`: no limit). Default is the client's.
    pub fn pool_timeout(self, t: impl Into<Option<Duration>>) -> Self {
        let t = t.into();
        self.map(|p| {
            p.timeouts.pool = Some(t);
            Ok(())
        })
    }

    /// This request's retry policy, replacing the client's.
    pub fn retry(self, policy: crate::retry::RetryPolicy) -> Self {
        self.map(|p| {
            p.retry = Some(policy);
            Ok(())
        })
    }

    /// One attempt only, whatever the client's policy.
    pub fn no_retry(self) -> Self {
        self.retry(crate::retry::RetryPolicy::none())
    }

    /// A deadline for the whole request, `limit` from now: every attempt, backoff wait and
    /// body read. Past it the request fails with [`TimeoutPhase::Deadline`](crate::TimeoutPhase).
    /// A shorter deadline of an enclosing [`deadline::scope`](crate::deadline::scope) wins.
    pub fn deadline(self, limit: Duration) -> Self {
        self.deadline_at(std::time::Instant::now() + limit)
    }

    /// Like [`deadline`](Self::deadline), at an instant.
    pub fn deadline_at(self, at: std::time::Instant) -> Self {
        self.map(|p| {
            p.deadline = Some(p.deadline.map_or(at, |d| d.min(at)));
            Ok(())
        })
    }

    /// The most body bytes (decoded) this response may have; see
    /// [`ClientBuilder::max_body_bytes`](crate::ClientBuilder::max_body_bytes). Default is the
    /// client's.
    pub fn max_body_bytes(self, bytes: u64) -> Self {
        self.map(|p| {
            p.max_body = Some(bytes);
            Ok(())
        })
    }

    /// The origin the request goes to, if its URL is valid.
    pub(crate) fn origin(&self) -> Option<crate::pool::Origin> {
        self.parts
            .as_ref()
            .ok()
            .and_then(|p| crate::origin::Origin::of(&p.uri))
    }

    /// Sends the request and waits for the response head.
    pub fn send(self) -> impl std::future::Future<Output = Result<Response>> + Send + 'static {
        // Taken apart before the future is made, so that the future holds each piece once.
        let RequestBuilder { client, mut parts } = self;
        async move {
            let parts = match &mut parts {
                Ok(p) => p,
                Err(e) => {
                    return Err(std::mem::replace(
                        e,
                        Error::new(crate::error::Kind::Builder),
                    ));
                }
            };
            redirect::follow(&client, parts).await
        }
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parts {
            Ok(p) => f
                .debug_struct("RequestBuilder")
                .field("method", &p.method)
                .field("url", &p.uri)
                .finish(),
            Err(e) => f.debug_tuple("RequestBuilder").field(e).finish(),
        }
    }
}

/// Percent-encodes for `application/x-www-form-urlencoded`: unreserved bytes stay, space is `+`.
fn form_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let parse_url = |s: &str| url::parse(s, Schemes::Http);
        assert!(parse_url("http://127.0.0.1:8080/x?y=1").is_ok());
        assert!(parse_url("https://[::1]/").is_ok());
        for bad in [
            "127.0.0.1/x",
            "ftp://h/",
            "http://",
            "http:///x",
            "http://a b/",
            "",
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(e.is_builder(), "{bad}: {e}");
        }
    }

    /// Every request in flight is this future, copied whole when boxed or spawned (its size
    /// over time: BENCHMARKS.md). A regression shows here before it shows in the small-GET
    /// bench.
    #[test]
    fn the_request_future_stays_small() {
        let client = Client::new();
        let fut = client.get("http://127.0.0.1:1/").send();
        let size = std::mem::size_of_val(&fut);
        assert!(size <= 4096, "the request future is {size} bytes");
    }

    #[test]
    fn form_encoding() {
        let mut s = String::new();
        form_encode("a b&c=d/é", &mut s);
        assert_eq!(s, "a+b%26c%3Dd%2F%C3%A9");
    }
}

//! [`RequestBuilder`]: a request's method, URL, headers, query, body and options, set one call
//! at a time; invalid input is kept as the error `send` returns.

use std::fmt;
use std::time::Duration;

use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};

use super::{IntoUrl, Parts, Request};
use crate::body::Body;
use crate::client::Client;
use crate::error::Error;
use crate::timeouts::{TimeoutOverrides, Timeouts};
use crate::url::{self, Target};
use crate::{Response, Result, redirect};

/// A request being built; [`send`](RequestBuilder::send) it. Invalid input (a malformed URL,
/// header name or value) is reported by `send` as an error for which [`Error::is_builder`]
/// holds.
///
/// `C` is the client that sends it: [`Client`], or with the `blocking` feature
/// `tenax::blocking::Client` (`tenax::blocking::RequestBuilder`), with the same setters.
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().start_in_thread().unwrap();
/// # let url = server.url("/echo");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
///
/// let client = tenax::Client::new();
/// let res = client
///     .post(&url)
///     .query(&[("page", 2)])
///     .bearer_auth("s3cret")
///     .form(&[("name", "Zoë"), ("lang", "rust")])
///     .read_timeout(Duration::from_secs(5))
///     .send()
///     .await?;
/// let echo: serde_json::Value = res.json().await?;
/// assert_eq!(echo["uri"], "/echo?page=2");
/// assert_eq!(echo["body"], "name=Zo%C3%AB&lang=rust");
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder<C = Client> {
    client: C,
    parts: Result<Parts>,
}

impl<C> RequestBuilder<C> {
    pub(crate) fn new(client: C, method: Method, url: impl IntoUrl) -> RequestBuilder<C> {
        RequestBuilder::to_target(client, method, url.into_target())
    }

    /// A request to a URL checked already (its credentials sent unless the request sets its
    /// own `Authorization`).
    pub(crate) fn to_target(client: C, method: Method, url: Result<Target>) -> RequestBuilder<C> {
        let parts = url.map(|t| Parts::new(method, t));
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

    /// Appends query parameters, `application/x-www-form-urlencoded`: anything serde
    /// serialises as pairs — a slice of pairs (`&[("page", 2)]`), a map, a struct.
    ///
    /// ```
    /// # fn demo() -> tenax::Result<()> {
    /// #[derive(serde::Serialize)]
    /// struct Search<'a> { q: &'a str, page: u32 }
    ///
    /// let client = tenax::Client::new();
    /// let req = client
    ///     .get("http://127.0.0.1:8080/find?lang=en")
    ///     .query(&Search { q: "rust & tokio", page: 2 })
    ///     .query(&[("sort", "new")])
    ///     .build()?;
    /// assert_eq!(req.url().query(), Some("lang=en&q=rust+%26+tokio&page=2&sort=new"));
    /// # Ok(()) }
    /// # demo().unwrap();
    /// ```
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|p| {
            let encoded = serde_urlencoded::to_string(query)
                .map_err(|e| Error::builder(format!("invalid query: {e}")))?;
            if encoded.is_empty() {
                return Ok(());
            }
            let pq = match p.uri.query() {
                Some(q) if !q.is_empty() => format!("{}?{q}&{encoded}", p.uri.path()),
                _ => format!("{}?{encoded}", p.uri.path()),
            };
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

    /// A form body (`application/x-www-form-urlencoded`) from anything serde serialises as
    /// pairs, with that `Content-Type`. The body is bytes: it can be retried and redirected.
    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.map(|p| {
            let encoded = serde_urlencoded::to_string(form)
                .map_err(|e| Error::builder(format!("invalid form: {e}")))?;
            p.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            p.body = encoded.into();
            Ok(())
        })
    }

    /// A `multipart/form-data` body, with its `Content-Type` (and boundary). Its length is
    /// sent when every part's length is known (text, bytes, files); file parts are read from
    /// disk as they are sent. See [`multipart::Form`](crate::multipart::Form).
    pub fn multipart(self, form: crate::multipart::Form) -> Self {
        self.map(|p| {
            p.headers.insert(header::CONTENT_TYPE, form.content_type());
            p.body = form.into_body();
            Ok(())
        })
    }

    /// `Authorization: Basic` with these credentials (`user:` when there is no password),
    /// replacing any `Authorization` set before (the URL's too). Marked sensitive: never
    /// printed, and dropped when a redirect leaves the origin.
    pub fn basic_auth(self, user: impl fmt::Display, password: Option<impl fmt::Display>) -> Self {
        let user = user.to_string();
        let password = password.map(|p| p.to_string()).unwrap_or_default();
        self.auth(url::basic_auth(user.as_bytes(), password.as_bytes()))
    }

    /// `Authorization: Bearer <token>`, replacing any `Authorization` set before. Marked
    /// sensitive: never printed, and dropped when a redirect leaves the origin. A token with
    /// bytes a header cannot carry (CR, LF) is an error of [`send`](Self::send).
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut v) => {
                v.set_sensitive(true);
                self.auth(v)
            }
            Err(_) => self.map(|_| Err(Error::builder("invalid bearer token"))),
        }
    }

    fn auth(self, value: HeaderValue) -> Self {
        self.map(|p| {
            p.own_authorization(&header::AUTHORIZATION);
            p.headers.insert(header::AUTHORIZATION, value);
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
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        self.map(|p| {
            let v = serde_json::to_vec(value).map_err(Error::builder)?;
            p.headers.insert(
                header::CONTENT_TYPE,
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

    /// Hedge this request: after the delay without a response head, a second attempt on
    /// another connection, the first head winning (see [`hedge`](crate::hedge)); replaces
    /// the client's. Only requests that may be retried are hedged. Default is the client's
    /// (none unless set).
    ///
    /// ```no_run
    /// # async fn demo(client: tenax::Client) -> tenax::Result<()> {
    /// use std::time::Duration;
    /// let res = client
    ///     .get("http://127.0.0.1:8080/tail?p=0.05&ms=2000")
    ///     .hedge(tenax::Hedge::after(Duration::from_millis(50)))
    ///     .send()
    ///     .await?;
    /// println!("hedges sent: {}, won: {}", res.hedges().sent, res.hedges().won);
    /// # Ok(()) }
    /// ```
    pub fn hedge(self, hedge: crate::Hedge) -> Self {
        self.map(|p| {
            p.extras().hedge = Some(hedge);
            Ok(())
        })
    }

    /// The client it will be sent with.
    pub(crate) fn client(&self) -> &C {
        &self.client
    }

    /// Has the request path set `flag` when an attempt meets overload (an adaptive batch's
    /// signal).
    pub(crate) fn watch_overload(&mut self, flag: crate::batch::Overload) {
        if let Ok(p) = &mut self.parts {
            p.extras().overload = Some(flag);
        }
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

    /// The request, to hold or change before [`Client::execute`]; the first invalid input
    /// given to the builder is the error.
    pub fn build(self) -> Result<Request> {
        self.parts.map(|parts| Request { parts })
    }

    /// The client and the request ([`build`](Self::build)'s result), for middleware that
    /// sends it itself.
    pub fn build_split(self) -> (C, Result<Request>) {
        (self.client, self.parts.map(|parts| Request { parts }))
    }

    /// A builder holding a request made elsewhere, to add to it and send it on `client`.
    pub fn from_parts(client: C, request: Request) -> RequestBuilder<C> {
        RequestBuilder {
            client,
            parts: Ok(request.parts),
        }
    }

    /// The request so far (the blocking client sends it).
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn into_parts(self) -> (C, Result<Parts>) {
        (self.client, self.parts)
    }

    /// A builder of what another builder had (the blocking client's, sent on its own).
    #[cfg_attr(not(feature = "blocking"), allow(dead_code))]
    pub(crate) fn from_result(client: C, parts: Result<Parts>) -> RequestBuilder<C> {
        RequestBuilder { client, parts }
    }
}

impl<C: Clone> RequestBuilder<C> {
    /// A copy of this builder; `None` when its body can be sent only once (a stream, a file
    /// part) or its input was invalid.
    pub fn try_clone(&self) -> Option<RequestBuilder<C>> {
        let parts = self.parts.as_ref().ok()?.try_clone()?;
        Some(RequestBuilder {
            client: self.client.clone(),
            parts: Ok(parts),
        })
    }
}

impl RequestBuilder<Client> {
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

impl<C> fmt::Debug for RequestBuilder<C> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request in flight is this future, copied whole when boxed or spawned (its size
    /// over time: BENCHMARKS.md). A regression shows here before it shows in the small-GET
    /// bench.
    #[test]
    fn the_request_future_stays_small() {
        let client = Client::new();
        let fut = client.get("http://127.0.0.1:1/").send();
        let size = std::mem::size_of_val(&fut);
        eprintln!(
            "request future: {size} bytes; body: {}",
            std::mem::size_of::<Body>()
        );
        assert!(size <= 4096, "the request future is {size} bytes");
    }

    /// A response goes up every stage of the request path and out to the caller: it moves as
    /// one pointer (it was ~850 bytes, copied a dozen times per request).
    #[test]
    fn a_response_moves_as_one_pointer() {
        assert_eq!(
            std::mem::size_of::<crate::Response>(),
            std::mem::size_of::<usize>()
        );
        assert_eq!(
            std::mem::size_of::<crate::Result<crate::Response>>(),
            std::mem::size_of::<[usize; 2]>()
        );
    }

    #[test]
    fn query_and_form_take_anything_serde_serialises_as_pairs() {
        let client = Client::new();
        let mut map = std::collections::BTreeMap::new();
        map.insert("a b", "c&d");
        let req = client
            .get("http://h/p?x=1")
            .query(&[("page", 2)])
            .query(&map)
            .query(&[("u", "é")])
            .build()
            .unwrap();
        assert_eq!(req.url().query(), Some("x=1&page=2&a+b=c%26d&u=%C3%A9"));
        let req = client
            .post("http://h/")
            .form(&[("k", "v w")])
            .build()
            .unwrap();
        assert_eq!(
            req.headers()[header::CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(req.body().len(), Some(5));
        // Not pairs: refused when the request is built, not sent as garbage.
        let e = client.get("http://h/").query(&42).build().unwrap_err();
        assert!(e.is_builder(), "{e}");
    }

    #[test]
    fn basic_and_bearer_auth_are_sensitive_and_replace_the_urls_credentials() {
        let client = Client::new();
        let req = client
            .get("http://u:p@h/")
            .basic_auth("me", Some("pw"))
            .build()
            .unwrap();
        let all: Vec<_> = req
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0], "Basic bWU6cHc=");
        assert!(all[0].is_sensitive());
        let req = client
            .get("http://h/")
            .basic_auth("me", None::<&str>)
            .bearer_auth("tok")
            .build()
            .unwrap();
        assert_eq!(req.headers()[header::AUTHORIZATION], "Bearer tok");
        assert!(format!("{req:?}").contains("Sensitive"));
        let e = client
            .get("http://h/")
            .bearer_auth("a\r\nb")
            .build()
            .unwrap_err();
        assert!(e.is_builder());
    }
}

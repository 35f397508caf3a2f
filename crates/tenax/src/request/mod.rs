//! A request: built by [`RequestBuilder`], held as a [`Request`] (for middleware, or to send
//! later with [`Client::execute`](crate::Client::execute)).

use std::fmt;

use http::header::HeaderName;
use http::{HeaderMap, Method, Uri};

use crate::Result;
use crate::body::Body;
use crate::timeouts::TimeoutOverrides;
use crate::url::Target;

mod builder;
mod into_url;

pub use builder::RequestBuilder;
pub use into_url::IntoUrl;

/// Everything a request carries once built.
pub(crate) struct Parts {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Body,
    pub(crate) timeouts: TimeoutOverrides,
    pub(crate) retry: Option<crate::retry::RetryPolicy>,
    /// What few requests carry (boxed: the request is moved often).
    pub(crate) extras: Option<Box<Extras>>,
    pub(crate) deadline: Option<std::time::Instant>,
    pub(crate) max_body: Option<u64>,
    /// The `Authorization` header came from the URL's user information: one the request sets
    /// replaces it.
    pub(crate) url_auth: bool,
}

impl Parts {
    /// A request to a URL checked already, its credentials (if any) as `Authorization`.
    /// Inlined: built in place, not copied out of a call (the small-GET bench counts it).
    #[inline(always)]
    pub(crate) fn new(method: Method, target: Target) -> Parts {
        let mut headers = HeaderMap::new();
        let url_auth = target.auth.is_some();
        if let Some(auth) = target.auth {
            headers.insert(http::header::AUTHORIZATION, auth);
        }
        Parts {
            method,
            uri: target.uri,
            url_auth,
            headers,
            body: Body::empty(),
            timeouts: TimeoutOverrides::default(),
            retry: None,
            extras: None,
            deadline: None,
            max_body: None,
        }
    }

    /// The extras, made on first use.
    pub(crate) fn extras(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    /// A header the request sets itself: its own `Authorization` replaces the URL's.
    pub(crate) fn own_authorization(&mut self, name: &HeaderName) {
        if self.url_auth && name == http::header::AUTHORIZATION {
            self.headers.remove(http::header::AUTHORIZATION);
            self.url_auth = false;
        }
    }

    fn try_clone(&self) -> Option<Parts> {
        Some(Parts {
            method: self.method.clone(),
            uri: self.uri.clone(),
            headers: self.headers.clone(),
            body: self.body.try_clone()?,
            timeouts: self.timeouts,
            retry: self.retry.clone(),
            extras: (self.extras.as_ref()).map(|e| {
                Box::new(Extras {
                    hedge: e.hedge,
                    // The signal belongs to the request an adaptive batch sent.
                    overload: None,
                })
            }),
            deadline: self.deadline,
            max_body: self.max_body,
            url_auth: self.url_auth,
        })
    }
}

/// Options of a request that few requests set.
#[derive(Default)]
pub(crate) struct Extras {
    /// This request's hedging, replacing the client's.
    pub(crate) hedge: Option<crate::Hedge>,
    /// Set when an attempt meets overload (an adaptive batch's signal).
    pub(crate) overload: Option<crate::batch::Overload>,
}

/// A request ready to send: method, URL, headers, body and its own options (timeouts, retry
/// policy, deadline, body cap). Made by [`RequestBuilder::build`] or [`Request::new`]; sent by
/// [`Client::execute`](crate::Client::execute). Middleware can hold, look at and change one.
///
/// ```
/// # fn demo() -> tenax::Result<()> {
/// let client = tenax::Client::new();
/// let mut req = client.post("http://127.0.0.1:8080/items").body("x").build()?;
/// req.headers_mut().insert("x-trace", "1".parse().unwrap());
/// assert_eq!(req.method(), tenax::Method::POST);
/// let again = req.try_clone().expect("a body of bytes can be sent twice");
/// assert_eq!(again.url(), "http://127.0.0.1:8080/items");
/// # Ok(()) }
/// # demo().unwrap();
/// ```
pub struct Request {
    pub(crate) parts: Parts,
}

impl Request {
    /// A request with no headers and no body. The URL is checked as [`IntoUrl`] says; its
    /// credentials become `Authorization: Basic`.
    pub fn new(method: Method, url: impl IntoUrl) -> Result<Request> {
        Ok(Request {
            parts: Parts::new(method, url.into_target()?),
        })
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The method, to change.
    pub fn method_mut(&mut self) -> &mut Method {
        &mut self.parts.method
    }

    /// The URL (without credentials: those are in `Authorization`).
    pub fn url(&self) -> &Uri {
        &self.parts.uri
    }

    /// Replaces the URL, checked as [`IntoUrl`] says. Credentials in the new URL replace the
    /// `Authorization` the old URL's gave; without any, that `Authorization` is dropped.
    pub fn set_url(&mut self, url: impl IntoUrl) -> Result<()> {
        let target = url.into_target()?;
        if self.parts.url_auth {
            self.parts.headers.remove(http::header::AUTHORIZATION);
            self.parts.url_auth = false;
        }
        if let Some(auth) = target.auth {
            if self.parts.headers.contains_key(http::header::AUTHORIZATION) {
                // The request's own credentials stay, as when it was built.
            } else {
                self.parts.headers.insert(http::header::AUTHORIZATION, auth);
                self.parts.url_auth = true;
            }
        }
        self.parts.uri = target.uri;
        Ok(())
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The headers, to change.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.parts.url_auth = false;
        &mut self.parts.headers
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.parts.body
    }

    /// The body, to change or replace.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.parts.body
    }

    /// A copy, for a request whose body can be sent again (none, bytes, a form, a multipart
    /// form of text and bytes); `None` for a body streamed once (a stream, a file part).
    pub fn try_clone(&self) -> Option<Request> {
        Some(Request {
            parts: self.parts.try_clone()?,
        })
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.parts.method)
            .field("url", &self.parts.uri)
            .field("headers", &self.parts.headers)
            .field("body", &self.parts.body)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::{self, Schemes};

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

    #[test]
    fn a_request_set_to_a_url_with_credentials_sends_them_and_drops_the_old_ones() {
        let mut req = Request::new(Method::GET, "http://a:b@h/").unwrap();
        assert!(req.headers().contains_key(http::header::AUTHORIZATION));
        req.set_url("http://h/x").unwrap();
        assert!(!req.headers().contains_key(http::header::AUTHORIZATION));
        req.set_url("http://c:d@h/y").unwrap();
        let auth = req.headers()[http::header::AUTHORIZATION].clone();
        assert!(auth.is_sensitive());
        assert!(req.set_url("http://h:65536/").unwrap_err().is_invalid_url());
    }

    #[test]
    fn a_request_with_a_stream_body_cannot_be_cloned() {
        let mut req = Request::new(Method::POST, "http://h/").unwrap();
        assert!(req.try_clone().is_some());
        let chunks = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::new())]);
        *req.body_mut() = Body::from_stream(chunks);
        assert!(req.try_clone().is_none());
    }
}

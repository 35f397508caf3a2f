//! The cookie stage, between the redirect stage and the retry stage (called inline by the
//! redirect stage): each hop of a request (and each WebSocket handshake) is sent the store's
//! cookies for its URL, and what it sets is kept. Without the `cookies` feature, or without a
//! store, it is nothing.

use http::Uri;
use http::header::{self, HeaderMap, HeaderValue};

/// The client's cookie store, if it has one.
#[derive(Clone, Default)]
pub(crate) struct Cookies {
    #[cfg(feature = "cookies")]
    store: Option<std::sync::Arc<dyn crate::cookie::CookieStore>>,
}

impl Cookies {
    #[cfg(feature = "cookies")]
    pub(crate) fn new(store: Option<std::sync::Arc<dyn crate::cookie::CookieStore>>) -> Cookies {
        Cookies { store }
    }

    /// Before a hop: the store's cookies for its URL; whether any were added.
    #[inline]
    pub(crate) fn before(&self, parts: &mut crate::request::Parts) -> bool {
        self.is_on() && self.add_to(&parts.uri, &mut parts.headers)
    }

    /// After a hop: what its response sets is kept, and the cookies added for it are taken
    /// off the request (the next hop gets its own URL's).
    #[inline]
    pub(crate) fn after(
        &self,
        added: bool,
        parts: &mut crate::request::Parts,
        res: crate::Result<crate::Response>,
    ) -> crate::Result<crate::Response> {
        if added {
            parts.headers.remove(header::COOKIE);
        }
        if self.is_on()
            && let Ok(res) = &res
        {
            self.keep(res.url(), res.headers());
        }
        res
    }

    /// Adds the store's cookies for `uri` to `headers`, unless they have a `Cookie` of their
    /// own; whether it added one.
    pub(crate) fn add_to(&self, uri: &Uri, headers: &mut HeaderMap) -> bool {
        // The request's own first: then the store is not asked at all.
        if headers.contains_key(header::COOKIE) {
            return false;
        }
        match self.header_for(uri) {
            Some(v) => {
                headers.insert(header::COOKIE, v);
                true
            }
            None => false,
        }
    }

    /// Keeps the cookies `headers` (a response's, from `uri`) set.
    pub(crate) fn keep(&self, uri: &Uri, headers: &HeaderMap) {
        #[cfg(feature = "cookies")]
        if let Some(store) = &self.store
            && headers.contains_key(header::SET_COOKIE)
            && let Some(url) = url_of(uri)
        {
            store.set_cookies(&mut headers.get_all(header::SET_COOKIE).iter(), &url);
        }
        #[cfg(not(feature = "cookies"))]
        let _ = (uri, headers);
    }

    /// Whether there is a store.
    pub(crate) fn is_on(&self) -> bool {
        #[cfg(feature = "cookies")]
        {
            self.store.is_some()
        }
        #[cfg(not(feature = "cookies"))]
        {
            false
        }
    }

    fn header_for(&self, uri: &Uri) -> Option<HeaderValue> {
        #[cfg(feature = "cookies")]
        {
            self.store.as_ref()?.cookies(&url_of(uri)?)
        }
        #[cfg(not(feature = "cookies"))]
        {
            let _ = uri;
            None
        }
    }
}

/// The URL cookies are matched against: a WebSocket's is its HTTP equivalent (`wss` is as
/// secure as `https`).
#[cfg(feature = "cookies")]
fn url_of(uri: &Uri) -> Option<url::Url> {
    let text = uri.to_string();
    let text = if let Some(rest) = text.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = text.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        text
    };
    url::Url::parse(&text).ok()
}

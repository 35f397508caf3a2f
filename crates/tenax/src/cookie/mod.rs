//! Cookies (feature `cookies`): the [`CookieStore`] a client keeps them in, and [`Jar`], the
//! store it uses by default — RFC 6265's domain, path, `Secure` and expiry rules (by the
//! `cookie_store` crate), readable from and writable to curl's cookie-jar files.
//!
//! A client with a store ([`ClientBuilder::cookie_store`](crate::ClientBuilder::cookie_store)
//! or [`cookie_provider`](crate::ClientBuilder::cookie_provider)) keeps every `Set-Cookie`
//! of every response — redirects and WebSocket handshakes included — and sends each request
//! the cookies of its URL, never another site's. A request's own `Cookie` header replaces
//! the store's.
//!
//! ```
//! use std::sync::Arc;
//! use tenax::cookie::{CookieStore, Jar};
//!
//! let jar = Arc::new(Jar::default());
//! let site: url::Url = "http://127.0.0.1:8080/".parse().unwrap();
//! jar.add_cookie_str("session=abc; Path=/", &site);
//! let client = tenax::Client::builder().cookie_provider(jar.clone()).build().unwrap();
//! assert_eq!(jar.cookies(&site).unwrap(), "session=abc");
//! let other: url::Url = "http://127.0.0.2:8080/".parse().unwrap();
//! assert!(jar.cookies(&other).is_none());
//! # drop(client);
//! ```

use std::fmt;

use http::HeaderValue;

use std::sync::Mutex;

use crate::sync::lock;

mod netscape;

/// Where a client keeps cookies: implement it to share cookies with something else, or to
/// keep them elsewhere. The methods are called on the request path: keep them quick.
pub trait CookieStore: Send + Sync {
    /// Keeps the cookies of these `Set-Cookie` values, received from `url`.
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url);

    /// The `Cookie` header for a request to `url`, if any cookie applies.
    fn cookies(&self, url: &url::Url) -> Option<HeaderValue>;
}

/// The default [`CookieStore`]: cookies in memory, by RFC 6265's rules (a cookie for an IP
/// address or host is sent only to it; `Domain` widens that to subdomains, never to a public
/// suffix or another site; `Path`, `Secure` and `Max-Age`/`Expires` are kept).
#[derive(Default)]
pub struct Jar {
    store: Mutex<cookie_store::CookieStore>,
}

impl Jar {
    /// Adds a cookie, given as a `Set-Cookie` value would be, as if `url` had sent it. A
    /// cookie the rules refuse for `url` (another site's domain, say) is not kept.
    pub fn add_cookie_str(&self, cookie: &str, url: &url::Url) {
        // Refused cookies are dropped, as a browser drops them.
        let _ = lock(&self.store).parse(cookie, url);
    }

    /// Reads cookies in curl's cookie-jar format (`curl -c`, Netscape's `cookies.txt`):
    /// one cookie a line, seven fields separated by tabs; comment lines are skipped, as are
    /// cookies already expired. Returns how many cookies were kept; a line that is not a
    /// cookie is an error naming its number.
    pub fn load_netscape(&self, text: &str) -> Result<usize, crate::Error> {
        let mut store = lock(&self.store);
        netscape::load(&mut store, text)
    }

    /// The cookies not yet expired, in curl's cookie-jar format (session cookies with an
    /// expiry of 0, as curl writes them).
    pub fn to_netscape(&self) -> String {
        netscape::save(&lock(&self.store))
    }
}

impl CookieStore for Jar {
    fn set_cookies(&self, cookie_headers: &mut dyn Iterator<Item = &HeaderValue>, url: &url::Url) {
        let cookies = cookie_headers.filter_map(|v| {
            let text = std::str::from_utf8(v.as_bytes()).ok()?;
            cookie_store::RawCookie::parse(text.to_owned()).ok()
        });
        lock(&self.store).store_response_cookies(cookies, url);
    }

    fn cookies(&self, url: &url::Url) -> Option<HeaderValue> {
        let store = lock(&self.store);
        // RFC 6265 §5.4: longer paths first; then by name, so that the header is the same
        // from one request to the next (the store keeps no creation order).
        let mut matching = store.matches(url);
        matching.sort_by(|a, b| {
            let (pa, pb): (&str, &str) = (a.path.as_ref(), b.path.as_ref());
            pb.len().cmp(&pa.len()).then_with(|| a.name().cmp(b.name()))
        });
        let mut header = String::new();
        for (name, value) in matching.iter().map(|c| c.name_value()) {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(name);
            header.push('=');
            header.push_str(value);
        }
        if header.is_empty() {
            return None;
        }
        let mut v = HeaderValue::try_from(header).ok()?;
        v.set_sensitive(true);
        Some(v)
    }
}

impl fmt::Debug for Jar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: values are credentials.
        let store = lock(&self.store);
        let names: Vec<&str> = store.iter_unexpired().map(|c| c.name()).collect();
        f.debug_struct("Jar").field("cookies", &names).finish()
    }
}

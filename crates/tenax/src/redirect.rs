//! Redirects: the [`Policy`] of which to follow. The redirect stage is the first a request
//! meets: where a redirect leads, and what the request keeps on the way; each hop goes through
//! the retry stage as a request of its own.

use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Uri};

use crate::body::Body;
use crate::client::Client;
use crate::error::{Error, Kind};
use crate::origin::Origin;
use crate::request::Parts;
use crate::response::Response;
use crate::url::{self, Target};

/// Whether and how far to follow redirects (301, 302, 303, 307, 308).
///
/// Followed requests keep their headers, except `Authorization`, `Cookie` and
/// `Proxy-Authorization`, which are dropped when the redirect leaves the origin (scheme, host,
/// port). A redirect from https to http is refused unless allowed. 303, and 301/302 after a
/// POST, continue as GET without a body; 307 and 308 repeat the method and body (a streaming
/// body that cannot be replayed ends the chain: the 3xx response is returned).
///
/// ```
/// use tenax::redirect::Policy;
///
/// let client = tenax::Client::builder()
///     .redirect(Policy::limited(5).allow_https_downgrade(false))
///     .build()?;
/// let no_follow = tenax::Client::builder().redirect(Policy::none()).build()?;
/// # drop((client, no_follow)); Ok::<(), tenax::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    max: usize,
    allow_https_downgrade: bool,
}

impl Default for Policy {
    /// Follow up to 10 redirects; refuse https → http.
    fn default() -> Self {
        Policy {
            max: 10,
            allow_https_downgrade: false,
        }
    }
}

impl Policy {
    /// Follow at most `max` redirects; one more fails with [`Error::is_redirect`].
    pub fn limited(max: usize) -> Self {
        Policy {
            max,
            ..Policy::default()
        }
    }

    /// Never follow: 3xx responses are returned as they are.
    pub fn none() -> Self {
        Policy::limited(0)
    }

    /// Allow redirects from https to http (the rest of the chain travels in clear). Default is
    /// false.
    #[must_use]
    pub fn allow_https_downgrade(mut self, allow: bool) -> Self {
        self.allow_https_downgrade = allow;
        self
    }

    pub(crate) fn follows(&self) -> bool {
        self.max > 0
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    pub(crate) fn downgrade_allowed(&self) -> bool {
        self.allow_https_downgrade
    }
}

/// Sends the request and follows the redirects the client's policy allows.
pub(crate) async fn follow(client: &Client, parts: &mut Parts) -> Result<Response, Error> {
    let policy = client.redirect_policy();
    // The cookie stage, around each hop (inline: a future of its own would be copied whole).
    let cookies = client.cookies();
    if !policy.follows() {
        let added = cookies.before(parts);
        let res = client.send_hop(parts).await;
        return cookies.after(added, parts, res);
    }
    let mut hops = 0;
    loop {
        // What the next hop may need, before this one consumes it.
        let headers = parts.headers.clone();
        let body = parts.body.try_clone();
        let added = cookies.before(parts);
        let res = client.send_hop(parts).await;
        let res = cookies.after(added, parts, res)?;
        if !hop(parts, &res, (headers, body), &policy, hops)? {
            return Ok(res);
        }
        hops += 1;
        // The 3xx's small body is read in the background as it drops.
        drop(res);
    }
}

/// Readies `parts` for the redirect `res` asks for; false when `res` is the answer (not a
/// redirect to follow, or one whose body cannot be sent again).
fn hop(
    parts: &mut Parts,
    res: &Response,
    (headers, body): (HeaderMap, Option<Body>),
    policy: &Policy,
    hops: usize,
) -> Result<bool, Error> {
    let Some(next) = next_for(res.status(), &parts.method) else {
        return Ok(false);
    };
    let Some(location) = res.headers().get(header::LOCATION) else {
        return Ok(false);
    };
    let from = res.url();
    let refuse = |msg: String| {
        Error::new(Kind::Redirect)
            .with_url(&parts.method, from)
            .with_source(msg)
    };
    if hops >= policy.max() {
        return Err(refuse(format!("more than {} redirects", policy.max())));
    }
    let to = resolve(from, location.as_bytes()).map_err(|e| e.with_url(&parts.method, from))?;
    if from.scheme_str() == Some("https")
        && to.uri.scheme_str() == Some("http")
        && !policy.downgrade_allowed()
    {
        return Err(refuse(format!(
            "refused to follow a redirect from https to {}",
            to.uri
        )));
    }
    parts.body = match (next, body) {
        (Next::Repeat, Some(b)) => b,
        // A body that cannot be sent again ends the chain here.
        (Next::Repeat, None) => return Ok(false),
        (Next::Get, _) => {
            if parts.method != Method::HEAD {
                parts.method = Method::GET;
            }
            Body::empty()
        }
    };
    parts.headers = headers;
    if parts.body.is_empty() {
        parts.headers.remove(header::CONTENT_TYPE);
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    strip_for(&mut parts.headers, from, &to.uri);
    if let Some(auth) = to.auth {
        parts.headers.insert(header::AUTHORIZATION, auth);
    }
    parts.uri = to.uri;
    Ok(true)
}

/// What the next request of a redirect chain is.
pub(crate) enum Next {
    /// Same method, same body.
    Repeat,
    /// GET (HEAD stays HEAD), no body.
    Get,
}

/// How to follow `status`, or `None` if it is not a redirect to follow.
pub(crate) fn next_for(status: StatusCode, method: &Method) -> Option<Next> {
    match status.as_u16() {
        307 | 308 => Some(Next::Repeat),
        303 if *method != Method::HEAD => Some(Next::Get),
        301 | 302 if *method == Method::POST => Some(Next::Get),
        301..=303 => Some(Next::Repeat),
        _ => None,
    }
}

/// Resolves a `Location` against the URL it came from (RFC 3986 §5.2, dot segments removed,
/// what the request line cannot carry percent-encoded), dropping any fragment.
pub(crate) fn resolve(base: &Uri, location: &[u8]) -> Result<Target, Error> {
    let text = url::location_text(location);
    let bad = |why: String| Error::new(Kind::Redirect).with_source(why);
    if text.trim().is_empty() {
        return Err(bad("the redirect has an empty Location".into()));
    }
    url::resolve(base, &text).map_err(|e| {
        bad(format!(
            "the redirect's Location {:?} is not a usable URL: {e}",
            url::redact(text.trim())
        ))
    })
}

/// Drops credentials when a redirect leaves the origin.
pub(crate) fn strip_for(headers: &mut HeaderMap, from: &Uri, to: &Uri) {
    let same = match (Origin::of(from), Origin::of(to)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if !same {
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::COOKIE);
        headers.remove(header::PROXY_AUTHORIZATION);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(base: &str, loc: &[u8]) -> String {
        resolve(&base.parse().unwrap(), loc)
            .unwrap()
            .uri
            .to_string()
    }

    #[test]
    fn redirect_locations_with_spaces_utf8_and_dot_segments_are_followed() {
        assert_eq!(r("http://h:1/a/b/dotdot", b"../x"), "http://h:1/a/x");
        assert_eq!(
            r("http://h/a/b", "caf\u{e9} au lait".as_bytes()),
            "http://h/a/caf%C3%A9%20au%20lait"
        );
        assert_eq!(r("http://h/a/b", b"/x\xe9?q=\xff"), "http://h/x%E9?q=%FF");
        assert_eq!(r("http://h/a", b"https://u:pw@k/y"), "https://k/y");
        let base: Uri = "http://h/".parse().unwrap();
        assert!(resolve(&base, b"").unwrap_err().is_redirect());
        assert!(resolve(&base, b"ftp://x/").unwrap_err().is_redirect());
        let e = resolve(&base, b"http://u:secret@h:99999/").unwrap_err();
        let text = crate::error::message_chain(&e);
        assert!(
            !text.contains("secret") && text.contains("u:***@"),
            "{text}"
        );
    }

    #[test]
    fn methods_follow_rfc_9110() {
        assert!(matches!(
            next_for(StatusCode::SEE_OTHER, &Method::POST),
            Some(Next::Get)
        ));
        assert!(matches!(
            next_for(StatusCode::FOUND, &Method::POST),
            Some(Next::Get)
        ));
        assert!(matches!(
            next_for(StatusCode::FOUND, &Method::PUT),
            Some(Next::Repeat)
        ));
        assert!(matches!(
            next_for(StatusCode::TEMPORARY_REDIRECT, &Method::POST),
            Some(Next::Repeat)
        ));
        assert!(next_for(StatusCode::NOT_MODIFIED, &Method::GET).is_none());
        assert!(next_for(StatusCode::OK, &Method::GET).is_none());
    }

    #[test]
    fn credentials_stay_within_the_origin() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer x".parse().unwrap());
        h.insert(header::COOKIE, "a=b".parse().unwrap());
        h.insert("x-other", "kept".parse().unwrap());
        let a: Uri = "http://h:1/a".parse().unwrap();
        strip_for(&mut h, &a, &"http://H:1/b".parse().unwrap());
        assert!(h.contains_key(header::AUTHORIZATION));
        strip_for(&mut h, &a, &"http://h:2/b".parse().unwrap());
        assert!(!h.contains_key(header::AUTHORIZATION) && !h.contains_key(header::COOKIE));
        assert!(h.contains_key("x-other"));
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    #[test]
    fn arbitrary_locations_never_panic() {
        let mut rng = fastrand::Rng::with_seed(5);
        let alphabet: Vec<char> = "ab/:?#.%[]@ 1h\u{e9}\r\n".chars().collect();
        let base: Uri = "https://h:8443/a/b?q=1".parse().unwrap();
        for _ in 0..20_000 {
            let len = rng.usize(0..30);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            if let Ok(t) = resolve(&base, s.as_bytes()) {
                let u = t.uri;
                assert!(
                    matches!(u.scheme_str(), Some("http" | "https")),
                    "{s:?} -> {u}"
                );
                assert!(
                    u.path().is_ascii() && !u.path().contains("/../"),
                    "{s:?} -> {u}"
                );
            }
        }
    }
}

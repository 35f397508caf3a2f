//! Following redirects: which to follow, where they lead, and what a request keeps on the way.

use http::header::{self, HeaderMap};
use http::{Method, StatusCode, Uri};

use crate::error::{Error, Kind};
use crate::pool::Origin;

/// Whether and how far to follow redirects (301, 302, 303, 307, 308).
///
/// Followed requests keep their headers, except `Authorization`, `Cookie` and
/// `Proxy-Authorization`, which are dropped when the redirect leaves the origin (scheme, host,
/// port). A redirect from https to http is refused unless allowed. 303, and 301/302 after a
/// POST, continue as GET without a body; 307 and 308 repeat the method and body (a streaming
/// body that cannot be replayed ends the chain: the 3xx response is returned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RedirectPolicy {
    max: usize,
    allow_https_downgrade: bool,
}

impl Default for RedirectPolicy {
    /// Follow up to 10 redirects; refuse https → http.
    fn default() -> Self {
        RedirectPolicy {
            max: 10,
            allow_https_downgrade: false,
        }
    }
}

impl RedirectPolicy {
    /// Follow at most `max` redirects; one more fails with [`Error::is_redirect`].
    pub fn limited(max: usize) -> Self {
        RedirectPolicy {
            max,
            ..RedirectPolicy::default()
        }
    }

    /// Never follow: 3xx responses are returned as they are.
    pub fn none() -> Self {
        RedirectPolicy::limited(0)
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

/// Resolves a `Location` against the URL it came from (RFC 3986 §5.2, without dot-segment
/// removal), dropping any fragment.
pub(crate) fn resolve(base: &Uri, location: &str) -> Result<Uri, Error> {
    let location = location.split('#').next().unwrap_or("").trim();
    let bad = |why: String| Error::new(Kind::Redirect).with_source(why);
    if location.is_empty() {
        return Err(bad("the redirect has an empty Location".into()));
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base.authority().map(|a| a.as_str()).unwrap_or("");
    let has_scheme = location.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
            && !s.contains('/')
    });
    let absolute = if has_scheme {
        location.to_string()
    } else if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else if location.starts_with('?') {
        format!("{scheme}://{authority}{}{location}", base.path())
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    };
    crate::request::parse_url(&absolute).map_err(|e| {
        bad(format!(
            "the redirect's Location {location:?} is not a usable URL: {e}"
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

    fn r(base: &str, loc: &str) -> String {
        resolve(&base.parse().unwrap(), loc).unwrap().to_string()
    }

    #[test]
    fn locations_resolve_against_their_base() {
        assert_eq!(r("http://h:1/a/b?q", "/c"), "http://h:1/c");
        assert_eq!(r("http://h:1/a/b", "c?d=1"), "http://h:1/a/c?d=1");
        assert_eq!(r("https://h/a/b", "//g:2/x"), "https://g:2/x");
        assert_eq!(r("http://h/a", "https://k/y#frag"), "https://k/y");
        assert_eq!(r("http://h/a/b", "?x=1"), "http://h/a/b?x=1");
        assert_eq!(r("http://h", "z"), "http://h/z");
        assert!(
            resolve(&"http://h/".parse().unwrap(), "")
                .unwrap_err()
                .is_redirect()
        );
        assert!(
            resolve(&"http://h/".parse().unwrap(), "ftp://x/")
                .unwrap_err()
                .is_redirect()
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
            if let Ok(u) = resolve(&base, &s) {
                assert!(
                    matches!(u.scheme_str(), Some("http" | "https")),
                    "{s:?} -> {u}"
                );
            }
        }
    }
}

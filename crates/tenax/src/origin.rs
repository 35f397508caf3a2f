//! Where a request goes: scheme, host and port, the key of the pool, of the retry budget and of
//! credentials' scope across redirects. The default ports are `url::default_port`'s.

use std::hash::{Hash, Hasher};

use http::HeaderValue;
use http::uri::Authority;

/// Where a connection goes: scheme, host and port (the proxy joins this key later).
///
/// Built from the request's URL without allocating (the authority shares the URL's bytes),
/// with the host located and the hash computed once: the pool looks origins up twice per
/// request. Hosts compare without regard to case.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    https: bool,
    port: u16,
    hash: u64,
    authority: Authority,
    /// Where the host lies in `authority`.
    host: std::ops::Range<usize>,
}

impl Origin {
    /// The origin of an absolute `http`/`https` (or `ws`/`wss`) URL, checked when it was parsed; `None`
    /// without a host or with a port that does not fit in 16 bits.
    pub(crate) fn of(uri: &http::Uri) -> Option<Origin> {
        let https = crate::url::is_secure(uri);
        let authority = uri.authority()?.clone();
        let port = crate::url::port_of(uri)?;
        let all = authority.as_str();
        let host = authority.host();
        // `host()` is a subslice of the authority string.
        let start = host.as_ptr() as usize - all.as_ptr() as usize;
        let range = start..start + host.len();
        // FNV-1a over the lowercased host, the port and the scheme.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let port_bytes = port.to_le_bytes();
        let bytes = host
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .chain(port_bytes)
            .chain([u8::from(https)]);
        for b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Some(Origin {
            https,
            port,
            hash,
            authority,
            host: range,
        })
    }

    pub(crate) fn is_https(&self) -> bool {
        self.https
    }

    /// The host as written in the URL (IPv6 literals in brackets).
    pub(crate) fn host(&self) -> &str {
        &self.authority.as_str()[self.host.clone()]
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Hosts compare without regard to case; the usual match (the same URL's bytes, or the
    /// same spelling) is found without folding case.
    fn same_host(&self, other: &Origin) -> bool {
        let (a, b) = (self.host(), other.host());
        std::ptr::eq(a, b) || a == b || a.eq_ignore_ascii_case(b)
    }

    /// `host:port`, the port always written (event and metric labels).
    pub(crate) fn host_port(&self) -> String {
        format!("{}:{}", self.host(), self.port)
    }

    /// The `Host` header for this origin: the URL's authority without user information.
    pub(crate) fn host_header(&self) -> HeaderValue {
        let s = match self.authority.port_u16() {
            Some(p) => format!("{}:{p}", self.host()),
            None => self.host().to_string(),
        };
        HeaderValue::from_str(&s).expect("a parsed URL's authority is a valid header value")
    }
}

impl PartialEq for Origin {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.https == other.https
            && self.port == other.port
            && self.same_host(other)
    }
}

impl Eq for Origin {}

impl Hash for Origin {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// A hasher for keys that carry their own hash ([`Origin`]): passes it through.
#[derive(Default)]
pub(crate) struct PassHasher(u64);

impl Hasher for PassHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Origin`; fold anything else in, to stay correct.
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> Origin {
        Origin::of(&url.parse().unwrap()).unwrap()
    }

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        assert_eq!(
            origin("http://Example.com/a"),
            origin("http://example.com:80/b")
        );
        assert_ne!(
            origin("http://example.com/"),
            origin("https://example.com/")
        );
        assert_ne!(
            origin("http://example.com/"),
            origin("http://example.com:8080/")
        );
        assert_eq!(origin("http://u:p@[::1]:8080/").host(), "[::1]");
        assert_eq!(origin("https://h/").port(), 443);
        assert_eq!(origin("http://u@h:81/").host_header(), "h:81");
        assert_eq!(origin("http://h/").host_header(), "h");
        assert!(origin("wss://h/").is_https());
        assert_eq!(origin("wss://h/").port(), 443);
    }
}

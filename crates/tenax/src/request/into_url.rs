//! What a URL can be given as: the sealed [`IntoUrl`].

use http::Uri;

use crate::Result;
use crate::url::{self, Schemes, Target};

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

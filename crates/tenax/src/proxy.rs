//! Proxies: which one a request goes through (explicit ones, else `HTTP_PROXY`, `HTTPS_PROXY`,
//! `ALL_PROXY`, minus `NO_PROXY`), and how: absolute-form requests for `http://`, a `CONNECT`
//! tunnel for `https://` and WebSockets.

use http::HeaderValue;

use crate::connect::Route;
use crate::error::Error;
use crate::origin::Origin;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    All,
    Http,
    Https,
}

/// What speaks at the proxy's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProxyKind {
    Http,
    /// HTTP over TLS to the proxy itself.
    Https,
    /// SOCKS5; `remote_dns` for `socks5h://` (the proxy resolves the target's name).
    Socks5 {
        remote_dns: bool,
    },
}

/// A proxy server: `http://[user:password@]host:port`, `https://…` (TLS to the proxy, checked
/// against the client's roots), `socks5://…` (names resolved here) or `socks5h://…` (names
/// resolved by the proxy). Credentials are percent-decoded; the password is never shown
/// (`Debug` and errors print `***`).
///
/// ```
/// let client = tenax::Client::builder()
///     .proxy(tenax::Proxy::all("http://user:secret@127.0.0.1:3128")?)
///     .no_proxy("localhost,.internal")
///     .build()?;
/// // The password is never printed.
/// assert!(!format!("{:?}", tenax::Proxy::all("http://u:secret@h:1")?).contains("secret"));
/// # drop(client); Ok::<(), tenax::Error>(())
/// ```
#[derive(Clone)]
pub struct Proxy {
    kind: ProxyKind,
    scope: Scope,
    host: String,
    port: u16,
    auth: Option<HeaderValue>,
    /// The credentials as given, for SOCKS5's username/password method.
    user: Option<(String, String)>,
}

impl Proxy {
    fn parse(url: &str, scope: Scope) -> Result<Proxy, Error> {
        let shown = crate::url::redact(url);
        let bad = |why: &str| Error::builder(format!("invalid proxy URL {shown:?}: {why}"));
        let url = url.trim();
        let (kind, rest) = match url.split_once("://") {
            Some(("http", rest)) => (ProxyKind::Http, rest),
            Some(("https", rest)) => (ProxyKind::Https, rest),
            Some(("socks5", rest)) => (ProxyKind::Socks5 { remote_dns: false }, rest),
            Some(("socks5h", rest)) => (ProxyKind::Socks5 { remote_dns: true }, rest),
            Some((other, _)) => {
                return Err(bad(&format!(
                    "the {other}:// scheme is not supported (http://, https://, socks5:// and socks5h:// are)"
                )));
            }
            // As curl: a bare host:port is an HTTP proxy.
            None => (ProxyKind::Http, url),
        };
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        // curl's default proxy port.
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, rest) = v6
                .split_once(']')
                .ok_or_else(|| bad("an unclosed [IPv6] host"))?;
            let port = match rest.strip_prefix(':') {
                Some(p) => crate::url::parse_port(p).map_err(|why| bad(&why))?,
                None if rest.is_empty() => 1080,
                None => return Err(bad("junk after the [IPv6] host")),
            };
            (format!("[{h}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    crate::url::parse_port(p).map_err(|why| bad(&why))?,
                ),
                None => (hostport.to_string(), 1080),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(bad("no host"));
        }
        let mut proxy = Proxy {
            kind,
            scope,
            user: None,
            host,
            port,
            auth: None,
        };
        if let Some(u) = userinfo {
            let (user, pass) = u.split_once(':').unwrap_or((u, ""));
            let decoded =
                |s: &str| String::from_utf8_lossy(&crate::url::percent_decode(s)).into_owned();
            proxy = proxy.basic_auth(&decoded(user), &decoded(pass));
        }
        Ok(proxy)
    }

    /// A proxy for every request.
    pub fn all(url: &str) -> Result<Proxy, Error> {
        Proxy::parse(url, Scope::All)
    }

    /// A proxy for `http://` requests.
    pub fn http(url: &str) -> Result<Proxy, Error> {
        Proxy::parse(url, Scope::Http)
    }

    /// A proxy for `https://` requests (and secure WebSockets).
    pub fn https(url: &str) -> Result<Proxy, Error> {
        Proxy::parse(url, Scope::Https)
    }

    /// Authenticates to the proxy with HTTP Basic (`Proxy-Authorization`), instead of the
    /// credentials in the URL, if any.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Proxy {
        self.user = Some((user.to_string(), password.to_string()));
        self.auth = Some(crate::url::basic_auth(user.as_bytes(), password.as_bytes()));
        self
    }

    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn auth(&self) -> Option<&HeaderValue> {
        self.auth.as_ref()
    }

    /// Whether plain-HTTP requests go to it in absolute form (an HTTP proxy); SOCKS relays
    /// bytes, so they go in origin form through it.
    pub(crate) fn takes_absolute_form(&self) -> bool {
        matches!(self.kind, ProxyKind::Http | ProxyKind::Https)
    }

    pub(crate) fn kind(&self) -> ProxyKind {
        self.kind
    }

    pub(crate) fn credentials(&self) -> Option<&(String, String)> {
        self.user.as_ref()
    }

    fn applies_to(&self, https: bool) -> bool {
        match self.scope {
            Scope::All => true,
            Scope::Http => !https,
            Scope::Https => https,
        }
    }
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("scope", &self.scope)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user.as_ref().map(|(u, _)| format!("{u}:***")))
            .finish()
    }
}

/// Hosts that go direct: `NO_PROXY` syntax — `*`, host names (a leading dot optional: the
/// name and its subdomains), IP addresses.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoProxy {
    all: bool,
    entries: Vec<String>,
}

impl NoProxy {
    pub(crate) fn parse(list: &str) -> NoProxy {
        let mut np = NoProxy::default();
        for e in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if e == "*" {
                np.all = true;
            } else {
                let e = e.trim_start_matches("*.").trim_start_matches('.');
                let e = e.trim_start_matches('[').trim_end_matches(']');
                np.entries.push(e.to_ascii_lowercase());
            }
        }
        np
    }

    pub(crate) fn matches(&self, host: &str) -> bool {
        if self.all {
            return true;
        }
        let host = crate::connect::bare_host(host).to_ascii_lowercase();
        self.entries.iter().any(|e| {
            host == *e
                || (host.len() > e.len()
                    && host.ends_with(e.as_str())
                    && host.as_bytes()[host.len() - e.len() - 1] == b'.')
        })
    }
}

/// The proxy settings of a client.
#[derive(Clone, Debug, Default)]
pub(crate) struct Proxies {
    list: Vec<Proxy>,
    no_proxy: NoProxy,
    /// From the environment: loopback targets go direct (as Go's net/http does), so that a
    /// machine-wide proxy never carries traffic meant for this machine.
    from_env: bool,
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok())
        .filter(|v| !v.trim().is_empty())
}

impl Proxies {
    pub(crate) fn new(list: Vec<Proxy>, no_proxy: Option<&str>) -> Proxies {
        Proxies {
            list,
            no_proxy: no_proxy.map(NoProxy::parse).unwrap_or_default(),
            from_env: false,
        }
    }

    /// `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (or their lower-case forms;
    /// lower case first, as curl). Invalid values are ignored.
    pub(crate) fn from_env() -> Proxies {
        let mut list = Vec::new();
        if let Some(p) = env(&["http_proxy", "HTTP_PROXY"]).and_then(|u| Proxy::http(&u).ok()) {
            list.push(p);
        }
        if let Some(p) = env(&["https_proxy", "HTTPS_PROXY"]).and_then(|u| Proxy::https(&u).ok()) {
            list.push(p);
        }
        if let Some(p) = env(&["all_proxy", "ALL_PROXY"]).and_then(|u| Proxy::all(&u).ok()) {
            list.push(p);
        }
        Proxies {
            list,
            no_proxy: env(&["no_proxy", "NO_PROXY"])
                .map(|v| NoProxy::parse(&v))
                .unwrap_or_default(),
            from_env: true,
        }
    }

    /// Replaces the `NO_PROXY` list, when one is given.
    pub(crate) fn with_no_proxy(mut self, list: Option<&str>) -> Proxies {
        if let Some(l) = list {
            self.no_proxy = NoProxy::parse(l);
        }
        self
    }

    /// The proxy for a request to `host` (`https` for https:// and wss://), if any.
    pub(crate) fn for_target(&self, host: &str, https: bool) -> Option<&Proxy> {
        if self.list.is_empty() || self.no_proxy.matches(host) {
            return None;
        }
        if self.from_env && is_loopback(host) {
            return None;
        }
        self.list.iter().find(|p| p.applies_to(https))
    }
}

impl Proxies {
    /// The one choice of route to `origin`: direct, or through the proxy that applies to it —
    /// a `CONNECT` tunnel for `https://` and for every WebSocket (`upgrade`: the upgrade is end
    /// to end), the proxy itself in absolute form for plain `http://`. `proxy_tls`: how to
    /// reach an `https://` proxy.
    pub(crate) fn route<'a>(
        &'a self,
        origin: &Origin,
        upgrade: bool,
        proxy_tls: &'a std::sync::Arc<rustls::ClientConfig>,
    ) -> Route<'a> {
        match self.for_target(origin.host(), origin.is_https()) {
            None => Route::Direct,
            Some(proxy) => Route::Proxy {
                proxy,
                tunnel: upgrade || origin.is_https(),
                proxy_tls,
            },
        }
    }
}

fn is_loopback(host: &str) -> bool {
    let h = crate::connect::bare_host(host);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_urls() {
        let p = Proxy::all("http://u:p@127.0.0.1:3128").unwrap();
        assert_eq!((p.host(), p.port()), ("127.0.0.1", 3128));
        assert_eq!(p.auth().unwrap(), "Basic dTpw");
        let p = Proxy::http("127.0.0.1:8080").unwrap();
        assert_eq!(
            (p.host(), p.port(), p.auth().is_none()),
            ("127.0.0.1", 8080, true)
        );
        let p = Proxy::all("http://[::1]:3128/").unwrap();
        assert_eq!((p.host(), p.port()), ("[::1]", 3128));
        let s = Proxy::all("socks5h://u:p@127.0.0.1:1081").unwrap();
        assert_eq!(s.kind(), ProxyKind::Socks5 { remote_dns: true });
        assert_eq!(
            s.credentials().unwrap(),
            &("u".to_string(), "p".to_string())
        );
        assert_eq!(
            Proxy::all("https://127.0.0.1:1").unwrap().kind(),
            ProxyKind::Https
        );
        assert!(Proxy::all("ftp://127.0.0.1:1080").unwrap_err().is_builder());
        assert!(Proxy::all("http://:3128").unwrap_err().is_builder());
        assert!(Proxy::all("http://h:port").unwrap_err().is_builder());
        for port in ["0", "65536", "4294967376"] {
            let e = Proxy::all(&format!("http://127.0.0.1:{port}")).unwrap_err();
            assert!(
                crate::error::message_chain(&e).contains("out of range"),
                "{e}"
            );
        }
    }

    #[test]
    fn a_proxy_password_is_decoded_and_never_shown() {
        let p = Proxy::all("http://us%40er:s3cr%3At@127.0.0.1:3128").unwrap();
        // base64("us@er:s3cr:t")
        assert_eq!(p.auth().unwrap(), "Basic dXNAZXI6czNjcjp0");
        assert!(!format!("{p:?}").contains("s3cr"), "{p:?}");
        let e = Proxy::all("http://u:s3cret@h:99999").unwrap_err();
        let text = crate::error::message_chain(&e);
        assert!(
            !text.contains("s3cret") && text.contains("u:***@"),
            "{text}"
        );
    }

    #[test]
    fn no_proxy_matching() {
        let np = NoProxy::parse("example.com, .internal,10.0.0.1,[::1]");
        assert!(np.matches("example.com"));
        assert!(np.matches("api.example.com"));
        assert!(!np.matches("notexample.com"));
        assert!(np.matches("a.b.internal"));
        assert!(np.matches("10.0.0.1"));
        assert!(np.matches("[::1]"));
        assert!(!np.matches("10.0.0.2"));
        assert!(NoProxy::parse("*").matches("anything"));
        assert!(!NoProxy::parse("").matches("x"));
    }

    #[test]
    fn scopes_and_bypass() {
        let ps = Proxies::new(
            vec![
                Proxy::http("127.0.0.1:1").unwrap(),
                Proxy::https("127.0.0.1:2").unwrap(),
            ],
            Some("skip.test"),
        );
        assert_eq!(ps.for_target("a.test", false).unwrap().port(), 1);
        assert_eq!(ps.for_target("a.test", true).unwrap().port(), 2);
        assert!(ps.for_target("skip.test", false).is_none());
        // Explicit proxies apply to loopback too; environment ones do not.
        assert!(ps.for_target("127.0.0.1", false).is_some());
        let mut env = ps.clone();
        env.from_env = true;
        assert!(env.for_target("127.0.0.1", false).is_none());
        assert!(env.for_target("localhost", true).is_none());
    }

    #[test]
    fn arbitrary_proxy_urls_and_no_proxy_lists_never_panic() {
        let alphabet: Vec<char> = "htpsock5:/@[]:.,*-u1x ".chars().collect();
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..50_000 {
            let len = rng.usize(0..24);
            let s: String = (0..len)
                .map(|_| alphabet[rng.usize(0..alphabet.len())])
                .collect();
            if let Ok(p) = Proxy::all(&s) {
                assert!(!p.host().is_empty(), "{s:?}");
            }
            let np = NoProxy::parse(&s);
            let _ = np.matches(&s);
            let _ = np.matches("example.com");
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_proxy_value_or_no_proxy_list_is_handled(v in "\\PC{0,60}", host in "\\PC{0,30}") {
            if let Ok(p) = Proxy::all(&v) {
                prop_assert!(!p.host().is_empty());
            }
            let np = NoProxy::parse(&v);
            let _ = np.matches(&host);
        }

        #[test]
        fn any_environment_values_choose_a_proxy_or_none_without_panicking(
            proxy in "\\PC{0,40}",
            no_proxy in "\\PC{0,40}",
            host in "\\PC{0,30}",
            https in any::<bool>(),
        ) {
            let list: Vec<Proxy> = Proxy::all(&proxy).into_iter().collect();
            let proxies = Proxies::new(list, Some(&no_proxy));
            if let Some(p) = proxies.for_target(&host, https) {
                prop_assert!(!p.host().is_empty());
            }
        }

        #[test]
        fn host_port_and_credentials_round_trip(
            host in "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
            port in 1u16..,
            user in "[a-zA-Z0-9]{1,10}",
            scheme in prop::sample::select(vec!["http", "https", "socks5", "socks5h"]),
        ) {
            let p = Proxy::all(&format!("{scheme}://{user}:pw@{host}:{port}")).unwrap();
            prop_assert_eq!(p.host(), host.as_str());
            prop_assert_eq!(p.port(), port);
            if scheme.starts_with("socks") {
                let creds = p.credentials().cloned();
                prop_assert_eq!(creds, Some((user.clone(), "pw".to_string())));
            } else {
                prop_assert!(p.auth().is_some());
            }
        }

        #[test]
        fn a_listed_domain_matches_itself_and_its_subdomains(
            domain in "[a-z]{1,10}\\.[a-z]{2,5}",
            sub in "[a-z]{1,10}",
        ) {
            let np = NoProxy::parse(&format!("other.example, {domain}"));
            prop_assert!(np.matches(&domain));
            let subdomain = format!("{sub}.{domain}");
            prop_assert!(np.matches(&subdomain));
            let suffix_only = format!("x{domain}");
            prop_assert!(!np.matches(&suffix_only));
        }
    }
}

//! Proxies against tenax-chaos's proxy: absolute-form http, CONNECT for https and WebSockets,
//! Basic credentials and 407, NO_PROXY, and a proxy whose name does not resolve.

use std::time::Duration;

use tenax::{Client, Proxy, dns};
use tenax_chaos::{ChaosServer, ProxyServer};

use crate::support::bounded;

#[tokio::test]
async fn http_goes_in_absolute_form_and_https_through_connect() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let tls = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    let proxy = ProxyServer::start_in_thread(None).unwrap();
    let client = Client::builder()
        .proxy(Proxy::all(&proxy.url()).unwrap())
        .add_root_certificate(
            tenax::tls::Certificate::from_pem(tls.ca_pem().unwrap().as_bytes()).unwrap(),
        )
        .build()
        .unwrap();
    bounded(async {
        let seen: serde_json::Value = client
            .get(s.url("/headers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(seen["headers"].get("proxy-authorization").is_none());
        assert_eq!(proxy.forwarded(), 1);
        let res = client.get(tls.url("/bytes/7")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.bytes().await.unwrap().len(), 7);
        assert_eq!(proxy.tunnels(), 1);
    })
    .await;
}

#[tokio::test]
async fn credentials_from_the_url_or_a_setter_and_407_reported_clearly() {
    let tls = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let proxy = ProxyServer::start_in_thread(Some(("user", "secret"))).unwrap();
    let root = || tenax::tls::Certificate::from_pem(tls.ca_pem().unwrap().as_bytes()).unwrap();
    let addr = proxy.addr();
    bounded(async {
        let with_url = Client::builder()
            .proxy(Proxy::all(&format!("http://user:secret@{addr}")).unwrap())
            .add_root_certificate(root())
            .build()
            .unwrap();
        assert_eq!(
            with_url
                .get(tls.url("/bytes/1"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            with_url
                .get(s.url("/bytes/1"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        let with_setter = Client::builder()
            .proxy(
                Proxy::https(&proxy.url())
                    .unwrap()
                    .basic_auth("user", "secret"),
            )
            .add_root_certificate(root())
            .build()
            .unwrap();
        assert_eq!(
            with_setter
                .get(tls.url("/bytes/1"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        // No credentials: the tunnel is refused, and the error says 407.
        let without = Client::builder()
            .proxy(Proxy::all(&proxy.url()).unwrap())
            .add_root_certificate(root())
            .build()
            .unwrap();
        let e = without.get(tls.url("/bytes/1")).send().await.unwrap_err();
        assert!(e.is_proxy(), "{e}");
        let msg = std::error::Error::source(&e).unwrap().to_string();
        assert!(msg.contains("407"), "{msg}");
        // Plain http through the proxy gets the proxy's 407 as its response.
        let res = without.get(s.url("/bytes/1")).send().await.unwrap();
        assert_eq!(res.status(), 407);
        assert!(proxy.refused() >= 2);
    })
    .await;
}

#[tokio::test]
async fn no_proxy_hosts_go_direct() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let proxy = ProxyServer::start_in_thread(None).unwrap();
    let client = Client::builder()
        .proxy(Proxy::all(&proxy.url()).unwrap())
        .no_proxy("localhost,127.0.0.1")
        .build()
        .unwrap();
    bounded(async {
        assert_eq!(
            client.get(s.url("/bytes/1")).send().await.unwrap().status(),
            200
        );
        assert_eq!(proxy.forwarded() + proxy.tunnels(), 0);
    })
    .await;
}

#[tokio::test]
async fn websockets_tunnel_through_the_proxy() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let proxy = ProxyServer::start_in_thread(Some(("u", "p"))).unwrap();
    let client = Client::builder()
        .proxy(Proxy::all(&format!("http://u:p@{}", proxy.addr())).unwrap())
        .build()
        .unwrap();
    bounded(async {
        let mut ws = client
            .websocket(s.ws_url("/ws/echo"))
            .connect()
            .await
            .unwrap();
        ws.send("through a tunnel").await.unwrap();
        assert_eq!(
            ws.recv().await,
            Some(tenax::ws::Message::text("through a tunnel"))
        );
        assert_eq!(proxy.tunnels(), 1);
        ws.close(Duration::from_secs(1)).await;
    })
    .await;
}

struct Nothing;

impl dns::Resolve for Nothing {
    fn resolve<'a>(&'a self, host: &'a str) -> dns::Resolving<'a> {
        Box::pin(async move { Err(std::io::Error::other(format!("no such host {host}"))) })
    }
}

#[tokio::test]
async fn a_proxy_that_does_not_resolve_is_a_proxy_dns_error() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let client = Client::builder()
        .resolver(Nothing)
        .proxy(Proxy::all("http://proxy.invalid:3128").unwrap())
        .build()
        .unwrap();
    let e = bounded(client.get(s.url("/bytes/1")).send())
        .await
        .unwrap_err();
    assert!(e.is_proxy() && e.is_dns(), "{e}");
}

#[tokio::test]
async fn socks5_and_socks5h_with_and_without_credentials() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let tls = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    let open = ProxyServer::start_in_thread(None).unwrap();
    let locked = ProxyServer::start_in_thread(Some(("u", "p"))).unwrap();
    let root = || tenax::tls::Certificate::from_pem(tls.ca_pem().unwrap().as_bytes()).unwrap();
    bounded(async {
        // socks5: the name is resolved here (an override), the proxy gets an address; TLS
        // runs end to end inside.
        let port = s.addr().port();
        let client = Client::builder()
            .proxy(Proxy::all(&open.socks_url()).unwrap())
            .resolve_to("named.test", None, ["127.0.0.1".parse().unwrap()])
            .add_root_certificate(root())
            .build()
            .unwrap();
        let res = client
            .get(format!("http://named.test:{port}/bytes/4"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.bytes().await.unwrap().len(), 4);
        let res = client.get(tls.url("/bytes/4")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!((open.socks(), open.socks_names()), (2, 0));
        // socks5h with credentials: the proxy resolves the name.
        let client = Client::builder()
            .proxy(Proxy::all(&format!("socks5h://u:p@{}", locked.addr())).unwrap())
            .build()
            .unwrap();
        let res = client
            .get(format!("http://localhost:{port}/bytes/4"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!((locked.socks(), locked.socks_names()), (1, 1));
        // Wrong credentials: a proxy error.
        let client = Client::builder()
            .proxy(Proxy::all(&format!("socks5h://u:wrong@{}", locked.addr())).unwrap())
            .build()
            .unwrap();
        let e = client
            .get(format!("http://localhost:{port}/bytes/4"))
            .send()
            .await
            .unwrap_err();
        assert!(e.is_proxy(), "{e}");
    })
    .await;
}

#[tokio::test]
async fn an_https_proxy_carries_http_https_and_websockets_inside_tls() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let tls = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    let proxy = ProxyServer::start_in_thread_tls(Some(("u", "p"))).unwrap();
    let pem = |p: &str| tenax::tls::Certificate::from_pem(p.as_bytes()).unwrap();
    let client = Client::builder()
        .proxy(Proxy::all(&format!("https://u:p@{}", proxy.addr())).unwrap())
        .add_root_certificate(pem(proxy.ca_pem().unwrap()))
        .add_root_certificate(pem(tls.ca_pem().unwrap()))
        .build()
        .unwrap();
    bounded(async {
        let res = client.get(s.url("/bytes/6")).send().await.unwrap();
        assert_eq!(res.bytes().await.unwrap().len(), 6);
        let res = client.get(tls.url("/bytes/6")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!((proxy.forwarded(), proxy.tunnels()), (1, 1));
        let mut ws = client
            .websocket(s.ws_url("/ws/echo"))
            .connect()
            .await
            .unwrap();
        ws.send("tls all the way").await.unwrap();
        assert_eq!(
            ws.recv().await,
            Some(tenax::ws::Message::text("tls all the way"))
        );
        ws.close(Duration::from_secs(1)).await;
        // A proxy whose certificate we do not trust: a certificate error.
        let untrusting = Client::builder()
            .proxy(Proxy::all(&proxy.url()).unwrap())
            .tls_built_in_root_certs(true)
            .build()
            .unwrap();
        let e = untrusting.get(s.url("/bytes/1")).send().await.unwrap_err();
        assert!(e.is_certificate(), "{e}");
    })
    .await;
}

/// Resolves every name to nothing (an empty answer, not an error).
struct Empty;

impl dns::Resolve for Empty {
    fn resolve<'a>(&'a self, _host: &'a str) -> dns::Resolving<'a> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

#[tokio::test]
async fn a_proxy_name_with_no_addresses_is_a_proxy_dns_error_naming_the_proxy() {
    // The empty answer was reported as the target's DNS failure, naming the target.
    let client = Client::builder()
        .resolver(Empty)
        .dns_cache(false)
        .proxy(Proxy::all("http://proxy.test:3128").unwrap())
        .build()
        .unwrap();
    let e = bounded(client.get("http://target.test:8080/").send())
        .await
        .unwrap_err();
    assert!(e.is_proxy() && e.is_dns(), "{e}");
    let shown = e.to_string();
    assert!(shown.contains("proxy.test"), "{shown}");
}

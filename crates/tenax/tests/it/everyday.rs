//! What a reqwest user reaches for on day one, against tenax-chaos's `/echo`: serde queries
//! and forms, Basic and Bearer credentials, multipart forms (files streamed from disk), a
//! `Request` built, held and executed, and the cookie store (feature `cookies`).

use std::net::SocketAddr;

use serde_json::Value;
use sha2::{Digest, Sha256};
use tenax::multipart::{Form, Part};
use tenax::{Client, Method, Request};
use tenax_chaos::ChaosServer;

use crate::support::{bounded, server};

async fn echo(req: tenax::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A chaos server on another loopback address: another site for cookies and credentials.
fn other_site() -> ChaosServer {
    let addr: SocketAddr = "127.0.0.2:0".parse().unwrap();
    ChaosServer::builder().addr(addr).start_in_thread().unwrap()
}

#[derive(serde::Serialize)]
struct Search {
    q: &'static str,
    page: u32,
}

#[tokio::test]
async fn a_serde_query_a_form_and_credentials_reach_the_server_as_sent() {
    let s = server();
    let c = Client::new();
    bounded(async {
        let got = echo(
            c.post(s.url("/echo?x=1"))
                .query(&Search {
                    q: "a b&c",
                    page: 2,
                })
                .form(&[("name", "Zoë"), ("msg", "1+1=2")])
                .basic_auth("ann", Some("p:ss")),
        )
        .await;
        assert_eq!(got["uri"], "/echo?x=1&q=a+b%26c&page=2");
        assert_eq!(
            got["form"],
            serde_json::json!([["name", "Zoë"], ["msg", "1+1=2"]])
        );
        assert_eq!(
            got["headers"]["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(got["auth"]["user"], "ann");
        assert_eq!(got["auth"]["password"], "p:ss");
        let got = echo(c.get(s.url("/echo")).bearer_auth("t0k3n")).await;
        assert_eq!(got["auth"]["scheme"], "Bearer");
        assert_eq!(got["auth"]["token"], "t0k3n");
    })
    .await;
}

#[tokio::test]
async fn credentials_set_by_basic_auth_are_dropped_when_a_redirect_leaves_the_origin() {
    let (s, other) = (server(), other_site());
    let c = Client::new();
    bounded(async {
        let there = other.url("/echo");
        let got = echo(
            c.get(s.url(&format!("/redirect-to?url={there}")))
                .basic_auth("ann", Some("pw"))
                .header("cookie", "a=1"),
        )
        .await;
        assert_eq!(got["auth"], Value::Null, "{got}");
        assert_eq!(got["cookies"], serde_json::json!({}));
        // The same origin keeps them.
        let here = s.url("/echo");
        let got = echo(
            c.get(s.url(&format!("/redirect-to?url={here}")))
                .bearer_auth("t"),
        )
        .await;
        assert_eq!(got["auth"]["token"], "t");
    })
    .await;
}

#[tokio::test]
async fn multipart_text_bytes_and_file_parts_arrive_with_their_sizes_and_digests() {
    let s = server();
    let dir = std::env::temp_dir().join(format!("tenax-mp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("data.csv");
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &content).unwrap();
    bounded(async {
        let form = Form::new()
            .text("title", "Q3 \"final\"")
            .part(
                "logo",
                Part::bytes(vec![1u8, 2, 3])
                    .file_name("logo.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .file("report", &path)
            .await
            .unwrap();
        let len = form.content_length().unwrap();
        let got = echo(Client::new().post(s.url("/echo")).multipart(form)).await;
        assert_eq!(got["headers"]["content-length"], len.to_string(), "{got}");
        assert!(got["headers"].get("transfer-encoding").is_none());
        let parts = got["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 3, "{got}");
        assert_eq!(parts[0]["name"], "title");
        assert_eq!(parts[0]["size"], 10);
        assert_eq!(parts[1]["filename"], "logo.png");
        assert_eq!(parts[1]["content_type"], "image/png");
        assert_eq!(parts[1]["sha256"], hex(&Sha256::digest([1u8, 2, 3])));
        assert_eq!(parts[2]["filename"], "data.csv");
        assert_eq!(parts[2]["content_type"], "text/csv");
        assert_eq!(parts[2]["size"], content.len());
        assert_eq!(parts[2]["sha256"], hex(&Sha256::digest(&content)));
        assert_eq!(got["body_len"], len);
    })
    .await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_multipart_stream_of_unknown_length_is_sent_chunked() {
    let s = server();
    bounded(async {
        let chunks = futures_util::stream::iter(
            ["ab", "cd"].map(|c| Ok::<_, std::io::Error>(bytes::Bytes::from(c))),
        );
        let form = Form::new().part("s", Part::stream(tenax::Body::from_stream(chunks)));
        assert_eq!(form.content_length(), None);
        let got = echo(Client::new().post(s.url("/echo")).multipart(form)).await;
        assert_eq!(got["headers"]["transfer-encoding"], "chunked");
        assert_eq!(got["parts"][0]["size"], 4);
    })
    .await;
}

#[tokio::test]
async fn a_built_request_is_held_changed_cloned_and_executed() {
    let s = server();
    let c = Client::new();
    bounded(async {
        let mut req = c
            .put(s.url("/echo"))
            .json(&serde_json::json!({"k": 1}))
            .build()
            .unwrap();
        req.headers_mut().insert("x-mw", "yes".parse().unwrap());
        *req.method_mut() = Method::PATCH;
        let copy = req.try_clone().expect("a JSON body is bytes");
        for r in [req, copy] {
            let got: Value = c.execute(r).await.unwrap().json().await.unwrap();
            assert_eq!(got["method"], "PATCH");
            assert_eq!(got["headers"]["x-mw"], "yes");
            assert_eq!(got["body"], r#"{"k":1}"#);
        }
        let req = Request::new(Method::GET, s.url("/status/204")).unwrap();
        assert_eq!(c.execute(req).await.unwrap().status(), 204);
        let e = c.get("http://127.0.0.1:65536/").build().unwrap_err();
        assert!(e.is_invalid_url());
    })
    .await;
}

#[cfg(feature = "cookies")]
mod cookies {
    use std::sync::Arc;

    use super::*;
    use tenax::cookie::{CookieStore, Jar};

    fn set(s: &ChaosServer, cookies: &[&str]) -> String {
        let q: Vec<String> = cookies
            .iter()
            .map(|c| format!("c={}", urlencode(c)))
            .collect();
        s.url(&format!("/set-cookie?{}", q.join("&")))
    }

    fn urlencode(s: &str) -> String {
        serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned()
    }

    /// The `Cookie` header a jar would send to `url`.
    fn sent(jar: &Jar, url: &str) -> Option<String> {
        let url: url::Url = url.parse().unwrap();
        Some(jar.cookies(&url)?.to_str().unwrap().to_owned())
    }

    /// Names that resolve to the test server: loopback addresses are a secure context to the
    /// cookie rules (as to browsers), so `Secure` and `Domain` are seen with names.
    fn named(s: &ChaosServer, jar: Arc<Jar>) -> Client {
        let lo = [s.addr().ip()];
        Client::builder()
            .cookie_provider(jar)
            .resolve_to("a.site.test", None, lo)
            .resolve_to("b.site.test", None, lo)
            .resolve_to("other.test", None, lo)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn cookies_set_by_one_response_are_sent_by_the_next_only_where_the_rules_allow() {
        let s = server();
        let jar = Arc::new(Jar::default());
        let c = named(&s, jar.clone());
        let port = s.addr().port();
        let at = |host: &str, path: &str| format!("http://{host}:{port}{path}");
        bounded(async {
            let url = set(
                &s,
                &[
                    "sid=1; Path=/",
                    "deep=2; Path=/echo/inner",
                    "sec=3; Path=/; Secure",
                    "wide=4; Path=/; Domain=site.test",
                    "gone=5; Path=/; Max-Age=0",
                ],
            )
            .replace("127.0.0.1", "a.site.test");
            assert_eq!(c.get(url).send().await.unwrap().status(), 200);
            let got = echo(c.get(at("a.site.test", "/echo"))).await;
            assert_eq!(
                got["cookies"],
                serde_json::json!({"sid": "1", "wide": "4"}),
                "{got}"
            );
            let got = echo(c.get(at("a.site.test", "/echo/inner/x"))).await;
            assert_eq!(
                got["cookies"],
                serde_json::json!({"sid": "1", "deep": "2", "wide": "4"})
            );
            // Domain=site.test reaches a sibling; host-only cookies do not.
            let got = echo(c.get(at("b.site.test", "/echo"))).await;
            assert_eq!(got["cookies"], serde_json::json!({"wide": "4"}));
            // Another site gets none of them.
            let got = echo(c.get(at("other.test", "/echo"))).await;
            assert_eq!(got["cookies"], serde_json::json!({}));
            // Secure cookies go over https only.
            assert_eq!(
                sent(&jar, "https://a.site.test/").as_deref(),
                Some("sec=3; sid=1; wide=4")
            );
            let c = Client::builder().cookie_store(true).build().unwrap();
            c.get(set(&s, &["sid=1; Path=/"])).send().await.unwrap();
            // A request's own Cookie header replaces the store's.
            let got = echo(c.get(s.url("/echo")).header("cookie", "mine=5")).await;
            assert_eq!(got["cookies"], serde_json::json!({"mine": "5"}));
            // Max-Age=0 removes a cookie.
            c.get(set(&s, &["sid=1; Path=/; Max-Age=0"]))
                .send()
                .await
                .unwrap();
            let got = echo(c.get(s.url("/echo"))).await;
            assert_eq!(got["cookies"], serde_json::json!({}));
        })
        .await;
    }

    #[tokio::test]
    async fn a_cookie_set_by_a_redirect_is_sent_by_the_next_hop_and_not_to_another_site() {
        let (s, other) = (server(), other_site());
        let jar = Arc::new(Jar::default());
        let c = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        bounded(async {
            let hop = format!(
                "{}&location={}",
                set(&s, &["hop=1; Path=/"]),
                urlencode("/echo")
            );
            let got = echo(c.get(hop)).await;
            assert_eq!(got["cookies"], serde_json::json!({"hop": "1"}), "{got}");
            let away = format!(
                "{}&location={}",
                set(&s, &["hop2=1; Path=/"]),
                urlencode(&other.url("/echo"))
            );
            let got = echo(c.get(away)).await;
            assert_eq!(got["cookies"], serde_json::json!({}), "{got}");
            assert_eq!(sent(&jar, &s.url("/")).as_deref(), Some("hop=1; hop2=1"));
        })
        .await;
    }

    #[test]
    fn cookies_are_sent_longest_path_first_then_by_name() {
        let jar = Jar::default();
        let site: url::Url = "http://a.test/x/y/z".parse().unwrap();
        for c in [
            "b=1; Path=/",
            "a=2; Path=/",
            "deep=3; Path=/x/y",
            "mid=4; Path=/x",
        ] {
            jar.add_cookie_str(c, &site);
        }
        for _ in 0..20 {
            assert_eq!(
                sent(&jar, "http://a.test/x/y/z").as_deref(),
                Some("deep=3; mid=4; a=2; b=1")
            );
        }
    }

    #[tokio::test]
    async fn websocket_handshakes_send_and_keep_the_clients_cookies() {
        let s = server();
        let jar = Arc::new(Jar::default());
        let c = Client::builder()
            .cookie_provider(jar.clone())
            .build()
            .unwrap();
        bounded(async {
            c.get(set(&s, &["sid=7; Path=/"])).send().await.unwrap();
            let url = s.ws_url("/ws/echo?greet_cookie=1&set_cookie=ws%3D8%3B%20Path%3D%2F");
            let mut socket = c.websocket(url).connect().await.unwrap();
            let first = socket.recv().await.unwrap();
            assert_eq!(first.as_text(), Some("sid=7"));
            socket.close(std::time::Duration::from_secs(2)).await;
            assert_eq!(sent(&jar, &s.url("/")).as_deref(), Some("sid=7; ws=8"));
        })
        .await;
    }
}

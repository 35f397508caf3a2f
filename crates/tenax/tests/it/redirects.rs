//! Following redirects: counts, methods and bodies, credentials across origins, downgrades.

use std::time::Duration;

use crate::support::server;
use tenax::{Client, redirect, tls};
use tenax_chaos::ChaosServer;

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let s = server();
    let c = Client::new();
    let r = c.get(s.url("/redirect/3")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.url().to_string().ends_with("/redirect/0"), "{}", r.url());
    assert_eq!(s.hits("redirect"), 4);

    let c = Client::builder()
        .redirect(redirect::Policy::limited(2))
        .build()
        .unwrap();
    let e = c.get(s.url("/redirect/5")).send().await.unwrap_err();
    assert!(e.is_redirect(), "{e}");

    let c = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = c.get(s.url("/redirect/1")).send().await.unwrap();
    assert_eq!(r.status(), 302);
}

#[tokio::test]
async fn see_other_turns_a_post_into_a_get_and_307_keeps_it() {
    let s = server();
    let c = Client::new();
    let to = "/echo";
    let echo: serde_json::Value = c
        .post(s.url(&format!("/redirect-to?url={to}&status=303")))
        .body("payload")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["method"], "GET");
    assert_eq!(echo["body_len"], 0);

    let echo: serde_json::Value = c
        .post(s.url(&format!("/redirect-to?url={to}&status=307")))
        .body("payload")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["body"], "payload");
}

#[tokio::test]
async fn credentials_are_dropped_across_origins_only() {
    let s = server();
    let c = Client::new();
    let same = s.url("/headers");
    let echo: serde_json::Value = c
        .get(s.url(&format!(
            "/redirect-to?url={}",
            same.replace(':', "%3A").replace('/', "%2F")
        )))
        .header("authorization", "Bearer secret")
        .header("cookie", "session=1")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["headers"]["authorization"], "Bearer secret");

    // localhost is another origin than 127.0.0.1, though it is the same server.
    let other = format!("http://localhost:{}/headers", s.addr().port());
    let echo: serde_json::Value = c
        .get(s.url(&format!(
            "/redirect-to?url={}",
            other.replace(':', "%3A").replace('/', "%2F")
        )))
        .header("authorization", "Bearer secret")
        .header("cookie", "session=1")
        .header("x-kept", "yes")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");
    assert!(echo["headers"].get("cookie").is_none(), "{echo}");
    assert_eq!(echo["headers"]["x-kept"], "yes");
}

#[tokio::test]
async fn https_to_http_is_refused_unless_allowed() {
    let tls = ChaosServer::builder().tls(true).start_in_thread().unwrap();
    let plain = server();
    let ca = tls::Certificate::from_pem(tls.ca_pem().unwrap().as_bytes()).unwrap();
    let down = plain
        .url("/bytes/1")
        .replace(':', "%3A")
        .replace('/', "%2F");
    let url = tls.url(&format!("/redirect-to?url={down}"));
    let c = Client::builder()
        .add_root_certificate(ca.clone())
        .build()
        .unwrap();
    let e = c.get(&url).send().await.unwrap_err();
    assert!(e.is_redirect(), "{e}");
    assert_eq!(plain.hits("bytes"), 0);

    let c = Client::builder()
        .add_root_certificate(ca)
        .redirect(redirect::Policy::default().allow_https_downgrade(true))
        .build()
        .unwrap();
    assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_redirect_loop_stops_at_the_limit_and_in_time() {
    let s = server();
    // A chain of a thousand redirects stands in for a loop: the default limit of 10 stops it.
    let t = std::time::Instant::now();
    let e = Client::new()
        .get(s.url("/redirect/1000"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_redirect(), "{e}");
    assert_eq!(s.hits("redirect"), 11);
    assert!(t.elapsed() < Duration::from_secs(2));
}

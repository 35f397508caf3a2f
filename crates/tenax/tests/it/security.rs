//! Hostile input, each test named after what it guards. Other guards live beside the feature
//! they protect: credentials across origins and https → http (`redirects.rs`), CR/LF in header
//! names and values (`http_core.rs`), oversized response heads (`http_core.rs`), certificates,
//! pins and TLS versions (`tls_h2.rs`), decompression bombs and size caps (`bodies.rs`), the
//! WebSocket handshake's checks (`websocket.rs`).

use std::time::{Duration, Instant};

use tenax::{Client, retry};
use tenax_chaos::{ChaosServer, RawServer, RawStep};

use crate::support::bounded;

fn client() -> Client {
    Client::builder()
        .retry(retry::Policy::none())
        .read_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn encoded(url: &str) -> String {
    url.replace(':', "%3A").replace('/', "%2F")
}

#[tokio::test]
async fn proxy_authorization_set_by_the_caller_is_dropped_across_origins() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let other = format!("http://localhost:{}/headers", s.addr().port());
    let echo: serde_json::Value = bounded(async {
        Client::new()
            .get(s.url(&format!("/redirect-to?url={}", encoded(&other))))
            .header("proxy-authorization", "Basic c2VjcmV0")
            .header("authorization", "Bearer secret")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
    .await;
    let h = &echo["headers"];
    assert!(h.get("proxy-authorization").is_none(), "{echo}");
    assert!(h.get("authorization").is_none(), "{echo}");
}

#[tokio::test]
async fn a_redirect_to_another_scheme_than_http_is_refused() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    for target in [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "javascript:alert(1)",
    ] {
        let e = bounded(
            Client::new()
                .get(s.url(&format!("/redirect-to?url={}", encoded(target))))
                .send(),
        )
        .await
        .unwrap_err();
        assert!(e.is_redirect(), "{target}: {e}");
    }
}

#[tokio::test]
async fn crlf_or_spaces_in_a_url_never_reach_the_server() {
    let raw = RawServer::reply(&b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..])
        .await
        .unwrap();
    let c = client();
    for path in [
        "/a\r\nX-Injected: 1",
        "/a HTTP/1.1\r\nHost: evil",
        "/a\nb",
        "/a\tb",
    ] {
        let e = bounded(c.get(raw.url(path)).send()).await.unwrap_err();
        assert!(e.is_builder(), "{path:?}: {e}");
    }
    let e = bounded(c.get(raw.url("/")).header("host", "a\r\nb").send())
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
    assert_eq!(raw.connections(), 0, "nothing was sent");
}

#[tokio::test]
async fn a_malformed_content_length_is_a_protocol_error() {
    for value in ["-1", "18446744073709551616", "12, 13", "0x10", ""] {
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {value}\r\n\r\nhello");
        let raw = RawServer::reply(head).await.unwrap();
        let res = bounded(client().get(raw.url("/")).send()).await;
        let e = match res {
            Err(e) => e,
            Ok(r) => bounded(r.bytes()).await.unwrap_err(),
        };
        assert!(e.is_protocol() || e.is_recv(), "{value:?}: {e}");
    }
}

#[tokio::test]
async fn a_bad_chunk_size_is_an_error_and_not_a_hang() {
    for body in [
        "zz\r\nhello\r\n0\r\n\r\n",
        "ffffffffffffffffff\r\nhello",
        "5\r\nhelloXX0\r\n\r\n",
    ] {
        let head = format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{body}");
        let raw = RawServer::start(vec![RawStep::write(head)]).await.unwrap();
        let t = Instant::now();
        let res = bounded(client().get(raw.url("/")).send()).await;
        let e = match res {
            Err(e) => e,
            Ok(r) => bounded(r.bytes()).await.unwrap_err(),
        };
        assert!(e.is_protocol() || e.is_recv(), "{body:?}: {e}");
        assert!(t.elapsed() < Duration::from_secs(2), "{body:?}");
    }
}

#[tokio::test]
async fn an_endless_stream_of_headers_is_cut_not_buffered_forever() {
    // Header lines dripped forever: the read timeout (or the head limit) ends it.
    let mut script = vec![RawStep::write(&b"HTTP/1.1 200 OK\r\n"[..])];
    for i in 0..2000 {
        script.push(RawStep::write(format!(
            "x-drip-{i}: {}\r\n",
            "v".repeat(100)
        )));
    }
    let raw = RawServer::start(script).await.unwrap();
    let t = Instant::now();
    let e = bounded(client().get(raw.url("/")).send())
        .await
        .unwrap_err();
    assert!(e.is_protocol() || e.is_timeout(), "{e}");
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
}

#[tokio::test]
async fn a_server_that_answers_before_the_request_cannot_smuggle_a_second_response() {
    // Two responses at once for one request: the first is the answer, the second must not
    // be handed to the next request on the connection.
    let raw = RawServer::start(vec![
        RawStep::write(
            &b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nsmuggle"[..],
        ),
        RawStep::Sleep(Duration::from_secs(10)),
    ])
    .await
    .unwrap();
    let c = client();
    let first = bounded(async { c.get(raw.url("/1")).send().await?.text().await })
        .await
        .unwrap();
    assert_eq!(first, "first");
    let second = bounded(async { c.get(raw.url("/2")).send().await?.text().await }).await;
    assert_ne!(
        second.as_deref().ok(),
        Some("smuggle"),
        "the unsolicited response answered the next request"
    );
}

#[tokio::test]
async fn a_huge_retry_after_on_a_websocket_handshake_does_not_panic() {
    // The wait is at least the server's Retry-After, whatever its size; added to the time
    // spent reconnecting it overflowed once a series had lasted a second (unit test
    // `a_huge_retry_after_late_in_a_series_does_not_overflow` in ws/driver.rs).
    let s = ChaosServer::builder().start_in_thread().unwrap();
    for value in ["18446744073709551615", "99999999999999999999999"] {
        let res = bounded(
            Client::new()
                .websocket(s.ws_url(&format!("/ws/reject/503?retry_after={value}")))
                .reconnect_deadline(Some(Duration::from_secs(5)))
                .connect(),
        )
        .await;
        let e = res.unwrap_err();
        assert!(e.is_status() || e.is_websocket(), "{value}: {e}");
    }
}

#[test]
fn hostile_retry_after_values_never_overflow_a_deadline() {
    // The HTTP path: the wait is capped (60 s by default) before it meets any clock.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = ChaosServer::builder().start_in_thread().unwrap();
    rt.block_on(async {
        let e = bounded(
            Client::new()
                .get(s.url("/status/503?retry_after=18446744073709551615"))
                .deadline(Duration::from_secs(2))
                .send(),
        )
        .await;
        // Either the 503 (no time left to wait) or a deadline error: never a panic.
        match e {
            Ok(r) => assert_eq!(r.status(), 503),
            Err(e) => assert!(e.is_timeout(), "{e}"),
        }
    });
}

/// The request line and `Host` of the first request `raw` received.
fn first_head(raw: &RawServer) -> String {
    String::from_utf8_lossy(&raw.heads()[0]).into_owned()
}

const EMPTY_200: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

#[tokio::test]
async fn a_port_over_65535_is_refused_before_any_connection() {
    // It used to become port 80 (`port_u16()` is `None` past 65535, and 80 was the default).
    let c = client();
    for url in [
        "http://127.0.0.1:65536/x",
        "http://127.0.0.1:65616/x",
        "http://127.0.0.1:4294967376/x",
    ] {
        let e = bounded(c.get(url).send()).await.unwrap_err();
        assert!(e.is_builder(), "{url}: {e}");
        let uri: http::Uri = url.parse().unwrap();
        let e = bounded(c.get(uri).send()).await.unwrap_err();
        assert!(e.is_builder(), "{url} as a Uri: {e}");
    }
    let e = bounded(c.websocket("ws://127.0.0.1:65616/").connect())
        .await
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
    let e = bounded(
        c.download(
            "http://127.0.0.1:65536/f",
            std::env::temp_dir().join("tenax-never"),
        )
        .send(),
    )
    .await
    .unwrap_err();
    assert!(e.is_builder(), "{e}");
}

#[tokio::test]
async fn credentials_in_the_url_are_sent_as_basic_auth_and_never_shown() {
    let raw = RawServer::reply(EMPTY_200).await.unwrap();
    let url = format!("http://us%40er:pa%3Ass@{}/private", raw.addr());
    bounded(client().get(&url).send()).await.unwrap();
    let head = first_head(&raw);
    // base64("us@er:pa:ss"); the request line and Host carry no user information.
    assert!(
        head.contains("authorization: Basic dXNAZXI6cGE6c3M=\r\n"),
        "{head}"
    );
    assert!(head.starts_with("GET /private HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("host: {}\r\n", raw.addr())),
        "{head}"
    );
    // The request's own Authorization wins over the URL's.
    bounded(
        client()
            .get(&url)
            .header("authorization", "Bearer t")
            .send(),
    )
    .await
    .unwrap();
    let head = String::from_utf8_lossy(&raw.heads()[1]).into_owned();
    assert!(head.contains("authorization: Bearer t\r\n"), "{head}");
    assert!(!head.contains("Basic"), "{head}");

    // Dropped when a redirect leaves the origin, like any credential.
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let other = format!("http://localhost:{}/headers", s.addr().port());
    let from = s
        .url(&format!("/redirect-to?url={}", encoded(&other)))
        .replace("http://", "http://user:pw@");
    let echo: serde_json::Value = bounded(async {
        let c = Client::new();
        c.get(&from).send().await.unwrap().json().await.unwrap()
    })
    .await;
    assert!(echo["headers"].get("authorization").is_none(), "{echo}");

    // Errors never show the password.
    let e = bounded(client().get("http://user:s3cret@127.0.0.1:1/x").send())
        .await
        .unwrap_err();
    let shown = format!("{e} {e:?} {:?}", e.url());
    assert!(!shown.contains("s3cret"), "{shown}");
    let e = bounded(client().get("http://user:s3cret@127.0.0.1:99999/x").send())
        .await
        .unwrap_err();
    let shown = format!("{e} {e:?} {}", std::error::Error::source(&e).unwrap());
    assert!(
        !shown.contains("s3cret") && shown.contains("user:***@"),
        "{shown}"
    );
    assert_eq!(
        tenax::redact_url("https://user:s3cret@h/p"),
        "https://user:***@h/p"
    );
}

#[tokio::test]
async fn a_websocket_url_with_credentials_sends_them_as_basic_auth_not_in_host() {
    let raw = RawServer::reply(&b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"[..])
        .await
        .unwrap();
    let url = format!("ws://user:pass@{}/chat", raw.addr());
    let e = bounded(client().websocket(&url).reconnect(false).connect())
        .await
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("pass@"), "{e}");
    let head = first_head(&raw);
    assert!(head.starts_with("GET /chat HTTP/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("Host: {}\r\n", raw.addr())),
        "{head}"
    );
    assert!(
        head.contains("authorization: Basic dXNlcjpwYXNz\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn a_relative_redirect_has_its_dot_segments_removed() {
    let raw =
        RawServer::reply(&b"HTTP/1.1 302 Found\r\nlocation: ../x\r\ncontent-length: 0\r\n\r\n"[..])
            .await
            .unwrap();
    let c = Client::builder()
        .redirect(tenax::redirect::Policy::limited(1))
        .build()
        .unwrap();
    let e = bounded(c.get(raw.url("/a/b/dotdot")).send())
        .await
        .unwrap_err();
    assert!(e.is_redirect(), "{e}");
    let second = String::from_utf8_lossy(&raw.heads()[1]).into_owned();
    assert!(second.starts_with("GET /a/x HTTP/1.1\r\n"), "{second}");
}

#[tokio::test]
async fn a_redirect_location_with_spaces_or_utf8_is_percent_encoded_and_followed() {
    let target = RawServer::reply(EMPTY_200).await.unwrap();
    for (location, want) in [
        (
            "/new place/caf\u{e9}?q=\u{fc} x".as_bytes().to_vec(),
            "GET /new%20place/caf%C3%A9?q=%C3%BC%20x HTTP/1.1",
        ),
        (b"/latin\xe9".to_vec(), "GET /latin%E9 HTTP/1.1"),
    ] {
        let mut head = format!(
            "HTTP/1.1 301 Moved\r\ncontent-length: 0\r\nlocation: http://{}",
            target.addr()
        )
        .into_bytes();
        head.extend_from_slice(&location);
        head.extend_from_slice(b"\r\n\r\n");
        let from = RawServer::reply(head).await.unwrap();
        let c = Client::builder()
            .redirect(tenax::redirect::Policy::limited(2))
            .build()
            .unwrap();
        let res = bounded(c.get(from.url("/")).send()).await.unwrap();
        assert_eq!(res.status(), 200);
        let got = String::from_utf8_lossy(target.heads().last().unwrap()).into_owned();
        assert!(got.starts_with(&format!("{want}\r\n")), "{got}");
    }
}

#[tokio::test]
async fn non_ascii_in_the_path_and_query_is_percent_encoded_on_the_request_line() {
    let raw = RawServer::reply(EMPTY_200).await.unwrap();
    bounded(client().get(raw.url("/\u{e9}?q=\u{fc}")).send())
        .await
        .unwrap();
    let head = first_head(&raw);
    assert!(
        head.starts_with("GET /%C3%A9?q=%C3%BC HTTP/1.1\r\n"),
        "{head}"
    );
}

#[tokio::test]
async fn an_international_host_name_goes_out_in_punycode() {
    let raw = RawServer::reply(EMPTY_200).await.unwrap();
    let port = raw.addr().port();
    let c = Client::builder()
        .resolve_to("xn--bcher-kva.example", Some(port), [raw.addr().ip()])
        .build()
        .unwrap();
    bounded(c.get(format!("http://B\u{fc}cher.example:{port}/")).send())
        .await
        .unwrap();
    let head = first_head(&raw);
    assert!(
        head.contains(&format!("host: xn--bcher-kva.example:{port}\r\n")),
        "{head}"
    );
}

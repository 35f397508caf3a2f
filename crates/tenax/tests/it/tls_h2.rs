//! TLS, HTTP/2 and connection hygiene against tenax-chaos: trust, pins, versions, mutual TLS,
//! ALPN, multiplexing, stream limits, Keep-Alive timeouts.

use std::sync::Arc;
use std::time::Duration;

use tenax::{Client, ClientBuilder, Version, tls};
use tenax_chaos::{ChaosServer, TlsVersions, pattern};

fn tls_server() -> ChaosServer {
    ChaosServer::builder().tls(true).start_in_thread().unwrap()
}

/// A client that trusts the server's CA (and nothing else).
fn trusting(s: &ChaosServer) -> ClientBuilder {
    let ca = tls::Certificate::from_pem(s.ca_pem().unwrap().as_bytes()).unwrap();
    Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .connect_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn a_server_trusted_through_its_ca_speaks_h2_by_alpn() {
    let s = tls_server();
    let c = trusting(&s).build().unwrap();
    let r = c.get(s.url("/bytes/5000")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(r.tls_version(), Some(tls::Version::Tls13));
    assert!(r.timings().tls.is_some());
    assert_eq!(&r.bytes().await.unwrap()[..], &pattern(0, 5000)[..]);
    // localhost is in the certificate too.
    let url = format!("https://localhost:{}/bytes/1", s.addr().port());
    assert_eq!(c.get(url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_certificate_error() {
    let s = tls_server();
    // The built-in roots do not know the chaos CA.
    let e = Client::new()
        .get(s.url("/bytes/1"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_tls() && e.is_certificate(), "{e}");
    assert!(!e.is_pin_mismatch());
    // Trusting another server's CA does not help either.
    let other = tls_server();
    let e = trusting(&other)
        .build()
        .unwrap()
        .get(s.url("/"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_certificate(), "{e}");
    // Unless verification is turned off, loudly.
    let r = Client::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
        .get(s.url("/bytes/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn pins_accept_the_right_key_and_refuse_others() {
    let s = tls_server();
    let pin = tenax::tls::pin_of_certificate(s.cert_der().unwrap()).unwrap();
    let c = trusting(&s).pin_sha256(&pin).build().unwrap();
    assert_eq!(c.get(s.url("/bytes/1")).send().await.unwrap().status(), 200);

    let wrong = format!("sha256//{}", "A".repeat(43) + "=");
    let c = trusting(&s).pin_sha256(&wrong).build().unwrap();
    let e = c.get(s.url("/bytes/1")).send().await.unwrap_err();
    assert!(e.is_pin_mismatch() && e.is_certificate(), "{e}");

    let e = Client::builder()
        .pin_sha256("md5//nope")
        .build()
        .unwrap_err();
    assert!(e.is_builder(), "{e}");
}

#[tokio::test]
async fn min_version_13_refuses_a_tls12_only_server() {
    let s = ChaosServer::builder()
        .tls_versions(TlsVersions::Tls12Only)
        .start_in_thread()
        .unwrap();
    let e = trusting(&s)
        .tls_min_version(tls::Version::Tls13)
        .build()
        .unwrap()
        .get(s.url("/bytes/1"))
        .send()
        .await
        .unwrap_err();
    assert!(e.is_tls() && !e.is_certificate(), "{e}");
    // TLS 1.2 is accepted by default.
    let r = trusting(&s)
        .build()
        .unwrap()
        .get(s.url("/bytes/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn mutual_tls_when_the_server_requires_it() {
    let s = ChaosServer::builder()
        .require_client_cert(true)
        .start_in_thread()
        .unwrap();
    let e = trusting(&s)
        .build()
        .unwrap()
        .get(s.url("/bytes/1"))
        .send()
        .await;
    // Without a certificate the server refuses: in the handshake, or (TLS 1.3, where the client
    // finishes first) with an alert or a closed connection right after it.
    match e {
        // Which of those the client sees first is a race in the kernel.
        Err(e) => assert!(
            e.is_tls() || e.is_recv() || e.is_send() || e.is_empty_reply() || e.is_connect(),
            "{e}"
        ),
        Ok(r) => panic!("served without a client certificate: {}", r.status()),
    }
    let id = tls::Identity::from_pem(
        s.client_cert_pem().unwrap().as_bytes(),
        s.client_key_pem().unwrap().as_bytes(),
    )
    .unwrap();
    let r = trusting(&s)
        .identity(id)
        .build()
        .unwrap()
        .get(s.url("/bytes/1"))
        .send()
        .await;
    let r = r.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_multiplexes_100_requests_on_one_connection() {
    let s = tls_server();
    let c = trusting(&s).build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (c, url) = (c.clone(), s.url("/delay/100"));
        tasks.push(tokio::spawn(async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.version(), Version::HTTP_2);
            r.bytes().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.connections_accepted(), 1);
    assert_eq!(c.open_connections(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stream_limit_opens_more_connections_within_the_pool_limits() {
    let s = ChaosServer::builder()
        .tls(true)
        .http2_max_concurrent_streams(10)
        .start_in_thread()
        .unwrap();
    let c = trusting(&s).max_connections(4).build().unwrap();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (c, url) = (c.clone(), s.url("/delay/300"));
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await.unwrap().bytes().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let conns = s.connections_accepted();
    assert!(conns > 1, "one connection would queue 40 streams");
    assert!(conns <= 4, "{conns} connections, over the limit of 4");
}

#[tokio::test]
async fn h2c_by_prior_knowledge_and_http1_by_choice() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let c = Client::builder().http2_only().build().unwrap();
    let r = c.get(s.url("/bytes/10")).send().await.unwrap();
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(r.bytes().await.unwrap().len(), 10);

    let tls = tls_server();
    let c = trusting(&tls).http1_only().build().unwrap();
    let r = c.get(tls.url("/bytes/10")).send().await.unwrap();
    assert_eq!(r.version(), Version::HTTP_11);
}

#[tokio::test]
async fn an_h2_body_dropped_early_does_not_cost_the_connection() {
    let s = tls_server();
    let c = trusting(&s).build().unwrap();
    let mut r = c
        .get(s.url("/stream/100000?chunk=1000&delay_ms=5"))
        .send()
        .await
        .unwrap();
    r.chunk().await.unwrap();
    drop(r);
    let r = c.get(s.url("/bytes/1")).send().await.unwrap();
    assert!(r.reused());
    assert_eq!(s.connections_accepted(), 1);
}

#[tokio::test]
async fn keep_alive_timeouts_are_honoured_before_the_server_closes() {
    let s = Arc::new(ChaosServer::builder().start_in_thread().unwrap());
    let c = Client::new();
    // The server closes connections idle for 1 s; requests spaced around that moment must
    // never meet a connection the server is closing. Ten requests by default (ten seconds);
    // TENAX_KEEPALIVE_REQUESTS=200 runs the long version.
    let n: usize = std::env::var("TENAX_KEEPALIVE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let gaps = [900u64, 950, 1000, 1050, 1100, 980, 1020, 1000, 990, 1010];
    let mut errors = 0;
    for gap in gaps.iter().cycle().take(n).copied() {
        match c.get(s.url("/keepalive-timeout/1")).send().await {
            Ok(r) => {
                if r.bytes().await.is_err() {
                    errors += 1;
                }
            }
            Err(_) => errors += 1,
        }
        tokio::time::sleep(Duration::from_millis(gap)).await;
    }
    assert_eq!(errors, 0);
}

#[tokio::test]
async fn keep_alive_timeouts_shorten_reuse_but_allow_it() {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let c = Client::new();
    // timeout=3: the connection may be reused for 2 s.
    c.get(s.url("/keepalive-timeout/3"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = c.get(s.url("/keepalive-timeout/3")).send().await.unwrap();
    assert!(r.reused());
    assert_eq!(s.connections_accepted(), 1);
}

#[tokio::test]
async fn a_refused_h2_stream_is_sent_again_once_on_a_fresh_connection() {
    use tenax_chaos::{RawServer, RawStep};
    // An HTTP/2 server (prior knowledge) that announces its settings, acknowledges the
    // client's, then refuses stream 1 unprocessed (RST_STREAM, REFUSED_STREAM).
    let settings: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
    let ack: &[u8] = &[0, 0, 0, 4, 1, 0, 0, 0, 0];
    let refuse: &[u8] = &[0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 7];
    let raw = RawServer::start(vec![
        RawStep::write(settings),
        RawStep::write(ack),
        RawStep::Sleep(Duration::from_millis(200)),
        RawStep::write(refuse),
        RawStep::Sleep(Duration::from_secs(2)),
    ])
    .await
    .unwrap();
    let c = Client::builder()
        .http2_only()
        .retry(tenax::retry::Policy::none())
        .build()
        .unwrap();
    let e = c.get(raw.url("/")).send().await.unwrap_err();
    // Refused twice: the first refusal was replayed on a new connection, the second is final.
    assert_eq!(raw.connections(), 2, "{e}");
    assert!(!e.is_timeout(), "{e}");
}

#[tokio::test]
async fn http2_bodies_in_pieces_arrive_whole_under_a_short_write_timeout() {
    // Bodies go out in 16 KiB pieces on HTTP/2 (for the write stall watch); a server that
    // reads along never trips the write timeout, and every byte arrives once.
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let c = Client::builder()
        .http2_only()
        .write_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let res = crate::support::bounded(c.post(s.url("/echo?raw=1")).body(body.clone()).send())
        .await
        .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    let got = crate::support::bounded(res.bytes()).await.unwrap();
    assert!(got == body, "{} bytes back", got.len());
    let chunks = futures_util::stream::iter(
        body.chunks(100_000)
            .map(|c| Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let res = crate::support::bounded(
        c.post(s.url("/echo?raw=1"))
            .body(tenax::Body::from_stream(chunks))
            .send(),
    )
    .await
    .unwrap();
    let got = crate::support::bounded(res.bytes()).await.unwrap();
    assert!(got == body, "{} bytes back from a stream", got.len());
}

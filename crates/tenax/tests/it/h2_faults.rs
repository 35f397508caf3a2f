//! HTTP/2 faults: servers scripted frame by frame (`tenax_chaos::h2` and `RawStep`) that do
//! what no real server does on request — a GOAWAY below streams in flight, a stream reset with
//! each error code, a window that never opens, a stream limit of 0, floods of PING and
//! SETTINGS — and tenax-chaos cutting a whole HTTP/2 connection. Each ends in the right typed
//! error or a transparent replay of a request the server did not process; never a hang (every
//! wait is bounded).

use std::time::Duration;

use tenax::{Client, ClientBuilder, Version};
use tenax_chaos::{ChaosServer, RawServer, RawStep, h2};

/// A server that speaks HTTP/2 as `script` says, after its own SETTINGS (`settings`).
async fn h2_server(settings: &[(u16, u32)], script: Vec<RawStep>) -> RawServer {
    let mut steps = vec![RawStep::write(h2::settings(settings))];
    steps.extend(script);
    RawServer::start(steps).await.unwrap()
}

fn h2_client() -> ClientBuilder {
    Client::builder()
        .http2_only()
        .retry(tenax::retry::Policy::none())
        .connect_timeout(Duration::from_secs(5))
}

fn within(t: std::time::Instant, low: f64, high: f64) {
    let s = t.elapsed().as_secs_f64();
    assert!(
        (low..high).contains(&s),
        "took {s:.2} s, expected {low}..{high}"
    );
}

/// `fut` fails at the timeout of `phase`, a 1 s one (between 0.9 s and 2.5 s).
async fn times_out<T: std::fmt::Debug>(
    fut: impl std::future::Future<Output = tenax::Result<T>>,
    phase: tenax::TimeoutPhase,
) {
    let t = std::time::Instant::now();
    let e = crate::support::bounded(fut).await.unwrap_err();
    assert_eq!(e.timeout_phase(), Some(phase), "{e}");
    within(t, 0.9, 2.5);
}

#[tokio::test]
async fn an_http2_read_timeout_is_the_requests_own_whatever_else_the_connection_does() {
    // The server never answers, but keeps the connection busy: a PING every 100 ms, which the
    // client answers. Those writes pushed the read timeout back (3 s fired at 14.9 s).
    let mut pings = vec![RawStep::AwaitH2Frame(h2::HEADERS)];
    for i in 0..60u8 {
        pings.push(RawStep::write(h2::ping([i; 8])));
        pings.push(RawStep::Sleep(Duration::from_millis(100)));
    }
    let s = h2_server(&[], pings).await;
    let c = h2_client()
        .read_timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    times_out(c.get(s.url("/")).send(), tenax::TimeoutPhase::Read).await;
}

#[tokio::test]
async fn an_http2_body_blocked_by_flow_control_is_a_write_timeout() {
    // The server's stream window is 0 and never opens: the body cannot move.
    let s = h2_server(&[(h2::INITIAL_WINDOW_SIZE, 0)], vec![]).await;
    let c = h2_client()
        .write_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    times_out(
        c.post(s.url("/")).body(vec![7u8; 100_000]).send(),
        tenax::TimeoutPhase::Write,
    )
    .await;
}

#[tokio::test]
async fn an_http2_stream_limit_of_zero_waits_within_the_pool_timeout() {
    // No stream allowed, ever: the request waits for one within the pool timeout, which names
    // itself (the first request was given a stream anyway, and failed at the read timeout).
    let s = h2_server(&[(h2::MAX_CONCURRENT_STREAMS, 0)], vec![]).await;
    let c = h2_client()
        .pool_timeout(Duration::from_secs(1))
        .read_timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    times_out(c.get(s.url("/")).send(), tenax::TimeoutPhase::Pool).await;
    assert!(s.heads().len() <= 2, "{} connections", s.heads().len());
    // Nothing is left running: the client closes at once.
    let t = std::time::Instant::now();
    crate::support::bounded(c.close()).await;
    within(t, 0.0, 1.0);

    // Raised later: the request goes out then.
    let s = h2_server(
        &[(h2::MAX_CONCURRENT_STREAMS, 0)],
        vec![
            RawStep::Sleep(Duration::from_millis(300)),
            RawStep::write(h2::settings(&[(h2::MAX_CONCURRENT_STREAMS, 10)])),
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::headers(1, 200, Some(2), false)),
            RawStep::write(h2::data(1, b"ok", true)),
        ],
    )
    .await;
    let c = h2_client().build().unwrap();
    let res = crate::support::bounded(c.get(s.url("/")).send())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        &crate::support::bounded(res.bytes()).await.unwrap()[..],
        b"ok"
    );
}

#[tokio::test]
async fn a_goaway_mid_response_is_a_receive_failure_not_a_send_failure() {
    let s = h2_server(
        &[],
        vec![
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::headers(1, 200, Some(1000), false)),
            RawStep::write(h2::data(1, b"partial", false)),
            RawStep::write(h2::goaway(1, h2::INTERNAL_ERROR)),
            RawStep::Close,
        ],
    )
    .await;
    let c = h2_client().build().unwrap();
    let res = crate::support::bounded(c.get(s.url("/")).send())
        .await
        .unwrap();
    let e = crate::support::bounded(res.bytes()).await.unwrap_err();
    assert!(e.is_recv() && !e.is_send(), "{e}");
}

#[tokio::test]
async fn a_goaway_after_the_request_was_processed_says_so_and_is_no_send_failure() {
    // GOAWAY with last stream 1: the server took the request, then closed without answering.
    // "Failed to send" would invite an unsafe resend.
    let s = h2_server(
        &[],
        vec![
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::goaway(1, h2::INTERNAL_ERROR)),
            RawStep::Close,
        ],
    )
    .await;
    let c = h2_client().build().unwrap();
    let e = crate::support::bounded(c.post(s.url("/")).body("pay once").send())
        .await
        .unwrap_err();
    assert!(e.is_recv() && !e.is_send(), "{e}");
    let text = format!(
        "{e}: {}",
        std::error::Error::source(&e).map_or(String::new(), |s| s.to_string())
    );
    assert!(text.contains("after processing the request"), "{text}");
}

/// GETs of `url` at once, each to its body.
async fn gets(c: &Client, url: &str, n: usize) -> Vec<tenax::Result<bytes::Bytes>> {
    let one = || async {
        let res = c.get(url).send().await?;
        res.bytes().await
    };
    crate::support::bounded(futures_util::future::join_all((0..n).map(|_| one()))).await
}

#[tokio::test]
async fn a_goaway_below_streams_in_flight_sends_them_again_on_a_new_connection() {
    // Three requests on one connection (streams 1, 3, 5); a graceful GOAWAY with last stream
    // 1 says 3 and 5 were not processed (RFC 9113 §6.8), and stream 1 is answered. The second
    // connection answers everything.
    let first = vec![
        RawStep::write(h2::settings(&[])),
        RawStep::AwaitH2Frame(h2::HEADERS),
        RawStep::AwaitH2Frame(h2::HEADERS),
        RawStep::AwaitH2Frame(h2::HEADERS),
        RawStep::write(h2::goaway(1, h2::NO_ERROR)),
        RawStep::write(h2::headers(1, 200, Some(2), false)),
        RawStep::write(h2::data(1, b"ok", true)),
    ];
    let then = vec![
        RawStep::write(h2::settings(&[])),
        RawStep::AnswerH2(bytes::Bytes::from_static(b"ok")),
    ];
    let s = RawServer::start_each(vec![first, then]).await.unwrap();
    // No retries: what is sent again is not a retry, but the request the server never saw.
    let c = h2_client().build().unwrap();
    for (i, r) in gets(&c, &s.url("/"), 3).await.into_iter().enumerate() {
        match r {
            Ok(body) => assert_eq!(&body[..], b"ok", "request {i}"),
            Err(e) => panic!("request {i}: {e}"),
        }
    }
    // Each refused stream is sent again on a connection of its own (a replay never waits for
    // another's new connection): the first and one or two more.
    let n = s.connections();
    assert!((2..=3).contains(&n), "{n} connections");
}

#[tokio::test]
async fn a_goaway_with_an_error_below_streams_in_flight_fails_them_with_a_typed_error() {
    // The same, with ENHANCE_YOUR_CALM and the connection closed: nothing hangs, and no
    // request is reported as sent and answered when it was not.
    let s = h2_server(
        &[],
        vec![
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::goaway(1, h2::ENHANCE_YOUR_CALM)),
            RawStep::Close,
        ],
    )
    .await;
    let c = h2_client().build().unwrap();
    for r in gets(&c, &s.url("/"), 2).await {
        let e = r.unwrap_err();
        assert!(e.is_recv() || e.is_send() || e.is_empty_reply(), "{e}");
        assert!(!e.is_timeout(), "{e}");
    }
}

#[tokio::test]
async fn a_stream_reset_mid_body_with_any_error_code_is_a_receive_error() {
    for code in h2::ERROR_CODES {
        // The reset after the data, and (`together`) in the same write: then the client may
        // see the stream closed as it reads the last chunk.
        for together in [false, true] {
            let cut = [h2::data(1, b"partial", false), h2::rst_stream(1, code)];
            let tail = if together {
                vec![RawStep::write(cut.concat())]
            } else {
                cut.into_iter().map(RawStep::Write).collect()
            };
            let mut script = vec![
                RawStep::AwaitH2Frame(h2::HEADERS),
                RawStep::write(h2::headers(1, 200, Some(1000), false)),
            ];
            script.extend(tail);
            let s = h2_server(&[], script).await;
            let c = h2_client().build().unwrap();
            let res = crate::support::bounded(c.get(s.url("/")).send())
                .await
                .unwrap_or_else(|e| panic!("code {code:#x}: {e}"));
            // Seven bytes of a promised thousand: never a body that looks whole.
            match crate::support::bounded(res.bytes()).await {
                Ok(b) => panic!(
                    "code {code:#x}: a cut body of {} bytes read as whole",
                    b.len()
                ),
                Err(e) => assert!(e.is_recv(), "code {code:#x}: {e}"),
            }
        }
    }
}

#[tokio::test]
async fn a_head_response_over_http2_keeps_its_length_and_has_no_body() {
    // Content-Length on a HEAD response is the length of what a GET would get: not a body
    // cut short.
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let c = h2_client().build().unwrap();
    let res = crate::support::bounded(c.head(s.url("/bytes/1000")).send())
        .await
        .unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    assert_eq!(res.content_length(), Some(1000));
    assert!(
        crate::support::bounded(res.bytes())
            .await
            .unwrap()
            .is_empty()
    );

    // The same head, its stream ended by an empty DATA frame rather than on the HEADERS.
    let s = h2_server(
        &[],
        vec![
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(h2::headers(1, 200, Some(1000), false)),
            RawStep::write(h2::data(1, b"", true)),
        ],
    )
    .await;
    let res = crate::support::bounded(c.head(s.url("/")).send())
        .await
        .unwrap();
    assert_eq!(res.content_length(), Some(1000));
    assert!(
        crate::support::bounded(res.bytes())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn floods_of_pings_and_settings_do_not_stop_the_answer() {
    // 10,000 PINGs and then 10,000 SETTINGS before the answer: each wants an acknowledgement
    // from the client, which must keep reading (and answering) rather than stall or give up.
    let pings: Vec<u8> = (0..10_000u32)
        .flat_map(|i| h2::ping((u64::from(i)).to_be_bytes()).to_vec())
        .collect();
    let settings: Vec<u8> = (0..10_000)
        .flat_map(|_| h2::settings(&[(h2::MAX_CONCURRENT_STREAMS, 100)]).to_vec())
        .collect();
    let s = h2_server(
        &[],
        vec![
            RawStep::AwaitH2Frame(h2::HEADERS),
            RawStep::write(pings),
            RawStep::write(settings),
            RawStep::write(h2::headers(1, 200, Some(2), false)),
            RawStep::write(h2::data(1, b"ok", true)),
        ],
    )
    .await;
    let c = h2_client()
        .read_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let res = crate::support::bounded(c.get(s.url("/")).send())
        .await
        .unwrap();
    assert_eq!(
        &crate::support::bounded(res.bytes()).await.unwrap()[..],
        b"ok"
    );
}

/// A stream that stays open for a while (about 2 s) on an HTTP/2 connection of `s`, and a
/// request to `cut` on the same connection: the whole connection ends with the cut one.
async fn cut_beside_a_long_stream(cut: &str) {
    let s = ChaosServer::builder().start_in_thread().unwrap();
    let c = Client::builder()
        .http2_only()
        .retry(tenax::retry::Policy::none())
        .build()
        .unwrap();
    let long = c
        .get(s.url("/stream/100000?chunk=1000&delay_ms=20"))
        .send()
        .await
        .unwrap();
    assert_eq!(long.version(), Version::HTTP_2);
    let cut_res = crate::support::bounded(c.get(s.url(cut)).send())
        .await
        .unwrap();
    assert_eq!(
        s.connections_accepted(),
        1,
        "both streams on one connection"
    );
    let e = crate::support::bounded(cut_res.bytes()).await.unwrap_err();
    assert!(e.is_recv(), "{cut}: {e}");
    match crate::support::bounded(long.bytes()).await {
        Ok(b) => panic!("{cut}: the other stream read {} bytes to its end", b.len()),
        Err(e) => assert!(e.is_recv(), "{cut}, the other stream: {e}"),
    }
}

#[tokio::test]
async fn an_http2_reset_or_truncation_ends_the_whole_connection() {
    cut_beside_a_long_stream("/reset/5000").await;
    cut_beside_a_long_stream("/truncate/5000").await;
}

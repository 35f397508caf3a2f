//! Response bodies: size caps (announced and streamed, counted after decoding) and content
//! decoding, against tenax-chaos.

use futures_util::StreamExt;
use tenax::Client;

use crate::support::bounded;
use crate::support::server;

#[tokio::test]
async fn a_content_length_over_the_cap_fails_before_the_body_is_read() {
    let s = server();
    bounded(async {
        let client = Client::builder().max_body_bytes(1000).build().unwrap();
        let mut res = client.get(s.url("/bytes/5000")).send().await.unwrap();
        let e = res.chunk().await.unwrap_err();
        assert!(e.is_body_too_large(), "{e}");
        let msg = format!("{e:#}") + &std::error::Error::source(&e).unwrap().to_string();
        assert!(msg.contains("5000") && msg.contains("1000"), "{msg}");
        // Per request, over the client's.
        let res = client
            .get(s.url("/bytes/5000"))
            .max_body_bytes(10_000)
            .send()
            .await
            .unwrap();
        assert_eq!(res.bytes().await.unwrap().len(), 5000);
    })
    .await;
}

#[tokio::test]
async fn a_chunked_body_over_the_cap_is_cut_at_the_cap() {
    let s = server();
    bounded(async {
        let client = Client::new();
        let res = client
            .get(s.url("/stream/10000?chunk=1000"))
            .max_body_bytes(2500)
            .send()
            .await
            .unwrap();
        let mut chunks = res.chunks();
        let mut got = 0;
        let err = loop {
            match chunks.next().await {
                Some(Ok(b)) => got += b.len(),
                Some(Err(e)) => break e,
                None => panic!("the body ended without the cap error"),
            }
        };
        assert_eq!(got, 2500, "the bytes up to the cap, not one more");
        assert!(err.is_body_too_large(), "{err}");
        assert!(chunks.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn buffered_reads_stop_at_64_mib_by_default_without_buffering_it_all() {
    let s = server();
    bounded(async {
        // Announced: refused at once.
        let e = Client::new()
            .get(s.url("/bytes/70000000"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert!(e.is_body_too_large(), "{e}");
    })
    .await;
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn a_gzip_bomb_is_cut_by_its_decoded_size() {
    let s = server();
    bounded(async {
        let client = Client::builder().max_body_bytes(1 << 20).build().unwrap();
        // 100 MB of zeros in ~100 kB of gzip: the cap counts decoded bytes.
        let res = client
            .get(s.url("/gzip-bomb/100000000"))
            .send()
            .await
            .unwrap();
        assert!(res.headers().get("content-encoding").is_none());
        let mut chunks = res.chunks();
        let mut got = 0;
        let mut largest = 0;
        let err = loop {
            match chunks.next().await {
                Some(Ok(b)) => {
                    got += b.len();
                    largest = largest.max(b.len());
                }
                Some(Err(e)) => break e,
                None => panic!("the bomb was not stopped"),
            }
        };
        assert_eq!(got, 1 << 20);
        assert!(largest <= 64 * 1024, "decoded chunks stay small: {largest}");
        assert!(err.is_body_too_large(), "{err}");
        // bytes() with its default 64 MiB cap: stopped too, by decoded size.
        let e = Client::new()
            .get(s.url("/gzip-bomb/100000000"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert!(e.is_body_too_large(), "{e}");
    })
    .await;
}

#[cfg(all(
    feature = "gzip",
    feature = "deflate",
    feature = "brotli",
    feature = "zstd"
))]
#[tokio::test]
async fn every_coding_is_asked_for_and_decoded() {
    let s = server();
    bounded(async {
        let client = Client::new();
        let seen: serde_json::Value = client
            .get(s.url("/headers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            seen["headers"]["accept-encoding"],
            "gzip, deflate, br, zstd"
        );
        let want = tenax_chaos::pattern(0, 300_000);
        for coding in ["gzip", "deflate", "br", "zstd"] {
            let res = client
                .get(s.url(&format!("/encoded/300000?coding={coding}")))
                .send()
                .await
                .unwrap();
            assert!(res.headers().get("content-encoding").is_none(), "{coding}");
            assert!(res.content_length().is_none(), "{coding}");
            let body = res.bytes().await.unwrap();
            assert!(body == want, "{coding}: {} bytes", body.len());
        }
        // Off: the encoded bytes, as sent, and no Accept-Encoding.
        let raw = Client::builder().decompress(false).build().unwrap();
        let res = raw
            .get(s.url("/encoded/1000?coding=gzip"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-encoding"], "gzip");
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..2], &[0x1f, 0x8b], "gzip magic");
        // A Range request is never asked to be compressed.
        let seen: serde_json::Value = client
            .get(s.url("/headers"))
            .header("range", "bytes=0-1")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(seen["headers"].get("accept-encoding").is_none(), "{seen}");
    })
    .await;
}

#[cfg(all(feature = "gzip", feature = "zstd"))]
#[tokio::test]
async fn a_truncated_compressed_body_is_a_receive_error() {
    let s = server();
    bounded(async {
        for coding in ["gzip", "zstd"] {
            let e = Client::new()
                .get(s.url(&format!("/encoded/100000?coding={coding}&truncate=200")))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap_err();
            assert!(e.is_recv(), "{coding}: {e}");
        }
    })
    .await;
}

#[tokio::test]
async fn lines_and_ndjson_stream_with_a_per_line_cap() {
    let s = server();
    bounded(async {
        let client = Client::new();
        let body: String = (0..10_000).map(|i| format!("line {i}\r\n")).collect();
        let lines: Vec<String> = client
            .post(s.url("/echo?raw=1"))
            .body(body)
            .send()
            .await
            .unwrap()
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines.len(), 10_000);
        assert!(
            lines
                .iter()
                .enumerate()
                .all(|(i, l)| *l == format!("line {i}"))
        );
        // The last line needs no newline; empty lines are kept.
        let lines: Vec<String> = client
            .post(s.url("/echo?raw=1"))
            .body("a\n\nb")
            .send()
            .await
            .unwrap()
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines, ["a", "", "b"]);
        // A line over the cap.
        let mut lines = client
            .post(s.url("/echo?raw=1"))
            .body(format!("short\n{}\n", "x".repeat(5000)))
            .send()
            .await
            .unwrap()
            .lines()
            .max_line(1000);
        assert_eq!(lines.next().await.unwrap().unwrap(), "short");
        assert!(lines.next().await.unwrap().unwrap_err().is_body_too_large());
        assert!(lines.next().await.is_none());
        // NDJSON: empty lines skipped, a bad line is a decode error.
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Tick {
            n: u32,
        }
        let ticks: Vec<tenax::Result<Tick>> = client
            .post(s.url("/echo?raw=1"))
            .body("{\"n\":1}\n\n{\"n\":2}\nnot json\n")
            .send()
            .await
            .unwrap()
            .ndjson::<Tick>()
            .collect()
            .await;
        assert_eq!(ticks.len(), 3);
        assert_eq!(ticks[0].as_ref().unwrap(), &Tick { n: 1 });
        assert_eq!(ticks[1].as_ref().unwrap(), &Tick { n: 2 });
        assert!(ticks[2].as_ref().unwrap_err().is_decode());
    })
    .await;
}

#[cfg(all(feature = "gzip", feature = "brotli"))]
#[tokio::test]
async fn every_listed_content_coding_is_decoded_or_the_body_is_left_as_labelled() {
    // Two `Content-Encoding: gzip` lines once picked one decoder and removed both headers:
    // the body came back still gzip-encoded, labelled as plain.
    let s = server();
    bounded(async {
        let want = tenax_chaos::pattern(0, 100_000);
        for query in ["coding=gzip,gzip&split=1", "coding=gzip,br", "coding=br,gzip&split=1"] {
            let res = Client::new()
                .get(s.url(&format!("/encoded/100000?{query}")))
                .send()
                .await
                .unwrap();
            assert!(res.headers().get("content-encoding").is_none(), "{query}");
            let body = res.bytes().await.unwrap();
            assert!(body == want, "{query}: {} bytes", body.len());
        }
        // A coding this build cannot decode among them: nothing is decoded, nothing removed.
        let raw = tenax_chaos::RawServer::reply(
            &b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-encoding: x-unknown\r\ncontent-length: 3\r\n\r\nabc"[..],
        )
        .await
        .unwrap();
        let res = Client::new().get(raw.url("/")).send().await.unwrap();
        let labels: Vec<_> = res.headers().get_all("content-encoding").iter().collect();
        assert_eq!(labels, ["gzip", "x-unknown"]);
        assert_eq!(&res.bytes().await.unwrap()[..], b"abc");
    })
    .await;
}

//! Interop with real peers nobody here wrote, started by the tests on loopback: nginx (HTTP/1.1;
//! HTTP/2 over TLS with a CA made at test time; Range on a static file; gzip), a Python
//! `websockets` server (echo, close codes, compression offered) and an aiohttp server (JSON,
//! chunked streaming, gzip, WebSocket echo with compression offered, close codes).
//!
//! Feature `interop` (with `gzip` for the compressed bodies); `.ci/run` installs the peers and
//! runs `cargo test -p tenax --features interop,gzip --test interop`. A missing peer fails the
//! test, saying what to install.
#![cfg(feature = "interop")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tenax::ws::{DisconnectReason, Message, WsEvent};
use tenax::{Client, Version, tls};
use tenax_chaos::TestCertificates;

#[path = "it/support/mod.rs"]
mod support;

async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    support::bounded_for(Duration::from_secs(60), f).await
}

/// A child process killed when dropped.
struct Peer {
    child: Child,
    _dir: Option<TempDir>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    /// A directory of its own: tests run in parallel (two nginx servers once shared one, and
    /// the second's clean-up removed the first's files as it started).
    fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("tenax-interop-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{what} did not start listening"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Python server script beside this file, which prints its port first.
fn python(script: &str) -> (Peer, u16) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let mut child = Command::new("python3")
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (install python3, and `pip install websockets aiohttp`)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{script} did not start (missing module?): {line:?}"));
    (Peer { child, _dir: None }, port)
}

/// The static files nginx serves.
const DATA_LEN: usize = 1 << 20;

fn data() -> Vec<u8> {
    tenax_chaos::pattern(0, DATA_LEN)
}

fn text() -> String {
    "nginx interop, compressible text. ".repeat(3000)
}

/// nginx with a plain HTTP/1.1 server and an HTTP/2 + TLS one, on fresh ports.
struct Nginx {
    _peer: Peer,
    http: u16,
    https: u16,
    ca_pem: String,
}

fn nginx() -> Nginx {
    let dir = TempDir::new("nginx");
    let d = &dir.0;
    let certs = TestCertificates::generate().unwrap();
    std::fs::write(d.join("chain.pem"), &certs.chain_pem).unwrap();
    std::fs::write(d.join("key.pem"), &certs.key_pem).unwrap();
    std::fs::create_dir_all(d.join("www")).unwrap();
    std::fs::write(d.join("www/data.bin"), data()).unwrap();
    std::fs::write(d.join("www/text.txt"), text()).unwrap();
    let (http, https) = (free_port(), free_port());
    let p = d.display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {p}/nginx.pid;\n\
         error_log {p}/error.log;\nevents {{ worker_connections 512; }}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {p}/body;\nproxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\nuwsgi_temp_path {p}/uwsgi;\nscgi_temp_path {p}/scgi;\n\
         default_type application/octet-stream;\ntypes {{ text/plain txt; }}\n\
         gzip on;\ngzip_types text/plain;\ngzip_min_length 100;\n\
         server {{ listen 127.0.0.1:{http}; root {p}/www; keepalive_requests 1000; }}\n\
         server {{ listen 127.0.0.1:{https} ssl http2; root {p}/www;\n\
         ssl_certificate {p}/chain.pem; ssl_certificate_key {p}/key.pem;\n\
         ssl_protocols TLSv1.2 TLSv1.3; }}\n}}\n"
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let bin = ["nginx", "/usr/sbin/nginx"]
        .into_iter()
        .find(|b| Command::new(b).arg("-v").output().is_ok())
        .expect("nginx is installed (apt-get install nginx-light)");
    let child = Command::new(bin)
        .args(["-p", &p.to_string(), "-c"])
        .arg(d.join("nginx.conf"))
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_for_port(http, "nginx");
    wait_for_port(https, "nginx (TLS)");
    Nginx {
        _peer: Peer {
            child,
            _dir: Some(dir),
        },
        http,
        https,
        ca_pem: certs.ca_pem,
    }
}

// ===== nginx =====

#[tokio::test]
async fn nginx_http1_keep_alive_range_and_gzip() {
    let n = nginx();
    let client = Client::builder().decompress(true).build().unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", n.http);
    bounded(async {
        // 50 requests on one kept-alive connection.
        for _ in 0..50 {
            let r = client.get(url("/data.bin")).send().await.unwrap();
            assert_eq!(r.version(), Version::HTTP_11);
            assert_eq!(r.bytes().await.unwrap().len(), DATA_LEN);
        }
        assert_eq!(client.open_connections(), 1);

        // A range of the static file.
        let r = client
            .get(url("/data.bin"))
            .header("range", "bytes=1000-1999")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes 1000-1999/{DATA_LEN}").as_str()
        );
        assert_eq!(r.bytes().await.unwrap(), data()[1000..2000]);

        // gzip, asked for and decoded.
        let r = client.get(url("/text.txt")).send().await.unwrap();
        assert!(r.headers().get("content-encoding").is_none(), "decoded");
        assert_eq!(r.text().await.unwrap(), text());

        // A download, verified, into place.
        let dir = TempDir::new("nginx-dl");
        let dest = dir.0.join("data.bin");
        use sha2::Digest;
        let digest = sha2::Sha256::digest(data());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        client
            .download(url("/data.bin"), &dest)
            .sha256(&hex)
            .send()
            .await
            .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data());

        // A 404 is a response, and an error on request.
        let r = client.get(url("/missing")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.error_for_status().unwrap_err().is_status());
    })
    .await;
    client.close().await;
}

#[tokio::test]
async fn nginx_http2_over_tls_with_a_ca_made_at_test_time() {
    let n = nginx();
    let client = Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(tls::Certificate::from_pem(n.ca_pem.as_bytes()).unwrap())
        .decompress(true)
        .build()
        .unwrap();
    let url = |p: &str| format!("https://127.0.0.1:{}{p}", n.https);
    bounded(async {
        let r = client.get(url("/data.bin")).send().await.unwrap();
        assert_eq!(r.version(), Version::HTTP_2);
        assert_eq!(r.tls_version(), Some(tls::Version::Tls13));
        assert_eq!(r.bytes().await.unwrap(), data());

        // 100 requests at once share the one HTTP/2 connection.
        let reqs = (0..100).map(|_| client.get(url("/text.txt")));
        let mut batch = client
            .batch_with(reqs, |r| async move { r.send().await?.text().await })
            .concurrency(100);
        while let Some((_, body)) = batch.next().await {
            assert_eq!(body.unwrap(), text());
        }
        assert_eq!(client.open_connections(), 1);

        let r = client
            .get(url("/data.bin"))
            .header("range", "bytes=-100")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(r.bytes().await.unwrap(), data()[DATA_LEN - 100..]);
    })
    .await;

    // Without the CA, nginx's certificate is refused.
    let stranger = Client::new();
    let e = bounded(stranger.get(url("/text.txt")).send())
        .await
        .unwrap_err();
    assert!(e.is_certificate(), "{e}");
}

// ===== Python websockets =====

#[tokio::test]
async fn python_websockets_echo_and_close_codes() {
    let (_peer, port) = python("ws_server.py");
    let client = Client::new();
    bounded(async {
        let mut ws = client
            .websocket(format!("ws://127.0.0.1:{port}/echo"))
            .connect()
            .await
            .unwrap();
        for i in 0..100 {
            ws.send(format!("message {i}")).await.unwrap();
        }
        let big = Message::binary(vec![7u8; 3 << 20]);
        ws.send(big.clone()).await.unwrap();
        for i in 0..100 {
            assert_eq!(
                ws.recv().await.unwrap().as_text(),
                Some(format!("message {i}").as_str())
            );
        }
        assert_eq!(ws.recv().await.unwrap().as_bytes(), big.as_bytes());
        assert!(ws.close(Duration::from_secs(2)).await.is_empty());

        // 4000 is the application's own code: reconnecting is the default, so turn it off
        // and read the reason.
        let mut ws = client
            .websocket(format!("ws://127.0.0.1:{port}/close/4000"))
            .reconnect(false)
            .connect()
            .await
            .unwrap();
        let mut events = ws.events();
        ws.send("bye").await.unwrap();
        let code = loop {
            match events.recv().await {
                Some(WsEvent::Disconnected(d)) => match d.reason {
                    DisconnectReason::ClosedByPeer { code, .. } => break code,
                    other => panic!("{other:?}"),
                },
                Some(_) => {}
                None => panic!("no disconnection"),
            }
        };
        assert_eq!(code, 4000);
    })
    .await;
}

// ===== aiohttp =====

#[tokio::test]
async fn aiohttp_json_chunked_gzip_and_websocket() {
    let (_peer, port) = python("aiohttp_server.py");
    let client = Client::builder().decompress(true).build().unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    bounded(async {
        let v: serde_json::Value = client
            .get(url("/json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["hello"], "tenax");

        let mut chunks = client
            .get(url("/stream/200"))
            .send()
            .await
            .unwrap()
            .chunks();
        let mut total = 0;
        while let Some(c) = chunks.next().await {
            total += c.unwrap().len();
        }
        assert_eq!(total, 200 * 1024);

        let r = client.get(url("/gzip")).send().await.unwrap();
        assert_eq!(r.text().await.unwrap(), "tenax interop ".repeat(5000));

        // aiohttp offers permessage-deflate; we do not ask for it, so frames stay plain.
        let mut ws = client
            .websocket(url("/ws").replace("http", "ws"))
            .connect()
            .await
            .unwrap();
        ws.send("hello aiohttp").await.unwrap();
        ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().as_text(), Some("hello aiohttp"));
        assert_eq!(ws.recv().await.unwrap().as_bytes(), &[1, 2, 3]);
        ws.close(Duration::from_secs(2)).await;

        // 1008 (policy violation) is fatal: no reconnect, whatever the policy.
        let mut ws = client
            .websocket(url("/ws-close/1008").replace("http", "ws"))
            .connect()
            .await
            .unwrap();
        let mut events = ws.events();
        ws.send("x").await.unwrap();
        let closed = loop {
            match events.recv().await {
                Some(WsEvent::Closed(c)) => break c,
                Some(_) => {}
                None => panic!("no close"),
            }
        };
        assert!(
            matches!(
                closed.reason(),
                Some(DisconnectReason::ClosedByPeer { code: 1008, .. })
            ),
            "{closed:?}"
        );
    })
    .await;
}

/// The everyday requests a reqwest user sends, parsed by aiohttp: a serde query, a form, Basic
/// credentials, a multipart form with a file part streamed from disk, and cookies it sets.
#[tokio::test]
async fn aiohttp_parses_forms_multipart_and_cookies_as_tenax_sends_them() {
    use sha2::{Digest, Sha256};

    let (_peer, port) = python("aiohttp_server.py");
    let client = Client::builder().cookie_store(true).build().unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let dir = TempDir::new("multipart");
    let file = dir.0.join("data.bin");
    let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&file, &content).unwrap();
    bounded(async {
        let v: serde_json::Value = client
            .post(url("/form"))
            .query(&[("page", 2)])
            .basic_auth("ann", Some("p:ss"))
            .form(&[("name", "Zoë"), ("expr", "1+1=2 & more")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["query"]["page"], "2");
        assert_eq!(v["basic"], serde_json::json!(["ann", "p:ss"]));
        assert_eq!(
            v["form"],
            serde_json::json!([["name", "Zoë"], ["expr", "1+1=2 & more"]])
        );

        let form = tenax::multipart::Form::new()
            .text("title", "Q3 \"final\"")
            .part(
                "logo",
                tenax::multipart::Part::bytes(vec![1u8, 2, 3])
                    .file_name("logo.png")
                    .mime_str("image/png")
                    .unwrap(),
            )
            .file("data", &file)
            .await
            .unwrap();
        let v: serde_json::Value = client
            .post(url("/form"))
            .multipart(form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let parts = v["parts"].as_array().unwrap();
        assert_eq!(parts.len(), 3, "{v}");
        assert_eq!(parts[0]["name"], "title");
        assert_eq!(parts[0]["size"], 10);
        assert_eq!(parts[1]["filename"], "logo.png");
        assert_eq!(parts[1]["content_type"], "image/png");
        assert_eq!(parts[2]["filename"], "data.bin");
        assert_eq!(parts[2]["size"], content.len());
        let digest: String = Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(parts[2]["sha256"], digest);

        client
            .get(url("/cookies/set?sid=abc&theme=dark"))
            .send()
            .await
            .unwrap();
        let v: serde_json::Value = client
            .get(url("/cookies"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v, serde_json::json!({"sid": "abc", "theme": "dark"}));
    })
    .await;
}

/// permessage-deflate with Python `websockets` and aiohttp: agreed, every size intact, and
/// (websockets) the server read a fraction of the bytes the messages hold.
#[tokio::test]
async fn python_websockets_and_aiohttp_agree_to_compression_and_echo_intact() {
    let (_ws_peer, ws_port) = python("ws_server.py");
    let (_aio_peer, aio_port) = python("aiohttp_server.py");
    let sizes = [64usize, 1000, 64 << 10, 1 << 20, 4 << 20];
    bounded(async {
        for url in [
            format!("ws://127.0.0.1:{ws_port}/echo"),
            format!("ws://127.0.0.1:{aio_port}/ws"),
        ] {
            let agreed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let seen = agreed.clone();
            let mut ws = tenax::ws::builder(&url)
                .compression(tenax::ws::Compression::default())
                .max_message(16 << 20)
                .on_connect(move |info| {
                    seen.store(info.compressed, std::sync::atomic::Ordering::Relaxed);
                    async { Ok(Vec::new()) }
                })
                .connect()
                .await
                .unwrap();
            assert!(
                agreed.load(std::sync::atomic::Ordering::Relaxed),
                "{url}: agreed"
            );
            for n in sizes {
                ws.send(Message::text(support::json_ticks(n)))
                    .await
                    .unwrap();
            }
            for n in sizes {
                let got = ws.recv().await.unwrap();
                assert_eq!(got.as_text().map(str::len), Some(n), "{url}");
                assert_eq!(
                    got.as_text(),
                    Some(support::json_ticks(n).as_str()),
                    "{url}"
                );
            }
            ws.close(Duration::from_secs(2)).await;
        }
        let mut stats = tenax::ws::connect(format!("ws://127.0.0.1:{ws_port}/stats"))
            .await
            .unwrap();
        let text = stats.recv().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(text.as_text().unwrap()).unwrap();
        let wire = v["wire"].as_u64().unwrap();
        let sent: u64 = sizes.iter().map(|n| *n as u64).sum();
        assert!(
            wire * 4 < sent,
            "the server read {wire} bytes for {sent} of messages"
        );
    })
    .await;
}

//! Demo segments of TLS and HTTP/2: the same request over h1, h2c and TLS h2; multiplexing;
//! the server's stream limit; trust, pins, versions and mutual TLS.

use std::time::{Duration, Instant};

use tenax::{Client, ClientBuilder, Version, tls};
use tenax_chaos::{ChaosServer, TlsVersions};

use crate::demo::{Row, pass_if};
use crate::report::version_str;

fn ms(d: Duration) -> Option<f64> {
    Some(d.as_secs_f64() * 1e3)
}

fn trusting(s: &ChaosServer) -> ClientBuilder {
    let builder = Client::builder().tls_built_in_root_certs(false);
    match s
        .ca_pem()
        .map(|pem| tls::Certificate::from_pem(pem.as_bytes()))
    {
        Some(Ok(ca)) => builder.add_root_certificate(ca),
        _ => builder,
    }
}

/// One GET, showing the version and how long the handshake took.
async fn one(segment: &'static str, client: Client, url: String, want: Version) -> Row {
    let t = Instant::now();
    match client.get(url).send().await {
        Ok(r) => {
            let tm = *r.timings();
            let handshake = match (tm.connect, tm.tls) {
                (Some(c), Some(t)) => format!(
                    "TCP {:.2} ms + TLS {:.2} ms",
                    ms(c).unwrap_or(0.0),
                    ms(t).unwrap_or(0.0)
                ),
                (Some(c), None) => format!("TCP {:.2} ms", ms(c).unwrap_or(0.0)),
                _ => "reused".to_string(),
            };
            let v = r.version();
            let _ = r.bytes().await;
            Row {
                segment,
                status: pass_if(v == want),
                detail: format!("{} {}; {handshake}", version_str(v), "200"),
                ms: ms(t.elapsed()),
            }
        }
        Err(e) => Row::fail(segment, e),
    }
}

/// `n` concurrent requests; how many connections the server saw.
async fn burst(
    client: &Client,
    server: &ChaosServer,
    n: usize,
    path: &str,
) -> Result<u64, tenax::Error> {
    let before = server.connections_accepted();
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (c, url) = (client.clone(), server.url(path));
        tasks.push(tokio::spawn(async move {
            c.get(url).send().await?.bytes().await
        }));
    }
    for t in tasks {
        if let Ok(r) = t.await {
            r?;
        }
    }
    Ok(server.connections_accepted() - before)
}

pub async fn versions(plain: &ChaosServer, tls: &ChaosServer) -> Vec<Row> {
    let mut rows = vec![
        one(
            "03 HTTP/1.1",
            Client::new(),
            plain.url("/bytes/13"),
            Version::HTTP_11,
        )
        .await,
    ];
    match Client::builder().http2_only().build() {
        Ok(c) => rows.push(
            one(
                "03 h2c (prior knowledge)",
                c,
                plain.url("/bytes/13"),
                Version::HTTP_2,
            )
            .await,
        ),
        Err(e) => rows.push(Row::fail("03 h2c (prior knowledge)", e)),
    }
    match trusting(tls).build() {
        Ok(c) => {
            rows.push(
                one(
                    "03 TLS 1.3 + h2 (ALPN)",
                    c.clone(),
                    tls.url("/bytes/13"),
                    Version::HTTP_2,
                )
                .await,
            );
            let t = Instant::now();
            let segment = "03 h2 multiplexing (100 at once)";
            rows.push(match burst(&c, tls, 100, "/delay/50").await {
                Ok(_) => {
                    let open = c.open_connections();
                    Row {
                        segment,
                        status: pass_if(open == 1),
                        detail: format!("100 concurrent requests over {open} connection"),
                        ms: ms(t.elapsed()),
                    }
                }
                Err(e) => Row::fail(segment, e),
            });
        }
        Err(e) => rows.push(Row::fail("03 TLS 1.3 + h2 (ALPN)", e)),
    }
    rows
}

pub async fn stream_limit() -> Row {
    let segment = "03 h2 stream limit 10, 50 at once";
    let server = match ChaosServer::builder()
        .tls(true)
        .http2_max_concurrent_streams(10)
        .start_in_thread()
    {
        Ok(s) => s,
        Err(e) => return Row::fail(segment, e),
    };
    let client = match trusting(&server).max_connections(4).build() {
        Ok(c) => c,
        Err(e) => return Row::fail(segment, e),
    };
    let t = Instant::now();
    match burst(&client, &server, 50, "/delay/200").await {
        Ok(conns) => Row {
            segment,
            status: pass_if((2..=4).contains(&conns)),
            detail: format!(
                "50 requests over {conns} connections (limit 4): more streams than one connection allows"
            ),
            ms: ms(t.elapsed()),
        },
        Err(e) => Row::fail(segment, e),
    }
}

async fn refused(
    segment: &'static str,
    client: Result<Client, tenax::Error>,
    url: String,
    check: fn(&tenax::Error) -> bool,
) -> Row {
    let client = match client {
        Ok(c) => c,
        Err(e) => return Row::fail(segment, e),
    };
    let t = Instant::now();
    match client.get(url).send().await {
        Err(e) => Row {
            segment,
            status: pass_if(check(&e)),
            detail: e.to_string(),
            ms: ms(t.elapsed()),
        },
        Ok(r) => Row::fail(segment, format!("expected a refusal, got {}", r.status())),
    }
}

pub async fn trust(tls: &ChaosServer) -> Vec<Row> {
    let mut rows = vec![
        refused(
            "10 TLS: untrusted certificate",
            Client::builder().build(),
            tls.url("/"),
            tenax::Error::is_certificate,
        )
        .await,
        refused(
            "10 TLS: wrong pin",
            trusting(tls)
                .pin_sha256(&format!("sha256//{}=", "A".repeat(43)))
                .build(),
            tls.url("/"),
            tenax::Error::is_pin_mismatch,
        )
        .await,
    ];
    match ChaosServer::builder()
        .tls_versions(TlsVersions::Tls12Only)
        .start_in_thread()
    {
        Ok(old) => rows.push(
            refused(
                "10 TLS: min 1.3 vs a 1.2-only server",
                trusting(&old).tls_min_version(tls::Version::Tls13).build(),
                old.url("/"),
                |e| e.is_tls() && !e.is_certificate(),
            )
            .await,
        ),
        Err(e) => rows.push(Row::fail("10 TLS: min 1.3 vs a 1.2-only server", e)),
    }
    let segment = "10 mutual TLS (client certificate)";
    rows.push(
        match ChaosServer::builder()
            .require_client_cert(true)
            .start_in_thread()
        {
            Ok(m) => {
                let id = tls::Identity::from_pem(
                    m.client_cert_pem().unwrap_or_default().as_bytes(),
                    m.client_key_pem().unwrap_or_default().as_bytes(),
                );
                match id.and_then(|id| trusting(&m).identity(id).build()) {
                    Ok(c) => one(segment, c, m.url("/bytes/1"), Version::HTTP_2).await,
                    Err(e) => Row::fail(segment, e),
                }
            }
            Err(e) => Row::fail(segment, e),
        },
    );
    rows
}

//! The TLS mode: a CA generated at start, ALPN h2 / http/1.1, and version restrictions.

mod support;

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Version};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tenax_chaos::{ChaosServer, TlsVersions, pattern};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

fn client_config(
    s: &ChaosServer,
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(
            s.ca_der().expect("TLS server").to_vec(),
        ))
        .unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn connect(
    s: &ChaosServer,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(s.addr()).await?;
    let name = ServerName::try_from(name.to_string()).unwrap();
    TlsConnector::from(config).connect(name, tcp).await
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

#[tokio::test]
async fn alpn_h2_serves_http2_and_the_ca_verifies_ip_and_localhost() {
    let s = ChaosServer::builder().tls(true).start().await.unwrap();
    assert!(s.url("/x").starts_with("https://127.0.0.1:"));
    assert!(
        s.ca_pem()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );

    let tls = connect(&s, client_config(&s, BOTH, &[b"h2"]), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let (mut tx, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri(s.url("/bytes/5000"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = tx.send_request(req).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_2);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], &pattern(0, 5000)[..]);

    // The certificate also names localhost, and http/1.1 is offered by ALPN.
    let tls = connect(&s, client_config(&s, BOTH, &[b"http/1.1"]), "localhost")
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::builder()
        .uri("/bytes/10")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let res = tx.send_request(req).await.unwrap();
    assert_eq!(res.version(), Version::HTTP_11);
    assert_eq!(s.hits("bytes"), 2);
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_is_refused() {
    let s = ChaosServer::builder().tls(true).start().await.unwrap();
    let other = ChaosServer::builder().tls(true).start().await.unwrap();
    // Trusting another server's CA: the chain does not verify.
    let err = connect(&s, client_config(&other, BOTH, &[]), "127.0.0.1")
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A name the certificate does not carry.
    let err = connect(&s, client_config(&s, BOTH, &[]), "example.com")
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn tls12_only_rejects_a_tls13_only_client() {
    let s = ChaosServer::builder()
        .tls_versions(TlsVersions::Tls12Only)
        .start()
        .await
        .unwrap();
    let only13 = client_config(&s, &[&rustls::version::TLS13], &[]);
    assert!(connect(&s, only13, "127.0.0.1").await.is_err());

    let tls = connect(&s, client_config(&s, BOTH, &[]), "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

//! Recipe 10 (TLS part): a custom TLS context — trust your own CA, pin the server's key,
//! require TLS 1.3, present a client certificate. (Proxies join this recipe with the connect
//! stack.)
//!
//! Run: `cargo run -p tenax --example 10_tls`.

use tenax::{Client, tls};
use tenax_chaos::{ChaosServer, TlsVersions};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A server that wants a client certificate signed by its CA.
    // Scaffolding: a local server that injects the faults (not in your project).
    let server = ChaosServer::builder()
        .require_client_cert(true)
        .start_in_thread()?;
    let ca = tls::Certificate::from_pem(server.ca_pem().unwrap_or_default().as_bytes())?;
    let identity = tls::Identity::from_pem(
        server.client_cert_pem().unwrap_or_default().as_bytes(),
        server.client_key_pem().unwrap_or_default().as_bytes(),
    )?;
    let pin = tenax::tls::pin_of_certificate(server.cert_der().unwrap_or_default())?;

    // Your code: the set-up you would paste into a project.
    let client = Client::builder()
        .tls_built_in_root_certs(false) // trust only our CA
        .add_root_certificate(ca.clone())
        .pin_sha256(&pin) // and only this key
        .tls_min_version(tls::Version::Tls13)
        .identity(identity)
        .build()?;
    let res = client.get(server.url("/bytes/13")).send().await?;
    println!(
        "{} over {:?}, TLS handshake {:?}",
        res.status(),
        res.version(),
        res.timings().tls.unwrap_or_default()
    );

    // The same client refuses a server that offers only TLS 1.2.
    let old = ChaosServer::builder()
        .tls_versions(TlsVersions::Tls12Only)
        .start_in_thread()?;
    let old_ca = tls::Certificate::from_pem(old.ca_pem().unwrap_or_default().as_bytes())?;
    let strict = Client::builder()
        .add_root_certificate(old_ca)
        .tls_min_version(tls::Version::Tls13)
        .build()?;
    let err = strict.get(old.url("/")).send().await.unwrap_err();
    assert!(err.is_tls());
    println!("TLS 1.2-only server refused: {err}");

    // And a wrong pin is its own error.
    let wrong = Client::builder()
        .add_root_certificate(ca)
        .pin_sha256("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .build()?;
    let err = wrong.get(server.url("/")).send().await.unwrap_err();
    assert!(err.is_pin_mismatch());
    println!("wrong pin refused: {err}");
    Ok(())
}

//! A certificate authority generated at start, and the server's TLS configuration.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Error;

/// Which TLS versions the server accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsVersions {
    /// TLS 1.2 and TLS 1.3 (the default).
    #[default]
    Both,
    /// TLS 1.2 only: a client that requires TLS 1.3 fails the handshake.
    Tls12Only,
    /// TLS 1.3 only.
    Tls13Only,
}

/// The material a TLS-mode server was started with.
pub(crate) struct TlsMaterial {
    pub(crate) ca_pem: String,
    pub(crate) ca_der: CertificateDer<'static>,
    pub(crate) leaf_der: CertificateDer<'static>,
    pub(crate) config: Arc<ServerConfig>,
    /// A client certificate and key (PEM) signed by the CA, for mutual TLS.
    pub(crate) client_cert_pem: String,
    pub(crate) client_key_pem: String,
    /// The server's certificate chain (leaf, then CA) and key, PEM, for other servers.
    pub(crate) chain_pem: String,
    pub(crate) key_pem: String,
}

/// A CA made now and a server certificate it signed for `localhost`, `127.0.0.1` and `::1`,
/// in PEM: to run another server (nginx, a Python server...) that Tenax trusts through the CA.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TestCertificates {
    /// The CA's certificate.
    pub ca_pem: String,
    /// The server's certificate followed by the CA's.
    pub chain_pem: String,
    /// The server's private key (PKCS#8).
    pub key_pem: String,
}

impl TestCertificates {
    /// Generates a fresh set.
    pub fn generate() -> Result<TestCertificates, Error> {
        let m = generate(TlsVersions::Both, false)?;
        Ok(TestCertificates {
            ca_pem: m.ca_pem,
            chain_pem: m.chain_pem,
            key_pem: m.key_pem,
        })
    }
}

/// Generates a fresh CA, a leaf certificate for `localhost`, `127.0.0.1` and `::1`, and a
/// client certificate; with `require_client_cert`, the server refuses clients without one.
pub(crate) fn generate(
    versions: TlsVersions,
    require_client_cert: bool,
) -> Result<TlsMaterial, Error> {
    let ca_key = KeyPair::generate().map_err(Error::tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(Error::tls)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tenax-chaos test CA");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(Error::tls)?;

    let leaf_key = KeyPair::generate().map_err(Error::tls)?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string()]).map_err(Error::tls)?;
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "tenax-chaos");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).map_err(Error::tls)?;

    let client_key = KeyPair::generate().map_err(Error::tls)?;
    let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(Error::tls)?;
    client_params
        .distinguished_name
        .push(DnType::CommonName, "tenax-chaos client");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params
        .signed_by(&client_key, &ca)
        .map_err(Error::tls)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let protocols: &[&rustls::SupportedProtocolVersion] = match versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12Only => &[&rustls::version::TLS12],
        TlsVersions::Tls13Only => &[&rustls::version::TLS13],
    };
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(protocols)
        .map_err(Error::tls)?;
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).map_err(Error::tls)?;
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(Error::tls)?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .map_err(Error::tls)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        leaf_der: leaf.der().clone(),
        config: Arc::new(config),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
        chain_pem: format!("{}{}", leaf.pem(), ca.pem()),
        key_pem: leaf_key.serialize_pem(),
    })
}

//! TLS with rustls (ring): trust roots, client certificates, minimum version, SPKI pins, ALPN.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, RootCertStore};

use crate::error::{Error, Kind};

/// A trusted root certificate, for [`ClientBuilder::add_root_certificate`](crate::ClientBuilder::add_root_certificate).
///
/// ```
/// # let server = tenax_chaos::ChaosServer::builder().tls(true).start_in_thread().unwrap();
/// # let ca_pem = server.ca_pem().unwrap().as_bytes().to_vec();
/// # let url = server.url("/bytes/3");
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// // Trust only your own CA (its PEM file's bytes), not the built-in roots.
/// let ca = tenax::tls::Certificate::from_pem(&ca_pem)?;
/// let client = tenax::Client::builder()
///     .tls_built_in_root_certs(false)
///     .add_root_certificate(ca)
///     .tls_min_version(tenax::tls::Version::Tls13)
///     .build()?;
/// assert_eq!(client.get(&url).send().await?.status(), 200);
/// # Ok::<(), tenax::Error>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
}

impl Certificate {
    /// The first certificate of a PEM document.
    pub fn from_pem(pem: &[u8]) -> Result<Certificate, Error> {
        Certificate::from_pem_bundle(pem)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::builder("no certificate in the PEM document"))
    }

    /// Every certificate of a PEM document (a CA bundle).
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Certificate>, Error> {
        CertificateDer::pem_slice_iter(pem)
            .map(|c| {
                c.map(|der| Certificate { der })
                    .map_err(|e| Error::builder(format!("invalid PEM certificate: {e}")))
            })
            .collect()
    }

    /// A DER-encoded certificate.
    pub fn from_der(der: &[u8]) -> Certificate {
        Certificate {
            der: CertificateDer::from(der.to_vec()),
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({} bytes)", self.der.len())
    }
}

/// A client certificate and its private key, for mutual TLS
/// ([`ClientBuilder::identity`](crate::ClientBuilder::identity)).
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Identity, Error> {
        let chain: Vec<_> = CertificateDer::pem_slice_iter(cert_chain)
            .collect::<Result<_, _>>()
            .map_err(|e| Error::builder(format!("invalid PEM client certificate: {e}")))?;
        if chain.is_empty() {
            return Err(Error::builder(
                "no certificate in the client certificate PEM",
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| Error::builder(format!("invalid PEM private key: {e}")))?;
        Ok(Identity { chain, key })
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({} certificates)", self.chain.len())
    }
}

/// The lowest TLS version a client accepts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 (and 1.3). The default.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Which HTTP versions a client may use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum HttpVersions {
    /// HTTP/2 when ALPN agrees on https, else HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only.
    Http1,
    /// HTTP/2 only: by ALPN on https, by prior knowledge on http.
    Http2,
}

/// Everything the TLS configuration is built from.
#[derive(Clone, Debug)]
pub(crate) struct TlsOptions {
    pub(crate) built_in_roots: bool,
    #[cfg(feature = "native-roots")]
    pub(crate) native_roots: bool,
    pub(crate) roots: Vec<Certificate>,
    pub(crate) identity: Option<Identity>,
    pub(crate) min_version: TlsVersion,
    pub(crate) pins: Vec<[u8; 32]>,
    pub(crate) danger_accept_invalid_certs: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            built_in_roots: true,
            #[cfg(feature = "native-roots")]
            native_roots: false,
            roots: Vec::new(),
            identity: None,
            min_version: TlsVersion::Tls12,
            pins: Vec::new(),
            danger_accept_invalid_certs: false,
        }
    }
}

/// Parses a pin as curl writes it: `sha256//BASE64` (the SHA-256 of the certificate's
/// SubjectPublicKeyInfo, base64-encoded).
pub(crate) fn parse_pin(pin: &str) -> Result<[u8; 32], Error> {
    let b64 = pin
        .strip_prefix("sha256//")
        .ok_or_else(|| Error::builder(format!("pin {pin:?} must look like sha256//BASE64")))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| Error::builder(format!("pin {pin:?} is not valid base64: {e}")))?;
    bytes
        .try_into()
        .map_err(|_| Error::builder(format!("pin {pin:?} is not a SHA-256 digest (32 bytes)")))
}

/// The pin of a certificate: SHA-256 of its SubjectPublicKeyInfo.
pub(crate) fn spki_sha256(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let ee = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let spki = ee.subject_public_key_info();
    let digest = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    Ok(out)
}

/// The `sha256//BASE64` pin of a DER certificate: what `--pin` takes.
pub fn pin_of_certificate(der: &[u8]) -> Result<String, Error> {
    let hash = spki_sha256(&CertificateDer::from(der))
        .map_err(|e| Error::builder(format!("not a certificate: {e}")))?;
    Ok(format!(
        "sha256//{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    ))
}

/// The marker inside the rustls error of a pin mismatch.
#[derive(Debug)]
struct PinMismatch;

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the server's public key matches none of the pins")
    }
}

impl std::error::Error for PinMismatch {}

/// Verifies as `inner` does, then checks the leaf's key against the pins.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    pins: Vec<[u8; 32]>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(inner) = &self.inner {
            inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)?;
        }
        if !self.pins.is_empty() && !self.pins.contains(&spki_sha256(end_entity)?) {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch)),
            )));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Builds the rustls client configuration.
pub(crate) fn client_config(
    opts: &TlsOptions,
    versions: HttpVersions,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    if opts.built_in_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    #[cfg(feature = "native-roots")]
    if opts.native_roots {
        let found = rustls_native_certs::load_native_certs();
        for cert in found.certs {
            let _ = roots.add(cert);
        }
    }
    for c in &opts.roots {
        roots
            .add(c.der.clone())
            .map_err(|e| Error::builder(format!("unusable root certificate: {e}")))?;
    }
    let inner: Option<Arc<dyn ServerCertVerifier>> = if opts.danger_accept_invalid_certs {
        None
    } else {
        if roots.is_empty() {
            return Err(Error::builder(
                "no trusted root certificates (built-in roots are off and none were added)",
            ));
        }
        Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| Error::builder(format!("TLS verifier: {e}")))?,
        )
    };
    let verifier = Arc::new(Verifier {
        inner,
        provider: provider.clone(),
        pins: opts.pins.clone(),
    });
    let protocols: &[&rustls::SupportedProtocolVersion] = match opts.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(protocols)
        .map_err(|e| Error::builder(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match &opts.identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
            .map_err(|e| Error::builder(format!("client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match versions {
        HttpVersions::Auto => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        HttpVersions::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersions::Http2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(config))
}

/// The kind of a TLS failure: certificate problems, pin mismatches, the rest.
fn tls_kind(e: &rustls::Error) -> Kind {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(o)))
            if o.downcast_ref::<PinMismatch>().is_some() =>
        {
            Kind::PinMismatch
        }
        rustls::Error::InvalidCertificate(_) => Kind::Certificate,
        _ => Kind::Tls,
    }
}

/// The kind of a TLS failure anywhere in an error's chain (a TLS 1.3 server refuses a client
/// certificate after the client thinks the handshake is over: the alert comes with the first
/// read).
pub(crate) fn tls_kind_in(err: &(dyn std::error::Error + 'static)) -> Option<Kind> {
    crate::error::chain(err).find_map(|e| e.downcast_ref::<rustls::Error>().map(tls_kind))
}

/// Classifies a failed handshake: certificate problems, pin mismatches, the rest.
pub(crate) fn handshake_error(e: std::io::Error) -> Error {
    let kind = tls_kind_in(&e).unwrap_or(Kind::Tls);
    Error::new(kind)
        .with_what("during the TLS handshake")
        .with_source(e)
}

/// The server name to verify: an IP literal or a DNS name.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(super::bare_host(host).to_string())
        .map_err(|e| Error::builder(format!("{host:?} is not a valid TLS server name: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_like_curl() {
        let ok = format!(
            "sha256//{}",
            base64::engine::general_purpose::STANDARD.encode([7u8; 32])
        );
        assert_eq!(parse_pin(&ok).unwrap(), [7u8; 32]);
        for bad in ["abc", "sha256//!!", "sha1//AAAA", "sha256//AAAA"] {
            assert!(parse_pin(bad).unwrap_err().is_builder(), "{bad}");
        }
    }

    #[test]
    fn empty_trust_is_refused_unless_insecure() {
        let mut o = TlsOptions {
            built_in_roots: false,
            ..TlsOptions::default()
        };
        assert!(
            client_config(&o, HttpVersions::Auto)
                .unwrap_err()
                .is_builder()
        );
        o.danger_accept_invalid_certs = true;
        assert!(client_config(&o, HttpVersions::Auto).is_ok());
    }
}

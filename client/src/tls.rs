//! TLS configuration: system roots (plus an optional CA bundle), SHA-256 leaf pinning, an
//! explicit insecure mode, and an optional client certificate. Always the `ring` provider.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, OtherError, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// PEM files of a client certificate (principal identity) and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the server certificate is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of CA certificates trusted in addition to the system roots.
    pub ca_cert: Option<PathBuf>,
    /// SHA-256 of the leaf certificate (DER), hex, any case, colons/spaces optional. When set,
    /// exactly that certificate is accepted (chain and host name are not checked; the handshake
    /// signature still is).
    pub thumbprint: Option<String>,
    /// Accept any certificate. The caller is responsible for warning the operator loudly.
    pub insecure: bool,
    /// Client certificate presented during the handshake.
    pub client_cert: Option<ClientCertificate>,
}

/// Parse a SHA-256 thumbprint: 64 hex digits, any case, with optional `:` or space separators.
pub fn parse_thumbprint(s: &str) -> Result<[u8; 32], ClientError> {
    let cleaned: String = s
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bad = |why: &str| {
        ClientError::Config(format!(
            "--thumbprint: {why}; expected the SHA-256 fingerprint of the manager's certificate as 64 hex digits (colons allowed)"
        ))
    };
    if !cleaned.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("not a hexadecimal string"));
    }
    if cleaned.len() == 40 {
        return Err(bad("40 hex digits is a SHA-1 fingerprint, not SHA-256"));
    }
    if cleaned.len() != 64 {
        return Err(bad(&format!("{} hex digits", cleaned.len())));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(&cleaned, &mut out).map_err(|_| bad("not a hexadecimal string"))?;
    Ok(out)
}

/// The SHA-256 thumbprint of a DER certificate, as 64 lowercase hex digits.
pub fn thumbprint_of(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::File {
        file: path.to_path_buf(),
        message: format!("cannot read {what}: {e}"),
    })
}

/// Read every certificate of a PEM file.
pub fn load_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let data = read_file(path, "PEM certificate file")?;
    let mut certs = Vec::new();
    for (i, c) in CertificateDer::pem_slice_iter(&data).enumerate() {
        let c = c.map_err(|e| ClientError::File {
            file: path.to_path_buf(),
            message: format!("certificate #{}: invalid PEM: {e}", i + 1),
        })?;
        certs.push(c);
    }
    if certs.is_empty() {
        return Err(ClientError::File {
            file: path.to_path_buf(),
            message: "no PEM certificate (-----BEGIN CERTIFICATE-----) found".into(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientError> {
    let data = read_file(path, "PEM private key")?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| ClientError::File {
        file: path.to_path_buf(),
        // The error names the PEM problem only; key material is never echoed.
        message: format!("no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
    })
}

/// Error attached to certificate failures so the operator learns the thumbprint presented.
#[derive(Debug)]
struct Untrusted {
    inner: String,
    thumbprint: String,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (the server's certificate has SHA-256 thumbprint {})",
            self.inner, self.thumbprint
        )
    }
}

impl std::error::Error for Untrusted {}

fn untrusted(inner: impl fmt::Display, leaf: &CertificateDer<'_>) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(Untrusted {
        inner: inner.to_string(),
        thumbprint: thumbprint_of(leaf.as_ref()),
    }))))
}

/// Chain verification against the trusted roots, reporting the presented thumbprint on failure.
#[derive(Debug)]
struct RootsVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    algs: WebPkiSupportedAlgorithms,
}

/// Accepts exactly one leaf certificate (by SHA-256), still checking handshake signatures.
#[derive(Debug)]
struct PinnedVerifier {
    expected: [u8; 32],
    algs: WebPkiSupportedAlgorithms,
}

/// Accepts any certificate (handshake signatures are still checked against it).
#[derive(Debug)]
struct InsecureVerifier {
    algs: WebPkiSupportedAlgorithms,
}

macro_rules! signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algs.supported_schemes()
        }
    };
}

impl ServerCertVerifier for RootsVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Err(untrusted(
                "no trusted root certificates are available on this system",
                end_entity,
            ));
        };
        inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            .map_err(|e| match e {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => untrusted(
                    "the certificate is not signed by a trusted CA (UnknownIssuer)",
                    end_entity,
                ),
                rustls::Error::InvalidCertificate(ce) => {
                    untrusted(format!("the certificate was refused: {ce}"), end_entity)
                }
                other => other,
            })
    }

    signature_methods!();
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if seen == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(untrusted(
                format!(
                    "certificate thumbprint does not match the expected {}",
                    hex::encode(self.expected)
                ),
                end_entity,
            ))
        }
    }

    signature_methods!();
}

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    signature_methods!();
}

/// The crypto provider used everywhere: ring (never aws-lc-rs).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Build the rustls client configuration for these options.
pub fn client_config(opts: &TlsOptions) -> Result<rustls::ClientConfig, ClientError> {
    let provider = provider();
    let algs = provider.signature_verification_algorithms;
    if opts.insecure && (opts.thumbprint.is_some() || opts.ca_cert.is_some()) {
        return Err(ClientError::Config(
            "--insecure cannot be combined with --thumbprint or --ca-cert".into(),
        ));
    }
    if opts.thumbprint.is_some() && opts.ca_cert.is_some() {
        return Err(ClientError::Config(
            "--thumbprint and --ca-cert are alternatives: pin the certificate or trust its CA, not both".into(),
        ));
    }
    let verifier: Arc<dyn ServerCertVerifier> = if opts.insecure {
        Arc::new(InsecureVerifier { algs })
    } else if let Some(tp) = &opts.thumbprint {
        Arc::new(PinnedVerifier {
            expected: parse_thumbprint(tp)?,
            algs,
        })
    } else {
        let mut roots = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        if !native.errors.is_empty() {
            tracing::debug!(
                errors = native.errors.len(),
                "some system root certificates could not be loaded"
            );
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!(added, ignored, "system root certificates");
        if let Some(ca) = &opts.ca_cert {
            for (i, c) in load_pem_certs(ca)?.into_iter().enumerate() {
                roots.add(c).map_err(|e| ClientError::File {
                    file: ca.clone(),
                    message: format!("certificate #{} is not a usable CA: {e}", i + 1),
                })?;
            }
        }
        let inner = if roots.is_empty() {
            None
        } else {
            Some(
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| ClientError::Config(format!("TLS verifier: {e}")))?,
            )
        };
        Arc::new(RootsVerifier { inner, algs })
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| ClientError::Config(format!("TLS configuration: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    match &opts.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some(cc) => {
            let certs = load_pem_certs(&cc.cert)?;
            let key = load_key(&cc.key)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ClientError::File {
                    file: cc.key.clone(),
                    message: format!("client certificate and key do not form a usable pair: {e}"),
                })
        }
    }
}

/// What to tell the operator after a TLS failure, given how verification was configured.
pub(crate) fn hint(opts: &TlsOptions) -> String {
    if opts.thumbprint.is_some() {
        "The certificate presented is not the one pinned with --thumbprint: check the value against the manager's certificate (or pin the thumbprint shown, once verified out of band)".into()
    } else if let Some(ca) = &opts.ca_cert {
        format!(
            "The certificate is neither trusted by the system roots nor signed by a CA in --ca-cert {} (or it does not name this host); pass the right CA bundle, or --thumbprint with the SHA-256 of the manager's certificate",
            ca.display()
        )
    } else {
        "The manager's certificate is not trusted by the system roots (or does not name this host): pass --ca-cert FILE with the CA that signed it, or --thumbprint with the SHA-256 of its certificate; --insecure skips verification and is not recommended".into()
    }
}

/// Find a rustls error in an error's source chain and describe it.
pub(crate) fn find_tls_error(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    // Bounded walk: io::Error hides its payload from `source()`, so descend into it explicitly.
    for _ in 0..32 {
        let Some(e) = cur else { break };
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(r));
        }
        cur = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidMessage(_) => format!(
            "{e} (is the server speaking TLS on this port? an http:// URL may be what you want)"
        ),
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_formats() {
        let hexs = "e8f7171e59aba1b996d6627625b3dd88b9484fb851eeed25a92e3093e30d17df";
        let a = parse_thumbprint(hexs).unwrap();
        let upper_colons = hexs
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_thumbprint(&upper_colons).unwrap(), a);
        assert_eq!(hex::encode(a), hexs);
        let sha1 = "a".repeat(40);
        assert!(
            parse_thumbprint(&sha1)
                .unwrap_err()
                .to_string()
                .contains("SHA-1")
        );
        assert!(parse_thumbprint("zz").is_err());
        assert!(parse_thumbprint(&"a".repeat(63)).is_err());
    }

    #[test]
    fn contradictory_options_are_refused() {
        let o = TlsOptions {
            insecure: true,
            thumbprint: Some("a".repeat(64)),
            ..Default::default()
        };
        assert!(matches!(client_config(&o), Err(ClientError::Config(_))));
        let o = TlsOptions {
            ca_cert: Some("/x".into()),
            thumbprint: Some("a".repeat(64)),
            ..Default::default()
        };
        assert!(matches!(client_config(&o), Err(ClientError::Config(_))));
    }

    #[test]
    fn missing_ca_file_is_named() {
        let o = TlsOptions {
            ca_cert: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = client_config(&o).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}

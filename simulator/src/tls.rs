//! HTTPS for the NSX API listener: a self-signed certificate generated at start (SANs `localhost`
//! and `127.0.0.1`), its SHA-256 thumbprint for pinning, and a listener that completes TLS
//! handshakes concurrently (a slow handshake never blocks other clients).
//!
//! Client certificates are optional, as on NSX's port 443: a client may present one (a principal
//! identity does), and the handshake proves it holds the certificate's key. Whether the
//! certificate is trusted is not decided here but by the principal-identity registry
//! (`server::authenticate`): NSX trusts a client certificate because it was registered with a
//! principal identity, not because a CA signed it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::client::danger::HandshakeSignatureValid;
use tokio_rustls::rustls::crypto::{
    CryptoProvider, verify_tls12_signature, verify_tls13_signature,
};
use tokio_rustls::rustls::pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime,
};
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use tokio_rustls::server::TlsStream;

use crate::SimError;
use crate::conn::{KillableListener, KillableStream, Peer};

/// The generated server certificate.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    /// SHA-256 of the DER certificate, lowercase hex without separators.
    pub thumbprint_sha256: String,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("thumbprint_sha256", &self.thumbprint_sha256)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    pub fn generate() -> Result<Self, SimError> {
        let ck = rcgen::generate_simple_self_signed(vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ])
        .map_err(|e| SimError::Tls(format!("cannot generate a certificate: {e}")))?;
        let der = ck.cert.der().clone();
        let thumbprint_sha256 = cert_sha256(der.as_ref());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(format!("TLS configuration: {e}")))?
            .with_client_cert_verifier(Arc::new(AnyClientCert {
                provider: provider.clone(),
            }))
            .with_single_cert(vec![der], key)
            .map_err(|e| SimError::Tls(format!("TLS certificate: {e}")))?;
        Ok(Self {
            cert_pem: ck.cert.pem(),
            thumbprint_sha256,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
}

/// Optional client authentication that accepts any certificate whose key signed the handshake;
/// the registry of principal identities decides whether it is trusted.
#[derive(Debug)]
struct AnyClientCert {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, tokio_rustls::rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls12_signature(
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
    ) -> Result<HandshakeSignatureValid, tokio_rustls::rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// SHA-256 of a DER certificate, lowercase hex (the form principal identities are looked up by).
pub fn cert_sha256(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Accepts TCP connections, performs TLS handshakes in their own tasks, yields finished streams.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<KillableStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(
        mut inner: KillableListener,
        identity: &TlsIdentity,
        mut shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let local = axum::serve::Listener::local_addr(&inner)?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = identity.acceptor.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    s = axum::serve::Listener::accept(&mut inner) => s,
                    _ = shutdown.changed() => break,
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls)) = hs.await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<KillableStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept loop ended (shutdown): never yield again.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        let (_, conn) = stream.io().get_ref();
        Peer {
            addr: *stream.remote_addr(),
            client_cert_sha256: conn
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| cert_sha256(c.as_ref())),
        }
    }
}

//! HTTPS for the NSX API listener: a self-signed certificate generated at start (SANs `localhost`
//! and `127.0.0.1`), its SHA-256 thumbprint for pinning, and a listener that completes TLS
//! handshakes concurrently (a slow handshake never blocks other clients).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
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
        let thumbprint_sha256 = hex::encode(Sha256::digest(der.as_ref()));
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SimError::Tls(format!("TLS configuration: {e}")))?
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .map_err(|e| SimError::Tls(format!("TLS certificate: {e}")))?;
        Ok(Self {
            cert_pem: ck.cert.pem(),
            thumbprint_sha256,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        })
    }
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
        Peer(*stream.remote_addr())
    }
}

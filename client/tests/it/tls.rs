//! TLS verification modes over real HTTPS on 127.0.0.1: a small TLS-terminating proxy (test
//! certificates in tests/fixtures/tls, made with openssl for these tests only) in front of the
//! simulator's plain-HTTP listener.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::*;
use client::{ClientCertificate, ClientError, NsxClient, TlsOptions, thumbprint_of};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

fn certs(name: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(tls_fixture(name))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn key(name: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(tls_fixture(name)).unwrap()
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Serves server.pem but signs the handshake with an unrelated key (an impostor that copied the
/// certificate): a pinned thumbprint must not be enough to accept it.
#[derive(Debug)]
struct Impostor(Arc<CertifiedKey>);

impl ResolvesServerCert for Impostor {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

enum Mode {
    Normal,
    RequireClientCert,
    Impostor,
}

async fn tls_proxy(backend: SocketAddr, mode: Mode) -> SocketAddr {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap();
    let config = match mode {
        Mode::Normal => builder
            .with_no_client_auth()
            .with_single_cert(certs("server.pem"), key("server.key"))
            .unwrap(),
        Mode::RequireClientCert => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs("ca.pem") {
                roots.add(c).unwrap();
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder
                .with_client_cert_verifier(v)
                .with_single_cert(certs("server.pem"), key("server.key"))
                .unwrap()
        }
        Mode::Impostor => {
            let signing = provider()
                .key_provider
                .load_private_key(key("client.key"))
                .unwrap();
            let ck = Arc::new(CertifiedKey::new(certs("server.pem"), signing));
            builder
                .with_no_client_auth()
                .with_cert_resolver(Arc::new(Impostor(ck)))
        }
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a test makes a handful of connections.
        for _ in 0..200 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    addr
}

fn https_client(addr: SocketAddr, tls: TlsOptions) -> NsxClient {
    tls_client(&format!("https://127.0.0.1:{}", addr.port()), tls)
}

fn server_thumbprint() -> String {
    thumbprint_of(certs("server.pem")[0].as_ref())
}

fn colon_upper(hex: &str) -> String {
    hex.to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

#[tokio::test]
async fn pinned_thumbprint_accepts_exactly_that_leaf() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::Normal).await;
    let tp = server_thumbprint();
    // The fixture certificate's fingerprint, as `openssl x509 -fingerprint -sha256` computes it.
    assert_eq!(
        tp,
        "e8f7171e59aba1b996d6627625b3dd88b9484fb851eeed25a92e3093e30d17df"
    );
    for form in [tp.clone(), colon_upper(&tp)] {
        let c = https_client(
            addr,
            TlsOptions {
                thumbprint: Some(form),
                ..Default::default()
            },
        );
        assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    }

    let mut wrong = tp.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let c = https_client(
        addr,
        TlsOptions {
            thumbprint: Some(String::from_utf8(wrong).unwrap()),
            ..Default::default()
        },
    );
    let err = c.node_version().await.unwrap_err();
    let s = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{s}");
    assert!(s.contains("--thumbprint") && s.contains(&tp), "{s}");
    assert!(!err.is_retriable());
    h.shutdown().await;
}

#[tokio::test]
async fn pinning_still_checks_the_handshake_signature() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::Impostor).await;
    let c = https_client(
        addr,
        TlsOptions {
            thumbprint: Some(server_thumbprint()),
            ..Default::default()
        },
    );
    let err = c.node_version().await.unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    // Control: --insecure does not check the chain but still refuses a bad signature too.
    let c = https_client(
        addr,
        TlsOptions {
            insecure: true,
            ..Default::default()
        },
    );
    assert!(c.node_version().await.is_err());
    // Nothing reached the manager.
    assert!(logged(&h, "GET", "/api/v1/node/version").is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn verification_on_by_default_with_a_helpful_error() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::Normal).await;
    let c = https_client(addr, TlsOptions::default());
    let err = c.node_version().await.unwrap_err();
    let s = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{s}");
    eprintln!("default verification error: {s}");
    assert!(s.contains("--ca-cert") && s.contains("--thumbprint"), "{s}");
    assert!(
        s.contains("UnknownIssuer") && !s.contains("OtherError"),
        "{s}"
    );
    assert!(s.contains(&server_thumbprint()), "{s}");
    assert!(!s.contains(&password()));
    assert!(logged(&h, "POST", "/api/session/create").is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn ca_bundle_is_trusted() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::Normal).await;
    let c = https_client(
        addr,
        TlsOptions {
            ca_cert: Some(tls_fixture("ca.pem")),
            ..Default::default()
        },
    );
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    assert!(c.coordinator_status().await.unwrap().is_running());

    let c = https_client(
        addr,
        TlsOptions {
            ca_cert: Some(tls_fixture("other-ca.pem")),
            ..Default::default()
        },
    );
    let err = c.node_version().await.unwrap_err();
    let s = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{s}");
    assert!(s.contains("other-ca.pem"), "{s}");
    h.shutdown().await;
}

#[tokio::test]
async fn insecure_accepts_an_untrusted_certificate() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::Normal).await;
    let c = https_client(
        addr,
        TlsOptions {
            insecure: true,
            ..Default::default()
        },
    );
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    h.shutdown().await;
}

#[tokio::test]
async fn https_against_plain_http_says_so() {
    let h = start_mini().await;
    let c = https_client(
        h.addr(),
        TlsOptions {
            insecure: true,
            ..Default::default()
        },
    );
    let err = c.node_version().await.unwrap_err();
    let s = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{s}");
    assert!(s.contains("http://"), "{s}");
    h.shutdown().await;
}

#[tokio::test]
async fn client_certificate_is_presented() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::RequireClientCert).await;
    let with_cert = https_client(
        addr,
        TlsOptions {
            ca_cert: Some(tls_fixture("ca.pem")),
            client_cert: Some(ClientCertificate {
                cert: tls_fixture("client.pem"),
                key: tls_fixture("client.key"),
            }),
            ..Default::default()
        },
    );
    assert_eq!(
        with_cert.node_version().await.unwrap(),
        "3.2.1.2.0.19283847"
    );
    let without = https_client(
        addr,
        TlsOptions {
            ca_cert: Some(tls_fixture("ca.pem")),
            ..Default::default()
        },
    );
    assert!(without.node_version().await.is_err());
    h.shutdown().await;
}

#[test]
fn bad_pem_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = client::client_config(&TlsOptions {
        ca_cert: Some(junk.clone()),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("junk.pem"), "{e}");
    // A key file that is not a key: named, and its content not echoed.
    let e = client::client_config(&TlsOptions {
        client_cert: Some(ClientCertificate {
            cert: tls_fixture("client.pem"),
            key: tls_fixture("client.pem"),
        }),
        ..Default::default()
    })
    .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("client.pem") && !s.contains("BEGIN"), "{s}");
    // Mismatched certificate and key.
    let e = client::client_config(&TlsOptions {
        client_cert: Some(ClientCertificate {
            cert: tls_fixture("client.pem"),
            key: tls_fixture("server.key"),
        }),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("server.key"), "{e}");
}

#[tokio::test]
async fn certificate_mode_sends_no_password() {
    let h = start_mini().await;
    let addr = tls_proxy(h.addr(), Mode::RequireClientCert).await;
    let mut cfg = config_for(&format!("https://127.0.0.1:{}", addr.port()));
    cfg.auth = client::AuthMode::Certificate;
    cfg.credentials = None;
    cfg.tls = TlsOptions {
        ca_cert: Some(tls_fixture("ca.pem")),
        client_cert: Some(ClientCertificate {
            cert: tls_fixture("client.pem"),
            key: tls_fixture("client.key"),
        }),
        ..Default::default()
    };
    let c = NsxClient::new(cfg).unwrap();
    // The TLS handshake with the client certificate succeeds and the request reaches the
    // manager; the simulator has no principal-identity support, so it answers 403.
    let err = c.node_version().await.unwrap_err();
    assert_eq!(err.http_status(), Some(403), "{err}");
    assert!(logged(&h, "POST", "/api/session/create").is_empty());
    let gets = logged(&h, "GET", "/api/v1/node/version");
    assert_eq!(gets.len(), 1);
    assert_eq!(gets[0]["user"], "");
    h.shutdown().await;
}

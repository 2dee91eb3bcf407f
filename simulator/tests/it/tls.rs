//! `tls: true` serves HTTPS with a generated self-signed certificate; clients can pin it as a CA
//! file or by its SHA-256 thumbprint.

use crate::common::init_tls;
use sha2::{Digest, Sha256};
use simulator::{SimConfig, Simulator};

#[tokio::test]
async fn https_with_ca_file_and_thumbprint() {
    init_tls();
    let h = Simulator::start(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    assert!(h.base_url().starts_with("https://127.0.0.1:"));
    let pem = h.tls_cert_pem().unwrap().to_string();
    let thumb = h.tls_thumbprint().unwrap().to_string();
    assert_eq!(thumb.len(), 64);

    // Trusting the generated certificate as the only CA works, and the peer certificate the client
    // sees has the advertised thumbprint.
    let ca = reqwest::Certificate::from_pem(pem.as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .tls_info(true)
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/api/v1/node/version", h.base_url()))
        .basic_auth(
            simulator::DEFAULT_USERNAME,
            Some(simulator::DEFAULT_PASSWORD),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let info = resp.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    let der = info.peer_certificate().unwrap();
    assert_eq!(hex::encode(Sha256::digest(der)), thumb);

    // Without trusting it, the handshake fails.
    let strict = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .unwrap();
    let r = strict
        .get(format!("{}/api/v1/node/version", h.base_url()))
        .send()
        .await;
    assert!(r.is_err(), "{r:?}");
    // Plain HTTP to the TLS port does not get an API answer.
    let plain = reqwest::Client::new();
    let r = plain
        .get(format!("http://{}/api/v1/node/version", h.addr()))
        .send()
        .await;
    assert!(r.map(|r| r.status().as_u16() != 200).unwrap_or(true));
    h.shutdown().await;
}

//! The client against the simulator's own HTTPS listener (`tls: true`, generated self-signed
//! certificate): pin by thumbprint, trust as a CA file, refuse by default.

use crate::common::*;
use client::{ClientError, NsxClient, TlsOptions};
use serde_json::json;
use simulator::SimConfig;

async fn start_tls() -> simulator::SimHandle {
    start(SimConfig {
        tls: true,
        ..mini_config()
    })
    .await
}

fn with_tls(h: &simulator::SimHandle, tls: TlsOptions) -> NsxClient {
    tls_client(&h.base_url(), tls)
}

#[tokio::test]
async fn session_flow_over_https_with_pinned_thumbprint() {
    let h = start_tls().await;
    assert!(h.base_url().starts_with("https://127.0.0.1:"));
    let tp = h.tls_thumbprint().unwrap().to_string();
    let c = with_tls(
        &h,
        TlsOptions {
            thumbprint: Some(tp.to_uppercase()),
            ..Default::default()
        },
    );
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    let created = c
        .post("/api/v1/ip-sets", &json!({"display_name": "over-tls"}))
        .await
        .unwrap();
    assert_eq!(created["display_name"], "over-tls");
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn generated_certificate_as_ca_file() {
    let h = start_tls().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("sim.pem");
    std::fs::write(&ca, h.tls_cert_pem().unwrap()).unwrap();
    let c = with_tls(
        &h,
        TlsOptions {
            ca_cert: Some(ca),
            ..Default::default()
        },
    );
    assert!(c.coordinator_status().await.unwrap().is_running());
    h.shutdown().await;
}

#[tokio::test]
async fn refused_by_default_and_on_a_wrong_pin() {
    let h = start_tls().await;
    let tp = h.tls_thumbprint().unwrap().to_string();
    let err = with_tls(&h, TlsOptions::default())
        .node_version()
        .await
        .unwrap_err();
    let s = err.to_string();
    assert!(matches!(err, ClientError::Tls { .. }), "{s}");
    assert!(s.contains(&tp) && s.contains("--thumbprint"), "{s}");

    let err = with_tls(
        &h,
        TlsOptions {
            thumbprint: Some("ab".repeat(32)),
            ..Default::default()
        },
    )
    .node_version()
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Tls { .. }), "{err}");
    // Nothing got past the handshake.
    assert!(h.request_log().is_empty());
    h.shutdown().await;
}

//! Everything the client and its HTTP stack log at TRACE level is free of secrets, and retries
//! are logged at debug. (Own test binary: it installs the global subscriber.)

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use client::{ClientError, Credentials, NsxClient};
use common::*;
use serde_json::json;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_carry_no_secrets() {
    let buf = Buf::default();
    let b2 = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || b2.clone())
        .init();

    let h = start_mini().await;
    add_faults(
        &h,
        json!([
            {"method": "GET", "path": "/api/v1/node/version", "nth": [1], "action": "status", "status": 503},
            {"method": "POST", "path": "/api/v1/ip-sets", "nth": [1], "action": "busy"},
            {"method": "GET", "path": "/api/v1/ip-sets", "nth": [1], "action": "status",
             "status": 403, "error_code": 98, "message": "Bad XSRF token"}
        ]),
    )
    .await;
    let c = client_for(&h);
    c.node_version().await.unwrap();
    c.post("/api/v1/ip-sets", &json!({"display_name": "logged"}))
        .await
        .unwrap();
    c.list_all("/api/v1/ip-sets").await.unwrap();

    let mut cfg = config_for(&h.base_url());
    let wrong = "Another-Secret-Passw0rd";
    cfg.credentials = Some(Credentials::new("admin", wrong));
    let bad = NsxClient::new(cfg).unwrap();
    assert!(matches!(
        bad.node_version().await,
        Err(ClientError::AuthFailed { .. })
    ));
    h.shutdown().await;

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    println!("{text}");
    assert!(text.contains("retrying NSX request"), "retries are logged");
    assert!(
        text.contains("logging in again"),
        "session renewal is logged"
    );
    for secret in [password().as_str(), wrong, "j_password"] {
        assert!(!text.contains(secret), "log contains {secret}");
    }
    assert!(
        !text.to_ascii_lowercase().contains("jsessionid="),
        "session id logged"
    );
}

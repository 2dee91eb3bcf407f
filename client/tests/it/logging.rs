//! Everything the client and its HTTP stack log at TRACE level is free of secrets, and retries
//! are logged at debug.
//!
//! This test installs the process's global tracing subscriber (and, through it, the `log`
//! bridge that reqwest's log records go through), so it is the only test in this binary that
//! may do so. Other tests run in parallel threads of the same process, so the subscriber keeps
//! only events emitted on this test's thread. That is all of this test's logging: it runs on a
//! current-thread runtime, where the client, hyper's connection tasks and the simulator's server
//! tasks all run (the URLs are IP literals, so no resolver thread is involved).

use std::io::Write;
use std::sync::{Arc, Mutex};

use client::{ClientError, Credentials, NsxClient};
use serde_json::json;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use crate::common::*;

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

#[tokio::test(flavor = "current_thread")]
async fn logs_carry_no_secrets() {
    let buf = Buf::default();
    let b2 = buf.clone();
    let this_test = std::thread::current().id();
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || b2.clone())
                .with_filter(filter_fn(move |_| std::thread::current().id() == this_test)),
        )
        .init();
    assert_eq!(
        tracing::level_filters::LevelFilter::current(),
        tracing::level_filters::LevelFilter::TRACE
    );

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

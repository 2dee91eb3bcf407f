//! `Retry-After` and timeouts, against a canned-response HTTP/1.1 server on 127.0.0.1 (the
//! simulator does not send Retry-After) and the simulator's "hang" fault.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use client::{ClientError, NsxClient, Request};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers each request with the next canned response (the last one repeats). Returns the
/// address and a counter of requests served.
async fn canned(responses: Vec<String>) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c2 = count.clone();
    let responses = Arc::new(responses);
    tokio::spawn(async move {
        for _ in 0..100 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let count = c2.clone();
            let responses = responses.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Bounded: at most 50 requests per connection.
                for _ in 0..50 {
                    // Read one request head (the client sends no body on GET).
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    buf.drain(..end);
                    let i = count.fetch_add(1, Ordering::SeqCst);
                    let r = &responses[i.min(responses.len() - 1)];
                    if sock.write_all(r.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, count)
}

fn response(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n{body}",
        body.len()
    )
}

const TOO_MANY: &str = r#"{"error_code":429,"error_message":"Client 'admin' exceeded request rate of 100 per second.","module_name":"common-services"}"#;
const VERSION: &str = r#"{"node_version":"4.1.2.0.0.1"}"#;

#[tokio::test]
async fn retry_after_beyond_the_budget_is_not_waited_for() {
    let (addr, count) = canned(vec![
        response("429 Too Many Requests", "retry-after: 3600\r\n", TOO_MANY),
        response("200 OK", "", VERSION),
    ])
    .await;
    let err = basic_client(&format!("http://{addr}"))
        .node_version()
        .await
        .unwrap_err();
    let api = err.api().expect("the 429 itself");
    assert_eq!(api.http_status, 429);
    assert_eq!(api.retry_after, Some(Duration::from_secs(3600)));
    assert!(matches!(err, ClientError::Api(_)), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn retry_after_within_the_budget_is_honoured() {
    let (addr, count) = canned(vec![
        response("429 Too Many Requests", "retry-after: 0\r\n", TOO_MANY),
        response("503 Service Unavailable", "retry-after: 0\r\n", "{}"),
        response("200 OK", "", VERSION),
    ])
    .await;
    assert_eq!(
        basic_client(&format!("http://{addr}"))
            .node_version()
            .await
            .unwrap(),
        "4.1.2.0.0.1"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_hanging_manager_times_out_and_get_is_retried() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([{"name": "hang", "method": "GET", "path": "/api/v1/node/version", "nth": [1],
                "action": "hang"}]),
    )
    .await;
    let mut cfg = config_for(&h.base_url());
    cfg.timeout = Duration::from_millis(500);
    let c = NsxClient::new(cfg).unwrap();
    c.login().await.unwrap();
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    // The hung request is never answered (so never logged); the fault rule saw both attempts.
    let faults = c.get("/_sim/faults").await.unwrap();
    assert_eq!(faults["rules"][0]["seen"], 2, "{faults}");
    assert_eq!(faults["rules"][0]["fired"], 1, "{faults}");
    assert_eq!(logged(&h, "GET", "/api/v1/node/version").len(), 1);

    // A POST that times out is not resent.
    add_faults(
        &h,
        json!([{"name": "hang-post", "method": "POST", "path": "/api/v1/ip-sets", "nth": [1],
                "action": "hang"}]),
    )
    .await;
    let err = c
        .send(Request::post("/api/v1/ip-sets").json(json!({"display_name": "t"})))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    let faults = c.get("/_sim/faults").await.unwrap();
    assert_eq!(faults["rules"][1]["seen"], 1, "{faults}");
    h.shutdown().await;
}

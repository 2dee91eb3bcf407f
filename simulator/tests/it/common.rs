//! Helpers shared by the test modules: fixtures, starting a simulator, an HTTP client, NSX error
//! shape, and driving the migration coordinator as a client would.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use simulator::{SimConfig, SimHandle, Simulator};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The example inventory the CLI tests and the demo use (`examples/inventories/small-cluster`).
pub fn example_inventory() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/small-cluster")
}

pub fn config_with(inventory: Option<PathBuf>) -> SimConfig {
    SimConfig {
        inventory,
        ..SimConfig::default()
    }
}

pub async fn start_mini() -> SimHandle {
    Simulator::start(config_with(Some(fixture("mini"))))
        .await
        .expect("simulator starts")
}

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub user: String,
    pub pass: String,
}

/// reqwest is built without a default crypto provider in this workspace; install ring once.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(h: &SimHandle) -> Self {
        init_tls();
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            base: h.base_url(),
            user: simulator::DEFAULT_USERNAME.into(),
            pass: simulator::DEFAULT_PASSWORD.into(),
        }
    }

    /// Like [`Client::new`], sending `X-Allow-Overwrite: true` on every request (an admin
    /// changing objects a principal identity owns).
    pub fn overwriting(h: &SimHandle) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "x-allow-overwrite",
            reqwest::header::HeaderValue::from_static("true"),
        );
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .default_headers(headers)
                .build()
                .unwrap(),
            ..Self::new(h)
        }
    }

    /// Send a request; like real NSX clients, retry a few times on 429 (rate limit).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut last = (0, Value::Null);
        for _ in 0..5 {
            last = self.send_once(method.clone(), path, body, headers).await;
            if last.0 != 429 {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        last
    }

    pub async fn send_once(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .basic_auth(&self.user, Some(&self.pass));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(serde_json::to_vec(b).unwrap());
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body), &[])
            .await
    }

    pub async fn post_empty(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, None, &[]).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body), &[])
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None, &[]).await
    }

    /// Follow cursors until the end; returns all results. Bounded to 10_000 pages.
    pub async fn list_all(&self, path: &str, page_size: usize) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor = String::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        for _ in 0..10_000 {
            let url = if cursor.is_empty() {
                format!("{path}{sep}page_size={page_size}")
            } else {
                format!("{path}{sep}page_size={page_size}&cursor={cursor}")
            };
            let (s, v) = self.get(&url).await;
            assert_eq!(s, 200, "{url}: {v}");
            out.extend(v["results"].as_array().unwrap().iter().cloned());
            match v.get("cursor").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cursor = c.to_string(),
                _ => return out,
            }
        }
        panic!("too many pages for {path}");
    }
}

/// Assert an NSX error body shape and return its error_code.
pub fn assert_nsx_error(v: &Value) -> i64 {
    assert!(v["httpStatus"].is_string(), "httpStatus missing: {v}");
    assert!(v["error_message"].is_string(), "error_message missing: {v}");
    assert!(v["module_name"].is_string(), "module_name missing: {v}");
    assert!(
        v["related_errors"].is_array(),
        "related_errors missing: {v}"
    );
    v["error_code"].as_i64().expect("error_code")
}

// ---------------------------------------------------------------------------------------------
// Migration coordinator

/// Poll status-summary until the overall status is PAUSED or SUCCESS (bounded).
pub async fn wait_settled(c: &Client) -> Value {
    let mut delay = Duration::from_millis(20);
    for _ in 0..400 {
        let (s, v) = c.get("/api/v1/migration/status-summary").await;
        assert_eq!(s, 200, "{v}");
        let o = v["overall_migration_status"].as_str().unwrap();
        if o == "PAUSED" || o == "SUCCESS" {
            return v;
        }
        assert_eq!(o, "IN_PROGRESS", "{v}");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(80));
    }
    panic!("migration did not settle");
}

/// One batch as VNX drives it. Returns the status after precheck when it failed, else after migration.
pub async fn run_batch(c: &Client, body: &Value) -> (bool, Value) {
    let (s, v) = c.post("/api/v1/migration/mp-to-policy", body).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c.post_empty("/api/v1/migration/plan?action=start").await;
    assert_eq!(s, 200, "{v}");
    let st = wait_settled(c).await;
    assert_eq!(
        st["component_status"][0]["component_type"],
        "MP_TO_POLICY_PRECHECK"
    );
    if st["component_status"][0]["status"] == "FAILED" {
        return (false, st);
    }
    assert_eq!(st["overall_migration_status"], "PAUSED", "{st}");
    assert_eq!(st["component_status"][0]["status"], "SUCCESS");
    assert_eq!(st["component_status"][1]["status"], "NOT_STARTED");
    let (s, v) = c.post_empty("/api/v1/migration/plan?action=continue").await;
    assert_eq!(s, 200, "{v}");
    let st = wait_settled(c).await;
    assert_eq!(
        st["component_status"][1]["component_type"],
        "MP_TO_POLICY_MIGRATION"
    );
    (st["component_status"][1]["status"] == "SUCCESS", st)
}

pub async fn must_succeed(c: &Client, body: &Value) {
    let (ok, st) = run_batch(c, body).await;
    assert!(ok, "batch {body} failed: {st}");
    assert_eq!(st["overall_migration_status"], "SUCCESS");
    assert_eq!(st["component_status"][1]["percent_complete"], 100.0);
}

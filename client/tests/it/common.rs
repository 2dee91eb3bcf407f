//! Shared helpers: start the simulator on 127.0.0.1, build clients, inject faults.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use client::{
    AuthMode, Credentials, NsxClient, NsxConfig, Request, RetryPolicy, SeededJitter, TlsOptions,
};
use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle, Simulator};

pub fn sim_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../simulator/tests/fixtures")
        .join(name)
}

pub fn tls_fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

pub async fn start(config: SimConfig) -> SimHandle {
    Simulator::start(config).await.expect("simulator starts")
}

/// The simulator seeded with the `mini` inventory; tests change the other fields.
pub fn mini_config() -> SimConfig {
    SimConfig {
        inventory: Some(sim_fixture("mini")),
        ..SimConfig::default()
    }
}

pub async fn start_mini() -> SimHandle {
    start(mini_config()).await
}

/// The simulator seeded with `n` IP sets tagged for cluster `big` (snapshot written to `dir`).
pub async fn start_big(dir: &Path, n: usize) -> SimHandle {
    big_inventory(dir, n);
    start(SimConfig {
        inventory: Some(dir.to_path_buf()),
        ..SimConfig::default()
    })
    .await
}

/// Write an inventory snapshot with `n` IP sets tagged for cluster `big` into `dir`.
fn big_inventory(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("nsx")).unwrap();
    std::fs::write(
        dir.join("metadata.json"),
        serde_json::to_vec(&json!({
            "format": "nsx-migrate-inventory",
            "format_version": 1,
            "source": "client test",
            "nsx_version": "3.2.1.2.0.19283847",
            "kubernetes": {"cluster": "big"}
        }))
        .unwrap(),
    )
    .unwrap();
    let results: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("ipset-{i:05}"),
                "resource_type": "IPSet",
                "display_name": format!("set {i}"),
                "_revision": 0,
                "tags": [{"scope": "ncp/cluster", "tag": "big"}],
                "ip_addresses": [format!("10.1.{}.{}", i / 250, i % 250)]
            })
        })
        .collect();
    std::fs::write(
        dir.join("nsx/ip-sets.json"),
        serde_json::to_vec(&json!({"results": results, "result_count": n})).unwrap(),
    )
    .unwrap();
}

pub fn password() -> String {
    simulator::DEFAULT_PASSWORD.to_string()
}

/// A retry policy fast enough for tests (milliseconds), deterministic jitter.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(30),
        max_retry_after: Duration::from_secs(30),
        jitter: Arc::new(SeededJitter::new(42)),
    }
}

pub fn config_for(url: &str) -> NsxConfig {
    let mut c = NsxConfig::new(
        url,
        Some(Credentials::new(simulator::DEFAULT_USERNAME, password())),
    );
    c.retry = fast_retry(5);
    c.timeout = Duration::from_secs(20);
    c
}

pub fn client_for(h: &SimHandle) -> NsxClient {
    NsxClient::new(config_for(&h.base_url())).expect("client builds")
}

/// A client for `url` with basic authentication (no session create in the request log).
pub fn basic_client(url: &str) -> NsxClient {
    let mut cfg = config_for(url);
    cfg.auth = AuthMode::Basic;
    NsxClient::new(cfg).expect("client builds")
}

/// A client for `url` (https) with these TLS options and 2 attempts (TLS failures are final).
pub fn tls_client(url: &str, tls: TlsOptions) -> NsxClient {
    let mut cfg = config_for(url);
    cfg.tls = tls;
    cfg.retry = fast_retry(2);
    NsxClient::new(cfg).expect("client builds")
}

/// A loopback port with nothing listening on it (bound, then released).
pub fn unused_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Install fault rules through the simulator's control endpoint (no auth on /_sim/).
pub async fn add_faults(h: &SimHandle, rules: Value) {
    // Basic auth: no session create shows up in the request log for control calls.
    let c = basic_client(&h.base_url());
    c.send(Request::post("/_sim/faults").json(json!({ "rules": rules })))
        .await
        .expect("fault rules accepted");
}

/// Requests the simulator logged for `method path` (NSX API only).
pub fn logged(h: &SimHandle, method: &str, path: &str) -> Vec<Value> {
    h.request_log()
        .into_iter()
        .filter(|e| e["method"] == method && e["path"] == path)
        .collect()
}

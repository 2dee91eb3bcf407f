//! Shared helpers: a simulator seeded with the example inventory (real HTTP on 127.0.0.1) and a
//! plan for it built in-process by the planner (both from `test-support`), executor options with
//! fast polling, the simulator's request log, fault injection.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use executor::client::{Credentials, Kubectl, NsxConfig, RetryPolicy, SeededJitter};
use executor::{ApplyOptions, PollConfig, RollbackOptions};
use serde_json::Value;
use simulator::SimHandle;

pub use test_support::{kubeconfig, sim_config, start_sim, start_sim_with, write_plan};

pub fn inventory() -> PathBuf {
    test_support::example_inventory()
}

pub fn nsx_config(h: &SimHandle) -> NsxConfig {
    let mut c = NsxConfig::new(
        h.base_url(),
        Some(Credentials::new(
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD,
        )),
    );
    c.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(400),
        max_elapsed: Duration::from_secs(20),
        max_retry_after: Duration::from_secs(2),
        jitter: std::sync::Arc::new(SeededJitter::new(7)),
    };
    c.timeout = Duration::from_secs(10);
    // NSX (and the simulator) allow 100 requests per second per client.
    c.rate_limit = None;
    c
}

pub fn fast_poll() -> PollConfig {
    PollConfig {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(40),
        timeout: Duration::from_secs(60),
        done_timeout: Duration::from_secs(20),
    }
}

pub fn apply_opts(h: &SimHandle, plan: &Path, state: &Path) -> ApplyOptions {
    let mut o = ApplyOptions::new(plan, state, nsx_config(h));
    o.poll = fast_poll();
    o.concurrency = Some(4);
    o
}

pub fn rollback_opts(h: &SimHandle, state: &Path) -> RollbackOptions {
    RollbackOptions {
        window: Default::default(),
        openstack: None,
        state_dir: state.to_path_buf(),
        plan: None,
        manager_lock: Default::default(),
        nsx: nsx_config(h),
        poll: fast_poll(),
        observer: None,
    }
}

/// The request log with `path` carrying the query string too.
pub fn full_log(h: &SimHandle) -> Vec<Value> {
    h.request_log()
        .into_iter()
        .map(|mut r| {
            if let Some(q) = r["query"].as_str().filter(|q| !q.is_empty()) {
                r["path"] = Value::String(format!("{}?{q}", r["path"].as_str().unwrap_or("")));
            }
            r
        })
        .collect()
}

/// NSX change requests in the simulator's request log (not GET, not session, not /_sim
/// control, not the Kubernetes API).
pub fn writes(h: &SimHandle) -> Vec<Value> {
    writes_since(h, 0)
}

pub fn log_len(h: &SimHandle) -> usize {
    h.request_log().len()
}

/// A request to the lock on the manager (taken, renewed and removed by every run; it changes
/// nothing NSX does).
pub fn is_manager_lock(r: &Value) -> bool {
    r["path"]
        .as_str()
        .is_some_and(|p| p == format!("/policy/api/v1{}", executor::manager_lock::DEFAULT_PATH))
}

/// Writes after position `from` in the request log (the lock on the manager aside).
pub fn writes_since(h: &SimHandle, from: usize) -> Vec<Value> {
    full_log(h)
        .into_iter()
        .skip(from)
        .filter(|r| {
            let m = r["method"].as_str().unwrap_or("");
            let p = r["path"].as_str().unwrap_or("");
            m != "GET"
                && r["api"] != "k8s"
                && !is_manager_lock(r)
                && !p.starts_with("/api/session")
                && !p.starts_with("/_sim")
        })
        .collect()
}

pub fn kubectl_for(h: &SimHandle, dir: &Path) -> Kubectl {
    Kubectl {
        kubeconfig: Some(kubeconfig(h, dir)),
        cache_dir: Some(dir.join("kube-cache")),
        ..Kubectl::default()
    }
}

/// A request to the simulator's control API (`/_sim/...`, with the default credentials):
/// `method`, `path` with its query, the JSON `body` if any.
pub async fn sim_control(
    h: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", h.base_url()))
        .basic_auth(
            simulator::DEFAULT_USERNAME,
            Some(simulator::DEFAULT_PASSWORD),
        );
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().await.unwrap()
}

/// Install a fault rule through the simulator's control endpoint.
pub async fn add_fault(h: &SimHandle, rule: Value) {
    let r = sim_control(h, reqwest::Method::POST, "/_sim/faults", Some(&rule)).await;
    assert!(
        r.status().is_success(),
        "fault rule refused: {}",
        r.text().await.unwrap()
    );
}

pub async fn set_migration_faults(h: &SimHandle, body: Value) {
    let r = sim_control(
        h,
        reqwest::Method::PUT,
        "/_sim/migration-faults",
        Some(&body),
    )
    .await;
    assert!(r.status().is_success());
}

const HARNESS: &str = env!("CARGO_BIN_EXE_executor-crash-harness");

/// `executor-crash-harness` with `args` in a child process, NSX's credentials and `env` in its
/// environment (output discarded); SIGKILLed after its `kill_after`-th journal record when
/// given. Its exit status (bounded in time).
pub async fn harness_child(
    args: &[&str],
    env: &[(&str, &OsStr)],
    kill_after: Option<u64>,
) -> ExitStatus {
    let mut cmd = tokio::process::Command::new(HARNESS);
    cmd.args(args)
        .env("NSX_USERNAME", simulator::DEFAULT_USERNAME)
        .env("NSX_PASSWORD", simulator::DEFAULT_PASSWORD)
        .envs(env.iter().copied())
        .env_remove(executor::journal::KILL_AFTER_ENV)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(k) = kill_after {
        cmd.env(executor::journal::KILL_AFTER_ENV, k.to_string());
    }
    let mut c = cmd.spawn().expect("harness starts");
    tokio::time::timeout(Duration::from_secs(180), c.wait())
        .await
        .expect("harness finished in time")
        .unwrap()
}

/// How many records the journal in the state directory `state` holds (0 without one).
pub fn journal_lines(state: &Path) -> usize {
    std::fs::read_to_string(state.join("journal.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

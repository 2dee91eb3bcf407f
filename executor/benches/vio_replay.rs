//! `cargo bench -p executor --bench vio_replay`: the API replay of a generated VIO deployment
//! against the simulator over loopback HTTP, at NSX's limit (100 requests/s per client) with
//! 20 ms latency per request. A measurement, not a test; figures go to docs/performance.md.
//!
//! Measured: the replay stage's window (the observer's stage-started to stage-finished), every
//! request the simulator logged in it (source reads, target writes and reads, refusals), and
//! that rate against the 100 requests/s limit. `VIO_BENCH_PORTS` (default 1000) sizes the
//! deployment; `EXEC_BENCH_RATE` (default 95, the CLI's pace) paces the OpenStack client;
//! `VIO_BENCH_CONCURRENCY` (default 8, the CLI's) caps the steps in flight. The LB edge-sizing
//! credits are set to zero (the generator's edge cluster has none; the replay does not use
//! them). Run with `--profile dev` on a shared machine: the figure is then a lower bound.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use executor::client::{
    ConfigSearch, Credentials, NsxConfig, OpenStackClient, ServiceConfig, resolve_cloud,
};
use executor::{ApplyOptions, Observer, SharedObserver, Stage};
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;
use planner::vio::{VioPlanOptions, build_vio_plan};
use serde_json::Value;
use simulator::{SimConfig, Simulator};

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

/// (stage, started (else finished), when, unix ms)
#[derive(Default)]
struct Timer(Mutex<Vec<(Stage, bool, Instant, u128)>>);

impl Observer for Timer {
    fn stage_started(&self, stage: Stage, _total: u64) {
        self.0
            .lock()
            .unwrap()
            .push((stage, true, Instant::now(), unix_ms()));
    }
    fn stage_finished(&self, stage: Stage) {
        self.0
            .lock()
            .unwrap()
            .push((stage, false, Instant::now(), unix_ms()));
    }
}

fn env_num<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The generator writes no `openstack` section in metadata.json (collect does).
fn complete_metadata(dir: &Path) {
    let p = dir.join("metadata.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    if v.get("openstack").is_none() {
        v["openstack"] = serde_json::json!({"auth_url": "https://vio.synth.example:5000/v3"});
    }
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ports: usize = env_num("VIO_BENCH_PORTS", 1000);
    let rate: f64 = env_num("EXEC_BENCH_RATE", 95.0);
    let concurrency: usize = env_num("VIO_BENCH_CONCURRENCY", 8);
    let work = tempfile::tempdir().unwrap();
    let inv = work.path().join("vio");
    simulator::vio::generate::generate(
        &simulator::vio::generate::VioGenerateSpec { seed: 7, ports },
        &inv,
    )
    .expect("generate");
    complete_metadata(&inv);
    let snap = VioSnapshot::load(&inv).expect("snapshot");
    // The generator's edge cluster has no nodes for LB credits (an error finding the replay
    // does not depend on): LBs cost nothing here.
    let mut rules = VioRules::builtin();
    for v in rules.sizing.lb_size_credits.values_mut() {
        *v = 0;
    }
    let plan = build_vio_plan(
        &snap,
        &rules,
        &VioPlanOptions {
            created_at: "2026-12-01T00:00:00Z".into(),
            tool_version: "bench".into(),
            deployment: None,
            rules_source: None,
            inventory_source: Some("generated".into()),
        },
    )
    .expect("plan");
    for f in plan
        .findings
        .iter()
        .filter(|f| f.severity == plan_schema::Severity::Error)
    {
        eprintln!("error finding: {} {}", f.id, f.message);
    }
    let plan_path = work.path().join("plan.toml");
    std::fs::write(
        &plan_path,
        plan_schema::write::to_toml(&plan, None).unwrap(),
    )
    .unwrap();
    let replay_calls = plan
        .steps
        .iter()
        .filter(|s| s.phase == plan_schema::vio::Phase::Replay)
        .count();
    let h = Simulator::start(SimConfig {
        inventory: Some(inv.clone()),
        latency: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let (clouds, secure) = test_support::clouds_yaml(&h, work.path(), simulator::DEFAULT_PASSWORD);
    let cloud = resolve_cloud(
        Some("vio-sim"),
        &|_| None,
        &ConfigSearch {
            clouds: vec![clouds],
            secure: vec![secure],
        },
    )
    .unwrap();
    let os = OpenStackClient::new(
        cloud,
        ServiceConfig {
            rate_limit: Some(rate),
            max_concurrency: concurrency.max(1),
            ..ServiceConfig::default()
        },
    )
    .unwrap();
    let mut nsx = NsxConfig::new(
        h.base_url(),
        Some(Credentials::new(
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD,
        )),
    );
    nsx.rate_limit = Some(rate);
    let timer = Arc::new(Timer::default());
    let mut o = ApplyOptions::new(&plan_path, work.path().join("state"), nsx);
    o.openstack = Some(os);
    o.concurrency = concurrency;
    o.observer = Some(SharedObserver(timer.clone()));
    let t = Instant::now();
    let out = executor::apply(&o).await.expect("not refused");
    let total = t.elapsed();
    let (wall, from, to) = {
        let ev = timer.0.lock().unwrap();
        let replay = Stage::new("replay");
        let s = ev.iter().find(|e| e.0 == replay && e.1).expect("started");
        let f = ev.iter().find(|e| e.0 == replay && !e.1).expect("finished");
        (f.2 - s.2, s.3, f.3)
    };
    let log = h.request_log();
    let window: Vec<&Value> = log
        .iter()
        .filter(|r| {
            let at = r["time_ms"].as_u64().unwrap_or(0) as u128;
            at >= from && at <= to
        })
        .collect();
    let status = |r: &&Value| r["status"].as_u64().unwrap_or(0);
    let writes = window
        .iter()
        .filter(|r| r["method"] != "GET")
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/target-network"))
        })
        .count();
    let per_s = window.len() as f64 / wall.as_secs_f64();
    println!(
        "VIO replay, {ports} ports: {replay_calls} replay steps; apply exit {} in {total:.1?}: {}",
        out.exit_code,
        out.message.lines().next().unwrap_or("")
    );
    println!(
        "replay stage {wall:.1?}: {} requests ({writes} target writes, {} GET, {} refused 429), {per_s:.1} requests/s = {:.0}% of the 100/s limit; client paced at {rate}/s, concurrency {concurrency}, 20 ms latency",
        window.len(),
        window.iter().filter(|r| r["method"] == "GET").count(),
        window.iter().filter(|r| status(r) == 429).count(),
        per_s
    );
    if let Ok(dump) = std::env::var("EXEC_BENCH_LOG") {
        let lines: Vec<String> = window.iter().map(|r| r.to_string()).collect();
        let _ = std::fs::write(format!("{dump}.replay.jsonl"), lines.join("\n"));
    }
    h.shutdown().await;
}

//! `cargo bench -p executor --bench vio_replay`: the API replay of a generated VIO deployment
//! against the simulator over loopback HTTP, at NSX's limit (100 requests/s per client) with
//! 20 ms latency per request (the replay target's included). A measurement, not a test; figures
//! go to docs/performance.md.
//!
//! Measured: the replay stage's window (the observer's stage-started to stage-finished), every
//! request the simulator logged in it (source reads, target writes and reads, refusals), and
//! that rate against the 100 requests/s limit; the objects the journal records as replayed
//! against the target writes sent (one request per object would be 1.00); this process's CPU
//! time in the window (the simulator and the executor share it) and the simulator's time per
//! request summed from its request log (latency and waits for its state lock included). `VIO_BENCH_PORTS` (default 10000) sizes the deployment;
//! `EXEC_BENCH_RATE` (default 95, the CLI's pace) paces the OpenStack client;
//! `VIO_BENCH_CONCURRENCY` (default 8, the CLI's) caps the steps in flight. The LB edge-sizing
//! credits are set to zero (the generator's edge cluster has none; the replay does not use
//! them). Run it as `cargo bench` does (release); a dev build gives a lower bound.

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

/// CPU seconds (user + system) of this process, every thread, from `/proc/self/stat` (Linux;
/// zero elsewhere).
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // utime and stime: fields 14 and 15, the 12th and 13th after the parenthesised name.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// (stage, started (else finished), when, unix ms, CPU seconds)
type StageEvent = (Stage, bool, Instant, u128, f64);

#[derive(Default)]
struct Timer(Mutex<Vec<StageEvent>>);

impl Observer for Timer {
    fn stage_started(&self, stage: Stage, _total: u64) {
        self.0
            .lock()
            .unwrap()
            .push((stage, true, Instant::now(), unix_ms(), cpu_s()));
    }
    fn stage_finished(&self, stage: Stage) {
        self.0
            .lock()
            .unwrap()
            .push((stage, false, Instant::now(), unix_ms(), cpu_s()));
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
    let ports: usize = env_num("VIO_BENCH_PORTS", 10_000);
    let load_before = loadavg();
    let rate: f64 = env_num("EXEC_BENCH_RATE", 95.0);
    let concurrency: usize = env_num(
        "VIO_BENCH_CONCURRENCY",
        <plan_schema::vio::VioV2t as executor::kind::KindExecutor>::DEFAULT_CONCURRENCY,
    );
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
    o.concurrency = Some(concurrency);
    o.observer = Some(SharedObserver(timer.clone()));
    let t = Instant::now();
    let out = executor::apply(&o).await.expect("not refused");
    let total = t.elapsed();
    let (wall, from, to, cpu) = {
        let ev = timer.0.lock().unwrap();
        let replay = Stage::new("replay");
        let s = ev.iter().find(|e| e.0 == replay && e.1).expect("started");
        let f = ev.iter().find(|e| e.0 == replay && !e.1).expect("finished");
        (f.2 - s.2, s.3, f.3, f.4 - s.4)
    };
    let load_after = loadavg();
    // What the journal says the replay made: objects recorded, and changes sent to the target.
    let journal =
        std::fs::read_to_string(work.path().join("state").join("journal.jsonl")).expect("journal");
    let (mut objects, mut intents) = (0usize, 0usize);
    for line in journal.lines() {
        let Ok(r) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let ev = &r["event"];
        let kind = ev["type"].as_str().or_else(|| ev["event"].as_str());
        match kind {
            Some("migration_recorded") => {
                objects += ev["object_ids"].as_array().map_or(0, Vec::len);
            }
            Some("step_intent") if ev["request"]["endpoint"].is_string() => intents += 1,
            _ => {}
        }
    }
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
    let handling_ms: u64 = window
        .iter()
        .map(|r| r["duration_ms"].as_u64().unwrap_or(0))
        .sum();
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
    println!(
        "objects replayed (journal): {objects} in {intents} journaled target writes = {:.2} objects per write ({:.3} writes per object; one request per object would be 1.000)",
        objects as f64 / intents.max(1) as f64,
        intents as f64 / objects.max(1) as f64,
    );
    println!(
        "CPU in the replay window: {cpu:.1} s (simulator + executor, one process; {:.0}% of one core); simulator time summed over the window's requests (request log `duration_ms`: latency, waits for the state lock, handling): {:.1} s; load average {load_before} before, {load_after} after",
        100.0 * cpu / wall.as_secs_f64(),
        handling_ms as f64 / 1000.0
    );
    if let Ok(dump) = std::env::var("EXEC_BENCH_LOG") {
        let lines: Vec<String> = window.iter().map(|r| r.to_string()).collect();
        let _ = std::fs::write(format!("{dump}.replay.jsonl"), lines.join("\n"));
    }
    h.shutdown().await;
}

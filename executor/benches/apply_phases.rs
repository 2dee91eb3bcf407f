//! `cargo bench -p executor --bench apply_phases [-- update|import]`: the executor against the
//! simulator over loopback HTTP, at NSX's limits (100 requests/s per client) with 20 ms latency
//! per request. A measurement, not a test; figures go to docs/performance.md.
//!
//! * **update**: the update stage (seed phase 4) of a plan with 20,000 Policy updates (tags and
//!   display names of segments and LB virtual servers), at the default concurrency, and of a plan
//!   with 500 updates at `--concurrency 1`, in the same run. Each plan is applied whole (the
//!   import runs with fast coordinator timings); only the update stage is measured, between the
//!   observer's stage-started and stage-finished calls, and every request the simulator logged
//!   in that window is counted (reads, PATCHes, refusals).
//! * **import**: the import stage of a ~5,000-object plan at the simulator's default coordinator
//!   timings and the executor's default polling, against the time the coordinator spends by
//!   construction: per batch max(min_phase, precheck_per_object x n) + max(min_phase,
//!   migrate_per_object x n).
//!
//! The client is paced at `EXEC_BENCH_RATE` requests/s (default 95, the CLI's pace). The
//! generated inventories are cached under target/executor-bench/. `EXEC_BENCH_LOG=PREFIX` writes
//! each measured stage's requests to `PREFIX.<stage>.jsonl`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use executor::client::{Credentials, NsxConfig};
use executor::{ApplyOptions, Observer, PollConfig, SharedObserver, Stage};
use plan_schema::mp::{Action, Plan};
use serde_json::Value;
use simulator::{MigrationTiming, SimConfig, Simulator};

const CLUSTER: &str = "kube-synth-01";
const USER_SPEC: &str = "version: 1\nk8s-clusters:\n  kube-synth-01:\n    product: vanilla\n    ncp_version: \"4.1.2\"\n    shared_resources:\n      tier0_routers: [{display_name: t0-shared}]\n      ip_pools: [{display_name: external-pool}]\n";

/// When each stage started and finished (monotonic and wall clock, the latter to match the
/// simulator's request log), and its announced total.
#[derive(Default)]
struct Timer(Mutex<Vec<Mark>>);

/// (stage, started (else finished), when, unix ms, announced total)
type Mark = (Stage, bool, Instant, u128, u64);

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl Observer for Timer {
    fn stage_started(&self, stage: Stage, total: u64) {
        self.0
            .lock()
            .unwrap()
            .push((stage, true, Instant::now(), unix_ms(), total));
    }
    fn stage_finished(&self, stage: Stage) {
        self.0
            .lock()
            .unwrap()
            .push((stage, false, Instant::now(), unix_ms(), 0));
    }
}

impl Timer {
    /// (wall time, start unix ms, end unix ms, total) of `stage`.
    fn stage(&self, stage: Stage) -> (Duration, u128, u128, u64) {
        let ev = self.0.lock().unwrap();
        let s = ev
            .iter()
            .find(|e| e.0 == stage && e.1)
            .expect("stage started");
        let f = ev
            .iter()
            .find(|e| e.0 == stage && !e.1)
            .expect("stage finished");
        (f.2 - s.2, s.3, f.3, s.4)
    }
}

fn inventory(namespaces: usize, pods: usize, lbs: usize) -> PathBuf {
    // The cache directory names namespaces and pods only: one root per LB service count.
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../target/executor-bench/lb{lbs}"));
    simulator::GenerateSpec {
        seed: 7,
        cluster: CLUSTER.into(),
        namespaces,
        pods_per_namespace: pods,
        policies_per_namespace: 1,
        lb_services_per_namespace: lbs,
    }
    .generate_cached(&root)
    .expect("generate")
}

/// Plan with the built-in rules; `ports_per_switch` is the rule `import.logical_ports_per_switch`.
fn plan(inv_dir: &Path, out: &Path, ports_per_switch: bool) -> Plan {
    let inv = planner::Inventory::load(inv_dir).expect("inventory");
    let spec = planner::UserSpec::parse(USER_SPEC, Path::new("user-spec.yaml")).expect("spec");
    let mut rules = planner::Rules::builtin();
    rules.import.logical_ports_per_switch = ports_per_switch;
    let inputs = planner::PlanInputs {
        inventory: &inv,
        inventory_source: inv_dir.display().to_string(),
        user_spec: Some(planner::SourcedSpec {
            spec: &spec,
            source: "user-spec.yaml".into(),
            sha256: plan_schema::sha256_hex(USER_SPEC.as_bytes()),
        }),
        rules: &rules,
        rules_source: None,
    };
    let opts = planner::PlanOptions {
        cluster: CLUSTER.into(),
        created_at: "2026-11-22T00:00:00Z".into(),
        tool_version: "bench".into(),
        dfw_admin_sections: None,
    };
    let plan = planner::build_plan(&inputs, &opts).expect("plan");
    assert!(plan.is_applicable(), "plan has error findings");
    let text = plan_schema::write::to_toml(&plan, None).expect("toml");
    std::fs::write(out, text).expect("write plan");
    plan
}

fn rate() -> f64 {
    std::env::var("EXEC_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(95.0)
}

fn nsx(url: &str) -> NsxConfig {
    let mut c = NsxConfig::new(
        url,
        Some(Credentials::new(
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD,
        )),
    );
    c.rate_limit = Some(rate());
    c
}

struct Run {
    stage_wall: Duration,
    total_steps: u64,
    requests: usize,
    ok: usize,
    refused_429: usize,
    gets: usize,
    patches: usize,
    exit_code: u8,
    plan: Plan,
}

async fn run(
    inv: &Path,
    timing: MigrationTiming,
    poll: PollConfig,
    concurrency: usize,
    stage: Stage,
    ports_per_switch: bool,
) -> Run {
    let work = tempfile::tempdir().expect("tempdir");
    let plan_path = work.path().join("plan.toml");
    let t = Instant::now();
    let plan = plan(inv, &plan_path, ports_per_switch);
    eprintln!(
        "  planned {} steps in {:.1?}",
        plan.steps.len(),
        t.elapsed()
    );
    let h = Simulator::start(SimConfig {
        inventory: Some(inv.to_path_buf()),
        latency: Duration::from_millis(20),
        migration: timing,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let timer = Arc::new(Timer::default());
    let mut o = ApplyOptions::new(&plan_path, work.path().join("state"), nsx(&h.base_url()));
    o.concurrency = Some(concurrency);
    o.poll = poll;
    o.observer = Some(SharedObserver(timer.clone()));
    let t = Instant::now();
    let out = executor::apply(&o).await.expect("not refused");
    eprintln!(
        "  apply: exit {} in {:.1?}: {}",
        out.exit_code,
        t.elapsed(),
        out.message.lines().next().unwrap_or("")
    );
    let (stage_wall, from, to, total_steps) = timer.stage(stage);
    let log = h.request_log();
    let window: Vec<&Value> = log
        .iter()
        .filter(|r| r["api"] == "nsx")
        .filter(|r| {
            let at = r["time_ms"].as_u64().unwrap_or(0) as u128;
            at >= from && at <= to
        })
        .collect();
    if let Ok(dump) = std::env::var("EXEC_BENCH_LOG") {
        // The stage's requests, one JSON line each, for a closer look.
        let lines: Vec<String> = window.iter().map(|r| r.to_string()).collect();
        let _ = std::fs::write(format!("{dump}.{}.jsonl", stage.as_str()), lines.join("\n"));
    }
    let status = |r: &&Value| r["status"].as_u64().unwrap_or(0);
    let run = Run {
        stage_wall,
        total_steps,
        requests: window.len(),
        ok: window.iter().filter(|r| status(r) < 300).count(),
        refused_429: window.iter().filter(|r| status(r) == 429).count(),
        gets: window.iter().filter(|r| r["method"] == "GET").count(),
        patches: window.iter().filter(|r| r["method"] == "PATCH").count(),
        exit_code: out.exit_code.code(),
        plan,
    };
    h.shutdown().await;
    run
}

fn fast_timing() -> MigrationTiming {
    MigrationTiming {
        precheck_per_object: Duration::ZERO,
        migrate_per_object: Duration::from_micros(10),
        rollback_per_object: Duration::ZERO,
        rollback_dfw_factor: 1,
        min_phase: Duration::from_millis(5),
    }
}

fn fast_poll() -> PollConfig {
    PollConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        ..PollConfig::default()
    }
}

async fn update_bench() {
    println!(
        "update stage, 20 ms latency, 100 req/s per client (simulator), client paced at {}/s",
        rate()
    );
    println!(
        "{:>11} {:>8} {:>9} {:>7} {:>6} {:>7} {:>5} {:>9} {:>8} {:>10}",
        "concurrency",
        "updates",
        "requests",
        "GET",
        "PATCH",
        "non-2xx",
        "429",
        "time",
        "req/s",
        "updates/s"
    );
    let mut rates = Vec::new();
    for (concurrency, lbs, namespaces) in [
        (
            <plan_schema::mp::MpToPolicy as executor::kind::KindExecutor>::DEFAULT_CONCURRENCY,
            99,
            200,
        ),
        (1, 99, 5),
    ] {
        let inv = inventory(namespaces, 1, lbs);
        let r = run(
            &inv,
            fast_timing(),
            fast_poll(),
            concurrency,
            Stage::new("update"),
            true,
        )
        .await;
        assert_eq!(r.exit_code, 0, "apply failed");
        let updates = r
            .plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::PolicyUpdate(_)))
            .count();
        assert_eq!(r.total_steps as usize, updates);
        let secs = r.stage_wall.as_secs_f64();
        let rps = r.requests as f64 / secs;
        rates.push(rps);
        println!(
            "{:>11} {:>8} {:>9} {:>7} {:>6} {:>7} {:>5} {:>8.1}s {:>8.1} {:>10.1}",
            concurrency,
            updates,
            r.requests,
            r.gets,
            r.patches,
            r.requests - r.ok,
            r.refused_429,
            secs,
            rps,
            updates as f64 / secs
        );
    }
    println!(
        "ratio default / concurrency 1 (requests/s): {:.2}",
        rates[0] / rates[1]
    );
}

async fn import_bench() {
    let timing = MigrationTiming::default();
    println!(
        "import stage, 20 ms latency, 100 req/s per client, coordinator timings: precheck {:?}/object, migrate {:?}/object, min phase {:?}; default polling; client paced at {}/s",
        timing.precheck_per_object,
        timing.migrate_per_object,
        timing.min_phase,
        rate()
    );
    println!(
        "{:>16} {:>8} {:>8} {:>9} {:>10} {:>12} {:>9}",
        "ports", "batches", "objects", "requests", "wall", "coordinator", "overhead"
    );
    // The default rules send one LOGICAL_PORT request per logical switch (as a public client
    // does on NSX >= 3.2); the second row shows the same plan with that rule off, where the
    // ports of several switches share a request up to the batch limit.
    for (namespaces, pods, per_switch) in [(40, 100, true), (40, 100, false), (10, 1000, true)] {
        let inv = inventory(namespaces, pods, 1);
        let r = run(
            &inv,
            timing.clone(),
            PollConfig::default(),
            8,
            Stage::new("import"),
            per_switch,
        )
        .await;
        assert_eq!(r.exit_code, 0, "apply failed");
        let mut coordinator = Duration::ZERO;
        let mut objects = 0usize;
        let mut batches = 0usize;
        for s in &r.plan.steps {
            if let Action::ImportBatch(b) = &s.action {
                let n = b.resources.len() as u32;
                objects += n as usize;
                batches += 1;
                coordinator += timing.min_phase.max(timing.precheck_per_object * n)
                    + timing.min_phase.max(timing.migrate_per_object * n);
            }
        }
        let wall = r.stage_wall.as_secs_f64();
        let coord = coordinator.as_secs_f64();
        println!(
            "{:>16} {:>8} {:>8} {:>9} {:>9.1}s {:>11.1}s {:>8.1}%",
            if per_switch {
                "per switch"
            } else {
                "shared requests"
            },
            batches,
            objects,
            r.requests,
            wall,
            coord,
            (wall - coord) / coord * 100.0
        );
    }
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let all = which.is_empty();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        if all || which.iter().any(|w| w == "update") {
            update_bench().await;
        }
        if all || which.iter().any(|w| w == "import") {
            import_bench().await;
        }
    });
}

//! `cargo bench -p nsx-migrate --bench plan_vio_scale`: the VIO planner (snapshot read,
//! prechecks, steps, ordering, seal, TOML) on generated deployments (`sim generate --kind
//! vio-v2t`), 50,000 ports by default. Each size is planned in a child process (this same
//! binary) so that its peak RSS (`VmHWM`) is its own. Figures go to docs/performance.md.
//!
//! `VIO_PLAN_SCALE_PORTS=10000,50000` picks sizes; the deployments are generated once under
//! target/vio-scale/ (shared with the collect bench).

/// The same allocator as the `nsx-migrate` binary, so the figures are the CLI's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;
use planner::vio::{VioPlanOptions, build_vio_plan};
use simulator::vio::generate::{VioGenerateSpec, generate};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn inventory(ports: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/vio-scale")
        .join(format!("ports-{ports}"));
    if !dir.join("metadata.json").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        generate(&VioGenerateSpec { seed: 1, ports }, &dir).expect("generate");
    }
    dir
}

fn child(dir: &Path) {
    let start = Instant::now();
    let snapshot = VioSnapshot::load(dir).expect("snapshot");
    let loaded = start.elapsed();
    let opts = VioPlanOptions {
        created_at: "2026-12-01T10:00:00Z".into(),
        tool_version: "bench".into(),
        deployment: None,
        rules_source: None,
        inventory_source: None,
    };
    let plan = build_vio_plan(&snapshot, &VioRules::builtin(), &opts).expect("plan");
    let planned = start.elapsed();
    let text = plan_schema::write::to_toml(&plan, None).expect("toml");
    let written = start.elapsed();
    println!(
        "{} {} {} {} {} {} {} {}",
        snapshot.neutron.ports.len(),
        loaded.as_millis(),
        planned.as_millis(),
        written.as_millis(),
        peak_rss_kib(),
        plan.steps.len(),
        plan.summary.changes.replayed_objects,
        text.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]));
        return;
    }
    let sizes: Vec<usize> = std::env::var("VIO_PLAN_SCALE_PORTS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![50_000]);
    println!(
        "{:>7} {:>9} {:>9} {:>10} {:>11} {:>7} {:>9} {:>9}",
        "ports", "load ms", "plan ms", "total ms", "peak RSS", "steps", "objects", "plan MiB"
    );
    for ports in sizes {
        let dir = inventory(ports);
        let metadata = dir.join("metadata.json");
        // The generator writes no `openstack` section; the plan's target needs Keystone's
        // address.
        let mut meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&metadata).expect("metadata"))
                .expect("metadata JSON");
        if meta.get("openstack").is_none() {
            meta["openstack"] =
                serde_json::json!({"auth_url": "https://vio.synth.example:5000/v3"});
            std::fs::write(&metadata, meta.to_string()).expect("metadata");
        }
        let out = Command::new(std::env::current_exe().expect("exe"))
            .arg("--child")
            .arg(&dir)
            .output()
            .expect("child");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        println!(
            "{:>7} {:>9} {:>9} {:>10} {:>7} MiB {:>7} {:>9} {:>9.1}",
            f[0],
            f[1],
            f[2] - f[1],
            f[3],
            f[4] / 1024,
            f[5],
            f[6],
            f[7] as f64 / 1048576.0
        );
    }
}

//! `cargo bench -p planner --bench plan_scale`: plan wall time and peak RSS on generated
//! inventories of about 10k, 50k and 100k NSX objects. Each size is planned in a child process
//! (this same binary) so that its peak RSS is its own. Figures go to docs/performance.md.
//!
//! `PLAN_SCALE_SIZES=10000,50000` picks sizes; the inventories are generated (deterministically,
//! by the simulator's generator) under target/plan-scale/ and reused.

/// The same allocator as the `nsx-migrate` binary, so the figures are the CLI's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use planner::{Inventory, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};

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

const USER_SPEC: &str = "version: 1\nk8s-clusters:\n  kube-synth-01:\n    product: vanilla\n    ncp_version: \"4.1.2\"\n    shared_resources:\n      tier0_routers: [{display_name: t0-shared}]\n      ip_pools: [{display_name: external-pool}]\n";

fn child(dir: &Path) {
    let start = Instant::now();
    let inventory = Inventory::load(dir).expect("inventory");
    let loaded = start.elapsed();
    let rss_loaded = peak_rss_kib();
    let spec = UserSpec::parse(USER_SPEC, Path::new("user-spec.yaml")).expect("spec");
    let rules = Rules::builtin();
    let inputs = PlanInputs {
        inventory: &inventory,
        inventory_source: dir.display().to_string(),
        user_spec: Some(SourcedSpec {
            spec: &spec,
            source: "user-spec.yaml".into(),
            sha256: plan_schema::sha256_hex(USER_SPEC.as_bytes()),
        }),
        rules: &rules,
        rules_source: None,
    };
    let opts = PlanOptions {
        cluster: "kube-synth-01".into(),
        created_at: "2026-11-20T10:00:00Z".into(),
        tool_version: "bench".into(),
        dfw_admin_sections: None,
    };
    let plan = planner::build_plan(&inputs, &opts).expect("plan");
    let planned = start.elapsed();
    let rss_planned = peak_rss_kib();
    let text = plan_schema::write::to_toml(&plan, None).expect("toml");
    let written = start.elapsed();
    eprintln!(
        "peak RSS after load {} MiB, after plan {} MiB",
        rss_loaded / 1024,
        rss_planned / 1024
    );
    println!(
        "{} {} {} {} {} {} {}",
        inventory.nsx_count,
        loaded.as_millis(),
        planned.as_millis(),
        written.as_millis(),
        peak_rss_kib(),
        plan.summary.changes.imported_resources,
        text.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(Path::new(&args[i + 1]));
        return;
    }
    let sizes: Vec<usize> = std::env::var("PLAN_SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 50_000, 100_000]);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/plan-scale");
    println!(
        "{:>9} {:>9} {:>9} {:>10} {:>11} {:>10} {:>9}",
        "objects", "load ms", "plan ms", "total ms", "peak RSS", "imported", "plan MiB"
    );
    for size in sizes {
        let dir = simulator::GenerateSpec::benchmark(size)
            .generate_cached(&root)
            .expect("generate");
        let out = Command::new(std::env::current_exe().unwrap())
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
            "{:>9} {:>9} {:>9} {:>10} {:>7} MiB {:>10} {:>9.1}",
            f[0],
            f[1],
            f[2] - f[1],
            f[3],
            f[4] / 1024,
            f[5],
            f[6] as f64 / 1048576.0
        );
    }
}

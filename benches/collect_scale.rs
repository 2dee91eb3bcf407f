//! `cargo bench -p nsx-migrate --bench collect_scale`: `nsx-migrate collect` (the release binary,
//! NSX over REST and Kubernetes through the real kubectl) against the simulator serving generated
//! inventories of about 10k, 50k and 100k NSX objects, at NSX's default per-client limits
//! (100 requests/s) with the CLI's default pace. Prints objects/s. Figures go to
//! docs/performance.md.
//!
//! `COLLECT_SCALE_SIZES=10000` picks sizes; the inventories are generated (deterministically, by
//! the simulator's generator) under target/plan-scale/ and shared with the planner's bench.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use simulator::{SimConfig, Simulator};

/// The planner bench's inventories: ~`size` NSX objects, generated once under target/.
fn inventory(size: usize) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/plan-scale");
    simulator::GenerateSpec::benchmark(size)
        .generate_cached(&root)
        .expect("generate")
}

fn count_results(dir: &Path, sub: &str, key: &str) -> usize {
    let mut n = 0;
    let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
        return 0;
    };
    for e in entries.flatten() {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path()).expect("read")).expect("json");
        n += v[key].as_array().map(Vec::len).unwrap_or(0);
    }
    n
}

fn main() {
    let sizes = support::sizes("COLLECT_SCALE_SIZES", &[10_000, 50_000, 100_000]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:>9} {:>9} {:>9} {:>9} {:>10} {:>12}",
        "served", "NSX", "k8s", "requests", "time", "objects/s"
    );
    for size in sizes {
        let dir = inventory(size);
        rt.block_on(async {
            let h = Simulator::start(SimConfig {
                inventory: Some(dir.clone()),
                ..SimConfig::default()
            })
            .await
            .expect("simulator");
            let work = tempfile::tempdir().expect("tempdir");
            let kubeconfig = work.path().join("kubeconfig");
            std::fs::write(&kubeconfig, h.kubeconfig()).expect("kubeconfig");
            let out = work.path().join("collected");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"));
            cmd.env("NSX_USERNAME", simulator::DEFAULT_USERNAME)
                .env("NSX_PASSWORD", simulator::DEFAULT_PASSWORD)
                .env_remove("KUBECONFIG")
                .args([
                    "collect",
                    "--nsx",
                    &h.base_url(),
                    "--cluster",
                    "kube-synth-01",
                ])
                .arg("--user-spec")
                .arg(dir.join("user-spec.yaml"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--out")
                .arg(&out);
            let run = support::run_cli(cmd, Duration::from_secs(900)).await;
            let (result, took) = (run.output, run.wall);
            let line = String::from_utf8_lossy(&result.stdout);
            let requests = line
                .split(", ")
                .find_map(|p| {
                    p.strip_suffix(" requests\n")
                        .or(p.strip_suffix(" requests"))
                })
                .unwrap_or("?")
                .to_string();
            let nsx = count_results(&out, "nsx", "results");
            let kube = count_results(&out, "k8s", "items");
            println!(
                "{:>9} {:>9} {:>9} {:>9} {:>9.2}s {:>12.0}",
                size,
                nsx,
                kube,
                requests,
                took.as_secs_f64(),
                (nsx + kube) as f64 / took.as_secs_f64()
            );
            // Which requests (path without ids and query): count and time the server spent.
            let shapes = support::request_shapes(&h.request_log(), |seg| seg.len() > 20);
            support::print_shapes(&shapes, 5);
            drop(h);
        });
    }
}

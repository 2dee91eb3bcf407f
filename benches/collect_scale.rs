//! `cargo bench -p nsx-migrate --bench collect_scale`: `nsx-migrate collect` (the release binary,
//! NSX over REST and Kubernetes through the real kubectl) against the simulator serving generated
//! inventories of about 10k, 50k and 100k NSX objects, at NSX's default per-client limits
//! (100 requests/s) with the CLI's default pace. Prints objects/s. Figures go to
//! docs/performance.md.
//!
//! `COLLECT_SCALE_SIZES=10000` picks sizes; the inventories are generated (deterministically, by
//! the simulator's generator) under target/plan-scale/ and shared with the planner's bench.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

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
    let sizes: Vec<usize> = std::env::var("COLLECT_SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 50_000, 100_000]);
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
            let start = Instant::now();
            let result = tokio::time::timeout(
                Duration::from_secs(900),
                tokio::task::spawn_blocking(move || cmd.output()),
            )
            .await
            .expect("collect took more than 15 minutes")
            .expect("join")
            .expect("run nsx-migrate");
            let took = start.elapsed();
            assert!(
                result.status.success(),
                "{}",
                String::from_utf8_lossy(&result.stderr)
            );
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
            let mut kinds: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
            for r in h.request_log() {
                let path = r["path"].as_str().unwrap_or("?");
                let shape: Vec<&str> = path
                    .split('/')
                    .map(|seg| if seg.len() > 20 { "{id}" } else { seg })
                    .collect();
                let k = kinds
                    .entry(format!(
                        "{} {}",
                        r["method"].as_str().unwrap_or("?"),
                        shape.join("/")
                    ))
                    .or_default();
                k.0 += 1;
                k.1 += r["duration_ms"].as_u64().unwrap_or(0);
            }
            let mut kinds: Vec<(String, (usize, u64))> = kinds.into_iter().collect();
            kinds.sort_by_key(|k| std::cmp::Reverse(k.1.1));
            for (k, (n, ms)) in kinds.iter().take(5) {
                println!(
                    "{:>20} {n:>6} x {k} ({:.1} s in the simulator)",
                    "",
                    *ms as f64 / 1000.0
                );
            }
            drop(h);
        });
    }
}

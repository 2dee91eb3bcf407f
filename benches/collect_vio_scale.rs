//! `cargo bench -p nsx-migrate --bench collect_vio_scale`: `nsx-migrate collect --kind vio-v2t`
//! (the bench binary: OpenStack, NSX-V, vCenter and NSX over REST, VIO's Kubernetes through the
//! real kubectl) against the simulator serving generated deployments (`sim generate --kind
//! vio-v2t`) at the CLI's default pace (95 requests/s per source, under NSX's 100 per client).
//! Prints objects/s, and how much of the wall time the simulator spent answering (summed
//! server-side durations): a small share shows the simulator is not the bottleneck.
//!
//! `VIO_COLLECT_SCALE_PORTS=10000,50000` picks sizes (the default); the deployments are generated
//! once under target/vio-scale/. Figures go to docs/performance.md.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use simulator::vio::generate::{VioGenerateSpec, generate};
use simulator::{SimConfig, Simulator};

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

fn main() {
    let sizes: Vec<usize> = std::env::var("VIO_COLLECT_SCALE_PORTS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 50_000]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>12} {:>15}",
        "ports", "objects", "requests", "time", "objects/s", "simulator busy"
    );
    for ports in sizes {
        let dir = inventory(ports);
        rt.block_on(async {
            // All the simulated services share one port and one user, so the simulator's
            // per-user rate limit (NSX's 100/s) is off; the CLI still paces each source at 95/s.
            let h = Simulator::start(SimConfig {
                inventory: Some(dir.clone()),
                limits: simulator::Limits {
                    client_rate_per_sec: 0,
                    ..simulator::Limits::default()
                },
                ..SimConfig::default()
            })
            .await
            .expect("simulator");
            let work = tempfile::tempdir().expect("tempdir");
            let kubeconfig = work.path().join("kubeconfig");
            std::fs::write(&kubeconfig, h.kubeconfig()).expect("kubeconfig");
            let clouds = work.path().join("clouds.yaml");
            std::fs::write(
                &clouds,
                format!(
                    "clouds:\n  bench:\n    auth:\n      auth_url: {}/v3\n      username: {}\n      password: \"{}\"\n      project_name: admin\n    region_name: RegionOne\n",
                    h.base_url(),
                    simulator::DEFAULT_USERNAME,
                    simulator::DEFAULT_PASSWORD
                ),
            )
            .expect("clouds.yaml");
            let out = work.path().join("collected");
            let url = h.base_url();
            let (u, p) = (simulator::DEFAULT_USERNAME, simulator::DEFAULT_PASSWORD);
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"));
            cmd.current_dir(work.path())
                .env("OS_CLIENT_CONFIG_FILE", &clouds)
                .env_remove("OS_CLOUD")
                .env_remove("KUBECONFIG")
                .envs([
                    ("NSX_USERNAME", u),
                    ("NSX_PASSWORD", p),
                    ("NSXV_USERNAME", u),
                    ("NSXV_PASSWORD", p),
                    ("VCENTER_USERNAME", u),
                    ("VCENTER_PASSWORD", p),
                ])
                .args(["collect", "--kind", "vio-v2t", "--os-cloud", "bench"])
                .args(["--nsx", &url, "--nsxv", &url, "--vcenter", &url])
                .arg("--nsx-ini")
                .arg(dir.join("vio/nsx.ini"))
                .arg("--migrator-conf")
                .arg(dir.join("vio/migrator.conf.json"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--out")
                .arg(&out);
            let start = Instant::now();
            let result = tokio::time::timeout(
                Duration::from_secs(1800),
                tokio::task::spawn_blocking(move || cmd.output()),
            )
            .await
            .expect("collect took more than 30 minutes")
            .expect("join")
            .expect("run nsx-migrate");
            let took = start.elapsed();
            assert!(
                result.status.success(),
                "{}",
                String::from_utf8_lossy(&result.stderr)
            );
            // "DIR: vio-v2t snapshot, N objects (...)"
            let line = String::from_utf8_lossy(&result.stdout);
            let objects: usize = line
                .split("snapshot, ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("object count on stdout");
            let log = h.request_log();
            let busy_ms: u64 = log.iter().map(|r| r["duration_ms"].as_u64().unwrap_or(0)).sum();
            println!(
                "{:>7} {:>9} {:>9} {:>8.1}s {:>12.0} {:>14.1}%",
                ports,
                objects,
                log.len(),
                took.as_secs_f64(),
                objects as f64 / took.as_secs_f64(),
                busy_ms as f64 / 10.0 / took.as_secs_f64()
            );
            // The slowest request shapes (ids folded), by time spent in the simulator.
            let mut kinds: std::collections::BTreeMap<String, (usize, u64)> = Default::default();
            for r in &log {
                let path = r["path"].as_str().unwrap_or("?");
                let shape: Vec<&str> = path
                    .split('/')
                    .map(|seg| if seg.len() > 20 || seg.starts_with("edge-") || seg.starts_with("host-") { "{id}" } else { seg })
                    .collect();
                let k = kinds
                    .entry(format!("{} {}", r["method"].as_str().unwrap_or("?"), shape.join("/")))
                    .or_default();
                k.0 += 1;
                k.1 += r["duration_ms"].as_u64().unwrap_or(0);
            }
            let mut kinds: Vec<_> = kinds.into_iter().collect();
            kinds.sort_by_key(|k| std::cmp::Reverse(k.1.0));
            for (k, (n, ms)) in kinds.iter().take(6) {
                println!("{:>20} {n:>6} x {k} ({:.1} s in the simulator)", "", *ms as f64 / 1000.0);
            }
            drop(h);
        });
    }
}

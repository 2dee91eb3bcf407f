//! `cargo bench -p nsx-migrate --bench collect_vio_scale`: `nsx-migrate collect --kind vio-v2t`
//! (the release binary: OpenStack, NSX-V, vCenter and NSX over REST, VIO's Kubernetes through
//! the real kubectl) against the simulator serving generated deployments (`sim generate --kind
//! vio-v2t`) at the CLI's default pace (95 requests/s per source, under NSX's 100 per client).
//! Each collected snapshot must equal the generated one object by object (the comparison the
//! end-to-end test runs at 3,000 ports, `test_support::snapshot`). Prints objects/s, and what
//! shows whether the simulator bounds the run: the CPU time this process (the simulator) spent
//! against the wall time, and the summed time it spent answering requests.
//!
//! `VIO_COLLECT_SCALE_PORTS=10000,50000` picks sizes (the default); `VIO_COLLECT_SCALE_RATE`
//! sets the CLI's `--rate-limit` (requests/s per source; default the CLI's own). The deployments
//! are generated once under target/vio-scale/. Figures go to docs/performance.md.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use simulator::vio::generate::{VioGenerateSpec, generate};
use simulator::{SimConfig, Simulator};

fn inventory(ports: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/vio-scale")
        .join(format!("ports-{ports}"));
    // A deployment from before the generator wrote every collected file is made again.
    if !dir.join("nsx/edge-cluster-nodes.json").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        generate(&VioGenerateSpec { seed: 1, ports }, &dir).expect("generate");
    }
    dir
}

fn main() {
    let sizes = support::sizes("VIO_COLLECT_SCALE_PORTS", &[10_000, 50_000]);
    let rate = std::env::var("VIO_COLLECT_SCALE_RATE").ok();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at the start: {}", l.trim());
    }
    println!(
        "{:>7} {:>9} {:>9} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "ports",
        "objects",
        "requests",
        "time",
        "objects/s",
        "sim CPU",
        "sim busy",
        "CLI CPU",
        "compare"
    );
    for ports in sizes {
        let dir = inventory(ports);
        rt.block_on(async {
            // All the simulated services share one port and one user, so the simulator's
            // per-user rate limit (NSX's 100/s) is off; the CLI still paces each source.
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
            let kubeconfig = test_support::kubeconfig(&h, work.path());
            let (clouds, secure) =
                test_support::clouds_yaml(&h, work.path(), simulator::DEFAULT_PASSWORD);
            let out = work.path().join("collected");
            let url = h.base_url();
            let (u, p) = (simulator::DEFAULT_USERNAME, simulator::DEFAULT_PASSWORD);
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"));
            cmd.current_dir(work.path())
                .env("OS_CLIENT_CONFIG_FILE", &clouds)
                .env("OS_CLIENT_SECURE_FILE", &secure)
                .env_remove("OS_CLOUD")
                .env_remove("OS_AUTH_URL")
                .env_remove("KUBECONFIG")
                .envs([
                    ("NSX_USERNAME", u),
                    ("NSX_PASSWORD", p),
                    ("NSXV_USERNAME", u),
                    ("NSXV_PASSWORD", p),
                    ("VCENTER_USERNAME", u),
                    ("VCENTER_PASSWORD", p),
                ])
                .args(["collect", "--kind", "vio-v2t", "--os-cloud", "vio-sim"])
                .args(["--nsx", &url, "--nsxv", &url, "--vcenter", &url])
                .arg("--nsx-ini")
                .arg(dir.join("vio/nsx.ini"))
                .arg("--migrator-conf")
                .arg(dir.join("vio/migrator.conf.json"))
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .arg("--out")
                .arg(&out);
            if let Some(r) = &rate {
                cmd.args(["--rate-limit", r]);
            }
            let run = support::run_cli(cmd, Duration::from_secs(1800)).await;
            // "DIR: vio-v2t snapshot, N objects (...)"
            let line = String::from_utf8_lossy(&run.output.stdout);
            let objects: usize = line
                .split("snapshot, ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
                .expect("object count on stdout");
            // The snapshot is the generated one, object by object (panics naming the first
            // difference).
            let compare_started = Instant::now();
            let compared = test_support::snapshot::assert_same_vio_snapshot(&dir, &out);
            let compare = compare_started.elapsed();
            let log = h.request_log();
            let wall = run.wall.as_secs_f64();
            println!(
                "{:>7} {:>9} {:>9} {:>7.1}s {:>10.0} {:>8.1}% {:>8.1}% {:>8.1}s {:>8.1}s",
                ports,
                objects,
                log.len(),
                wall,
                objects as f64 / wall,
                100.0 * run.simulator_cpu / wall,
                100.0 * support::busy_secs(&log) / wall,
                run.cli_cpu,
                compare.as_secs_f64()
            );
            println!(
                "{:>20} snapshot equal to the generated one: {} files, {} objects compared by id",
                "", compared.files, compared.objects
            );
            // The costliest request shapes (ids folded), by time spent in the simulator.
            let shapes = support::request_shapes(&log, |seg| {
                seg.len() > 20 || seg.starts_with("edge-") || seg.starts_with("host-")
            });
            support::print_shapes(&shapes, 6);
            drop(h);
        });
    }
}

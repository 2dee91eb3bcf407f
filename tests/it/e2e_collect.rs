//! End to end over real HTTP: the simulator seeded with the example inventory -> `nsx-migrate
//! collect` (NSX REST + the real kubectl) -> `nsx-migrate plan` gives the same plan as planning
//! from the snapshot the simulator was seeded with. Only where the inputs came from differs.

use std::path::PathBuf;
use std::process::Command;

use simulator::SimConfig;

use crate::common::cli_for_sim as bin;

/// The plan's decisions: everything but where the inputs came from and the manager's name.
fn decisions(plan: &plan_schema::mp::Plan) -> serde_json::Value {
    let mut v = serde_json::to_value(plan).unwrap();
    v["plan_id"] = serde_json::Value::Null;
    v["inputs"] = serde_json::Value::Null;
    v["target"]["nsx_manager"] = serde_json::Value::Null;
    v["header"]["created_at"] = serde_json::Value::Null;
    for f in v["findings"].as_array_mut().unwrap() {
        if f["subject"]["resource_type"] == "NsxManager" {
            f["id"] = serde_json::Value::Null;
            f["subject"]["id"] = serde_json::Value::Null;
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_then_plan_equals_planning_from_the_seed_snapshot() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        panic!("kubectl is required for this test (.ci/run installs it)");
    }
    let example = test_support::example_inventory();
    let handle = test_support::start_sim().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = test_support::kubeconfig(&handle, dir.path());
    let collected = dir.path().join("collected");
    let url = handle.base_url();

    let out = {
        let mut c = bin();
        c.args([
            "collect",
            "--nsx",
            &url,
            "--cluster",
            "kube-prod-01",
            "--user-spec",
        ])
        .arg(example.join("user-spec.yaml"))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--out")
        .arg(&collected);
        tokio::task::spawn_blocking(move || c.output())
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only reads were sent.
    let writes: Vec<_> = handle
        .request_log()
        .into_iter()
        .filter(|r| {
            let m = r["method"].as_str().unwrap_or("");
            let p = r["path"].as_str().unwrap_or("");
            let q = r["query"].as_str().unwrap_or("");
            m != "GET" && q != "action=list_with_rules" && !p.starts_with("/api/session")
        })
        .collect();
    assert!(writes.is_empty(), "collect sent writes: {writes:#?}");

    let plan_from = |inventory: PathBuf, name: &str| {
        let path = dir.path().join(name);
        let out = bin()
            .args([
                "plan",
                "--created-at",
                "2026-11-20T10:00:00Z",
                "--inventory",
            ])
            .arg(&inventory)
            .arg("--out")
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        plan_schema::read_mp_plan_file(&path).unwrap()
    };
    let live = plan_from(collected.clone(), "live.toml");
    let seeded = plan_from(example, "seeded.toml");
    assert!(!live.steps.is_empty());
    assert_eq!(decisions(&live), decisions(&seeded));
    // The Kubernetes side is the same data, so its fingerprint is the same too.
    let kube = |p: &plan_schema::mp::Plan| {
        p.inputs
            .iter()
            .find(|i| i.name == "kubernetes")
            .unwrap()
            .sha256
            .clone()
    };
    assert_eq!(kube(&live), kube(&seeded));
    handle.shutdown().await;
}

/// A coordinator status NSX refuses to show (here a 403) is recorded as unknown, with a warning
/// on stderr, not silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_coordinator_status_is_recorded_as_unknown_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(
        &faults,
        "[[rule]]\nname = \"coordinator-403\"\nmethod = \"GET\"\npath = \"/api/v1/node/services/migration-coordinator/status\"\naction = \"status\"\nstatus = 403\n",
    )
    .unwrap();
    let handle = test_support::start_sim_with(SimConfig {
        faults: Some(faults),
        ..test_support::sim_config()
    })
    .await;
    let kubeconfig = test_support::kubeconfig(&handle, dir.path());
    let collected = dir.path().join("collected");
    let mut c = bin();
    c.args([
        "collect",
        "--nsx",
        &handle.base_url(),
        "--cluster",
        "kube-prod-01",
    ])
    .arg("--kubeconfig")
    .arg(&kubeconfig)
    .arg("--out")
    .arg(&collected);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: the migration coordinator's status could not be read"),
        "{stderr}"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(collected.join("metadata.json")).unwrap())
            .unwrap();
    assert!(meta["migration_coordinator"].is_null(), "{meta}");
    handle.shutdown().await;
}

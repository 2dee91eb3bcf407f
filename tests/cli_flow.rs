//! The window's commands through the CLI binary, over real HTTP against the simulator: `plan`
//! offline, `audit --detailed-exitcode` before and after, `apply --json` (every stdout line a JSON event),
//! `status --json`, a wrong `force-unlock` id, and `rollback`.

use std::process::{Command, Output};

use simulator::{SimConfig, Simulator};

fn bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsx-migrate"))
        .args(args)
        .env("NSX_USERNAME", simulator::DEFAULT_USERNAME)
        .env("NSX_PASSWORD", simulator::DEFAULT_PASSWORD)
        .env("NO_COLOR", "1")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_apply_status_rollback_through_the_cli() {
    let repo = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let h = Simulator::start(SimConfig {
        inventory: Some(repo.join("examples/inventories/small-cluster")),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let kubeconfig = d.path().join("kubeconfig");
    std::fs::write(&kubeconfig, h.kubeconfig()).unwrap();
    let kc = kubeconfig.to_str().unwrap();
    // The plan, made by the CLI from the inventory the simulator was seeded with.
    let plan = d.path().join("plan.toml");
    let plan = plan.to_str().unwrap();
    let inventory = repo.join("examples/inventories/small-cluster");
    let o = bin(&[
        "plan",
        "--inventory",
        inventory.to_str().unwrap(),
        "--out",
        plan,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let state = d.path().join("state");
    let state = state.to_str().unwrap();
    let url = h.base_url();
    let url = url.as_str();

    // Before: everything pending.
    let o = tokio::task::block_in_place(|| {
        bin(&["audit", plan, "--nsx", url, "--detailed-exitcode", "--json"])
    });
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        report["counts"]["pending"].as_u64().unwrap() > 10,
        "{report}"
    );
    // Without --detailed-exitcode a report with differences still exits 0.
    let o = tokio::task::block_in_place(|| bin(&["audit", plan, "--nsx", url]));
    assert_eq!(o.status.code(), Some(0));

    // Apply with JSON events.
    let o = tokio::task::block_in_place(|| {
        bin(&[
            "apply",
            plan,
            "--nsx",
            url,
            "--state-dir",
            state,
            "--kubeconfig",
            kc,
            "--json",
        ])
    });
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let events = json_lines(&o);
    assert!(events.len() > 20, "{}", events.len());
    // Progress events and log messages, each a JSON object.
    assert!(
        events
            .iter()
            .all(|e| e.get("event").is_some() || e.get("level").is_some()),
        "{events:?}"
    );
    for stage in ["prepare", "import", "update", "verify"] {
        assert!(
            events
                .iter()
                .any(|e| e["event"] == "stage_finished" && e["stage"] == stage),
            "{stage}"
        );
    }

    // Status as JSON: nothing pending, no records outstanding besides the imports.
    let o = tokio::task::block_in_place(|| bin(&["status", "--state-dir", state, "--json"]));
    assert_eq!(o.status.code(), Some(0));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["last_exit_code"], 0, "{status}");
    assert!(status["next_step"].is_null(), "{status}");
    assert_eq!(status["unrecorded_submissions"], 0);

    // After: clean.
    let o =
        tokio::task::block_in_place(|| bin(&["audit", plan, "--nsx", url, "--detailed-exitcode"]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // A wrong lock id is refused (exit 3) and changes nothing.
    let o =
        tokio::task::block_in_place(|| bin(&["force-unlock", "no-such-id", "--state-dir", state]));
    assert_eq!(o.status.code(), Some(3));

    // Rollback undoes every import; the audit shows the imports pending again.
    let o = tokio::task::block_in_place(|| bin(&["rollback", "--nsx", url, "--state-dir", state]));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = tokio::task::block_in_place(|| {
        bin(&["audit", plan, "--nsx", url, "--detailed-exitcode", "--json"])
    });
    assert_eq!(o.status.code(), Some(4));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for s in report["steps"].as_array().unwrap() {
        if s["step"].as_str().unwrap().starts_with("import/") {
            assert_eq!(s["state"], "pending", "{s}");
        }
    }
    h.shutdown().await;
}

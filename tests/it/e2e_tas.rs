//! A TAS foundation end to end over real HTTP: the simulator seeded with
//! `examples/inventories/tas-small` (NSX, and the foundation's Cloud Controller and UAA) ->
//! `nsx-migrate collect --cf-api` -> `plan` catches the orphaned app-instance port (an error
//! finding naming it); once NCP has removed it (the clean variant), the rest plans without
//! errors, applies and audits clean. The plan of the clean foundation is snapshot-tested.

use std::path::Path;
use std::process::Output;

use simulator::SimConfig;
use test_support::{TAS_ORPHAN_PORT, copy_dir, remove_tas_orphan, tas_example_inventory};

use crate::common::{cli_for_sim, text};

/// The CLI with the simulator's user as the CF user too.
fn bin(args: &[&str]) -> Output {
    cli_for_sim()
        .env("CF_USERNAME", simulator::DEFAULT_USERNAME)
        .env("CF_PASSWORD", simulator::DEFAULT_PASSWORD)
        .args(args)
        .output()
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn sim(inventory: &Path) -> simulator::SimHandle {
    test_support::start_sim_with(SimConfig {
        inventory: Some(inventory.to_path_buf()),
        ..SimConfig::default()
    })
    .await
}

/// collect (small pages, so that paging is exercised) and plan; returns the plan and its path.
fn collect_and_plan(url: &str, dir: &Path, name: &str) -> (plan_schema::mp::Plan, String) {
    let collected = dir.join(format!("{name}.inventory"));
    let spec = tas_example_inventory().join("user-spec.yaml");
    let o = bin(&[
        "collect",
        "--nsx",
        url,
        "--cluster",
        "tas-fnd1",
        "--cf-api",
        url,
        "--cf-per-page",
        "2",
        "--user-spec",
        s(&spec),
        "--out",
        s(&collected),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("Cloud Foundry objects"),
        "{}",
        text(&o.stdout)
    );
    let plan = dir.join(format!("{name}.toml"));
    let o = bin(&[
        "plan",
        "--created-at",
        "2026-11-20T10:00:00Z",
        "--inventory",
        s(&collected),
        "--out",
        s(&plan),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    (
        plan_schema::read_mp_plan_file(&plan).unwrap(),
        s(&plan).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tas_foundation_collect_plan_catches_the_orphan_then_applies_and_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    // The foundation as the example has it: the orphan is caught.
    let h = sim(&tas_example_inventory()).await;
    let url = h.base_url();
    let (plan, path) = tokio::task::block_in_place(|| collect_and_plan(&url, dir.path(), "orphan"));
    let errors: Vec<_> = plan
        .findings
        .iter()
        .filter(|f| f.severity == plan_schema::Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].check, "cf-counterpart-missing");
    assert_eq!(errors[0].subject.id, TAS_ORPHAN_PORT.0);
    assert_eq!(
        errors[0].subject.display_name.as_deref(),
        Some(TAS_ORPHAN_PORT.1)
    );
    // The Cloud Foundry side was read page by page, with a bearer token, and only read.
    let log = h.request_log();
    let cf: Vec<_> = log.iter().filter(|r| r["api"] == "cf").collect();
    assert!(
        cf.iter()
            .any(|r| r["path"] == "/v3/apps" && r["query"].as_str().unwrap().contains("page=2")),
        "{cf:#?}"
    );
    assert!(
        cf.iter()
            .filter(|r| r["path"].as_str().unwrap().ends_with("/stats"))
            .count()
            == 4
    );
    let writes: Vec<_> = log
        .iter()
        .filter(|r| r["method"] != "GET")
        .filter(|r| r["query"] != "action=list_with_rules")
        .filter(|r| !r["path"].as_str().unwrap().starts_with("/api/session"))
        .filter(|r| r["path"] != "/uaa/oauth/token")
        .collect();
    assert!(writes.is_empty(), "collect sent writes: {writes:#?}");
    // No secret reached the snapshot or the plan.
    for f in walk(&dir.path().join("orphan.inventory"))
        .into_iter()
        .chain([path.clone().into()])
    {
        let t = std::fs::read_to_string(&f).unwrap();
        assert!(!t.contains(simulator::DEFAULT_PASSWORD), "{}", f.display());
        assert!(!t.contains("access_token"), "{}", f.display());
    }
    // A plan with an error finding is refused by apply (exit 3), nothing sent.
    let state = dir.path().join("state-orphan");
    let o = tokio::task::block_in_place(|| {
        bin(&[
            "apply",
            &path,
            "--nsx",
            &url,
            "--state-dir",
            s(&state),
            "--skip-kubernetes-check",
        ])
    });
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    h.shutdown().await;

    // After NCP removed the orphan: plan, apply, audit.
    let clean = dir.path().join("clean-seed");
    copy_dir(&tas_example_inventory(), &clean);
    remove_tas_orphan(&clean);
    let h = sim(&clean).await;
    let url = h.base_url();
    let (plan, path) = tokio::task::block_in_place(|| collect_and_plan(&url, dir.path(), "clean"));
    assert!(
        plan.findings
            .iter()
            .all(|f| f.severity != plan_schema::Severity::Error),
        "{:#?}",
        plan.findings
    );
    let mut snap = serde_json::to_value(&plan).unwrap();
    // Where the inputs came from (temporary paths, the simulator's port) is not a decision.
    snap["plan_id"] = serde_json::Value::Null;
    snap["target"]["nsx_manager"] = serde_json::Value::Null;
    for i in snap["inputs"].as_array_mut().unwrap() {
        i["source"] = serde_json::Value::Null;
    }
    for f in snap["findings"].as_array_mut().unwrap() {
        if f["subject"]["resource_type"] == "NsxManager" {
            f["id"] = serde_json::Value::Null;
            f["subject"]["id"] = serde_json::Value::Null;
        }
    }
    insta::assert_json_snapshot!("tas_small_collected_plan", snap);

    // The reviewer's view counts a foundation's objects per org and space, from NCP's tags.
    let o = tokio::task::block_in_place(|| bin(&["show", &path, "--color", "never"]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let review = text(&o.stdout);
    assert!(review.contains("org/space"), "{review}");
    let org_space = review
        .lines()
        .filter(|l| l.contains("org ") && l.contains(" / space "))
        .count();
    assert!(org_space > 0, "no org/space group in:\n{review}");

    let state = dir.path().join("state");
    let o = tokio::task::block_in_place(|| {
        bin(&[
            "apply",
            &path,
            "--nsx",
            &url,
            "--state-dir",
            s(&state),
            "--skip-kubernetes-check",
        ])
    });
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let o = tokio::task::block_in_place(|| {
        bin(&[
            "audit",
            &path,
            "--nsx",
            &url,
            "--detailed-exitcode",
            "--json",
        ])
    });
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    h.shutdown().await;
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

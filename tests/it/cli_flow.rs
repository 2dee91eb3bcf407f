//! The window's commands through the CLI binary, over real HTTP against the simulator: `plan`
//! offline, `audit --detailed-exitcode` before and after, `apply --json` (every stdout line a JSON event),
//! `status --json`, a wrong `force-unlock` id, and `rollback`; refusals (altered plan, held lock,
//! another plan's journal) exit 3 with nothing sent; progress bars only on a terminal (a
//! pseudo-terminal from util-linux `script`), coloured only without `NO_COLOR`.

use std::process::{Command, Output};

use crate::common::{cli_for_sim, text};

fn bin(args: &[&str]) -> Output {
    cli_for_sim()
        .args(args)
        .env("NO_COLOR", "1")
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
    let d = tempfile::tempdir().unwrap();
    // The plan, made by the CLI from the inventory the simulator was seeded with.
    let (h, plan, kc) = seeded_with_plan(d.path()).await;
    let (plan, kc) = (plan.as_str(), kc.as_str());
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
        bin(&[&apply_args(plan, url, state, kc)[..], &["--json"]].concat())
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

    // Drift after a clean apply: a renamed segment's NCP tags replaced by `ncp/cluster` and a
    // foreign tag. Its only planned change was its name, yet the audit compares the whole
    // planned end state: exit 4, naming the segment and the tags that differ.
    let parsed = plan_schema::read_mp_plan_file(std::path::Path::new(plan)).unwrap();
    let path = parsed
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::mp::Action::PolicyUpdate(u)
                if u.resource_type == "Segment" && u.tags_add.is_empty() =>
            {
                Some(u.path.clone())
            }
            _ => None,
        })
        .expect("a renamed segment");
    let nsx = executor::client::NsxClient::new(executor::client::NsxConfig::new(
        url,
        Some(executor::client::Credentials::new(
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD,
        )),
    ))
    .unwrap();
    let before = nsx.get(&format!("/policy/api/v1{path}")).await.unwrap();
    nsx.send(
        executor::client::Request::patch(format!("/policy/api/v1{path}"))
            .json(
                serde_json::json!({"tags": [{"scope": "ncp/cluster", "tag": parsed.target.cluster},
                                     {"scope": "owner", "tag": "someone-else"}]}),
            )
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let o = tokio::task::block_in_place(|| {
        bin(&["audit", plan, "--nsx", url, "--detailed-exitcode", "--json"])
    });
    assert_eq!(o.status.code(), Some(4), "{}", text(&o.stdout));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let drift = &report["drift"][0];
    assert_eq!(drift["path"], path.as_str(), "{report}");
    assert_eq!(
        drift["tags_extra"],
        serde_json::json!(["owner=someone-else"])
    );
    assert!(
        drift["tags_missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t.as_str().unwrap().starts_with("ncp/project=")),
        "{drift}"
    );
    let o = tokio::task::block_in_place(|| bin(&["audit", plan, "--nsx", url]));
    assert!(text(&o.stdout).contains(&path) && text(&o.stdout).contains("owner=someone-else"));
    nsx.send(
        executor::client::Request::patch(format!("/policy/api/v1{path}"))
            .json(serde_json::json!({"tags": before["tags"]}))
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();

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

/// A simulator seeded with the example inventory, its kubeconfig, and a plan of it made by the
/// CLI, in `d`.
async fn seeded_with_plan(d: &std::path::Path) -> (simulator::SimHandle, String, String) {
    let inventory = test_support::example_inventory();
    let h = test_support::start_sim().await;
    let kubeconfig = test_support::kubeconfig(&h, d);
    let plan = d.join("plan.toml");
    let o = bin(&[
        "plan",
        "--inventory",
        inventory.to_str().unwrap(),
        "--out",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    (
        h,
        plan.to_str().unwrap().to_string(),
        kubeconfig.to_str().unwrap().to_string(),
    )
}

fn apply_args<'a>(plan: &'a str, url: &'a str, state: &'a str, kc: &'a str) -> [&'a str; 8] {
    [
        "apply",
        plan,
        "--nsx",
        url,
        "--state-dir",
        state,
        "--kubeconfig",
        kc,
    ]
}

fn writes(h: &simulator::SimHandle) -> usize {
    h.request_log()
        .iter()
        .filter(|r| r["method"] != "GET" && r["api"] != "k8s")
        // The lock on the manager is taken and removed around every run; it changes nothing.
        .filter(|r| {
            !r["path"]
                .as_str()
                .unwrap_or("")
                .ends_with("/nsx-migrate-lock")
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_applies_exit_3_and_send_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (h, plan, kc) = seeded_with_plan(d.path()).await;
    let url = h.base_url();
    let apply = |plan: &str, state: &str| {
        tokio::task::block_in_place(|| bin(&apply_args(plan, url.as_str(), state, &kc)))
    };
    let state = d.path().join("state");
    let state = state.to_str().unwrap();

    // Altered by hand after review.
    let altered = d.path().join("altered.toml");
    let t = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&altered, t.replacen("insert_after", "insert_before", 1)).unwrap();
    let o = apply(altered.to_str().unwrap(), state);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("altered"), "{}", text(&o.stderr));

    // A lock held by another run.
    let (lock, _) = executor::lock::acquire(std::path::Path::new(state), "other-operator").unwrap();
    let o = apply(&plan, state);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains(&lock.info.id),
        "names the lock to force-unlock: {}",
        text(&o.stderr)
    );
    drop(lock);

    // A state dir holding another plan's journal.
    let other = d.path().join("other");
    let foreign = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    test_support::journal::write_foreign(&other, foreign);
    let o = apply(&plan, other.to_str().unwrap());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("2222"), "{}", text(&o.stderr));

    assert_eq!(writes(&h), 0, "a refused apply sent a write");
    h.shutdown().await;
}

/// Runs the CLI under a pseudo-terminal (util-linux `script`), returning what the terminal showed.
fn on_a_terminal(args: &[&str], no_color: bool) -> (Option<i32>, String) {
    let mut cmd = vec![env!("CARGO_BIN_EXE_nsx-migrate").to_string()];
    cmd.extend(args.iter().map(|a| a.to_string()));
    let line = cmd
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut c = Command::new("script");
    c.args(["-qefc", &line, "/dev/null"])
        .env("NSX_USERNAME", simulator::DEFAULT_USERNAME)
        .env("NSX_PASSWORD", simulator::DEFAULT_PASSWORD)
        .env_remove("KUBECONFIG")
        .env("TERM", "xterm");
    if no_color {
        c.env("NO_COLOR", "1");
    } else {
        c.env_remove("NO_COLOR");
    }
    let o = c
        .output()
        .expect("util-linux `script` runs the CLI on a pseudo-terminal");
    (o.status.code(), text(&o.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_bars_only_on_a_terminal_and_colour_only_without_no_color() {
    let d = tempfile::tempdir().unwrap();
    let (h, plan, kc) = seeded_with_plan(d.path()).await;
    let url = h.base_url();
    let state = d.path().join("state");
    let state = state.to_str().unwrap();
    let sgr_colour = |s: &str| s.contains("\u{1b}[1m") || s.contains("\u{1b}[36m");

    // On a terminal with NO_COLOR: bars per stage, no colour.
    let (code, shown) = tokio::task::block_in_place(|| {
        on_a_terminal(&apply_args(&plan, url.as_str(), state, &kc), true)
    });
    assert_eq!(code, Some(0), "{shown}");
    for stage in ["prepare", "import", "update", "verify"] {
        assert!(shown.contains(stage), "no {stage} bar: {shown}");
    }
    assert!(shown.contains("[===="), "no bar drawn: {shown}");
    assert!(shown.contains("done"), "{shown}");
    assert!(!sgr_colour(&shown), "colour despite NO_COLOR: {shown:?}");

    // On a terminal without NO_COLOR: coloured bars (the rollback's).
    let (code, shown) = tokio::task::block_in_place(|| {
        on_a_terminal(
            &["rollback", "--nsx", url.as_str(), "--state-dir", state],
            false,
        )
    });
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("rollback"), "{shown}");
    assert!(sgr_colour(&shown), "no colour on a terminal: {shown:?}");

    h.shutdown().await;

    // Piped: no bar, no carriage return, no escape sequence.
    let d = tempfile::tempdir().unwrap();
    let (h, plan, kc) = seeded_with_plan(d.path()).await;
    let url = h.base_url();
    let state = d.path().join("state");
    let state = state.to_str().unwrap();
    let o = tokio::task::block_in_place(|| bin(&apply_args(&plan, url.as_str(), state, &kc)));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(!err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
    assert!(!err.contains("[===="), "a bar on a pipe: {err}");
    h.shutdown().await;
}

//! The VIO window phases against the simulator on 127.0.0.1: edge preparation (NSX-V vNICs,
//! edge transport nodes, token), the coordinator's edge cutover and host migration, the point
//! of no return, feedback, the coordinator's faults and timeouts, rollback before and after the
//! host migration, and kill points in the window.

use std::path::Path;
use std::time::Duration;

use executor::client::{NsxClient, ServiceConfig};
use executor::{ApplyOptions, ExitCode};
use plan_schema::vio::{Action, FeedbackResponse, Plan, StartBy};
use planner::vio::rules::VioRules;
use serde_json::{Value, json};

use crate::common::{apply_opts, full_log, journal_lines, nsx_config, rollback_opts, sim_control};
use crate::vio_common::{
    VioFixture, assert_killed, build_plan, changes, clean_inventory, clean_plan, edit_json,
    harness_apply, is_change, journal_records, quick_retry, reseal, save_plan_in, started_by_apply,
    window_clients, window_clients_with, without_octavia,
};

/// Coordinator timings for tests: each component's work is done within a millisecond.
const FAST: &str = "[migration.v2t]\nedge_s_per_dlr = 0\ndfw_s = 0\nhost_s_per_host = 0\n";

/// The fixture of the window's tests (the plan's runs started by apply).
struct W(VioFixture);

impl std::ops::Deref for W {
    type Target = VioFixture;
    fn deref(&self) -> &VioFixture {
        &self.0
    }
}

/// The clean example's plan with both coordinator runs started by apply (the planner's
/// default is the operator), its load balancer included, `edit` applied, resealed.
fn window_plan(edit: impl FnOnce(&mut Plan)) -> Plan {
    let mut plan = clean_plan();
    started_by_apply(&mut plan);
    edit(&mut plan);
    reseal(&mut plan);
    plan
}

async fn fixture_with(faults: &str, edit: impl FnOnce(&mut Plan)) -> W {
    W(VioFixture::builder()
        .faults(faults)
        .start(|_| window_plan(edit))
        .await)
}

async fn fixture(faults: &str) -> W {
    fixture_with(faults, |_| {}).await
}

impl W {
    fn opts(&self, confirm: bool) -> ApplyOptions {
        self.window_opts(confirm)
    }

    fn nsx(&self) -> NsxClient {
        NsxClient::new(nsx_config(&self.h)).unwrap()
    }

    async fn rollback(&self) -> executor::Outcome {
        let mut r = rollback_opts(&self.h, &self.state);
        r.openstack = Some(self.os.clone());
        r.window = window_clients(&self.h);
        executor::rollback(&r).await.expect("not refused")
    }

    /// vNIC `edge/index` connected?
    async fn vnic_connected(&self, edge: &str, index: u32) -> bool {
        let v = window_clients(&self.h).nsxv.unwrap();
        v.get_json(&format!("/api/4.0/edges/{edge}/vnics/{index}"))
            .await
            .unwrap()["isConnected"]
            == json!(true)
    }

    async fn power(&self, vm: &str) -> String {
        let vc = window_clients(&self.h).vcenter.unwrap();
        vc.get(&format!("/api/vcenter/vm/{vm}/power"))
            .await
            .unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn tn_enabled(&self, tn: &str) -> bool {
        self.nsx()
            .get(&format!(
                "/api/v1/transport-nodes/{tn}/node/v2t-migration-config"
            ))
            .await
            .unwrap()["enabled"]
            == json!(true)
    }

    async fn coordinator_mode(&self) -> Value {
        self.nsx().get("/api/v1/migration/setup").await.unwrap()["migration_mode"].clone()
    }

    async fn mapping_present(&self) -> bool {
        self.nsx()
            .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
            .await
            .unwrap()["is_present"]
            == json!(true)
    }

    async fn advance_clock(&self, seconds: u64) {
        let r = sim_control(
            &self.h,
            reqwest::Method::POST,
            &format!("/_sim/v2t/clock?advance_seconds={seconds}"),
            None,
        )
        .await;
        assert!(r.status().is_success());
    }
}

const EDGES_DOWN: [(&str, u32); 3] = [("edge-1", 0), ("edge-4", 1), ("edge-9", 0)];
const TNS: [&str; 2] = [
    "93ff563c-b1ef-5a5e-8bea-6410b8d61051",
    "d0d4f118-ef7b-5d0b-b897-107a17fc2d3b",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_example_runs_through_the_host_migration_and_a_rerun_sends_nothing() {
    let f = fixture(FAST).await;
    let out = executor::apply(&f.opts(true)).await.expect("not refused");
    // The VIO reconfiguration is not built yet: the run stops before it, after the host
    // migration.
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("stopped before phase `vio_reconfig`"),
        "{}",
        out.message
    );
    let log = changes(&f.h, 0);
    let has = |s: &str| log.iter().any(|l| l.starts_with(s));
    for call in [
        "PUT /api/4.0/edges/edge-1/vnics/0",
        "POST /api/2.0/services/auth/token",
        "PUT /api/v1/migration/setup",
        "POST /api/v1/migration/data/upload",
        "POST /api/v1/migration/plan?action=start",
        "POST /api/v1/migration/plan?action=finish",
        "POST /api/vcenter/vm/vm-110/power?action=stop",
    ] {
        assert!(has(call), "{call} not sent: {log:#?}");
    }
    // Order: the edge cutover's finish comes after its start and before the host setup.
    let pos = |s: &str| log.iter().position(|l| l.starts_with(s)).unwrap();
    assert!(
        pos("POST /api/v1/migration/data/upload") < pos("POST /api/v1/migration/plan?action=start")
    );
    assert!(
        pos("POST /api/vcenter/vm/vm-118/power?action=stop")
            < log
                .iter()
                .rposition(|l| l.starts_with("PUT /api/v1/migration/setup"))
                .unwrap()
    );
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("PUT /api/v1/migration/setup"))
            .count(),
        2,
        "one setup per mode: {log:#?}"
    );
    for (e, i) in EDGES_DOWN {
        assert!(!f.vnic_connected(e, i).await, "{e}/{i} still connected");
    }
    for vm in ["vm-110", "vm-114", "vm-118"] {
        assert_eq!(f.power(vm).await, "POWERED_OFF");
    }
    // v2t-migration-config: enabled for the cutover, disabled after the host migration.
    for tn in TNS {
        assert!(!f.tn_enabled(tn).await);
    }
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("{}/node/v2t-migration-config", TNS[0])))
    );
    // Both runs finished: the coordinator is free again.
    assert_eq!(f.coordinator_mode().await, Value::Null);
    // No secret in the journal (the setup's vCenter password and token are redacted).
    let journal = std::fs::read_to_string(f.state.join("journal.jsonl")).unwrap();
    assert!(!journal.contains(simulator::DEFAULT_PASSWORD));
    assert!(journal.contains("<redacted>"));

    // Re-run: nothing is sent.
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts(true)).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed, "{}", again.message);
    assert_eq!(changes(&f.h, from), Vec::<String>::new());
    assert_eq!(again.writes_sent, 0);

    // After the host migration began, rollback is refused with the reason and sends nothing.
    let from = f.h.request_log().len();
    let rb = f.rollback().await;
    assert_eq!(rb.exit_code, ExitCode::Refused, "{}", rb.message);
    assert!(
        rb.message.contains("host migration") && rb.message.contains("30533"),
        "{}",
        rb.message
    );
    assert_eq!(changes(&f.h, from), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_confirmation_nothing_of_the_host_migration_is_sent_and_rollback_restores_the_window()
 {
    let f = fixture(FAST).await;
    let out = executor::apply(&f.opts(false)).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("--confirm-point-of-no-return")
            && out.message.contains("point of no return"),
        "{}",
        out.message
    );
    let log = changes(&f.h, 0);
    assert!(
        log.iter().any(|l| l.contains("plan?action=start")),
        "{log:#?}"
    );
    // Nothing of the host migration phase: no power-off, no finish, no second setup, no
    // group change, no transport node disabled.
    for l in &log {
        assert!(
            !l.contains("/api/vcenter/")
                && !l.contains("action=finish")
                && !l.contains("migration-unit-groups"),
            "sent for the host migration: {l}"
        );
    }
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("/api/v1/migration/setup"))
            .count(),
        1
    );
    assert_eq!(f.coordinator_mode().await, json!("EDGE_CUTOVER"));
    for tn in TNS {
        assert!(f.tn_enabled(tn).await);
    }
    assert!(f.mapping_present().await);

    // A re-run without the confirmation stops again and sends nothing.
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts(false)).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed);
    assert_eq!(changes(&f.h, from), Vec::<String>::new());

    // Rollback before the host migration: coordinator rolled back and freed, transport nodes
    // disabled, vNICs reconnected, then the replay removed.
    let rb = f.rollback().await;
    assert_eq!(rb.exit_code, ExitCode::Success, "{}", rb.message);
    assert!(rb.message.contains("window record"), "{}", rb.message);
    assert_eq!(f.coordinator_mode().await, Value::Null);
    assert!(!f.mapping_present().await);
    for tn in TNS {
        assert!(!f.tn_enabled(tn).await);
    }
    for (e, i) in EDGES_DOWN {
        assert!(f.vnic_connected(e, i).await, "{e}/{i} not reconnected");
    }

    // Forward again with the confirmation: the mapping is uploaded again, and it finishes.
    let from = f.h.request_log().len();
    let fwd = executor::apply(&f.opts(true)).await.expect("not refused");
    assert!(
        fwd.message.contains("stopped before phase `vio_reconfig`"),
        "{}",
        fwd.message
    );
    assert!(
        changes(&f.h, from)
            .iter()
            .any(|l| l.starts_with("POST /api/v1/migration/data/upload"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_feedback_stops_with_the_list_and_the_plans_answer_resolves_it() {
    let faults = format!("{FAST}feedback_edges = [\"edge-2\"]\n");
    let f = fixture(&faults).await;
    let out = executor::apply(&f.opts(true)).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("feedback the plan does not answer")
            && out.message.contains("feedback-1")
            && out.message.contains("EDGE_CUTOVER_DLR")
            && out.message.contains("edge-2"),
        "{}",
        out.message
    );
    let log = changes(&f.h, 0);
    assert!(
        !log.iter().any(|l| l.contains("feedback-response")),
        "nothing answered: {log:#?}"
    );

    // A plan that answers it (by hash), applied from a new state directory: the replay and
    // the edge preparation are adopted from live state, the answer sent, the run continued.
    let d2 = tempfile::tempdir().unwrap();
    let p2 = save_plan_in(
        d2.path(),
        &window_plan(|p| {
            for s in &mut p.steps {
                if let Action::EdgeCutover(c) = &mut s.action {
                    c.feedback.push(FeedbackResponse {
                        request: "EDGE_CUTOVER_DLR".into(),
                        action: "skip".into(),
                        value: None,
                        ..Default::default()
                    });
                }
            }
        }),
    );
    let mut o = apply_opts(&f.h, &p2, &d2.path().join("state"));
    o.openstack = Some(f.os.clone());
    o.window = window_clients(&f.h);
    o.confirm_point_of_no_return = true;
    let from = f.h.request_log().len();
    let out = executor::apply(&o).await.expect("not refused");
    assert!(
        out.message.contains("stopped before phase `vio_reconfig`"),
        "{}",
        out.message
    );
    let log = changes(&f.h, from);
    assert!(
        log.iter()
            .any(|l| l == "PUT /api/v1/migration/feedback-response"),
        "{log:#?}"
    );
    assert!(
        !log.iter().any(|l| l.contains("accept-recommended")),
        "{log:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_recommended_only_when_the_plan_says_so() {
    let faults = format!("{FAST}feedback_edges = [\"edge-2\"]\n");
    let f = fixture_with(&faults, |p| {
        for s in &mut p.steps {
            if let Action::EdgeCutover(c) = &mut s.action {
                c.accept_recommended = true;
            }
        }
    })
    .await;
    let out = executor::apply(&f.opts(true)).await.expect("not refused");
    assert!(
        out.message.contains("stopped before phase `vio_reconfig`"),
        "{}",
        out.message
    );
    assert!(
        changes(&f.h, 0)
            .iter()
            .any(|l| l.contains("feedback-response?action=accept-recommended"))
    );
}

/// `start = "operator"` (the planner's default): apply sets the run up and waits; the
/// operator's start (here: the test, as the NSX UI would) lets it go on; apply never starts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_start_by_the_operator_apply_waits_for_the_operators_start() {
    let f = fixture_with(FAST, |p| {
        for s in &mut p.steps {
            if let Action::EdgeCutover(c) = &mut s.action {
                c.start = StartBy::Operator;
            }
        }
    })
    .await;
    let o = f.opts(false);
    let run = tokio::spawn(async move { executor::apply(&o).await });
    let nsx = f.nsx();
    let mut ready = false;
    for _ in 0..4000 {
        if nsx
            .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
            .await
            .is_ok_and(|d| d["is_present"] == json!(true))
            && nsx
                .get("/api/v1/migration/status-summary")
                .await
                .is_ok_and(|s| s["overall_migration_status"] == "NOT_STARTED")
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ready, "set up and waiting");
    // Still waiting a while later, and it did not start the run itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!run.is_finished());
    assert!(!changes(&f.h, 0).iter().any(|l| l.contains("action=start")));
    nsx.post("/api/v1/migration/plan?action=start", &json!({}))
        .await
        .unwrap();
    let out = finished(run).await;
    // On to the point of no return (not confirmed here).
    assert!(
        out.message.contains("--confirm-point-of-no-return"),
        "{}",
        out.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_the_window_redacted_and_sends_nothing() {
    let f = fixture(FAST).await;
    let mut o = f.opts(true);
    o.dry_run = true;
    let out = executor::apply(&o).await.expect("not refused");
    let reqs = &out.dry_run_requests;
    let has = |s: &str| reqs.iter().any(|r| r.starts_with(s));
    for r in [
        "PUT [nsx-v]/api/4.0/edges/edge-1/vnics/0",
        "POST [nsx-v]/api/2.0/services/auth/token",
        "PUT /api/v1/migration/setup",
        "POST /api/v1/migration/data/upload",
        "POST [vcenter]/api/vcenter/vm/vm-110/power?action=stop",
    ] {
        assert!(has(r), "{r} not listed: {reqs:#?}");
    }
    assert!(
        reqs.iter()
            .all(|r| !r.contains(simulator::DEFAULT_PASSWORD))
    );
    assert_eq!(out.writes_sent, 0);
    assert_eq!(changes(&f.h, 0), Vec::<String>::new());
}

/// Each coordinator fault of `[migration.v2t]`, per stage, with its seed code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coordinator_faults_stop_with_their_seed_codes() {
    for (faults, code, stage) in [
        ("fail_at = { EDGE = 50.0 }\n", "1110", "edge-cutover/run"),
        ("fail_at = { HOST = 50.0 }\n", "1120", "host-migration/run"),
    ] {
        let f = fixture(&format!("{FAST}{faults}")).await;
        let out = executor::apply(&f.opts(true)).await.expect("not refused");
        assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
        assert!(
            out.message.contains(&format!("seed error {code}")) && out.message.contains(stage),
            "{faults}: {}",
            out.message
        );
    }
    // Refused calls of each stage (HTTP 500 from NSX, NSX-V, vCenter).
    let refuse = |method: &str, path: &str, nth: u32| {
        format!(
            "\n[[rule]]\nmethod = \"{method}\"\npath = \"{path}\"\nnth = [{nth}]\naction = \"status\"\nstatus = 500\n"
        )
    };
    for (rule, code, stage) in [
        (
            refuse("PUT", "/api/4.0/edges/edge-4/vnics/1", 1),
            "1008",
            "edge-prep/vnics-down/edge-4",
        ),
        (
            refuse("PUT", "/api/v1/migration/setup", 1),
            "1007",
            "edge-cutover/run",
        ),
        (
            refuse("POST", "/api/vcenter/vm/vm-113/power", 1),
            "1115",
            "host-migration/power-off/edge-4",
        ),
        (
            refuse("PUT", "/api/v1/migration/setup", 2),
            "1120",
            "host-migration/run",
        ),
    ] {
        let f = fixture(&format!("{FAST}{rule}")).await;
        let out = executor::apply(&f.opts(true)).await.expect("not refused");
        assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
        assert!(
            out.message.contains(&format!("seed error {code}")) && out.message.contains(stage),
            "{rule}: {}",
            out.message
        );
    }
}

/// The coordinator's timeouts on its virtual clock (12 h edge cutover; the host migration's,
/// shortened): the run stops with 1132.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_run_past_its_timeout_stops_with_1132() {
    // The run's work takes virtual days: it cannot finish before its limit.
    for (faults, mode, advance_h, limit) in [
        (
            "edge_s_per_dlr = 864000\ndfw_s = 0\nhost_s_per_host = 0\n",
            "EDGE_CUTOVER",
            13,
            "12 hours",
        ),
        // The host migration's limit shortened to 10 h: the NSX-V token (at most 24 h) would
        // run out before the seed's 48 h, which fails the run differently (seed 1120).
        (
            "edge_s_per_dlr = 0\ndfw_s = 0\nhost_s_per_host = 864000\nhost_timeout_s = 36000\n",
            "DFW_AND_HOST_AND_WORKLOAD",
            11,
            "10 hours",
        ),
    ] {
        let f = fixture(&format!("[migration.v2t]\n{faults}")).await;
        let o = f.opts(true);
        let run = tokio::spawn(async move { executor::apply(&o).await });
        until_running(&f, mode).await;
        f.advance_clock(advance_h * 3600).await;
        let out = finished(run).await;
        assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
        assert!(
            out.message.contains("seed error 1132") && out.message.contains(limit),
            "{mode}: {}",
            out.message
        );
    }
}

/// `executor-crash-harness apply` of the fixture's plan in a child process, with the window's
/// clients and the point of no return confirmed; SIGKILLed after its `kill`-th journal record.
async fn apply_child(f: &W, kill: Option<u64>) -> std::process::ExitStatus {
    harness_apply(&f.h, &f.plan_path, &f.state, true, kill).await
}

/// Journal positions (1-based) of every record of the window's steps.
fn window_points(state: &Path) -> Vec<u64> {
    use plan_schema::journal::JournalEvent;
    let records = journal_records(state);
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| match &r.event {
            JournalEvent::StepIntent { step, .. }
            | JournalEvent::StepDone { step, .. }
            | JournalEvent::MigrationRecorded { step, .. } => {
                step.starts_with("edge-") || step.starts_with("host-migration/")
            }
            _ => false,
        })
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

/// Which points to run: all with NSX_MIGRATE_CRASH_POINTS=all, else a spread of `n`.
fn spread(points: Vec<u64>, n: usize) -> Vec<u64> {
    if std::env::var("NSX_MIGRATE_CRASH_POINTS").ok().as_deref() == Some("all") || points.len() <= n
    {
        return points;
    }
    let step = points.len() as f64 / n as f64;
    (0..n)
        .map(|i| points[((i as f64 + 0.5) * step) as usize])
        .collect()
}

/// The end state every converged run must show.
async fn assert_converged(f: &W, k: u64) {
    for (e, i) in EDGES_DOWN {
        assert!(!f.vnic_connected(e, i).await, "k={k}: {e}/{i} connected");
    }
    for vm in ["vm-110", "vm-118"] {
        assert_eq!(f.power(vm).await, "POWERED_OFF", "k={k}");
    }
    for tn in TNS {
        assert!(!f.tn_enabled(tn).await, "k={k}");
    }
    assert_eq!(f.coordinator_mode().await, Value::Null, "k={k}");
    // Each coordinator run set up once per mode at most twice (a kill between the setup and
    // its record repeats nothing: the second run reads the setup back).
    let log = changes(&f.h, 0);
    for action in ["action=start", "data/upload"] {
        let n = log.iter().filter(|l| l.contains(action)).count();
        assert!(n <= 2, "k={k}: {action} sent {n} times: {log:#?}");
    }
    let fips =
        f.os.list_all("network-replay", "/v2.0/floatingips", "floatingips")
            .await
            .unwrap();
    assert_eq!(fips.len(), 2, "k={k}: no floating IP twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_window_point_converges() {
    let reference = fixture(FAST).await;
    let status = apply_child(&reference, None).await;
    assert_eq!(status.code(), Some(1), "stops before vio_reconfig");
    let all = window_points(&reference.state);
    assert!(all.len() >= 40, "{} window points", all.len());
    drop(reference);

    let total = all.len();
    let points = spread(all, 6);
    eprintln!("window kill points: running {} of {total}", points.len());
    for k in points {
        let f = fixture(FAST).await;
        let killed = apply_child(&f, Some(k)).await;
        assert_killed(killed, k);
        assert!(journal_lines(&f.state) >= k as usize, "k={k}");
        let again = apply_child(&f, None).await;
        assert_eq!(again.code(), Some(1), "k={k}: the re-run converges");
        assert_converged(&f, k).await;
        // The journal is whole and every window step is done.
        let records = journal_records(&f.state);
        let p = executor::progress::Progress::from_records(&records);
        for s in [
            "edge-cutover/run",
            "host-migration/run",
            "edge-prep/nsxv-token",
        ] {
            assert!(p.is_done(s), "k={k}: {s} not done");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fault matrix (issue 15: "each fault of the simulator in each stage has a test with its
// exit code"). docs/recovery.md has the whole table, with the tests of the other stages.

/// One fault of the matrix: a simulator rule on one call of the window, the seed code and step
/// the stop must name, and calls that must not have been sent (`(prefix, at most)`).
struct Case {
    name: &'static str,
    rule: Value,
    code: &'static str,
    step: &'static str,
    at_most: &'static [(&'static str, usize)],
}

fn rule(method: &str, path: &str, query: Option<&str>, action: Value) -> Value {
    let mut r = json!({"method": method, "path": path});
    if let Some(q) = query {
        r["query"] = json!(q);
    }
    for (k, v) in action.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

/// One case on a fresh clean example: the run stops with exit 1 and the seed code naming the
/// step; after the faulted call nothing but its own retries was changed (when the simulator
/// logged the fault: a hang is never answered, so never logged), and the later calls listed
/// were not sent.
async fn run_case(c: Case) {
    let quick = quick_retry();
    {
        let f = fixture(FAST).await;
        crate::common::add_fault(&f.h, c.rule.clone()).await;
        let mut o = f.opts(true);
        // A hang is noticed at the client's timeout, each retriable failure retried once.
        o.nsx.retry = quick.clone();
        o.nsx.timeout = Duration::from_millis(1500);
        o.poll.done_timeout = Duration::from_millis(1500);
        let cfg = ServiceConfig {
            timeout: Duration::from_millis(1500),
            retry: quick.clone(),
            ..ServiceConfig::default()
        };
        o.window = window_clients_with(&f.h, cfg);
        let out = executor::apply(&o).await.expect("not refused");
        let name = c.name;
        assert_eq!(out.exit_code, ExitCode::Mixed, "{name}: {}", out.message);
        assert!(
            out.message.contains(&format!("seed error {}", c.code)) && out.message.contains(c.step),
            "{name}: {}",
            out.message
        );
        let log = full_log(&f.h);
        if let Some(at) = log.iter().find(|r| r.get("fault").is_some()) {
            let faulted = (at["method"].clone(), at["path"].clone());
            let seq = at["seq"].as_u64().unwrap();
            let after: Vec<String> = log
                .iter()
                .filter(|r| r["seq"].as_u64().unwrap() > seq && is_change(r))
                .filter(|r| (r["method"].clone(), r["path"].clone()) != faulted)
                .map(|r| format!("{} {}", r["method"], r["path"]))
                .collect();
            assert_eq!(after, Vec::<String>::new(), "{name}: sent after the fault");
        }
        let sent = changes(&f.h, 0);
        for (prefix, n) in c.at_most {
            let got = sent.iter().filter(|l| l.starts_with(prefix)).count();
            assert!(got <= *n, "{name}: {prefix} sent {got} times: {sent:#?}");
        }
    }
}

/// The cases side by side (each its own simulator: the time is the replay's pacing, not CPU).
async fn run_matrix(cases: Vec<Case>) {
    let runs: Vec<_> = cases
        .into_iter()
        .map(|c| tokio::spawn(run_case(c)))
        .collect();
    for r in runs {
        r.await.expect("case passed");
    }
}

/// The service-down answer of the simulator's coordinator (`[migration.v2t] service_down`).
fn down() -> Value {
    json!({"action": "status", "status": 503, "error_code": 101,
        "message": "Some appliance components are not functioning properly: the migration coordinator service is not available.",
        "name": "coordinator-down"})
}

/// Edge preparation and edge cutover: HTTP 4xx, connection reset and a hang past the client's
/// timeout (HTTP 5xx of each stage: `coordinator_faults_stop_with_their_seed_codes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_edge_preparation_and_edge_cutover() {
    let status = |s: u16| json!({"action": "status", "status": s});
    run_matrix(vec![
        Case {
            name: "edge prep, 4xx on the NSX-V token",
            rule: rule("POST", "/api/2.0/services/auth/token", None, status(400)),
            code: "1007",
            step: "edge-prep/nsxv-token",
            at_most: &[("PUT /api/v1/migration/setup", 0)],
        },
        Case {
            name: "edge prep, reset on v2t-migration-config",
            rule: rule(
                "PUT",
                "/api/v1/transport-nodes/*/node/v2t-migration-config",
                None,
                json!({"action": "reset"}),
            ),
            code: "1007",
            step: "edge-prep/v2t-config-on/",
            at_most: &[
                ("POST /api/2.0/services/auth/token", 0),
                ("PUT /api/v1/migration/setup", 0),
            ],
        },
        Case {
            name: "edge prep, hang on an edge vNIC",
            rule: rule(
                "PUT",
                "/api/4.0/edges/edge-4/vnics/1",
                None,
                json!({"action": "hang"}),
            ),
            code: "1008",
            step: "edge-prep/vnics-down/edge-4",
            at_most: &[
                ("PUT /api/v1/transport-nodes/", 0),
                ("PUT /api/v1/migration/setup", 0),
            ],
        },
        Case {
            name: "edge cutover, 4xx on the mapping upload",
            rule: rule("POST", "/api/v1/migration/data/upload", None, status(400)),
            code: "1007",
            step: "edge-cutover/run",
            at_most: &[("POST /api/v1/migration/plan?action=start", 0)],
        },
        Case {
            name: "edge cutover, reset on start",
            rule: rule(
                "POST",
                "/api/v1/migration/plan",
                Some("action=start"),
                json!({"action": "reset"}),
            ),
            code: "1110",
            step: "edge-cutover/run",
            at_most: &[
                ("POST /api/v1/migration/plan?action=start", 1),
                ("POST /api/v1/migration/plan?action=finish", 0),
                ("POST /api/vcenter/", 0),
            ],
        },
        Case {
            name: "edge cutover, hang reading the coordinator",
            rule: rule(
                "GET",
                "/api/v1/migration/data",
                Some("file_type=EDGE_CUTOVER_MAPPING"),
                json!({"action": "hang"}),
            ),
            code: "1001",
            step: "edge-cutover/run",
            at_most: &[
                ("POST /api/v1/migration/data/upload", 0),
                ("POST /api/v1/migration/plan?action=start", 0),
            ],
        },
    ])
    .await;
}

/// Host migration: HTTP 4xx, connection reset, a hang past the timeout, the coordinator down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_host_migration() {
    let mut service_down = rule(
        "GET",
        "/api/v1/migration/migration-unit-groups",
        None,
        down(),
    );
    service_down["name"] = json!("coordinator-down");
    run_matrix(vec![
        Case {
            name: "host migration, 4xx finishing the edge cutover",
            rule: rule(
                "POST",
                "/api/v1/migration/plan",
                Some("action=finish"),
                json!({"action": "status", "status": 400}),
            ),
            code: "1130",
            step: "host-migration/run",
            at_most: &[("PUT /api/v1/migration/setup", 1)],
        },
        Case {
            name: "host migration, reset powering off an edge VM",
            rule: rule(
                "POST",
                "/api/vcenter/vm/vm-113/power",
                None,
                json!({"action": "reset"}),
            ),
            code: "1115",
            step: "host-migration/power-off/edge-4",
            at_most: &[
                ("POST /api/v1/migration/plan?action=finish", 0),
                ("PUT /api/v1/migration/setup", 1),
            ],
        },
        Case {
            name: "host migration, hang on its start",
            rule: json!({"method": "POST", "path": "/api/v1/migration/plan",
                "query": "action=start", "nth": [2], "action": "hang"}),
            code: "1120",
            step: "host-migration/run",
            at_most: &[
                ("POST /api/v1/migration/plan?action=finish", 1),
                ("PUT /api/v1/transport-nodes/", 2),
            ],
        },
        Case {
            name: "host migration, 5xx reading the host groups",
            rule: rule(
                "GET",
                "/api/v1/migration/migration-unit-groups",
                None,
                json!({"action": "status", "status": 500}),
            ),
            code: "1120",
            step: "host-migration/run",
            at_most: &[("POST /api/v1/migration/plan?action=start", 1)],
        },
        Case {
            name: "host migration, coordinator service down",
            rule: service_down,
            code: "1001",
            step: "host-migration/run",
            at_most: &[("POST /api/v1/migration/plan?action=start", 1)],
        },
    ])
    .await;
}

/// The outcome of an apply spawned as `run` (bounded in time).
async fn finished<E: std::fmt::Debug>(
    run: tokio::task::JoinHandle<Result<executor::Outcome, E>>,
) -> executor::Outcome {
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("apply ends")
        .unwrap()
        .expect("not refused")
}

/// Wait (bounded) until the coordinator runs `mode`.
async fn until_running(f: &W, mode: &str) {
    let nsx = f.nsx();
    for _ in 0..4000 {
        if let Ok(s) = nsx.get("/api/v1/migration/status-summary").await
            && s["overall_migration_status"] == "IN_PROGRESS"
            && f.coordinator_mode().await == json!(mode)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the {mode} run did not start");
}

/// The coordinator's service goes down while the edge cutover runs: the run stops with seed
/// 1001; once it is back, a re-run goes on with the same coordinator run (no second setup,
/// upload or start).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_going_down_mid_cutover_stops_with_1001_and_a_rerun_resumes() {
    // One virtual hour per DLR: the cutover runs until the test moves the clock.
    let timings = json!({"edge_s_per_dlr": 3600, "dfw_s": 0, "host_s_per_host": 0});
    let f =
        fixture("[migration.v2t]\nedge_s_per_dlr = 3600\ndfw_s = 0\nhost_s_per_host = 0\n").await;
    let mut o = f.opts(false);
    o.nsx.retry.max_attempts = 2;
    let run = tokio::spawn(async move { executor::apply(&o).await });
    until_running(&f, "EDGE_CUTOVER").await;
    let mut down = timings.clone();
    down["service_down"] = json!(true);
    crate::common::set_migration_faults(&f.h, json!({"v2t": down})).await;
    let out = finished(run).await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("seed error 1001") && out.message.contains("edge-cutover/run"),
        "{}",
        out.message
    );
    let first = changes(&f.h, 0);

    // A re-run while it is still down is refused in preflight with the same code, and sends
    // nothing.
    let from = f.h.request_log().len();
    let e = executor::apply(&f.opts(false)).await.expect_err("refused");
    assert!(
        e.is_refusal() && e.to_string().contains("seed error 1001"),
        "{e}"
    );
    assert!(changes(&f.h, from).is_empty(), "{:#?}", changes(&f.h, from));

    // Back, and the cutover done meanwhile: the re-run reads it and goes on to the point of
    // no return, sending nothing of the cutover again.
    crate::common::set_migration_faults(&f.h, json!({"v2t": timings})).await;
    f.advance_clock(2 * 3600).await;
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts(false)).await.expect("not refused");
    assert!(
        again.message.contains("--confirm-point-of-no-return"),
        "{}",
        again.message
    );
    let log = changes(&f.h, from);
    for call in [
        "PUT /api/v1/migration/setup",
        "POST /api/v1/migration/data/upload",
        "POST /api/v1/migration/plan?action=start",
    ] {
        assert_eq!(
            first.iter().filter(|l| l.starts_with(call)).count(),
            1,
            "{call} before the outage: {first:#?}"
        );
        assert!(
            !log.iter().any(|l| l.starts_with(call)),
            "{call} sent again: {log:#?}"
        );
    }
    assert_eq!(f.coordinator_mode().await, json!("EDGE_CUTOVER"));
}

/// NSX's API session ends while apply waits on the coordinator and again just before a write:
/// the client logs in again and each coordinator write takes effect once (the refused attempt
/// did nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_nsx_session_expiring_mid_run_is_renewed_without_a_duplicate_write() {
    let f = fixture(&format!(
        "{FAST}\n[[rule]]\nmethod = \"GET\"\npath = \"/api/v1/migration/status-summary\"\nnth = [3]\naction = \"expire_sessions\"\n\n[[rule]]\nmethod = \"POST\"\npath = \"/api/v1/migration/plan\"\nquery = \"action=start\"\nnth = [1]\naction = \"expire_sessions\"\n"
    ))
    .await;
    let out = executor::apply(&f.opts(true)).await.expect("not refused");
    assert!(
        out.message.contains("stopped before phase `vio_reconfig`"),
        "{}",
        out.message
    );
    let log = full_log(&f.h);
    let refused = log
        .iter()
        .filter(|r| r.get("fault").is_some() && r["status"] == 403)
        .count();
    assert_eq!(refused, 2, "both expiries hit a request");
    let done = |m: &str, p: &str| {
        log.iter()
            .filter(|r| r["method"] == m && r["path"] == p && r["status"].as_u64() < Some(300))
            .count()
    };
    assert_eq!(done("POST", "/api/v1/migration/plan?action=start"), 2);
    assert_eq!(done("POST", "/api/v1/migration/plan?action=finish"), 2);
    assert_eq!(done("PUT", "/api/v1/migration/setup"), 2);
    assert_eq!(done("POST", "/api/v1/migration/data/upload"), 1);
}

/// The NSX-V token lives at most 24 h; the host migration may run 48 h. Preflight says so, the
/// host migration's setup asks for a token of its own, and a host migration that outlives it
/// fails with 1120 naming the token; after an abort on NSX a re-run sets up again with a new
/// token and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nsx_v_token_lifetime_against_the_host_migrations_48_hours() {
    let f =
        fixture("[migration.v2t]\nedge_s_per_dlr = 0\ndfw_s = 0\nhost_s_per_host = 864000\n").await;
    let o = f.opts(true);
    let run = tokio::spawn(async move { executor::apply(&o).await });
    until_running(&f, "DFW_AND_HOST_AND_WORKLOAD").await;
    f.advance_clock(25 * 3600).await;
    let out = finished(run).await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("seed error 1120") && out.message.contains("token"),
        "{}",
        out.message
    );
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("host-migration/run") && w.contains("1440 minutes")),
        "{:#?}",
        out.warnings
    );
    let log = changes(&f.h, 0);
    let tokens = log
        .iter()
        .filter(|l| l.starts_with("POST /api/2.0/services/auth/token"))
        .count();
    assert_eq!(
        tokens, 2,
        "one for the edge cutover, one for the host migration"
    );

    // Aborted on NSX (as the coordinator says), hosts quick again: the re-run sets up anew.
    f.nsx()
        .post("/api/v1/migration/plan?action=abort", &json!({}))
        .await
        .unwrap();
    crate::common::set_migration_faults(
        &f.h,
        json!({"v2t": {"edge_s_per_dlr": 0, "dfw_s": 0, "host_s_per_host": 0}}),
    )
    .await;
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts(true)).await.expect("not refused");
    assert!(
        again
            .message
            .contains("stopped before phase `vio_reconfig`"),
        "{}",
        again.message
    );
    let log = changes(&f.h, from);
    for call in [
        "POST /api/2.0/services/auth/token",
        "PUT /api/v1/migration/setup",
        "POST /api/v1/migration/plan?action=start",
    ] {
        assert!(log.iter().any(|l| l.starts_with(call)), "{call}: {log:#?}");
    }
    assert_eq!(f.coordinator_mode().await, Value::Null);
}

/// Router fin-router-b without its gateway (and the gateway port): a gateway-less router with
/// an interface, which the planner attaches to the default tier-0 for the cutover.
const NOGW_ROUTER: &str = "756a874c-a662-5e02-a7a1-5834e21851d4";

async fn nogw_fixture() -> W {
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inventory");
    test_support::copy_dir(&clean_inventory(), &inv);
    edit_json(&inv.join("neutron/routers.json"), |doc| {
        for r in doc["routers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .filter(|r| r["id"] == NOGW_ROUTER)
        {
            r["external_gateway_info"] = Value::Null;
        }
    });
    edit_json(&inv.join("neutron/ports.json"), |doc| {
        doc["ports"].as_array_mut().unwrap().retain(|p| {
            !(p["device_id"] == NOGW_ROUTER && p["device_owner"] == "network:router_gateway")
        });
    });
    W(VioFixture::builder()
        .inventory(dir, inv)
        .faults(FAST)
        .start(|inv| {
            let mut plan = build_plan(inv, &VioRules::builtin(), Some("inventory"));
            // As `window_plan`: apply starts both runs; no Octavia steps.
            without_octavia(&mut plan);
            started_by_apply(&mut plan);
            reseal(&mut plan);
            let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
            for want in [
                format!("edge-prep/nogw-fixup/{NOGW_ROUTER}"),
                format!("edge-cutover/nogw-restore/{NOGW_ROUTER}"),
            ] {
                assert!(ids.contains(&want.as_str()), "{want} not planned");
            }
            plan
        })
        .await)
}

impl W {
    async fn tier0_of(&self, router: &str) -> Value {
        self.nsx()
            .get(&format!("/policy/api/v1/infra/tier-1s/{router}"))
            .await
            .unwrap()["tier0_path"]
            .clone()
    }
}

/// router_nogw_fixup / router_nogw_restore: the tier-1 attached for the cutover and detached
/// after it, each journaled and read back; a re-run sends nothing; a rollback while it is
/// attached (the cutover failed) detaches it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_less_router_is_attached_for_the_cutover_and_detached_after_it() {
    let f = nogw_fixture().await;
    let tier1 = format!("/policy/api/v1/infra/tier-1s/{NOGW_ROUTER}");
    // The cutover fails: the tier-1 stays attached, and rollback detaches it.
    crate::common::set_migration_faults(
        &f.h,
        json!({"v2t": {"edge_s_per_dlr": 0, "dfw_s": 0, "host_s_per_host": 0, "fail_at": {"EDGE": 50.0}}}),
    )
    .await;
    let out = executor::apply(&f.opts(false)).await.expect("not refused");
    assert!(out.message.contains("seed error 1110"), "{}", out.message);
    assert_eq!(
        f.tier0_of(NOGW_ROUTER).await,
        json!("/infra/tier-0s/t0-public")
    );
    let journal = std::fs::read_to_string(f.state.join("journal.jsonl")).unwrap();
    assert!(journal.contains("router_nogw_tier0"), "fixup recorded");
    let log = changes(&f.h, 0);
    assert!(log.contains(&format!("PATCH {tier1}")), "{log:#?}");
    let from = f.h.request_log().len();
    let rb = f.rollback().await;
    assert_eq!(rb.exit_code, ExitCode::Success, "{}", rb.message);
    // The tier-1 detached (its fixup record put back), before the replay's removal deletes
    // the router.
    let log = changes(&f.h, from);
    let detach = log.iter().position(|l| *l == format!("PUT {tier1}"));
    let delete = log
        .iter()
        .position(|l| *l == format!("DELETE /target-network/v2.0/routers/{NOGW_ROUTER}"));
    assert!(
        detach.is_some() && delete.is_some() && detach < delete,
        "{log:#?}"
    );

    // Forward again, no fault: attached, cut over, detached; stops at the point of no return.
    crate::common::set_migration_faults(
        &f.h,
        json!({"v2t": {"edge_s_per_dlr": 0, "dfw_s": 0, "host_s_per_host": 0}}),
    )
    .await;
    let from = f.h.request_log().len();
    let out = executor::apply(&f.opts(false)).await.expect("not refused");
    assert!(
        out.message.contains("--confirm-point-of-no-return"),
        "{}",
        out.message
    );
    let log = changes(&f.h, from);
    let pos = |s: &str| log.iter().position(|l| l == s);
    let attach = pos(&format!("PATCH {tier1}")).expect("attached");
    let detach = pos(&format!("PUT {tier1}")).expect("detached");
    let start = pos("POST /api/v1/migration/plan?action=start").unwrap();
    assert!(attach < start && start < detach, "{log:#?}");
    assert_eq!(f.tier0_of(NOGW_ROUTER).await, Value::Null);
    let records = journal_records(&f.state);
    let p = executor::progress::Progress::from_records(&records);
    for s in [
        format!("edge-prep/nogw-fixup/{NOGW_ROUTER}"),
        format!("edge-cutover/nogw-restore/{NOGW_ROUTER}"),
    ] {
        assert!(p.is_done(&s), "{s} not journaled done");
    }

    // A re-run sends nothing.
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts(false)).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed, "{}", again.message);
    assert_eq!(changes(&f.h, from), Vec::<String>::new());
}

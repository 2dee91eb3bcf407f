//! Every fault kind of the simulator in every phase, with the documented outcome and exit code:
//! transient faults (429, 503, busy, 409/412, resets and timeouts where re-reading live state
//! makes a resend safe) are absorbed (exit 0); coordinator verdicts (precheck FAILED, migration
//! FAILED) roll back (exit 2) or stop (exit 1); update failures exit 1 and the next run retries
//! only those; a manager restart is survived by re-running.
//!
//! | phase | faults (test) |
//! |---|---|
//! | prepare | 409, 503, reset, 429 (`prepare_transient_…`); busy, 412, hang (`prepare_busy_…`); permanent 400 (`prepare_permanent_…`); restart (`manager_restart_in_prepare_…`) |
//! | import | busy, 429, 503, resets (`import_transient_…`); timeout (`import_timeout_…`); precheck FAILED (`precheck_failed_…`, `stop_mode_…`); migration FAILED (`migration_failed_…`, both modes); duplicate (`duplicate_precheck_…`); restart (`manager_restart_mid_import_…`). 409/412 do not apply: coordinator calls carry no revision |
//! | DONE | 500 (`workflow_done_failure_…`) |
//! | update | 412, 409, 503, 429 (`update_conflicts_…`); busy, hang (`update_busy_…`); reset, hang, 500 for good (`update_failures_…`); listing 500 (`update_listing_…`); restart (`manager_restart_in_…_update_…`) |
//! | verify | 503, 429, busy, reset, hang (`verify_transient_…`); read failure (`verify_read_failure_…`); restart (`manager_restart_in_…_verify`) |
//! | rollback | 500 (`rollback_failure_…`); busy, then 503, reset, 429 on its reads (`rollback_busy_…`); timeout (`rollback_timeout_…`); restart (`manager_restart_in_rollback_…`) |
//!
//! A manager restart ends the first run with exit 2 in prepare (nothing imported), 1 elsewhere;
//! one re-run finishes, except in a rollback: the re-run completes the rollback (exit 2) and the
//! one after imports again (exit 0).

use std::time::Duration;

use crate::common::*;
use executor::{ExitCode, OnImportFailure};
use plan_schema::mp::{Action, MigrationType, Plan};
use serde_json::{Value, json};
use simulator::SimHandle;

struct Setup {
    h: SimHandle,
    _d: tempfile::TempDir,
    plan_path: std::path::PathBuf,
    plan: Plan,
    state: std::path::PathBuf,
}

async fn setup() -> Setup {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan_path = write_plan(d.path());
    let plan = plan_schema::read_mp_plan_file(&plan_path).unwrap();
    let state = d.path().join("state");
    Setup {
        h,
        _d: d,
        plan_path,
        plan,
        state,
    }
}

impl Setup {
    async fn apply(&self) -> executor::Outcome {
        self.apply_with(|_| {}).await
    }
    async fn apply_with(&self, f: impl FnOnce(&mut executor::ApplyOptions)) -> executor::Outcome {
        let mut o = apply_opts(&self.h, &self.plan_path, &self.state);
        f(&mut o);
        executor::apply(&o).await.expect("not refused")
    }
    fn count(&self, method: &str, needle: &str) -> usize {
        writes(&self.h)
            .iter()
            .filter(|r| r["method"] == method && r["path"].as_str().unwrap().contains(needle))
            .count()
    }
    /// Batch submissions (`POST .../mp-to-policy` exactly).
    fn submits(&self) -> usize {
        writes(&self.h)
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == "/api/v1/migration/mp-to-policy")
            .count()
    }
    fn fired(&self, name: &str) -> usize {
        self.h
            .request_log()
            .iter()
            .filter(|r| r["fault"] == name)
            .count()
    }
    /// Migration records of the coordinator (what migrated-resources reports).
    fn coordinator_records(&self) -> usize {
        self.h.state_dump()["migration"]["records"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    }
    fn batch_id(&self, t: MigrationType) -> String {
        first_of_type(&self.plan, t)
    }
    /// The first LOGICAL_PORT batch fails its precheck, and the first rollback request that
    /// follows meets `action` (with `status` for "status").
    async fn fail_import_and_first_rollback(&self, name: &str, action: &str, status: Option<u16>) {
        let victim = self.batch_id(MigrationType::LogicalPort);
        set_migration_faults(&self.h, json!({"precheck_fail": [victim]})).await;
        let mut r = rule(
            name,
            "POST",
            "/api/v1/migration/mp-to-policy/rollback",
            None,
            action,
        );
        if let Some(code) = status {
            r["status"] = json!(code);
        }
        r["times"] = json!(1);
        add_fault(&self.h, r).await;
    }
    /// `rollback` finishes what a failed rollback left (exit 0, no migration record left,
    /// nothing imported); then, without faults, the plan applies cleanly.
    async fn rollback_command_finishes(&self) {
        let submits = self.submits();
        let out = executor::rollback(&rollback_opts(&self.h, &self.state))
            .await
            .expect("not refused");
        assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
        assert_eq!(self.coordinator_records(), 0);
        assert_eq!(self.submits(), submits, "the rollback imported nothing");
        set_migration_faults(&self.h, json!({})).await;
        finish_ok(self).await;
    }
    fn updates(&self) -> usize {
        self.plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::PolicyUpdate(_)))
            .count()
    }
}

/// How often the simulator's fault rule `name` fired, from its own counters (a hung request
/// never reaches the request log).
async fn rule_fired(h: &SimHandle, name: &str) -> u64 {
    let v: Value = reqwest::Client::new()
        .get(format!("{}/_sim/faults", h.base_url()))
        .basic_auth(
            simulator::DEFAULT_USERNAME,
            Some(simulator::DEFAULT_PASSWORD),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"]["name"] == name)
        .and_then(|r| r["fired"].as_u64())
        .unwrap_or_else(|| panic!("no fault rule {name}: {v}"))
}

fn rule(name: &str, method: &str, path: &str, query: Option<&str>, action: &str) -> Value {
    let mut r = json!({"name": name, "method": method, "path": path, "action": action});
    if let Some(q) = query {
        r["query"] = json!(q);
    }
    r
}

async fn finish_ok(s: &Setup) {
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    let report = executor::mp::audit(&s.plan, &nsx_config(&s.h))
        .await
        .unwrap();
    assert!(report.is_clean(), "{}", report.render());
}

// ---- prepare phase ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_transient_faults_are_absorbed() {
    let s = setup().await;
    let mut r409 = rule(
        "stale",
        "POST",
        "/api/v1/firewall/sections/*",
        Some("action=revise"),
        "status",
    );
    r409["status"] = json!(409);
    r409["times"] = json!(1);
    let mut r503 = rule(
        "unavailable",
        "POST",
        "/api/v1/firewall/sections",
        None,
        "status",
    );
    r503["status"] = json!(503);
    r503["times"] = json!(2);
    let mut reset = rule(
        "reset",
        "DELETE",
        "/api/v1/firewall/sections/*/rules/*",
        None,
        "reset",
    );
    reset["times"] = json!(1);
    let mut r429 = rule(
        "limited",
        "GET",
        "/api/v1/firewall/sections",
        None,
        "status",
    );
    r429["status"] = json!(429);
    r429["times"] = json!(2);
    add_fault(&s.h, json!({"rules": [r409, r503, reset, r429]})).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    for f in ["stale", "unavailable", "reset", "limited"] {
        assert!(s.fired(f) >= 1, "fault {f} never fired");
    }
    // The rule was created once in its new section and deleted once from the old one.
    assert_eq!(s.count("POST", "/rules"), 1);
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_busy_412_and_timeout_are_absorbed() {
    let s = setup().await;
    let mut busy = rule("busy", "POST", "/api/v1/firewall/sections", None, "busy");
    busy["times"] = json!(1);
    let mut r412 = rule(
        "stale-412",
        "POST",
        "/api/v1/firewall/sections/*",
        Some("action=revise"),
        "status",
    );
    r412["status"] = json!(412);
    r412["times"] = json!(1);
    // A read that never answers: reads are retried after the timeout.
    let mut hang = rule(
        "hang",
        "GET",
        "/api/v1/firewall/sections/*/rules",
        None,
        "hang",
    );
    hang["times"] = json!(1);
    add_fault(&s.h, json!({"rules": [busy, r412, hang]})).await;
    let out = s
        .apply_with(|o| o.nsx.timeout = Duration::from_secs(1))
        .await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    for f in ["busy", "stale-412"] {
        assert_eq!(s.fired(f), 1, "fault {f}");
    }
    assert_eq!(rule_fired(&s.h, "hang").await, 1);
    // Still exactly one section created and one rule moved.
    assert_eq!(s.count("POST", "/rules"), 1);
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_permanent_failure_exits_2_and_rerun_converges() {
    let s = setup().await;
    let mut r = rule(
        "denied",
        "POST",
        "/api/v1/firewall/sections",
        None,
        "status",
    );
    r["status"] = json!(400);
    r["times"] = json!(1);
    add_fault(&s.h, r).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert!(out.message.contains("prepare"), "{}", out.message);
    assert_eq!(s.submits(), 0, "nothing imported");
    finish_ok(&s).await;
    s.h.shutdown().await;
}

// ---- import phase ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_transient_faults_are_absorbed() {
    let s = setup().await;
    let mut busy = rule(
        "busy",
        "POST",
        "/api/v1/migration/mp-to-policy",
        None,
        "busy",
    );
    busy["nth"] = json!([2, 3]);
    let mut r429 = rule(
        "limited",
        "POST",
        "/api/v1/migration/plan",
        Some("action=start"),
        "status",
    );
    r429["status"] = json!(429);
    r429["nth"] = json!([4]);
    let mut r503 = rule(
        "unavailable",
        "GET",
        "/api/v1/migration/status-summary",
        None,
        "status",
    );
    r503["status"] = json!(503);
    r503["nth"] = json!([5, 9]);
    let mut reset = rule(
        "reset",
        "POST",
        "/api/v1/migration/mp-to-policy",
        None,
        "reset",
    );
    reset["nth"] = json!([7]);
    let mut reset2 = rule(
        "reset-continue",
        "POST",
        "/api/v1/migration/plan",
        Some("action=continue"),
        "reset",
    );
    reset2["nth"] = json!([10]);
    add_fault(&s.h, json!({"rules": [busy, r429, r503, reset, reset2]})).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    for f in ["busy", "limited", "unavailable", "reset", "reset-continue"] {
        assert!(s.fired(f) >= 1, "fault {f} never fired");
    }
    // Nothing was imported twice: the coordinator never saw a duplicate.
    let fb = s.h.state_dump()["migration"]["feedback"].clone();
    assert!(
        !fb.to_string().contains("DUPLICATE"),
        "a batch was re-imported: {fb}"
    );
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_timeout_is_resolved_from_live_state() {
    let s = setup().await;
    let mut hang = rule(
        "hang",
        "POST",
        "/api/v1/migration/plan",
        Some("action=continue"),
        "hang",
    );
    hang["nth"] = json!([3]);
    add_fault(&s.h, hang).await;
    let out = s
        .apply_with(|o| o.nsx.timeout = Duration::from_secs(1))
        .await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    // (A hung request never gets an answer, so the simulator's log may not show it.)
    assert_eq!(rule_fired(&s.h, "hang").await, 1, "the continue hung once");
    assert!(
        !s.h.state_dump()["migration"]["feedback"]
            .to_string()
            .contains("DUPLICATE")
    );
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn precheck_failed_rolls_back_everything_exit_2() {
    let s = setup().await;
    let victim = s.batch_id(MigrationType::LogicalPort);
    set_migration_faults(&s.h, json!({"precheck_fail": [victim]})).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert!(out.message.contains("precheck FAILED"), "{}", out.message);
    assert_eq!(s.coordinator_records(), 0, "everything rolled back");
    assert!(s.count("POST", "/mp-to-policy/rollback") >= 1);
    let policy = s.h.state_dump()["policy"].clone();
    assert!(
        policy.as_object().is_none_or(|m| m.is_empty()),
        "Policy intents left: {policy}"
    );
    let st = executor::status(&s.state).unwrap();
    assert_eq!(st.migration_records, 0);
    assert_eq!(st.last_exit_code, Some(ExitCode::RolledBack.code()));
    // After fixing the cause, apply starts the import again and finishes.
    set_migration_faults(&s.h, json!({})).await;
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_failed_rolls_back_partial_batch_exit_2() {
    let s = setup().await;
    let victim = s.batch_id(MigrationType::LogicalPort);
    set_migration_faults(&s.h, json!({"migration_fail": [victim]})).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert!(out.message.contains("migration FAILED"), "{}", out.message);
    assert_eq!(s.coordinator_records(), 0);
    set_migration_faults(&s.h, json!({})).await;
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_mode_keeps_imports_exit_1_and_rerun_continues_forward() {
    let s = setup().await;
    let victim = s.batch_id(MigrationType::LogicalPort);
    set_migration_faults(&s.h, json!({"precheck_fail": [victim]})).await;
    let out = s
        .apply_with(|o| o.on_import_failure = OnImportFailure::Stop)
        .await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    let kept = s.coordinator_records();
    assert!(kept > 0, "earlier batches are kept");
    assert_eq!(s.count("POST", "/mp-to-policy/rollback"), 0);
    let submits_before = s.submits();
    set_migration_faults(&s.h, json!({})).await;
    finish_ok(&s).await;
    // The second run did not resubmit what the first imported.
    assert!(
        !s.h.state_dump()["migration"]["feedback"]
            .to_string()
            .contains("DUPLICATE")
    );
    let submits_after = s.submits();
    let batches = s.plan.summary.changes.import_batches as usize;
    assert!(submits_after - submits_before < batches);
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_failure_exits_1_and_next_apply_continues_the_rollback() {
    let s = setup().await;
    s.fail_import_and_first_rollback("rollback-down", "status", Some(500))
        .await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("rollback FAILED"), "{}", out.message);
    assert!(s.coordinator_records() > 0);
    let st = executor::status(&s.state).unwrap();
    assert!(st.rolling_back, "{}", st.render());
    // The next apply continues the rollback (seed "rollback mode"), imports nothing.
    let submits = s.submits();
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert_eq!(s.coordinator_records(), 0);
    assert_eq!(
        s.submits(),
        submits,
        "the continued rollback imported nothing"
    );
    set_migration_faults(&s.h, json!({})).await;
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_precheck_drops_the_object_and_resends() {
    let s = setup().await;
    // The last import batch's first object is marked as promoted to its planned path outside
    // this plan (the coordinator has no record of it): precheck calls it a duplicate.
    let (step, mp_id, ppath, rtype) = s
        .plan
        .steps
        .iter()
        .rev()
        .find_map(|st| match &st.action {
            Action::ImportBatch(b) if b.resources.len() > 1 => {
                let r = b.resources.last()?;
                Some((
                    st.id.clone(),
                    r.manager_id.clone(),
                    r.policy_path.clone()?,
                    r.resource_type.clone(),
                ))
            }
            _ => None,
        })
        .unwrap();
    let nsx = executor::client::NsxClient::new(nsx_config(&s.h)).unwrap();
    let self_path = mp_path(&rtype, &mp_id);
    let mut upd = nsx.get(&self_path).await.unwrap();
    let mut tags = upd["tags"].as_array().cloned().unwrap_or_default();
    tags.push(json!({"scope": "policyPath", "tag": ppath}));
    upd["tags"] = json!(tags);
    nsx.send(
        executor::client::Request::put(&self_path)
            .json(upd)
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    let journal = std::fs::read_to_string(s.state.join("journal.jsonl")).unwrap();
    let submits: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| {
            r["event"]["type"] == "step_intent"
                && r["event"]["step"] == step.as_str()
                && r["event"]["op"] == "submit"
        })
        .collect();
    assert_eq!(submits.len(), 2, "sent, then resent without the duplicate");
    let ids =
        |r: &Value| r["event"]["request"]["body"]["migration_data"][0]["resource_ids"].to_string();
    assert!(ids(&submits[0]).contains(&mp_id));
    assert!(!ids(&submits[1]).contains(&mp_id));
    s.h.shutdown().await;
}

/// Manager API path of an object by MP resource type (what this test needs).
fn mp_path(rtype: &str, id: &str) -> String {
    let coll = match rtype {
        "LbService" => "loadbalancer/services",
        "LbVirtualServer" => "loadbalancer/virtual-servers",
        "LbPool" => "loadbalancer/pools",
        "NSGroup" => "ns-groups",
        "IPSet" => "ip-sets",
        "LogicalPort" => "logical-ports",
        "LogicalSwitch" => "logical-switches",
        "FirewallSection" => "firewall/sections",
        other => panic!("no MP path known for {other}"),
    };
    format!("/api/v1/{coll}/{id}")
}

// ---- update phase ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_conflicts_and_limits_are_absorbed() {
    let s = setup().await;
    let mut r412 = rule("412", "PATCH", "/policy/api/v1/infra/*", None, "status");
    r412["status"] = json!(412);
    r412["nth"] = json!([1]);
    let mut r409 = rule("409", "PATCH", "/policy/api/v1/infra/*", None, "status");
    r409["status"] = json!(409);
    r409["nth"] = json!([3]);
    let mut r503 = rule("503", "PATCH", "/policy/api/v1/infra/*", None, "status");
    r503["status"] = json!(503);
    r503["nth"] = json!([5]);
    let mut r429 = rule("429", "GET", "/policy/api/v1/infra/*", None, "status");
    r429["status"] = json!(429);
    r429["nth"] = json!([2]);
    add_fault(&s.h, json!({"rules": [r412, r409, r503, r429]})).await;
    let out = s.apply_with(|o| o.concurrency = Some(1)).await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    for f in ["412", "409", "503", "429"] {
        assert_eq!(s.fired(f), 1, "fault {f}");
    }
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_busy_and_timeout_are_absorbed() {
    let s = setup().await;
    let mut busy = rule("busy", "PATCH", "/policy/api/v1/infra/*", None, "busy");
    busy["nth"] = json!([2]);
    let mut hang = rule("hang", "GET", "/policy/api/v1/infra/*", None, "hang");
    hang["nth"] = json!([1]);
    add_fault(&s.h, json!({"rules": [busy, hang]})).await;
    let out = s
        .apply_with(|o| {
            o.concurrency = Some(1);
            o.nsx.timeout = Duration::from_secs(1);
        })
        .await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(s.fired("busy"), 1);
    assert_eq!(rule_fired(&s.h, "hang").await, 1);
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_failures_exit_1_and_rerun_retries_only_those() {
    let s = setup().await;
    let mut reset = rule("reset", "PATCH", "/policy/api/v1/infra/*", None, "reset");
    reset["nth"] = json!([2]);
    let mut hang = rule("hang", "PATCH", "/policy/api/v1/infra/*", None, "hang");
    hang["nth"] = json!([4]);
    let mut down = rule("down", "PATCH", "/policy/api/v1/infra/*", None, "status");
    down["status"] = json!(500);
    down["nth"] = json!([6]);
    add_fault(&s.h, json!({"rules": [reset, hang, down]})).await;
    let out = s
        .apply_with(|o| {
            o.concurrency = Some(1);
            o.nsx.timeout = Duration::from_secs(1);
        })
        .await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("3 of"), "{}", out.message);
    // The pending bodies are in the journal.
    let st = executor::status(&s.state).unwrap();
    let upd = st.phases.iter().find(|p| p.phase == "update").unwrap();
    assert_eq!(upd.failed, 3, "{}", st.render());
    let before = log_len(&s.h);
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    let patches = writes_since(&s.h, before)
        .iter()
        .filter(|r| r["method"] == "PATCH")
        .count();
    // Only the failed updates (the reset/hang ones may have landed: then not even those).
    assert!(patches <= 3, "{patches} PATCHes on the retry run");
    assert!(patches >= 1);
    assert!(s.updates() > 3);
    finish_ok(&s).await;
    s.h.shutdown().await;
}

// ---- manager restart -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_restart_mid_import_is_survived_by_rerunning() {
    // The second batch submission is accepted, then the manager goes away.
    let mut r = rule(
        "restart",
        "POST",
        "/api/v1/migration/mp-to-policy",
        None,
        "exit",
    );
    r["nth"] = json!([2]);
    let messages = restart_on(r, None, &[1, 0]).await;
    // The rollback the failed import calls for could not even read the manager: nothing was
    // rolled back, and the next run goes forward.
    assert!(messages[0].contains("could not start"), "{}", messages[0]);

    // The same after a batch was recorded: the manager goes away after the importer's second
    // read of migrated-resources (between batches, nothing submitted and unrecorded). A run
    // without a journal first reads the records of every type the plan imports (to adopt
    // what live state shows done), so the importer's second read comes after those.
    let d = tempfile::tempdir().unwrap();
    let plan = plan_schema::read_mp_plan_file(&write_plan(d.path())).unwrap();
    let types: std::collections::BTreeSet<MigrationType> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b.migration_type),
            _ => None,
        })
        .collect();
    let mut r = rule(
        "restart-between-batches",
        "GET",
        "/api/v1/migration/migrated-resources",
        None,
        "exit",
    );
    r["nth"] = json!([types.len() + 2]);
    let messages = restart_on(r, None, &[1, 0]).await;
    assert!(messages[0].contains("could not start"), "{}", messages[0]);
}

/// The manager serves the request `exit_rule` matches, then goes away, and comes back with its
/// persisted state on another port. `codes`: the exit codes of the first `apply` and of each
/// re-run against the restarted manager, ending in 0; then the audit is clean. Returns the
/// runs' messages. A rule, not a
/// request count, marks the moment: how often the importer polls depends on timing.
/// `precheck_fail`: the first batch of this type fails its precheck (before the restart only),
/// so that the first run is rolling back when the manager goes away.
async fn restart_on(
    exit_rule: Value,
    precheck_fail: Option<MigrationType>,
    codes: &[u8],
) -> Vec<String> {
    let name = exit_rule["name"].as_str().unwrap().to_string();
    let d = tempfile::tempdir().unwrap();
    let state_file = d.path().join("nsx-state.json");
    let plan_path = write_plan(d.path());
    let plan = plan_schema::read_mp_plan_file(&plan_path).unwrap();
    let state = d.path().join("state");
    let mut cfg = sim_config();
    cfg.state_file = Some(state_file.clone());
    let h = start_sim_with(cfg).await;
    add_fault(&h, exit_rule).await;
    if let Some(t) = precheck_fail {
        let victim = first_of_type(&plan, t);
        set_migration_faults(&h, json!({"precheck_fail": [victim]})).await;
    }
    let mut o = apply_opts(&h, &plan_path, &state);
    o.nsx.retry.max_elapsed = Duration::from_secs(1);
    let first = executor::apply(&o).await.expect("not refused");
    assert!(
        h.request_log().iter().any(|r| r["fault"] == name.as_str()),
        "the exit rule {name} fired"
    );
    tokio::time::timeout(Duration::from_secs(30), h.wait())
        .await
        .expect("the manager went away");
    // The manager comes back with its persisted state (another port, same data).
    let mut cfg = sim_config();
    cfg.inventory = None;
    cfg.state_file = Some(state_file);
    let h2 = start_sim_with(cfg).await;
    let o2 = apply_opts(&h2, &plan_path, &state);
    let mut seen = vec![first.exit_code.code()];
    let mut messages = vec![first.message];
    while seen.len() < codes.len() {
        let out = executor::apply(&o2).await.expect("not refused");
        seen.push(out.exit_code.code());
        messages.push(out.message);
    }
    assert_eq!(seen, codes, "restart {name}: {messages:#?}");
    let report = executor::mp::audit(&plan, &nsx_config(&h2)).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    h2.shutdown().await;
    messages
}

fn first_of_type(plan: &Plan, t: MigrationType) -> String {
    plan.steps
        .iter()
        .find_map(|s| match &s.action {
            Action::ImportBatch(b) if b.migration_type == t => {
                Some(b.resources[0].manager_id.clone())
            }
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_restart_in_prepare_update_and_verify_is_survived_by_rerunning() {
    // Verify starts with the first migrated-resources read after the imports: count the
    // importer's reads in an undisturbed run (one per batch and round, not per poll, so the
    // count does not depend on timing).
    let s = setup().await;
    assert_eq!(s.apply().await.exit_code, ExitCode::Success);
    let log = s.h.request_log();
    s.h.shutdown().await;
    let first_patch = log
        .iter()
        .position(|r| r["method"] == "PATCH")
        .expect("the plan has updates");
    let is_migrated_read = |r: &Value| {
        r["method"] == "GET"
            && r["path"]
                .as_str()
                .unwrap()
                .ends_with("/migration/migrated-resources")
    };
    let import_reads = log[..first_patch]
        .iter()
        .filter(|r| is_migrated_read(r))
        .count() as u64;
    assert!(
        log[first_patch..].iter().any(is_migrated_read),
        "verify reads migrated-resources"
    );

    // Prepare: the first admin DFW section written (moved).
    let prepare = restart_on(
        rule(
            "restart-prepare",
            "POST",
            "/api/v1/firewall/sections*",
            None,
            "exit",
        ),
        None,
        &[2, 0],
    );
    // Update: the first Policy PATCH is answered, then the manager goes away mid-stage.
    let update = restart_on(
        rule(
            "restart-update",
            "PATCH",
            "/policy/api/v1/infra/*",
            None,
            "exit",
        ),
        None,
        &[1, 0],
    );
    // Verify.
    let mut r = rule(
        "restart-verify",
        "GET",
        "/api/v1/migration/migrated-resources",
        None,
        "exit",
    );
    r["nth"] = json!([import_reads + 1]);
    // The three restarts are independent (a simulator each): run them side by side.
    tokio::join!(prepare, update, restart_on(r, None, &[1, 0]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_restart_in_rollback_is_survived_by_rerunning() {
    // A precheck fails; the first rollback request is served, then the manager goes away.
    let r = rule(
        "restart-rollback",
        "POST",
        "/api/v1/migration/mp-to-policy/rollback",
        None,
        "exit",
    );
    let messages = restart_on(r, Some(MigrationType::LogicalPort), &[1, 2, 0]).await;
    // The first run was rolling back: the next run continues the rollback (exit 2, nothing of
    // the plan imported), and the one after imports again from the start.
    assert!(messages[0].contains("rollback FAILED"), "{}", messages[0]);
    assert!(messages[1].contains("rolled back"), "{}", messages[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_listing_failure_falls_back_to_reading_each_object() {
    let s = setup().await;
    // Every paged Policy listing fails for good (500 is not retried); single GETs still work.
    let mut down = rule(
        "list-down",
        "GET",
        "/policy/api/v1/infra/*",
        Some("page_size"),
        "status",
    );
    down["status"] = json!(500);
    add_fault(&s.h, down).await;
    let out = s.apply().await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert!(s.fired("list-down") >= 2, "the listings were tried");
    // Each updated object was read on its own instead (update stage and verify), and patched once.
    let paths: Vec<String> = s
        .plan
        .steps
        .iter()
        .filter_map(|st| match &st.action {
            Action::PolicyUpdate(u) => Some(format!("/policy/api/v1{}", u.path)),
            _ => None,
        })
        .collect();
    let log = s.h.request_log();
    for p in &paths {
        let gets = log
            .iter()
            .filter(|r| r["method"] == "GET" && r["path"] == p.as_str() && r["status"] == 200)
            .count();
        assert!(gets >= 2, "{p} read {gets} time(s)");
    }
    assert_eq!(s.count("PATCH", "/policy/api/v1/infra/"), paths.len());
    s.h.shutdown().await;
}

/// A failure after changes were sent (here the verify stage's read of migrated-resources) is an
/// outcome with exit 1 and a journaled end of the run, never "refused, nothing was sent"; the
/// next run finishes the verification.
/// How often an undisturbed run reads migrated-resources of each type; the last read of each
/// type is verify's.
async fn migrated_reads_per_type() -> std::collections::BTreeMap<String, u64> {
    let reference = setup().await;
    assert_eq!(reference.apply().await.exit_code, ExitCode::Success);
    let mut reads = std::collections::BTreeMap::new();
    for r in reference.h.request_log() {
        if r["method"] == "GET" && r["path"] == "/api/v1/migration/migrated-resources" {
            let q = r["query"].as_str().unwrap_or("");
            if let Some(t) = q.strip_prefix("resource_type=") {
                *reads.entry(t.to_string()).or_insert(0) += 1;
            }
        }
    }
    reference.h.shutdown().await;
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_transient_read_faults_are_absorbed() {
    let reads = migrated_reads_per_type().await;
    let kinds = ["503", "429", "busy", "reset", "hang"];
    assert!(reads.len() >= kinds.len(), "{reads:?}");
    let s = setup().await;
    let mut rules = Vec::new();
    for ((t, n), kind) in reads.iter().zip(kinds) {
        let action = match kind {
            "503" | "429" => "status",
            other => other,
        };
        let mut r = rule(
            &format!("verify-{kind}"),
            "GET",
            "/api/v1/migration/migrated-resources",
            Some(&format!("resource_type={t}")),
            action,
        );
        if action == "status" {
            r["status"] = json!(kind.parse::<u16>().unwrap());
        }
        r["nth"] = json!([n]);
        rules.push(r);
    }
    add_fault(&s.h, json!({ "rules": rules })).await;
    let out = s
        .apply_with(|o| o.nsx.timeout = Duration::from_secs(1))
        .await;
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    // Each fired once, after the updates (in verify, not in the import).
    let log = s.h.request_log();
    let first_patch = log
        .iter()
        .find(|r| r["method"] == "PATCH")
        .and_then(|r| r["seq"].as_u64())
        .unwrap();
    for kind in kinds {
        let name = format!("verify-{kind}");
        assert_eq!(rule_fired(&s.h, &name).await, 1, "{name}");
        if let Some(r) = log.iter().find(|r| r["fault"] == name.as_str()) {
            assert!(
                r["seq"].as_u64().unwrap() > first_patch,
                "{name} fired early: {r}"
            );
        }
    }
    finish_ok(&s).await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_timeout_exits_1_and_rollback_resends_it() {
    let s = setup().await;
    // The rollback request gets no answer; it is sent once, with its own (long) timeout.
    s.fail_import_and_first_rollback("rollback-hang", "hang", None)
        .await;
    let out = s
        .apply_with(|o| o.poll.done_timeout = Duration::from_secs(1))
        .await;
    assert_eq!(rule_fired(&s.h, "rollback-hang").await, 1);
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(s.coordinator_records() > 0);
    // `rollback` reads what is still migrated and sends the rollback again.
    s.rollback_command_finishes().await;
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_read_failure_after_writes_exits_1_and_rerun_converges() {
    // How many IPBLOCK reads of migrated-resources an undisturbed run makes: the last is verify's.
    let reference = setup().await;
    assert_eq!(reference.apply().await.exit_code, ExitCode::Success);
    let reads = reference
        .h
        .request_log()
        .iter()
        .filter(|r| {
            r["method"] == "GET"
                && r["path"] == "/api/v1/migration/migrated-resources"
                && r["query"] == "resource_type=IPBLOCK"
        })
        .count() as u64;
    reference.h.shutdown().await;
    assert!(reads >= 2, "{reads}");

    let s = setup().await;
    let mut r = rule(
        "verify-read",
        "GET",
        "/api/v1/migration/migrated-resources",
        Some("resource_type=IPBLOCK"),
        "status",
    );
    r["status"] = json!(400);
    r["nth"] = json!([reads]);
    add_fault(&s.h, r).await;
    let out = s.apply().await;
    assert_eq!(s.fired("verify-read"), 1);
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.writes_sent > 0);
    assert!(out.message.contains("apply stopped"), "{}", out.message);
    let loaded = executor::journal::load(&s.state.join("journal.jsonl"), None).unwrap();
    assert!(
        matches!(
            loaded.records.last().map(|r| &r.event),
            Some(plan_schema::journal::JournalEvent::RunFinished { exit_code: 1, .. })
        ),
        "the run's end is journaled"
    );
    let before = log_len(&s.h);
    finish_ok(&s).await;
    assert!(writes_since(&s.h, before).is_empty(), "nothing to resend");
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_failed_under_stop_keeps_imports_exit_1_and_rerun_continues_forward() {
    let s = setup().await;
    let victim = s.batch_id(MigrationType::LogicalPort);
    set_migration_faults(&s.h, json!({"migration_fail": [victim]})).await;
    let out = s
        .apply_with(|o| o.on_import_failure = OnImportFailure::Stop)
        .await;
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("migration FAILED"), "{}", out.message);
    assert!(s.coordinator_records() > 0, "earlier batches are kept");
    assert_eq!(s.count("POST", "/mp-to-policy/rollback"), 0);
    set_migration_faults(&s.h, json!({})).await;
    finish_ok(&s).await;
    assert!(
        !s.h.state_dump()["migration"]["feedback"]
            .to_string()
            .contains("DUPLICATE")
    );
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_done_failure_exits_1_and_rerun_finishes() {
    let s = setup().await;
    let mut r = rule(
        "done-down",
        "POST",
        "/api/v1/migration/mp-to-policy/workflow",
        Some("action=DONE"),
        "status",
    );
    r["status"] = json!(500);
    r["times"] = json!(1);
    add_fault(&s.h, r).await;
    let out = s.apply().await;
    assert_eq!(s.fired("done-down"), 1);
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("DONE failed"), "{}", out.message);
    let submits = s.submits();
    finish_ok(&s).await;
    assert_eq!(s.submits(), submits, "nothing imported again");
    s.h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_busy_exits_1_and_rollback_absorbs_read_faults() {
    let s = setup().await;
    // The rollback request is sent once (it can run long): busy fails this rollback.
    s.fail_import_and_first_rollback("rollback-busy", "busy", None)
        .await;
    let out = s.apply().await;
    assert_eq!(s.fired("rollback-busy"), 1);
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(s.coordinator_records() > 0);
    // `rollback` continues it through transient faults on its reads.
    let mut r503 = rule(
        "status-503",
        "GET",
        "/api/v1/migration/status-summary",
        None,
        "status",
    );
    r503["status"] = json!(503);
    r503["times"] = json!(2);
    let mut reset = rule(
        "list-reset",
        "GET",
        "/api/v1/migration/migrated-resources",
        None,
        "reset",
    );
    reset["times"] = json!(1);
    let mut r429 = rule(
        "list-429",
        "GET",
        "/api/v1/migration/migrated-resources",
        None,
        "status",
    );
    r429["status"] = json!(429);
    r429["times"] = json!(1);
    add_fault(&s.h, json!({"rules": [r503, reset, r429]})).await;
    s.rollback_command_finishes().await;
    for f in ["status-503", "list-reset", "list-429"] {
        assert!(s.fired(f) >= 1, "fault {f} never fired");
    }
    s.h.shutdown().await;
}

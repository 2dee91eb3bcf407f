//! `audit` against live state after a finished migration: clean when everything is as planned;
//! an object of the cluster left in Manager mode, a Policy object whose tags changed (drifted),
//! a planned Policy object that was deleted and one that is not where the plan says (both
//! conflicting) are each reported. Audit only reads:
//! every run checks the simulator's request log for writes.

use crate::common::*;
use executor::{AuditReport, StepState};
use plan_schema::mp::{Action, MigrationType, Plan};
use serde_json::json;
use simulator::SimHandle;

async fn audit_read_only(h: &SimHandle, plan: &Plan) -> AuditReport {
    let before = log_len(h);
    let report = executor::mp::audit(plan, &nsx_config(h)).await.unwrap();
    assert!(writes_since(h, before).is_empty(), "audit wrote");
    report
}

/// A simulator on which the example plan was applied (exit 0), with the plan.
async fn applied() -> (SimHandle, tempfile::TempDir, Plan) {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan_path = write_plan(d.path());
    let plan = plan_schema::read_mp_plan_file(&plan_path).unwrap();
    let out = executor::apply(&apply_opts(&h, &plan_path, &d.path().join("state")))
        .await
        .unwrap();
    assert_eq!(
        out.exit_code,
        executor::ExitCode::Success,
        "{}",
        out.message
    );
    (h, d, plan)
}

fn state_of(report: &AuditReport, step: &str) -> StepState {
    report
        .steps
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("{step} not audited"))
        .state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_after_apply_finds_manager_leftovers_drift_and_missing_policy_objects() {
    let (h, _d, plan) = applied().await;
    let report = audit_read_only(&h, &plan).await;
    assert!(report.is_clean(), "{}", report.render());
    // The imports' Policy objects were read, not only the migration records.
    let segment_reads = h
        .request_log()
        .iter()
        .filter(|r| r["method"] == "GET" && r["path"] == "/policy/api/v1/infra/segments")
        .count();
    assert!(segment_reads >= 1);

    let nsx = executor::client::NsxClient::new(nsx_config(&h)).unwrap();

    // 1. An object of the cluster created in Manager mode after the migration (e.g. by an NCP
    //    started in Manager mode by mistake): every step is still done, but the audit is not clean.
    nsx.post(
        "/api/v1/ip-sets",
        &json!({"resource_type": "IPSet", "display_name": "late-ip-set",
                "ip_addresses": ["192.0.2.10"],
                "tags": [{"scope": "ncp/cluster", "tag": plan.target.cluster}]}),
    )
    .await
    .unwrap();
    let report = audit_read_only(&h, &plan).await;
    assert!(
        report.steps.iter().all(|s| s.state == StepState::Done),
        "{}",
        report.render()
    );
    assert!(!report.is_clean());
    assert_eq!(report.left_in_manager.len(), 1, "{}", report.render());
    assert!(report.left_in_manager[0].contains("late-ip-set"));
    assert!(report.render().contains("left in Manager mode"));

    // 2. The tags of a Policy object whose tags the plan changed, replaced by hand: that step
    //    has drifted (neither the planned before nor after).
    let (step, path) = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::PolicyUpdate(u) if !u.tags_add.is_empty() => {
                Some((s.id.clone(), u.path.clone()))
            }
            _ => None,
        })
        .unwrap();
    // (The imported objects belong to NCP's principal identity: an admin edit needs
    // X-Allow-Overwrite.)
    nsx.send(
        executor::client::Request::patch(format!("/policy/api/v1{path}"))
            .json(json!({"tags": [{"scope": "owner", "tag": "someone-else"}]}))
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let report = audit_read_only(&h, &plan).await;
    assert_eq!(
        state_of(&report, &step),
        StepState::Drifted,
        "{}",
        report.render()
    );

    // 3. A planned Policy object deleted after its import: its batch is conflicting.
    let (step, path) = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::ImportBatch(b) if b.migration_type == MigrationType::Nat => Some((
                s.id.clone(),
                b.resources[0]
                    .policy_path
                    .clone()
                    .expect("NAT rules have a path"),
            )),
            _ => None,
        })
        .unwrap();
    nsx.send(
        executor::client::Request::delete(format!("/policy/api/v1{path}"))
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let report = audit_read_only(&h, &plan).await;
    assert_eq!(
        state_of(&report, &step),
        StepState::Conflicting,
        "{}",
        report.render()
    );
    assert!(!report.is_clean());

    // 4. A migrated object whose planned Policy object is not where the plan says (here: the
    //    plan in memory points one imported segment elsewhere): conflicting, naming the path.
    let mut other = plan.clone();
    let step = other
        .steps
        .iter_mut()
        .find_map(|s| match &mut s.action {
            Action::ImportBatch(b) if b.migration_type == MigrationType::LogicalSwitch => {
                b.resources[0].policy_path = Some("/infra/segments/not-there".into());
                Some(s.id.clone())
            }
            _ => None,
        })
        .unwrap();
    let report = audit_read_only(&h, &other).await;
    assert_eq!(
        state_of(&report, &step),
        StepState::Conflicting,
        "{}",
        report.render()
    );
    assert!(
        report.render().contains("/infra/segments/not-there"),
        "{}",
        report.render()
    );
    h.shutdown().await;
}

/// The post-migration audit checks the end state the plan promised, not only the changes it
/// sent: an imported segment whose only planned change was its display name, whose NCP tags
/// were then replaced by `ncp/cluster` and a foreign tag, is drifted, naming the segment and
/// the tags that differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_checks_the_planned_end_state_of_every_imported_object() {
    let (h, _d, plan) = applied().await;
    let clean = audit_read_only(&h, &plan).await;
    assert!(clean.is_clean(), "{}", clean.render());
    assert!(clean.drift.is_empty());

    // A renamed segment whose tags the plan leaves alone.
    let (step, path, planned) = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::PolicyUpdate(u)
                if u.resource_type == "Segment"
                    && u.display_name.is_some()
                    && u.tags_add.is_empty()
                    && u.tags_remove.is_empty() =>
            {
                Some((s.id.clone(), u.path.clone(), u.tags_after()))
            }
            _ => None,
        })
        .expect("the example renames a segment without changing its tags");
    let nsx = executor::client::NsxClient::new(nsx_config(&h)).unwrap();
    nsx.send(
        executor::client::Request::patch(format!("/policy/api/v1{path}"))
            .json(
                json!({"tags": [{"scope": "ncp/cluster", "tag": plan.target.cluster},
                         {"scope": "owner", "tag": "someone-else"}]}),
            )
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let report = audit_read_only(&h, &plan).await;
    assert_eq!(
        state_of(&report, &step),
        StepState::Drifted,
        "{}",
        report.render()
    );
    assert!(!report.is_clean());
    let drift = report
        .drift
        .iter()
        .find(|d| d.path == path)
        .unwrap_or_else(|| panic!("{path} not in the drift list: {}", report.render()));
    assert_eq!(drift.step, step);
    assert_eq!(drift.tags_extra, vec!["owner=someone-else".to_string()]);
    let lost: Vec<String> = planned
        .iter()
        .filter(|t| t.scope != "ncp/cluster")
        .map(|t| format!("{}={}", t.scope, t.tag))
        .collect();
    assert!(!lost.is_empty());
    assert_eq!(drift.tags_missing, lost);
    assert!(report.render().contains(&path), "{}", report.render());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["drift"][0]["path"], path.as_str());

    // An imported object no update touches: a changed display name is drift too.
    let (istep, ipath) = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::ImportBatch(b) => b.resources.iter().find_map(|r| {
                let p = r.policy_path.as_ref()?;
                let touched = plan
                    .steps
                    .iter()
                    .any(|x| matches!(&x.action, Action::PolicyUpdate(u) if &u.path == p));
                (r.tags.is_some() && !touched).then(|| (s.id.clone(), p.clone()))
            }),
            _ => None,
        })
        .expect("an imported object without an update");
    nsx.send(
        executor::client::Request::patch(format!("/policy/api/v1{ipath}"))
            .json(json!({"display_name": "renamed-by-hand"}))
            .header("X-Allow-Overwrite", "true"),
    )
    .await
    .unwrap();
    let report = audit_read_only(&h, &plan).await;
    assert_eq!(
        state_of(&report, &istep),
        StepState::Drifted,
        "{}",
        report.render()
    );
    let d2 = report.drift.iter().find(|d| d.path == ipath).unwrap();
    assert_eq!(d2.display_name.as_ref().unwrap().1, "renamed-by-hand");
    h.shutdown().await;
}

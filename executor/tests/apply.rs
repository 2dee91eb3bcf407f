//! apply / status / audit / rollback against the simulator over real HTTP on 127.0.0.1: the happy
//! path, idempotent re-apply, dry run, refusals with nothing sent.

mod common;

use common::*;
use executor::{EXIT_REFUSED, EXIT_SUCCESS, ExecError, StepState};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_then_reapply_sends_no_write_and_audit_is_clean() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let mut o = apply_opts(&h, &plan, &state);
    o.kubectl = Some(kubectl_for(&h, d.path()));
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, EXIT_SUCCESS, "{}", out.message);
    let w = writes(&h);
    assert!(!w.is_empty());
    // The CONSUMER flow per batch, DONE once at the end.
    let initiates = w
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains("action=INITIATE"))
        .count();
    let dones = w
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains("action=DONE"))
        .count();
    assert_eq!((initiates, dones), (1, 1), "{w:#?}");
    let parsed = plan_schema::read_plan_file(&plan).unwrap();
    let batches = parsed
        .steps
        .iter()
        .filter(|s| s.phase == plan_schema::Phase::Import)
        .count();
    let submits = w
        .iter()
        .filter(|r| r["path"] == "/api/v1/migration/mp-to-policy")
        .count();
    assert_eq!(submits, batches);
    for r in &w {
        assert!(r["status"].as_u64().unwrap() < 300, "a write failed: {r}");
    }

    // Status from the state directory alone.
    let st = executor::status(&state).unwrap();
    assert_eq!(st.plan_id.as_deref(), Some(parsed.plan_id.as_str()));
    assert!(st.next_step.is_none(), "{}", st.render());
    assert!(st.phases.iter().all(|p| p.pending == 0 && p.failed == 0));
    assert_eq!(st.migration_records, batches);
    assert!(st.lock.is_none(), "lock released");

    // Re-apply: no write at all.
    let before = log_len(&h);
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, EXIT_SUCCESS, "{}", out.message);
    assert_eq!(out.writes_sent, 0);
    assert!(writes_since(&h, before).is_empty());

    // Audit: clean, read-only.
    let before = log_len(&h);
    let report = executor::audit(&parsed, &nsx_config(&h)).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    assert!(writes_since(&h, before).is_empty());

    // Journal lines all validate against the published schema; no secret in any state file.
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    for line in journal.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(plan_schema::schema::validate_journal_value(&v).is_empty());
    }
    for entry in std::fs::read_dir(&state).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default();
        assert!(!text.contains(simulator::DEFAULT_PASSWORD));
    }
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_requests_and_sends_none() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let mut o = apply_opts(&h, &plan, &state);
    o.dry_run = true;
    let out = executor::apply(&o).await.unwrap();
    assert_eq!(out.exit_code, EXIT_SUCCESS, "{}", out.message);
    assert!(writes(&h).is_empty(), "dry run sent a write");
    let reqs = &out.dry_run_requests;
    assert!(
        reqs[0].starts_with("POST /api/v1/firewall/sections/"),
        "{reqs:#?}"
    );
    assert!(reqs.iter().any(|r| r.contains("action=INITIATE")));
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("PATCH /policy/api/v1/infra/"))
    );
    let pos = |needle: &str| reqs.iter().position(|r| r.contains(needle)).unwrap();
    assert!(pos("action=INITIATE") < pos("action=DONE"));
    assert!(pos("action=DONE") < pos("PATCH "));
    assert!(
        !state.join("journal.jsonl").exists(),
        "dry run writes no journal"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn altered_plan_held_lock_foreign_journal_and_stale_plan_are_refused_with_nothing_sent() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");

    // Altered plan: one character changed, seal no longer matches.
    let text = std::fs::read_to_string(&plan).unwrap();
    let altered = d.path().join("altered.toml");
    std::fs::write(&altered, text.replacen("insert_after", "insert_before", 1)).unwrap();
    let e = executor::apply(&apply_opts(&h, &altered, &state))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::Plan(_)), "{e}");
    assert!(e.is_refusal());

    // Held lock.
    let (lock, _) = executor::lock::acquire(&state, "someone-else").unwrap();
    let e = executor::apply(&apply_opts(&h, &plan, &state))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::Locked { .. }), "{e}");
    assert!(e.to_string().contains(&lock.info.id));
    drop(lock);

    // Foreign journal.
    let other = d.path().join("other-state");
    std::fs::create_dir_all(&other).unwrap();
    let foreign = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let (mut j, _) = executor::journal::Journal::open(&other, foreign).unwrap();
    j.append(plan_schema::JournalEvent::StepSkipped {
        step: "x".into(),
        reason: "y".into(),
    })
    .unwrap();
    drop(j);
    let e = executor::apply(&apply_opts(&h, &plan, &other))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::ForeignJournal { .. }), "{e}");

    // Stale plan: an MP object of the plan changed after planning.
    let parsed = plan_schema::read_plan_file(&plan).unwrap();
    let seg = parsed
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::Action::ImportBatch(b)
                if b.migration_type == plan_schema::MigrationType::LogicalSwitch =>
            {
                Some(b.resources[0].manager_id.clone())
            }
            _ => None,
        })
        .unwrap();
    let nsx = executor::client::NsxClient::new(nsx_config(&h)).unwrap();
    let path = format!("/api/v1/logical-switches/{seg}");
    let mut obj = nsx.get(&path).await.unwrap();
    obj["description"] = Value::String("edited after planning".into());
    nsx.put(&path, &obj).await.unwrap();
    let before = log_len(&h);
    let e = executor::apply(&apply_opts(&h, &plan, &state))
        .await
        .unwrap_err();
    match &e {
        ExecError::Stale { drifted } => {
            assert_eq!(drifted.len(), 1, "{drifted:?}");
            assert!(drifted[0].contains(&seg));
        }
        other => panic!("expected Stale, got {other}"),
    }
    assert!(
        writes_since(&h, before).is_empty(),
        "a refused apply sent a write"
    );
    assert_eq!(executor::EXIT_REFUSED, EXIT_REFUSED);
    assert!(
        !state.join("journal.jsonl").exists()
            || std::fs::read_to_string(state.join("journal.jsonl"))
                .unwrap()
                .is_empty()
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_before_apply_reports_every_step_pending() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = plan_schema::read_plan_file(&write_plan(d.path())).unwrap();
    let report = executor::audit(&plan, &nsx_config(&h)).await.unwrap();
    assert!(!report.is_clean());
    let not_pending: Vec<_> = report
        .steps
        .iter()
        .filter(|s| s.state != StepState::Pending)
        .collect();
    assert!(not_pending.is_empty(), "{}", report.render());
    assert!(writes(&h).is_empty());
    h.shutdown().await;
}

async fn k8s_create(h: &simulator::SimHandle, path: &str, body: Value) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::Client::new()
        .post(format!("{}{path}", h.k8s_base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_drift_and_running_ncp_are_refused_with_nothing_sent() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let mut o = apply_opts(&h, &plan, &state);
    o.kubectl = Some(kubectl_for(&h, d.path()));
    // A namespace created after planning: NCP would have made NSX objects for it.
    k8s_create(
        &h,
        "/api/v1/namespaces",
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "late-team"}}),
    )
    .await;
    let e = executor::apply(&o).await.unwrap_err();
    match &e {
        ExecError::Stale { drifted } => {
            assert!(drifted[0].contains("Kubernetes"), "{drifted:?}")
        }
        other => panic!("expected Stale, got {other}"),
    }
    // NCP running again in the cluster.
    k8s_create(
        &h,
        "/api/v1/namespaces/nsx-system/pods",
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "nsx-ncp-5d8f7c9b6-x2x2x", "namespace": "nsx-system", "labels": {"component": "nsx-ncp"}},
            "status": {"phase": "Running"}}),
    )
    .await;
    let e = executor::apply(&o).await.unwrap_err();
    assert!(
        matches!(&e, ExecError::Preflight(m) if m.contains("NCP is running")),
        "{e}"
    );
    assert!(writes(&h).is_empty(), "a refused apply sent a write");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_promotion_in_progress_is_refused() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let parsed = plan_schema::read_plan_file(&plan).unwrap();
    let first = parsed
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::Action::ImportBatch(b) => Some(b.clone()),
            _ => None,
        })
        .unwrap();
    // Someone else's promotion, paused after its precheck.
    let nsx = executor::client::NsxClient::new(nsx_config(&h)).unwrap();
    let empty = serde_json::json!({});
    nsx.post(
        "/api/v1/migration/mp-to-policy/workflow?action=INITIATE",
        &empty,
    )
    .await
    .unwrap();
    nsx.post(
        "/api/v1/migration/mp-to-policy",
        &serde_json::json!({"migration_data": [{"type": first.migration_type.as_str(),
            "resource_ids": [{"manager_id": first.resources[0].manager_id}]}]}),
    )
    .await
    .unwrap();
    nsx.post("/api/v1/migration/plan?action=start", &empty)
        .await
        .unwrap();
    let before = log_len(&h);
    let e = executor::apply(&apply_opts(&h, &plan, &d.path().join("state")))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ExecError::Preflight(m) if m.contains("another promotion")),
        "{e}"
    );
    assert!(writes_since(&h, before).is_empty());
    h.shutdown().await;
}

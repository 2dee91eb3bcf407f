//! apply / status / audit / rollback against the simulator over real HTTP on 127.0.0.1: the happy
//! path, idempotent re-apply, dry run, refusals with nothing sent.

use crate::common::*;
use executor::{ExecError, ExitCode, StepState};
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
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
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
    let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
    let batches = parsed
        .steps
        .iter()
        .filter(|s| s.phase == plan_schema::mp::Phase::Import)
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
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(out.writes_sent, 0);
    assert!(writes_since(&h, before).is_empty());

    // Audit: clean, read-only.
    let before = log_len(&h);
    let report = executor::mp::audit(&parsed, &nsx_config(&h)).await.unwrap();
    assert!(report.is_clean(), "{}", report.render());
    assert!(writes_since(&h, before).is_empty());

    // Journal lines all validate against the published schema; no secret in any state file.
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    for line in journal.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(plan_schema::schema::validate_journal_value(&v).is_empty());
    }
    // Session auth was used (a cookie and an XSRF token were handed out); neither they nor the
    // password is in any file under the state dir.
    let mut secrets = h.session_secrets();
    assert!(!secrets.is_empty(), "the executor logged in with a session");
    secrets.push(simulator::DEFAULT_PASSWORD.to_string());
    let mut stack = vec![state.clone()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&p).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for secret in &secrets {
                assert!(
                    !text.contains(secret.as_str()),
                    "{} holds a secret",
                    p.display()
                );
            }
        }
    }
    assert!(files >= 2, "journal and log at least");
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
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
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
    let start = log_len(&h);

    // Altered plan: one character changed, seal no longer matches.
    let text = std::fs::read_to_string(&plan).unwrap();
    let altered = d.path().join("altered.toml");
    std::fs::write(&altered, text.replacen("insert_after", "insert_before", 1)).unwrap();
    let e = executor::apply(&apply_opts(&h, &altered, &state))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::Plan(_)), "{e}");
    assert!(e.is_refusal());
    assert!(
        !state.join("journal.jsonl").exists(),
        "an altered plan opens no journal"
    );

    // Held lock: refused, and the holder's lock is left as it was.
    let (lock, _) = executor::lock::acquire(&state, "someone-else").unwrap();
    let lock_files = dir_bytes(&state);
    let e = executor::apply(&apply_opts(&h, &plan, &state))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::Locked { .. }), "{e}");
    assert!(e.is_refusal());
    assert!(e.to_string().contains(&lock.info.id));
    assert_eq!(dir_bytes(&state), lock_files, "the held lock is untouched");
    drop(lock);

    // Foreign journal.
    let other = d.path().join("other-state");
    let foreign = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    test_support::journal::write_foreign(&other, foreign);
    let journal_before = std::fs::read(other.join("journal.jsonl")).unwrap();
    let e = executor::apply(&apply_opts(&h, &plan, &other))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::ForeignJournal { .. }), "{e}");
    assert!(e.is_refusal());
    assert_eq!(
        std::fs::read(other.join("journal.jsonl")).unwrap(),
        journal_before,
        "the other plan's journal is untouched"
    );
    assert!(
        writes_since(&h, start).is_empty(),
        "a refused apply sent a write: {:?}",
        writes_since(&h, start)
    );

    // Stale plan: an MP object of the plan changed after planning.
    let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
    let seg = parsed
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::mp::Action::ImportBatch(b)
                if b.migration_type == plan_schema::mp::MigrationType::LogicalSwitch =>
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
    assert!(e.is_refusal());
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
    let plan = plan_schema::read_mp_plan_file(&write_plan(d.path())).unwrap();
    let report = executor::mp::audit(&plan, &nsx_config(&h)).await.unwrap();
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
    let ca = reqwest::Certificate::from_pem(h.k8s_ca_pem().as_bytes()).unwrap();
    let r = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
        .post(format!("{}{path}", h.k8s_base_url()))
        .bearer_auth(h.k8s_token())
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
    let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
    let first = parsed
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::mp::Action::ImportBatch(b) => Some(b.clone()),
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

/// Records what the executor reports to its observer.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<(String, executor::Stage, String, bool)>>);

impl executor::Observer for Recorder {
    fn stage_started(&self, stage: executor::Stage, total: u64) {
        self.0
            .lock()
            .unwrap()
            .push(("start".into(), stage, total.to_string(), true));
    }
    fn step_finished(&self, stage: executor::Stage, step: &str, ok: bool) {
        self.0
            .lock()
            .unwrap()
            .push(("step".into(), stage, step.into(), ok));
    }
    fn stage_finished(&self, stage: executor::Stage) {
        self.0
            .lock()
            .unwrap()
            .push(("finish".into(), stage, String::new(), true));
    }
}

impl Recorder {
    fn take(&self) -> Vec<(String, executor::Stage, String, bool)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// Per stage, in order: (stage, announced total, steps finished ok, steps failed); checks that
/// each stage is started once, finished once, and its steps fall in between.
fn stages(
    events: &[(String, executor::Stage, String, bool)],
) -> Vec<(executor::Stage, u64, u64, u64)> {
    let mut out: Vec<(executor::Stage, u64, u64, u64)> = Vec::new();
    let mut open: Option<executor::Stage> = None;
    for (kind, stage, detail, ok) in events {
        match kind.as_str() {
            "start" => {
                assert!(
                    open.is_none(),
                    "{stage} started inside {open:?}: {events:?}"
                );
                open = Some(*stage);
                out.push((*stage, detail.parse().unwrap(), 0, 0));
            }
            "step" => {
                assert_eq!(open, Some(*stage), "step {detail} outside its stage");
                let last = out.last_mut().unwrap();
                if *ok {
                    last.2 += 1;
                } else {
                    last.3 += 1;
                }
            }
            _ => {
                assert_eq!(open, Some(*stage), "{stage} finished without starting");
                open = None;
            }
        }
    }
    assert!(open.is_none(), "{open:?} never finished");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn observer_sees_every_stage_with_the_plan_counts_and_updates_read_in_bulk() {
    use executor::Stage;
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
    let count =
        |p: plan_schema::mp::Phase| parsed.steps.iter().filter(|s| s.phase == p).count() as u64;
    let (prepare, import, update) = (
        count(plan_schema::mp::Phase::Prepare),
        count(plan_schema::mp::Phase::Import),
        count(plan_schema::mp::Phase::Update),
    );
    assert!(prepare > 0 && import > 0 && update > 1);
    let state = d.path().join("state");
    let rec = std::sync::Arc::new(Recorder::default());
    let mut o = apply_opts(&h, &plan, &state);
    o.observer = Some(executor::SharedObserver(rec.clone()));
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(
        stages(&rec.take()),
        vec![
            (Stage::new("prepare"), prepare, prepare, 0),
            (Stage::new("import"), import, import, 0),
            (Stage::new("update"), update, update, 0),
            (Stage::VERIFY, import + update, import + update, 0),
        ]
    );

    // Updates: the live objects of collections holding two or more updated objects come from a
    // paged listing, never from one GET per object; one PATCH per update.
    let paths: Vec<String> = parsed
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            plan_schema::mp::Action::PolicyUpdate(u) => Some(u.path.clone()),
            _ => None,
        })
        .collect();
    let mut per_parent = std::collections::BTreeMap::<String, usize>::new();
    for p in &paths {
        *per_parent
            .entry(executor::mp::update::parent_of(p).to_string())
            .or_default() += 1;
    }
    let bulk: Vec<&String> = per_parent
        .iter()
        .filter(|(_, n)| **n >= 2)
        .map(|(p, _)| p)
        .collect();
    assert!(!bulk.is_empty(), "{per_parent:?}");
    let log = h.request_log();
    let policy_gets = |f: &dyn Fn(&str, &str) -> bool| {
        log.iter()
            .filter(|r| r["method"] == "GET")
            .filter(|r| {
                let p = r["path"].as_str().unwrap();
                p.starts_with("/policy/api/v1")
                    && f(
                        &p["/policy/api/v1".len()..],
                        r["query"].as_str().unwrap_or(""),
                    )
            })
            .count()
    };
    let single = policy_gets(&|p, _| {
        paths.iter().any(|u| u == p)
            && bulk
                .iter()
                .any(|b| executor::mp::update::parent_of(p) == *b)
    });
    assert_eq!(
        single, 0,
        "objects of listed collections were read one by one"
    );
    let listings =
        policy_gets(&|p, q| bulk.iter().any(|b| b == &p) && q.contains("page_size=1000"));
    // One page per collection for the update stage and one for verify.
    assert_eq!(listings, 2 * bulk.len());
    let patches: Vec<Value> = writes(&h)
        .into_iter()
        .filter(|r| r["method"] == "PATCH")
        .collect();
    assert_eq!(patches.len(), paths.len());
    // Each PATCH names the revision its tag list was computed from (an edit made meanwhile is
    // refused with 412 and re-read, not overwritten): the one the object had just before it.
    let dump = h.state_dump();
    for r in &patches {
        let path = &r["path"].as_str().unwrap()["/policy/api/v1".len()..];
        let sent = r["body"]["_revision"]
            .as_i64()
            .expect("PATCH carries _revision");
        assert_eq!(dump["policy"][path]["_revision"], sent + 1, "{path}");
    }

    // Re-apply: nothing left to run but the verification.
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(
        stages(&rec.take()),
        vec![
            (Stage::new("prepare"), 0, 0, 0),
            (Stage::new("import"), 0, 0, 0),
            (Stage::new("update"), 0, 0, 0),
            (Stage::VERIFY, import + update, import + update, 0),
        ]
    );

    // Rollback reports one step per migration record.
    let mut r = rollback_opts(&h, &state);
    r.observer = Some(executor::SharedObserver(rec.clone()));
    let out = executor::rollback(&r).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(
        stages(&rec.take()),
        vec![(Stage::ROLLBACK, import, import, 0)]
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_coordinator_and_an_nsx_older_than_3_2_are_refused_with_nothing_sent() {
    // The coordinator service stopped on the manager.
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let nsx = executor::client::NsxClient::new(nsx_config(&h)).unwrap();
    nsx.post(
        "/api/v1/node/services/migration-coordinator?action=stop",
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    let before = log_len(&h);
    let e = executor::apply(&apply_opts(&h, &plan, &d.path().join("state")))
        .await
        .unwrap_err();
    assert!(e.is_refusal());
    assert!(e.to_string().contains("coordinator is stopped"), "{e}");
    assert!(writes_since(&h, before).is_empty(), "a refused apply wrote");
    h.shutdown().await;

    // The same plan against a manager that reports NSX 3.1.3.
    let inv = d.path().join("old-nsx");
    test_support::copy_dir(&inventory(), &inv);
    let meta = inv.join("metadata.json");
    let text = std::fs::read_to_string(&meta).unwrap();
    assert!(text.contains("3.2.3.0.0.21703641"));
    std::fs::write(
        &meta,
        text.replace("3.2.3.0.0.21703641", "3.1.3.0.0.19067070"),
    )
    .unwrap();
    let h = start_sim_with(simulator::SimConfig {
        inventory: Some(inv),
        ..simulator::SimConfig::default()
    })
    .await;
    let before = log_len(&h);
    let e = executor::apply(&apply_opts(&h, &plan, &d.path().join("state2")))
        .await
        .unwrap_err();
    assert!(e.is_refusal());
    assert!(e.to_string().contains("3.1.3"), "{e}");
    assert!(writes_since(&h, before).is_empty(), "a refused apply wrote");
    h.shutdown().await;
}

/// Every file of a directory (not recursive) with its bytes, by name.
fn dir_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// `apply` re-checks what the sealed plan's `[requirements]` say, not a rule of its own: the same
/// manager passes a plan that asks for NSX 3.2.0 and refuses, with nothing sent, one whose
/// planner rules asked for 9.0.0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_re_checks_the_requirements_the_plan_carries() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(text.contains("min_nsx_version = \"3.2.0\""), "{text}");
    let edited = text.replace("min_nsx_version = \"3.2.0\"", "min_nsx_version = \"9.0.0\"");
    let mut strict =
        plan_schema::read::parse_plan_unsealed(&edited, std::path::Path::new("strict.toml"))
            .unwrap();
    let resealed = plan_schema::with_plan!(&mut strict, p => {
        plan_schema::seal(p);
        plan_schema::write::to_toml(p, None).unwrap()
    });
    let strict_path = d.path().join("strict.toml");
    std::fs::write(&strict_path, resealed).unwrap();

    let before = log_len(&h);
    let e = executor::apply(&apply_opts(
        &h,
        &strict_path,
        &d.path().join("strict-state"),
    ))
    .await
    .unwrap_err();
    assert!(e.is_refusal());
    assert!(e.to_string().contains("older than 9.0.0"), "{e}");
    assert!(writes_since(&h, before).is_empty(), "a refused apply wrote");

    let out = executor::apply(&apply_opts(&h, &plan, &d.path().join("state")))
        .await
        .unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    h.shutdown().await;
}

/// Who owns the imported objects is the rules' `[import] principal_identity`: by default the
/// cluster's batches name NCP's identity, so NSX makes it the owner of what they create
/// (protected from the admin), and the updates after the import still go through because they
/// send `X-Allow-Overwrite`; with `""` no batch names one and the admin owns everything,
/// unprotected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_objects_belong_to_the_principal_identity_the_rules_name() {
    let ncp = "com.vmware.nsx.ncp";
    for pi in [Some(ncp), None] {
        let h = start_sim().await;
        let d = tempfile::tempdir().unwrap();
        let mut rules = planner::Rules::builtin();
        rules.import.principal_identity = pi.unwrap_or("").to_string();
        let plan = test_support::write_plan_with(d.path(), &rules);
        let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
        let batches: Vec<&plan_schema::mp::ImportBatch> = parsed
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                plan_schema::mp::Action::ImportBatch(b) => Some(b),
                _ => None,
            })
            .collect();
        let named: Vec<_> = batches
            .iter()
            .filter(|b| b.principal_identity.is_some())
            .collect();
        match pi {
            Some(_) => {
                assert!(!named.is_empty() && named.len() < batches.len());
                // Only the cluster's own objects; a batch never mixes owners.
                for b in &named {
                    assert_eq!(b.principal_identity.as_deref(), Some(ncp));
                    assert!(
                        b.resources
                            .iter()
                            .all(|r| r.scope == Some(plan_schema::mp::ImportScope::Cluster))
                    );
                }
            }
            None => assert!(named.is_empty()),
        }
        let owned = executor::mp::update::owned_by_principal(&parsed);

        let state = d.path().join("state");
        let mut o = apply_opts(&h, &plan, &state);
        o.kubectl = Some(kubectl_for(&h, d.path()));
        let out = executor::apply(&o).await.expect("not refused");
        assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);

        // The import requests carry setup_details exactly for the batches that name it.
        let submits: Vec<Value> = writes(&h)
            .into_iter()
            .filter(|r| r["path"] == "/api/v1/migration/mp-to-policy")
            .collect();
        assert_eq!(submits.len(), batches.len());
        let with_pi = submits
            .iter()
            .filter(|r| r["body"]["setup_details"]["principal_identity"] == ncp)
            .count();
        assert_eq!(with_pi, named.len());

        // Every updated object has its planned tags; its owner and protection follow the batch
        // that imported it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let mut protected = 0;
        for s in &parsed.steps {
            let plan_schema::mp::Action::PolicyUpdate(u) = &s.action else {
                continue;
            };
            let live: Value = http
                .get(format!("{}/policy/api/v1{}", h.base_url(), u.path))
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
            let tags = live["tags"].as_array().cloned().unwrap_or_default();
            for add in &u.tags_add {
                assert!(
                    tags.iter()
                        .any(|t| t["scope"] == add.scope.as_str() && t["tag"] == add.tag.as_str()),
                    "{}: {add:?} missing: {live}",
                    u.path
                );
            }
            if executor::mp::update::needs_overwrite(u, &owned) {
                assert_eq!(live["_create_user"], ncp, "{}", u.path);
                assert_eq!(live["_protection"], "REQUIRE_OVERRIDE", "{}", u.path);
                protected += 1;
            } else {
                assert_eq!(
                    live["_create_user"],
                    simulator::DEFAULT_USERNAME,
                    "{}",
                    u.path
                );
                assert_eq!(live["_protection"], "NOT_PROTECTED", "{}", u.path);
            }
        }
        assert_eq!(protected > 0, pi.is_some());
        h.shutdown().await;
    }
}

/// nsx-migrate's own client can act as a principal identity: with only a client certificate
/// (AuthMode::Certificate) registered on the simulator, its requests are that identity's and
/// what it creates is owned by it; an unregistered certificate is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_authenticates_with_a_principal_identitys_certificate() {
    use executor::client::{AuthMode, ClientCertificate, NsxClient, NsxConfig, TlsOptions};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let h = start_sim_with(simulator::SimConfig {
        tls: true,
        ..sim_config()
    })
    .await;
    let d = tempfile::tempdir().unwrap();
    let ca = d.path().join("ca.pem");
    std::fs::write(&ca, h.tls_cert_pem().unwrap()).unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["nsx-migrate".to_string()]).unwrap();
    let (cert, key) = (d.path().join("pi.crt"), d.path().join("pi.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let mut cfg = NsxConfig::new(h.base_url(), None);
    cfg.auth = AuthMode::Certificate;
    cfg.tls = TlsOptions {
        ca_cert: Some(ca.clone()),
        client_cert: Some(ClientCertificate { cert, key }),
        ..TlsOptions::default()
    };
    cfg.retry.max_attempts = 1;
    let pi = NsxClient::new(cfg).unwrap();

    // Not registered: refused (HTTP 500, error 99: certificate not trusted).
    let e = pi.get("/api/v1/node").await.unwrap_err();
    assert!(e.to_string().contains("99"), "{e}");

    let mut admin_cfg = nsx_config(&h);
    admin_cfg.tls.ca_cert = Some(ca);
    let admin = NsxClient::new(admin_cfg).unwrap();
    admin
        .post(
            "/api/v1/trust-management/principal-identities/with-certificate",
            &serde_json::json!({"name": "nsx-migrate-pi", "node_id": "ops-1",
                                "certificate_pem": ck.cert.pem()}),
        )
        .await
        .unwrap();
    let node = pi.get("/api/v1/node").await.unwrap();
    assert!(node["node_version"].as_str().is_some(), "{node}");
    let set = pi
        .post(
            "/api/v1/ip-sets",
            &serde_json::json!({"display_name": "pi-set"}),
        )
        .await
        .unwrap();
    assert_eq!(set["_create_user"], "nsx-migrate-pi");
    assert_eq!(set["_protection"], "REQUIRE_OVERRIDE");
    h.shutdown().await;
}

/// `--confirm-task` is a vio-v2t plan's flag: given to a Manager-to-Policy plan it is refused
/// (not silently ignored), before any lock, journal or request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_task_on_a_manager_to_policy_plan_is_refused_with_nothing_sent() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let mut o = apply_opts(&h, &plan, &state);
    o.confirm_tasks = vec!["vio-reconfig/db-backup".into()];
    let from = log_len(&h);
    let e = executor::apply(&o).await.expect_err("refused");
    assert!(matches!(e, ExecError::Plan(_)), "{e}");
    assert!(e.is_refusal());
    let text = e.to_string();
    assert!(
        text.contains("--confirm-task vio-reconfig/db-backup")
            && text.contains("Manager-to-Policy plan has no operator tasks")
            && text.contains("nothing was sent"),
        "{text}"
    );
    assert_eq!(log_len(&h), from, "no request at all");
    assert!(!state.join("journal.jsonl").exists(), "no journal opened");
    assert!(!state.join("lock").exists(), "no lock taken");
    // The point-of-no-return confirmation is vio-v2t's too: refused the same way.
    o.confirm_tasks.clear();
    o.confirm_point_of_no_return = true;
    let e = executor::apply(&o).await.expect_err("refused");
    assert!(e.is_refusal(), "{e}");
    assert!(
        e.to_string()
            .contains("--confirm-point-of-no-return (a Manager-to-Policy plan has no point of no return) belongs to a vio-v2t plan"),
        "{e}"
    );
    assert_eq!(log_len(&h), from, "no request at all");
    assert!(!state.join("journal.jsonl").exists(), "no journal opened");
}

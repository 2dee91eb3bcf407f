//! Crash harness: the executor runs in a child process (`executor-crash-harness`) that SIGKILLs
//! itself right after its k-th journal record is synced (NSX_MIGRATE_TEST_KILL_AFTER_RECORDS).
//! For many k spread over every phase of an apply, and over a rollback, re-running converges to
//! the same NSX state as an uninterrupted run, no synced record is lost, the journal stays
//! gap-free, and no object is ever submitted for import again once imported (the coordinator
//! would report it as a duplicate).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use crate::common::*;
use serde_json::{Value, json};
use simulator::SimHandle;

/// Run `point` for every item, `CRASH_POOL` at a time (each against its own simulator); a new
/// one starts as soon as one ends. The children mostly wait on the coordinator's polling.
async fn run_pool<T, F, Fut>(items: Vec<T>, point: F)
where
    T: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    const CRASH_POOL: usize = 4;
    let mut set = tokio::task::JoinSet::new();
    for item in items {
        if set.len() >= CRASH_POOL {
            set.join_next().await.unwrap().expect("crash point passed");
        }
        set.spawn(point(item));
    }
    while let Some(r) = set.join_next().await {
        r.expect("crash point passed");
    }
}

async fn apply_child(
    plan: &Path,
    state: &Path,
    h: &SimHandle,
    kill: Option<u64>,
) -> std::process::ExitStatus {
    harness_child(
        &[
            "apply",
            plan.to_str().unwrap(),
            state.to_str().unwrap(),
            &h.base_url(),
        ],
        &[],
        kill,
    )
    .await
}

async fn rollback_child(
    state: &Path,
    h: &SimHandle,
    kill: Option<u64>,
) -> std::process::ExitStatus {
    harness_child(
        &["rollback", state.to_str().unwrap(), &h.base_url()],
        &[],
        kill,
    )
    .await
}

/// What an uninterrupted run must leave, without ids the simulator draws at random (sessions)
/// or times: Policy objects (type, name, tags), migration records, firewall layout by name.
async fn projection(h: &SimHandle) -> Value {
    let dump = h.state_dump();
    let mut policy: Vec<Value> = dump["policy"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(p, o)| {
                    let mut tags: Vec<String> = o["tags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|t| {
                            format!(
                                "{}={}",
                                t["scope"].as_str().unwrap_or(""),
                                t["tag"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    tags.sort();
                    json!([p, o["resource_type"], o["display_name"], tags])
                })
                .collect()
        })
        .unwrap_or_default();
    policy.sort_by_key(|v| v.to_string());
    let mut records: Vec<String> = dump["migration"]["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {} {}",
                r["resource_type"], r["resource_id"], r["policy_path"]
            )
        })
        .collect();
    records.sort();
    let nsx = executor::client::NsxClient::new(nsx_config(h)).unwrap();
    let sections = nsx.list_all("/api/v1/firewall/sections").await.unwrap();
    let mut layout = Vec::new();
    for s in &sections {
        let id = s["id"].as_str().unwrap();
        let rules = nsx
            .list_all(&format!("/api/v1/firewall/sections/{id}/rules"))
            .await
            .unwrap();
        let names: Vec<&str> = rules
            .iter()
            .map(|r| r["display_name"].as_str().unwrap_or(""))
            .collect();
        layout.push(json!([s["display_name"], names]));
    }
    json!({"policy": policy, "records": records, "firewall": layout})
}

fn no_duplicate_import(h: &SimHandle) {
    let fb = h.state_dump()["migration"]["feedback"].to_string();
    assert!(
        !fb.contains("DUPLICATE"),
        "an imported object was submitted again: {fb}"
    );
}

/// Journal positions (k) of the records of prepare steps and of the import workflow's
/// INITIATE and DONE calls.
fn marked_points(state: &Path) -> Vec<u64> {
    use plan_schema::journal::JournalEvent;
    let loaded = executor::journal::load(&state.join("journal.jsonl"), None).unwrap();
    loaded
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| match &r.event {
            JournalEvent::StepIntent { step, op, .. } | JournalEvent::StepDone { step, op, .. } => {
                step.starts_with("prepare/")
                    || (step == executor::mp::IMPORT_WORKFLOW && (op == "initiate" || op == "done"))
            }
            _ => false,
        })
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

/// k values spread evenly over 1..=n.
fn spread(n: u64, count: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..count)
        .map(|i| 1 + i * (n - 1) / (count - 1).max(1))
        .collect();
    v.dedup();
    v
}

/// Kill an apply after its k-th journal record, then apply again: from the same state
/// directory, or (`machine_lost`) from an empty one, as another machine would after the first
/// one's disk is gone: live state then decides, and the dead run's lock on the manager is
/// taken over.
async fn crash_and_resume(k: u64, machine_lost: bool, reference: &Value) {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let st = apply_child(&plan, &state, &h, Some(k)).await;
    assert_eq!(
        st.signal(),
        Some(9),
        "k={k}: the harness should have been killed ({st:?})"
    );
    assert_eq!(
        journal_lines(&state) as u64,
        k,
        "k={k}: a synced record was lost"
    );
    let state = if machine_lost {
        d.path().join("other-machine")
    } else {
        state
    };
    let st = apply_child(&plan, &state, &h, None).await;
    assert_eq!(
        st.code(),
        Some(0),
        "k={k} (machine lost: {machine_lost}): resumed apply failed: {}",
        std::fs::read_to_string(state.join("executor.log")).unwrap_or_default()
    );
    executor::journal::load(&state.join("journal.jsonl"), None).expect("journal stays valid");
    no_duplicate_import(&h);
    let parsed = plan_schema::read_mp_plan_file(&plan).unwrap();
    let audit = executor::mp::audit(&parsed, &nsx_config(&h)).await.unwrap();
    assert!(
        audit.is_clean(),
        "k={k} (machine lost: {machine_lost}): {}",
        audit.render()
    );
    let lock = executor::manager_lock::read(
        &executor::client::NsxClient::new(nsx_config(&h)).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    assert!(
        lock.is_none(),
        "k={k}: the lock on the manager was left behind: {lock:?}"
    );
    let got = projection(&h).await;
    assert!(
        got == *reference,
        "k={k}: state differs from an uninterrupted run:\n{got}\nvs\n{reference}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_apply_resumes_to_the_same_state_at_28_spread_and_all_marked_points_half_from_an_empty_state_dir()
 {
    // Reference: an uninterrupted run in a child process.
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let st = apply_child(&plan, &state, &h, None).await;
    assert_eq!(st.code(), Some(0));
    let n = journal_lines(&state) as u64;
    let reference = projection(&h).await;
    h.shutdown().await;
    assert!(n > 100, "expected a long journal, got {n}");
    assert!(
        reference["records"].as_array().unwrap().len() > 100,
        "{reference}"
    );
    assert!(reference["policy"].as_array().unwrap().len() > 100);
    let mut ks = spread(n - 1, 28);
    assert!(ks.len() >= 26);
    // Besides the even spread: every record of the DFW (prepare) steps, and the intents and
    // outcomes of the import workflow's INITIATE and DONE.
    let marked = marked_points(&state);
    assert!(marked.len() >= 8, "{marked:?}");
    ks.extend(marked);
    ks.sort_unstable();
    ks.dedup();
    let lost_machine_points: Vec<u64> = ks.iter().copied().skip(1).step_by(2).collect();
    assert!(lost_machine_points.len() >= 16, "{lost_machine_points:?}");
    run_pool(ks, |k| {
        let r = reference.clone();
        // Every other point resumes from an empty state directory (machine lost).
        let lost = lost_machine_points.contains(&k);
        async move { crash_and_resume(k, lost, &r).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_rollback_resumes_to_a_clean_rollback() {
    // Reference: apply then an uninterrupted rollback.
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    assert_eq!(apply_child(&plan, &state, &h, None).await.code(), Some(0));
    let before = journal_lines(&state);
    assert_eq!(rollback_child(&state, &h, None).await.code(), Some(0));
    let n = (journal_lines(&state) - before) as u64;
    let reference = projection(&h).await;
    assert_eq!(reference["records"], json!([]), "nothing left imported");
    h.shutdown().await;
    run_pool(spread(n - 1, 10), |k| {
        let reference = reference.clone();
        async move {
            let h = start_sim().await;
            let d = tempfile::tempdir().unwrap();
            let plan = write_plan(d.path());
            let state = d.path().join("state");
            assert_eq!(apply_child(&plan, &state, &h, None).await.code(), Some(0));
            let before = journal_lines(&state) as u64;
            let st = rollback_child(&state, &h, Some(k)).await;
            assert_eq!(st.signal(), Some(9), "k={k}");
            assert_eq!(
                journal_lines(&state) as u64,
                before + k,
                "k={k}: a synced record was lost"
            );
            // The next rollback (or apply) continues it.
            assert_eq!(
                rollback_child(&state, &h, None).await.code(),
                Some(0),
                "k={k}"
            );
            let got = projection(&h).await;
            assert!(got == reference, "k={k}: {got}\nvs\n{reference}");
            let status = executor::status(&state).unwrap();
            assert_eq!(status.migration_records, 0, "k={k}");
            h.shutdown().await;
        }
    })
    .await;
}

/// The machine that ran an apply is lost mid-import: `rollback --plan` from an empty state
/// directory rolls back what live state shows the plan imported, and nothing of it is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_from_an_empty_state_dir_undoes_a_partial_apply() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    assert_eq!(apply_child(&plan, &state, &h, None).await.code(), Some(0));
    let n = journal_lines(&state) as u64;
    h.shutdown().await;
    for k in [n / 3, n / 2, 2 * n / 3] {
        let h = start_sim().await;
        let clean = projection(&h).await;
        let d = tempfile::tempdir().unwrap();
        let plan = write_plan(d.path());
        let st = apply_child(&plan, &d.path().join("state"), &h, Some(k)).await;
        assert_eq!(st.signal(), Some(9), "k={k}");
        let imported = projection(&h).await["records"].as_array().unwrap().len();
        assert!(imported > 0, "k={k}: nothing imported yet");
        let empty = d.path().join("other-machine");
        let st = harness_child(
            &[
                "rollback",
                empty.to_str().unwrap(),
                &h.base_url(),
                plan.to_str().unwrap(),
            ],
            &[],
            None,
        )
        .await;
        assert_eq!(
            st.code(),
            Some(0),
            "k={k}: {}",
            std::fs::read_to_string(empty.join("executor.log")).unwrap_or_default()
        );
        let got = projection(&h).await;
        assert_eq!(
            got["records"],
            json!([]),
            "k={k}: something is still imported"
        );
        assert_eq!(
            policy_and_records(&got),
            policy_and_records(&clean),
            "k={k}: Policy objects of the plan are left"
        );
        let log = std::fs::read_to_string(empty.join("executor.log")).unwrap();
        assert!(log.contains("inferred from live state"), "{log}");
        h.shutdown().await;
    }
}

/// Policy paths and migration records, for "nothing of the cluster is left".
fn policy_and_records(v: &Value) -> Value {
    json!({"policy": v["policy"], "records": v["records"]})
}

/// Manager ids in the import submissions after position `from` of the request log.
fn submitted_ids(h: &SimHandle, from: usize) -> Vec<String> {
    writes_since(h, from)
        .iter()
        .filter(|r| r["path"] == "/api/v1/migration/mp-to-policy")
        .flat_map(|r| {
            r["body"]["migration_data"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|d| d["resource_ids"].as_array().cloned().unwrap_or_default())
                .filter_map(|x| x["manager_id"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A simulator whose coordinator fails the migration of `victim`.
async fn failing_sim(victim: &str) -> SimHandle {
    let h = start_sim().await;
    set_migration_faults(&h, json!({"migration_fail": [victim]})).await;
    h
}

async fn crash_in_import_rollback(
    k: u64,
    victim: String,
    resume_with_rollback: bool,
    clean: Value,
    reference: Value,
) {
    let h = failing_sim(&victim).await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    let st = apply_child(&plan, &state, &h, Some(k)).await;
    assert_eq!(st.signal(), Some(9), "k={k}: not killed ({st:?})");
    assert_eq!(
        journal_lines(&state) as u64,
        k,
        "k={k}: a synced record was lost"
    );
    let loaded = executor::journal::load(&state.join("journal.jsonl"), None).unwrap();
    assert!(
        loaded.records.iter().any(|r| matches!(
            r.event,
            plan_schema::journal::JournalEvent::RollbackIntent { .. }
        )),
        "k={k}: the kill came before the rollback started"
    );
    let before = log_len(&h);
    let (st, expected) = if resume_with_rollback {
        (rollback_child(&state, &h, None).await, 0)
    } else {
        (apply_child(&plan, &state, &h, None).await, 2)
    };
    let how = if resume_with_rollback {
        "rollback"
    } else {
        "apply"
    };
    assert_eq!(st.code(), Some(expected), "k={k}: resumed {how}");
    // The resumed run only finished the rollback: it imported nothing.
    let again = submitted_ids(&h, before);
    assert!(again.is_empty(), "k={k}: {how} imported again: {again:?}");
    no_duplicate_import(&h);
    let loaded = executor::journal::load(&state.join("journal.jsonl"), None).unwrap();
    assert!(loaded.records.len() as u64 > k, "k={k}: journal shrank");
    let got = projection(&h).await;
    assert_eq!(got["records"], json!([]), "k={k}: migration records left");
    assert!(
        policy_and_records(&got) == clean,
        "k={k}: something of the cluster is left in Policy:\n{got}\nvs\n{clean}"
    );
    assert!(got == reference, "k={k}: {got}\nvs\n{reference}");
    let status = executor::status(&state).unwrap();
    assert_eq!(status.migration_records, 0, "k={k}");
    assert!(!status.rolling_back, "k={k}: {}", status.render());
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_rollback_after_a_failed_import_is_continued_by_apply_or_rollback() {
    // The fault: the migration of an object in the last batch fails, so the apply rolls back
    // every batch imported before it (and the failed batch's promoted part).
    let d = tempfile::tempdir().unwrap();
    let plan_path = write_plan(d.path());
    let plan = plan_schema::read_mp_plan_file(&plan_path).unwrap();
    let batches: Vec<&plan_schema::mp::ImportBatch> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            plan_schema::mp::Action::ImportBatch(b) => Some(b),
            _ => None,
        })
        .collect();
    let late = batches[batches.len() - 1];
    let victim = late.resources[late.resources.len() - 1].manager_id.clone();

    // Reference: the same failure, uninterrupted.
    let h = failing_sim(&victim).await;
    let clean = policy_and_records(&projection(&h).await);
    let state = d.path().join("state");
    let st = apply_child(&plan_path, &state, &h, None).await;
    assert_eq!(st.code(), Some(2), "the failed import rolls back: exit 2");
    let reference = projection(&h).await;
    assert_eq!(policy_and_records(&reference), clean, "clean rollback");
    h.shutdown().await;
    let loaded = executor::journal::load(&state.join("journal.jsonl"), None).unwrap();
    let n = loaded.records.len() as u64;
    let first_rollback = loaded
        .records
        .iter()
        .find(|r| {
            matches!(
                r.event,
                plan_schema::journal::JournalEvent::RollbackIntent { .. }
            )
        })
        .map(|r| r.seq)
        .expect("the run rolled back");
    let rollbacks = loaded
        .records
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                plan_schema::journal::JournalEvent::RollbackDone { .. }
            )
        })
        .count();
    assert!(rollbacks >= 5, "{rollbacks} batches rolled back");
    // Kill points from the first rollback record to the one before the run's exit record.
    let span = n - 1 - first_rollback;
    let mut ks: Vec<u64> = (0..6).map(|i| first_rollback + i * span / 5).collect();
    ks.dedup();
    assert!(ks.len() >= 5, "{ks:?}");
    let points = ks.iter().flat_map(|&k| [(k, false), (k, true)]).collect();
    run_pool(points, |(k, with_rollback)| {
        let (v, c, r) = (victim.clone(), clean.clone(), reference.clone());
        crash_in_import_rollback(k, v, with_rollback, c, r)
    })
    .await;
}

/// Apply killed anywhere (before, during or after the import batches), then `rollback`: nothing
/// of the plan stays imported, including a batch the killed run submitted but never recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_apply_then_rollback_leaves_nothing_imported() {
    use plan_schema::journal::JournalEvent;
    let h = start_sim().await;
    let clean = policy_and_records(&projection(&h).await);
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let state = d.path().join("state");
    assert_eq!(apply_child(&plan, &state, &h, None).await.code(), Some(0));
    h.shutdown().await;
    let loaded = executor::journal::load(&state.join("journal.jsonl"), None).unwrap();
    let n = loaded.records.len() as u64;
    // Right after a batch's submit, start and continue outcomes (the coordinator holds data,
    // is prechecking, is promoting), plus an even spread over the whole run.
    let mut ks: Vec<u64> = loaded
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            matches!(&r.event, JournalEvent::StepDone { step, op, .. }
                if step.starts_with("import/") && matches!(op.as_str(), "submit" | "start" | "continue"))
        })
        .map(|(i, _)| i as u64 + 1)
        .take(6)
        .collect();
    assert_eq!(ks.len(), 6);
    let in_flight: std::collections::BTreeSet<u64> = ks.iter().copied().collect();
    ks.extend(spread(n - 1, 8));
    ks.sort_unstable();
    ks.dedup();
    run_pool(ks, |k| {
        let clean = clean.clone();
        let mid_batch = in_flight.contains(&k);
        async move {
            let h = start_sim().await;
            let d = tempfile::tempdir().unwrap();
            let plan = write_plan(d.path());
            let state = d.path().join("state");
            let st = apply_child(&plan, &state, &h, Some(k)).await;
            assert_eq!(st.signal(), Some(9), "k={k}: not killed ({st:?})");
            if mid_batch {
                let status = executor::status(&state).unwrap();
                assert!(
                    status.unrecorded_submissions > 0,
                    "k={k}: {}",
                    status.render()
                );
            }
            let st = rollback_child(&state, &h, None).await;
            assert_eq!(st.code(), Some(0), "k={k}: rollback");
            let got = projection(&h).await;
            assert_eq!(got["records"], json!([]), "k={k}: migration records left");
            assert!(
                policy_and_records(&got) == clean,
                "k={k}: something of the cluster is left in Policy:\n{got}\nvs\n{clean}"
            );
            let status = executor::status(&state).unwrap();
            assert_eq!(status.migration_records, 0, "k={k}");
            assert_eq!(status.unrecorded_submissions, 0, "k={k}");
            // A second rollback has nothing left to do and sends no change.
            let before = log_len(&h);
            assert_eq!(rollback_child(&state, &h, None).await.code(), Some(0));
            assert!(
                writes_since(&h, before).is_empty(),
                "k={k}: a second rollback wrote"
            );
            h.shutdown().await;
        }
    })
    .await;
}

//! The lock on the manager: two operators applying one plan from two machines (two state
//! directories) at once: exactly one runs, the other is refused before any write and names the
//! holder; a lock whose lease ran out is taken over, a live one is not; audit reports a stale
//! lock; force-unlock removes it; a finished run never leaves it behind.

use std::time::Duration;

use crate::common::*;
use executor::manager_lock::{self, ManagerLockConfig};
use executor::{ExecError, ExitCode};
use serde_json::{Value, json};
use simulator::SimHandle;

fn lock_url() -> String {
    format!("/policy/api/v1{}", manager_lock::DEFAULT_PATH)
}

/// Lock ids of the lock writes the manager accepted.
fn accepted_lock_ids(h: &SimHandle) -> Vec<String> {
    let mut ids: Vec<String> = h
        .request_log()
        .iter()
        .filter(|r| is_manager_lock(r) && r["method"] == "PUT" && r["status"] == 200)
        .filter_map(|r| {
            r["body"]["tags"].as_array()?.iter().find_map(|t| {
                (t["scope"] == "nsx-migrate/lock-id")
                    .then(|| t["tag"].as_str().unwrap().to_string())
            })
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

async fn client(h: &SimHandle) -> executor::client::NsxClient {
    executor::client::NsxClient::new(nsx_config(h)).unwrap()
}

/// A lock written by a run on another machine, renewed just now.
async fn foreign_lock(h: &SimHandle, lease_s: u64) -> Value {
    let tag = |k: &str, v: &str| json!({"scope": format!("nsx-migrate/lock-{k}"), "tag": v});
    client(h)
        .await
        .put(
            &lock_url(),
            &json!({"resource_type": "Group", "display_name": "nsx-migrate lock", "expression": [],
                    "tags": [tag("id", "other-run"), tag("owner", "alice"), tag("host", "jump-2"),
                             tag("pid", "4242"), tag("plan", "sha256:elsewhere"), tag("mode", "apply"),
                             tag("since", "2026-12-01T00:00:00Z"), tag("lease-s", &lease_s.to_string())]}),
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_applies_one_runs_the_other_is_refused_before_any_write() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let mut a = apply_opts(&h, &plan, &d.path().join("operator-a"));
    let mut b = apply_opts(&h, &plan, &d.path().join("operator-b"));
    // Both at NSX's pace (the tests' default is unthrottled), and the winner's first firewall
    // write answered 3 s late: the winner holds the lock well past the moment the other run
    // asks for it. Without that, on a busy machine the first run could finish and release the
    // lock before the second one's preflight asked for it, and there was nothing to contend for.
    a.nsx.rate_limit = Some(80.0);
    b.nsx.rate_limit = Some(80.0);
    crate::common::add_fault(
        &h,
        json!({"rules": [{"method": "DELETE", "path": "/api/v1/firewall/sections/*",
                          "nth": [1], "action": "delay", "delay_ms": 3000}]}),
    )
    .await;
    let (ra, rb) = tokio::join!(executor::apply(&a), executor::apply(&b));
    let (won, lost, lost_dir) = match (ra, rb) {
        (Ok(o), Err(e)) => (o, e, d.path().join("operator-b")),
        (Err(e), Ok(o)) => (o, e, d.path().join("operator-a")),
        (ra, rb) => panic!("exactly one run must win: {ra:?} / {rb:?}"),
    };
    assert_eq!(won.exit_code, ExitCode::Success, "{}", won.message);
    assert!(matches!(lost, ExecError::ManagerLocked { .. }), "{lost}");
    assert!(lost.is_refusal(), "the loser exits 3");
    let msg = lost.to_string();
    assert!(
        msg.contains("locked by") && msg.contains("force-unlock"),
        "{msg}"
    );
    // Nothing of the loser reached NSX: every accepted lock write is the winner's, and the
    // loser journaled nothing.
    assert_eq!(
        accepted_lock_ids(&h).len(),
        1,
        "{:?}",
        accepted_lock_ids(&h)
    );
    assert!(
        !lost_dir.join("journal.jsonl").exists()
            || std::fs::read_to_string(lost_dir.join("journal.jsonl"))
                .unwrap()
                .is_empty()
    );
    // The winner removed its lock.
    assert!(
        manager_lock::read(&client(&h).await, &Default::default())
            .await
            .unwrap()
            .is_none()
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_lease_refuses_an_expired_one_is_taken_over_and_audit_reports_it() {
    let h = start_sim().await;
    let d = tempfile::tempdir().unwrap();
    let plan = write_plan(d.path());
    let parsed = plan_schema::read_plan_file(&plan).unwrap();
    foreign_lock(&h, 1).await;
    let short = ManagerLockConfig {
        grace: Duration::ZERO,
        ..Default::default()
    };

    // Live: refused, nothing sent, the holder named.
    let before = log_len(&h);
    let mut o = apply_opts(&h, &plan, &d.path().join("s1"));
    o.manager_lock = short.clone();
    let e = executor::apply(&o).await.unwrap_err();
    assert!(matches!(e, ExecError::ManagerLocked { .. }), "{e}");
    assert!(e.to_string().contains("alice@jump-2 pid 4242"), "{e}");
    let sent: Vec<Value> = full_log(&h)
        .into_iter()
        .skip(before)
        .filter(|r| {
            r["method"] != "GET" && !r["path"].as_str().unwrap().starts_with("/api/session")
        })
        .collect();
    assert!(sent.is_empty(), "{sent:?}");
    let report = executor::audit(&parsed, &nsx_config(&h), &short, None)
        .await
        .unwrap();
    let note = report.manager_lock.as_ref().expect("audit shows the lock");
    assert!(!note.expired);
    assert!(
        report.render().contains("held lock on the manager"),
        "{}",
        report.render()
    );

    // Its 1 s lease runs out: audit calls it stale, and the next apply takes it over.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let report = executor::audit(&parsed, &nsx_config(&h), &short, None)
        .await
        .unwrap();
    assert!(report.manager_lock.as_ref().unwrap().expired);
    assert!(!report.is_clean());
    assert!(
        report.render().contains("stale lock on the manager"),
        "{}",
        report.render()
    );
    let out = executor::apply(&o).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert!(
        std::fs::read_to_string(d.path().join("s1/executor.log"))
            .unwrap()
            .contains("took over the lock on the manager"),
    );
    // A successful run leaves no lock behind.
    assert!(
        manager_lock::read(&client(&h).await, &short)
            .await
            .unwrap()
            .is_none()
    );

    // force-unlock removes a lock whose id matches, and only then.
    foreign_lock(&h, 600).await;
    let c = client(&h).await;
    assert!(
        manager_lock::force_unlock(&c, &short, "wrong-id")
            .await
            .is_err()
    );
    let removed = manager_lock::force_unlock(&c, &short, "other-run")
        .await
        .unwrap();
    assert_eq!(removed.unwrap().owner, "alice");
    assert!(manager_lock::read(&c, &short).await.unwrap().is_none());
    h.shutdown().await;
}

//! `apply` of a vio-v2t plan against the VIO simulator on 127.0.0.1: preflight, the API replay
//! onto the replay target (`network-replay`), resume, the replay fault with rollback or stop,
//! the Octavia replay at the replay target's `v2/lbaas/`, and the stop before the window (no
//! NSX-V Manager or vCenter given).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use executor::client::{NsxClient, OpenStackClient};
use executor::{ExitCode, OnImportFailure};
use plan_schema::vio::Action;
use planner::vio::rules::VioRules;
use serde_json::{Value, json};
use simulator::SimHandle;

use crate::common::{full_log, journal_lines, nsx_config, rollback_opts, sim_control};
use crate::vio_common::{
    VioFixture, assert_killed, build_plan, clean_inventory, clean_plan, edit_json, harness_apply,
    journal_records, save_plan,
};

/// The clean example's plan, against the simulator on it (no faults).
struct Fixture(VioFixture);

impl std::ops::Deref for Fixture {
    type Target = VioFixture;
    fn deref(&self) -> &VioFixture {
        &self.0
    }
}

async fn fixture() -> Fixture {
    Fixture(
        VioFixture::builder()
            .start(|_| {
                let plan = clean_plan();
                assert!(
                    plan.is_applicable(),
                    "the clean example has no error finding"
                );
                plan
            })
            .await,
    )
}

impl Fixture {
    /// Every Policy path the plan's replay steps (Neutron and Octavia) promise.
    fn planned_paths(&self) -> BTreeSet<String> {
        self.plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::ApiReplay(r) => Some(r),
                _ => None,
            })
            .flat_map(|r| r.objects.iter().flat_map(|o| o.policy_paths.clone()))
            .collect()
    }

    async fn existing(&self, paths: &BTreeSet<String>) -> BTreeSet<String> {
        let nsx = NsxClient::new(nsx_config(&self.h)).unwrap();
        let mut out = BTreeSet::new();
        for p in paths {
            if nsx.get(&format!("/policy/api/v1{p}")).await.is_ok() {
                out.insert(p.clone());
            }
        }
        out
    }

    async fn assert_all_made(&self, planned: &BTreeSet<String>) {
        let have = self.existing(planned).await;
        let missing: Vec<&String> = planned.difference(&have).collect();
        assert!(missing.is_empty(), "missing Policy objects: {missing:?}");
    }

    async fn target(&self, path: &str, key: &str) -> Vec<Value> {
        self.os.list_all("network-replay", path, key).await.unwrap()
    }

    /// A copy of the clean inventory next to the plan, to change before `refused_after_replan`.
    fn copy_inventory(&self) -> PathBuf {
        let inv = self.plan_path.with_file_name("inventory");
        test_support::copy_dir(&clean_inventory(), &inv);
        inv
    }

    /// The plan rebuilt from the inventory at `inv` (the simulator keeps serving the clean
    /// one): apply is refused, and nothing is sent to the replay target. The refusal's text.
    async fn refused_after_replan(&self, inv: &Path) -> String {
        save_plan(
            &self.plan_path,
            &build_plan(inv, &VioRules::builtin(), Some("inventory")),
        );
        let from = self.h.request_log().len();
        let e = executor::apply(&self.opts()).await.expect_err("refused");
        assert!(e.is_refusal(), "{e}");
        assert_eq!(target_writes(&self.h, from), Vec::<String>::new());
        e.to_string()
    }

    async fn replay_faults(&self, body: Value) {
        let r = sim_control(
            &self.h,
            reqwest::Method::PUT,
            "/_sim/vio/replay-faults",
            Some(&body),
        )
        .await;
        assert!(r.status().is_success());
    }
}

/// Writes to the replay target in the request log after position `from`.
pub(crate) fn target_writes(h: &SimHandle, from: usize) -> Vec<String> {
    full_log(h)
        .into_iter()
        .skip(from)
        .filter(|r| {
            r["method"] != "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/target-network"))
        })
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_replay_makes_the_planned_policy_objects_and_a_rerun_sends_nothing() {
    let f = fixture().await;
    let planned = f.planned_paths();
    assert!(planned.len() > 30, "{} planned paths", planned.len());
    assert!(f.existing(&planned).await.is_empty(), "nothing before");

    let out = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("stopped before phase `edge_prep`"),
        "{}",
        out.message
    );
    // Every path the plan promises, the plugin (simulated) made: the planner's mapping and the
    // simulator's reading of the plugin agree (the load balancer's service, virtual servers,
    // pools and monitor included).
    for kind in [
        "/infra/lb-services/",
        "/infra/lb-virtual-servers/",
        "/infra/lb-pools/",
        "/infra/lb-monitor-profiles/",
    ] {
        assert!(
            planned.iter().any(|p| p.starts_with(kind)),
            "{kind} planned"
        );
    }
    let have = f.existing(&planned).await;
    let missing: Vec<&String> = planned.difference(&have).collect();
    assert!(missing.is_empty(), "missing Policy objects: {missing:?}");
    // Floating IPs: exactly the source's two, with new ids.
    let fips = f.target("/v2.0/floatingips", "floatingips").await;
    assert_eq!(fips.len(), 2, "{fips:?}");
    // QoS policies come with their rules.
    let rules = |v: &[Value]| {
        v.iter()
            .map(|p| p["rules"].as_array().map_or(0, Vec::len))
            .sum::<usize>()
    };
    let source_qos =
        f.os.list_all("network", "/v2.0/qos/policies", "policies")
            .await
            .unwrap();
    assert!(rules(&source_qos) > 0);
    assert_eq!(
        rules(&f.target("/v2.0/qos/policies", "policies").await),
        rules(&source_qos)
    );
    let first_writes = target_writes(&f.h, 0).len();
    assert!(first_writes >= 60, "{first_writes} writes");
    assert_lb_once(&f).await;
    // The Octavia calls went to the replay target's `v2/lbaas/` (the plan's default endpoint).
    let lb_writes: Vec<String> = target_writes(&f.h, 0)
        .into_iter()
        .filter(|w| w.contains("/lbaas/"))
        .collect();
    assert!(
        lb_writes.len() >= 8
            && lb_writes
                .iter()
                .all(|w| w.starts_with("\"POST\" \"/target-network/v2/lbaas/")),
        "{lb_writes:?}"
    );
    // The L7 policy's rule made the virtual server's rule condition.
    let nsx = NsxClient::new(nsx_config(&f.h)).unwrap();
    let l7 = f.plan.steps.iter().find_map(|s| match &s.action {
        Action::ApiReplay(r) if r.call.ends_with("/l7policies") => {
            Some(r.objects[0].policy_paths[0].clone())
        }
        _ => None,
    });
    let vs = nsx
        .get(&format!("/policy/api/v1{}", l7.expect("an L7 policy step")))
        .await
        .unwrap();
    assert_eq!(
        vs["rules"][0]["match_conditions"].as_array().map(Vec::len),
        Some(1),
        "{vs}"
    );

    // Re-run: the journal says every replay step is done; nothing is written to the target.
    let from = f.h.request_log().len();
    let again = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed, "{}", again.message);
    assert_eq!(target_writes(&f.h, from), Vec::<String>::new());
    assert_eq!(again.writes_sent, 0);

    // A new state directory (no journal): every replay step is adopted from what the target
    // holds; nothing is written, no floating IP twice.
    let mut o = f.opts();
    o.state_dir = f.state.with_file_name("state-2");
    let from = f.h.request_log().len();
    let third = executor::apply(&o).await.expect("not refused");
    assert_eq!(third.exit_code, ExitCode::Mixed, "{}", third.message);
    assert_eq!(target_writes(&f.h, from), Vec::<String>::new());
    assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 2);
    assert_lb_once(&f).await;
    // What it adopted is what `rollback` removes.
    let mut r = rollback_opts(&f.h, &o.state_dir);
    r.openstack = Some(f.os.clone());
    let rb = executor::rollback(&r).await.expect("not refused");
    assert_eq!(rb.exit_code, ExitCode::Success, "{}", rb.message);
    assert!(f.existing(&planned).await.is_empty());
    assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 0);
    assert_eq!(lb_counts(&f).await, [0; 6]);
}

const LB_KINDS: [&str; 6] = [
    "loadbalancers",
    "listeners",
    "pools",
    "members",
    "healthmonitors",
    "l7policies",
];

/// Load balancers, listeners, pools, members, health monitors and L7 policies of one
/// OpenStack service (`load-balancer`: the source; `network-replay`: the replay target's
/// Octavia stand-in); members counted in their pools.
async fn lb_tree(os: &OpenStackClient, service: &str) -> [usize; 6] {
    let mut out = [0; 6];
    for (i, k) in LB_KINDS.into_iter().enumerate() {
        out[i] = if k == "members" {
            os.list_all(service, "/v2/lbaas/pools", "pools")
                .await
                .unwrap()
                .iter()
                .map(|p| p["members"].as_array().map_or(0, Vec::len))
                .sum()
        } else {
            os.list_all(service, &format!("/v2/lbaas/{k}"), k)
                .await
                .unwrap()
                .len()
        };
    }
    out
}

async fn lb_counts(f: &Fixture) -> [usize; 6] {
    lb_tree(&f.os, "network-replay").await
}

/// The source's load balancer tree on the target, each object once (the stand-in refuses a
/// second object with an id, and the replay keeps ids, so equal counts are the same objects).
async fn assert_lb_once(f: &Fixture) {
    let source = lb_tree(&f.os, "load-balancer").await;
    assert!(source[0] >= 1 && source[3] >= 1, "{source:?}");
    assert_eq!(
        lb_counts(f).await,
        source,
        "the source's load balancer tree, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_failure_rolls_back_what_the_plan_made_with_2112() {
    let f = fixture().await;
    f.replay_faults(json!({"fail_at_object": [40]})).await;
    let out = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert!(out.message.contains("2112"), "{}", out.message);
    assert!(out.message.contains("rolled back"), "{}", out.message);
    let left = f.existing(&f.planned_paths()).await;
    assert!(left.is_empty(), "left on NSX: {left:?}");
    for (path, key) in [
        ("/v2.0/networks", "networks"),
        ("/v2.0/ports", "ports"),
        ("/v2.0/routers", "routers"),
        ("/v2.0/security-groups", "security_groups"),
        ("/v2.0/floatingips", "floatingips"),
    ] {
        assert_eq!(f.target(path, key).await, Vec::<Value>::new(), "{key} left");
    }

    // Fixed: a new run replays everything.
    f.replay_faults(json!({})).await;
    let again = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed, "{}", again.message);
    assert!(again.message.contains("not available"), "{}", again.message);
    let planned = f.planned_paths();
    f.assert_all_made(&planned).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_stop_keeps_the_replay_and_a_rerun_finishes_it() {
    let f = fixture().await;
    f.replay_faults(json!({"fail_at_object": [40]})).await;
    let mut o = f.opts();
    o.on_import_failure = OnImportFailure::Stop;
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("2112"), "{}", out.message);
    let planned = f.planned_paths();
    let kept = f.existing(&planned).await;
    assert!(!kept.is_empty() && kept.len() < planned.len());

    f.replay_faults(json!({})).await;
    let again = executor::apply(&o).await.expect("not refused");
    assert_eq!(again.exit_code, ExitCode::Mixed, "{}", again.message);
    assert!(again.message.contains("not available"), "{}", again.message);
    f.assert_all_made(&planned).await;
    assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 2);

    // `rollback` removes everything the journal recorded.
    let mut r = rollback_opts(&f.h, &f.state);
    r.openstack = Some(f.os.clone());
    let rb = executor::rollback(&r).await.expect("not refused");
    assert_eq!(rb.exit_code, ExitCode::Success, "{}", rb.message);
    assert!(f.existing(&planned).await.is_empty());
    assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_without_the_openstack_cloud_nothing_sent() {
    let f = fixture().await;
    let mut o = f.opts();
    o.openstack = None;
    let from = f.h.request_log().len();
    let e = executor::apply(&o).await.expect_err("refused");
    assert!(e.is_refusal());
    assert!(e.to_string().contains("--os-cloud"), "{e}");
    assert_eq!(target_writes(&f.h, from), Vec::<String>::new());
}

/// `executor-crash-harness apply` of the fixture's plan into `state` in a child process (no
/// window clients); SIGKILLed after its `kill`-th journal record.
async fn apply_child(f: &Fixture, state: &Path, kill: Option<u64>) -> std::process::ExitStatus {
    harness_apply(&f.h, &f.plan_path, state, false, kill).await
}

/// The Octavia collection of a replay step, if it is one.
fn lb_kind(step: &str) -> Option<&'static str> {
    LB_KINDS
        .into_iter()
        .find(|k| step.starts_with(&format!("replay/{k}/")))
}

fn lb_record_is_member(records: &[plan_schema::journal::JournalRecord], k: u64) -> bool {
    matches!(
        &records[k as usize - 1].event,
        plan_schema::journal::JournalEvent::MigrationRecorded { step, .. } if step.starts_with("replay/members/")
    )
}

/// Journal positions (1-based) worth a kill: the first replay intent, a bulk intent, and
/// around each floating IP: its intent (killed before the POST) and its migration record
/// (killed before the new id's map entry); Octavia's (the first intent of each kind, each L7
/// rule's intent, the load balancers' and members' records: see below); and the last replay
/// record.
pub(crate) fn crash_points(state: &Path) -> Vec<u64> {
    use plan_schema::journal::JournalEvent;
    let records = journal_records(state);
    let mut out = Vec::new();
    let mut last_replay = 0;
    let mut bulk = false;
    let mut lb_seen = BTreeSet::new();
    let mut lb = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let k = i as u64 + 1;
        match &r.event {
            JournalEvent::StepIntent {
                step, request, op, ..
            } if step.starts_with("replay/") => {
                if out.is_empty() {
                    out.push(k);
                }
                let is_bulk = request
                    .body
                    .as_ref()
                    .and_then(Value::as_object)
                    .is_some_and(|b| b.values().any(Value::is_array));
                if is_bulk && !bulk {
                    bulk = true;
                    out.push(k);
                }
                if step.starts_with("replay/floatingips") {
                    out.push(k);
                }
                // Octavia: the first intent of each kind, and every L7 rule's (a second call
                // within its policy's step).
                if let Some(kind) = lb_kind(step)
                    && (lb_seen.insert(kind) || op.starts_with("l7rule/"))
                {
                    lb.push(k);
                }
                last_replay = k;
            }
            JournalEvent::MigrationRecorded { step, .. } if step.starts_with("replay/") => {
                if step.starts_with("replay/floatingips") {
                    out.push(k);
                }
                if step.starts_with("replay/loadbalancers/") || step.starts_with("replay/members/")
                {
                    lb.push(k);
                }
                last_replay = k;
            }
            _ => {}
        }
    }
    out.push(last_replay);
    // Every Octavia point with NSX_MIGRATE_CRASH_POINTS=all; in CI three of them: the load
    // balancer's intent, a member's record and the last (an L7 rule's intent).
    if std::env::var("NSX_MIGRATE_CRASH_POINTS").ok().as_deref() == Some("all") || lb.len() <= 3 {
        out.extend(lb);
    } else {
        out.push(lb[0]);
        if let Some(m) = lb.iter().find(|k| lb_record_is_member(&records, **k)) {
            out.push(*m);
        }
        out.push(lb[lb.len() - 1]);
    }
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_any_replay_point_converges_without_duplicates() {
    // Where to kill: the journal of an uninterrupted run.
    let reference = fixture().await;
    let ref_state = reference.state.clone();
    let status = apply_child(&reference, &ref_state, None).await;
    assert_eq!(status.code(), Some(1), "stops before edge_prep");
    let points = crash_points(&ref_state);
    assert!(points.len() >= 5, "{points:?}");
    eprintln!("replay kill points: {}", points.len());
    drop(reference);

    for k in points {
        let f = fixture().await;
        let killed = apply_child(&f, &f.state, Some(k)).await;
        assert_killed(killed, k);
        // No synced record is lost.
        assert!(journal_lines(&f.state) >= k as usize, "k={k}");
        let again = apply_child(&f, &f.state, None).await;
        assert_eq!(
            again.code(),
            Some(1),
            "k={k}: the re-run finishes the replay"
        );
        f.assert_all_made(&f.planned_paths()).await;
        assert_eq!(
            f.target("/v2.0/floatingips", "floatingips").await.len(),
            2,
            "k={k}: no floating IP twice"
        );
        assert_lb_once(&f).await;
        // The journal is whole (validated on load) and its ids are the target's.
        let records = journal_records(&f.state);
        let p = executor::progress::Progress::from_records(&records);
        let fip_ids: BTreeSet<String> = f
            .target("/v2.0/floatingips", "floatingips")
            .await
            .iter()
            .map(|x| x["id"].as_str().unwrap().to_string())
            .collect();
        let recorded: BTreeSet<String> = p
            .records
            .iter()
            .filter(|r| r.object_type == "floatingip")
            .flat_map(|r| r.object_ids.clone())
            .collect();
        assert_eq!(recorded, fip_ids, "k={k}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_source_objects_are_gone_is_stale_and_refused_nothing_sent() {
    let f = fixture().await;
    // Plan from a copy of the snapshot with one more network than the live source has.
    let inv = f.copy_inventory();
    edit_json(&inv.join("neutron/networks.json"), |doc| {
        let nets = doc["networks"].as_array_mut().unwrap();
        let mut gone = nets
            .iter()
            .find(|n| n["router:external"] == false)
            .unwrap()
            .clone();
        gone["id"] = json!("0b5e1c1e-0000-4000-8000-00000000dead");
        gone["name"] = json!("deleted-since");
        gone["subnets"] = json!([]);
        nets.push(gone);
    });
    let text = f.refused_after_replan(&inv).await;
    assert!(
        text.contains("stale") && text.contains("0b5e1c1e-0000-4000-8000-00000000dead"),
        "{text}"
    );
    let journal = std::fs::read_to_string(f.state.join("journal.jsonl")).unwrap_or_default();
    assert!(
        !journal.contains("step_intent"),
        "nothing was journaled as sent: {journal}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_lists_the_replay_and_sends_nothing() {
    let f = fixture().await;
    let mut o = f.opts();
    o.dry_run = true;
    let out = executor::apply(&o).await.expect("not refused");
    assert!(out.message.starts_with("dry run"), "{}", out.message);
    assert!(
        out.dry_run_requests.len() >= 60,
        "{:?}",
        out.dry_run_requests
    );
    assert!(
        out.dry_run_requests
            .iter()
            .any(|r| r.starts_with("POST [network-replay]/v2.0/ports {\"ports\":[")),
        "{:?}",
        out.dry_run_requests
    );
    assert_eq!(out.writes_sent, 0);
    assert_eq!(target_writes(&f.h, 0), Vec::<String>::new());
    assert!(!f.state.join("journal.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_coordinator_is_refused_with_1001_nothing_sent() {
    let f = fixture().await;
    let nsx = NsxClient::new(nsx_config(&f.h)).unwrap();
    nsx.post(
        "/api/v1/node/services/migration-coordinator?action=stop",
        &json!({}),
    )
    .await
    .unwrap();
    let from = f.h.request_log().len();
    let e = executor::apply(&f.opts()).await.expect_err("refused");
    assert!(e.is_refusal());
    assert!(
        e.to_string().contains("coordinator is stopped") && e.to_string().contains("1001"),
        "{e}"
    );
    assert_eq!(target_writes(&f.h, from), Vec::<String>::new());
    // Nothing but Keystone's token request (a login, not a change).
    let writes: Vec<Value> = crate::common::writes_since(&f.h, from)
        .into_iter()
        .filter(|r| r["path"] != "/v3/auth/tokens")
        .collect();
    assert_eq!(writes, Vec::<Value>::new());
}

/// Journal positions inside the rollback after a replay failure: just after its first intent,
/// and half way.
fn rollback_points(state: &Path) -> Vec<u64> {
    use plan_schema::journal::JournalEvent;
    let records = journal_records(state);
    let n = records.len() as u64;
    let first = records
        .iter()
        .position(|r| matches!(r.event, JournalEvent::RollbackIntent { .. }))
        .expect("a rollback") as u64
        + 1;
    vec![first, first + (n - first) / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_the_rollback_after_a_replay_failure_is_finished_by_the_next_apply() {
    let reference = fixture().await;
    reference
        .replay_faults(json!({"fail_at_object": [40]}))
        .await;
    let status = apply_child(&reference, &reference.state, None).await;
    assert_eq!(status.code(), Some(2), "rolled back");
    let points = rollback_points(&reference.state);
    drop(reference);

    for k in points {
        let f = fixture().await;
        f.replay_faults(json!({"fail_at_object": [40]})).await;
        let killed = apply_child(&f, &f.state, Some(k)).await;
        assert_killed(killed, k);
        let journal = std::fs::read_to_string(f.state.join("journal.jsonl")).unwrap();
        assert!(
            journal.contains("\"rollback_intent\""),
            "k={k}: killed inside the rollback"
        );
        // The next apply finishes the rollback first, and only that.
        let again = apply_child(&f, &f.state, None).await;
        assert_eq!(again.code(), Some(2), "k={k}: the rollback is finished");
        assert!(
            f.existing(&f.planned_paths()).await.is_empty(),
            "k={k}: left on NSX"
        );
        assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 0);
        // Then, the cause fixed, a new apply replays everything once.
        f.replay_faults(json!({})).await;
        let forward = apply_child(&f, &f.state, None).await;
        assert_eq!(
            forward.code(),
            Some(1),
            "k={k}: replayed, stopped before edge_prep"
        );
        f.assert_all_made(&f.planned_paths()).await;
        assert_eq!(f.target("/v2.0/floatingips", "floatingips").await.len(), 2);
    }
}

/// The replay's request shapes and journal protocol: every bulk create carries one project's
/// objects (and some carry several objects); every change to the target has a durable intent
/// before it and an outcome after it, every recorded object was named by an intent of its step
/// before, and every step's end comes after its last outcome (outcome, recorded objects and
/// step end are journaled in one write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_creates_are_one_project_each_and_every_object_has_intent_and_outcome() {
    let f = fixture().await;
    let out = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);

    let mut bulks = 0;
    for r in full_log(&f.h) {
        let path = r["path"].as_str().unwrap_or("");
        if r["method"] != "POST" || !path.starts_with("/target-network/v2.0/") {
            continue;
        }
        let Some((_, items)) = r["body"]
            .as_object()
            .and_then(|m| m.iter().find(|(_, v)| v.is_array()))
        else {
            continue;
        };
        let items = items.as_array().unwrap();
        let projects: BTreeSet<&str> = items
            .iter()
            .map(|o| {
                o["project_id"]
                    .as_str()
                    .or(o["tenant_id"].as_str())
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(projects.len(), 1, "a bulk POST {path} spans {projects:?}");
        if items.len() > 1 {
            bulks += 1;
        }
    }
    assert!(bulks >= 3, "{bulks} bulk creates of more than one object");

    let journal = std::fs::read_to_string(f.state.join("journal.jsonl")).unwrap();
    let recs: Vec<Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Renewed ids (floating IPs, subnet pools, RBAC policies) are recorded under the target's
    // new id, mapped from the source id named by the intent.
    let renewed: BTreeSet<(String, String)> = recs
        .iter()
        .map(|r| &r["event"])
        .filter(|ev| ev["op"].as_str().is_some_and(|o| o.starts_with("new-id/")))
        .map(|ev| {
            let src = ev["op"].as_str().unwrap().trim_start_matches("new-id/");
            (ev["step"].as_str().unwrap().to_string(), src.to_string())
        })
        .collect();
    let new_ids: BTreeSet<&str> = recs
        .iter()
        .map(|r| &r["event"])
        .filter(|ev| ev["op"].as_str().is_some_and(|o| o.starts_with("new-id/")))
        .filter_map(|ev| ev["detail"].as_str())
        .collect();
    assert!(!renewed.is_empty(), "the example has floating IPs");
    let mut open: BTreeSet<(String, String)> = BTreeSet::new();
    let mut named: BTreeSet<(String, String)> = BTreeSet::new();
    let mut ended: BTreeSet<String> = BTreeSet::new();
    let (mut intents, mut objects) = (0, 0);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["seq"], i as u64 + 1, "gap-free");
        let ev = &r["event"];
        let step = ev["step"].as_str().unwrap_or("").to_string();
        let op = ev["op"].as_str().unwrap_or("").to_string();
        match ev["type"].as_str().unwrap_or("") {
            "step_intent" if ev["request"]["endpoint"].is_string() => {
                assert!(!ended.contains(&step), "{step}: a change after its end");
                assert!(open.insert((step.clone(), op)), "{step}: two open intents");
                for id in ev["object_ids"].as_array().into_iter().flatten() {
                    named.insert((step.clone(), id.as_str().unwrap().to_string()));
                }
                intents += 1;
            }
            "step_done" if op == "step" => {
                assert!(
                    !open.iter().any(|(s, _)| *s == step),
                    "{step}: ended with an intent open"
                );
                ended.insert(step);
            }
            "step_done" | "step_failed" => {
                open.remove(&(step, op));
            }
            "migration_recorded" => {
                for id in ev["object_ids"].as_array().into_iter().flatten() {
                    let id = id.as_str().unwrap();
                    // A router interface is recorded as `router/port`, its intent names the port.
                    let port = id.rsplit('/').next().unwrap_or(id);
                    assert!(
                        new_ids.contains(id)
                            || named.contains(&(step.clone(), id.to_string()))
                            || named.contains(&(step.clone(), port.to_string())),
                        "{step}: {id} recorded without an intent naming it"
                    );
                    objects += 1;
                }
            }
            _ => {}
        }
    }
    assert!(open.is_empty(), "intents without an outcome: {open:?}");
    for (step, src) in &renewed {
        assert!(
            named.contains(&(step.clone(), src.clone())),
            "{step}: new id of {src} without an intent naming {src}"
        );
    }
    assert!(
        intents >= 60 && objects > intents,
        "{intents} writes, {objects} objects"
    );
}

/// A refused Octavia call (the health monitor's) is an API replay failure like any other: the
/// run rolls back what the plan made, the load balancer tree first (deleted children before
/// parents, then the Neutron objects under it), with the seed's 2112; with `--on-failure stop`
/// the replay stops there and a re-run finishes it without making any object twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_octavia_failure_rolls_back_with_2112_or_stops_and_a_rerun_finishes() {
    let f = fixture().await;
    let hm = json!({"name": "hm-refused", "method": "POST",
        "path": "/target-network/v2/lbaas/healthmonitors", "action": "status",
        "status": 400, "times": 1});
    crate::common::add_fault(&f.h, hm.clone()).await;
    let out = executor::apply(&f.opts()).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::RolledBack, "{}", out.message);
    assert!(
        out.message.contains("2112") && out.message.contains("replay/healthmonitors/"),
        "{}",
        out.message
    );
    let planned = f.planned_paths();
    let left = f.existing(&planned).await;
    assert!(left.is_empty(), "left on NSX: {left:?}");
    assert_eq!(lb_counts(&f).await, [0; 6]);
    assert_eq!(
        f.target("/v2.0/networks", "networks").await,
        Vec::<Value>::new()
    );
    // The load balancer tree went before the Neutron objects it sits on (its VIP port,
    // subnet and network), its children before it.
    let deletes: Vec<String> = full_log(&f.h)
        .into_iter()
        .filter(|r| r["method"] == "DELETE")
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .filter(|p| p.starts_with("/target-network/"))
        .collect();
    let at = |part: &str| {
        deletes
            .iter()
            .position(|p| p.ends_with(part))
            .unwrap_or_else(|| panic!("no delete of {part}: {deletes:?}"))
    };
    let lbs =
        f.os.list_all("load-balancer", "/v2/lbaas/loadbalancers", "loadbalancers")
            .await
            .unwrap();
    for lb in &lbs {
        let lb_at = at(&format!("/loadbalancers/{}", lb["id"].as_str().unwrap()));
        for l in lb["listeners"].as_array().unwrap() {
            assert!(at(&format!("/listeners/{}", l["id"].as_str().unwrap())) < lb_at);
        }
        for k in ["vip_port_id", "vip_subnet_id", "vip_network_id"] {
            let id = lb[k].as_str().unwrap();
            assert!(
                lb_at < at(&format!("/{id}")),
                "{k} {id} deleted before its LB"
            );
        }
    }

    // Again, stopping there: what was made is kept; a re-run (the fault spent) finishes. This
    // time the plan sends the Octavia calls to the stand-in's neutron-lbaas location
    // (`[requirements.octavia] path`, from the rules' `[replay] octavia_path`), and `rollback`,
    // which has only the journal, deletes them there.
    let mut plan = f.plan.clone();
    plan.requirements.octavia.path = "/v2.0/lbaas".into();
    plan_schema::seal::seal(&mut plan);
    std::fs::write(
        &f.plan_path,
        plan_schema::write::to_toml(&plan, None).unwrap(),
    )
    .unwrap();
    let mut hm = hm;
    hm["path"] = json!("/target-network/v2.0/lbaas/healthmonitors");
    crate::common::add_fault(&f.h, hm).await;
    let from = f.h.request_log().len();
    let mut o = f.opts();
    o.on_import_failure = OnImportFailure::Stop;
    o.state_dir = f.state.with_file_name("state-stop");
    let out = executor::apply(&o).await.expect("not refused");
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("2112"), "{}", out.message);
    let kept = lb_counts(&f).await;
    assert!(kept[0] == 1 && kept[4] == 0, "{kept:?}");
    let again = executor::apply(&o).await.expect("not refused");
    assert!(
        again.message.contains("stopped before phase `edge_prep`"),
        "{}",
        again.message
    );
    f.assert_all_made(&planned).await;
    assert_lb_once(&f).await;
    let lb_writes: Vec<String> = target_writes(&f.h, from)
        .into_iter()
        .filter(|w| w.contains("lbaas"))
        .collect();
    assert!(
        !lb_writes.is_empty()
            && lb_writes
                .iter()
                .all(|w| w.contains("\"/target-network/v2.0/lbaas/")),
        "{lb_writes:?}"
    );
    let mut r = rollback_opts(&f.h, &o.state_dir);
    r.openstack = Some(f.os.clone());
    let from = f.h.request_log().len();
    let rb = executor::rollback(&r).await.expect("not refused");
    assert_eq!(rb.exit_code, ExitCode::Success, "{}", rb.message);
    assert_eq!(lb_counts(&f).await, [0; 6]);
    let lb_deletes: Vec<String> = target_writes(&f.h, from)
        .into_iter()
        .filter(|w| w.contains("lbaas"))
        .collect();
    assert!(
        lb_deletes.len() >= 8
            && lb_deletes
                .iter()
                .all(|w| w.starts_with("\"DELETE\" \"/target-network/v2.0/lbaas/")),
        "{lb_deletes:?}"
    );
}

/// Octavia's staleness is a preflight refusal too: a member the plan replays that the live
/// source no longer has (the plan made from a snapshot with one more) refuses the run before
/// anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_octavia_member_is_gone_is_stale_and_refused_nothing_sent() {
    let f = fixture().await;
    let inv = f.copy_inventory();
    let mut pool = String::new();
    edit_json(&inv.join("octavia/members.json"), |doc| {
        let pools = doc.as_object_mut().unwrap();
        let (id, entry) = pools.iter_mut().next().unwrap();
        pool = id.clone();
        let members = entry["members"].as_array_mut().unwrap();
        let mut gone = members[0].clone();
        gone["id"] = json!("0b5e1c1e-0000-4000-8000-0000000000b1");
        gone["protocol_port"] = json!(9090);
        members.push(gone);
    });
    edit_json(&inv.join("octavia/pools.json"), |pd| {
        for p in pd["pools"].as_array_mut().unwrap() {
            if p["id"] == pool.as_str() {
                p["members"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"id": "0b5e1c1e-0000-4000-8000-0000000000b1"}));
            }
        }
    });
    let text = f.refused_after_replan(&inv).await;
    assert!(
        text.contains("no longer in the source Octavia")
            && text.contains("0b5e1c1e-0000-4000-8000-0000000000b1"),
        "{text}"
    );
}

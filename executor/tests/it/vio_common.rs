//! Helpers the VIO modules (`vio_apply`, `vio_window`, `vio_feedback`, `vio_reconfig`,
//! `vio_stage_faults`) share: the clean example's plan built in-process and written (resealed
//! after an edit), the VIO simulator started with a faults file, the OpenStack, NSX-V and
//! vCenter clients, the request log read as changes, the journal, and the crash harness run
//! in a child process.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use executor::client::{
    ConfigSearch, Credentials, NsxvAuth, NsxvClient, OpenStackClient, RetryPolicy, SeededJitter,
    ServiceConfig, VcenterClient,
};
use executor::{ApplyOptions, WindowClients};
use plan_schema::journal::JournalRecord;
use plan_schema::vio::{Action, Plan, StartBy};
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;
use planner::vio::{VioPlanOptions, build_vio_plan};
use serde_json::Value;
use simulator::SimHandle;
use tempfile::TempDir;

use crate::common::{apply_opts, full_log, harness_child};

/// The inventory source the clean example's plans name.
pub(crate) const CLEAN_SOURCE: &str = "examples/inventories/vio-small-clean";

pub(crate) fn clean_inventory() -> PathBuf {
    test_support::repo_root().join(CLEAN_SOURCE)
}

/// The plan of the inventory at `inv`, planned with `rules` at a fixed time; `source` is the
/// inventory source the plan records.
pub(crate) fn build_plan(inv: &Path, rules: &VioRules, source: Option<&str>) -> Plan {
    let snap = VioSnapshot::load(inv).expect("snapshot loads");
    build_vio_plan(
        &snap,
        rules,
        &VioPlanOptions {
            created_at: "2026-12-01T10:00:00Z".into(),
            tool_version: "test".into(),
            deployment: None,
            rules_source: None,
            inventory_source: source.map(Into::into),
        },
    )
    .expect("plan builds")
}

/// The clean example's plan from the built-in rules.
pub(crate) fn clean_plan() -> Plan {
    build_plan(&clean_inventory(), &VioRules::builtin(), Some(CLEAN_SOURCE))
}

/// The summary recomputed and the seal renewed after an edit of the steps.
pub(crate) fn reseal(plan: &mut Plan) {
    plan.summary = plan.computed_summary();
    plan_schema::seal::seal(plan);
}

/// `plan` written as TOML to `path`.
pub(crate) fn save_plan(path: &Path, plan: &Plan) {
    std::fs::write(path, plan_schema::write::to_toml(plan, None).unwrap()).unwrap();
}

/// `plan` written to `dir/plan.toml`; its path.
pub(crate) fn save_plan_in(dir: &Path, plan: &Plan) -> PathBuf {
    let path = dir.join("plan.toml");
    save_plan(&path, plan);
    path
}

/// Both coordinator runs (edge cutover, host migration) started by apply (the planner's
/// default is the operator).
pub(crate) fn started_by_apply(plan: &mut Plan) {
    for s in &mut plan.steps {
        match &mut s.action {
            Action::EdgeCutover(c) => c.start = StartBy::Apply,
            Action::HostMigration(h) => h.start = StartBy::Apply,
            _ => {}
        }
    }
}

/// The plan's Octavia replay steps removed, and every dependency on them.
pub(crate) fn without_octavia(plan: &mut Plan) {
    let octavia: std::collections::BTreeSet<String> = plan
        .steps
        .iter()
        .filter(|s| matches!(&s.action, Action::ApiReplay(r) if r.call.contains("/lbaas/")))
        .map(|s| s.id.clone())
        .collect();
    plan.steps.retain(|s| !octavia.contains(&s.id));
    for s in &mut plan.steps {
        s.depends_on.retain(|d| !octavia.contains(d));
    }
}

/// The JSON file at `path` read, changed by `edit` and written back.
pub(crate) fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut doc);
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
}

/// The VIO simulator on the inventory at `inv`, with `faults` (a simulator faults file's text)
/// written to `dir/faults.toml` when given.
pub(crate) async fn start_sim(inv: &Path, dir: &Path, faults: Option<&str>) -> SimHandle {
    let file = faults.map(|text| {
        let f = dir.join("faults.toml");
        std::fs::write(&f, text).unwrap();
        f
    });
    test_support::start_vio_sim(inv, file).await
}

/// A VIO simulator with a plan for it: the simulator on an inventory (with a faults file if
/// given), the plan written to `dir/plan.toml`, the state directory `dir/state` (not made),
/// and the OpenStack client of the clouds.yaml written to `dir`. Built by `VioFixture::builder`.
pub(crate) struct VioFixture {
    pub dir: TempDir,
    pub h: SimHandle,
    pub plan_path: PathBuf,
    pub plan: Plan,
    pub state: PathBuf,
    pub os: OpenStackClient,
}

/// What differs between the VIO fixtures: the inventory (the clean example by default) and the
/// simulator's faults file (none by default); the plan is given to `start`.
pub(crate) struct VioFixtureBuilder {
    dir: Option<TempDir>,
    inventory: PathBuf,
    faults: Option<String>,
}

impl VioFixture {
    pub(crate) fn builder() -> VioFixtureBuilder {
        VioFixtureBuilder {
            dir: None,
            inventory: clean_inventory(),
            faults: None,
        }
    }

    /// Apply options of the fixture: fast polling, its OpenStack client, no window clients.
    pub(crate) fn opts(&self) -> ApplyOptions {
        let mut o = apply_opts(&self.h, &self.plan_path, &self.state);
        o.openstack = Some(self.os.clone());
        o
    }

    /// As `opts`, with the window's clients and the point of no return confirmed or not.
    pub(crate) fn window_opts(&self, confirm: bool) -> ApplyOptions {
        let mut o = self.opts();
        o.window = window_clients(&self.h);
        o.confirm_point_of_no_return = confirm;
        o
    }
}

impl VioFixtureBuilder {
    /// The simulator's faults file (its TOML text).
    pub(crate) fn faults(mut self, text: &str) -> Self {
        self.faults = Some(text.to_string());
        self
    }

    /// The inventory at `inventory` (prepared inside `dir`, which becomes the fixture's).
    pub(crate) fn inventory(mut self, dir: TempDir, inventory: PathBuf) -> Self {
        self.dir = Some(dir);
        self.inventory = inventory;
        self
    }

    /// The simulator started, then the plan `plan` makes of the inventory written.
    pub(crate) async fn start(self, plan: impl FnOnce(&Path) -> Plan) -> VioFixture {
        let dir = self.dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
        let h = start_sim(&self.inventory, dir.path(), self.faults.as_deref()).await;
        let plan = plan(&self.inventory);
        let plan_path = save_plan_in(dir.path(), &plan);
        let os = openstack(&h, dir.path());
        let state = dir.path().join("state");
        VioFixture {
            dir,
            h,
            plan_path,
            plan,
            state,
            os,
        }
    }
}

/// The client settings of `openstack`: rate-limited, five attempts, a 20 s timeout.
pub(crate) fn openstack_service() -> ServiceConfig {
    ServiceConfig {
        rate_limit: Some(80.0),
        retry: RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            max_elapsed: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(1),
            jitter: std::sync::Arc::new(SeededJitter::new(7)),
        },
        timeout: Duration::from_secs(20),
        ..ServiceConfig::default()
    }
}

/// The OpenStack client of the cloud `vio-sim` from a clouds.yaml (and secure.yaml) written to
/// `dir` for the simulator.
pub(crate) fn openstack(h: &SimHandle, dir: &Path) -> OpenStackClient {
    openstack_with(h, dir, openstack_service())
}

/// As `openstack`, with the client settings `service`.
pub(crate) fn openstack_with(h: &SimHandle, dir: &Path, service: ServiceConfig) -> OpenStackClient {
    let (clouds, secure) = test_support::clouds_yaml(h, dir, simulator::DEFAULT_PASSWORD);
    let search = ConfigSearch {
        clouds: vec![clouds],
        secure: vec![secure],
    };
    let cloud = executor::client::resolve_cloud(Some("vio-sim"), &|_| None, &search).unwrap();
    OpenStackClient::new(cloud, service).unwrap()
}

pub(crate) fn sim_credentials() -> Credentials {
    Credentials::new(simulator::DEFAULT_USERNAME, simulator::DEFAULT_PASSWORD)
}

/// A client that retries a retriable failure once, quickly.
pub(crate) fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        max_elapsed: Duration::from_secs(10),
        max_retry_after: Duration::from_millis(50),
        jitter: std::sync::Arc::new(SeededJitter::new(7)),
    }
}

/// The NSX-V Manager and vCenter clients of the window (both served by the simulator), with a
/// 20 s timeout.
pub(crate) fn window_clients(h: &SimHandle) -> WindowClients {
    window_clients_with(
        h,
        ServiceConfig {
            timeout: Duration::from_secs(20),
            ..ServiceConfig::default()
        },
    )
}

/// As `window_clients`, with the client settings `svc`.
pub(crate) fn window_clients_with(h: &SimHandle, svc: ServiceConfig) -> WindowClients {
    WindowClients {
        nsxv: Some(
            NsxvClient::new(
                &h.base_url(),
                sim_credentials(),
                NsxvAuth::Basic,
                svc.clone(),
            )
            .unwrap(),
        ),
        vcenter: Some(VcenterClient::new(&h.base_url(), sim_credentials(), svc).unwrap()),
    }
}

/// A change of the deployment in the request log: not a GET, not a login (Keystone's token,
/// NSX's session), not the lock on the manager, and (unless `sim_control_counts`) not the
/// simulator's control endpoint.
pub(crate) fn is_change_with(r: &Value, sim_control_counts: bool) -> bool {
    let p = r["path"].as_str().unwrap_or("");
    r["method"] != "GET"
        && p != "/v3/auth/tokens"
        && (sim_control_counts || !p.starts_with("/_sim"))
        && !p.starts_with("/api/session")
        && !p.contains("nsx-migrate-lock")
}

/// A change of the deployment in the request log (the simulator's control aside).
pub(crate) fn is_change(r: &Value) -> bool {
    is_change_with(r, false)
}

/// Changes in the request log after `from`, as `METHOD path?query` (see `is_change`).
pub(crate) fn changes(h: &SimHandle, from: usize) -> Vec<String> {
    full_log(h)
        .into_iter()
        .skip(from)
        .filter(is_change)
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// The records of the journal in the state directory `state`.
pub(crate) fn journal_records(state: &Path) -> Vec<JournalRecord> {
    executor::journal::load(&state.join("journal.jsonl"), None)
        .unwrap()
        .records
}

/// `executor-crash-harness apply` of `plan` into `state` in a child process, with the cloud from
/// the clouds.yaml written next to the plan, one step at a time; with `window`, the NSX-V
/// Manager and vCenter of the simulator given and the point of no return confirmed. SIGKILLed
/// after its `kill`-th journal record.
pub(crate) async fn harness_apply(
    h: &SimHandle,
    plan: &Path,
    state: &Path,
    window: bool,
    kill: Option<u64>,
) -> ExitStatus {
    let dir = plan.parent().unwrap();
    let (clouds, secure) = (dir.join("clouds.yaml"), dir.join("secure.yaml"));
    let mut env: Vec<(&str, &OsStr)> = vec![
        ("OS_CLOUD", OsStr::new("vio-sim")),
        ("OS_CLIENT_CONFIG_FILE", clouds.as_os_str()),
        ("OS_CLIENT_SECURE_FILE", secure.as_os_str()),
        // One step at a time: the journal's order is the same in every run, so a kill point
        // read from the reference run's journal is the same record in the killed run.
        ("EXEC_HARNESS_CONCURRENCY", OsStr::new("1")),
    ];
    if window {
        env.push(("EXEC_HARNESS_WINDOW", OsStr::new("1")));
        env.push(("EXEC_HARNESS_CONFIRM", OsStr::new("1")));
    }
    harness_child(
        &[
            "apply",
            plan.to_str().unwrap(),
            state.to_str().unwrap(),
            &h.base_url(),
        ],
        &env,
        kill,
    )
    .await
}

/// The harness child ended by SIGKILL (at kill point `k`).
pub(crate) fn assert_killed(status: ExitStatus, k: u64) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "k={k}: killed");
}

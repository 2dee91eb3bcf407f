//! The coordinator's NSX-V to NSX modes a VIO migration drives: `EDGE_CUTOVER` and
//! `DFW_AND_HOST_AND_WORKLOAD` (reference `vio-v2t-anchors.md` sections 3 and 4.1).
//!
//! Its own state machine, sharing with the Manager-to-Policy import only the service-level
//! question "which mode is configured": a setup for another mode, or an MP-to-Policy workflow,
//! while one is configured and neither finished nor aborted is refused ([`MODE_CONFLICT`]).
//!
//! Time is virtual: the clock runs with the wall clock and jumps forward on
//! `POST /_sim/v2t/clock?advance_seconds=N`; it is kept in the state file, so a restart resumes
//! at the same virtual time. Progress, token expiry and the seed's timeouts (12 h edge cutover,
//! 48 h host migration) are all measured on it. Every request to `/api/v1/migration/*` first
//! calls [`tick`], which applies the time elapsed since the previous one.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimConfig;
use crate::api::{ApiError, Reply, Req, list_page};
use crate::state::State;
use crate::util::now_ms;

/// Error codes of this simulator's V2T refusals (the real codes are not public: docs/rules.md).
pub const MODE_CONFLICT: i64 = 30530;
pub const SETUP_FAILED: i64 = 30531;
pub const INVALID_STATE: i64 = 30532;
pub const ROLLBACK_REFUSED: i64 = 30533;
pub const FEEDBACK_PENDING: i64 = 30534;

pub const EDGE_CUTOVER: &str = "EDGE_CUTOVER";
pub const HOST_MODE: &str = "DFW_AND_HOST_AND_WORKLOAD";
pub const MAPPING: &str = "EDGE_CUTOVER_MAPPING";
const FILE_TYPES: [&str; 4] = [
    "VRA_INPUT",
    "EDGE_CUTOVER_MAPPING",
    "BYOT_L3_MAPPING",
    "AVI_LB_MAPPING",
];
const MODULE: &str = "migration-coordinator";

// ---------------------------------------------------------------------------------------------
// Settings and faults (`[migration.v2t]` of a faults file, `v2t` of PUT /_sim/migration-faults)

fn d_edge_timeout() -> u64 {
    12 * 3600
}
fn d_host_timeout() -> u64 {
    48 * 3600
}
fn d_edge_per_dlr() -> u64 {
    120
}
fn d_dfw() -> u64 {
    60
}
fn d_per_host() -> u64 {
    600
}

/// Timings (virtual seconds) and deterministic faults of the V2T modes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct V2tFaults {
    /// A run of EDGE_CUTOVER not finished this long after its start fails (seed: 12 h).
    #[serde(default = "d_edge_timeout")]
    pub edge_timeout_s: u64,
    /// A run of DFW_AND_HOST_AND_WORKLOAD not finished this long after its start fails (48 h).
    #[serde(default = "d_host_timeout")]
    pub host_timeout_s: u64,
    /// Work of the EDGE component per edge the mapping names (at least one unit).
    #[serde(default = "d_edge_per_dlr")]
    pub edge_s_per_dlr: u64,
    /// Work of the DFW component.
    #[serde(default = "d_dfw")]
    pub dfw_s: u64,
    /// Work of the HOST component per host of an enabled group (serial).
    #[serde(default = "d_per_host")]
    pub host_s_per_host: u64,
    /// NSX-V edge ids that get a feedback request at edge cutover start even when mapped (a DLR,
    /// or another edge the mapping names).
    #[serde(default)]
    pub feedback_edges: BTreeSet<String>,
    /// Every DLR the edge cutover mapping names gets a request at start to confirm its policy
    /// gateway (vertical `EDGE`, sub_vertical `DLR_GATEWAY`, its edge id as `v_object_id`,
    /// suggested `map` to the mapped gateway): a request a planner can foresee per distributed
    /// router. Off by default (which requests the real coordinator raises is not public).
    #[serde(default)]
    pub confirm_dlr_gateways: bool,
    /// Component type -> percent at which it turns FAILED (once per run).
    #[serde(default)]
    pub fail_at: BTreeMap<String, f64>,
    /// The coordinator service is down: every `/api/v1/migration/*` call answers 503.
    #[serde(default)]
    pub service_down: bool,
}

impl Default for V2tFaults {
    fn default() -> Self {
        Self {
            edge_timeout_s: d_edge_timeout(),
            host_timeout_s: d_host_timeout(),
            edge_s_per_dlr: d_edge_per_dlr(),
            dfw_s: d_dfw(),
            host_s_per_host: d_per_host(),
            feedback_edges: BTreeSet::new(),
            confirm_dlr_gateways: false,
            fail_at: BTreeMap::new(),
            service_down: false,
        }
    }
}

/// The answer while the service is down (inferred shape: docs/rules.md).
pub fn service_down() -> ApiError {
    ApiError::new(
        503,
        101,
        "common-services",
        "Some appliance components are not functioning properly: the migration coordinator service is not available.",
    )
}

// ---------------------------------------------------------------------------------------------
// State

/// What `PUT setup` stored: no password and no token (NSX hides them; the state file must not
/// carry them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Setup {
    pub mode: String,
    pub source: Vec<Value>,
    pub destination: Value,
    pub create_segment_ports: bool,
    /// Virtual time (ms) at which the source NSX auth token expires, when a token was given.
    pub token_deadline_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub enum Run {
    #[default]
    NotStarted,
    Running,
    Paused,
    Failed,
    Succeeded,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Component {
    pub component_type: String,
    pub status: String,
    /// Work done and needed, virtual ms.
    pub done_ms: u64,
    pub total_ms: u64,
    pub details: String,
    /// The error of the unit that failed (a fault or a timeout), until `continue` retries it.
    #[serde(default)]
    pub error: Option<String>,
}

impl Component {
    fn new(t: &str, total_ms: u64) -> Self {
        Self {
            component_type: t.into(),
            status: "NOT_STARTED".into(),
            done_ms: 0,
            total_ms: total_ms.max(1),
            details: String::new(),
            error: None,
        }
    }

    fn percent(&self) -> f64 {
        ((self.done_ms as f64 / self.total_ms as f64) * 100.0)
            .min(100.0)
            .floor()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub enabled: bool,
    pub parallel: bool,
    /// (host id, host name)
    pub hosts: Vec<(String, String)>,
}

/// `MigrationPlanSettings` of one component (2.5.1 spec; defaults as it documents them).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct PlanSettings {
    pub parallel: bool,
    pub pause_after_each_group: bool,
    pub pause_on_error: bool,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            parallel: true,
            pause_after_each_group: false,
            pause_on_error: false,
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct V2tState {
    pub setup: Option<Setup>,
    /// Uploaded files by file type (content as uploaded).
    pub files: BTreeMap<String, Value>,
    pub run: Run,
    pub components: Vec<Component>,
    pub feedback: Vec<Value>,
    pub groups: Vec<Group>,
    /// Set once the HOST component has started: no rollback after that.
    pub host_started: bool,
    /// Virtual time (ms) the current run started; timeouts count from it.
    pub started_ms: Option<u64>,
    /// Components whose configured failure already fired in this run.
    pub faults_fired: BTreeSet<String>,
    /// The edges this EDGE_CUTOVER run cuts over -> the policy gateway each goes to: the
    /// mapping file's at start, less the edges a feedback response skipped, plus (or replaced
    /// by) the gateways a `map` response named.
    #[serde(default)]
    pub edge_plan: BTreeMap<String, String>,
    /// Plan settings per component type (`PUT /migration/plan/<type>/settings`); absent = default.
    #[serde(default)]
    pub settings: BTreeMap<String, PlanSettings>,
    /// The virtual clock (ms) at the last fold; the wall clock runs on from `anchor`.
    pub clock_ms: u64,
    #[serde(skip)]
    anchor: Option<Instant>,
    /// The token given at setup, kept in memory only (checked again at start).
    #[serde(skip)]
    token: Option<String>,
    #[serde(skip)]
    last_tick_ms: Option<u64>,
}

impl V2tState {
    /// The virtual time now, in ms.
    pub fn now(&self) -> u64 {
        self.clock_ms
            + self
                .anchor
                .map(|a| a.elapsed().as_millis() as u64)
                .unwrap_or(0)
    }

    fn fold(&mut self) {
        self.clock_ms = self.now();
        self.anchor = Some(Instant::now());
    }

    /// A setup is configured and not finished or aborted.
    pub fn configured_mode(&self) -> Option<&str> {
        self.setup.as_ref().map(|s| s.mode.as_str())
    }

    fn unresolved(&self) -> usize {
        self.feedback
            .iter()
            .filter(|f| f["resolved"] != json!(true))
            .count()
    }

    fn reset_run(&mut self) {
        self.run = Run::NotStarted;
        self.components.clear();
        self.feedback.clear();
        self.started_ms = None;
        self.faults_fired.clear();
        self.edge_plan.clear();
        self.last_tick_ms = None;
    }
}

fn err(code: i64, msg: impl Into<String>) -> ApiError {
    ApiError::new(400, code, MODULE, msg)
}

fn field(msg: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("Field level validation errors: {{{}}}", msg.into()))
}

// ---------------------------------------------------------------------------------------------
// Time

/// Apply the virtual time elapsed since the last tick.
pub fn tick(st: &mut State, f: &V2tFaults) {
    let v = &mut st.mig.v2t;
    v.fold();
    let now = v.clock_ms;
    let last = v.last_tick_ms.unwrap_or(now).min(now);
    v.last_tick_ms = Some(now);
    let Some(mode) = v.configured_mode().map(str::to_string) else {
        return;
    };
    if !matches!(v.run, Run::Running | Run::Paused) {
        return;
    }
    let started = v.started_ms.unwrap_or(last);
    let timeout_ms = 1000
        * if mode == EDGE_CUTOVER {
            f.edge_timeout_s
        } else {
            f.host_timeout_s
        };
    let deadline = started.saturating_add(timeout_ms);
    let mut changed = false;
    if v.run == Run::Running {
        let mut budget = now.min(deadline).saturating_sub(last);
        // A token that runs out during the run fails the component that is running.
        if let Some(td) = v.setup.as_ref().and_then(|s| s.token_deadline_ms)
            && td <= now
        {
            budget = budget.min(td.saturating_sub(last));
        }
        // Each pass finishes a component, fires a fault or spends the budget: bounded.
        for _ in 0..=2 * v.components.len() {
            if budget == 0 {
                break;
            }
            let Some(i) = v.components.iter().position(|c| c.status != "SUCCESS") else {
                break;
            };
            let c = &mut v.components[i];
            if c.status == "NOT_STARTED" {
                c.status = "IN_PROGRESS".into();
                if c.component_type == "HOST" {
                    v.host_started = true;
                }
            }
            let t = v.components[i].component_type.clone();
            let settings = v.settings.get(&t).copied().unwrap_or_default();
            let (done, total) = (v.components[i].done_ms, v.components[i].total_ms);
            // With pause_after_each_group the work stops at the end of each group but the last.
            let boundary = settings
                .pause_after_each_group
                .then(|| {
                    spans(v, &t)
                        .iter()
                        .filter(|s| s.enabled && s.end_ms > s.start_ms)
                        .map(|s| (s.end_ms, s.name.clone()))
                        .filter(|(e, _)| *e > done && *e < total)
                        .min()
                })
                .flatten();
            let c = &mut v.components[i];
            let before = c.percent();
            let fail_pct = f
                .fail_at
                .get(&c.component_type)
                .copied()
                .filter(|_| !v.faults_fired.contains(&c.component_type));
            let need = c.total_ms - c.done_ms;
            let step = match fail_pct {
                Some(p) => {
                    let at = ((p.clamp(0.0, 100.0) / 100.0) * c.total_ms as f64).ceil() as u64;
                    at.saturating_sub(c.done_ms).min(need)
                }
                None => need,
            };
            let step = boundary
                .as_ref()
                .map_or(step, |(e, _)| step.min(e - c.done_ms));
            let used = step.min(budget);
            c.done_ms += used;
            budget -= used;
            if c.percent() != before {
                changed = true;
            }
            let fails_here = fail_pct.is_some_and(|p| {
                let at = ((p.clamp(0.0, 100.0) / 100.0) * c.total_ms as f64).ceil() as u64;
                c.done_ms >= at.min(c.total_ms)
            });
            if fails_here {
                let msg = format!(
                    "{} migration failed at {}% (simulated fault).",
                    c.component_type,
                    c.percent()
                );
                c.error = Some(msg.clone());
                if settings.pause_on_error {
                    c.status = "PAUSED".into();
                    c.details = format!(
                        "{msg} Paused on error (pause_on_error): continue to retry the failed unit."
                    );
                    v.run = Run::Paused;
                } else {
                    c.status = "FAILED".into();
                    c.details = msg;
                    v.run = Run::Failed;
                }
                v.faults_fired.insert(t);
                changed = true;
                break;
            }
            if let Some((e, name)) = &boundary
                && c.done_ms == *e
            {
                c.status = "PAUSED".into();
                c.details = format!(
                    "Paused after group '{name}' (pause_after_each_group); continue to migrate the next group."
                );
                v.run = Run::Paused;
                changed = true;
                break;
            }
            if c.done_ms >= c.total_ms {
                c.status = "SUCCESS".into();
                c.details.clear();
                changed = true;
            }
        }
        if v.run == Run::Running && v.components.iter().all(|c| c.status == "SUCCESS") {
            v.run = Run::Succeeded;
            changed = true;
        }
        if v.run == Run::Running
            && let Some(td) = v.setup.as_ref().and_then(|s| s.token_deadline_ms)
            && td <= now
            && td < deadline
        {
            fail_current(
                v,
                "The source NSX auth token expired during the migration; roll back (or abort), set up again with a new token (PUT /api/v1/migration/setup) and start again.",
            );
            changed = true;
        }
    }
    if matches!(v.run, Run::Running | Run::Paused) && now >= deadline {
        let what = if mode == EDGE_CUTOVER {
            "Edge cutover"
        } else {
            "Host migration"
        };
        let limit = if timeout_ms % 3_600_000 == 0 {
            format!("{} hours", timeout_ms / 3_600_000)
        } else {
            format!("{} seconds", timeout_ms / 1000)
        };
        let msg = format!("Timeout: {what} did not finish within {limit} of its start.");
        fail_current(v, &msg);
        changed = true;
    }
    if changed {
        st.touch();
    }
}

fn fail_current(v: &mut V2tState, details: &str) {
    let i = v
        .components
        .iter()
        .position(|c| c.status != "SUCCESS")
        .unwrap_or(0);
    if let Some(c) = v.components.get_mut(i) {
        c.status = "FAILED".into();
        c.details = details.into();
        c.error = Some(details.into());
    }
    v.run = Run::Failed;
}

/// Size each component that has not started yet from what it will migrate: EDGE from the edges
/// of [`V2tState::edge_plan`], HOST from the hosts of the enabled groups (at least one unit
/// each). Called at start and again at `continue`, so a feedback response or a group change
/// made while the run waited changes the work.
fn size_components(v: &mut V2tState, f: &V2tFaults) {
    let hosts = v
        .groups
        .iter()
        .filter(|g| g.enabled)
        .map(|g| g.hosts.len() as u64)
        .sum::<u64>();
    let edges = v.edge_plan.len() as u64;
    for c in v.components.iter_mut().filter(|c| c.done_ms == 0) {
        c.total_ms = match c.component_type.as_str() {
            "EDGE" => edges.max(1) * f.edge_s_per_dlr * 1000,
            "HOST" => hosts.max(1) * f.host_s_per_host * 1000,
            _ => f.dfw_s * 1000,
        }
        .max(1);
    }
}

/// One migration unit group of a component's run and its share of the component's work
/// (virtual ms): groups run one after another, their units one after another, each unit an
/// equal share (the per-edge or per-host time).
pub struct Span {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    /// (unit id, unit name, start ms, end ms)
    pub units: Vec<(String, String, u64, u64)>,
    pub start_ms: u64,
    pub end_ms: u64,
    /// The policy gateway an EDGE group's edge is cut over to.
    pub gateway: Option<String>,
}

/// The groups of component `t` in run order: HOST = one per vSphere cluster (a disabled one has
/// no work), EDGE = one per edge of the plan (inferred: docs/rules.md), DFW = none.
pub fn spans(v: &V2tState, t: &str) -> Vec<Span> {
    let total = v
        .components
        .iter()
        .find(|c| c.component_type == t)
        .map(|c| c.total_ms);
    let mut out = Vec::new();
    match t {
        "HOST" => {
            let n: u64 = v
                .groups
                .iter()
                .filter(|g| g.enabled)
                .map(|g| g.hosts.len() as u64)
                .sum();
            let per = total.unwrap_or(0) / n.max(1);
            let mut at = 0;
            for g in &v.groups {
                let start = at;
                let units = g
                    .hosts
                    .iter()
                    .map(|(id, name)| {
                        let s = at;
                        if g.enabled {
                            at += per;
                        }
                        (id.clone(), name.clone(), s, at)
                    })
                    .collect();
                out.push(Span {
                    id: g.id.clone(),
                    name: g.display_name.clone(),
                    enabled: g.enabled,
                    units,
                    start_ms: start,
                    end_ms: at,
                    gateway: None,
                });
            }
        }
        "EDGE" => {
            // Before a run: the edges the mapping file names; during one: the run's plan.
            let plan = if v.components.is_empty() {
                mapping_edges(v)
            } else {
                v.edge_plan.clone()
            };
            let per = total.unwrap_or(0) / (plan.len() as u64).max(1);
            for (i, (edge, gw)) in plan.iter().enumerate() {
                let (s, e) = (i as u64 * per, (i as u64 + 1) * per);
                out.push(Span {
                    id: edge.clone(),
                    name: edge.clone(),
                    enabled: true,
                    units: vec![(edge.clone(), edge.clone(), s, e)],
                    start_ms: s,
                    end_ms: e,
                    gateway: Some(gw.clone()),
                });
            }
        }
        _ => {}
    }
    out
}

/// Status and percent of a piece of work spanning `[start, end)` of component `c`.
fn span_status(c: Option<&Component>, start: u64, end: u64, enabled: bool) -> (&'static str, f64) {
    let Some(c) = c.filter(|_| enabled && end > start) else {
        return ("NOT_STARTED", 0.0);
    };
    let done = c.done_ms;
    let pct = ((done.clamp(start, end) - start) as f64 / (end - start) as f64 * 100.0).floor();
    let failed_here = c.error.is_some()
        && start <= done
        && (done < end || (end >= c.total_ms && done >= c.total_ms));
    if failed_here {
        return ("FAILED", pct);
    }
    if done >= end {
        return ("SUCCESS", 100.0);
    }
    if done < start {
        return ("NOT_STARTED", 0.0);
    }
    match c.status.as_str() {
        "IN_PROGRESS" => ("IN_PROGRESS", pct),
        // Paused at a group's very start (after the previous group): not started yet.
        "PAUSED" | "FAILED" if done > start => ("PAUSED", pct),
        _ => ("NOT_STARTED", pct),
    }
}

/// `POST /_sim/v2t/clock?advance_seconds=N`: move the virtual clock forward, then apply it.
pub fn advance(st: &mut State, f: &V2tFaults, seconds: u64) -> Value {
    tick(st, f);
    st.mig.v2t.clock_ms = st.mig.v2t.clock_ms.saturating_add(seconds * 1000);
    tick(st, f);
    st.touch();
    json!({"virtual_time_ms": st.mig.v2t.clock_ms})
}

pub fn clock(st: &State) -> Value {
    json!({"virtual_time_ms": st.mig.v2t.now()})
}

// ---------------------------------------------------------------------------------------------
// Reports

fn status_summary(v: &V2tState, req: &Req) -> Value {
    let overall = match v.run {
        Run::NotStarted => "NOT_STARTED",
        Run::Running => "IN_PROGRESS",
        Run::Paused => "PAUSED",
        Run::Failed => "FAILED",
        Run::Succeeded => "SUCCESS",
    };
    let comps: Vec<Value> = v
        .components
        .iter()
        .filter(|c| {
            req.q("component_type")
                .is_none_or(|t| t == c.component_type)
        })
        .map(|c| {
            let mut o = json!({
                "component_type": c.component_type,
                "status": c.status,
                "percent_complete": c.percent(),
                "can_skip": false,
            });
            if !c.details.is_empty() {
                o["details"] = json!(c.details);
            }
            o
        })
        .collect();
    json!({"overall_migration_status": overall, "component_status": comps})
}

fn group_json(g: &Group) -> Value {
    json!({
        "id": g.id,
        "display_name": g.display_name,
        "resource_type": "MigrationUnitGroup",
        "type": "HOST",
        "enabled": g.enabled,
        "parallel": g.parallel,
        "migration_unit_count": g.hosts.len(),
        "migration_units": g.hosts.iter().map(|(id, name)| json!({
            "id": id, "display_name": name, "type": "HOST"
        })).collect::<Vec<_>>(),
        "extended_configuration": [{"key": "vsphere_cluster", "value": g.id}],
    })
}

fn setup_json(s: &Setup, st: &State) -> Value {
    let nsxv_version = st
        .vio
        .as_ref()
        .and_then(|v| v.inv.vsmconfig.get("version").and_then(Value::as_str))
        .unwrap_or("6.4.11")
        .to_string();
    let source: Vec<Value> = s
        .source
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["nsx_version"] = json!(nsxv_version);
            e["nsx_syncrole"] = json!("STANDALONE");
            e
        })
        .collect();
    json!({
        "source_nsx": source,
        "destination_nsx": s.destination,
        "migration_mode": s.mode,
        "create_segment_ports": s.create_segment_ports,
    })
}

// ---------------------------------------------------------------------------------------------
// Setup

fn str_field<'a>(
    o: &'a Value,
    at: &str,
    name: &str,
    required: bool,
) -> Result<Option<&'a str>, ApiError> {
    match o.get(name) {
        None | Some(Value::Null) if required => Err(field(format!("{at}.{name} is required"))),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if required && s.trim().is_empty() => {
            Err(field(format!("{at}.{name} must not be empty")))
        }
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(field(format!("{at}.{name} must be a string"))),
    }
}

/// Whether `addr` (host or host:port) names this simulator as the client addressed it.
fn is_self(addr: &str, req: &Req) -> bool {
    let host = req.header("host").unwrap_or("127.0.0.1");
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let host_only = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host),
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    addr == host || addr == host_only
}

/// One HOST group per vSphere cluster of the vCenter inventory, enabled, hosts in parallel.
fn default_groups(st: &State) -> Vec<Group> {
    let Some(vio) = st.vio.as_deref() else {
        return Vec::new();
    };
    vio.inv
        .clusters
        .iter()
        .filter_map(|c| {
            let id = c.get("cluster")?.as_str()?.to_string();
            let hosts = vio
                .inv
                .hosts
                .iter()
                .filter_map(|h| {
                    let hid = h.get("host")?.as_str()?;
                    (vio.inv.host_cluster.get(hid) == Some(&id)).then(|| {
                        (
                            hid.to_string(),
                            h.get("name")
                                .and_then(Value::as_str)
                                .unwrap_or(hid)
                                .to_string(),
                        )
                    })
                })
                .collect();
            Some(Group {
                display_name: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&id)
                    .to_string(),
                id,
                enabled: true,
                parallel: true,
                hosts,
            })
        })
        .collect()
}

/// The edges the mapping file names -> their policy gateway (name or path).
fn mapping_edges(v: &V2tState) -> BTreeMap<String, String> {
    let mut mapped = BTreeMap::new();
    for set in v
        .files
        .get(MAPPING)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for m in set["v_edges_to_policy_gateways_mappings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let gw = m["policy_gateway_name"]
                .as_str()
                .or(m["policy_gateway_path"].as_str())
                .unwrap_or("")
                .to_string();
            for e in m["v_edges"].as_array().into_iter().flatten() {
                mapped.insert(e.as_str().unwrap_or("").to_string(), gw.clone());
            }
        }
    }
    mapped
}

fn setup(st: &mut State, cfg: &SimConfig, req: &Req) -> Result<Reply, ApiError> {
    let body = req.json()?;
    let mode = str_field(&body, "MigrationSetupInfo", "migration_mode", true)?
        .unwrap_or_default()
        .to_string();
    if mode != EDGE_CUTOVER && mode != HOST_MODE {
        return Err(field(format!(
            "migration_mode '{mode}' is not supported by this simulator (EDGE_CUTOVER, DFW_AND_HOST_AND_WORKLOAD)"
        )));
    }
    if st.mig.window_open || st.mig.batch.is_some() {
        return Err(err(
            MODE_CONFLICT,
            format!(
                "Invalid mode in migration plan: the migration coordinator is already configured with a different plan (MP to Policy promotion); finish it (workflow?action=DONE) or abort it before setting up {mode}."
            ),
        ));
    }
    if let Some(cur) = st.mig.v2t.configured_mode()
        && cur != mode
    {
        return Err(err(
            MODE_CONFLICT,
            format!(
                "Invalid mode in migration plan: the migration coordinator is already configured with a different plan ({cur}); finish or abort it before setting up {mode}."
            ),
        ));
    }
    if st.mig.v2t.run == Run::Running {
        return Err(err(
            INVALID_STATE,
            "The migration is in progress; pause or abort it before changing the setup.",
        ));
    }
    let Some(vio) = st.vio.as_deref() else {
        return Err(err(
            SETUP_FAILED,
            "No NSX-V deployment is simulated here (the simulator was not seeded with a vio-v2t snapshot).",
        ));
    };
    let list = body
        .get("source_nsx")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| field("source_nsx must list one source NSX manager"))?;
    if list.len() > 1 {
        return Err(field("source_nsx: this simulator has one NSX-V manager"));
    }
    let src = &list[0];
    if !src.is_object() {
        return Err(field("source_nsx[0] must be an object"));
    }
    let at = "source_nsx[0]";
    let vc_ip = str_field(src, at, "vc_ip", true)?.unwrap_or_default();
    let vc_user = str_field(src, at, "vc_username", true)?.unwrap_or_default();
    let vc_pass = str_field(src, at, "vc_password", false)?;
    let ip = str_field(src, at, "ip", true)?.unwrap_or_default();
    let nsx_user = str_field(src, at, "nsx_username", false)?;
    let nsx_pass = str_field(src, at, "nsx_password", false)?;
    let token = str_field(src, at, "auth_token", false)?;
    let vc_port = src.get("vc_port").cloned().unwrap_or(json!(443));
    if !vc_port.is_u64() {
        return Err(field(format!("{at}.vc_port must be an integer")));
    }
    for (what, addr) in [("vCenter", vc_ip), ("source NSX", ip)] {
        if !is_self(addr, req) {
            return Err(err(
                SETUP_FAILED,
                format!("Unable to connect to the {what} at {addr}: host unreachable."),
            ));
        }
    }
    if vc_user != cfg.username || vc_pass != Some(cfg.password.as_str()) {
        return Err(err(
            SETUP_FAILED,
            format!("Authentication to vCenter {vc_ip} failed: invalid user name or password."),
        ));
    }
    let now_v = st.mig.v2t.now();
    let token_deadline_ms = match (token, nsx_user, nsx_pass) {
        (Some(t), _, _) => match vio.nsxv_tokens.get(t) {
            Some(exp) if *exp > now_ms() => Some(now_v + (*exp - now_ms()) as u64),
            _ => {
                return Err(err(
                    SETUP_FAILED,
                    format!(
                        "Authentication to the source NSX {ip} failed: the auth token is invalid or has expired."
                    ),
                ));
            }
        },
        (None, Some(u), Some(p)) if u == cfg.username && p == cfg.password => None,
        (None, Some(_), Some(_)) => {
            return Err(err(
                SETUP_FAILED,
                format!(
                    "Authentication to the source NSX {ip} failed: invalid user name or password."
                ),
            ));
        }
        _ => {
            return Err(field(format!(
                "{at}: auth_token or nsx_username and nsx_password are required"
            )));
        }
    };
    let dest = body
        .get("destination_nsx")
        .filter(|d| d.is_object())
        .ok_or_else(|| field("destination_nsx is required"))?;
    let d_ip = str_field(dest, "destination_nsx", "destination_nsx_ip", true)?.unwrap_or_default();
    let d_user = str_field(dest, "destination_nsx", "destination_nsx_username", false)?;
    let d_pass = str_field(dest, "destination_nsx", "destination_nsx_password", false)?;
    if !is_self(d_ip, req) {
        return Err(err(
            SETUP_FAILED,
            format!("Unable to connect to the destination NSX at {d_ip}: host unreachable."),
        ));
    }
    if d_user.is_some_and(|u| u != cfg.username) || d_pass.is_some_and(|p| p != cfg.password) {
        return Err(err(
            SETUP_FAILED,
            format!("Authentication to the destination NSX {d_ip} failed."),
        ));
    }
    let csp = match body.get("create_segment_ports") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(field("create_segment_ports must be a boolean")),
    };
    let mut source = json!({"vc_ip": vc_ip, "vc_username": vc_user, "vc_port": vc_port, "ip": ip});
    if let Some(u) = nsx_user {
        source["nsx_username"] = json!(u);
    }
    let mut destination = json!({"destination_nsx_ip": d_ip,
        "destination_nsx_port": dest.get("destination_nsx_port").cloned().unwrap_or(json!(443))});
    if let Some(u) = d_user {
        destination["destination_nsx_username"] = json!(u);
    }
    let groups = default_groups(st);
    let v = &mut st.mig.v2t;
    let same_mode = v.configured_mode() == Some(mode.as_str());
    v.setup = Some(Setup {
        mode,
        source: vec![source],
        destination,
        create_segment_ports: csp,
        token_deadline_ms,
    });
    v.token = token.map(str::to_string);
    if !same_mode || v.groups.is_empty() {
        v.groups = groups;
    }
    st.touch();
    let s = st.mig.v2t.setup.clone().unwrap_or_default();
    Ok(Reply::json(setup_json(&s, st)))
}

// ---------------------------------------------------------------------------------------------
// Data files

/// The parts of a `multipart/form-data` body: (name, content).
fn multipart(req: &Req) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
    let ct = req.header("content-type").unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
        return Err(ApiError::new(
            415,
            415,
            "common-services",
            "The upload must be multipart/form-data with parts 'file' and 'file_type'.",
        ));
    }
    let boundary = ct
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| ApiError::bad_request("multipart/form-data without a boundary."))?;
    let delim = format!("--{boundary}").into_bytes();
    let body = &req.body;
    let find = |from: usize| -> Option<usize> {
        body.get(from..)?
            .windows(delim.len())
            .position(|w| w == delim.as_slice())
            .map(|p| p + from)
    };
    let mut parts = Vec::new();
    let mut pos = find(0).ok_or_else(|| ApiError::bad_request("multipart body without parts."))?;
    for _ in 0..64 {
        let start = pos + delim.len();
        if body.get(start..start + 2) == Some(b"--") {
            return Ok(parts);
        }
        let next = find(start).ok_or_else(|| {
            ApiError::bad_request("multipart body is truncated (no closing boundary).")
        })?;
        let part = &body[start..next];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let part = part.strip_suffix(b"\r\n").unwrap_or(part);
        let split = part
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| ApiError::bad_request("multipart part without headers."))?;
        let headers = String::from_utf8_lossy(&part[..split]);
        let name = headers
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .and_then(|l| {
                l.split(';')
                    .filter_map(|p| p.trim().strip_prefix("name="))
                    .next()
            })
            .map(|n| n.trim_matches('"').to_string())
            .ok_or_else(|| ApiError::bad_request("multipart part without a name."))?;
        parts.push((name, part[split + 4..].to_vec()));
        pos = next;
    }
    Err(ApiError::bad_request("multipart body has too many parts."))
}

/// Check an edge cutover mapping file (anchors 4.1): a JSON array of
/// `{name, v_edges_to_policy_gateways_mappings: [{v_edges: [1..2 ids], policy_gateway_name}]}`.
fn check_mapping(bytes: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        field(format!(
            "file is not valid JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let arr = v
        .as_array()
        .ok_or_else(|| field("file must be a JSON array of edge mapping sets"))?;
    if arr.is_empty() {
        return Err(field("file must hold at least one edge mapping set"));
    }
    for (i, set) in arr.iter().enumerate() {
        let at = format!("[{i}]");
        if !set.is_object() {
            return Err(field(format!("{at} must be an object")));
        }
        str_field(set, &at, "name", true)?;
        let maps = set
            .get("v_edges_to_policy_gateways_mappings")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                field(format!(
                    "{at}.v_edges_to_policy_gateways_mappings is required and must be an array"
                ))
            })?;
        for (j, m) in maps.iter().enumerate() {
            let at = format!("{at}.v_edges_to_policy_gateways_mappings[{j}]");
            let edges = m
                .get("v_edges")
                .and_then(Value::as_array)
                .ok_or_else(|| field(format!("{at}.v_edges is required and must be an array")))?;
            if edges.is_empty() || edges.len() > 2 {
                return Err(field(format!(
                    "{at}.v_edges must list one or two NSX-V edge ids"
                )));
            }
            if edges.iter().any(|e| e.as_str().is_none_or(str::is_empty)) {
                return Err(field(format!("{at}.v_edges must hold edge ids (strings)")));
            }
            let name = str_field(m, &at, "policy_gateway_name", false)?;
            let path = str_field(m, &at, "policy_gateway_path", false)?;
            if name.is_none() && path.is_none() {
                return Err(field(format!(
                    "{at}.policy_gateway_name (or policy_gateway_path) is required"
                )));
            }
        }
    }
    Ok(v)
}

fn data(st: &mut State, req: &Req, upload: bool) -> Result<Reply, ApiError> {
    let v = &st.mig.v2t;
    if upload {
        if v.setup.is_none() {
            return Err(err(
                INVALID_STATE,
                "The migration is not set up; PUT /api/v1/migration/setup first.",
            ));
        }
        if v.run == Run::Running {
            return Err(err(
                INVALID_STATE,
                "The migration is in progress; files cannot change now.",
            ));
        }
        let parts = multipart(req)?;
        let get = |n: &str| parts.iter().find(|(k, _)| k == n).map(|(_, c)| c);
        let ft = get("file_type")
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
            .ok_or_else(|| field("file_type is required"))?;
        let file = get("file").ok_or_else(|| field("file is required"))?;
        if !FILE_TYPES.contains(&ft.as_str()) {
            return Err(field(format!(
                "file_type '{ft}' must be one of {}",
                FILE_TYPES.join(", ")
            )));
        }
        if ft != MAPPING {
            return Err(field(format!(
                "file_type '{ft}' is not supported by this simulator (EDGE_CUTOVER_MAPPING)"
            )));
        }
        let content = check_mapping(file)?;
        st.mig.v2t.files.insert(ft.clone(), content);
        st.touch();
        return Ok(Reply::json(data_info(&st.mig.v2t, &ft)));
    }
    let ft = req
        .q("file_type")
        .ok_or_else(|| ApiError::bad_request("Parameter file_type is required."))?
        .to_string();
    let known = FILE_TYPES.contains(&ft.as_str()) || ft == "VRA_OUTPUT" || ft == "MIGRATION_REPORT";
    if !known {
        return Err(field(format!("file_type '{ft}' is not a known file type")));
    }
    if req.method == Method::DELETE {
        if v.run == Run::Running {
            return Err(err(
                INVALID_STATE,
                "The migration is in progress; files cannot change now.",
            ));
        }
        st.mig.v2t.files.remove(&ft);
        st.touch();
        return Ok(Reply::empty(200));
    }
    Ok(Reply::json(data_info(v, &ft)))
}

fn data_info(v: &V2tState, ft: &str) -> Value {
    let present = v.files.contains_key(ft);
    let mut o = json!({"file_type": ft, "is_present": present});
    if present {
        o["file_location"] = json!(format!(
            "/var/log/migration-coordinator/v2t/{}.json",
            ft.to_ascii_lowercase()
        ));
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Plan actions

/// DLR edges of the source: (edge id, edge name, Neutron router id from the name's tail).
fn dlr_edges(st: &State) -> Vec<(String, String, String)> {
    let Some(vio) = st.vio.as_deref() else {
        return Vec::new();
    };
    vio.inv
        .edges
        .iter()
        .filter(|e| e.get("edgeType").and_then(Value::as_str) == Some("distributedRouter"))
        .filter_map(|e| {
            let id = e
                .get("id")
                .or_else(|| e.get("objectId"))?
                .as_str()?
                .to_string();
            let name = e
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let router = name
                .len()
                .checked_sub(36)
                .and_then(|i| name.get(i..))
                .unwrap_or("")
                .to_string();
            Some((id, name, router))
        })
        .collect()
}

fn gateway_exists(policy: &BTreeMap<String, Value>, name: &str) -> bool {
    let id = name.rsplit('/').next().unwrap_or(name);
    policy.contains_key(&format!("/infra/tier-1s/{id}"))
        || policy.contains_key(&format!("/infra/tier-0s/{id}"))
        || policy.iter().any(|(p, o)| {
            (p.starts_with("/infra/tier-1s/") || p.starts_with("/infra/tier-0s/"))
                && p.matches('/').count() == 3
                && o.get("display_name").and_then(Value::as_str) == Some(name)
        })
}

/// A feedback request on an edge. `suggested` is `skip` (leave the edge on NSX-V) or `map`
/// (cut it over to the gateway `value`).
fn feedback_item(
    id: usize,
    edge: &str,
    name: &str,
    (suggested, value): (&str, &str),
    kind: &str,
    why: &str,
) -> Value {
    json!({
        "id": format!("feedback-{id}"),
        "hash": format!("EDGE_CUTOVER_{kind}"),
        "vertical": "EDGE",
        "sub_vertical": kind,
        "message": why,
        "v_object_id": edge,
        "v_object_name": name,
        "object_id": value,
        "suggested_action": suggested,
        "accepted_actions": ["skip", "map"],
        "accepted_value_type": "STRING",
        "suggested_value": value,
        "accepted_values": [],
        "multi_value": false,
        "resolved": false,
        "rejected": false,
    })
}

fn start(st: &mut State, f: &V2tFaults) -> Result<(), ApiError> {
    let Some(setup) = st.mig.v2t.setup.clone() else {
        return Err(err(
            INVALID_STATE,
            "The migration is not set up; PUT /api/v1/migration/setup first.",
        ));
    };
    if st.mig.v2t.run != Run::NotStarted {
        return Err(err(
            INVALID_STATE,
            format!(
                "The migration cannot start in its current state ({:?}); finish, roll back or abort the previous run first.",
                st.mig.v2t.run
            ),
        ));
    }
    let now = st.mig.v2t.now();
    let mut comps = Vec::new();
    let mut feedback = Vec::new();
    let mut failure = None;
    let mut mapped: BTreeMap<String, String> = BTreeMap::new();
    if setup.mode == EDGE_CUTOVER {
        mapped = mapping_edges(&st.mig.v2t);
        let edges: BTreeSet<String> = st
            .vio
            .as_deref()
            .map(|v| {
                v.inv
                    .edges
                    .iter()
                    .filter_map(|e| {
                        e.get("id")
                            .or_else(|| e.get("objectId"))?
                            .as_str()
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        for (edge, gw) in &mapped {
            if !edges.contains(edge) {
                failure = Some(format!(
                    "Edge cutover mapping names NSX-V edge {edge}, which the source NSX does not have."
                ));
            } else if !gateway_exists(&st.policy, gw) {
                failure = Some(format!(
                    "Edge cutover mapping names policy gateway '{gw}' (for {edge}), which the destination NSX does not have."
                ));
            }
        }
        for (edge, name, router) in dlr_edges(st) {
            // Unmapped: skipping is suggested (the router id is the gateway a `map` would name);
            // a configured confirmation: mapping to the gateway the file names is suggested.
            let ask = match mapped.get(&edge) {
                None => Some((
                    format!(
                        "Distributed router {edge} ({name}) has no mapping to a policy gateway in the edge cutover mapping; skip it, or map it to a gateway."
                    ),
                    ("skip", router.clone()),
                )),
                Some(gw) if f.feedback_edges.contains(&edge) => Some((
                    format!(
                        "Distributed router {edge} ({name}) needs confirmation before its uplinks are cut over to '{gw}' (simulated)."
                    ),
                    ("map", gw.clone()),
                )),
                Some(_) => None,
            };
            if let Some((why, (action, value))) = ask {
                feedback.push(feedback_item(
                    feedback.len() + 1,
                    &edge,
                    &name,
                    (action, &value),
                    "DLR",
                    &why,
                ));
            }
        }
        // The foreseeable confirmation of each mapped DLR's gateway, when configured.
        if f.confirm_dlr_gateways {
            for (edge, name, _) in dlr_edges(st) {
                if let Some(gw) = mapped.get(&edge) {
                    feedback.push(feedback_item(
                        feedback.len() + 1,
                        &edge,
                        &name,
                        ("map", gw),
                        "DLR_GATEWAY",
                        &format!(
                            "Confirm policy gateway '{gw}' for distributed router {edge} ({name}) before its uplinks move to NSX (simulated)."
                        ),
                    ));
                }
            }
        }
        // A configured feedback item on a mapped edge that is not a DLR (an ESG for DHCP leases).
        let dlrs: BTreeSet<String> = dlr_edges(st).into_iter().map(|d| d.0).collect();
        for edge in mapped.keys() {
            if f.feedback_edges.contains(edge) && !dlrs.contains(edge) && edges.contains(edge) {
                let why = format!(
                    "Edge {edge} needs confirmation before its DHCP leases are migrated (simulated)."
                );
                let gw = mapped.get(edge).cloned().unwrap_or_default();
                feedback.push(feedback_item(
                    feedback.len() + 1,
                    edge,
                    edge,
                    ("map", &gw),
                    "ESG",
                    &why,
                ));
            }
        }
        comps.push(Component::new("EDGE", 1));
    } else {
        comps.push(Component::new("DFW", 1));
        comps.push(Component::new("HOST", 1));
    }
    let v = &mut st.mig.v2t;
    v.reset_run();
    v.components = comps;
    v.edge_plan = mapped;
    size_components(v, f);
    v.started_ms = Some(now);
    v.last_tick_ms = Some(now);
    let token_dead = v
        .setup
        .as_ref()
        .and_then(|s| s.token_deadline_ms)
        .is_some_and(|d| d <= now)
        || v.token.as_ref().is_some_and(|t| {
            st.vio
                .as_deref()
                .is_some_and(|vio| vio.nsxv_tokens.get(t).is_none_or(|e| *e <= now_ms()))
        });
    let v = &mut st.mig.v2t;
    if token_dead {
        fail_current(
            v,
            "The source NSX auth token has expired; set up again with a new token (PUT /api/v1/migration/setup) before starting.",
        );
    } else if let Some(msg) = failure {
        fail_current(v, &msg);
    } else if !feedback.is_empty() {
        v.feedback = feedback;
        v.run = Run::Paused;
        pause_components(v);
    } else {
        v.run = Run::Running;
        begin_current(v);
    }
    st.touch();
    Ok(())
}

/// The first unfinished component of a running plan is IN_PROGRESS.
fn begin_current(v: &mut V2tState) {
    if let Some(c) = v.components.iter_mut().find(|c| c.status != "SUCCESS") {
        c.status = "IN_PROGRESS".into();
        c.details.clear();
        if c.component_type == "HOST" {
            v.host_started = true;
        }
    }
}

fn pause_components(v: &mut V2tState) {
    let n = v.unresolved();
    if let Some(c) = v.components.iter_mut().find(|c| c.status != "SUCCESS") {
        c.status = "PAUSED".into();
        c.details = if n > 0 {
            format!("Waiting for feedback: {n} unresolved feedback request(s).")
        } else if !v.feedback.is_empty() {
            "Feedback resolved; continue the plan to resume.".into()
        } else {
            "Paused by the user.".into()
        };
    }
}

fn plan(st: &mut State, req: &Req, f: &V2tFaults) -> Result<Reply, ApiError> {
    let action = req.q("action").unwrap_or("");
    let ok = Ok(Reply::empty(200));
    match action {
        "start" => start(st, f).and(ok),
        "reset" => reset(st, req).and(ok),
        "pause" => {
            let v = &mut st.mig.v2t;
            if v.run != Run::Running {
                return Err(err(
                    INVALID_STATE,
                    "Only a migration in progress can be paused.",
                ));
            }
            v.run = Run::Paused;
            pause_components(v);
            st.touch();
            ok
        }
        "continue" => {
            let v = &mut st.mig.v2t;
            if v.run != Run::Paused {
                return Err(err(
                    INVALID_STATE,
                    format!("Only a paused migration can continue (now {:?}).", v.run),
                ));
            }
            let n = v.unresolved();
            if n > 0 {
                return Err(err(
                    FEEDBACK_PENDING,
                    format!(
                        "{n} feedback request(s) are unresolved; answer them (PUT /api/v1/migration/feedback-response) before continuing."
                    ),
                ));
            }
            v.run = Run::Running;
            size_components(v, f);
            for c in v.components.iter_mut().filter(|c| c.status == "PAUSED") {
                c.status = if c.done_ms > 0 {
                    "IN_PROGRESS"
                } else {
                    "NOT_STARTED"
                }
                .into();
                c.details.clear();
                c.error = None;
            }
            begin_current(v);
            v.last_tick_ms = Some(v.now());
            st.touch();
            ok
        }
        "finish" => {
            let v = &mut st.mig.v2t;
            if v.run != Run::Succeeded {
                return Err(err(
                    INVALID_STATE,
                    format!(
                        "Only a successful migration can be finished (now {:?}).",
                        v.run
                    ),
                ));
            }
            v.reset_run();
            v.setup = None;
            v.token = None;
            v.host_started = false;
            st.touch();
            ok
        }
        "abort" => {
            let v = &mut st.mig.v2t;
            v.reset_run();
            v.setup = None;
            v.token = None;
            v.host_started = false;
            v.files.clear();
            st.touch();
            ok
        }
        "rollback" => {
            let v = &mut st.mig.v2t;
            if v.setup.is_none() {
                return Err(err(INVALID_STATE, "The migration is not set up."));
            }
            if v.host_started {
                return Err(err(
                    ROLLBACK_REFUSED,
                    "Rollback is not possible once host migration has started; migrated hosts cannot be moved back (remove NSX from the host and reinstall NSX-V).",
                ));
            }
            if v.run == Run::Running {
                return Err(err(
                    INVALID_STATE,
                    "The migration is in progress; pause it before rolling back.",
                ));
            }
            v.reset_run();
            v.files.remove(MAPPING);
            st.touch();
            ok
        }
        other => Err(ApiError::bad_request(format!(
            "Plan action '{other}' is not supported (start, pause, continue, finish, abort, rollback, reset)."
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Feedback and groups

fn feedback_list(v: &V2tState, req: &Req) -> Result<Reply, ApiError> {
    let state = req.q("state").unwrap_or("ALL");
    if !["ALL", "RESOLVED", "UNRESOLVED"].contains(&state) {
        return Err(field(format!(
            "state '{state}' must be ALL, RESOLVED or UNRESOLVED"
        )));
    }
    let (off, size) = req.page()?;
    let items: Vec<&Value> = v
        .feedback
        .iter()
        .filter(|f| match state {
            "RESOLVED" => f["resolved"] == json!(true),
            "UNRESOLVED" => f["resolved"] != json!(true),
            _ => true,
        })
        .filter(|f| req.q("hash").is_none_or(|h| f["hash"] == h))
        .filter(|f| req.q("category").is_none_or(|h| f["vertical"] == h))
        .filter(|f| req.q("sub_category").is_none_or(|h| f["sub_vertical"] == h))
        .collect();
    Ok(list_page(items, off, size))
}

/// Apply one feedback response: `skip` takes the edge out of the run's edge plan (it stays on
/// NSX-V), `map` cuts it over to the gateway `value` names. A `map` to a gateway the destination
/// does not have is taken but rejected: the request stays unresolved with `rejected` set, as
/// the spec describes ("previous response was invalid").
fn resolve(
    v: &mut V2tState,
    policy: &BTreeMap<String, Value>,
    id: &str,
    action: &str,
    value: Option<&str>,
) -> Result<(), ApiError> {
    let f = v
        .feedback
        .iter_mut()
        .find(|f| f["id"] == id)
        .ok_or_else(|| field(format!("feedback request '{id}' does not exist")))?;
    let accepted = f["accepted_actions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|x| x == action));
    if !accepted {
        return Err(field(format!(
            "action '{action}' is not accepted for feedback request '{id}' ({})",
            f["accepted_actions"]
        )));
    }
    let edge = f["v_object_id"].as_str().unwrap_or("").to_string();
    match (action, value) {
        ("map", Some(gw)) if !gw.is_empty() => {
            if !gateway_exists(policy, gw) {
                f["resolved"] = json!(false);
                f["rejected"] = json!(true);
                f["resolution"] = json!(format!(
                    "map:{gw} rejected: the destination NSX has no policy gateway '{gw}'"
                ));
                return Ok(());
            }
            f["resolution"] = json!(format!("map:{gw}"));
            v_resolved(f);
            v.edge_plan.insert(edge, gw.to_string());
        }
        ("map", _) => {
            return Err(field(format!(
                "feedback request '{id}': action 'map' needs a value (the policy gateway)"
            )));
        }
        _ => {
            f["resolution"] = json!(action);
            v_resolved(f);
            if action == "skip" {
                v.edge_plan.remove(&edge);
            }
        }
    }
    Ok(())
}

fn v_resolved(f: &mut Value) {
    f["resolved"] = json!(true);
    f["rejected"] = json!(false);
}

fn feedback_response(st: &mut State, req: &Req) -> Result<Reply, ApiError> {
    let policy = &st.policy;
    let v = &mut st.mig.v2t;
    if v.run == Run::Running {
        return Err(err(
            INVALID_STATE,
            "The migration is in progress; feedback is answered while it is paused.",
        ));
    }
    let mut trial = v.clone();
    if req.q("action") == Some("accept-recommended") {
        let pending: Vec<(String, String, String)> = v
            .feedback
            .iter()
            .filter(|f| f["resolved"] != json!(true))
            .map(|f| {
                (
                    f["id"].as_str().unwrap_or("").to_string(),
                    f["suggested_action"].as_str().unwrap_or("").to_string(),
                    f["suggested_value"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        for (id, action, value) in pending {
            resolve(&mut trial, policy, &id, &action, Some(&value))?;
        }
    } else {
        let body = req.json()?;
        let list = body
            .get("response_list")
            .and_then(Value::as_array)
            .ok_or_else(|| field("response_list is required"))?;
        // Validate every response first: a refused list changes nothing.
        for (i, r) in list.iter().enumerate() {
            let at = format!("response_list[{i}]");
            let id = str_field(r, &at, "id", true)?.unwrap_or_default();
            let action = str_field(r, &at, "action", true)?.unwrap_or_default();
            let mut value = str_field(r, &at, "value", false)?;
            // `values` (multi-value answers): these requests take one value.
            if let Some(vals) = r.get("values").and_then(Value::as_array) {
                if vals.len() > 1 {
                    return Err(field(format!(
                        "{at}.values: feedback request '{id}' takes a single value"
                    )));
                }
                if value.is_none() {
                    value = vals.first().and_then(Value::as_str);
                }
            }
            resolve(&mut trial, policy, id, action, value)?;
        }
    }
    v.feedback = trial.feedback;
    v.edge_plan = trial.edge_plan;
    if v.run == Run::Paused {
        pause_components(v);
    }
    st.touch();
    Ok(Reply::empty(200))
}

fn groups(st: &mut State, req: &Req, rest: &[&str]) -> Result<Reply, ApiError> {
    let v = &mut st.mig.v2t;
    match rest {
        [] if req.method == Method::GET => {
            let (off, size) = req.page()?;
            let list = all_groups(v, req.q("component_type"));
            Ok(list_page(list.iter().collect(), off, size))
        }
        [id] if req.method == Method::GET => all_groups(v, None)
            .into_iter()
            .find(|g| g["id"] == *id)
            .map(Reply::json)
            .ok_or_else(|| ApiError::not_found(&req.path)),
        [id, "status"] if req.method == Method::GET => {
            let (off, size) = req.page()?;
            let has_errors = match req.q("has_errors") {
                None | Some("false") => false,
                Some("true") => true,
                Some(x) => return Err(field(format!("has_errors '{x}' must be true or false"))),
            };
            let (t, span) = find_span(v, id).ok_or_else(|| ApiError::not_found(&req.path))?;
            let c = v.components.iter().find(|c| c.component_type == t);
            let list: Vec<Value> = span
                .units
                .iter()
                .map(|(uid, name, s, e)| {
                    let (status, pct) = span_status(c, *s, *e, span.enabled);
                    let errors: Vec<String> = match (status, c.and_then(|c| c.error.clone())) {
                        ("FAILED", Some(e)) => vec![e],
                        _ => Vec::new(),
                    };
                    json!({"id": uid, "display_name": name, "status": status,
                           "percent_complete": pct, "errors": errors})
                })
                .filter(|u| !has_errors || u["errors"].as_array().is_some_and(|a| !a.is_empty()))
                .collect();
            Ok(list_page(list.iter().collect(), off, size))
        }
        [id] if req.method == Method::PUT && v.groups.iter().all(|g| g.id != *id) => {
            if find_span(v, id).is_some() {
                return Err(field(format!(
                    "EDGE group '{id}' follows the edge cutover mapping file and feedback responses; it cannot be changed"
                )));
            }
            Err(ApiError::not_found(&req.path))
        }
        [id] if req.method == Method::PUT => {
            let body = req.json()?;
            let ty = str_field(&body, "MigrationUnitGroup", "type", true)?.unwrap_or_default();
            if ty != "HOST" {
                return Err(field(format!(
                    "type '{ty}' does not match the group's type HOST"
                )));
            }
            let enabled = match body.get("enabled") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(field("enabled must be a boolean")),
            };
            let parallel = match body.get("parallel") {
                None | Some(Value::Null) => None,
                Some(Value::Bool(b)) => Some(*b),
                Some(_) => return Err(field("parallel must be a boolean")),
            };
            if v.host_started || v.run == Run::Running {
                return Err(err(
                    INVALID_STATE,
                    "Host groups cannot change while the migration runs or after host migration has started.",
                ));
            }
            let g = v
                .groups
                .iter_mut()
                .find(|g| g.id == *id)
                .ok_or_else(|| ApiError::not_found(&req.path))?;
            if let Some(e) = enabled {
                g.enabled = e;
            }
            if let Some(p) = parallel {
                g.parallel = p;
            }
            let out = group_json(g);
            st.touch();
            Ok(Reply::json(out))
        }
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

/// The component types of the configured mode.
fn mode_components(v: &V2tState) -> &'static [&'static str] {
    match v.configured_mode() {
        Some(EDGE_CUTOVER) => &["EDGE"],
        Some(_) => &["DFW", "HOST"],
        None => &[],
    }
}

/// Every migration unit group of the configured mode as `MigrationUnitGroup`: the HOST groups,
/// or the EDGE groups (one per edge cut over, its gateway in `extended_configuration`).
fn all_groups(v: &V2tState, component_type: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for t in mode_components(v) {
        if component_type.is_some_and(|c| c != *t) {
            continue;
        }
        match *t {
            "HOST" => out.extend(v.groups.iter().map(group_json)),
            "EDGE" => out.extend(spans(v, "EDGE").iter().map(|s| {
                json!({
                    "id": s.id,
                    "display_name": s.name,
                    "resource_type": "MigrationUnitGroup",
                    "type": "EDGE",
                    "enabled": true,
                    "parallel": false,
                    "migration_unit_count": s.units.len(),
                    "migration_units": s.units.iter().map(|(id, name, _, _)| json!({
                        "id": id, "display_name": name, "type": "EDGE"
                    })).collect::<Vec<_>>(),
                    "extended_configuration": [{"key": "policy_gateway", "value": s.gateway.clone().unwrap_or_default()}],
                })
            })),
            _ => {}
        }
    }
    out
}

fn find_span(v: &V2tState, id: &str) -> Option<(&'static str, Span)> {
    mode_components(v).iter().find_map(|t| {
        spans(v, t)
            .into_iter()
            .find(|s| s.id == id)
            .map(|s| (*t, s))
    })
}

/// `GET migration-unit-groups-status[?component_type=]`: `MigrationUnitGroupStatus` per group.
fn groups_status(v: &V2tState, req: &Req) -> Result<Reply, ApiError> {
    let (off, size) = req.page()?;
    let mut list = Vec::new();
    for t in mode_components(v) {
        if req.q("component_type").is_some_and(|c| c != *t) {
            continue;
        }
        let c = v.components.iter().find(|c| c.component_type == *t);
        for s in spans(v, t) {
            let (status, pct) = span_status(c, s.start_ms, s.end_ms, s.enabled);
            let failed = s
                .units
                .iter()
                .filter(|(_, _, a, b)| span_status(c, *a, *b, s.enabled).0 == "FAILED")
                .count();
            list.push(json!({
                "group_id": s.id,
                "group_name": s.name,
                "status": status,
                "percent_complete": pct,
                "migration_unit_count": s.units.len(),
                "failed_count": failed,
            }));
        }
    }
    Ok(list_page(list.iter().collect(), off, size))
}

fn settings_json(p: &PlanSettings) -> Value {
    json!({"parallel": p.parallel, "pause_after_each_group": p.pause_after_each_group,
           "pause_on_error": p.pause_on_error})
}

/// `GET|PUT plan/<component_type>/settings` (`MigrationPlanSettings`).
fn plan_settings(st: &mut State, req: &Req, t: &str) -> Result<Reply, ApiError> {
    let v = &mut st.mig.v2t;
    if !mode_components(v).contains(&t) {
        return Err(field(format!(
            "component_type '{t}' is not a component of the configured mode ({})",
            mode_components(v).join(", ")
        )));
    }
    let mut cur = v.settings.get(t).copied().unwrap_or_default();
    if req.method == Method::GET {
        return Ok(Reply::json(settings_json(&cur)));
    }
    if req.method != Method::PUT {
        return Err(ApiError::method_not_allowed(&req.method, &req.path));
    }
    if v.run == Run::Running {
        return Err(err(
            INVALID_STATE,
            "The migration is in progress; pause it before changing the plan settings.",
        ));
    }
    let body = req.json()?;
    if !body.is_object() {
        return Err(field("MigrationPlanSettings must be an object"));
    }
    for (k, slot) in [
        ("parallel", &mut cur.parallel),
        ("pause_after_each_group", &mut cur.pause_after_each_group),
        ("pause_on_error", &mut cur.pause_on_error),
    ] {
        match body.get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => *slot = *b,
            Some(_) => return Err(field(format!("{k} must be a boolean"))),
        }
    }
    v.settings.insert(t.to_string(), cur);
    st.touch();
    Ok(Reply::json(settings_json(&cur)))
}

/// `plan?action=reset&component_type=`: the component's plan back to the default (its settings;
/// for HOST also the groups: every cluster enabled, parallel, inventory order).
fn reset(st: &mut State, req: &Req) -> Result<(), ApiError> {
    let t = req
        .q("component_type")
        .ok_or_else(|| ApiError::bad_request("Parameter component_type is required."))?
        .to_string();
    let v = &st.mig.v2t;
    if !mode_components(v).contains(&t.as_str()) {
        return Err(field(format!(
            "component_type '{t}' is not a component of the configured mode ({})",
            mode_components(v).join(", ")
        )));
    }
    if v.run != Run::NotStarted {
        return Err(err(
            INVALID_STATE,
            format!(
                "The plan can be reset only before the migration starts (now {:?}); roll back or abort first.",
                v.run
            ),
        ));
    }
    let groups = default_groups(st);
    let v = &mut st.mig.v2t;
    v.settings.remove(&t);
    if t == "HOST" {
        v.groups = groups;
    }
    st.touch();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/// Whether this request is the V2T coordinator's: `setup` and `data` always; the shared paths
/// (`plan`, `status-summary`, feedback, unit groups) while a V2T mode is configured or has a
/// run to report.
pub fn claims(st: &State, rest: &[&str]) -> bool {
    match rest.first() {
        Some(&"setup") | Some(&"data") => true,
        Some(&"plan")
        | Some(&"status-summary")
        | Some(&"feedback-requests")
        | Some(&"feedback-response")
        | Some(&"migration-unit-groups-status") => st.mig.v2t.setup.is_some(),
        Some(&"migration-unit-groups") => {
            st.mig.v2t.setup.is_some() && rest.get(1) != Some(&"MP_TO_POLICY_MIGRATION")
        }
        _ => false,
    }
}

pub fn route(
    st: &mut State,
    cfg: &SimConfig,
    req: &Req,
    rest: &[&str],
    f: &V2tFaults,
) -> Result<Reply, ApiError> {
    let get = req.method == Method::GET;
    match rest {
        ["setup"] if req.method == Method::PUT => setup(st, cfg, req),
        ["setup"] if get => Ok(Reply::json(match &st.mig.v2t.setup {
            Some(s) => setup_json(s, st),
            None => json!({"source_nsx": []}),
        })),
        ["data", "upload"] if req.method == Method::POST => data(st, req, true),
        ["data"] if get || req.method == Method::DELETE => data(st, req, false),
        ["plan"] if req.method == Method::POST => plan(st, req, f),
        ["plan", t, "settings"] => plan_settings(st, req, t),
        ["migration-unit-groups-status"] if get => groups_status(&st.mig.v2t, req),
        ["status-summary"] if get => Ok(Reply::json(status_summary(&st.mig.v2t, req))),
        ["feedback-requests"] if get => feedback_list(&st.mig.v2t, req),
        ["feedback-response"] if req.method == Method::PUT || req.method == Method::POST => {
            feedback_response(st, req)
        }
        ["migration-unit-groups", tail @ ..] => groups(st, req, tail),
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

/// `POST /_sim/v2t/clock?advance_seconds=N` (test control): advance the virtual clock, apply the
/// elapsed time, persist the state file.
pub fn control_advance(shared: &crate::server::Shared, req: &Req) -> Reply {
    let secs = match req.q("advance_seconds").map(str::parse::<u64>) {
        Some(Ok(n)) if n <= 10 * 365 * 86_400 => n,
        _ => {
            let e = ApiError::bad_request(
                "advance_seconds must be a whole number of seconds (at most ten years)",
            );
            return Reply {
                status: 400,
                body: Some(e.body()),
                headers: Vec::new(),
                raw: None,
            };
        }
    };
    let faults = crate::server::lock(&shared.faults).migration.v2t.clone();
    let mut st = crate::server::lock(&shared.state);
    let out = advance(&mut st, &faults, secs);
    if let Some(sf) = &shared.config.state_file
        && let Err(e) = st.persist(sf)
    {
        tracing::error!("state file: {e}");
    }
    st.dirty = false;
    Reply::json(out)
}

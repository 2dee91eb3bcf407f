//! Deterministic fault injection: rules from a TOML file or the `/_sim/faults` control endpoint.
//!
//! ```toml
//! seed = 7                      # optional; defaults to the simulator seed
//!
//! [[rule]]
//! name = "busy"                 # optional, shows up in the request log as "fault"
//! method = "POST"               # optional; any method when absent
//! path = "/api/v1/migration/*"  # glob: `*` any run, `?` one character
//! query = "action=start"        # optional; every `k=v` (or bare `k`) listed must be present
//! nth = [1, 3]                  # optional: fire on these occurrences (1-based) of matching requests
//! probability = 0.5             # optional: fire with this seeded probability
//! times = 2                     # optional: fire at most this many times
//! action = "busy"               # status | busy | delay | reset | drop | hang | exit (served, then the manager goes away) | truncate (body cut in half) | expire_sessions (every NSX API session ends first, as at its idle timeout; this request then authenticates or is refused like any other)
//! status = 503                  # for action = "status"
//! error_code = 503              # optional NSX error_code (defaults to the status)
//! message = "..."               # optional error_message
//! delay_ms = 250                # for action = "delay"
//!
//! [migration]
//! precheck_fail = ["<manager id>"]    # precheck FAILED for these MP ids
//! migration_fail = ["<manager id>"]   # migration FAILED when these MP ids are promoted
//!
//! [replay]                            # the VIO API-replay target (`/target-network`)
//! fail_at_object = [3]                # the 3rd object written fails with 500, nothing created
//! realization_reads = 2               # its Policy objects read UNREALIZED twice, then REALIZED
//!
//! [migration.v2t]                     # the V2T modes (docs/rules.md, "Simulated coordinator, V2T")
//! feedback_edges = ["edge-2"]         # feedback request on these DLRs at edge cutover start
//! fail_at = { HOST = 50.0 }           # this component FAILED at this percent (once per run)
//! service_down = false                # every /api/v1/migration/* call answers 503
//! edge_timeout_s = 43200              # also host_timeout_s, edge_s_per_dlr, dfw_s, host_s_per_host
//! ```
//!
//! `GET /_sim/v2t/clock` tells the V2T virtual clock; `POST /_sim/v2t/clock?advance_seconds=N`
//! moves it forward.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimError;
use crate::api::{ApiError, Reply, Req};
use crate::server::{Shared, lock};
use crate::util::{SplitMix64, glob_match};

pub const BUSY_MESSAGE: &str =
    "Migration coordinator backend is busy. Please try again after some time.";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub method: Option<String>,
    pub path: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub nth: Vec<u64>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub times: Option<u64>,
    pub action: String,
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default)]
    pub error_code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MigrationFaults {
    #[serde(default)]
    pub precheck_fail: BTreeSet<String>,
    #[serde(default)]
    pub migration_fail: BTreeSet<String>,
    /// The V2T modes' timings and faults (`[migration.v2t]`; `coordinator::v2t::V2tFaults`).
    #[serde(default)]
    pub v2t: crate::coordinator::v2t::V2tFaults,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultFile {
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    rule: Vec<Rule>,
    #[serde(default)]
    migration: MigrationFaults,
    #[serde(default)]
    replay: crate::vio::replay::ReplayFaults,
}

#[derive(Debug, Clone)]
struct RuleState {
    rule: Rule,
    seen: u64,
    fired: u64,
}

#[derive(Debug)]
pub enum FaultAction {
    Status(ApiError),
    Delay(Duration),
    Reset,
    Drop,
    Hang,
    /// The request is served, then the manager goes away (a restart: with a state file, a new
    /// simulator on the same file comes back with the same data).
    Exit,
    /// The request is served but the body is cut in half (a truncated page).
    Truncate,
    /// Every NSX API session ends before the request is handled (their idle timeout ran out):
    /// a request carrying a session cookie is refused (403) until the client logs in again.
    ExpireSessions,
}

#[derive(Debug)]
pub struct Fired {
    pub name: String,
    pub action: FaultAction,
}

#[derive(Debug)]
pub struct Faults {
    rules: Vec<RuleState>,
    rng: SplitMix64,
    pub migration: MigrationFaults,
    /// Faults of the VIO API-replay target (`[replay]`; `crate::vio::replay`).
    pub replay: crate::vio::replay::ReplayFaults,
}

fn validate_rule(r: &Rule) -> Result<(), String> {
    match r.action.as_str() {
        "status" => {
            let s = r.status.ok_or("action \"status\" needs `status`")?;
            if !(400..=599).contains(&s) {
                return Err(format!("status {s} is not an error status (400-599)"));
            }
        }
        "delay" => {
            r.delay_ms.ok_or("action \"delay\" needs `delay_ms`")?;
        }
        "busy" | "reset" | "drop" | "hang" | "exit" | "truncate" | "expire_sessions" => {}
        other => {
            return Err(format!(
                "unknown action \"{other}\" (status, busy, delay, reset, drop, hang, exit, truncate, expire_sessions)"
            ));
        }
    }
    if let Some(p) = r.probability
        && !(0.0..=1.0).contains(&p)
    {
        return Err(format!("probability {p} is not within 0..=1"));
    }
    if r.nth.contains(&0) {
        return Err("nth counts from 1".into());
    }
    if !r.path.starts_with('/') {
        return Err(format!("path \"{}\" must start with /", r.path));
    }
    Ok(())
}

impl Faults {
    pub fn empty(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            rng: SplitMix64::new(seed ^ 0xFA17),
            migration: MigrationFaults::default(),
            replay: Default::default(),
        }
    }

    pub fn load(path: &Path, seed: u64) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Faults {
            file: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })?;
        let ff: FaultFile = toml::from_str(&text).map_err(|e| SimError::Faults {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut f = Self::empty(ff.seed.unwrap_or(seed));
        for (i, r) in ff.rule.into_iter().enumerate() {
            validate_rule(&r).map_err(|m| SimError::Faults {
                file: path.to_path_buf(),
                message: format!("rule[{i}]: {m}"),
            })?;
            f.add(r);
        }
        f.migration = ff.migration;
        f.replay = ff.replay;
        Ok(f)
    }

    pub fn add(&mut self, rule: Rule) {
        self.rules.push(RuleState {
            rule,
            seen: 0,
            fired: 0,
        });
    }

    fn matches(rule: &Rule, method: &str, path: &str, query: &[(String, String)]) -> bool {
        if let Some(m) = &rule.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        if !glob_match(&rule.path, path) {
            return false;
        }
        if let Some(q) = &rule.query {
            for want in q.split('&').filter(|s| !s.is_empty()) {
                let ok = match want.split_once('=') {
                    Some((k, v)) => query.iter().any(|(qk, qv)| qk == k && qv == v),
                    None => query.iter().any(|(qk, _)| qk == want),
                };
                if !ok {
                    return false;
                }
            }
        }
        true
    }

    /// Check a request against the rules; the first rule that fires wins.
    pub fn check(&mut self, method: &str, path: &str, query: &[(String, String)]) -> Option<Fired> {
        for i in 0..self.rules.len() {
            let rs = &mut self.rules[i];
            if !Self::matches(&rs.rule, method, path, query) {
                continue;
            }
            rs.seen += 1;
            if let Some(t) = rs.rule.times
                && rs.fired >= t
            {
                continue;
            }
            let by_nth = rs.rule.nth.is_empty() || rs.rule.nth.contains(&rs.seen);
            let by_prob = match rs.rule.probability {
                Some(p) => self.rng.next_f64() < p,
                None => true,
            };
            let rs = &mut self.rules[i];
            if !(by_nth && by_prob) {
                continue;
            }
            rs.fired += 1;
            let r = &rs.rule;
            let name = r
                .name
                .clone()
                .unwrap_or_else(|| format!("rule{i}:{}", r.action));
            let action = match r.action.as_str() {
                "status" => {
                    let status = r.status.unwrap_or(500);
                    let default_msg = match status {
                        429 => "Too many requests; the client exceeded its request rate.".to_string(),
                        503 => "Service unavailable; the server is busy. Please retry later.".to_string(),
                        412 => "The object was modified by somebody else. Fetch the latest copy of the object and retry.".to_string(),
                        409 => "The object was modified concurrently. Fetch the latest copy of the object and retry.".to_string(),
                        _ => format!("Simulated failure (HTTP {status})."),
                    };
                    FaultAction::Status(ApiError::new(
                        status,
                        r.error_code.unwrap_or(status as i64),
                        "common-services",
                        r.message.clone().unwrap_or(default_msg),
                    ))
                }
                "busy" => FaultAction::Status(ApiError::new(
                    400,
                    r.error_code.unwrap_or(400),
                    "migration-coordinator",
                    r.message
                        .clone()
                        .unwrap_or_else(|| BUSY_MESSAGE.to_string()),
                )),
                "delay" => FaultAction::Delay(Duration::from_millis(r.delay_ms.unwrap_or(0))),
                "reset" => FaultAction::Reset,
                "drop" => FaultAction::Drop,
                "exit" => FaultAction::Exit,
                "truncate" => FaultAction::Truncate,
                "expire_sessions" => FaultAction::ExpireSessions,
                _ => FaultAction::Hang,
            };
            return Some(Fired { name, action });
        }
        None
    }

    pub fn describe(&self) -> Value {
        json!({
            "rules": self.rules.iter().map(|r| json!({
                "rule": r.rule, "seen": r.seen, "fired": r.fired
            })).collect::<Vec<_>>(),
            "migration": self.migration,
            "replay": self.replay,
        })
    }
}

fn bad(msg: impl Into<String>) -> Reply {
    let e = ApiError::bad_request(msg);
    Reply {
        status: 400,
        body: Some(e.body()),
        headers: Vec::new(),
        raw: None,
    }
}

/// `/_sim/...` control endpoints (no authentication: loopback test control only).
pub fn control(shared: &Arc<Shared>, req: &Req) -> Reply {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    match (&req.method, segs.as_slice()) {
        (&Method::GET, ["_sim", "state"]) => Reply::json(lock(&shared.state).dump()),
        (&Method::GET, ["_sim", "requests"]) => {
            Reply::json(Value::Array(lock(&shared.log).iter().cloned().collect()))
        }
        (&Method::DELETE, ["_sim", "requests"]) => {
            lock(&shared.log).clear();
            Reply::empty(204)
        }
        (&Method::GET, ["_sim", "faults"]) => Reply::json(lock(&shared.faults).describe()),
        (&Method::POST, ["_sim", "vio", "expire-tokens"]) => {
            let mut st = lock(&shared.state);
            let Some(vio) = st.vio.as_deref_mut() else {
                return bad("no VIO deployment is simulated (not a vio-v2t snapshot)");
            };
            match vio.expire(req.q("service")) {
                Ok(n) => Reply::json(json!({"expired": n})),
                Err(m) => bad(m),
            }
        }
        (&Method::GET, ["_sim", "v2t", "clock"]) => {
            Reply::json(crate::coordinator::v2t::clock(&lock(&shared.state)))
        }
        (&Method::POST, ["_sim", "v2t", "clock"]) => {
            crate::coordinator::v2t::control_advance(shared, req)
        }
        (&Method::DELETE, ["_sim", "faults"]) => {
            let mut f = lock(&shared.faults);
            f.rules.clear();
            f.migration = MigrationFaults::default();
            f.replay = Default::default();
            Reply::empty(204)
        }
        (&Method::POST, ["_sim", "faults"]) => {
            let v: Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return bad(format!("invalid JSON: {e}")),
            };
            let list = match v.get("rules") {
                Some(r) => r.clone(),
                None => Value::Array(vec![v]),
            };
            let rules: Vec<Rule> = match serde_json::from_value(list) {
                Ok(r) => r,
                Err(e) => return bad(format!("invalid rule: {e}")),
            };
            for (i, r) in rules.iter().enumerate() {
                if let Err(m) = validate_rule(r) {
                    return bad(format!("rule[{i}]: {m}"));
                }
            }
            let mut f = lock(&shared.faults);
            for r in rules {
                f.add(r);
            }
            Reply::json(f.describe())
        }
        (&Method::PUT, ["_sim", "vio", "replay-faults"]) => {
            match serde_json::from_slice::<crate::vio::replay::ReplayFaults>(&req.body) {
                Ok(r) => {
                    lock(&shared.faults).replay = r;
                    Reply::empty(204)
                }
                Err(e) => bad(format!("invalid replay faults: {e}")),
            }
        }
        (&Method::PUT, ["_sim", "migration-faults"]) => {
            match serde_json::from_slice::<MigrationFaults>(&req.body) {
                Ok(m) => {
                    lock(&shared.faults).migration = m;
                    Reply::empty(204)
                }
                Err(e) => bad(format!("invalid migration faults: {e}")),
            }
        }
        _ => {
            let e = ApiError::not_found(&req.path);
            Reply {
                status: 404,
                body: Some(e.body()),
                headers: Vec::new(),
                raw: None,
            }
        }
    }
}

//! The coordinator's HTTP API (`/api/v1/migration/...`): workflow, submission, plan actions,
//! rollback, and the status, stats, feedback and migrated-resources reports.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::{Value, json};

use super::model::{Batch, Item, MpMigrationData, MpResource, Phase};
use super::rollback::rollback;
use super::table::spec;
use super::v2t;
use crate::SimConfig;
use crate::api::{ApiError, Reply, Req, list_page};
use crate::faults::{BUSY_MESSAGE, MigrationFaults};
use crate::state::State;

fn busy() -> ApiError {
    ApiError::new(400, 400, "migration-coordinator", BUSY_MESSAGE)
}

fn comp(component_type: &str, status: &str, pct: f64, details: &str) -> Value {
    let mut v = json!({
        "component_type": component_type,
        "status": status,
        "percent_complete": pct,
        "can_skip": false,
    });
    if !details.is_empty() {
        v["details"] = json!(details);
    }
    v
}

fn status_summary(st: &State, req: &Req) -> Value {
    let m = &st.mig;
    let n = m.batch.as_ref().map(|b| b.items.len()).unwrap_or(0).max(1) as f64;
    let elapsed_frac = match (m.phase_started, m.phase_total.is_zero()) {
        (Some(s), false) => (s.elapsed().as_secs_f64() / m.phase_total.as_secs_f64()).min(0.99),
        _ => 0.0,
    };
    let (overall, pre, mig) = match m.phase {
        Phase::Idle => (
            "NOT_STARTED",
            comp("MP_TO_POLICY_PRECHECK", "NOT_STARTED", 0.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Prechecking => (
            "IN_PROGRESS",
            comp(
                "MP_TO_POLICY_PRECHECK",
                "IN_PROGRESS",
                (elapsed_frac * 100.0).floor(),
                "",
            ),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Paused => (
            "PAUSED",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::PrecheckFailed => (
            "PAUSED",
            comp(
                "MP_TO_POLICY_PRECHECK",
                "FAILED",
                100.0,
                &m.precheck_details,
            ),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Migrating => (
            "IN_PROGRESS",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp(
                "MP_TO_POLICY_MIGRATION",
                "IN_PROGRESS",
                ((m.progress as f64 / n) * 100.0).min(99.0).floor(),
                "",
            ),
        ),
        Phase::Succeeded => (
            "SUCCESS",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "SUCCESS", 100.0, ""),
        ),
        Phase::MigrationFailed => (
            "PAUSED",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp(
                "MP_TO_POLICY_MIGRATION",
                "FAILED",
                ((m.progress as f64 / n) * 100.0).floor(),
                &m.migration_details,
            ),
        ),
    };
    let comps: Vec<Value> = [pre, mig]
        .into_iter()
        .filter(|c| match req.q("component_type") {
            Some(ct) => c["component_type"] == ct,
            None => true,
        })
        .collect();
    json!({"overall_migration_status": overall, "component_status": comps})
}

fn parse_items(data: &[MpResource]) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    for (i, r) in data.iter().enumerate() {
        if r.type_.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "Field level validation errors: {{migration_data[{i}].type must not be empty}}"
            )));
        }
        if r.resource_ids.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Field level validation errors: {{migration_data[{i}].resource_ids must not be empty}}"
            )));
        }
        for (j, d) in r.resource_ids.iter().enumerate() {
            if d.manager_id.trim().is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Field level validation errors: {{migration_data[{i}].resource_ids[{j}].manager_id must not be empty}}"
                )));
            }
            if let Some(p) = &d.policy_id
                && (p.is_empty() || p.contains('/'))
            {
                return Err(ApiError::bad_request(format!(
                    "Field level validation errors: {{migration_data[{i}].resource_ids[{j}].policy_id '{p}' is not a valid Policy id}}"
                )));
            }
            items.push(Item {
                type_: r.type_.clone(),
                details: d.clone(),
            });
        }
    }
    Ok(items)
}

fn parse_body(req: &Req) -> Result<MpMigrationData, ApiError> {
    let v = req.json_or_empty()?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::new(
            400,
            287,
            "common-services",
            format!("Json de-serialization error: {e}"),
        )
    })
}

fn stats(st: &State) -> Value {
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in &st.mig.records {
        by.entry(r.resource_type.clone()).or_default().0 += 1;
    }
    for f in &st.mig.feedback {
        if let Some(t) = f.get("type").and_then(Value::as_str) {
            by.entry(t.to_string()).or_default().1 += 1;
        }
    }
    let current = match (&st.mig.phase, &st.mig.batch) {
        (Phase::Migrating, Some(b)) => b.items.first().map(|i| i.type_.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    let list: Vec<Value> = by
        .iter()
        .map(|(t, (ok, failed))| {
            let in_progress = st.mig.phase == Phase::Migrating && *t == current;
            json!({
                "resource_type": t,
                "promotion_status": if in_progress { "IN_PROGRESS" } else { "DONE" },
                "total_count": (ok + failed).to_string(),
                "promoted_objects_count": ok.to_string(),
                "failed_objects_count": failed.to_string(),
            })
        })
        .collect();
    let total: u64 = by.values().map(|(a, b)| a + b).sum();
    let mut out = json!({"total_count": total, "migration_stats": list});
    if !current.is_empty() {
        out["current_resource_type_in_promotion"] = json!(current);
    }
    out
}

pub fn route(
    st: &mut State,
    cfg: &SimConfig,
    req: &Req,
    rest: &[&str],
    faults: &MigrationFaults,
) -> Result<(Reply, Duration), ApiError> {
    if faults.v2t.service_down {
        return Err(v2t::service_down());
    }
    if !st.coordinator_running {
        return Err(ApiError::new(
            500,
            500,
            "migration-coordinator",
            "Migration coordinator service is not running. Start it with POST /api/v1/node/services/migration-coordinator?action=start.",
        ));
    }
    v2t::tick(st, &faults.v2t);
    if v2t::claims(st, rest) {
        return v2t::route(st, cfg, req, rest, &faults.v2t).map(|r| (r, Duration::ZERO));
    }
    let ok = |r: Reply| Ok((r, Duration::ZERO));
    let post = req.method == Method::POST;
    let get = req.method == Method::GET;
    match rest {
        ["status-summary"] if get => ok(Reply::json(status_summary(st, req))),
        ["mp-to-policy", "workflow"] if post => match req.q("action") {
            Some("INITIATE") => {
                if let Some(mode) = st.mig.v2t.configured_mode() {
                    return Err(ApiError::new(
                        400,
                        v2t::MODE_CONFLICT,
                        "migration-coordinator",
                        format!(
                            "Invalid mode in migration plan: the migration coordinator is already configured with a different plan ({mode}); finish or abort it before initiating MP to Policy promotion."
                        ),
                    ));
                }
                st.mig.window_open = true;
                st.touch();
                ok(Reply::empty(200))
            }
            Some("DONE") => {
                if st.mig.running() {
                    return Err(busy());
                }
                st.mig.window_open = false;
                st.touch();
                ok(Reply::empty(200))
            }
            other => Err(ApiError::bad_request(format!(
                "Invalid workflow action {:?}; expected INITIATE or DONE.",
                other.unwrap_or("")
            ))),
        },
        ["mp-to-policy"] if post => {
            let body = parse_body(req)?;
            let mode = body.mode.as_deref().unwrap_or("CONSUMER");
            match mode {
                "CONSUMER" => {}
                "GENERIC" => {
                    return Err(ApiError::bad_request(
                        "GENERIC promotion mode is not supported by this simulator.",
                    ));
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Field level validation errors: {{mode '{other}' must be GENERIC or CONSUMER}}"
                    )));
                }
            }
            let Some(data) = body.migration_data else {
                // An empty submission (used as an availability probe) stores nothing.
                return ok(Reply::empty(200));
            };
            if !st.mig.window_open {
                return Err(ApiError::bad_request(
                    "The MP to Policy promotion workflow is not initiated. Call mp-to-policy/workflow?action=INITIATE first.",
                ));
            }
            if st.mig.running() {
                return Err(busy());
            }
            if !matches!(st.mig.phase, Phase::Idle | Phase::Succeeded) {
                return Err(ApiError::bad_request(
                    "The previous migration plan is not cleared. Abort it (plan?action=abort) before submitting new data.",
                ));
            }
            let items = parse_items(&data)?;
            if items.is_empty() {
                return Err(ApiError::bad_request(
                    "Field level validation errors: {migration_data must not be empty}",
                ));
            }
            st.mig.batch = Some(Batch {
                principal_identity: body.setup_details.and_then(|s| s.principal_identity),
                items,
            });
            st.mig.phase = Phase::Idle;
            st.mig.progress = 0;
            st.touch();
            ok(Reply::empty(200))
        }
        ["plan"] if post => match req.q("action") {
            Some("start") => {
                if st.mig.running() {
                    return Err(busy());
                }
                let n = match (&st.mig.batch, st.mig.phase) {
                    (Some(b), Phase::Idle) => b.items.len(),
                    _ => {
                        return Err(ApiError::bad_request(
                            "There is no submitted migration data to start. POST mp-to-policy first.",
                        ));
                    }
                };
                st.mig.phase = Phase::Prechecking;
                st.mig.phase_started = Some(Instant::now());
                st.mig.phase_total = cfg
                    .migration
                    .min_phase
                    .max(cfg.migration.precheck_per_object * n as u32);
                st.mig.precheck_details.clear();
                st.mig.migration_details.clear();
                st.touch();
                ok(Reply::empty(200))
            }
            Some("continue") => {
                if st.mig.phase != Phase::Paused {
                    return Err(ApiError::bad_request(format!(
                        "The plan cannot be continued in its current state ({}).",
                        status_summary(st, req)["overall_migration_status"]
                            .as_str()
                            .unwrap_or("")
                    )));
                }
                let n = st.mig.batch.as_ref().map(|b| b.items.len()).unwrap_or(0);
                st.mig.phase = Phase::Migrating;
                st.mig.progress = 0;
                st.mig.phase_started = Some(Instant::now());
                st.mig.phase_total = cfg
                    .migration
                    .min_phase
                    .max(cfg.migration.migrate_per_object * n as u32);
                st.touch();
                ok(Reply::empty(200))
            }
            Some("abort") => {
                st.mig.phase = Phase::Idle;
                st.mig.batch = None;
                st.mig.phase_started = None;
                st.mig.progress = 0;
                st.mig.precheck_details.clear();
                st.mig.migration_details.clear();
                st.touch();
                ok(Reply::empty(200))
            }
            other => Err(ApiError::bad_request(format!(
                "Plan action {:?} is not supported in MP to Policy mode (start, continue, abort).",
                other.unwrap_or("")
            ))),
        },
        ["mp-to-policy", "rollback"] if post => {
            if st.mig.running() {
                return Err(busy());
            }
            let body = parse_body(req)?;
            let data = body.migration_data.ok_or_else(|| {
                ApiError::bad_request("Field level validation errors: {migration_data is required}")
            })?;
            let items = parse_items(&data)?;
            let delay = rollback(st, cfg, &items);
            st.touch();
            Ok((Reply::empty(200), delay))
        }
        ["mp-to-policy", "cancel"] if post => {
            st.mig.phase = Phase::Idle;
            st.mig.batch = None;
            st.mig.phase_started = None;
            st.touch();
            ok(Reply::empty(200))
        }
        ["mp-to-policy", "stats"] if get => ok(Reply::json(stats(st))),
        ["mp-to-policy", "feedback"] if get => {
            let (off, size) = req.page()?;
            let items: Vec<&Value> = st
                .mig
                .feedback
                .iter()
                .filter(|f| req.q("resource_type").is_none_or(|t| f["type"] == t))
                .filter(|f| req.q("mp_id").is_none_or(|t| f["mp_id"] == t))
                .collect();
            ok(list_page(items, off, size))
        }
        ["migrated-resources"] if get => {
            let rt = req
                .q("resource_type")
                .ok_or_else(|| ApiError::bad_request("Parameter resource_type is required."))?;
            if spec(rt).is_none() {
                return Err(ApiError::bad_request(format!(
                    "Invalid resource_type '{rt}'."
                )));
            }
            let (off, size) = req.page()?;
            let list: Vec<Value> = st
                .mig
                .records
                .iter()
                .filter(|r| r.resource_type == rt)
                .filter(|r| req.q("resource_id").is_none_or(|id| r.resource_id == id))
                .map(|r| {
                    let mut v = json!({
                        "resource_type": r.resource_type,
                        "resource_id": r.resource_id,
                        "policy_id": r.policy_id,
                        "policy_path": r.policy_path,
                    });
                    if let Some(p) = &r.parent_resource_type {
                        v["parent_resource_type"] = json!(p);
                    }
                    if let Some(p) = &r.parent_resource_id {
                        v["parent_resource_id"] = json!(p);
                    }
                    v
                })
                .collect();
            ok(list_page(list.iter().collect(), off, size))
        }
        ["mp-policy-promotion", "state"] if get => ok(Reply::json(json!({
            "mp_policy_promotion": if st.mig.running() { "PROMOTION_IN_PROGRESS" } else { "PROMOTION_NOT_IN_PROGRESS" }
        }))),
        ["mp-policy-promotion", "history"] if get => ok(Reply::json(json!({
            "mp_policy_promotion_history": st.mig.history,
        }))),
        ["migration-unit-groups", "MP_TO_POLICY_MIGRATION"] if get => ok(Reply::json(json!({
            "id": "MP_TO_POLICY_MIGRATION",
            "display_name": "MP_TO_POLICY_MIGRATION",
            "group_type": "MP_TO_POLICY_MIGRATION",
            "enabled": true,
            "parallel": true,
            "migration_unit_count": st.mig.batch.as_ref().map(|b| b.items.len()).unwrap_or(0),
        }))),
        _ => Err(ApiError::not_found(&req.path)),
    }
}

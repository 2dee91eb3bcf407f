//! Load balancing: certificates, monitors, pools, persistence / application / SSL profiles,
//! virtual servers and services. Monitors and profiles copy their configuration as is.

use serde_json::{Value, json};

use crate::coordinator::promote::{Promotion, copy_fields};
use crate::coordinator::resolve::{path_or_null, router_type_of, str_field};
use crate::state::State;

/// `LbHttpMonitor` → `LBHttpMonitorProfile`.
pub fn monitor_policy_type(rt: &str) -> String {
    format!("{}Profile", rt.replacen("Lb", "LB", 1))
}

/// `LbCookiePersistenceProfile` → `LBCookiePersistenceProfile`.
pub fn profile_policy_type(rt: &str) -> String {
    rt.replacen("Lb", "LB", 1)
}

// CERTIFICATE

pub fn certificate(p: &mut Promotion) {
    copy_fields(p.obj, &mut p.intent, &["pem_encoded"]);
}

// LB_POOL

pub fn pool_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    for m in obj
        .get("active_monitor_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = m.as_str() {
            out.push(("LB_MONITOR".into(), id.into()));
        }
    }
    if let Some(m) = str_field(obj, "passive_monitor_id") {
        out.push(("LB_MONITOR".into(), m));
    }
    if let Some(g) = obj
        .pointer("/member_group/grouping_object/target_id")
        .and_then(Value::as_str)
    {
        out.push(("NS_GROUP".into(), g.into()));
    }
}

pub fn pool(p: &mut Promotion) {
    let (st, obj) = (p.st, p.obj);
    copy_fields(
        obj,
        &mut p.intent,
        &[
            "algorithm",
            "members",
            "min_active_members",
            "tcp_multiplexing_enabled",
        ],
    );
    let mons: Vec<String> = obj
        .get("active_monitor_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| path_or_null(st, "LB_MONITOR", m.as_str()))
        .collect();
    if !mons.is_empty() {
        p.intent["active_monitor_paths"] = json!(mons);
    }
    if let Some(m) = path_or_null(
        st,
        "LB_MONITOR",
        obj.get("passive_monitor_id").and_then(Value::as_str),
    ) {
        p.intent["passive_monitor_path"] = json!(m);
    }
}

// LB_VIRTUAL_SERVER: MP LB rules are inlined.

pub fn virtual_server_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    for (f, ty) in [
        ("pool_id", "LB_POOL"),
        ("sorry_pool_id", "LB_POOL"),
        ("application_profile_id", "LB_APPLICATION_PROFILE"),
        ("persistence_profile_id", "LB_PERSISTENCE_PROFILE"),
    ] {
        if let Some(id) = str_field(obj, f) {
            out.push((ty.into(), id));
        }
    }
    if let Some(b) = obj.get("client_ssl_profile_binding") {
        if let Some(id) = str_field(b, "ssl_profile_id") {
            out.push(("LB_CLIENT_SSL_PROFILE".into(), id));
        }
        if let Some(id) = str_field(b, "default_certificate_id") {
            out.push(("CERTIFICATE".into(), id));
        }
        for c in b
            .get("sni_certificate_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(id) = c.as_str() {
                out.push(("CERTIFICATE".into(), id.into()));
            }
        }
    }
    if let Some(id) = obj
        .pointer("/server_ssl_profile_binding/ssl_profile_id")
        .and_then(Value::as_str)
    {
        out.push(("LB_SERVER_SSL_PROFILE".into(), id.into()));
    }
}

pub fn virtual_server(p: &mut Promotion) {
    let (st, obj) = (p.st, p.obj);
    copy_fields(
        obj,
        &mut p.intent,
        &[
            "ip_address",
            "ports",
            "enabled",
            "max_concurrent_connections",
            "max_new_connection_rate",
        ],
    );
    for (f, ty, to) in [
        ("pool_id", "LB_POOL", "pool_path"),
        ("sorry_pool_id", "LB_POOL", "sorry_pool_path"),
        (
            "application_profile_id",
            "LB_APPLICATION_PROFILE",
            "application_profile_path",
        ),
        (
            "persistence_profile_id",
            "LB_PERSISTENCE_PROFILE",
            "lb_persistence_profile_path",
        ),
    ] {
        if let Some(path) = path_or_null(st, ty, obj.get(f).and_then(Value::as_str)) {
            p.intent[to] = json!(path);
        }
    }
    // MP rules are inlined; their display_name is the MP rule id (observed by VNX).
    let rules: Vec<Value> = obj
        .get("rule_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str())
        .filter_map(|rid| {
            st.mp
                .coll("lb-rules")
                .and_then(|c| c.get(rid))
                .map(|r| (rid, r))
        })
        .map(|(rid, r)| {
            json!({"display_name": rid, "phase": r.get("phase").cloned().unwrap_or(Value::Null),
                   "match_strategy": r.get("match_strategy").cloned().unwrap_or(json!("ALL")),
                   "match_conditions": r.get("match_conditions").cloned().unwrap_or(json!([])),
                   "actions": r.get("actions").cloned().unwrap_or(json!([]))})
        })
        .collect();
    if !rules.is_empty() {
        p.intent["rules"] = Value::Array(rules);
    }
}

// LB_SERVICE: attached to a router; its virtual servers get linked back to it.

pub fn service_deps(st: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(r) = obj.pointer("/attachment/target_id").and_then(Value::as_str) {
        let rt = router_type_of(st, r).unwrap_or_else(|| "TIER1".into());
        out.push((rt, r.into()));
    }
    for v in obj
        .get("virtual_server_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = v.as_str() {
            out.push(("LB_VIRTUAL_SERVER".into(), id.into()));
        }
    }
}

pub fn service(p: &mut Promotion) {
    let (st, obj) = (p.st, p.obj);
    copy_fields(obj, &mut p.intent, &["size", "enabled", "error_log_level"]);
    if let Some(r) = obj.pointer("/attachment/target_id").and_then(Value::as_str) {
        let rt = router_type_of(st, r).unwrap_or_else(|| "TIER1".into());
        if let Some(path) = path_or_null(st, &rt, Some(r)) {
            p.intent["connectivity_path"] = json!(path);
        }
    }
    // Policy virtual servers point back at their service.
    let service_path = p.path.to_string();
    for v in obj
        .get("virtual_server_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(vp) = path_or_null(st, "LB_VIRTUAL_SERVER", v.as_str()) {
            p.link(&vp, "lb_service_path", json!(service_path));
        }
    }
}

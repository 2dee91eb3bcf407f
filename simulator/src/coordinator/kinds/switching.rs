//! Logical switches (segments), logical ports (segment ports) and the switching profiles they use
//! (the profiles themselves are promoted with `copy_config`).

use serde_json::{Value, json};

use crate::coordinator::model::{Item, ResourceDetails};
use crate::coordinator::promote::Promotion;
use crate::coordinator::resolve::{path_or_null, policy_path_of, str_field};
use crate::coordinator::table::profile_type;
use crate::state::State;

/// The switching profiles an object uses (`switching_profile_ids: [{key: <type>, value: <id>}]`).
fn profile_deps(obj: &Value, out: &mut Vec<(String, String)>) {
    for p in obj
        .get("switching_profile_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(pt) = p.get("key").and_then(Value::as_str).and_then(profile_type)
            && let Some(id) = p.get("value").and_then(Value::as_str)
        {
            out.push((pt.to_string(), id.to_string()));
        }
    }
}

// LOGICAL_SWITCH

pub fn logical_switch_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(p) = str_field(obj, "ip_pool_id") {
        out.push(("IPPOOL".into(), p));
    }
    profile_deps(obj, out);
}

pub fn logical_switch(p: &mut Promotion) {
    let obj = p.obj;
    if let Some(tz) = obj.get("transport_zone_id").and_then(Value::as_str) {
        p.intent["transport_zone_path"] = json!(format!(
            "/infra/sites/default/enforcement-points/default/transport-zones/{tz}"
        ));
    }
    if let Some(v) = obj.get("vlan") {
        p.intent["vlan_ids"] = json!([v.to_string()]);
    }
    if let Some(pool) = path_or_null(
        p.st,
        "IPPOOL",
        obj.get("ip_pool_id").and_then(Value::as_str),
    ) {
        p.intent["advanced_config"] = json!({"address_pool_paths": [pool]});
    }
    p.intent["admin_state"] = obj.get("admin_state").cloned().unwrap_or(json!("UP"));
    p.intent["unique_id"] = json!(p.details.manager_id);
}

// LOGICAL_PORT: lives under its segment.

pub fn logical_port_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(s) = str_field(obj, "logical_switch_id") {
        out.push(("LOGICAL_SWITCH".into(), s));
    }
    profile_deps(obj, out);
}

pub fn logical_port_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    obj: &Value,
    pid: &str,
) -> Result<String, String> {
    let ls = str_field(obj, "logical_switch_id").unwrap_or_default();
    let seg = policy_path_of(st, batch, "LOGICAL_SWITCH", &ls).ok_or_else(|| {
        format!(
            "LOGICAL_PORT {}: logical switch {ls} is not promoted",
            d.manager_id
        )
    })?;
    Ok(format!("{seg}/ports/{pid}"))
}

pub fn logical_port(p: &mut Promotion) {
    let obj = p.obj;
    if let Some(a) = obj.get("attachment") {
        let ty = match a.pointer("/context/vif_type").and_then(Value::as_str) {
            Some("CHILD") => "CHILD",
            Some("PARENT") => "PARENT",
            Some("INDEPENDENT") => "INDEPENDENT",
            _ => "",
        };
        if !ty.is_empty() {
            let mut att = json!({"id": a.get("id").cloned().unwrap_or(Value::Null), "type": ty});
            if let Some(v) = a.pointer("/context/parent_vif_id") {
                att["context_id"] = v.clone();
            }
            if let Some(v) = a.pointer("/context/traffic_tag") {
                att["traffic_tag"] = v.clone();
            }
            if let Some(v) = a.pointer("/context/app_id") {
                att["app_id"] = v.clone();
            }
            p.intent["attachment"] = att;
        }
    }
    p.intent["admin_state"] = obj.get("admin_state").cloned().unwrap_or(json!("UP"));
    p.intent["unique_id"] = json!(p.details.manager_id);
}

pub fn logical_port_parent(_: &State, obj: &Value) -> (Option<String>, Option<String>) {
    (
        Some("LOGICAL_SWITCH".to_string()),
        str_field(obj, "logical_switch_id"),
    )
}

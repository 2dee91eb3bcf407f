//! Routers and what hangs under them: Tier-0 and Tier-1 gateways, the Tier-1's router ports (its
//! locale services, uplink to the Tier-0, segment downlinks and static routes), Tier-0 uplink
//! interfaces, Tier-0 BGP configuration and NAT rules.

use serde_json::{Value, json};

use crate::coordinator::model::{Item, ResourceDetails};
use crate::coordinator::promote::{Promotion, copy_fields};
use crate::coordinator::resolve::{
    display_name, follow, meta, path_or_null, policy_path_of, router_path, router_type_of,
    str_field,
};
use crate::state::State;
use crate::store::tags_of;

/// The Manager objects of `coll` whose `logical_router_id` is `router`.
fn of_router<'a>(st: &'a State, coll: &str, router: &'a str) -> impl Iterator<Item = &'a Value> {
    st.mp
        .coll(coll)
        .into_iter()
        .flat_map(|c| c.iter())
        .filter(move |p| p.get("logical_router_id").and_then(Value::as_str) == Some(router))
}

/// A Tier-0 router port's peer on the Tier-1 side: the router owning the port it links to.
fn linked_router(st: &State, port: &Value) -> Option<String> {
    follow(
        st,
        port,
        "/linked_logical_router_port_id/target_id",
        "logical-router-ports",
        "logical_router_id",
    )
}

/// A downlink router port's logical switch.
fn linked_switch(st: &State, port: &Value) -> Option<String> {
    follow(
        st,
        port,
        "/linked_logical_switch_port_id/target_id",
        "logical-ports",
        "logical_switch_id",
    )
}

/// Interfaces and BGP configuration live in the router's `default` locale services, created
/// with them when the router has none yet.
fn locale_services(p: &mut Promotion) {
    let ls = p
        .path
        .split("/locale-services/default")
        .next()
        .map(|x| format!("{x}/locale-services/default"))
        .unwrap_or_default();
    let intent = p.new_intent(&ls, "LocaleServices", "default", &[]);
    p.containers.push((ls, intent));
}

// TIER0

pub fn tier0(p: &mut Promotion) {
    if let Some(m) = p.obj.get("high_availability_mode") {
        p.intent["ha_mode"] = m.clone();
    }
}

// TIER1_LOGICAL_ROUTER_PORT: keyed by the Tier-1's id; promotes its locale services and, through
// its ports, links it to the Tier-0 and its segments to it.

pub fn tier1_router_port_deps(st: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    let t1 = str_field(obj, "id").unwrap_or_default();
    out.push(("TIER1".into(), t1.clone()));
    for p in of_router(st, "logical-router-ports", &t1) {
        if let Some(t0) = linked_router(st, p) {
            out.push(("TIER0".into(), t0));
        }
        if let Some(ls) = linked_switch(st, p) {
            out.push(("LOGICAL_SWITCH".into(), ls));
        }
    }
}

pub fn tier1_router_port_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    _: &Value,
    _: &str,
) -> Result<String, String> {
    let t1 = policy_path_of(st, batch, "TIER1", &d.manager_id).ok_or_else(|| {
        format!(
            "TIER1_LOGICAL_ROUTER_PORT {}: Tier-1 is not promoted",
            d.manager_id
        )
    })?;
    let ls = meta(d, "localeServiceId")
        .map(str::to_string)
        .unwrap_or_else(|| "default".into());
    Ok(format!("{t1}/locale-services/{ls}"))
}

pub fn tier1_router_port(p: &mut Promotion) {
    let st = p.st;
    let d = p.details;
    let t1 = d.manager_id.as_str();
    let t1_path = p
        .path
        .split("/locale-services/")
        .next()
        .unwrap_or("")
        .to_string();
    for port in of_router(st, "logical-router-ports", t1) {
        let pid = str_field(port, "id").unwrap_or_default();
        p.marks.push(("logical-router-ports".into(), pid.clone()));
        // Link to the Tier-0: set tier0_path on the Tier-1 intent.
        if let Some(t0) = linked_router(st, port)
            && let Some(t0p) = path_or_null(st, "TIER0", Some(&t0))
        {
            p.link(&t1_path, "tier0_path", json!(t0p));
        }
        // Downlinks: connect the segment to the Tier-1.
        if let Some(ls) = linked_switch(st, port)
            && let Some(seg) = path_or_null(st, "LOGICAL_SWITCH", Some(&ls))
        {
            p.link(&seg, "connectivity_path", json!(t1_path));
        }
    }
    for r in of_router(st, "static-routes", t1) {
        let rid = str_field(r, "id").unwrap_or_default();
        let rpid = meta(d, &rid)
            .map(str::to_string)
            .unwrap_or_else(|| rid.clone());
        let rpath = format!("{t1_path}/static-routes/{rpid}");
        let mut route = p.new_intent(&rpath, "StaticRoutes", &display_name(r), &tags_of(r));
        route["network"] = r.get("network").cloned().unwrap_or(Value::Null);
        route["next_hops"] = Value::Array(
            r.get("next_hops")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|h| {
                    json!({"ip_address": h.get("ip_address").cloned().unwrap_or(Value::Null),
                           "admin_distance": h.get("administrative_distance").cloned().unwrap_or(json!(1))})
                })
                .collect(),
        );
        p.extra.push((rpath, route));
        p.marks.push(("static-routes".into(), rid));
    }
}

// TIER0_LOGICAL_ROUTER_PORT: an interface of the Tier-0's default locale services.

pub fn tier0_router_port_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(r) = str_field(obj, "logical_router_id") {
        out.push(("TIER0".into(), r));
    }
}

pub fn tier0_router_port_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    obj: &Value,
    pid: &str,
) -> Result<String, String> {
    let rid = str_field(obj, "logical_router_id").unwrap_or_default();
    let router = router_path(st, batch, "TIER0_LOGICAL_ROUTER_PORT", d, &rid)?;
    Ok(format!("{router}/locale-services/default/interfaces/{pid}"))
}

pub fn tier0_router_port(p: &mut Promotion) {
    copy_fields(p.obj, &mut p.intent, &["subnets"]);
    p.intent["type"] = json!(match p.obj.get("resource_type").and_then(Value::as_str) {
        Some("LogicalRouterUpLinkPort") => "EXTERNAL",
        Some("LogicalRouterCentralizedServicePort") => "SERVICE",
        _ => "EXTERNAL",
    });
    locale_services(p);
}

pub fn tier0_router_port_parent(_: &State, obj: &Value) -> (Option<String>, Option<String>) {
    (
        Some("TIER0".to_string()),
        str_field(obj, "logical_router_id"),
    )
}

// TIER0_LOGICAL_ROUTER_CONFIG: keyed by the Tier-0's id; its BGP configuration (disabled).

pub fn tier0_router_config_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    out.push(("TIER0".into(), str_field(obj, "id").unwrap_or_default()));
}

pub fn tier0_router_config_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    _: &Value,
    _: &str,
) -> Result<String, String> {
    let router = router_path(st, batch, "TIER0_LOGICAL_ROUTER_CONFIG", d, &d.manager_id)?;
    Ok(format!("{router}/locale-services/default/bgp"))
}

pub fn tier0_router_config(p: &mut Promotion) {
    p.intent["enabled"] = json!(false);
    locale_services(p);
}

// NAT: a USER rule of its router (Tier-0 or Tier-1).

pub fn nat_deps(st: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(r) = str_field(obj, "logical_router_id") {
        let rt = router_type_of(st, &r).unwrap_or_else(|| "TIER1".into());
        out.push((rt, r));
    }
}

pub fn nat_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    obj: &Value,
    pid: &str,
) -> Result<String, String> {
    let rid = str_field(obj, "logical_router_id").unwrap_or_default();
    let router = router_path(st, batch, "NAT", d, &rid)?;
    Ok(format!("{router}/nat/USER/nat-rules/{pid}"))
}

pub fn nat(p: &mut Promotion) {
    let obj = p.obj;
    p.intent["action"] = obj.get("action").cloned().unwrap_or(Value::Null);
    for (from, to) in [
        ("match_source_network", "source_network"),
        ("match_destination_network", "destination_network"),
        ("translated_network", "translated_network"),
        ("translated_ports", "translated_ports"),
        ("enabled", "enabled"),
        ("logging", "logging"),
    ] {
        if let Some(v) = obj.get(from) {
            p.intent[to] = v.clone();
        }
    }
    let seq = meta(p.details, "SEQUENCE_NUMBER")
        .and_then(|s| s.parse::<i64>().ok())
        .or_else(|| obj.get("rule_priority").and_then(Value::as_i64))
        .unwrap_or(0);
    p.intent["sequence_number"] = json!(seq);
}

pub fn nat_parent(st: &State, obj: &Value) -> (Option<String>, Option<String>) {
    let r = str_field(obj, "logical_router_id");
    (r.as_deref().and_then(|r| router_type_of(st, r)), r)
}

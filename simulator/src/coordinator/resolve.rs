//! Finding things: the Manager object a (type, manager id) pair designates, the objects it depends
//! on, and the Policy path it is (or will be) promoted to.

use serde_json::{Value, json};

use super::model::{Item, KeyValue, ResourceDetails};
use super::table::{Source, Target, spec};
use crate::state::State;

pub fn str_field(v: &Value, f: &str) -> Option<String> {
    v.get(f).and_then(Value::as_str).map(str::to_string)
}

/// A metadata value of a resource (`metadata: [{key, value}]`).
pub fn meta<'a>(d: &'a ResourceDetails, key: &str) -> Option<&'a str> {
    d.metadata
        .iter()
        .find(|m| m.key == key)
        .and_then(|m| m.value.as_deref())
}

pub fn display_name(obj: &Value) -> String {
    obj.get("display_name")
        .and_then(Value::as_str)
        .or_else(|| obj.get("id").and_then(Value::as_str))
        .or_else(|| obj.get("allocation_id").and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

pub fn router_type_of(st: &State, id: &str) -> Option<String> {
    st.mp
        .coll("logical-routers")
        .and_then(|c| c.get(id))
        .and_then(|r| r.get("router_type"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The string `field` of the Manager object in collection `coll` whose id `obj` holds at
/// `pointer` (a reference followed to its target).
pub fn follow(st: &State, obj: &Value, pointer: &str, coll: &str, field: &str) -> Option<String> {
    let id = obj.pointer(pointer).and_then(Value::as_str)?;
    st.mp
        .coll(coll)
        .and_then(|c| c.get(id))
        .and_then(|o| str_field(o, field))
}

/// Look up the MP object a (type, manager id) pair designates.
pub fn lookup(st: &State, t: &str, id: &str, linked: &[KeyValue]) -> Option<Value> {
    let spec = spec(t)?;
    let in_coll = |coll: &str| st.mp.coll(coll).and_then(|c| c.get(id)).cloned();
    let str_is = |o: &Value, f: &str, v: &str| o.get(f).and_then(Value::as_str) == Some(v);
    match spec.source {
        Source::FirewallSection => st.mp.firewall.section_with_rules(id),
        Source::PoolAllocation => {
            let pool_hint = linked
                .iter()
                .find(|k| k.key == "IPPOOL")
                .and_then(|k| k.value.clone());
            let mut pools: Vec<&String> = st.mp.allocations.keys().collect();
            pools.sort();
            for p in pools {
                if pool_hint.as_deref().is_some_and(|h| h != p) {
                    continue;
                }
                if let Some(a) = st.mp.allocations[p]
                    .iter()
                    .find(|a| str_is(a, "allocation_id", id))
                {
                    let mut a = a.clone();
                    a["_pool_id"] = json!(p);
                    return Some(a);
                }
            }
            None
        }
        Source::Collection(coll) => in_coll(coll),
        Source::Router(router_type) => {
            in_coll("logical-routers").filter(|o| str_is(o, "router_type", router_type))
        }
        Source::RouterPort(router_type) => in_coll("logical-router-ports").filter(|o| {
            let rid = o
                .get("logical_router_id")
                .and_then(Value::as_str)
                .unwrap_or("");
            router_type_of(st, rid).as_deref() == Some(router_type)
        }),
        Source::SwitchingProfile(rt) => {
            in_coll("switching-profiles").filter(|o| str_is(o, "resource_type", rt))
        }
    }
}

/// The migration type of a grouping object target type.
pub fn group_target_type(target_type: &str) -> Option<&'static str> {
    match target_type {
        "IPSet" => Some("IP_SET"),
        "NSGroup" => Some("NS_GROUP"),
        "LogicalPort" => Some("LOGICAL_PORT"),
        "LogicalSwitch" => Some("LOGICAL_SWITCH"),
        _ => None,
    }
}

/// The (type, id) of grouping objects in a list of `{target_type, target_id}` references.
pub fn refs_from_targets(list: Option<&Value>, out: &mut Vec<(String, String)>) {
    for r in list.and_then(Value::as_array).into_iter().flatten() {
        let tt = r.get("target_type").and_then(Value::as_str).unwrap_or("");
        if let (Some(t), Some(id)) = (
            group_target_type(tt),
            r.get("target_id").and_then(Value::as_str),
        ) {
            out.push((t.to_string(), id.to_string()));
        }
    }
}

/// The MP objects a promoted object depends on, as (migration type, MP id).
pub fn dependencies(st: &State, t: &str, obj: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(spec) = spec(t) {
        (spec.deps)(st, obj, &mut out);
    }
    // Only dependencies on existing, non-system objects count.
    out.retain(|(t, id)| {
        lookup(st, t, id, &[])
            .is_some_and(|o| o.get("_system_owned").and_then(Value::as_bool) != Some(true))
    });
    out.sort();
    out.dedup();
    out
}

/// The MP IP pool whose subnet has the same cidr as an IP block subnet.
pub fn host_pool(st: &State, subnet: &Value) -> Option<String> {
    let cidr = subnet.get("cidr").and_then(Value::as_str)?;
    st.mp.coll("ip-pools")?.iter().find_map(|p| {
        p.get("subnets")
            .and_then(Value::as_array)?
            .iter()
            .any(|s| s.get("cidr").and_then(Value::as_str) == Some(cidr))
            .then(|| str_field(p, "id"))
            .flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// Policy paths

/// Resolve the Policy id of an MP object: migrated already, or in the current batch.
pub fn policy_id_of(st: &State, batch: &[Item], t: &str, id: &str) -> Option<String> {
    if let Some(r) = st.mig.record(t, id) {
        return Some(r.policy_id.clone());
    }
    batch
        .iter()
        .find(|i| i.type_ == t && i.details.manager_id == id)
        .map(|i| {
            i.details
                .policy_id
                .clone()
                .unwrap_or_else(|| id.to_string())
        })
}

/// Resolve the Policy path of an MP object: migrated already, or in the current batch.
pub fn policy_path_of(st: &State, batch: &[Item], t: &str, id: &str) -> Option<String> {
    if let Some(r) = st.mig.record(t, id) {
        return Some(r.policy_path.clone());
    }
    let item = batch
        .iter()
        .find(|i| i.type_ == t && i.details.manager_id == id)?;
    let obj = lookup(st, t, id, &item.details.linked_ids)?;
    target_path(st, batch, item, &obj).ok()
}

/// The Policy path of an already migrated MP object.
pub fn path_or_null(st: &State, t: &str, id: Option<&str>) -> Option<String> {
    id.and_then(|id| st.mig.record(t, id))
        .map(|r| r.policy_path.clone())
}

/// The Policy path of the router `rid` (promoted or in the batch), for objects living under it.
pub fn router_path(
    st: &State,
    batch: &[Item],
    t: &str,
    d: &ResourceDetails,
    rid: &str,
) -> Result<String, String> {
    let rt = router_type_of(st, rid).unwrap_or_else(|| "TIER1".into());
    policy_path_of(st, batch, &rt, rid)
        .ok_or_else(|| format!("{t} {}: router {rid} is not promoted", d.manager_id))
}

/// The Policy path the promoted object will live at.
pub fn target_path(st: &State, batch: &[Item], item: &Item, obj: &Value) -> Result<String, String> {
    let d = &item.details;
    let pid = d.policy_id.clone().unwrap_or_else(|| d.manager_id.clone());
    let Some(spec) = spec(&item.type_) else {
        return Err(format!("unsupported type {}", item.type_));
    };
    match spec.path {
        Target::Under(prefix) => Ok(format!("{prefix}/{pid}")),
        Target::Computed(f) => f(st, batch, d, obj, &pid),
    }
}

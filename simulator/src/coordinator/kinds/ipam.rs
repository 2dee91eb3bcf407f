//! IP address management: IP blocks, IP pools, IP block subnets (pool subnets) and pool
//! allocations.

use serde_json::{Value, json};

use crate::coordinator::model::{Item, ResourceDetails};
use crate::coordinator::promote::{Promotion, copy_fields};
use crate::coordinator::resolve::{host_pool, path_or_null, policy_id_of, str_field};
use crate::state::State;

// IPBLOCK

pub fn ip_block(p: &mut Promotion) {
    copy_fields(p.obj, &mut p.intent, &["cidr"]);
}

// IPBLOCK_SUBNET: lives under the IP pool whose subnet has its cidr.

pub fn ip_block_subnet_deps(st: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(b) = str_field(obj, "block_id") {
        out.push(("IPBLOCK".into(), b));
    }
    if let Some(p) = host_pool(st, obj) {
        out.push(("IPPOOL".into(), p));
    }
}

pub fn ip_block_subnet_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    obj: &Value,
    pid: &str,
) -> Result<String, String> {
    let linked = d
        .linked_ids
        .iter()
        .find(|k| k.key == "IPPOOL")
        .and_then(|k| k.value.clone());
    let pool = linked
        .or_else(|| host_pool(st, obj))
        .ok_or_else(|| format!("IPBLOCK_SUBNET {}: no IP pool holds its cidr", d.manager_id))?;
    let pool_pid = policy_id_of(st, batch, "IPPOOL", &pool).ok_or_else(|| {
        format!(
            "IPBLOCK_SUBNET {}: IP pool {pool} is not promoted",
            d.manager_id
        )
    })?;
    Ok(format!("/infra/ip-pools/{pool_pid}/ip-subnets/{pid}"))
}

pub fn ip_block_subnet(p: &mut Promotion) {
    copy_fields(p.obj, &mut p.intent, &["size"]);
    if let Some(b) = path_or_null(
        p.st,
        "IPBLOCK",
        p.obj.get("block_id").and_then(Value::as_str),
    ) {
        p.intent["ip_block_path"] = json!(b);
    }
}

pub fn ip_block_subnet_parent(_: &State, obj: &Value) -> (Option<String>, Option<String>) {
    (Some("IPBLOCK".to_string()), str_field(obj, "block_id"))
}

// IPPOOL_ALLOCATION: the lookup adds `_pool_id` to the allocation.

pub fn ip_pool_allocation_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    if let Some(p) = str_field(obj, "_pool_id") {
        out.push(("IPPOOL".into(), p));
    }
}

pub fn ip_pool_allocation_path(
    st: &State,
    batch: &[Item],
    d: &ResourceDetails,
    obj: &Value,
    pid: &str,
) -> Result<String, String> {
    let pool = str_field(obj, "_pool_id").unwrap_or_default();
    let pool_pid = policy_id_of(st, batch, "IPPOOL", &pool).ok_or_else(|| {
        format!(
            "IPPOOL_ALLOCATION {}: IP pool {pool} is not promoted",
            d.manager_id
        )
    })?;
    Ok(format!("/infra/ip-pools/{pool_pid}/ip-allocations/{pid}"))
}

pub fn ip_pool_allocation(p: &mut Promotion) {
    p.intent["allocation_ip"] = p.obj.get("allocation_id").cloned().unwrap_or(Value::Null);
}

pub fn ip_pool_allocation_parent(_: &State, obj: &Value) -> (Option<String>, Option<String>) {
    (Some("IPPOOL".to_string()), str_field(obj, "_pool_id"))
}

//! Manager API (`/api/v1`): generic CRUD over the collections NCP uses, node endpoints, IPAM actions.

use std::net::Ipv4Addr;

use axum::http::Method;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Reply, Req, list_page};
use crate::state::State;
use crate::store::{
    KINDS, Kind, check_protection, check_revision, stamp_new, stamp_update, validate_for_kind,
};
use crate::util::now_ms;

/// Query parameters that filter list results by a top-level field of the same name.
const FILTER_PARAMS: &[&str] = &[
    "router_type",
    "logical_router_id",
    "logical_switch_id",
    "transport_zone_id",
    "block_id",
    "resource_type",
];

pub fn route(st: &mut State, req: &Req, rest: &[&str]) -> ApiResult {
    match rest {
        ["node", "version"] => {
            only_get(req)?;
            Ok(Reply::json(json!({
                "node_version": st.nsx_version,
                "product_version": st.nsx_version,
            })))
        }
        // NodeProperties of the manager node (the PUT that changes hostname, motd or timezone is
        // not simulated).
        ["node"] => {
            only_get(req)?;
            Ok(Reply::json(node_properties(st)))
        }
        ["node", "status"] | ["reverse-proxy", "node", "health"] => {
            only_get(req)?;
            Ok(Reply::json(json!({
                "healthy": true,
                "system_time": now_ms(),
            })))
        }
        // Limits clients (nsxlib) read at start-up.
        ["spec", "vmware", "types", "Tag"] => {
            only_get(req)?;
            Ok(Reply::json(json!({
                "id": "Tag", "type": "object", "module_id": "Common",
                "properties": {
                    "scope": {"type": "string", "required": false, "maxLength": 128},
                    "tag": {"type": "string", "required": false, "maxLength": 256},
                },
            })))
        }
        ["spec", "vmware", "types", "ManagedResource"] => {
            only_get(req)?;
            Ok(Reply::json(json!({
                "id": "ManagedResource", "type": "object", "module_id": "Common",
                "properties": {
                    "display_name": {"type": "string", "maxLength": 255},
                    "description": {"type": "string", "maxLength": 1024},
                    "tags": {"type": "array", "maxItems": 30, "items": {"$ref": "Tag"}},
                },
            })))
        }
        ["node", "services", "migration-coordinator"] => coordinator(st, req, false),
        ["node", "services", "migration-coordinator", "status"] => coordinator(st, req, true),
        ["trust-management", "principal-identities", more @ ..] => {
            crate::principal::route(st, req, more)
        }
        ["firewall", "sections", more @ ..] => crate::firewall::route(st, req, more),
        ["search", "query"] | ["search"] => {
            only_get(req)?;
            crate::search::search_mp(st, req)
        }
        ["pools", "ip-pools", pool, "allocations"] => {
            only_get(req)?;
            let pool = *pool;
            if st.mp.coll("ip-pools").and_then(|c| c.get(pool)).is_none() {
                return Err(ApiError::not_found(&format!("IpPool/{pool}")));
            }
            let list = st.mp.allocations.get(pool).cloned().unwrap_or_default();
            let (off, size) = req.page()?;
            Ok(list_page(list.iter().collect(), off, size))
        }
        ["pools", "ip-pools", pool] if req.method == Method::POST && req.q("action").is_some() => {
            ip_pool_action(st, req, pool)
        }
        ["logical-routers", rid, "nat", "rules", tail @ ..] => {
            child(st, req, "nat-rules", rid, tail)
        }
        [
            "logical-routers",
            rid,
            "routing",
            "static-routes",
            tail @ ..,
        ] => child(st, req, "static-routes", rid, tail),
        _ => {
            for k in KINDS.iter().filter(|k| k.parent.is_none()) {
                let api: Vec<&str> = k.api.split('/').collect();
                if rest.len() >= api.len() && rest[..api.len()] == api[..] {
                    match &rest[api.len()..] {
                        [] => return collection(st, req, k, None),
                        [id] => return item(st, req, k, id, None),
                        _ => {}
                    }
                }
            }
            Err(ApiError::not_found(&req.path))
        }
    }
}

/// Kernel version the simulated manager appliance reports.
const NODE_KERNEL_VERSION: &str = "4.15.0-72-generic";
/// Host name of the simulated manager node.
const NODE_HOSTNAME: &str = "nsx-manager-sim";

fn node_properties(st: &State) -> Value {
    let now = now_ms();
    // `YYYY-MM-DD HH:MM:SS` in UTC, from the epoch milliseconds (civil-from-days).
    let secs = now.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    json!({
        "node_version": st.nsx_version,
        "product_version": st.nsx_version,
        "kernel_version": NODE_KERNEL_VERSION,
        "hostname": NODE_HOSTNAME,
        "fully_qualified_domain_name": NODE_HOSTNAME,
        "node_uuid": st.node_uuid,
        "system_time": now,
        "system_datetime": format!(
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
            sod / 3600,
            sod % 3600 / 60,
            sod % 60
        ),
        "timezone": "Etc/UTC",
        "cli_timeout": 600,
        "export_type": "UNRESTRICTED",
        "motd": "",
    })
}

fn only_get(req: &Req) -> Result<(), ApiError> {
    if req.method == Method::GET {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(&req.method, &req.path))
    }
}

fn coordinator(st: &mut State, req: &Req, status_path: bool) -> ApiResult {
    let status = |st: &State| {
        let s = if st.coordinator_running {
            "running"
        } else {
            "stopped"
        };
        json!({
            "runtime_state": s,
            "monitor_runtime_state": s,
            "health": if st.coordinator_running { "STABLE" } else { "DEGRADED" },
            "pids": if st.coordinator_running { json!([4242]) } else { json!([]) },
            "monitor_pid": 4241,
        })
    };
    if req.method == Method::GET {
        if status_path {
            return Ok(Reply::json(status(st)));
        }
        return Ok(Reply::json(json!({
            "service_name": "migration-coordinator",
            "service_properties": {},
        })));
    }
    if req.method != Method::POST || status_path {
        return Err(ApiError::method_not_allowed(&req.method, &req.path));
    }
    match req.q("action") {
        Some("start") | Some("restart") => st.coordinator_running = true,
        Some("stop") => st.coordinator_running = false,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid action {:?}; expected start, stop or restart.",
                other.unwrap_or("")
            )));
        }
    }
    st.touch();
    Ok(Reply::json(status(st)))
}

fn child(st: &mut State, req: &Req, key: &str, rid: &str, tail: &[&str]) -> ApiResult {
    let k = crate::store::kind(key).ok_or_else(|| ApiError::not_found(&req.path))?;
    if st
        .mp
        .coll("logical-routers")
        .and_then(|c| c.get(rid))
        .is_none()
    {
        return Err(ApiError::not_found(&format!("LogicalRouter/{rid}")));
    }
    match tail {
        [] => collection(st, req, k, Some(rid)),
        [id] => item(st, req, k, id, Some(rid)),
        _ => Err(ApiError::not_found(&req.path)),
    }
}

fn parent_matches(k: &Kind, obj: &Value, parent: Option<&str>) -> bool {
    match (k.parent, parent) {
        (Some((_, field)), Some(p)) => obj.get(field).and_then(Value::as_str) == Some(p),
        _ => true,
    }
}

fn collection(st: &mut State, req: &Req, k: &'static Kind, parent: Option<&str>) -> ApiResult {
    if req.method == Method::GET {
        let (off, size) = req.page()?;
        let coll = st.mp.coll(k.key);
        let include_system = req.q("include_system_owned") == Some("true");
        let filters: Vec<(&str, &str)> = req
            .query
            .iter()
            .filter(|(q, _)| FILTER_PARAMS.contains(&q.as_str()))
            .map(|(q, v)| (q.as_str(), v.as_str()))
            .collect();
        // Logical ports can be looked up by what is attached to them.
        let attachment: Vec<(&str, &str)> = req
            .query
            .iter()
            .filter_map(|(q, v)| match q.as_str() {
                "attachment_id" => Some(("/attachment/id", v.as_str())),
                "attachment_type" => Some(("/attachment/attachment_type", v.as_str())),
                _ => None,
            })
            .collect();
        // Fast path: no filtering or sorting, page straight out of the ordered collection.
        if filters.is_empty()
            && attachment.is_empty()
            && parent.is_none()
            && k.key != "switching-profiles"
            && req.q("sort_by").is_none()
        {
            let total = coll.map(|c| c.len()).unwrap_or(0);
            let start = off.min(total);
            let end = off.saturating_add(size).min(total);
            let results: Vec<&Value> = coll
                .map(|c| {
                    c.order[start..end]
                        .iter()
                        .filter_map(|id| c.get(id))
                        .collect()
                })
                .unwrap_or_default();
            let cursor = (end < total).then(|| end.to_string());
            return Ok(crate::api::page_reply(&results, Some(total), cursor));
        }
        let mut items: Vec<&Value> = coll
            .map(|c| {
                c.iter()
                    .filter(|o| parent_matches(k, o, parent))
                    .filter(|o| {
                        filters
                            .iter()
                            .all(|(f, v)| o.get(*f).and_then(Value::as_str) == Some(*v))
                    })
                    .filter(|o| {
                        attachment
                            .iter()
                            .all(|(f, v)| o.pointer(f).and_then(Value::as_str) == Some(*v))
                    })
                    .filter(|o| {
                        k.key != "switching-profiles"
                            || include_system
                            || o.get("_system_owned").and_then(Value::as_bool) != Some(true)
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(sort_by) = req.q("sort_by") {
            let desc = req.q("sort_ascending") == Some("false");
            items.sort_by(|a, b| {
                let o = sort_key(a, sort_by).cmp(&sort_key(b, sort_by));
                if desc { o.reverse() } else { o }
            });
        }
        return Ok(list_page(items, off, size));
    }
    if req.method != Method::POST {
        return Err(ApiError::method_not_allowed(&req.method, &req.path));
    }
    let mut body = req.json()?;
    if let (Some((_, field)), Some(p)) = (k.parent, parent) {
        body[field] = json!(p);
    }
    let rt = validate_for_kind(k, &body)?;
    check_references(st, k, &body)?;
    let id = if k.numeric_ids {
        st.mp.alloc_numeric_id()
    } else {
        st.rng.uuid()
    };
    if k.key == "ip-block-subnets" {
        allocate_block_subnet(st, &mut body)?;
    }
    stamp_new(&mut body, &id, &rt, &req.user, now_ms());
    body["_protection"] = json!(req.protection_for_new());
    st.mp.coll_mut(k.key).insert(id, body.clone());
    Ok(Reply::created(body))
}

fn sort_key(v: &Value, field: &str) -> String {
    match v.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => format!("{:>24}", n),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Referential checks the Manager does on create/update for the objects NCP creates.
fn check_references(st: &State, k: &Kind, body: &Value) -> Result<(), ApiError> {
    let need = |coll: &str, field: &str, what: &str| -> Result<(), ApiError> {
        if let Some(id) = body.get(field).and_then(Value::as_str)
            && st.mp.coll(coll).and_then(|c| c.get(id)).is_none()
        {
            return Err(ApiError::new(
                404,
                202,
                "common-services",
                format!("{what} {id} referenced by {field} could not be found."),
            ));
        }
        Ok(())
    };
    match k.key {
        "logical-ports" => need("logical-switches", "logical_switch_id", "LogicalSwitch"),
        "logical-router-ports" => need("logical-routers", "logical_router_id", "LogicalRouter"),
        "ip-block-subnets" => need("ip-blocks", "block_id", "IpBlock"),
        "lb-virtual-servers" => {
            need("lb-pools", "pool_id", "LbPool")?;
            need("lb-app-profiles", "application_profile_id", "LbAppProfile")
        }
        _ => Ok(()),
    }
}

fn item(st: &mut State, req: &Req, k: &'static Kind, id: &str, parent: Option<&str>) -> ApiResult {
    let label = format!("{}/{id}", k.types.first().copied().unwrap_or(k.key));
    let existing = st
        .mp
        .coll(k.key)
        .and_then(|c| c.get(id))
        .filter(|o| parent_matches(k, o, parent))
        .cloned();
    let Some(old) = existing else {
        return Err(ApiError::not_found(&label));
    };
    match req.method {
        Method::GET => Ok(Reply::json(old)),
        Method::PUT => {
            let mut body = req.json()?;
            if let (Some((_, field)), Some(p)) = (k.parent, parent) {
                body[field] = json!(p);
            }
            // resource_type cannot change on update.
            if let Some(rt) = body.get("resource_type").and_then(Value::as_str)
                && Some(rt) != old.get("resource_type").and_then(Value::as_str)
            {
                return Err(ApiError::bad_request(format!(
                    "resource_type cannot be changed from {} to {rt}.",
                    old.get("resource_type")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                )));
            }
            let mut probe = body.clone();
            probe["resource_type"] = old.get("resource_type").cloned().unwrap_or(Value::Null);
            validate_for_kind(k, &probe)?;
            check_protection(&old, req)?;
            check_revision(&old, &body, k.types[0], id, 412)?;
            check_references(st, k, &body)?;
            let new = stamp_update(&old, &body, &req.user, now_ms());
            st.mp.coll_mut(k.key).insert(id.to_string(), new.clone());
            Ok(Reply::json(new))
        }
        Method::DELETE => {
            check_protection(&old, req)?;
            check_in_use(st, req, k, id)?;
            st.mp.coll_mut(k.key).remove(id);
            if k.key == "ip-pools" {
                st.mp.allocations.remove(id);
            }
            Ok(Reply::empty(200))
        }
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

fn in_use(what: &str, id: &str, by: &str) -> ApiError {
    ApiError::new(
        400,
        500030,
        "common-services",
        format!("{what} {id} is in use by {by}; remove it first."),
    )
}

fn check_in_use(st: &State, req: &Req, k: &Kind, id: &str) -> Result<(), ApiError> {
    let refs = |coll: &str, field: &str| {
        st.mp
            .coll(coll)
            .map(|c| {
                c.iter()
                    .filter(|o| o.get(field).and_then(Value::as_str) == Some(id))
                    .count()
            })
            .unwrap_or(0)
    };
    let cascade = req.q("cascade") == Some("true") || req.q("force") == Some("true");
    match k.key {
        "logical-switches" if !cascade && req.q("detach") != Some("true") => {
            let n = refs("logical-ports", "logical_switch_id");
            if n > 0 {
                return Err(in_use("LogicalSwitch", id, &format!("{n} logical port(s)")));
            }
        }
        "logical-routers" if !cascade => {
            let n = refs("logical-router-ports", "logical_router_id");
            if n > 0 {
                return Err(in_use(
                    "LogicalRouter",
                    id,
                    &format!("{n} logical router port(s)"),
                ));
            }
        }
        "ip-blocks" => {
            let n = refs("ip-block-subnets", "block_id");
            if n > 0 {
                return Err(in_use("IpBlock", id, &format!("{n} subnet(s)")));
            }
        }
        "ip-pools" if !cascade => {
            let n = st.mp.allocations.get(id).map(Vec::len).unwrap_or(0);
            if n > 0 {
                return Err(in_use("IpPool", id, &format!("{n} allocation(s)")));
            }
        }
        _ => {}
    }
    Ok(())
}

fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (ip, len) = s.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    Some((u32::from(ip), len))
}

fn prefix_mask(len: u32) -> u32 {
    if len == 0 { 0 } else { u32::MAX << (32 - len) }
}

/// Carve the next free aligned subnet of `size` addresses out of the block.
fn allocate_block_subnet(st: &State, body: &mut Value) -> Result<(), ApiError> {
    let block_id = body
        .get("block_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let size = body.get("size").and_then(Value::as_u64).unwrap_or(0);
    if size < 4 || !size.is_power_of_two() || size > (1u64 << 31) {
        return Err(ApiError::bad_request(format!(
            "Invalid subnet size {size}: must be a power of two of at least 4."
        )));
    }
    let block = st
        .mp
        .coll("ip-blocks")
        .and_then(|c| c.get(&block_id))
        .ok_or_else(|| ApiError::not_found(&format!("IpBlock/{block_id}")))?;
    let cidr = block.get("cidr").and_then(Value::as_str).unwrap_or("");
    let Some((base, blen)) = parse_cidr(cidr) else {
        return Err(ApiError::bad_request(format!(
            "IpBlock {block_id} has an unusable cidr {cidr:?} (IPv4 only)."
        )));
    };
    let slen = 32 - size.trailing_zeros();
    if slen < blen {
        return Err(ApiError::bad_request(format!(
            "Subnet size {size} does not fit in block {cidr}."
        )));
    }
    let used: Vec<(u32, u32)> = st
        .mp
        .coll("ip-block-subnets")
        .map(|c| {
            c.iter()
                .filter(|s| s.get("block_id").and_then(Value::as_str) == Some(block_id.as_str()))
                .filter_map(|s| s.get("cidr").and_then(Value::as_str).and_then(parse_cidr))
                .collect()
        })
        .unwrap_or_default();
    let start = base & prefix_mask(blen);
    let count = 1u64 << (slen - blen);
    for i in 0..count.min(1 << 20) {
        let net = start.wrapping_add((i as u32).wrapping_mul(size as u32));
        let overlaps = used.iter().any(|(u, ul)| {
            let m = prefix_mask((*ul).min(slen));
            (net & m) == (*u & m)
        });
        if !overlaps {
            let first = Ipv4Addr::from(net + 1);
            let last = Ipv4Addr::from(net + size as u32 - 2);
            body["cidr"] = json!(format!("{}/{slen}", Ipv4Addr::from(net)));
            body["allocation_ranges"] =
                json!([{"start": first.to_string(), "end": last.to_string()}]);
            return Ok(());
        }
    }
    Err(ApiError::new(
        400,
        5141,
        "ipam",
        format!("IpBlock {block_id} has no free subnet of size {size}."),
    ))
}

fn ip_pool_action(st: &mut State, req: &Req, pool: &str) -> ApiResult {
    let Some(p) = st.mp.coll("ip-pools").and_then(|c| c.get(pool)).cloned() else {
        return Err(ApiError::not_found(&format!("IpPool/{pool}")));
    };
    let body = req.json_or_empty()?;
    let allocs = st.mp.allocations.entry(pool.to_string()).or_default();
    match req.q("action") {
        Some("ALLOCATE") => {
            let wanted = body.get("allocation_id").and_then(Value::as_str);
            let taken = |ip: &str| {
                allocs
                    .iter()
                    .any(|a| a.get("allocation_id").and_then(Value::as_str) == Some(ip))
            };
            let chosen = match wanted {
                Some(ip) => {
                    if taken(ip) {
                        return Err(ApiError::bad_request(format!(
                            "IP address {ip} is already allocated from pool {pool}."
                        )));
                    }
                    Some(ip.to_string())
                }
                None => {
                    let mut found = None;
                    'outer: for sub in p
                        .get("subnets")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        for r in sub
                            .get("allocation_ranges")
                            .and_then(Value::as_array)
                            .into_iter()
                            .flatten()
                        {
                            let s = r
                                .get("start")
                                .and_then(Value::as_str)
                                .and_then(|s| s.parse::<Ipv4Addr>().ok());
                            let e = r
                                .get("end")
                                .and_then(Value::as_str)
                                .and_then(|s| s.parse::<Ipv4Addr>().ok());
                            if let (Some(s), Some(e)) = (s, e) {
                                let (s, e) = (u32::from(s), u32::from(e));
                                for ip in s..=e.min(s.saturating_add(1 << 20)) {
                                    let cand = Ipv4Addr::from(ip).to_string();
                                    if !taken(&cand) {
                                        found = Some(cand);
                                        break 'outer;
                                    }
                                }
                            }
                        }
                    }
                    found
                }
            };
            let Some(ip) = chosen else {
                return Err(ApiError::new(
                    400,
                    5109,
                    "ipam",
                    format!("IP pool {pool} is exhausted."),
                ));
            };
            let mut a = json!({ "allocation_id": ip });
            if let Some(t) = body.get("tags") {
                a["tags"] = t.clone();
            }
            allocs.push(a.clone());
            Ok(Reply::json(a))
        }
        Some("RELEASE") => {
            let ip = body
                .get("allocation_id")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("allocation_id is required to release."))?;
            let before = allocs.len();
            allocs.retain(|a| a.get("allocation_id").and_then(Value::as_str) != Some(ip));
            if allocs.len() == before {
                return Err(ApiError::not_found(&format!(
                    "allocation {ip} in IpPool/{pool}"
                )));
            }
            Ok(Reply::json(json!({ "allocation_id": ip })))
        }
        other => Err(ApiError::bad_request(format!(
            "Invalid action {:?}; expected ALLOCATE or RELEASE.",
            other.unwrap_or("")
        ))),
    }
}

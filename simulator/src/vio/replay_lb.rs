//! The Octavia stand-in of the API-replay target: load balancers, listeners, pools, members and
//! health monitors written with their Octavia ids make the objects the NSX Policy plugin's
//! Octavia driver makes (this module's own reading of the plugin's
//! `services/lbaas/nsx_p/implementation/*_mgr.py` and `lb_utils.py`; reference
//! vio-v2t-anchors 1.3, Octavia rows).
//!
//! The real migrator sends these over RPC to the driver, not through a REST API; the simulator
//! serves them under the replay target's `v2.0/lbaas/` (the neutron-lbaas location) with
//! Octavia's bodies, so a client can replay them and see the result (docs/rules.md).
//!
//! - Load balancer: the router of its VIP subnet (the first interface port of the subnet's
//!   network, when that router has a gateway). The router's LB service, if it has one, gets a
//!   tag `loadbalancer_id: <lb>` (at most 20 load balancers per service: 400 beyond). Else a
//!   service `/infra/lb-services/<lb>` (display name `rtr_<router 5...5>`, the router's tags plus
//!   the `loadbalancer_id` tag, `size` from the Octavia flavor's `lb_size`, default SMALL,
//!   `connectivity_path` the Tier-1), the Tier-1's `pool_allocation` set to `LB_<size>` (replay
//!   mode), a service router if the Tier-1 has none, and an advertisement rule "LB external
//!   VIP advertisement" for the gateway subnets. A VIP on an external network gets a service
//!   without `connectivity_path`; a VIP subnet neither external nor routed is refused (400).
//! - Listener: an application profile `/infra/lb-app-profiles/<listener>` (HTTP: LBHttpProfile;
//!   TCP and HTTPS: LBFastTcpProfile; UDP: LBFastUdpProfile) and a virtual server
//!   `/infra/lb-virtual-servers/<listener>` (VIP address, port, profile, service, default pool).
//! - Pool: `/infra/lb-pools/<pool>` (algorithm ROUND_ROBIN -> WEIGHTED_ROUND_ROBIN,
//!   LEAST_CONNECTIONS -> LEAST_CONNECTION, SOURCE_IP -> IP_HASH; SNAT auto map); a pool of a
//!   listener becomes its virtual server's pool.
//! - Member: an entry of its pool's `members` (`<name[:218]>_<id>`, address, port, weight).
//! - Health monitor: `/infra/lb-monitor-profiles/<hm>` (LBTcpMonitorProfile,
//!   LBHttpMonitorProfile, LBHttpsMonitorProfile, LBIcmpMonitorProfile) in its pool's
//!   `active_monitor_paths`.
//!
//! Tags: `os-lbaas-lb-id`, `-listener-id`, `-pool-id`, `-hm-id` scopes with the project tags.

use serde_json::{Value, json};

use super::{NErr, Tx, bad, name_and_uuid, nerr, not_found, s, t1_path};

const SERVICE_LB_TAG: &str = "loadbalancer_id";
const SERVICE_LB_TAG_MAX: usize = 20;

fn service_path(id: &str) -> String {
    format!("/infra/lb-services/{id}")
}

/// The router a VIP subnet is uplinked to: the first interface port of its network, if that
/// router has a gateway.
fn router_of_vip(tx: &Tx<'_>, subnet: &Value) -> Option<String> {
    let net = s(subnet, "network_id")?;
    let mut ports: Vec<Value> = tx
        .all("ports")
        .into_iter()
        .filter(|p| {
            s(p, "network_id") == Some(net)
                && s(p, "device_owner") == Some("network:router_interface")
        })
        .collect();
    ports.sort_by(|a, b| s(a, "id").cmp(&s(b, "id")));
    let rid = s(ports.first()?, "device_id")?.to_string();
    let r = tx.obj("routers", &rid)?;
    r.get("external_gateway_info")
        .is_some_and(|g| g.is_object())
        .then_some(rid)
}

/// The LB service of a router (the one whose `connectivity_path` is its Tier-1).
fn router_service(tx: &Tx<'_>, rid: &str) -> Option<String> {
    let t1 = t1_path(rid);
    tx.pol_paths_under("/infra/lb-services/", |p, v| {
        p.starts_with("/infra/lb-services/")
            && p.matches('/').count() == 3
            && v["connectivity_path"] == t1.as_str()
    })
    .into_iter()
    .next()
}

/// The LB service holding load balancer `lb` (its id, or its `loadbalancer_id` tag).
fn service_of_lb(tx: &Tx<'_>, lb: &str) -> Option<String> {
    let own = service_path(lb);
    if tx.pol(&own).is_some() {
        return Some(own);
    }
    tx.pol_paths_under("/infra/lb-services/", |p, v| {
        p.starts_with("/infra/lb-services/")
            && p.matches('/').count() == 3
            && v["tags"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["scope"] == SERVICE_LB_TAG && t["tag"] == lb)
            })
    })
    .into_iter()
    .next()
}

/// `lb_size` of an Octavia flavor (its profile's `flavor_data`), default SMALL.
fn lb_size(tx: &Tx<'_>, flavor_id: Option<&str>) -> String {
    let size = flavor_id.and_then(|f| {
        let flavor = tx.octavia.get("flavors")?.iter().find(|x| x["id"] == f)?;
        let prof = tx
            .octavia
            .get("flavorprofiles")?
            .iter()
            .find(|x| x["id"] == flavor["flavor_profile_id"])?;
        let data: Value = serde_json::from_str(s(prof, "flavor_data")?).ok()?;
        s(&data, "lb_size").map(str::to_ascii_uppercase)
    });
    size.filter(|s| ["SMALL", "MEDIUM", "LARGE"].contains(&s.as_str()))
        .unwrap_or_else(|| "SMALL".into())
}

fn ensure_service_router(tx: &mut Tx<'_>, rid: &str) -> Result<(), NErr> {
    let ls = format!("{}/locale-services/{rid}-0", t1_path(rid));
    if tx
        .pol(&ls)
        .is_some_and(|v| v.get("edge_cluster_path").is_some())
    {
        return Ok(());
    }
    let t0 = tx
        .pol(&t1_path(rid))
        .and_then(|v| s(&v, "tier0_path").map(str::to_string))
        .or_else(|| tx.first_of("/infra/tier-0s", "Tier0"))
        .unwrap_or_default();
    let ec = tx
        .pol_paths_under(&format!("{t0}/locale-services/"), |p, v| {
            p.starts_with(&format!("{t0}/locale-services/")) && v.get("edge_cluster_path").is_some()
        })
        .into_iter()
        .next()
        .and_then(|p| tx.pol(&p))
        .and_then(|v| v.get("edge_cluster_path").cloned())
        .ok_or_else(|| bad(format!("Router {rid} needs a service router for its load balancer, but no tier-0 has an edge cluster")))?;
    tx.upsert(&ls, json!({"edge_cluster_path": ec}));
    Ok(())
}

/// A create of a load balancer, listener, pool or health monitor (`o` already carries its id
/// and project, and is stored by the caller).
pub(super) fn create(tx: &mut Tx<'_>, key: &str, o: &mut Value) -> Result<(), NErr> {
    o["provisioning_status"] = json!("ACTIVE");
    o["operating_status"] = json!("ONLINE");
    o.as_object_mut()
        .map(|m| m.entry("admin_state_up").or_insert(json!(true)));
    match key {
        "loadbalancers" => create_lb(tx, o),
        "listeners" => create_listener(tx, o),
        "pools" => create_pool(tx, o),
        "healthmonitors" => create_hm(tx, o),
        _ => Ok(()),
    }
}

fn create_lb(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let sub_id = s(o, "vip_subnet_id")
        .ok_or_else(|| bad("Invalid input: 'vip_subnet_id' is required"))?
        .to_string();
    let sub = tx
        .obj("subnets", &sub_id)
        .ok_or_else(|| not_found("Subnet", "Subnet", &sub_id))?;
    let net = s(&sub, "network_id")
        .and_then(|n| tx.obj("networks", n))
        .unwrap_or(Value::Null);
    let external = net["router:external"] == json!(true);
    o["vip_network_id"] = net["id"].clone();
    if s(o, "vip_address").is_none() {
        return Err(bad("Invalid input: 'vip_address' is required"));
    }
    let router = router_of_vip(tx, &sub);
    if router.is_none() && !external {
        return Err(bad(format!(
            "Cannot create a loadbalancer {id} on subnet. {sub_id} is neither public nor connected to the LB router"
        )));
    }
    if let Some(rid) = &router
        && let Some(sp) = router_service(tx, rid)
    {
        let mut svc = tx.pol(&sp).unwrap_or(Value::Null);
        let mut tags = svc["tags"].as_array().cloned().unwrap_or_default();
        let n = tags.iter().filter(|t| t["scope"] == SERVICE_LB_TAG).count();
        if !tags
            .iter()
            .any(|t| t["scope"] == SERVICE_LB_TAG && t["tag"] == id.as_str())
        {
            if n >= SERVICE_LB_TAG_MAX {
                return Err(bad(format!(
                    "Cannot create a loadbalancer {id} on router {rid}, as it already has too many loadbalancers"
                )));
            }
            tags.push(json!({"scope": SERVICE_LB_TAG, "tag": id}));
        }
        svc["tags"] = json!(tags);
        tx.upsert(&sp, json!({"tags": svc["tags"]}));
        return Ok(());
    }
    let size = lb_size(tx, s(o, "flavor_id"));
    let (name, mut tags) = match &router {
        Some(rid) => {
            let rr = json!({"id": rid, "project_id": o["project_id"]});
            (
                name_and_uuid("rtr", rid),
                tx.tags("os-neutron-router-id", &rr),
            )
        }
        None => (
            name_and_uuid(s(o, "name").filter(|n| !n.is_empty()).unwrap_or("lb"), &id),
            tx.tags(
                "os-neutron-router-id",
                &json!({"id": "", "project_id": o["project_id"]}),
            ),
        ),
    };
    tags.push(json!({"scope": SERVICE_LB_TAG, "tag": id}));
    let mut svc = json!({"resource_type": "LBService", "display_name": name,
        "description": o.get("description").cloned().unwrap_or(json!("")),
        "size": size, "enabled": true, "tags": tags});
    if let (Some(rid), false) = (&router, external) {
        ensure_service_router(tx, rid)?;
        let t1 = t1_path(rid);
        svc["connectivity_path"] = json!(t1);
        tx.upsert(&t1, json!({"pool_allocation": format!("LB_{size}")}));
        // Advertise the VIPs to the gateway's subnets.
        let router = tx.obj("routers", rid).unwrap_or(Value::Null);
        let cidrs: Vec<Value> = router
            .pointer("/external_gateway_info/external_fixed_ips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| s(f, "subnet_id").and_then(|x| tx.obj("subnets", x)))
            .map(|x| x["cidr"].clone())
            .collect();
        if !cidrs.is_empty() {
            tx.upsert(
                &t1,
                json!({"route_advertisement_rules": [{"name": "LB external VIP advertisement",
                    "action": "PERMIT", "prefix_operator": "GE",
                    "route_advertisement_types": ["TIER1_LB_VIP"], "subnets": cidrs}]}),
            );
        }
    }
    tx.upsert(&service_path(&id), svc);
    Ok(())
}

fn tags_of(tx: &Tx<'_>, scope: &str, o: &Value) -> Vec<Value> {
    tx.tags(scope, o)
}

fn create_listener(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let lb_id = s(o, "loadbalancer_id")
        .ok_or_else(|| bad("Invalid input: 'loadbalancer_id' is required"))?
        .to_string();
    let lb = tx
        .obj("loadbalancers", &lb_id)
        .ok_or_else(|| not_found("LoadBalancer", "Load Balancer", &lb_id))?;
    let svc = service_of_lb(tx, &lb_id)
        .ok_or_else(|| bad(format!("Cannot find loadbalancer {lb_id} service")))?;
    let profile_type = match s(o, "protocol").unwrap_or("") {
        "HTTP" => "LBHttpProfile",
        "TCP" | "HTTPS" => "LBFastTcpProfile",
        "UDP" => "LBFastUdpProfile",
        other => {
            return Err(bad(format!(
                "Cannot create listener {id} with protocol {other} (TERMINATED_HTTPS needs certificates, which this simulator does not serve)"
            )));
        }
    };
    let port = o["protocol_port"]
        .as_u64()
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(|| bad("Invalid input: 'protocol_port' must be 1-65535"))?;
    let name = name_and_uuid(
        s(o, "name").filter(|n| !n.is_empty()).unwrap_or("listener"),
        &id,
    );
    let mut tags = tags_of(tx, "os-lbaas-listener-id", o);
    if let Some(n) = s(&lb, "name").filter(|n| !n.is_empty()) {
        tags.push(
            json!({"scope": "os-lbaas-lb-name", "tag": n.chars().take(256).collect::<String>()}),
        );
    }
    tags.push(json!({"scope": "os-lbaas-lb-id", "tag": lb_id}));
    let profile = format!("/infra/lb-app-profiles/{id}");
    tx.upsert(
        &profile,
        json!({"resource_type": profile_type, "display_name": name, "tags": tags}),
    );
    let mut vs = json!({"resource_type": "LBVirtualServer", "display_name": name,
        "description": o.get("description").cloned().unwrap_or(json!("")),
        "ip_address": lb["vip_address"], "ports": [port.to_string()],
        "application_profile_path": profile, "lb_service_path": svc, "enabled": true, "tags": tags});
    if let Some(p) = s(o, "default_pool_id") {
        if tx.obj("pools", p).is_none() {
            return Err(not_found("Pool", "Pool", p));
        }
        vs["pool_path"] = json!(format!("/infra/lb-pools/{p}"));
    }
    if let Some(n) = o["connection_limit"].as_i64().filter(|n| *n >= 1) {
        vs["max_concurrent_connections"] = json!(n);
    }
    tx.upsert(&format!("/infra/lb-virtual-servers/{id}"), vs);
    Ok(())
}

fn create_pool(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let algorithm = match s(o, "lb_algorithm").unwrap_or("") {
        "ROUND_ROBIN" => "WEIGHTED_ROUND_ROBIN",
        "LEAST_CONNECTIONS" => "LEAST_CONNECTION",
        "SOURCE_IP" => "IP_HASH",
        other => {
            return Err(bad(format!(
                "Invalid input: lb_algorithm '{other}' (ROUND_ROBIN, LEAST_CONNECTIONS, SOURCE_IP)"
            )));
        }
    };
    if s(o, "listener_id").is_none() && s(o, "loadbalancer_id").is_none() {
        return Err(bad(
            "Invalid input: 'listener_id' or 'loadbalancer_id' is required",
        ));
    }
    let name = name_and_uuid(
        s(o, "name").filter(|n| !n.is_empty()).unwrap_or("pool"),
        &id,
    );
    let tags = tags_of(tx, "os-lbaas-pool-id", o);
    o["members"] = json!([]);
    o["healthmonitor_id"] = Value::Null;
    tx.upsert(
        &format!("/infra/lb-pools/{id}"),
        json!({"resource_type": "LBPool", "display_name": name,
               "description": o.get("description").cloned().unwrap_or(json!("")),
               "algorithm": algorithm, "snat_translation": {"type": "LBSnatAutoMap"},
               "members": [], "tags": tags}),
    );
    if let Some(l) = s(o, "listener_id") {
        let listener = tx
            .obj("listeners", l)
            .ok_or_else(|| not_found("Listener", "Listener", l))?;
        if let Some(p) = s(&listener, "default_pool_id")
            && p != id
        {
            return Err(nerr(
                409,
                "HTTPConflict",
                format!("Listener {l} already has default pool {p}."),
            ));
        }
        let mut listener = listener;
        listener["default_pool_id"] = json!(id);
        tx.put_obj("listeners", listener);
        tx.upsert(
            &format!("/infra/lb-virtual-servers/{l}"),
            json!({"pool_path": format!("/infra/lb-pools/{id}")}),
        );
    }
    Ok(())
}

fn create_hm(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let pool_id = s(o, "pool_id")
        .ok_or_else(|| {
            bad(format!(
                "Failed to attach monitor {id} to pool: 'pool_id' is required"
            ))
        })?
        .to_string();
    let mut pool = tx
        .obj("pools", &pool_id)
        .ok_or_else(|| not_found("Pool", "Pool", &pool_id))?;
    if pool["healthmonitor_id"].is_string() {
        return Err(nerr(
            409,
            "HTTPConflict",
            format!("Pool {pool_id} already has a health monitor."),
        ));
    }
    let rt = match s(o, "type").unwrap_or("") {
        "TCP" => "LBTcpMonitorProfile",
        "HTTP" => "LBHttpMonitorProfile",
        "HTTPS" => "LBHttpsMonitorProfile",
        "PING" => "LBIcmpMonitorProfile",
        other => {
            return Err(bad(format!(
                "Cannot create health monitor {id} with type {other}"
            )));
        }
    };
    let int = |k: &str| -> Result<i64, NErr> {
        o[k].as_i64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| bad(format!("Invalid input: '{k}' must be a positive integer")))
    };
    let mut body = json!({"resource_type": rt,
        "display_name": name_and_uuid(s(o, "name").filter(|n| !n.is_empty()).unwrap_or("monitor"), &id),
        "interval": int("delay")?, "timeout": int("timeout")?, "fall_count": int("max_retries")?,
        "tags": tags_of(tx, "os-lbaas-hm-id", o)});
    if matches!(rt, "LBHttpMonitorProfile" | "LBHttpsMonitorProfile") {
        if let Some(m) = s(o, "http_method") {
            body["request_method"] = json!(m);
        }
        if let Some(u) = s(o, "url_path") {
            body["request_url"] = json!(u);
        }
        if let Some(c) = s(o, "expected_codes") {
            let codes: Result<Vec<i64>, _> = c.split(',').map(|x| x.trim().parse()).collect();
            body["response_status_codes"] = json!(codes.map_err(|_| bad(format!(
                "Invalid input: expected_codes '{c}' must be comma-separated status codes"
            )))?);
        }
    }
    let path = format!("/infra/lb-monitor-profiles/{id}");
    tx.upsert(&path, body);
    tx.upsert(
        &format!("/infra/lb-pools/{pool_id}"),
        json!({"active_monitor_paths": [path]}),
    );
    pool["healthmonitor_id"] = json!(id);
    tx.put_obj("pools", pool);
    Ok(())
}

fn member_entry(m: &Value) -> Value {
    let name: String = s(m, "name").unwrap_or("").chars().take(218).collect();
    json!({
        "display_name": format!("{name}_{}", s(m, "id").unwrap_or("")),
        "ip_address": m["address"],
        "port": m["protocol_port"].as_u64().map(|p| p.to_string()),
        "weight": m["weight"],
        "backup_member": m["backup"],
        "admin_state": if m["admin_state_up"] == json!(false) { "DISABLED" } else { "ENABLED" },
    })
}

fn sync_members(tx: &mut Tx<'_>, pool: &Value) {
    let pid = s(pool, "id").unwrap_or_default();
    let members: Vec<Value> = pool["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_str().and_then(|id| tx.obj("members", id)))
        .map(|m| member_entry(&m))
        .collect();
    tx.upsert(
        &format!("/infra/lb-pools/{pid}"),
        json!({"members": members}),
    );
}

/// `POST lbaas/pools/<pool>/members`: the member joins the pool's `members`.
pub(super) fn create_member(
    tx: &mut Tx<'_>,
    pool_id: &str,
    body: &Value,
    project: &str,
) -> Result<Value, NErr> {
    let mut pool = tx
        .obj("pools", pool_id)
        .ok_or_else(|| not_found("Pool", "Pool", pool_id))?;
    let mut m = body
        .get("member")
        .filter(|m| m.is_object())
        .cloned()
        .ok_or_else(|| bad("Resource body required: expected \"member\""))?;
    let id = match s(&m, "id") {
        Some(id) => id.to_string(),
        None => tx.gen_id(),
    };
    if tx.obj("members", &id).is_some() {
        return Err(nerr(
            409,
            "HTTPConflict",
            format!("Member {id} already exists (duplicate id)."),
        ));
    }
    if s(&m, "address").is_none() {
        return Err(bad("Invalid input: 'address' is required"));
    }
    if !m["protocol_port"]
        .as_u64()
        .is_some_and(|p| (1..=65535).contains(&p))
    {
        return Err(bad("Invalid input: 'protocol_port' must be 1-65535"));
    }
    m["id"] = json!(id);
    m["pool_id"] = json!(pool_id);
    m["project_id"] = json!(s(&m, "project_id").unwrap_or(project));
    m["tenant_id"] = m["project_id"].clone();
    m.as_object_mut()
        .map(|o| o.entry("weight").or_insert(json!(1)));
    m.as_object_mut()
        .map(|o| o.entry("admin_state_up").or_insert(json!(true)));
    m.as_object_mut()
        .map(|o| o.entry("backup").or_insert(json!(false)));
    m.as_object_mut()
        .map(|o| o.entry("name").or_insert(json!("")));
    m["provisioning_status"] = json!("ACTIVE");
    m["operating_status"] = json!("ONLINE");
    tx.put_obj("members", m.clone());
    let mut list = pool["members"].as_array().cloned().unwrap_or_default();
    list.push(json!({"id": id}));
    pool["members"] = json!(list);
    tx.put_obj("pools", pool.clone());
    sync_members(tx, &pool);
    Ok(m)
}

/// `DELETE lbaas/pools/<pool>/members/<member>`.
pub(super) fn delete_member(tx: &mut Tx<'_>, pool_id: &str, id: &str) -> Result<(), NErr> {
    let mut pool = tx
        .obj("pools", pool_id)
        .ok_or_else(|| not_found("Pool", "Pool", pool_id))?;
    if tx.obj("members", id).is_none() {
        return Err(not_found("Member", "Member", id));
    }
    tx.del_obj("members", id);
    let list: Vec<Value> = pool["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["id"] != id)
        .cloned()
        .collect();
    pool["members"] = json!(list);
    tx.put_obj("pools", pool.clone());
    sync_members(tx, &pool);
    Ok(())
}

/// The delete of a load balancer, listener, pool or health monitor: its NSX objects go (a
/// load balancer's service only with its last load balancer; until then its tag goes).
pub(super) fn delete(tx: &mut Tx<'_>, key: &str, o: &Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let in_use = |what: &str| nerr(409, "HTTPConflict", format!("{what} {id} is in use."));
    match key {
        "loadbalancers" => {
            if tx
                .all("listeners")
                .iter()
                .any(|l| l["loadbalancer_id"] == id.as_str())
                || tx
                    .all("pools")
                    .iter()
                    .any(|p| p["loadbalancer_id"] == id.as_str())
            {
                return Err(in_use("Load Balancer"));
            }
            if let Some(sp) = service_of_lb(tx, &id) {
                let svc = tx.pol(&sp).unwrap_or(Value::Null);
                let tags: Vec<Value> = svc["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|t| !(t["scope"] == SERVICE_LB_TAG && t["tag"] == id.as_str()))
                    .cloned()
                    .collect();
                if tags.iter().any(|t| t["scope"] == SERVICE_LB_TAG) {
                    tx.upsert(&sp, json!({"tags": tags}));
                } else {
                    tx.delete_tree(&sp);
                    if let Some(t1) = s(&svc, "connectivity_path") {
                        tx.remove_field(t1, "pool_allocation");
                        tx.remove_field(t1, "route_advertisement_rules");
                    }
                }
            }
        }
        "listeners" => {
            if tx
                .all("l7policies")
                .iter()
                .any(|p| p["listener_id"] == id.as_str())
            {
                return Err(in_use("Listener"));
            }
            tx.delete_tree(&format!("/infra/lb-virtual-servers/{id}"));
            tx.delete_tree(&format!("/infra/lb-app-profiles/{id}"));
        }
        "pools" => {
            if o["members"].as_array().is_some_and(|m| !m.is_empty())
                || o["healthmonitor_id"].is_string()
                || tx
                    .all("l7policies")
                    .iter()
                    .any(|p| p["redirect_pool_id"] == id.as_str())
            {
                return Err(in_use("Pool"));
            }
            for mut l in tx.all("listeners") {
                if l["default_pool_id"] == id.as_str() {
                    l["default_pool_id"] = Value::Null;
                    let lid = s(&l, "id").unwrap_or_default().to_string();
                    tx.put_obj("listeners", l);
                    tx.remove_field(&format!("/infra/lb-virtual-servers/{lid}"), "pool_path");
                }
            }
            tx.delete_tree(&format!("/infra/lb-pools/{id}"));
        }
        "healthmonitors" => {
            if let Some(pid) = s(o, "pool_id")
                && let Some(mut pool) = tx.obj("pools", pid)
            {
                pool["healthmonitor_id"] = Value::Null;
                tx.put_obj("pools", pool);
                tx.upsert(
                    &format!("/infra/lb-pools/{pid}"),
                    json!({"active_monitor_paths": []}),
                );
            }
            tx.delete_tree(&format!("/infra/lb-monitor-profiles/{id}"));
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// L7 policies and rules: rules of their listener's virtual server

/// `LBHttpRequest*Condition`s of an L7 policy's rules (the plugin's
/// `get_rule_match_conditions`).
fn match_conditions(tx: &Tx<'_>, policy: &Value) -> Result<Vec<Value>, NErr> {
    let mut out = Vec::new();
    for r in policy["rules"].as_array().into_iter().flatten() {
        let Some(rule) = r["id"].as_str().and_then(|id| tx.obj("l7rules", id)) else {
            continue;
        };
        let mt = match s(&rule, "compare_type").unwrap_or("") {
            "CONTAINS" => "CONTAINS",
            "ENDS_WITH" => "ENDS_WITH",
            "EQUAL_TO" => "EQUALS",
            "REGEX" => "REGEX",
            "STARTS_WITH" => "STARTS_WITH",
            other => return Err(bad(format!("Invalid input: compare_type '{other}'"))),
        };
        let value = s(&rule, "value").unwrap_or("");
        let key = s(&rule, "key").unwrap_or("");
        let header = |name: &str, v: String| {
            json!({"type": "LBHttpRequestHeaderCondition", "match_type": mt,
                   "header_name": name, "header_value": v})
        };
        let uri =
            |v: String| json!({"type": "LBHttpRequestUriCondition", "match_type": mt, "uri": v});
        out.push(match s(&rule, "type").unwrap_or("") {
            "COOKIE" => header("Cookie", format!("{key}={value}")),
            "FILE_TYPE" => uri(format!("*.{value}")),
            "HEADER" => header(key, value.to_string()),
            "HOST_NAME" => header("Host", value.to_string()),
            "PATH" => uri(value.to_string()),
            other => {
                return Err(bad(format!(
                    "l7rule type {other} is not supported in LBaaS"
                )));
            }
        });
    }
    Ok(out)
}

fn rule_actions(policy: &Value) -> Result<Vec<Value>, NErr> {
    Ok(match s(policy, "action").unwrap_or("") {
        "REDIRECT_TO_POOL" => {
            let p = s(policy, "redirect_pool_id")
                .ok_or_else(|| bad("Invalid input: REDIRECT_TO_POOL needs redirect_pool_id"))?;
            vec![json!({"type": "LBSelectPoolAction", "pool_id": format!("/infra/lb-pools/{p}")})]
        }
        "REDIRECT_TO_URL" => vec![
            json!({"type": "LBHttpRedirectAction", "redirect_status": "302",
                                          "redirect_url": policy["redirect_url"]}),
        ],
        "REJECT" => vec![json!({"type": "LBHttpRejectAction", "reply_status": "403"})],
        other => return Err(bad(format!("Invalid l7policy action: {other}"))),
    })
}

/// Rewrite a listener's virtual server `rules` from its L7 policies, in `position` order.
fn sync_l7(tx: &mut Tx<'_>, listener: &str) -> Result<(), NErr> {
    let mut pols: Vec<Value> = tx
        .all("l7policies")
        .into_iter()
        .filter(|p| p["listener_id"] == listener)
        .collect();
    pols.sort_by_key(|p| {
        (
            p["position"].as_i64().unwrap_or(i64::MAX),
            p["created_at"].as_str().map(str::to_string),
        )
    });
    let mut rules = Vec::new();
    for p in &pols {
        let id = s(p, "id").unwrap_or_default();
        rules.push(json!({
            "display_name": name_and_uuid(s(p, "name").filter(|n| !n.is_empty()).unwrap_or("policy"), id),
            "match_conditions": match_conditions(tx, p)?,
            "actions": rule_actions(p)?,
            "phase": "HTTP_FORWARDING",
            "match_strategy": "ALL",
        }));
    }
    tx.upsert(
        &format!("/infra/lb-virtual-servers/{listener}"),
        json!({ "rules": rules }),
    );
    Ok(())
}

/// A create of an L7 policy: a rule of its listener's virtual server.
pub(super) fn create_l7policy(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let l = s(o, "listener_id")
        .ok_or_else(|| bad("Invalid input: 'listener_id' is required"))?
        .to_string();
    if tx.obj("listeners", &l).is_none() {
        return Err(not_found("Listener", "Listener", &l));
    }
    if let Some(p) = s(o, "redirect_pool_id")
        && tx.obj("pools", p).is_none()
    {
        return Err(not_found("Pool", "Pool", p));
    }
    o["rules"] = json!([]);
    o["provisioning_status"] = json!("ACTIVE");
    o["operating_status"] = json!("ONLINE");
    o.as_object_mut()
        .map(|m| m.entry("position").or_insert(json!(1)));
    tx.put_obj("l7policies", o.clone());
    sync_l7(tx, &l)
}

pub(super) fn delete_l7policy(tx: &mut Tx<'_>, o: &Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default();
    if o["rules"].as_array().is_some_and(|r| !r.is_empty()) {
        return Err(nerr(
            409,
            "HTTPConflict",
            format!("L7 policy {id} is in use."),
        ));
    }
    tx.del_obj("l7policies", id);
    sync_l7(tx, s(o, "listener_id").unwrap_or_default())
}

/// `POST lbaas/l7policies/<policy>/rules`: a match condition of the policy's rule.
pub(super) fn create_l7rule(
    tx: &mut Tx<'_>,
    policy_id: &str,
    body: &Value,
    project: &str,
) -> Result<Value, NErr> {
    let mut policy = tx
        .obj("l7policies", policy_id)
        .ok_or_else(|| not_found("L7Policy", "L7 Policy", policy_id))?;
    let mut r = body
        .get("rule")
        .filter(|m| m.is_object())
        .cloned()
        .ok_or_else(|| bad("Resource body required: expected \"rule\""))?;
    let id = match s(&r, "id") {
        Some(id) => id.to_string(),
        None => tx.gen_id(),
    };
    if tx.obj("l7rules", &id).is_some() {
        return Err(nerr(
            409,
            "HTTPConflict",
            format!("L7 rule {id} already exists (duplicate id)."),
        ));
    }
    for f in ["type", "compare_type", "value"] {
        if s(&r, f).is_none() {
            return Err(bad(format!("Invalid input: '{f}' is required")));
        }
    }
    r["id"] = json!(id);
    r["project_id"] = json!(s(&r, "project_id").unwrap_or(project));
    r["tenant_id"] = r["project_id"].clone();
    r["provisioning_status"] = json!("ACTIVE");
    r["operating_status"] = json!("ONLINE");
    tx.put_obj("l7rules", r.clone());
    let mut list = policy["rules"].as_array().cloned().unwrap_or_default();
    list.push(json!({"id": id}));
    policy["rules"] = json!(list);
    let l = s(&policy, "listener_id").unwrap_or_default().to_string();
    tx.put_obj("l7policies", policy);
    sync_l7(tx, &l)?;
    Ok(r)
}

/// `DELETE lbaas/l7policies/<policy>/rules/<rule>`.
pub(super) fn delete_l7rule(tx: &mut Tx<'_>, policy_id: &str, id: &str) -> Result<(), NErr> {
    let mut policy = tx
        .obj("l7policies", policy_id)
        .ok_or_else(|| not_found("L7Policy", "L7 Policy", policy_id))?;
    if tx.obj("l7rules", id).is_none() {
        return Err(not_found("L7Rule", "L7 Rule", id));
    }
    tx.del_obj("l7rules", id);
    let list: Vec<Value> = policy["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["id"] != id)
        .cloned()
        .collect();
    policy["rules"] = json!(list);
    let l = s(&policy, "listener_id").unwrap_or_default().to_string();
    tx.put_obj("l7policies", policy);
    sync_l7(tx, &l)
}

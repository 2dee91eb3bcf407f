//! The destination's edge transport nodes (`/api/v1/transport-nodes`, Manager API shapes) and
//! their V2T flag, `PUT|GET /api/v1/transport-nodes/<id>/node/v2t-migration-config`
//! (`{"enabled": bool}`; the shape is the seed's curl, the REST schema is not published:
//! inferred, docs/rules.md).
//!
//! The nodes are the snapshot's `nsx/edge-transport-nodes.json` (what collect read, one per
//! edge-cluster member). A snapshot without that file (older ones) gets them derived from the
//! Policy edge-cluster members (`nsx/edge-cluster-nodes.json`): the node id is the member's
//! `nsx_id`, the display name the member's, the transport zones all of the snapshot's, the
//! deployment data fixed and deterministic.

use axum::http::Method;
use serde_json::{Value, json};

use crate::api::{ApiError, Reply, Req, list_page};
use crate::state::State;

const EP: &str = "/infra/sites/default/enforcement-points/default";

/// The edge transport nodes: the snapshot's (`nsx/edge-transport-nodes.json`) when it has them,
/// else derived from the edge-cluster members, in path order.
pub fn nodes(st: &State) -> Vec<Value> {
    if let Some(listed) = st
        .vio
        .as_deref()
        .and_then(|v| v.inv.edge_transport_nodes.as_ref())
    {
        return listed.clone();
    }
    let tz_ids: Vec<Value> = st
        .policy
        .range(format!("{EP}/transport-zones/")..)
        .take_while(|(k, _)| k.starts_with(&format!("{EP}/transport-zones/")))
        .filter_map(|(_, v)| v.get("nsx_id").or_else(|| v.get("id")).cloned())
        .collect();
    let prefix = format!("{EP}/edge-clusters/");
    st.policy
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, v)| k.contains("/edge-nodes/") && v["resource_type"] == "PolicyEdgeNode")
        .enumerate()
        .filter_map(|(i, (_, v))| {
            let id = v.get("nsx_id")?.as_str()?;
            let name = v["display_name"].as_str().unwrap_or(id);
            Some(transport_node(i, id, name, &tz_ids))
        })
        .collect()
}

/// One edge transport node as the Manager API shows it: `i` its position (its address), `tz_ids`
/// the Manager ids of the transport zones it is in (`transport_zone_endpoints`).
pub fn transport_node(i: usize, id: &str, name: &str, tz_ids: &[Value]) -> Value {
    let ip = format!("192.168.110.{}", 61 + i);
    let endpoints: Vec<Value> = tz_ids
        .iter()
        .map(|t| json!({"transport_zone_id": t}))
        .collect();
    json!({
        "resource_type": "TransportNode",
        "id": id,
        "node_id": id,
        "display_name": name,
        "description": "",
        "tags": [],
        "maintenance_mode": "DISABLED",
        "is_overridden": false,
        "failure_domain_id": "4fc1e3b0-1cd4-4339-86c8-f76baddbaafb",
        "transport_zone_endpoints": endpoints,
        "host_switch_spec": {
            "resource_type": "StandardHostSwitchSpec",
            "host_switches": [{
                "host_switch_name": "nvds-edge",
                "host_switch_profile_ids": [],
                "pnics": [{"device_name": "fp-eth0", "uplink_name": "uplink-1"}],
            }],
        },
        "node_deployment_info": {
            "resource_type": "EdgeNode",
            "id": id,
            "display_name": name,
            "external_id": id,
            "ip_addresses": [ip],
            "fqdn": format!("{name}.corp.example"),
            "deployment_type": "VIRTUAL_MACHINE",
            "node_settings": {"hostname": format!("{name}.corp.example"), "enable_ssh": false,
                              "allow_ssh_root_login": false},
            "_revision": 0,
        },
        "_revision": 0,
        "_create_user": "admin",
        "_create_time": 1_760_000_000_000i64,
        "_last_modified_user": "admin",
        "_last_modified_time": 1_760_000_000_000i64,
        "_system_owned": false,
        "_protection": "NOT_PROTECTED",
    })
}

/// `/api/v1/transport-nodes[/<id>[/node/v2t-migration-config]]`.
pub fn route(st: &mut State, req: &Req, rest: &[&str]) -> Result<Reply, ApiError> {
    let all = nodes(st);
    let find = |id: &str| {
        all.iter()
            .find(|n| n["id"] == id)
            .cloned()
            .ok_or_else(|| ApiError::not_found(&format!("TransportNode/{id}")))
    };
    match (req.method.clone(), rest) {
        (Method::GET, []) => {
            let (off, size) = req.page()?;
            let want = req.q("node_types");
            let items: Vec<&Value> = all
                .iter()
                .filter(|_| want.is_none_or(|w| w.split(',').any(|t| t == "EdgeNode")))
                .collect();
            Ok(list_page(items, off, size))
        }
        (Method::GET, [id]) => Ok(Reply::json(find(id)?)),
        (Method::GET, [id, "node", "v2t-migration-config"]) => {
            find(id)?;
            let on = st
                .vio
                .as_deref()
                .and_then(|v| v.replay_v2t.get(*id).copied())
                .unwrap_or(false);
            Ok(Reply::json(json!({"enabled": on})))
        }
        (Method::PUT, [id, "node", "v2t-migration-config"]) => {
            find(id)?;
            let body = req.json()?;
            let Some(on) = body.get("enabled").and_then(Value::as_bool) else {
                return Err(ApiError::bad_request(
                    "Field 'enabled' is required and must be a boolean.",
                ));
            };
            if let Some(m) = body.as_object()
                && let Some(k) = m.keys().find(|k| *k != "enabled")
            {
                return Err(ApiError::bad_request(format!(
                    "Field '{k}' is not allowed in v2t-migration-config."
                )));
            }
            if let Some(v) = st.vio.as_deref_mut() {
                v.replay_v2t.insert(id.to_string(), on);
            }
            st.touch();
            Ok(Reply::json(json!({"enabled": on})))
        }
        (m, [_, "node", "v2t-migration-config"]) | (m, [_]) | (m, []) => {
            Err(ApiError::method_not_allowed(&m, &req.path))
        }
        _ => Err(ApiError::not_found(&req.path)),
    }
}

//! The simulated VMware Integrated OpenStack deployment on NSX-V (kind `vio-v2t`): Keystone,
//! Neutron (as the NSX-V plugin serves it), Octavia, the NSX-V Manager and vCenter, seeded from a
//! `vio-v2t` snapshot (docs/inventory-format.md). The destination NSX objects of the snapshot are
//! served by the Policy API (`crate::policy`), the VIO custom resources by the Kubernetes API.
//!
//! Paths on the simulator's one port: Keystone under `/v3`, Neutron under `/network` (then
//! `/v2.0/...`), Octavia under `/load-balancer` (then `/v2/lbaas/...`), NSX-V under `/api/2.0`
//! and `/api/4.0`, vCenter under `/api/session` and `/api/vcenter`. Each has its own
//! authentication, as the real services do. The API-replay target Neutron is `replay.rs`
//! (`/target-network`), the destination's edge transport nodes `edge_nodes.rs`.

pub mod edge_nodes;
pub mod generate;
pub mod inventory;
mod keystone;
mod list;
mod nsxv;
mod openstack;
pub mod replay;
mod vcenter;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use crate::api::{Reply, Req};

pub use inventory::{VioInventory, is_vio_dir, load_dir};
pub use nsxv::compute_managers;

/// Everything the VIO side holds at run time.
#[derive(Debug, Default, Clone)]
pub struct VioState {
    pub inv: VioInventory,
    /// Keystone tokens by id.
    pub tokens: HashMap<String, keystone::Token>,
    /// NSX-V auth tokens: value -> expiry (ms since the epoch).
    pub nsxv_tokens: HashMap<String, i64>,
    /// vCenter session ids.
    pub vc_sessions: HashSet<String>,
    /// The API-replay target Neutron (`replay.rs`).
    pub replay: replay::ReplayState,
    /// `v2t-migration-config` of the edge transport nodes, by node id (absent = disabled).
    pub replay_v2t: BTreeMap<String, bool>,
}

impl VioState {
    pub fn new(inv: VioInventory) -> Self {
        Self {
            inv,
            ..Default::default()
        }
    }
}

impl VioState {
    /// Expire the tokens and sessions of one service (`keystone`, `nsxv`, `vcenter`) or, with
    /// `None`, of all three; returns how many. Clients must notice and authenticate again.
    pub fn expire(&mut self, service: Option<&str>) -> Result<usize, String> {
        let mut n = 0;
        let all = service.is_none();
        let s = service.unwrap_or("");
        if !all && !["keystone", "nsxv", "vcenter"].contains(&s) {
            return Err(format!(
                "unknown service {s:?} (keystone, nsxv, vcenter, or none for all)"
            ));
        }
        if all || s == "keystone" {
            for t in self.tokens.values_mut() {
                t.expires_ms = 0;
                n += 1;
            }
        }
        if all || s == "nsxv" {
            for e in self.nsxv_tokens.values_mut() {
                *e = 0;
                n += 1;
            }
        }
        if all || s == "vcenter" {
            n += self.vc_sessions.len();
            self.vc_sessions.clear();
        }
        Ok(n)
    }

    /// What changes at run time (VM power, edge vNIC connection), for the state file.
    pub fn dump(&self) -> Value {
        json!({"vms": self.inv.vms, "edge_vnics": self.inv.edge_vnics,
               "replay": self.replay, "v2t_migration_config": self.replay_v2t})
    }

    /// Take back what `dump` wrote (after a restart with a state file).
    pub fn restore(&mut self, v: &Value) {
        if let Some(vms) = v.get("vms").and_then(Value::as_array) {
            self.inv.vms = vms.clone();
            self.inv.index_vms();
        }
        if let Some(m) = v.get("edge_vnics").and_then(Value::as_object) {
            for (k, x) in m {
                self.inv.edge_vnics.insert(k.clone(), x.clone());
            }
        }
        if let Some(r) = v.get("replay") {
            self.replay = serde_json::from_value(r.clone()).unwrap_or_default();
        }
        if let Some(m) = v.get("v2t_migration_config") {
            self.replay_v2t = serde_json::from_value(m.clone()).unwrap_or_default();
        }
    }
}

/// Which VIO service a path belongs to, if any.
pub fn claims(path: &str) -> bool {
    let p = path.trim_end_matches('/');
    p == "/v3"
        || p.starts_with("/v3/")
        || p == replay::PREFIX
        || p.starts_with("/target-network/")
        || p == "/network"
        || p.starts_with("/network/")
        || p == "/load-balancer"
        || p.starts_with("/load-balancer/")
        || p.starts_with("/api/2.0/")
        || p.starts_with("/api/4.0/")
        || p == "/api/session"
        || p.starts_with("/api/vcenter/")
}

/// Serve one VIO request. `base` is `scheme://host:port` as the client addressed us.
pub fn route(
    vio: &mut VioState,
    rng: &mut crate::util::SplitMix64,
    cfg: &crate::SimConfig,
    req: &Req,
    base: &str,
) -> Reply {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["v3", rest @ ..] => keystone::route(vio, rng, cfg, req, rest, base),
        ["network", rest @ ..] => openstack::neutron(vio, req, rest, base),
        ["load-balancer", rest @ ..] => openstack::octavia(vio, req, rest, base),
        ["api", "2.0" | "4.0", ..] => nsxv::route(vio, rng, cfg, req, &segs),
        ["api", "session"] | ["api", "vcenter", ..] => vcenter::route(vio, rng, cfg, req, &segs),
        _ => plain_error(404, "not found"),
    }
}

/// The error body a `status` fault answers with on a VIO path, in that service's own shape (None
/// for the NSX paths, which keep NSX's).
pub fn fault_reply(path: &str, status: u16, message: &str) -> Option<Reply> {
    if !claims(path) {
        return None;
    }
    let body = if path.starts_with("/network") || path.starts_with(replay::PREFIX) {
        let ty = match status {
            401 => "HTTPUnauthorized",
            403 => "HTTPForbidden",
            404 => "HTTPNotFound",
            409 => "HTTPConflict",
            503 => "HTTPServiceUnavailable",
            _ => "HTTPInternalServerError",
        };
        json!({"NeutronError": {"type": ty, "message": message, "detail": ""}})
    } else if path.starts_with("/load-balancer") {
        json!({"faultcode": if status < 500 { "Client" } else { "Server" }, "faultstring": message, "debuginfo": null})
    } else if path.starts_with("/v3") {
        let title = axum::http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Error");
        json!({"error": {"code": status, "title": title, "message": message}})
    } else if path.starts_with("/api/session") || path.starts_with("/api/vcenter") {
        let ty = match status {
            400 => "INVALID_ARGUMENT",
            401 => "UNAUTHENTICATED",
            403 => "UNAUTHORIZED",
            404 => "NOT_FOUND",
            503 => "SERVICE_UNAVAILABLE",
            _ => "ERROR",
        };
        json!({"error_type": ty, "messages": [{"args": [], "default_message": message, "id": "com.vmware.vapi.std.errors.error"}]})
    } else {
        json!({"details": message, "errorCode": status, "moduleName": "vShield Edge"})
    };
    Some(Reply {
        status,
        body: Some(body),
        headers: Vec::new(),
        raw: None,
    })
}

fn plain_error(status: u16, message: &str) -> Reply {
    Reply {
        status,
        body: Some(serde_json::json!({"error": {"code": status, "message": message}})),
        headers: Vec::new(),
        raw: None,
    }
}

/// A reply with a non-JSON body and its content type.
pub(crate) fn raw_reply(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
    Reply {
        status,
        body: None,
        headers: vec![("content-type".into(), content_type.into())],
        raw: Some(body),
    }
}

/// Values of a query parameter (repeated keys), and comma lists split.
pub(crate) fn query_all<'a>(req: &'a Req, names: &[&str]) -> Vec<&'a str> {
    req.query
        .iter()
        .filter(|(k, _)| names.contains(&k.as_str()))
        .flat_map(|(_, v)| v.split(','))
        .filter(|s| !s.is_empty())
        .collect()
}

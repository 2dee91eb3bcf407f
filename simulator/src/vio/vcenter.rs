//! vCenter subset (vSphere Automation REST, `/api`): sessions, clusters, hosts, VMs with their
//! filters, and VM power (read; `POST ?action=stop|start`).

use axum::http::Method;
use serde_json::{Value, json};

use super::{VioState, query_all};
use crate::SimConfig;
use crate::api::{Reply, Req};
use crate::util::SplitMix64;

/// vCenter refuses an unfiltered VM list above this many matches (unable_to_allocate_resource).
pub const VM_LIST_MAX: usize = 4000;

fn error(status: u16, ty: &str, id: &str, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({"error_type": ty, "messages": [
            {"args": [], "default_message": message, "id": id}]})),
        headers: Vec::new(),
        raw: None,
    }
}

fn unauthenticated() -> Reply {
    error(
        401,
        "UNAUTHENTICATED",
        "com.vmware.vapi.endpoint.method.authentication.required",
        "Authentication required.",
    )
}

/// Filter values of a parameter (`names=a&names=b`, or the older `filter.names=`).
fn filter<'a>(req: &'a Req, name: &str) -> Vec<&'a str> {
    let legacy = format!("filter.{name}");
    query_all(req, &[name, legacy.as_str()])
}

fn keep(req: &Req, name: &str, value: Option<&str>) -> bool {
    let f = filter(req, name);
    f.is_empty() || value.is_some_and(|v| f.contains(&v))
}

/// One filter of a list, read from the query once per request (a VM list is filtered per VM,
/// and clients list VMs host by host: re-reading the query per VM made 1,000 host lists over
/// 50,000 VMs cost minutes).
struct Filter<'a>(Vec<&'a str>);

impl<'a> Filter<'a> {
    fn new(req: &'a Req, name: &str) -> Self {
        Self(filter(req, name))
    }
    fn keep(&self, value: Option<&str>) -> bool {
        self.0.is_empty() || value.is_some_and(|v| self.0.contains(&v))
    }
}

pub fn route(
    vio: &mut VioState,
    rng: &mut SplitMix64,
    cfg: &SimConfig,
    req: &Req,
    segs: &[&str],
) -> Reply {
    if segs == ["api", "session"] {
        return match req.method {
            Method::POST => {
                let ok = req
                    .header("authorization")
                    .and_then(|a| {
                        a.strip_prefix("Basic ")
                            .or_else(|| a.strip_prefix("basic "))
                    })
                    .and_then(|b| crate::util::base64_decode(b.trim()))
                    .and_then(|d| String::from_utf8(d).ok())
                    .is_some_and(|t| t == format!("{}:{}", cfg.username, cfg.password));
                if !ok {
                    return unauthenticated();
                }
                let sid = rng.token(16);
                vio.vc_sessions.insert(sid.clone());
                Reply::created(Value::String(sid))
            }
            Method::DELETE | Method::GET => {
                let Some(sid) = req.header("vmware-api-session-id") else {
                    return unauthenticated();
                };
                if !vio.vc_sessions.contains(sid) {
                    return unauthenticated();
                }
                if req.method == Method::DELETE {
                    vio.vc_sessions.remove(sid);
                    Reply::empty(204)
                } else {
                    Reply::json(json!({"user": format!("VSPHERE.LOCAL\\{}", cfg.username),
                        "created_time": "2026-01-01T00:00:00.000Z", "last_accessed_time": "2026-01-01T00:00:00.000Z"}))
                }
            }
            _ => error(
                405,
                "OPERATION_NOT_FOUND",
                "com.vmware.vapi.rest.httpNotFound",
                "Not found.",
            ),
        };
    }
    if !req
        .header("vmware-api-session-id")
        .is_some_and(|s| vio.vc_sessions.contains(s))
    {
        return unauthenticated();
    }
    let get = req.method == Method::GET;
    let inv = &mut vio.inv;
    match &segs[2..] {
        ["cluster"] if get => {
            let out: Vec<&Value> = inv
                .clusters
                .iter()
                .filter(|c| keep(req, "clusters", c["cluster"].as_str()))
                .filter(|c| keep(req, "names", c["name"].as_str()))
                .collect();
            Reply::json(json!(out))
        }
        ["host"] if get => {
            let out: Vec<&Value> = inv
                .hosts
                .iter()
                .filter(|h| keep(req, "hosts", h["host"].as_str()))
                .filter(|h| keep(req, "names", h["name"].as_str()))
                .filter(|h| keep(req, "connection_states", h["connection_state"].as_str()))
                .filter(|h| {
                    let id = h["host"].as_str().unwrap_or_default();
                    keep(
                        req,
                        "clusters",
                        inv.host_cluster.get(id).map(String::as_str),
                    )
                })
                .collect();
            Reply::json(json!(out))
        }
        ["vm"] if get => {
            let (vms, names, power, hosts, clusters) = (
                Filter::new(req, "vms"),
                Filter::new(req, "names"),
                Filter::new(req, "power_states"),
                Filter::new(req, "hosts"),
                Filter::new(req, "clusters"),
            );
            // With a host filter, only those hosts' VMs are candidates (the load-time index,
            // checked against the VM it points at; a full pass if it is stale).
            let indexed: Option<Vec<&Value>> = (!hosts.0.is_empty())
                .then(|| {
                    let mut at: Vec<usize> = hosts
                        .0
                        .iter()
                        .filter_map(|h| inv.host_vms.get(*h))
                        .flatten()
                        .copied()
                        .collect();
                    at.sort_unstable();
                    at.dedup();
                    at.into_iter()
                        .map(|i| {
                            let v = inv.vms.get(i)?;
                            let h = inv.vm_host.get(v["vm"].as_str()?)?;
                            hosts.keep(Some(h)).then_some(v)
                        })
                        .collect()
                })
                .flatten();
            let candidates: Vec<&Value> = match indexed {
                Some(c) => c,
                None => inv.vms.iter().collect(),
            };
            let out: Vec<&Value> = candidates
                .into_iter()
                .filter(|v| {
                    let id = v["vm"].as_str();
                    let host = inv.vm_host.get(id.unwrap_or_default());
                    hosts.keep(host.map(String::as_str))
                        && vms.keep(id)
                        && names.keep(v["name"].as_str())
                        && power.keep(v["power_state"].as_str())
                        && clusters.keep(
                            host.and_then(|h| inv.host_cluster.get(h))
                                .map(String::as_str),
                        )
                })
                .collect();
            if out.len() > VM_LIST_MAX {
                return error(
                    500,
                    "UNABLE_TO_ALLOCATE_RESOURCE",
                    "com.vmware.api.vcenter.vm.list.limit_exceeded",
                    &format!(
                        "Too many virtual machines match the filter ({}); the limit is {VM_LIST_MAX}.",
                        out.len()
                    ),
                );
            }
            Reply::json(json!(out))
        }
        ["vm", vm, rest @ ..] => {
            let Some(v) = inv.vms.iter_mut().find(|v| v["vm"] == *vm) else {
                return error(
                    404,
                    "NOT_FOUND",
                    "com.vmware.api.vcenter.vm.not_found",
                    &format!(
                        "Virtual machine with identifier '{vm}:VirtualMachine' does not exist."
                    ),
                );
            };
            match (req.method.clone(), rest) {
                (Method::GET, []) => Reply::json(json!({
                    "name": v["name"], "power_state": v["power_state"],
                    "cpu": {"count": v["cpu_count"]}, "memory": {"size_MiB": v["memory_size_MiB"]},
                })),
                (Method::GET, ["power"]) => Reply::json(json!({"state": v["power_state"]})),
                (Method::POST, ["power"]) => {
                    let target = match req.q("action") {
                        Some("stop") => "POWERED_OFF",
                        Some("start") => "POWERED_ON",
                        Some("suspend") => "SUSPENDED",
                        _ => {
                            return error(
                                400,
                                "INVALID_ARGUMENT",
                                "com.vmware.vapi.rest.badRequest",
                                "action must be stop, start or suspend",
                            );
                        }
                    };
                    if v["power_state"] == target {
                        return error(
                            400,
                            "ALREADY_IN_DESIRED_STATE",
                            "com.vmware.api.vcenter.vm.power.already_in_desired_state",
                            &format!("Virtual machine {vm} is already {target}."),
                        );
                    }
                    v["power_state"] = json!(target);
                    Reply::empty(204)
                }
                _ => error(
                    404,
                    "NOT_FOUND",
                    "com.vmware.vapi.rest.httpNotFound",
                    "Not found.",
                ),
            }
        }
        _ => error(
            404,
            "NOT_FOUND",
            "com.vmware.vapi.rest.httpNotFound",
            "Not found.",
        ),
    }
}

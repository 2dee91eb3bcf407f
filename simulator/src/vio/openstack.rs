//! Neutron v2.0 (as the NSX-V plugin serves it) and Octavia v2, read side: lists with paging,
//! filters and `fields=`, single GETs, project scoping, and each service's error body.

use std::collections::HashSet;

use axum::http::Method;
use serde_json::{Value, json};

use super::VioState;
use super::keystone::{Caller, authenticate};
use super::list::{Style, list, project};
use crate::api::{Reply, Req};

/// Who may see an object of a collection, for a token that is not admin.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    /// The caller's project only.
    Own,
    /// The caller's project, or `shared: true`.
    Shared,
    /// Networks: own, `shared` or `router:external`.
    Network,
    /// Subnets: own, or on a network the caller sees as shared or external.
    Subnet,
    /// Ports: own, or on one of the caller's networks.
    Port,
    /// Everyone.
    All,
    /// Admin tokens only (403 otherwise).
    Admin,
}

struct Res {
    path: &'static [&'static str],
    key: &'static str,
    single: &'static str,
    id: &'static str,
    scope: Scope,
    /// NeutronError type prefix and the noun in the message.
    err: &'static str,
    noun: &'static str,
}

const NEUTRON: &[Res] = &[
    Res {
        path: &["networks"],
        key: "networks",
        single: "network",
        id: "id",
        scope: Scope::Network,
        err: "Network",
        noun: "Network",
    },
    Res {
        path: &["subnets"],
        key: "subnets",
        single: "subnet",
        id: "id",
        scope: Scope::Subnet,
        err: "Subnet",
        noun: "Subnet",
    },
    Res {
        path: &["ports"],
        key: "ports",
        single: "port",
        id: "id",
        scope: Scope::Port,
        err: "Port",
        noun: "Port",
    },
    Res {
        path: &["routers"],
        key: "routers",
        single: "router",
        id: "id",
        scope: Scope::Own,
        err: "Router",
        noun: "Router",
    },
    Res {
        path: &["floatingips"],
        key: "floatingips",
        single: "floatingip",
        id: "id",
        scope: Scope::Own,
        err: "FloatingIP",
        noun: "Floating IP",
    },
    Res {
        path: &["security-groups"],
        key: "security_groups",
        single: "security_group",
        id: "id",
        scope: Scope::Own,
        err: "SecurityGroup",
        noun: "Security group",
    },
    Res {
        path: &["security-group-rules"],
        key: "security_group_rules",
        single: "security_group_rule",
        id: "id",
        scope: Scope::Own,
        err: "SecurityGroupRule",
        noun: "Security group rule",
    },
    Res {
        path: &["qos", "policies"],
        key: "policies",
        single: "policy",
        id: "id",
        scope: Scope::Shared,
        err: "QosPolicy",
        noun: "QoS policy",
    },
    Res {
        path: &["fwaas", "firewall_groups"],
        key: "firewall_groups",
        single: "firewall_group",
        id: "id",
        scope: Scope::Shared,
        err: "FirewallGroup",
        noun: "Firewall Group",
    },
    Res {
        path: &["fwaas", "firewall_policies"],
        key: "firewall_policies",
        single: "firewall_policy",
        id: "id",
        scope: Scope::Shared,
        err: "FirewallPolicy",
        noun: "Firewall Policy",
    },
    Res {
        path: &["fwaas", "firewall_rules"],
        key: "firewall_rules",
        single: "firewall_rule",
        id: "id",
        scope: Scope::Shared,
        err: "FirewallRule",
        noun: "Firewall Rule",
    },
    Res {
        path: &["subnetpools"],
        key: "subnetpools",
        single: "subnetpool",
        id: "id",
        scope: Scope::Shared,
        err: "SubnetPool",
        noun: "Subnet pool",
    },
    Res {
        path: &["quotas"],
        key: "quotas",
        single: "quota",
        id: "project_id",
        scope: Scope::Admin,
        err: "Quota",
        noun: "Quota",
    },
    Res {
        path: &["rbac-policies"],
        key: "rbac_policies",
        single: "rbac_policy",
        id: "id",
        scope: Scope::Own,
        err: "RbacPolicy",
        noun: "RBAC policy",
    },
    Res {
        path: &["availability_zones"],
        key: "availability_zones",
        single: "availability_zone",
        id: "name",
        scope: Scope::All,
        err: "AvailabilityZone",
        noun: "AvailabilityZone",
    },
    // networking-l2gw (`l2-gateway` and `l2-gateway-connection` extensions): served only when the
    // snapshot's extensions list the alias, as Neutron routes them only with the service plugin.
    Res {
        path: &["l2-gateways"],
        key: "l2_gateways",
        single: "l2_gateway",
        id: "id",
        scope: Scope::Own,
        err: "L2Gateway",
        noun: "L2 Gateway",
    },
    Res {
        path: &["l2-gateway-connections"],
        key: "l2_gateway_connections",
        single: "l2_gateway_connection",
        id: "id",
        scope: Scope::Own,
        err: "L2GatewayConnection",
        noun: "L2 Gateway Connection",
    },
    Res {
        path: &["extensions"],
        key: "extensions",
        single: "extension",
        id: "alias",
        scope: Scope::All,
        err: "Extension",
        noun: "Extension",
    },
];

const OCTAVIA: &[Res] = &[
    Res {
        path: &["loadbalancers"],
        key: "loadbalancers",
        single: "loadbalancer",
        id: "id",
        scope: Scope::Own,
        err: "",
        noun: "Load Balancer",
    },
    Res {
        path: &["listeners"],
        key: "listeners",
        single: "listener",
        id: "id",
        scope: Scope::Own,
        err: "",
        noun: "Listener",
    },
    Res {
        path: &["pools"],
        key: "pools",
        single: "pool",
        id: "id",
        scope: Scope::Own,
        err: "",
        noun: "Pool",
    },
    Res {
        path: &["healthmonitors"],
        key: "healthmonitors",
        single: "healthmonitor",
        id: "id",
        scope: Scope::Own,
        err: "",
        noun: "Health Monitor",
    },
    Res {
        path: &["l7policies"],
        key: "l7policies",
        single: "l7policy",
        id: "id",
        scope: Scope::Own,
        err: "",
        noun: "L7 Policy",
    },
    Res {
        path: &["flavors"],
        key: "flavors",
        single: "flavor",
        id: "id",
        scope: Scope::All,
        err: "",
        noun: "Flavor",
    },
    Res {
        path: &["flavorprofiles"],
        key: "flavorprofiles",
        single: "flavorprofile",
        id: "id",
        scope: Scope::Admin,
        err: "",
        noun: "Flavor profile",
    },
];

/// Neutron's default quotas (neutron.conf `[quotas]`), answered for a project without its own.
fn default_quota() -> Value {
    json!({"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50,
           "security_group": 10, "security_group_rule": 100, "rbac_policy": 10, "subnetpool": -1})
}

fn neutron_error(status: u16, ty: &str, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({"NeutronError": {"type": ty, "message": message, "detail": ""}})),
        headers: Vec::new(),
        raw: None,
    }
}

fn octavia_error(status: u16, message: &str) -> Reply {
    Reply {
        status,
        body: Some(
            json!({"faultcode": if status < 500 { "Client" } else { "Server" },
                          "faultstring": message, "debuginfo": null}),
        ),
        headers: Vec::new(),
        raw: None,
    }
}

fn project_of(o: &Value) -> &str {
    o.get("project_id")
        .or_else(|| o.get("tenant_id"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn truthy(o: &Value, k: &str) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Network ids the caller owns, and those it sees as shared or external.
struct NetView {
    own: HashSet<String>,
    visible: HashSet<String>,
}

fn net_view(vio: &VioState, caller: &Caller) -> NetView {
    let mut own = HashSet::new();
    let mut visible = HashSet::new();
    for n in &vio.inv.neutron["networks"] {
        let id = n["id"].as_str().unwrap_or_default().to_string();
        if project_of(n) == caller.project_id {
            own.insert(id.clone());
            visible.insert(id);
        } else if truthy(n, "shared") || truthy(n, "router:external") {
            visible.insert(id);
        }
    }
    NetView { own, visible }
}

fn visible(scope: Scope, o: &Value, caller: &Caller, nets: Option<&NetView>) -> bool {
    if caller.admin {
        return true;
    }
    let own = project_of(o) == caller.project_id;
    let net = o.get("network_id").and_then(Value::as_str).unwrap_or("");
    match scope {
        Scope::Own => own,
        Scope::Shared => own || truthy(o, "shared"),
        Scope::Network => own || truthy(o, "shared") || truthy(o, "router:external"),
        Scope::Subnet => own || nets.is_some_and(|n| n.visible.contains(net)),
        Scope::Port => own || nets.is_some_and(|n| n.own.contains(net)),
        Scope::All => true,
        Scope::Admin => false,
    }
}

/// The extension alias a collection needs loaded, for the collections of optional service plugins.
fn extension_of(key: &str) -> Option<&'static str> {
    match key {
        "l2_gateways" => Some("l2-gateway"),
        "l2_gateway_connections" => Some("l2-gateway-connection"),
        _ => None,
    }
}

fn href(base: &str, prefix: &str, rest: &[&str]) -> String {
    format!("{base}{prefix}/{}", rest.join("/"))
}

pub fn neutron(vio: &mut VioState, req: &Req, rest: &[&str], base: &str) -> Reply {
    if rest.is_empty() {
        return Reply::json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
            "links": [{"href": format!("{base}/network/v2.0/"), "rel": "self"}]}]}));
    }
    let caller = match authenticate(vio, req, base) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let ["v2.0", rest @ ..] = rest else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    if req.method != Method::GET {
        return neutron_error(
            405,
            "HTTPMethodNotAllowed",
            "This simulator serves the read side of Neutron only.",
        );
    }
    let Some((res, tail)) = NEUTRON.iter().find_map(|r| {
        (rest.len() >= r.path.len() && rest[..r.path.len()] == *r.path)
            .then(|| (r, &rest[r.path.len()..]))
    }) else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    if let Some(alias) = extension_of(res.key)
        && !vio.inv.neutron["extensions"]
            .iter()
            .any(|e| e["alias"] == alias)
    {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    }
    let nets = matches!(res.scope, Scope::Subnet | Scope::Port).then(|| net_view(vio, &caller));
    let items = &vio.inv.neutron[res.key];
    match tail {
        [] => {
            if res.scope == Scope::Admin && !caller.admin {
                return neutron_error(
                    403,
                    "PolicyNotAuthorized",
                    &format!("rule:get_{} is disallowed by policy", res.single),
                );
            }
            let scoped: Vec<&Value> = items
                .iter()
                .filter(|o| visible(res.scope, o, &caller, nets.as_ref()))
                .collect();
            let url = href(base, "/network/v2.0", res.path);
            match list(
                &scoped,
                req,
                res.key,
                res.id,
                &url,
                Style {
                    always_links: false,
                },
            ) {
                Ok(v) => Reply::json(v),
                Err((s, m)) => neutron_error(s, "HTTPBadRequest", &m),
            }
        }
        [id] if res.key == "quotas" => {
            if !caller.admin && *id != caller.project_id {
                return neutron_error(
                    403,
                    "PolicyNotAuthorized",
                    "rule:get_quota is disallowed by policy",
                );
            }
            let q = items
                .iter()
                .find(|q| q["project_id"] == *id)
                .map(|q| {
                    let mut q = q.clone();
                    if let Some(m) = q.as_object_mut() {
                        m.remove("project_id");
                        m.remove("tenant_id");
                    }
                    q
                })
                .unwrap_or_else(default_quota);
            Reply::json(json!({"quota": q}))
        }
        [id] => {
            let found = items
                .iter()
                .find(|o| o.get(res.id).and_then(Value::as_str) == Some(id))
                .filter(|o| visible(res.scope, o, &caller, nets.as_ref()) || caller.admin);
            match found {
                Some(o) => {
                    let fields = super::query_all(req, &["fields"]);
                    Reply::json(json!({ res.single: project(o, &fields) }))
                }
                None => neutron_error(
                    404,
                    &format!("{}NotFound", res.err),
                    &format!("{} {id} could not be found.", res.noun),
                ),
            }
        }
        _ => neutron_error(404, "HTTPNotFound", "The resource could not be found."),
    }
}

pub fn octavia(vio: &mut VioState, req: &Req, rest: &[&str], base: &str) -> Reply {
    if rest.is_empty() {
        return Reply::json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
            "links": [{"href": format!("{base}/load-balancer/v2/"), "rel": "self"}]}]}));
    }
    let caller = match authenticate(vio, req, base) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let (ver, rest) = match rest {
        [v @ ("v2" | "v2.0"), "lbaas", rest @ ..] => (*v, rest),
        _ => return octavia_error(404, "The resource could not be found."),
    };
    if req.method != Method::GET {
        return octavia_error(405, "This simulator serves the read side of Octavia only.");
    }
    let prefix = format!("/load-balancer/{ver}/lbaas");
    let Some(res) = rest
        .first()
        .and_then(|c| OCTAVIA.iter().find(|r| r.path[0] == *c))
    else {
        return octavia_error(404, "The resource could not be found.");
    };
    if res.scope == Scope::Admin && !caller.admin {
        return octavia_error(403, "Policy does not allow this request to be performed.");
    }
    let items = &vio.inv.octavia[res.key];
    let find = |id: &str| {
        items
            .iter()
            .find(|o| o["id"] == id)
            .filter(|o| visible(res.scope, o, &caller, None))
    };
    let style = Style { always_links: true };
    let fields = super::query_all(req, &["fields"]);
    let listed = |children: &[Value], key: &str, url: String| {
        let scoped: Vec<&Value> = children.iter().collect();
        match list(&scoped, req, key, "id", &url, style) {
            Ok(v) => Reply::json(v),
            Err((s, m)) => octavia_error(s, &m),
        }
    };
    match rest {
        [_] => {
            let scoped: Vec<Value> = items
                .iter()
                .filter(|o| visible(res.scope, o, &caller, None))
                .cloned()
                .collect();
            listed(&scoped, res.key, href(base, &prefix, rest))
        }
        [_, id] => match find(id) {
            Some(o) => Reply::json(json!({ res.single: project(o, &fields) })),
            None => octavia_error(404, &format!("{} {id} not found.", res.noun)),
        },
        ["pools", pid, "members", more @ ..] | ["l7policies", pid, "rules", more @ ..] => {
            let (map, key, single, noun) = if res.key == "pools" {
                (&vio.inv.members, "members", "member", "Member")
            } else {
                (&vio.inv.l7rules, "rules", "rule", "L7 Rule")
            };
            if find(pid).is_none() {
                return octavia_error(404, &format!("{} {pid} not found.", res.noun));
            }
            let children = map.get(*pid).map(Vec::as_slice).unwrap_or(&[]);
            match more {
                [] => listed(children, key, href(base, &prefix, rest)),
                [cid] => match children.iter().find(|c| c["id"] == *cid) {
                    Some(c) => Reply::json(json!({ single: project(c, &fields) })),
                    None => octavia_error(404, &format!("{noun} {cid} not found.")),
                },
                _ => octavia_error(404, "The resource could not be found."),
            }
        }
        _ => octavia_error(404, "The resource could not be found."),
    }
}

//! The Neutron side of the VIO replay: where each replayed resource lives, the source objects
//! read by id, and the request bodies a replay call carries (the source object, prepared as the
//! migrator prepares it: read-only and NSX-V-only attributes dropped, DHCP off on create,
//! renewed ids mapped).

use std::collections::{BTreeMap, HashMap};

use plan_schema::vio::ReplayResource;
use serde_json::{Map, Value, json};

use crate::error::ExecError;

/// Catalog type of the source Neutron (NSX-V plugin).
pub const SOURCE: &str = "network";
/// Catalog type of the replay target (the temporary Neutron with the Policy plugin).
pub const TARGET: &str = "network-replay";

/// Where a resource lives in Neutron: the path under `/v2.0/`, the collection key and the
/// single-object key.
#[derive(Debug, Clone, Copy)]
pub struct Coll {
    pub path: &'static str,
    pub key: &'static str,
    pub single: &'static str,
}

const fn c(path: &'static str, key: &'static str, single: &'static str) -> Coll {
    Coll { path, key, single }
}

/// The Neutron collection an action's objects are read from and written to; `None` for the
/// Octavia resources, which do not go through Neutron.
pub fn coll(res: ReplayResource) -> Option<Coll> {
    use ReplayResource::*;
    Some(match res {
        Quota => c("quotas", "quotas", "quota"),
        SecurityGroup => c("security-groups", "security_groups", "security_group"),
        SecurityGroupRule => c(
            "security-group-rules",
            "security_group_rules",
            "security_group_rule",
        ),
        QosPolicy => c("qos/policies", "policies", "policy"),
        DlrTransitNetwork | Network => c("networks", "networks", "network"),
        Router | RouterGateway | RouterRoutes => c("routers", "routers", "router"),
        Subnetpool => c("subnetpools", "subnetpools", "subnetpool"),
        Subnet | SubnetDhcp => c("subnets", "subnets", "subnet"),
        RouterInterface | Port => c("ports", "ports", "port"),
        Floatingip => c("floatingips", "floatingips", "floatingip"),
        FirewallRule => c("fwaas/firewall_rules", "firewall_rules", "firewall_rule"),
        FirewallPolicy => c(
            "fwaas/firewall_policies",
            "firewall_policies",
            "firewall_policy",
        ),
        FirewallGroup => c("fwaas/firewall_groups", "firewall_groups", "firewall_group"),
        RbacPolicy => c("rbac-policies", "rbac_policies", "rbac_policy"),
        Loadbalancer | Listener | Pool | Member | Healthmonitor | L7policy => return None,
    })
}

/// Resources the target gives new ids (the api-replay extension refuses `id` for them).
pub fn new_id(res: ReplayResource) -> bool {
    matches!(
        res,
        ReplayResource::Floatingip | ReplayResource::Subnetpool | ReplayResource::RbacPolicy
    )
}

/// Resources the target creates in one all-or-nothing bulk request.
pub fn bulk(res: ReplayResource) -> bool {
    matches!(
        res,
        ReplayResource::Network
            | ReplayResource::Subnet
            | ReplayResource::Port
            | ReplayResource::SecurityGroup
            | ReplayResource::SecurityGroupRule
    )
}

/// Whether the resource's action is a create (POST) rather than a change of an existing
/// object (PUT).
pub fn creates(res: ReplayResource) -> bool {
    !matches!(
        res,
        ReplayResource::Quota
            | ReplayResource::RouterGateway
            | ReplayResource::RouterInterface
            | ReplayResource::SubnetDhcp
            | ReplayResource::RouterRoutes
    )
}

/// The source objects the plan replays, by collection key, then id (quotas by project id).
#[derive(Debug, Default)]
pub struct Source {
    pub by_key: HashMap<&'static str, HashMap<String, Value>>,
}

impl Source {
    /// Read every collection of `resources` from the source Neutron (one paged list each).
    pub async fn load(
        os: &client::OpenStackClient,
        resources: impl IntoIterator<Item = ReplayResource>,
    ) -> Result<Source, ExecError> {
        Self::load_from(os, SOURCE, resources).await
    }

    /// The same from the Neutron of catalog type `service` (the replay target for adoption).
    pub async fn load_from(
        os: &client::OpenStackClient,
        service: &str,
        resources: impl IntoIterator<Item = ReplayResource>,
    ) -> Result<Source, ExecError> {
        let mut colls: BTreeMap<&'static str, Coll> = BTreeMap::new();
        for r in resources {
            if r == ReplayResource::DlrTransitNetwork && service == SOURCE {
                continue;
            }
            if let Some(c) = coll(r) {
                colls.insert(c.key, c);
            }
        }
        let mut by_key = HashMap::new();
        for c in colls.values() {
            let items = os
                .list_all(service, &format!("/v2.0/{}", c.path), c.key)
                .await
                .map_err(|e| {
                    ExecError::step("replay", format!("{service}: reading {}: {e}", c.key))
                })?;
            let id_field = if c.key == "quotas" {
                "project_id"
            } else {
                "id"
            };
            let m: HashMap<String, Value> = items
                .into_iter()
                .filter_map(|o| {
                    let id = o.get(id_field)?.as_str()?.to_string();
                    Some((id, o))
                })
                .collect();
            by_key.insert(c.key, m);
        }
        Ok(Source { by_key })
    }

    pub fn get(&self, res: ReplayResource, id: &str) -> Option<&Value> {
        let c = coll(res)?;
        self.by_key.get(c.key)?.get(id)
    }
}

fn pick(src: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = src.get(*k)
            && !v.is_null()
        {
            m.insert((*k).to_string(), v.clone());
        }
    }
    m
}

/// Most allowed address pairs the Policy plugin takes on a port (reference vio-v2t-anchors
/// 1.4); the rest are cut, as the plan's rewrites say.
const MAX_ADDRESS_PAIRS: usize = 127;

/// The body of one object of a create call: the source object as the replay sends it.
/// `renewed` maps source ids of renewed-id objects (subnet pools) to their target ids.
pub fn create_body(
    res: ReplayResource,
    src: &Value,
    renewed: &HashMap<String, String>,
) -> Result<Value, String> {
    use ReplayResource::*;
    let m = match res {
        Network => {
            let mut m = pick(
                src,
                &[
                    "id",
                    "name",
                    "description",
                    "project_id",
                    "admin_state_up",
                    "shared",
                    "router:external",
                    "port_security_enabled",
                    "qos_policy_id",
                ],
            );
            // VLAN keeps its id (without the physical network); external, VXLAN, flat and
            // port-group networks lose their provider attributes.
            let external = src["router:external"] == true;
            if !external && src["provider:network_type"] == "vlan" {
                m.insert("provider:network_type".into(), json!("vlan"));
                if let Some(seg) = src.get("provider:segmentation_id") {
                    m.insert("provider:segmentation_id".into(), seg.clone());
                }
            }
            m
        }
        Subnet => {
            let mut m = pick(
                src,
                &[
                    "id",
                    "name",
                    "description",
                    "project_id",
                    "network_id",
                    "cidr",
                    "ip_version",
                    "gateway_ip",
                    "allocation_pools",
                    "dns_nameservers",
                    "ipv6_ra_mode",
                    "ipv6_address_mode",
                ],
            );
            // DHCP goes on after the network's ports exist (its own step).
            m.insert("enable_dhcp".into(), json!(false));
            if let Some(pool) = src["subnetpool_id"].as_str() {
                let new = renewed.get(pool).ok_or_else(|| {
                    format!("subnet pool {pool} of subnet has no replayed id in the journal")
                })?;
                m.insert("subnetpool_id".into(), json!(new));
            }
            m
        }
        Port => {
            let mut m = pick(
                src,
                &[
                    "id",
                    "name",
                    "description",
                    "project_id",
                    "network_id",
                    "mac_address",
                    "fixed_ips",
                    "admin_state_up",
                    "port_security_enabled",
                    "security_groups",
                    "qos_policy_id",
                    "device_id",
                    "device_owner",
                    "binding:vnic_type",
                ],
            );
            let owner = src["device_owner"].as_str().unwrap_or("");
            if owner.starts_with("network:router_interface") {
                // A plain port with the same id, MAC and address; the interface is added by
                // its own step.
                m.remove("device_owner");
                m.remove("device_id");
            }
            if src["port_security_enabled"] == false {
                m.remove("security_groups");
            } else if let Some(pairs) = src["allowed_address_pairs"].as_array() {
                let cut: Vec<Value> = pairs.iter().take(MAX_ADDRESS_PAIRS).cloned().collect();
                m.insert("allowed_address_pairs".into(), Value::Array(cut));
            }
            if owner.starts_with("compute:")
                && let (Some(dev), Some(idx)) =
                    (src["device_id"].as_str(), src["vnic_index"].as_u64())
            {
                m.insert("vif_id".into(), json!(format!("{dev}:{}", 4000 + idx)));
            }
            m
        }
        Router => pick(
            src,
            &["id", "name", "description", "project_id", "admin_state_up"],
        ),
        SecurityGroup => pick(
            src,
            &["id", "name", "description", "project_id", "stateful"],
        ),
        SecurityGroupRule => pick(
            src,
            &[
                "id",
                "description",
                "project_id",
                "security_group_id",
                "direction",
                "ethertype",
                "protocol",
                "port_range_min",
                "port_range_max",
                "remote_ip_prefix",
                "remote_group_id",
            ],
        ),
        QosPolicy => pick(src, &["id", "name", "description", "project_id", "shared"]),
        Floatingip => pick(
            src,
            &[
                "description",
                "project_id",
                "floating_network_id",
                "floating_ip_address",
                "port_id",
                "fixed_ip_address",
            ],
        ),
        Subnetpool => pick(
            src,
            &[
                "name",
                "description",
                "project_id",
                "prefixes",
                "default_prefixlen",
                "min_prefixlen",
                "max_prefixlen",
                "shared",
            ],
        ),
        RbacPolicy => pick(
            src,
            &[
                "project_id",
                "object_type",
                "object_id",
                "action",
                "target_tenant",
            ],
        ),
        FirewallRule => pick(
            src,
            &[
                "id",
                "name",
                "description",
                "project_id",
                "protocol",
                "ip_version",
                "source_ip_address",
                "destination_ip_address",
                "source_port",
                "destination_port",
                "action",
                "enabled",
                "shared",
            ],
        ),
        FirewallPolicy => pick(
            src,
            &[
                "id",
                "name",
                "description",
                "project_id",
                "firewall_rules",
                "audited",
                "shared",
            ],
        ),
        FirewallGroup => pick(
            src,
            &[
                "id",
                "name",
                "description",
                "project_id",
                "ingress_firewall_policy_id",
                "egress_firewall_policy_id",
                "ports",
                "admin_state_up",
                "shared",
            ],
        ),
        other => return Err(format!("{} is not created by a POST", other.as_str())),
    };
    Ok(Value::Object(m))
}

/// The QoS rules of a source policy: (`<type>_rules` sub-collection, body) per rule.
pub fn qos_rules(src: &Value) -> Vec<(String, Value)> {
    src["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            let ty = r["type"].as_str()?;
            let mut m = r.as_object()?.clone();
            for k in ["id", "type", "qos_policy_id", "tenant_id", "project_id"] {
                m.remove(k);
            }
            Some((format!("{ty}_rules"), json!({ format!("{ty}_rule"): m })))
        })
        .collect()
}

/// The body of a change call (a PUT) for one object.
pub fn change_body(res: ReplayResource, src: &Value, obj_id: &str) -> Result<Value, String> {
    use ReplayResource::*;
    Ok(match res {
        Quota => {
            let mut q = Map::new();
            for (k, v) in src.as_object().into_iter().flatten() {
                if v.is_i64() {
                    q.insert(k.clone(), v.clone());
                }
            }
            json!({"quota": q})
        }
        RouterGateway => {
            let gw = &src["external_gateway_info"];
            let net = gw["network_id"]
                .as_str()
                .ok_or_else(|| format!("router {obj_id} has no gateway in the source"))?;
            let mut g = Map::new();
            g.insert("network_id".into(), json!(net));
            g.insert(
                "enable_snat".into(),
                json!(gw["enable_snat"].as_bool().unwrap_or(true)),
            );
            if let Some(ips) = gw["external_fixed_ips"].as_array() {
                g.insert("external_fixed_ips".into(), json!(ips));
            }
            json!({"router": {"external_gateway_info": g}})
        }
        RouterRoutes => {
            json!({"router": {"routes": src["routes"].as_array().cloned().unwrap_or_default()}})
        }
        SubnetDhcp => json!({"subnet": {
            "enable_dhcp": true,
            "host_routes": src["host_routes"].as_array().cloned().unwrap_or_default(),
        }}),
        RouterInterface => json!({"port_id": obj_id}),
        other => return Err(format!("{} is not a change call", other.as_str())),
    })
}

/// A renewed-id object on the target that is the source object `src` (floating IPs by address
/// and port, subnet pools by name and prefixes, RBAC policies by object, action and target):
/// the query that finds candidates and the test that picks the one.
pub fn lookup_query(res: ReplayResource, src: &Value) -> Option<String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match res {
        ReplayResource::Floatingip => Some(format!(
            "floating_ip_address={}",
            enc(src["floating_ip_address"].as_str()?)
        )),
        ReplayResource::Subnetpool => Some(format!("name={}", enc(src["name"].as_str()?))),
        ReplayResource::RbacPolicy => Some(format!(
            "object_id={}&action={}",
            enc(src["object_id"].as_str()?),
            enc(src["action"].as_str()?)
        )),
        _ => None,
    }
}

pub fn same_object(res: ReplayResource, src: &Value, live: &Value) -> bool {
    let eq = |k: &str| src.get(k).unwrap_or(&Value::Null) == live.get(k).unwrap_or(&Value::Null);
    match res {
        ReplayResource::Floatingip => eq("floating_ip_address") && eq("port_id"),
        ReplayResource::Subnetpool => eq("name") && eq("prefixes"),
        ReplayResource::RbacPolicy => {
            eq("object_id") && eq("action") && eq("target_tenant") && eq("object_type")
        }
        _ => false,
    }
}

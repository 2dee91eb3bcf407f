//! A `vio-v2t` snapshot directory (docs/inventory-format.md, second part) read into typed,
//! read-only structs: only the fields the planner uses are kept, unknown fields are ignored.
//! Malformed input is an error naming the file and the JSON pointer of the field (or the line,
//! for JSON syntax and `nsx.ini`), never a panic. The canonical input fingerprints use the same
//! per-object parts as the Manager-to-Policy kind (`plan_schema::fingerprint`).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::PlanError;
use crate::inventory::{bad, read_json};
use crate::vio::redact::is_secret_option;

/// What a password option must hold in a snapshot.
const SECRET_REF: &str = "secret-ref:";

/// A field that may be `null` or absent: read as its default.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// metadata.json

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VioMetadata {
    pub format: String,
    pub format_version: u32,
    pub kind: String,
    pub source: String,
    pub collected_at: String,
    #[serde(default)]
    pub openstack: Option<Value>,
    #[serde(default)]
    pub nsxv_manager: Option<String>,
    #[serde(default)]
    pub nsxv_version: Option<String>,
    #[serde(default)]
    pub vcenter: Option<String>,
    #[serde(default)]
    pub nsx_manager: Option<String>,
    #[serde(default)]
    pub nsx_version: Option<String>,
    #[serde(default)]
    pub kubernetes: Option<Value>,
    #[serde(default)]
    pub redactions: Vec<Value>,
}

// ---------------------------------------------------------------------------------------------
// Keystone, Neutron, Octavia

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Project {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Network {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    #[serde(rename = "router:external", default, deserialize_with = "nullable")]
    pub external: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub shared: bool,
    #[serde(rename = "provider:network_type", default)]
    pub network_type: Option<String>,
    #[serde(rename = "provider:physical_network", default)]
    pub physical_network: Option<String>,
    #[serde(rename = "provider:segmentation_id", default)]
    pub segmentation_id: Option<Value>,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
    #[serde(default)]
    pub vlan_transparent: Option<bool>,
    #[serde(default)]
    pub is_default: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub subnets: Vec<String>,
    #[serde(default)]
    pub qos_policy_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AllocationPool {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Subnet {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub network_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    pub ip_version: u8,
    #[serde(default, deserialize_with = "nullable")]
    pub enable_dhcp: bool,
    #[serde(default)]
    pub gateway_ip: Option<String>,
    #[serde(default)]
    pub cidr: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub allocation_pools: Vec<AllocationPool>,
    #[serde(default, deserialize_with = "nullable")]
    pub dns_nameservers: Vec<String>,
    #[serde(default)]
    pub subnetpool_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FixedIp {
    pub subnet_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub ip_address: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct AddressPair {
    pub ip_address: String,
    #[serde(default)]
    pub mac_address: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Port {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub network_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub mac_address: String,
    #[serde(default, deserialize_with = "nullable")]
    pub device_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub device_owner: String,
    #[serde(default, deserialize_with = "nullable")]
    pub fixed_ips: Vec<FixedIp>,
    #[serde(default, deserialize_with = "nullable")]
    pub allowed_address_pairs: Vec<AddressPair>,
    #[serde(default, deserialize_with = "nullable")]
    pub security_groups: Vec<String>,
    #[serde(rename = "binding:vnic_type", default)]
    pub vnic_type: Option<String>,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
    #[serde(default)]
    pub mac_learning_enabled: Option<bool>,
    #[serde(default)]
    pub qos_policy_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct GatewayInfo {
    #[serde(default)]
    pub network_id: Option<String>,
    #[serde(default)]
    pub enable_snat: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    pub external_fixed_ips: Vec<FixedIp>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Router {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    #[serde(default)]
    pub external_gateway_info: Option<GatewayInfo>,
    #[serde(default, deserialize_with = "nullable")]
    pub distributed: bool,
    #[serde(default)]
    pub router_type: Option<String>,
    #[serde(default)]
    pub router_size: Option<String>,
    /// Static routes (`{destination, nexthop}`), replayed after the interfaces.
    #[serde(default, deserialize_with = "nullable")]
    pub routes: Vec<Value>,
}

impl Router {
    /// The external network of its gateway, when it has one.
    pub fn gateway_network(&self) -> Option<&str> {
        self.external_gateway_info
            .as_ref()
            .and_then(|g| g.network_id.as_deref())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FloatingIp {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    pub floating_network_id: String,
    #[serde(default)]
    pub router_id: Option<String>,
    #[serde(default)]
    pub port_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub floating_ip_address: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct SecurityGroup {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    /// The NSX-V security policy the group is bound to (the plugin's `security-group-policy`
    /// extension, with `use_nsx_policies`).
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub security_group_rules: Vec<Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct QosRule {
    #[serde(default, deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "type")]
    pub rule_type: String,
    #[serde(default)]
    pub max_kbps: Option<u64>,
    #[serde(default)]
    pub max_burst_kbps: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct QosPolicy {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub rules: Vec<QosRule>,
}

/// An object of which the planner needs only the id and name (subnet pools, RBAC policies,
/// firewall groups, policies and rules, health monitors, L7 policies).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Named {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    /// Health monitor: the pools it watches.
    #[serde(default, deserialize_with = "nullable")]
    pub pools: Vec<IdRef>,
    /// L7 policy: its listener and the pool it redirects to.
    #[serde(default)]
    pub listener_id: Option<String>,
    #[serde(default)]
    pub redirect_pool_id: Option<String>,
    /// Firewall group: its policies and ports.
    #[serde(default)]
    pub ingress_firewall_policy_id: Option<String>,
    #[serde(default)]
    pub egress_firewall_policy_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<String>,
    /// Firewall policy: its rules.
    #[serde(default, deserialize_with = "nullable")]
    pub firewall_rules: Vec<String>,
    /// Firewall group: up or down (Neutron's default: up).
    #[serde(default)]
    pub admin_state_up: Option<bool>,
    /// Firewall rule: enabled (Neutron's default: yes) and its CIDRs.
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub source_ip_address: Option<String>,
    #[serde(default)]
    pub destination_ip_address: Option<String>,
    /// RBAC policy: the object it shares.
    #[serde(default)]
    pub object_type: Option<String>,
    #[serde(default)]
    pub object_id: Option<String>,
}

/// A project's quotas (only the project matters to the planner).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Quota {
    pub project_id: String,
}

/// A networking-l2gw connection: a gateway bridging a network.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct L2GatewayConnection {
    pub id: String,
    pub l2_gateway_id: String,
    pub network_id: String,
    #[serde(default)]
    pub segmentation_id: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Extension {
    pub alias: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct IdRef {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct LoadBalancer {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
    #[serde(default)]
    pub vip_subnet_id: Option<String>,
    #[serde(default)]
    pub vip_network_id: Option<String>,
    #[serde(default)]
    pub vip_port_id: Option<String>,
    #[serde(default)]
    pub vip_address: Option<String>,
    #[serde(default)]
    pub flavor_id: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Listener {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub default_pool_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub loadbalancers: Vec<IdRef>,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Pool {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub loadbalancers: Vec<IdRef>,
    #[serde(default, deserialize_with = "nullable")]
    pub listeners: Vec<IdRef>,
    #[serde(default, deserialize_with = "nullable")]
    pub project_id: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Member {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub address: String,
    #[serde(default)]
    pub subnet_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Flavor {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub flavor_profile_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct FlavorProfile {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// A JSON string such as `{"lb_size": "MEDIUM"}`.
    #[serde(default, deserialize_with = "nullable")]
    pub flavor_data: String,
}

// ---------------------------------------------------------------------------------------------
// NSX-V

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct VsmConfig {
    pub version: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppliancesSummary {
    #[serde(default)]
    pub appliance_size: Option<String>,
    #[serde(default)]
    pub number_of_deployed_vms: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub edge_type: String,
    #[serde(default)]
    pub edge_status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub appliances_summary: AppliancesSummary,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Appliance {
    #[serde(default)]
    pub vm_id: Option<String>,
    #[serde(default)]
    pub high_availability_index: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeAppliances {
    #[serde(default)]
    pub appliance_size: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub appliances: Vec<Appliance>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServer {
    #[serde(default, deserialize_with = "nullable")]
    pub virtual_server_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub default_pool_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeVirtualServers {
    #[serde(default, deserialize_with = "nullable")]
    pub virtual_server: Vec<VirtualServer>,
}

/// An edge interface (DLR `interfaces`) or vNIC (ESG `vnics`): what it connects to.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EdgeInterface {
    #[serde(default)]
    pub connected_to_id: Option<String>,
    #[serde(default)]
    pub portgroup_id: Option<String>,
    #[serde(default)]
    pub index: Option<u32>,
    /// `uplink`, `internal`, `trunk`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub is_connected: Option<bool>,
    /// `{addressGroups: [{primaryAddress, ...}]}`.
    #[serde(default)]
    pub address_groups: Option<Value>,
}

impl EdgeInterface {
    /// The primary addresses of its address groups.
    pub fn primary_addresses(&self) -> Vec<&str> {
        self.address_groups
            .as_ref()
            .and_then(|g| g.get("addressGroups"))
            .and_then(Value::as_array)
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|g| g.get("primaryAddress").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct EdgeInterfaces {
    #[serde(default, alias = "vnics", deserialize_with = "nullable")]
    pub interfaces: Vec<EdgeInterface>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VirtualWire {
    pub object_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub vdn_id: Option<String>,
    #[serde(default)]
    pub tenant_id: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// vCenter

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Cluster {
    pub cluster: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default)]
    pub ha_enabled: Option<bool>,
    #[serde(default)]
    pub drs_enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Host {
    pub host: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub connection_state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub power_state: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Vm {
    pub vm: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub power_state: String,
}

// ---------------------------------------------------------------------------------------------
// VIO control plane and the operator's files

/// One `Neutron` custom resource: its name and which plugins its manifests enable.
#[derive(Debug, Clone, PartialEq)]
pub struct NeutronCr {
    pub name: String,
    pub manifests: BTreeMap<String, bool>,
}

/// One option of `nsx.ini`, with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct IniOption {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// One section of `nsx.ini`.
#[derive(Debug, Clone, PartialEq)]
pub struct IniSection {
    pub name: String,
    pub line: usize,
    pub options: Vec<IniOption>,
}

/// `nsx.ini` as oslo.config reads it: `[section]` headers, `key = value` or `key: value`,
/// `#`/`;` comments, indented continuation lines; a repeated option's last value wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NsxIni {
    pub sections: Vec<IniSection>,
}

impl NsxIni {
    /// Parse `text`; `path` only names the file in errors. A password option must hold a
    /// `secret-ref:` reference (or be empty): a snapshot never holds a credential.
    pub fn parse(text: &str, path: &Path) -> Result<NsxIni, PlanError> {
        let err = |line: usize, message: String| PlanError::Ini {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut ini = NsxIni::default();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                // A continuation of the previous option's value.
                let Some(opt) = ini.sections.last_mut().and_then(|s| s.options.last_mut()) else {
                    return Err(err(line, "indented line with no option before it".into()));
                };
                opt.value.push('\n');
                opt.value.push_str(trimmed);
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let Some(name) = rest.strip_suffix(']') else {
                    return Err(err(line, "section header without a closing `]`".into()));
                };
                let name = name.trim();
                if name.is_empty() {
                    return Err(err(line, "empty section name".into()));
                }
                ini.sections.push(IniSection {
                    name: name.to_string(),
                    line,
                    options: Vec::new(),
                });
                continue;
            }
            let sep = match (trimmed.find('='), trimmed.find(':')) {
                (Some(e), Some(c)) => e.min(c),
                (Some(e), None) => e,
                (None, Some(c)) => c,
                (None, None) => {
                    return Err(err(
                        line,
                        "neither a section header nor `option = value`".into(),
                    ));
                }
            };
            let key = trimmed[..sep].trim();
            let value = trimmed[sep + 1..].trim();
            if key.is_empty() {
                return Err(err(line, "option without a name".into()));
            }
            let Some(section) = ini.sections.last_mut() else {
                return Err(err(line, format!("option `{key}` before any [section]")));
            };
            if is_secret_option(key) && !value.is_empty() && !value.starts_with(SECRET_REF) {
                return Err(err(
                    line,
                    format!(
                        "[{}] {key} holds a value that is not a `secret-ref:` reference \
                         (a snapshot never holds a credential)",
                        section.name
                    ),
                ));
            }
            section.options.retain(|o| o.key != key);
            section.options.push(IniOption {
                key: key.to_string(),
                value: value.to_string(),
                line,
            });
        }
        Ok(ini)
    }

    pub fn section(&self, name: &str) -> Option<&IniSection> {
        // A repeated section adds to the first one in oslo.config; the last definition of an
        // option wins, which `get` honours by searching from the end.
        self.sections.iter().find(|s| s.name == name)
    }

    /// An option's value and line (the last definition, across repeated sections).
    pub fn get(&self, section: &str, key: &str) -> Option<&IniOption> {
        self.sections
            .iter()
            .rev()
            .filter(|s| s.name == section)
            .find_map(|s| s.options.iter().find(|o| o.key == key))
    }

    /// The availability-zone sections, `[az:<name>]`, by zone name.
    pub fn az_sections(&self) -> impl Iterator<Item = (&str, &IniSection)> {
        self.sections
            .iter()
            .filter_map(|s| s.name.strip_prefix("az:").map(|az| (az.trim(), s)))
    }

    /// The canonical form the fingerprint covers: sections and options, without comments,
    /// spacing or order.
    fn canonical(&self) -> Value {
        let mut out = serde_json::Map::new();
        for s in &self.sections {
            let entry = out
                .entry(s.name.clone())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Value::Object(m) = entry {
                for o in &s.options {
                    m.insert(o.key.clone(), Value::String(o.value.clone()));
                }
            }
        }
        Value::Object(out)
    }
}

/// `migrator.conf.json`: the keys of reference vio-v2t.md section 8; unknown keys are kept.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct MigratorConf {
    #[serde(default)]
    pub strict_validation: Option<bool>,
    #[serde(default)]
    pub edge_migration: Option<bool>,
    #[serde(default)]
    pub host_migration: Option<bool>,
    #[serde(default)]
    pub edge_migration_interfaces_down: Option<bool>,
    #[serde(default)]
    pub post_migration_cleanup: Option<bool>,
    #[serde(default)]
    pub rollback: Option<bool>,
    /// Minutes.
    #[serde(default)]
    pub nsxv_token_lifetime: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub compute_clusters: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub nsx_manager_ips: Vec<String>,
    #[serde(default)]
    pub nsx_manager_user: Option<String>,
    #[serde(default)]
    pub metadata_proxy: Option<String>,
    #[serde(default)]
    pub dhcp_profile: Option<String>,
    #[serde(default)]
    pub default_overlay_tz: Option<String>,
    #[serde(default)]
    pub default_vlan_tz: Option<String>,
    #[serde(default)]
    pub default_tier0_router: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub availability_zones: Vec<Value>,
    /// External network id → tier-0 id.
    #[serde(default, deserialize_with = "nullable")]
    pub external_networks_map: BTreeMap<String, String>,
    #[serde(default)]
    pub transit_network: Option<String>,
    #[serde(default)]
    pub advanced_router_validation: Option<bool>,
    /// Every other key, kept as written.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// The destination NSX

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Tag {
    #[serde(default, deserialize_with = "nullable")]
    pub scope: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tag: String,
}

/// A Policy (or Manager) object of the destination: the fields the checks resolve by.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct NsxObject {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    /// An edge cluster member's transport node id.
    #[serde(default)]
    pub nsx_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub resource_type: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<Tag>,
    /// Transport zones: `OVERLAY_BACKED`, `VLAN_BACKED`, ...
    #[serde(default)]
    pub tz_type: Option<String>,
    /// Locale services, DHCP server configs, metadata proxies.
    #[serde(default)]
    pub edge_cluster_path: Option<String>,
    /// Compute managers.
    #[serde(default)]
    pub server: Option<String>,
    #[serde(default)]
    pub origin_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TzEndpoint {
    pub transport_zone_id: String,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct HostSwitch {
    #[serde(default, deserialize_with = "nullable")]
    pub transport_zone_endpoints: Vec<TzEndpoint>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct HostSwitchSpec {
    #[serde(default, deserialize_with = "nullable")]
    pub host_switches: Vec<HostSwitch>,
}

/// An edge transport node (Manager API `GET /api/v1/transport-nodes/<id>`): the transport zones
/// it is in, listed at the top (`transport_zone_endpoints`, NSX 2.x and 3.x) or per host switch
/// (`host_switch_spec.host_switches[].transport_zone_endpoints`, where later versions keep them).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TransportNode {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub transport_zone_endpoints: Vec<TzEndpoint>,
    #[serde(default, deserialize_with = "nullable")]
    pub host_switch_spec: HostSwitchSpec,
}

impl TransportNode {
    /// The Manager ids of its transport zones, wherever they are listed.
    pub fn transport_zone_ids(&self) -> impl Iterator<Item = &str> {
        self.transport_zone_endpoints
            .iter()
            .chain(
                self.host_switch_spec
                    .host_switches
                    .iter()
                    .flat_map(|h| &h.transport_zone_endpoints),
            )
            .map(|e| e.transport_zone_id.as_str())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct InterfaceSubnet {
    #[serde(default, deserialize_with = "nullable")]
    pub ip_addresses: Vec<String>,
    pub prefix_len: u8,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Tier0Interface {
    pub id: String,
    #[serde(rename = "type", default)]
    pub interface_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub subnets: Vec<InterfaceSubnet>,
}

// ---------------------------------------------------------------------------------------------
// The snapshot

/// A fingerprinted source of the snapshot, for the plan's `[[inputs]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFingerprint {
    /// `openstack`, `nsxv`, `vcenter`, `vio`, `nsx`.
    pub name: &'static str,
    pub sha256: String,
    pub objects: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Neutron {
    pub networks: Vec<Network>,
    pub subnets: Vec<Subnet>,
    pub ports: Vec<Port>,
    pub routers: Vec<Router>,
    pub floatingips: Vec<FloatingIp>,
    pub security_groups: Vec<SecurityGroup>,
    pub qos_policies: Vec<QosPolicy>,
    pub firewall_groups: Vec<Named>,
    pub firewall_policies: Vec<Named>,
    pub firewall_rules: Vec<Named>,
    pub subnetpools: Vec<Named>,
    pub rbac_policies: Vec<Named>,
    pub quotas: Vec<Quota>,
    pub extensions: Vec<Extension>,
    /// networking-l2gw gateways (`neutron/l2-gateways.json`, key `l2_gateways`), when the
    /// snapshot lists them; `None` when it has no such file.
    pub l2_gateways: Option<Vec<Named>>,
    /// Their connections to networks (`neutron/l2-gateway-connections.json`, key
    /// `l2_gateway_connections`); empty when the snapshot has no such file.
    pub l2_gateway_connections: Vec<L2GatewayConnection>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Octavia {
    pub loadbalancers: Vec<LoadBalancer>,
    pub listeners: Vec<Listener>,
    pub pools: Vec<Pool>,
    /// By pool id.
    pub members: BTreeMap<String, Vec<Member>>,
    pub healthmonitors: Vec<Named>,
    pub l7policies: Vec<Named>,
    pub flavors: Vec<Flavor>,
    pub flavorprofiles: Vec<FlavorProfile>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Nsxv {
    pub version: String,
    pub edges: Vec<Edge>,
    /// By edge id.
    pub edge_appliances: BTreeMap<String, EdgeAppliances>,
    /// By edge id.
    pub edge_virtualservers: BTreeMap<String, EdgeVirtualServers>,
    /// DLR interfaces and ESG vNICs, by edge id.
    pub edge_interfaces: BTreeMap<String, EdgeInterfaces>,
    pub virtualwires: Vec<VirtualWire>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vcenter {
    pub clusters: Vec<Cluster>,
    pub hosts: Vec<Host>,
    /// Host ids by cluster id.
    pub hosts_by_cluster: BTreeMap<String, Vec<String>>,
    pub vms: Vec<Vm>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vio {
    pub neutron_crs: Vec<NeutronCr>,
    pub nsx_ini: Option<NsxIni>,
    pub migrator_conf: Option<MigratorConf>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Destination {
    pub compute_managers: Vec<NsxObject>,
    pub transport_zones: Vec<NsxObject>,
    pub edge_clusters: Vec<NsxObject>,
    /// Edge node ids by edge cluster id.
    pub edge_cluster_nodes: BTreeMap<String, Vec<NsxObject>>,
    pub tier0s: Vec<NsxObject>,
    /// By tier-0 id.
    pub tier0_locale_services: BTreeMap<String, Vec<NsxObject>>,
    /// By `<tier-0 id>/<locale service id>`.
    pub tier0_interfaces: BTreeMap<String, Vec<Tier0Interface>>,
    pub dhcp_server_configs: Vec<NsxObject>,
    pub metadata_proxies: Vec<NsxObject>,
    pub neutron_owned: Vec<NsxObject>,
    /// The edge-cluster members' transport nodes (`nsx/edge-transport-nodes.json`); `None` for
    /// a snapshot without the file (collected before it was read).
    pub edge_transport_nodes: Option<Vec<TransportNode>>,
    /// The migration coordinator service on the manager the snapshot was collected from
    /// (`nsx/coordinator-status.json`); `None` for a snapshot without the file.
    pub coordinator_status: Option<ServiceStatus>,
}

/// An NSX node service's status (`GET /api/v1/node/services/<service>/status`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ServiceStatus {
    pub runtime_state: String,
}

/// A `vio-v2t` snapshot, read-only.
#[derive(Debug, Clone, PartialEq)]
pub struct VioSnapshot {
    pub root: PathBuf,
    pub metadata: VioMetadata,
    pub projects: Vec<Project>,
    pub neutron: Neutron,
    pub octavia: Octavia,
    pub nsxv: Nsxv,
    pub vcenter: Vcenter,
    pub vio: Vio,
    pub nsx: Destination,
    /// One per source, in the order above.
    pub fingerprints: Vec<SourceFingerprint>,
}

/// The files each folder may hold (anything else is refused).
const KNOWN: &[(&str, &[&str])] = &[
    ("keystone", &["projects.json"]),
    (
        "neutron",
        &[
            "networks.json",
            "subnets.json",
            "ports.json",
            "routers.json",
            "floatingips.json",
            "security-groups.json",
            "qos-policies.json",
            "firewall-groups.json",
            "firewall-policies.json",
            "firewall-rules.json",
            "subnetpools.json",
            "quotas.json",
            "rbac-policies.json",
            "availability-zones.json",
            "extensions.json",
            "l2-gateways.json",
            "l2-gateway-connections.json",
        ],
    ),
    (
        "octavia",
        &[
            "loadbalancers.json",
            "listeners.json",
            "pools.json",
            "members.json",
            "healthmonitors.json",
            "l7policies.json",
            "l7rules.json",
            "flavors.json",
            "flavorprofiles.json",
        ],
    ),
    (
        "nsxv",
        &[
            "vsmconfig.json",
            "edges.json",
            "edge-details.json",
            "edge-vnics.json",
            "edge-interfaces.json",
            "edge-appliances.json",
            "edge-virtualservers.json",
            "virtualwires.json",
            "scopingobjects.xml",
        ],
    ),
    (
        "vcenter",
        &[
            "clusters.json",
            "hosts.json",
            "hosts-by-cluster.json",
            "vms.json",
            "vms-by-host.json",
        ],
    ),
    (
        "vio",
        &[
            "neutron-cr.json",
            "viosecrets.json",
            "nsx.ini",
            "migrator.conf.json",
        ],
    ),
    (
        "nsx",
        &[
            "compute-managers.json",
            "transport-zones.json",
            "edge-clusters.json",
            "edge-cluster-nodes.json",
            "tier-0s.json",
            "tier-0-locale-services.json",
            "tier-0-interfaces.json",
            "dhcp-server-configs.json",
            "metadata-proxies.json",
            "neutron-owned.json",
            "edge-transport-nodes.json",
            "coordinator-status.json",
        ],
    ),
];

#[derive(Deserialize)]
struct CrMeta {
    name: String,
}

#[derive(Deserialize, Default)]
struct CrSpec {
    #[serde(default, deserialize_with = "nullable")]
    manifests: BTreeMap<String, bool>,
}

#[derive(Deserialize)]
struct CrItem {
    metadata: CrMeta,
    #[serde(default, deserialize_with = "nullable")]
    spec: CrSpec,
}

#[derive(Deserialize, Default)]
struct SecretSpec {
    #[serde(default, deserialize_with = "nullable")]
    data: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SecretItem {
    #[serde(default, deserialize_with = "nullable")]
    spec: SecretSpec,
}

/// Reads one snapshot, collecting each source's fingerprint parts.
struct Reader<'a> {
    root: &'a Path,
    parts: Vec<String>,
}

/// A JSON pointer from a serde_path_to_error path, under `base`.
fn pointer_of(base: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = base.to_string();
    for seg in path.iter() {
        p.push('/');
        match seg {
            Segment::Seq { index } => p.push_str(&index.to_string()),
            Segment::Map { key } => p.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => p.push_str(variant),
            Segment::Unknown => p.push('?'),
        }
    }
    p
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl<'a> Reader<'a> {
    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The file's JSON, or `None` when it is absent.
    fn json(&self, rel: &str, required: bool) -> Result<Option<Value>, PlanError> {
        let path = self.path(rel);
        if !path.exists() {
            if required {
                return Err(bad(&path, "", "required file is missing"));
            }
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    fn typed<T: DeserializeOwned>(
        &self,
        rel: &str,
        pointer: &str,
        v: &Value,
    ) -> Result<T, PlanError> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let at = pointer_of(pointer, e.path());
            bad(&self.path(rel), at, e.into_inner().to_string())
        })
    }

    /// A list file: the array at `at` (a chain of keys), each item typed, its `id_field`
    /// unique, and each item a fingerprint part.
    fn list<T: DeserializeOwned>(
        &mut self,
        rel: &str,
        at: &[&str],
        id_field: &str,
    ) -> Result<Vec<T>, PlanError> {
        let Some(v) = self.json(rel, false)? else {
            return Ok(Vec::new());
        };
        self.list_in(rel, &v, at, id_field)
    }

    fn list_in<T: DeserializeOwned>(
        &mut self,
        rel: &str,
        v: &Value,
        at: &[&str],
        id_field: &str,
    ) -> Result<Vec<T>, PlanError> {
        let mut node = v;
        let mut pointer = String::new();
        for key in at {
            pointer.push('/');
            pointer.push_str(&escape(key));
            node = node
                .get(key)
                .ok_or_else(|| bad(&self.path(rel), pointer.clone(), "missing"))?;
        }
        let items = node
            .as_array()
            .ok_or_else(|| bad(&self.path(rel), pointer.clone(), "not an array"))?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            // An id of several fields (`resource+name`) is joined with `/`.
            let mut id = String::new();
            for field in id_field.split('+') {
                let Some(part) = item.get(field).and_then(Value::as_str) else {
                    return Err(bad(
                        &self.path(rel),
                        format!("{at}/{field}"),
                        "missing or not a string",
                    ));
                };
                if !id.is_empty() {
                    id.push('/');
                }
                id.push_str(part);
            }
            let id = id.as_str();
            if !seen.insert(id.to_string()) {
                return Err(bad(
                    &self.path(rel),
                    at,
                    format!("{id_field} `{id}` is listed twice"),
                ));
            }
            self.parts
                .push(plan_schema::fingerprint::nsx_part(rel, id, item));
            out.push(self.typed(rel, &at, item)?);
        }
        Ok(out)
    }

    /// A keyed file: an object whose values are each parent's body.
    fn keyed(&mut self, rel: &str) -> Result<Vec<(String, Value)>, PlanError> {
        let Some(v) = self.json(rel, false)? else {
            return Ok(Vec::new());
        };
        let Value::Object(map) = v else {
            return Err(bad(&self.path(rel), "", "not an object keyed by parent id"));
        };
        let mut out = Vec::with_capacity(map.len());
        for (k, body) in map {
            self.parts
                .push(plan_schema::fingerprint::nsx_part(rel, &k, &body));
            out.push((k, body));
        }
        Ok(out)
    }

    /// A keyed file whose bodies are typed as `T`.
    fn keyed_typed<T: DeserializeOwned>(
        &mut self,
        rel: &str,
    ) -> Result<BTreeMap<String, T>, PlanError> {
        let mut out = BTreeMap::new();
        for (k, body) in self.keyed(rel)? {
            let t = self.typed(rel, &format!("/{}", escape(&k)), &body)?;
            out.insert(k, t);
        }
        Ok(out)
    }

    /// A keyed file whose bodies are lists under `key` (`{"results": [...]}`).
    fn keyed_lists<T: DeserializeOwned>(
        &mut self,
        rel: &str,
        key: &str,
        id_field: &str,
    ) -> Result<BTreeMap<String, Vec<T>>, PlanError> {
        let mut out = BTreeMap::new();
        for (k, body) in self.keyed(rel)? {
            let saved = self.parts.len();
            let items = self
                .list_in(rel, &body, &[key], id_field)
                .map_err(|e| match e {
                    PlanError::Snapshot {
                        path,
                        pointer,
                        message,
                    } => PlanError::Snapshot {
                        path,
                        pointer: format!("/{}{pointer}", escape(&k)),
                        message,
                    },
                    other => other,
                })?;
            // The keyed body is already one part; its items are not counted twice.
            self.parts.truncate(saved);
            out.insert(k, items);
        }
        Ok(out)
    }

    /// A Kubernetes list (`kind` one of `kinds`), items by `metadata.name`, each a part.
    fn k8s_list<T: DeserializeOwned>(
        &mut self,
        rel: &str,
        v: &Value,
        kinds: &[&str],
    ) -> Result<Vec<T>, PlanError> {
        let kind = v.get("kind").and_then(Value::as_str).unwrap_or_default();
        if !kinds.contains(&kind) {
            return Err(bad(
                &self.path(rel),
                "/kind",
                format!("`{kind}` is not one of {}", kinds.join(", ")),
            ));
        }
        let items = v
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| bad(&self.path(rel), "/items", "missing or not an array"))?;
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let at = format!("/items/{i}");
            let Some(name) = item.pointer("/metadata/name").and_then(Value::as_str) else {
                return Err(bad(
                    &self.path(rel),
                    format!("{at}/metadata/name"),
                    "missing or not a string",
                ));
            };
            if !seen.insert(name.to_string()) {
                return Err(bad(
                    &self.path(rel),
                    at,
                    format!("`{name}` is listed twice"),
                ));
            }
            self.parts
                .push(plan_schema::fingerprint::nsx_part(rel, name, item));
            out.push(self.typed(rel, &at, item)?);
        }
        Ok(out)
    }

    /// Close a source: its fingerprint over the parts read since the last one.
    fn finish(&mut self, name: &'static str) -> SourceFingerprint {
        let (sha256, objects) = plan_schema::fingerprint::combine(std::mem::take(&mut self.parts));
        SourceFingerprint {
            name,
            sha256,
            objects,
        }
    }
}

/// Unknown folders and files are refused; a README (or any file) next to metadata.json is not.
fn check_layout(root: &Path) -> Result<(), PlanError> {
    let entries = std::fs::read_dir(root).map_err(|cause| PlanError::Io {
        path: root.to_path_buf(),
        cause,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((_, files)) = KNOWN.iter().find(|(d, _)| *d == name) else {
            let known: Vec<&str> = KNOWN.iter().map(|(d, _)| *d).collect();
            return Err(bad(
                &path,
                "",
                format!("unknown snapshot folder (known: {})", known.join(", ")),
            ));
        };
        let inner = std::fs::read_dir(&path).map_err(|cause| PlanError::Io {
            path: path.clone(),
            cause,
        })?;
        for file in inner.flatten() {
            let fname = file.file_name().to_string_lossy().into_owned();
            if !files.contains(&fname.as_str()) {
                return Err(bad(
                    &file.path(),
                    "",
                    format!(
                        "unknown snapshot file (known in {name}/: {})",
                        files.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Password values in `migrator.conf.json` must be references.
fn check_json_secrets(
    v: &Value,
    pointer: &str,
    path: &Path,
    depth: usize,
) -> Result<(), PlanError> {
    if depth > 64 {
        return Err(bad(path, pointer, "nested too deeply"));
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{pointer}/{}", escape(k));
                if is_secret_option(k)
                    && let Some(s) = x.as_str()
                    && !s.is_empty()
                    && !s.starts_with(SECRET_REF)
                {
                    return Err(bad(
                        path,
                        p,
                        "holds a value that is not a `secret-ref:` reference (a snapshot never \
                         holds a credential)",
                    ));
                }
                check_json_secrets(x, &p, path, depth + 1)?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_json_secrets(x, &format!("{pointer}/{i}"), path, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}

impl VioSnapshot {
    /// Read the snapshot directory `root`.
    pub fn load(root: &Path) -> Result<VioSnapshot, PlanError> {
        let mut r = Reader {
            root,
            parts: Vec::new(),
        };
        let meta_value = r.json("metadata.json", true)?.unwrap_or(Value::Null);
        let metadata: VioMetadata = r.typed("metadata.json", "", &meta_value)?;
        let meta_path = root.join("metadata.json");
        if metadata.format != "nsx-migrate-inventory" {
            return Err(bad(
                &meta_path,
                "/format",
                "must be `nsx-migrate-inventory`",
            ));
        }
        if metadata.format_version != 1 {
            return Err(bad(
                &meta_path,
                "/format_version",
                format!(
                    "version {} is not supported (this build reads 1)",
                    metadata.format_version
                ),
            ));
        }
        if metadata.kind != "vio-v2t" {
            return Err(bad(
                &meta_path,
                "/kind",
                format!("`{}` is not a vio-v2t snapshot", metadata.kind),
            ));
        }
        check_layout(root)?;

        // OpenStack: Keystone, Neutron, Octavia.
        let projects = r.list("keystone/projects.json", &["projects"], "id")?;
        let mut neutron = Neutron {
            networks: r.list("neutron/networks.json", &["networks"], "id")?,
            subnets: r.list("neutron/subnets.json", &["subnets"], "id")?,
            ports: r.list("neutron/ports.json", &["ports"], "id")?,
            routers: r.list("neutron/routers.json", &["routers"], "id")?,
            floatingips: r.list("neutron/floatingips.json", &["floatingips"], "id")?,
            security_groups: r.list("neutron/security-groups.json", &["security_groups"], "id")?,
            qos_policies: r.list("neutron/qos-policies.json", &["policies"], "id")?,
            firewall_groups: r.list("neutron/firewall-groups.json", &["firewall_groups"], "id")?,
            firewall_policies: r.list(
                "neutron/firewall-policies.json",
                &["firewall_policies"],
                "id",
            )?,
            firewall_rules: r.list("neutron/firewall-rules.json", &["firewall_rules"], "id")?,
            subnetpools: r.list("neutron/subnetpools.json", &["subnetpools"], "id")?,
            rbac_policies: r.list("neutron/rbac-policies.json", &["rbac_policies"], "id")?,
            quotas: r.list("neutron/quotas.json", &["quotas"], "project_id")?,
            extensions: Vec::new(),
            l2_gateways: None,
            l2_gateway_connections: Vec::new(),
        };
        if r.path("neutron/l2-gateways.json").exists() {
            neutron.l2_gateways =
                Some(r.list("neutron/l2-gateways.json", &["l2_gateways"], "id")?);
        }
        neutron.l2_gateway_connections = r.list(
            "neutron/l2-gateway-connections.json",
            &["l2_gateway_connections"],
            "id",
        )?;
        let _: Vec<Value> = r.list(
            "neutron/availability-zones.json",
            &["availability_zones"],
            "resource+name",
        )?;
        neutron.extensions = r.list("neutron/extensions.json", &["extensions"], "alias")?;
        let mut octavia = Octavia {
            loadbalancers: r.list("octavia/loadbalancers.json", &["loadbalancers"], "id")?,
            listeners: r.list("octavia/listeners.json", &["listeners"], "id")?,
            pools: r.list("octavia/pools.json", &["pools"], "id")?,
            members: BTreeMap::new(),
            healthmonitors: r.list("octavia/healthmonitors.json", &["healthmonitors"], "id")?,
            l7policies: r.list("octavia/l7policies.json", &["l7policies"], "id")?,
            flavors: r.list("octavia/flavors.json", &["flavors"], "id")?,
            flavorprofiles: r.list("octavia/flavorprofiles.json", &["flavorprofiles"], "id")?,
        };
        octavia.members = r.keyed_lists("octavia/members.json", "members", "id")?;
        let _: BTreeMap<String, Vec<Value>> =
            r.keyed_lists("octavia/l7rules.json", "rules", "id")?;
        let openstack = r.finish("openstack");

        // NSX-V.
        let vsm = r.json("nsxv/vsmconfig.json", true)?.unwrap_or(Value::Null);
        let vsm_config: VsmConfig = r.typed("nsxv/vsmconfig.json", "", &vsm)?;
        r.parts.push(plan_schema::fingerprint::nsx_part(
            "nsxv/vsmconfig.json",
            "vsmconfig",
            &vsm,
        ));
        let mut nsxv = Nsxv {
            version: vsm_config.version,
            edges: r.list("nsxv/edges.json", &["edgePage", "data"], "id")?,
            edge_appliances: r.keyed_typed("nsxv/edge-appliances.json")?,
            edge_virtualservers: r.keyed_typed("nsxv/edge-virtualservers.json")?,
            edge_interfaces: BTreeMap::new(),
            virtualwires: Vec::new(),
        };
        r.keyed("nsxv/edge-details.json")?;
        for rel in ["nsxv/edge-vnics.json", "nsxv/edge-interfaces.json"] {
            let typed: BTreeMap<String, EdgeInterfaces> = r.keyed_typed(rel)?;
            nsxv.edge_interfaces.extend(typed);
        }
        nsxv.virtualwires = r.list("nsxv/virtualwires.json", &["dataPage", "data"], "objectId")?;
        let xml = root.join("nsxv/scopingobjects.xml");
        if xml.exists() {
            let text = std::fs::read_to_string(&xml).map_err(|cause| PlanError::Io {
                path: xml.clone(),
                cause,
            })?;
            r.parts.push(plan_schema::fingerprint::nsx_part(
                "nsxv/scopingobjects.xml",
                "scopingobjects",
                &Value::String(text),
            ));
        }
        let nsxv_fp = r.finish("nsxv");

        // vCenter.
        let mut hosts_by_cluster = BTreeMap::new();
        for (k, body) in r.keyed("vcenter/hosts-by-cluster.json")? {
            let hosts: Vec<Host> = r.typed(
                "vcenter/hosts-by-cluster.json",
                &format!("/{}", escape(&k)),
                &body,
            )?;
            hosts_by_cluster.insert(k, hosts.into_iter().map(|h| h.host).collect());
        }
        r.keyed("vcenter/vms-by-host.json")?;
        let vcenter = Vcenter {
            clusters: r.list("vcenter/clusters.json", &[], "cluster")?,
            hosts: r.list("vcenter/hosts.json", &[], "host")?,
            hosts_by_cluster,
            vms: r.list("vcenter/vms.json", &[], "vm")?,
        };
        let vcenter_fp = r.finish("vcenter");

        // VIO's control plane and the operator's files.
        let mut vio = Vio::default();
        let cr = r.json("vio/neutron-cr.json", true)?.unwrap_or(Value::Null);
        let items: Vec<CrItem> =
            r.k8s_list("vio/neutron-cr.json", &cr, &["NeutronList", "List"])?;
        vio.neutron_crs = items
            .into_iter()
            .map(|i| NeutronCr {
                name: i.metadata.name,
                manifests: i.spec.manifests,
            })
            .collect();
        if let Some(secrets) = r.json("vio/viosecrets.json", false)? {
            let items: Vec<SecretItem> =
                r.k8s_list("vio/viosecrets.json", &secrets, &["VIOSecretList", "List"])?;
            for (i, item) in items.iter().enumerate() {
                if let Some((key, _)) = item.spec.data.iter().find(|(_, v)| !v.is_empty()) {
                    return Err(bad(
                        &root.join("vio/viosecrets.json"),
                        format!("/items/{i}/spec/data/{}", escape(key)),
                        "a VIOSecret value is not empty (a snapshot never holds a credential)",
                    ));
                }
            }
        }
        let ini_path = root.join("vio/nsx.ini");
        if ini_path.exists() {
            let text = std::fs::read_to_string(&ini_path).map_err(|cause| PlanError::Io {
                path: ini_path.clone(),
                cause,
            })?;
            let ini = NsxIni::parse(&text, &ini_path)?;
            r.parts.push(plan_schema::fingerprint::nsx_part(
                "vio/nsx.ini",
                "nsx.ini",
                &ini.canonical(),
            ));
            vio.nsx_ini = Some(ini);
        }
        if let Some(conf) = r.json("vio/migrator.conf.json", false)? {
            let conf_path = root.join("vio/migrator.conf.json");
            if !conf.is_object() {
                return Err(bad(&conf_path, "", "not a JSON object"));
            }
            check_json_secrets(&conf, "", &conf_path, 0)?;
            vio.migrator_conf = Some(r.typed("vio/migrator.conf.json", "", &conf)?);
            r.parts.push(plan_schema::fingerprint::nsx_part(
                "vio/migrator.conf.json",
                "migrator.conf.json",
                &conf,
            ));
        }
        let vio_fp = r.finish("vio");

        // The destination NSX.
        let mut nsx = Destination {
            compute_managers: r.list("nsx/compute-managers.json", &["results"], "id")?,
            transport_zones: r.list("nsx/transport-zones.json", &["results"], "id")?,
            edge_clusters: r.list("nsx/edge-clusters.json", &["results"], "id")?,
            edge_cluster_nodes: r.keyed_lists("nsx/edge-cluster-nodes.json", "results", "id")?,
            tier0s: r.list("nsx/tier-0s.json", &["results"], "id")?,
            tier0_locale_services: r.keyed_lists(
                "nsx/tier-0-locale-services.json",
                "results",
                "id",
            )?,
            tier0_interfaces: r.keyed_lists("nsx/tier-0-interfaces.json", "results", "id")?,
            dhcp_server_configs: r.list("nsx/dhcp-server-configs.json", &["results"], "id")?,
            metadata_proxies: r.list("nsx/metadata-proxies.json", &["results"], "id")?,
            neutron_owned: r.list("nsx/neutron-owned.json", &["results"], "id")?,
            edge_transport_nodes: None,
            coordinator_status: None,
        };
        if let Some(v) = r.json("nsx/coordinator-status.json", false)? {
            nsx.coordinator_status = Some(r.typed("nsx/coordinator-status.json", "", &v)?);
            r.parts.push(plan_schema::fingerprint::nsx_part(
                "nsx/coordinator-status.json",
                "migration-coordinator",
                &v,
            ));
        }
        if r.path("nsx/edge-transport-nodes.json").exists() {
            nsx.edge_transport_nodes =
                Some(r.list("nsx/edge-transport-nodes.json", &["results"], "id")?);
        }
        let nsx_fp = r.finish("nsx");

        Ok(VioSnapshot {
            root: root.to_path_buf(),
            metadata,
            projects,
            neutron,
            octavia,
            nsxv,
            vcenter,
            vio,
            nsx,
            fingerprints: vec![openstack, nsxv_fp, vcenter_fp, vio_fp, nsx_fp],
        })
    }

    /// The plan's `[[inputs]]` for this snapshot, one per source.
    pub fn inputs(&self) -> Vec<plan_schema::Input> {
        self.fingerprints
            .iter()
            .map(|f| plan_schema::Input {
                name: f.name.to_string(),
                source: self.root.display().to_string(),
                sha256: f.sha256.clone(),
                objects: Some(f.objects),
            })
            .collect()
    }
}

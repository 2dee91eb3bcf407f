//! The per-migration-type table: one entry per CONSUMER type the simulator supports, saying where
//! its Manager object lives, what must be promoted before it, how it is promoted (which Policy
//! object is built, at which path, what else is marked or linked) and how rollback undoes it.
//!
//! To support a new type, add one entry here (in dependency rank) and its functions in `kinds/`.

use serde_json::Value;

use super::kinds::{self, ipam, lb, routing, security, switching};
use super::model::{Item, ResourceDetails};
use super::promote::Promotion;
use crate::state::State;

/// Pushes the (migration type, MP id) pairs an MP object depends on (unfiltered: the caller
/// keeps only existing, non-system objects, sorted and deduplicated).
pub type DepsFn = fn(&State, &Value, &mut Vec<(String, String)>);

/// Computes a Policy path that depends on other objects of the batch or already promoted:
/// (state, batch items, the item's details, the MP object, the Policy id) → path.
pub type PathFn = fn(&State, &[Item], &ResourceDetails, &Value, &str) -> Result<String, String>;

/// The (parent type, parent MP id) `migrated-resources` reports for a promoted object.
pub type ParentFn = fn(&State, &Value) -> (Option<String>, Option<String>);

/// Where the Manager object of a type is found, and which objects of that collection qualify.
pub enum Source {
    /// Any object of this Manager collection.
    Collection(&'static str),
    /// A logical router (`logical-routers`) with this `router_type`.
    Router(&'static str),
    /// A logical router port (`logical-router-ports`) whose router has this `router_type`.
    RouterPort(&'static str),
    /// A switching profile (`switching-profiles`) with this `resource_type`.
    SwitchingProfile(&'static str),
    /// A firewall section with its rules inlined.
    FirewallSection,
    /// An IP pool allocation (`allocation_id`), searched across pools; the `IPPOOL` linked id
    /// restricts the search to one pool.
    PoolAllocation,
}

impl Source {
    /// The collection an object of this source is marked in (the `kind` of a marker).
    pub fn collection(&self) -> Option<&'static str> {
        match self {
            Source::Collection(c) => Some(c),
            Source::Router(_) => Some("logical-routers"),
            Source::RouterPort(_) => Some("logical-router-ports"),
            Source::SwitchingProfile(_) => Some("switching-profiles"),
            Source::FirewallSection => Some("firewall-sections"),
            Source::PoolAllocation => None,
        }
    }
}

/// The `resource_type` of the promoted Policy intent.
pub enum PolicyType {
    Fixed(&'static str),
    /// Derived from the Manager object's `resource_type` (empty when it has none).
    FromManager(fn(&str) -> String),
}

/// The Policy path the promoted object lives at.
pub enum Target {
    /// `<prefix>/<policy id>`.
    Under(&'static str),
    /// Computed from the object and its (promoted or batched) parents.
    Computed(PathFn),
}

/// The time one rollback of this type takes (the undo itself is the same for every type: the
/// promotion [`Record`](super::model::Record) lists the intents it created, the fields it
/// patched and the Manager objects it marked, and [`undo`](super::rollback::undo) reverts them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rollback {
    /// `rollback_per_object`.
    PerObject,
    /// `rollback_per_object * rollback_dfw_factor` ("slow for firewall sections").
    Firewall,
}

/// One CONSUMER migration type.
pub struct TypeSpec {
    /// The type as the API spells it (`migration_data[].type`, `migrated-resources`).
    pub name: &'static str,
    /// Manager collection the object comes from.
    pub source: Source,
    /// What must be promoted before (or in the same batch as) this object.
    pub deps: DepsFn,
    /// `resource_type` of the Policy intent.
    pub policy_type: PolicyType,
    /// Path of the Policy intent.
    pub path: Target,
    /// Fills the type-specific fields of the intent and lists what else the promotion creates,
    /// links and marks (see [`Promotion`]).
    pub build: fn(&mut Promotion),
    /// The promotion marks the Manager object itself as Policy-owned (policyPath tag, owner
    /// `nsx_policy`, protection REQUIRE_OVERRIDE).
    pub marks_object: bool,
    /// The manager id names a router promoted under TIER0/TIER1: the router's policyPath marker
    /// does not mean this type was promoted already.
    pub keyed_by_router: bool,
    /// Parent reported by `migrated-resources`.
    pub parent: ParentFn,
    /// How long rolling it back takes.
    pub rollback: Rollback,
}

/// Supported CONSUMER types, in the dependency rank used to order promotion inside one batch.
pub static TYPES: &[TypeSpec] = &[
    TypeSpec {
        name: "IPBLOCK",
        source: Source::Collection("ip-blocks"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("IpAddressBlock"),
        path: Target::Under("/infra/ip-blocks"),
        build: ipam::ip_block,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "IPPOOL",
        source: Source::Collection("ip-pools"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("IpAddressPool"),
        path: Target::Under("/infra/ip-pools"),
        build: kinds::no_fields,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "IPBLOCK_SUBNET",
        source: Source::Collection("ip-block-subnets"),
        deps: ipam::ip_block_subnet_deps,
        policy_type: PolicyType::Fixed("IpAddressPoolBlockSubnet"),
        path: Target::Computed(ipam::ip_block_subnet_path),
        build: ipam::ip_block_subnet,
        marks_object: true,
        keyed_by_router: false,
        parent: ipam::ip_block_subnet_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "IPPOOL_ALLOCATION",
        source: Source::PoolAllocation,
        deps: ipam::ip_pool_allocation_deps,
        policy_type: PolicyType::Fixed("IpAddressAllocation"),
        path: Target::Computed(ipam::ip_pool_allocation_path),
        build: ipam::ip_pool_allocation,
        marks_object: false,
        keyed_by_router: false,
        parent: ipam::ip_pool_allocation_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "TIER0",
        source: Source::Router("TIER0"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("Tier0"),
        path: Target::Under("/infra/tier-0s"),
        build: routing::tier0,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "TIER1",
        source: Source::Router("TIER1"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("Tier1"),
        path: Target::Under("/infra/tier-1s"),
        build: kinds::no_fields,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "SPOOFGUARD_PROFILES",
        source: Source::SwitchingProfile("SpoofGuardSwitchingProfile"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("SpoofGuardProfile"),
        path: Target::Under("/infra/spoofguard-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "MACDISCOVERY_PROFILES",
        source: Source::SwitchingProfile("MacManagementSwitchingProfile"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("MacDiscoveryProfile"),
        path: Target::Under("/infra/mac-discovery-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "SEGMENT_SECURITY_PROFILES",
        source: Source::SwitchingProfile("SwitchSecuritySwitchingProfile"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("SegmentSecurityProfile"),
        path: Target::Under("/infra/segment-security-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "QOS_PROFILES",
        source: Source::SwitchingProfile("QosSwitchingProfile"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("QoSProfile"),
        path: Target::Under("/infra/qos-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "IPDISCOVERY_PROFILES",
        source: Source::SwitchingProfile("IpDiscoverySwitchingProfile"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("IPDiscoveryProfile"),
        path: Target::Under("/infra/ip-discovery-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LOGICAL_SWITCH",
        source: Source::Collection("logical-switches"),
        deps: switching::logical_switch_deps,
        policy_type: PolicyType::Fixed("Segment"),
        path: Target::Under("/infra/segments"),
        build: switching::logical_switch,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LOGICAL_PORT",
        source: Source::Collection("logical-ports"),
        deps: switching::logical_port_deps,
        policy_type: PolicyType::Fixed("SegmentPort"),
        path: Target::Computed(switching::logical_port_path),
        build: switching::logical_port,
        marks_object: true,
        keyed_by_router: false,
        parent: switching::logical_port_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "TIER1_LOGICAL_ROUTER_PORT",
        source: Source::Router("TIER1"),
        deps: routing::tier1_router_port_deps,
        policy_type: PolicyType::Fixed("LocaleServices"),
        path: Target::Computed(routing::tier1_router_port_path),
        build: routing::tier1_router_port,
        marks_object: false,
        keyed_by_router: true,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "TIER0_LOGICAL_ROUTER_PORT",
        source: Source::RouterPort("TIER0"),
        deps: routing::tier0_router_port_deps,
        policy_type: PolicyType::Fixed("Tier0Interface"),
        path: Target::Computed(routing::tier0_router_port_path),
        build: routing::tier0_router_port,
        marks_object: true,
        keyed_by_router: false,
        parent: routing::tier0_router_port_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "TIER0_LOGICAL_ROUTER_CONFIG",
        source: Source::Router("TIER0"),
        deps: routing::tier0_router_config_deps,
        policy_type: PolicyType::Fixed("BgpRoutingConfig"),
        path: Target::Computed(routing::tier0_router_config_path),
        build: routing::tier0_router_config,
        marks_object: false,
        keyed_by_router: true,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "NAT",
        source: Source::Collection("nat-rules"),
        deps: routing::nat_deps,
        policy_type: PolicyType::Fixed("PolicyNatRule"),
        path: Target::Computed(routing::nat_path),
        build: routing::nat,
        marks_object: true,
        keyed_by_router: false,
        parent: routing::nat_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "IP_SET",
        source: Source::Collection("ip-sets"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("Group"),
        path: Target::Under("/infra/domains/default/groups"),
        build: security::ip_set,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "NS_GROUP",
        source: Source::Collection("ns-groups"),
        deps: security::ns_group_deps,
        policy_type: PolicyType::Fixed("Group"),
        path: Target::Under("/infra/domains/default/groups"),
        build: security::ns_group,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "CERTIFICATE",
        source: Source::Collection("certificates"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("TlsCertificate"),
        path: Target::Under("/infra/certificates"),
        build: lb::certificate,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_MONITOR",
        source: Source::Collection("lb-monitors"),
        deps: kinds::no_deps,
        policy_type: PolicyType::FromManager(lb::monitor_policy_type),
        path: Target::Under("/infra/lb-monitor-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_POOL",
        source: Source::Collection("lb-pools"),
        deps: lb::pool_deps,
        policy_type: PolicyType::Fixed("LBPool"),
        path: Target::Under("/infra/lb-pools"),
        build: lb::pool,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_PERSISTENCE_PROFILE",
        source: Source::Collection("lb-persistence-profiles"),
        deps: kinds::no_deps,
        policy_type: PolicyType::FromManager(lb::profile_policy_type),
        path: Target::Under("/infra/lb-persistence-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_APPLICATION_PROFILE",
        source: Source::Collection("lb-app-profiles"),
        deps: kinds::no_deps,
        policy_type: PolicyType::FromManager(lb::profile_policy_type),
        path: Target::Under("/infra/lb-app-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_CLIENT_SSL_PROFILE",
        source: Source::Collection("lb-client-ssl-profiles"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("LBClientSslProfile"),
        path: Target::Under("/infra/lb-client-ssl-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_SERVER_SSL_PROFILE",
        source: Source::Collection("lb-server-ssl-profiles"),
        deps: kinds::no_deps,
        policy_type: PolicyType::Fixed("LBServerSslProfile"),
        path: Target::Under("/infra/lb-server-ssl-profiles"),
        build: kinds::copy_config,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_VIRTUAL_SERVER",
        source: Source::Collection("lb-virtual-servers"),
        deps: lb::virtual_server_deps,
        policy_type: PolicyType::Fixed("LBVirtualServer"),
        path: Target::Under("/infra/lb-virtual-servers"),
        build: lb::virtual_server,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "LB_SERVICE",
        source: Source::Collection("lb-services"),
        deps: lb::service_deps,
        policy_type: PolicyType::Fixed("LBService"),
        path: Target::Under("/infra/lb-services"),
        build: lb::service,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::PerObject,
    },
    TypeSpec {
        name: "DFW_SECTION",
        source: Source::FirewallSection,
        deps: security::dfw_section_deps,
        policy_type: PolicyType::Fixed("SecurityPolicy"),
        path: Target::Under("/infra/domains/default/security-policies"),
        build: security::dfw_section,
        marks_object: true,
        keyed_by_router: false,
        parent: kinds::no_parent,
        rollback: Rollback::Firewall,
    },
];

/// The table entry of a migration type (None: unsupported).
pub fn spec(t: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().find(|s| s.name == t)
}

/// Dependency rank of a type (promotion order inside a batch); `usize::MAX` when unsupported.
pub fn rank(t: &str) -> usize {
    TYPES.iter().position(|s| s.name == t).unwrap_or(usize::MAX)
}

/// The migration type of a switching profile `resource_type`.
pub fn profile_type(resource_type: &str) -> Option<&'static str> {
    TYPES.iter().find_map(|s| match s.source {
        Source::SwitchingProfile(rt) if rt == resource_type => Some(s.name),
        _ => None,
    })
}

impl TypeSpec {
    /// The Policy `resource_type` for a Manager object of this type.
    pub fn policy_type(&self, obj: &Value) -> String {
        match self.policy_type {
            PolicyType::Fixed(t) => t.to_string(),
            PolicyType::FromManager(f) => f(obj
                .get("resource_type")
                .and_then(Value::as_str)
                .unwrap_or("")),
        }
    }
}

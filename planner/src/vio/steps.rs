//! The VIO plan's steps and their dependencies (reference vio-v2t-anchors.md sections 1.2, 3.3,
//! 4.1 and 6.3), before ordering.
//!
//! Granularity: a create is one Neutron bulk POST of at most `plan.replay_batch_size` objects of
//! one project (a bulk request is single-tenant) and, where a dependency needs it, of one parent
//! (security group rules per group, subnets and ports per network, members per pool); a change
//! of one existing object (a gateway, an interface, DHCP on, routes, quotas) is one PUT. Every
//! edge-preparation action and every coordinator run is a step of its own.
//!
//! Dependencies are the objects' real references, recorded per step as the steps that create
//! what it names; [`crate::vio::ordering`] sorts them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

use plan_schema::vio::{
    Action, ApiReplay, CleanupTarget, EdgeCutover, EdgeInterfacesDown, EdgeMapping,
    EdgeMigrationConfig, EdgePowerOff, FeedbackResponse, HostMigration, NsxCleanupStale, NsxvToken,
    Phase, PostCleanup, ReplayObject, ReplayResource, RouterNogwFixup, RouterNogwRestore, StartBy,
    VioReconfig, VioTask,
};
use plan_schema::{Finding, KindAction, Severity};

use crate::vio::mapping;
use crate::vio::net::{Addr, Cidr};
use crate::vio::rules::{FeedbackRun, ForeseenPer, StartRule, VioRules};
use crate::vio::snapshot::{Network, Port, VioSnapshot};

/// A step before ordering.
pub struct Node {
    pub id: String,
    /// The replay's resource order (the tie-break after the phase).
    pub rank: u32,
    /// Tie-break within a rank (external networks and external-VIP LBs sort first).
    pub key: String,
    pub action: Action,
    /// Indexes of the nodes this one needs.
    pub deps: BTreeSet<usize>,
}

impl Node {
    pub fn action_phase(&self) -> Phase {
        self.action.phase()
    }
}

/// What the migrator's configuration decides, migrator.conf.json first, then the rules.
pub struct Switches {
    pub edge_migration: bool,
    pub host_migration: bool,
    pub interfaces_down: bool,
    pub post_cleanup: bool,
    pub rollback: bool,
    pub token_lifetime: u32,
}

impl Switches {
    pub fn new(snapshot: &VioSnapshot, rules: &VioRules) -> Switches {
        let conf = snapshot.vio.migrator_conf.as_ref();
        let p = &rules.plan;
        Switches {
            edge_migration: conf
                .and_then(|c| c.edge_migration)
                .unwrap_or(p.edge_migration),
            host_migration: conf
                .and_then(|c| c.host_migration)
                .unwrap_or(p.host_migration),
            interfaces_down: conf
                .and_then(|c| c.edge_migration_interfaces_down)
                .unwrap_or(p.edge_migration_interfaces_down),
            post_cleanup: conf
                .and_then(|c| c.post_migration_cleanup)
                .unwrap_or(p.post_migration_cleanup),
            rollback: conf.and_then(|c| c.rollback).unwrap_or(p.rollback),
            token_lifetime: conf
                .and_then(|c| c.nsxv_token_lifetime)
                .and_then(|m| u32::try_from(m).ok())
                .filter(|m| (1..=1440).contains(m))
                .unwrap_or(p.nsxv_token_lifetime),
        }
    }
}

/// Ranks: the replay's order (anchors 1.2 / 6.3).
mod rank {
    pub const CLEANUP: u32 = 0;
    pub const QUOTA: u32 = 1;
    pub const SG: u32 = 2;
    pub const SG_RULE: u32 = 3;
    pub const QOS: u32 = 4;
    pub const DLR_NET: u32 = 5;
    pub const ROUTER: u32 = 6;
    pub const SUBNETPOOL: u32 = 7;
    pub const NETWORK: u32 = 8;
    pub const SUBNET: u32 = 9;
    pub const GATEWAY: u32 = 10;
    pub const IF_PORT: u32 = 11;
    pub const INTERFACE: u32 = 12;
    pub const PORT: u32 = 13;
    pub const DHCP: u32 = 14;
    pub const FIP: u32 = 15;
    pub const ROUTES: u32 = 16;
    pub const FW_RULE: u32 = 17;
    pub const FW_POLICY: u32 = 18;
    pub const FW_GROUP: u32 = 19;
    pub const LB: u32 = 20;
    pub const LISTENER: u32 = 21;
    pub const POOL: u32 = 22;
    pub const MEMBER: u32 = 23;
    pub const HM: u32 = 24;
    pub const L7: u32 = 25;
    pub const RBAC: u32 = 26;
    pub const AFTER: u32 = 100;
}

/// Port owners the replay does not create as ports (anchors 1.2): gateways (set on the router),
/// NSX-V LB ports, DHCP ports and floating IP ports.
const SKIPPED_OWNERS: &[&str] = &[
    "network:router_gateway",
    "neutron:LB",
    "network:dhcp",
    "network:floatingip",
];

pub(crate) fn is_interface_owner(owner: &str) -> bool {
    owner == "network:router_interface" || owner == "network:router_interface_distributed"
}

/// An object's id, by which the objects of a step are sorted: the plan does not depend on the
/// order the snapshot lists them in.
trait ObjId {
    fn obj_id(&self) -> &str;
}

macro_rules! obj_id {
    ($($t:ty),*) => {$(
        impl ObjId for &$t {
            fn obj_id(&self) -> &str {
                &self.id
            }
        }
    )*};
}
obj_id!(
    crate::vio::snapshot::SecurityGroup,
    crate::vio::snapshot::QosPolicy,
    crate::vio::snapshot::Router,
    crate::vio::snapshot::Named,
    crate::vio::snapshot::FloatingIp,
    crate::vio::snapshot::Listener,
    crate::vio::snapshot::Pool,
    Port
);

impl ObjId for (&str, &str, &Value) {
    fn obj_id(&self) -> &str {
        str_field(self.2, "id").unwrap_or("")
    }
}

impl ObjId for (String, &crate::vio::snapshot::Member) {
    fn obj_id(&self) -> &str {
        &self.1.id
    }
}

/// The steps of the whole migration, and the findings planning them raised.
pub struct Built {
    pub nodes: Vec<Node>,
    pub findings: Vec<Finding>,
}

struct B<'a> {
    snap: &'a VioSnapshot,
    rules: &'a VioRules,
    nodes: Vec<Node>,
    /// (resource, object id) → the node that creates or changes it.
    by_obj: HashMap<(ReplayResource, String), usize>,
    project_names: HashMap<&'a str, &'a str>,
    findings: Vec<Finding>,
}

impl<'a> B<'a> {
    fn push(&mut self, id: String, rank: u32, key: String, action: Action) -> usize {
        self.nodes.push(Node {
            id,
            rank,
            key,
            action,
            deps: BTreeSet::new(),
        });
        self.nodes.len() - 1
    }

    fn dep(&mut self, node: usize, res: ReplayResource, id: &str) {
        if let Some(&d) = self.by_obj.get(&(res, id.to_string()))
            && d != node
        {
            self.nodes[node].deps.insert(d);
        }
    }

    fn project(&self, id: &str) -> String {
        if id.is_empty() {
            "no-project".to_string()
        } else {
            id.to_string()
        }
    }

    /// One replay call per chunk; records which node replays each object.
    #[allow(clippy::too_many_arguments)]
    fn replay(
        &mut self,
        id: String,
        rank: u32,
        key: String,
        resource: ReplayResource,
        call: String,
        project_id: &str,
        objects: Vec<ReplayObject>,
        rewrites: Vec<String>,
    ) -> usize {
        let ids: Vec<String> = objects.iter().map(|o| o.id.clone()).collect();
        let n = self.push(
            id,
            rank,
            key,
            Action::ApiReplay(ApiReplay {
                resource,
                call,
                project_id: self.project(project_id),
                objects,
                rewrites,
            }),
        );
        for o in ids {
            self.by_obj.entry((resource, o)).or_insert(n);
        }
        n
    }

    /// Chunks of `items` grouped by `group`, in the order of first appearance of each group.
    fn chunks<T: ObjId, G: Ord + Clone>(
        &self,
        items: Vec<T>,
        group: impl Fn(&T) -> G,
    ) -> Vec<(G, usize, Vec<T>)> {
        let mut groups: BTreeMap<G, Vec<T>> = BTreeMap::new();
        for it in items {
            groups.entry(group(&it)).or_default().push(it);
        }
        let size = self.rules.plan.replay_batch_size.max(1);
        let mut out = Vec::new();
        for (g, mut list) in groups {
            list.sort_by(|a, b| a.obj_id().cmp(b.obj_id()));
            let mut part = 1;
            let mut it = list.into_iter().peekable();
            while it.peek().is_some() {
                let chunk: Vec<T> = it.by_ref().take(size).collect();
                out.push((g.clone(), part, chunk));
                part += 1;
            }
        }
        out
    }

    fn finding(&mut self, f: Finding) {
        self.findings.push(f);
    }
}

fn obj(id: &str, name: &str, paths: Vec<String>) -> ReplayObject {
    ReplayObject {
        id: id.to_string(),
        name: name.to_string(),
        policy_paths: paths,
    }
}

fn str_field<'v>(v: &'v Value, k: &str) -> Option<&'v str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A short name for a security group rule (they have none): direction, protocol, ports.
fn rule_name(r: &Value) -> String {
    let dir = str_field(r, "direction").unwrap_or("ingress");
    let proto = str_field(r, "protocol").unwrap_or("any");
    let ports = match (
        r.get("port_range_min").and_then(Value::as_u64),
        r.get("port_range_max").and_then(Value::as_u64),
    ) {
        (Some(a), Some(b)) if a == b => format!(" {a}"),
        (Some(a), Some(b)) => format!(" {a}-{b}"),
        _ => String::new(),
    };
    format!("{dir} {proto}{ports}")
}

fn start(s: StartRule) -> StartBy {
    match s {
        StartRule::Operator => StartBy::Operator,
        StartRule::Apply => StartBy::Apply,
    }
}

/// Every step of the migration of `snap`.
pub fn build(snap: &VioSnapshot, rules: &VioRules, sw: &Switches) -> Built {
    let mut b = B {
        snap,
        rules,
        nodes: Vec::new(),
        by_obj: HashMap::new(),
        project_names: snap
            .projects
            .iter()
            .map(|p| (p.id.as_str(), p.name.as_str()))
            .collect(),
        findings: Vec::new(),
    };
    let cleanup = stale_cleanup(&mut b, sw);
    replay(&mut b);
    // Every replay step without a dependency waits for the cleanup.
    if let Some(c) = cleanup {
        for n in 0..b.nodes.len() {
            if n != c && b.nodes[n].deps.is_empty() {
                b.nodes[n].deps.insert(c);
            }
        }
    }
    after_replay(&mut b, sw);
    Built {
        nodes: b.nodes,
        findings: b.findings,
    }
}

fn stale_cleanup(b: &mut B<'_>, sw: &Switches) -> Option<usize> {
    if !sw.rollback || b.snap.nsx.neutron_owned.is_empty() {
        return None;
    }
    // Reverse dependency order: children (longer paths) before their parents.
    let mut paths: Vec<String> = b
        .snap
        .nsx
        .neutron_owned
        .iter()
        .map(|o| {
            o.path
                .clone()
                .unwrap_or_else(|| format!("/infra/{}/{}", o.resource_type, o.id))
        })
        .collect();
    paths.sort_by(|a, c| {
        c.matches('/')
            .count()
            .cmp(&a.matches('/').count())
            .then(a.cmp(c))
    });
    paths.dedup();
    Some(b.push(
        "cleanup/stale-neutron-objects".into(),
        rank::CLEANUP,
        String::new(),
        Action::NsxCleanupStale(NsxCleanupStale {
            paths,
            reason: "Neutron-owned objects (os-api-version tag) are already on NSX and migrator.conf.json sets rollback: they are deleted before the replay".into(),
        }),
    ))
}

fn replay(b: &mut B<'_>) {
    let snap = b.snap;
    let n = &snap.neutron;
    let skip_projects: HashSet<&str> = snap
        .projects
        .iter()
        .filter(|p| b.rules.validation.skip_project_names.contains(&p.name))
        .map(|p| p.id.as_str())
        .collect();
    let networks: HashMap<&str, &Network> = n.networks.iter().map(|x| (x.id.as_str(), x)).collect();
    let is_external = |net: &str| networks.get(net).is_some_and(|x| x.external);

    // Quotas: one PUT per project.
    for q in &n.quotas {
        let name = b
            .project_names
            .get(q.project_id.as_str())
            .copied()
            .unwrap_or("");
        b.replay(
            format!("replay/quotas/{}", q.project_id),
            rank::QUOTA,
            String::new(),
            ReplayResource::Quota,
            format!("PUT /v2.0/quotas/{}", q.project_id),
            &q.project_id,
            vec![obj(&q.project_id, name, Vec::new())],
            Vec::new(),
        );
    }

    // Security groups, per project.
    let sgs: Vec<_> = n.security_groups.iter().collect();
    for (proj, part, chunk) in b.chunks(sgs, |s| s.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|s| obj(&s.id, &s.name, mapping::security_group(&s.id)))
            .collect();
        b.replay(
            format!("replay/security-groups/{}/{part}", b.project(&proj)),
            rank::SG,
            String::new(),
            ReplayResource::SecurityGroup,
            "POST /v2.0/security-groups".into(),
            &proj,
            objects,
            Vec::new(),
        );
    }
    // Their rules, per group and project, after every group they name.
    let mut rules_list: Vec<(&str, &str, &Value)> = Vec::new();
    for sg in &n.security_groups {
        for r in &sg.security_group_rules {
            let proj = str_field(r, "project_id")
                .or_else(|| str_field(r, "tenant_id"))
                .unwrap_or(sg.project_id.as_str());
            rules_list.push((sg.id.as_str(), proj, r));
        }
    }
    for ((sg, proj), part, chunk) in
        b.chunks(rules_list, |(sg, p, _)| (sg.to_string(), p.to_string()))
    {
        let objects = chunk
            .iter()
            .filter_map(|(_, _, r)| {
                let id = str_field(r, "id")?;
                // A protocol by name or by number.
                let has_protocol = str_field(r, "protocol").is_some()
                    || r.get("protocol").is_some_and(Value::is_number);
                Some(obj(
                    id,
                    &rule_name(r),
                    mapping::security_group_rule(&sg, id, has_protocol),
                ))
            })
            .collect::<Vec<_>>();
        if objects.is_empty() {
            continue;
        }
        let node = b.replay(
            format!("replay/security-group-rules/{sg}/{part}"),
            rank::SG_RULE,
            String::new(),
            ReplayResource::SecurityGroupRule,
            "POST /v2.0/security-group-rules".into(),
            &proj,
            objects,
            Vec::new(),
        );
        b.dep(node, ReplayResource::SecurityGroup, &sg);
        for (_, _, r) in &chunk {
            if let Some(remote) = str_field(r, "remote_group_id") {
                b.dep(node, ReplayResource::SecurityGroup, remote);
            }
        }
    }

    // QoS policies, per project.
    let qos: Vec<_> = n.qos_policies.iter().collect();
    for (proj, part, chunk) in b.chunks(qos, |q| q.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|q| obj(&q.id, &q.name, mapping::qos_policy(&q.id)))
            .collect();
        b.replay(
            format!("replay/qos-policies/{}/{part}", b.project(&proj)),
            rank::QOS,
            String::new(),
            ReplayResource::QosPolicy,
            "POST /v2.0/qos/policies".into(),
            &proj,
            objects,
            Vec::new(),
        );
    }

    // DLR transit networks, then routers (without gateway), per project.
    for r in n.routers.iter().filter(|r| r.distributed) {
        b.replay(
            format!("replay/dlr-transit-networks/{}", r.id),
            rank::DLR_NET,
            String::new(),
            ReplayResource::DlrTransitNetwork,
            "POST /v2.0/networks".into(),
            &r.project_id,
            vec![obj(
                &r.id,
                &format!("{} transit", if r.name.is_empty() { "router" } else { &r.name }),
                mapping::dlr_transit_network(&r.id),
            )],
            vec![format!(
                "the DLR-PLR transit network of router {} is created with the router's id and its virtual wire's VNI",
                r.id
            )],
        );
    }
    let routers: Vec<_> = n.routers.iter().collect();
    for (proj, part, chunk) in b.chunks(routers, |r| r.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|r| obj(&r.id, &r.name, mapping::router(&r.id)))
            .collect();
        let rewrites = if chunk.iter().any(|r| r.external_gateway_info.is_some()) {
            vec!["routers are created without external_gateway_info; the gateway is set once the external network exists".into()]
        } else {
            Vec::new()
        };
        let node = b.replay(
            format!("replay/routers/{}/{part}", b.project(&proj)),
            rank::ROUTER,
            String::new(),
            ReplayResource::Router,
            "POST /v2.0/routers".into(),
            &proj,
            objects,
            rewrites,
        );
        for r in chunk.iter().filter(|r| r.distributed) {
            b.dep(node, ReplayResource::DlrTransitNetwork, &r.id);
        }
    }

    // Subnet pools, per project (new ids).
    let pools: Vec<_> = n.subnetpools.iter().collect();
    for (proj, part, chunk) in b.chunks(pools, |p| p.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|p| obj(&p.id, &p.name, Vec::new()))
            .collect();
        b.replay(
            format!("replay/subnetpools/{}/{part}", b.project(&proj)),
            rank::SUBNETPOOL,
            String::new(),
            ReplayResource::Subnetpool,
            "POST /v2.0/subnetpools".into(),
            &proj,
            objects,
            vec!["subnet pools get new ids on the destination".into()],
        );
    }

    // Networks (external first), each with its subnets (DHCP off).
    let conf = snap.vio.migrator_conf.as_ref();
    let default_t0 = conf.and_then(|c| c.default_tier0_router.clone());
    let subnets_of: HashMap<&str, Vec<&crate::vio::snapshot::Subnet>> = {
        let mut m: HashMap<&str, Vec<_>> = HashMap::new();
        for s in &n.subnets {
            m.entry(s.network_id.as_str()).or_default().push(s);
        }
        m
    };
    let mut nets: Vec<&Network> = n.networks.iter().collect();
    nets.sort_by(|a, b| (!a.external, &a.id).cmp(&(!b.external, &b.id)));
    // The subnet whose DHCP is turned on after the ports: the first DHCP subnet of a
    // non-external network (later ones stay off: anchors 1.4).
    let mut dhcp_subnet: HashMap<&str, &crate::vio::snapshot::Subnet> = HashMap::new();
    for net in &nets {
        let ext_key = if net.external { "0" } else { "1" };
        let mut rewrites = Vec::new();
        if net.external {
            let t0 = conf
                .and_then(|c| c.external_networks_map.get(&net.id).cloned())
                .or_else(|| default_t0.clone())
                .unwrap_or_else(|| "the default tier-0".into());
            rewrites.push(format!(
                "external network {}: provider:physical_network set to tier-0 {t0}",
                net.id
            ));
        } else if matches!(net.network_type.as_deref(), Some("vxlan") | Some("flat")) {
            rewrites.push(format!(
                "network {}: provider fields of type {} are dropped",
                net.id,
                net.network_type.as_deref().unwrap_or("")
            ));
        } else if net.network_type.as_deref() == Some("vlan") && net.physical_network.is_some() {
            rewrites.push(format!(
                "network {}: VLAN id kept, physical_network replaced by the VLAN transport zone",
                net.id
            ));
        }
        let node = b.replay(
            format!("replay/networks/{}", net.id),
            rank::NETWORK,
            ext_key.into(),
            ReplayResource::Network,
            "POST /v2.0/networks".into(),
            &net.project_id,
            vec![obj(
                &net.id,
                &net.name,
                mapping::network(&net.id, net.external),
            )],
            rewrites,
        );
        if let Some(q) = &net.qos_policy_id {
            b.dep(node, ReplayResource::QosPolicy, q);
        }
        let mut subs = subnets_of.get(net.id.as_str()).cloned().unwrap_or_default();
        subs.sort_by(|a, b| a.id.cmp(&b.id));
        if subs.is_empty() {
            continue;
        }
        let mut rewrites = Vec::new();
        let mut first_dhcp = true;
        for s in subs.iter().filter(|s| s.enable_dhcp) {
            if net.external {
                rewrites.push(format!(
                    "subnet {}: DHCP stays off on an external network",
                    s.id
                ));
            } else if first_dhcp {
                first_dhcp = false;
                dhcp_subnet.insert(net.id.as_str(), s);
                rewrites.push(format!(
                    "subnet {}: created with enable_dhcp=false; DHCP is turned on after the network's ports exist",
                    s.id
                ));
            } else {
                rewrites.push(format!(
                    "subnet {}: DHCP stays off (only one DHCP subnet per network on NSX)",
                    s.id
                ));
            }
        }
        let objects = subs
            .iter()
            .map(|s| obj(&s.id, &s.name, mapping::subnet(&net.id, net.external)))
            .collect();
        let sn = b.replay(
            format!("replay/subnets/{}", net.id),
            rank::SUBNET,
            ext_key.into(),
            ReplayResource::Subnet,
            "POST /v2.0/subnets".into(),
            &net.project_id,
            objects,
            rewrites,
        );
        b.dep(sn, ReplayResource::Network, &net.id);
        for s in &subs {
            if let Some(p) = &s.subnetpool_id {
                b.dep(sn, ReplayResource::Subnetpool, p);
            }
        }
    }

    // Router gateways: after the external network and its subnets.
    for r in &n.routers {
        let Some(ext) = r.gateway_network() else {
            continue;
        };
        let snat = r
            .external_gateway_info
            .as_ref()
            .and_then(|g| g.enable_snat)
            .unwrap_or(true);
        let node = b.replay(
            format!("replay/router-gateways/{}", r.id),
            rank::GATEWAY,
            String::new(),
            ReplayResource::RouterGateway,
            format!("PUT /v2.0/routers/{}", r.id),
            &r.project_id,
            vec![obj(&r.id, &r.name, mapping::router_gateway(&r.id))],
            vec![format!(
                "router {}: external_gateway_info on network {ext}, enable_snat={snat}",
                r.id
            )],
        );
        b.dep(node, ReplayResource::Router, &r.id);
        b.dep(node, ReplayResource::Network, ext);
        for s in subnets_of.get(ext).into_iter().flatten() {
            b.dep(node, ReplayResource::Subnet, &s.id);
        }
    }

    // Router interfaces: the port (same id, MAC and IP), then add_router_interface.
    let routers_by_id: HashMap<&str, &crate::vio::snapshot::Router> =
        n.routers.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut interfaces_of_net: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut interfaces_of_router: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut interfaces_of_subnet: HashMap<&str, Vec<usize>> = HashMap::new();
    for p in n
        .ports
        .iter()
        .filter(|p| is_interface_owner(&p.device_owner))
    {
        if skip_projects.contains(p.project_id.as_str()) {
            continue;
        }
        let Some(net) = networks.get(p.network_id.as_str()) else {
            continue;
        };
        let pn = b.replay(
            format!("replay/interface-ports/{}", p.id),
            rank::IF_PORT,
            String::new(),
            ReplayResource::Port,
            "POST /v2.0/ports".into(),
            &p.project_id,
            vec![obj(&p.id, &p.name, mapping::interface_port())],
            Vec::new(),
        );
        for f in &p.fixed_ips {
            b.dep(pn, ReplayResource::Subnet, &f.subnet_id);
        }
        b.dep(pn, ReplayResource::Network, &p.network_id);
        let router = routers_by_id.get(p.device_id.as_str());
        let snat = router
            .and_then(|r| r.external_gateway_info.as_ref())
            .is_some_and(|g| g.network_id.is_some() && g.enable_snat.unwrap_or(true));
        let subnet_id = p
            .fixed_ips
            .first()
            .map(|f| f.subnet_id.as_str())
            .unwrap_or("");
        let vlan = net.network_type.as_deref() == Some("vlan");
        let node = b.replay(
            format!("replay/router-interfaces/{}", p.id),
            rank::INTERFACE,
            String::new(),
            ReplayResource::RouterInterface,
            format!("PUT /v2.0/routers/{}/add_router_interface", p.device_id),
            &p.project_id,
            vec![obj(
                &p.id,
                &p.name,
                mapping::router_interface(&p.device_id, &p.network_id, subnet_id, vlan, snat),
            )],
            Vec::new(),
        );
        b.nodes[node].deps.insert(pn);
        b.dep(node, ReplayResource::Router, &p.device_id);
        b.dep(node, ReplayResource::RouterGateway, &p.device_id);
        for f in &p.fixed_ips {
            b.dep(node, ReplayResource::Subnet, &f.subnet_id);
            interfaces_of_subnet
                .entry(f.subnet_id.as_str())
                .or_default()
                .push(node);
        }
        interfaces_of_net
            .entry(p.network_id.as_str())
            .or_default()
            .push(node);
        interfaces_of_router
            .entry(p.device_id.as_str())
            .or_default()
            .push(node);
    }

    // Ports, per network and project.
    let max_pairs = b.rules.ports.max_address_pairs;
    let ports: Vec<&Port> = n
        .ports
        .iter()
        .filter(|p| {
            !SKIPPED_OWNERS.contains(&p.device_owner.as_str())
                && !is_interface_owner(&p.device_owner)
                && !skip_projects.contains(p.project_id.as_str())
                && networks
                    .get(p.network_id.as_str())
                    .is_some_and(|x| !x.external)
        })
        .collect();
    let mut ports_of_net: HashMap<String, Vec<usize>> = HashMap::new();
    for ((net, proj), part, chunk) in
        b.chunks(ports, |p| (p.network_id.clone(), p.project_id.clone()))
    {
        let mut rewrites = Vec::new();
        for p in &chunk {
            if p.allowed_address_pairs.len() > max_pairs {
                rewrites.push(format!(
                    "port {}: {} allowed address pairs cut to the first {max_pairs}",
                    p.id,
                    p.allowed_address_pairs.len()
                ));
            }
            if p.mac_learning_enabled == Some(true) && p.port_security_enabled != Some(false) {
                rewrites.push(format!(
                    "port {}: MAC learning with port security: port security turned off, security groups dropped",
                    p.id
                ));
            }
        }
        let objects = chunk
            .iter()
            .map(|p| obj(&p.id, &p.name, mapping::port(&p.network_id, &p.id)))
            .collect();
        let node = b.replay(
            format!("replay/ports/{net}/{}/{part}", b.project(&proj)),
            rank::PORT,
            String::new(),
            ReplayResource::Port,
            "POST /v2.0/ports".into(),
            &proj,
            objects,
            rewrites,
        );
        b.dep(node, ReplayResource::Network, &net);
        for p in &chunk {
            for f in &p.fixed_ips {
                b.dep(node, ReplayResource::Subnet, &f.subnet_id);
            }
            for sg in &p.security_groups {
                b.dep(node, ReplayResource::SecurityGroup, sg);
            }
            if let Some(q) = &p.qos_policy_id {
                b.dep(node, ReplayResource::QosPolicy, q);
            }
        }
        for &i in interfaces_of_net.get(net.as_str()).into_iter().flatten() {
            b.nodes[node].deps.insert(i);
        }
        ports_of_net.entry(net.clone()).or_default().push(node);
    }

    // DHCP on, once the network's ports exist.
    let mut net_ports: HashMap<&str, Vec<&Port>> = HashMap::new();
    for p in &n.ports {
        net_ports.entry(p.network_id.as_str()).or_default().push(p);
    }
    for net in &nets {
        let Some(s) = dhcp_subnet.get(net.id.as_str()) else {
            continue;
        };
        let mut bound: Vec<&str> = net_ports
            .get(net.id.as_str())
            .into_iter()
            .flatten()
            .filter(|p| {
                // Router ports get no static binding (inferred: the plugin binds the ports
                // DHCP serves, not the router's own).
                !is_interface_owner(&p.device_owner)
                    && b.by_obj.contains_key(&(ReplayResource::Port, p.id.clone()))
                    && p.fixed_ips.iter().any(|f| f.subnet_id == s.id)
            })
            .map(|p| p.id.as_str())
            .collect();
        bound.sort();
        let node = b.replay(
            format!("replay/subnet-dhcp/{}", s.id),
            rank::DHCP,
            String::new(),
            ReplayResource::SubnetDhcp,
            format!("PUT /v2.0/subnets/{}", s.id),
            &s.project_id,
            vec![obj(
                &s.id,
                &s.name,
                mapping::subnet_dhcp(&net.id, s.ip_version, &bound),
            )],
            vec![format!(
                "subnet {}: enable_dhcp=true (and its host_routes)",
                s.id
            )],
        );
        b.dep(node, ReplayResource::Subnet, &s.id);
        for &i in ports_of_net.get(net.id.as_str()).into_iter().flatten() {
            b.nodes[node].deps.insert(i);
        }
        for &i in interfaces_of_net.get(net.id.as_str()).into_iter().flatten() {
            b.nodes[node].deps.insert(i);
        }
    }

    // Floating IPs, per project (new ids: their NAT rules' paths are known only after).
    let fips: Vec<_> = n.floatingips.iter().collect();
    for (proj, part, chunk) in b.chunks(fips, |f| f.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|f| obj(&f.id, &f.floating_ip_address, Vec::new()))
            .collect();
        let node = b.replay(
            format!("replay/floatingips/{}/{part}", b.project(&proj)),
            rank::FIP,
            String::new(),
            ReplayResource::Floatingip,
            "POST /v2.0/floatingips".into(),
            &proj,
            objects,
            vec!["floating IPs get new ids: their NAT rules (S-/D-<new id>) are known only after the replay".into()],
        );
        for f in &chunk {
            b.dep(node, ReplayResource::Network, &f.floating_network_id);
            if let Some(p) = &f.port_id {
                b.dep(node, ReplayResource::Port, p);
            }
            if let Some(r) = &f.router_id {
                b.dep(node, ReplayResource::RouterGateway, r);
            }
        }
    }

    // Static routes, after the router's interfaces.
    for r in n.routers.iter().filter(|r| !r.routes.is_empty()) {
        let routes: Vec<(&str, &str)> = r
            .routes
            .iter()
            .filter_map(|x| Some((str_field(x, "destination")?, str_field(x, "nexthop")?)))
            .collect();
        let node = b.replay(
            format!("replay/router-routes/{}", r.id),
            rank::ROUTES,
            String::new(),
            ReplayResource::RouterRoutes,
            format!("PUT /v2.0/routers/{}", r.id),
            &r.project_id,
            vec![obj(&r.id, &r.name, mapping::router_routes(&r.id, &routes))],
            vec![format!(
                "router {}: {} static route(s)",
                r.id,
                r.routes.len()
            )],
        );
        b.dep(node, ReplayResource::Router, &r.id);
        b.dep(node, ReplayResource::RouterGateway, &r.id);
        for &i in interfaces_of_router
            .get(r.id.as_str())
            .into_iter()
            .flatten()
        {
            b.nodes[node].deps.insert(i);
        }
    }

    // FWaaS: rules, policies, groups.
    let fw_rules: Vec<_> = n.firewall_rules.iter().collect();
    for (proj, part, chunk) in b.chunks(fw_rules, |x| x.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|x| obj(&x.id, &x.name, Vec::new()))
            .collect();
        b.replay(
            format!("replay/firewall-rules/{}/{part}", b.project(&proj)),
            rank::FW_RULE,
            String::new(),
            ReplayResource::FirewallRule,
            "POST /v2.0/fwaas/firewall_rules".into(),
            &proj,
            objects,
            Vec::new(),
        );
    }
    let fw_policies: Vec<_> = n.firewall_policies.iter().collect();
    for (proj, part, chunk) in b.chunks(fw_policies, |x| x.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|x| obj(&x.id, &x.name, Vec::new()))
            .collect();
        let node = b.replay(
            format!("replay/firewall-policies/{}/{part}", b.project(&proj)),
            rank::FW_POLICY,
            String::new(),
            ReplayResource::FirewallPolicy,
            "POST /v2.0/fwaas/firewall_policies".into(),
            &proj,
            objects,
            Vec::new(),
        );
        for x in &chunk {
            for r in &x.firewall_rules {
                b.dep(node, ReplayResource::FirewallRule, r);
            }
        }
    }
    let fw_groups: Vec<_> = n.firewall_groups.iter().collect();
    let fw = FwaasIndex {
        ports: n
            .ports
            .iter()
            .filter(|p| p.device_owner == "network:router_interface")
            .map(|p| (p.id.as_str(), p))
            .collect(),
        routers: &routers_by_id,
        policies: n
            .firewall_policies
            .iter()
            .map(|p| (p.id.as_str(), p))
            .collect(),
        rules: n
            .firewall_rules
            .iter()
            .map(|r| (r.id.as_str(), r))
            .collect(),
    };
    for (proj, part, chunk) in b.chunks(fw_groups, |x| x.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|x| obj(&x.id, &x.name, fw.group_paths(x)))
            .collect();
        let node = b.replay(
            format!("replay/firewall-groups/{}/{part}", b.project(&proj)),
            rank::FW_GROUP,
            String::new(),
            ReplayResource::FirewallGroup,
            "POST /v2.0/fwaas/firewall_groups".into(),
            &proj,
            objects,
            Vec::new(),
        );
        for x in &chunk {
            for p in [&x.ingress_firewall_policy_id, &x.egress_firewall_policy_id]
                .into_iter()
                .flatten()
            {
                b.dep(node, ReplayResource::FirewallPolicy, p);
            }
            for port in &x.ports {
                b.dep(node, ReplayResource::Port, port);
                b.dep(node, ReplayResource::RouterInterface, port);
            }
        }
    }

    octavia(b, &is_external, &interfaces_of_subnet);

    // RBAC, per project (new ids), after the object each shares.
    let rbac: Vec<_> = n.rbac_policies.iter().collect();
    for (proj, part, chunk) in b.chunks(rbac, |x| x.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|x| {
                let name = match (&x.object_type, &x.object_id) {
                    (Some(t), Some(o)) => format!("{t} {o}"),
                    _ => x.name.clone(),
                };
                obj(&x.id, &name, Vec::new())
            })
            .collect();
        let node = b.replay(
            format!("replay/rbac-policies/{}/{part}", b.project(&proj)),
            rank::RBAC,
            String::new(),
            ReplayResource::RbacPolicy,
            "POST /v2.0/rbac-policies".into(),
            &proj,
            objects,
            vec!["RBAC policies get new ids on the destination".into()],
        );
        for x in &chunk {
            let Some(o) = &x.object_id else { continue };
            let res = match x.object_type.as_deref() {
                Some("network") => ReplayResource::Network,
                Some("qos_policy") => ReplayResource::QosPolicy,
                Some("security_group") => ReplayResource::SecurityGroup,
                Some("subnetpool") => ReplayResource::Subnetpool,
                _ => continue,
            };
            b.dep(node, res, o);
        }
    }
}

fn octavia(
    b: &mut B<'_>,
    is_external: &dyn Fn(&str) -> bool,
    interfaces_of_subnet: &HashMap<&str, Vec<usize>>,
) {
    let o = &b.snap.octavia;
    let subnet_net: HashMap<&str, &str> = b
        .snap
        .neutron
        .subnets
        .iter()
        .map(|s| (s.id.as_str(), s.network_id.as_str()))
        .collect();
    // The router of each subnet: the device of its interface ports (anchors L1).
    let mut router_of_subnet: HashMap<&str, &str> = HashMap::new();
    for p in b
        .snap
        .neutron
        .ports
        .iter()
        .filter(|p| is_interface_owner(&p.device_owner))
    {
        for f in &p.fixed_ips {
            router_of_subnet
                .entry(f.subnet_id.as_str())
                .or_insert(p.device_id.as_str());
        }
    }
    // External-VIP LBs first, then by id.
    let mut lbs: Vec<_> = o.loadbalancers.iter().collect();
    let ext_vip = |lb: &crate::vio::snapshot::LoadBalancer| {
        lb.vip_network_id.as_deref().is_some_and(is_external)
            || lb
                .vip_subnet_id
                .as_deref()
                .and_then(|s| subnet_net.get(s))
                .is_some_and(|n| is_external(n))
    };
    lbs.sort_by_key(|lb| (!ext_vip(lb), lb.id.clone()));
    let mut service_of_router: HashMap<&str, &str> = HashMap::new();
    for lb in lbs {
        let ext = ext_vip(lb);
        let router = lb
            .vip_subnet_id
            .as_deref()
            .and_then(|s| router_of_subnet.get(s).copied());
        let service = match router {
            Some(r) => *service_of_router.entry(r).or_insert(lb.id.as_str()),
            None => lb.id.as_str(),
        };
        let node = b.replay(
            format!("replay/loadbalancers/{}", lb.id),
            rank::LB,
            if ext { "0".into() } else { "1".into() },
            ReplayResource::Loadbalancer,
            "POST /v2/lbaas/loadbalancers".into(),
            &lb.project_id,
            vec![obj(&lb.id, &lb.name, mapping::loadbalancer(service))],
            Vec::new(),
        );
        if let Some(s) = &lb.vip_subnet_id {
            b.dep(node, ReplayResource::Subnet, s);
            for &i in interfaces_of_subnet.get(s.as_str()).into_iter().flatten() {
                b.nodes[node].deps.insert(i);
            }
        }
        if let Some(net) = &lb.vip_network_id {
            b.dep(node, ReplayResource::Network, net);
        }
        if let Some(p) = &lb.vip_port_id {
            b.dep(node, ReplayResource::Port, p);
        }
        if let Some(r) = router {
            b.dep(node, ReplayResource::Router, r);
        }
    }
    // Listeners per LB.
    let lb_project: HashMap<&str, &str> = o
        .loadbalancers
        .iter()
        .map(|l| (l.id.as_str(), l.project_id.as_str()))
        .collect();
    let listeners: Vec<_> = o.listeners.iter().collect();
    for (lb, part, chunk) in b.chunks(listeners, |l| {
        l.loadbalancers
            .first()
            .map(|x| x.id.clone())
            .unwrap_or_default()
    }) {
        let proj = chunk
            .first()
            .map(|l| l.project_id.as_str())
            .filter(|p| !p.is_empty())
            .or_else(|| lb_project.get(lb.as_str()).copied())
            .unwrap_or("");
        let objects = chunk
            .iter()
            .map(|l| obj(&l.id, &l.name, mapping::listener(&l.id)))
            .collect();
        let node = b.replay(
            format!(
                "replay/listeners/{}/{part}",
                if lb.is_empty() { "no-lb" } else { &lb }
            ),
            rank::LISTENER,
            String::new(),
            ReplayResource::Listener,
            "POST /v2/lbaas/listeners".into(),
            proj,
            objects,
            Vec::new(),
        );
        for l in &chunk {
            for x in &l.loadbalancers {
                b.dep(node, ReplayResource::Loadbalancer, &x.id);
            }
        }
    }
    // Pools per LB, after their LB and listeners.
    let pools: Vec<_> = o.pools.iter().collect();
    for (lb, part, chunk) in b.chunks(pools, |p| {
        p.loadbalancers
            .first()
            .map(|x| x.id.clone())
            .unwrap_or_default()
    }) {
        let proj = chunk
            .first()
            .map(|p| p.project_id.as_str())
            .filter(|p| !p.is_empty())
            .or_else(|| lb_project.get(lb.as_str()).copied())
            .unwrap_or("");
        let objects = chunk
            .iter()
            .map(|p| obj(&p.id, &p.name, mapping::pool(&p.id)))
            .collect();
        let node = b.replay(
            format!(
                "replay/pools/{}/{part}",
                if lb.is_empty() { "no-lb" } else { &lb }
            ),
            rank::POOL,
            String::new(),
            ReplayResource::Pool,
            "POST /v2/lbaas/pools".into(),
            proj,
            objects,
            Vec::new(),
        );
        for p in &chunk {
            for x in &p.loadbalancers {
                b.dep(node, ReplayResource::Loadbalancer, &x.id);
            }
            for x in &p.listeners {
                b.dep(node, ReplayResource::Listener, &x.id);
            }
        }
    }
    // Members per pool.
    let pool_project: HashMap<&str, &str> = o
        .pools
        .iter()
        .map(|p| (p.id.as_str(), p.project_id.as_str()))
        .collect();
    let members: Vec<(String, &crate::vio::snapshot::Member)> = o
        .members
        .iter()
        .flat_map(|(pool, ms)| ms.iter().map(move |m| (pool.clone(), m)))
        .collect();
    for (pool, part, chunk) in b.chunks(members, |(p, _)| p.clone()) {
        let proj = pool_project.get(pool.as_str()).copied().unwrap_or("");
        let objects = chunk
            .iter()
            .map(|(_, m)| obj(&m.id, &m.address, mapping::member(&pool)))
            .collect();
        let node = b.replay(
            format!("replay/members/{pool}/{part}"),
            rank::MEMBER,
            String::new(),
            ReplayResource::Member,
            format!("POST /v2/lbaas/pools/{pool}/members"),
            proj,
            objects,
            Vec::new(),
        );
        b.dep(node, ReplayResource::Pool, &pool);
        for (_, m) in &chunk {
            if let Some(s) = &m.subnet_id {
                b.dep(node, ReplayResource::Subnet, s);
            }
        }
    }
    // Health monitors, per project, after their pools.
    let hms: Vec<_> = o.healthmonitors.iter().collect();
    for (proj, part, chunk) in b.chunks(hms, |h| h.project_id.clone()) {
        let objects = chunk
            .iter()
            .map(|h| obj(&h.id, &h.name, mapping::healthmonitor(&h.id)))
            .collect();
        let node = b.replay(
            format!("replay/healthmonitors/{}/{part}", b.project(&proj)),
            rank::HM,
            String::new(),
            ReplayResource::Healthmonitor,
            "POST /v2/lbaas/healthmonitors".into(),
            &proj,
            objects,
            Vec::new(),
        );
        for h in &chunk {
            for p in &h.pools {
                b.dep(node, ReplayResource::Pool, &p.id);
            }
        }
    }
    // L7 policies per listener, after the listener and the pool they redirect to.
    let l7: Vec<_> = o.l7policies.iter().collect();
    for (listener, part, chunk) in b.chunks(l7, |x| x.listener_id.clone().unwrap_or_default()) {
        let proj = chunk
            .first()
            .map(|x| x.project_id.clone())
            .unwrap_or_default();
        let objects = chunk
            .iter()
            .map(|x| obj(&x.id, &x.name, mapping::l7policy(&listener)))
            .collect();
        let node = b.replay(
            format!(
                "replay/l7policies/{}/{part}",
                if listener.is_empty() {
                    "no-listener"
                } else {
                    &listener
                }
            ),
            rank::L7,
            String::new(),
            ReplayResource::L7policy,
            "POST /v2/lbaas/l7policies".into(),
            &proj,
            objects,
            Vec::new(),
        );
        b.dep(node, ReplayResource::Listener, &listener);
        for x in &chunk {
            if let Some(p) = &x.redirect_pool_id {
                b.dep(node, ReplayResource::Pool, p);
            }
        }
    }
}

/// The replay steps nothing else in the replay needs: what the next phase waits for.
fn sinks(b: &B<'_>, from: usize) -> BTreeSet<usize> {
    let mut needed = vec![false; b.nodes.len()];
    for n in &b.nodes[from..] {
        for &d in &n.deps {
            needed[d] = true;
        }
    }
    (from..b.nodes.len()).filter(|&i| !needed[i]).collect()
}

/// Edge preparation, edge cutover, host migration, VIO reconfiguration and the cleanup, each
/// after the one before (anchors 3.3).
fn after_replay(b: &mut B<'_>, sw: &Switches) {
    let snap = b.snap;
    let conf = snap.vio.migrator_conf.as_ref();
    let mut frontier: BTreeSet<usize> = sinks(b, 0);
    let tier0_id = resolve_tier0(snap);
    let transport_nodes = edge_transport_nodes(snap, tier0_id.as_deref());
    let mut fixups: Vec<(String, usize)> = Vec::new();
    let mut cutover = None;

    if sw.edge_migration {
        // 1. NSX-V edge vNICs down.
        if sw.interfaces_down {
            let keep = Cidr::parse(&b.rules.plan.interfaces_down_keep_cidr);
            for e in sorted_edges(snap) {
                if e.edge_type != "gatewayServices"
                    || b.rules
                        .plan
                        .interfaces_down_skip_prefixes
                        .iter()
                        .any(|p| e.name.starts_with(p.as_str()))
                {
                    continue;
                }
                let vnics: Vec<u32> = snap
                    .nsxv
                    .edge_interfaces
                    .get(&e.id)
                    .map(|i| {
                        i.interfaces
                            .iter()
                            .filter(|v| v.is_connected == Some(true))
                            .filter(|v| {
                                !v.primary_addresses().iter().any(|a| {
                                    match (keep, Addr::parse(a)) {
                                        (Some(c), Some(a)) => c.range.contains(a),
                                        _ => false,
                                    }
                                })
                            })
                            .filter_map(|v| v.index)
                            .collect()
                    })
                    .unwrap_or_default();
                if vnics.is_empty() {
                    continue;
                }
                chain(
                    b,
                    &mut frontier,
                    format!("edge-prep/vnics-down/{}", e.id),
                    Action::EdgeInterfacesDown(EdgeInterfacesDown {
                        edge_id: e.id.clone(),
                        vnics,
                    }),
                );
            }
        }
        // 2. Routers without gateway attached to the tier-0 for the cutover.
        let has_interface: HashSet<&str> = snap
            .neutron
            .ports
            .iter()
            .filter(|p| is_interface_owner(&p.device_owner))
            .map(|p| p.device_id.as_str())
            .collect();
        for r in sorted_routers(snap) {
            if r.gateway_network().is_some() || !has_interface.contains(r.id.as_str()) {
                continue;
            }
            let Some(t0) = &tier0_id else {
                b.finding(Finding {
                    id: format!("PLAN-NOGW-T0/{}", r.id),
                    severity: Severity::Error,
                    check: "PLAN-NOGW-T0".into(),
                    subject: crate::vio::checks::subject("router", &r.id, &r.name),
                    message: format!(
                        "router {} has no gateway and no default tier-0 is known to attach it to for the cutover",
                        r.id
                    ),
                    remedy: "set default_tier0_router in migrator.conf.json to a tier-0 of the destination".into(),
                    steps: Vec::new(),
                    code: Some("1105".into()),
                });
                continue;
            };
            let id = format!("edge-prep/nogw-fixup/{}", r.id);
            let n = chain(
                b,
                &mut frontier,
                id.clone(),
                Action::RouterNogwFixup(RouterNogwFixup {
                    router_id: r.id.clone(),
                    tier0_path: format!("/infra/tier-0s/{t0}"),
                }),
            );
            b.dep(n, ReplayResource::Router, &r.id);
            fixups.push((r.id.clone(), n));
        }
        // 3. v2t-migration-config on the edge transport nodes.
        for tn in &transport_nodes {
            chain(
                b,
                &mut frontier,
                format!("edge-prep/v2t-config-on/{tn}"),
                Action::EdgeMigrationConfig(EdgeMigrationConfig {
                    transport_node_id: tn.clone(),
                    enabled: true,
                }),
            );
        }
        // 4. The NSX-V token for the coordinator.
        chain(
            b,
            &mut frontier,
            "edge-prep/nsxv-token".into(),
            Action::NsxvToken(NsxvToken {
                lifetime_minutes: sw.token_lifetime,
            }),
        );
        // 5. The coordinator's edge cutover with the DLR mapping.
        let mut mapping = Vec::new();
        for r in sorted_routers(snap).into_iter().filter(|r| r.distributed) {
            let suffix = format!("-{}", r.id);
            match snap
                .nsxv
                .edges
                .iter()
                .find(|e| e.edge_type == "distributedRouter" && e.name.ends_with(&suffix))
            {
                Some(e) => mapping.push(EdgeMapping {
                    v_edges: vec![e.id.clone()],
                    policy_gateway_name: r.id.clone(),
                }),
                None => b.finding(Finding {
                    id: format!("PLAN-DLR-EDGE/{}", r.id),
                    severity: Severity::Warning,
                    check: "PLAN-DLR-EDGE".into(),
                    subject: crate::vio::checks::subject("router", &r.id, &r.name),
                    message: format!(
                        "distributed router {} has no DLR edge named `<name>-{}` on NSX-V: it is left out of the edge cutover mapping",
                        r.id, r.id
                    ),
                    remedy: "check the router's NSX-V binding (nsxv_edge_names in docs/rules.md)".into(),
                    steps: vec!["edge-cutover/run".into()],
                    code: Some("1007".into()),
                }),
            }
        }
        let cutover_feedback = feedback(b.rules, FeedbackRun::EdgeCutover, snap, &mapping);
        let n = chain(
            b,
            &mut frontier,
            "edge-cutover/run".into(),
            Action::EdgeCutover(EdgeCutover {
                start: start(b.rules.plan.edge_cutover_start),
                mapping,
                feedback: cutover_feedback,
                accept_recommended: b.rules.plan.accept_recommended,
                timeout_hours: b.rules.plan.edge_cutover_timeout_hours,
            }),
        );
        cutover = Some(n);
        // 6. The gateway-less routers detached again.
        let mut restores = BTreeSet::new();
        for (router, fix) in &fixups {
            let r = b.push(
                format!("edge-cutover/nogw-restore/{router}"),
                rank::AFTER,
                String::new(),
                Action::RouterNogwRestore(RouterNogwRestore {
                    router_id: router.clone(),
                    fixup_step: b.nodes[*fix].id.clone(),
                }),
            );
            b.nodes[r].deps.insert(n);
            b.nodes[r].deps.insert(*fix);
            restores.insert(r);
        }
        if !restores.is_empty() {
            frontier = restores;
        }
    }

    let mut host = None;
    if sw.host_migration {
        let clusters = conf.map(|c| c.compute_clusters.clone()).unwrap_or_default();
        if clusters.is_empty() {
            b.finding(Finding {
                id: "PLAN-CLUSTERS/migrator.conf.json".into(),
                severity: Severity::Error,
                check: "PLAN-CLUSTERS".into(),
                subject: crate::vio::checks::subject("migrator.conf.json", "compute_clusters", ""),
                message: "host migration is on but migrator.conf.json names no compute_clusters: there is no host group to migrate".into(),
                remedy: "list the vSphere clusters to migrate in compute_clusters, or set host_migration to false".into(),
                steps: Vec::new(),
                code: Some("1120".into()),
            });
        } else {
            // Power off the NSX-V edges' appliance VMs.
            let mut offs = BTreeSet::new();
            for e in sorted_edges(snap) {
                let vm_ids: Vec<String> = snap
                    .nsxv
                    .edge_appliances
                    .get(&e.id)
                    .map(|a| {
                        a.appliances
                            .iter()
                            .filter_map(|x| x.vm_id.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if vm_ids.is_empty() {
                    continue;
                }
                let n = b.push(
                    format!("host-migration/power-off/{}", e.id),
                    rank::AFTER,
                    String::new(),
                    Action::EdgePowerOff(EdgePowerOff {
                        edge_id: e.id.clone(),
                        vm_ids,
                    }),
                );
                b.nodes[n].deps = frontier.clone();
                if let Some(c) = cutover {
                    b.nodes[n].deps.insert(c);
                }
                offs.insert(n);
            }
            if !offs.is_empty() {
                frontier = offs;
            }
            if let Some(c) = cutover {
                frontier.insert(c);
            }
            let n = chain(
                b,
                &mut frontier,
                "host-migration/run".into(),
                Action::HostMigration(HostMigration {
                    start: start(b.rules.plan.host_migration_start),
                    compute_clusters: clusters,
                    feedback: feedback(b.rules, FeedbackRun::HostMigration, snap, &[]),
                    accept_recommended: b.rules.plan.accept_recommended,
                    timeout_hours: b.rules.plan.host_migration_timeout_hours,
                    point_of_no_return: true,
                }),
            );
            host = Some(n);
            if sw.edge_migration {
                let mut offs = BTreeSet::new();
                for tn in &transport_nodes {
                    let o = b.push(
                        format!("host-migration/v2t-config-off/{tn}"),
                        rank::AFTER,
                        String::new(),
                        Action::EdgeMigrationConfig(EdgeMigrationConfig {
                            transport_node_id: tn.clone(),
                            enabled: false,
                        }),
                    );
                    b.nodes[o].deps.insert(n);
                    offs.insert(o);
                }
                frontier.extend(offs);
            }
        }
    }
    let _ = host;

    // VIO reconfiguration.
    for (id, task, operator_task, description) in [
        (
            "vio-reconfig/neutron-cr",
            VioTask::NeutronCr,
            false,
            "switch the Neutron custom resource from the NSX-V plugin to the NSX Policy plugin",
        ),
        (
            "vio-reconfig/vio-secret",
            VioTask::VioSecret,
            false,
            "write the NSX Manager credentials into the VIOSecret (from the operator's secret reference, never from the plan)",
        ),
        (
            "vio-reconfig/database",
            VioTask::DatabaseRename,
            true,
            "rename the database neutron_policy to neutron",
        ),
    ] {
        chain(
            b,
            &mut frontier,
            id.into(),
            Action::VioReconfig(VioReconfig {
                task,
                operator_task,
                description: description.into(),
            }),
        );
    }

    if sw.post_cleanup {
        for (id, remove) in [
            (
                "post-cleanup/v-origin-dfw-policies",
                CleanupTarget::VOriginDfwPolicies,
            ),
            (
                "post-cleanup/non-neutron-segment-ports",
                CleanupTarget::NonNeutronSegmentPorts,
            ),
            ("post-cleanup/api-replay-mode", CleanupTarget::ApiReplayMode),
        ] {
            chain(
                b,
                &mut frontier,
                id.into(),
                Action::PostCleanup(PostCleanup { remove }),
            );
        }
    }
}

fn sorted_edges(snap: &VioSnapshot) -> Vec<&crate::vio::snapshot::Edge> {
    let mut v: Vec<_> = snap.nsxv.edges.iter().collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

fn sorted_routers(snap: &VioSnapshot) -> Vec<&crate::vio::snapshot::Router> {
    let mut v: Vec<_> = snap.neutron.routers.iter().collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// What the FWaaS v2 driver of the Policy plugin makes when a firewall group is created with
/// router interface ports (vmware-nsx `services/fwaas/nsx_p/fwaas_callbacks_v2.py`,
/// `update_router_firewall`): per router, in the domain named by the router's project
/// (`domain_id = router['project_id']`), the gateway policy `<router id>`
/// (`create_router_gateway_policy`, `map_id=router_id`) and per interface network the group
/// `<router id>-<network id>` (`_create_network_group`); while the group is up, per enabled rule
/// of its ingress and egress policies a group `source-<rule id>` / `destination-<rule id>` for a
/// CIDR that is not "any" (`_get_rule_cidr_group`, `_get_rule_ips_group_id`, `_is_empty_cidr`).
/// Not planned, because the plugin draws them at random: the gateway policy's rule ids
/// (`_get_random_rule_id`) and the services' ids (`_translate_service`).
struct FwaasIndex<'a> {
    ports: HashMap<&'a str, &'a Port>,
    routers: &'a HashMap<&'a str, &'a crate::vio::snapshot::Router>,
    policies: HashMap<&'a str, &'a crate::vio::snapshot::Named>,
    rules: HashMap<&'a str, &'a crate::vio::snapshot::Named>,
}

impl FwaasIndex<'_> {
    fn group_paths(&self, g: &crate::vio::snapshot::Named) -> Vec<String> {
        let mut out = BTreeSet::new();
        for port in g.ports.iter().filter_map(|p| self.ports.get(p.as_str())) {
            let Some(router) = self.routers.get(port.device_id.as_str()) else {
                continue;
            };
            let domain = format!("/infra/domains/{}", router.project_id);
            out.insert(format!("{domain}/gateway-policies/{}", router.id));
            out.insert(format!("{domain}/groups/{}-{}", router.id, port.network_id));
            if g.admin_state_up == Some(false) {
                continue;
            }
            let policies = [&g.ingress_firewall_policy_id, &g.egress_firewall_policy_id];
            for pol in policies
                .into_iter()
                .flatten()
                .filter_map(|p| self.policies.get(p.as_str()))
            {
                for rule in pol
                    .firewall_rules
                    .iter()
                    .filter_map(|r| self.rules.get(r.as_str()))
                    .filter(|r| r.enabled != Some(false))
                {
                    for (dir, cidr) in [
                        ("source", &rule.source_ip_address),
                        ("destination", &rule.destination_ip_address),
                    ] {
                        if let Some(c) = cidr.as_deref()
                            && !c.is_empty()
                            && !fwaas_any_cidr(c)
                        {
                            out.insert(format!("{domain}/groups/{dir}-{}", rule.id));
                        }
                    }
                }
            }
        }
        out.into_iter().collect()
    }
}

/// A CIDR the FWaaS driver treats as "any" and makes no group for (`_is_empty_cidr`): IPv4
/// `0.0.0.0/x`, or an IPv6 network whose address is `::`.
fn fwaas_any_cidr(c: &str) -> bool {
    let addr = c.split('/').next().unwrap_or(c);
    c.starts_with("0.0.0.0/")
        || addr
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|a| a.is_unspecified())
}

/// A step after everything in `frontier`, which it then becomes.
fn chain(b: &mut B<'_>, frontier: &mut BTreeSet<usize>, id: String, action: Action) -> usize {
    let n = b.push(id, rank::AFTER, String::new(), action);
    b.nodes[n].deps = std::mem::take(frontier);
    frontier.insert(n);
    n
}

/// A run's feedback answers: the rules' explicit ones, then one per object the rules'
/// `foreseen_feedback` foresees (each distributed router of the run's `mapping`, or each NSX-V
/// edge), unless an explicit answer already names that request.
fn feedback(
    rules: &VioRules,
    run: FeedbackRun,
    snap: &VioSnapshot,
    mapping: &[EdgeMapping],
) -> Vec<FeedbackResponse> {
    let mut out: Vec<FeedbackResponse> = rules
        .plan
        .feedback
        .iter()
        .filter(|f| f.run == run)
        .map(|f| FeedbackResponse {
            request: f.request.clone(),
            vertical: f.vertical.clone(),
            sub_vertical: f.sub_vertical.clone(),
            object: f.object.clone(),
            action: f.action.clone(),
            value: f.value.clone(),
        })
        .collect();
    for f in rules.plan.foreseen_feedback.iter().filter(|f| f.run == run) {
        // (the object: its edge id; the router id; the mapping's gateway)
        let objects: Vec<(&str, &str, &str)> = match f.per {
            ForeseenPer::DistributedRouter => mapping
                .iter()
                .filter_map(|m| {
                    let edge = m.v_edges.first()?;
                    Some((
                        edge.as_str(),
                        m.policy_gateway_name.as_str(),
                        m.policy_gateway_name.as_str(),
                    ))
                })
                .collect(),
            ForeseenPer::Edge => sorted_edges(snap)
                .into_iter()
                .map(|e| (e.id.as_str(), "", ""))
                .collect(),
        };
        for (edge, router, gateway) in objects {
            let answer = FeedbackResponse {
                request: String::new(),
                vertical: f.vertical.clone(),
                sub_vertical: f.sub_vertical.clone(),
                object: edge.to_string(),
                action: f.action.clone(),
                value: f.value.as_ref().map(|v| {
                    v.replace("{edge_id}", edge)
                        .replace("{router_id}", router)
                        .replace("{gateway}", gateway)
                }),
            };
            let taken = out.iter().any(|x| {
                x.request.is_empty()
                    && x.vertical == answer.vertical
                    && x.sub_vertical == answer.sub_vertical
                    && x.object == answer.object
            });
            if !taken {
                out.push(answer);
            }
        }
    }
    out
}

/// The default tier-0's id: migrator.conf.json's `default_tier0_router` matched as an id, then
/// as a display name; else the only tier-0.
pub(crate) fn resolve_tier0(snap: &VioSnapshot) -> Option<String> {
    let t0s = &snap.nsx.tier0s;
    match snap
        .vio
        .migrator_conf
        .as_ref()
        .and_then(|c| c.default_tier0_router.as_deref())
    {
        Some(v) => t0s
            .iter()
            .find(|t| t.id == v)
            .or_else(|| t0s.iter().find(|t| t.display_name == v))
            .map(|t| t.id.clone()),
        None if t0s.len() == 1 => Some(t0s[0].id.clone()),
        None => None,
    }
}

/// The transport nodes of the tier-0's edge cluster (all edge clusters' nodes when the tier-0
/// has none listed), by transport node id.
fn edge_transport_nodes(snap: &VioSnapshot, tier0: Option<&str>) -> Vec<String> {
    let mut clusters: BTreeSet<String> = BTreeSet::new();
    if let Some(t0) = tier0 {
        for ls in snap.nsx.tier0_locale_services.get(t0).into_iter().flatten() {
            if let Some(p) = &ls.edge_cluster_path
                && let Some(id) = p.rsplit('/').next()
            {
                clusters.insert(id.to_string());
            }
        }
    }
    let mut out: Vec<String> = Vec::new();
    for (cluster, nodes) in &snap.nsx.edge_cluster_nodes {
        if !clusters.is_empty() && !clusters.contains(cluster) {
            continue;
        }
        for n in nodes {
            out.push(n.nsx_id.clone().unwrap_or_else(|| n.id.clone()));
        }
    }
    out.sort();
    out.dedup();
    out
}

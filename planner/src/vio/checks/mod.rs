//! The VIO prechecks (reference vio-v2t-anchors.md section 2 and 6.2): each check is a function
//! from the snapshot and the rules to findings. Check ids are the anchors' (`N2`, `L4`, ...) or
//! named after the condition (`T-T0`, `CONF-TOKEN`, `RW-FIP`); a finding's id is
//! `<check>/<object id>`, stable across runs. Where the vendor's migrator has an error code for
//! the same condition, the finding carries it. None of the open-source validator's quirks (a
//! subnet without CIDR ending the network loop, the first LB error ending the LB loop) is copied:
//! every object is checked.

use std::collections::{BTreeMap, HashMap, HashSet};

use plan_schema::{Finding, Severity, Subject};

use crate::vio::net::{Addr, Cidr};
use crate::vio::rules::VioRules;
use crate::vio::snapshot::{MigratorConf, Network, Port, Router, Subnet, VioSnapshot};

mod config;
mod host;
mod l2gw;
mod lbs;
mod networks;
mod orphans;
mod ports;
mod qos;
mod rewrites;
mod routers;
mod sgs;
mod sizing;
mod target;

/// Every precheck over `snapshot`, sorted by severity (errors first) and id. With
/// `strict_validation` (migrator.conf.json, else the rules), warnings are raised to errors.
pub fn prechecks(snapshot: &VioSnapshot, rules: &VioRules) -> Vec<Finding> {
    let ctx = Ctx::new(snapshot, rules);
    let mut out = Out::default();
    ports::check(&ctx, &mut out);
    networks::check(&ctx, &mut out);
    routers::check(&ctx, &mut out);
    lbs::check(&ctx, &mut out);
    sgs::check(&ctx, &mut out);
    qos::check(&ctx, &mut out);
    l2gw::check(&ctx, &mut out);
    orphans::check(&ctx, &mut out);
    target::check(&ctx, &mut out);
    config::check(&ctx, &mut out);
    host::check(&ctx, &mut out);
    rewrites::check(&ctx, &mut out);
    sizing::check(&ctx, &mut out);
    let strict = ctx.strict();
    let mut list = out.list;
    if strict {
        for f in &mut list {
            if f.severity == Severity::Warning {
                f.severity = Severity::Error;
                f.message
                    .push_str(" (an error because strict_validation is on)");
            }
        }
    }
    list.sort_by(|a, b| (a.severity, &a.id).cmp(&(b.severity, &b.id)));
    list
}

/// Findings, at most one per id (the first wins).
#[derive(Default)]
pub(crate) struct Out {
    list: Vec<Finding>,
    ids: HashSet<String>,
}

/// What a finding is about.
pub(crate) fn subject(resource_type: &str, id: &str, name: &str) -> Subject {
    Subject {
        resource_type: resource_type.to_string(),
        id: id.to_string(),
        display_name: (!name.is_empty()).then(|| name.to_string()),
    }
}

/// `name (id)`, or the id alone when there is no name.
pub(crate) fn named(name: &str, id: &str) -> String {
    if name.is_empty() {
        format!("`{id}`")
    } else {
        format!("`{name}` ({id})")
    }
}

impl Out {
    /// Add a finding with id `<check>/<subject id>`.
    pub fn add(
        &mut self,
        check: &str,
        code: Option<&str>,
        severity: Severity,
        subject: Subject,
        message: String,
        remedy: &str,
    ) {
        let clean: String = subject
            .id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "._:/-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let id = format!("{check}/{clean}");
        if !self.ids.insert(id.clone()) {
            return;
        }
        self.list.push(Finding {
            id,
            severity,
            check: check.to_string(),
            subject,
            message,
            remedy: remedy.to_string(),
            steps: Vec::new(),
            code: code.map(str::to_string),
        });
    }
}

pub(crate) const ROUTER_INTERFACE_OWNERS: &[&str] = &[
    "network:router_interface",
    "network:router_interface_distributed",
];
pub(crate) const ROUTER_GATEWAY_OWNER: &str = "network:router_gateway";
pub(crate) const DHCP_OWNER: &str = "network:dhcp";

/// The snapshot with the indexes the checks share.
pub(crate) struct Ctx<'a> {
    pub s: &'a VioSnapshot,
    pub r: &'a VioRules,
    pub networks: HashMap<&'a str, &'a Network>,
    pub subnets: HashMap<&'a str, &'a Subnet>,
    pub routers: HashMap<&'a str, &'a Router>,
    /// Router-interface ports by network id, in listing order.
    pub interface_ports: HashMap<&'a str, Vec<&'a Port>>,
    /// Subnets by network id, in listing order.
    pub net_subnets: HashMap<&'a str, Vec<&'a Subnet>>,
    /// Project ids the network checks skip.
    pub skipped_projects: HashSet<&'a str>,
    pub conf: Option<&'a MigratorConf>,
}

impl<'a> Ctx<'a> {
    pub fn new(s: &'a VioSnapshot, r: &'a VioRules) -> Ctx<'a> {
        let n = &s.neutron;
        let mut interface_ports: HashMap<&str, Vec<&Port>> = HashMap::new();
        for p in &n.ports {
            if ROUTER_INTERFACE_OWNERS.contains(&p.device_owner.as_str()) {
                interface_ports.entry(&p.network_id).or_default().push(p);
            }
        }
        let mut net_subnets: HashMap<&str, Vec<&Subnet>> = HashMap::new();
        for sn in &n.subnets {
            net_subnets.entry(&sn.network_id).or_default().push(sn);
        }
        Ctx {
            s,
            r,
            networks: n.networks.iter().map(|x| (x.id.as_str(), x)).collect(),
            subnets: n.subnets.iter().map(|x| (x.id.as_str(), x)).collect(),
            routers: n.routers.iter().map(|x| (x.id.as_str(), x)).collect(),
            interface_ports,
            net_subnets,
            skipped_projects: s
                .projects
                .iter()
                .filter(|p| r.validation.skip_project_names.contains(&p.name))
                .map(|p| p.id.as_str())
                .collect(),
            conf: s.vio.migrator_conf.as_ref(),
        }
    }

    /// Warnings count as errors: migrator.conf.json's `strict_validation`, else the rules'.
    pub fn strict(&self) -> bool {
        self.conf
            .and_then(|c| c.strict_validation)
            .unwrap_or(self.r.validation.strict_validation)
    }

    /// The transit network: migrator.conf.json's, else the rules'.
    pub fn transit(&self) -> &str {
        self.conf
            .and_then(|c| c.transit_network.as_deref())
            .unwrap_or(&self.r.networks.transit_network)
    }

    /// The router a subnet is uplinked to: the router whose interface port has an address on
    /// it, else the first router interface on its network.
    pub fn router_of_subnet(&self, subnet_id: &str) -> Option<&'a str> {
        let sn = self.subnets.get(subnet_id)?;
        let ports = self.interface_ports.get(sn.network_id.as_str())?;
        ports
            .iter()
            .find(|p| p.fixed_ips.iter().any(|ip| ip.subnet_id == subnet_id))
            .or_else(|| ports.first())
            .map(|p| p.device_id.as_str())
    }

    /// The network's subnets.
    pub fn subnets_of(&self, network_id: &str) -> &[&'a Subnet] {
        self.net_subnets
            .get(network_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn is_external_subnet(&self, subnet_id: &str) -> bool {
        self.subnets
            .get(subnet_id)
            .and_then(|s| self.networks.get(s.network_id.as_str()))
            .is_some_and(|n| n.external)
    }

    /// Subnets used by some router interface (their ids).
    pub fn interface_subnets(&self) -> HashSet<&'a str> {
        self.interface_ports
            .values()
            .flatten()
            .flat_map(|p| p.fixed_ips.iter().map(|ip| ip.subnet_id.as_str()))
            .collect()
    }

    /// A subnet's address range (its CIDR).
    pub fn cidr(&self, subnet: &Subnet) -> Option<Cidr> {
        subnet.cidr.as_deref().and_then(Cidr::parse)
    }

    /// Routers' interfaces: router id → subnet ids.
    pub fn router_interface_subnets(&self) -> BTreeMap<&'a str, Vec<&'a str>> {
        let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in self.interface_ports.values().flatten() {
            let e = out.entry(p.device_id.as_str()).or_default();
            for ip in &p.fixed_ips {
                e.push(ip.subnet_id.as_str());
            }
        }
        out
    }

    /// An Octavia LB's size: its flavor profile's `lb_size`, else the rules' default.
    pub fn lb_size(&self, flavor_id: Option<&str>) -> String {
        let o = &self.s.octavia;
        flavor_id
            .and_then(|f| o.flavors.iter().find(|x| x.id == f))
            .and_then(|f| f.flavor_profile_id.as_deref())
            .and_then(|p| o.flavorprofiles.iter().find(|x| x.id == p))
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p.flavor_data).ok())
            .and_then(|d| {
                d.get("lb_size")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| self.r.load_balancers.default_size.clone())
            .to_ascii_uppercase()
    }
}

/// `a` parsed as an address.
pub(crate) fn addr(a: &str) -> Option<Addr> {
    Addr::parse(a)
}

/// Whether `s` looks like a UUID (8-4-4-4-12 hex digits).
pub(crate) fn uuid_like(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

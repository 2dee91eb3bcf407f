//! Stale backend objects (anchors 2.1 X1-X3) and edges without appliance VMs (6.2 E-NOVM, seed
//! 1114). Ownership is read from names (rules `backend_names`): the router bindings of the
//! plugin's database are not visible through the APIs.

use std::collections::HashSet;

use plan_schema::Severity;

use super::{Ctx, Out, subject, uuid_like};
use crate::vio::snapshot::Edge;

/// Whether `rest` (what follows a prefix in an edge name) names one of `ids` (the plugin cuts
/// long names, so a leading part of an id counts).
fn names_one_of(rest: &str, ids: &HashSet<&str>) -> bool {
    !rest.is_empty()
        && (ids.contains(rest) || (rest.len() >= 8 && ids.iter().any(|id| id.starts_with(rest))))
}

/// The ids an edge name may carry, built once.
struct Owners<'a> {
    routers: HashSet<&'a str>,
    networks: HashSet<&'a str>,
    lbs: HashSet<&'a str>,
}

impl<'a> Owners<'a> {
    fn new(ctx: &Ctx<'a>) -> Owners<'a> {
        let n = &ctx.s.neutron;
        Owners {
            routers: n.routers.iter().map(|r| r.id.as_str()).collect(),
            networks: n.networks.iter().map(|x| x.id.as_str()).collect(),
            lbs: ctx
                .s
                .octavia
                .loadbalancers
                .iter()
                .map(|x| x.id.as_str())
                .collect(),
        }
    }

    /// Whether the edge belongs to a Neutron router, DHCP service or load balancer (or is a
    /// shared or spare edge, whose bindings are not visible).
    fn owns(&self, ctx: &Ctx, e: &Edge) -> bool {
        let b = &ctx.r.backend_names;
        let name = e.name.as_str();
        if name.starts_with(&b.shared_edge_prefix) || name.starts_with(&b.backup_edge_prefix) {
            return true;
        }
        for (prefix, ids) in [
            (&b.plr_edge_prefix, &self.routers),
            (&b.dhcp_edge_prefix, &self.networks),
            (&b.lb_edge_prefix, &self.lbs),
        ] {
            if let Some(rest) = name.strip_prefix(prefix.as_str())
                && names_one_of(rest, ids)
            {
                return true;
            }
        }
        // `<router name>-<router id>`: the whole id at the end, else a cut one.
        let tail = name.len().checked_sub(36).and_then(|i| name.get(i..));
        if let Some(id) = tail
            && let Some(r) = ctx.routers.get(id)
            && name.get(..name.len() - 36) == Some(&format!("{}-", r.name))
        {
            return true;
        }
        ctx.s.neutron.routers.iter().any(|r| {
            name.strip_prefix(r.name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.len() >= 8 && r.id.starts_with(rest))
        })
    }
}

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let nsxv = &ctx.s.nsxv;
    let owners = Owners::new(ctx);
    let mut owned_edges = HashSet::new();
    for e in &nsxv.edges {
        if owners.owns(ctx, e) {
            owned_edges.insert(e.id.as_str());
        } else {
            out.add(
                "X3",
                None,
                Severity::Warning,
                subject("edge", &e.id, &e.name),
                format!(
                    "NSX-V edge `{}` ({}) belongs to no Neutron router, DHCP service or load \
                     balancer: probably stale",
                    e.name, e.id
                ),
                "delete the stale edge from NSX-V, or make sure it is not needed after the migration",
            );
        }
    }
    let vms: HashSet<&str> = ctx.s.vcenter.vms.iter().map(|v| v.vm.as_str()).collect();
    for e in &nsxv.edges {
        let appliances = nsxv.edge_appliances.get(&e.id);
        let ids: Vec<&str> = appliances
            .into_iter()
            .flat_map(|a| a.appliances.iter().filter_map(|x| x.vm_id.as_deref()))
            .collect();
        let deployed = e.appliances_summary.number_of_deployed_vms;
        let missing: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| !vms.is_empty() && !vms.contains(id))
            .collect();
        let why = if deployed == Some(0) || ids.is_empty() {
            Some("has no deployed appliance VM".to_string())
        } else if !missing.is_empty() {
            Some(format!(
                "has appliance VMs vCenter does not list ({})",
                missing.join(", ")
            ))
        } else {
            None
        };
        if let Some(why) = why {
            out.add(
                "E-NOVM",
                Some("1114"),
                Severity::Error,
                subject("edge", &e.id, &e.name),
                format!("NSX-V edge `{}` ({}) {why}", e.name, e.id),
                "delete the Neutron object the edge serves (router, DHCP network or load \
                 balancer) so that the edge is removed, or redeploy the edge",
            );
        }
    }
    // Virtual wires.
    let networks: HashSet<&str> = ctx
        .s
        .neutron
        .networks
        .iter()
        .map(|n| n.id.as_str())
        .collect();
    let connected: HashSet<&str> = nsxv
        .edge_interfaces
        .iter()
        .filter(|(edge, _)| owned_edges.contains(edge.as_str()))
        .flat_map(|(_, i)| {
            i.interfaces
                .iter()
                .filter_map(|x| x.connected_to_id.as_deref())
        })
        .collect();
    for w in &nsxv.virtualwires {
        let name = w.name.as_str();
        let tail = name.len().checked_sub(36).and_then(|i| name.get(i..));
        if networks.contains(name) || tail.is_some_and(|t| networks.contains(t)) {
            continue;
        }
        if uuid_like(name) || tail.is_some_and(uuid_like) {
            out.add(
                "X1",
                None,
                Severity::Warning,
                subject("virtualwire", &w.object_id, name),
                format!(
                    "virtual wire `{name}` ({}) is named like a Neutron network but no network \
                     has that id: probably orphaned",
                    w.object_id
                ),
                "delete the orphaned virtual wire from NSX-V",
            );
        } else if !connected.contains(w.object_id.as_str()) {
            out.add(
                "X2",
                None,
                Severity::Warning,
                subject("virtualwire", &w.object_id, name),
                format!(
                    "virtual wire `{name}` ({}) is not a Neutron network's and no Neutron edge \
                     uses it: a stale backend network",
                    w.object_id
                ),
                "delete the stale virtual wire from NSX-V, or make sure nothing needs it after the migration",
            );
        }
    }
}

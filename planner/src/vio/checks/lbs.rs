//! Octavia load balancers (anchors 2.1 L1-L5). Every LB is checked (the open-source validator
//! stops at the first L4/L5 error; this one does not).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};
use crate::vio::snapshot::Edge;

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let o = &ctx.s.octavia;
    let mut per_router: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let edges: HashMap<&str, &Edge> = ctx
        .s
        .nsxv
        .edges
        .iter()
        .map(|e| (e.name.as_str(), e))
        .collect();
    let mut pools_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in &o.pools {
        for l in &p.loadbalancers {
            pools_of
                .entry(l.id.as_str())
                .or_default()
                .push(p.id.as_str());
        }
    }
    for lb in &o.loadbalancers {
        let what = format!("load balancer {}", named(&lb.name, &lb.id));
        let subj = || subject("loadbalancer", &lb.id, &lb.name);
        let vip_subnet = lb.vip_subnet_id.as_deref().unwrap_or("");
        let vip_external = ctx.is_external_subnet(vip_subnet);
        let vip_router = ctx.router_of_subnet(vip_subnet);
        if let Some(r) = vip_router {
            per_router.entry(r).or_default().push(&lb.id);
        }
        if vip_router.is_none() && !vip_external {
            out.add(
                "L2",
                None,
                Severity::Error,
                subj(),
                format!("{what}: its VIP subnet {vip_subnet} is neither attached to a router nor external"),
                "attach the VIP subnet to a router with a gateway",
            );
        }
        // The LB's own edge (`lbaas-<lb id>`, rules `backend_names`): listeners sharing a default pool, and member
        // reachability.
        let edge = edges
            .get(format!("{}{}", ctx.r.backend_names.lb_edge_prefix, lb.id).as_str())
            .copied();
        if let Some(edge) = edge {
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            let servers = ctx
                .s
                .nsxv
                .edge_virtualservers
                .get(&edge.id)
                .map(|v| v.virtual_server.as_slice())
                .unwrap_or(&[]);
            for vs in servers {
                let Some(pool) = vs.default_pool_id.as_deref() else {
                    continue;
                };
                if let Some(first) = seen.insert(pool, &vs.virtual_server_id) {
                    out.add(
                        "L3",
                        None,
                        Severity::Error,
                        subj(),
                        format!(
                            "{what}: virtual servers {first} and {} on edge {} share default pool {pool}",
                            vs.virtual_server_id, edge.id
                        ),
                        "give each listener its own default pool",
                    );
                }
            }
            let mut routers: BTreeSet<&str> = vip_router.into_iter().collect();
            let mut unrouted: BTreeSet<&str> = BTreeSet::new();
            for pool in pools_of.get(lb.id.as_str()).into_iter().flatten() {
                for m in o.members.get(*pool).into_iter().flatten() {
                    let Some(sn) = m.subnet_id.as_deref() else {
                        continue;
                    };
                    if ctx.is_external_subnet(sn) {
                        continue;
                    }
                    match ctx.router_of_subnet(sn) {
                        Some(r) => {
                            routers.insert(r);
                        }
                        None => {
                            unrouted.insert(sn);
                        }
                    }
                }
            }
            if !unrouted.is_empty() || routers.len() > 1 {
                let mut why = Vec::new();
                if !unrouted.is_empty() {
                    why.push(format!(
                        "member subnets without a router: {}",
                        unrouted.iter().copied().collect::<Vec<_>>().join(", ")
                    ));
                }
                if routers.len() > 1 {
                    let names: Vec<String> = routers
                        .iter()
                        .map(|r| {
                            ctx.routers
                                .get(r)
                                .map(|x| named(&x.name, r))
                                .unwrap_or_else(|| r.to_string())
                        })
                        .collect();
                    why.push(format!(
                        "its VIP and members sit behind {} routers ({})",
                        routers.len(),
                        names.join(", ")
                    ));
                }
                out.add(
                    "L4",
                    None,
                    Severity::Error,
                    subj(),
                    format!(
                        "{what} on edge {}: {}; NSX needs all of an LB's subnets on one gateway",
                        edge.id,
                        why.join("; ")
                    ),
                    "put the VIP and every member subnet behind the same router",
                );
            }
        }
        if let Some(r) = vip_router.and_then(|r| ctx.routers.get(r))
            && r.gateway_network().is_none()
        {
            out.add(
                "L5",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what}: its router {} has no gateway",
                    named(&r.name, &r.id)
                ),
                "set a gateway on the LB's router",
            );
        }
    }
    let max = ctx.r.load_balancers.max_per_router;
    for (router, lbs) in per_router {
        if lbs.len() > max {
            let name = ctx
                .routers
                .get(router)
                .map(|r| r.name.as_str())
                .unwrap_or("");
            out.add(
                "L1",
                None,
                Severity::Error,
                subject("router", router, name),
                format!(
                    "router {} carries {} load balancers; one NSX LB service takes at most {max} \
                     (over the limit: {})",
                    named(name, router),
                    lbs.len(),
                    lbs[max..].join(", ")
                ),
                "move load balancers to another router's subnets",
            );
        }
    }
}

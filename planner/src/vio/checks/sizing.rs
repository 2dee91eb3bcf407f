//! Edge cluster sizing for load balancers (anchors 4.3): the routers of the VIP and member
//! subnets, each one LB service of its largest LB's size, every service taking its size's
//! credits on two edge nodes; their sum against the default tier-0's edge cluster.

use std::collections::BTreeMap;

use plan_schema::Severity;

use super::{Ctx, Out, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let o = &ctx.s.octavia;
    if o.loadbalancers.is_empty() {
        return;
    }
    let sz = &ctx.r.sizing;
    // Router → the largest LB size on it.
    let mut routers: BTreeMap<&str, (u64, String)> = BTreeMap::new();
    for lb in &o.loadbalancers {
        let size = ctx.lb_size(lb.flavor_id.as_deref());
        let credits = sz.lb_size_credits.get(&size).copied().unwrap_or(0);
        let mut subnets: Vec<&str> = lb.vip_subnet_id.as_deref().into_iter().collect();
        for pool in o
            .pools
            .iter()
            .filter(|p| p.loadbalancers.iter().any(|l| l.id == lb.id))
        {
            subnets.extend(
                o.members
                    .get(&pool.id)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| m.subnet_id.as_deref()),
            );
        }
        for sn in subnets {
            if ctx.is_external_subnet(sn) {
                continue;
            }
            if let Some(r) = ctx.router_of_subnet(sn) {
                let e = routers.entry(r).or_insert((0, String::new()));
                if credits >= e.0 {
                    *e = (credits, size.clone());
                }
            }
        }
    }
    let needed: u64 = routers.values().map(|(c, _)| c * sz.slots_per_lb).sum();
    let Some(cluster) = super::target::tier0_edge_cluster(ctx) else {
        return;
    };
    let nodes = ctx
        .s
        .nsx
        .edge_cluster_nodes
        .get(&cluster)
        .map(Vec::len)
        .unwrap_or(0) as u64;
    let per_node = sz
        .edge_node_credits
        .get(&sz.edge_node_form_factor)
        .copied()
        .unwrap_or(0);
    let capacity = nodes * per_node;
    let detail: Vec<String> = routers
        .iter()
        .map(|(r, (c, s))| {
            let name = ctx.routers.get(r).map(|x| x.name.as_str()).unwrap_or(r);
            format!("{name}: {s} ({c})")
        })
        .collect();
    let figures = format!(
        "{} LB routers need {needed} LB credits ({} per service: {}); edge cluster {cluster} has \
         {nodes} {} nodes of {per_node} credits = {capacity}",
        routers.len(),
        sz.slots_per_lb,
        detail.join(", "),
        sz.edge_node_form_factor
    );
    if needed > capacity {
        out.add(
            "SIZE-LB",
            None,
            Severity::Error,
            subject("EdgeCluster", &cluster, ""),
            format!("{figures}: {} credits short", needed - capacity),
            "add edge nodes (or larger ones) to the edge cluster before migrating; check \
             sizing.edge_node_form_factor in the VIO rules",
        );
    } else {
        out.add(
            "SIZE-LB",
            None,
            Severity::Info,
            subject("EdgeCluster", &cluster, ""),
            figures,
            "none",
        );
    }
}

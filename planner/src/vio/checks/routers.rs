//! Routers (anchors 2.1 R1, R2; 6.2 R3 = seed 1009, R-NOGW).

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let ifaces = ctx.router_interface_subnets();
    let advanced = ctx
        .conf
        .and_then(|c| c.advanced_router_validation)
        .unwrap_or(ctx.r.validation.advanced_router_validation);
    for r in &ctx.s.neutron.routers {
        if ctx.skipped_projects.contains(r.project_id.as_str()) {
            continue;
        }
        let what = format!("router {}", named(&r.name, &r.id));
        let subj = || subject("router", &r.id, &r.name);
        let iface_subnets = ifaces.get(r.id.as_str()).cloned().unwrap_or_default();
        if iface_subnets.is_empty() {
            let (severity, note) = if advanced {
                (Severity::Error, "")
            } else {
                (
                    Severity::Warning,
                    " (reported as a warning: advanced_router_validation is off)",
                )
            };
            out.add(
                "R3",
                Some("1009"),
                severity,
                subj(),
                format!(
                    "{what} has no interfaces: routers without downlinks cannot be migrated{note}"
                ),
                "delete the router (its NSX-V edge goes with it) before migrating",
            );
            continue;
        }
        let gw_subnets: Vec<&str> = r
            .external_gateway_info
            .iter()
            .flat_map(|g| g.external_fixed_ips.iter().map(|ip| ip.subnet_id.as_str()))
            .collect();
        for gs in &gw_subnets {
            let Some(gc) = ctx.subnets.get(gs).and_then(|s| ctx.cidr(s)) else {
                continue;
            };
            for is in &iface_subnets {
                if let Some(ic) = ctx.subnets.get(is).and_then(|s| ctx.cidr(s))
                    && gc.range.overlaps(&ic.range)
                {
                    out.add(
                        "R1",
                        None,
                        Severity::Error,
                        subj(),
                        format!(
                            "{what}: its gateway subnet {gs} overlaps its interface subnet {is}"
                        ),
                        "re-address the interface subnet or the external subnet",
                    );
                }
            }
        }
        if r.gateway_network().is_none() {
            let vlan = iface_subnets.iter().any(|s| {
                ctx.subnets
                    .get(s)
                    .and_then(|s| ctx.networks.get(s.network_id.as_str()))
                    .is_some_and(|n| n.network_type.as_deref() == Some("vlan"))
            });
            if vlan {
                out.add(
                    "R2",
                    None,
                    Severity::Error,
                    subj(),
                    format!("{what} has no gateway but an interface on a VLAN network"),
                    "set a gateway on the router or detach the VLAN network",
                );
            } else {
                out.add(
                    "R-NOGW",
                    None,
                    Severity::Warning,
                    subj(),
                    format!(
                        "{what} has no gateway: its tier-1 must be connected to a tier-0 for the \
                         north-south cutover and disconnected afterwards"
                    ),
                    "set a gateway on the router, or let the migration connect and restore it \
                     (advanced_router_validation)",
                );
            }
        }
    }
}

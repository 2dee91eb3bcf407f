//! L2 gateways (anchors 2.1 G1): the NSX Policy plugin does not migrate networking-l2gw
//! gateways, and the open-source V2T check stops on any. With the snapshot's list
//! (`neutron/l2-gateways.json`) each gateway is an error; without one, the extension being loaded
//! only says that gateways may exist (a warning).

use plan_schema::Severity;

use super::{Ctx, Out, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    if let Some(gateways) = &ctx.s.neutron.l2_gateways {
        for g in gateways {
            out.add(
                "G1",
                None,
                Severity::Error,
                subject("l2_gateway", &g.id, &g.name),
                format!(
                    "L2 gateway `{}` ({}) cannot be migrated: the NSX Policy plugin has no L2 \
                     gateways of networking-l2gw",
                    g.name, g.id
                ),
                "delete the L2 gateway and its connections before migrating, and recreate the \
                 bridging on NSX afterwards if it is still needed",
            );
        }
        return;
    }
    for ext in &ctx.s.neutron.extensions {
        if ext.alias == "l2-gateway" || ext.alias == "l2-gateway-connection" {
            out.add(
                "G1",
                None,
                Severity::Warning,
                subject("extension", &ext.alias, ""),
                format!(
                    "the Neutron extension `{}` is loaded: L2 gateways (networking-l2gw) cannot \
                     be migrated, and the snapshot does not list them",
                    ext.alias
                ),
                "delete every L2 gateway and its connections before migrating",
            );
        }
    }
}

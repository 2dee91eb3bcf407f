//! L2 gateways (anchors 2.1 G1). The snapshot holds no networking-l2gw list; the extension being
//! loaded means gateways may exist, which NSX's plugin does not migrate.

use plan_schema::Severity;

use super::{Ctx, Out, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
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

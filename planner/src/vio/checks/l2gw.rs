//! L2 gateways (anchors 2.1 G1): the NSX Policy plugin does not migrate networking-l2gw
//! gateways, and the open-source V2T check stops on any. `collect` reads
//! `/v2.0/l2-gateways` and `/v2.0/l2-gateway-connections` when Neutron lists their extensions
//! (`l2-gateway`, `l2-gateway-connection`); with the snapshot's list each gateway is an error
//! naming the networks its connections bridge (a connection whose gateway the list lacks is one
//! too). Without the list (a snapshot collected before it was read, or written by hand), the
//! extension being loaded only says that gateways may exist (a warning).

use std::collections::BTreeMap;

use plan_schema::Severity;

use super::{Ctx, Out, subject};

const REMEDY: &str = "delete the L2 gateway and its connections before migrating, and recreate \
                      the bridging on NSX afterwards if it is still needed";

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let n = &ctx.s.neutron;
    // Gateway id -> the networks its connections bridge (names where known), in listing order.
    let mut bridged: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in &n.l2_gateway_connections {
        let net = ctx
            .networks
            .get(c.network_id.as_str())
            .filter(|x| !x.name.is_empty())
            .map_or_else(
                || format!("`{}`", c.network_id),
                |x| format!("`{}` ({})", x.name, x.id),
            );
        bridged
            .entry(c.l2_gateway_id.as_str())
            .or_default()
            .push(net);
    }
    let on = |id: &str| match bridged.get(id) {
        Some(nets) => format!(", bridging network {}", nets.join(", ")),
        None => String::new(),
    };
    if n.l2_gateways.is_some() || !bridged.is_empty() {
        let gateways = n.l2_gateways.as_deref().unwrap_or(&[]);
        for g in gateways {
            out.add(
                "G1",
                None,
                Severity::Error,
                subject("l2_gateway", &g.id, &g.name),
                format!(
                    "L2 gateway `{}` ({}){} cannot be migrated: the NSX Policy plugin has no L2 \
                     gateways of networking-l2gw",
                    g.name,
                    g.id,
                    on(&g.id)
                ),
                REMEDY,
            );
        }
        for id in bridged.keys() {
            if gateways.iter().any(|g| g.id == *id) {
                continue;
            }
            out.add(
                "G1",
                None,
                Severity::Error,
                subject("l2_gateway", id, ""),
                format!(
                    "L2 gateway {id}{} (named by a connection, not in the gateway list) cannot \
                     be migrated: the NSX Policy plugin has no L2 gateways of networking-l2gw",
                    on(id)
                ),
                REMEDY,
            );
        }
        return;
    }
    for ext in &n.extensions {
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
                "collect the snapshot again (collect lists the gateways where the extension is \
                 loaded), or delete every L2 gateway and its connections before migrating",
            );
        }
    }
}

//! What API replay changes on its own (anchors 1.4), one finding per object, so nothing changes
//! silently. Address pairs beyond the limit are check P1's finding.

use std::collections::HashSet;

use plan_schema::Severity;

use super::{Ctx, DHCP_OWNER, Out, ROUTER_GATEWAY_OWNER, named, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let n = &ctx.s.neutron;
    for p in &n.ports {
        if p.mac_learning_enabled == Some(true) && p.port_security_enabled == Some(true) {
            out.add(
                "RW-PORTSEC",
                None,
                Severity::Info,
                subject("port", &p.id, &p.name),
                format!(
                    "port {} has MAC learning and port security: API replay turns port security \
                     off and drops its security groups ({})",
                    named(&p.name, &p.id),
                    if p.security_groups.is_empty() {
                        "none".into()
                    } else {
                        p.security_groups.join(", ")
                    }
                ),
                "none needed; to keep filtering, disable MAC learning before migrating",
            );
        }
        if p.device_owner == ROUTER_GATEWAY_OWNER || p.device_owner == DHCP_OWNER {
            let kind = if p.device_owner == DHCP_OWNER {
                "DHCP"
            } else {
                "router gateway"
            };
            out.add(
                "RW-NEWID",
                None,
                Severity::Info,
                subject("port", &p.id, &p.name),
                format!(
                    "{kind} port {} (device {}) is created again by API replay with a new id",
                    p.id, p.device_id
                ),
                "none; update anything outside OpenStack that refers to the old port id",
            );
        }
    }
    for f in &n.floatingips {
        out.add(
            "RW-NEWID",
            None,
            Severity::Info,
            subject("floatingip", &f.id, &f.floating_ip_address),
            format!(
                "floating IP {} ({}) keeps its address but gets a new id",
                f.floating_ip_address, f.id
            ),
            "none; update anything outside OpenStack that refers to the old floating IP id",
        );
    }
    for (kind, list) in [
        ("subnetpool", &n.subnetpools),
        ("rbac_policy", &n.rbac_policies),
    ] {
        for o in list {
            out.add(
                "RW-NEWID",
                None,
                Severity::Info,
                subject(kind, &o.id, &o.name),
                format!("{kind} {} gets a new id", named(&o.name, &o.id)),
                "none; update anything outside OpenStack that refers to the old id",
            );
        }
    }
    let mut dhcp_seen: HashSet<&str> = HashSet::new();
    for s in &n.subnets {
        if !s.enable_dhcp {
            continue;
        }
        let external = ctx
            .networks
            .get(s.network_id.as_str())
            .is_some_and(|x| x.external);
        let later = !dhcp_seen.insert(s.network_id.as_str());
        if external || later {
            out.add(
                "RW-DHCP",
                None,
                Severity::Info,
                subject("subnet", &s.id, &s.name),
                format!(
                    "subnet {} is created with DHCP off ({})",
                    named(&s.name, &s.id),
                    if external {
                        "DHCP on an external subnet".to_string()
                    } else {
                        format!("a second DHCP subnet of network {}", s.network_id)
                    }
                ),
                "none; instances on it need static addresses or another DHCP source",
            );
        }
    }
    let conf = ctx.conf;
    for net in &n.networks {
        let Some(t) = net.network_type.as_deref() else {
            continue;
        };
        let change = if net.external {
            let t0 = conf
                .and_then(|c| c.external_networks_map.get(&net.id))
                .map(String::as_str)
                .unwrap_or("its tier-0");
            format!("its provider fields become provider:physical_network = {t0}")
        } else {
            match t {
                "vxlan" | "flat" | "portgroup" => format!("its provider fields ({t}) are dropped"),
                "vlan" => "it keeps its VLAN id but loses provider:physical_network".to_string(),
                _ => continue,
            }
        };
        out.add(
            "RW-PROVIDER",
            None,
            Severity::Info,
            subject("network", &net.id, &net.name),
            format!("network {}: {change}", named(&net.name, &net.id)),
            "none",
        );
    }
}

//! Ports (anchors 2.1 P1-P4).

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let max_pairs = ctx.r.ports.max_address_pairs;
    for p in &ctx.s.neutron.ports {
        let subj = || subject("port", &p.id, &p.name);
        let what = format!("port {}", named(&p.name, &p.id));
        let pairs = p.allowed_address_pairs.len();
        if pairs > max_pairs {
            out.add(
                "P1",
                None,
                Severity::Warning,
                subj(),
                format!(
                    "{what} (device {}) has {pairs} allowed address pairs; NSX takes at most \
                     {max_pairs}, and API replay keeps only the first {max_pairs}",
                    p.device_id
                ),
                "reduce the port's allowed address pairs (or accept that the rest are dropped)",
            );
        }
        let fixed: Vec<&str> = p.fixed_ips.iter().map(|f| f.ip_address.as_str()).collect();
        if let Some(pair) = p.allowed_address_pairs.iter().find(|a| {
            let mac = a.mac_address.as_deref().unwrap_or(&p.mac_address);
            mac.eq_ignore_ascii_case(&p.mac_address) && fixed.contains(&a.ip_address.as_str())
        }) {
            out.add(
                "P2",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} has an allowed address pair equal to its own MAC and fixed IP {}",
                    pair.ip_address
                ),
                "remove the redundant address pair from the port",
            );
        }
        let network = ctx.networks.get(p.network_id.as_str());
        if p.device_owner.starts_with("compute:") && network.is_some_and(|n| n.external) {
            let net = network.map(|n| named(&n.name, &n.id)).unwrap_or_default();
            out.add(
                "P3",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} of instance {} is on the external network {net}: VMs on external \
                     networks do not work on NSX",
                    p.device_id
                ),
                "move the instance to an internal network (with a floating IP) before migrating",
            );
        }
        if let Some(vnic) = p.vnic_type.as_deref()
            && ctx.r.ports.direct_vnic_types.iter().any(|t| t == vnic)
        {
            let vlan = network.is_some_and(|n| n.network_type.as_deref() == Some("vlan"));
            let reason = if !vlan {
                Some("on a network that is not a VLAN network")
            } else if p.port_security_enabled.unwrap_or(true) {
                Some("with port security enabled")
            } else {
                None
            };
            if let Some(reason) = reason {
                out.add(
                    "P4",
                    None,
                    Severity::Error,
                    subj(),
                    format!("{what} has vNIC type `{vnic}` {reason}"),
                    "use direct vNICs only on VLAN networks with port security disabled",
                );
            }
        }
    }
}

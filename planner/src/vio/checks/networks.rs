//! Networks and subnets (anchors 2.1 N1-N10). Networks of the skipped projects and external
//! networks are not checked, as the open-source validator does.

use std::collections::BTreeSet;

use plan_schema::Severity;

use super::{Ctx, Out, addr, named, subject};
use crate::vio::net::{Cidr, Range};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let transit = Cidr::parse(ctx.transit());
    let vlan_transparent_on = ctx
        .s
        .vio
        .nsx_ini
        .as_ref()
        .and_then(|i| i.get("DEFAULT", "vlan_transparent"))
        .is_some_and(|o| o.value.eq_ignore_ascii_case("true"));
    let interface_subnets = ctx.interface_subnets();
    let nr = &ctx.r.networks;
    for n in &ctx.s.neutron.networks {
        if n.external || ctx.skipped_projects.contains(n.project_id.as_str()) {
            continue;
        }
        let what = format!("network {}", named(&n.name, &n.id));
        let subj = || subject("network", &n.id, &n.name);
        let subnets = ctx.subnets_of(&n.id);
        let ntype = n.network_type.as_deref().unwrap_or("");
        if nr.unsupported_network_types.iter().any(|t| t == ntype) {
            out.add(
                "N1",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} is a `{ntype}` provider network, which the NSX plugin does not support"
                ),
                "replace it with a VXLAN or VLAN network before migrating",
            );
        }
        let dhcp: Vec<_> = subnets.iter().filter(|s| s.enable_dhcp).collect();
        if dhcp.len() > nr.max_dhcp_subnets {
            let cidrs: Vec<&str> = dhcp.iter().filter_map(|s| s.cidr.as_deref()).collect();
            out.add(
                "N2",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} has {} DHCP-enabled subnets ({}); NSX allows {} per segment",
                    dhcp.len(),
                    cidrs.join(", "),
                    nr.max_dhcp_subnets
                ),
                "disable DHCP on all but one subnet of the network",
            );
        }
        let ifaces = ctx.interface_ports.get(n.id.as_str());
        let routers: BTreeSet<&str> = ifaces
            .into_iter()
            .flatten()
            .map(|p| p.device_id.as_str())
            .collect();
        if routers.len() > nr.max_routers {
            out.add(
                "N3",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} is attached to {} routers ({}); NSX allows one router uplink per segment",
                    routers.len(),
                    routers.iter().copied().collect::<Vec<_>>().join(", ")
                ),
                "detach the network from all routers but one",
            );
        }
        if vlan_transparent_on && n.vlan_transparent == Some(true) {
            let reason = if !routers.is_empty() {
                Some("is attached to a router")
            } else if !dhcp.is_empty() {
                Some("has a DHCP-enabled subnet")
            } else {
                None
            };
            if let Some(reason) = reason {
                out.add(
                    "N4",
                    None,
                    Severity::Error,
                    subj(),
                    format!("VLAN-transparent {what} {reason}"),
                    "detach the VLAN-transparent network from routers and disable its DHCP",
                );
            }
        }
        let v6 = subnets.iter().filter(|s| s.ip_version == 6).count();
        if v6 > nr.max_ipv6_subnets {
            out.add(
                "N10",
                None,
                Severity::Error,
                subj(),
                format!(
                    "{what} has {v6} IPv6 subnets; NSX allows {}",
                    nr.max_ipv6_subnets
                ),
                "remove the extra IPv6 subnets",
            );
        }
        for s in subnets {
            let swhat = format!("subnet {} of {what}", named(&s.name, &s.id));
            let ssubj = || subject("subnet", &s.id, &s.name);
            let cidr = ctx.cidr(s);
            // N5: allocation pools, else the CIDR, against the transit network.
            if let Some(transit) = transit {
                let ranges: Vec<Range> = if s.allocation_pools.is_empty() {
                    cidr.map(|c| c.range).into_iter().collect()
                } else {
                    s.allocation_pools
                        .iter()
                        .filter_map(|p| Range::new(addr(&p.start)?, addr(&p.end)?))
                        .collect()
                };
                if ranges.iter().any(|r| r.overlaps(&transit.range)) {
                    out.add(
                        "N5",
                        None,
                        Severity::Error,
                        ssubj(),
                        format!("{swhat} overlaps the NSX transit network {}", ctx.transit()),
                        "re-address the subnet, or set transit_network to the range NSX really uses",
                    );
                }
            }
            // N6: an IPv4 non-DHCP subnet routed beside a DHCP subnet on an overlay network.
            if ntype != "vlan"
                && !dhcp.is_empty()
                && s.ip_version == 4
                && !s.enable_dhcp
                && ifaces
                    .into_iter()
                    .flatten()
                    .any(|p| p.fixed_ips.first().is_some_and(|ip| ip.subnet_id == s.id))
            {
                out.add(
                    "N6",
                    None,
                    Severity::Error,
                    ssubj(),
                    format!(
                        "{swhat} has DHCP off and is a router interface's subnet on an overlay \
                         network that also has a DHCP subnet"
                    ),
                    "enable DHCP on the subnet or move the router interface to the DHCP subnet",
                );
            }
            let gateway = s.gateway_ip.as_deref().filter(|g| !g.is_empty());
            if gateway.is_none() && interface_subnets.contains(s.id.as_str()) {
                out.add(
                    "N7",
                    None,
                    Severity::Error,
                    ssubj(),
                    format!("{swhat} is attached to a router but has no gateway IP"),
                    "set the subnet's gateway_ip to the router interface address",
                );
            }
            if let Some(g) = gateway {
                let bad = match (addr(g), cidr) {
                    (Some(a), Some(c)) if a.v6 != c.range.v6 => {
                        Some(format!("gateway {g} is not of the subnet's IP version"))
                    }
                    (Some(a), Some(c)) if !c.range.contains(a) => Some(format!(
                        "gateway {g} is outside {}",
                        s.cidr.as_deref().unwrap_or("")
                    )),
                    (None, _) => Some(format!("gateway `{g}` is not an IP address")),
                    _ => None,
                };
                if let Some(bad) = bad {
                    out.add(
                        "N8",
                        None,
                        Severity::Error,
                        ssubj(),
                        format!("{swhat}: {bad}"),
                        "fix the subnet's gateway_ip",
                    );
                }
            }
            if s.dns_nameservers.len() > nr.max_dns_nameservers {
                out.add(
                    "N9",
                    None,
                    Severity::Error,
                    ssubj(),
                    format!(
                        "{swhat} has {} DNS name servers ({}); NSX takes at most {}",
                        s.dns_nameservers.len(),
                        s.dns_nameservers.join(", "),
                        nr.max_dns_nameservers
                    ),
                    "keep at most two dns_nameservers on the subnet",
                );
            }
        }
    }
}

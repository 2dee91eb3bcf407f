//! Which NSX Policy objects the Policy plugin (`vmware_nsxp`) creates for a replayed Neutron or
//! Octavia object (reference vio-v2t-anchors.md section 1.3). Ids carry over: a router is the
//! tier-1 of the same id, a network the segment of the same id, and so on; the domain is always
//! `default`. Objects whose NSX ids the replay regenerates (floating IPs) or that make no NSX
//! object of their own (FWaaS rules and policies, RBAC, quotas, subnet pools) map to no path:
//! the plan says so rather than guess. A firewall group's paths (the FWaaS driver's gateway
//! policy and groups, in the router's project's domain) are `steps.rs` `FwaasIndex`. Where the plugin's code decides (vmware-nsx `plugins/nsx_p/plugin.py`),
//! the function names it.

/// The tier-1 of a router, and its locale service (`<router id>-0`).
pub fn router(router_id: &str) -> Vec<String> {
    vec![
        format!("/infra/tier-1s/{router_id}"),
        format!("/infra/tier-1s/{router_id}/locale-services/{router_id}-0"),
    ]
}

/// A router's gateway is the tier-1's `tier0_path`: the tier-1 itself changes.
pub fn router_gateway(router_id: &str) -> Vec<String> {
    vec![format!("/infra/tier-1s/{router_id}")]
}

/// A non-external network is a segment of the same id; an external network maps to a tier-0 and
/// has no object of its own.
pub fn network(network_id: &str, external: bool) -> Vec<String> {
    if external {
        Vec::new()
    } else {
        vec![format!("/infra/segments/{network_id}")]
    }
}

/// A DLR's transit network: a segment with the router's id.
pub fn dlr_transit_network(router_id: &str) -> Vec<String> {
    vec![format!("/infra/segments/{router_id}")]
}

/// A subnet is an entry of its segment's `subnets`.
pub fn subnet(network_id: &str, external: bool) -> Vec<String> {
    network(network_id, external)
}

/// A port is a segment port.
pub fn port(network_id: &str, port_id: &str) -> Vec<String> {
    vec![format!("/infra/segments/{network_id}/ports/{port_id}")]
}

/// A router interface's port has no segment port: the plugin creates none for a port owned by
/// `network:router_interface` and deletes the one a plain port had when it becomes an
/// interface, the tier-1's connection standing for it (vmware-nsx `plugins/nsx_p/plugin.py`,
/// `_is_backend_port` and `update_port`). What it produces is the interface's, see
/// [`router_interface`].
pub fn interface_port() -> Vec<String> {
    Vec::new()
}

/// A router's static routes: one static route of its tier-1 each, with the id
/// `<destination with "/" as "_">-<nexthop>` (vmware-nsx `plugins/nsx_p/plugin.py`,
/// `_get_static_route_id` and `_add_static_routes`). A route without both fields gets none (the
/// replay refuses it).
pub fn router_routes(router_id: &str, routes: &[(&str, &str)]) -> Vec<String> {
    routes
        .iter()
        .map(|(destination, nexthop)| {
            format!(
                "/infra/tier-1s/{router_id}/static-routes/{}-{nexthop}",
                destination.replace('/', "_")
            )
        })
        .collect()
}

/// A router interface: on a VLAN network, a service interface of the tier-1's locale service;
/// on an overlay network, the segment's connection to the tier-1. With SNAT on the gateway, the
/// subnet gets the SNAT rule `S-<subnet id>`.
pub fn router_interface(
    router_id: &str,
    network_id: &str,
    subnet_id: &str,
    vlan: bool,
    snat: bool,
) -> Vec<String> {
    let mut out = if vlan {
        vec![format!(
            "/infra/tier-1s/{router_id}/locale-services/{router_id}-0/interfaces/{network_id}"
        )]
    } else {
        vec![format!("/infra/segments/{network_id}")]
    };
    if snat {
        out.push(format!(
            "/infra/tier-1s/{router_id}/nat/USER/nat-rules/S-{subnet_id}"
        ));
    }
    out
}

/// DHCP enabled on a subnet: the segment's DHCP config, and a static binding for each port
/// with an IPv4 (or IPv6) address in it.
pub fn subnet_dhcp(network_id: &str, ip_version: u8, port_ids: &[&str]) -> Vec<String> {
    let suffix = if ip_version == 6 { "ipv6" } else { "ipv4" };
    let mut out = vec![format!("/infra/segments/{network_id}")];
    out.extend(
        port_ids.iter().map(|p| {
            format!("/infra/segments/{network_id}/dhcp-static-binding-configs/{p}-{suffix}")
        }),
    );
    out
}

/// A security group: a group and a security policy of the same id.
pub fn security_group(sg_id: &str) -> Vec<String> {
    vec![
        format!("/infra/domains/default/groups/{sg_id}"),
        format!("/infra/domains/default/security-policies/{sg_id}"),
    ]
}

/// A security group rule: a rule of its group's policy, and, when the rule names a protocol,
/// its service of the same id. A rule without a protocol matches every service and gets none
/// (vmware-nsx `plugins/nsx_p/plugin.py`, `_get_rule_service_id`: no L4 protocol, no service;
/// `_create_security_group_backend_rule` then passes `service_ids=None`).
pub fn security_group_rule(sg_id: &str, rule_id: &str, has_protocol: bool) -> Vec<String> {
    let mut out = vec![format!(
        "/infra/domains/default/security-policies/{sg_id}/rules/{rule_id}"
    )];
    if has_protocol {
        out.push(format!("/infra/services/{rule_id}"));
    }
    out
}

pub fn qos_policy(policy_id: &str) -> Vec<String> {
    vec![format!("/infra/qos-profiles/{policy_id}")]
}

/// An Octavia load balancer: the LB service of its router, named after the router's first LB
/// (later ones tag it).
pub fn loadbalancer(service_lb_id: &str) -> Vec<String> {
    vec![format!("/infra/lb-services/{service_lb_id}")]
}

pub fn listener(listener_id: &str) -> Vec<String> {
    vec![format!("/infra/lb-virtual-servers/{listener_id}")]
}

pub fn pool(pool_id: &str) -> Vec<String> {
    vec![format!("/infra/lb-pools/{pool_id}")]
}

/// A member is an entry of its pool.
pub fn member(pool_id: &str) -> Vec<String> {
    pool(pool_id)
}

pub fn healthmonitor(hm_id: &str) -> Vec<String> {
    vec![format!("/infra/lb-monitor-profiles/{hm_id}")]
}

/// An L7 policy is a rule of its listener's virtual server.
pub fn l7policy(listener_id: &str) -> Vec<String> {
    listener(listener_id)
}

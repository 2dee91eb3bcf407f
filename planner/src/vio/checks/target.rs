//! The destination NSX (anchors 2.2; 6.2 T-VER = seed 1002, T-CM = 1004, X-NEUTRON-ON-NSX =
//! 1005, V-VER): what the Policy plugin resolves at start-up (the temporary Neutron server does
//! not start when one fails, seed 2111: the mapping of these checks to 2111 is inferred).

use plan_schema::Severity;

use super::{Ctx, Out, subject};
use crate::vio::snapshot::NsxObject;

/// Resolve `value` as the plugin does: an id, then a tag value, then a display name; unset, the
/// only candidate. `Err` says why not.
pub(crate) fn resolve<'a>(
    value: Option<&str>,
    candidates: &[&'a NsxObject],
) -> Result<&'a NsxObject, String> {
    match value.filter(|v| !v.is_empty()) {
        None => match candidates {
            [one] => Ok(one),
            [] => Err("is not set and NSX has no candidate".into()),
            many => Err(format!(
                "is not set and NSX has {} candidates, so none is picked",
                many.len()
            )),
        },
        Some(v) => candidates
            .iter()
            .find(|o| o.id == v)
            .or_else(|| {
                candidates
                    .iter()
                    .find(|o| o.tags.iter().any(|t| t.tag == v))
            })
            .or_else(|| candidates.iter().find(|o| o.display_name == v))
            .copied()
            .ok_or_else(|| format!("`{v}` matches no id, tag or display name on NSX")),
    }
}

fn version_below(have: &str, min: &str) -> Option<bool> {
    let have: client::NsxVersion = have.parse().ok()?;
    let min: client::NsxVersion = min.parse().ok()?;
    Some(have < min)
}

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let s = ctx.s;
    let v = &ctx.r.versions;
    // NSX-V version (C3 / V-VER).
    let nsxv = s.nsxv.version.as_str();
    let manager = s.metadata.nsxv_manager.as_deref().unwrap_or("nsxv");
    if version_below(nsxv, &v.min_nsxv_version).unwrap_or(true) {
        let open = version_below(nsxv, &v.min_nsxv_version_open_source).unwrap_or(true);
        out.add(
            "V-VER",
            None,
            Severity::Error,
            subject("NsxvManager", manager, ""),
            format!(
                "NSX-V is {nsxv}; the migration needs {} or later{}",
                v.min_nsxv_version,
                if open {
                    format!(
                        " (the open-source validator also refuses below {})",
                        v.min_nsxv_version_open_source
                    )
                } else {
                    String::new()
                }
            ),
            "upgrade NSX-V before migrating",
        );
    }
    // NSX version (seed 1002; 1003 when it is unknown).
    let nsx_manager = s.metadata.nsx_manager.as_deref().unwrap_or("nsx");
    match s.metadata.nsx_version.as_deref() {
        None => out.add(
            "T-VER",
            Some("1003"),
            Severity::Error,
            subject("NsxManager", nsx_manager, ""),
            "the snapshot does not say the destination NSX version".into(),
            "collect the snapshot again with the NSX manager reachable",
        ),
        Some(have) if version_below(have, &v.min_nsx_version).unwrap_or(true) => out.add(
            "T-VER",
            Some("1002"),
            Severity::Error,
            subject("NsxManager", nsx_manager, ""),
            format!(
                "NSX is {have}; the migration needs {} or later",
                v.min_nsx_version
            ),
            "upgrade NSX before migrating",
        ),
        Some(_) => {}
    }
    // VIO's vCenter registered as a compute manager (seed 1004).
    // collect records the address as `scheme://host`; a compute manager's server is a host.
    let vc = host_of(s.metadata.vcenter.as_deref().unwrap_or(""));
    let registered = s.nsx.compute_managers.iter().any(|c| {
        c.server
            .as_deref()
            .is_some_and(|x| host_of(x).eq_ignore_ascii_case(vc))
            || host_of(&c.display_name).eq_ignore_ascii_case(vc)
    });
    if !registered {
        out.add(
            "T-CM",
            Some("1004"),
            Severity::Error,
            subject(
                "ComputeManager",
                if vc.is_empty() { "vcenter" } else { vc },
                "",
            ),
            if vc.is_empty() {
                "the snapshot does not name VIO's vCenter, so its registration as a compute \
                 manager on NSX cannot be confirmed"
                    .to_string()
            } else {
                format!(
                    "VIO's vCenter {vc} is not registered as a compute manager on NSX ({} \
                     registered)",
                    s.nsx.compute_managers.len()
                )
            },
            "register VIO's vCenter as a compute manager on NSX",
        );
    }
    // The migration coordinator service running (seed 1001). The snapshot holds its state on
    // the manager collect read; the seed wants it on the first of `nsx_manager_ips` (or the
    // active manager behind a VIP), which is where collect should be pointed.
    if let Some(mc) = &s.nsx.coordinator_status
        && !mc.runtime_state.eq_ignore_ascii_case("running")
    {
        out.add(
            "T-MC",
            Some("1001"),
            Severity::Error,
            subject("NsxManager", "migration-coordinator", ""),
            format!(
                "the migration coordinator service is {} on the NSX manager the snapshot was \
                 collected from",
                mc.runtime_state
            ),
            "start the migration coordinator service on the first NSX manager of \
             migrator.conf.json's nsx_manager_ips (`start service migration-coordinator`), or \
             on the active manager behind a VIP, and collect again",
        );
    }
    // Neutron-owned objects already on NSX (seed 1005).
    let rollback = ctx.conf.and_then(|c| c.rollback).unwrap_or(false);
    for o in &s.nsx.neutron_owned {
        let what = format!(
            "{} `{}` ({}) on the destination NSX carries Neutron's os-api-version tag",
            if o.resource_type.is_empty() {
                "object"
            } else {
                &o.resource_type
            },
            o.display_name,
            o.path.as_deref().unwrap_or(&o.id)
        );
        if rollback {
            out.add(
                "X-NEUTRON-ON-NSX",
                Some("1005"),
                Severity::Info,
                subject(&o.resource_type, &o.id, &o.display_name),
                format!("{what}: with rollback on, the migration removes it first"),
                "none: rollback=true in migrator.conf.json cleans it up",
            );
        } else {
            out.add(
                "X-NEUTRON-ON-NSX",
                Some("1005"),
                Severity::Error,
                subject(&o.resource_type, &o.id, &o.display_name),
                format!("{what}: NSX must hold no Neutron-owned objects before the migration"),
                "remove the leftovers of the earlier attempt, or set rollback to true in \
                 migrator.conf.json so that the migration cleans them up",
            );
        }
    }
    let Some(conf) = ctx.conf else {
        return;
    };
    let nsx = &s.nsx;
    let tzs: Vec<&NsxObject> = nsx.transport_zones.iter().collect();
    let overlay: Vec<&NsxObject> = tzs
        .iter()
        .copied()
        .filter(|t| {
            t.tz_type
                .as_deref()
                .is_some_and(|x| x.starts_with("OVERLAY"))
        })
        .collect();
    let vlan: Vec<&NsxObject> = tzs
        .iter()
        .copied()
        .filter(|t| t.tz_type.as_deref().is_some_and(|x| x.starts_with("VLAN")))
        .collect();
    let mut target = |check: &str,
                      key: &str,
                      value: Option<&str>,
                      candidates: &[&NsxObject],
                      kind: &str,
                      mandatory: bool| {
        if !mandatory && value.is_none_or(str::is_empty) {
            return None;
        }
        match resolve(value, candidates) {
            Ok(o) => Some(o.id.clone()),
            Err(why) => {
                out.add(
                    check,
                    Some("2111"),
                    Severity::Error,
                    subject("migrator.conf.json", key, ""),
                    format!("migrator.conf.json `{key}` {why} (among the {kind})"),
                    "create the object on NSX or fix the value in migrator.conf.json",
                );
                None
            }
        }
    };
    target(
        "T-TZ-OVERLAY",
        "default_overlay_tz",
        conf.default_overlay_tz.as_deref(),
        &overlay,
        "overlay transport zones",
        true,
    );
    target(
        "T-TZ-VLAN",
        "default_vlan_tz",
        conf.default_vlan_tz.as_deref(),
        &vlan,
        "VLAN transport zones",
        false,
    );
    target(
        "T-DHCP",
        "dhcp_profile",
        conf.dhcp_profile.as_deref(),
        &nsx.dhcp_server_configs.iter().collect::<Vec<_>>(),
        "DHCP server configs",
        true,
    );
    target(
        "T-MDPROXY",
        "metadata_proxy",
        conf.metadata_proxy.as_deref(),
        &nsx.metadata_proxies.iter().collect::<Vec<_>>(),
        "metadata proxies",
        true,
    );
    let t0 = target(
        "T-T0",
        "default_tier0_router",
        conf.default_tier0_router.as_deref(),
        &nsx.tier0s.iter().collect::<Vec<_>>(),
        "tier-0 gateways",
        true,
    );
    // Per availability zone (migrator.conf.json `availability_zones`): the objects it names.
    let dhcp: Vec<&NsxObject> = nsx.dhcp_server_configs.iter().collect();
    let mdp: Vec<&NsxObject> = nsx.metadata_proxies.iter().collect();
    let t0s: Vec<&NsxObject> = nsx.tier0s.iter().collect();
    for (i, az) in conf.availability_zones.iter().enumerate() {
        let Some(name) = az
            .get("name")
            .and_then(|n| n.as_str())
            .filter(|n| !n.is_empty())
        else {
            out.add(
                "T-AZ",
                None,
                Severity::Error,
                subject("availability_zone", &i.to_string(), ""),
                format!("migrator.conf.json availability_zones[{i}] has no name"),
                "give every availability zone entry the name of a VIO availability zone",
            );
            continue;
        };
        for (key, candidates, kind) in [
            ("default_overlay_tz", &overlay, "overlay transport zones"),
            ("default_vlan_tz", &vlan, "VLAN transport zones"),
            ("dhcp_profile", &dhcp, "DHCP server configs"),
            ("metadata_proxy", &mdp, "metadata proxies"),
            ("default_tier0_router", &t0s, "tier-0 gateways"),
        ] {
            let Some(value) = az.get(key).and_then(|v| v.as_str()) else {
                continue;
            };
            if let Err(why) = resolve(Some(value), candidates) {
                out.add(
                    "T-AZ",
                    Some("2111"),
                    Severity::Error,
                    subject("availability_zone", &format!("{name}/{key}"), name),
                    format!(
                        "migrator.conf.json availability zone `{name}`: `{key}` {why} (among the {kind})"
                    ),
                    "create the object on NSX or fix the availability zone's entry",
                );
            }
        }
    }
    edge_clusters_span_zones(ctx, out, &overlay, &vlan);
    if let Some(t0) = t0 {
        let has_cluster = nsx
            .tier0_locale_services
            .get(&t0)
            .into_iter()
            .flatten()
            .any(|ls| {
                ls.edge_cluster_path
                    .as_deref()
                    .is_some_and(|p| !p.is_empty())
            });
        if !has_cluster {
            out.add(
                "T-T0-EC",
                Some("2111"),
                Severity::Error,
                subject("Tier0", &t0, ""),
                format!("tier-0 {t0} does not have an edge cluster (no locale service names one)"),
                "set an edge cluster on the tier-0's locale service",
            );
        }
    }
}

/// The edge clusters of the default tier-0, DHCP server config and metadata proxy must span the
/// default overlay transport zone and, when one is configured, the default VLAN transport zone
/// (anchors 2.2: the Policy plugin reads each member's transport node and refuses to start
/// otherwise; the mapping to seed 2111 is inferred). No member in the zone is an error; some
/// members outside it a warning (a service moved to such a node loses the zone's segments).
fn edge_clusters_span_zones(ctx: &Ctx, out: &mut Out, overlay: &[&NsxObject], vlan: &[&NsxObject]) {
    let (Some(conf), s) = (ctx.conf, ctx.s) else {
        return;
    };
    let nsx = &s.nsx;
    let Some(nodes) = nsx.edge_transport_nodes.as_ref() else {
        out.add(
            "T-EC-TZ",
            None,
            Severity::Info,
            subject("snapshot", "edge-transport-nodes", ""),
            "the snapshot has no edge transport nodes (nsx/edge-transport-nodes.json), so \
             whether the edge clusters span the transport zones is not checked"
                .into(),
            "collect the snapshot again to have this checked",
        );
        return;
    };
    let mut zones: Vec<(&str, &NsxObject)> = Vec::new();
    if let Ok(tz) = resolve(conf.default_overlay_tz.as_deref(), overlay) {
        zones.push(("overlay", tz));
    }
    if conf
        .default_vlan_tz
        .as_deref()
        .is_some_and(|v| !v.is_empty())
        && let Ok(tz) = resolve(conf.default_vlan_tz.as_deref(), vlan)
    {
        zones.push(("VLAN", tz));
    }
    // Edge cluster id -> what uses it, in the order the plugin checks them.
    let mut users: Vec<(String, Vec<String>)> = Vec::new();
    let mut used_by = |path: Option<&str>, user: String| {
        let Some(id) = path
            .and_then(|p| p.rsplit('/').next())
            .filter(|x| !x.is_empty())
        else {
            return;
        };
        match users.iter_mut().find(|(c, _)| c == id) {
            Some((_, u)) => u.push(user),
            None => users.push((id.to_string(), vec![user])),
        }
    };
    let t0s: Vec<&NsxObject> = nsx.tier0s.iter().collect();
    if let Ok(t0) = resolve(conf.default_tier0_router.as_deref(), &t0s) {
        for ls in nsx.tier0_locale_services.get(&t0.id).into_iter().flatten() {
            used_by(ls.edge_cluster_path.as_deref(), format!("tier-0 {}", t0.id));
        }
    }
    let dhcp: Vec<&NsxObject> = nsx.dhcp_server_configs.iter().collect();
    if let Ok(d) = resolve(conf.dhcp_profile.as_deref(), &dhcp) {
        used_by(
            d.edge_cluster_path.as_deref(),
            format!("DHCP server config {}", d.id),
        );
    }
    let mdp: Vec<&NsxObject> = nsx.metadata_proxies.iter().collect();
    if let Ok(m) = resolve(conf.metadata_proxy.as_deref(), &mdp) {
        used_by(
            m.edge_cluster_path.as_deref(),
            format!("metadata proxy {}", m.id),
        );
    }
    for (cluster, user) in &users {
        let members = nsx
            .edge_cluster_nodes
            .get(cluster)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if members.is_empty() {
            continue;
        }
        let user = user.join(", ");
        for (kind, tz) in &zones {
            // A transport node names zones by their Manager id: the Policy zone's `nsx_id`.
            let tz_ids = [tz.nsx_id.as_deref().unwrap_or(&tz.id), tz.id.as_str()];
            let outside: Vec<String> = members
                .iter()
                .filter(|m| {
                    let node = m
                        .nsx_id
                        .as_deref()
                        .and_then(|id| nodes.iter().find(|n| n.id == id));
                    !node.is_some_and(|n| n.transport_zone_ids().any(|z| tz_ids.contains(&z)))
                })
                .map(|m| {
                    let name = if m.display_name.is_empty() {
                        &m.id
                    } else {
                        &m.display_name
                    };
                    match m.nsx_id.as_deref() {
                        Some(id) if nodes.iter().any(|n| n.id == id) => format!("{name} ({id})"),
                        Some(id) => format!("{name} ({id}, no transport node in the snapshot)"),
                        None => format!("{name} (no transport node id)"),
                    }
                })
                .collect();
            if outside.is_empty() {
                continue;
            }
            let all = outside.len() == members.len();
            out.add(
                "T-EC-TZ",
                all.then_some("2111"),
                if all {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                subject("EdgeCluster", &format!("{cluster}/{}", tz.id), cluster),
                if all {
                    format!(
                        "edge cluster {cluster} (used by {user}) does not span the default {kind} \
                         transport zone {}: none of its {} edge nodes is in it, so the Policy \
                         plugin does not start",
                        tz.id,
                        members.len()
                    )
                } else {
                    format!(
                        "edge cluster {cluster} (used by {user}): {} of its {} edge nodes are not \
                         in the default {kind} transport zone {}: {}",
                        outside.len(),
                        members.len(),
                        tz.id,
                        outside.join(", ")
                    )
                },
                "add the edge nodes to the transport zone (their transport node configuration on \
                 NSX), or use an edge cluster whose nodes are in it",
            );
        }
    }
}

/// The edge cluster of the default tier-0 (its first locale service naming one), for sizing.
pub(crate) fn tier0_edge_cluster(ctx: &Ctx) -> Option<String> {
    let conf = ctx.conf?;
    let t0s: Vec<&NsxObject> = ctx.s.nsx.tier0s.iter().collect();
    let t0 = resolve(conf.default_tier0_router.as_deref(), &t0s).ok()?;
    let path = ctx
        .s
        .nsx
        .tier0_locale_services
        .get(&t0.id)?
        .iter()
        .find_map(|ls| ls.edge_cluster_path.clone())?;
    path.rsplit('/').next().map(str::to_string)
}

/// The host of an address given as a host, `host:port` or a URL.
fn host_of(address: &str) -> &str {
    let rest = address.split_once("://").map_or(address, |(_, r)| r);
    let rest = rest.split('/').next().unwrap_or(rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if let Some(v6) = rest.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match rest.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => rest,
    }
}

//! The operator's files: migrator.conf.json (6.2 T-EXTMAP, T-EXTCIDR, TOKEN; transit network;
//! compute clusters; seed 1101), the Neutron CR (seed 2002/2003) and nsx.ini (2.1 C1/C2; 2.3
//! the seed's table of NSX-V options NSX does not support).

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};
use crate::vio::net::Cidr;
use crate::vio::rules::IniPlace;
use crate::vio::snapshot::IniSection;

/// The seed's default token lifetime (minutes) when migrator.conf.json does not set one.
const DEFAULT_TOKEN_LIFETIME: i64 = 1440;

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    neutron_cr(ctx, out);
    nsx_ini(ctx, out);
    migrator_conf(ctx, out);
}

fn neutron_cr(ctx: &Ctx, out: &mut Out) {
    let crs = &ctx.s.vio.neutron_crs;
    if crs.len() != 1 {
        out.add(
            "CR-NEUTRON",
            Some("2001"),
            Severity::Error,
            subject("Neutron", "neutron", ""),
            format!("VIO's control plane has {} Neutron custom resources; the migration needs exactly one", crs.len()),
            "check the Neutron CR in namespace openstack (kubectl get neutrons -n openstack)",
        );
    }
    for cr in crs {
        let subj = || subject("Neutron", &cr.name, "");
        if cr.manifests.is_empty() {
            out.add(
                "CR-MANIFESTS",
                Some("2002"),
                Severity::Error,
                subj(),
                format!("Neutron CR `{}` has no spec.manifests", cr.name),
                "restore the manifests attribute of the Neutron CR's spec",
            );
            continue;
        }
        let on: Vec<&str> = cr
            .manifests
            .iter()
            .filter(|(k, v)| **v && !matches!(k.as_str(), "nsxv" | "neutron_server"))
            .map(|(k, _)| k.as_str())
            .collect();
        if cr.manifests.get("nsxv") != Some(&true) || !on.is_empty() {
            out.add(
                "CR-PLUGINS",
                Some("2003"),
                Severity::Error,
                subj(),
                format!(
                    "Neutron CR `{}` must enable the NSX-V plugin and no other (nsxv: {}; also on: {})",
                    cr.name,
                    cr.manifests.get("nsxv").copied().unwrap_or(false),
                    if on.is_empty() { "none".to_string() } else { on.join(", ") }
                ),
                "enable only the NSX-V plugin in the Neutron CR's manifests",
            );
        }
    }
}

/// A value as compared with a default: trimmed, lower case, list items trimmed.
fn normal(v: &str) -> String {
    v.split(',')
        .map(|x| x.trim().to_ascii_lowercase())
        .filter(|x| !x.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

fn nsx_ini(ctx: &Ctx, out: &mut Out) {
    let Some(ini) = ctx.s.vio.nsx_ini.as_ref() else {
        return;
    };
    // The default zone is [nsxv]; the others [az:<name>].
    let mut zones: Vec<(&str, &IniSection, IniPlace)> = Vec::new();
    if let Some(s) = ini.section("nsxv") {
        zones.push(("default", s, IniPlace::Nsxv));
    }
    for (az, s) in ini.az_sections() {
        zones.push((az, s, IniPlace::Az));
    }
    for (az, section, place) in &zones {
        let get = |key: &str| ini.get(&section.name, key);
        if let Some(o) = get("edge_ha")
            && o.value.trim().eq_ignore_ascii_case("true")
        {
            out.add(
                "C1",
                None,
                Severity::Warning,
                subject("availability_zone", az, ""),
                format!(
                    "nsx.ini line {}: [{}] edge_ha = {}: edge HA is not supported and will not be \
                     honoured by NSX (availability zone {az})",
                    o.line, section.name, o.value
                ),
                "nothing to change on NSX-V; NSX edge clusters provide their own high availability",
            );
        }
        if let Some(o) = get("edge_host_groups")
            && !normal(&o.value).is_empty()
        {
            out.add(
                "C2",
                None,
                Severity::Warning,
                subject("availability_zone", az, ""),
                format!(
                    "nsx.ini line {}: [{}] edge_host_groups = {}: host groups are not supported \
                     and will not be honoured by NSX (availability zone {az})",
                    o.line, section.name, o.value
                ),
                "place NSX edge nodes with the edge cluster's own placement settings",
            );
        }
        for opt in &ctx.r.nsx_ini_unsupported {
            if !opt.sections.contains(place) {
                continue;
            }
            let Some(o) = std::iter::once(&opt.name)
                .chain(&opt.aliases)
                .find_map(|n| get(n))
            else {
                continue;
            };
            if normal(&o.value).is_empty() || normal(&o.value) == normal(&opt.default) {
                continue;
            }
            let default = if opt.default.is_empty() {
                "unset".to_string()
            } else {
                format!("`{}`", opt.default)
            };
            out.add(
                "INI-UNSUPPORTED",
                None,
                opt.severity,
                subject("nsx.ini", &format!("{}/{}", section.name, o.key), ""),
                format!(
                    "nsx.ini line {}: [{}] {} = {} (NSX-V default {default}) is not supported in \
                     NSX: \"{}\"",
                    o.line, section.name, o.key, o.value, opt.reason
                ),
                if opt.severity == plan_schema::Severity::Info {
                    "nothing: the option is kept in the Neutron CR but has no effect on NSX"
                } else {
                    "review the behaviour change, and configure NSX for it where needed"
                },
            );
        }
    }
}

fn migrator_conf(ctx: &Ctx, out: &mut Out) {
    let Some(conf) = ctx.conf else {
        out.add(
            "CONF-MISSING",
            None,
            Severity::Error,
            subject("file", "vio/migrator.conf.json", ""),
            "the snapshot has no migrator.conf.json: the migrator cannot start without it".into(),
            "write migrator.conf.json and collect the snapshot again",
        );
        return;
    };
    let subj = |key: &str| subject("migrator.conf.json", key, "");
    if conf.edge_migration != Some(true) && conf.host_migration != Some(true) {
        out.add(
            "CONF-ACK",
            Some("1101"),
            Severity::Error,
            subj("edge_migration"),
            "migrator.conf.json sets neither edge_migration nor host_migration to true".into(),
            "set edge_migration and/or host_migration to true",
        );
    }
    // Transit network.
    if let Some(t) = conf.transit_network.as_deref()
        && Cidr::parse(t).is_none()
    {
        out.add(
            "CONF-TRANSIT",
            None,
            Severity::Error,
            subj("transit_network"),
            format!("migrator.conf.json transit_network `{t}` is not a CIDR"),
            "set transit_network to the NSX transit CIDR (default 100.64.0.0/16)",
        );
    }
    // Token lifetime.
    let t = &ctx.r.token;
    let life = conf.nsxv_token_lifetime.unwrap_or(DEFAULT_TOKEN_LIFETIME);
    if life < 1 || life > t.max_lifetime_minutes {
        out.add(
            "CONF-TOKEN",
            None,
            Severity::Error,
            subj("nsxv_token_lifetime"),
            format!(
                "nsxv_token_lifetime {life} minutes is outside what NSX-V grants (1 to {})",
                t.max_lifetime_minutes
            ),
            "set nsxv_token_lifetime within NSX-V's limits",
        );
    } else if life < t.min_lifetime_minutes {
        out.add(
            "CONF-TOKEN",
            None,
            Severity::Warning,
            subj("nsxv_token_lifetime"),
            format!(
                "nsxv_token_lifetime {life} minutes is shorter than {} minutes: the NSX-V token \
                 may expire before the migration ends",
                t.min_lifetime_minutes
            ),
            "raise nsxv_token_lifetime to outlast the whole migration",
        );
    }
    // Compute clusters.
    let clusters = &ctx.s.vcenter.clusters;
    if conf.host_migration == Some(true) && conf.compute_clusters.is_empty() {
        out.add(
            "CONF-CLUSTERS",
            None,
            Severity::Error,
            subj("compute_clusters"),
            "host_migration is on but compute_clusters is empty".into(),
            "list the vSphere clusters that run VIO instances in compute_clusters",
        );
    }
    for c in &conf.compute_clusters {
        if !clusters.iter().any(|x| &x.cluster == c || &x.name == c) {
            out.add(
                "CONF-CLUSTERS",
                None,
                Severity::Error,
                subject("cluster", c, ""),
                format!("compute cluster `{c}` of migrator.conf.json does not exist in vCenter"),
                "fix compute_clusters: vCenter cluster ids such as domain-c7",
            );
        }
    }
    // External networks and their tier-0s.
    let t0_ids: Vec<&str> = ctx.s.nsx.tier0s.iter().map(|t| t.id.as_str()).collect();
    for n in ctx.s.neutron.networks.iter().filter(|n| n.external) {
        let what = format!("external network {}", named(&n.name, &n.id));
        let Some(t0) = conf.external_networks_map.get(&n.id) else {
            out.add(
                "T-EXTMAP",
                None,
                Severity::Error,
                subject("network", &n.id, &n.name),
                format!("{what} is missing from external_networks_map in migrator.conf.json"),
                "map the external network to its tier-0 (or VRF) in external_networks_map",
            );
            continue;
        };
        if !t0_ids.contains(&t0.as_str()) {
            out.add(
                "T-EXTMAP",
                None,
                Severity::Error,
                subject("network", &n.id, &n.name),
                format!("{what} is mapped to tier-0 `{t0}`, which NSX does not have"),
                "map the external network to an existing tier-0 id",
            );
            continue;
        }
        let uplinks: Vec<Cidr> = ctx
            .s
            .nsx
            .tier0_interfaces
            .iter()
            .filter(|(k, _)| k.split('/').next() == Some(t0.as_str()))
            .flat_map(|(_, ifs)| ifs.iter())
            .filter(|i| i.interface_type.as_deref().is_none_or(|t| t == "EXTERNAL"))
            .flat_map(|i| i.subnets.iter())
            .flat_map(|s| {
                s.ip_addresses.iter().filter_map(move |a| {
                    crate::vio::net::Addr::parse(a).and_then(|a| Cidr::from_parts(a, s.prefix_len))
                })
            })
            .collect();
        for sn in ctx.subnets_of(&n.id) {
            if let Some(c) = ctx.cidr(sn)
                && let Some(u) = uplinks.iter().find(|u| u.range.overlaps(&c.range))
            {
                out.add(
                    "T-EXTCIDR",
                    None,
                    Severity::Error,
                    subject("subnet", &sn.id, &sn.name),
                    format!(
                        "subnet {} of {what} overlaps an uplink subnet of tier-0 {t0} (/{} )",
                        sn.cidr.as_deref().unwrap_or(""),
                        u.prefix
                    ),
                    "re-address the tier-0 uplinks or the external subnet",
                );
            }
        }
    }
    for (net, t0) in &conf.external_networks_map {
        if !ctx.networks.get(net.as_str()).is_some_and(|n| n.external) {
            out.add(
                "T-EXTMAP",
                None,
                Severity::Warning,
                subject("network", net, ""),
                format!(
                    "external_networks_map maps `{net}` (to {t0}), which is not an external network"
                ),
                "remove the entry or fix the network id",
            );
        }
    }
}

//! Host phase (anchors 2.4, where the snapshot has the data): every host of a compute cluster
//! connected and powered on (`H-HOST`), and the cluster's DRS as the host migration mode needs it
//! (`H-DRS`: disabled in place, enabled for automated maintenance mode; the mode is the rules'
//! `[host_migration] mode`, inferred). VXLAN port, replication modes, controller cluster, VDS
//! version, maintenance mode and pending reboots are not in the snapshot (the vSphere Automation
//! API's host list shows connection and power state only).

use plan_schema::Severity;

use super::{Ctx, Out, subject};
use crate::vio::rules::HostMigrationMode;

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let Some(conf) = ctx.conf else {
        return;
    };
    if conf.host_migration != Some(true) {
        return;
    }
    let vc = &ctx.s.vcenter;
    let h = &ctx.r.hosts;
    for c in &conf.compute_clusters {
        let Some(cluster) = vc.clusters.iter().find(|x| &x.cluster == c || &x.name == c) else {
            continue;
        };
        let drs_problem = match (ctx.r.host_migration.mode, cluster.drs_enabled) {
            (HostMigrationMode::InPlace, Some(true)) => {
                Some("DRS is enabled: in-place host migration needs DRS disabled on the cluster")
            }
            (HostMigrationMode::Maintenance, Some(false)) => Some(
                "DRS is disabled: automated maintenance mode needs DRS enabled (fully automated) \
                 to move the VMs off each host",
            ),
            _ => None,
        };
        if let Some(why) = drs_problem {
            out.add(
                "H-DRS",
                None,
                Severity::Warning,
                subject("cluster", &cluster.cluster, &cluster.name),
                format!(
                    "compute cluster {} ({}): {why} (the migration coordinator's host pre-check)",
                    cluster.name, cluster.cluster
                ),
                "set DRS on the cluster as the host migration mode needs before the window, or \
                 set [host_migration] mode in the VIO rules to the mode the host groups use",
            );
        }
        for host_id in vc
            .hosts_by_cluster
            .get(&cluster.cluster)
            .into_iter()
            .flatten()
        {
            let Some(host) = vc.hosts.iter().find(|x| &x.host == host_id) else {
                continue;
            };
            let bad_conn = !h.connection_states.contains(&host.connection_state);
            let bad_power = !h.power_states.contains(&host.power_state);
            if bad_conn || bad_power {
                out.add(
                    "H-HOST",
                    None,
                    Severity::Error,
                    subject("host", &host.host, &host.name),
                    format!(
                        "host {} ({}) of compute cluster {} is {} and {}: host migration needs \
                         every host connected and powered on",
                        host.name, host.host, cluster.name, host.connection_state, host.power_state
                    ),
                    "reconnect and power on the host, or remove it from the cluster before migrating",
                );
            }
        }
    }
}

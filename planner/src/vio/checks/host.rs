//! Host phase (anchors 2.4, where the snapshot has the data): every host of a compute cluster
//! connected and powered on. VXLAN port, replication modes, controller cluster, VDS version and
//! pending reboots are not in the snapshot.

use plan_schema::Severity;

use super::{Ctx, Out, subject};

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

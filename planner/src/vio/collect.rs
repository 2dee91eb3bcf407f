//! `collect --kind vio-v2t`: read a live VIO deployment (Keystone, Neutron, Octavia, NSX-V,
//! vCenter, VIO's Kubernetes control plane) and the destination NSX into a `vio-v2t` snapshot
//! directory (docs/inventory-format.md). Only reads are sent.
//!
//! The snapshot is written into a fresh sibling directory and renamed onto `out` only when every
//! file is written, so a failed collect never leaves a directory that looks complete.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use client::{ClientError, Kubectl, NsxClient, NsxvClient, OpenStackClient, VcenterClient};
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{Map, Value, json};

use super::redact::{self, Redaction};

/// Which source failed: the message starts with it ("neutron: GET /v2.0/ports: ...").
#[derive(Debug, thiserror::Error)]
pub enum VioCollectError {
    #[error("{service}: {error}")]
    Api {
        service: &'static str,
        // Part of the message, deliberately not a `source`: chains are not printed twice.
        error: ClientError,
    },
    #[error("{service}: {message}")]
    Answer {
        service: &'static str,
        message: String,
    },
    /// The cause is part of the message (not a `source`, so chains are not printed twice).
    #[error("vio (kubectl): {0}")]
    Kube(client::KubectlError),
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Write { path: PathBuf, message: String },
}

fn api(service: &'static str) -> impl Fn(ClientError) -> VioCollectError {
    move |error| VioCollectError::Api { service, error }
}

/// The live sources.
pub struct VioSources<'a> {
    pub openstack: &'a OpenStackClient,
    pub nsxv: &'a NsxvClient,
    pub vcenter: &'a VcenterClient,
    pub nsx: &'a NsxClient,
    pub kubectl: &'a Kubectl,
}

pub struct VioCollectOptions {
    /// The operator's NSX-V plugin configuration.
    pub nsx_ini: PathBuf,
    /// The neutron migrator's configuration.
    pub migrator_conf: PathBuf,
    /// VIO's namespace (`openstack`).
    pub namespace: String,
    /// How the snapshot names the managers (addresses, never credentials).
    pub nsxv_manager: String,
    pub vcenter: String,
    pub nsx_manager: String,
    pub collected_at: String,
    /// Per-parent reads in flight at once (each client also applies its own limits).
    pub concurrency: usize,
}

#[derive(Debug, Clone, Default)]
pub struct VioCollectSummary {
    /// Objects written (list items and keyed entries), per source.
    pub objects: BTreeMap<&'static str, usize>,
    pub files: usize,
    pub redactions: usize,
    pub nsxv_version: String,
    pub nsx_version: String,
    /// What the operator should know about how something was read.
    pub notes: Vec<String>,
}

impl VioCollectSummary {
    pub fn total_objects(&self) -> usize {
        self.objects.values().sum()
    }
}

/// Progress events: a stage name and the objects collected so far.
pub type Progress<'a> = &'a (dyn Fn(&str, usize) + Sync);

struct Snapshot<'p> {
    files: BTreeMap<String, Vec<u8>>,
    summary: VioCollectSummary,
    progress: Progress<'p>,
}

impl Snapshot<'_> {
    fn put_json(&mut self, rel: &str, v: &Value) {
        let text = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        self.files.insert(rel.to_string(), text.into_bytes());
    }

    fn count(&mut self, source: &'static str, n: usize, stage: &str) {
        *self.summary.objects.entry(source).or_default() += n;
        (self.progress)(stage, self.summary.total_objects());
    }
}

/// Read `inputs` with `read`, `concurrency` at a time, keeping their order.
async fn many<I, T, F, Fut>(
    inputs: Vec<I>,
    concurrency: usize,
    read: F,
) -> Result<Vec<T>, VioCollectError>
where
    F: Fn(I) -> Fut,
    Fut: std::future::Future<Output = Result<T, VioCollectError>>,
{
    futures_util::stream::iter(inputs)
        .map(read)
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

fn id_of(v: &Value, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn ids(
    items: &[Value],
    keys: &[&str],
    service: &'static str,
    file: &str,
) -> Result<Vec<String>, VioCollectError> {
    items
        .iter()
        .enumerate()
        .map(|(i, v)| {
            id_of(v, keys).ok_or_else(|| VioCollectError::Answer {
                service,
                message: format!("{file}: item {i} has no {}", keys.join(" or ")),
            })
        })
        .collect()
}

const NEUTRON: &[(&str, &str, &str)] = &[
    ("networks", "/v2.0/networks", "networks"),
    ("subnets", "/v2.0/subnets", "subnets"),
    ("ports", "/v2.0/ports", "ports"),
    ("routers", "/v2.0/routers", "routers"),
    ("floatingips", "/v2.0/floatingips", "floatingips"),
    (
        "security-groups",
        "/v2.0/security-groups",
        "security_groups",
    ),
    ("qos-policies", "/v2.0/qos/policies", "policies"),
    (
        "firewall-groups",
        "/v2.0/fwaas/firewall_groups",
        "firewall_groups",
    ),
    (
        "firewall-policies",
        "/v2.0/fwaas/firewall_policies",
        "firewall_policies",
    ),
    (
        "firewall-rules",
        "/v2.0/fwaas/firewall_rules",
        "firewall_rules",
    ),
    ("subnetpools", "/v2.0/subnetpools", "subnetpools"),
    ("quotas", "/v2.0/quotas", "quotas"),
    ("rbac-policies", "/v2.0/rbac-policies", "rbac_policies"),
    (
        "availability-zones",
        "/v2.0/availability_zones",
        "availability_zones",
    ),
    ("extensions", "/v2.0/extensions", "extensions"),
];

/// Neutron collections of optional service plugins: (extension alias, file, path, key).
const NEUTRON_OPTIONAL: &[(&str, &str, &str, &str)] = &[
    (
        "l2-gateway",
        "l2-gateways",
        "/v2.0/l2-gateways",
        "l2_gateways",
    ),
    (
        "l2-gateway-connection",
        "l2-gateway-connections",
        "/v2.0/l2-gateway-connections",
        "l2_gateway_connections",
    ),
];

const OCTAVIA: &[(&str, &str, &str)] = &[
    ("loadbalancers", "/v2/lbaas/loadbalancers", "loadbalancers"),
    ("listeners", "/v2/lbaas/listeners", "listeners"),
    ("pools", "/v2/lbaas/pools", "pools"),
    (
        "healthmonitors",
        "/v2/lbaas/healthmonitors",
        "healthmonitors",
    ),
    ("l7policies", "/v2/lbaas/l7policies", "l7policies"),
    ("flavors", "/v2.0/lbaas/flavors", "flavors"),
    (
        "flavorprofiles",
        "/v2.0/lbaas/flavorprofiles",
        "flavorprofiles",
    ),
];

const POLICY_EP: &str = "/policy/api/v1/infra/sites/default/enforcement-points/default";

/// Collect everything into `out` (which must not exist, or be an empty directory).
pub async fn collect(
    src: &VioSources<'_>,
    opts: &VioCollectOptions,
    out: &Path,
    progress: Progress<'_>,
) -> Result<VioCollectSummary, VioCollectError> {
    // Refuse before sending anything if the result could not be put in place.
    check_out(out)?;
    let operator = read_operator_files(opts)?;
    let mut s = Snapshot {
        files: BTreeMap::new(),
        summary: VioCollectSummary::default(),
        progress,
    };
    let conc = opts.concurrency;
    let os = src.openstack;

    // Keystone.
    let mut projects = os
        .get_identity("/v3/projects")
        .await
        .map_err(api("keystone"))?;
    let n = projects
        .get("projects")
        .and_then(Value::as_array)
        .map(Vec::len)
        .ok_or_else(|| VioCollectError::Answer {
            service: "keystone",
            message: "GET /v3/projects: no `projects` array".into(),
        })?;
    if let Some(m) = projects.as_object_mut() {
        m.remove("links");
    }
    s.put_json("keystone/projects.json", &projects);
    s.count("keystone", n, "keystone");
    let network_endpoint = os.endpoint("network").await.map_err(api("neutron"))?;
    let lb_endpoint = os.endpoint("load-balancer").await.map_err(api("octavia"))?;

    // Neutron and Octavia lists.
    let lists = many(
        NEUTRON
            .iter()
            .map(|t| ("neutron", "network", *t))
            .chain(OCTAVIA.iter().map(|t| ("octavia", "load-balancer", *t)))
            .collect(),
        conc,
        |(service, ty, (file, path, coll))| async move {
            let items = os.list_all(ty, path, coll).await.map_err(api(service))?;
            Ok::<_, VioCollectError>((service, file, coll, items))
        },
    )
    .await?;
    let mut pools = Vec::new();
    let mut l7policies = Vec::new();
    let mut aliases = Vec::new();
    for (service, file, coll, items) in lists {
        match (service, file) {
            ("octavia", "pools") => pools = ids(&items, &["id"], service, "pools")?,
            ("octavia", "l7policies") => l7policies = ids(&items, &["id"], service, "l7policies")?,
            ("neutron", "extensions") => aliases = ids(&items, &["alias"], service, "extensions")?,
            _ => {}
        }
        s.count(service, items.len(), service);
        let mut body = Map::new();
        body.insert(coll.to_string(), Value::Array(items));
        s.put_json(&format!("{service}/{file}.json"), &Value::Object(body));
    }
    // Service plugins' collections, read only where their extension is loaded (Neutron has no
    // such path otherwise): networking-l2gw's gateways and connections.
    let optional: Vec<_> = NEUTRON_OPTIONAL
        .iter()
        .filter(|(alias, ..)| aliases.iter().any(|a| a == alias))
        .collect();
    let bodies = many(optional.clone(), conc, |(_, _, path, coll)| async move {
        os.list_all("network", path, coll)
            .await
            .map_err(api("neutron"))
    })
    .await?;
    for ((_, file, _, coll), items) in optional.into_iter().zip(bodies) {
        s.count("neutron", items.len(), "neutron");
        s.put_json(&format!("neutron/{file}.json"), &json!({ *coll: items }));
    }
    // Octavia children, per parent.
    for (file, parents, child, coll) in [
        ("members", pools, "members", "members"),
        ("l7rules", l7policies, "rules", "rules"),
    ] {
        let parent_path = if file == "members" {
            "pools"
        } else {
            "l7policies"
        };
        let bodies = many(parents.clone(), conc, |id| async move {
            let path = format!("/v2/lbaas/{parent_path}/{id}/{child}");
            os.list_all("load-balancer", &path, coll)
                .await
                .map_err(api("octavia"))
        })
        .await?;
        let mut keyed = Map::new();
        for (id, items) in parents.into_iter().zip(bodies) {
            s.count("octavia", items.len(), "octavia");
            keyed.insert(id, json!({ coll: items }));
        }
        s.put_json(&format!("octavia/{file}.json"), &Value::Object(keyed));
    }

    // NSX-V.
    let nsxv = src.nsxv;
    let vsmconfig = nsxv
        .get_json("/api/2.0/services/vsmconfig")
        .await
        .map_err(api("nsx-v"))?;
    let nsxv_version = vsmconfig
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| VioCollectError::Answer {
            service: "nsx-v",
            message: "GET /api/2.0/services/vsmconfig: no `version` string".into(),
        })?;
    s.put_json("nsxv/vsmconfig.json", &vsmconfig);
    let edges = nsxv.edges().await.map_err(api("nsx-v"))?;
    let edge_ids = ids(&edges, &["id", "objectId"], "nsx-v", "edges")?;
    let edge_types: Vec<String> = edges
        .iter()
        .map(|e| id_of(e, &["edgeType"]).unwrap_or_default())
        .collect();
    s.count("nsx-v", edges.len(), "nsx-v edges");
    s.put_json("nsxv/edges.json", &json!({"edgePage": merged_page(edges)}));
    let per_edge: Vec<(String, &str, &str)> = edge_ids
        .iter()
        .zip(&edge_types)
        .flat_map(|(id, ty)| {
            let mut v = vec![
                (id.clone(), "edge-details", ""),
                (id.clone(), "edge-appliances", "/appliances"),
                (
                    id.clone(),
                    "edge-virtualservers",
                    "/loadbalancer/config/virtualservers",
                ),
            ];
            match ty.as_str() {
                "gatewayServices" => v.push((id.clone(), "edge-vnics", "/vnics")),
                "distributedRouter" => v.push((id.clone(), "edge-interfaces", "/interfaces")),
                _ => {}
            }
            v
        })
        .collect();
    let answers = many(per_edge.clone(), conc, |(id, _, suffix)| async move {
        nsxv.get_json(&format!("/api/4.0/edges/{id}{suffix}"))
            .await
            .map_err(api("nsx-v"))
    })
    .await?;
    let mut keyed: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for file in [
        "edge-details",
        "edge-appliances",
        "edge-virtualservers",
        "edge-vnics",
        "edge-interfaces",
    ] {
        keyed.insert(file, Map::new());
    }
    for ((id, file, _), body) in per_edge.into_iter().zip(answers) {
        keyed.entry(file).or_default().insert(id, body);
    }
    for (file, m) in keyed {
        s.count("nsx-v", m.len(), "nsx-v edges");
        s.put_json(&format!("nsxv/{file}.json"), &Value::Object(m));
    }
    let wires = nsxv.virtual_wires().await.map_err(api("nsx-v"))?;
    s.count("nsx-v", wires.len(), "nsx-v virtual wires");
    s.put_json(
        "nsxv/virtualwires.json",
        &json!({"dataPage": merged_page(wires)}),
    );
    let scoping = nsxv
        .get_xml_text("/api/2.0/services/usermgmt/scopingobjects")
        .await
        .map_err(api("nsx-v"))?;
    s.files
        .insert("nsxv/scopingobjects.xml".into(), scoping.into_bytes());

    // vCenter.
    let vc = src.vcenter;
    let clusters = vc.clusters().await.map_err(api("vcenter"))?;
    let cluster_ids = ids(&clusters, &["cluster"], "vcenter", "clusters")?;
    let hosts = vc.hosts(None).await.map_err(api("vcenter"))?;
    let host_ids = ids(&hosts, &["host"], "vcenter", "hosts")?;
    let by_cluster = many(cluster_ids.clone(), conc, |c| async move {
        vc.hosts(Some(&c)).await.map_err(api("vcenter"))
    })
    .await?;
    let by_host = many(host_ids.clone(), conc, |h| async move {
        vc.vms_of_host(&h).await.map_err(api("vcenter"))
    })
    .await?;
    let vms = match vc.vms_unless_too_many().await.map_err(api("vcenter"))? {
        Some(v) => v,
        // vCenter refuses an unfiltered list above its limit: the union of the per-host lists,
        // in host order (docs/inventory-format.md).
        None => {
            s.summary.notes.push(
                "vCenter refused the unfiltered VM list (too many VMs); vms.json is the union of the per-host lists".into(),
            );
            by_host.iter().flatten().cloned().collect()
        }
    };
    s.count(
        "vcenter",
        clusters.len() + hosts.len() + vms.len(),
        "vcenter",
    );
    s.put_json("vcenter/clusters.json", &Value::Array(clusters));
    s.put_json("vcenter/hosts.json", &Value::Array(hosts));
    s.put_json("vcenter/vms.json", &Value::Array(vms));
    let keyed: Map<String, Value> = cluster_ids
        .into_iter()
        .zip(by_cluster)
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    s.put_json("vcenter/hosts-by-cluster.json", &Value::Object(keyed));
    let keyed: Map<String, Value> = host_ids
        .into_iter()
        .zip(by_host)
        .map(|(k, v)| (k, Value::Array(v)))
        .collect();
    s.put_json("vcenter/vms-by-host.json", &Value::Object(keyed));

    // VIO's control plane.
    let kc = src.kubectl;
    let ns = opts.namespace.as_str();
    // As `kubectl get -o json` prints it (docs/inventory-format.md).
    let cr_raw = kc
        .get_in_namespace("neutrons.vio.vmware.com", ns, "json")
        .await
        .map_err(VioCollectError::Kube)?;
    let cr: Value = serde_json::from_slice(&cr_raw).map_err(|e| VioCollectError::Answer {
        service: "vio (kubectl)",
        message: format!("kubectl get neutrons.vio.vmware.com printed invalid JSON: {e}"),
    })?;
    let n = cr["items"].as_array().map(Vec::len).unwrap_or(0);
    if n == 0 {
        return Err(VioCollectError::Answer {
            service: "vio (kubectl)",
            message: format!("no Neutron custom resource in namespace {ns}"),
        });
    }
    s.count("vio", n, "vio");
    let secrets = viosecrets(kc, ns).await?;
    s.count(
        "vio",
        secrets["items"].as_array().map(Vec::len).unwrap_or(0),
        "vio",
    );
    let (context, cluster) = kc.current_context().await.map_err(VioCollectError::Kube)?;

    // The operator's files, passwords replaced.
    let mut redactions: Vec<Redaction> = Vec::new();
    let (ini, found) = redact::redact_ini(&operator.nsx_ini, "vio/nsx.ini", &|section, option| {
        password_ref_in_cr(&cr, ns, section, option)
    });
    redactions.extend(found);
    s.files.insert("vio/nsx.ini".into(), ini.into_bytes());
    let mut conf = operator.migrator_conf_json;
    if redact::redact_json(&mut conf, "vio/migrator.conf.json", &mut redactions) {
        s.put_json("vio/migrator.conf.json", &conf);
    } else {
        s.files.insert(
            "vio/migrator.conf.json".into(),
            operator.migrator_conf_text.into_bytes(),
        );
    }
    s.put_json("vio/neutron-cr.json", &cr);
    s.put_json("vio/viosecrets.json", &secrets);

    // The destination NSX.
    let nsx = src.nsx;
    let nsx_version = nsx.node_version().await.map_err(api("nsx"))?;
    // The migration coordinator service on the manager collect reads (seed 1001).
    let coordinator = nsx.coordinator_status().await.map_err(api("nsx"))?.raw;
    s.put_json("nsx/coordinator-status.json", &coordinator);
    let nsx_list = |path: String| async move { nsx.list_all(&path).await.map_err(api("nsx")) };
    let flat = many(
        vec![
            (
                "compute-managers",
                "/api/v1/fabric/compute-managers".to_string(),
            ),
            ("transport-zones", format!("{POLICY_EP}/transport-zones")),
            ("edge-clusters", format!("{POLICY_EP}/edge-clusters")),
            ("tier-0s", "/policy/api/v1/infra/tier-0s".to_string()),
            (
                "dhcp-server-configs",
                "/policy/api/v1/infra/dhcp-server-configs".to_string(),
            ),
            (
                "metadata-proxies",
                "/policy/api/v1/infra/metadata-proxies".to_string(),
            ),
        ],
        conc,
        |(file, path)| async move { Ok::<_, VioCollectError>((file, nsx_list(path).await?)) },
    )
    .await?;
    let mut edge_clusters = Vec::new();
    let mut tier0s = Vec::new();
    for (file, items) in flat {
        match file {
            "edge-clusters" => edge_clusters = ids(&items, &["id"], "nsx", file)?,
            "tier-0s" => tier0s = ids(&items, &["id"], "nsx", file)?,
            _ => {}
        }
        s.count("nsx", items.len(), "nsx");
        s.put_json(&format!("nsx/{file}.json"), &results(items));
    }
    let nodes = many(edge_clusters.clone(), conc, |id| {
        nsx_list(format!("{POLICY_EP}/edge-clusters/{id}/edge-nodes"))
    })
    .await?;
    let mut keyed = Map::new();
    // The members' transport nodes (Manager API), for the transport zones each is in: what the
    // Policy plugin reads to check that an edge cluster spans its transport zones.
    let mut node_ids: Vec<String> = Vec::new();
    for (id, items) in edge_clusters.into_iter().zip(nodes) {
        for n in &items {
            if let Some(tn) = id_of(n, &["nsx_id"])
                && !node_ids.contains(&tn)
            {
                node_ids.push(tn);
            }
        }
        s.count("nsx", items.len(), "nsx");
        keyed.insert(id, results(items));
    }
    s.put_json("nsx/edge-cluster-nodes.json", &Value::Object(keyed));
    let transport_nodes = many(node_ids, conc, |id| async move {
        nsx.get(&format!("/api/v1/transport-nodes/{id}"))
            .await
            .map_err(api("nsx"))
    })
    .await?;
    s.count("nsx", transport_nodes.len(), "nsx");
    s.put_json("nsx/edge-transport-nodes.json", &results(transport_nodes));
    let locale = many(tier0s.clone(), conc, |t0| {
        nsx_list(format!("/policy/api/v1/infra/tier-0s/{t0}/locale-services"))
    })
    .await?;
    let mut keyed = Map::new();
    let mut t0_ls = Vec::new();
    for (t0, items) in tier0s.into_iter().zip(locale) {
        for ls in ids(&items, &["id"], "nsx", "tier-0-locale-services")? {
            t0_ls.push((t0.clone(), ls));
        }
        s.count("nsx", items.len(), "nsx");
        keyed.insert(t0, results(items));
    }
    s.put_json("nsx/tier-0-locale-services.json", &Value::Object(keyed));
    let ifaces = many(t0_ls.clone(), conc, |(t0, ls)| {
        nsx_list(format!(
            "/policy/api/v1/infra/tier-0s/{t0}/locale-services/{ls}/interfaces"
        ))
    })
    .await?;
    let mut keyed = Map::new();
    for ((t0, ls), items) in t0_ls.into_iter().zip(ifaces) {
        s.count("nsx", items.len(), "nsx");
        keyed.insert(format!("{t0}/{ls}"), results(items));
    }
    s.put_json("nsx/tier-0-interfaces.json", &Value::Object(keyed));
    let owned = nsx
        .search_all_at(
            "/policy/api/v1/search/query",
            "tags.scope:os-api-version",
            |_| {},
        )
        .await
        .map_err(api("nsx"))?;
    s.count("nsx", owned.len(), "nsx");
    s.put_json("nsx/neutron-owned.json", &results(owned));

    // metadata.json.
    let c = os.cloud();
    let domain = |d: &client::DomainRef| match d {
        client::DomainRef::Name(n) | client::DomainRef::Id(n) => n.clone(),
    };
    let (project, project_domain) = match &c.project {
        client::ProjectScope::Id(id) => (id.clone(), Value::Null),
        client::ProjectScope::Name { name, domain: d } => (name.clone(), json!(domain(d))),
    };
    let mut kubernetes = json!({"namespace": ns});
    if !cluster.is_empty() {
        kubernetes["cluster"] = json!(cluster);
    }
    if !context.is_empty() {
        kubernetes["context"] = json!(context);
    }
    s.summary.redactions = redactions.len();
    s.put_json(
        "metadata.json",
        &json!({
            "format": "nsx-migrate-inventory",
            "format_version": 1,
            "kind": "vio-v2t",
            "source": "nsx-migrate collect",
            "collected_at": opts.collected_at,
            "openstack": {
                "auth_url": os.auth_url_label(),
                "region": c.region_name,
                "user": c.username,
                "user_domain": domain(&c.user_domain),
                "project": project,
                "project_domain": project_domain,
                "network_endpoint": network_endpoint.as_str().trim_end_matches('/'),
                "load_balancer_endpoint": lb_endpoint.as_str().trim_end_matches('/'),
            },
            "nsxv_manager": opts.nsxv_manager,
            "nsxv_version": nsxv_version,
            "vcenter": opts.vcenter,
            "nsx_manager": opts.nsx_manager,
            "nsx_version": nsx_version,
            "kubernetes": kubernetes,
            "redactions": redactions.iter().map(Redaction::to_json).collect::<Vec<_>>(),
        }),
    );
    s.summary.nsxv_version = nsxv_version;
    s.summary.nsx_version = nsx_version;
    s.summary.files = s.files.len();
    write_all(out, &s.files)?;
    Ok(s.summary)
}

/// `{"results": [...], "result_count": N}`.
fn results(items: Vec<Value>) -> Value {
    let n = items.len();
    json!({"results": items, "result_count": n})
}

/// NSX-V's page object for a merged list (docs/inventory-format.md).
fn merged_page(data: Vec<Value>) -> Value {
    let n = data.len();
    json!({
        "data": data,
        "pagingInfo": {"startIndex": 0, "pageSize": n, "totalCount": n, "sortOrderAscending": true, "sortBy": "id"},
    })
}

/// Where the Neutron CR says an nsx.ini secret lives: `spec.conf.plugins.<section>.<option>_ref`
/// naming a VIOSecret and key.
fn password_ref_in_cr(cr: &Value, ns: &str, section: &str, option: &str) -> Option<String> {
    let items = cr.get("items")?.as_array()?;
    items.iter().find_map(|item| {
        let r = item.pointer(&format!("/spec/conf/plugins/{section}/{option}_ref"))?;
        if r.get("kind").and_then(Value::as_str) != Some("VIOSecret") {
            return None;
        }
        let name = r.get("name")?.as_str()?;
        let key = r.get("key")?.as_str()?;
        Some(format!("secret-ref:{ns}/{name}/{key}"))
    })
}

/// The VIOSecrets of `ns` without their data: kubectl selects metadata and the data's key
/// names (jsonpath and go-template), so no secret value ever reaches this process.
async fn viosecrets(kc: &Kubectl, ns: &str) -> Result<Value, VioCollectError> {
    const RES: &str = "viosecrets.vio.vmware.com";
    let bad = |message: String| VioCollectError::Answer {
        service: "vio (kubectl)",
        message: format!("kubectl get {RES}: {message}"),
    };
    let meta = kc
        .get_in_namespace(
            RES,
            ns,
            "jsonpath={.metadata.resourceVersion}{\"\\n\"}{range .items[*]}{.apiVersion}{\"\\t\"}{.kind}{\"\\t\"}{.metadata}{\"\\n\"}{end}",
        )
        .await
        .map_err(VioCollectError::Kube)?;
    let keys = kc
        .get_in_namespace(
            RES,
            ns,
            "go-template={{range .items}}{{.metadata.name}}{{range $k, $v := .spec.data}}{{\"\\t\"}}{{$k}}{{end}}{{\"\\n\"}}{{end}}",
        )
        .await
        .map_err(VioCollectError::Kube)?;
    let meta = String::from_utf8(meta).map_err(|_| bad("output is not UTF-8".into()))?;
    let keys = String::from_utf8(keys).map_err(|_| bad("output is not UTF-8".into()))?;
    let mut lines = meta.lines();
    let list_rv = lines.next().unwrap_or("").trim().to_string();
    let mut data_keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in keys.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.split('\t');
        let name = parts.next().unwrap_or("");
        data_keys.insert(name, parts.collect());
    }
    let mut items = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut parts = line.splitn(3, '\t');
        let (Some(api_version), Some(kind), Some(metadata)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad(format!(
                "unexpected line '{}'",
                line.chars().take(80).collect::<String>()
            )));
        };
        let metadata: Value = serde_json::from_str(metadata)
            .map_err(|e| bad(format!("metadata is not JSON: {e}")))?;
        let name = metadata.get("name").and_then(Value::as_str).unwrap_or("");
        let data: Map<String, Value> = data_keys
            .get(name)
            .into_iter()
            .flatten()
            .map(|k| (k.to_string(), Value::String(String::new())))
            .collect();
        items.push(json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": metadata,
            "spec": {"data": data},
        }));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "VIOSecretList",
        "metadata": {"resourceVersion": list_rv},
        "items": items,
    }))
}

struct OperatorFiles {
    nsx_ini: String,
    migrator_conf_text: String,
    migrator_conf_json: Value,
}

fn read_operator_files(opts: &VioCollectOptions) -> Result<OperatorFiles, VioCollectError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| VioCollectError::Input {
            path: p.to_path_buf(),
            message: format!("cannot read: {e}"),
        })
    };
    let nsx_ini = read(&opts.nsx_ini)?;
    let text = read(&opts.migrator_conf)?;
    let v: Value = serde_json::from_str(&text).map_err(|e| VioCollectError::Input {
        path: opts.migrator_conf.clone(),
        message: format!("{}:{}: invalid JSON: {e}", e.line(), e.column()),
    })?;
    if !v.is_object() {
        return Err(VioCollectError::Input {
            path: opts.migrator_conf.clone(),
            message: "expected a JSON object".into(),
        });
    }
    Ok(OperatorFiles {
        nsx_ini,
        migrator_conf_text: text,
        migrator_conf_json: v,
    })
}

fn check_out(out: &Path) -> Result<(), VioCollectError> {
    match std::fs::read_dir(out) {
        Ok(mut d) => {
            if d.next().is_some() {
                return Err(VioCollectError::Write {
                    path: out.to_path_buf(),
                    message: "already exists and is not empty; give a new directory".into(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(VioCollectError::Write {
            path: out.to_path_buf(),
            message: format!("cannot use as the snapshot directory: {e}"),
        }),
    }
}

/// Write every file into `<out>.partial-<pid>` next to `out`, then rename it onto `out`. On any
/// failure the partial directory is removed.
fn write_all(out: &Path, files: &BTreeMap<String, Vec<u8>>) -> Result<(), VioCollectError> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".into());
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        let err = |path: &Path, e: std::io::Error| VioCollectError::Write {
            path: path.to_path_buf(),
            message: format!("cannot write: {e}"),
        };
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| err(&tmp, e))?;
        }
        for (rel, bytes) in files {
            let p = tmp.join(rel);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
            }
            std::fs::write(&p, bytes).map_err(|e| err(&p, e))?;
        }
        check_out(out)?;
        if out.exists() {
            // An empty directory: replaced by the complete one.
            std::fs::remove_dir(out).map_err(|e| err(out, e))?;
        }
        std::fs::rename(&tmp, out).map_err(|e| err(out, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

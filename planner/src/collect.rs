//! `collect`: read a live NSX Manager (REST, through the `client` crate) and Kubernetes (through
//! the real `kubectl`, or a TAS foundation's Cloud Controller through `client::CfClient`) into an
//! inventory snapshot (docs/inventory-format.md).
//!
//! What is read: the cluster's objects (search on its `ncp/cluster` tag), the shared resources
//! the user spec names, ports of shared switches, router ports, static routes and NAT rules of the
//! routers in scope, every firewall section with its rules (order matters), the objects all of
//! these refer to (transitively, by id), IP pool allocations, the NCP routers of other clusters
//! (to tell who else uses the NSX), NSX version and coordinator state.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use client::{CfClient, KubeResource, Kubectl, NsxClient};
use serde_json::{Value, json};

use crate::inventory::{K8S_FILES, NSX_FILES};
use crate::model::{Kind, MpObject};
use crate::userspec::ClusterSpec;

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("NSX Manager: {context}")]
    Nsx {
        context: String,
        #[source]
        source: client::ClientError,
    },
    #[error("Kubernetes (kubectl)")]
    Kube(#[from] client::KubectlError),
    #[error("Cloud Foundry API")]
    Cf(#[from] client::CfError),
    #[error("{path}: cannot write: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

pub struct CollectOptions<'a> {
    pub cluster: String,
    pub spec: Option<&'a ClusterSpec>,
    /// How the snapshot names the manager (an address, never credentials).
    pub nsx_manager: String,
    pub kube_context: Option<String>,
    pub collected_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct CollectSummary {
    pub nsx_objects: usize,
    pub kube_objects: usize,
    /// Cloud Foundry objects (a TAS foundation): list entries and app instances.
    pub cf_objects: usize,
    pub requests: usize,
    pub nsx_version: Option<String>,
    /// What could not be read and was recorded as unknown instead.
    pub warnings: Vec<String>,
}

/// Progress events for a progress bar: a stage name and the objects collected so far.
pub type Progress<'a> = &'a (dyn Fn(&str, usize) + Sync);

fn stem_for(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "LogicalSwitch" => "logical-switches",
        "LogicalPort" => "logical-ports",
        "LogicalRouter" => "logical-routers",
        t if t.starts_with("LogicalRouter") && t.ends_with("Port") => "logical-router-ports",
        "NatRule" => "nat-rules",
        "StaticRoute" => "static-routes",
        "IpBlock" => "ip-blocks",
        "IpBlockSubnet" => "ip-block-subnets",
        "IpPool" => "ip-pools",
        "IPSet" => "ip-sets",
        "NSGroup" => "ns-groups",
        t if t.ends_with("SwitchingProfile") => "switching-profiles",
        t if t.starts_with("certificate_") || t == "Certificate" => "certificates",
        "LbService" => "lb-services",
        "LbVirtualServer" => "lb-virtual-servers",
        "LbPool" => "lb-pools",
        t if t.starts_with("Lb") && t.ends_with("Monitor") => "lb-monitors",
        t if t.starts_with("Lb") && t.ends_with("PersistenceProfile") => "lb-persistence-profiles",
        "LbClientSslProfile" => "lb-client-ssl-profiles",
        "LbServerSslProfile" => "lb-server-ssl-profiles",
        t if t.starts_with("Lb") && t.ends_with("Profile") => "lb-app-profiles",
        "LbRule" => "lb-rules",
        // Firewall sections are read with their rules; search hits are ignored.
        _ => return None,
    })
}

fn kind_of_stem(stem: &str) -> Option<Kind> {
    NSX_FILES.iter().find(|(s, _)| *s == stem).map(|(_, k)| *k)
}

/// Every page of the list at `path`.
async fn list_at(nsx: &NsxClient, path: String) -> Result<Vec<Value>, CollectError> {
    nsx.list_all(&path)
        .await
        .map_err(|source| CollectError::Nsx {
            context: format!("GET {path}"),
            source,
        })
}

/// Reads in flight at once for per-router and per-section requests.
const READ_CONCURRENCY: usize = 8;

struct Collector<'a> {
    nsx: &'a NsxClient,
    /// stem -> id -> object
    objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    requests: usize,
    progress: Progress<'a>,
}

impl<'a> Collector<'a> {
    fn count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    fn add(&mut self, v: Value) -> bool {
        let (Some(rt), Some(id)) = (
            v.get("resource_type").and_then(Value::as_str),
            v.get("id").and_then(Value::as_str),
        ) else {
            return false;
        };
        let Some(stem) = stem_for(rt) else {
            return false;
        };
        let id = id.to_string();
        self.objects
            .entry(stem)
            .or_default()
            .insert(id, v)
            .is_none()
    }

    fn has(&self, id: &str) -> bool {
        self.objects.values().any(|m| m.contains_key(id))
    }

    async fn search(&mut self, stage: &str, query: &str) -> Result<Vec<Value>, CollectError> {
        self.requests += 1;
        let found = self
            .nsx
            .search_all(query)
            .await
            .map_err(|source| CollectError::Nsx {
                context: format!("search `{query}`"),
                source,
            })?;
        (self.progress)(stage, self.count() + found.len());
        Ok(found)
    }

    /// `read` for each of `inputs`, [`READ_CONCURRENCY`] at a time (the client paces them under
    /// NSX's per-client limits); the results in the order of `inputs`.
    async fn read_many<I, T, F, Fut>(
        &mut self,
        stage: &str,
        inputs: Vec<I>,
        read: F,
    ) -> Result<Vec<T>, CollectError>
    where
        F: Fn(&'a NsxClient, I) -> Fut,
        Fut: std::future::Future<Output = Result<T, CollectError>>,
    {
        use futures_util::{StreamExt, TryStreamExt};
        self.requests += inputs.len();
        let nsx = self.nsx;
        let out: Vec<T> = futures_util::stream::iter(inputs)
            .map(|i| read(nsx, i))
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        (self.progress)(stage, self.count() + out.len());
        Ok(out)
    }

    async fn list(&mut self, stage: &str, path: &str) -> Result<Vec<Value>, CollectError> {
        self.requests += 1;
        let found = self
            .nsx
            .list_all(path)
            .await
            .map_err(|source| CollectError::Nsx {
                context: format!("GET {path}"),
                source,
            })?;
        (self.progress)(stage, self.count() + found.len());
        Ok(found)
    }
}

/// Where the cluster's workload objects are read from.
enum Workload<'a> {
    /// A Kubernetes cluster, through kubectl.
    Kube(&'a Kubectl),
    /// A TAS foundation, through its Cloud Controller.
    Cf(&'a CfClient),
}

/// Collect an NCP Kubernetes cluster (NSX and Kubernetes).
pub async fn collect(
    nsx: &NsxClient,
    kubectl: &Kubectl,
    opts: &CollectOptions<'_>,
    out: &Path,
    progress: Progress<'_>,
) -> Result<CollectSummary, CollectError> {
    collect_from(nsx, Workload::Kube(kubectl), opts, out, progress).await
}

/// Collect a TAS foundation (NSX and the Cloud Controller's organizations, spaces, apps,
/// processes and process stats into `cf/`); `opts.cluster` is the foundation's NCP cluster name.
pub async fn collect_tas(
    nsx: &NsxClient,
    cf: &CfClient,
    opts: &CollectOptions<'_>,
    out: &Path,
    progress: Progress<'_>,
) -> Result<CollectSummary, CollectError> {
    collect_from(nsx, Workload::Cf(cf), opts, out, progress).await
}

/// The Cloud Controller's lists and every process's stats, as the snapshot's `cf/` files.
async fn read_cf(
    cf: &CfClient,
    progress: Progress<'_>,
    before: usize,
) -> Result<(Vec<(String, Value)>, usize), CollectError> {
    let mut files = Vec::new();
    let mut n = 0;
    let mut process_guids = Vec::new();
    for stem in crate::cf::CF_LISTS {
        let items = cf.list_all(&format!("/v3/{stem}")).await?;
        n += items.len();
        if *stem == "processes" {
            process_guids = items
                .iter()
                .filter_map(|p| p["guid"].as_str().map(str::to_string))
                .collect();
        }
        let total = items.len();
        files.push((
            stem.to_string(),
            json!({
                "pagination": {"total_results": total, "total_pages": 1, "first": null, "last": null, "next": null, "previous": null},
                "resources": items,
            }),
        ));
        progress("cloud foundry", before + n);
    }
    let mut stats = serde_json::Map::new();
    for guid in process_guids {
        let s = cf.process_stats(&guid).await?;
        n += s["resources"].as_array().map(Vec::len).unwrap_or(0);
        stats.insert(guid, json!({"resources": s["resources"].clone()}));
        progress("cloud foundry", before + n);
    }
    files.push((crate::cf::CF_STATS.to_string(), Value::Object(stats)));
    Ok((files, n))
}

async fn collect_from(
    nsx: &NsxClient,
    workload: Workload<'_>,
    opts: &CollectOptions<'_>,
    out: &Path,
    progress: Progress<'_>,
) -> Result<CollectSummary, CollectError> {
    let mut c = Collector {
        nsx,
        objects: BTreeMap::new(),
        requests: 0,
        progress,
    };

    let nsx_version = nsx
        .node_version()
        .await
        .map_err(|source| CollectError::Nsx {
            context: "GET /api/v1/node/version".into(),
            source,
        })?;
    let mut warnings = Vec::new();
    let coordinator = match nsx.coordinator_status().await {
        Ok(s) => Some(s.runtime_state.to_ascii_uppercase()),
        Err(e) => {
            warnings.push(format!(
                "the migration coordinator's status could not be read ({e}); the snapshot records it as unknown"
            ));
            None
        }
    };
    c.requests += 2;

    // The cluster's objects.
    let q = format!(
        "tags.scope:ncp\\/cluster AND tags.tag:{}",
        client::search_escape(&opts.cluster)
    );
    for v in c.search("cluster objects", &q).await? {
        c.add(v);
    }
    // NCP routers of every cluster: tells who else uses this NSX.
    for v in c
        .search(
            "other clusters",
            "resource_type:LogicalRouter AND tags.scope:ncp\\/cluster",
        )
        .await?
    {
        c.add(v);
    }
    // Shared resources named in the user spec.
    let mut shared_switches = Vec::new();
    let mut shared_routers: Vec<String> = Vec::new();
    let mut pools_to_read: BTreeSet<String> = BTreeSet::new();
    if let Some(spec) = opts.spec {
        for (list, r) in spec.shared_resources.entries() {
            let rt = match list {
                "tier0_routers" | "tier1_routers" => "LogicalRouter",
                "ip_blocks" => "IpBlock",
                "ip_pools" => "IpPool",
                "logical_switches" => "LogicalSwitch",
                "ip_sets" => "IPSet",
                "ns_groups" => "NSGroup",
                "switching_profiles" => "*SwitchingProfile",
                "certificates" => "certificate_*",
                "lb_services" => "LbService",
                _ => continue,
            };
            let q = match (&r.id, &r.display_name) {
                (Some(id), _) => format!("resource_type:{rt} AND id:{}", client::search_escape(id)),
                (None, Some(n)) => format!(
                    "resource_type:{rt} AND display_name:\"{}\"",
                    n.replace('"', "\\\"")
                ),
                _ => continue,
            };
            for v in c.search("shared resources", &q).await? {
                if let Some(id) = v.get("id").and_then(Value::as_str) {
                    match list {
                        "logical_switches" => shared_switches.push(id.to_string()),
                        "tier0_routers" | "tier1_routers" => shared_routers.push(id.to_string()),
                        "ip_pools" => {
                            pools_to_read.insert(id.to_string());
                        }
                        _ => {}
                    }
                }
                c.add(v);
            }
        }
    }
    for ls in &shared_switches {
        for v in c
            .list(
                "ports of shared switches",
                &format!("/api/v1/logical-ports?logical_switch_id={ls}"),
            )
            .await?
        {
            c.add(v);
        }
    }
    // Router ports, static routes and NAT rules of the routers in scope.
    let mut routers: Vec<String> = c
        .objects
        .get("logical-routers")
        .map(|m| {
            m.values()
                .filter(|r| in_scope(r, &opts.cluster))
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    routers.extend(shared_routers);
    routers.sort();
    routers.dedup();
    let paths: Vec<String> = routers
        .iter()
        .flat_map(|r| {
            [
                format!("/api/v1/logical-router-ports?logical_router_id={r}"),
                format!("/api/v1/logical-routers/{r}/routing/static-routes"),
                format!("/api/v1/logical-routers/{r}/nat/rules"),
            ]
        })
        .collect();
    for list in c
        .read_many("router ports, static routes, NAT rules", paths, list_at)
        .await?
    {
        for v in list {
            c.add(v);
        }
    }
    // Every firewall section with its rules, in evaluation order.
    let sections = c
        .list("firewall sections", "/api/v1/firewall/sections")
        .await?;
    let ids: Vec<String> = sections
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let firewall = c
        .read_many("firewall sections", ids, |nsx, id| async move {
            let path = format!("/api/v1/firewall/sections/{id}?action=list_with_rules");
            nsx.post(&path, &json!({}))
                .await
                .map_err(|source| CollectError::Nsx {
                    context: format!("POST {path}"),
                    source,
                })
        })
        .await?;
    (c.progress)("firewall sections", c.count() + firewall.len());

    // Objects referred to by what we have, by id (transitively, bounded).
    for _round in 0..4 {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let all = c
            .objects
            .iter()
            .flat_map(|(stem, m)| m.values().map(move |v| (*stem, v)));
        for (stem, v) in all.chain(firewall.iter().map(|v| ("firewall-sections", v))) {
            let Some(kind) = kind_of_stem(stem) else {
                continue;
            };
            let Ok(o) = MpObject::from_json(kind, v.clone()) else {
                continue;
            };
            for r in o.refs() {
                if !c.has(&r.target) {
                    wanted.insert(r.target);
                }
            }
        }
        if wanted.is_empty() {
            break;
        }
        let wanted: Vec<String> = wanted.into_iter().collect();
        let mut added = 0;
        for chunk in wanted.chunks(40) {
            let q = chunk
                .iter()
                .map(|id| format!("id:{}", client::search_escape(id)))
                .collect::<Vec<_>>()
                .join(" OR ");
            for v in c.search("referenced objects", &q).await? {
                if c.add(v) {
                    added += 1;
                }
            }
        }
        if added == 0 {
            break;
        }
    }

    // Allocations of shared pools and of the cluster's pools.
    if let Some(pools) = c.objects.get("ip-pools") {
        for p in pools.values() {
            if in_scope(p, &opts.cluster)
                && let Some(id) = p.get("id").and_then(Value::as_str)
            {
                pools_to_read.insert(id.to_string());
            }
        }
    }
    let pools: Vec<String> = pools_to_read.into_iter().collect();
    let paths = pools
        .iter()
        .map(|pool| format!("/api/v1/pools/ip-pools/{pool}/allocations"))
        .collect();
    let lists = c.read_many("IP allocations", paths, list_at).await?;
    let mut allocations = serde_json::Map::new();
    for (pool, list) in pools.into_iter().zip(lists) {
        let n = list.len();
        allocations.insert(pool, json!({"results": list, "result_count": n}));
    }

    // Kubernetes, through kubectl; or the foundation's Cloud Controller.
    let mut kube: Vec<(&str, Value)> = Vec::new();
    let mut kube_objects = 0;
    let mut cf_files = Vec::new();
    let mut cf_objects = 0;
    match workload {
        Workload::Kube(kubectl) => {
            for r in KubeResource::ALL {
                let list = kubectl.list_resource(r).await?;
                let list = as_api_list(r, list);
                kube_objects += list["items"].as_array().map(Vec::len).unwrap_or(0);
                kube.push((r.file_stem(), list));
                (c.progress)("kubernetes", c.count() + kube_objects);
            }
        }
        Workload::Cf(cf) => {
            (cf_files, cf_objects) = read_cf(cf, c.progress, c.count()).await?;
            c.requests += cf.requests();
        }
    }

    // Write the snapshot.
    write_json(
        &out.join("nsx").join("ip-pool-allocations.json"),
        &Value::Object(allocations),
    )?;
    let mut nsx_objects = firewall.len();
    for (stem, _) in NSX_FILES {
        if *stem == "firewall-sections" {
            let n = firewall.len();
            write_json(
                &out.join("nsx/firewall-sections.json"),
                &json!({"results": firewall, "result_count": n}),
            )?;
            continue;
        }
        let list: Vec<Value> = c
            .objects
            .get(stem)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        nsx_objects += list.len();
        let n = list.len();
        write_json(
            &out.join("nsx").join(format!("{stem}.json")),
            &json!({"results": list, "result_count": n}),
        )?;
    }
    for (stem, list) in &kube {
        write_json(&out.join("k8s").join(format!("{stem}.json")), list)?;
    }
    for (stem, v) in &cf_files {
        write_json(&out.join("cf").join(format!("{stem}.json")), v)?;
    }
    let mut metadata = json!({
        "format": "nsx-migrate-inventory",
        "format_version": 1,
        "source": "nsx-migrate collect",
        "collected_at": opts.collected_at,
        "nsx_manager": opts.nsx_manager,
        "nsx_version": nsx_version,
        "migration_coordinator": coordinator,
    });
    match workload {
        Workload::Kube(_) => {
            debug_assert_eq!(kube.len(), K8S_FILES.len());
            let mut kubernetes = json!({"cluster": opts.cluster});
            if let Some(ctxname) = &opts.kube_context {
                kubernetes["context"] = json!(ctxname);
            }
            metadata["kubernetes"] = kubernetes;
        }
        Workload::Cf(cf) => {
            metadata["cloud_foundry"] = json!({"foundation": opts.cluster, "api": cf.api_url()});
        }
    }
    write_json(&out.join("metadata.json"), &metadata)?;
    Ok(CollectSummary {
        nsx_objects,
        kube_objects,
        cf_objects,
        requests: c.requests,
        nsx_version: Some(nsx_version),
        warnings,
    })
}

fn in_scope(v: &Value, cluster: &str) -> bool {
    v.get("tags").and_then(Value::as_array).is_some_and(|tags| {
        tags.iter()
            .any(|t| t["scope"] == "ncp/cluster" && t["tag"] == cluster)
    })
}

/// The snapshot keeps the API server's own list shape (`PodList`, items without
/// apiVersion/kind, as `kubectl get --raw` reads them; `kubectl get -o json` would add them), with
/// no resourceVersion so that two collections of the same objects are the same files.
fn as_api_list(r: KubeResource, mut list: Value) -> Value {
    let api_version = r.api_version();
    let mut items = Vec::new();
    if let Some(list_items) = list.get_mut("items").and_then(Value::as_array_mut) {
        for mut item in list_items.drain(..) {
            if let Some(m) = item.as_object_mut() {
                m.remove("apiVersion");
                m.remove("kind");
            }
            items.push(item);
        }
    }
    json!({"apiVersion": api_version, "kind": r.list_kind(), "metadata": {"resourceVersion": ""}, "items": items})
}

fn write_json(path: &Path, v: &Value) -> Result<(), CollectError> {
    let err = |cause| CollectError::Write {
        path: path.to_path_buf(),
        cause,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    std::fs::write(&tmp, text + "\n").map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    Ok(())
}

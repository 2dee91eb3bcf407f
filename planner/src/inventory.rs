//! Inventory snapshots (docs/inventory-format.md): loading with located errors, and the canonical
//! fingerprints the plan records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::PlanError;
use crate::model::{Kind, MpObject};

/// `metadata.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    pub format: String,
    pub format_version: u32,
    pub source: String,
    pub collected_at: String,
    pub nsx_manager: String,
    #[serde(default)]
    pub nsx_version: Option<String>,
    #[serde(default)]
    pub migration_coordinator: Option<String>,
    #[serde(default)]
    pub kubernetes: Option<KubeMeta>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KubeMeta {
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub context: Option<String>,
}

/// The NSX collections of a snapshot, by file stem.
pub const NSX_FILES: &[(&str, Kind)] = &[
    ("logical-switches", Kind::LogicalSwitch),
    ("logical-ports", Kind::LogicalPort),
    ("logical-routers", Kind::LogicalRouter),
    ("logical-router-ports", Kind::LogicalRouterPort),
    ("nat-rules", Kind::NatRule),
    ("static-routes", Kind::StaticRoute),
    ("ip-blocks", Kind::IpBlock),
    ("ip-block-subnets", Kind::IpBlockSubnet),
    ("ip-pools", Kind::IpPool),
    ("ip-sets", Kind::IpSet),
    ("ns-groups", Kind::NsGroup),
    ("firewall-sections", Kind::FirewallSection),
    ("switching-profiles", Kind::SwitchingProfile),
    ("certificates", Kind::Certificate),
    ("lb-services", Kind::LbService),
    ("lb-virtual-servers", Kind::LbVirtualServer),
    ("lb-pools", Kind::LbPool),
    ("lb-monitors", Kind::LbMonitor),
    ("lb-app-profiles", Kind::LbAppProfile),
    ("lb-persistence-profiles", Kind::LbPersistenceProfile),
    ("lb-client-ssl-profiles", Kind::LbClientSslProfile),
    ("lb-server-ssl-profiles", Kind::LbServerSslProfile),
    ("lb-rules", Kind::LbRule),
];

/// The Kubernetes lists of a snapshot, by file stem, with the List kind the API returns.
pub const K8S_FILES: &[(&str, &str)] = &[
    ("namespaces", "NamespaceList"),
    ("pods", "PodList"),
    ("services", "ServiceList"),
    ("endpoints", "EndpointsList"),
    ("nodes", "NodeList"),
    ("ingresses", "IngressList"),
    ("networkpolicies", "NetworkPolicyList"),
];

/// An IP pool allocation (`AllocationIpAddress`) with the pool it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    pub pool_id: String,
    pub allocation_id: String,
    pub raw: Value,
}

/// A Kubernetes object reduced to what the planner matches on.
#[derive(Debug, Clone, PartialEq)]
pub struct KubeObject {
    pub kind: &'static str,
    pub namespace: Option<String>,
    pub name: String,
    pub raw: Value,
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub root: PathBuf,
    pub metadata: Option<Metadata>,
    /// Every NSX object (firewall rules are inside their sections), in file order.
    pub objects: Vec<MpObject>,
    pub allocations: Vec<Allocation>,
    /// Kubernetes objects by List stem (`pods`, `namespaces`, ...).
    pub kube: BTreeMap<&'static str, Vec<KubeObject>>,
    /// Canonical fingerprints (sha256 hex) and object counts.
    pub nsx_fingerprint: String,
    pub nsx_count: u64,
    /// Per-object fingerprint parts (computed while the full objects are at hand).
    nsx_parts: Vec<String>,
    kube_parts: Vec<String>,
    pub kube_fingerprint: String,
    pub kube_count: u64,
}

fn read_json(path: &Path) -> Result<Value, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|cause| PlanError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    serde_json::from_str(&text).map_err(|e| PlanError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

fn bad(path: &Path, pointer: impl Into<String>, message: impl Into<String>) -> PlanError {
    PlanError::Snapshot {
        path: path.to_path_buf(),
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Read a list response (`{"results": [...], ...}`) one object at a time: only one object's JSON
/// tree is in memory at once, whatever the size of the file.
fn for_each_result(
    path: &Path,
    mut f: impl FnMut(usize, Value) -> Result<(), PlanError>,
) -> Result<(), PlanError> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    struct Each<'f, F>(&'f mut F, Option<PlanError>, bool);
    struct Results<'a, 'f, F>(&'a mut Each<'f, F>);

    impl<'de, F: FnMut(usize, Value) -> Result<(), PlanError>> Visitor<'de> for Results<'_, '_, F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(v) = seq.next_element::<Value>()? {
                if self.0.1.is_none()
                    && let Err(e) = (self.0.0)(i, v)
                {
                    self.0.1 = Some(e);
                }
                i += 1;
            }
            Ok(())
        }
    }
    impl<'de, F: FnMut(usize, Value) -> Result<(), PlanError>> DeserializeSeed<'de>
        for Results<'_, '_, F>
    {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de, F: FnMut(usize, Value) -> Result<(), PlanError>> Visitor<'de> for &mut Each<'_, F> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list response object with `results`")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == "results" {
                    map.next_value_seed(Results(&mut *self))?;
                    self.2 = true;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    let file = std::fs::File::open(path).map_err(|cause| PlanError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut de =
        serde_json::Deserializer::from_reader(std::io::BufReader::with_capacity(1 << 20, file));
    let mut each = Each(&mut f, None, false);
    de.deserialize_map(&mut each)
        .and_then(|()| de.end())
        .map_err(|e| PlanError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    if let Some(e) = each.1 {
        return Err(e);
    }
    if !each.2 {
        return Err(bad(
            path,
            "/results",
            "expected a list response with a `results` array",
        ));
    }
    Ok(())
}

fn list_results<'a>(path: &Path, value: &'a Value) -> Result<&'a Vec<Value>, PlanError> {
    value
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad(
                path,
                "/results",
                "expected a list response with a `results` array",
            )
        })
}

impl Inventory {
    /// Load a snapshot directory.
    pub fn load(root: &Path) -> Result<Inventory, PlanError> {
        if !root.is_dir() {
            return Err(PlanError::Io {
                path: root.to_path_buf(),
                cause: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not a snapshot directory",
                ),
            });
        }
        let mut inv = Inventory {
            root: root.to_path_buf(),
            ..Inventory::default()
        };

        let meta_path = root.join("metadata.json");
        if meta_path.exists() {
            let value = read_json(&meta_path)?;
            let meta: Metadata =
                serde_json::from_value(value).map_err(|e| bad(&meta_path, "", e.to_string()))?;
            if meta.format != "nsx-migrate-inventory" || meta.format_version != 1 {
                return Err(bad(
                    &meta_path,
                    "/format_version",
                    format!(
                        "not an inventory snapshot of format 1 (found format `{}` version {})",
                        meta.format, meta.format_version
                    ),
                ));
            }
            inv.metadata = Some(meta);
        }

        let nsx_dir = root.join("nsx");
        check_known_files(
            &nsx_dir,
            NSX_FILES
                .iter()
                .map(|(s, _)| *s)
                .chain(["ip-pool-allocations"]),
        )?;
        for &(stem, kind) in NSX_FILES {
            let path = nsx_dir.join(format!("{stem}.json"));
            if !path.exists() {
                continue;
            }
            let mut objects = Vec::new();
            let mut parts = Vec::new();
            for_each_result(&path, |i, raw| {
                if let Some(id) = raw.get("id").and_then(Value::as_str) {
                    parts.push(plan_schema::fingerprint::nsx_part(kind.as_str(), id, &raw));
                }
                let obj = MpObject::from_json(kind, raw)
                    .map_err(|m| bad(&path, format!("/results/{i}"), m))?;
                objects.push(obj);
                Ok(())
            })?;
            inv.nsx_parts.extend(parts);
            // Listing order carries meaning only for firewall sections (evaluation order);
            // everything else is ordered by id so that plans do not depend on how it was listed.
            if kind != Kind::FirewallSection {
                objects.sort_by(|a, b| a.id.cmp(&b.id));
            }
            inv.objects.extend(objects);
        }
        let alloc_path = nsx_dir.join("ip-pool-allocations.json");
        if alloc_path.exists() {
            let value = read_json(&alloc_path)?;
            let map = value
                .as_object()
                .ok_or_else(|| bad(&alloc_path, "", "expected an object keyed by IP pool id"))?;
            for (pool_id, list) in map {
                for (i, raw) in list_results(&alloc_path, list)?.iter().enumerate() {
                    let allocation_id = raw
                        .get("allocation_id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| {
                            bad(
                                &alloc_path,
                                format!("/{pool_id}/results/{i}/allocation_id"),
                                "missing allocation_id",
                            )
                        })?
                        .to_string();
                    inv.allocations.push(Allocation {
                        pool_id: pool_id.clone(),
                        allocation_id,
                        raw: raw.clone(),
                    });
                }
            }
        }

        let k8s_dir = root.join("k8s");
        check_known_files(&k8s_dir, K8S_FILES.iter().map(|(s, _)| *s))?;
        for &(stem, list_kind) in K8S_FILES {
            let path = k8s_dir.join(format!("{stem}.json"));
            let mut items = Vec::new();
            if path.exists() {
                let mut value = read_json(&path)?;
                match value.get("kind").and_then(Value::as_str) {
                    Some(k) if k == list_kind || k == "List" => {}
                    other => {
                        return Err(bad(
                            &path,
                            "/kind",
                            format!(
                                "expected kind {list_kind}, found {}",
                                other.unwrap_or("nothing")
                            ),
                        ));
                    }
                }
                let list = match value.get_mut("items").map(Value::take) {
                    Some(Value::Array(list)) => list,
                    _ => return Err(bad(&path, "/items", "expected an `items` array")),
                };
                for (i, raw) in list.into_iter().enumerate() {
                    let name = raw
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(&path, format!("/items/{i}/metadata/name"), "missing"))?
                        .to_string();
                    let namespace = raw
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    inv.kube_parts
                        .push(plan_schema::fingerprint::kube_part(stem, &raw));
                    // Keep only what the planner reads: the phase of pods.
                    let phase = raw.pointer("/status/phase").cloned();
                    let raw = match phase {
                        Some(p) => serde_json::json!({"status": {"phase": p}}),
                        None => Value::Null,
                    };
                    items.push(KubeObject {
                        kind: list_kind.trim_end_matches("List"),
                        namespace,
                        name,
                        raw,
                    });
                }
            }
            items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            inv.kube.insert(stem, items);
        }
        inv.fingerprint();
        Ok(inv)
    }

    /// Fingerprints in the plan contract's canonical forms (`plan_schema::fingerprint`).
    fn fingerprint(&mut self) {
        use plan_schema::fingerprint::{combine, nsx_part};
        let mut parts = std::mem::take(&mut self.nsx_parts);
        for a in &self.allocations {
            parts.push(nsx_part(
                "Allocation",
                &format!("{}/{}", a.pool_id, a.allocation_id),
                &a.raw,
            ));
        }
        (self.nsx_fingerprint, self.nsx_count) = combine(parts);
        (self.kube_fingerprint, self.kube_count) = combine(std::mem::take(&mut self.kube_parts));
    }

    pub fn kube(&self, stem: &str) -> &[KubeObject] {
        self.kube.get(stem).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn check_known_files<'a>(
    dir: &Path,
    known: impl Iterator<Item = &'a str>,
) -> Result<(), PlanError> {
    let known: Vec<&str> = known.collect();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        if !known.contains(&stem) {
            return Err(bad(
                &entry.path(),
                "",
                format!("unknown snapshot file (known: {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

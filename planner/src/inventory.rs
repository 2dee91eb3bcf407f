//! Inventory snapshots (docs/inventory-format.md): loading with located errors, and the canonical
//! fingerprints the plan records.

use std::collections::{BTreeMap, HashMap};
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
    /// A TAS foundation's Cloud Controller (snapshots with a `cf/` folder).
    #[serde(default)]
    pub cloud_foundry: Option<CfMeta>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CfMeta {
    /// The foundation's name: NCP's cluster name, the `ncp/cluster` tag value.
    #[serde(default)]
    pub foundation: Option<String>,
    /// The Cloud Controller API address (never credentials).
    #[serde(default)]
    pub api: Option<String>,
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
    /// `status.phase` (pods) when it is a string.
    pub phase: Option<String>,
}

/// A JSON value that was present in the input, even as `null` (`None` = key absent).
#[derive(Debug, Default)]
struct Present(Option<Value>);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|v| Present(Some(v)))
    }
}

/// What is read of a Kubernetes list item: the fingerprint's projection
/// (`plan_schema::fingerprint::kube_projection`) and a pod's phase; the rest is skipped unparsed.
/// `S` is [`Present`] for lists whose `spec` the projection keeps, [`Skipped`] otherwise.
#[derive(Deserialize)]
struct KubeItem<S: Default> {
    #[serde(default)]
    metadata: Option<KubeItemMeta>,
    #[serde(default)]
    spec: S,
    #[serde(default)]
    status: Option<KubeItemStatus>,
}

impl From<Present> for Option<Value> {
    fn from(p: Present) -> Self {
        p.0
    }
}

#[derive(Deserialize, Default)]
struct KubeItemMeta {
    #[serde(default)]
    namespace: Present,
    #[serde(default)]
    name: Present,
    #[serde(default)]
    uid: Present,
    #[serde(default)]
    labels: Present,
}

#[derive(Deserialize)]
struct KubeItemStatus {
    #[serde(default)]
    phase: Option<Value>,
}

/// Read one Kubernetes list file item by item into `items`, adding each item's fingerprint part.
fn load_kube_list<S: serde::de::DeserializeOwned + Default + Into<Option<Value>>>(
    path: &Path,
    stem: &'static str,
    list_kind: &'static str,
    items: &mut Vec<KubeObject>,
    parts: &mut Vec<String>,
) -> Result<(), PlanError> {
    let kind = for_each_item(path, "items", |i, item: KubeItem<S>| {
        let meta = item.metadata.unwrap_or_default();
        let name = match &meta.name.0 {
            Some(Value::String(n)) => n.clone(),
            _ => return Err(bad(path, format!("/items/{i}/metadata/name"), "missing")),
        };
        let namespace = match &meta.namespace.0 {
            Some(Value::String(n)) => Some(n.clone()),
            _ => None,
        };
        let mut projection = serde_json::Map::new();
        for (key, v) in [
            ("namespace", meta.namespace.0),
            ("name", meta.name.0),
            ("uid", meta.uid.0),
            ("labels", meta.labels.0),
        ] {
            if let Some(v) = v {
                projection.insert(key.to_string(), v);
            }
        }
        if let Some(spec) = item.spec.into() {
            projection.insert("spec".to_string(), spec);
        }
        parts.push(plan_schema::fingerprint::kube_projected_part(
            stem,
            &Value::Object(projection),
        ));
        items.push(KubeObject {
            kind: list_kind.trim_end_matches("List"),
            namespace,
            name,
            phase: item
                .status
                .and_then(|s| s.phase)
                .and_then(|p| p.as_str().map(str::to_string)),
        });
        Ok(())
    })
    .map_err(|e| match e {
        PlanError::Snapshot { pointer, .. } if pointer == "/items" => {
            bad(path, "/items", "expected an `items` array")
        }
        e => e,
    })?;
    match kind.as_deref() {
        Some(k) if k == list_kind || k == "List" => Ok(()),
        other => Err(bad(
            path,
            "/kind",
            format!(
                "expected kind {list_kind}, found {}",
                other.unwrap_or("nothing")
            ),
        )),
    }
}

type KubeListLoader = fn(
    &Path,
    &'static str,
    &'static str,
    &mut Vec<KubeObject>,
    &mut Vec<String>,
) -> Result<(), PlanError>;

/// The loader for list `stem`: with `spec` where the fingerprint's projection keeps it.
fn kube_list_loader(stem: &str) -> KubeListLoader {
    if plan_schema::fingerprint::kube_projection_keeps_spec(stem) {
        load_kube_list::<Present>
    } else {
        load_kube_list::<Skipped>
    }
}

/// Skips a Kubernetes object's `spec` unparsed.
#[derive(Default)]
struct Skipped;

impl<'de> Deserialize<'de> for Skipped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Skipped)
    }
}

impl From<Skipped> for Option<Value> {
    fn from(_: Skipped) -> Self {
        None
    }
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
    /// A TAS foundation's Cloud Foundry side (`cf/`), when the snapshot has one.
    pub cf: Option<crate::cf::CfFoundation>,
    pub cf_fingerprint: String,
    pub cf_count: u64,
}

pub(crate) fn read_json(path: &Path) -> Result<Value, PlanError> {
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

pub(crate) fn bad(
    path: &Path,
    pointer: impl Into<String>,
    message: impl Into<String>,
) -> PlanError {
    PlanError::Snapshot {
        path: path.to_path_buf(),
        pointer: pointer.into(),
        message: message.into(),
    }
}

/// Read a list response (`{"results": [...], ...}`) one object at a time: only one object's JSON
/// tree is in memory at once, besides the file's bytes.
fn for_each_result(
    path: &Path,
    f: impl FnMut(usize, Value) -> Result<(), PlanError>,
) -> Result<(), PlanError> {
    for_each_item(path, "results", f).map(|_| ())
}

/// Read the array under `key` of a JSON object file one element at a time, as `T`. Returns the
/// object's top-level `kind` when it is a string. The whole file is read first: parsing from
/// memory is several times faster than from a reader.
fn for_each_item<T: serde::de::DeserializeOwned>(
    path: &Path,
    key: &'static str,
    mut f: impl FnMut(usize, T) -> Result<(), PlanError>,
) -> Result<Option<String>, PlanError> {
    use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    type ItemFn<'f, T> = dyn FnMut(usize, T) -> Result<(), PlanError> + 'f;
    struct Each<'f, T> {
        key: &'static str,
        f: &'f mut ItemFn<'f, T>,
        error: Option<PlanError>,
        found: bool,
        kind: Option<String>,
    }
    struct Items<'a, 'f, T>(&'a mut Each<'f, T>, PhantomData<T>);

    impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for Items<'_, '_, T> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of objects")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(v) = seq.next_element::<T>()? {
                if self.0.error.is_none()
                    && let Err(e) = (self.0.f)(i, v)
                {
                    self.0.error = Some(e);
                }
                i += 1;
            }
            Ok(())
        }
    }
    impl<'de, T: serde::de::DeserializeOwned> DeserializeSeed<'de> for Items<'_, '_, T> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for &mut Each<'_, T> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list object with `{}`", self.key)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<String>()? {
                if key == self.key {
                    map.next_value_seed(Items(&mut *self, PhantomData))?;
                    self.found = true;
                } else if key == "kind" {
                    if let Value::String(k) = map.next_value::<Value>()? {
                        self.kind = Some(k);
                    }
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        }
    }

    let bytes = std::fs::read(path).map_err(|cause| PlanError::Io {
        path: path.to_path_buf(),
        cause,
    })?;
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let mut each = Each {
        key,
        f: &mut f,
        error: None,
        found: false,
        kind: None,
    };
    de.deserialize_map(&mut each)
        .and_then(|()| de.end())
        .map_err(|e| PlanError::Json {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    if let Some(e) = each.error {
        return Err(e);
    }
    if !each.found {
        return Err(bad(
            path,
            format!("/{key}"),
            format!("expected a list with a `{key}` array"),
        ));
    }
    Ok(each.kind)
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
        // Firewall rule ids are unique across sections (a rule's moves are named by its id).
        let mut rule_at: HashMap<String, String> = HashMap::new();
        for &(stem, kind) in NSX_FILES {
            let path = nsx_dir.join(format!("{stem}.json"));
            if !path.exists() {
                continue;
            }
            let mut objects = Vec::new();
            let mut parts = Vec::new();
            // An id listed twice (e.g. a listing taken while NSX changed) would be imported twice.
            let mut id_at: HashMap<String, usize> = HashMap::new();
            for_each_result(&path, |i, raw| {
                if let Some(id) = raw.get("id").and_then(Value::as_str) {
                    parts.push(plan_schema::fingerprint::nsx_part(kind.as_str(), id, &raw));
                }
                let obj = MpObject::from_json(kind, raw)
                    .map_err(|m| bad(&path, format!("/results/{i}"), m))?;
                if let Some(first) = id_at.insert(obj.id.clone(), i) {
                    return Err(bad(
                        &path,
                        format!("/results/{i}/id"),
                        format!(
                            "id `{}` is listed twice (also /results/{first}); collect the inventory again",
                            obj.id
                        ),
                    ));
                }
                for (r, rule) in obj.rules.iter().enumerate() {
                    let here = format!("/results/{i}/rules/{r}");
                    if let Some(first) = rule_at.insert(rule.id.clone(), here.clone()) {
                        return Err(bad(
                            &path,
                            format!("{here}/id"),
                            format!(
                                "rule id `{}` is listed twice (also {first}); collect the inventory again",
                                rule.id
                            ),
                        ));
                    }
                }
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
                kube_list_loader(stem)(&path, stem, list_kind, &mut items, &mut inv.kube_parts)?;
            }
            items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            inv.kube.insert(stem, items);
        }
        let cf_dir = root.join("cf");
        if cf_dir.is_dir() {
            inv.cf = Some(crate::cf::load(&cf_dir)?);
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
        if let Some(cf) = &self.cf {
            (self.cf_fingerprint, self.cf_count) = combine(cf.parts.clone());
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The planner reads Kubernetes items into a projection without building their whole JSON
    /// tree; the executor fingerprints live items with `kube_part`. Both must agree, including
    /// on odd items (null fields, no metadata, specs of lists whose spec is left out).
    #[test]
    fn streamed_kubernetes_parts_equal_the_executors() {
        let items = vec![
            json!({"metadata": {"name": "a", "namespace": "n", "uid": "u1", "labels": {"x": "1"}, "resourceVersion": "7"},
                   "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "b", "namespace": "n", "uid": null, "labels": null}, "spec": null}),
            json!({"metadata": {"name": "c"}, "kind": "X"}),
            json!({"spec": {"ports": [{"port": 80}]}, "metadata": {"labels": {}, "name": "d", "annotations": {"k": "v"}}}),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (stem, list_kind) in K8S_FILES {
            let path = dir.path().join(format!("{stem}.json"));
            let file = json!({"apiVersion": "v1", "items": items, "kind": list_kind});
            std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();
            let (mut got, mut parts) = (Vec::new(), Vec::new());
            kube_list_loader(stem)(&path, stem, list_kind, &mut got, &mut parts).unwrap();
            let expected: Vec<String> = items
                .iter()
                .map(|i| plan_schema::fingerprint::kube_part(stem, i))
                .collect();
            assert_eq!(parts, expected, "{stem}");
            assert_eq!(got[0].phase.as_deref(), Some("Running"));
            assert_eq!(got[1].namespace.as_deref(), Some("n"));
        }
    }

    #[test]
    fn kubernetes_list_of_the_wrong_kind_or_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pods.json");
        let (mut got, mut parts) = (Vec::new(), Vec::new());
        std::fs::write(&path, r#"{"kind": "NodeList", "items": []}"#).unwrap();
        let e = load_kube_list::<Skipped>(&path, "pods", "PodList", &mut got, &mut parts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected kind PodList, found NodeList"), "{e}");
        std::fs::write(&path, r#"{"kind": "PodList"}"#).unwrap();
        let e = load_kube_list::<Skipped>(&path, "pods", "PodList", &mut got, &mut parts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/items"), "{e}");
        std::fs::write(&path, r#"{"kind": "PodList", "items": [{"metadata": {}}]}"#).unwrap();
        let e = load_kube_list::<Skipped>(&path, "pods", "PodList", &mut got, &mut parts)
            .unwrap_err()
            .to_string();
        assert!(e.contains("/items/0/metadata/name"), "{e}");
    }
}

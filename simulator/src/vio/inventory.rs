//! Reading a `vio-v2t` snapshot directory (docs/inventory-format.md, second part).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;

use crate::SimError;

/// Neutron files: (file stem, collection key, id field).
pub const NEUTRON_FILES: &[(&str, &str)] = &[
    ("networks", "networks"),
    ("subnets", "subnets"),
    ("ports", "ports"),
    ("routers", "routers"),
    ("floatingips", "floatingips"),
    ("security-groups", "security_groups"),
    ("qos-policies", "policies"),
    ("firewall-groups", "firewall_groups"),
    ("firewall-policies", "firewall_policies"),
    ("firewall-rules", "firewall_rules"),
    ("subnetpools", "subnetpools"),
    ("quotas", "quotas"),
    ("rbac-policies", "rbac_policies"),
    ("availability-zones", "availability_zones"),
    ("extensions", "extensions"),
    // networking-l2gw, present only where its extension is loaded (served only then).
    ("l2-gateways", "l2_gateways"),
    ("l2-gateway-connections", "l2_gateway_connections"),
];

/// Octavia list files: (file stem, collection key).
pub const OCTAVIA_FILES: &[(&str, &str)] = &[
    ("loadbalancers", "loadbalancers"),
    ("listeners", "listeners"),
    ("pools", "pools"),
    ("healthmonitors", "healthmonitors"),
    ("l7policies", "l7policies"),
    ("flavors", "flavors"),
    ("flavorprofiles", "flavorprofiles"),
];

const NSXV_FILES: &[&str] = &[
    "vsmconfig.json",
    "edges.json",
    "edge-details.json",
    "edge-vnics.json",
    "edge-interfaces.json",
    "edge-appliances.json",
    "edge-virtualservers.json",
    "virtualwires.json",
    "scopingobjects.xml",
];
const VCENTER_FILES: &[&str] = &[
    "clusters.json",
    "hosts.json",
    "hosts-by-cluster.json",
    "vms.json",
    "vms-by-host.json",
];
const VIO_FILES: &[&str] = &[
    "neutron-cr.json",
    "viosecrets.json",
    "nsx.ini",
    "migrator.conf.json",
];
const NSX_FILES: &[&str] = &[
    "compute-managers.json",
    "transport-zones.json",
    "edge-clusters.json",
    "edge-cluster-nodes.json",
    "tier-0s.json",
    "tier-0-locale-services.json",
    "tier-0-interfaces.json",
    "dhcp-server-configs.json",
    "metadata-proxies.json",
    "neutron-owned.json",
    "edge-transport-nodes.json",
    "coordinator-status.json",
];

const METADATA_KEYS: &[&str] = &[
    "format",
    "format_version",
    "kind",
    "source",
    "collected_at",
    "openstack",
    "nsxv_manager",
    "nsxv_version",
    "vcenter",
    "nsx_manager",
    "nsx_version",
    "kubernetes",
    "redactions",
];

const EP: &str = "/infra/sites/default/enforcement-points/default";

/// A loaded `vio-v2t` snapshot.
#[derive(Debug, Default, Clone)]
pub struct VioInventory {
    pub metadata: Value,
    pub projects: Vec<Value>,
    /// Neutron collections by collection key, sorted by id (the order Neutron pages in).
    pub neutron: BTreeMap<&'static str, Vec<Value>>,
    pub octavia: BTreeMap<&'static str, Vec<Value>>,
    /// Octavia members by pool id, L7 rules by L7 policy id (sorted by id).
    pub members: BTreeMap<String, Vec<Value>>,
    pub l7rules: BTreeMap<String, Vec<Value>>,
    pub vsmconfig: Value,
    /// NSX-V edge summaries and virtual wires, in snapshot order.
    pub edges: Vec<Value>,
    pub edge_details: BTreeMap<String, Value>,
    pub edge_vnics: BTreeMap<String, Value>,
    pub edge_interfaces: BTreeMap<String, Value>,
    pub edge_appliances: BTreeMap<String, Value>,
    pub edge_virtualservers: BTreeMap<String, Value>,
    pub virtualwires: Vec<Value>,
    pub scopingobjects: Option<String>,
    pub clusters: Vec<Value>,
    pub hosts: Vec<Value>,
    pub vms: Vec<Value>,
    /// host id -> cluster id, vm id -> host id.
    pub host_cluster: BTreeMap<String, String>,
    pub vm_host: BTreeMap<String, String>,
    /// host id -> positions in `vms` of its VMs, in `vms` order (built when loaded; clients list
    /// VMs host by host).
    pub host_vms: BTreeMap<String, Vec<usize>>,
    /// Kubernetes objects of the VIO control plane (Neutron CRs, VIOSecrets).
    pub neutron_crs: Vec<Value>,
    pub viosecrets: Vec<Value>,
    pub nsx_ini: Option<String>,
    pub migrator_conf: Option<Value>,
    pub compute_managers: Vec<Value>,
    /// The destination's edge transport nodes (Manager API), when the snapshot lists them.
    pub edge_transport_nodes: Option<Vec<Value>>,
    /// The migration coordinator service's `runtime_state` when the snapshot was taken
    /// (`nsx/coordinator-status.json`); the simulator's coordinator starts in it.
    pub coordinator_state: Option<String>,
    /// Destination NSX objects by Policy path.
    pub policy: Vec<(String, Value)>,
}

impl VioInventory {
    /// Rebuild `host_vms` from `vms` and `vm_host` (after either changes).
    pub fn index_vms(&mut self) {
        self.host_vms.clear();
        for (i, v) in self.vms.iter().enumerate() {
            if let Some(h) = self.vm_host.get(v["vm"].as_str().unwrap_or_default()) {
                self.host_vms.entry(h.clone()).or_default().push(i);
            }
        }
    }
}

fn err(file: &Path, pointer: impl Into<String>, message: impl Into<String>) -> SimError {
    SimError::Inventory {
        file: file.to_path_buf(),
        pointer: pointer.into(),
        message: message.into(),
    }
}

fn read_json(file: &Path) -> Result<Value, SimError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| err(file, "", format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        err(
            file,
            "",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

/// Whether a snapshot directory is of kind `vio-v2t` (its metadata says so).
pub fn is_vio_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("metadata.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .is_some_and(|m| m.get("kind").and_then(Value::as_str) == Some("vio-v2t"))
}

/// The items of `{"<key>": [...]}`, each an object with a unique string `id_field`.
fn list(file: &Path, v: &Value, key: &str, id_field: &str) -> Result<Vec<Value>, SimError> {
    let arr = v
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| err(file, format!("/{key}"), "missing or not an array"))?;
    items(file, arr, &format!("/{key}"), id_field)
}

fn items(file: &Path, arr: &[Value], at: &str, id_field: &str) -> Result<Vec<Value>, SimError> {
    let mut seen = HashSet::new();
    for (i, o) in arr.iter().enumerate() {
        let p = format!("{at}/{i}");
        if !o.is_object() {
            return Err(err(file, p, "expected an object"));
        }
        if id_field.is_empty() {
            continue;
        }
        let id = o
            .get(id_field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err(file, format!("{p}/{id_field}"), "missing or not a string"))?;
        if !seen.insert(id.to_string()) {
            return Err(err(
                file,
                format!("{p}/{id_field}"),
                format!("{id_field} {id} is listed twice"),
            ));
        }
    }
    Ok(arr.to_vec())
}

fn sorted_by(mut v: Vec<Value>, field: &str) -> Vec<Value> {
    v.sort_by(|a, b| {
        a.get(field)
            .and_then(Value::as_str)
            .cmp(&b.get(field).and_then(Value::as_str))
    });
    v
}

fn keyed(file: &Path, v: &Value) -> Result<BTreeMap<String, Value>, SimError> {
    let m = v
        .as_object()
        .ok_or_else(|| err(file, "", "expected an object keyed by parent id"))?;
    Ok(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn results(file: &Path, v: &Value) -> Result<Vec<Value>, SimError> {
    let arr = v
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| err(file, "/results", "missing or not an array"))?;
    items(file, arr, "/results", "id")
}

fn check_names(dir: &Path, sub: &str, known: &[&str]) -> Result<(), SimError> {
    let d = dir.join(sub);
    let Ok(rd) = std::fs::read_dir(&d) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if !known.contains(&name.as_str()) {
            return Err(err(
                &e.path(),
                "",
                format!(
                    "unknown file in {sub}/ (known: {}); most likely a typo",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn is_password_key(k: &str) -> bool {
    k == "password" || k.ends_with("_password")
}

fn redacted(v: &str) -> bool {
    v.is_empty() || v.starts_with("secret-ref:")
}

/// nsx.ini: every password option must hold a `secret-ref:` (or nothing).
fn check_ini(file: &Path, text: &str) -> Result<(), SimError> {
    let mut section = String::new();
    for (n, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(s) = t.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = s.to_string();
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            return Err(err(
                file,
                format!("line {}", n + 1),
                "expected `option = value`, a [section] or a comment",
            ));
        };
        if is_password_key(k.trim()) && !redacted(v.trim()) {
            return Err(err(
                file,
                format!("line {} ([{section}] {})", n + 1, k.trim()),
                "a password in clear text: a snapshot holds `secret-ref:<namespace>/<name>/<key>` or `secret-ref:none` instead",
            ));
        }
    }
    Ok(())
}

fn check_json_passwords(file: &Path, v: &Value, at: &str) -> Result<(), SimError> {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{k}");
                if is_password_key(k)
                    && let Some(s) = x.as_str()
                    && !redacted(s)
                {
                    return Err(err(
                        file,
                        p,
                        "a password in clear text: a snapshot holds a `secret-ref:` instead",
                    ));
                }
                check_json_passwords(file, x, &p)?;
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                check_json_passwords(file, x, &format!("{at}/{i}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn opt<T>(
    path: &Path,
    f: impl FnOnce(&Path, Value) -> Result<T, SimError>,
) -> Result<Option<T>, SimError> {
    if path.exists() {
        Ok(Some(f(path, read_json(path)?)?))
    } else {
        Ok(None)
    }
}

/// Load a `vio-v2t` snapshot directory.
pub fn load_dir(dir: &Path) -> Result<VioInventory, SimError> {
    let meta_path = dir.join("metadata.json");
    let metadata = read_json(&meta_path)?;
    if metadata.get("format").and_then(Value::as_str) != Some("nsx-migrate-inventory") {
        return Err(err(
            &meta_path,
            "/format",
            "expected \"nsx-migrate-inventory\"",
        ));
    }
    if metadata.get("format_version").and_then(Value::as_i64) != Some(1) {
        return Err(err(
            &meta_path,
            "/format_version",
            "unsupported format version (this simulator reads 1)",
        ));
    }
    for k in metadata.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !METADATA_KEYS.contains(&k.as_str()) {
            return Err(err(&meta_path, format!("/{k}"), "unknown metadata field"));
        }
    }
    let top = [
        "keystone", "neutron", "octavia", "nsxv", "vcenter", "vio", "nsx",
    ];
    for e in std::fs::read_dir(dir)
        .map_err(|e| err(dir, "", format!("cannot read directory: {e}")))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_string();
        if name == "metadata.json" || name == "README.md" || name.starts_with('.') {
            continue;
        }
        if !top.contains(&name.as_str()) {
            return Err(err(
                &e.path(),
                "",
                format!(
                    "unknown entry in a vio-v2t snapshot (known: metadata.json, {}/)",
                    top.join("/, ")
                ),
            ));
        }
    }
    let n_files: Vec<String> = NEUTRON_FILES
        .iter()
        .map(|(f, _)| format!("{f}.json"))
        .collect();
    let o_files: Vec<String> = OCTAVIA_FILES
        .iter()
        .map(|(f, _)| format!("{f}.json"))
        .chain(["members.json".to_string(), "l7rules.json".to_string()])
        .collect();
    check_names(dir, "keystone", &["projects.json"])?;
    check_names(
        dir,
        "neutron",
        &n_files.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    check_names(
        dir,
        "octavia",
        &o_files.iter().map(String::as_str).collect::<Vec<_>>(),
    )?;
    check_names(dir, "nsxv", NSXV_FILES)?;
    check_names(dir, "vcenter", VCENTER_FILES)?;
    check_names(dir, "vio", VIO_FILES)?;
    check_names(dir, "nsx", NSX_FILES)?;

    let mut inv = VioInventory {
        metadata,
        ..Default::default()
    };
    inv.projects = opt(&dir.join("keystone/projects.json"), |f, v| {
        list(f, &v, "projects", "id")
    })?
    .unwrap_or_default();
    for (stem, key) in NEUTRON_FILES {
        let id_field = match *key {
            "quotas" => "project_id",
            // Zones are unique by (name, resource): no single id.
            "availability_zones" => "",
            "extensions" => "alias",
            _ => "id",
        };
        let items = opt(&dir.join(format!("neutron/{stem}.json")), |f, v| {
            list(f, &v, key, id_field)
        })?
        .unwrap_or_default();
        let items = if id_field.is_empty() {
            items
        } else {
            sorted_by(items, id_field)
        };
        inv.neutron.insert(key, items);
    }
    // Security group rules, as Neutron also lists them on their own.
    let rules: Vec<Value> = inv.neutron["security_groups"]
        .iter()
        .flat_map(|sg| {
            sg.get("security_group_rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    inv.neutron
        .insert("security_group_rules", sorted_by(rules, "id"));
    for (stem, key) in OCTAVIA_FILES {
        let items = opt(&dir.join(format!("octavia/{stem}.json")), |f, v| {
            list(f, &v, key, "id")
        })?
        .unwrap_or_default();
        inv.octavia.insert(key, sorted_by(items, "id"));
    }
    let pool_ids: HashSet<String> = inv.octavia["pools"]
        .iter()
        .filter_map(|p| p.get("id")?.as_str().map(str::to_string))
        .collect();
    if let Some(m) = opt(&dir.join("octavia/members.json"), |f, v| {
        let mut out = BTreeMap::new();
        for (pool, body) in keyed(f, &v)? {
            if !pool_ids.contains(&pool) {
                return Err(err(
                    f,
                    format!("/{pool}"),
                    "no pool with this id in pools.json",
                ));
            }
            let arr = body
                .get("members")
                .and_then(Value::as_array)
                .ok_or_else(|| err(f, format!("/{pool}/members"), "missing or not an array"))?;
            let v = items(f, arr, &format!("/{pool}/members"), "id")?;
            out.insert(pool, sorted_by(v, "id"));
        }
        Ok(out)
    })? {
        inv.members = m;
    }
    let l7_ids: HashSet<String> = inv.octavia["l7policies"]
        .iter()
        .filter_map(|p| p.get("id")?.as_str().map(str::to_string))
        .collect();
    if let Some(m) = opt(&dir.join("octavia/l7rules.json"), |f, v| {
        let mut out = BTreeMap::new();
        for (pol, body) in keyed(f, &v)? {
            if !l7_ids.contains(&pol) {
                return Err(err(
                    f,
                    format!("/{pol}"),
                    "no L7 policy with this id in l7policies.json",
                ));
            }
            let arr = body
                .get("rules")
                .and_then(Value::as_array)
                .ok_or_else(|| err(f, format!("/{pol}/rules"), "missing or not an array"))?;
            let v = items(f, arr, &format!("/{pol}/rules"), "id")?;
            out.insert(pol, sorted_by(v, "id"));
        }
        Ok(out)
    })? {
        inv.l7rules = m;
    }

    // NSX-V.
    let vsm = dir.join("nsxv/vsmconfig.json");
    inv.vsmconfig = read_json(&vsm)?;
    if inv
        .vsmconfig
        .get("version")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(err(&vsm, "/version", "missing or not a string"));
    }
    inv.edges = opt(&dir.join("nsxv/edges.json"), |f, v| {
        let data = v
            .pointer("/edgePage/data")
            .and_then(Value::as_array)
            .ok_or_else(|| err(f, "/edgePage/data", "missing or not an array"))?;
        items(f, data, "/edgePage/data", "id")
    })?
    .unwrap_or_default();
    let edge_ids: HashSet<String> = inv
        .edges
        .iter()
        .filter_map(|e| e.get("id")?.as_str().map(str::to_string))
        .collect();
    for (file, slot) in [
        ("edge-details.json", &mut inv.edge_details),
        ("edge-vnics.json", &mut inv.edge_vnics),
        ("edge-interfaces.json", &mut inv.edge_interfaces),
        ("edge-appliances.json", &mut inv.edge_appliances),
        ("edge-virtualservers.json", &mut inv.edge_virtualservers),
    ] {
        if let Some(m) = opt(&dir.join("nsxv").join(file), |f, v| {
            let m = keyed(f, &v)?;
            if let Some(k) = m.keys().find(|k| !edge_ids.contains(*k)) {
                return Err(err(
                    f,
                    format!("/{k}"),
                    "no edge with this id in edges.json",
                ));
            }
            Ok(m)
        })? {
            *slot = m;
        }
    }
    inv.virtualwires = opt(&dir.join("nsxv/virtualwires.json"), |f, v| {
        let data = v
            .pointer("/dataPage/data")
            .and_then(Value::as_array)
            .ok_or_else(|| err(f, "/dataPage/data", "missing or not an array"))?;
        items(f, data, "/dataPage/data", "objectId")
    })?
    .unwrap_or_default();
    let so = dir.join("nsxv/scopingobjects.xml");
    if so.exists() {
        inv.scopingobjects = Some(
            std::fs::read_to_string(&so).map_err(|e| err(&so, "", format!("cannot read: {e}")))?,
        );
    }

    // vCenter.
    let arr = |f: &Path, v: Value, id: &str| -> Result<Vec<Value>, SimError> {
        let a = v
            .as_array()
            .ok_or_else(|| err(f, "", "expected a JSON array"))?;
        items(f, a, "", id)
    };
    inv.clusters = opt(&dir.join("vcenter/clusters.json"), |f, v| {
        arr(f, v, "cluster")
    })?
    .unwrap_or_default();
    inv.hosts = opt(&dir.join("vcenter/hosts.json"), |f, v| arr(f, v, "host"))?.unwrap_or_default();
    inv.vms = opt(&dir.join("vcenter/vms.json"), |f, v| arr(f, v, "vm"))?.unwrap_or_default();
    for (file, parent_ids, child_ids, field, out) in [
        (
            "hosts-by-cluster.json",
            ids(&inv.clusters, "cluster"),
            ids(&inv.hosts, "host"),
            "host",
            &mut inv.host_cluster,
        ),
        (
            "vms-by-host.json",
            ids(&inv.hosts, "host"),
            ids(&inv.vms, "vm"),
            "vm",
            &mut inv.vm_host,
        ),
    ] {
        if let Some(m) = opt(&dir.join("vcenter").join(file), |f, v| {
            let mut out = BTreeMap::new();
            for (parent, body) in keyed(f, &v)? {
                if !parent_ids.contains(&parent) {
                    return Err(err(f, format!("/{parent}"), "unknown parent id"));
                }
                let a = body
                    .as_array()
                    .ok_or_else(|| err(f, format!("/{parent}"), "expected a JSON array"))?;
                for (i, c) in items(f, a, &format!("/{parent}"), field)?
                    .iter()
                    .enumerate()
                {
                    let id = c[field].as_str().unwrap_or_default().to_string();
                    if !child_ids.contains(&id) {
                        return Err(err(
                            f,
                            format!("/{parent}/{i}/{field}"),
                            format!("{field} {id} is not in the unfiltered list"),
                        ));
                    }
                    out.insert(id, parent.clone());
                }
            }
            Ok(out)
        })? {
            *out = m;
        }
    }

    // VIO control plane and configuration files.
    inv.neutron_crs = opt(&dir.join("vio/neutron-cr.json"), |f, v| {
        k8s_items(f, &v, "NeutronList")
    })?
    .unwrap_or_default();
    inv.viosecrets = opt(&dir.join("vio/viosecrets.json"), |f, v| {
        let items = k8s_items(f, &v, "VIOSecretList")?;
        for (i, s) in items.iter().enumerate() {
            for (k, val) in s
                .pointer("/spec/data")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if val.as_str() != Some("") {
                    return Err(err(
                        f,
                        format!("/items/{i}/spec/data/{k}"),
                        "secret data in a snapshot: every value must be the empty string",
                    ));
                }
            }
        }
        Ok(items)
    })?
    .unwrap_or_default();
    inv.index_vms();
    let ini = dir.join("vio/nsx.ini");
    if ini.exists() {
        let text = std::fs::read_to_string(&ini)
            .map_err(|e| err(&ini, "", format!("cannot read: {e}")))?;
        check_ini(&ini, &text)?;
        inv.nsx_ini = Some(text);
    }
    inv.migrator_conf = opt(&dir.join("vio/migrator.conf.json"), |f, v| {
        if !v.is_object() {
            return Err(err(f, "", "expected a JSON object"));
        }
        check_json_passwords(f, &v, "")?;
        Ok(v)
    })?;

    // Destination NSX.
    inv.compute_managers = opt(&dir.join("nsx/compute-managers.json"), |f, v| {
        results(f, &v)
    })?
    .unwrap_or_default();
    inv.edge_transport_nodes = opt(&dir.join("nsx/edge-transport-nodes.json"), |f, v| {
        results(f, &v)
    })?;
    inv.coordinator_state = opt(&dir.join("nsx/coordinator-status.json"), |f, v| {
        v.get("runtime_state")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| err(f, "/runtime_state", "missing or not a string"))
    })?;
    let mut policy = Vec::new();
    let mut flat = |file: &str, base: &str| -> Result<(), SimError> {
        if let Some(items) = opt(&dir.join("nsx").join(file), |f, v| results(f, &v))? {
            for o in items {
                let id = o["id"].as_str().unwrap_or_default();
                policy.push((format!("{base}/{id}"), o.clone()));
            }
        }
        Ok(())
    };
    flat("transport-zones.json", &format!("{EP}/transport-zones"))?;
    flat("edge-clusters.json", &format!("{EP}/edge-clusters"))?;
    flat("tier-0s.json", "/infra/tier-0s")?;
    flat("dhcp-server-configs.json", "/infra/dhcp-server-configs")?;
    flat("metadata-proxies.json", "/infra/metadata-proxies")?;
    for (file, base) in [
        (
            "edge-cluster-nodes.json",
            format!("{EP}/edge-clusters/{{}}/edge-nodes"),
        ),
        (
            "tier-0-locale-services.json",
            "/infra/tier-0s/{}/locale-services".to_string(),
        ),
        (
            "tier-0-interfaces.json",
            "/infra/tier-0s/{}/interfaces".to_string(),
        ),
    ] {
        let Some(m) = opt(&dir.join("nsx").join(file), |f, v| keyed(f, &v))? else {
            continue;
        };
        let f = dir.join("nsx").join(file);
        for (parent, body) in m {
            let parent_path = if file == "tier-0-interfaces.json" {
                let Some((t0, ls)) = parent.split_once('/') else {
                    return Err(err(
                        &f,
                        format!("/{parent}"),
                        "key must be \"<tier-0 id>/<locale service id>\"",
                    ));
                };
                format!("/infra/tier-0s/{t0}/locale-services/{ls}/interfaces")
            } else {
                base.replace("{}", &parent)
            };
            for o in results(&f, &body)? {
                let id = o["id"].as_str().unwrap_or_default();
                policy.push((format!("{parent_path}/{id}"), o.clone()));
            }
        }
    }
    if let Some(items) = opt(&dir.join("nsx/neutron-owned.json"), |f, v| results(f, &v))? {
        let f = dir.join("nsx/neutron-owned.json");
        for (i, o) in items.into_iter().enumerate() {
            let Some(p) = o
                .get("path")
                .and_then(Value::as_str)
                .filter(|p| p.starts_with("/infra/"))
            else {
                return Err(err(
                    &f,
                    format!("/results/{i}/path"),
                    "missing or not an /infra/ path",
                ));
            };
            policy.push((p.to_string(), o.clone()));
        }
    }
    inv.policy = policy;
    Ok(inv)
}

fn ids(v: &[Value], field: &str) -> HashSet<String> {
    v.iter()
        .filter_map(|o| o.get(field)?.as_str().map(str::to_string))
        .collect()
}

fn k8s_items(file: &Path, v: &Value, list_kind: &str) -> Result<Vec<Value>, SimError> {
    // `kubectl get -o json` prints a `List`; the API (and `kubectl get --raw`) a `<Kind>List`.
    if let Some(k) = v.get("kind").and_then(Value::as_str)
        && k != list_kind
        && k != "List"
    {
        return Err(err(
            file,
            "/kind",
            format!("expected {list_kind} (or List), found {k}"),
        ));
    }
    let arr = v
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| err(file, "/items", "missing or not an array"))?;
    for (i, it) in arr.iter().enumerate() {
        if it
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .is_none()
        {
            return Err(err(file, format!("/items/{i}/metadata/name"), "missing"));
        }
    }
    Ok(arr.clone())
}

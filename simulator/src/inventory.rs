//! Loading an inventory snapshot directory (docs/inventory-format.md) into simulator state.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::SimError;
use crate::k8s::{K8S_RESOURCES, K8sStore};
use crate::store::{Coll, KINDS, MpStore};

/// What a snapshot holds once loaded.
#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub mp: MpStore,
    pub k8s: K8sStore,
    pub metadata: Value,
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

fn results_of<'a>(file: &Path, v: &'a Value) -> Result<&'a Vec<Value>, SimError> {
    if !v.is_object() {
        return Err(err(
            file,
            "",
            "expected a list result object {\"results\": [...]}",
        ));
    }
    v.get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| err(file, "/results", "missing or not an array"))
}

fn check_object(
    file: &Path,
    pointer: &str,
    obj: &Value,
    seen: &mut HashSet<String>,
) -> Result<String, SimError> {
    if !obj.is_object() {
        return Err(err(file, pointer, "expected an object"));
    }
    let id = obj
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| err(file, format!("{pointer}/id"), "missing or not a string"))?;
    if id.is_empty() {
        return Err(err(file, format!("{pointer}/id"), "must not be empty"));
    }
    if obj.get("resource_type").is_some_and(|r| !r.is_string()) {
        return Err(err(
            file,
            format!("{pointer}/resource_type"),
            "must be a string",
        ));
    }
    if !seen.insert(id.to_string()) {
        return Err(err(
            file,
            format!("{pointer}/id"),
            format!("duplicate id {id}"),
        ));
    }
    Ok(id.to_string())
}

/// Load a snapshot directory. Errors name the file and the JSON pointer of the offending value.
pub fn load_dir(dir: &Path) -> Result<Inventory, SimError> {
    if !dir.is_dir() {
        return Err(err(dir, "", "inventory directory does not exist"));
    }
    let meta_path = dir.join("metadata.json");
    let metadata = read_json(&meta_path)?;
    match metadata.get("format").and_then(Value::as_str) {
        Some("nsx-migrate-inventory") => {}
        other => {
            return Err(err(
                &meta_path,
                "/format",
                format!("expected \"nsx-migrate-inventory\", found {other:?}"),
            ));
        }
    }
    match metadata.get("format_version").and_then(Value::as_i64) {
        Some(1) => {}
        other => {
            return Err(err(
                &meta_path,
                "/format_version",
                format!("unsupported format version {other:?} (this simulator reads version 1)"),
            ));
        }
    }
    for (k, v) in metadata.as_object().into_iter().flatten() {
        if k.contains("password") || k.contains("secret") || k.contains("token") {
            let _ = v;
            return Err(err(
                &meta_path,
                format!("/{k}"),
                "credentials must never appear in a snapshot",
            ));
        }
    }

    let mut inv = Inventory {
        metadata,
        ..Default::default()
    };

    let nsx_dir = dir.join("nsx");
    if nsx_dir.is_dir() {
        load_nsx(&nsx_dir, &mut inv.mp)?;
    }
    let k8s_dir = dir.join("k8s");
    if k8s_dir.is_dir() {
        load_k8s(&k8s_dir, &mut inv.k8s)?;
    }
    inv.mp.fix_numeric_counter();
    inv.mp.firewall.renumber();
    Ok(inv)
}

fn list_json_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, SimError> {
    let rd = std::fs::read_dir(dir).map_err(|e| err(dir, "", format!("cannot list: {e}")))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| err(dir, "", format!("cannot list: {e}")))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let Some(stem) = name.strip_suffix(".json") else {
            return Err(err(
                &path,
                "",
                "unexpected file (snapshot files end in .json)",
            ));
        };
        out.push((stem.to_string(), path));
    }
    out.sort();
    Ok(out)
}

fn load_nsx(dir: &Path, mp: &mut MpStore) -> Result<(), SimError> {
    for (stem, path) in list_json_files(dir)? {
        let v = read_json(&path)?;
        match stem.as_str() {
            "firewall-sections" => {
                let results = results_of(&path, &v)?;
                let mut seen = HashSet::new();
                let mut rule_ids = HashSet::new();
                for (i, s) in results.iter().enumerate() {
                    let ptr = format!("/results/{i}");
                    let id = check_object(&path, &ptr, s, &mut seen)?;
                    let rules = match s.get("rules") {
                        None | Some(Value::Null) => Vec::new(),
                        Some(Value::Array(a)) => a.clone(),
                        Some(_) => return Err(err(&path, format!("{ptr}/rules"), "not an array")),
                    };
                    for (j, r) in rules.iter().enumerate() {
                        check_object(&path, &format!("{ptr}/rules/{j}"), r, &mut rule_ids)?;
                    }
                    let mut section = s.clone();
                    if let Some(m) = section.as_object_mut() {
                        m.remove("rules");
                        // Sections are stored (and listed) as FirewallSection; list_with_rules
                        // answers FirewallSectionRuleList.
                        m.insert(
                            "resource_type".into(),
                            Value::String("FirewallSection".into()),
                        );
                    }
                    mp.firewall.sections.insert(id.clone(), section);
                    mp.firewall.rules.insert(id, rules);
                }
            }
            "ip-pool-allocations" => {
                let Some(map) = v.as_object() else {
                    return Err(err(&path, "", "expected an object keyed by IP pool id"));
                };
                for (pool, list) in map {
                    let ptr = format!("/{}", pool.replace('~', "~0").replace('/', "~1"));
                    let results =
                        list.get("results")
                            .and_then(Value::as_array)
                            .ok_or_else(|| {
                                err(&path, format!("{ptr}/results"), "missing or not an array")
                            })?;
                    let mut seen = HashSet::new();
                    for (i, a) in results.iter().enumerate() {
                        let addr =
                            a.get("allocation_id")
                                .and_then(Value::as_str)
                                .ok_or_else(|| {
                                    err(
                                        &path,
                                        format!("{ptr}/results/{i}/allocation_id"),
                                        "missing or not a string",
                                    )
                                })?;
                        if !seen.insert(addr.to_string()) {
                            return Err(err(
                                &path,
                                format!("{ptr}/results/{i}/allocation_id"),
                                format!("duplicate allocation {addr}"),
                            ));
                        }
                    }
                    mp.allocations.insert(pool.clone(), results.clone());
                }
            }
            other => {
                let Some(kind) = KINDS.iter().find(|k| k.key == other) else {
                    return Err(err(
                        &path,
                        "",
                        format!(
                            "unknown NSX snapshot file '{other}.json' (see docs/inventory-format.md)"
                        ),
                    ));
                };
                let results = results_of(&path, &v)?;
                let mut coll = Coll::default();
                let mut seen = HashSet::new();
                for (i, o) in results.iter().enumerate() {
                    let ptr = format!("/results/{i}");
                    let id = check_object(&path, &ptr, o, &mut seen)?;
                    if let Some((_, field)) = kind.parent
                        && o.get(field).and_then(Value::as_str).is_none()
                    {
                        return Err(err(
                            &path,
                            format!("{ptr}/{field}"),
                            "missing or not a string",
                        ));
                    }
                    coll.insert(id, o.clone());
                }
                mp.colls.insert(kind.key, coll);
            }
        }
    }
    // Cross-file check: allocations must belong to a known pool.
    if !mp.allocations.is_empty() {
        let pools: HashSet<&str> = mp
            .coll("ip-pools")
            .map(|c| c.order.iter().map(String::as_str).collect())
            .unwrap_or_default();
        let mut unknown: Vec<&String> = mp
            .allocations
            .keys()
            .filter(|p| !pools.contains(p.as_str()))
            .collect();
        unknown.sort();
        if let Some(p) = unknown.first() {
            return Err(err(
                &dir.join("ip-pool-allocations.json"),
                format!("/{p}"),
                format!("IP pool {p} is not in ip-pools.json"),
            ));
        }
    }
    Ok(())
}

fn load_k8s(dir: &Path, k8s: &mut K8sStore) -> Result<(), SimError> {
    let known: HashMap<&str, &crate::k8s::K8sResource> = K8S_RESOURCES
        .iter()
        .filter(|r| r.group != crate::k8s::VIO_GROUP)
        .map(|r| (r.file, r))
        .collect();
    for (stem, path) in list_json_files(dir)? {
        let Some(res) = known.get(stem.as_str()) else {
            return Err(err(
                &path,
                "",
                format!(
                    "unknown Kubernetes snapshot file '{stem}.json' (see docs/inventory-format.md)"
                ),
            ));
        };
        let v = read_json(&path)?;
        let items = v
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| err(&path, "/items", "missing or not an array"))?;
        if let Some(kind) = v.get("kind").and_then(Value::as_str)
            && kind != res.list_kind
        {
            return Err(err(
                &path,
                "/kind",
                format!("expected {}, found {kind}", res.list_kind),
            ));
        }
        let mut seen = HashSet::new();
        for (i, it) in items.iter().enumerate() {
            let name = it
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    err(
                        &path,
                        format!("/items/{i}/metadata/name"),
                        "missing or not a string",
                    )
                })?;
            let ns = it
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if res.namespaced && ns.is_empty() {
                return Err(err(
                    &path,
                    format!("/items/{i}/metadata/namespace"),
                    "missing for a namespaced resource",
                ));
            }
            if !seen.insert(format!("{ns}/{name}")) {
                return Err(err(
                    &path,
                    format!("/items/{i}/metadata/name"),
                    format!("duplicate object {ns}/{name}"),
                ));
            }
        }
        k8s.load(res.plural, items.clone());
    }
    Ok(())
}

//! The Cloud Foundry side of a TAS foundation's snapshot (`cf/`, docs/inventory-format.md): what
//! the Cloud Controller v3 API listed, reduced to what the planner matches NCP's objects against
//! (organizations, spaces, apps and the instances their processes run).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::error::PlanError;

/// The list files of `cf/`, each a Cloud Controller v3 list response with its pages merged.
pub const CF_LISTS: &[&str] = &["organizations", "spaces", "apps", "processes"];
/// The per-process instance stats, keyed by process guid.
pub const CF_STATS: &str = "process-stats";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfOrg {
    pub guid: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfSpace {
    pub guid: String,
    pub name: String,
    pub org_guid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfApp {
    pub guid: String,
    pub name: String,
    pub space_guid: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfProcess {
    pub guid: String,
    pub process_type: String,
    pub app_guid: String,
    pub instances: u64,
}

/// A foundation's Cloud Foundry objects, sorted by guid.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CfFoundation {
    pub orgs: Vec<CfOrg>,
    pub spaces: Vec<CfSpace>,
    pub apps: Vec<CfApp>,
    pub processes: Vec<CfProcess>,
    /// App guid -> the instance indexes its processes' stats list (instances that exist).
    pub instances: BTreeMap<String, BTreeSet<u64>>,
    /// Fingerprint parts of every object read (`plan_schema::fingerprint`).
    pub(crate) parts: Vec<String>,
}

impl CfFoundation {
    pub fn org(&self, guid: &str) -> Option<&CfOrg> {
        self.orgs.iter().find(|o| o.guid == guid)
    }
    pub fn space(&self, guid: &str) -> Option<&CfSpace> {
        self.spaces.iter().find(|s| s.guid == guid)
    }
    pub fn app(&self, guid: &str) -> Option<&CfApp> {
        self.apps.iter().find(|a| a.guid == guid)
    }
    /// Number of objects read (lists and instance stats).
    pub fn count(&self) -> usize {
        self.parts.len()
    }
}

fn bad(path: &Path, pointer: impl Into<String>, message: impl Into<String>) -> PlanError {
    PlanError::Snapshot {
        path: path.to_path_buf(),
        pointer: pointer.into(),
        message: message.into(),
    }
}

fn read(path: &Path) -> Result<Value, PlanError> {
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

/// The string at `pointer` of list item `i`, or a located error.
fn field<'v>(path: &Path, i: usize, v: &'v Value, pointer: &str) -> Result<&'v str, PlanError> {
    v.pointer(pointer).and_then(Value::as_str).ok_or_else(|| {
        bad(
            path,
            format!("/resources/{i}{pointer}"),
            "missing or not a string",
        )
    })
}

/// The `resources` of a list response; refuses a list that still has a next page.
fn resources<'v>(path: &Path, v: &'v Value) -> Result<&'v Vec<Value>, PlanError> {
    if v.pointer("/pagination/next").is_some_and(|n| !n.is_null()) {
        return Err(bad(
            path,
            "/pagination/next",
            "the snapshot keeps every page merged; this list still points at a next page",
        ));
    }
    v.get("resources").and_then(Value::as_array).ok_or_else(|| {
        bad(
            path,
            "/resources",
            "expected a list with a `resources` array",
        )
    })
}

/// Read `dir` (a snapshot's `cf/`). Unknown files are refused, as in `nsx/`.
pub fn load(dir: &Path) -> Result<CfFoundation, PlanError> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let known = name
                .strip_suffix(".json")
                .is_some_and(|s| CF_LISTS.contains(&s) || s == CF_STATS);
            if !known {
                return Err(bad(
                    &entry.path(),
                    "",
                    format!(
                        "unknown snapshot file (known: {}, {CF_STATS})",
                        CF_LISTS.join(", ")
                    ),
                ));
            }
        }
    }
    let mut f = CfFoundation::default();
    for stem in CF_LISTS {
        let path = dir.join(format!("{stem}.json"));
        if !path.exists() {
            continue;
        }
        let v = read(&path)?;
        let mut seen = BTreeSet::new();
        for (i, r) in resources(&path, &v)?.iter().enumerate() {
            let guid = field(&path, i, r, "/guid")?.to_string();
            if !seen.insert(guid.clone()) {
                return Err(bad(
                    &path,
                    format!("/resources/{i}/guid"),
                    format!("guid `{guid}` is listed twice; collect the inventory again"),
                ));
            }
            f.parts.push(plan_schema::fingerprint::nsx_part(
                &format!("cf/{stem}"),
                &guid,
                r,
            ));
            match *stem {
                "organizations" => f.orgs.push(CfOrg {
                    guid,
                    name: field(&path, i, r, "/name")?.into(),
                }),
                "spaces" => f.spaces.push(CfSpace {
                    guid,
                    name: field(&path, i, r, "/name")?.into(),
                    org_guid: field(&path, i, r, "/relationships/organization/data/guid")?.into(),
                }),
                "apps" => f.apps.push(CfApp {
                    guid,
                    name: field(&path, i, r, "/name")?.into(),
                    space_guid: field(&path, i, r, "/relationships/space/data/guid")?.into(),
                    state: field(&path, i, r, "/state")?.into(),
                }),
                _ => f.processes.push(CfProcess {
                    guid,
                    process_type: field(&path, i, r, "/type")?.into(),
                    app_guid: field(&path, i, r, "/relationships/app/data/guid")?.into(),
                    instances: r.get("instances").and_then(Value::as_u64).ok_or_else(|| {
                        bad(
                            &path,
                            format!("/resources/{i}/instances"),
                            "missing or not a count",
                        )
                    })?,
                }),
            }
        }
    }
    let stats_path = dir.join(format!("{CF_STATS}.json"));
    if stats_path.exists() {
        let v = read(&stats_path)?;
        let map = v
            .as_object()
            .ok_or_else(|| bad(&stats_path, "", "expected an object keyed by process guid"))?;
        for (pguid, list) in map {
            let Some(p) = f.processes.iter().find(|p| &p.guid == pguid) else {
                return Err(bad(
                    &stats_path,
                    format!("/{pguid}"),
                    "stats of a process that processes.json does not list",
                ));
            };
            let app = p.app_guid.clone();
            let items = list
                .get("resources")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    bad(
                        &stats_path,
                        format!("/{pguid}/resources"),
                        "expected a `resources` array",
                    )
                })?;
            for (i, s) in items.iter().enumerate() {
                let index = s.get("index").and_then(Value::as_u64).ok_or_else(|| {
                    bad(
                        &stats_path,
                        format!("/{pguid}/resources/{i}/index"),
                        "missing or not an instance index",
                    )
                })?;
                // Only what identifies the instance: usage figures change every read.
                let identity = serde_json::json!({"index": index, "state": s.get("state"), "type": s.get("type")});
                f.parts.push(plan_schema::fingerprint::nsx_part(
                    "cf/process-stats",
                    &format!("{pguid}/{index}"),
                    &identity,
                ));
                f.instances.entry(app.clone()).or_default().insert(index);
            }
        }
    }
    f.orgs.sort_by(|a, b| a.guid.cmp(&b.guid));
    f.spaces.sort_by(|a, b| a.guid.cmp(&b.guid));
    f.apps.sort_by(|a, b| a.guid.cmp(&b.guid));
    f.processes.sort_by(|a, b| a.guid.cmp(&b.guid));
    Ok(f)
}

//! The whole mutable simulator state, its initial seeding and its (de)serialization for
//! `--state-file` persistence and the `/_sim/state` dump.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Value, json};

use crate::coordinator::MigrationState;
use crate::inventory::{self, Inventory};
use crate::k8s::K8sStore;
use crate::store::{Coll, KINDS, MpStore};
use crate::util::SplitMix64;
use crate::{DEFAULT_NSX_VERSION, SimConfig, SimError};

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub xsrf: String,
}

#[derive(Debug)]
pub struct State {
    pub mp: MpStore,
    pub k8s: K8sStore,
    pub metadata: Value,
    /// Policy intents keyed by path (`/infra/...`).
    pub policy: BTreeMap<String, Value>,
    pub mig: MigrationState,
    pub coordinator_running: bool,
    pub nsx_version: String,
    pub sessions: HashMap<String, Session>,
    /// Registered principal identities (certificate-authenticated users).
    pub principals: Vec<crate::principal::Principal>,
    /// `node_uuid` of the manager node (`GET /api/v1/node`), derived from the seed.
    pub node_uuid: String,
    pub rng: SplitMix64,
    /// Set by every mutation; the server persists the state file and clears it.
    pub dirty: bool,
    /// Bumped by every mutation (invalidates the search cache).
    pub generation: u64,
    /// Last search's hits, reused while paging through the same query.
    pub search_cache: Option<crate::search::SearchCache>,
    /// The simulated VIO deployment (kind `vio-v2t` snapshots only; not kept in the state file).
    pub vio: Option<Box<crate::vio::VioState>>,
}

impl State {
    /// Record a mutation.
    pub fn touch(&mut self) {
        self.dirty = true;
        self.generation += 1;
    }

    pub fn initial(config: &SimConfig) -> Result<Self, SimError> {
        if let Some(sf) = &config.state_file
            && sf.exists()
        {
            let text = std::fs::read_to_string(sf).map_err(|e| SimError::StateFile {
                file: sf.clone(),
                message: format!("cannot read: {e}"),
            })?;
            let v: Value = serde_json::from_str(&text).map_err(|e| SimError::StateFile {
                file: sf.clone(),
                message: format!(
                    "invalid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            })?;
            let mut st =
                Self::from_dump(&v, config.seed).map_err(|message| SimError::StateFile {
                    file: sf.clone(),
                    message,
                })?;
            if let Some(dir) = &config.inventory
                && crate::vio::is_vio_dir(dir)
            {
                let mut vio = crate::vio::VioState::new(crate::vio::load_dir(dir)?);
                if let Some(saved) = v.get("vio") {
                    vio.restore(saved);
                }
                st.vio = Some(Box::new(vio));
            }
            return Ok(st);
        }
        if let Some(dir) = &config.inventory
            && crate::vio::is_vio_dir(dir)
        {
            let vinv = crate::vio::load_dir(dir)?;
            let mut metadata = vinv.metadata.clone();
            metadata["migration_coordinator"] =
                json!(vinv.coordinator_state.as_deref().unwrap_or("RUNNING"));
            let mut st = Self::from_inventory(
                Inventory {
                    metadata,
                    ..Default::default()
                },
                config.seed,
            );
            for (path, obj) in &vinv.policy {
                st.policy.insert(path.clone(), obj.clone());
            }
            // VIO's control plane: namespace `openstack`, the Neutron CR and the VIO secrets.
            st.k8s.load(
                "namespaces",
                vec![json!({"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": "openstack", "uid": "5b7c1d2e-0f3a-4b6c-8d9e-1a2b3c4d5e6f",
                                 "resourceVersion": "1", "creationTimestamp": "2026-03-11T10:20:00Z"},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})],
            );
            st.k8s.load("neutrons", vinv.neutron_crs.clone());
            st.k8s.load("viosecrets", vinv.viosecrets.clone());
            st.vio = Some(Box::new(crate::vio::VioState::new(vinv)));
            return Ok(st);
        }
        let inv = match &config.inventory {
            Some(dir) => inventory::load_dir(dir)?,
            None => Inventory {
                metadata: json!({
                    "format": "nsx-migrate-inventory",
                    "format_version": 1,
                    "source": "empty simulator",
                    "nsx_version": DEFAULT_NSX_VERSION,
                    "migration_coordinator": "RUNNING",
                }),
                ..Default::default()
            },
        };
        Ok(Self::from_inventory(inv, config.seed))
    }

    pub fn from_inventory(inv: Inventory, seed: u64) -> Self {
        let nsx_version = inv
            .metadata
            .get("nsx_version")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_NSX_VERSION)
            .to_string();
        let coordinator_running = inv
            .metadata
            .get("migration_coordinator")
            .and_then(Value::as_str)
            .map(|s| s.eq_ignore_ascii_case("running"))
            .unwrap_or(true);
        Self {
            mp: inv.mp,
            k8s: inv.k8s,
            metadata: inv.metadata,
            policy: BTreeMap::new(),
            mig: MigrationState::default(),
            coordinator_running,
            nsx_version,
            sessions: HashMap::new(),
            principals: Vec::new(),
            node_uuid: node_uuid(seed),
            rng: SplitMix64::new(seed),
            dirty: false,
            generation: 0,
            search_cache: None,
            vio: None,
        }
    }

    /// Full state as JSON (sessions excluded: they are not state a restart keeps... nor secrets).
    /// The state document, borrowing the objects (serialized directly for the state file).
    fn dump_ref(&self) -> DumpRef<'_> {
        let mp: BTreeMap<&'static str, Vec<&Value>> = KINDS
            .iter()
            .map(|k| {
                (
                    k.key,
                    self.mp
                        .coll(k.key)
                        .map(|c| c.iter().collect())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let fw = &self.mp.firewall;
        let firewall_sections: Vec<SectionRef<'_>> = fw
            .sections
            .order
            .iter()
            .filter_map(|id| {
                Some(SectionRef {
                    section: fw.sections.get(id)?,
                    rules: fw.rules.get(id).map(Vec::as_slice).unwrap_or(&[]),
                })
            })
            .collect();
        DumpRef {
            format: "nsx-migrate-simulator-state",
            format_version: 1,
            metadata: &self.metadata,
            nsx_version: &self.nsx_version,
            coordinator_running: self.coordinator_running,
            mp,
            firewall_sections,
            ip_pool_allocations: self.mp.allocations.iter().collect(),
            next_numeric_id: self.mp.next_numeric,
            policy: &self.policy,
            migration: &self.mig,
            k8s: self
                .k8s
                .objects
                .iter()
                .map(|(k, m)| (*k, m.values().collect()))
                .collect(),
            k8s_resource_version: self.k8s.resource_version,
            vio: self.vio.as_ref().map(|v| v.dump()),
            principal_identities: &self.principals,
        }
    }

    /// Full state as JSON (sessions excluded).
    pub fn dump(&self) -> Value {
        serde_json::to_value(self.dump_ref()).unwrap_or(Value::Null)
    }

    pub fn from_dump(v: &Value, seed: u64) -> Result<Self, String> {
        if v.get("format").and_then(Value::as_str) != Some("nsx-migrate-simulator-state") {
            return Err("not a simulator state file (field \"format\")".into());
        }
        let mut mp = MpStore::default();
        let mp_v = v
            .get("mp")
            .and_then(Value::as_object)
            .ok_or("missing /mp")?;
        for k in KINDS {
            let mut coll = Coll::default();
            for (i, o) in mp_v
                .get(k.key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let id = o
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("/mp/{}/{i}/id missing", k.key))?;
                coll.insert(id.to_string(), o.clone());
            }
            mp.colls.insert(k.key, coll);
        }
        for (i, s) in v
            .get("firewall_sections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let id = s
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("/firewall_sections/{i}/id missing"))?
                .to_string();
            let mut sec = s.clone();
            let rules = sec
                .as_object_mut()
                .and_then(|m| m.remove("rules"))
                .and_then(|r| r.as_array().cloned())
                .unwrap_or_default();
            sec["resource_type"] = json!("FirewallSection");
            mp.firewall.sections.insert(id.clone(), sec);
            mp.firewall.rules.insert(id, rules);
        }
        for (pool, list) in v
            .get("ip_pool_allocations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            mp.allocations
                .insert(pool.clone(), list.as_array().cloned().unwrap_or_default());
        }
        mp.next_numeric = v
            .get("next_numeric_id")
            .and_then(Value::as_u64)
            .unwrap_or(1023);
        mp.fix_numeric_counter();
        let policy: BTreeMap<String, Value> = v
            .get("policy")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let mut k8s = K8sStore::default();
        for (plural, items) in v
            .get("k8s")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            k8s.load(plural, items.as_array().cloned().unwrap_or_default());
        }
        k8s.resource_version = k8s.resource_version.max(
            v.get("k8s_resource_version")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        );
        let mig = MigrationState::restore(v.get("migration").unwrap_or(&Value::Null))?;
        let principals = match v.get("principal_identities") {
            None | Some(Value::Null) => Vec::new(),
            Some(p) => serde_json::from_value(p.clone())
                .map_err(|e| format!("/principal_identities: {e}"))?,
        };
        // Fresh PRNG stream after a restart so new ids do not repeat old ones.
        let salt = mp.object_count() as u64 ^ mp.next_numeric.rotate_left(17);
        Ok(Self {
            mp,
            k8s,
            metadata: v.get("metadata").cloned().unwrap_or(Value::Null),
            policy,
            mig,
            coordinator_running: v
                .get("coordinator_running")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            nsx_version: v
                .get("nsx_version")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_NSX_VERSION)
                .to_string(),
            sessions: HashMap::new(),
            principals,
            node_uuid: node_uuid(seed),
            rng: SplitMix64::new(seed ^ salt ^ crate::util::now_ms() as u64),
            dirty: false,
            generation: 0,
            search_cache: None,
            vio: None,
        })
    }

    /// Write the state file atomically (temp file + rename).
    pub fn persist(&self, file: &Path) -> Result<(), String> {
        let text = serde_json::to_vec(&self.dump_ref()).map_err(|e| e.to_string())?;
        let tmp = file.with_extension("tmp-sim");
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, file)
            .map_err(|e| format!("cannot rename into {}: {e}", file.display()))
    }
}

#[derive(serde::Serialize)]
struct SectionRef<'a> {
    #[serde(flatten)]
    section: &'a Value,
    rules: &'a [Value],
}

#[derive(serde::Serialize)]
struct DumpRef<'a> {
    format: &'static str,
    format_version: u32,
    metadata: &'a Value,
    nsx_version: &'a str,
    coordinator_running: bool,
    mp: BTreeMap<&'static str, Vec<&'a Value>>,
    firewall_sections: Vec<SectionRef<'a>>,
    ip_pool_allocations: BTreeMap<&'a String, &'a Vec<Value>>,
    next_numeric_id: u64,
    policy: &'a BTreeMap<String, Value>,
    migration: &'a MigrationState,
    k8s: BTreeMap<&'static str, Vec<&'a Value>>,
    k8s_resource_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    vio: Option<Value>,
    principal_identities: &'a [crate::principal::Principal],
}

/// The manager node's UUID: stable for a seed, independent of the object-id stream.
fn node_uuid(seed: u64) -> String {
    SplitMix64::new(seed ^ 0x6e6f_6465_7575_6964).uuid()
}

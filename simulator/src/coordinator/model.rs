//! What the coordinator stores: the request body of `POST mp-to-policy` (MpMigrationData) and the
//! coordinator's own state (phase, submitted batch, promotion records), persisted in state files.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Request body (MpMigrationData)

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ResourceDetails {
    pub manager_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_ids: Vec<KeyValue>,
    #[serde(default, rename = "override", skip_serializing_if = "Option::is_none")]
    pub override_: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principle_identity: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MpResource {
    #[serde(rename = "type")]
    pub type_: String,
    pub resource_ids: Vec<ResourceDetails>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SetupDetails {
    #[serde(default)]
    pub principal_identity: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct MpMigrationData {
    #[serde(default)]
    pub migration_data: Option<Vec<MpResource>>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub setup_details: Option<SetupDetails>,
    #[serde(default)]
    pub skip_failed_resources: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// State

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Prechecking,
    /// Precheck succeeded; waiting for `continue`.
    Paused,
    PrecheckFailed,
    Migrating,
    Succeeded,
    MigrationFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    #[serde(rename = "type")]
    pub type_: String,
    pub details: ResourceDetails,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Batch {
    pub principal_identity: Option<String>,
    pub items: Vec<Item>,
}

/// An MP object marked as Policy-owned by a promotion (restored on rollback).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Marked {
    pub kind: String,
    pub id: String,
    /// Whether the object had a `tags` field before it was marked.
    #[serde(default = "yes")]
    pub had_tags: bool,
    pub create_user: Value,
    pub protection: Value,
}

/// One migrated object (what `migrated-resources` reports) plus what rollback must undo.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub resource_type: String,
    pub resource_id: String,
    pub policy_id: String,
    pub policy_path: String,
    pub parent_resource_type: Option<String>,
    pub parent_resource_id: Option<String>,
    /// Policy paths created by this promotion (removed on rollback).
    pub created: Vec<String>,
    /// (policy path, field, previous value) patched on existing intents.
    pub patched: Vec<(String, String, Value)>,
    pub marked: Vec<Marked>,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct MigrationState {
    pub window_open: bool,
    pub batch: Option<Batch>,
    pub phase: Phase,
    pub precheck_details: String,
    pub migration_details: String,
    /// Objects of the batch processed by the migration phase so far.
    pub progress: usize,
    pub records: Vec<Record>,
    pub feedback: Vec<Value>,
    pub history: Vec<Value>,
    /// The NSX-V to NSX modes (their own state machine and virtual clock).
    #[serde(default)]
    pub v2t: super::v2t::V2tState,
    #[serde(skip)]
    pub phase_started: Option<Instant>,
    #[serde(skip)]
    pub phase_total: Duration,
    /// (type, MP id) -> index into `records`; rebuilt after removals and restores.
    #[serde(skip)]
    index: HashMap<(String, String), usize>,
}

impl MigrationState {
    pub fn push_record(&mut self, r: Record) {
        self.index.insert(
            (r.resource_type.clone(), r.resource_id.clone()),
            self.records.len(),
        );
        self.records.push(r);
    }

    /// Remove records by index (any order); keeps the index consistent.
    pub fn remove_records(&mut self, mut idx: Vec<usize>) -> Vec<Record> {
        idx.sort_unstable();
        idx.dedup();
        let mut out = Vec::new();
        for i in idx.into_iter().rev() {
            if i < self.records.len() {
                out.push(self.records.remove(i));
            }
        }
        self.reindex();
        out
    }

    fn reindex(&mut self) {
        self.index = self
            .records
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.resource_type.clone(), r.resource_id.clone()), i))
            .collect();
    }

    pub fn record_index(&self, rtype: &str, id: &str) -> Option<usize> {
        self.index
            .get(&(rtype.to_string(), id.to_string()))
            .copied()
    }

    pub fn restore(v: &Value) -> Result<Self, String> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let mut m: Self =
            serde_json::from_value(v.clone()).map_err(|e| format!("/migration: {e}"))?;
        // A phase that was running restarts its clock after a restart.
        if matches!(m.phase, Phase::Prechecking | Phase::Migrating) {
            m.phase_started = Some(Instant::now());
            m.phase_total = Duration::from_millis(50);
        }
        m.reindex();
        Ok(m)
    }

    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Prechecking | Phase::Migrating)
    }

    pub fn record(&self, rtype: &str, id: &str) -> Option<&Record> {
        self.record_index(rtype, id)
            .and_then(|i| self.records.get(i))
    }
}

fn yes() -> bool {
    true
}

//! Migration coordinator, MP-to-Policy promotion in CONSUMER mode (`/api/v1/migration/...`).
//!
//! State machine (reference section 6.1 / 16): `workflow?action=INITIATE` opens the window;
//! `POST mp-to-policy` stores one batch; `plan?action=start` runs the precheck over simulated time and
//! ends `PAUSED` (precheck SUCCESS, or FAILED with details); `plan?action=continue` promotes the batch
//! object by object over simulated time and ends `SUCCESS` (or `PAUSED` with the migration component
//! FAILED); `plan?action=abort` clears the plan; `mp-to-policy/rollback` undoes listed objects;
//! `workflow?action=DONE` closes the window. Time advances lazily: every request first calls
//! [`tick`], which completes whatever the elapsed time allows.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::SimConfig;
use crate::api::{ApiError, Reply, Req, list_page};
use crate::faults::{BUSY_MESSAGE, MigrationFaults};
use crate::state::State;
use crate::store::tags_of;
use crate::util::now_ms;

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

    fn running(&self) -> bool {
        matches!(self.phase, Phase::Prechecking | Phase::Migrating)
    }

    fn record(&self, rtype: &str, id: &str) -> Option<&Record> {
        self.record_index(rtype, id)
            .and_then(|i| self.records.get(i))
    }
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// Type table

/// Supported CONSUMER types, in the dependency rank used to order promotion inside one batch.
const TYPES: &[&str] = &[
    "IPBLOCK",
    "IPPOOL",
    "IPBLOCK_SUBNET",
    "IPPOOL_ALLOCATION",
    "TIER0",
    "TIER1",
    "SPOOFGUARD_PROFILES",
    "MACDISCOVERY_PROFILES",
    "SEGMENT_SECURITY_PROFILES",
    "QOS_PROFILES",
    "IPDISCOVERY_PROFILES",
    "LOGICAL_SWITCH",
    "LOGICAL_PORT",
    "TIER1_LOGICAL_ROUTER_PORT",
    "TIER0_LOGICAL_ROUTER_PORT",
    "TIER0_LOGICAL_ROUTER_CONFIG",
    "NAT",
    "IP_SET",
    "NS_GROUP",
    "CERTIFICATE",
    "LB_MONITOR",
    "LB_POOL",
    "LB_PERSISTENCE_PROFILE",
    "LB_APPLICATION_PROFILE",
    "LB_CLIENT_SSL_PROFILE",
    "LB_SERVER_SSL_PROFILE",
    "LB_VIRTUAL_SERVER",
    "LB_SERVICE",
    "DFW_SECTION",
];

fn rank(t: &str) -> usize {
    TYPES.iter().position(|x| *x == t).unwrap_or(usize::MAX)
}

fn profile_type(rt: &str) -> Option<&'static str> {
    match rt {
        "SpoofGuardSwitchingProfile" => Some("SPOOFGUARD_PROFILES"),
        "MacManagementSwitchingProfile" => Some("MACDISCOVERY_PROFILES"),
        "SwitchSecuritySwitchingProfile" => Some("SEGMENT_SECURITY_PROFILES"),
        "QosSwitchingProfile" => Some("QOS_PROFILES"),
        "IpDiscoverySwitchingProfile" => Some("IPDISCOVERY_PROFILES"),
        _ => None,
    }
}

/// Which MP collection holds objects of a migration type (None: special lookup).
fn collection_of(t: &str) -> Option<&'static str> {
    Some(match t {
        "IPBLOCK" => "ip-blocks",
        "IPPOOL" => "ip-pools",
        "IPBLOCK_SUBNET" => "ip-block-subnets",
        "TIER0" | "TIER1" | "TIER1_LOGICAL_ROUTER_PORT" | "TIER0_LOGICAL_ROUTER_CONFIG" => {
            "logical-routers"
        }
        "TIER0_LOGICAL_ROUTER_PORT" => "logical-router-ports",
        "SPOOFGUARD_PROFILES"
        | "MACDISCOVERY_PROFILES"
        | "SEGMENT_SECURITY_PROFILES"
        | "QOS_PROFILES"
        | "IPDISCOVERY_PROFILES" => "switching-profiles",
        "LOGICAL_SWITCH" => "logical-switches",
        "LOGICAL_PORT" => "logical-ports",
        "NAT" => "nat-rules",
        "IP_SET" => "ip-sets",
        "NS_GROUP" => "ns-groups",
        "CERTIFICATE" => "certificates",
        "LB_MONITOR" => "lb-monitors",
        "LB_POOL" => "lb-pools",
        "LB_PERSISTENCE_PROFILE" => "lb-persistence-profiles",
        "LB_APPLICATION_PROFILE" => "lb-app-profiles",
        "LB_CLIENT_SSL_PROFILE" => "lb-client-ssl-profiles",
        "LB_SERVER_SSL_PROFILE" => "lb-server-ssl-profiles",
        "LB_VIRTUAL_SERVER" => "lb-virtual-servers",
        "LB_SERVICE" => "lb-services",
        _ => return None,
    })
}

fn router_type_of(st: &State, id: &str) -> Option<String> {
    st.mp
        .coll("logical-routers")
        .and_then(|c| c.get(id))
        .and_then(|r| r.get("router_type"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Look up the MP object a (type, manager id) pair designates.
fn lookup(st: &State, t: &str, id: &str, linked: &[KeyValue]) -> Option<Value> {
    match t {
        "DFW_SECTION" => st.mp.firewall.section_with_rules(id),
        "IPPOOL_ALLOCATION" => {
            let pool_hint = linked
                .iter()
                .find(|k| k.key == "IPPOOL")
                .and_then(|k| k.value.clone());
            let mut found = None;
            let mut pools: Vec<&String> = st.mp.allocations.keys().collect();
            pools.sort();
            for p in pools {
                if pool_hint.as_deref().is_some_and(|h| h != p) {
                    continue;
                }
                if let Some(a) = st.mp.allocations[p]
                    .iter()
                    .find(|a| a.get("allocation_id").and_then(Value::as_str) == Some(id))
                {
                    let mut a = a.clone();
                    a["_pool_id"] = json!(p);
                    found = Some(a);
                    break;
                }
            }
            found
        }
        _ => {
            let obj = st.mp.coll(collection_of(t)?)?.get(id)?.clone();
            let ok = match t {
                "TIER0" | "TIER0_LOGICAL_ROUTER_CONFIG" => {
                    obj.get("router_type").and_then(Value::as_str) == Some("TIER0")
                }
                "TIER1" | "TIER1_LOGICAL_ROUTER_PORT" => {
                    obj.get("router_type").and_then(Value::as_str) == Some("TIER1")
                }
                "TIER0_LOGICAL_ROUTER_PORT" => {
                    let rid = obj
                        .get("logical_router_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    router_type_of(st, rid).as_deref() == Some("TIER0")
                }
                _ if collection_of(t) == Some("switching-profiles") => {
                    obj.get("resource_type")
                        .and_then(Value::as_str)
                        .and_then(profile_type)
                        == Some(t)
                }
                _ => true,
            };
            ok.then_some(obj)
        }
    }
}

fn group_target_type(target_type: &str) -> Option<&'static str> {
    match target_type {
        "IPSet" => Some("IP_SET"),
        "NSGroup" => Some("NS_GROUP"),
        "LogicalPort" => Some("LOGICAL_PORT"),
        "LogicalSwitch" => Some("LOGICAL_SWITCH"),
        _ => None,
    }
}

fn refs_from_targets(list: Option<&Value>, out: &mut Vec<(String, String)>) {
    for r in list.and_then(Value::as_array).into_iter().flatten() {
        let tt = r.get("target_type").and_then(Value::as_str).unwrap_or("");
        if let (Some(t), Some(id)) = (
            group_target_type(tt),
            r.get("target_id").and_then(Value::as_str),
        ) {
            out.push((t.to_string(), id.to_string()));
        }
    }
}

fn str_field(v: &Value, f: &str) -> Option<String> {
    v.get(f).and_then(Value::as_str).map(str::to_string)
}

/// The MP objects a promoted object depends on, as (migration type, MP id).
fn dependencies(st: &State, t: &str, obj: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let profiles = |obj: &Value, out: &mut Vec<(String, String)>| {
        for p in obj
            .get("switching_profile_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(pt) = p.get("key").and_then(Value::as_str).and_then(profile_type)
                && let Some(id) = p.get("value").and_then(Value::as_str)
            {
                out.push((pt.to_string(), id.to_string()));
            }
        }
    };
    match t {
        "LOGICAL_SWITCH" => {
            if let Some(p) = str_field(obj, "ip_pool_id") {
                out.push(("IPPOOL".into(), p));
            }
            profiles(obj, &mut out);
        }
        "LOGICAL_PORT" => {
            if let Some(s) = str_field(obj, "logical_switch_id") {
                out.push(("LOGICAL_SWITCH".into(), s));
            }
            profiles(obj, &mut out);
        }
        "TIER1_LOGICAL_ROUTER_PORT" => {
            let t1 = str_field(obj, "id").unwrap_or_default();
            out.push(("TIER1".into(), t1.clone()));
            for p in st
                .mp
                .coll("logical-router-ports")
                .into_iter()
                .flat_map(|c| c.iter())
                .filter(|p| p.get("logical_router_id").and_then(Value::as_str) == Some(t1.as_str()))
            {
                if let Some(t0) = follow(
                    st,
                    p,
                    "/linked_logical_router_port_id/target_id",
                    "logical-router-ports",
                    "logical_router_id",
                ) {
                    out.push(("TIER0".into(), t0));
                }
                if let Some(ls) = follow(
                    st,
                    p,
                    "/linked_logical_switch_port_id/target_id",
                    "logical-ports",
                    "logical_switch_id",
                ) {
                    out.push(("LOGICAL_SWITCH".into(), ls));
                }
            }
        }
        "TIER0_LOGICAL_ROUTER_PORT" => {
            if let Some(r) = str_field(obj, "logical_router_id") {
                out.push(("TIER0".into(), r));
            }
        }
        "TIER0_LOGICAL_ROUTER_CONFIG" => {
            out.push(("TIER0".into(), str_field(obj, "id").unwrap_or_default()));
        }
        "NAT" => {
            if let Some(r) = str_field(obj, "logical_router_id") {
                let rt = router_type_of(st, &r).unwrap_or_else(|| "TIER1".into());
                out.push((rt, r));
            }
        }
        "IPBLOCK_SUBNET" => {
            if let Some(b) = str_field(obj, "block_id") {
                out.push(("IPBLOCK".into(), b));
            }
            if let Some(p) = host_pool(st, obj) {
                out.push(("IPPOOL".into(), p));
            }
        }
        "IPPOOL_ALLOCATION" => {
            if let Some(p) = str_field(obj, "_pool_id") {
                out.push(("IPPOOL".into(), p));
            }
        }
        "NS_GROUP" => {
            for m in obj
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let tt = m.get("target_type").and_then(Value::as_str).unwrap_or("");
                if m.get("target_property").and_then(Value::as_str) == Some("id")
                    && let (Some(t), Some(v)) = (
                        group_target_type(tt),
                        m.get("value").and_then(Value::as_str),
                    )
                {
                    out.push((t.to_string(), v.to_string()));
                }
            }
        }
        "DFW_SECTION" => {
            refs_from_targets(obj.get("applied_tos"), &mut out);
            for r in obj
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                for f in ["sources", "destinations", "applied_tos"] {
                    refs_from_targets(r.get(f), &mut out);
                }
            }
        }
        "LB_POOL" => {
            for m in obj
                .get("active_monitor_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = m.as_str() {
                    out.push(("LB_MONITOR".into(), id.into()));
                }
            }
            if let Some(m) = str_field(obj, "passive_monitor_id") {
                out.push(("LB_MONITOR".into(), m));
            }
            if let Some(g) = obj
                .pointer("/member_group/grouping_object/target_id")
                .and_then(Value::as_str)
            {
                out.push(("NS_GROUP".into(), g.into()));
            }
        }
        "LB_VIRTUAL_SERVER" => {
            for (f, ty) in [
                ("pool_id", "LB_POOL"),
                ("sorry_pool_id", "LB_POOL"),
                ("application_profile_id", "LB_APPLICATION_PROFILE"),
                ("persistence_profile_id", "LB_PERSISTENCE_PROFILE"),
            ] {
                if let Some(id) = str_field(obj, f) {
                    out.push((ty.into(), id));
                }
            }
            if let Some(b) = obj.get("client_ssl_profile_binding") {
                if let Some(id) = str_field(b, "ssl_profile_id") {
                    out.push(("LB_CLIENT_SSL_PROFILE".into(), id));
                }
                if let Some(id) = str_field(b, "default_certificate_id") {
                    out.push(("CERTIFICATE".into(), id));
                }
                for c in b
                    .get("sni_certificate_ids")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(id) = c.as_str() {
                        out.push(("CERTIFICATE".into(), id.into()));
                    }
                }
            }
            if let Some(id) = obj
                .pointer("/server_ssl_profile_binding/ssl_profile_id")
                .and_then(Value::as_str)
            {
                out.push(("LB_SERVER_SSL_PROFILE".into(), id.into()));
            }
        }
        "LB_SERVICE" => {
            if let Some(r) = obj.pointer("/attachment/target_id").and_then(Value::as_str) {
                let rt = router_type_of(st, r).unwrap_or_else(|| "TIER1".into());
                out.push((rt, r.into()));
            }
            for v in obj
                .get("virtual_server_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(id) = v.as_str() {
                    out.push(("LB_VIRTUAL_SERVER".into(), id.into()));
                }
            }
        }
        _ => {}
    }
    // Only dependencies on existing, non-system objects count.
    out.retain(|(t, id)| {
        lookup(st, t, id, &[])
            .is_some_and(|o| o.get("_system_owned").and_then(Value::as_bool) != Some(true))
    });
    out.sort();
    out.dedup();
    out
}

fn display_name(obj: &Value) -> String {
    obj.get("display_name")
        .and_then(Value::as_str)
        .or_else(|| obj.get("id").and_then(Value::as_str))
        .or_else(|| obj.get("allocation_id").and_then(Value::as_str))
        .unwrap_or("")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Policy paths

/// Resolve the Policy id of an MP object: migrated already, or in the current batch.
fn policy_id_of(st: &State, batch: &[Item], t: &str, id: &str) -> Option<String> {
    if let Some(r) = st.mig.record(t, id) {
        return Some(r.policy_id.clone());
    }
    batch
        .iter()
        .find(|i| i.type_ == t && i.details.manager_id == id)
        .map(|i| {
            i.details
                .policy_id
                .clone()
                .unwrap_or_else(|| id.to_string())
        })
}

fn policy_path_of(st: &State, batch: &[Item], t: &str, id: &str) -> Option<String> {
    if let Some(r) = st.mig.record(t, id) {
        return Some(r.policy_path.clone());
    }
    let item = batch
        .iter()
        .find(|i| i.type_ == t && i.details.manager_id == id)?;
    let obj = lookup(st, t, id, &item.details.linked_ids)?;
    target_path(st, batch, item, &obj).ok()
}

fn meta<'a>(d: &'a ResourceDetails, key: &str) -> Option<&'a str> {
    d.metadata
        .iter()
        .find(|m| m.key == key)
        .and_then(|m| m.value.as_deref())
}

/// The Policy path the promoted object will live at.
fn target_path(st: &State, batch: &[Item], item: &Item, obj: &Value) -> Result<String, String> {
    let d = &item.details;
    let pid = d.policy_id.clone().unwrap_or_else(|| d.manager_id.clone());
    let t = item.type_.as_str();
    let router_path = |rid: &str| -> Result<String, String> {
        let rt = router_type_of(st, rid).unwrap_or_else(|| "TIER1".into());
        policy_path_of(st, batch, &rt, rid)
            .ok_or_else(|| format!("{t} {}: router {rid} is not promoted", d.manager_id))
    };
    Ok(match t {
        "TIER0" => format!("/infra/tier-0s/{pid}"),
        "TIER1" => format!("/infra/tier-1s/{pid}"),
        "IPBLOCK" => format!("/infra/ip-blocks/{pid}"),
        "IPPOOL" => format!("/infra/ip-pools/{pid}"),
        "IPBLOCK_SUBNET" => {
            let linked = d
                .linked_ids
                .iter()
                .find(|k| k.key == "IPPOOL")
                .and_then(|k| k.value.clone());
            let pool = linked.or_else(|| host_pool(st, obj)).ok_or_else(|| {
                format!("IPBLOCK_SUBNET {}: no IP pool holds its cidr", d.manager_id)
            })?;
            let pool_pid = policy_id_of(st, batch, "IPPOOL", &pool).ok_or_else(|| {
                format!(
                    "IPBLOCK_SUBNET {}: IP pool {pool} is not promoted",
                    d.manager_id
                )
            })?;
            format!("/infra/ip-pools/{pool_pid}/ip-subnets/{pid}")
        }
        "IPPOOL_ALLOCATION" => {
            let pool = str_field(obj, "_pool_id").unwrap_or_default();
            let pool_pid = policy_id_of(st, batch, "IPPOOL", &pool).ok_or_else(|| {
                format!(
                    "IPPOOL_ALLOCATION {}: IP pool {pool} is not promoted",
                    d.manager_id
                )
            })?;
            format!("/infra/ip-pools/{pool_pid}/ip-allocations/{pid}")
        }
        "SPOOFGUARD_PROFILES" => format!("/infra/spoofguard-profiles/{pid}"),
        "MACDISCOVERY_PROFILES" => format!("/infra/mac-discovery-profiles/{pid}"),
        "SEGMENT_SECURITY_PROFILES" => format!("/infra/segment-security-profiles/{pid}"),
        "QOS_PROFILES" => format!("/infra/qos-profiles/{pid}"),
        "IPDISCOVERY_PROFILES" => format!("/infra/ip-discovery-profiles/{pid}"),
        "LOGICAL_SWITCH" => format!("/infra/segments/{pid}"),
        "LOGICAL_PORT" => {
            let ls = str_field(obj, "logical_switch_id").unwrap_or_default();
            let seg = policy_path_of(st, batch, "LOGICAL_SWITCH", &ls).ok_or_else(|| {
                format!(
                    "LOGICAL_PORT {}: logical switch {ls} is not promoted",
                    d.manager_id
                )
            })?;
            format!("{seg}/ports/{pid}")
        }
        "TIER1_LOGICAL_ROUTER_PORT" => {
            let t1 = policy_path_of(st, batch, "TIER1", &d.manager_id).ok_or_else(|| {
                format!(
                    "TIER1_LOGICAL_ROUTER_PORT {}: Tier-1 is not promoted",
                    d.manager_id
                )
            })?;
            let ls = meta(d, "localeServiceId")
                .map(str::to_string)
                .unwrap_or_else(|| "default".into());
            format!("{t1}/locale-services/{ls}")
        }
        "TIER0_LOGICAL_ROUTER_PORT" => {
            let rid = str_field(obj, "logical_router_id").unwrap_or_default();
            format!(
                "{}/locale-services/default/interfaces/{pid}",
                router_path(&rid)?
            )
        }
        "TIER0_LOGICAL_ROUTER_CONFIG" => {
            format!(
                "{}/locale-services/default/bgp",
                router_path(&d.manager_id)?
            )
        }
        "NAT" => {
            let rid = str_field(obj, "logical_router_id").unwrap_or_default();
            format!("{}/nat/USER/nat-rules/{pid}", router_path(&rid)?)
        }
        "IP_SET" | "NS_GROUP" => format!("/infra/domains/default/groups/{pid}"),
        "DFW_SECTION" => format!("/infra/domains/default/security-policies/{pid}"),
        "CERTIFICATE" => format!("/infra/certificates/{pid}"),
        "LB_MONITOR" => format!("/infra/lb-monitor-profiles/{pid}"),
        "LB_POOL" => format!("/infra/lb-pools/{pid}"),
        "LB_PERSISTENCE_PROFILE" => format!("/infra/lb-persistence-profiles/{pid}"),
        "LB_APPLICATION_PROFILE" => format!("/infra/lb-app-profiles/{pid}"),
        "LB_CLIENT_SSL_PROFILE" => format!("/infra/lb-client-ssl-profiles/{pid}"),
        "LB_SERVER_SSL_PROFILE" => format!("/infra/lb-server-ssl-profiles/{pid}"),
        "LB_VIRTUAL_SERVER" => format!("/infra/lb-virtual-servers/{pid}"),
        "LB_SERVICE" => format!("/infra/lb-services/{pid}"),
        other => return Err(format!("unsupported type {other}")),
    })
}

/// The MP IP pool whose subnet has the same cidr as an IP block subnet.
fn host_pool(st: &State, subnet: &Value) -> Option<String> {
    let cidr = subnet.get("cidr").and_then(Value::as_str)?;
    st.mp.coll("ip-pools")?.iter().find_map(|p| {
        p.get("subnets")
            .and_then(Value::as_array)?
            .iter()
            .any(|s| s.get("cidr").and_then(Value::as_str) == Some(cidr))
            .then(|| str_field(p, "id"))
            .flatten()
    })
}

// ---------------------------------------------------------------------------------------------
// Precheck

fn precheck(st: &State, batch: &Batch, faults: &MigrationFaults) -> Vec<(Item, String, String)> {
    let mut errors: Vec<(Item, String, String)> = Vec::new();
    let mut seen: HashSet<(String, String)> = HashSet::new();
    let mut paths: HashMap<String, String> = HashMap::new();
    let in_batch: HashSet<(String, String)> = batch
        .items
        .iter()
        .map(|i| (i.type_.clone(), i.details.manager_id.clone()))
        .collect();
    for item in &batch.items {
        let found = check_item(st, batch, item, faults, &mut seen, &mut paths, &in_batch);
        errors.extend(found.into_iter().map(|(c, m)| (item.clone(), c, m)));
    }
    errors
}

fn check_item(
    st: &State,
    batch: &Batch,
    item: &Item,
    faults: &MigrationFaults,
    seen: &mut HashSet<(String, String)>,
    paths: &mut HashMap<String, String>,
    in_batch: &HashSet<(String, String)>,
) -> Vec<(String, String)> {
    let t = item.type_.as_str();
    let id = item.details.manager_id.as_str();
    let mut out: Vec<(String, String)> = Vec::new();
    if rank(t) == usize::MAX {
        out.push((
            "UNSUPPORTED_TYPE".into(),
            format!("Unsupported resource type {t} for manager id {id}"),
        ));
        return out;
    }
    if !seen.insert((t.to_string(), id.to_string())) {
        out.push((
            "REPEATED".into(),
            format!("{t} {id} is listed more than once in the request"),
        ));
        return out;
    }
    let Some(obj) = lookup(st, t, id, &item.details.linked_ids) else {
        out.push((
            "NOT_FOUND".into(),
            format!("{t} {id} not found on the Manager"),
        ));
        return out;
    };
    let marked = tags_of(&obj).iter().any(|(s, _)| s == "policyPath");
    let keyed_by_router = matches!(
        t,
        "TIER1_LOGICAL_ROUTER_PORT" | "TIER0_LOGICAL_ROUTER_CONFIG"
    );
    if st.mig.record(t, id).is_some() || (marked && !keyed_by_router) {
        out.push((
            "DUPLICATE".into(),
            format!("{t} {id} is duplicate or already migrated"),
        ));
        return out;
    }
    for (dt, did) in dependencies(st, t, &obj) {
        if st.mig.record(&dt, &did).is_none() && !in_batch.contains(&(dt.clone(), did.clone())) {
            out.push((
                "DEPENDENCY".into(),
                format!("{t} {id} depends on {dt} {did}, which is not migrated yet and not part of this request"),
            ));
        }
    }
    match target_path(st, &batch.items, item, &obj) {
        Ok(path) => {
            if st.policy.contains_key(&path) {
                out.push((
                    "POLICY_ID_TAKEN".into(),
                    format!("{t} {id}: Policy object {path} already exists"),
                ));
            } else if let Some(other) = paths.insert(path.clone(), id.to_string()) {
                out.push((
                    "POLICY_ID_TAKEN".into(),
                    format!(
                        "{t} {id}: Policy path {path} is also requested for manager id {other}"
                    ),
                ));
            }
        }
        Err(e) => {
            // Missing parents are already reported as dependencies; avoid a second message.
            if !out.iter().any(|(c, _)| c == "DEPENDENCY") {
                out.push(("PATH".into(), e));
            }
        }
    }
    if faults.precheck_fail.contains(id) {
        out.push((
            "SIMULATED".into(),
            format!("{t} {id} failed precheck (simulated fault)"),
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Promotion

fn policy_type(t: &str, obj: &Value) -> String {
    let rt = obj
        .get("resource_type")
        .and_then(Value::as_str)
        .unwrap_or("");
    match t {
        "TIER0" => "Tier0".into(),
        "TIER1" => "Tier1".into(),
        "IPBLOCK" => "IpAddressBlock".into(),
        "IPPOOL" => "IpAddressPool".into(),
        "IPBLOCK_SUBNET" => "IpAddressPoolBlockSubnet".into(),
        "IPPOOL_ALLOCATION" => "IpAddressAllocation".into(),
        "SPOOFGUARD_PROFILES" => "SpoofGuardProfile".into(),
        "MACDISCOVERY_PROFILES" => "MacDiscoveryProfile".into(),
        "SEGMENT_SECURITY_PROFILES" => "SegmentSecurityProfile".into(),
        "QOS_PROFILES" => "QoSProfile".into(),
        "IPDISCOVERY_PROFILES" => "IPDiscoveryProfile".into(),
        "LOGICAL_SWITCH" => "Segment".into(),
        "LOGICAL_PORT" => "SegmentPort".into(),
        "TIER1_LOGICAL_ROUTER_PORT" => "LocaleServices".into(),
        "TIER0_LOGICAL_ROUTER_PORT" => "Tier0Interface".into(),
        "TIER0_LOGICAL_ROUTER_CONFIG" => "BgpRoutingConfig".into(),
        "NAT" => "PolicyNatRule".into(),
        "IP_SET" | "NS_GROUP" => "Group".into(),
        "DFW_SECTION" => "SecurityPolicy".into(),
        "CERTIFICATE" => "TlsCertificate".into(),
        "LB_POOL" => "LBPool".into(),
        "LB_VIRTUAL_SERVER" => "LBVirtualServer".into(),
        "LB_SERVICE" => "LBService".into(),
        "LB_CLIENT_SSL_PROFILE" => "LBClientSslProfile".into(),
        "LB_SERVER_SSL_PROFILE" => "LBServerSslProfile".into(),
        "LB_MONITOR" => format!("{}Profile", rt.replacen("Lb", "LB", 1)),
        "LB_APPLICATION_PROFILE" | "LB_PERSISTENCE_PROFILE" => rt.replacen("Lb", "LB", 1),
        _ => "PolicyObject".into(),
    }
}

fn copy_fields(src: &Value, dst: &mut Value, fields: &[&str]) {
    for f in fields {
        if let Some(v) = src.get(*f) {
            dst[*f] = v.clone();
        }
    }
}

fn new_intent(
    path: &str,
    rt: &str,
    name: &str,
    tags: &[(String, String)],
    user: &str,
    now: i64,
) -> Value {
    let (parent, id) = path.rsplit_once('/').unwrap_or(("", path));
    let tags: Vec<Value> = tags
        .iter()
        .filter(|(s, _)| s != "policyPath")
        .map(|(s, t)| json!({"scope": s, "tag": t}))
        .collect();
    let mut v = json!({
        "resource_type": rt,
        "id": id,
        "display_name": if name.is_empty() { id } else { name },
        "path": path,
        "relative_path": id,
        "parent_path": parent,
        "marked_for_delete": false,
        "overridden": false,
        "_revision": 0,
        "_create_user": user,
        "_create_time": now,
        "_last_modified_user": user,
        "_last_modified_time": now,
        "_system_owned": false,
        "_protection": "NOT_PROTECTED",
    });
    if !tags.is_empty() {
        v["tags"] = Value::Array(tags);
    }
    v
}

fn path_or_null(st: &State, t: &str, id: Option<&str>) -> Option<String> {
    id.and_then(|id| st.mig.record(t, id))
        .map(|r| r.policy_path.clone())
}

fn mark(
    st: &mut State,
    kind: &str,
    id: &str,
    path: &str,
    marked: &mut Vec<Marked>,
) -> Result<(), String> {
    let obj: Option<&mut Value> = if kind == "firewall-sections" {
        st.mp.firewall.sections.get_mut(id)
    } else {
        let key = crate::store::kind(kind)
            .map(|k| k.key)
            .ok_or("unknown kind")?;
        st.mp.coll_mut(key).get_mut(id)
    };
    let Some(obj) = obj else {
        return Ok(());
    };
    let tags_len = obj
        .get("tags")
        .and_then(Value::as_array)
        .map(Vec::len)
        .unwrap_or(0);
    if tags_len >= 30 {
        return Err(format!(
            "{id} already has {tags_len} tags; the policyPath tag cannot be added (NSX limit 30)"
        ));
    }
    marked.push(Marked {
        kind: kind.to_string(),
        id: id.to_string(),
        had_tags: obj.get("tags").is_some(),
        create_user: obj.get("_create_user").cloned().unwrap_or(Value::Null),
        protection: obj.get("_protection").cloned().unwrap_or(Value::Null),
    });
    let mut tags = obj
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    tags.push(json!({"scope": "policyPath", "tag": path}));
    obj["tags"] = Value::Array(tags);
    obj["_create_user"] = json!("nsx_policy");
    obj["_protection"] = json!("REQUIRE_OVERRIDE");
    let rev = obj.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    obj["_revision"] = json!(rev + 1);
    obj["_last_modified_user"] = json!("nsx_policy");
    obj["_last_modified_time"] = json!(now_ms());
    Ok(())
}

/// Promote one item. On error nothing is changed.
/// The string `field` of the Manager object in collection `coll` whose id `obj` holds at
/// `pointer` (a reference followed to its target).
fn follow(st: &State, obj: &Value, pointer: &str, coll: &str, field: &str) -> Option<String> {
    let id = obj.pointer(pointer).and_then(Value::as_str)?;
    st.mp
        .coll(coll)
        .and_then(|c| c.get(id))
        .and_then(|o| str_field(o, field))
}

/// When the batch is promoted, `field` of the Policy object at `path` becomes `value` (a link
/// to a newly promoted object); the old value is kept so that a rollback restores it.
fn link_field(
    st: &State,
    patched: &mut Vec<(String, String, Value)>,
    extra: &mut Vec<(String, Value)>,
    path: &str,
    field: &str,
    value: Value,
) {
    let old = st.policy.get(path).and_then(|o| o.get(field)).cloned();
    patched.push((
        path.to_string(),
        field.to_string(),
        old.unwrap_or(Value::Null),
    ));
    extra.push((format!("{path}#{field}"), value));
}

fn promote(st: &mut State, batch: &Batch, item: &Item, user: &str) -> Result<Record, String> {
    let t = item.type_.as_str();
    let d = &item.details;
    let obj = lookup(st, t, &d.manager_id, &d.linked_ids)
        .ok_or_else(|| format!("{t} {} disappeared before promotion", d.manager_id))?;
    let path = target_path(st, &batch.items, item, &obj)?;
    let owner = batch
        .principal_identity
        .clone()
        .unwrap_or_else(|| user.to_string());
    let now = now_ms();
    let tags = tags_of(&obj);
    let mut intent = new_intent(
        &path,
        &policy_type(t, &obj),
        &display_name(&obj),
        &tags,
        &owner,
        now,
    );
    if let Some(desc) = obj.get("description") {
        intent["description"] = desc.clone();
    }
    let mut extra: Vec<(String, Value)> = Vec::new();
    let mut patched: Vec<(String, String, Value)> = Vec::new();
    let mut marked_objs: Vec<(String, String)> = Vec::new();
    let kind = collection_of(t).unwrap_or("").to_string();
    match t {
        "TIER0" => {
            if let Some(m) = obj.get("high_availability_mode") {
                intent["ha_mode"] = m.clone();
            }
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "TIER1" => marked_objs.push((kind.clone(), d.manager_id.clone())),
        "IPBLOCK" => {
            copy_fields(&obj, &mut intent, &["cidr"]);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "IPPOOL" => marked_objs.push((kind.clone(), d.manager_id.clone())),
        "IPBLOCK_SUBNET" => {
            copy_fields(&obj, &mut intent, &["size"]);
            if let Some(p) =
                path_or_null(st, "IPBLOCK", obj.get("block_id").and_then(Value::as_str))
            {
                intent["ip_block_path"] = json!(p);
            }
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "IPPOOL_ALLOCATION" => {
            intent["allocation_ip"] = obj.get("allocation_id").cloned().unwrap_or(Value::Null);
        }
        "LOGICAL_SWITCH" => {
            if let Some(tz) = obj.get("transport_zone_id").and_then(Value::as_str) {
                intent["transport_zone_path"] = json!(format!(
                    "/infra/sites/default/enforcement-points/default/transport-zones/{tz}"
                ));
            }
            if let Some(v) = obj.get("vlan") {
                intent["vlan_ids"] = json!([v.to_string()]);
            }
            if let Some(p) =
                path_or_null(st, "IPPOOL", obj.get("ip_pool_id").and_then(Value::as_str))
            {
                intent["advanced_config"] = json!({"address_pool_paths": [p]});
            }
            intent["admin_state"] = obj.get("admin_state").cloned().unwrap_or(json!("UP"));
            intent["unique_id"] = json!(d.manager_id);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "LOGICAL_PORT" => {
            if let Some(a) = obj.get("attachment") {
                let ty = match a.pointer("/context/vif_type").and_then(Value::as_str) {
                    Some("CHILD") => "CHILD",
                    Some("PARENT") => "PARENT",
                    Some("INDEPENDENT") => "INDEPENDENT",
                    _ => "",
                };
                if !ty.is_empty() {
                    let mut att =
                        json!({"id": a.get("id").cloned().unwrap_or(Value::Null), "type": ty});
                    if let Some(p) = a.pointer("/context/parent_vif_id") {
                        att["context_id"] = p.clone();
                    }
                    if let Some(p) = a.pointer("/context/traffic_tag") {
                        att["traffic_tag"] = p.clone();
                    }
                    if let Some(p) = a.pointer("/context/app_id") {
                        att["app_id"] = p.clone();
                    }
                    intent["attachment"] = att;
                }
            }
            intent["admin_state"] = obj.get("admin_state").cloned().unwrap_or(json!("UP"));
            intent["unique_id"] = json!(d.manager_id);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "TIER1_LOGICAL_ROUTER_PORT" => {
            let t1 = d.manager_id.clone();
            let t1_path = path
                .split("/locale-services/")
                .next()
                .unwrap_or("")
                .to_string();
            for p in st
                .mp
                .coll("logical-router-ports")
                .into_iter()
                .flat_map(|c| c.iter())
                .filter(|p| p.get("logical_router_id").and_then(Value::as_str) == Some(t1.as_str()))
            {
                let pid = str_field(p, "id").unwrap_or_default();
                marked_objs.push(("logical-router-ports".into(), pid.clone()));
                // Link to the Tier-0: set tier0_path on the Tier-1 intent.
                if let Some(t0) = follow(
                    st,
                    p,
                    "/linked_logical_router_port_id/target_id",
                    "logical-router-ports",
                    "logical_router_id",
                ) && let Some(t0p) = path_or_null(st, "TIER0", Some(&t0))
                {
                    link_field(
                        st,
                        &mut patched,
                        &mut extra,
                        &t1_path,
                        "tier0_path",
                        json!(t0p),
                    );
                }
                // Downlinks: connect the segment to the Tier-1.
                if let Some(ls) = follow(
                    st,
                    p,
                    "/linked_logical_switch_port_id/target_id",
                    "logical-ports",
                    "logical_switch_id",
                ) && let Some(seg) = path_or_null(st, "LOGICAL_SWITCH", Some(&ls))
                {
                    link_field(
                        st,
                        &mut patched,
                        &mut extra,
                        &seg,
                        "connectivity_path",
                        json!(t1_path),
                    );
                }
            }
            for r in st
                .mp
                .coll("static-routes")
                .into_iter()
                .flat_map(|c| c.iter())
                .filter(|r| r.get("logical_router_id").and_then(Value::as_str) == Some(t1.as_str()))
            {
                let rid = str_field(r, "id").unwrap_or_default();
                let rpid = meta(d, &rid)
                    .map(str::to_string)
                    .unwrap_or_else(|| rid.clone());
                let rpath = format!("{t1_path}/static-routes/{rpid}");
                let mut route = new_intent(
                    &rpath,
                    "StaticRoutes",
                    &display_name(r),
                    &tags_of(r),
                    &owner,
                    now,
                );
                route["network"] = r.get("network").cloned().unwrap_or(Value::Null);
                route["next_hops"] = Value::Array(
                    r.get("next_hops")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|h| {
                            json!({"ip_address": h.get("ip_address").cloned().unwrap_or(Value::Null),
                                   "admin_distance": h.get("administrative_distance").cloned().unwrap_or(json!(1))})
                        })
                        .collect(),
                );
                extra.push((rpath, route));
                marked_objs.push(("static-routes".into(), rid));
            }
        }
        "TIER0_LOGICAL_ROUTER_PORT" => {
            copy_fields(&obj, &mut intent, &["subnets"]);
            intent["type"] = json!(match obj.get("resource_type").and_then(Value::as_str) {
                Some("LogicalRouterUpLinkPort") => "EXTERNAL",
                Some("LogicalRouterCentralizedServicePort") => "SERVICE",
                _ => "EXTERNAL",
            });
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "TIER0_LOGICAL_ROUTER_CONFIG" => {
            intent["enabled"] = json!(false);
        }
        "NAT" => {
            intent["action"] = obj.get("action").cloned().unwrap_or(Value::Null);
            for (from, to) in [
                ("match_source_network", "source_network"),
                ("match_destination_network", "destination_network"),
                ("translated_network", "translated_network"),
                ("translated_ports", "translated_ports"),
                ("enabled", "enabled"),
                ("logging", "logging"),
            ] {
                if let Some(v) = obj.get(from) {
                    intent[to] = v.clone();
                }
            }
            let seq = meta(d, "SEQUENCE_NUMBER")
                .and_then(|s| s.parse::<i64>().ok())
                .or_else(|| obj.get("rule_priority").and_then(Value::as_i64))
                .unwrap_or(0);
            intent["sequence_number"] = json!(seq);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "IP_SET" => {
            intent["expression"] = json!([{
                "resource_type": "IPAddressExpression",
                "ip_addresses": obj.get("ip_addresses").cloned().unwrap_or(json!([])),
            }]);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "NS_GROUP" => {
            let mut expr: Vec<Value> = Vec::new();
            for c in obj
                .get("membership_criteria")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if c.get("resource_type").and_then(Value::as_str) == Some("NSGroupTagExpression") {
                    let member = match c.get("target_type").and_then(Value::as_str) {
                        Some("LogicalSwitch") => "Segment",
                        _ => "SegmentPort",
                    };
                    if !expr.is_empty() {
                        expr.push(json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}));
                    }
                    expr.push(json!({
                        "resource_type": "Condition", "key": "Tag", "member_type": member, "operator": "EQUALS",
                        "value": format!("{}|{}", c.get("scope").and_then(Value::as_str).unwrap_or(""),
                                         c.get("tag").and_then(Value::as_str).unwrap_or("")),
                    }));
                }
            }
            let member_paths: Vec<String> = dependencies(st, t, &obj)
                .iter()
                .filter_map(|(dt, did)| path_or_null(st, dt, Some(did)))
                .collect();
            if !member_paths.is_empty() {
                if !expr.is_empty() {
                    expr.push(json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}));
                }
                expr.push(json!({"resource_type": "PathExpression", "paths": member_paths}));
            }
            intent["expression"] = Value::Array(expr);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "DFW_SECTION" => {
            let category = meta(d, "category").unwrap_or("Environment");
            intent["category"] = json!(category);
            intent["sequence_number"] = json!(
                meta(d, "sequence")
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(1)
            );
            intent["stateful"] = obj.get("stateful").cloned().unwrap_or(json!(true));
            let groups = |list: Option<&Value>| -> Value {
                let p: Vec<String> = list
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|a| {
                        let tt = a
                            .get("target_type")
                            .and_then(Value::as_str)
                            .and_then(group_target_type)?;
                        path_or_null(st, tt, a.get("target_id").and_then(Value::as_str))
                    })
                    .collect();
                if p.is_empty() {
                    json!(["ANY"])
                } else {
                    json!(p)
                }
            };
            intent["scope"] = groups(obj.get("applied_tos"));
            for (i, r) in obj
                .get("rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let rid = str_field(r, "id").unwrap_or_default();
                let rpid = d
                    .linked_ids
                    .iter()
                    .find(|k| k.key == format!("{rid}-policyid"))
                    .and_then(|k| k.value.clone())
                    .unwrap_or_else(|| rid.clone());
                let seq = d
                    .linked_ids
                    .iter()
                    .find(|k| k.key == rid)
                    .and_then(|k| k.value.as_deref())
                    .and_then(|s| s.parse::<i64>().ok())
                    .unwrap_or(i as i64 + 1);
                let rpath = format!("{path}/rules/{rpid}");
                let mut rule =
                    new_intent(&rpath, "Rule", &display_name(r), &tags_of(r), &owner, now);
                rule["action"] = r.get("action").cloned().unwrap_or(json!("ALLOW"));
                rule["sequence_number"] = json!(seq);
                rule["source_groups"] = groups(r.get("sources"));
                rule["destination_groups"] = groups(r.get("destinations"));
                rule["services"] = json!(["ANY"]);
                rule["scope"] = groups(r.get("applied_tos"));
                copy_fields(
                    r,
                    &mut rule,
                    &["direction", "ip_protocol", "disabled", "logged"],
                );
                extra.push((rpath, rule));
            }
            marked_objs.push(("firewall-sections".into(), d.manager_id.clone()));
        }
        "CERTIFICATE" => {
            copy_fields(&obj, &mut intent, &["pem_encoded"]);
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "LB_POOL" => {
            copy_fields(
                &obj,
                &mut intent,
                &[
                    "algorithm",
                    "members",
                    "min_active_members",
                    "tcp_multiplexing_enabled",
                ],
            );
            let mons: Vec<String> = obj
                .get("active_monitor_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|m| path_or_null(st, "LB_MONITOR", m.as_str()))
                .collect();
            if !mons.is_empty() {
                intent["active_monitor_paths"] = json!(mons);
            }
            if let Some(p) = path_or_null(
                st,
                "LB_MONITOR",
                obj.get("passive_monitor_id").and_then(Value::as_str),
            ) {
                intent["passive_monitor_path"] = json!(p);
            }
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "LB_VIRTUAL_SERVER" => {
            copy_fields(
                &obj,
                &mut intent,
                &[
                    "ip_address",
                    "ports",
                    "enabled",
                    "max_concurrent_connections",
                    "max_new_connection_rate",
                ],
            );
            for (f, ty, to) in [
                ("pool_id", "LB_POOL", "pool_path"),
                ("sorry_pool_id", "LB_POOL", "sorry_pool_path"),
                (
                    "application_profile_id",
                    "LB_APPLICATION_PROFILE",
                    "application_profile_path",
                ),
                (
                    "persistence_profile_id",
                    "LB_PERSISTENCE_PROFILE",
                    "lb_persistence_profile_path",
                ),
            ] {
                if let Some(p) = path_or_null(st, ty, obj.get(f).and_then(Value::as_str)) {
                    intent[to] = json!(p);
                }
            }
            // MP rules are inlined; their display_name is the MP rule id (observed by VNX).
            let rules: Vec<Value> = obj
                .get("rule_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str())
                .filter_map(|rid| st.mp.coll("lb-rules").and_then(|c| c.get(rid)).map(|r| (rid, r)))
                .map(|(rid, r)| {
                    json!({"display_name": rid, "phase": r.get("phase").cloned().unwrap_or(Value::Null),
                           "match_strategy": r.get("match_strategy").cloned().unwrap_or(json!("ALL")),
                           "match_conditions": r.get("match_conditions").cloned().unwrap_or(json!([])),
                           "actions": r.get("actions").cloned().unwrap_or(json!([]))})
                })
                .collect();
            if !rules.is_empty() {
                intent["rules"] = Value::Array(rules);
            }
            marked_objs.push((kind.clone(), d.manager_id.clone()));
        }
        "LB_SERVICE" => {
            copy_fields(&obj, &mut intent, &["size", "enabled", "error_log_level"]);
            if let Some(r) = obj.pointer("/attachment/target_id").and_then(Value::as_str) {
                let rt = router_type_of(st, r).unwrap_or_else(|| "TIER1".into());
                if let Some(p) = path_or_null(st, &rt, Some(r)) {
                    intent["connectivity_path"] = json!(p);
                }
            }
            marked_objs.push((kind.clone(), d.manager_id.clone()));
            // Policy virtual servers point back at their service.
            for v in obj
                .get("virtual_server_ids")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(vp) = path_or_null(st, "LB_VIRTUAL_SERVER", v.as_str()) {
                    link_field(
                        st,
                        &mut patched,
                        &mut extra,
                        &vp,
                        "lb_service_path",
                        json!(path),
                    );
                }
            }
        }
        _ => {
            // Monitors, profiles: copy the type-specific configuration as is.
            let skip: HashSet<&str> = [
                "id",
                "resource_type",
                "display_name",
                "description",
                "tags",
                "_revision",
                "_create_user",
                "_create_time",
                "_last_modified_user",
                "_last_modified_time",
                "_system_owned",
                "_protection",
                "_self",
                "_links",
                "_schema",
            ]
            .into_iter()
            .collect();
            if let Some(m) = obj.as_object() {
                for (k, v) in m {
                    if !skip.contains(k.as_str()) {
                        intent[k.as_str()] = v.clone();
                    }
                }
            }
            if !kind.is_empty() {
                marked_objs.push((kind.clone(), d.manager_id.clone()));
            }
        }
    }

    // Check the tag limit on every object first, so a failure changes nothing; then mark.
    for (k, id) in &marked_objs {
        let obj = if k == "firewall-sections" {
            st.mp.firewall.sections.get(id)
        } else {
            st.mp.coll(k).and_then(|c| c.get(id))
        };
        let n = obj
            .and_then(|o| o.get("tags"))
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0);
        if n >= 30 {
            return Err(format!(
                "{t} {}: {id} already has {n} tags; the policyPath tag cannot be added (NSX limit 30)",
                d.manager_id
            ));
        }
    }
    let mut marked = Vec::new();
    for (k, id) in &marked_objs {
        mark(st, k, id, &path, &mut marked).map_err(|e| format!("{t} {}: {e}", d.manager_id))?;
    }
    let mut created = vec![path.clone()];
    // Parent containers some intents need (locale services for interfaces and BGP config).
    if matches!(
        t,
        "TIER0_LOGICAL_ROUTER_PORT" | "TIER0_LOGICAL_ROUTER_CONFIG"
    ) {
        let ls = path
            .split("/locale-services/default")
            .next()
            .map(|p| format!("{p}/locale-services/default"))
            .unwrap_or_default();
        if !st.policy.contains_key(&ls) {
            st.policy.insert(
                ls.clone(),
                new_intent(&ls, "LocaleServices", "default", &[], &owner, now),
            );
            created.push(ls);
        }
    }
    st.policy.insert(path.clone(), intent);
    for (p, v) in extra {
        if let Some((target, field)) = p.split_once('#') {
            if let Some(o) = st.policy.get_mut(target) {
                o[field] = v;
                let rev = o.get("_revision").and_then(Value::as_i64).unwrap_or(0);
                o["_revision"] = json!(rev + 1);
            }
        } else {
            st.policy.insert(p.clone(), v);
            created.push(p);
        }
    }
    let (parent_type, parent_id) = match t {
        "LOGICAL_PORT" => (
            Some("LOGICAL_SWITCH".to_string()),
            str_field(&obj, "logical_switch_id"),
        ),
        "NAT" => {
            let r = str_field(&obj, "logical_router_id");
            (r.as_deref().and_then(|r| router_type_of(st, r)), r)
        }
        "IPPOOL_ALLOCATION" => (Some("IPPOOL".to_string()), str_field(&obj, "_pool_id")),
        "IPBLOCK_SUBNET" => (Some("IPBLOCK".to_string()), str_field(&obj, "block_id")),
        "TIER0_LOGICAL_ROUTER_PORT" => (
            Some("TIER0".to_string()),
            str_field(&obj, "logical_router_id"),
        ),
        _ => (None, None),
    };
    Ok(Record {
        resource_type: t.to_string(),
        resource_id: d.manager_id.clone(),
        policy_id: path.rsplit('/').next().unwrap_or("").to_string(),
        policy_path: path,
        parent_resource_type: parent_type,
        parent_resource_id: parent_id,
        created,
        patched,
        marked,
    })
}

fn unmark(st: &mut State, m: &Marked, path: &str) {
    let obj: Option<&mut Value> = if m.kind == "firewall-sections" {
        st.mp.firewall.sections.get_mut(&m.id)
    } else {
        match crate::store::kind(&m.kind) {
            Some(k) => st.mp.coll_mut(k.key).get_mut(&m.id),
            None => None,
        }
    };
    let Some(obj) = obj else { return };
    if let Some(tags) = obj.get("tags").and_then(Value::as_array).cloned() {
        let kept: Vec<Value> = tags
            .into_iter()
            .filter(|t| {
                !(t.get("scope").and_then(Value::as_str) == Some("policyPath")
                    && t.get("tag").and_then(Value::as_str) == Some(path))
            })
            .collect();
        if kept.is_empty() && !m.had_tags {
            if let Some(o) = obj.as_object_mut() {
                o.remove("tags");
            }
        } else {
            obj["tags"] = Value::Array(kept);
        }
    }
    obj["_create_user"] = m.create_user.clone();
    obj["_protection"] = m.protection.clone();
    let rev = obj.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    obj["_revision"] = json!(rev + 1);
    obj["_last_modified_user"] = json!("nsx_policy");
    obj["_last_modified_time"] = json!(now_ms());
}

/// Undo one record: remove created intents, restore patched fields and MP markers.
pub fn undo(st: &mut State, r: &Record) {
    for p in r.created.iter().rev() {
        st.policy.remove(p);
    }
    for (p, field, old) in r.patched.iter().rev() {
        if let Some(o) = st.policy.get_mut(p) {
            if old.is_null() {
                if let Some(m) = o.as_object_mut() {
                    m.remove(field);
                }
            } else {
                o[field.as_str()] = old.clone();
            }
        }
    }
    for m in r.marked.iter().rev() {
        unmark(st, m, &r.policy_path);
    }
}

// ---------------------------------------------------------------------------------------------
// Time

fn feedback_entry(item: &Item, name: &str, code: &str, desc: &str) -> Value {
    json!({
        "type": item.type_,
        "mp_id": item.details.manager_id,
        "mp_display_name": name,
        "error_list": [{"error_id": code, "error_desc": desc}],
    })
}

/// Advance the coordinator according to elapsed time.
pub fn tick(st: &mut State, cfg: &SimConfig, faults: &MigrationFaults) {
    let Some(started) = st.mig.phase_started else {
        return;
    };
    let elapsed = started.elapsed();
    match st.mig.phase {
        Phase::Prechecking if elapsed >= st.mig.phase_total => {
            let batch = st.mig.batch.clone().unwrap_or_default();
            let errors = precheck(st, &batch, faults);
            st.mig.phase_started = None;
            if errors.is_empty() {
                st.mig.phase = Phase::Paused;
                st.mig.precheck_details = String::new();
            } else {
                st.mig.phase = Phase::PrecheckFailed;
                let msgs: Vec<&str> = errors.iter().map(|(_, _, m)| m.as_str()).collect();
                st.mig.precheck_details = msgs.join("; ");
                for (item, code, msg) in &errors {
                    let name = lookup(
                        st,
                        &item.type_,
                        &item.details.manager_id,
                        &item.details.linked_ids,
                    )
                    .map(|o| display_name(&o))
                    .unwrap_or_default();
                    st.mig.feedback.push(feedback_entry(item, &name, code, msg));
                }
            }
            st.touch();
        }
        Phase::Migrating => {
            let batch = st.mig.batch.clone().unwrap_or_default();
            let mut order: Vec<Item> = batch.items.clone();
            order.sort_by_key(|i| rank(&i.type_));
            let per = cfg.migration.migrate_per_object.as_nanos().max(1);
            let due = ((elapsed.as_nanos() / per) as usize).min(order.len());
            let user = batch
                .principal_identity
                .clone()
                .unwrap_or_else(|| "admin".into());
            while st.mig.progress < due {
                let item = order[st.mig.progress].clone();
                let result = if faults.migration_fail.contains(&item.details.manager_id) {
                    Err(format!(
                        "{} {} failed to migrate (simulated fault)",
                        item.type_, item.details.manager_id
                    ))
                } else {
                    promote(st, &batch, &item, &user)
                };
                st.touch();
                match result {
                    Ok(rec) => {
                        st.mig.push_record(rec);
                        st.mig.progress += 1;
                    }
                    Err(e) => {
                        let name = lookup(
                            st,
                            &item.type_,
                            &item.details.manager_id,
                            &item.details.linked_ids,
                        )
                        .map(|o| display_name(&o))
                        .unwrap_or_default();
                        st.mig
                            .feedback
                            .push(feedback_entry(&item, &name, "MIGRATION_FAILED", &e));
                        st.mig.migration_details = e;
                        st.mig.phase = Phase::MigrationFailed;
                        st.mig.phase_started = None;
                        return;
                    }
                }
            }
            if st.mig.progress >= order.len() && elapsed >= st.mig.phase_total {
                st.mig.phase = Phase::Succeeded;
                st.mig.phase_started = None;
                st.mig
                    .history
                    .push(json!({"status": "SUCCESS", "date_time": now_ms()}));
                st.touch();
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

fn busy() -> ApiError {
    ApiError::new(400, 400, "migration-coordinator", BUSY_MESSAGE)
}

fn comp(component_type: &str, status: &str, pct: f64, details: &str) -> Value {
    let mut v = json!({
        "component_type": component_type,
        "status": status,
        "percent_complete": pct,
        "can_skip": false,
    });
    if !details.is_empty() {
        v["details"] = json!(details);
    }
    v
}

fn status_summary(st: &State, req: &Req) -> Value {
    let m = &st.mig;
    let n = m.batch.as_ref().map(|b| b.items.len()).unwrap_or(0).max(1) as f64;
    let elapsed_frac = match (m.phase_started, m.phase_total.is_zero()) {
        (Some(s), false) => (s.elapsed().as_secs_f64() / m.phase_total.as_secs_f64()).min(0.99),
        _ => 0.0,
    };
    let (overall, pre, mig) = match m.phase {
        Phase::Idle => (
            "NOT_STARTED",
            comp("MP_TO_POLICY_PRECHECK", "NOT_STARTED", 0.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Prechecking => (
            "IN_PROGRESS",
            comp(
                "MP_TO_POLICY_PRECHECK",
                "IN_PROGRESS",
                (elapsed_frac * 100.0).floor(),
                "",
            ),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Paused => (
            "PAUSED",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::PrecheckFailed => (
            "PAUSED",
            comp(
                "MP_TO_POLICY_PRECHECK",
                "FAILED",
                100.0,
                &m.precheck_details,
            ),
            comp("MP_TO_POLICY_MIGRATION", "NOT_STARTED", 0.0, ""),
        ),
        Phase::Migrating => (
            "IN_PROGRESS",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp(
                "MP_TO_POLICY_MIGRATION",
                "IN_PROGRESS",
                ((m.progress as f64 / n) * 100.0).min(99.0).floor(),
                "",
            ),
        ),
        Phase::Succeeded => (
            "SUCCESS",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp("MP_TO_POLICY_MIGRATION", "SUCCESS", 100.0, ""),
        ),
        Phase::MigrationFailed => (
            "PAUSED",
            comp("MP_TO_POLICY_PRECHECK", "SUCCESS", 100.0, ""),
            comp(
                "MP_TO_POLICY_MIGRATION",
                "FAILED",
                ((m.progress as f64 / n) * 100.0).floor(),
                &m.migration_details,
            ),
        ),
    };
    let comps: Vec<Value> = [pre, mig]
        .into_iter()
        .filter(|c| match req.q("component_type") {
            Some(ct) => c["component_type"] == ct,
            None => true,
        })
        .collect();
    json!({"overall_migration_status": overall, "component_status": comps})
}

fn parse_items(data: &[MpResource]) -> Result<Vec<Item>, ApiError> {
    let mut items = Vec::new();
    for (i, r) in data.iter().enumerate() {
        if r.type_.trim().is_empty() {
            return Err(ApiError::bad_request(format!(
                "Field level validation errors: {{migration_data[{i}].type must not be empty}}"
            )));
        }
        if r.resource_ids.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Field level validation errors: {{migration_data[{i}].resource_ids must not be empty}}"
            )));
        }
        for (j, d) in r.resource_ids.iter().enumerate() {
            if d.manager_id.trim().is_empty() {
                return Err(ApiError::bad_request(format!(
                    "Field level validation errors: {{migration_data[{i}].resource_ids[{j}].manager_id must not be empty}}"
                )));
            }
            if let Some(p) = &d.policy_id
                && (p.is_empty() || p.contains('/'))
            {
                return Err(ApiError::bad_request(format!(
                    "Field level validation errors: {{migration_data[{i}].resource_ids[{j}].policy_id '{p}' is not a valid Policy id}}"
                )));
            }
            items.push(Item {
                type_: r.type_.clone(),
                details: d.clone(),
            });
        }
    }
    Ok(items)
}

fn parse_body(req: &Req) -> Result<MpMigrationData, ApiError> {
    let v = req.json_or_empty()?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::new(
            400,
            287,
            "common-services",
            format!("Json de-serialization error: {e}"),
        )
    })
}

fn stats(st: &State) -> Value {
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in &st.mig.records {
        by.entry(r.resource_type.clone()).or_default().0 += 1;
    }
    for f in &st.mig.feedback {
        if let Some(t) = f.get("type").and_then(Value::as_str) {
            by.entry(t.to_string()).or_default().1 += 1;
        }
    }
    let current = match (&st.mig.phase, &st.mig.batch) {
        (Phase::Migrating, Some(b)) => b.items.first().map(|i| i.type_.clone()).unwrap_or_default(),
        _ => String::new(),
    };
    let list: Vec<Value> = by
        .iter()
        .map(|(t, (ok, failed))| {
            let in_progress = st.mig.phase == Phase::Migrating && *t == current;
            json!({
                "resource_type": t,
                "promotion_status": if in_progress { "IN_PROGRESS" } else { "DONE" },
                "total_count": (ok + failed).to_string(),
                "promoted_objects_count": ok.to_string(),
                "failed_objects_count": failed.to_string(),
            })
        })
        .collect();
    let total: u64 = by.values().map(|(a, b)| a + b).sum();
    let mut out = json!({"total_count": total, "migration_stats": list});
    if !current.is_empty() {
        out["current_resource_type_in_promotion"] = json!(current);
    }
    out
}

pub fn route(
    st: &mut State,
    cfg: &SimConfig,
    req: &Req,
    rest: &[&str],
    _faults: &MigrationFaults,
) -> Result<(Reply, Duration), ApiError> {
    if !st.coordinator_running {
        return Err(ApiError::new(
            500,
            500,
            "migration-coordinator",
            "Migration coordinator service is not running. Start it with POST /api/v1/node/services/migration-coordinator?action=start.",
        ));
    }
    let ok = |r: Reply| Ok((r, Duration::ZERO));
    let post = req.method == Method::POST;
    let get = req.method == Method::GET;
    match rest {
        ["status-summary"] if get => ok(Reply::json(status_summary(st, req))),
        ["mp-to-policy", "workflow"] if post => match req.q("action") {
            Some("INITIATE") => {
                st.mig.window_open = true;
                st.touch();
                ok(Reply::empty(200))
            }
            Some("DONE") => {
                if st.mig.running() {
                    return Err(busy());
                }
                st.mig.window_open = false;
                st.touch();
                ok(Reply::empty(200))
            }
            other => Err(ApiError::bad_request(format!(
                "Invalid workflow action {:?}; expected INITIATE or DONE.",
                other.unwrap_or("")
            ))),
        },
        ["mp-to-policy"] if post => {
            let body = parse_body(req)?;
            let mode = body.mode.as_deref().unwrap_or("CONSUMER");
            match mode {
                "CONSUMER" => {}
                "GENERIC" => {
                    return Err(ApiError::bad_request(
                        "GENERIC promotion mode is not supported by this simulator.",
                    ));
                }
                other => {
                    return Err(ApiError::bad_request(format!(
                        "Field level validation errors: {{mode '{other}' must be GENERIC or CONSUMER}}"
                    )));
                }
            }
            let Some(data) = body.migration_data else {
                // An empty submission (used as an availability probe) stores nothing.
                return ok(Reply::empty(200));
            };
            if !st.mig.window_open {
                return Err(ApiError::bad_request(
                    "The MP to Policy promotion workflow is not initiated. Call mp-to-policy/workflow?action=INITIATE first.",
                ));
            }
            if st.mig.running() {
                return Err(busy());
            }
            if !matches!(st.mig.phase, Phase::Idle | Phase::Succeeded) {
                return Err(ApiError::bad_request(
                    "The previous migration plan is not cleared. Abort it (plan?action=abort) before submitting new data.",
                ));
            }
            let items = parse_items(&data)?;
            if items.is_empty() {
                return Err(ApiError::bad_request(
                    "Field level validation errors: {migration_data must not be empty}",
                ));
            }
            st.mig.batch = Some(Batch {
                principal_identity: body.setup_details.and_then(|s| s.principal_identity),
                items,
            });
            st.mig.phase = Phase::Idle;
            st.mig.progress = 0;
            st.touch();
            ok(Reply::empty(200))
        }
        ["plan"] if post => match req.q("action") {
            Some("start") => {
                if st.mig.running() {
                    return Err(busy());
                }
                let n = match (&st.mig.batch, st.mig.phase) {
                    (Some(b), Phase::Idle) => b.items.len(),
                    _ => {
                        return Err(ApiError::bad_request(
                            "There is no submitted migration data to start. POST mp-to-policy first.",
                        ));
                    }
                };
                st.mig.phase = Phase::Prechecking;
                st.mig.phase_started = Some(Instant::now());
                st.mig.phase_total = cfg
                    .migration
                    .min_phase
                    .max(cfg.migration.precheck_per_object * n as u32);
                st.mig.precheck_details.clear();
                st.mig.migration_details.clear();
                st.touch();
                ok(Reply::empty(200))
            }
            Some("continue") => {
                if st.mig.phase != Phase::Paused {
                    return Err(ApiError::bad_request(format!(
                        "The plan cannot be continued in its current state ({}).",
                        status_summary(st, req)["overall_migration_status"]
                            .as_str()
                            .unwrap_or("")
                    )));
                }
                let n = st.mig.batch.as_ref().map(|b| b.items.len()).unwrap_or(0);
                st.mig.phase = Phase::Migrating;
                st.mig.progress = 0;
                st.mig.phase_started = Some(Instant::now());
                st.mig.phase_total = cfg
                    .migration
                    .min_phase
                    .max(cfg.migration.migrate_per_object * n as u32);
                st.touch();
                ok(Reply::empty(200))
            }
            Some("abort") => {
                st.mig.phase = Phase::Idle;
                st.mig.batch = None;
                st.mig.phase_started = None;
                st.mig.progress = 0;
                st.mig.precheck_details.clear();
                st.mig.migration_details.clear();
                st.touch();
                ok(Reply::empty(200))
            }
            other => Err(ApiError::bad_request(format!(
                "Plan action {:?} is not supported in MP to Policy mode (start, continue, abort).",
                other.unwrap_or("")
            ))),
        },
        ["mp-to-policy", "rollback"] if post => {
            if st.mig.running() {
                return Err(busy());
            }
            let body = parse_body(req)?;
            let data = body.migration_data.ok_or_else(|| {
                ApiError::bad_request("Field level validation errors: {migration_data is required}")
            })?;
            let items = parse_items(&data)?;
            let mut delay = Duration::ZERO;
            // Undo in reverse order of promotion, whatever order the request lists them in.
            let targets: Vec<usize> = items
                .iter()
                .filter_map(|i| st.mig.record_index(&i.type_, &i.details.manager_id))
                .collect();
            // remove_records hands them back latest promotion first.
            for rec in st.mig.remove_records(targets) {
                undo(st, &rec);
                let cost = cfg.migration.rollback_per_object;
                delay += if rec.resource_type == "DFW_SECTION" {
                    cost * cfg.migration.rollback_dfw_factor
                } else {
                    cost
                };
            }
            st.touch();
            Ok((Reply::empty(200), delay))
        }
        ["mp-to-policy", "cancel"] if post => {
            st.mig.phase = Phase::Idle;
            st.mig.batch = None;
            st.mig.phase_started = None;
            st.touch();
            ok(Reply::empty(200))
        }
        ["mp-to-policy", "stats"] if get => ok(Reply::json(stats(st))),
        ["mp-to-policy", "feedback"] if get => {
            let (off, size) = req.page()?;
            let items: Vec<&Value> = st
                .mig
                .feedback
                .iter()
                .filter(|f| req.q("resource_type").is_none_or(|t| f["type"] == t))
                .filter(|f| req.q("mp_id").is_none_or(|t| f["mp_id"] == t))
                .collect();
            ok(list_page(items, off, size))
        }
        ["migrated-resources"] if get => {
            let rt = req
                .q("resource_type")
                .ok_or_else(|| ApiError::bad_request("Parameter resource_type is required."))?;
            if rank(rt) == usize::MAX {
                return Err(ApiError::bad_request(format!(
                    "Invalid resource_type '{rt}'."
                )));
            }
            let (off, size) = req.page()?;
            let list: Vec<Value> = st
                .mig
                .records
                .iter()
                .filter(|r| r.resource_type == rt)
                .filter(|r| req.q("resource_id").is_none_or(|id| r.resource_id == id))
                .map(|r| {
                    let mut v = json!({
                        "resource_type": r.resource_type,
                        "resource_id": r.resource_id,
                        "policy_id": r.policy_id,
                        "policy_path": r.policy_path,
                    });
                    if let Some(p) = &r.parent_resource_type {
                        v["parent_resource_type"] = json!(p);
                    }
                    if let Some(p) = &r.parent_resource_id {
                        v["parent_resource_id"] = json!(p);
                    }
                    v
                })
                .collect();
            ok(list_page(list.iter().collect(), off, size))
        }
        ["mp-policy-promotion", "state"] if get => ok(Reply::json(json!({
            "mp_policy_promotion": if st.mig.running() { "PROMOTION_IN_PROGRESS" } else { "PROMOTION_NOT_IN_PROGRESS" }
        }))),
        ["mp-policy-promotion", "history"] if get => ok(Reply::json(json!({
            "mp_policy_promotion_history": st.mig.history,
        }))),
        ["migration-unit-groups", "MP_TO_POLICY_MIGRATION"] if get => ok(Reply::json(json!({
            "id": "MP_TO_POLICY_MIGRATION",
            "display_name": "MP_TO_POLICY_MIGRATION",
            "group_type": "MP_TO_POLICY_MIGRATION",
            "enabled": true,
            "parallel": true,
            "migration_unit_count": st.mig.batch.as_ref().map(|b| b.items.len()).unwrap_or(0),
        }))),
        _ => Err(ApiError::not_found(&req.path)),
    }
}

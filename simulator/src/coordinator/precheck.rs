//! The precheck phase: every item of the batch is checked before anything is promoted.

use std::collections::{HashMap, HashSet};

use super::model::{Batch, Item};
use super::resolve::{dependencies, lookup, target_path};
use super::table::spec;
use crate::faults::MigrationFaults;
use crate::state::State;
use crate::store::tags_of;

/// The errors of a batch as (item, error code, message); empty when it may be promoted.
pub fn precheck(
    st: &State,
    batch: &Batch,
    faults: &MigrationFaults,
) -> Vec<(Item, String, String)> {
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
    let Some(spec) = spec(t) else {
        out.push((
            "UNSUPPORTED_TYPE".into(),
            format!("Unsupported resource type {t} for manager id {id}"),
        ));
        return out;
    };
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
    if st.mig.record(t, id).is_some() || (marked && !spec.keyed_by_router) {
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

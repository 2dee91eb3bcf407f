//! Rollback: undoing promotions. What a promotion did is in its [`Record`] (intents created,
//! fields patched, Manager objects marked), so the undo is the same for every type; the type
//! table only says how long it takes ([`Rollback`]).

use std::time::Duration;

use serde_json::{Value, json};

use super::model::{Item, Marked, Record};
use super::table::{Rollback, spec};
use crate::SimConfig;
use crate::state::State;
use crate::util::now_ms;

/// Undo the promotions of the listed items (those not promoted are ignored), latest promotion
/// first whatever order the request lists them in. Returns the simulated time it takes.
pub fn rollback(st: &mut State, cfg: &SimConfig, items: &[Item]) -> Duration {
    let mut delay = Duration::ZERO;
    let targets: Vec<usize> = items
        .iter()
        .filter_map(|i| st.mig.record_index(&i.type_, &i.details.manager_id))
        .collect();
    // remove_records hands them back latest promotion first.
    for rec in st.mig.remove_records(targets) {
        undo(st, &rec);
        let cost = cfg.migration.rollback_per_object;
        delay += match spec(&rec.resource_type).map(|s| s.rollback) {
            Some(Rollback::Firewall) => cost * cfg.migration.rollback_dfw_factor,
            _ => cost,
        };
    }
    delay
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

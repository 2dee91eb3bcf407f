//! Promotion of one batch item: the steps every type shares (look the object up, compute its
//! path, build the intent, mark the Manager objects, insert the intents, record what rollback must
//! undo), with the type-specific part dispatched through the table's `build` function.

use serde_json::{Value, json};

use super::model::{Batch, Item, Marked, Record, ResourceDetails};
use super::resolve::{display_name, lookup, target_path};
use super::table::spec;
use crate::state::State;
use crate::store::tags_of;
use crate::util::now_ms;

/// One promotion being built. A type's `build` function reads the Manager object and the state
/// (nothing is changed yet) and fills in `intent` and the lists below; [`promote`] then applies
/// everything at once, or nothing if a Manager object cannot be marked.
pub struct Promotion<'a> {
    pub st: &'a State,
    pub details: &'a ResourceDetails,
    /// The Manager object being promoted.
    pub obj: &'a Value,
    /// Policy path of the promoted intent.
    pub path: &'a str,
    /// `_create_user` of the new intents (the batch's principal identity, else the caller).
    pub owner: &'a str,
    pub now: i64,
    /// The promoted intent (common fields filled in already).
    pub intent: Value,
    /// Applied in order after the intent is inserted: `(path, intent)` creates another intent,
    /// `("<path>#<field>", value)` sets a field of an existing intent (see [`Promotion::link`]).
    pub extra: Vec<(String, Value)>,
    /// (policy path, field, previous value) of the fields `extra` sets, for rollback.
    pub patched: Vec<(String, String, Value)>,
    /// Manager objects (collection, id) that get the policyPath marker besides the object itself.
    pub marks: Vec<(String, String)>,
    /// Parent containers (path, intent) created before the intent unless they exist already.
    pub containers: Vec<(String, Value)>,
}

impl Promotion<'_> {
    /// A new Policy intent owned by this promotion's owner.
    pub fn new_intent(&self, path: &str, rt: &str, name: &str, tags: &[(String, String)]) -> Value {
        new_intent(path, rt, name, tags, self.owner, self.now)
    }

    /// When the batch is promoted, `field` of the Policy object at `path` becomes `value` (a link
    /// to a newly promoted object); the old value is kept so that a rollback restores it.
    pub fn link(&mut self, path: &str, field: &str, value: Value) {
        let old = self.st.policy.get(path).and_then(|o| o.get(field)).cloned();
        self.patched.push((
            path.to_string(),
            field.to_string(),
            old.unwrap_or(Value::Null),
        ));
        self.extra.push((format!("{path}#{field}"), value));
    }
}

pub fn copy_fields(src: &Value, dst: &mut Value, fields: &[&str]) {
    for f in fields {
        if let Some(v) = src.get(*f) {
            dst[*f] = v.clone();
        }
    }
}

pub fn new_intent(
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

/// A Manager object of collection `kind` ("firewall-sections" for DFW sections).
fn mp_object<'a>(st: &'a State, kind: &str, id: &str) -> Option<&'a Value> {
    if kind == "firewall-sections" {
        st.mp.firewall.sections.get(id)
    } else {
        st.mp.coll(kind).and_then(|c| c.get(id))
    }
}

/// Add the policyPath marker to a Manager object and make it Policy-owned; what it was is kept
/// in `marked` for rollback.
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

/// Mark every listed Manager object, or none: the tag limit is checked on all of them first.
fn mark_all(
    st: &mut State,
    item: &Item,
    marks: &[(String, String)],
    path: &str,
) -> Result<Vec<Marked>, String> {
    let (t, mid) = (&item.type_, &item.details.manager_id);
    for (k, id) in marks {
        let n = mp_object(st, k, id)
            .and_then(|o| o.get("tags"))
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0);
        if n >= 30 {
            return Err(format!(
                "{t} {mid}: {id} already has {n} tags; the policyPath tag cannot be added (NSX limit 30)"
            ));
        }
    }
    let mut marked = Vec::new();
    for (k, id) in marks {
        mark(st, k, id, path, &mut marked).map_err(|e| format!("{t} {mid}: {e}"))?;
    }
    Ok(marked)
}

/// Promote one item. On error nothing is changed.
pub fn promote(st: &mut State, batch: &Batch, item: &Item, user: &str) -> Result<Record, String> {
    let t = item.type_.as_str();
    let d = &item.details;
    let obj = lookup(st, t, &d.manager_id, &d.linked_ids)
        .ok_or_else(|| format!("{t} {} disappeared before promotion", d.manager_id))?;
    // lookup finds nothing for a type without a table entry.
    let spec = spec(t).ok_or_else(|| format!("unsupported type {t}"))?;
    let path = target_path(st, &batch.items, item, &obj)?;
    let owner = batch
        .principal_identity
        .clone()
        .unwrap_or_else(|| user.to_string());
    let now = now_ms();
    let mut intent = new_intent(
        &path,
        &spec.policy_type(&obj),
        &display_name(&obj),
        &tags_of(&obj),
        &owner,
        now,
    );
    if let Some(desc) = obj.get("description") {
        intent["description"] = desc.clone();
    }
    let mut p = Promotion {
        st,
        details: d,
        obj: &obj,
        path: &path,
        owner: &owner,
        now,
        intent,
        extra: Vec::new(),
        patched: Vec::new(),
        marks: Vec::new(),
        containers: Vec::new(),
    };
    (spec.build)(&mut p);
    let Promotion {
        intent,
        extra,
        patched,
        mut marks,
        containers,
        ..
    } = p;
    if spec.marks_object
        && let Some(kind) = spec.source.collection()
    {
        marks.push((kind.to_string(), d.manager_id.clone()));
    }

    // An import naming a (protected) principal identity makes it the owner of what it creates,
    // protected as if the identity had written it; without one the caller owns it, unprotected.
    let protection = match &batch.principal_identity {
        Some(pi) if crate::principal::name_protects(st, pi) => "REQUIRE_OVERRIDE",
        _ => "NOT_PROTECTED",
    };
    let mut intent = intent;
    let protect = |v: &mut Value| {
        if v.get("_create_user").and_then(Value::as_str) == Some(owner.as_str()) {
            v["_protection"] = json!(protection);
        }
    };
    protect(&mut intent);
    let mut containers = containers;
    let mut extra = extra;
    containers.iter_mut().for_each(|(_, v)| protect(v));
    extra
        .iter_mut()
        .filter(|(p, _)| !p.contains('#'))
        .for_each(|(_, v)| protect(v));
    let marked = mark_all(st, item, &marks, &path)?;
    let mut created = vec![path.clone()];
    for (c, v) in containers {
        if !st.policy.contains_key(&c) {
            st.policy.insert(c.clone(), v);
            created.push(c);
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
    let (parent_type, parent_id) = (spec.parent)(st, &obj);
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

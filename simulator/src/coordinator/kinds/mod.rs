//! The type-specific parts of promotion, one function per table column that differs, grouped by
//! family. Each `build` function fills the promoted intent's own fields; each `*_deps` function
//! lists what must be promoted first; `*_path` computes a path that hangs under a parent;
//! `*_parent` names the parent `migrated-resources` reports.

use std::collections::HashSet;

use serde_json::Value;

use super::promote::Promotion;
use crate::state::State;

pub mod ipam;
pub mod lb;
pub mod routing;
pub mod security;
pub mod switching;

/// No dependencies.
pub fn no_deps(_: &State, _: &Value, _: &mut Vec<(String, String)>) {}

/// No parent in `migrated-resources`.
pub fn no_parent(_: &State, _: &Value) -> (Option<String>, Option<String>) {
    (None, None)
}

/// The intent has only the common fields (id, name, tags, description).
pub fn no_fields(_: &mut Promotion) {}

/// Monitors and profiles: copy the type-specific configuration as is.
pub fn copy_config(p: &mut Promotion) {
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
    if let Some(m) = p.obj.as_object() {
        for (k, v) in m {
            if !skip.contains(k.as_str()) {
                p.intent[k.as_str()] = v.clone();
            }
        }
    }
}

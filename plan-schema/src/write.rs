//! Writing plans as TOML a person can review.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::plan::Plan;

/// Order steps by phase, then dependency order, keeping the planner's order among steps that
/// are free to go in any order. Steps caught in a cycle or depending on unknown steps keep their
/// relative order at the end of their phase (validation reports them).
pub fn normalize(plan: &mut Plan) {
    let n = plan.steps.len();
    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, step) in plan.steps.iter().enumerate() {
        for dep in &step.depends_on {
            if let Some(&d) = index.get(dep.as_str())
                && d != i
            {
                indegree[i] += 1;
                dependents[d].push(i);
            }
        }
    }
    let key = |i: usize| Reverse((plan.steps[i].phase, i));
    let mut ready: BinaryHeap<Reverse<(crate::plan::Phase, usize)>> =
        (0..n).filter(|&i| indegree[i] == 0).map(key).collect();
    let mut order = Vec::with_capacity(n);
    let mut placed = vec![false; n];
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(i);
        placed[i] = true;
        for &j in &dependents[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(key(j));
            }
        }
    }
    let mut rest: Vec<usize> = (0..n).filter(|&i| !placed[i]).collect();
    rest.sort_by_key(|&i| (plan.steps[i].phase, i));
    order.extend(rest);

    let mut old: Vec<Option<crate::plan::Step>> = plan.steps.drain(..).map(Some).collect();
    plan.steps = order.into_iter().filter_map(|i| old[i].take()).collect();
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot serialize plan to TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
    #[error("cannot lay out plan TOML: {0}")]
    Layout(#[from] toml_edit::TomlError),
}

/// Arrays of small `{key, value}` / `{scope, tag}` tables read better inline, one per line.
const INLINE_ARRAYS: &[&str] = &[
    "metadata",
    "linked_ids",
    "tags_before",
    "tags_add",
    "tags_remove",
];

/// The plan as TOML text. `schema_ref`, when given, becomes a `#:schema` directive so that
/// TOML editors offer completion and validation.
pub fn to_toml(plan: &Plan, schema_ref: Option<&str>) -> Result<String, WriteError> {
    let body = toml::to_string_pretty(plan)?;
    let mut doc: toml_edit::DocumentMut = body.parse()?;
    inline_small_arrays(doc.as_table_mut());
    let mut out = String::with_capacity(body.len() + 200);
    if let Some(s) = schema_ref {
        out.push_str("#:schema ");
        out.push_str(s);
        out.push('\n');
    }
    out.push_str(&format!(
        "# nsx-migrate plan for {} `{}`. Review it, do not edit it: any change breaks plan_id.\n\n",
        plan.header.kind.as_str(),
        plan.header.cluster
    ));
    out.push_str(&doc.to_string());
    Ok(out)
}

fn inline_small_arrays(table: &mut toml_edit::Table) {
    use toml_edit::{Array, Item, Value};
    for (mut key, item) in table.iter_mut() {
        let inline = INLINE_ARRAYS.contains(&key.get());
        match item {
            Item::ArrayOfTables(aot) if inline => {
                let mut array = Array::new();
                for t in aot.iter() {
                    let mut it = t.clone().into_inline_table();
                    it.fmt();
                    let mut v = Value::InlineTable(it);
                    v.decor_mut().set_prefix("\n    ");
                    array.push_formatted(v);
                }
                array.set_trailing_comma(true);
                array.set_trailing("\n");
                key.leaf_decor_mut().set_suffix(" ");
                let mut value = Value::Array(array);
                value.decor_mut().set_prefix(" ");
                *item = Item::Value(value);
            }
            Item::ArrayOfTables(aot) => {
                for t in aot.iter_mut() {
                    inline_small_arrays(t);
                }
            }
            Item::Table(t) => inline_small_arrays(t),
            _ => {}
        }
    }
}

//! Writing plans as TOML a person can review.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::kind::Kind;
use crate::plan::Plan;

/// Order steps by phase, then dependency order, keeping the planner's order among steps that
/// are free to go in any order. Steps caught in a cycle or depending on unknown steps keep their
/// relative order at the end of their phase (validation reports them).
pub fn normalize<K: Kind>(plan: &mut Plan<K>) {
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
    let mut ready: BinaryHeap<Reverse<(K::Phase, usize)>> =
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

    let mut old: Vec<Option<crate::plan::Step<K>>> = plan.steps.drain(..).map(Some).collect();
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
pub fn to_toml<K: Kind>(plan: &Plan<K>, schema_ref: Option<&str>) -> Result<String, WriteError> {
    let body = compact_pairs(&toml::to_string_pretty(plan)?);
    // Lay out small arrays inline in one pass over the text; values spanning several lines
    // (multi-line strings) are left to the slower, parsing layout.
    let body = match inline_small_arrays_text(&body) {
        Some(b) => b,
        None => {
            let mut doc: toml_edit::DocumentMut = body.parse()?;
            inline_small_arrays(doc.as_table_mut());
            doc.to_string()
        }
    };
    let mut out = String::with_capacity(body.len() + 200);
    if let Some(s) = schema_ref {
        out.push_str("#:schema ");
        out.push_str(s);
        out.push('\n');
    }
    out.push_str(&format!(
        "# nsx-migrate plan for {} `{}`. Review it, do not edit it: any change breaks plan_id.\n\n",
        plan.header.kind.as_str(),
        plan.subject_name()
    ));
    out.push_str(&body);
    Ok(out)
}

/// Arrays of `[scope, tag]` pairs (`tags = [`), which the TOML writer spreads over four lines a
/// pair, become one pair a line. Anything it does not recognise is left as it is.
fn compact_pairs(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != "tags = [" {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        }
        // Collect the value up to its closing bracket, then re-lay it out.
        let mut value = String::from("[");
        let mut j = i + 1;
        let mut closed = false;
        while j < lines.len() {
            value.push_str(lines[j].trim());
            j += 1;
            if lines[j - 1] == "]" {
                closed = true;
                break;
            }
        }
        let parsed = closed
            .then(|| toml::from_str::<toml::Table>(&format!("v = {value}")).ok())
            .flatten()
            .and_then(|t| t.get("v").and_then(|v| v.as_array()).cloned());
        let pairs: Option<Vec<String>> = parsed.and_then(|a| {
            a.iter()
                .map(|p| {
                    let p = p.as_array()?;
                    match (p.first()?.as_str(), p.get(1)?.as_str(), p.len()) {
                        (Some(a), Some(b), 2) => Some(format!(
                            "    [{}, {}],",
                            toml::Value::String(a.to_string()),
                            toml::Value::String(b.to_string())
                        )),
                        _ => None,
                    }
                })
                .collect()
        });
        match pairs {
            Some(p) => {
                out.push("tags = [".to_string());
                out.extend(p);
                out.push("]".to_string());
                i = j;
            }
            None => {
                out.push(lines[i].to_string());
                i += 1;
            }
        }
    }
    out.join("\n")
}

/// The array-of-tables header a line opens, when it is one of `INLINE_ARRAYS`.
fn inline_header(line: &str) -> Option<(&str, &str)> {
    let path = line.strip_prefix("[[")?.strip_suffix("]]")?;
    let name = path.rsplit('.').next()?;
    INLINE_ARRAYS.contains(&name).then_some((path, name))
}

/// `[[a.metadata]]` blocks of `key = value` lines become `metadata = [ { ... }, ]` in place.
/// Returns None when a block holds anything but single-line `key = value` pairs.
fn inline_small_arrays_text(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let Some((path, name)) = inline_header(lines[i]) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        if out.last().is_some_and(|l| l.is_empty()) {
            out.pop();
        }
        out.push(format!("{name} = ["));
        // Consecutive elements of the same array.
        while i < lines.len() && inline_header(lines[i]).is_some_and(|(p, _)| p == path) {
            i += 1;
            let mut pairs = Vec::new();
            while i < lines.len() && !lines[i].is_empty() && !lines[i].starts_with('[') {
                let line = lines[i];
                let simple = line.split_once(" = ").is_some_and(|(k, v)| {
                    !k.is_empty()
                        && !k.contains(['"', '\'', ' '])
                        && !v.starts_with("\"\"\"")
                        && !v.starts_with("\'\'\'")
                        && !v.starts_with('[')
                        && !v.starts_with('{')
                });
                if !simple {
                    return None;
                }
                pairs.push(line);
                i += 1;
            }
            out.push(format!("    {{ {} }},", pairs.join(", ")));
            // The blank line toml puts before the next header.
            if i < lines.len()
                && lines[i].is_empty()
                && inline_header(lines.get(i + 1).copied().unwrap_or(""))
                    .is_some_and(|(p, _)| p == path)
            {
                i += 1;
            }
        }
        out.push("]".to_string());
    }
    Some(out.join("\n"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_layout_matches_the_parsing_layout() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/plans/small-cluster.toml");
        let plan = crate::read_mp_plan_file(&path).unwrap();
        let body = toml::to_string_pretty(&plan).unwrap();
        let fast = inline_small_arrays_text(&body).expect("the example has only simple pairs");
        let mut doc: toml_edit::DocumentMut = body.parse().unwrap();
        inline_small_arrays(doc.as_table_mut());
        assert_eq!(fast, doc.to_string());
        assert!(fast.contains("metadata = [\n    { key = "));
    }

    #[test]
    fn multi_line_values_fall_back_to_the_parsing_layout() {
        let text = "[[a.metadata]]\nkey = \"k\"\nvalue = \"\"\"\nx\n\"\"\"\n";
        assert!(inline_small_arrays_text(text).is_none());
    }
}

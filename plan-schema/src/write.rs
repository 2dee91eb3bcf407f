//! Writing plans as TOML a person can review.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::kind::Kind;
use crate::plan::{Finding, Header, Input, Plan, RuleRef, Step, Summary};

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

/// Arrays of small `{key, value}` / `{scope, tag}` tables read better inline, one per line (a
/// kind adds its own: [`Kind::INLINE_TABLE_ARRAYS`]).
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
    let body = compact_pairs(&pretty_toml(plan)?);
    let inline: Vec<&str> = INLINE_ARRAYS
        .iter()
        .chain(K::INLINE_TABLE_ARRAYS)
        .copied()
        .collect();
    // Lay out small arrays inline in one pass over the text; values spanning several lines
    // (multi-line strings) are left to the slower, parsing layout.
    let body = match inline_small_arrays_text(&body, &inline) {
        Some(b) => b,
        None => {
            let mut doc: toml_edit::DocumentMut = body.parse()?;
            inline_small_arrays(doc.as_table_mut(), &inline);
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

/// The text `toml::to_string_pretty(plan)` gives, made piecewise: everything before the
/// findings as one document, then each finding and each step as a document of its own. The TOML
/// writer inserts a table's sub-tables into its whole output text once it is done, so a
/// document of many steps with nested tables took time quadratic in its size (80 s for a
/// 50,000-port VIO plan); one element at a time it is linear, and the text is the same.
fn pretty_toml<K: Kind>(plan: &Plan<K>) -> Result<String, toml::ser::Error> {
    // Exhaustive, so that a new `Plan` field cannot be left out of the file.
    let Plan {
        format_version,
        plan_id,
        header,
        target,
        requirements,
        inputs,
        summary,
        rules,
        findings,
        steps,
    } = plan;
    let head = Head::<K> {
        format_version: *format_version,
        plan_id,
        header,
        target,
        requirements,
        inputs,
        summary,
        rules,
        // An empty array is a value of the root table (`findings = []`), written in place.
        findings: findings.is_empty().then_some(findings),
        steps: steps.is_empty().then_some(steps),
    };
    let mut out = toml::to_string_pretty(&head)?;
    append_elements(&mut out, "findings", findings)?;
    append_elements(&mut out, "steps", steps)?;
    Ok(out)
}

/// `[[key]]` tables, one document each, each after a blank line as the writer puts them.
fn append_elements<T: serde::Serialize>(
    out: &mut String,
    key: &'static str,
    items: &[T],
) -> Result<(), toml::ser::Error> {
    for item in items {
        let one = std::collections::BTreeMap::from([(key, std::slice::from_ref(item))]);
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&toml::to_string_pretty(&one)?);
    }
    Ok(())
}

/// `Plan` field for field (same names, order and serialization), by reference, with the
/// findings and steps left to [`append_elements`] unless they are empty.
#[derive(serde::Serialize)]
#[serde(bound = "")]
struct Head<'a, K: Kind> {
    format_version: u32,
    plan_id: &'a str,
    header: &'a Header,
    target: &'a K::Target,
    requirements: &'a K::Requirements,
    inputs: &'a [Input],
    summary: &'a Summary<K::Counters>,
    rules: &'a [RuleRef],
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<&'a [Finding]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps: Option<&'a [Step<K>]>,
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

/// The array-of-tables header a line opens, when it is one of `names`.
fn inline_header<'l>(line: &'l str, names: &[&str]) -> Option<(&'l str, &'l str)> {
    let path = line.strip_prefix("[[")?.strip_suffix("]]")?;
    let name = path.rsplit('.').next()?;
    names.contains(&name).then_some((path, name))
}

/// A single-line value the text layout may move into an inline table as it is: a string (not
/// multi-line), a number, a boolean or a date, never an array or a table.
fn simple_scalar(v: &str) -> bool {
    !v.is_empty()
        && !v.starts_with("\"\"\"")
        && !v.starts_with("\'\'\'")
        && !v.starts_with('[')
        && !v.starts_with('{')
}

/// `[[a.metadata]]` blocks of `key = value` lines become `metadata = [ { ... }, ]` in place.
/// A value may be an array of simple values, which the TOML writer spreads over a line per
/// element (`key = [`, `    "x",`, `]`): it becomes one line (`key = ["x", "y"]`), as the
/// parsing layout writes it. Returns None when a block holds anything else (a multi-line
/// string, a nested table).
fn inline_small_arrays_text(text: &str, names: &[&str]) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let Some((path, name)) = inline_header(lines[i], names) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        if out.last().is_some_and(|l| l.is_empty()) {
            out.pop();
        }
        out.push(format!("{name} = ["));
        // Consecutive elements of the same array.
        while i < lines.len() && inline_header(lines[i], names).is_some_and(|(p, _)| p == path) {
            i += 1;
            let mut element = String::from("    { ");
            let mut first = true;
            while i < lines.len() && !lines[i].is_empty() && !lines[i].starts_with('[') {
                let (k, v) = lines[i].split_once(" = ")?;
                if k.is_empty() || k.contains(['"', '\'', ' ']) {
                    return None;
                }
                if !first {
                    element.push_str(", ");
                }
                first = false;
                element.push_str(k);
                element.push_str(" = ");
                i += 1;
                if v == "[" {
                    // A multi-line array of simple values, up to its closing `]`.
                    element.push('[');
                    let mut n = 0;
                    loop {
                        let line = *lines.get(i)?;
                        i += 1;
                        if line == "]" {
                            break;
                        }
                        let item = line.strip_prefix("    ")?.strip_suffix(',')?;
                        if !simple_scalar(item) {
                            return None;
                        }
                        if n > 0 {
                            element.push_str(", ");
                        }
                        element.push_str(item);
                        n += 1;
                    }
                    element.push(']');
                } else if simple_scalar(v) || v == "[]" {
                    element.push_str(v);
                } else if let Some(inner) = v.strip_prefix('[').and_then(|x| x.strip_suffix(']'))
                    && simple_scalar(inner)
                    && !inner.contains(['[', ']'])
                {
                    // A one-element array, which the writer keeps on its line.
                    element.push_str(v);
                } else {
                    return None;
                }
            }
            element.push_str(" },");
            out.push(element);
            // The blank line toml puts before the next header.
            if i < lines.len()
                && lines[i].is_empty()
                && inline_header(lines.get(i + 1).copied().unwrap_or(""), names)
                    .is_some_and(|(p, _)| p == path)
            {
                i += 1;
            }
        }
        out.push("]".to_string());
    }
    Some(out.join("\n"))
}

fn inline_small_arrays(table: &mut toml_edit::Table, names: &[&str]) {
    use toml_edit::{Array, Item, Value};
    for (mut key, item) in table.iter_mut() {
        let inline = names.contains(&key.get());
        match item {
            Item::ArrayOfTables(aot) if inline => {
                let mut array = Array::new();
                for t in aot.iter() {
                    let mut it = t.clone().into_inline_table();
                    // Arrays inside an element on one line, as the text layout writes them.
                    for (_, v) in it.iter_mut() {
                        if let Value::Array(a) = v {
                            a.fmt();
                        }
                    }
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
                    inline_small_arrays(t, names);
                }
            }
            Item::Table(t) => inline_small_arrays(t, names),
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
        let fast = inline_small_arrays_text(&body, INLINE_ARRAYS)
            .expect("the example has only simple pairs");
        let mut doc: toml_edit::DocumentMut = body.parse().unwrap();
        inline_small_arrays(doc.as_table_mut(), INLINE_ARRAYS);
        assert_eq!(fast, doc.to_string());
        assert!(fast.contains("metadata = [\n    { key = "));
    }

    fn example<K: Kind>(name: &str) -> Plan<K> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/plans")
            .join(name);
        crate::read_plan_file_of::<K>(&path).unwrap()
    }

    #[test]
    fn the_piecewise_text_is_the_whole_documents_text() {
        let mp = example::<crate::mp::MpToPolicy>("small-cluster.toml");
        assert_eq!(
            pretty_toml(&mp).unwrap(),
            toml::to_string_pretty(&mp).unwrap()
        );
        let mut vio = example::<crate::vio::VioV2t>("vio-small.toml");
        assert_eq!(
            pretty_toml(&vio).unwrap(),
            toml::to_string_pretty(&vio).unwrap()
        );
        // Empty findings and steps are values of the root table.
        vio.findings.clear();
        vio.steps.clear();
        let text = pretty_toml(&vio).unwrap();
        assert_eq!(text, toml::to_string_pretty(&vio).unwrap());
        assert!(text.contains("findings = []") && text.contains("steps = []"));
    }

    #[test]
    fn replay_objects_are_one_line_each_in_both_layouts() {
        let vio = example::<crate::vio::VioV2t>("vio-small.toml");
        let names = ["objects"];
        let body = toml::to_string_pretty(&vio).unwrap();
        let fast = inline_small_arrays_text(&body, &names).expect("only simple values");
        let mut doc: toml_edit::DocumentMut = body.parse().unwrap();
        inline_small_arrays(doc.as_table_mut(), &names);
        assert_eq!(fast, doc.to_string());
        assert!(!fast.contains("[[steps.action.objects]]"));
        // An object with two policy paths, on one line.
        assert!(fast.lines().any(|l| l.starts_with("    { id = ")
            && l.ends_with("] },")
            && l.matches("\"/infra/").count() == 2));
        // And it reads back as the same plan.
        let text = to_toml(&vio, None).unwrap();
        let back = crate::read::parse_plan(&text, std::path::Path::new("mem.toml")).unwrap();
        assert_eq!(crate::vio::VioV2t::from_any(back), Some(vio));
    }

    #[test]
    fn an_element_the_text_layout_cannot_read_falls_back() {
        let names = ["objects"];
        let nested = "[[s.objects]]\nid = \"a\"\nxs = [\n    [\"a\", \"b\"],\n]\n";
        assert!(inline_small_arrays_text(nested, &names).is_none());
        let open = "[[s.objects]]\nid = \"a\"\nxs = [\n    \"a\",\n";
        assert!(inline_small_arrays_text(open, &names).is_none());
        let fine =
            "[[s.objects]]\nid = \"a\"\nxs = []\nys = [\"y\"]\n\n[[s.objects]]\nid = \"b\"\n";
        assert_eq!(
            inline_small_arrays_text(fine, &names).unwrap(),
            "objects = [\n    { id = \"a\", xs = [], ys = [\"y\"] },\n    { id = \"b\" },\n]\n"
        );
    }

    #[test]
    fn multi_line_values_fall_back_to_the_parsing_layout() {
        let text = "[[a.metadata]]\nkey = \"k\"\nvalue = \"\"\"\nx\n\"\"\"\n";
        assert!(inline_small_arrays_text(text, INLINE_ARRAYS).is_none());
    }
}

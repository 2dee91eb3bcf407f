//! JSON Schemas (draft 2020-12) generated from the types, and validation against them.
//!
//! The committed copies under `plan-schema/schema/` are what editors (taplo, Even Better TOML)
//! use for completion; a test fails when they differ from what the types generate.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::journal::JournalRecord;
use crate::kind::Kind;
use crate::mp::MpToPolicy;
use crate::plan::{MigrationKind, Plan};
use crate::problem::{Layer, Problem};
use crate::vio::VioV2t;

/// The plan schema as JSON: one draft 2020-12 schema for every kind, discriminated by
/// `header.kind` (each kind's schema lives under `$defs/<kind>` with its own definitions).
pub fn plan_schema() -> Value {
    let mut defs = serde_json::Map::new();
    let mut branches = Vec::new();
    for kind in MigrationKind::ALL {
        let k = kind.as_str();
        let mut schema = plan_schema_of(kind);
        let Value::Object(map) = &mut schema else {
            continue;
        };
        map.remove("$schema");
        map.remove("$id");
        map.remove("title");
        if let Some(Value::Object(kind_defs)) = map.remove("$defs") {
            for (name, def) in kind_defs {
                defs.insert(format!("{k}.{name}"), def);
            }
        }
        defs.insert(k.to_string(), schema);
        branches.push(serde_json::json!({
            "if": {
                "properties": {"header": {"properties": {"kind": {"const": k}}, "required": ["kind"]}},
                "required": ["header"]
            },
            "then": {"$ref": format!("#/$defs/{k}")}
        }));
    }
    let mut defs = Value::Object(defs);
    prefix_refs(&mut defs, None);
    let kinds: Vec<&str> = MigrationKind::ALL.iter().map(|k| k.as_str()).collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://nsx-migrate.invalid/schema/plan.schema.json",
        "title": "nsx-migrate plan",
        "description": "A plan of any migration kind: the envelope is shared, `header.kind` decides what `target`, `requirements`, `summary.changes` and the steps may say.",
        "type": "object",
        "properties": {
            "format_version": {"type": "integer", "minimum": 1},
            "header": {
                "type": "object",
                "properties": {"kind": {"enum": kinds}},
                "required": ["kind"]
            }
        },
        "required": ["format_version", "header"],
        "allOf": branches,
        "$defs": defs
    })
}

/// Rewrite `#/$defs/<name>` references inside `$defs/<kind>...` to `#/$defs/<kind>.<name>`.
fn prefix_refs(v: &mut Value, kind: Option<&str>) {
    match v {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if let (Some(k), "$ref", Value::String(r)) = (kind, key.as_str(), &mut *child) {
                    if let Some(name) = r.strip_prefix("#/$defs/") {
                        *r = format!("#/$defs/{k}.{name}");
                    }
                    continue;
                }
                // At the top of `$defs`: each entry belongs to the kind its name starts with.
                let child_kind = kind.or_else(|| {
                    MigrationKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .find(|k| key == k || key.starts_with(&format!("{k}.")))
                });
                prefix_refs(child, child_kind);
            }
        }
        Value::Array(items) => {
            for item in items {
                prefix_refs(item, kind);
            }
        }
        _ => {}
    }
}

/// One kind's plan schema, standalone.
pub fn plan_schema_of(kind: MigrationKind) -> Value {
    match kind {
        MigrationKind::MpToPolicy => generate::<Plan<MpToPolicy>>("plan.schema.json"),
        MigrationKind::VioV2t => generate::<Plan<VioV2t>>("plan.schema.json"),
    }
}

/// The schema of one journal line.
pub fn journal_schema() -> Value {
    generate::<JournalRecord>("journal.schema.json")
}

/// The schema as committed text (pretty JSON, trailing newline).
pub fn to_pretty(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

fn generate<T: schemars::JsonSchema>(file: &str) -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let root = generator.into_root_schema_for::<T>();
    let mut value = root.to_value();
    if let Value::Object(map) = &mut value {
        // Shift `$schema` first and name the schema, for people reading the file.
        let mut out = serde_json::Map::new();
        if let Some(s) = map.remove("$schema") {
            out.insert("$schema".into(), s);
        }
        out.insert(
            "$id".into(),
            Value::String(format!("https://nsx-migrate.invalid/schema/{file}")),
        );
        out.extend(std::mem::take(map));
        value = Value::Object(out);
    }
    value
}

/// A kind's compiled validators: the whole plan, and one per action kind so that a broken
/// action is explained by its own schema rather than by "not valid under any of the schemas
/// listed in oneOf".
struct KindValidators {
    plan: Validator,
    actions: BTreeMap<String, Validator>,
}

fn build(schema: &Value) -> Validator {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        // The schema is generated from our own types at build time: failing here is a bug in
        // this crate, caught by its tests, never a consequence of user input.
        .expect("generated plan schema is a valid JSON Schema")
}

fn kind_validators<K: Kind>() -> KindValidators {
    let root = plan_schema_of(K::KIND);
    let action_def = <K::Action as schemars::JsonSchema>::schema_name();
    let mut actions = BTreeMap::new();
    let branches = root["$defs"][action_def.as_ref()]["oneOf"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for branch in branches {
        let Some(kind) = branch["properties"]["kind"]["const"]
            .as_str()
            .map(str::to_string)
        else {
            continue;
        };
        let mut schema = branch.clone();
        schema["$defs"] = root["$defs"].clone();
        actions.insert(kind, build(&schema));
    }
    KindValidators {
        plan: build(&root),
        actions,
    }
}

fn validators(kind: MigrationKind) -> &'static KindValidators {
    static MP: OnceLock<KindValidators> = OnceLock::new();
    static VIO: OnceLock<KindValidators> = OnceLock::new();
    match kind {
        MigrationKind::MpToPolicy => MP.get_or_init(kind_validators::<MpToPolicy>),
        MigrationKind::VioV2t => VIO.get_or_init(kind_validators::<VioV2t>),
    }
}

/// Validate a plan (as JSON) against its kind's schema; every violation, located by pointer.
pub fn validate_plan_value(kind: MigrationKind, value: &Value) -> Vec<Problem> {
    let schema_problem = |pointer: String, message: String| Problem {
        layer: Layer::Schema,
        pointer,
        line: None,
        message,
    };
    let v = validators(kind);
    let mut problems: Vec<Problem> = Vec::new();
    for e in v.plan.iter_errors(value) {
        let pointer = e.instance_path().to_string();
        let action = pointer
            .strip_prefix("/steps/")
            .and_then(|rest| rest.strip_suffix("/action"))
            .filter(|i| i.chars().all(|c| c.is_ascii_digit()))
            .and_then(|i| i.parse::<usize>().ok())
            .map(|i| &value["steps"][i]["action"]);
        let Some(action) = action else {
            problems.push(schema_problem(pointer, e.to_string()));
            continue;
        };
        // An action failed its `oneOf`: explain it with the schema of its own kind.
        let expected = || v.actions.keys().cloned().collect::<Vec<_>>().join(", ");
        match action.get("kind").and_then(Value::as_str) {
            Some(k) if v.actions.contains_key(k) => {
                for sub in v.actions[k].iter_errors(action) {
                    problems.push(schema_problem(
                        format!("{pointer}{}", sub.instance_path()),
                        sub.to_string(),
                    ));
                }
            }
            Some(k) => problems.push(schema_problem(
                format!("{pointer}/kind"),
                format!(
                    "unknown action kind `{k}` for a {} plan (expected one of: {})",
                    kind.as_str(),
                    expected()
                ),
            )),
            None => problems.push(schema_problem(
                pointer,
                format!("action has no `kind` (expected one of: {})", expected()),
            )),
        }
    }
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    problems.dedup();
    problems
}

/// Validate one journal record (as JSON) against the journal schema.
pub fn validate_journal_value(value: &Value) -> Vec<Problem> {
    static V: OnceLock<Validator> = OnceLock::new();
    let v = V.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&journal_schema())
            .expect("generated journal schema is a valid JSON Schema")
    });
    v.iter_errors(value)
        .map(|e| Problem {
            layer: Layer::Schema,
            pointer: e.instance_path().to_string(),
            line: None,
            message: e.to_string(),
        })
        .collect()
}

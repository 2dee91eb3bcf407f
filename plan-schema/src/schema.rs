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
use crate::plan::Plan;
use crate::read::{Layer, Problem};

/// The plan schema as JSON.
pub fn plan_schema() -> Value {
    generate::<Plan>("plan.schema.json")
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

fn plan_validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&plan_schema())
            // The schema is generated from our own types at build time: failing here is a bug
            // in this crate, caught by its tests, never a consequence of user input.
            .expect("generated plan schema is a valid JSON Schema")
    })
}

/// One validator per action kind, so that a broken action is explained by its own schema
/// rather than by "not valid under any of the schemas listed in oneOf".
fn action_validators() -> &'static BTreeMap<String, Validator> {
    static V: OnceLock<BTreeMap<String, Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let root = plan_schema();
        let mut out = BTreeMap::new();
        let branches = root["$defs"]["Action"]["oneOf"]
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
            let v = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .should_validate_formats(true)
                .build(&schema)
                .expect("generated action schema is a valid JSON Schema");
            out.insert(kind, v);
        }
        out
    })
}

/// Validate a plan (as JSON) against the plan schema; every violation, located by pointer.
pub fn validate_plan_value(value: &Value) -> Vec<Problem> {
    let schema_problem = |pointer: String, message: String| Problem {
        layer: Layer::Schema,
        pointer,
        line: None,
        message,
    };
    let mut problems: Vec<Problem> = Vec::new();
    for e in plan_validator().iter_errors(value) {
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
        let validators = action_validators();
        match action.get("kind").and_then(Value::as_str) {
            Some(kind) if validators.contains_key(kind) => {
                for sub in validators[kind].iter_errors(action) {
                    problems.push(schema_problem(
                        format!("{pointer}{}", sub.instance_path()),
                        sub.to_string(),
                    ));
                }
            }
            Some(kind) => problems.push(schema_problem(
                format!("{pointer}/kind"),
                format!(
                    "unknown action kind `{kind}` (expected one of: {})",
                    validators.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            )),
            None => problems.push(schema_problem(
                pointer,
                format!(
                    "action has no `kind` (expected one of: {})",
                    validators.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
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

//! Reading a plan with three layers of errors, each located in the file:
//! 1. TOML syntax (line and column),
//! 2. JSON Schema (JSON pointer, line, what was expected),
//! 3. semantic checks (unique ids, dependencies, cycles, seal).

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value};
use toml::de::{DeTable, DeValue};

use crate::check;
use crate::kind::Kind;
use crate::mp::MpToPolicy;
use crate::plan::{AnyPlan, FORMAT_VERSION, MigrationKind, Plan};
pub use crate::problem::{Layer, Problem};
use crate::schema;
use crate::vio::VioV2t;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: cannot read plan: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: plan format_version {found} is not supported: this nsx-migrate reads version {supported}{}",
        version_advice(found, *supported)
    )]
    UnsupportedVersion {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    #[error("{path}: header.kind is `{found}`, but this command needs a `{expected}` plan")]
    WrongKind {
        path: PathBuf,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{path}: {} problem(s) found{}", problems.len(), list(problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

fn version_advice(found: &str, supported: u32) -> &'static str {
    match found.parse::<u64>() {
        Ok(n) if n < u64::from(supported) => {
            " (the plan was written by an older nsx-migrate: plan again with `nsx-migrate plan`, review and apply the new plan)"
        }
        Ok(_) => " (the plan was written by a newer nsx-migrate: use that version)",
        Err(_) => "",
    }
}

fn list(problems: &[Problem]) -> String {
    let mut s = String::new();
    for p in problems {
        s.push_str("\n  ");
        s.push_str(&p.to_string());
    }
    s
}

impl PlanError {
    /// The located problems of an `Invalid` plan (empty for other errors).
    pub fn problems(&self) -> &[Problem] {
        match self {
            PlanError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}

/// Read and fully validate a plan file of any kind.
pub fn read_plan_file(path: &Path) -> Result<AnyPlan, PlanError> {
    let text = read_text(path)?;
    parse_plan(&text, path)
}

/// Read and fully validate a plan file that must be of kind `K`.
pub fn read_plan_file_of<K: Kind>(path: &Path) -> Result<Plan<K>, PlanError> {
    let any = read_plan_file(path)?;
    let found = any.kind().as_str();
    K::from_any(any).ok_or_else(|| PlanError::WrongKind {
        path: path.to_path_buf(),
        found,
        expected: K::KIND.as_str(),
    })
}

/// Read and fully validate a Manager-to-Policy plan file.
pub fn read_mp_plan_file(path: &Path) -> Result<crate::mp::Plan, PlanError> {
    read_plan_file_of::<MpToPolicy>(path)
}

fn read_text(path: &Path) -> Result<String, PlanError> {
    std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Parse and fully validate plan text; `origin` names it in errors.
pub fn parse_plan(text: &str, origin: &Path) -> Result<AnyPlan, PlanError> {
    parse(text, origin, true)
}

/// Like [`parse_plan`], but a `plan_id` that does not match the content is not an error. Only
/// for re-sealing a deliberately edited plan (`nsx-migrate seal`).
pub fn parse_plan_unsealed(text: &str, origin: &Path) -> Result<AnyPlan, PlanError> {
    parse(text, origin, false)
}

fn parse(text: &str, origin: &Path, check_seal: bool) -> Result<AnyPlan, PlanError> {
    let doc = SpannedJson::parse(text, origin)?;

    match doc.value.get("format_version") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(FORMAT_VERSION)) => {}
        Some(Value::Number(n)) => {
            return Err(PlanError::UnsupportedVersion {
                path: origin.to_path_buf(),
                found: n.to_string(),
                supported: FORMAT_VERSION,
            });
        }
        // Missing or mistyped: the schema layer reports it with its line.
        _ => {}
    }

    let kind = match doc.value.get("header").and_then(|h| h.get("kind")) {
        Some(Value::String(k)) => MigrationKind::parse(k).ok_or_else(|| {
            doc.invalid(vec![kind_problem(
                "/header/kind",
                format!("unknown kind `{k}` (expected one of: {})", kind_list()),
            )])
        })?,
        Some(_) => {
            return Err(doc.invalid(vec![kind_problem(
                "/header/kind",
                format!("kind must be a string, one of: {}", kind_list()),
            )]));
        }
        None => {
            return Err(doc.invalid(vec![kind_problem(
                if doc.value.get("header").is_some() {
                    "/header"
                } else {
                    ""
                },
                format!(
                    "the plan has no header.kind (expected one of: {})",
                    kind_list()
                ),
            )]));
        }
    };
    match kind {
        MigrationKind::MpToPolicy => parse_kind::<MpToPolicy>(&doc, check_seal),
        MigrationKind::VioV2t => parse_kind::<VioV2t>(&doc, check_seal),
    }
}

fn kind_list() -> String {
    MigrationKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn kind_problem(pointer: &str, message: String) -> Problem {
    Problem {
        layer: Layer::Schema,
        pointer: pointer.to_string(),
        line: None,
        message,
    }
}

fn parse_kind<K: Kind>(doc: &SpannedJson<'_>, check_seal: bool) -> Result<AnyPlan, PlanError> {
    let schema_problems = schema::validate_plan_value(K::KIND, &doc.value);
    if !schema_problems.is_empty() {
        return Err(doc.invalid(schema_problems));
    }
    let plan: Plan<K> = serde_json::from_value(doc.value.clone()).map_err(|e| {
        doc.invalid(vec![Problem {
            layer: Layer::Schema,
            pointer: String::new(),
            line: None,
            message: e.to_string(),
        }])
    })?;
    let mut problems = check::check_plan(&plan);
    if !check_seal {
        problems.retain(|p| p.pointer != "/plan_id");
    }
    if !problems.is_empty() {
        return Err(doc.invalid(problems));
    }
    Ok(K::into_any(plan))
}

/// TOML converted to JSON, remembering where each value came from.
pub(crate) struct SpannedJson<'a> {
    origin: &'a Path,
    text: &'a str,
    pub(crate) value: Value,
    spans: HashMap<String, Range<usize>>,
}

impl<'a> SpannedJson<'a> {
    pub(crate) fn parse(text: &'a str, origin: &'a Path) -> Result<Self, PlanError> {
        let table = DeTable::parse(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            PlanError::Syntax {
                path: origin.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let mut spans = HashMap::new();
        let span = table.span();
        let value = table_to_json(table.get_ref(), "", &mut spans);
        spans.insert(String::new(), span);
        Ok(SpannedJson {
            origin,
            text,
            value,
            spans,
        })
    }

    /// Line of the value at `pointer`, or of its closest located ancestor.
    fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut p = pointer;
        loop {
            if let Some(span) = self.spans.get(p) {
                return Some(line_col(self.text, span.start).0);
            }
            if p.is_empty() {
                return None;
            }
            p = match p.rfind('/') {
                Some(i) => &p[..i],
                None => "",
            };
        }
    }

    fn invalid(&self, mut problems: Vec<Problem>) -> PlanError {
        for p in &mut problems {
            if p.line.is_none() {
                p.line = self.line_of(&p.pointer);
            }
        }
        PlanError::Invalid {
            path: self.origin.to_path_buf(),
            problems,
        }
    }
}

fn table_to_json(
    table: &DeTable<'_>,
    at: &str,
    spans: &mut HashMap<String, Range<usize>>,
) -> Value {
    let mut map = Map::new();
    for (key, value) in table.iter() {
        let pointer = format!("{at}/{}", escape_pointer(key.get_ref()));
        let json = value_to_json(value.get_ref(), &pointer, spans);
        // For tables, the key's position reads better than the whole table's span start.
        spans.insert(pointer, key.span().start..value.span().end);
        map.insert(key.get_ref().to_string(), json);
    }
    Value::Object(map)
}

fn value_to_json(
    value: &DeValue<'_>,
    at: &str,
    spans: &mut HashMap<String, Range<usize>>,
) -> Value {
    match value {
        DeValue::String(s) => Value::String(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Number(n.into()),
            // Out of range: keep the text; the schema rejects a string where a number belongs.
            Err(_) => Value::String(i.to_string()),
        },
        DeValue::Float(f) => f
            .as_str()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(f.as_str().to_string())),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::String(d.to_string()),
        DeValue::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let pointer = format!("{at}/{i}");
                    let json = value_to_json(item.get_ref(), &pointer, spans);
                    spans.insert(pointer, item.span());
                    json
                })
                .collect(),
        ),
        DeValue::Table(t) => table_to_json(t, at, spans),
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

//! Reading a plan with three layers of errors, each located in the file:
//! 1. TOML syntax (line and column),
//! 2. JSON Schema (JSON pointer, line, what was expected),
//! 3. semantic checks (unique ids, dependencies, cycles, seal).

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
        MigrationKind::MpToPolicy => parse_kind::<MpToPolicy>(doc, check_seal),
        MigrationKind::VioV2t => parse_kind::<VioV2t>(doc, check_seal),
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

fn parse_kind<K: Kind>(mut doc: SpannedJson<'_>, check_seal: bool) -> Result<AnyPlan, PlanError> {
    let schema_problems = schema::validate_plan_value(K::KIND, &doc.value);
    if !schema_problems.is_empty() {
        return Err(doc.invalid(schema_problems));
    }
    // The value is not needed after this: move it (a 100k-object plan is millions of nodes).
    let value = std::mem::take(&mut doc.value);
    let plan: Plan<K> = serde_json::from_value(value).map_err(|e| {
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

/// TOML converted to JSON, with the text kept to locate a problem's line.
///
/// Lines are found only when there is a problem to report: the text is parsed again and the
/// problem's JSON pointer walked through its spans. A valid plan (the common case, and at 100k
/// objects millions of values) pays nothing for locations.
pub(crate) struct SpannedJson<'a> {
    origin: &'a Path,
    text: &'a str,
    pub(crate) value: Value,
}

impl<'a> SpannedJson<'a> {
    pub(crate) fn parse(text: &'a str, origin: &'a Path) -> Result<Self, PlanError> {
        if let Some(value) = parse_in_chunks(text) {
            return Ok(SpannedJson {
                origin,
                text,
                value,
            });
        }
        let table = DeTable::parse(text).map_err(|e| {
            let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            PlanError::Syntax {
                path: origin.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        let value = table_to_json(table.get_ref());
        Ok(SpannedJson {
            origin,
            text,
            value,
        })
    }

    /// Line of the value at `pointer`, or of its closest located ancestor.
    fn line_of(&self, pointer: &str) -> Option<usize> {
        let table = DeTable::parse(self.text).ok()?;
        let offset = locate(&table, pointer);
        Some(line_col(self.text, offset).0)
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

fn table_to_json(table: &DeTable<'_>) -> Value {
    let mut map = Map::with_capacity(table.len());
    for (key, value) in table.iter() {
        map.insert(key.get_ref().to_string(), value_to_json(value.get_ref()));
    }
    Value::Object(map)
}

fn value_to_json(value: &DeValue<'_>) -> Value {
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
        DeValue::Array(items) => {
            Value::Array(items.iter().map(|i| value_to_json(i.get_ref())).collect())
        }
        DeValue::Table(t) => table_to_json(t),
    }
}

/// A chunk's index and its steps.
type Chunk = (usize, Vec<Value>);

/// Plans smaller than this are parsed in one piece.
const CHUNKED_MIN_BYTES: usize = 1 << 20;

/// A large plan is mostly its `[[steps]]` array, the last thing the writer puts in the file.
/// Parse it on every core: the text before the first `[[steps]]` header as one document, and
/// runs of whole steps (each starting at a `[[steps]]` header line) as documents of their own,
/// each a `steps` array; then join them. `None` when the file is small or anything does not
/// fit that shape (a chunk fails to parse, a chunk holds another key, the head holds steps):
/// the caller then parses the whole text, which also reports any syntax error with its line.
/// A header line inside a multi-line string cannot fool it: the chunk before it would end in an
/// unterminated string and fail to parse.
fn parse_in_chunks(text: &str) -> Option<Value> {
    if text.len() < CHUNKED_MIN_BYTES {
        return None;
    }
    const HEADER: &str = "[[steps]]";
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == HEADER {
            starts.push(offset);
        }
        offset += line.len();
    }
    let first = *starts.first()?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    // A few chunks per thread even out uneven steps; each chunk is a contiguous run of steps.
    let chunks = (threads * 4).min(starts.len());
    let per = starts.len().div_ceil(chunks);
    let mut ranges: Vec<(usize, usize)> = starts.chunks(per).map(|c| (c[0], 0)).collect();
    for i in 0..ranges.len() {
        ranges[i].1 = ranges.get(i + 1).map_or(text.len(), |r| r.0);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Option<Vec<Chunk>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.min(ranges.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&(from, to)) = ranges.get(i) else {
                            return Some(done);
                        };
                        done.push((i, steps_of_chunk(&text[from..to])?));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().ok().flatten())
            .collect()
    });
    let head = DeTable::parse(&text[..first]).ok()?;
    if head.get_ref().iter().any(|(k, _)| k.get_ref() == "steps") {
        return None;
    }
    let Value::Object(mut root) = table_to_json(head.get_ref()) else {
        return None;
    };
    let mut parts: Vec<Chunk> = Vec::with_capacity(ranges.len());
    for r in results {
        parts.extend(r?);
    }
    parts.sort_by_key(|(i, _)| *i);
    if parts.len() != ranges.len() {
        return None;
    }
    let mut steps = Vec::with_capacity(starts.len());
    for (_, part) in parts {
        steps.extend(part);
    }
    root.insert("steps".to_string(), Value::Array(steps));
    Some(Value::Object(root))
}

/// The steps of a chunk that holds only `[[steps]]` tables.
fn steps_of_chunk(chunk: &str) -> Option<Vec<Value>> {
    let table = DeTable::parse(chunk).ok()?;
    let mut entries = table.get_ref().iter();
    let (key, value) = entries.next()?;
    if key.get_ref() != "steps" || entries.next().is_some() {
        return None;
    }
    match value.get_ref() {
        DeValue::Array(items) => Some(items.iter().map(|i| value_to_json(i.get_ref())).collect()),
        _ => None,
    }
}

/// Byte offset of the value a JSON pointer names: for a table entry its key, for an array item
/// the item; where the pointer leaves the document, its deepest existing ancestor.
fn locate(root: &toml::Spanned<DeTable<'_>>, pointer: &str) -> usize {
    enum At<'t, 'i> {
        Table(&'t DeTable<'i>),
        Array(&'t [toml::Spanned<DeValue<'i>>]),
        Scalar,
    }
    fn at<'t, 'i>(v: &'t DeValue<'i>) -> At<'t, 'i> {
        match v {
            DeValue::Table(t) => At::Table(t),
            DeValue::Array(a) => At::Array(a),
            _ => At::Scalar,
        }
    }
    let mut offset = root.span().start;
    let mut cur = At::Table(root.get_ref());
    for segment in pointer.split('/').skip(1) {
        let key = unescape_pointer(segment);
        let next = match cur {
            At::Table(t) => t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == key)
                .map(|(k, v)| (k.span().start, v.get_ref())),
            At::Array(items) => key
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .map(|item| (item.span().start, item.get_ref())),
            At::Scalar => None,
        };
        let Some((start, value)) = next else { break };
        offset = start;
        cur = at(value);
    }
    offset
}

fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A document shaped like a plan: a head, then many steps with nested tables and arrays.
    fn big_document(steps: usize, middle: &str) -> String {
        let mut text = String::from(
            "format_version = 2\nplan_id = \"x\"\n\n[header]\nkind = \"mp-to-policy\"\n\n[[findings]]\nid = \"f\"\n",
        );
        for i in 0..steps {
            text.push_str(&format!(
                "\n[[steps]]\nid = \"import/{i}\"\nneeds = [\"a\", \"b\"]\n\n[steps.action]\nkind = \"import\"\n\n[[steps.action.objects]]\nid = \"o-{i}\"\ntags = [\n    [\"ncp/cluster\", \"c\"],\n]\n\n[[steps.action.objects]]\nid = \"p-{i}\"\n"
            ));
            if i == steps / 2 {
                text.push_str(middle);
            }
        }
        text
    }

    fn whole(text: &str) -> Value {
        table_to_json(DeTable::parse(text).expect("valid TOML").get_ref())
    }

    #[test]
    fn chunked_parse_equals_the_whole_parse() {
        let text = big_document(12_000, "");
        assert!(text.len() > CHUNKED_MIN_BYTES);
        let chunked = parse_in_chunks(&text).expect("a plan-shaped document parses in chunks");
        assert_eq!(chunked, whole(&text));
        assert_eq!(chunked["steps"].as_array().map(Vec::len), Some(12_000));
    }

    #[test]
    fn a_header_line_inside_a_multiline_string_never_changes_the_result() {
        // A false header in every step: some fall on chunk boundaries (the chunk before ends in
        // an unterminated string: whole parse), some inside a chunk (parsed intact).
        let mut text = big_document(0, "");
        for i in 0..12_000 {
            text.push_str(&format!(
                "\n[[steps]]\nid = \"s{i}\"\nnote = \"\"\"\nbefore\n[[steps]]\nafter\"\"\"\n"
            ));
        }
        let expected = whole(&text);
        if let Some(chunked) = parse_in_chunks(&text) {
            assert_eq!(chunked, expected);
        }
        let doc = SpannedJson::parse(&text, Path::new("p.toml")).expect("valid TOML");
        assert_eq!(doc.value, expected);
        assert_eq!(doc.value["steps"].as_array().map(Vec::len), Some(12_000));
    }

    #[test]
    fn a_syntax_error_in_a_chunk_is_reported_at_its_line() {
        let text = big_document(12_000, "broken = [\n");
        let line = text.lines().position(|l| l == "broken = [").expect("planted") + 1;
        match SpannedJson::parse(&text, Path::new("p.toml")) {
            Err(PlanError::Syntax { line: got, .. }) => assert!(
                // The parser notices an unclosed array where the next value should start.
                (line..=line + 4).contains(&got),
                "error at line {got}, planted at {line}"
            ),
            Err(e) => panic!("expected a syntax error, got {e}"),
            Ok(_) => panic!("expected a syntax error"),
        }
    }
}

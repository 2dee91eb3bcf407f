//! Bad operator input never panics: the planner's three readers (inventory snapshot, user spec,
//! rules file) get mutated copies of the examples and must answer with a value or an error that
//! names the file (and the line or field where the reader has one), never a panic. Snapshots that
//! still load are planned, so the planning code sees odd inventories too. Case counts are fixed so
//! that the run is bounded and repeatable (about 10,000 inputs in all; see `CASES_*`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;

use crate::common::{CLUSTER, example_dir};
use planner::{Inventory, PlanError, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};

const CASES_SNAPSHOT_FILES: u32 = 2_000;
const CASES_SNAPSHOT_PLANS: u32 = 250;
const CASES_USER_SPEC: u32 = 5_000;
const CASES_RULES: u32 = 3_000;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Byte-level mutations shared by the three readers.

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace one byte (any value, so also bytes that are not UTF-8).
    Byte(usize, u8),
    /// Delete a range of bytes.
    Delete(usize, usize),
    /// Cut the file at a position.
    Truncate(usize),
    /// Insert a fragment that means something to the format (or is not UTF-8 at all).
    Insert(usize, &'static [u8]),
    /// Insert a fragment right after the opening quote of the n-th value of a key the reader
    /// matches on (ids, names), so the odd bytes land inside an id or a name.
    IntoValue(usize, &'static [u8]),
    /// Swap two lines.
    SwapLines(usize, usize),
    /// Drop one line.
    DropLine(usize),
}

/// Fragments meaningful to JSON, YAML or TOML, multi-byte characters and invalid UTF-8.
const FRAGMENTS: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b":",
    b"=",
    b"\n",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"null",
    b"true",
    b"-1",
    b"1e999",
    b"18446744073709551616",
    b"9999999999999999999999",
    b"\"\"",
    b"[]",
    b"{}",
    b"\0",
    "é".as_bytes(),
    "日本".as_bytes(),
    "😀".as_bytes(),
    "\u{202e}".as_bytes(),
    b"\xff",
    b"\xc3",
    b"\x80",
    b"\xe6\x97",
    b"\xf0\x9f\x98",
    b"  ",
    b"\t",
    b"- ",
    b"#",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"---\n",
    b"'",
    b"'''",
    b"[[tag_rules]]\n",
    b"{cluster}",
    b"{tag:",
    b"\"id\": \"x\", ",
    b"\"display_name\": 1, ",
    b"\"tags\": [{\"scope\": \"ncp/cluster\", \"tag\": \"kube-prod-01\"}], ",
    b"\"results\": [], ",
    b"\"rules\": [{\"id\": \"1\"}], ",
];

/// Keys whose string values identify or name things.
const VALUE_KEYS: &[&str] = &[
    "\"id\": \"",
    "\"display_name\": \"",
    "\"target_id\": \"",
    "\"tag\": \"",
    "\"name\": \"",
    "\"namespace\": \"",
    "display_name: ",
    "id = \"",
    "template = \"",
];

fn mutation(len: usize, lines: usize) -> impl Strategy<Value = Mutation> {
    let len = len.max(1);
    let lines = lines.max(1);
    prop_oneof![
        3 => (0..len, any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        2 => (0..len, 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => (0..len).prop_map(Mutation::Truncate),
        3 => (0..len, prop::sample::select(FRAGMENTS)).prop_map(|(i, f)| Mutation::Insert(i, f)),
        3 => (any::<usize>(), prop::sample::select(FRAGMENTS))
            .prop_map(|(i, f)| Mutation::IntoValue(i, f)),
        1 => (0..lines, 0..lines).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => (0..lines).prop_map(Mutation::DropLine),
    ]
}

fn apply(text: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = text.to_vec();
    for m in mutations {
        match *m {
            Mutation::Byte(i, b) => {
                if i < bytes.len() {
                    bytes[i] = b;
                }
            }
            Mutation::Delete(i, n) => {
                let i = i.min(bytes.len());
                let end = (i + n).min(bytes.len());
                bytes.drain(i..end);
            }
            Mutation::Truncate(i) => bytes.truncate(i),
            Mutation::Insert(i, f) => {
                let i = i.min(bytes.len());
                bytes.splice(i..i, f.iter().copied());
            }
            Mutation::IntoValue(n, f) => {
                let starts: Vec<usize> = VALUE_KEYS
                    .iter()
                    .flat_map(|k| {
                        find_all(&bytes, k.as_bytes())
                            .into_iter()
                            .map(|at| at + k.len())
                    })
                    .collect();
                if !starts.is_empty() {
                    let at = starts[n % starts.len()];
                    bytes.splice(at..at, f.iter().copied());
                }
            }
            Mutation::SwapLines(a, b) => {
                let mut lines: Vec<&[u8]> = bytes.split(|&c| c == b'\n').collect();
                if a < lines.len() && b < lines.len() {
                    lines.swap(a, b);
                }
                bytes = lines.join(&b'\n');
            }
            Mutation::DropLine(a) => {
                let mut lines: Vec<&[u8]> = bytes.split(|&c| c == b'\n').collect();
                if a < lines.len() {
                    lines.remove(a);
                }
                bytes = lines.join(&b'\n');
            }
        }
    }
    bytes
}

fn find_all(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The line numbers an error message cites (`path:LINE:COL:` or `line N`).
fn cited_lines(message: &str, path: &str) -> Vec<usize> {
    let mut out = Vec::new();
    if let Some(rest) = message.strip_prefix(path).and_then(|r| r.strip_prefix(':'))
        && let Some(n) = rest.split(':').next().and_then(|n| n.parse().ok())
    {
        out.push(n);
    }
    for (i, _) in message.match_indices("line ") {
        let digits: String = message[i + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            out.push(n);
        }
    }
    out
}

/// An error of a reader names `path` first, and every line it cites exists in `text`.
fn assert_located(message: &str, path: &str, text: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(
        message.starts_with(&format!("{path}:")),
        "error does not start with the file name: {message}"
    );
    let lines = text.split(|&c| c == b'\n').count();
    for line in cited_lines(message, path) {
        prop_assert!(
            (1..=lines).contains(&line),
            "error cites line {line} of a {lines}-line file: {message}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Inventory snapshots.

/// The example snapshot's files (relative path -> bytes), without the user spec.
fn snapshot_files() -> &'static BTreeMap<String, Vec<u8>> {
    static FILES: OnceLock<BTreeMap<String, Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let mut files = BTreeMap::new();
        for sub in ["", "nsx", "k8s"] {
            for entry in std::fs::read_dir(example_dir().join(sub)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "json") {
                    let rel = path.strip_prefix(example_dir()).unwrap();
                    files.insert(
                        rel.to_string_lossy().into_owned(),
                        std::fs::read(&path).unwrap(),
                    );
                }
            }
        }
        files
    })
}

fn example_spec() -> &'static UserSpec {
    static SPEC: OnceLock<UserSpec> = OnceLock::new();
    SPEC.get_or_init(|| UserSpec::load(&example_dir().join("user-spec.yaml")).unwrap())
}

/// A snapshot directory of the example; files a case changes are put back when it ends, also when
/// the case panics (so shrinking starts from the example again).
struct Snapshot {
    dir: tempfile::TempDir,
}

struct Restore<'a> {
    root: &'a Path,
    touched: Vec<String>,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        for rel in &self.touched {
            std::fs::write(self.root.join(rel), &snapshot_files()[rel]).unwrap();
        }
    }
}

impl Snapshot {
    fn new() -> Snapshot {
        let dir = tempfile::tempdir().unwrap();
        for (rel, bytes) in snapshot_files() {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        Snapshot { dir }
    }

    fn write(&self, files: &BTreeMap<String, Vec<u8>>) -> Restore<'_> {
        for (rel, bytes) in files {
            std::fs::write(self.dir.path().join(rel), bytes).unwrap();
        }
        Restore {
            root: self.dir.path(),
            touched: files.keys().cloned().collect(),
        }
    }
}

/// Odd ids and names: multi-byte characters (also across byte 8 of a UUID-sized id), control
/// characters, path-like and empty strings.
const NASTY: &[&str] = &[
    "1d45595é2b38-40cf-a2b4-67be13dc085a",
    "日本語の名前-日本語の名前-日本語の",
    "😀😀😀😀😀😀😀😀😀",
    "é",
    "",
    " ",
    "....",
    "a/b c",
    "../../etc",
    "tab\there",
    "nul\u{0}byte",
    "\u{202e}rtl",
    "{cluster}",
    "{tag:ncp/project}",
    "rules[1]",
    "x\ny",
];

/// An edit of one file's JSON that keeps it parseable, so that the planner sees it.
#[derive(Debug, Clone)]
enum JsonEdit {
    /// Remove the k-th object of the list.
    Remove(usize),
    /// Append a copy of the k-th object (its id repeats).
    Duplicate(usize),
    /// Remove a key of the k-th object.
    RemoveKey(usize, &'static str),
    /// Set a key of the k-th object to a value.
    Set(usize, &'static str, JsonValue),
    /// Add a tag to the k-th object.
    Tag(usize, &'static str, JsonValue),
}

/// A value to put in: a literal, or the id of the n-th object of the list.
#[derive(Debug, Clone)]
enum JsonValue {
    Literal(&'static str),
    IdOf(usize),
}

/// Keys the planner and the reader look at.
const KEYS: &[&str] = &[
    "id",
    "display_name",
    "resource_type",
    "tags",
    "_revision",
    "_create_user",
    "_system_owned",
    "logical_switch_id",
    "logical_router_id",
    "router_type",
    "rules",
    "action",
    "firewall_match",
    "is_default",
    "rule_ids",
    "pool_id",
    "virtual_server_ids",
    "members",
    "linked_logical_switch_port_id",
    "next_hops",
    "network",
    "metadata",
    "status",
    "spec",
    "kind",
    "nsx_manager",
    "nsx_version",
    "migration_coordinator",
    "format_version",
];

const LITERALS: &[&str] = &[
    "null",
    "true",
    "0",
    "-1",
    "1e300",
    "\"\"",
    "\"é\"",
    "\"1d45595é2b38-40cf-a2b4-67be13dc085a\"",
    "\"TIER0\"",
    "\"TIER1\"",
    "\"SNAT\"",
    "\"kube-prod-01\"",
    "\"Running\"",
    "[]",
    "{}",
    "[{\"id\": \"1\", \"display_name\": \"r\"}]",
    "{\"target_id\": \"x\"}",
    "[{\"ip_address\": \"é\"}]",
];

const TAG_SCOPES: &[&str] = &[
    "ncp/cluster",
    "ncp/project",
    "ncp/pod",
    "ncp/node_name",
    "ncp/network_policy",
    "ncp/service",
    "ncp/ingress",
    "ncp/subnet_id",
    "ncp/fw_sect_marker",
    "ncp/coe",
    "ncp/version",
    "pks/cluster",
    "policyPath",
    "ext_pool_id",
    "",
];

fn json_value() -> impl Strategy<Value = JsonValue> {
    prop_oneof![
        prop::sample::select(LITERALS).prop_map(JsonValue::Literal),
        any::<usize>().prop_map(JsonValue::IdOf),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        1 => any::<usize>().prop_map(JsonEdit::Remove),
        1 => any::<usize>().prop_map(JsonEdit::Duplicate),
        1 => (any::<usize>(), prop::sample::select(KEYS)).prop_map(|(k, key)| JsonEdit::RemoveKey(k, key)),
        3 => (any::<usize>(), prop::sample::select(KEYS), json_value())
            .prop_map(|(k, key, v)| JsonEdit::Set(k, key, v)),
        3 => (any::<usize>(), prop::sample::select(TAG_SCOPES), json_value())
            .prop_map(|(k, scope, v)| JsonEdit::Tag(k, scope, v)),
    ]
}

fn edit_json(value: &mut serde_json::Value, edits: &[JsonEdit]) {
    use serde_json::Value;
    let resolve = |list: &[Value], v: &JsonValue| -> Value {
        match v {
            JsonValue::Literal(text) => serde_json::from_str(text).unwrap(),
            JsonValue::IdOf(n) if !list.is_empty() => list[n % list.len()]
                .get("id")
                .cloned()
                .unwrap_or(Value::Null),
            JsonValue::IdOf(_) => Value::Null,
        }
    };
    for edit in edits {
        // NSX lists hold `results`, Kubernetes lists `items`; metadata.json is one object.
        let list: Vec<Value> = match value
            .get("results")
            .or_else(|| value.get("items"))
            .and_then(Value::as_array)
        {
            Some(l) => l.clone(),
            None => vec![value.clone()],
        };
        let mut list = list;
        let n = list.len();
        match edit {
            JsonEdit::Remove(k) if n > 0 => {
                list.remove(k % n);
            }
            JsonEdit::Duplicate(k) if n > 0 => list.push(list[k % n].clone()),
            JsonEdit::RemoveKey(k, key) if n > 0 => {
                if let Some(o) = list[k % n].as_object_mut() {
                    o.remove(*key);
                }
            }
            JsonEdit::Set(k, key, v) if n > 0 => {
                let v = resolve(&list, v);
                if let Some(o) = list[k % n].as_object_mut() {
                    o.insert(key.to_string(), v);
                }
            }
            JsonEdit::Tag(k, scope, v) if n > 0 => {
                let v = resolve(&list, v);
                if let Some(o) = list[k % n].as_object_mut() {
                    let tags = o.entry("tags").or_insert_with(|| Value::Array(Vec::new()));
                    if let Some(tags) = tags.as_array_mut() {
                        tags.push(serde_json::json!({"scope": scope, "tag": v}));
                    }
                }
            }
            _ => {}
        }
        if let Some(slot) = value.get_mut("results") {
            *slot = Value::Array(list);
        } else if let Some(slot) = value.get_mut("items") {
            *slot = Value::Array(list);
        } else if let Some(one) = list.pop() {
            *value = one;
        }
    }
}

#[derive(Debug, Clone)]
enum SnapshotChange {
    /// Mutate one file's bytes.
    Bytes(usize, Vec<Mutation>),
    /// Edit one file's JSON, keeping it parseable.
    Json(usize, Vec<JsonEdit>),
    /// Give every UUID-shaped id of the snapshot a two-byte character across byte 8 (the id
    /// keeps its 36 bytes), everywhere it occurs.
    MultibyteIds(&'static str),
    /// Rename the n-th id or display name of a file to an odd string, everywhere it occurs in the
    /// snapshot (so references follow it).
    Rename(usize, usize, &'static str),
}

/// Changes for whole snapshots: those of single files, and multi-byte ids everywhere.
fn whole_snapshot_change() -> impl Strategy<Value = SnapshotChange> {
    prop_oneof![
        7 => snapshot_change(),
        1 => prop::sample::select(MULTIBYTE).prop_map(SnapshotChange::MultibyteIds),
    ]
}

fn snapshot_change() -> impl Strategy<Value = SnapshotChange> {
    let n = snapshot_files().len();
    let bytes = (0..n).prop_flat_map(|f| {
        let text = snapshot_files().values().nth(f).unwrap();
        let lines = text.split(|&c| c == b'\n').count();
        prop::collection::vec(mutation(text.len(), lines), 1..4)
            .prop_map(move |m| SnapshotChange::Bytes(f, m))
    });
    prop_oneof![
        3 => bytes,
        3 => (0..n, prop::collection::vec(json_edit(), 1..4))
            .prop_map(|(f, e)| SnapshotChange::Json(f, e)),
        1 => (0..n, any::<usize>(), prop::sample::select(NASTY))
            .prop_map(|(f, k, s)| SnapshotChange::Rename(f, k, s)),
    ]
}

/// The snapshot with every UUID-shaped id given character `c` across byte 8, computed once.
fn multibyte_ids(c: &'static str) -> &'static BTreeMap<String, Vec<u8>> {
    static DONE: OnceLock<BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>> = OnceLock::new();
    &DONE.get_or_init(|| {
        MULTIBYTE
            .iter()
            .map(|&c| {
                let files = snapshot_files();
                let mut ids = std::collections::BTreeSet::new();
                for bytes in files.values() {
                    let text = std::str::from_utf8(bytes).unwrap();
                    for (i, _) in text.match_indices("\"id\": \"") {
                        let id = text[i + 7..].split('"').next().unwrap_or_default();
                        if id.len() == 36 && id.as_bytes()[8] == b'-' {
                            ids.insert(id.to_string());
                        }
                    }
                }
                let garbled = files
                    .iter()
                    .map(|(rel, bytes)| {
                        let mut text = String::from_utf8(bytes.clone()).unwrap();
                        for id in &ids {
                            // Bytes 7 and 8 become one two-byte character.
                            text =
                                text.replace(id.as_str(), &format!("{}{c}{}", &id[..7], &id[9..]));
                        }
                        (rel.clone(), text.into_bytes())
                    })
                    .collect();
                (c, garbled)
            })
            .collect()
    })[c]
}

const MULTIBYTE: &[&str] = &["é", "ж", "ß"];

/// The changed files of a snapshot.
fn changed_files(change: &SnapshotChange) -> BTreeMap<String, Vec<u8>> {
    let files = snapshot_files();
    match change {
        SnapshotChange::Bytes(f, mutations) => {
            let (rel, text) = files.iter().nth(*f).unwrap();
            BTreeMap::from([(rel.clone(), apply(text, mutations))])
        }
        SnapshotChange::Json(f, edits) => {
            let (rel, text) = files.iter().nth(*f).unwrap();
            let mut value: serde_json::Value = serde_json::from_slice(text).unwrap();
            edit_json(&mut value, edits);
            BTreeMap::from([(rel.clone(), serde_json::to_vec_pretty(&value).unwrap())])
        }
        SnapshotChange::MultibyteIds(c) => multibyte_ids(c).clone(),
        SnapshotChange::Rename(f, k, to) => {
            let text = String::from_utf8(files.values().nth(*f).unwrap().clone()).unwrap();
            let values: Vec<&str> = ["\"id\": \"", "\"display_name\": \""]
                .iter()
                .flat_map(|key| text.match_indices(key).map(move |(i, _)| i + key.len()))
                .filter_map(|start| {
                    let end = start + text[start..].find('"')?;
                    Some(&text[start..end])
                })
                .collect();
            if values.is_empty() {
                return BTreeMap::new();
            }
            let from = serde_json::to_string(values[k % values.len()]).unwrap();
            let to = serde_json::to_string(to).unwrap();
            files
                .iter()
                .filter_map(|(rel, bytes)| {
                    let text = std::str::from_utf8(bytes).unwrap();
                    text.contains(&from)
                        .then(|| (rel.clone(), text.replace(&from, &to).into_bytes()))
                })
                .collect()
        }
    }
}

fn plan(inventory: &Inventory) -> Result<plan_schema::mp::Plan, PlanError> {
    let rules = Rules::builtin();
    let inputs = PlanInputs {
        inventory,
        inventory_source: "inventory".into(),
        user_spec: Some(SourcedSpec {
            spec: example_spec(),
            source: "inventory/user-spec.yaml".into(),
            sha256: "0".repeat(64),
        }),
        rules: &rules,
        rules_source: None,
    };
    let opts = PlanOptions {
        cluster: CLUSTER.into(),
        created_at: "2026-11-20T10:00:00Z".into(),
        tool_version: "0.1.0".into(),
        dfw_admin_sections: None,
    };
    planner::build_plan(&inputs, &opts)
}

thread_local! {
    static SNAPSHOT: Snapshot = Snapshot::new();
}

/// Check a failed load: the error names one of the changed files first, with a line that exists
/// (JSON errors) or a JSON pointer (snapshot errors).
fn assert_load_error(
    e: PlanError,
    root: &Path,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<(), TestCaseError> {
    let message = e.to_string();
    let (rel, text) = files
        .iter()
        .find(|(rel, _)| message.starts_with(&format!("{}:", root.join(rel).display())))
        .ok_or_else(|| {
            TestCaseError::fail(format!(
                "error names none of the changed files {:?}: {message}",
                files.keys().collect::<Vec<_>>()
            ))
        })?;
    assert_located(&message, &root.join(rel).display().to_string(), text)?;
    match e {
        // serde_json documents column 0 for an error just after a newline.
        PlanError::Json { line, .. } => prop_assert!(line >= 1, "{message}"),
        PlanError::Snapshot { .. } | PlanError::Io { .. } => {}
        other => prop_assert!(false, "unexpected error kind: {other}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES_SNAPSHOT_FILES))]

    /// The reader alone: a snapshot directory holding only the changed file(s), so each case
    /// reads just what it mutated.
    #[test]
    fn mutated_snapshot_files_load_or_name_the_file(change in snapshot_change()) {
        let files = changed_files(&change);
        let dir = tempfile::tempdir().unwrap();
        for (rel, bytes) in &files {
            let path = dir.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        if let Err(e) = Inventory::load(dir.path()) {
            assert_load_error(e, dir.path(), &files)?;
        }
    }
}

proptest! {
    #![proptest_config(config(CASES_SNAPSHOT_PLANS))]

    /// The whole example snapshot with a change; what still loads is planned.
    #[test]
    fn mutated_snapshots_load_or_name_the_file_and_plan_without_panic(change in whole_snapshot_change()) {
        let files = changed_files(&change);
        SNAPSHOT.with(|snapshot| -> Result<(), TestCaseError> {
            let _restore = snapshot.write(&files);
            match Inventory::load(snapshot.dir.path()) {
                Ok(inventory) => {
                    // Whatever the snapshot holds, planning answers with a plan; an invalid plan
                    // would be a planner bug.
                    if let Err(e) = plan(&inventory) {
                        prop_assert!(false, "planning a loaded snapshot failed: {e}");
                    }
                }
                Err(e) => assert_load_error(e, snapshot.dir.path(), &files)?,
            }
            Ok(())
        })?;
    }
}

// ---------------------------------------------------------------------------------------------
// The user spec.

fn spec_text() -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| std::fs::read(example_dir().join("user-spec.yaml")).unwrap())
}

proptest! {
    #![proptest_config(config(CASES_USER_SPEC))]

    #[test]
    fn mutated_user_specs_parse_or_name_the_file(
        mutations in prop::collection::vec(
            mutation(spec_text().len(), spec_text().split(|&c| c == b'\n').count()),
            1..4,
        )
    ) {
        let bytes = apply(spec_text(), &mutations);
        let name = "mutated-spec.yaml";
        let result = match std::str::from_utf8(&bytes) {
            Ok(text) => UserSpec::parse(text, Path::new(name)),
            // Not UTF-8: through the file reader.
            Err(_) => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join(name);
                std::fs::write(&path, &bytes).unwrap();
                let result = UserSpec::load(&path);
                if let Err(e) = &result {
                    let message = e.to_string();
                    assert_located(&message, &path.display().to_string(), &bytes)?;
                }
                prop_assert!(result.is_err(), "a spec that is not UTF-8 was read");
                return Ok(());
            }
        };
        if let Err(e) = result {
            let message = e.to_string();
            assert_located(&message, name, &bytes)?;
            prop_assert!(matches!(e, PlanError::UserSpec { .. }), "{message}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The rules file.

fn rules_text() -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| planner::rules::DEFAULT_RULES.as_bytes().to_vec())
}

proptest! {
    #![proptest_config(config(CASES_RULES))]

    #[test]
    fn mutated_rules_files_merge_or_name_the_file_and_line(
        mutations in prop::collection::vec(
            mutation(rules_text().len(), rules_text().split(|&c| c == b'\n').count()),
            1..4,
        )
    ) {
        let bytes = apply(rules_text(), &mutations);
        let name = "mutated-rules.toml";
        let Ok(text) = std::str::from_utf8(&bytes) else {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let e = Rules::load_with_overrides(&path).expect_err("a rules file that is not UTF-8 was read");
            assert_located(&e.to_string(), &path.display().to_string(), &bytes)?;
            return Ok(());
        };
        if let Err(e) = Rules::merge_text(text, Path::new(name)) {
            let message = e.to_string();
            assert_located(&message, name, &bytes)?;
            match e {
                PlanError::Syntax { line, column, .. } => {
                    prop_assert!(line >= 1 && column >= 1, "{message}");
                }
                PlanError::Rules { .. } => {}
                other => prop_assert!(false, "unexpected error kind: {other}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions found by the cases above.

/// An object listed twice was imported twice, and the planner produced a plan its own checks
/// refused ("a planner bug"); the reader now names the second listing.
#[test]
fn an_object_listed_twice_is_refused_by_the_reader() {
    let fx = crate::common::Fixture::new();
    fx.edit_json("nsx/lb-services.json", |v| {
        let first = v["results"][0].clone();
        v["results"].as_array_mut().unwrap().push(first);
    });
    let e = Inventory::load(fx.path()).unwrap_err().to_string();
    let path = fx.path().join("nsx/lb-services.json");
    assert!(
        e.starts_with(&format!("{}: /results/1/id: id `", path.display()))
            && e.contains("is listed twice (also /results/0)"),
        "{e}"
    );
}

/// A firewall rule in two sections would get two move steps with one id.
#[test]
fn a_firewall_rule_listed_in_two_sections_is_refused_by_the_reader() {
    let fx = crate::common::Fixture::new();
    fx.edit_json("nsx/firewall-sections.json", |v| {
        let list = v["results"].as_array_mut().unwrap();
        let (with, rule) = list
            .iter()
            .enumerate()
            .find_map(|(i, s)| Some((i, s["rules"].as_array()?.first()?.clone())))
            .unwrap();
        let other = (with + 1) % list.len();
        let rules = list[other]
            .as_object_mut()
            .unwrap()
            .entry("rules")
            .or_insert_with(|| serde_json::json!([]));
        rules.as_array_mut().unwrap().push(rule);
    });
    let e = Inventory::load(fx.path()).unwrap_err().to_string();
    assert!(
        e.contains("firewall-sections.json: /results/") && e.contains("is listed twice"),
        "{e}"
    );
}

//! Bad input never panics: the reader gets mutated plan files and must answer with an error
//! (or a plan), never a panic. Case counts are fixed so the run is bounded and repeatable.

use std::path::Path;

use proptest::prelude::*;

fn example_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/small-cluster.toml");
        std::fs::read_to_string(path).unwrap()
    })
}

fn vio_example_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/vio-small.toml");
        std::fs::read_to_string(path).unwrap()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace one byte.
    Byte(usize, u8),
    /// Delete a range of bytes.
    Delete(usize, usize),
    /// Insert a fragment that is meaningful to TOML or to the plan.
    Insert(usize, &'static str),
    /// Swap two lines.
    SwapLines(usize, usize),
    /// Drop one line.
    DropLine(usize),
}

const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "[[steps]]\n",
    "\"",
    "'''",
    "=",
    "\n",
    "{",
    "}",
    ",",
    "#",
    "\\u",
    "\u{0}",
    "é",
    "depends_on = [\"x\"]\n",
    "kind = \"policy_update\"\n",
    "revision = -1\n",
    "1e999",
    "9999999999999999999999",
    "phase = \"import\"\n",
    "[steps.action]\n",
    "tags_add = []\n",
    "format_version = 2\n",
    "nan",
    "inf",
    "2026-01-01T00:00:00Z",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let len = example_text().len();
    let lines = example_text().lines().count();
    prop_oneof![
        (0..len, any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (0..len, 1usize..200).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (0..len, prop::sample::select(FRAGMENTS)).prop_map(|(i, f)| Mutation::Insert(i, f)),
        (0..lines, 0..lines).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (0..lines).prop_map(Mutation::DropLine),
    ]
}

fn apply(text: &str, mutations: &[Mutation]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
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
            Mutation::Insert(i, f) => {
                let i = i.min(bytes.len());
                bytes.splice(i..i, f.bytes());
            }
            Mutation::SwapLines(a, b) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = s.split('\n').collect();
                if a < lines.len() && b < lines.len() {
                    lines.swap(a, b);
                }
                bytes = lines.join("\n").into_bytes();
            }
            Mutation::DropLine(a) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = s.split('\n').collect();
                if a < lines.len() {
                    lines.remove(a);
                }
                bytes = lines.join("\n").into_bytes();
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_plans_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let bytes = apply(example_text(), &mutations);
        // Files are read as UTF-8 first; invalid UTF-8 is an I/O-level error, not a panic.
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let result = plan_schema::parse_plan(text, Path::new("mutated.toml"));
            if let Err(e) = result {
                // Every error names the file.
                prop_assert!(e.to_string().starts_with("mutated.toml"));
            }
        }
    }

    #[test]
    fn mutated_vio_plans_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let bytes = apply(vio_example_text(), &mutations);
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Err(e) = plan_schema::parse_plan(text, Path::new("mutated.toml"))
        {
            prop_assert!(e.to_string().starts_with("mutated.toml"));
        }
    }
}

#[test]
fn unreadable_and_non_utf8_files_are_errors() {
    let err = plan_schema::read_plan_file(Path::new("/nonexistent/plan.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/plan.toml: cannot read plan")
    );
    let dir = std::env::temp_dir().join(format!("nsx-migrate-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("binary.toml");
    std::fs::write(&path, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let err = plan_schema::read_plan_file(&path).unwrap_err();
    assert!(err.to_string().contains("cannot read plan"));
    std::fs::remove_dir_all(&dir).unwrap();
}

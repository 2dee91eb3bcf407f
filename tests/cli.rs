//! The `nsx-migrate` command line: exit codes, stdout/stderr discipline, colour rules.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn example() -> PathBuf {
    repo().join("examples/plans/small-cluster.toml")
}

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"));
    cmd.args(args).env_remove("NO_COLOR");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn validate_accepts_the_example() {
    let out = run(&["validate", example().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid plan sha256:"));
}

#[test]
fn validate_rejects_an_invalid_plan_naming_file_and_line() {
    let path = repo().join("examples/plans/invalid/dangling-dependency.toml");
    let out = run(&["validate", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("dangling-dependency.toml"), "{err}");
    assert!(err.contains("line 53: /steps/1/depends_on/0"), "{err}");
    assert!(text(&out.stdout).is_empty(), "errors go to stderr only");
}

#[test]
fn validate_rejects_a_plan_whose_tag_was_edited_by_hand() {
    let dir = tempdir();
    let path = dir.path().join("plan.toml");
    let original = std::fs::read_to_string(example()).unwrap();
    std::fs::write(
        &path,
        original.replacen("tag = \"web\"", "tag = \"web2\"", 1),
    )
    .unwrap();
    let out = run(&["validate", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("plan altered after it was written"),
        "{}",
        text(&out.stderr)
    );

    // `seal` is the deliberate way back, and then the plan validates.
    let out = run(&["seal", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("re-sealed"));
    let out = run(&["validate", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn seal_refuses_a_plan_with_other_problems_and_leaves_it_alone() {
    let dir = tempdir();
    let path = dir.path().join("plan.toml");
    let src = repo().join("examples/plans/invalid/cycle.toml");
    let original = std::fs::read_to_string(&src).unwrap();
    let edited = original.replacen("revision = 2", "revision = 5", 1);
    std::fs::write(&path, &edited).unwrap();
    let out = run(&["seal", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("not sealed"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), edited);
}

#[test]
fn show_is_plain_when_piped_or_no_color_and_coloured_on_request() {
    let plan = example();
    let plan = plan.to_str().unwrap();
    let piped = run(&["show", plan], &[]);
    assert_eq!(piped.status.code(), Some(0));
    assert!(!text(&piped.stdout).contains('\x1b'));
    let forced = run(&["show", "--color", "always", plan], &[]);
    assert!(text(&forced.stdout).contains('\x1b'));
    let no_color = run(&["show", "--color", "auto", plan], &[("NO_COLOR", "1")]);
    assert!(!text(&no_color.stdout).contains('\x1b'));
    for format in ["markdown", "json"] {
        let out = run(
            &["show", "--format", format, "--color", "always", plan],
            &[],
        );
        assert_eq!(out.status.code(), Some(0));
        assert!(
            !text(&out.stdout).contains('\x1b'),
            "{format} output has no colour codes"
        );
    }
    let json = run(&["show", "--format", "json", plan], &[]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["show_format_version"], 1);
}

#[test]
fn schema_prints_the_committed_schema() {
    for which in ["plan", "journal"] {
        let out = run(&["schema", which], &[]);
        assert_eq!(out.status.code(), Some(0));
        let committed =
            std::fs::read_to_string(repo().join(format!("plan-schema/schema/{which}.schema.json")))
                .unwrap();
        assert_eq!(text(&out.stdout), committed);
    }
}

#[test]
fn graph_prints_dot() {
    let out = run(&["graph", example().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0));
    let dot = text(&out.stdout);
    assert!(dot.starts_with("digraph plan {"));
    assert!(dot.contains("\"import/TIER0/1\" -> \"import/TIER1/1\";"));
}

#[test]
fn usage_errors_and_missing_files_exit_3_not_2() {
    // 2 is the seeds' "restart NCP in Manager mode"; a typo must never say that.
    let out = run(&["show", "--format", "yaml", "x.toml"], &[]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&["frobnicate"], &[]);
    assert_eq!(out.status.code(), Some(3));
    let out = run(&["validate", "/nonexistent/plan.toml"], &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("/nonexistent/plan.toml: cannot read plan"));
    let out = run(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn errors_never_echo_credentials_from_the_manager_address() {
    let path = repo().join("examples/plans/invalid/credentials.toml");
    let out = run(&["validate", path.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(all.contains("must not carry credentials"));
    assert!(!all.contains("not-a-real-secret"), "{all}");
}

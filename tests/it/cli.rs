//! The `nsx-migrate` command line: exit codes, stdout/stderr discipline, colour rules.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::{repo, text};
use plan_schema::render::{self, Format, View};

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
    assert!(err.contains("line 66: /steps/1/depends_on/0"), "{err}");
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
    assert_eq!(value["show_format_version"], 2);
}

#[test]
fn show_prints_the_reviewers_view_and_full_prints_every_object() {
    let plan = example();
    let p = plan.to_str().unwrap();
    let any = plan_schema::read_plan_file(&plan).unwrap();
    for (format, lib) in [
        ("text", Format::Text { color: false }),
        ("markdown", Format::Markdown),
    ] {
        let review = run(&["show", "--color", "never", "--format", format, p], &[]);
        assert_eq!(review.status.code(), Some(0));
        let review = text(&review.stdout);
        assert_eq!(review, render::show_any_view(&any, lib, View::Review));
        assert!(review.contains("Changes by phase and type"), "{review}");
        // An imported object's line is in the full listing only.
        assert!(!review.contains("web-7d4b9c6f8-8jz2c"), "{review}");

        let full = run(
            &["show", "--color", "never", "--format", format, "--full", p],
            &[],
        );
        assert_eq!(full.status.code(), Some(0));
        assert_eq!(text(&full.stdout), render::show_any(&any, lib));
    }
    let json = run(&["show", "--format", "json", p], &[]);
    let json_full = run(&["show", "--format", "json", "--full", p], &[]);
    assert_eq!(json.stdout, json_full.stdout);
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

fn inventory() -> PathBuf {
    test_support::example_inventory()
}

/// A writable copy of the example inventory in `dir`.
fn inventory_copy(dir: &std::path::Path) -> PathBuf {
    let target = dir.join("inventory");
    test_support::copy_dir(&inventory(), &target);
    target
}

/// `plan` with `args` after `--out`: refused with exit 3, a message on stderr containing each of
/// `expect`, no panic, and no plan written.
fn plan_refused(args: &[&str], expect: &[&str]) {
    let dir = tempdir();
    let out_path = dir.path().join("plan.toml");
    let mut all = vec!["plan", "--out", out_path.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = run(&all, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
    for e in expect {
        assert!(err.contains(e), "{args:?}: stderr lacks {e:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(!err.contains("<input>"), "{args:?}: names no file: {err}");
    assert!(
        text(&out.stdout).is_empty(),
        "{args:?}: errors go to stderr only"
    );
    assert!(!out_path.exists(), "{args:?}: a plan was written");
}

#[test]
fn plan_refuses_bad_inputs_naming_file_and_line_and_writes_nothing() {
    let dir = tempdir();
    let inv = inventory();
    let inv = inv.to_str().unwrap();

    // A missing inventory directory.
    plan_refused(
        &["--inventory", "/nonexistent/inventory"],
        &["/nonexistent/inventory: cannot read"],
    );

    // Malformed YAML in the user spec: the file and the line.
    let spec = dir.path().join("bad-spec.yaml");
    let good =
        std::fs::read_to_string(repo().join("examples/inventories/small-cluster/user-spec.yaml"))
            .unwrap();
    let line = good.lines().position(|l| l == "version: 1").unwrap() + 1;
    std::fs::write(&spec, good.replacen("version: 1\n", "version: [1\n", 1)).unwrap();
    let spec_line = format!("line {line},");
    plan_refused(
        &["--inventory", inv, "--user-spec", spec.to_str().unwrap()],
        &["bad-spec.yaml:", &spec_line],
    );

    // An unknown key in the user spec: the file, the key and its line.
    let typo = dir.path().join("typo-spec.yaml");
    let line = good
        .lines()
        .position(|l| l == "    product: vanilla")
        .unwrap()
        + 1;
    std::fs::write(
        &typo,
        good.replacen("    product: vanilla\n", "    prodcut: vanilla\n", 1),
    )
    .unwrap();
    let typo_line = format!("line {line},");
    plan_refused(
        &["--inventory", inv, "--user-spec", typo.to_str().unwrap()],
        &["typo-spec.yaml:", "unknown field `prodcut`", &typo_line],
    );

    // Missing --rules and --user-spec files.
    plan_refused(
        &["--inventory", inv, "--rules", "/nonexistent/rules.toml"],
        &["/nonexistent/rules.toml: cannot read"],
    );
    plan_refused(
        &["--inventory", inv, "--user-spec", "/nonexistent/spec.yaml"],
        &["/nonexistent/spec.yaml: cannot read"],
    );

    // A malformed snapshot JSON file: the file, line and column.
    let copy = inventory_copy(dir.path());
    let pools = copy.join("nsx/ip-pools.json");
    let json = std::fs::read_to_string(&pools).unwrap();
    let line = json
        .lines()
        .position(|l| l.contains("\"results\""))
        .unwrap()
        + 1;
    std::fs::write(&pools, json.replacen("\"results\"", "\"results\" oops", 1)).unwrap();
    let at = format!("ip-pools.json:{line}:");
    plan_refused(
        &["--inventory", copy.to_str().unwrap()],
        &[&at, "invalid JSON"],
    );
}

#[test]
fn the_vio_example_validates_shows_and_graphs_and_apply_refuses_it() {
    let path = repo().join("examples/plans/vio-small.toml");
    let p = path.to_str().unwrap();
    let out = run(&["validate", p], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("(vio-v2t, 16 steps)"),
        "{}",
        text(&out.stdout)
    );

    let show = run(&["show", "--color", "never", "--full", p], &[]);
    assert_eq!(show.status.code(), Some(0));
    let shown = text(&show.stdout);
    for phase in [
        "replay",
        "edge_prep",
        "edge_cutover",
        "host_migration",
        "vio_reconfig",
    ] {
        assert!(
            shown.contains(&format!("Phase {phase}:")),
            "{phase}: {shown}"
        );
    }
    assert!(shown.contains("POINT OF NO RETURN"), "{shown}");
    // The reviewer's view counts the replayed objects per project and lists the rest.
    let review = text(&run(&["show", "--color", "never", p], &[]).stdout);
    assert!(
        review.contains("Objects per project") && review.contains("POINT OF NO RETURN"),
        "{review}"
    );
    let md = run(&["show", "--format", "markdown", p], &[]);
    assert!(text(&md.stdout).starts_with("## nsx-migrate plan: vio-v2t `vio-prod`"));
    let json = run(&["show", "--format", "json", p], &[]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["header"]["kind"], "vio-v2t");
    assert_eq!(value["target"]["deployment"], "vio-prod");

    let graph = run(&["graph", p], &[]);
    assert_eq!(graph.status.code(), Some(0));
    assert!(text(&graph.stdout).contains("subgraph \"cluster_host_migration\""));

    // Without the OpenStack cloud (no --os-cloud, OS_CLOUD or OS_AUTH_URL): refused before
    // anything is opened or sent.
    let state = tempdir();
    let apply = run(
        &[
            "apply",
            p,
            "--nsx",
            "https://127.0.0.1:9",
            "--state-dir",
            state.path().to_str().unwrap(),
            "--skip-kubernetes-check",
        ],
        &[("NSX_USERNAME", "admin"), ("NSX_PASSWORD", "unused")],
    );
    assert_eq!(apply.status.code(), Some(3), "{}", text(&apply.stderr));
    assert!(
        text(&apply.stderr).contains("vio-v2t") && text(&apply.stderr).contains("--os-cloud"),
        "{}",
        text(&apply.stderr)
    );
    assert!(!state.path().join("journal.jsonl").exists());
}

#[test]
fn a_format_1_plan_and_a_plan_of_mixed_kinds_are_refused_naming_file_and_field() {
    let old = repo().join("examples/plans/invalid/format-1.toml");
    let out = run(&["validate", old.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("format-1.toml"), "{err}");
    assert!(err.contains("format_version 1 is not supported"), "{err}");
    assert!(err.contains("plan again"), "{err}");

    let mixed = repo().join("examples/plans/invalid/kind-mismatch.toml");
    let out = run(&["show", mixed.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("kind-mismatch.toml"), "{err}");
    assert!(err.contains("/target"), "{err}");
    assert!(
        err.contains("unknown action kind `dfw_section_move` for a vio-v2t plan"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty());
}

/// `plan` of the VIO example snapshot: the kind comes from its metadata.json; the plan is
/// valid, has the example's planted errors, and `show`/`graph` read it. Bad VIO inputs are
/// refused with exit 3 naming the file, and MP-only flags are refused.
#[test]
fn plan_of_the_vio_example_snapshot_and_its_refusals() {
    let dir = tempdir();
    let out_path = dir.path().join("vio.toml");
    let inv = test_support::vio_example_inventory();
    let out = run(
        &[
            "plan",
            "--inventory",
            inv.to_str().unwrap(),
            "--out",
            out_path.to_str().unwrap(),
        ],
        &[],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("for VIO deployment") && err.contains("cannot be applied"),
        "{err}"
    );
    let v = run(&["validate", out_path.to_str().unwrap()], &[]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stderr));
    assert!(text(&v.stdout).contains("(vio-v2t, "));
    let show = run(&["show", out_path.to_str().unwrap()], &[]);
    assert!(text(&show.stdout).contains("POINT OF NO RETURN"));
    let graph = run(&["graph", out_path.to_str().unwrap()], &[]);
    assert!(text(&graph.stdout).starts_with("digraph plan {"));

    let i = inv.to_str().unwrap();
    plan_refused(
        &["--kind", "vio-v2t", "--inventory", i, "--cluster", "x"],
        &["--kind vio-v2t does not take them"],
    );
    plan_refused(
        &[
            "--kind",
            "vio-v2t",
            "--inventory",
            inventory().to_str().unwrap(),
        ],
        &["small-cluster/metadata.json"],
    );
    plan_refused(
        &[
            "--inventory",
            inventory().to_str().unwrap(),
            "--nsxv",
            "https://nsxv.example",
        ],
        &["belong to --kind vio-v2t"],
    );
    let bad_rules = dir.path().join("rules.toml");
    std::fs::write(&bad_rules, "[plan]\nreplay_batch_size = 0\n").unwrap();
    plan_refused(
        &["--inventory", i, "--rules", bad_rules.to_str().unwrap()],
        &["rules.toml:2", "replay_batch_size"],
    );
}

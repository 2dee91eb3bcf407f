//! Snapshots of what reviewers and machines see: `show` in three formats and the DOT graph.

use std::path::Path;

use plan_schema::render::{self, Format};
use plan_schema::{read_mp_plan_file, read_plan_file};

fn example() -> plan_schema::mp::Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/small-cluster.toml");
    read_mp_plan_file(&path).unwrap()
}

fn vio_example() -> plan_schema::AnyPlan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/vio-small.toml");
    read_plan_file(&path).unwrap()
}

#[test]
fn show_text() {
    insta::assert_snapshot!(render::show(&example(), Format::Text { color: false }));
}

#[test]
fn show_text_colour_marks_changes() {
    let out = render::show(&example(), Format::Text { color: true });
    assert!(out.contains("\x1b[31m- ext_pool_id = 939ae232"));
    assert!(out.contains("\x1b[32m+ ncp/ip_pool_id = lb-vip-pool"));
    let plain = render::show(&example(), Format::Text { color: false });
    assert!(!plain.contains('\x1b'));
}

#[test]
fn show_markdown() {
    insta::assert_snapshot!(render::show(&example(), Format::Markdown));
}

#[test]
fn show_json() {
    let out = render::show(&example(), Format::Json);
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["show_format_version"], 2);
    assert_eq!(value["applicable"], true);
    insta::assert_snapshot!(out);
}

#[test]
fn graph_dot() {
    insta::assert_snapshot!(render::dot(&example()));
}

#[test]
fn vio_show_text() {
    insta::assert_snapshot!(render::show_any(
        &vio_example(),
        Format::Text { color: false }
    ));
}

#[test]
fn vio_show_markdown() {
    insta::assert_snapshot!(render::show_any(&vio_example(), Format::Markdown));
}

#[test]
fn vio_graph_dot() {
    let dot = render::dot_any(&vio_example());
    // Every phase with steps is a cluster, and host migration waits for the edge cutover.
    for phase in [
        "replay",
        "edge_prep",
        "edge_cutover",
        "host_migration",
        "vio_reconfig",
    ] {
        assert!(dot.contains(&format!("cluster_{phase}")), "{phase} missing");
    }
    assert!(dot.contains("\"edge-cutover/run\" -> \"host-migration/run\""));
    insta::assert_snapshot!(dot);
}

#[test]
fn tag_diff_elides_unchanged_runs_and_names_rules() {
    let plan = example();
    let update = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::mp::Action::PolicyUpdate(u) if !u.tags_add.is_empty() => Some(u),
            _ => None,
        })
        .unwrap();
    let lines = plan_schema::mp::tag_diff(update);
    // Leading unchanged tags are elided, the one next to the change is shown as context.
    assert_eq!(lines[0], None);
    assert_eq!(lines[1].as_ref().unwrap().0, ' ');
    let changes: Vec<_> = lines.iter().flatten().filter(|l| l.0 != ' ').collect();
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|l| l.2.as_deref() == Some("tags/lb-vip-pool"))
    );
}

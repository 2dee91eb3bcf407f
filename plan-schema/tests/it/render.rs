//! Snapshots of what reviewers and machines see: `show` in three formats, in the reviewer's view
//! and in full, and the DOT graph.

use std::path::Path;

use plan_schema::render::{self, Format, View};
use plan_schema::{read_mp_plan_file, read_plan_file};

fn example() -> plan_schema::mp::Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/small-cluster.toml");
    read_mp_plan_file(&path).unwrap()
}

fn vio_example() -> plan_schema::AnyPlan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans/vio-small.toml");
    read_plan_file(&path).unwrap()
}

fn full(plan: &plan_schema::mp::Plan, format: Format) -> String {
    render::show_view(plan, format, View::Full)
}

/// The complete listing (`show --full`): these snapshots predate the reviewer's view and are
/// unchanged by it.
#[test]
fn full_show_text() {
    insta::assert_snapshot!(full(&example(), Format::Text { color: false }));
}

/// The reviewer's view (`show`): counts per phase and type and per namespace, departures from
/// the defaults grouped by rule, and the DFW changes one by one.
#[test]
fn review_show_text() {
    insta::assert_snapshot!(render::show_view(
        &example(),
        Format::Text { color: false },
        View::Review
    ));
}

#[test]
fn review_show_markdown() {
    insta::assert_snapshot!(render::show_view(
        &example(),
        Format::Markdown,
        View::Review
    ));
}

#[test]
fn vio_review_show_text() {
    insta::assert_snapshot!(render::show_any_view(
        &vio_example(),
        Format::Text { color: false },
        View::Review
    ));
}

#[test]
fn vio_review_show_markdown() {
    insta::assert_snapshot!(render::show_any_view(
        &vio_example(),
        Format::Markdown,
        View::Review
    ));
}

/// `show` without a view is the complete listing, and JSON is the same document in both views.
#[test]
fn show_is_the_full_listing_and_json_ignores_the_view() {
    let plan = example();
    for format in [
        Format::Text { color: false },
        Format::Markdown,
        Format::Json,
    ] {
        assert_eq!(render::show(&plan, format), full(&plan, format));
    }
    assert_eq!(
        render::show_view(&plan, Format::Json, View::Review),
        render::show(&plan, Format::Json)
    );
}

/// The reviewer's view does not grow with the number of objects: a thousand times the example's
/// imports, a thousand more namespaces of updates, changes the counts, not the length.
#[test]
fn review_length_does_not_grow_with_objects() {
    use plan_schema::mp::Action;
    let small = example();
    let mut big = small.clone();
    let mut extra_steps = Vec::new();
    for step in &small.steps {
        if let Action::PolicyUpdate(u) = &step.action
            && u.resource_type == "Segment"
        {
            for i in 0..1000 {
                let mut s = step.clone();
                s.id = format!("{}-{i}", step.id);
                if let Action::PolicyUpdate(u) = &mut s.action {
                    for t in &mut u.tags_before {
                        if t.scope == "ncp/project" {
                            t.tag = format!("ns-{i}");
                        }
                    }
                }
                extra_steps.push(s);
            }
        }
    }
    for step in &mut big.steps {
        if let Action::ImportBatch(b) = &mut step.action {
            let first = b.resources.clone();
            for i in 0..1000 {
                b.resources.extend(first.iter().cloned().map(|mut r| {
                    let id = format!("{}-{i}", r.manager_id);
                    if r.policy_id.as_ref() == Some(&r.manager_id) {
                        r.policy_id = Some(id.clone());
                    }
                    r.manager_id = id;
                    r
                }));
            }
        }
    }
    big.steps.extend(extra_steps);
    for format in [Format::Text { color: false }, Format::Markdown] {
        let a = render::show_view(&small, format, View::Review);
        let b = render::show_view(&big, format, View::Review);
        // The namespace list is capped: the big plan shows its cap and one "more" line.
        assert!(
            b.lines().count() <= a.lines().count() + 10,
            "{} lines for the big plan, {} for the small one",
            b.lines().count(),
            a.lines().count()
        );
        // LOGICAL_PORT: 5 objects, now 5,005; segments in 1,000 more namespaces.
        assert!(b.contains("5,005"), "{b}");
        assert!(b.contains("1,002"), "{b}");
        assert!(b.contains("more"), "{b}");
        let full_lines = full(&big, format).lines().count();
        assert!(full_lines > 30_000, "{full_lines}");
    }
}

/// Info findings of a check with more than three are one entry in the reviewer's view (count,
/// one message, the first three objects), whatever their number; three or fewer stay one by
/// one, and errors and warnings always do. `--full` lists every finding.
#[test]
fn numerous_info_findings_are_grouped_per_check_in_the_review_only() {
    use plan_schema::plan::{Finding, Severity, Subject};
    let info = |check: &str, i: usize, severity: Severity| Finding {
        id: format!("{check}/obj-{i}"),
        severity,
        check: check.to_string(),
        subject: Subject {
            resource_type: "port".into(),
            id: format!("obj-{i}"),
            display_name: None,
        },
        message: format!("{check} message {i}"),
        remedy: "none".into(),
        steps: vec![],
        code: None,
    };
    let mut plan = example();
    plan.findings = (0..3).map(|i| info("FEW", i, Severity::Info)).collect();
    let small = plan.clone();
    plan.findings
        .extend((0..2000).map(|i| info("MANY", i, Severity::Info)));
    plan.findings
        .extend((0..5).map(|i| info("WARN", i, Severity::Warning)));
    let text = render::show_view(&plan, Format::Text { color: false }, View::Review);
    assert!(
        text.contains("INFO    MANY: 2,000 findings, e.g. MANY message 0"),
        "{text}"
    );
    assert!(
        text.contains("first: port obj-0, port obj-1, port obj-2\n"),
        "{text}"
    );
    assert!(text.contains("... 1,997 more (every one: nsx-migrate show --full)"));
    assert!(!text.contains("MANY message 3"), "{text}");
    for i in 0..3 {
        assert!(text.contains(&format!("FEW/obj-{i}")), "{text}");
    }
    for i in 0..5 {
        assert!(text.contains(&format!("WARN message {i}")), "{text}");
    }
    // The counts per phase and type come before the findings.
    let changes = text.find("Changes by phase and type").unwrap();
    assert!(changes < text.find("\nFindings").unwrap());
    // Two thousand findings more cost the review a few lines.
    let base = render::show_view(&small, Format::Text { color: false }, View::Review);
    let extra = text.lines().count() - base.lines().count();
    assert!(extra <= 4 + 5 * 3, "{extra} more lines");

    let md = render::show_view(&plan, Format::Markdown, View::Review);
    assert!(md.contains("### Info findings by check"), "{md}");
    assert!(
        md.contains(
            "| MANY | 2,000 | MANY message 0 | port obj-0, port obj-1, port obj-2 | none |"
        ),
        "{md}"
    );
    assert!(md.contains("| info | FEW/obj-2 | FEW |"), "{md}");
    assert!(!md.contains("MANY/obj-"), "{md}");

    for format in [Format::Text { color: false }, Format::Markdown] {
        let full = render::show_view(&plan, format, View::Full);
        for i in [0, 3, 1999] {
            assert!(full.contains(&format!("MANY/obj-{i}")), "{format:?}");
        }
    }
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
fn full_show_markdown() {
    insta::assert_snapshot!(full(&example(), Format::Markdown));
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
fn vio_full_show_text() {
    insta::assert_snapshot!(render::show_any_view(
        &vio_example(),
        Format::Text { color: false },
        View::Full
    ));
}

#[test]
fn vio_full_show_markdown() {
    insta::assert_snapshot!(render::show_any_view(
        &vio_example(),
        Format::Markdown,
        View::Full
    ));
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

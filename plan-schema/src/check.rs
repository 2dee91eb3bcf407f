//! Semantic checks: what a schema cannot say about a plan.

use std::collections::{HashMap, HashSet};

use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use crate::plan::{
    Action, FORMAT_VERSION, MAX_TAGS, MigrationKind, MigrationType, Plan, PolicyUpdate, SectionRef,
    Step,
};
use crate::read::{Layer, Problem};
use crate::seal;

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        layer: Layer::Semantic,
        pointer: pointer.into(),
        line: None,
        message: message.into(),
    }
}

/// Every semantic problem of a plan, in file order. Empty means the plan is valid.
pub fn check_plan(plan: &Plan) -> Vec<Problem> {
    let mut out = Vec::new();
    if plan.format_version != FORMAT_VERSION {
        out.push(problem(
            "/format_version",
            format!(
                "format_version must be {FORMAT_VERSION}, found {}",
                plan.format_version
            ),
        ));
    }
    check_header(plan, &mut out);
    check_rules_and_findings(plan, &mut out);
    check_steps(plan, &mut out);

    let computed = plan.computed_summary();
    if computed != plan.summary {
        out.push(problem(
            "/summary",
            format!(
                "summary does not match the plan's steps and findings (expected {})",
                summary_text(&computed)
            ),
        ));
    }

    // The seal is checked last: any hand edit breaks it, and a deliberate edit is re-sealed
    // with `nsx-migrate seal` after review.
    let expected = seal::compute_plan_id(plan);
    if plan.plan_id != expected {
        out.push(problem(
            "/plan_id",
            format!(
                "plan altered after it was written: plan_id is {} but the content hashes to {}; \
                 re-run `nsx-migrate plan`, or `nsx-migrate seal` if the edit was deliberate and reviewed",
                plan.plan_id, expected
            ),
        ));
    }
    out
}

fn summary_text(s: &crate::plan::Summary) -> String {
    format!(
        "dfw_sections_created={}, dfw_section_moves={}, dfw_rule_moves={}, import_batches={}, \
         imported_resources={}, policy_updates={}, errors={}, warnings={}, infos={}",
        s.dfw_sections_created,
        s.dfw_section_moves,
        s.dfw_rule_moves,
        s.import_batches,
        s.imported_resources,
        s.policy_updates,
        s.errors,
        s.warnings,
        s.infos
    )
}

fn check_header(plan: &Plan, out: &mut Vec<Problem>) {
    let mgr = &plan.header.nsx_manager;
    let authority = mgr.split("://").nth(1).unwrap_or(mgr);
    let authority = authority.split('/').next().unwrap_or(authority);
    if authority.contains('@') {
        out.push(problem(
            "/header/nsx_manager",
            "nsx_manager must not carry credentials (found user info before '@')",
        ));
    }
    if plan.header.kind == MigrationKind::VioV2t && !plan.steps.is_empty() {
        out.push(problem(
            "/steps",
            "kind vio-v2t is reserved: this nsx-migrate has no step actions for it yet",
        ));
    }
    let mut names = HashSet::new();
    for (i, input) in plan.inputs.iter().enumerate() {
        if !names.insert(input.name.as_str()) {
            out.push(problem(
                format!("/inputs/{i}/name"),
                format!("duplicate input `{}`", input.name),
            ));
        }
        if input.source.contains("://")
            && input
                .source
                .split("://")
                .nth(1)
                .is_some_and(|r| r.split('/').next().is_some_and(|a| a.contains('@')))
        {
            out.push(problem(
                format!("/inputs/{i}/source"),
                "source must not carry credentials (found user info before '@')",
            ));
        }
    }
}

fn check_rules_and_findings(plan: &Plan, out: &mut Vec<Problem>) {
    let mut rule_ids = HashSet::new();
    for (i, r) in plan.rules.iter().enumerate() {
        if !rule_ids.insert(r.id.as_str()) {
            out.push(problem(
                format!("/rules/{i}/id"),
                format!("duplicate rule id `{}`", r.id),
            ));
        }
    }
    let step_ids: HashSet<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    let mut finding_ids = HashSet::new();
    for (i, f) in plan.findings.iter().enumerate() {
        if !finding_ids.insert(f.id.as_str()) {
            out.push(problem(
                format!("/findings/{i}/id"),
                format!("duplicate finding id `{}`", f.id),
            ));
        }
        for (j, s) in f.steps.iter().enumerate() {
            if !step_ids.contains(s.as_str()) {
                out.push(problem(
                    format!("/findings/{i}/steps/{j}"),
                    format!("finding refers to unknown step `{s}`"),
                ));
            }
        }
    }
    // Rules referenced by changes must be explained in [[rules]].
    for (i, step) in plan.steps.iter().enumerate() {
        if let Action::ImportBatch(b) = &step.action {
            for (j, r) in b.resources.iter().enumerate() {
                let Some(rule) = &r.rule else { continue };
                let pointer = format!("/steps/{i}/action/resources/{j}/rule");
                if !rule_ids.contains(rule.as_str()) {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` is not listed in [[rules]]"),
                    ));
                } else if r.policy_id.is_none() {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` names no Policy id: the object has no `policy_id`"),
                    ));
                }
            }
        }
        if let Action::PolicyUpdate(u) = &step.action {
            let base = format!("/steps/{i}/action");
            let mut refs: Vec<(String, &str)> = Vec::new();
            for (j, t) in u.tags_add.iter().enumerate() {
                refs.push((format!("{base}/tags_add/{j}/rule"), &t.rule));
            }
            for (j, t) in u.tags_remove.iter().enumerate() {
                refs.push((format!("{base}/tags_remove/{j}/rule"), &t.rule));
            }
            if let Some(d) = &u.display_name {
                refs.push((format!("{base}/display_name/rule"), &d.rule));
            }
            for (pointer, rule) in refs {
                if !rule_ids.contains(rule) {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` is not listed in [[rules]]"),
                    ));
                }
            }
        }
    }
}

fn check_steps(plan: &Plan, out: &mut Vec<Problem>) {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if let Some(first) = index.insert(step.id.as_str(), i) {
            out.push(problem(
                format!("/steps/{i}/id"),
                format!(
                    "duplicate step id `{}` (first used by step {first})",
                    step.id
                ),
            ));
            index.insert(step.id.as_str(), first);
        }
    }

    let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
    for (i, step) in plan.steps.iter().enumerate() {
        graph.add_node(i);
        let expected = step.action.phase();
        if step.phase != expected {
            out.push(problem(
                format!("/steps/{i}/phase"),
                format!(
                    "step `{}`: a {} belongs to phase `{}`, not `{}`",
                    step.id,
                    step.action.kind_str(),
                    expected.as_str(),
                    step.phase.as_str()
                ),
            ));
        }
        for (j, dep) in step.depends_on.iter().enumerate() {
            let pointer = format!("/steps/{i}/depends_on/{j}");
            match index.get(dep.as_str()) {
                None => out.push(problem(
                    pointer,
                    format!("step `{}` depends on unknown step `{dep}`", step.id),
                )),
                Some(&d) if d == i => out.push(problem(
                    pointer,
                    format!("step `{}` depends on itself", step.id),
                )),
                Some(&d) => {
                    if plan.steps[d].phase > step.phase {
                        out.push(problem(
                            pointer,
                            format!(
                                "step `{}` (phase {}) depends on `{dep}` of the later phase {}",
                                step.id,
                                step.phase.as_str(),
                                plan.steps[d].phase.as_str()
                            ),
                        ));
                    }
                    graph.add_edge(d, i, ());
                }
            }
        }
        check_action(plan, i, step, &index, out);
    }

    if let Err(cycle) = toposort(&graph, None) {
        let i = cycle.node_id();
        out.push(problem(
            format!("/steps/{i}/depends_on"),
            format!("dependency cycle through step `{}`", plan.steps[i].id),
        ));
    }

    // Each MP object is imported at most once per migration type (router-port and router-config
    // types are keyed by their router's id, which its TIER0/TIER1 import uses too), and each
    // (type, batch) is unique.
    let mut seen_ids: HashMap<(MigrationType, &str), &str> = HashMap::new();
    let mut seen_batches = HashSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if let Action::ImportBatch(b) = &step.action {
            if !seen_batches.insert((b.migration_type, b.batch)) {
                out.push(problem(
                    format!("/steps/{i}/action/batch"),
                    format!(
                        "{} batch {} appears twice",
                        b.migration_type.as_str(),
                        b.batch
                    ),
                ));
            }
            for (j, r) in b.resources.iter().enumerate() {
                if let Some(other) = seen_ids.insert((b.migration_type, &r.manager_id), &step.id) {
                    out.push(problem(
                        format!("/steps/{i}/action/resources/{j}/manager_id"),
                        format!(
                            "manager id {} is already imported as {} by step `{other}`",
                            r.manager_id,
                            b.migration_type.as_str()
                        ),
                    ));
                }
                if let Some(p) = &r.policy_path
                    && !p.starts_with("/infra/")
                {
                    out.push(problem(
                        format!("/steps/{i}/action/resources/{j}/policy_path"),
                        format!("policy_path `{p}` must start with /infra/"),
                    ));
                }
            }
        }
    }
}

fn check_section_ref(
    r: &SectionRef,
    pointer: &str,
    step: &Step,
    plan: &Plan,
    index: &HashMap<&str, usize>,
    out: &mut Vec<Problem>,
) {
    match (&r.id, &r.created_by) {
        (Some(_), None) => {}
        (None, Some(creator)) => match index.get(creator.as_str()) {
            Some(&c) if matches!(plan.steps[c].action, Action::DfwSectionCreate(_)) => {
                if !step.depends_on.iter().any(|d| d == creator) {
                    out.push(problem(
                        format!("{pointer}/created_by"),
                        format!(
                            "step `{}` uses the section created by `{creator}` but does not depend on it",
                            step.id
                        ),
                    ));
                }
            }
            Some(_) => out.push(problem(
                format!("{pointer}/created_by"),
                format!("`{creator}` is not a dfw_section_create step"),
            )),
            None => out.push(problem(
                format!("{pointer}/created_by"),
                format!("unknown step `{creator}`"),
            )),
        },
        _ => out.push(problem(
            pointer.to_string(),
            "a section reference needs exactly one of `id` and `created_by`",
        )),
    }
}

fn check_action(
    plan: &Plan,
    i: usize,
    step: &Step,
    index: &HashMap<&str, usize>,
    out: &mut Vec<Problem>,
) {
    let base = format!("/steps/{i}/action");
    let anchor_check =
        |op: crate::plan::InsertOp, has_anchor: bool, field: &str, out: &mut Vec<Problem>| {
            if op.needs_anchor() && !has_anchor {
                out.push(problem(
                    format!("{base}/operation"),
                    format!("{} needs `{field}`", op.as_str()),
                ));
            } else if !op.needs_anchor() && has_anchor {
                out.push(problem(
                    format!("{base}/{field}"),
                    format!("{} takes no `{field}`", op.as_str()),
                ));
            }
        };
    match &step.action {
        Action::DfwSectionCreate(c) => {
            anchor_check(c.operation, c.anchor.is_some(), "anchor", out);
            if let Some(a) = &c.anchor {
                check_section_ref(a, &format!("{base}/anchor"), step, plan, index, out);
            }
        }
        Action::DfwSectionMove(m) => {
            anchor_check(m.operation, m.anchor.is_some(), "anchor", out);
            check_section_ref(
                &m.section,
                &format!("{base}/section"),
                step,
                plan,
                index,
                out,
            );
            if m.section.id.is_none() {
                out.push(problem(
                    format!("{base}/section"),
                    "only an existing section (by `id`) can be moved",
                ));
            }
            if let Some(a) = &m.anchor {
                check_section_ref(a, &format!("{base}/anchor"), step, plan, index, out);
                if a.id.is_some() && a.id == m.section.id {
                    out.push(problem(
                        format!("{base}/anchor"),
                        "a section cannot be its own anchor",
                    ));
                }
            }
        }
        Action::DfwRuleMove(m) => {
            anchor_check(m.operation, m.anchor_rule.is_some(), "anchor_rule", out);
            check_section_ref(
                &m.from_section,
                &format!("{base}/from_section"),
                step,
                plan,
                index,
                out,
            );
            check_section_ref(
                &m.to_section,
                &format!("{base}/to_section"),
                step,
                plan,
                index,
                out,
            );
            if m.from_section.id.is_some() && m.from_section.id == m.to_section.id {
                out.push(problem(
                    format!("{base}/to_section"),
                    "a rule move needs two different sections",
                ));
            }
        }
        Action::ImportBatch(_) => {}
        Action::PolicyUpdate(u) => check_policy_update(u, &base, out),
    }
}

fn check_policy_update(u: &PolicyUpdate, base: &str, out: &mut Vec<Problem>) {
    if u.tags_add.is_empty() && u.tags_remove.is_empty() && u.display_name.is_none() {
        out.push(problem(base.to_string(), "policy_update changes nothing"));
    }
    for (j, r) in u.tags_remove.iter().enumerate() {
        if !u.tags_before.contains(&r.as_tag()) {
            out.push(problem(
                format!("{base}/tags_remove/{j}"),
                format!(
                    "removes tag {}={} that is not in tags_before",
                    r.scope, r.tag
                ),
            ));
        }
        if u.tags_add
            .iter()
            .any(|a| a.scope == r.scope && a.tag == r.tag)
        {
            out.push(problem(
                format!("{base}/tags_remove/{j}"),
                format!("tag {}={} is both added and removed", r.scope, r.tag),
            ));
        }
    }
    for (j, a) in u.tags_add.iter().enumerate() {
        if u.tags_before.contains(&a.as_tag()) {
            out.push(problem(
                format!("{base}/tags_add/{j}"),
                format!(
                    "adds tag {}={} that is already in tags_before",
                    a.scope, a.tag
                ),
            ));
        }
    }
    let after = u.tags_after().len();
    if after > MAX_TAGS {
        out.push(problem(
            format!("{base}/tags_add"),
            format!("the object would carry {after} tags; NSX allows at most {MAX_TAGS}"),
        ));
    }
    if let Some(d) = &u.display_name
        && d.from == d.to
    {
        out.push(problem(
            format!("{base}/display_name"),
            "display_name change from and to are equal",
        ));
    }
}

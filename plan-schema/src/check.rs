//! Semantic checks: what a schema cannot say about a plan. The envelope's checks are here; each
//! kind adds its own ([`crate::kind::Kind::check`]).

use std::collections::{HashMap, HashSet};

use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use crate::kind::{Kind, KindAction, KindPhase};
use crate::plan::{FORMAT_VERSION, Plan};
use crate::problem::Problem;
use crate::seal;

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem::semantic(pointer, message)
}

/// Every semantic problem of a plan, in file order. Empty means the plan is valid.
pub fn check_plan<K: Kind>(plan: &Plan<K>) -> Vec<Problem> {
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
    if plan.header.kind != K::KIND {
        out.push(problem(
            "/header/kind",
            format!(
                "kind `{}` read as a {} plan",
                plan.header.kind.as_str(),
                K::KIND.as_str()
            ),
        ));
    }
    check_addresses(plan, &mut out);
    check_rules_and_findings(plan, &mut out);
    check_steps(plan, &mut out);
    K::check(plan, &mut out);

    let computed = plan.computed_summary();
    if computed != plan.summary {
        out.push(problem(
            "/summary",
            format!(
                "summary does not match the plan's steps and findings (expected {})",
                summary_text::<K>(&computed)
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

fn summary_text<K: Kind>(s: &crate::plan::Summary<K::Counters>) -> String {
    let mut parts: Vec<String> = vec![
        format!("errors={}", s.errors),
        format!("warnings={}", s.warnings),
        format!("infos={}", s.infos),
    ];
    parts.extend(
        K::counter_pairs(&s.changes)
            .into_iter()
            .map(|(k, v)| format!("changes.{k}={v}")),
    );
    parts.join(", ")
}

/// Whether an address carries user info (`user:password@host`).
fn has_user_info(address: &str) -> bool {
    let authority = address.split("://").nth(1).unwrap_or(address);
    authority
        .split('/')
        .next()
        .unwrap_or(authority)
        .contains('@')
}

fn check_addresses<K: Kind>(plan: &Plan<K>, out: &mut Vec<Problem>) {
    for (pointer, address) in K::addresses(&plan.target) {
        if has_user_info(address) {
            let field = pointer.rsplit('/').next().unwrap_or(pointer);
            out.push(problem(
                pointer,
                format!("{field} must not carry credentials (found user info before '@')"),
            ));
        }
    }
    let mut names = HashSet::new();
    for (i, input) in plan.inputs.iter().enumerate() {
        if !names.insert(input.name.as_str()) {
            out.push(problem(
                format!("/inputs/{i}/name"),
                format!("duplicate input `{}`", input.name),
            ));
        }
        if input.source.contains("://") && has_user_info(&input.source) {
            out.push(problem(
                format!("/inputs/{i}/source"),
                "source must not carry credentials (found user info before '@')",
            ));
        }
    }
}

fn check_rules_and_findings<K: Kind>(plan: &Plan<K>, out: &mut Vec<Problem>) {
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
}

/// Unique ids, actions in their phase, known dependencies that are not later, no cycle.
fn check_steps<K: Kind>(plan: &Plan<K>, out: &mut Vec<Problem>) {
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
    }

    if let Err(cycle) = toposort(&graph, None) {
        let i = cycle.node_id();
        out.push(problem(
            format!("/steps/{i}/depends_on"),
            format!("dependency cycle through step `{}`", plan.steps[i].id),
        ));
    }
}

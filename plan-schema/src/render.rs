//! Rendering plans for people (text, Markdown for change tickets), machines (JSON) and Graphviz.

use std::fmt::Write as _;

use serde_json::json;
use similar::{ChangeTag, TextDiff};

use crate::plan::{
    Action, DfwRuleMove, DfwSectionCreate, DfwSectionMove, Finding, ImportBatch, Phase, Plan,
    PolicyUpdate, SectionRef, Severity, Step, Tag,
};

/// Version of the JSON document `show --format json` prints.
pub const SHOW_JSON_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text { color: bool },
    Markdown,
    Json,
}

/// Render a plan for review.
pub fn show(plan: &Plan, format: Format) -> String {
    match format {
        Format::Text { color } => Text { color }.render(plan),
        Format::Markdown => markdown(plan),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&show_json(plan)).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn phase_title(phase: Phase) -> &'static str {
    match phase {
        Phase::Prepare => "fix the DFW layout through the Manager API, before anything is imported",
        Phase::Import => "import into Policy through the migration coordinator",
        Phase::Update => "update tags and display names of the imported Policy objects",
    }
}

fn short(id: &str) -> &str {
    // UUIDs read better shortened in prose; the full id is in the plan and in JSON output.
    if id.len() == 36 && id.as_bytes().get(8) == Some(&b'-') {
        &id[..8]
    } else {
        id
    }
}

fn section_ref(r: &SectionRef) -> String {
    match (&r.id, &r.created_by) {
        (Some(id), _) => format!("\"{}\" ({})", r.display_name, short(id)),
        (None, Some(step)) => format!("\"{}\" (created by {step})", r.display_name),
        (None, None) => format!("\"{}\"", r.display_name),
    }
}

fn position(op: crate::plan::InsertOp, anchor: Option<String>) -> String {
    use crate::plan::InsertOp::*;
    match (op, anchor) {
        (InsertTop, _) => "at the top of the DFW".to_string(),
        (InsertBottom, _) => "at the bottom of the DFW".to_string(),
        (InsertBefore, Some(a)) => format!("before {a}"),
        (InsertAfter, Some(a)) => format!("after {a}"),
        (op, None) => op.as_str().to_string(),
    }
}

/// One-line description of a step.
pub fn describe(step: &Step) -> String {
    match &step.action {
        Action::DfwSectionCreate(c) => describe_create(c),
        Action::DfwSectionMove(m) => describe_section_move(m),
        Action::DfwRuleMove(m) => describe_rule_move(m),
        Action::ImportBatch(b) => describe_batch(b),
        Action::PolicyUpdate(u) => format!("update {} {}", u.resource_type, u.path),
    }
}

fn describe_create(c: &DfwSectionCreate) -> String {
    format!(
        "create {} section \"{}\" {}",
        c.section_type,
        c.display_name,
        position(c.operation, c.anchor.as_ref().map(section_ref))
    )
}

fn describe_section_move(m: &DfwSectionMove) -> String {
    format!(
        "move section {} {}",
        section_ref(&m.section),
        position(m.operation, m.anchor.as_ref().map(section_ref))
    )
}

fn describe_rule_move(m: &DfwRuleMove) -> String {
    let pos = match (m.operation, &m.anchor_rule) {
        (crate::plan::InsertOp::InsertTop, _) => "at its top".to_string(),
        (crate::plan::InsertOp::InsertBottom, _) => "at its bottom".to_string(),
        (op, Some(a)) => format!("{} rule {}", op.as_str().replace('_', " "), short(a)),
        (op, None) => op.as_str().to_string(),
    };
    format!(
        "move rule \"{}\" ({}) from section {} to section {} {}",
        m.display_name,
        short(&m.rule_id),
        section_ref(&m.from_section),
        section_ref(&m.to_section),
        pos
    )
}

fn describe_batch(b: &ImportBatch) -> String {
    let n = b.resources.len();
    format!(
        "import {} batch {}: {} resource{}",
        b.migration_type.as_str(),
        b.batch,
        n,
        if n == 1 { "" } else { "s" }
    )
}

fn reason(step: &Step) -> Option<&str> {
    match &step.action {
        Action::DfwSectionCreate(c) => Some(&c.reason),
        Action::DfwSectionMove(m) => Some(&m.reason),
        Action::DfwRuleMove(m) => Some(&m.reason),
        _ => None,
    }
}

/// Where an imported object lands, as a reviewer reads it.
fn import_target(r: &crate::plan::ImportResource) -> &str {
    r.policy_path
        .as_deref()
        .or(r.policy_id.as_deref())
        .unwrap_or("(Policy id chosen by NSX)")
}

/// Why an object is imported and which rule chose its Policy id, e.g.
/// `cluster tag; id by rule policy-id/ncp-owned-mp-id` (empty for plans that do not say).
fn import_why(r: &crate::plan::ImportResource) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.scope {
        parts.push(s.describe().to_string());
    }
    if let Some(rule) = &r.rule {
        parts.push(format!("id by rule {rule}"));
    }
    parts.join("; ")
}

fn tag_line(t: &Tag) -> String {
    format!("{} = {}", t.scope, t.tag)
}

/// A line of a tag or display_name diff: `' '`, `'-'` or `'+'`, the text, and the rule that
/// asked for the change. `None` marks elided unchanged lines.
type DiffLine = Option<(char, String, Option<String>)>;

/// The before/after diff of a Policy update's tags, with one line of context around changes.
pub fn tag_diff(u: &PolicyUpdate) -> Vec<DiffLine> {
    let before: Vec<String> = u.tags_before.iter().map(tag_line).collect();
    let after: Vec<String> = u.tags_after().iter().map(tag_line).collect();
    let before_refs: Vec<&str> = before.iter().map(String::as_str).collect();
    let after_refs: Vec<&str> = after.iter().map(String::as_str).collect();
    let diff = TextDiff::from_slices(&before_refs, &after_refs);
    let rule_of = |line: &str, removed: bool| -> Option<String> {
        let list = if removed { &u.tags_remove } else { &u.tags_add };
        list.iter()
            .find(|c| tag_line(&c.as_tag()) == line)
            .map(|c| c.rule.clone())
    };
    let mut out = Vec::new();
    let groups = diff.grouped_ops(1);
    let mut shown_until = 0;
    for group in &groups {
        if group
            .first()
            .is_some_and(|op| op.old_range().start > shown_until)
        {
            out.push(None);
        }
        for op in group {
            shown_until = op.old_range().end;
            for change in diff.iter_changes(op) {
                let text = change.value().to_string();
                let line = match change.tag() {
                    ChangeTag::Equal => (' ', text, None),
                    ChangeTag::Delete => {
                        let r = rule_of(&text, true);
                        ('-', text, r)
                    }
                    ChangeTag::Insert => {
                        let r = rule_of(&text, false);
                        ('+', text, r)
                    }
                };
                out.push(Some(line));
            }
        }
    }
    if shown_until < before.len() {
        out.push(None);
    }
    out
}

fn finding_counts(plan: &Plan) -> String {
    let s = &plan.summary;
    format!(
        "{} error{}, {} warning{}, {} info",
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.warnings,
        if s.warnings == 1 { "" } else { "s" },
        s.infos
    )
}

fn verdict(plan: &Plan) -> &'static str {
    if plan.is_applicable() {
        "can be applied"
    } else {
        "cannot be applied until the error findings are resolved"
    }
}

fn phase_counts(plan: &Plan, phase: Phase) -> String {
    let s = &plan.summary;
    match phase {
        Phase::Prepare => format!(
            "{} section(s) to create, {} section move(s), {} rule move(s)",
            s.dfw_sections_created, s.dfw_section_moves, s.dfw_rule_moves
        ),
        Phase::Import => format!(
            "{} batch(es), {} resource(s)",
            s.import_batches, s.imported_resources
        ),
        Phase::Update => format!("{} Policy object(s)", s.policy_updates),
    }
}

/// Findings as the text `show` prints them (no colour), one entry each.
pub fn findings(findings: &[Finding]) -> String {
    let text = Text { color: false };
    let mut o = String::new();
    for f in findings {
        text.finding(&mut o, f);
    }
    o
}

struct Text {
    color: bool,
}

impl Text {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn severity(&self, s: Severity) -> String {
        let label = format!("{:<7}", s.as_str().to_uppercase());
        match s {
            Severity::Error => self.paint("1;31", &label),
            Severity::Warning => self.paint("33", &label),
            Severity::Info => self.paint("36", &label),
        }
    }

    fn render(&self, plan: &Plan) -> String {
        let mut o = String::new();
        let h = &plan.header;
        let _ = writeln!(o, "{} {}", self.paint("1", "Plan"), plan.plan_id);
        let _ = writeln!(o, "  kind         {}", h.kind.as_str());
        let _ = writeln!(o, "  cluster      {}", h.cluster);
        let mut versions = Vec::new();
        if let Some(v) = &h.nsx_version {
            versions.push(format!("NSX {v}"));
        }
        if let Some(v) = &h.ncp_version {
            versions.push(format!("NCP {v}"));
        }
        let versions = if versions.is_empty() {
            String::new()
        } else {
            format!(" ({})", versions.join(", "))
        };
        let _ = writeln!(o, "  NSX Manager  {}{versions}", h.nsx_manager);
        let _ = writeln!(
            o,
            "  written      {} by nsx-migrate {}",
            h.created_at, h.tool_version
        );

        if !plan.inputs.is_empty() {
            let _ = writeln!(o, "\n{}", self.paint("1", "Inputs"));
            for i in &plan.inputs {
                let objects = i
                    .objects
                    .map(|n| format!(", {n} objects"))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  {:<11} {} (sha256 {}{objects})",
                    i.name,
                    i.source,
                    &i.sha256[..12.min(i.sha256.len())]
                );
            }
        }

        let _ = writeln!(o, "\n{}", self.paint("1", "Summary"));
        for phase in Phase::ALL {
            let _ = writeln!(o, "  {:<9} {}", phase.as_str(), phase_counts(plan, phase));
        }
        let _ = writeln!(o, "  {:<9} {}", "findings", finding_counts(plan));
        let v = verdict(plan);
        let v = if plan.is_applicable() {
            self.paint("32", v)
        } else {
            self.paint("1;31", v)
        };
        let _ = writeln!(o, "  {:<9} {v}", "verdict");

        if !plan.findings.is_empty() {
            let _ = writeln!(o, "\n{}", self.paint("1", "Findings"));
            for f in &plan.findings {
                self.finding(&mut o, f);
            }
        }

        for phase in Phase::ALL {
            let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.phase == phase).collect();
            if steps.is_empty() {
                continue;
            }
            let title = format!("Phase {}: {}", phase.as_str(), phase_title(phase));
            let _ = writeln!(o, "\n{}", self.paint("1", &title));
            for step in steps {
                self.step(&mut o, step);
            }
        }
        o
    }

    fn finding(&self, o: &mut String, f: &Finding) {
        let name = f
            .subject
            .display_name
            .as_deref()
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let label = if f.id.starts_with(&f.check) {
            f.id.clone()
        } else {
            format!("{} [{}]", f.id, f.check)
        };
        let id = if label.contains(&f.subject.id) {
            String::new()
        } else {
            format!(" {}", f.subject.id)
        };
        let _ = writeln!(
            o,
            "  {} {label} {}{id}{name}",
            self.severity(f.severity),
            f.subject.resource_type,
        );
        let _ = writeln!(o, "          {}", f.message);
        let _ = writeln!(o, "          remedy: {}", f.remedy);
        if !f.steps.is_empty() {
            let _ = writeln!(o, "          planned: {}", f.steps.join(", "));
        }
    }

    fn step(&self, o: &mut String, step: &Step) {
        let _ = writeln!(o, "  {}  {}", self.paint("1", &step.id), describe(step));
        if !step.depends_on.is_empty() {
            let _ = writeln!(o, "      after: {}", step.depends_on.join(", "));
        }
        if let Some(r) = reason(step) {
            let _ = writeln!(o, "      why: {r}");
        }
        match &step.action {
            Action::ImportBatch(b) => {
                for r in &b.resources {
                    let target = import_target(r);
                    let why = import_why(r);
                    let why = if why.is_empty() {
                        why
                    } else {
                        format!("    [{why}]")
                    };
                    let _ = writeln!(
                        o,
                        "      {} \"{}\" {} -> {}{why}",
                        r.resource_type, r.display_name, r.manager_id, target
                    );
                }
            }
            Action::PolicyUpdate(u) => self.update(o, u),
            _ => {}
        }
    }

    fn diff_line(&self, o: &mut String, line: &DiffLine) {
        match line {
            None => {
                let _ = writeln!(o, "        ...");
            }
            Some((sign, text, rule)) => {
                let rule = rule
                    .as_deref()
                    .map(|r| format!("    [rule {r}]"))
                    .unwrap_or_default();
                let body = format!("{sign} {text}");
                let body = match sign {
                    '-' => self.paint("31", &body),
                    '+' => self.paint("32", &body),
                    _ => body,
                };
                let _ = writeln!(o, "        {body}{rule}");
            }
        }
    }

    fn update(&self, o: &mut String, u: &PolicyUpdate) {
        if let Some(d) = &u.display_name {
            let _ = writeln!(o, "      display_name:");
            self.diff_line(o, &Some(('-', d.from.clone(), None)));
            self.diff_line(o, &Some(('+', d.to.clone(), Some(d.rule.clone()))));
        }
        if !u.tags_add.is_empty() || !u.tags_remove.is_empty() {
            let _ = writeln!(o, "      tags:");
            for line in tag_diff(u) {
                self.diff_line(o, &line);
            }
        }
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn markdown(plan: &Plan) -> String {
    let mut o = String::new();
    let h = &plan.header;
    let _ = writeln!(
        o,
        "## nsx-migrate plan: {} `{}`\n",
        h.kind.as_str(),
        h.cluster
    );
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Plan id | `{}` |", plan.plan_id);
    let _ = writeln!(o, "| NSX Manager | {} |", md_escape(&h.nsx_manager));
    if let Some(v) = &h.nsx_version {
        let _ = writeln!(o, "| NSX version | {v} |");
    }
    if let Some(v) = &h.ncp_version {
        let _ = writeln!(o, "| NCP version | {v} |");
    }
    let _ = writeln!(
        o,
        "| Written | {} by nsx-migrate {} |",
        h.created_at, h.tool_version
    );
    for i in &plan.inputs {
        let objects = i
            .objects
            .map(|n| format!(", {n} objects"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "| Input `{}` | {} (sha256 `{}`{objects}) |",
            i.name,
            md_escape(&i.source),
            &i.sha256[..12.min(i.sha256.len())]
        );
    }

    let _ = writeln!(o, "\n### Summary\n\n| Phase | Changes |\n|---|---|");
    for phase in Phase::ALL {
        let _ = writeln!(o, "| {} | {} |", phase.as_str(), phase_counts(plan, phase));
    }
    let _ = writeln!(o, "| findings | {} |", finding_counts(plan));
    let _ = writeln!(o, "\n**Verdict:** {}.", verdict(plan));

    if !plan.findings.is_empty() {
        let _ = writeln!(
            o,
            "\n### Findings\n\n| Severity | Id | Check | Subject | Message | Remedy |\n|---|---|---|---|---|---|"
        );
        for f in &plan.findings {
            let subject = match &f.subject.display_name {
                Some(n) => format!("{} `{}` ({})", f.subject.resource_type, f.subject.id, n),
                None => format!("{} `{}`", f.subject.resource_type, f.subject.id),
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                f.severity.as_str(),
                f.id,
                f.check,
                md_escape(&subject),
                md_escape(&f.message),
                md_escape(&f.remedy)
            );
        }
    }

    for phase in Phase::ALL {
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.phase == phase).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "\n### Phase `{}`: {}\n",
            phase.as_str(),
            phase_title(phase)
        );
        for step in steps {
            let _ = writeln!(o, "- **`{}`** {}", step.id, md_escape(&describe(step)));
            if !step.depends_on.is_empty() {
                let deps: Vec<String> = step.depends_on.iter().map(|d| format!("`{d}`")).collect();
                let _ = writeln!(o, "  - after {}", deps.join(", "));
            }
            if let Some(r) = reason(step) {
                let _ = writeln!(o, "  - why: {}", md_escape(r));
            }
            match &step.action {
                Action::ImportBatch(b) => {
                    for r in &b.resources {
                        let target = import_target(r);
                        let why = import_why(r);
                        let why = if why.is_empty() {
                            why
                        } else {
                            format!(" ({})", md_escape(&why))
                        };
                        let _ = writeln!(
                            o,
                            "  - {} \"{}\" `{}` → `{}`{why}",
                            r.resource_type,
                            md_escape(&r.display_name),
                            r.manager_id,
                            target
                        );
                    }
                }
                Action::PolicyUpdate(u) => {
                    let _ = writeln!(o, "\n  ```diff");
                    if let Some(d) = &u.display_name {
                        let _ = writeln!(o, "  # display_name");
                        let _ = writeln!(o, "  - {}", d.from);
                        let _ = writeln!(o, "  + {}    # rule {}", d.to, d.rule);
                    }
                    if !u.tags_add.is_empty() || !u.tags_remove.is_empty() {
                        let _ = writeln!(o, "  # tags");
                        for line in tag_diff(u) {
                            match line {
                                None => {
                                    let _ = writeln!(o, "    ...");
                                }
                                Some((sign, text, rule)) => {
                                    let rule =
                                        rule.map(|r| format!("    # rule {r}")).unwrap_or_default();
                                    let _ = writeln!(o, "  {sign} {text}{rule}");
                                }
                            }
                        }
                    }
                    let _ = writeln!(o, "  ```\n");
                }
                _ => {}
            }
        }
    }
    if !plan.rules.is_empty() {
        let _ = writeln!(o, "\n### Rules used\n\n| Rule | What it does |\n|---|---|");
        for r in &plan.rules {
            let _ = writeln!(o, "| `{}` | {} |", r.id, md_escape(&r.description));
        }
    }
    o
}

fn show_json(plan: &Plan) -> serde_json::Value {
    let phases: Vec<serde_json::Value> = Phase::ALL
        .iter()
        .map(|&phase| {
            let steps: Vec<serde_json::Value> = plan
                .steps
                .iter()
                .filter(|s| s.phase == phase)
                .map(|s| {
                    let mut v = json!({
                        "id": s.id,
                        "description": describe(s),
                        "depends_on": s.depends_on,
                        "action": s.action,
                    });
                    if let Action::PolicyUpdate(u) = &s.action {
                        v["tags_after"] = json!(u.tags_after());
                    }
                    v
                })
                .collect();
            json!({ "phase": phase.as_str(), "steps": steps })
        })
        .collect();
    json!({
        "show_format_version": SHOW_JSON_VERSION,
        "plan_format_version": plan.format_version,
        "plan_id": plan.plan_id,
        "header": plan.header,
        "inputs": plan.inputs,
        "summary": plan.summary,
        "applicable": plan.is_applicable(),
        "findings": plan.findings,
        "rules": plan.rules,
        "phases": phases,
    })
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The step dependency graph in Graphviz DOT, one cluster per phase.
pub fn dot(plan: &Plan) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "digraph plan {{");
    let _ = writeln!(
        o,
        "  label=\"{} {}\";",
        plan.header.kind.as_str(),
        dot_escape(&plan.header.cluster)
    );
    let _ = writeln!(
        o,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];"
    );
    for phase in Phase::ALL {
        let steps: Vec<&Step> = plan.steps.iter().filter(|s| s.phase == phase).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(o, "  subgraph \"cluster_{}\" {{", phase.as_str());
        let _ = writeln!(o, "    label=\"phase {}\";", phase.as_str());
        for s in steps {
            let _ = writeln!(
                o,
                "    \"{}\" [label=\"{}\\n{}\"];",
                dot_escape(&s.id),
                dot_escape(&s.id),
                dot_escape(&describe(s))
            );
        }
        let _ = writeln!(o, "  }}");
    }
    for s in &plan.steps {
        for d in &s.depends_on {
            let _ = writeln!(o, "  \"{}\" -> \"{}\";", dot_escape(d), dot_escape(&s.id));
        }
    }
    let _ = writeln!(o, "}}");
    o
}

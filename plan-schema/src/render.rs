//! Rendering plans for people (text, Markdown for change tickets), machines (JSON) and Graphviz.

use std::fmt::Write as _;

use serde_json::json;

use crate::kind::{Detail, DiffLine, Kind, KindAction, KindPhase};
use crate::plan::{AnyPlan, Finding, Plan, Severity, Step};

/// Version of the JSON document `show --format json` prints.
pub const SHOW_JSON_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text { color: bool },
    Markdown,
    Json,
}

/// Render a plan of any kind for review.
pub fn show_any(plan: &AnyPlan, format: Format) -> String {
    crate::with_plan!(plan, p => show(p, format))
}

/// The step graph of a plan of any kind, in DOT.
pub fn dot_any(plan: &AnyPlan) -> String {
    crate::with_plan!(plan, p => dot(p))
}

/// Render a plan for review.
pub fn show<K: Kind>(plan: &Plan<K>, format: Format) -> String {
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

/// One-line description of a step.
pub fn describe<K: Kind>(step: &Step<K>) -> String {
    step.action.describe()
}

fn finding_counts<K: Kind>(plan: &Plan<K>) -> String {
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

fn verdict<K: Kind>(plan: &Plan<K>) -> &'static str {
    if plan.is_applicable() {
        "can be applied"
    } else {
        "cannot be applied until the error findings are resolved"
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

    fn render<K: Kind>(&self, plan: &Plan<K>) -> String {
        let mut o = String::new();
        let h = &plan.header;
        let _ = writeln!(o, "{} {}", self.paint("1", "Plan"), plan.plan_id);
        let _ = writeln!(o, "  kind         {}", h.kind.as_str());
        for (label, value) in K::header_rows(plan) {
            let _ = writeln!(o, "  {label:<12} {value}");
        }
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
        let width = K::Phase::ALL
            .iter()
            .map(|p| p.as_str().len())
            .max()
            .unwrap_or(0)
            .max(9);
        for &phase in K::Phase::ALL {
            let _ = writeln!(
                o,
                "  {:<width$} {}",
                phase.as_str(),
                K::phase_summary(&plan.summary.changes, phase)
            );
        }
        let _ = writeln!(o, "  {:<width$} {}", "findings", finding_counts(plan));
        let v = verdict(plan);
        let v = if plan.is_applicable() {
            self.paint("32", v)
        } else {
            self.paint("1;31", v)
        };
        let _ = writeln!(o, "  {:<width$} {v}", "verdict");

        if !plan.findings.is_empty() {
            let _ = writeln!(o, "\n{}", self.paint("1", "Findings"));
            for f in &plan.findings {
                self.finding(&mut o, f);
            }
        }

        for &phase in K::Phase::ALL {
            let steps: Vec<&Step<K>> = plan.steps.iter().filter(|s| s.phase == phase).collect();
            if steps.is_empty() {
                continue;
            }
            let title = format!("Phase {}: {}", phase.as_str(), phase.title());
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

    fn step<K: Kind>(&self, o: &mut String, step: &Step<K>) {
        let _ = writeln!(o, "  {}  {}", self.paint("1", &step.id), describe(step));
        if !step.depends_on.is_empty() {
            let _ = writeln!(o, "      after: {}", step.depends_on.join(", "));
        }
        if let Some(r) = step.action.reason() {
            let _ = writeln!(o, "      why: {r}");
        }
        for detail in step.action.details() {
            match detail {
                Detail::Object {
                    resource_type,
                    display_name,
                    id,
                    target,
                    note,
                } => {
                    let note = if note.is_empty() {
                        note
                    } else {
                        format!("    [{note}]")
                    };
                    let _ = writeln!(
                        o,
                        "      {resource_type} \"{display_name}\" {id} -> {target}{note}"
                    );
                }
                Detail::Diff { title, lines } => {
                    let _ = writeln!(o, "      {title}:");
                    for line in &lines {
                        self.diff_line(o, line);
                    }
                }
                Detail::Note(text) => {
                    let _ = writeln!(o, "      {text}");
                }
            }
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
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn markdown<K: Kind>(plan: &Plan<K>) -> String {
    let mut o = String::new();
    let h = &plan.header;
    let _ = writeln!(
        o,
        "## nsx-migrate plan: {} `{}`\n",
        h.kind.as_str(),
        plan.subject_name()
    );
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(o, "| Plan id | `{}` |", plan.plan_id);
    for (label, value) in K::header_rows(plan) {
        let _ = writeln!(o, "| {} | {} |", upper_first(label), md_escape(&value));
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
    for &phase in K::Phase::ALL {
        let _ = writeln!(
            o,
            "| {} | {} |",
            phase.as_str(),
            K::phase_summary(&plan.summary.changes, phase)
        );
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

    for &phase in K::Phase::ALL {
        let steps: Vec<&Step<K>> = plan.steps.iter().filter(|s| s.phase == phase).collect();
        if steps.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n### Phase `{}`: {}\n", phase.as_str(), phase.title());
        for step in steps {
            markdown_step(&mut o, step);
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

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn markdown_step<K: Kind>(o: &mut String, step: &Step<K>) {
    let _ = writeln!(o, "- **`{}`** {}", step.id, md_escape(&describe(step)));
    if !step.depends_on.is_empty() {
        let deps: Vec<String> = step.depends_on.iter().map(|d| format!("`{d}`")).collect();
        let _ = writeln!(o, "  - after {}", deps.join(", "));
    }
    if let Some(r) = step.action.reason() {
        let _ = writeln!(o, "  - why: {}", md_escape(r));
    }
    let details = step.action.details();
    let diffs: Vec<&Detail> = details
        .iter()
        .filter(|d| matches!(d, Detail::Diff { .. }))
        .collect();
    for d in &details {
        match d {
            Detail::Object {
                resource_type,
                display_name,
                id,
                target,
                note,
            } => {
                let note = if note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", md_escape(note))
                };
                let _ = writeln!(
                    o,
                    "  - {resource_type} \"{}\" `{id}` → `{target}`{note}",
                    md_escape(display_name)
                );
            }
            Detail::Note(text) => {
                let _ = writeln!(o, "  - {}", md_escape(text));
            }
            Detail::Diff { .. } => {}
        }
    }
    if diffs.is_empty() {
        return;
    }
    let _ = writeln!(o, "\n  ```diff");
    for d in diffs {
        let Detail::Diff { title, lines } = d else {
            continue;
        };
        let _ = writeln!(o, "  # {title}");
        for line in lines {
            match line {
                None => {
                    let _ = writeln!(o, "    ...");
                }
                Some((sign, text, rule)) => {
                    let rule = rule
                        .as_ref()
                        .map(|r| format!("    # rule {r}"))
                        .unwrap_or_default();
                    let _ = writeln!(o, "  {sign} {text}{rule}");
                }
            }
        }
    }
    let _ = writeln!(o, "  ```\n");
}

fn show_json<K: Kind>(plan: &Plan<K>) -> serde_json::Value {
    let phases: Vec<serde_json::Value> = K::Phase::ALL
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
                    for (key, value) in s.action.json_extra() {
                        v[key] = value;
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
        "target": plan.target,
        "requirements": plan.requirements,
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
pub fn dot<K: Kind>(plan: &Plan<K>) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "digraph plan {{");
    let _ = writeln!(
        o,
        "  label=\"{} {}\";",
        plan.header.kind.as_str(),
        dot_escape(&plan.subject_name())
    );
    let _ = writeln!(
        o,
        "  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];"
    );
    for &phase in K::Phase::ALL {
        let steps: Vec<&Step<K>> = plan.steps.iter().filter(|s| s.phase == phase).collect();
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

//! Rendering plans for people (text, Markdown for change tickets), machines (JSON) and Graphviz.

use std::fmt::Write as _;

use serde_json::json;

use std::collections::{HashMap, HashSet};

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

/// How much of the plan `show` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// The reviewer's view: header, inputs, summary, the changes counted per phase and type,
    /// every error and warning, info findings grouped per check where a check has more than
    /// a few (count, one message, the first objects), the changes per group, the departures
    /// from the defaults grouped with one example each, and only the steps a kind marks to be
    /// read one by one. Its length does not grow with the number of objects.
    #[default]
    Review,
    /// Every step and every object (what [`show`] prints).
    Full,
}

/// At most this many itemised steps per phase in the reviewer's view.
const MAX_ITEMS_PER_PHASE: usize = 25;
/// At most this many groups (largest first) in the reviewer's view.
const MAX_GROUPS: usize = 10;
/// At most this many classes of departures in the reviewer's view.
const MAX_DEPARTURE_CLASSES: usize = 30;
/// A check's info findings are listed one by one in the reviewer's view up to this many; more
/// are grouped (count, one message, this many objects named).
const MAX_INFOS_PER_CHECK: usize = 3;

/// A finding as the reviewer's view lists it: on its own, or a check's info findings grouped.
enum Listed<'a> {
    One(&'a Finding),
    Infos {
        check: &'a str,
        findings: Vec<&'a Finding>,
    },
}

/// Errors and warnings one by one, in plan order; a check's info findings grouped where it has
/// more than [`MAX_INFOS_PER_CHECK`], at the place of its first.
fn listed(findings: &[Finding]) -> Vec<Listed<'_>> {
    let mut infos: std::collections::HashMap<&str, Vec<&Finding>> =
        std::collections::HashMap::new();
    for f in findings.iter().filter(|f| f.severity == Severity::Info) {
        infos.entry(f.check.as_str()).or_default().push(f);
    }
    let mut out = Vec::new();
    for f in findings {
        if f.severity != Severity::Info {
            out.push(Listed::One(f));
            continue;
        }
        match infos.get_mut(f.check.as_str()) {
            // The whole group at its first finding; later ones are in it (taken: empty).
            Some(group) if group.len() > MAX_INFOS_PER_CHECK => out.push(Listed::Infos {
                check: &f.check,
                findings: std::mem::take(group),
            }),
            Some(group) if group.is_empty() => {}
            _ => out.push(Listed::One(f)),
        }
    }
    out
}

/// A finding's subject in a few words: type, id, name.
fn subject_words(f: &Finding) -> String {
    match &f.subject.display_name {
        Some(n) => format!("{} {} \"{n}\"", f.subject.resource_type, f.subject.id),
        None => format!("{} {}", f.subject.resource_type, f.subject.id),
    }
}

/// Render a plan of any kind for review: the complete listing.
pub fn show_any(plan: &AnyPlan, format: Format) -> String {
    crate::with_plan!(plan, p => show(p, format))
}

/// Render a plan of any kind in the given view. JSON is always the complete document.
pub fn show_any_view(plan: &AnyPlan, format: Format, view: View) -> String {
    crate::with_plan!(plan, p => show_view(p, format, view))
}

/// Render a plan in the given view. JSON is always the complete document.
pub fn show_view<K: Kind>(plan: &Plan<K>, format: Format, view: View) -> String {
    match (format, view) {
        (Format::Json, _) | (_, View::Full) => show(plan, format),
        (Format::Text { color }, View::Review) => Text { color }.review(plan),
        (Format::Markdown, View::Review) => markdown_review(plan),
    }
}

/// The step graph of a plan of any kind, in DOT.
pub fn dot_any(plan: &AnyPlan) -> String {
    crate::with_plan!(plan, p => dot(p))
}

/// Render a plan for review: the complete listing, every step and object.
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
        let mut o = self.head(plan);
        self.findings_all(&mut o, plan);
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

    /// Header, inputs and summary: what both views start with.
    fn head<K: Kind>(&self, plan: &Plan<K>) -> String {
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
            let width = plan
                .inputs
                .iter()
                .map(|i| i.name.len())
                .max()
                .unwrap_or(0)
                .max(11);
            for i in &plan.inputs {
                let objects = i
                    .objects
                    .map(|n| format!(", {n} objects"))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "  {:<width$} {} (sha256 {}{objects})",
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
        o
    }

    /// Every finding, one by one (the full view).
    fn findings_all<K: Kind>(&self, o: &mut String, plan: &Plan<K>) {
        if !plan.findings.is_empty() {
            let _ = writeln!(o, "\n{}", self.paint("1", "Findings"));
            for f in &plan.findings {
                self.finding(o, f);
            }
        }
    }

    /// Findings with numerous info findings grouped per check (the reviewer's view).
    fn findings_grouped<K: Kind>(&self, o: &mut String, plan: &Plan<K>) {
        if plan.findings.is_empty() {
            return;
        }
        let _ = writeln!(o, "\n{}", self.paint("1", "Findings"));
        for l in listed(&plan.findings) {
            match l {
                Listed::One(f) => self.finding(o, f),
                Listed::Infos { check, findings } => {
                    let _ = writeln!(
                        o,
                        "  {} {check}: {} findings, e.g. {}",
                        self.severity(Severity::Info),
                        thousands(findings.len() as u64),
                        findings[0].message
                    );
                    let first: Vec<String> = findings
                        .iter()
                        .take(MAX_INFOS_PER_CHECK)
                        .map(|f| subject_words(f))
                        .collect();
                    let _ = writeln!(o, "          first: {}", first.join(", "));
                    let _ = writeln!(o, "          remedy: {}", findings[0].remedy);
                    let _ = writeln!(
                        o,
                        "          ... {} more (every one: nsx-migrate show --full)",
                        thousands((findings.len() - first.len()) as u64)
                    );
                }
            }
        }
    }

    /// The reviewer's view (see [`View::Review`]).
    fn review<K: Kind>(&self, plan: &Plan<K>) -> String {
        let mut o = self.head(plan);
        let r = Review::of(plan);
        let (group_word, group_source) = K::group_label(plan);

        let _ = writeln!(o, "\n{}", self.paint("1", "Changes by phase and type"));
        let width = r
            .phases
            .iter()
            .flat_map(|p| p.types.iter().map(|t| t.what.len()))
            .max()
            .unwrap_or(0);
        for p in &r.phases {
            let _ = writeln!(o, "  {}: {}", p.phase.as_str(), p.phase.title());
            for t in &p.types {
                let _ = writeln!(o, "    {:<width$}  {}", t.what, t.counts(group_word));
            }
        }
        self.findings_grouped(&mut o, plan);

        let g = &r.groups;
        if !g.counts.is_empty() {
            let _ = writeln!(
                o,
                "\n{}",
                self.paint("1", &format!("Objects per {group_word} ({group_source})"))
            );
            let _ = writeln!(o, "  {}", g.overview(group_word));
            let width = g.shown().iter().map(|(n, _)| n.len()).max().unwrap_or(0);
            for (name, n) in g.shown() {
                let _ = writeln!(o, "    {name:<width$}  {}", thousands(*n));
            }
            if g.counts.len() > MAX_GROUPS {
                let _ = writeln!(
                    o,
                    "    ... {} more",
                    thousands((g.counts.len() - MAX_GROUPS) as u64)
                );
            }
        }
        if g.ungrouped > 0 {
            if g.counts.is_empty() {
                let _ = writeln!(
                    o,
                    "\n{}",
                    self.paint("1", &format!("Objects per {group_word} ({group_source})"))
                );
            }
            let _ = writeln!(o, "  {}", g.ungrouped_line(group_word));
        }

        if !r.departures.is_empty() {
            let _ = writeln!(o, "\n{}", self.paint("1", &r.departures_title()));
            for d in r.departures.iter().take(MAX_DEPARTURE_CLASSES) {
                let _ = writeln!(o, "  {:>7}  {}", thousands(d.count), d.class);
                let _ = writeln!(o, "           e.g. {}: {}", d.step, d.example);
            }
            if r.departures.len() > MAX_DEPARTURE_CLASSES {
                let _ = writeln!(
                    o,
                    "  ... {} more kinds of departure",
                    r.departures.len() - MAX_DEPARTURE_CLASSES
                );
            }
        }

        for p in r.phases.iter().filter(|p| !p.items.is_empty()) {
            let title = format!("Phase {}: steps to read one by one", p.phase.as_str());
            let _ = writeln!(o, "\n{}", self.paint("1", &title));
            for step in &p.items {
                self.step(&mut o, step);
            }
            if p.items_left > 0 {
                let _ = writeln!(o, "  ... {} more step(s) like these", p.items_left);
            }
        }
        let _ = writeln!(
            o,
            "\nEvery step and object: nsx-migrate show --full (or --format json)."
        );
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
    let mut o = markdown_head(plan);
    markdown_findings_all(&mut o, plan);
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
    markdown_rules(&mut o, plan);
    o
}

fn markdown_rules<K: Kind>(o: &mut String, plan: &Plan<K>) {
    if !plan.rules.is_empty() {
        let _ = writeln!(o, "\n### Rules used\n\n| Rule | What it does |\n|---|---|");
        for r in &plan.rules {
            let _ = writeln!(o, "| `{}` | {} |", r.id, md_escape(&r.description));
        }
    }
}

/// The reviewer's view in Markdown (see [`View::Review`]).
fn markdown_review<K: Kind>(plan: &Plan<K>) -> String {
    let mut o = markdown_head(plan);
    let r = Review::of(plan);
    let (group_word, group_source) = K::group_label(plan);

    let _ = writeln!(
        o,
        "\n### Changes by phase and type\n\n| Phase | Type | Objects | Steps | {}s |\n|---|---|---:|---:|---:|",
        upper_first(group_word)
    );
    for p in &r.phases {
        for t in &p.types {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                p.phase.as_str(),
                md_escape(&t.what),
                thousands(t.objects),
                thousands(t.steps),
                if t.groups == 0 {
                    "-".to_string()
                } else {
                    thousands(t.groups as u64)
                }
            );
        }
    }

    markdown_findings_grouped(&mut o, plan);

    let g = &r.groups;
    if !g.counts.is_empty() || g.ungrouped > 0 {
        let _ = writeln!(
            o,
            "\n### Objects per {group_word} ({})\n",
            md_escape(group_source)
        );
    }
    if !g.counts.is_empty() {
        let _ = writeln!(o, "{}\n", md_escape(&g.overview(group_word)));
        let _ = writeln!(o, "| {} | Objects |\n|---|---:|", upper_first(group_word));
        for (name, n) in g.shown() {
            let _ = writeln!(o, "| `{}` | {} |", md_escape(name), thousands(*n));
        }
        if g.counts.len() > MAX_GROUPS {
            let _ = writeln!(
                o,
                "| ... {} more | |",
                thousands((g.counts.len() - MAX_GROUPS) as u64)
            );
        }
    }
    if g.ungrouped > 0 {
        let _ = writeln!(o, "\n{}", md_escape(&g.ungrouped_line(group_word)));
    }

    if !r.departures.is_empty() {
        let _ = writeln!(
            o,
            "\n### {}\n\n| Changes | What | Example |\n|---:|---|---|",
            r.departures_title()
        );
        for d in r.departures.iter().take(MAX_DEPARTURE_CLASSES) {
            let _ = writeln!(
                o,
                "| {} | {} | `{}`: {} |",
                thousands(d.count),
                md_escape(&d.class),
                d.step,
                md_escape(&d.example.replace(" -> ", " → "))
            );
        }
        if r.departures.len() > MAX_DEPARTURE_CLASSES {
            let _ = writeln!(
                o,
                "\n... {} more kinds of departure.",
                r.departures.len() - MAX_DEPARTURE_CLASSES
            );
        }
    }

    for p in r.phases.iter().filter(|p| !p.items.is_empty()) {
        let _ = writeln!(
            o,
            "\n### Phase `{}`: steps to read one by one\n",
            p.phase.as_str()
        );
        for step in &p.items {
            markdown_step(&mut o, step);
        }
        if p.items_left > 0 {
            let _ = writeln!(o, "- ... {} more step(s) like these", p.items_left);
        }
    }
    markdown_rules(&mut o, plan);
    let _ = writeln!(
        o,
        "\n_Every step and object: `nsx-migrate show --full` (or `--format json`)._"
    );
    o
}

/// Header, inputs and summary in Markdown: what both views start with.
fn markdown_head<K: Kind>(plan: &Plan<K>) -> String {
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
    o
}

const MD_FINDINGS_HEAD: &str = "\n### Findings\n\n| Severity | Id | Check | Subject | Message | Remedy |\n|---|---|---|---|---|---|";

fn markdown_finding(o: &mut String, f: &Finding) {
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

/// Every finding, one row each (the full view).
fn markdown_findings_all<K: Kind>(o: &mut String, plan: &Plan<K>) {
    if !plan.findings.is_empty() {
        let _ = writeln!(o, "{MD_FINDINGS_HEAD}");
        for f in &plan.findings {
            markdown_finding(o, f);
        }
    }
}

/// Findings with numerous info findings grouped per check, in a table of their own (the
/// reviewer's view).
fn markdown_findings_grouped<K: Kind>(o: &mut String, plan: &Plan<K>) {
    let listed = listed(&plan.findings);
    let (ones, groups): (Vec<_>, Vec<_>) = listed
        .into_iter()
        .partition(|l| matches!(l, Listed::One(_)));
    if !ones.is_empty() {
        let _ = writeln!(o, "{MD_FINDINGS_HEAD}");
        for l in &ones {
            if let Listed::One(f) = l {
                markdown_finding(o, f);
            }
        }
    }
    if !groups.is_empty() {
        let _ = writeln!(
            o,
            "\n### Info findings by check\n\nEvery one: `nsx-migrate show --full`.\n\n| Check | Findings | For example | First objects | Remedy |\n|---|---:|---|---|---|"
        );
        for l in &groups {
            if let Listed::Infos { check, findings } = l {
                let first: Vec<String> = findings
                    .iter()
                    .take(MAX_INFOS_PER_CHECK)
                    .map(|f| subject_words(f))
                    .collect();
                let _ = writeln!(
                    o,
                    "| {check} | {} | {} | {} | {} |",
                    thousands(findings.len() as u64),
                    md_escape(&findings[0].message),
                    md_escape(&first.join(", ")),
                    md_escape(&findings[0].remedy)
                );
            }
        }
    }
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

/// What the reviewer's view says about the steps, gathered in one pass over the plan.
struct Review<'a, K: Kind> {
    phases: Vec<PhaseReview<'a, K>>,
    groups: Groups,
    departures: Vec<DepartureClass>,
}

struct PhaseReview<'a, K: Kind> {
    phase: K::Phase,
    /// In the order the types first appear (the order the steps run).
    types: Vec<TypeCount>,
    items: Vec<&'a Step<K>>,
    items_left: usize,
}

struct TypeCount {
    what: String,
    objects: u64,
    steps: u64,
    /// Distinct groups the objects are in.
    groups: usize,
    group_names: HashSet<String>,
}

impl TypeCount {
    fn counts(&self, group_word: &str) -> String {
        let mut s = format!(
            "{} object{} in {} step{}",
            thousands(self.objects),
            plural(self.objects),
            thousands(self.steps),
            plural(self.steps)
        );
        if self.groups > 0 {
            let _ = write!(
                s,
                ", {} {group_word}{}",
                thousands(self.groups as u64),
                plural(self.groups as u64)
            );
        }
        s
    }
}

/// Objects per group, largest first, and the objects in none.
struct Groups {
    counts: Vec<(String, u64)>,
    ungrouped: u64,
}

impl Groups {
    fn shown(&self) -> &[(String, u64)] {
        &self.counts[..self.counts.len().min(MAX_GROUPS)]
    }

    fn overview(&self, word: &str) -> String {
        let n = self.counts.len() as u64;
        let max = self.counts.first().map(|c| c.1).unwrap_or(0);
        let min = self.counts.last().map(|c| c.1).unwrap_or(0);
        let total: u64 = self.counts.iter().map(|c| c.1).sum();
        let spread = if min == max {
            format!("{} object{} each", thousands(max), plural(max))
        } else {
            format!("{} to {} objects each", thousands(min), thousands(max))
        };
        let head = if self.counts.len() > MAX_GROUPS {
            format!("; the {MAX_GROUPS} largest:")
        } else {
            ":".to_string()
        };
        format!(
            "{} object{} in {} {word}{}, {spread}{head}",
            thousands(total),
            plural(total),
            thousands(n),
            plural(n)
        )
    }

    fn ungrouped_line(&self, word: &str) -> String {
        format!(
            "{} object{} in no {word}: the plan names none for them",
            thousands(self.ungrouped),
            plural(self.ungrouped)
        )
    }
}

struct DepartureClass {
    class: String,
    count: u64,
    /// The first step that has one, and its example.
    step: String,
    example: String,
}

impl<K: Kind> Review<'_, K> {
    fn departures_title(&self) -> String {
        let total: u64 = self.departures.iter().map(|d| d.count).sum();
        let kinds = self.departures.len() as u64;
        format!(
            "Departures from the defaults ({} change{} of {} kind{}, one example each)",
            thousands(total),
            plural(total),
            thousands(kinds),
            plural(kinds)
        )
    }
}

impl<'a, K: Kind> Review<'a, K> {
    fn of(plan: &'a Plan<K>) -> Self {
        let mut phases: Vec<PhaseReview<'a, K>> = Vec::new();
        let mut group_counts: HashMap<String, u64> = HashMap::new();
        let mut ungrouped = 0;
        let mut departures: Vec<DepartureClass> = Vec::new();
        let mut departure_index: HashMap<String, usize> = HashMap::new();
        for &phase in K::Phase::ALL {
            let mut p = PhaseReview {
                phase,
                types: Vec::new(),
                items: Vec::new(),
                items_left: 0,
            };
            let mut type_index: HashMap<String, usize> = HashMap::new();
            for step in plan.steps.iter().filter(|s| s.phase == phase) {
                if step.action.itemised() {
                    if p.items.len() < MAX_ITEMS_PER_PHASE {
                        p.items.push(step);
                    } else {
                        p.items_left += 1;
                    }
                }
                let mut seen_in_step: HashSet<usize> = HashSet::new();
                for t in step.action.tally() {
                    let i = *type_index.entry(t.what.clone()).or_insert_with(|| {
                        p.types.push(TypeCount {
                            what: t.what.clone(),
                            objects: 0,
                            steps: 0,
                            groups: 0,
                            group_names: HashSet::new(),
                        });
                        p.types.len() - 1
                    });
                    let tc = &mut p.types[i];
                    tc.objects += t.objects;
                    if seen_in_step.insert(i) {
                        tc.steps += 1;
                    }
                    match t.group {
                        Some(g) => {
                            *group_counts.entry(g.clone()).or_default() += t.objects;
                            tc.group_names.insert(g);
                        }
                        None => ungrouped += t.objects,
                    }
                }
                for d in step.action.departures() {
                    match departure_index.get(&d.class) {
                        Some(&i) => departures[i].count += 1,
                        None => {
                            departure_index.insert(d.class.clone(), departures.len());
                            departures.push(DepartureClass {
                                class: d.class,
                                count: 1,
                                step: step.id.clone(),
                                example: d.example,
                            });
                        }
                    }
                }
            }
            for t in &mut p.types {
                t.groups = t.group_names.len();
                t.group_names = HashSet::new();
            }
            if !p.types.is_empty() {
                phases.push(p);
            }
        }
        let mut counts: Vec<(String, u64)> = group_counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Review {
            phases,
            groups: Groups { counts, ungrouped },
            departures,
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `98810` as `98,810`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

//! DFW layout: admin sections inside NCP's range and user rules inside NCP sections (NCP's
//! import prerequisites) become planned moves, each with a finding that says what changes.

use std::collections::{BTreeSet, HashMap};

use plan_schema::mp::{
    Action, DfwRuleMove, DfwSectionCreate, DfwSectionMove, InsertOp, Phase, SectionRef, Step,
};
use plan_schema::{Finding, Severity, Subject};

use crate::context::{Context, subject};
use crate::findings::{Findings, RulesUsed};
use crate::model::{FwRule, Kind, MpObject};
use crate::rules::Placement;

#[derive(Debug, Default, Clone)]
pub(crate) struct DfwPlan {
    pub steps: Vec<Step>,
    /// Errors about the sections in NCP's range.
    pub range_findings: Findings,
    /// What each planned move changes (each names its steps; kept as they are).
    pub move_findings: Findings,
    /// Rules that leave their NCP section before it is imported.
    pub moved_rules: BTreeSet<String>,
    /// Import sequence of each NCP section (1-based, DFW order).
    pub sequence: HashMap<String, usize>,
    /// NCP section id -> prepare steps that must be done before the section is imported.
    pub section_deps: HashMap<String, Vec<String>>,
    pub rules_used: RulesUsed,
}

/// A UUID's first group, or the whole id when it does not look like a UUID (`get` never splits
/// a character).
fn short(id: &str) -> &str {
    match (id.len(), id.get(..8), id.get(8..9)) {
        (36, Some(prefix), Some("-")) => prefix,
        _ => id,
    }
}

fn sref(o: &MpObject) -> SectionRef {
    SectionRef {
        id: Some(o.id.clone()),
        created_by: None,
        display_name: o.display_name.clone(),
    }
}

fn finding(
    check: &str,
    subj: Subject,
    message: String,
    remedy: &str,
    steps: Vec<String>,
) -> Finding {
    Finding {
        id: format!("{check}:{}", subj.id),
        severity: Severity::Warning,
        check: check.to_string(),
        subject: subj,
        message,
        remedy: remedy.to_string(),
        steps,
        code: None,
    }
}

pub(crate) fn analyse(ctx: &Context<'_>, placement_override: Option<Placement>) -> DfwPlan {
    let mut plan = DfwPlan::default();
    let mut moves: Vec<Finding> = Vec::new();
    let sections: Vec<&MpObject> = ctx
        .inv
        .objects
        .iter()
        .filter(|o| o.kind == Kind::FirewallSection)
        .collect();
    let ncp: Vec<usize> = sections
        .iter()
        .enumerate()
        .filter(|(_, s)| ctx.is_cluster_owned(s) && s.tag("ncp/fw_sect_marker").is_none())
        .map(|(i, _)| i)
        .collect();
    let (Some(&first), Some(&last)) = (ncp.first(), ncp.last()) else {
        return plan;
    };
    for (n, &i) in ncp.iter().enumerate() {
        plan.sequence.insert(sections[i].id.clone(), n + 1);
    }
    let marker = |which: &str| -> Option<usize> {
        let positions = sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.tag("ncp/fw_sect_marker") == Some(which))
            .map(|(i, _)| i);
        match which {
            "top" => positions.filter(|&i| i < first).max(),
            _ => positions.filter(|&i| i > last).min(),
        }
    };
    let top_anchor = sections[marker("top").unwrap_or(first)];
    let bottom_anchor = sections[marker("bottom").unwrap_or(last)];
    let global = placement_override.unwrap_or(ctx.rules.dfw.admin_sections);
    let spec_sections = ctx.spec.map(|c| c.dfw.sections.clone()).unwrap_or_default();
    let cluster_scope = ctx.rules.ncp.cluster_tag_scope.clone();

    // Admin sections inside the range.
    let mut below_anchor = bottom_anchor;
    let mut last_below_step: Option<String> = None;
    let mut last_above_step: Option<String> = None;
    for (i, &s) in sections.iter().enumerate().take(last).skip(first + 1) {
        if ctx.is_cluster_owned(s) || s.tag("ncp/fw_sect_marker").is_some() {
            continue;
        }
        if let Some(other) = s.tag(&cluster_scope) {
            plan.range_findings.add(
                Severity::Error,
                "dfw-other-cluster-in-range",
                subject(s),
                format!("Section \"{}\" of cluster {other} sits between sections of {}; the two clusters' DFW ranges interleave.", s.display_name, ctx.cluster),
                "Only one cluster is imported at a time: separate the clusters' section ranges first (move one cluster's sections with its markers), then plan again.",
            );
            continue;
        }
        if s.raw.get("is_default").and_then(|v| v.as_bool()) == Some(true) {
            continue;
        }
        let placement = spec_sections
            .get(&s.id)
            .or_else(|| spec_sections.get(&s.display_name))
            .copied()
            .unwrap_or(global);
        let prev = sections[i - 1];
        let next = sections[i + 1];
        let step_id = format!("prepare/move-section/{}", short(&s.id));
        let (op, anchor, deps, effect) = match placement {
            Placement::Below => {
                let a = below_anchor;
                below_anchor = s;
                let deps = last_below_step
                    .replace(step_id.clone())
                    .into_iter()
                    .collect();
                (
                    InsertOp::InsertAfter,
                    a,
                    deps,
                    format!("after all of NCP's sections (after \"{}\")", a.display_name),
                )
            }
            Placement::Above => {
                let deps = last_above_step
                    .replace(step_id.clone())
                    .into_iter()
                    .collect();
                (
                    InsertOp::InsertBefore,
                    top_anchor,
                    deps,
                    format!(
                        "before all of NCP's sections (before \"{}\")",
                        top_anchor.display_name
                    ),
                )
            }
        };
        let rule_id = match placement {
            Placement::Below => "dfw/admin-section-below-range",
            Placement::Above => "dfw/admin-section-above-range",
        };
        let description = match placement {
            Placement::Below => {
                "Admin sections found between NCP sections are moved just below NCP's range, keeping their relative order."
            }
            Placement::Above => {
                "Admin sections found between NCP sections are moved just above NCP's range, keeping their relative order."
            }
        };
        plan.rules_used.use_rule(rule_id, description);
        plan.steps.push(Step {
            id: step_id.clone(),
            phase: Phase::Prepare,
            depends_on: deps,
            action: Action::DfwSectionMove(DfwSectionMove {
                section: sref(s),
                revision: s.revision,
                operation: op,
                anchor: Some(sref(anchor)),
                reason: format!("Admin section between NCP sections of {} (NCP prerequisite: move it outside NCP's range); rule {rule_id}.", ctx.cluster),
            }),
        });
        moves.push(finding(
            "dfw-admin-section-in-ncp-range",
            subject(s),
            format!(
                "Admin section \"{}\" ({} rule(s)) sits between NCP sections \"{}\" and \"{}\". It will be moved {effect}, so its precedence relative to NCP's sections changes: traffic NCP's sections decide is no longer seen by its rules{}.",
                s.display_name,
                s.rules.len(),
                prev.display_name,
                next.display_name,
                if placement == Placement::Above { ", and its rules now win over NCP's" } else { "" }
            ),
            "Check that the section's rules still do their job at the new position, or recreate them in the Policy Environment category before the window; to keep it on the other side of NCP's range, set it under dfw.sections in the user spec.",
            vec![step_id],
        ));
    }

    // User rules inside NCP sections.
    let identities = ctx.rules.ncp.principal_identities.clone();
    let patterns = ctx.rules.dfw.np_rule_patterns.clone();
    let nps: BTreeSet<(String, String)> = ctx
        .inv
        .kube("networkpolicies")
        .iter()
        .map(|o| (o.namespace.clone().unwrap_or_default(), o.name.clone()))
        .collect();
    let explained = |s: &MpObject, r: &FwRule| -> bool {
        let (Some(ns), Some(np)) = (s.tag("ncp/project"), s.tag("ncp/network_policy")) else {
            return false;
        };
        if !nps.contains(&(ns.to_string(), np.to_string())) {
            return false;
        }
        patterns.iter().any(|p| {
            let p = p
                .replace("{cluster}", &ctx.cluster)
                .replace("{namespace}", ns)
                .replace("{policy}", np);
            r.display_name.starts_with(&p)
        })
    };
    let mut user_rules: Vec<(&MpObject, &FwRule)> = Vec::new();
    for &i in &ncp {
        let s = sections[i];
        for r in &s.rules {
            let ncp_author = r
                .create_user
                .as_deref()
                .is_some_and(|u| identities.iter().any(|x| x == u));
            if !ncp_author && !explained(s, r) {
                user_rules.push((s, r));
            }
        }
    }
    if !user_rules.is_empty() {
        let name = ctx
            .rules
            .dfw
            .admin_rules_section
            .replace("{cluster}", &ctx.cluster);
        let create_id = "prepare/create-section/admin-rules".to_string();
        let (op, anchor, deps) = match global {
            Placement::Below => (
                InsertOp::InsertAfter,
                below_anchor,
                last_below_step.clone().into_iter().collect(),
            ),
            Placement::Above => (
                InsertOp::InsertBefore,
                top_anchor,
                last_above_step.clone().into_iter().collect(),
            ),
        };
        plan.rules_used.use_rule(
            "dfw/user-rule-to-admin-section",
            "Rules that no NetworkPolicy explains and that NCP's principal identity did not write, found inside NCP sections, move to an admin section next to NCP's range.",
        );
        plan.steps.push(Step {
            id: create_id.clone(),
            phase: Phase::Prepare,
            depends_on: deps,
            action: Action::DfwSectionCreate(DfwSectionCreate {
                display_name: name.clone(),
                description: Some(format!("User rules moved out of NCP sections of {} by nsx-migrate before the Policy import.", ctx.cluster)),
                section_type: "LAYER3".into(),
                stateful: true,
                operation: op,
                anchor: Some(sref(anchor)),
                reason: "Receives the user rules found inside NCP sections, next to NCP's range.".into(),
            }),
        });
        let mut prev_move: Option<String> = None;
        for (s, r) in user_rules {
            let step_id = format!("prepare/move-rule/{}", r.id);
            let mut deps = vec![create_id.clone()];
            deps.extend(prev_move.replace(step_id.clone()));
            plan.moved_rules.insert(r.id.clone());
            plan.section_deps
                .entry(s.id.clone())
                .or_default()
                .push(step_id.clone());
            plan.steps.push(Step {
                id: step_id.clone(),
                phase: Phase::Prepare,
                depends_on: deps,
                action: Action::DfwRuleMove(DfwRuleMove {
                    rule_id: r.id.clone(),
                    display_name: r.display_name.clone(),
                    from_section: sref(s),
                    from_section_revision: s.revision,
                    to_section: SectionRef { id: None, created_by: Some(create_id.clone()), display_name: name.clone() },
                    operation: InsertOp::InsertBottom,
                    anchor_rule: None,
                    reason: "User rule inside an NCP section (NCP prerequisite: move it out); rule dfw/user-rule-to-admin-section.".into(),
                }),
            });
            let author = r
                .create_user
                .clone()
                .unwrap_or_else(|| "an unknown user".into());
            moves.push(finding(
                "dfw-user-rule-in-ncp-section",
                Subject { resource_type: "FirewallRule".into(), id: r.id.clone(), display_name: Some(r.display_name.clone()) },
                format!(
                    "Rule {} \"{}\" in NCP section \"{}\" was written by {author} and no NetworkPolicy explains it. It will move to the new admin section \"{name}\" {}, so it is evaluated {} NCP's sections instead of inside one.",
                    r.id,
                    r.display_name,
                    s.display_name,
                    match global { Placement::Below => "below NCP's range", Placement::Above => "above NCP's range" },
                    match global { Placement::Below => "after", Placement::Above => "before" },
                ),
                "Confirm the rule is still wanted; if it was temporary, delete it before the window instead.",
                vec![create_id.clone(), step_id],
            ));
        }
    }
    plan.move_findings = Findings::verbatim(moves);
    plan
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn short_ids_never_split_a_character() {
        assert_eq!(short("34bde85b-42a6-4cd2-b214-3c59e9b27c69"), "34bde85b");
        // 36 bytes with byte 8 inside "é", and with a multi-byte character before a '-'.
        assert_eq!(
            short("1d45595é2b38-40cf-a2b4-67be13dc085a"),
            "1d45595é2b38-40cf-a2b4-67be13dc085a"
        );
        assert_eq!(short("1d4559é-2b38-40cf-a2b4-67be13dc085a"), "1d4559é");
        assert_eq!(short("section-1"), "section-1");
    }
}

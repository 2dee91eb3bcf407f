//! Tag and display_name changes on the imported Policy objects (the seeds' phase 3, done at plan
//! time so the reviewer sees every change), as `policy_update` steps.

use std::collections::HashMap;

use plan_schema::Severity;
use plan_schema::mp::{
    Action, DisplayNameChange, MigrationType, Phase, PolicyUpdate, Step, TagChange,
};

use crate::context::{Context, subject};
use crate::findings::{Findings, RulesUsed};
use crate::mapping::policy_resource_type;
use crate::requests::Entry;
use crate::rules::RenameValue;

/// What the update stage produces.
pub(crate) struct Updates {
    pub steps: Vec<Step>,
    pub findings: Findings,
    pub rules_used: RulesUsed,
}

fn index_suffix(name: &str) -> String {
    match name.rsplit_once('-') {
        Some((_, n)) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => n.to_string(),
        _ => "0".to_string(),
    }
}

pub(crate) fn plan_updates(ctx: &Context<'_>, entries: &[Entry], import_steps: &[Step]) -> Updates {
    let mut findings = Findings::new();
    let mut rules_used = RulesUsed::default();
    // Which import step imports each manager id (of a regular, non-router-config entry).
    let mut step_of: HashMap<&str, &str> = HashMap::new();
    for s in import_steps {
        if let Action::ImportBatch(b) = &s.action {
            for r in &b.resources {
                if r.policy_path.is_some() {
                    step_of.insert(r.manager_id.as_str(), s.id.as_str());
                }
            }
        }
    }
    // Manager id -> Policy id, for tag values that name another object.
    let mut pid_of: HashMap<String, String> = HashMap::new();
    for e in entries {
        if let (Some(pid), Some(_)) = (&e.resource.policy_id, &e.resource.policy_path) {
            pid_of.insert(e.resource.manager_id.clone(), pid.clone());
        }
    }
    for o in &ctx.inv.objects {
        if let Some(path) = o.tag("policyPath") {
            pid_of
                .entry(o.id.clone())
                .or_insert_with(|| path.rsplit('/').next().unwrap_or(&o.id).to_string());
        }
    }

    let tag_rules = &ctx.rules.tag_rules;
    let name_rules = &ctx.rules.display_name_rules;
    let mut steps = Vec::new();
    for e in entries {
        let (Some(oi), Some(path), false) = (e.object, e.resource.policy_path.clone(), e.shared)
        else {
            continue;
        };
        if matches!(
            e.mtype,
            MigrationType::Tier1LogicalRouterPort
                | MigrationType::Tier0LogicalRouterPort
                | MigrationType::Tier0LogicalRouterConfig
        ) {
            continue;
        }
        let o = ctx.obj(oi);
        let mut update = PolicyUpdate {
            path,
            resource_type: policy_resource_type(e.mtype).to_string(),
            manager_id: Some(o.id.clone()),
            tags_before: o.tags.clone(),
            tags_remove: Vec::new(),
            tags_add: Vec::new(),
            display_name: None,
        };
        for rule in tag_rules {
            if !rule
                .resource_types
                .iter()
                .any(|t| t == &o.resource_type || t == o.kind.as_str())
            {
                continue;
            }
            let old: Vec<_> = o
                .tags
                .iter()
                .filter(|t| t.scope == rule.rename.from)
                .cloned()
                .collect();
            for t in old {
                let value = match rule.rename.value {
                    RenameValue::Same => Some(t.tag.clone()),
                    RenameValue::PolicyId => pid_of.get(&t.tag).cloned(),
                };
                let Some(value) = value else {
                    findings.add(
                        Severity::Error,
                        "tag-not-inferable",
                        subject(o),
                        format!(
                            "Rule {} needs the Policy id of {} (tag {}) but that object is neither imported by this plan nor in Policy; the tag cannot be inferred (seed phase 3).",
                            rule.id, t.tag, t.scope
                        ),
                        "Add the referenced object to the user spec's shared resources, or run NCP in Manager mode until idle (at least 10 minutes) and collect again.",
                    );
                    continue;
                };
                rules_used.use_rule(&rule.id, &rule.description);
                update.tags_remove.push(TagChange {
                    scope: t.scope.clone(),
                    tag: t.tag.clone(),
                    rule: rule.id.clone(),
                });
                if !update
                    .tags_before
                    .iter()
                    .any(|b| b.scope == rule.rename.to && b.tag == value)
                {
                    update.tags_add.push(TagChange {
                        scope: rule.rename.to.clone(),
                        tag: value,
                        rule: rule.id.clone(),
                    });
                }
            }
        }
        for rule in name_rules {
            if !rule
                .resource_types
                .iter()
                .any(|t| t == &o.resource_type || t == o.kind.as_str())
            {
                continue;
            }
            if rule.requires_tags.iter().any(|s| o.tag(s).is_none()) {
                continue;
            }
            let mut name = rule
                .template
                .replace("{display_name}", &o.display_name)
                .replace("{cluster}", &ctx.cluster)
                .replace("{index}", &index_suffix(&o.display_name));
            for t in &o.tags {
                name = name.replace(&format!("{{tag:{}}}", t.scope), &t.tag);
            }
            if name.contains('{') {
                findings.add(
                    Severity::Error,
                    "display-name-not-inferable",
                    subject(o),
                    format!("Rule {} leaves \"{name}\" unfilled for \"{}\" (a tag it names is missing).", rule.id, o.display_name),
                    "Fix the rule's template or requires_tags in the rules file.",
                );
                continue;
            }
            if name != o.display_name {
                rules_used.use_rule(&rule.id, &rule.description);
                update.display_name = Some(DisplayNameChange {
                    from: o.display_name.clone(),
                    to: name,
                    rule: rule.id.clone(),
                });
            }
        }
        if update.tags_add.is_empty()
            && update.tags_remove.is_empty()
            && update.display_name.is_none()
        {
            continue;
        }
        let kind = update
            .path
            .trim_start_matches("/infra/")
            .split('/')
            .next()
            .unwrap_or("object")
            .trim_end_matches('s')
            .to_string();
        // A UUID's first group; `get` keeps a 36-byte id whole when byte 8 is inside a character.
        let short = match o.id.get(..8) {
            Some(prefix) if o.id.len() == 36 => prefix,
            _ => o.id.as_str(),
        };
        let mut id = format!("update/{kind}/{short}");
        if steps.iter().any(|s: &Step| s.id == id) {
            id = format!("update/{kind}/{}", o.id);
        }
        let depends_on = step_of
            .get(o.id.as_str())
            .map(|s| vec![s.to_string()])
            .unwrap_or_default();
        steps.push(Step {
            id,
            phase: Phase::Update,
            depends_on,
            action: Action::PolicyUpdate(update),
        });
    }
    Updates {
        steps,
        findings,
        rules_used,
    }
}

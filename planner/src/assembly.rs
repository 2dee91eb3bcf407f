//! Assembly: the stages' findings, rules and steps put into a [`Plan`] with its header and inputs,
//! normalised, summarised, sealed and checked.

use plan_schema::mp::{Counters, Plan, Requirements, Step, Target};
use plan_schema::{FORMAT_VERSION, Header, Input, MigrationKind, Summary};

use crate::context::{PlanInputs, PlanOptions, manager_name};
use crate::error::PlanError;
use crate::findings::{Findings, RulesUsed};
use crate::userspec::ClusterSpec;

/// What the stages produced, in the order they ran.
pub(crate) struct Parts {
    /// Each stage's findings; a finding whose id an earlier one has is dropped.
    pub findings: Vec<Findings>,
    /// Each stage's rules; the first description of a rule id is kept.
    pub rules_used: Vec<RulesUsed>,
    pub steps: Vec<Step>,
}

pub(crate) fn assemble(
    inputs: &PlanInputs<'_>,
    opts: &PlanOptions,
    spec: Option<&ClusterSpec>,
    parts: Parts,
) -> Result<Plan, PlanError> {
    let inv = inputs.inventory;
    let meta = inv.metadata.as_ref();
    let mut inputs_list = vec![
        Input {
            name: "nsx".into(),
            source: format!("{}/nsx", inputs.inventory_source),
            sha256: inv.nsx_fingerprint.clone(),
            objects: Some(inv.nsx_count),
        },
        Input {
            name: "kubernetes".into(),
            source: format!("{}/k8s", inputs.inventory_source),
            sha256: inv.kube_fingerprint.clone(),
            objects: Some(inv.kube_count),
        },
    ];
    if inv.cf.is_some() {
        inputs_list.push(Input {
            name: "cloud-foundry".into(),
            source: format!("{}/cf", inputs.inventory_source),
            sha256: inv.cf_fingerprint.clone(),
            objects: Some(inv.cf_count),
        });
    }
    if let Some(s) = &inputs.user_spec {
        inputs_list.push(Input {
            name: "user-spec".into(),
            source: s.source.clone(),
            sha256: s.sha256.clone(),
            objects: None,
        });
    }
    if let Some((source, sha)) = &inputs.rules_source {
        inputs_list.push(Input {
            name: "rules".into(),
            source: source.clone(),
            sha256: sha.clone(),
            objects: None,
        });
    }
    let mut all = Findings::new();
    for f in parts.findings {
        all.append(f);
    }
    let mut findings = all.into_vec();
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.check.cmp(&b.check))
            .then(a.id.cmp(&b.id))
    });
    let mut rules = RulesUsed::default();
    for r in parts.rules_used {
        rules.append(r);
    }
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        plan_id: String::new(),
        header: Header {
            kind: MigrationKind::MpToPolicy,
            created_at: opts.created_at.clone(),
            tool_version: opts.tool_version.clone(),
        },
        target: Target {
            cluster: opts.cluster.clone(),
            nsx_manager: manager_name(meta),
            nsx_version: meta.and_then(|m| m.nsx_version.clone()),
            ncp_version: spec.and_then(|c| c.ncp_version.clone()),
        },
        requirements: Requirements {
            min_nsx_version: inputs.rules.ncp.min_nsx_version.clone(),
            coordinator_running: true,
            controller_pods: inputs.rules.controller_pods(),
        },
        inputs: inputs_list,
        summary: Summary::<Counters>::default(),
        rules: rules.into_refs(),
        findings,
        steps: parts.steps,
    };
    plan_schema::write::normalize(&mut plan);
    plan.summary = plan.computed_summary();
    plan_schema::seal(&mut plan);
    let problems = plan_schema::check::check_plan(&plan);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(PlanError::Invalid(text.join("; ")));
    }
    Ok(plan)
}

//! The VIO planning pipeline: snapshot + rules → prechecks (findings) → steps with their
//! dependencies (`steps`) → dependency order (`ordering`) → a sealed `Plan<VioV2t>` through the
//! shared envelope (inputs with fingerprints, rules applied, findings, summary).

use plan_schema::vio::{Plan, Requirements, Target};
use plan_schema::{FORMAT_VERSION, Header, Input, MigrationKind, RuleRef, Summary};

use crate::error::PlanError;
use crate::vio::rules::{StartRule, VioRules};
use crate::vio::snapshot::VioSnapshot;
use crate::vio::steps::{self, Switches};
use crate::vio::{checks, ordering};

/// What the caller decides about a VIO plan (everything else comes from the snapshot and rules).
#[derive(Debug, Clone)]
pub struct VioPlanOptions {
    /// RFC 3339 creation time (not covered by the seal).
    pub created_at: String,
    pub tool_version: String,
    /// The deployment's name; defaults to the snapshot's Kubernetes cluster, else `vio`.
    pub deployment: Option<String>,
    /// Where the rules came from and their sha256, when the operator gave a rules file.
    pub rules_source: Option<(String, String)>,
    /// How the inputs name the snapshot (default: its directory as given), so that the same
    /// snapshot read from two places gives the same plan.
    pub inventory_source: Option<String>,
}

fn start_word(s: StartRule) -> &'static str {
    match s {
        StartRule::Operator => "the operator (NSX UI)",
        StartRule::Apply => "apply",
    }
}

/// The sealed plan of the migration `snapshot` describes.
pub fn build_vio_plan(
    snapshot: &VioSnapshot,
    rules: &VioRules,
    opts: &VioPlanOptions,
) -> Result<Plan, PlanError> {
    let meta = &snapshot.metadata;
    let meta_path = snapshot.root.join("metadata.json");
    let need = |v: Option<&String>, field: &str| -> Result<String, PlanError> {
        v.filter(|s| !s.is_empty())
            .cloned()
            .ok_or_else(|| PlanError::Snapshot {
                path: meta_path.clone(),
                pointer: format!("/{field}"),
                message: "missing: the plan's target needs it".into(),
            })
    };
    let keystone = meta
        .openstack
        .as_ref()
        .and_then(|o| o.get("auth_url"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let target = Target {
        deployment: opts
            .deployment
            .clone()
            .or_else(|| {
                meta.kubernetes
                    .as_ref()
                    .and_then(|k| k.get("cluster"))
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| "vio".into()),
        keystone_url: need(keystone.as_ref(), "openstack/auth_url")?,
        nsxv_manager: need(meta.nsxv_manager.as_ref(), "nsxv_manager")?,
        nsx_manager: need(meta.nsx_manager.as_ref(), "nsx_manager")?,
        vcenter: need(meta.vcenter.as_ref(), "vcenter")?,
        nsxv_version: meta
            .nsxv_version
            .clone()
            .or_else(|| (!snapshot.nsxv.version.is_empty()).then(|| snapshot.nsxv.version.clone())),
        nsx_version: meta.nsx_version.clone(),
        vio_version: None,
    };
    let requirements = Requirements {
        min_nsxv_version: rules.versions.min_nsxv_version.clone(),
        min_nsx_version: rules.versions.min_nsx_version.clone(),
        coordinator_running: true,
        coordinator_mode_free: true,
        compute_manager: true,
        reconfig: Box::new(rules.reconfig.clone()),
        octavia: Box::new(rules.replay.octavia()),
    };

    let mut findings = checks::prechecks(snapshot, rules);
    let sw = Switches::new(snapshot, rules);
    let built = steps::build(snapshot, rules, &sw);
    findings.extend(built.findings);
    findings.sort_by(|a, b| (a.severity, &a.check, &a.id).cmp(&(b.severity, &b.check, &b.id)));
    findings.dedup_by(|a, b| a.id == b.id);
    let steps = ordering::order(built.nodes)?;
    // Findings name only steps the plan has.
    let ids: std::collections::HashSet<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    for f in &mut findings {
        f.steps.retain(|s| ids.contains(s.as_str()));
    }

    let mut inputs: Vec<Input> = snapshot.inputs();
    if let Some(source) = &opts.inventory_source {
        for i in &mut inputs {
            i.source = source.clone();
        }
    }
    if let Some((source, sha)) = &opts.rules_source {
        inputs.push(Input {
            name: "rules".into(),
            source: source.clone(),
            sha256: sha.clone(),
            objects: None,
        });
    }
    let p = &rules.plan;
    let on = |b: bool| if b { "on" } else { "off" };
    let rules_used = vec![
        RuleRef {
            id: "replay/keep-neutron-ids".into(),
            description: "Replayed objects keep their Neutron ids (except floating IPs, subnet pools and RBAC policies); Policy ids follow the Policy plugin's mapping: router = tier-1, network = segment, security group = group + policy.".into(),
        },
        RuleRef {
            id: "replay/order".into(),
            description: "Replay steps follow their objects' references (a dependency graph), ties broken by the migrator's order: quotas, security groups, rules, QoS, DLR transit networks, routers, subnet pools, external then internal networks, subnets (DHCP off), gateways, interfaces, ports, DHCP on, floating IPs, routes, FWaaS, Octavia (external VIPs first), RBAC.".into(),
        },
        RuleRef {
            id: "replay/batch-size".into(),
            description: format!(
                "A bulk create carries at most {} objects of one project (plan.replay_batch_size).",
                p.replay_batch_size
            ),
        },
        RuleRef {
            id: "migrator/switches".into(),
            description: format!(
                "edge_migration {}, host_migration {}, edge_migration_interfaces_down {}, post_migration_cleanup {}, rollback {}, nsxv_token_lifetime {} min (migrator.conf.json, else the rules' plan section).",
                on(sw.edge_migration),
                on(sw.host_migration),
                on(sw.interfaces_down),
                on(sw.post_cleanup),
                on(sw.rollback),
                sw.token_lifetime
            ),
        },
        RuleRef {
            id: "coordinator/runs".into(),
            description: format!(
                "The edge cutover is started by {} and waited on for up to {} h; the host migration by {}, up to {} h.",
                start_word(p.edge_cutover_start),
                p.edge_cutover_timeout_hours,
                start_word(p.host_migration_start),
                p.host_migration_timeout_hours
            ),
        },
        RuleRef {
            id: "coordinator/feedback".into(),
            description: format!(
                "{} pre-approved feedback answer(s); accept_recommended is {}: {}",
                p.feedback.len(),
                on(p.accept_recommended),
                if p.accept_recommended {
                    "any other request is answered with the coordinator's recommendation."
                } else {
                    "any other request stops apply with the list of unanswered requests."
                }
            ),
        },
    ];

    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        plan_id: String::new(),
        header: Header {
            kind: MigrationKind::VioV2t,
            created_at: opts.created_at.clone(),
            tool_version: opts.tool_version.clone(),
        },
        target,
        requirements,
        inputs,
        summary: Summary::default(),
        rules: rules_used,
        findings,
        steps,
    };
    plan_schema::write::normalize(&mut plan);
    plan.summary = plan.computed_summary();
    plan_schema::seal(&mut plan);
    let problems = plan_schema::check::check_plan(&plan);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().take(20).map(|p| p.to_string()).collect();
        return Err(PlanError::Invalid(text.join("; ")));
    }
    Ok(plan)
}

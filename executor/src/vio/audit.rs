//! `audit` of a vio-v2t plan: read-only (GETs to NSX, `kubectl get` of VIO's custom
//! resources). Per step:
//! - API replay (Neutron and Octavia steps alike: a load balancer's LB service, a listener's
//!   virtual server, a pool, a member's pool, a monitor profile, an L7 policy's virtual server):
//!   every Policy path the plan expects exists; a live object that carries tags
//!   carries the plan's project as `os-project-id` (the Policy plugin's tag, reference §1.3).
//! - VIO reconfiguration: the Neutron custom resource on the Policy plugin; the VIOSecret
//!   holding the NSX password (compared in memory) and referenced by the resource. An operator
//!   task (the database rename) cannot be read through any API: it is reported done when the
//!   resource is switched (apply records the operator's confirmation in its journal).
//! - Post-migration cleanup: nothing left of what it removes (after the switch only).
//! - The window's steps (stale cleanup, edge preparation, cutover, host migration) leave no
//!   state this audit reads back one by one: they are reported done once the Neutron custom
//!   resource is on the Policy plugin (the plan switches it only after them, and host migration
//!   cannot be undone), pending before; the coordinator's mode and status are shown as a note.

use std::collections::BTreeMap;

use client::{Kubectl, NsxClient, NsxConfig};
use plan_schema::vio::{Action, Plan, VioTask};
use serde_json::Value;

use crate::audit::{AuditReport, ObjectDrift, StepAudit, StepState};
use crate::error::ExecError;
use crate::vio::cleanup;
use crate::vio::reconfig::{self, NeutronCr};

pub async fn audit(
    plan: &Plan,
    nsx: &NsxConfig,
    kubectl: Option<&Kubectl>,
) -> Result<AuditReport, ExecError> {
    let client = NsxClient::new(nsx.clone()).map_err(|e| ExecError::Preflight(e.to_string()))?;
    let mut report = AuditReport {
        plan_id: plan.plan_id.clone(),
        ..Default::default()
    };
    report.notes.push(coordinator_note(&client).await);
    let cr: Option<NeutronCr> = match kubectl {
        Some(kc) => match reconfig::read_cr(kc, &plan.requirements.reconfig).await {
            Ok(cr) => Some(cr),
            Err(e) => {
                report.notes.push(format!("Neutron custom resource: {e}"));
                None
            }
        },
        None => {
            report.notes.push(
                "Neutron custom resource: not read (no kubeconfig: give --kubeconfig or KUBECONFIG)"
                    .into(),
            );
            None
        }
    };
    let mgr = plan.target.nsx_manager.as_str();
    let switched = cr.as_ref().is_some_and(|c| c.on_policy_plugin(mgr));
    if let Some(c) = &cr {
        report.notes.push(format!(
            "Neutron custom resource {}/{}: plugins on {:?}{}",
            c.namespace,
            c.name,
            c.plugins_on(),
            if switched {
                ", core plugin the NSX Policy plugin"
            } else {
                ""
            }
        ));
    }
    let window = if switched {
        "done (implied: the Neutron custom resource is on the Policy plugin, which the plan switches after this step)"
    } else {
        "pending (not read back one by one; done once the window has passed and the Neutron custom resource is switched)"
    };
    for s in &plan.steps {
        let (state, detail) = match &s.action {
            Action::ApiReplay(r) => {
                let mut present = 0usize;
                let mut missing = Vec::new();
                let mut total = 0usize;
                for o in &r.objects {
                    for p in &o.policy_paths {
                        total += 1;
                        match client.get(&format!("/policy/api/v1{p}")).await {
                            Ok(live) => {
                                present += 1;
                                if let Some(d) = tag_drift(&s.id, p, &r.project_id, &live) {
                                    report.drift.push(d);
                                }
                            }
                            Err(e) if e.is_not_found() => missing.push(p.clone()),
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                if total == 0 {
                    let state = if switched {
                        StepState::Done
                    } else {
                        StepState::Pending
                    };
                    report.steps.push(StepAudit {
                        step: s.id.clone(),
                        kind: s.action.kind_str().to_string(),
                        state,
                        detail: format!(
                            "no Policy path to read back ({}); {}",
                            r.call,
                            state.as_str()
                        ),
                    });
                    continue;
                }
                let state = if missing.is_empty() {
                    StepState::Done
                } else if present == 0 && !switched {
                    StepState::Pending
                } else {
                    StepState::Drifted
                };
                if state == StepState::Drifted {
                    for p in &missing {
                        report.drift.push(ObjectDrift {
                            step: s.id.clone(),
                            path: p.clone(),
                            resource_type: "policy object".into(),
                            missing: true,
                            tags_missing: Vec::new(),
                            tags_extra: Vec::new(),
                            display_name: None,
                        });
                    }
                }
                (
                    state,
                    format!("{present} of {total} Policy path(s) present ({})", r.call),
                )
            }
            Action::VioReconfig(v) => match (v.operator_task, v.task, &cr) {
                (_, _, None) => (
                    StepState::Pending,
                    "the Neutron custom resource was not read".to_string(),
                ),
                (true, _, Some(_)) if switched => (
                    StepState::Done,
                    format!(
                        "operator task ({}): not readable through an API; implied by the switched Neutron custom resource, confirmed in apply's journal",
                        v.description
                    ),
                ),
                (true, _, Some(_)) => (
                    StepState::Pending,
                    format!("operator task: {}", v.description),
                ),
                (false, VioTask::NeutronCr, Some(c)) => {
                    if switched {
                        (StepState::Done, "on the NSX Policy plugin".into())
                    } else {
                        (
                            StepState::Pending,
                            format!("plugins on {:?}", c.plugins_on()),
                        )
                    }
                }
                (false, VioTask::VioSecret, Some(c)) => {
                    let ok = match (&nsx.credentials, kubectl) {
                        (Some(cred), Some(kc)) => {
                            let holds = reconfig::secret_holds(
                                kc,
                                &c.names,
                                &c.namespace,
                                cred.password.expose(),
                            )
                            .await?;
                            holds == Some(true) && c.references_secret(&cred.username)
                        }
                        _ => false,
                    };
                    if ok {
                        (
                            StepState::Done,
                            format!(
                                "{}/{} holds this user's NSX password and the resource references it",
                                c.namespace, c.names.secret_name
                            ),
                        )
                    } else {
                        (
                            StepState::Pending,
                            format!(
                                "{}/{} does not hold this user's NSX password, or the resource does not reference it",
                                c.namespace, c.names.secret_name
                            ),
                        )
                    }
                }
                (false, VioTask::DatabaseRename, Some(_)) => (
                    StepState::Pending,
                    "a database rename is an operator task".into(),
                ),
            },
            Action::PostCleanup(c) => {
                if !switched {
                    (
                        StepState::Pending,
                        "runs after the VIO reconfiguration".to_string(),
                    )
                } else {
                    match cleanup::left(&client, cr.as_ref(), c.remove).await? {
                        Some(0) => (StepState::Done, "nothing left to remove".into()),
                        Some(n) => (StepState::Pending, format!("{n} left to remove")),
                        None => (
                            StepState::Pending,
                            "the Neutron custom resource was not read".into(),
                        ),
                    }
                }
            }
            _ => (
                if switched {
                    StepState::Done
                } else {
                    StepState::Pending
                },
                window.to_string(),
            ),
        };
        report.steps.push(StepAudit {
            step: s.id.clone(),
            kind: s.action.kind_str().to_string(),
            state,
            detail,
        });
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for a in &report.steps {
        *counts.entry(a.state.as_str().to_string()).or_default() += 1;
    }
    report.counts = counts;
    Ok(report)
}

/// A live object with tags lacks the plan's project as `os-project-id`. The FWaaS driver's
/// per-network group of a router firewall carries only `os-router-firewall` (vmware-nsx
/// `fwaas_callbacks_v2.py` `_create_network_group`): no project tag is expected there.
fn tag_drift(step: &str, path: &str, project: &str, live: &Value) -> Option<ObjectDrift> {
    let tags = live.get("tags").and_then(Value::as_array)?;
    if tags.is_empty() || tags.iter().all(|t| t["scope"] == "os-router-firewall") {
        return None;
    }
    let ok = tags
        .iter()
        .any(|t| t["scope"] == "os-project-id" && t["tag"] == project);
    (!ok).then(|| ObjectDrift {
        step: step.to_string(),
        path: path.to_string(),
        resource_type: live
            .get("resource_type")
            .and_then(Value::as_str)
            .unwrap_or("policy object")
            .to_string(),
        missing: false,
        tags_missing: vec![format!("os-project-id={project}")],
        tags_extra: Vec::new(),
        display_name: None,
    })
}

/// The coordinator's mode and overall status, as one line.
async fn coordinator_note(nsx: &NsxClient) -> String {
    let mode = match nsx.get("/api/v1/migration/setup").await {
        Ok(v) => v
            .get("migration_mode")
            .and_then(Value::as_str)
            .unwrap_or("none")
            .to_string(),
        Err(e) => format!("unreadable ({e})"),
    };
    let status = match nsx.get("/api/v1/migration/status-summary").await {
        Ok(v) => v
            .get("overall_migration_status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string(),
        Err(e) => format!("unreadable ({e})"),
    };
    format!("migration coordinator: mode {mode}, overall status {status}")
}

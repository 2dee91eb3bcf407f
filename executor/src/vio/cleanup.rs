//! The post-migration cleanup phase (the open-source `nsxadmin -r nsx-migrate-v2t -o clean-all`
//! and the removal of `api_replay_mode`, reference vio-v2t.md §2 and anchors §3.2): the DFW
//! security policies of domain `default` tagged with scope `v_origin` (the sections the
//! coordinator migrated), the segment ports without an `os-api-version` tag on Neutron's
//! segments (those carrying that tag: the ports the coordinator made), and `api_replay_mode`
//! in the Neutron custom resource's `[DEFAULT]`.
//!
//! Each step first reads what is there (read-only); a step with nothing left to remove is
//! journaled as done without sending anything, so a re-run or a resumed run sends nothing
//! twice. Each removal is a write-ahead journaled DELETE (or merge patch), and the step reads
//! the state back before it is journaled as done.

use std::sync::Arc;

use client::NsxClient;
use plan_schema::KindPhase;
use plan_schema::vio::{Action, CleanupTarget, Phase, Plan, Step};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::Flow;
use crate::observe::Stage;
use crate::progress::STEP_OP;
use crate::vio::reconfig::{self, NeutronCr};

/// The tag scope of the DFW sections the coordinator migrated.
pub const V_ORIGIN: &str = "v_origin";
/// The tag scope marking what Neutron owns.
pub const OS_API_VERSION: &str = "os-api-version";
const POLICIES: &str = "/policy/api/v1/infra/domains/default/security-policies";
const SEGMENTS: &str = "/policy/api/v1/infra/segments";

fn has_scope(o: &Value, scope: &str) -> bool {
    o.get("tags")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t["scope"] == scope))
}

fn id(o: &Value) -> Option<&str> {
    o.get("id").and_then(Value::as_str)
}

/// The Policy paths (under `/policy/api/v1`) of the DFW policies tagged `v_origin`.
pub async fn v_origin_policies(nsx: &NsxClient) -> Result<Vec<String>, ExecError> {
    Ok(nsx
        .list_all(POLICIES)
        .await?
        .iter()
        .filter(|p| has_scope(p, V_ORIGIN))
        .filter_map(|p| Some(format!("{POLICIES}/{}", id(p)?)))
        .collect())
}

/// The Policy paths (under `/policy/api/v1`) of the ports without `os-api-version` on the
/// segments that carry it.
pub async fn non_neutron_ports(nsx: &NsxClient) -> Result<Vec<String>, ExecError> {
    let mut out = Vec::new();
    for seg in nsx.list_all(SEGMENTS).await? {
        if !has_scope(&seg, OS_API_VERSION) {
            continue;
        }
        let Some(sid) = id(&seg) else { continue };
        let ports = format!("{SEGMENTS}/{sid}/ports");
        for p in nsx.list_all(&ports).await? {
            if !has_scope(&p, OS_API_VERSION)
                && let Some(pid) = id(&p)
            {
                out.push(format!("{ports}/{pid}"));
            }
        }
    }
    Ok(out)
}

/// Whether the Neutron custom resource still sets `api_replay_mode`.
pub fn replay_mode_set(cr: &NeutronCr) -> bool {
    cr.object
        .pointer("/spec/conf/neutron/DEFAULT/api_replay_mode")
        .is_some_and(|v| !v.is_null())
}

/// Run the phase's pending steps in plan order.
pub async fn phase(ctx: &Arc<Ctx>, plan: &Plan, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::PostCleanup.as_str());
    for step in &steps {
        let Action::PostCleanup(c) = &step.action else {
            continue;
        };
        let res = match c.remove {
            CleanupTarget::VOriginDfwPolicies => {
                delete_all(ctx, step, "security_policy", c.remove).await
            }
            CleanupTarget::NonNeutronSegmentPorts => {
                delete_all(ctx, step, "segment_port", c.remove).await
            }
            CleanupTarget::ApiReplayMode => api_replay_mode(ctx, plan, step).await,
        };
        ctx.step_finished(stage, &step.id, res.is_ok());
        if let Err(e) = res {
            ctx.step_failed(&step.id, STEP_OP, &e)?;
            return Ok(Flow::Stop(
                ExitCode::Mixed,
                format!(
                    "post-migration cleanup failed at step {}: {e}. The migration itself is done; fix the cause and re-run `apply` (what was removed stays removed)",
                    step.id
                ),
            ));
        }
    }
    Ok(Flow::Continue)
}

async fn find(nsx: &NsxClient, target: CleanupTarget) -> Result<Vec<String>, ExecError> {
    match target {
        CleanupTarget::VOriginDfwPolicies => v_origin_policies(nsx).await,
        CleanupTarget::NonNeutronSegmentPorts => non_neutron_ports(nsx).await,
        CleanupTarget::ApiReplayMode => Ok(Vec::new()),
    }
}

async fn delete_all(
    ctx: &Arc<Ctx>,
    step: &Step,
    what: &str,
    target: CleanupTarget,
) -> Result<(), ExecError> {
    let found = find(&ctx.nsx, target).await?;
    if found.is_empty() {
        return ctx.step_done(&step.id, Some(format!("no {what} left to remove (read)")));
    }
    for path in &found {
        ctx.write(
            &step.id,
            &format!("delete_{what}"),
            Write::new(client::Method::DELETE, path.clone()),
        )
        .await?;
    }
    if ctx.dry_run() {
        return Ok(());
    }
    let left = find(&ctx.nsx, target).await?;
    if !left.is_empty() {
        return Err(ExecError::step(
            &step.id,
            format!(
                "{} {what}(s) still there after the removal, e.g. {}",
                left.len(),
                left[0]
            ),
        ));
    }
    ctx.step_done(&step.id, Some(format!("{} {what}(s) removed", found.len())))
}

async fn api_replay_mode(ctx: &Arc<Ctx>, plan: &Plan, step: &Step) -> Result<(), ExecError> {
    let kc = reconfig::kubectl(ctx)?;
    let names = &plan.requirements.reconfig;
    let cr = reconfig::read_cr(kc, names).await?;
    if !replay_mode_set(&cr) {
        return ctx.step_done(
            &step.id,
            Some(format!(
                "{}/{} sets no api_replay_mode (read)",
                cr.namespace, cr.name
            )),
        );
    }
    let patch = json!({"spec": {"conf": {"neutron": {"DEFAULT": {"api_replay_mode": null}}}}});
    reconfig::patch_cr(ctx, kc, names, &cr, &step.id, patch).await?;
    if ctx.dry_run() {
        return Ok(());
    }
    if replay_mode_set(&reconfig::read_cr(kc, names).await?) {
        return Err(ExecError::step(
            &step.id,
            "the Neutron custom resource read back still sets api_replay_mode",
        ));
    }
    ctx.step_done(&step.id, Some("api_replay_mode removed".into()))
}

/// For `audit`: what each cleanup target still has to remove (`None`: the resource could not
/// be read).
pub async fn left(
    nsx: &NsxClient,
    cr: Option<&NeutronCr>,
    target: CleanupTarget,
) -> Result<Option<usize>, ExecError> {
    Ok(match target {
        CleanupTarget::VOriginDfwPolicies => Some(v_origin_policies(nsx).await?.len()),
        CleanupTarget::NonNeutronSegmentPorts => Some(non_neutron_ports(nsx).await?.len()),
        CleanupTarget::ApiReplayMode => cr.map(|c| usize::from(replay_mode_set(c))),
    })
}

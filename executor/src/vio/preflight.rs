//! Checks before the first change of a `vio-v2t` plan, against its requirements and live
//! state. Reads only: a refusal sends nothing (exit 3).

use std::collections::BTreeSet;

use plan_schema::vio::{Action, Plan, ReplayResource};

use super::neutron::{self, SOURCE, Source, TARGET};
use super::replay;
use crate::ctx::Ctx;
use crate::error::ExecError;

/// The coordinator modes a VIO migration sets up itself (reference vio-v2t-anchors 3.2).
const VIO_MODES: &[&str] = &["EDGE_CUTOVER", "DFW_AND_HOST_AND_WORKLOAD"];

fn pf(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Preflight(format!("{what}: {e}"))
}

/// The whole preflight. Returns warnings.
pub async fn run(ctx: &Ctx, plan: &Plan) -> Result<Vec<String>, ExecError> {
    let mut warnings = Vec::new();
    let req = &plan.requirements;
    let p = &ctx.progress;

    // Steps this nsx-migrate cannot run before the replay: refuse rather than start.
    let cleanup = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::NsxCleanupStale(_)) && !p.is_done(&s.id))
        .count();
    if cleanup > 0 {
        return Err(ExecError::Preflight(format!(
            "the plan removes stale Neutron objects from NSX first ({cleanup} nsx_cleanup_stale step(s)); that phase is not available in this nsx-migrate yet. Remove them with the migrator's clean-up, re-collect and re-plan"
        )));
    }

    // The OpenStack side: Keystone with the plan's cloud, both Neutron endpoints.
    let os = replay::client(ctx)?;
    os.authenticate()
        .await
        .map_err(|e| pf("Keystone (the OpenStack cloud's credentials)", e))?;
    for (ty, what) in [
        (SOURCE, "the source Neutron (NSX-V plugin)"),
        (
            TARGET,
            "the replay target (the temporary Neutron with the NSX Policy plugin, seed 2111)",
        ),
    ] {
        let ep = os.endpoint(ty).await.map_err(|e| pf(what, e))?;
        // Reachable: its version document answers.
        os.get(ty, "/v2.0/networks?limit=1").await.map_err(|e| {
            pf(
                &format!("{what} at {}", ep.as_str().trim_end_matches('/')),
                e,
            )
        })?;
    }

    // NSX: version, coordinator running and free.
    ctx.check_nsx_version(&req.min_nsx_version, "seed error 1002", &mut warnings)
        .await?;
    if req.coordinator_running {
        let coord = ctx
            .nsx
            .coordinator_status()
            .await
            .map_err(|e| pf("migration coordinator status", e))?;
        if !coord.is_running() {
            return Err(ExecError::Preflight(format!(
                "the migration coordinator is {} (seed error 1001); start it on the NSX Manager (`start service migration-coordinator`) and re-run",
                coord.runtime_state
            )));
        }
    }
    if req.coordinator_mode_free {
        let setup = ctx
            .get("/api/v1/migration/setup")
            .await
            .map_err(|e| match &e {
                ExecError::Nsx(c) if super::cutover::unanswered(c) => ExecError::Preflight(format!(
                    "the migration coordinator does not answer (seed error 1001: not running): {c}. Start it on the NSX Manager (`start service migration-coordinator`) and re-run"
                )),
                _ => pf("migration coordinator setup", e),
            })?;
        if let Some(mode) = setup["migration_mode"].as_str()
            && !VIO_MODES.contains(&mode)
        {
            return Err(ExecError::Preflight(format!(
                "the migration coordinator is configured for another migration ({mode}, seed error 1100); finish or abort it first"
            )));
        }
        let promo = ctx
            .get("/api/v1/migration/mp-policy-promotion/state")
            .await
            .map_err(|e| pf("promotion state", e))?;
        if promo["mp_policy_promotion"] == "PROMOTION_IN_PROGRESS" {
            return Err(ExecError::Preflight(
                "a Manager-to-Policy promotion is in progress on this NSX Manager (seed error 1100); finish it first".into(),
            ));
        }
    }

    // Staleness: every source object the plan replays is still in the source Neutron, and no
    // network, router, security group or floating IP was made there since.
    let resources: std::collections::HashSet<ReplayResource> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ApiReplay(r) if neutron::coll(r.resource).is_some() => Some(r.resource),
            _ => None,
        })
        .collect();
    let src = Source::load(os, resources.iter().copied())
        .await
        .map_err(|e| ExecError::Preflight(e.to_string()))?;
    let mut drift = staleness(plan, &src);
    let lbs = super::octavia::Source::load(os, &plan.steps)
        .await
        .map_err(|e| ExecError::Preflight(e.to_string()))?;
    drift.extend(super::octavia::staleness(&plan.steps, &lbs));
    if !drift.is_empty() {
        return Err(ExecError::Stale { drifted: drift });
    }
    warnings.push(
        "VIO's Neutron API is not checked read-only from here: keep it in maintenance (no Neutron writes) until the migration ends, or objects made meanwhile are not replayed".into(),
    );
    Ok(warnings)
}

/// What changed in the source since the plan was made.
pub fn staleness(plan: &Plan, src: &Source) -> Vec<String> {
    let mut drift = Vec::new();
    let mut planned: BTreeSet<(&str, &str)> = BTreeSet::new();
    for s in &plan.steps {
        let Action::ApiReplay(r) = &s.action else {
            continue;
        };
        let Some(c) = neutron::coll(r.resource) else {
            continue;
        };
        for o in &r.objects {
            let (res, id) = match r.resource {
                // The transit network is named after its router.
                ReplayResource::DlrTransitNetwork => (ReplayResource::Router, o.id.as_str()),
                other => (other, o.id.as_str()),
            };
            if neutron::creates(r.resource) && r.resource != ReplayResource::DlrTransitNetwork {
                planned.insert((c.key, o.id.as_str()));
            }
            if src.get(res, id).is_none() {
                drift.push(format!(
                    "{}: {} {id} ({}) is no longer in the source Neutron",
                    s.id,
                    res.as_str(),
                    o.name
                ));
            }
        }
    }
    for res in [
        ReplayResource::Network,
        ReplayResource::Router,
        ReplayResource::SecurityGroup,
        ReplayResource::Floatingip,
    ] {
        let Some(c) = neutron::coll(res) else {
            continue;
        };
        // Only collections the plan replays at all were read.
        let Some(objs) = src.by_key.get(c.key) else {
            continue;
        };
        for (id, o) in objs {
            if !planned.contains(&(c.key, id.as_str()))
                && o["project_id"] != "metadata_internal_project"
                && !planned_elsewhere(res, id, o)
            {
                drift.push(format!(
                    "{} {id} ({}) is in the source Neutron but not in the plan (made since the plan)",
                    res.as_str(),
                    o["name"].as_str().unwrap_or("")
                ));
            }
        }
    }
    drift.sort();
    drift
}

/// Source objects the replay does not create by design.
fn planned_elsewhere(res: ReplayResource, _id: &str, o: &serde_json::Value) -> bool {
    // Security groups the plan does not carry are Neutron's own default groups only when the
    // planner said so; networks of the internal project are skipped (above).
    res == ReplayResource::SecurityGroup && o["name"] == "default" && o["description"] == ""
}

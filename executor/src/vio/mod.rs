//! The VIO kind (`vio-v2t`, seed 004): its preflight, the API replay of Neutron onto the NSX
//! Policy plugin (the replay target, the catalog's `network-replay`) and of Octavia's load
//! balancers (`octavia.rs`, at the plan's Octavia endpoint), the maintenance window:
//! edge preparation and the single calls around the coordinator (`edge.rs`), the coordinator's
//! edge cutover and host migration (`cutover.rs`), with rollback of what they made while the
//! host migration has not started; then the VIO reconfiguration (`reconfig.rs`) and the
//! post-migration cleanup (`cleanup.rs`). A phase without its module here is not available
//! yet: the stage loop stops before the first such phase that has steps, with exit code 1 and a
//! journaled message, and never claims success.
//!
//! Exit codes: 0 done; 1 stopped part-way (what was done kept and journaled, the seed's code in
//! the message where there is one; re-run `apply` to resume, or `rollback`); 2 the replay
//! failed and what it made was removed (the seed's error 2112 in the message); 3 refused,
//! nothing sent (also `rollback` once the host migration has begun).

pub mod adopt;
pub mod audit;
pub mod cleanup;
pub mod cutover;
pub mod edge;
pub mod neutron;
pub mod octavia;
pub mod preflight;
pub mod reconfig;
pub mod replay;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use plan_schema::KindPhase;
use plan_schema::journal::JournalEvent;
use plan_schema::vio::{Action, Phase, Plan, Step, VioV2t};

use crate::ApplyOptions;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::{Flow, KindExecutor};
use crate::observe::Stage;
use crate::progress::STEP_OP;
use crate::{OnImportFailure, current};

impl KindExecutor for VioV2t {
    /// 16 replay steps in flight: the replay reached 89% of NSX's 100 requests/s with 8 and
    /// 91% with 16 (docs/performance.md); NSX allows 40 concurrent requests per client.
    const DEFAULT_CONCURRENCY: usize = 16;

    fn check_options(opts: &ApplyOptions) -> Result<(), ExecError> {
        match opts.openstack {
            Some(_) => Ok(()),
            None => Err(replay::no_cloud()),
        }
    }

    async fn preflight(
        ctx: &Arc<Ctx>,
        plan: &Plan,
        opts: &ApplyOptions,
    ) -> Result<Vec<String>, ExecError> {
        reconfig::check_confirmations(plan, opts)?;
        preflight::run(ctx, plan)
            .await
            .map(|w| [w, cutover::token_warnings(plan)].concat())
    }

    async fn run_phase(
        ctx: &Arc<Ctx>,
        plan: &Plan,
        phase: Phase,
        steps: Vec<Step>,
    ) -> Result<Flow, ExecError> {
        match phase {
            Phase::Replay => replay_phase(ctx, plan, steps).await,
            Phase::VioReconfig => reconfig::phase(ctx, plan, steps).await,
            Phase::PostCleanup => cleanup::phase(ctx, plan, steps).await,
            _ if steps.is_empty() => Ok(Flow::Continue),
            Phase::EdgePrep | Phase::EdgeCutover | Phase::HostMigration => {
                window_phase(ctx, plan, phase, steps).await
            }
            _ => Ok(not_available(ctx, plan, phase, steps.len())),
        }
    }

    /// The replay steps whose end state the target already shows (reads only).
    async fn adopt(ctx: &Arc<Ctx>, plan: &Plan) -> Result<Vec<JournalEvent>, ExecError> {
        adopt::steps(ctx, plan).await
    }

    async fn adopt_for_rollback(_ctx: &Arc<Ctx>, plan: &Plan) -> Result<usize, ExecError> {
        Err(ExecError::Plan(format!(
            "`rollback --plan` of vio-v2t plan {} without its journal is not available in this nsx-migrate yet; nothing was sent",
            plan.plan_id
        )))
    }

    fn verify_total(plan: &Plan) -> usize {
        replay_objects(plan).count()
    }

    async fn verify(ctx: &Arc<Ctx>, plan: &Plan) -> Result<Vec<String>, ExecError> {
        let mut problems = Vec::new();
        for (step, paths) in replay_objects(plan) {
            let mut ok = true;
            for p in paths {
                if ctx.get_opt(&format!("/policy/api/v1{p}")).await?.is_none() {
                    ok = false;
                    problems.push(format!("{step}: {p} does not exist on NSX"));
                }
            }
            ctx.step_finished(Stage::VERIFY, step, ok);
        }
        Ok(problems)
    }

    async fn reachable(ctx: &Arc<Ctx>) -> Result<(), ExecError> {
        let os = replay::client(ctx)?;
        os.endpoint(neutron::TARGET)
            .await
            .map(|_| ())
            .map_err(|e| ExecError::Preflight(format!("the replay target: {e}")))
    }

    async fn rollback(ctx: &Arc<Ctx>, why: Option<&str>) -> (ExitCode, String) {
        if let Some(step) = cutover::host_started(ctx) {
            let msg = format!(
                "rollback refused: the host migration of plan {} has started (step {step}); NSX does not roll back a host migration: migrated hosts cannot be moved back to NSX-V (the coordinator refuses with error 30533). Nothing was sent. Finish the migration with `apply`; a host that keeps failing can be removed from its cluster and the migration retried (docs/recovery.md)",
                ctx.plan_id
            );
            ctx.log.warn(&msg);
            return (ExitCode::Refused, msg);
        }
        let undone = match undo_window(ctx).await {
            Ok(n) => n,
            Err(e) => {
                let _ = ctx.step_failed("window", "rollback", &e);
                return (
                    ExitCode::Mixed,
                    format!(
                        "rollback FAILED while putting the edges, transport nodes and coordinator back: {e}. Re-run `rollback` to continue it"
                    ),
                );
            }
        };
        let (code, msg) = replay::rollback(ctx, why).await;
        if undone == 0 {
            (code, msg)
        } else {
            (
                code,
                format!(
                    "{undone} window record(s) put back (coordinator rolled back and freed, edge vNICs reconnected, v2t-migration-config disabled, edge VMs powered on); {msg}"
                ),
            )
        }
    }
}

/// The window's migration records, newest first: the coordinator's run rolled back and its
/// setup aborted, then each changed object put back (reads first, sends what differs).
async fn undo_window(ctx: &Ctx) -> Result<usize, ExecError> {
    let records = current(ctx).records;
    let mut n = 0;
    for rec in records.iter().rev() {
        let ours = matches!(
            rec.object_type.as_str(),
            cutover::COORDINATOR | edge::VNIC | edge::EDGE_CONFIG | edge::NOGW | edge::EDGE_VM
        );
        if !ours {
            continue;
        }
        ctx.record(JournalEvent::RollbackIntent {
            step: rec.step.clone(),
            object_type: rec.object_type.clone(),
            object_ids: rec.object_ids.clone(),
        })?;
        for id in rec.object_ids.iter().rev() {
            if rec.object_type == cutover::COORDINATOR {
                cutover::undo(ctx, id).await?;
            } else {
                edge::undo(ctx, &rec.step, &rec.object_type, id).await?;
            }
        }
        ctx.record(JournalEvent::RollbackDone {
            step: rec.step.clone(),
            object_type: rec.object_type.clone(),
        })?;
        n += 1;
    }
    Ok(n)
}

/// The edge preparation, edge cutover and host migration phases: their steps one at a time in
/// plan order. The host migration phase needs `--confirm-point-of-no-return` when the plan
/// marks it so; without it the run stops before the phase and sends nothing of it.
async fn window_phase(
    ctx: &Arc<Ctx>,
    plan: &Plan,
    phase: Phase,
    steps: Vec<Step>,
) -> Result<Flow, ExecError> {
    let stage = Stage::new(phase.as_str());
    if ctx.window.nsxv.is_none() || ctx.window.vcenter.is_none() {
        ctx.log.warn(format!(
            "phase {} needs the NSX-V Manager and vCenter (--nsxv, --vcenter); not run",
            phase.as_str()
        ));
        return Ok(Flow::Stop(
            ExitCode::Mixed,
            format!(
                "{}; stopped before phase `{}` ({}): it is not available without the NSX-V Manager and vCenter: give --nsxv and --vcenter (credentials NSXV_USERNAME/NSXV_PASSWORD, VCENTER_USERNAME/VCENTER_PASSWORD or the password files) and re-run `apply`; nothing of it was sent. VIO still runs on NSX-V; `rollback` removes what the replay made",
                replay_done(ctx),
                phase.as_str(),
                phase.title()
            ),
        ));
    }
    if phase == Phase::HostMigration && !ctx.confirm_point_of_no_return {
        let marked: Vec<&str> = steps
            .iter()
            .filter(|s| matches!(&s.action, Action::HostMigration(h) if h.point_of_no_return))
            .map(|s| s.id.as_str())
            .collect();
        if !marked.is_empty() {
            let msg = format!(
                "stopped before phase `host_migration`: it is the point of no return (step {}): once hosts move to NSX there is no rollback. Nothing of it was sent; the edge cutover is done and can still be rolled back with `rollback`. To go on, re-run `apply --confirm-point-of-no-return`",
                marked.join(", ")
            );
            ctx.log.warn(&msg);
            return Ok(Flow::Stop(ExitCode::Mixed, msg));
        }
    }
    for step in &steps {
        let res: Result<Option<Flow>, ExecError> = match &step.action {
            Action::EdgeInterfacesDown(a) => {
                edge::interfaces_down(ctx, step, a).await.map(|_| None)
            }
            Action::RouterNogwFixup(a) => edge::nogw_fixup(ctx, step, a).await.map(|_| None),
            Action::EdgeMigrationConfig(a) => edge::edge_config(ctx, step, a).await.map(|_| None),
            Action::NsxvToken(a) => edge::nsxv_token(ctx, step, a).await.map(|_| None),
            Action::RouterNogwRestore(a) => {
                edge::detach(ctx, &step.id, "detach", &a.router_id, edge::E_NOGW_RESTORE)
                    .await
                    .map(|_| None)
            }
            Action::EdgePowerOff(a) => edge::power_off(ctx, step, a).await.map(|_| None),
            Action::EdgeCutover(c) => cutover::edge_cutover(ctx, plan, step, c).await,
            Action::HostMigration(h) => cutover::host_migration(ctx, plan, step, h).await,
            other => Err(ExecError::step(
                &step.id,
                format!(
                    "action {} does not belong to phase {}",
                    other.kind_str(),
                    phase.as_str()
                ),
            )),
        };
        match res {
            Ok(None) => {
                if !ctx.dry_run() {
                    ctx.step_done(&step.id, None)?;
                }
                ctx.step_finished(stage, &step.id, true);
            }
            Ok(Some(flow)) => {
                ctx.step_finished(stage, &step.id, false);
                if let Flow::Stop(_, m) = &flow {
                    ctx.record(JournalEvent::StepFailed {
                        step: step.id.clone(),
                        op: STEP_OP.to_string(),
                        error: m.clone(),
                        retriable: true,
                    })?;
                }
                return Ok(flow);
            }
            Err(e) => {
                ctx.step_finished(stage, &step.id, false);
                ctx.step_failed(&step.id, STEP_OP, &e)?;
                return Ok(Flow::Stop(
                    ExitCode::Mixed,
                    format!(
                        "{e}. Stopped in phase `{}`; the journal holds what was done. Fix the cause and re-run `apply` to continue, or `rollback` (possible until the host migration starts)",
                        phase.as_str()
                    ),
                ));
            }
        }
    }
    Ok(Flow::Continue)
}

/// Every replay step with the Policy paths its objects are expected to make.
fn replay_objects(plan: &Plan) -> impl Iterator<Item = (&str, Vec<&str>)> {
    plan.steps.iter().filter_map(|s| match &s.action {
        Action::ApiReplay(r) if replayable(r.resource) => Some((
            s.id.as_str(),
            r.objects
                .iter()
                .flat_map(|o| o.policy_paths.iter().map(String::as_str))
                .collect(),
        )),
        _ => None,
    })
}

/// Whether the executor sends this resource's calls: a Neutron collection or an Octavia
/// object.
fn replayable(res: plan_schema::vio::ReplayResource) -> bool {
    neutron::coll(res).is_some() || octavia::is_octavia(res)
}

async fn replay_phase(ctx: &Arc<Ctx>, plan: &Plan, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::Replay.as_str());
    let os = replay::client(ctx)?.clone();
    let lbs = Arc::new(octavia::Source::load(&os, &steps).await?);
    let ep = Arc::new((*plan.requirements.octavia).clone());
    let src = Arc::new(
        neutron::Source::load(
            &os,
            steps.iter().filter_map(|s| match &s.action {
                Action::ApiReplay(r) => Some(r.resource),
                _ => None,
            }),
        )
        .await?,
    );
    let mut renewed = replay::renewed_ids(&current(ctx));
    let pending: HashSet<String> = steps.iter().map(|s| s.id.clone()).collect();
    let mut finished: HashSet<String> = HashSet::new();
    let mut started = vec![false; steps.len()];
    // The Octavia steps running, by the load balancer they change: one step per load balancer
    // at a time, so no two calls reach one load balancer together (Octavia refuses a change
    // while its load balancer is `PENDING_UPDATE`); a step whose load balancer the source does
    // not name runs alone (`None`).
    let mut octavia_running: HashMap<String, Option<String>> = HashMap::new();
    let mut running: tokio::task::JoinSet<(String, Result<(), ExecError>, Renewed)> =
        tokio::task::JoinSet::new();
    let limit = ctx.concurrency.max(1);
    let mut failure: Option<(String, ExecError)> = None;
    // Steps whose dependencies are done run side by side (up to --concurrency), in plan order;
    // the client's rate limit paces them. Each takes the renewed ids known when it starts,
    // which include every id its dependencies made.
    loop {
        if failure.is_none() {
            for (i, step) in steps.iter().enumerate() {
                if started[i] {
                    continue;
                }
                if running.len() >= limit {
                    break;
                }
                let Action::ApiReplay(r) = &step.action else {
                    started[i] = true;
                    finished.insert(step.id.clone());
                    continue;
                };
                if !replayable(r.resource) {
                    // A resource this executor has no call for: refused, never guessed.
                    started[i] = true;
                    let e = ExecError::step(
                        &step.id,
                        format!(
                            "resource {} ({}) is not replayed by this nsx-migrate",
                            r.resource.as_str(),
                            r.call
                        ),
                    );
                    ctx.step_finished(stage, &step.id, false);
                    ctx.step_failed(&step.id, STEP_OP, &e)?;
                    if failure.is_none() {
                        failure = Some((step.id.clone(), e));
                    }
                    break;
                }
                if !step
                    .depends_on
                    .iter()
                    .all(|d| !pending.contains(d) || finished.contains(d))
                {
                    continue;
                }
                if octavia::is_octavia(r.resource) {
                    let lb = lbs.step_lb(r);
                    let busy = match &lb {
                        Some(lb) => octavia_running
                            .values()
                            .any(|l| l.is_none() || l.as_ref() == Some(lb)),
                        None => !octavia_running.is_empty(),
                    };
                    if busy {
                        continue;
                    }
                    octavia_running.insert(step.id.clone(), lb);
                }
                started[i] = true;
                let (ctx, os, src) = (ctx.clone(), os.clone(), src.clone());
                let (lbs, ep) = (lbs.clone(), ep.clone());
                let (step, r, mut map) = (step.clone(), r.clone(), renewed.clone());
                running.spawn(async move {
                    let res = if octavia::is_octavia(r.resource) {
                        octavia::run_step(&ctx, &os, &lbs, &ep, &step, &r).await
                    } else {
                        replay::run_step(&ctx, &os, &src, &step, &r, &mut map).await
                    };
                    (step.id, res, map)
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (id, res, map) =
            joined.map_err(|e| ExecError::step("replay", format!("a replay task failed: {e}")))?;
        renewed.extend(map);
        octavia_running.remove(&id);
        ctx.step_finished(stage, &id, res.is_ok());
        match res {
            Ok(()) => {
                finished.insert(id);
            }
            Err(e) => {
                ctx.step_failed(&id, STEP_OP, &e)?;
                // The first failure decides; steps in flight finish and are journaled.
                if failure.is_none() {
                    failure = Some((id, e));
                }
            }
        }
    }
    if let Some((id, e)) = failure {
        let why = format!(
            "API replay failed at step {id} (seed error {}: API replay failed, creating resources in NSX): {e}",
            replay::REPLAY_FAILED
        );
        return Ok(match ctx.on_import_failure {
            OnImportFailure::Stop => Flow::Stop(
                ExitCode::Mixed,
                format!(
                    "{why}. --on-failure stop: what the replay made so far is kept ({} journaled record(s)); VIO still runs on NSX-V. Re-run `apply` to continue, or `rollback` to remove it",
                    current(ctx).records.len()
                ),
            ),
            OnImportFailure::Rollback => Flow::RollBack(why),
        });
    }
    Ok(Flow::Continue)
}

type Renewed = HashMap<String, String>;

/// What the replay did, for the message of a stop after it.
fn replay_done(ctx: &Ctx) -> String {
    if ctx.dry_run() {
        format!(
            "dry run, nothing was sent: the replay would send {} request(s)",
            ctx.dry.lock().map(|d| d.len()).unwrap_or(0)
        )
    } else {
        "the API replay (Neutron and Octavia) is done and journaled".to_string()
    }
}

/// The stage loop reached a phase this nsx-migrate cannot run: stop before it, journaled by
/// the run's end, never claiming success.
fn not_available(ctx: &Ctx, plan: &Plan, phase: Phase, n: usize) -> Flow {
    let later: Vec<&str> = Phase::ALL
        .iter()
        .filter(|p| **p >= phase)
        .filter(|p| plan.steps.iter().any(|s| s.phase == **p))
        .map(|p| p.as_str())
        .collect();
    ctx.log.warn(format!(
        "phase {} ({n} step(s)) is not available in this nsx-migrate yet",
        phase.as_str()
    ));
    Flow::Stop(
        ExitCode::Mixed,
        format!(
            "{}; stopped before phase `{}` ({}): the phases {} are not available in this nsx-migrate yet and nothing of them was sent. VIO still runs on NSX-V; `rollback` removes what the replay made",
            replay_done(ctx),
            phase.as_str(),
            phase.title(),
            later.join(", ")
        ),
    )
}

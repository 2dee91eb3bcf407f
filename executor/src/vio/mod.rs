//! The VIO kind (`vio-v2t`, seed 004): its preflight and the API replay of Neutron onto the NSX
//! Policy plugin (the replay target, the catalog's `network-replay`), with rollback of what the
//! replay made, then the VIO reconfiguration (`reconfig.rs`) and the post-migration cleanup
//! (`cleanup.rs`). A phase without its module here is not available yet: the stage loop stops
//! before the first such phase that has steps, with exit code 1 and a journaled message, and
//! never claims success.
//!
//! Exit codes: 0 done; 1 stopped part-way (the replay's objects kept; re-run `apply` to resume,
//! or `rollback`); 2 the replay failed and what it made was removed (the seed's error 2112 in
//! the message); 3 refused, nothing sent.

pub mod adopt;
pub mod audit;
pub mod cleanup;
pub mod neutron;
pub mod preflight;
pub mod reconfig;
pub mod replay;

use std::collections::HashSet;
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
        preflight::run(ctx, plan).await
    }

    async fn run_phase(
        ctx: &Arc<Ctx>,
        plan: &Plan,
        phase: Phase,
        steps: Vec<Step>,
    ) -> Result<Flow, ExecError> {
        match phase {
            Phase::Replay => replay_phase(ctx, steps).await,
            Phase::VioReconfig => reconfig::phase(ctx, plan, steps).await,
            Phase::PostCleanup => cleanup::phase(ctx, steps).await,
            _ if steps.is_empty() => Ok(Flow::Continue),
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
        replay::rollback(ctx, why).await
    }
}

/// Every replay step with the Policy paths its objects are expected to make.
fn replay_objects(plan: &Plan) -> impl Iterator<Item = (&str, Vec<&str>)> {
    plan.steps.iter().filter_map(|s| match &s.action {
        Action::ApiReplay(r) if neutron::coll(r.resource).is_some() => Some((
            s.id.as_str(),
            r.objects
                .iter()
                .flat_map(|o| o.policy_paths.iter().map(String::as_str))
                .collect(),
        )),
        _ => None,
    })
}

async fn replay_phase(ctx: &Arc<Ctx>, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::Replay.as_str());
    let os = replay::client(ctx)?.clone();
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
    // Steps not run: the Octavia calls (they go to the NSX driver over RPC, not through
    // Neutron) and whatever depends on them.
    let mut held: Vec<String> = Vec::new();
    let mut held_set: HashSet<String> = HashSet::new();
    let mut started = vec![false; steps.len()];
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
                if neutron::coll(r.resource).is_none()
                    || step.depends_on.iter().any(|d| held_set.contains(d))
                {
                    started[i] = true;
                    held_set.insert(step.id.clone());
                    held.push(step.id.clone());
                    ctx.step_finished(stage, &step.id, false);
                    continue;
                }
                if !step
                    .depends_on
                    .iter()
                    .all(|d| !pending.contains(d) || finished.contains(d))
                {
                    continue;
                }
                started[i] = true;
                let (ctx, os, src) = (ctx.clone(), os.clone(), src.clone());
                let (step, r, mut map) = (step.clone(), r.clone(), renewed.clone());
                running.spawn(async move {
                    let res = replay::run_step(&ctx, &os, &src, &step, &r, &mut map).await;
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
    if !held.is_empty() {
        ctx.log.warn(format!(
            "{} replay step(s) not run: the Octavia replay is not available in this nsx-migrate yet",
            held.len()
        ));
        return Ok(Flow::Stop(
            ExitCode::Mixed,
            format!(
                "{}, but {} step(s) were not run: the Octavia replay (load balancers go to the NSX Octavia driver over RPC) is not available in this nsx-migrate yet, nor are the phases after the replay; nothing of them was sent (first: {}). VIO still runs on NSX-V; `rollback` removes what the replay made",
                replay_done(ctx),
                held.len(),
                held[0]
            ),
        ));
    }
    Ok(Flow::Continue)
}

type Renewed = std::collections::HashMap<String, String>;

/// What the replay did, for the message of a stop after it.
fn replay_done(ctx: &Ctx) -> String {
    if ctx.dry_run() {
        format!(
            "dry run, nothing was sent: the replay would send {} request(s)",
            ctx.dry.lock().map(|d| d.len()).unwrap_or(0)
        )
    } else {
        "the Neutron replay is done and journaled".to_string()
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

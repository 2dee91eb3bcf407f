//! The Manager-to-Policy kind: its preflight, its phases (prepare: DFW moves through the Manager
//! API; import: the coordinator's CONSUMER flow per batch; update: tags and display names through
//! the Policy API), verify, rollback of its migration records, and audit.
//!
//! Exit codes follow the seeds' importer: 1 resources mixed Manager/Policy (do not run NCP in
//! Manager mode), 2 nothing left imported (NCP may run in Manager mode again).

pub mod adopt;
pub mod audit;
pub mod dfw;
pub mod import;
pub mod preflight;
pub mod update;

use std::sync::Arc;

use plan_schema::mp::{Action, MpToPolicy, Phase, Plan, Step};

use crate::ApplyOptions;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::{Flow, KindExecutor};
use crate::observe::Stage;
use crate::progress::{Progress, STEP_OP};
use crate::{OnImportFailure, current};

/// Pseudo-step of the import phase's workflow calls (INITIATE, DONE, abort).
pub const IMPORT_WORKFLOW: &str = "import";

/// The update stage.
pub const UPDATE: Stage = Stage::new("update");

/// Whether an import submission came after the last workflow DONE: the promotion window is
/// open and DONE is still owed.
pub fn window_open(p: &Progress) -> bool {
    let done = p
        .done_seq
        .get(&(IMPORT_WORKFLOW.to_string(), "done".to_string()))
        .copied()
        .unwrap_or(0);
    p.submit_seq > done
}

impl KindExecutor for MpToPolicy {
    fn check_options(opts: &ApplyOptions) -> Result<(), ExecError> {
        preflight::check_options(opts)
    }

    async fn preflight(
        ctx: &Arc<Ctx>,
        plan: &Plan,
        opts: &ApplyOptions,
    ) -> Result<Vec<String>, ExecError> {
        preflight::run(ctx, plan, opts.kubectl.as_ref()).await
    }

    async fn run_phase(
        ctx: &Arc<Ctx>,
        plan: &Plan,
        phase: Phase,
        steps: Vec<Step>,
    ) -> Result<Flow, ExecError> {
        match phase {
            Phase::Prepare => prepare(ctx, steps).await,
            Phase::Import => import_phase(ctx, steps).await,
            Phase::Update => update_phase(ctx, plan, steps).await,
        }
    }

    async fn adopt(
        ctx: &Arc<Ctx>,
        plan: &Plan,
    ) -> Result<Vec<plan_schema::journal::JournalEvent>, ExecError> {
        adopt::steps(ctx, plan).await
    }

    async fn adopt_for_rollback(ctx: &Arc<Ctx>, plan: &Plan) -> Result<usize, ExecError> {
        adopt::imports(ctx, plan).await
    }

    fn verify_total(plan: &Plan) -> usize {
        plan.steps
            .iter()
            .filter(|s| matches!(s.action, Action::ImportBatch(_) | Action::PolicyUpdate(_)))
            .count()
    }

    async fn verify(ctx: &Arc<Ctx>, plan: &Plan) -> Result<Vec<String>, ExecError> {
        verify(ctx, plan).await
    }

    async fn reachable(ctx: &Arc<Ctx>) -> Result<(), ExecError> {
        ctx.nsx
            .node_version()
            .await
            .map(|_| ())
            .map_err(|e| ExecError::Preflight(format!("NSX Manager not reachable: {e}")))
    }

    async fn rollback(ctx: &Arc<Ctx>, why: Option<&str>) -> (ExitCode, String) {
        match why {
            Some(why) => rollback_after_failure(ctx, why).await,
            None => rollback_command(ctx).await,
        }
    }
}

async fn prepare(ctx: &Arc<Ctx>, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::Prepare.as_str());
    for step in steps {
        let r = match &step.action {
            Action::DfwSectionMove(m) => dfw::section_move(ctx, &step, m).await,
            Action::DfwSectionCreate(c) => dfw::section_create(ctx, &step, c).await,
            Action::DfwRuleMove(m) => dfw::rule_move(ctx, &step, m).await,
            _ => Ok(()),
        };
        ctx.step_finished(stage, &step.id, r.is_ok());
        if let Err(e) = r {
            ctx.step_failed(&step.id, STEP_OP, &e)?;
            let code = if current(ctx).records.is_empty() {
                ExitCode::RolledBack
            } else {
                ExitCode::Mixed
            };
            return Ok(Flow::Stop(
                code,
                format!(
                    "prepare phase failed at {}: {e}. Nothing was imported; re-run `apply` after fixing the cause",
                    step.id
                ),
            ));
        }
    }
    Ok(Flow::Continue)
}

async fn import_phase(ctx: &Arc<Ctx>, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::Import.as_str());
    let mut window = import::Window::default();
    for step in steps {
        let Action::ImportBatch(b) = &step.action else {
            continue;
        };
        let r = import::run_batch(ctx, &step, b, &mut window).await;
        ctx.step_finished(stage, &step.id, r.is_ok());
        if let Err(e) = r {
            ctx.step_failed(&step.id, STEP_OP, &e)?;
            let why = format!("import failed at {}: {e}", step.id);
            return Ok(match ctx.on_import_failure {
                OnImportFailure::Stop => Flow::Stop(
                    ExitCode::Mixed,
                    format!(
                        "{why}. --on-import-failure stop: {} imported batch(es) kept; do not run NCP in Manager mode; re-run `apply` to continue or `rollback` to undo",
                        current(ctx).records.len()
                    ),
                ),
                OnImportFailure::Rollback => Flow::RollBack(why),
            });
        }
    }
    // DONE is owed when this run or one before it submitted since the last DONE; and when a
    // run whose journal is lost left the promotion window open (this plan's objects are
    // migrated and the manager still says PROMOTION_IN_PROGRESS).
    let owed = window.submitted
        || window_open(&current(ctx))
        || (!ctx.dry_run()
            && !current(ctx).records.is_empty()
            && ctx
                .get("/api/v1/migration/mp-policy-promotion/state")
                .await
                .is_ok_and(|s| s["mp_policy_promotion"] == "PROMOTION_IN_PROGRESS"));
    if owed && let Err(e) = import::done(ctx).await {
        return Ok(Flow::Stop(
            ExitCode::Mixed,
            format!(
                "every batch is imported but workflow DONE failed: {e}; re-run `apply` to finish"
            ),
        ));
    }
    Ok(Flow::Continue)
}

async fn update_phase(ctx: &Arc<Ctx>, plan: &Plan, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let updates: Vec<Step> = steps
        .into_iter()
        .filter(|s| matches!(s.action, Action::PolicyUpdate(_)))
        .collect();
    let n_updates = updates.len();
    let owned = Arc::new(update::owned_by_principal(plan));
    let failures = update::run(ctx, updates, owned).await;
    if failures.is_empty() {
        return Ok(Flow::Continue);
    }
    let list: Vec<String> = failures
        .iter()
        .take(10)
        .map(|(s, e)| format!("{s}: {e}"))
        .collect();
    Ok(Flow::Stop(
        ExitCode::Mixed,
        format!(
            "{} of {n_updates} Policy update(s) failed (their bodies are in the journal; re-run `apply` to retry only those):\n  {}",
            failures.len(),
            list.join("\n  ")
        ),
    ))
}

/// Read back what the plan promised: every import batch migrated, every update applied.
#[allow(clippy::map_entry)]
async fn verify(ctx: &Ctx, plan: &Plan) -> Result<Vec<String>, ExecError> {
    let mut problems = Vec::new();
    let mut by_type = std::collections::BTreeMap::new();
    // Policy objects of the updates, read in bulk.
    let paths = update::planned_paths(plan);
    let live_objects = if paths.is_empty() {
        Default::default()
    } else {
        update::read_live(&ctx.nsx, &paths, &|m| ctx.log.info(m)).await?
    };
    for s in &plan.steps {
        match &s.action {
            Action::ImportBatch(b) => {
                if !by_type.contains_key(&b.migration_type) {
                    by_type.insert(
                        b.migration_type,
                        import::migrated(ctx, b.migration_type).await?,
                    );
                }
                let live = &by_type[&b.migration_type];
                let missing = b
                    .resources
                    .iter()
                    .filter(|r| !live.contains_key(&r.manager_id))
                    .count();
                let mut ok = true;
                if missing > 0 {
                    // Objects promoted outside this plan are not in migrated-resources.
                    let foreign_ok = current(ctx)
                        .op_done
                        .get(&(s.id.clone(), STEP_OP.to_string()))
                        .and_then(|d| d.as_deref())
                        .is_some_and(|d| d.contains("outside this plan"));
                    if !foreign_ok {
                        ok = false;
                        problems.push(format!("{}: {missing} object(s) not migrated", s.id));
                    }
                }
                ctx.step_finished(Stage::VERIFY, &s.id, ok);
            }
            Action::PolicyUpdate(u) => {
                let ok = match live_objects.get(&u.path).and_then(Option::as_ref) {
                    Some(live) if update::is_applied(u, live) => true,
                    Some(_) => {
                        problems.push(format!("{}: {} lacks the planned change", s.id, u.path));
                        false
                    }
                    None => {
                        problems.push(format!("{}: {} does not exist", s.id, u.path));
                        false
                    }
                };
                ctx.step_finished(Stage::VERIFY, &s.id, ok);
            }
            _ => {}
        }
    }
    Ok(problems)
}

/// `apply`'s automatic rollback after a failed import (or the continuation of an interrupted
/// one): exit 2 when nothing of the plan is left imported.
async fn rollback_after_failure(ctx: &Ctx, why: &str) -> (ExitCode, String) {
    let records = match import::adopt_unrecorded(ctx, &current(ctx)).await {
        Ok(r) => r,
        Err(e) => return rollback_failed(ctx, why, e),
    };
    ctx.log.warn(format!(
        "{why}: rolling back {} imported batch(es), newest first",
        records.len()
    ));
    match import::rollback_records(ctx, &records).await {
        Ok(n) => {
            // DONE closes the promotion window, unless an interrupted run already did.
            if (n > 0 || window_open(&current(ctx)))
                && let Err(e) = import::done(ctx).await
            {
                ctx.log
                    .warn(format!("workflow DONE after rollback failed: {e}"));
            }
            (
                ExitCode::RolledBack,
                format!(
                    "{why}; rolled back {n} batch(es): nothing of this plan is imported. NCP may be restarted in Manager mode; fix the cause and re-plan"
                ),
            )
        }
        Err(e) => rollback_failed(ctx, why, e),
    }
}

fn rollback_failed(ctx: &Ctx, why: &str, e: ExecError) -> (ExitCode, String) {
    let _ = ctx.step_failed(IMPORT_WORKFLOW, "rollback", &e);
    // Once a batch's rollback intent is journaled, every later run continues the rollback. If the
    // rollback failed before its first intent (the manager could not even be read), nothing was
    // rolled back and the journal still points forward: say so, and leave the choice.
    let message = if current(ctx).rolling_back {
        format!(
            "{why}; rollback FAILED: {e}. Resources are mixed Manager/Policy: do not run NCP in Manager mode; re-run `apply` or `rollback` to continue the rollback (last resort: restore the NSX backup)"
        )
    } else {
        format!(
            "{why}; the rollback could not start: {e}. Nothing was rolled back and resources may be mixed Manager/Policy: do not run NCP in Manager mode; re-run `apply` to continue forward from the journal, or `rollback` to undo this plan's imports"
        )
    };
    (ExitCode::Mixed, message)
}

/// The `rollback` command: every migration record of the journal, newest first.
async fn rollback_command(ctx: &Ctx) -> (ExitCode, String) {
    let rolled = match import::adopt_unrecorded(ctx, &current(ctx)).await {
        Ok(records) => import::rollback_records(ctx, &records).await,
        Err(e) => Err(e),
    };
    match rolled {
        Ok(n) => {
            if (n > 0 || window_open(&ctx.progress))
                && let Err(e) = import::done(ctx).await
            {
                ctx.log
                    .warn(format!("workflow DONE after rollback failed: {e}"));
            }
            (
                ExitCode::Success,
                format!(
                    "rolled back {n} batch(es); no migration record of plan {} remains",
                    ctx.plan_id
                ),
            )
        }
        Err(e) => {
            let _ = ctx.step_failed(IMPORT_WORKFLOW, "rollback", &e);
            let message = if current(ctx).rolling_back {
                format!("rollback FAILED: {e}. Re-run `rollback` (or `apply`) to continue it")
            } else {
                // Failed before its first intent: the journal still points forward, so `apply`
                // would import, not roll back.
                format!(
                    "the rollback could not start: {e}. Nothing was rolled back; re-run `rollback` when the manager answers"
                )
            };
            (ExitCode::Mixed, message)
        }
    }
}

/// Audit a Manager-to-Policy plan (read-only).
pub use audit::audit;

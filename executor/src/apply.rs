//! `apply` and `rollback`: refusals first (nothing sent), then the phases in plan order with the
//! seeds' failure semantics and exit codes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use client::NsxClient;
use plan_schema::journal::{JOURNAL_FORMAT_VERSION, JournalEvent, RunMode};
use plan_schema::{Action, Phase, Plan, Step};

use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::import::{self, Window};
use crate::journal::{self, JOURNAL_FILE, Journal};
use crate::lock::{self, StateLock};
use crate::log::Log;
use crate::observe::{SharedObserver, Stage};
use crate::progress::Progress;
use crate::{
    ApplyOptions, EXIT_MIXED, EXIT_ROLLED_BACK, EXIT_SUCCESS, OnImportFailure, Outcome,
    RollbackOptions, preflight, update,
};

/// File name of the plan copy kept in the state directory.
pub const PLAN_COPY: &str = "plan.toml";

fn read_plan(path: &std::path::Path) -> Result<Plan, ExecError> {
    let plan = plan_schema::read_plan_file(path).map_err(|e| ExecError::Plan(e.to_string()))?;
    if !plan.is_applicable() {
        return Err(ExecError::Plan(format!(
            "{}: the plan has {} error finding(s) and cannot be applied; resolve them and re-plan (`nsx-migrate show`)",
            path.display(),
            plan.summary.errors
        )));
    }
    Ok(plan)
}

fn current(ctx: &Ctx) -> Progress {
    match &ctx.journal {
        Some(j) => j
            .lock()
            .map(|j| Progress::from_records(j.records()))
            .unwrap_or_default(),
        None => ctx.progress.clone(),
    }
}

struct Opened {
    ctx: Arc<Ctx>,
    _lock: Option<StateLock>,
}

#[allow(clippy::too_many_arguments)]
fn open(
    dir: &std::path::Path,
    plan_id: &str,
    nsx: &client::NsxConfig,
    dry_run: bool,
    log: Log,
    poll: crate::PollConfig,
    concurrency: usize,
    on_import_failure: OnImportFailure,
    observer: Option<SharedObserver>,
) -> Result<Opened, ExecError> {
    let nsx = NsxClient::new(nsx.clone()).map_err(|e| ExecError::Preflight(e.to_string()))?;
    let (journal, progress, lock, log) = if dry_run {
        let loaded = journal::load(&dir.join(JOURNAL_FILE), Some(plan_id))?;
        let p = Progress::from_records(&loaded.records);
        (None, p, None, log)
    } else {
        let (lock, warn) = lock::acquire(dir, plan_id)?;
        let log = log.with_file(dir);
        if let Some(w) = warn {
            log.warn(w);
        }
        let (j, torn) = Journal::open(dir, plan_id)?;
        if let Some(t) = torn {
            log.warn(t);
        }
        let p = Progress::from_records(j.records());
        (Some(Mutex::new(j)), p, Some(lock), log)
    };
    Ok(Opened {
        ctx: Arc::new(Ctx {
            nsx,
            journal,
            log,
            dry: Mutex::new(Vec::new()),
            progress,
            poll,
            concurrency,
            on_import_failure,
            writes_sent: AtomicU64::new(0),
            observer,
        }),
        _lock: lock,
    })
}

fn run_started(ctx: &Ctx, mode: RunMode) -> Result<(), ExecError> {
    ctx.record(JournalEvent::RunStarted {
        journal_format_version: JOURNAL_FORMAT_VERSION,
        mode,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        host: lock::host_name(),
        pid: std::process::id(),
    })
}

fn finish(
    ctx: &Ctx,
    code: u8,
    message: String,
    warnings: Vec<String>,
) -> Result<Outcome, ExecError> {
    let (code, message) = match ctx.record(JournalEvent::RunFinished {
        exit_code: code,
        outcome: message.clone(),
    }) {
        Ok(()) => (code, message),
        // The run's end could not be made durable: never report a clean success then.
        Err(e) => (
            code.max(EXIT_MIXED),
            format!("{message}\n(the journal could not record the end of this run: {e})"),
        ),
    };
    if code == EXIT_SUCCESS {
        ctx.log.info(&message);
    } else {
        ctx.log.error(&message);
    }
    Ok(Outcome {
        exit_code: code,
        message,
        dry_run_requests: ctx.dry.lock().map(|d| d.clone()).unwrap_or_default(),
        writes_sent: ctx.writes_sent.load(Ordering::Relaxed),
        warnings,
    })
}

/// Apply a plan. `Err` means refused before anything was sent (exit 3); every other outcome,
/// including handled failures, is an [`Outcome`] with its exit code.
pub async fn apply(opts: &ApplyOptions) -> Result<Outcome, ExecError> {
    let plan = read_plan(&opts.plan)?;
    let log = Log::new(opts.json, opts.quiet).with_observer(opts.observer.clone());
    let opened = open(
        &opts.state_dir,
        &plan.plan_id,
        &opts.nsx,
        opts.dry_run,
        log,
        opts.poll.clone(),
        opts.concurrency.max(1),
        opts.on_import_failure,
        opts.observer.clone(),
    )?;
    let ctx = opened.ctx.clone();
    let warnings = preflight::run(&ctx, &plan, opts.kubectl.as_ref(), opts.min_nsx_version).await?;
    for w in &warnings {
        ctx.log.warn(w);
    }
    if !opts.dry_run {
        let copy = opts.state_dir.join(PLAN_COPY);
        std::fs::copy(&opts.plan, &copy).map_err(|e| ExecError::io(&copy, e))?;
    }
    run_started(&ctx, RunMode::Apply)?;
    ctx.log.info(format!(
        "applying plan {} ({} steps){}",
        plan.plan_id,
        plan.steps.len(),
        if opts.dry_run {
            " -- dry run, nothing is sent"
        } else {
            ""
        }
    ));
    // From here on changes may have been sent: every end is an outcome with its exit code and
    // a journaled RunFinished, never a refusal.
    let (code, message) = match phases(&ctx, &plan).await {
        Ok(r) => r,
        Err(e) => (
            EXIT_MIXED,
            format!(
                "apply stopped: {e}. This run sent {} change request(s); the journal in {} holds its progress: re-run `apply` to continue, or `rollback`",
                ctx.writes_sent.load(Ordering::Relaxed),
                opts.state_dir.display()
            ),
        ),
    };
    let out = finish(&ctx, code, message, warnings);
    drop(opened);
    out
}

fn pending(ctx: &Ctx, plan: &Plan, phase: Phase) -> Vec<Step> {
    plan.steps
        .iter()
        .filter(|s| s.phase == phase && !ctx.progress.is_done(&s.id))
        .cloned()
        .collect()
}

async fn rollback_all(ctx: &Ctx, why: &str) -> Result<(u8, String), ExecError> {
    let records = match import::adopt_unrecorded(ctx, &current(ctx)).await {
        Ok(r) => r,
        Err(e) => return Ok(rollback_failed(ctx, why, e)),
    };
    ctx.log.warn(format!(
        "{why}: rolling back {} imported batch(es), newest first",
        records.len()
    ));
    match import::rollback_records(ctx, &records).await {
        Ok(n) => {
            // DONE closes the promotion window, unless an interrupted run already did.
            let p = current(ctx);
            if (n > 0 || p.import_submit_seq > p.import_done_seq)
                && let Err(e) = import::done(ctx).await
            {
                ctx.log
                    .warn(format!("workflow DONE after rollback failed: {e}"));
            }
            Ok((
                EXIT_ROLLED_BACK,
                format!(
                    "{why}; rolled back {n} batch(es): nothing of this plan is imported. NCP may be restarted in Manager mode; fix the cause and re-plan"
                ),
            ))
        }
        Err(e) => Ok(rollback_failed(ctx, why, e)),
    }
}

fn rollback_failed(ctx: &Ctx, why: &str, e: ExecError) -> (u8, String) {
    let _ = ctx.step_failed(crate::progress::IMPORT_WORKFLOW, "rollback", &e);
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
    (EXIT_MIXED, message)
}

async fn phases(ctx: &Arc<Ctx>, plan: &Plan) -> Result<(u8, String), ExecError> {
    // An interrupted rollback is continued before anything else (seed: "rollback mode").
    if ctx.progress.rolling_back {
        return rollback_all(ctx, "a previous run was rolling back").await;
    }

    // Prepare.
    let prepare = pending(ctx, plan, Phase::Prepare);
    ctx.stage_started(Stage::Prepare, prepare.len());
    for step in prepare {
        let r = match &step.action {
            Action::DfwSectionMove(m) => crate::dfw::section_move(ctx, &step, m).await,
            Action::DfwSectionCreate(c) => crate::dfw::section_create(ctx, &step, c).await,
            Action::DfwRuleMove(m) => crate::dfw::rule_move(ctx, &step, m).await,
            _ => Ok(()),
        };
        ctx.step_finished(Stage::Prepare, &step.id, r.is_ok());
        if let Err(e) = r {
            ctx.stage_finished(Stage::Prepare);
            ctx.step_failed(&step.id, "step", &e)?;
            let code = if current(ctx).records.is_empty() {
                EXIT_ROLLED_BACK
            } else {
                EXIT_MIXED
            };
            return Ok((
                code,
                format!(
                    "prepare phase failed at {}: {e}. Nothing was imported; re-run `apply` after fixing the cause",
                    step.id
                ),
            ));
        }
    }

    ctx.stage_finished(Stage::Prepare);

    // Import.
    let mut window = Window::default();
    let imports: Vec<Step> = pending(ctx, plan, Phase::Import)
        .into_iter()
        .filter(|s| matches!(s.action, Action::ImportBatch(_)))
        .collect();
    ctx.stage_started(Stage::Import, imports.len());
    for step in imports {
        let Action::ImportBatch(b) = &step.action else {
            continue;
        };
        let r = import::run_batch(ctx, &step, b, &mut window).await;
        ctx.step_finished(Stage::Import, &step.id, r.is_ok());
        if let Err(e) = r {
            ctx.stage_finished(Stage::Import);
            ctx.step_failed(&step.id, "step", &e)?;
            let why = format!("import failed at {}: {e}", step.id);
            return match ctx.on_import_failure {
                OnImportFailure::Stop => Ok((
                    EXIT_MIXED,
                    format!(
                        "{why}. --on-import-failure stop: {} imported batch(es) kept; do not run NCP in Manager mode; re-run `apply` to continue or `rollback` to undo",
                        current(ctx).records.len()
                    ),
                )),
                OnImportFailure::Rollback => rollback_all(ctx, &why).await,
            };
        }
    }
    let p = current(ctx);
    if window.submitted || p.import_submit_seq > p.import_done_seq {
        if let Err(e) = import::done(ctx).await {
            ctx.stage_finished(Stage::Import);
            return Ok((
                EXIT_MIXED,
                format!(
                    "every batch is imported but workflow DONE failed: {e}; re-run `apply` to finish"
                ),
            ));
        }
    }

    ctx.stage_finished(Stage::Import);

    // Update.
    let updates: Vec<Step> = pending(ctx, plan, Phase::Update)
        .into_iter()
        .filter(|s| matches!(s.action, Action::PolicyUpdate(_)))
        .collect();
    let n_updates = updates.len();
    ctx.stage_started(Stage::Update, n_updates);
    let failures = update::run(ctx, updates).await;
    ctx.stage_finished(Stage::Update);
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .take(10)
            .map(|(s, e)| format!("{s}: {e}"))
            .collect();
        return Ok((
            EXIT_MIXED,
            format!(
                "{} of {n_updates} Policy update(s) failed (their bodies are in the journal; re-run `apply` to retry only those):\n  {}",
                failures.len(),
                list.join("\n  ")
            ),
        ));
    }

    // Verify.
    if !ctx.dry_run() {
        let problems = verify(ctx, plan).await;
        ctx.stage_finished(Stage::Verify);
        let problems = problems?;
        if !problems.is_empty() {
            return Ok((
                EXIT_MIXED,
                format!(
                    "verification found {} problem(s):\n  {}",
                    problems.len(),
                    problems.join("\n  ")
                ),
            ));
        }
    }
    Ok((
        EXIT_SUCCESS,
        if ctx.dry_run() {
            format!(
                "dry run: {} request(s) would be sent",
                ctx.dry.lock().map(|d| d.len()).unwrap_or(0)
            )
        } else {
            format!(
                "plan {} applied and verified ({} change request(s) sent by this run)",
                plan.plan_id,
                ctx.writes_sent.load(Ordering::Relaxed)
            )
        },
    ))
}

/// Read back what the plan promised: every import batch migrated, every update applied.
#[allow(clippy::map_entry)]
async fn verify(ctx: &Ctx, plan: &Plan) -> Result<Vec<String>, ExecError> {
    let checks = plan
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::ImportBatch(_) | Action::PolicyUpdate(_)))
        .count();
    ctx.stage_started(Stage::Verify, checks);
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
                        .get(&(s.id.clone(), crate::progress::STEP_OP.to_string()))
                        .and_then(|d| d.as_deref())
                        .is_some_and(|d| d.contains("outside this plan"));
                    if !foreign_ok {
                        ok = false;
                        problems.push(format!("{}: {missing} object(s) not migrated", s.id));
                    }
                }
                ctx.step_finished(Stage::Verify, &s.id, ok);
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
                ctx.step_finished(Stage::Verify, &s.id, ok);
            }
            _ => {}
        }
    }
    Ok(problems)
}

/// Roll back every migration record of the journal in `opts.state_dir`, newest first.
/// Idempotent: records already rolled back are skipped; objects live state shows as no longer
/// migrated are not requested again.
pub async fn rollback(opts: &RollbackOptions) -> Result<Outcome, ExecError> {
    let path = opts.state_dir.join(JOURNAL_FILE);
    let loaded = journal::load(&path, None)?;
    let Some(plan_id) = loaded.records.first().map(|r| r.plan_id.clone()) else {
        return Ok(Outcome {
            exit_code: EXIT_SUCCESS,
            message: format!(
                "{}: no journal, nothing to roll back",
                opts.state_dir.display()
            ),
            dry_run_requests: Vec::new(),
            writes_sent: 0,
            warnings: Vec::new(),
        });
    };
    let log = Log::new(opts.json, opts.quiet).with_observer(opts.observer.clone());
    let opened = open(
        &opts.state_dir,
        &plan_id,
        &opts.nsx,
        false,
        log,
        opts.poll.clone(),
        1,
        OnImportFailure::Rollback,
        opts.observer.clone(),
    )?;
    let ctx = opened.ctx.clone();
    // Reachability before the first record.
    ctx.nsx
        .node_version()
        .await
        .map_err(|e| ExecError::Preflight(format!("NSX Manager not reachable: {e}")))?;
    run_started(&ctx, RunMode::Rollback)?;
    let rolled = match import::adopt_unrecorded(&ctx, &current(&ctx)).await {
        Ok(records) => import::rollback_records(&ctx, &records).await,
        Err(e) => Err(e),
    };
    let (code, message) = match rolled {
        Ok(n) => {
            if n > 0 || ctx.progress.import_submit_seq > ctx.progress.import_done_seq {
                if let Err(e) = import::done(&ctx).await {
                    ctx.log
                        .warn(format!("workflow DONE after rollback failed: {e}"));
                }
            }
            (
                EXIT_SUCCESS,
                format!("rolled back {n} batch(es); no migration record of plan {plan_id} remains"),
            )
        }
        Err(e) => {
            let _ = ctx.step_failed(crate::progress::IMPORT_WORKFLOW, "rollback", &e);
            let message = if current(&ctx).rolling_back {
                format!("rollback FAILED: {e}. Re-run `rollback` (or `apply`) to continue it")
            } else {
                // Failed before its first intent: the journal still points forward, so `apply`
                // would import, not roll back.
                format!(
                    "the rollback could not start: {e}. Nothing was rolled back; re-run `rollback` when the manager answers"
                )
            };
            (EXIT_MIXED, message)
        }
    };
    let out = finish(&ctx, code, message, Vec::new());
    drop(opened);
    out
}

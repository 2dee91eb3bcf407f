//! `apply` and `rollback` for every kind: refusals first (nothing sent), then the kind's phases
//! in plan order as stages, verify, and a journaled end with its exit code.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use client::NsxClient;
use plan_schema::journal::{JOURNAL_FORMAT_VERSION, JournalEvent, RunMode};
use plan_schema::{AnyPlan, KindPhase, MigrationKind, Plan, Step};

use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::journal::{self, JOURNAL_FILE, Journal};
use crate::kind::{Flow, KindExecutor};
use crate::lock::{self, StateLock};
use crate::log::Log;
use crate::manager_lock::{self, ManagerLock, ManagerLockConfig};
use crate::observe::{SharedObserver, Stage};
use crate::progress::Progress;
use crate::{ApplyOptions, OnImportFailure, Outcome, RollbackOptions};

/// File name of the plan copy kept in the state directory.
pub const PLAN_COPY: &str = "plan.toml";

fn read_plan(path: &Path) -> Result<AnyPlan, ExecError> {
    let plan = plan_schema::read_plan_file(path).map_err(|e| ExecError::Plan(e.to_string()))?;
    if !plan.is_applicable() {
        return Err(ExecError::Plan(format!(
            "{}: the plan has {} error finding(s) and cannot be applied; resolve them and re-plan (`nsx-migrate show`)",
            path.display(),
            plan.errors()
        )));
    }
    Ok(plan)
}

/// The journal's progress as of now (in a dry run: as of the start).
pub(crate) fn current(ctx: &Ctx) -> Progress {
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
    manager_lock: Option<ManagerLock>,
}

impl Opened {
    /// The journal's progress again, after records this run added before its stages (live
    /// state adopted): the context is not shared yet.
    fn refresh(&mut self) {
        let progress = current(&self.ctx);
        if let Some(ctx) = Arc::get_mut(&mut self.ctx) {
            ctx.progress = progress;
        }
    }

    /// Release the lock on the manager (a failure is a warning: it expires by itself).
    async fn close(mut self) {
        if let Some(l) = self.manager_lock.take()
            && let Err(e) = l.release().await
        {
            self.ctx.log.warn(format!(
                "{e}; it expires by itself after its lease, or `force-unlock` removes it"
            ));
        }
    }
}

/// What a run opens: the client, and unless it is a dry run, the lock and the journal.
struct OpenOptions<'a> {
    dir: &'a Path,
    plan_id: &'a str,
    nsx: &'a client::NsxConfig,
    openstack: Option<client::OpenStackClient>,
    kubectl: Option<client::Kubectl>,
    confirmed_tasks: Vec<String>,
    window: crate::WindowClients,
    confirm_point_of_no_return: bool,
    dry_run: bool,
    log: Log,
    poll: crate::PollConfig,
    concurrency: usize,
    on_import_failure: OnImportFailure,
    observer: Option<SharedObserver>,
    /// The lock on the manager (`None`: not taken, e.g. dry runs).
    manager_lock: Option<&'a ManagerLockConfig>,
    mode: &'a str,
}

async fn open(o: OpenOptions<'_>) -> Result<Opened, ExecError> {
    let nsx = NsxClient::new(o.nsx.clone()).map_err(|e| ExecError::Preflight(e.to_string()))?;
    let (journal, progress, lock, log, mlock) = if o.dry_run {
        let loaded = journal::load(&o.dir.join(JOURNAL_FILE), Some(o.plan_id))?;
        let p = Progress::from_records(&loaded.records);
        (None, p, None, o.log, None)
    } else {
        let (lock, warn) = lock::acquire(o.dir, o.plan_id)?;
        let log = o.log.with_file(o.dir);
        if let Some(w) = warn {
            log.warn(w);
        }
        // The journal is checked (another plan's, corrupt) before anything is written to NSX.
        let (j, torn) = Journal::open(o.dir, o.plan_id)?;
        if let Some(t) = torn {
            log.warn(t);
        }
        let mlock = match o.manager_lock {
            Some(cfg) => {
                let l = manager_lock::acquire(&nsx, cfg, &lock.info, o.mode).await?;
                if let Some(h) = &l.took_over {
                    log.warn(format!(
                        "took over the lock on the manager from {}, whose run is gone",
                        h.describe()
                    ));
                }
                Some(l)
            }
            None => None,
        };
        let p = Progress::from_records(j.records());
        (Some(Mutex::new(j)), p, Some(lock), log, mlock)
    };
    let inherited = mlock
        .as_ref()
        .and_then(|l| l.took_over.clone())
        .filter(|h| h.plan_id == o.plan_id);
    Ok(Opened {
        ctx: Arc::new(Ctx {
            plan_id: o.plan_id.to_string(),
            nsx,
            openstack: o.openstack,
            kubectl: o.kubectl,
            confirmed_tasks: o.confirmed_tasks,
            window: o.window,
            confirm_point_of_no_return: o.confirm_point_of_no_return,
            secrets: Default::default(),
            journal,
            log,
            dry: Mutex::new(Vec::new()),
            progress,
            poll: o.poll,
            concurrency: o.concurrency,
            on_import_failure: o.on_import_failure,
            writes_sent: Default::default(),
            observer: o.observer,
            lock_lost: mlock.as_ref().map(ManagerLock::lost_flag),
            inherited,
        }),
        _lock: lock,
        manager_lock: mlock,
    })
}

fn run_started(ctx: &Ctx, kind: MigrationKind, mode: RunMode) -> Result<(), ExecError> {
    ctx.record(JournalEvent::RunStarted {
        journal_format_version: JOURNAL_FORMAT_VERSION,
        kind,
        mode,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        host: lock::host_name(),
        pid: std::process::id(),
    })
}

fn finish(
    ctx: &Ctx,
    code: ExitCode,
    message: String,
    warnings: Vec<String>,
) -> Result<Outcome, ExecError> {
    let (code, message) = match ctx.record(JournalEvent::RunFinished {
        exit_code: code.code(),
        outcome: message.clone(),
    }) {
        Ok(()) => (code, message),
        // The run's end could not be made durable: never report a clean success then.
        Err(e) => (
            code.max(ExitCode::Mixed),
            format!("{message}\n(the journal could not record the end of this run: {e})"),
        ),
    };
    if code == ExitCode::Success {
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

/// Apply a plan of any kind. `Err` means refused before anything was sent (exit 3); every
/// other outcome, including handled failures, is an [`Outcome`] with its exit code.
pub async fn apply(opts: &ApplyOptions) -> Result<Outcome, ExecError> {
    match read_plan(&opts.plan)? {
        AnyPlan::MpToPolicy(p) => apply_kind(opts, p).await,
        AnyPlan::VioV2t(p) => apply_kind(opts, p).await,
    }
}

/// What a kind's executor cannot do yet: refused, nothing sent.
fn not_yet(plan: &Path, what: &str) -> ExecError {
    ExecError::Plan(format!(
        "{}: {what} is not available in this nsx-migrate yet; nothing was sent",
        plan.display()
    ))
}

async fn apply_kind<K: KindExecutor>(
    opts: &ApplyOptions,
    plan: Plan<K>,
) -> Result<Outcome, ExecError> {
    K::check_options(opts)?;
    let log = Log::new().with_observer(opts.observer.clone());
    let mut opened = open(OpenOptions {
        dir: &opts.state_dir,
        plan_id: &plan.plan_id,
        nsx: &opts.nsx,
        openstack: opts.openstack.clone(),
        kubectl: opts.kubectl.clone(),
        confirmed_tasks: opts.confirm_tasks.clone(),
        window: opts.window.clone(),
        confirm_point_of_no_return: opts.confirm_point_of_no_return,
        dry_run: opts.dry_run,
        log,
        poll: opts.poll.clone(),
        concurrency: opts.concurrency.unwrap_or(K::DEFAULT_CONCURRENCY).max(1),
        on_import_failure: opts.on_import_failure,
        observer: opts.observer.clone(),
        manager_lock: (!opts.dry_run).then_some(&opts.manager_lock),
        mode: "apply",
    })
    .await?;
    let out = apply_opened(opts, &plan, &mut opened).await;
    opened.close().await;
    out
}

/// No journal of this plan here (a new state directory, or the machine that ran it is gone):
/// live state decides. Returns the records that adopt the steps whose planned end state is
/// already there, so preflight does not call the plan's own earlier changes stale and nothing
/// is sent twice.
async fn adopt_live_state<K: KindExecutor>(
    ctx: &Arc<Ctx>,
    plan: &Plan<K>,
) -> Result<Vec<JournalEvent>, ExecError> {
    if let Some(h) = &ctx.inherited {
        ctx.log.info(format!(
            "no journal of plan {} in this state directory, and the lock on the manager says a run of it ({}) died: reading live state to continue where it stopped",
            plan.plan_id,
            h.describe()
        ));
    }
    K::adopt(ctx, plan).await
}

async fn apply_opened<K: KindExecutor>(
    opts: &ApplyOptions,
    plan: &Plan<K>,
    opened: &mut Opened,
) -> Result<Outcome, ExecError> {
    let fresh =
        !opts.dry_run && opened.ctx.progress.runs == 0 && opened.ctx.progress.touched.is_empty();
    let mut started = false;
    if fresh {
        match adopt_live_state(&opened.ctx, plan).await {
            Ok(events) if !events.is_empty() => {
                // Adopted steps are journaled, so the run is journaled from here (a refusal
                // below ends it with exit 3, nothing sent).
                run_started(&opened.ctx, K::KIND, RunMode::Apply)?;
                started = true;
                let steps = events
                    .iter()
                    .filter(|e| matches!(e, JournalEvent::StepDone { .. }))
                    .count();
                for e in events {
                    opened.ctx.record(e)?;
                }
                opened.ctx.log.warn(format!(
                    "no journal of this plan in {}: {steps} step(s) whose planned end state live state already shows were adopted as done (inferred from live state, not from a journal)",
                    opts.state_dir.display()
                ));
                opened.refresh();
            }
            Ok(_) => {}
            // Preflight names the cause better when it is one it checks (a stopped
            // coordinator, an unreachable manager).
            Err(e) => {
                K::preflight(&opened.ctx, plan, opts).await?;
                return Err(ExecError::Preflight(format!(
                    "reading live state (there is no journal of this plan here): {e}"
                )));
            }
        }
    }
    let ctx = opened.ctx.clone();
    let warnings = match K::preflight(&ctx, plan, opts).await {
        Ok(w) => w,
        Err(e) => {
            if started {
                let _ = ctx.record(JournalEvent::RunFinished {
                    exit_code: ExitCode::Refused.code(),
                    outcome: format!("refused: {e}"),
                });
            }
            return Err(e);
        }
    };
    for w in &warnings {
        ctx.log.warn(w);
    }
    if !opts.dry_run {
        let copy = opts.state_dir.join(PLAN_COPY);
        std::fs::copy(&opts.plan, &copy).map_err(|e| ExecError::io(&copy, e))?;
    }
    if !started {
        run_started(&ctx, K::KIND, RunMode::Apply)?;
    }
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
    let (code, message) = match stages(&ctx, plan).await {
        Ok(r) => r,
        Err(e) => (
            ExitCode::Mixed,
            format!(
                "apply stopped: {e}. This run sent {} change request(s); the journal in {} holds its progress: re-run `apply` to continue, or `rollback`",
                ctx.writes_sent.load(Ordering::Relaxed),
                opts.state_dir.display()
            ),
        ),
    };
    finish(&ctx, code, message, warnings)
}

fn pending<K: KindExecutor>(ctx: &Ctx, plan: &Plan<K>, phase: K::Phase) -> Vec<Step<K>> {
    plan.steps
        .iter()
        .filter(|s| s.phase == phase && !ctx.progress.is_done(&s.id))
        .cloned()
        .collect()
}

/// The stage loop: the kind's phases in order, then verify.
async fn stages<K: KindExecutor>(
    ctx: &Arc<Ctx>,
    plan: &Plan<K>,
) -> Result<(ExitCode, String), ExecError> {
    // An interrupted rollback is continued before anything else (seed: "rollback mode").
    if ctx.progress.rolling_back {
        return Ok(K::rollback(ctx, Some("a previous run was rolling back")).await);
    }
    for &phase in K::Phase::ALL {
        let stage = Stage::new(phase.as_str());
        let steps = pending(ctx, plan, phase);
        ctx.stage_started(stage, steps.len());
        let flow = K::run_phase(ctx, plan, phase, steps).await;
        ctx.stage_finished(stage);
        match flow? {
            Flow::Continue => {}
            Flow::Stop(code, message) => return Ok((code, message)),
            Flow::RollBack(why) => return Ok(K::rollback(ctx, Some(&why)).await),
        }
    }

    if ctx.dry_run() {
        return Ok((
            ExitCode::Success,
            format!(
                "dry run: {} request(s) would be sent",
                ctx.dry.lock().map(|d| d.len()).unwrap_or(0)
            ),
        ));
    }
    ctx.stage_started(Stage::VERIFY, K::verify_total(plan));
    let problems = K::verify(ctx, plan).await;
    ctx.stage_finished(Stage::VERIFY);
    let problems = problems?;
    if !problems.is_empty() {
        return Ok((
            ExitCode::Mixed,
            format!(
                "verification found {} problem(s):\n  {}",
                problems.len(),
                problems.join("\n  ")
            ),
        ));
    }
    Ok((
        ExitCode::Success,
        format!(
            "plan {} applied and verified ({} change request(s) sent by this run)",
            plan.plan_id,
            ctx.writes_sent.load(Ordering::Relaxed)
        ),
    ))
}

/// Roll back every migration record of the journal in `opts.state_dir`, newest first, with the
/// executor of the kind the journal was written for. Idempotent: records already rolled back
/// are skipped; objects live state shows as no longer migrated are not requested again.
/// Without a journal, `opts.plan` names the plan whose imports live state shows are rolled back.
pub async fn rollback(opts: &RollbackOptions) -> Result<Outcome, ExecError> {
    let path = opts.state_dir.join(JOURNAL_FILE);
    let loaded = journal::load(&path, None)?;
    let Some(plan_id) = loaded.records.first().map(|r| r.plan_id.clone()) else {
        return match &opts.plan {
            Some(p) => match read_plan_any(p)? {
                AnyPlan::MpToPolicy(plan) => {
                    rollback_live::<plan_schema::mp::MpToPolicy>(opts, plan).await
                }
                AnyPlan::VioV2t(_) => Err(not_yet(
                    p,
                    "`rollback --plan` of a vio-v2t plan without its journal",
                )),
            },
            None => Ok(Outcome {
                exit_code: ExitCode::Success,
                message: format!(
                    "{}: no journal, nothing to roll back (to roll back what live state shows a plan imported, give --plan PLAN)",
                    opts.state_dir.display()
                ),
                dry_run_requests: Vec::new(),
                writes_sent: 0,
                warnings: Vec::new(),
            }),
        };
    };
    if let Some(p) = &opts.plan {
        let given = read_plan_any(p)?;
        if given.plan_id() != plan_id {
            return Err(ExecError::Plan(format!(
                "{}: the journal in {} belongs to plan {plan_id}, not to {} ({}); roll back with the journal alone or use another --state-dir",
                p.display(),
                opts.state_dir.display(),
                given.plan_id(),
                p.display()
            )));
        }
    }
    match journal::kind_of(&loaded.records) {
        Some(MigrationKind::MpToPolicy) => {
            rollback_kind::<plan_schema::mp::MpToPolicy>(opts, &plan_id, None).await
        }
        Some(MigrationKind::VioV2t) => {
            rollback_kind::<plan_schema::vio::VioV2t>(opts, &plan_id, None).await
        }
        None => Err(ExecError::CorruptJournal {
            file: path.clone(),
            line: 1,
            message: "no run_started record names the plan's kind".into(),
        }),
    }
}

/// A plan read for rollback: sealed and valid; error findings do not matter (it was applied).
fn read_plan_any(path: &Path) -> Result<AnyPlan, ExecError> {
    plan_schema::read_plan_file(path).map_err(|e| ExecError::Plan(e.to_string()))
}

async fn rollback_live<K: KindExecutor>(
    opts: &RollbackOptions,
    plan: Plan<K>,
) -> Result<Outcome, ExecError> {
    let plan_id = plan.plan_id.clone();
    rollback_kind::<K>(opts, &plan_id, Some(&plan)).await
}

async fn rollback_kind<K: KindExecutor>(
    opts: &RollbackOptions,
    plan_id: &str,
    from_live: Option<&Plan<K>>,
) -> Result<Outcome, ExecError> {
    let log = Log::new().with_observer(opts.observer.clone());
    let mut opened = open(OpenOptions {
        dir: &opts.state_dir,
        plan_id,
        nsx: &opts.nsx,
        openstack: opts.openstack.clone(),
        kubectl: None,
        confirmed_tasks: Vec::new(),
        window: opts.window.clone(),
        confirm_point_of_no_return: false,
        dry_run: false,
        log,
        poll: opts.poll.clone(),
        concurrency: 1,
        on_import_failure: OnImportFailure::Rollback,
        observer: opts.observer.clone(),
        manager_lock: Some(&opts.manager_lock),
        mode: "rollback",
    })
    .await?;
    let out = rollback_opened::<K>(&mut opened, from_live).await;
    opened.close().await;
    out
}

async fn rollback_opened<K: KindExecutor>(
    opened: &mut Opened,
    from_live: Option<&Plan<K>>,
) -> Result<Outcome, ExecError> {
    // Reachability before the first record.
    K::reachable(&opened.ctx).await?;
    run_started(&opened.ctx, K::KIND, RunMode::Rollback)?;
    let mut notes = Vec::new();
    if let Some(plan) = from_live {
        let n = K::adopt_for_rollback(&opened.ctx, plan).await?;
        notes.push(format!(
            "no journal: what plan {} made was inferred from live state ({n} record(s) adopted); anything matching the plan is rolled back, even if another run made it",
            plan.plan_id
        ));
        opened.refresh();
    }
    let ctx = opened.ctx.clone();
    for n in &notes {
        ctx.log.warn(n);
    }
    let (code, message) = K::rollback(&ctx, None).await;
    finish(&ctx, code, message, notes)
}

//! The nsx-migrate executor: applies exactly a reviewed, sealed plan and records its progress
//! in a write-ahead journal, so a crash, a lost connection or a power cut loses nothing.
//!
//! The core is kind-independent: [`apply`] reads and checks the plan, takes the lock, opens
//! the journal of this plan, runs the kind's preflight, then its phases in plan order as stages
//! (resuming from the journal; an intent without an outcome is resolved by reading live state),
//! verifies, and ends every run with a journaled exit code ([`ExitCode`]). [`rollback`] undoes
//! the journal's migration records with the executor of the journal's kind; [`status`] reads
//! the state directory alone; [`force_unlock`] removes a stale lock by id. A kind supplies its
//! preflight, phases, verify and rollback ([`kind::KindExecutor`]): [`mp`] is the
//! Manager-to-Policy kind (and its read-only [`audit`]).
//!
//! Front ends follow a run through an [`Observer`] in the options (stage started with its number
//! of steps, step finished, stage finished, and the operator messages); the CLI draws progress
//! bars from it. The library itself draws and prints nothing.
//!
//! The state directory holds `lock`, `journal.jsonl`, `executor.log` and `plan.toml` (a copy of
//! the plan being applied, for `status`). None of them ever contains a credential.

// A library reports through its return values and observers; only the CLI prints.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod apply;
pub mod audit;
mod ctx;
pub mod error;
pub mod exit;
pub mod journal;
pub mod kind;
pub mod lock;
pub mod log;
pub mod manager_lock;
pub mod mp;
pub mod observe;
pub mod progress;
pub mod status;
pub mod vio;

use std::path::PathBuf;
use std::time::Duration;

pub(crate) use apply::current;
pub use apply::{apply, rollback};
pub use audit::{AuditReport, StepAudit, StepState};
pub use client;
pub use error::ExecError;
pub use exit::ExitCode;
pub use observe::{Observer, SharedObserver, Stage};
pub use status::{StatusReport, status};

/// Read-only comparison of a plan with live state, with the auditor of the plan's kind; also
/// reports the lock on the manager when a run holds it or a dead run left it.
pub async fn audit(
    plan: &plan_schema::AnyPlan,
    nsx: &client::NsxConfig,
    lock: &manager_lock::ManagerLockConfig,
    kubectl: Option<&client::Kubectl>,
) -> Result<AuditReport, ExecError> {
    let mut report = match plan {
        plan_schema::AnyPlan::MpToPolicy(p) => mp::audit(p, nsx).await?,
        plan_schema::AnyPlan::VioV2t(p) => vio::audit::audit(p, nsx, kubectl).await?,
    };
    let client =
        client::NsxClient::new(nsx.clone()).map_err(|e| ExecError::Preflight(e.to_string()))?;
    if let Some(h) = manager_lock::read(&client, lock).await? {
        report.manager_lock = Some(audit::LockNote {
            expired: h.expired(lock.grace),
            holder: h,
        });
    }
    Ok(report)
}

/// What to do when a step fails in a phase whose changes the kind can undo (for
/// Manager-to-Policy: an import batch; the name is the CLI flag's, `--on-import-failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnImportFailure {
    /// Roll back this plan's migration records newest first; exit 2 (the seeds' default).
    #[default]
    Rollback,
    /// Keep what was done; exit 1; a later `apply` continues forward.
    Stop,
}

/// Polling of the migration coordinator.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// Shortest pause between two polls (the pause is a fortieth of the time waited so far, within
    /// `initial..=max`).
    pub initial: Duration,
    /// Longest pause between two polls.
    pub max: Duration,
    /// Give up waiting for one batch after this long.
    pub timeout: Duration,
    /// Timeout of the DONE and rollback calls (sent once, never retried).
    pub done_timeout: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            initial: Duration::from_millis(25),
            max: Duration::from_secs(2),
            timeout: Duration::from_secs(6000),
            done_timeout: Duration::from_secs(1800),
        }
    }
}

/// The endpoints other than NSX and OpenStack a kind's later phases drive (`vio-v2t`: the
/// NSX-V Manager for the edges' vNICs and the coordinator's token, vCenter for powering off the
/// edges and for the coordinator's setup).
#[derive(Debug, Clone, Default)]
pub struct WindowClients {
    pub nsxv: Option<client::NsxvClient>,
    pub vcenter: Option<client::VcenterClient>,
}

/// Options of [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub plan: PathBuf,
    pub state_dir: PathBuf,
    pub nsx: client::NsxConfig,
    /// Re-read Kubernetes through kubectl; `None` skips that check (with a warning).
    pub kubectl: Option<client::Kubectl>,
    /// The OpenStack cloud of a `vio-v2t` plan (clouds.yaml / `OS_*`); `None` for other kinds.
    pub openstack: Option<client::OpenStackClient>,
    /// Steps done by the operator (a plan's operator tasks) that this run records as done.
    pub confirm_tasks: Vec<String>,
    /// The NSX-V Manager and vCenter of a `vio-v2t` plan's maintenance-window phases.
    pub window: WindowClients,
    /// The operator confirmed the point of no return (`--confirm-point-of-no-return`): a step
    /// the plan marks so (a `vio-v2t` host migration) may start. Without it the run stops
    /// before such a step and sends nothing for it.
    pub confirm_point_of_no_return: bool,
    pub dry_run: bool,
    /// Changes in flight at once (Manager-to-Policy: Policy updates; vio-v2t: replay steps);
    /// `None`: the kind's default (`KindExecutor::DEFAULT_CONCURRENCY`: 8, vio-v2t 16).
    pub concurrency: Option<usize>,
    pub on_import_failure: OnImportFailure,
    pub poll: PollConfig,
    /// Receives per-stage progress and the operator messages (the CLI prints them; tests and
    /// benchmarks record them).
    pub observer: Option<SharedObserver>,
    /// The lock on the manager (taken unless it is a dry run).
    pub manager_lock: manager_lock::ManagerLockConfig,
}

impl ApplyOptions {
    pub fn new(
        plan: impl Into<PathBuf>,
        state_dir: impl Into<PathBuf>,
        nsx: client::NsxConfig,
    ) -> Self {
        ApplyOptions {
            plan: plan.into(),
            state_dir: state_dir.into(),
            nsx,
            kubectl: None,
            openstack: None,
            confirm_tasks: Vec::new(),
            window: WindowClients::default(),
            confirm_point_of_no_return: false,
            dry_run: false,
            concurrency: None,
            on_import_failure: OnImportFailure::Rollback,
            poll: PollConfig::default(),
            observer: None,
            manager_lock: Default::default(),
        }
    }
}

/// Options of [`rollback`].
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub state_dir: PathBuf,
    /// The plan, needed only when the state directory holds no journal: what live state shows
    /// it made is rolled back.
    pub plan: Option<PathBuf>,
    /// The lock on the manager.
    pub manager_lock: manager_lock::ManagerLockConfig,
    pub nsx: client::NsxConfig,
    /// The OpenStack cloud, when the journal is of a `vio-v2t` plan.
    pub openstack: Option<client::OpenStackClient>,
    /// NSX-V and vCenter, when the journal of a `vio-v2t` plan reached its window phases.
    pub window: WindowClients,
    pub poll: PollConfig,
    /// Receives the rollback stage's progress and the operator messages.
    pub observer: Option<SharedObserver>,
}

/// The result of a run that got past the refusals.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub exit_code: ExitCode,
    pub message: String,
    /// `--dry-run`: the requests that would be sent, in order.
    pub dry_run_requests: Vec<String>,
    /// Change requests actually sent.
    pub writes_sent: u64,
    pub warnings: Vec<String>,
}

/// Remove the lock of `state_dir` when its id is `id`.
pub fn force_unlock(state_dir: &std::path::Path, id: &str) -> Result<lock::LockInfo, ExecError> {
    lock::force_unlock(state_dir, id)
}

/// Run a future on a fresh multi-threaded tokio runtime (for the synchronous CLI).
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, ExecError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .map_err(|e| ExecError::io("tokio runtime", e))?;
    Ok(rt.block_on(f))
}

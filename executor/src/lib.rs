//! The nsx-migrate executor: applies exactly a reviewed, sealed plan against NSX and records its
//! progress in a write-ahead journal, so a crash, a lost connection or a power cut loses nothing.
//!
//! * [`apply`]: preflight (plan sealed and applicable, lock, journal of this plan, NSX and the
//!   migration coordinator ready, no drift of MP objects or Kubernetes, NCP stopped, no foreign
//!   promotion), then the phases in plan order: prepare (DFW moves through the Manager API),
//!   import (the coordinator's CONSUMER flow per batch), update (tags and display names through
//!   the Policy API, bounded concurrency), verify. Resumes from the journal, resolving intents
//!   without outcome by reading live state.
//! * [`rollback`]: roll back every migration record of the journal, newest first.
//! * [`status`]: per-phase progress from the state directory alone.
//! * [`audit`]: read-only comparison of a plan with live state.
//! * [`force_unlock`]: remove a stale lock by id.
//!
//! Front ends follow a run through an [`Observer`] in the options (stage started with its number
//! of steps, step finished, stage finished, and the operator messages); the CLI draws progress
//! bars from it. The library itself draws nothing.
//!
//! Exit codes follow the seeds' importer: 0 success; 1 failed with resources mixed between
//! Manager and Policy (do not run NCP in Manager mode; re-run to resume); 2 failed and nothing
//! left imported (NCP may run in Manager mode again); 3 refused before anything was sent.
//!
//! The state directory holds `lock`, `journal.jsonl`, `executor.log` and `plan.toml` (a copy of
//! the plan being applied, for `status`). None of them ever contains a credential.

mod apply;
pub mod audit;
mod ctx;
pub mod dfw;
pub mod error;
pub mod import;
pub mod journal;
pub mod lock;
pub mod log;
pub mod observe;
pub mod preflight;
pub mod progress;
pub mod status;
pub mod update;

use std::path::PathBuf;
use std::time::Duration;

pub use apply::{apply, rollback};
pub use audit::{AuditReport, StepAudit, StepState, audit};
pub use client;
pub use error::ExecError;
pub use observe::{Observer, SharedObserver, Stage};
pub use status::{StatusReport, status};

/// Exit code: success.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code: unsuccessful, resources mixed Manager/Policy; do not run NCP in Manager mode.
pub const EXIT_MIXED: u8 = 1;
/// Exit code: unsuccessful, nothing left imported; NCP may be restarted in Manager mode.
pub const EXIT_ROLLED_BACK: u8 = 2;
/// Exit code: refused before anything was sent (invalid plan, lock, foreign journal, drift).
pub const EXIT_REFUSED: u8 = 3;
/// `audit --detailed-exitcode`: live state differs from the fully applied plan.
pub const EXIT_AUDIT_DIFFERENCES: u8 = 4;

/// What to do when an import batch fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnImportFailure {
    /// Abort, roll back this plan's imported batches newest first, DONE; exit 2 (the seeds'
    /// default).
    #[default]
    Rollback,
    /// Keep what was imported; exit 1; a later `apply` continues forward.
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

/// Options of [`apply`].
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub plan: PathBuf,
    pub state_dir: PathBuf,
    pub nsx: client::NsxConfig,
    /// Re-read Kubernetes through kubectl; `None` skips that check (with a warning).
    pub kubectl: Option<client::Kubectl>,
    pub dry_run: bool,
    pub concurrency: usize,
    pub on_import_failure: OnImportFailure,
    pub poll: PollConfig,
    /// JSON-lines events on stdout instead of messages on stderr.
    pub json: bool,
    /// Only warnings and errors on stderr.
    pub quiet: bool,
    /// Oldest NSX version accepted.
    pub min_nsx_version: (u32, u32, u32),
    /// Receives per-stage progress (progress bars, tests, benchmarks); may print messages.
    pub observer: Option<SharedObserver>,
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
            dry_run: false,
            concurrency: 8,
            on_import_failure: OnImportFailure::Rollback,
            poll: PollConfig::default(),
            json: false,
            quiet: false,
            min_nsx_version: (3, 2, 0),
            observer: None,
        }
    }
}

/// Options of [`rollback`].
#[derive(Debug, Clone)]
pub struct RollbackOptions {
    pub state_dir: PathBuf,
    pub nsx: client::NsxConfig,
    pub poll: PollConfig,
    pub json: bool,
    pub quiet: bool,
    /// Receives the rollback stage's progress; may print messages.
    pub observer: Option<SharedObserver>,
}

/// The result of a run that got past the refusals.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub exit_code: u8,
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

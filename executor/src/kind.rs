//! What a migration kind supplies to the executor core.
//!
//! The core ([`crate::apply`]) reads and checks the plan, takes the lock, opens the journal,
//! resumes, runs the kind's phases in order as stages, verifies, ends every run with a journaled
//! exit code and reports progress to the observer. A kind supplies what only it knows: its
//! preflight, how one phase's pending steps are run, how the end state is read back, and how
//! its journaled records are undone.

use std::sync::Arc;

use plan_schema::journal::JournalEvent;
use plan_schema::{Kind, Plan, Step};

use crate::ApplyOptions;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;

/// What the stage loop does after a phase.
#[derive(Debug)]
pub enum Flow {
    /// Go on with the next phase.
    Continue,
    /// End the run with this code and message.
    Stop(ExitCode, String),
    /// A step failed in a way the kind undoes automatically: roll back, then end (the
    /// message says why).
    RollBack(String),
}

/// A kind's executor.
#[allow(async_fn_in_trait)]
pub trait KindExecutor: Kind {
    /// Changes in flight at once when the operator does not say (`--concurrency`).
    const DEFAULT_CONCURRENCY: usize = 8;

    /// Checks of the options alone, before anything is opened (lock, journal) or sent: what
    /// the kind cannot run without (e.g. the credentials of a service only it drives).
    fn check_options(_opts: &ApplyOptions) -> Result<(), ExecError> {
        Ok(())
    }

    /// Checks before the first change, against the requirements the plan carries and live
    /// state. Refuses with a typed error (nothing sent); returns warnings.
    async fn preflight(
        ctx: &Arc<Ctx>,
        plan: &Plan<Self>,
        opts: &ApplyOptions,
    ) -> Result<Vec<String>, ExecError>;

    /// Run the pending steps of one phase, in plan order. The core has started the phase's
    /// stage with their number; the kind reports each finished step.
    async fn run_phase(
        ctx: &Arc<Ctx>,
        plan: &Plan<Self>,
        phase: Self::Phase,
        steps: Vec<Step<Self>>,
    ) -> Result<Flow, ExecError>;

    /// When no journal of this plan exists (a new state directory): the journal records that
    /// adopt every step whose planned end state live state already shows (done, with the
    /// records its rollback needs, e.g. the objects it made). Reads only; the core journals
    /// them.
    async fn adopt(ctx: &Arc<Ctx>, plan: &Plan<Self>) -> Result<Vec<JournalEvent>, ExecError>;

    /// `rollback --plan` without a journal: journal the records of what live state shows this
    /// plan made, so [`KindExecutor::rollback`] undoes them. Returns how many were adopted.
    async fn adopt_for_rollback(ctx: &Arc<Ctx>, plan: &Plan<Self>) -> Result<usize, ExecError>;

    /// How many checks `verify` makes (the verify stage's total).
    fn verify_total(plan: &Plan<Self>) -> usize;

    /// Read back what the plan promised; every problem found.
    async fn verify(ctx: &Arc<Ctx>, plan: &Plan<Self>) -> Result<Vec<String>, ExecError>;

    /// Before `rollback` journals anything: can the target be reached?
    async fn reachable(ctx: &Arc<Ctx>) -> Result<(), ExecError>;

    /// Undo every migration record in force, newest first. `why` is the failure that made
    /// `apply` roll back, or `None` for the `rollback` command.
    async fn rollback(ctx: &Arc<Ctx>, why: Option<&str>) -> (ExitCode, String);
}

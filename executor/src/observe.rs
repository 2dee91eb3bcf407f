//! Progress reporting to a front end: the CLI draws progress bars from it, tests and benchmarks
//! record it. The executor itself draws nothing; it calls an [`Observer`] given in the options:
//! a phase starts with the number of steps it has to run, each step finishes (ok or failed), the
//! phase finishes. Operator messages can be routed through the observer too, so that a front end
//! drawing bars prints them without tearing the bars.

use std::fmt;
use std::sync::Arc;

/// A stage of a run: one of the plan kind's phases (named as in the plan), then `verify`; or
/// `rollback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stage(&'static str);

impl Stage {
    /// Reading back what the plan promised.
    pub const VERIFY: Stage = Stage("verify");
    /// Undoing what this plan did (automatic after a failure, or `rollback`).
    pub const ROLLBACK: Stage = Stage("rollback");

    /// The stage of a phase (or any other named stage).
    pub const fn new(name: &'static str) -> Stage {
        Stage(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Receives progress. Every method has a default that does nothing; calls come from the
/// executor's worker tasks (several at once in the update stage) and must return quickly.
pub trait Observer: Send + Sync {
    /// A stage starts with `total` steps still to run (steps an earlier run finished are not
    /// counted).
    fn stage_started(&self, _stage: Stage, _total: u64) {}
    /// One step of the stage finished (`ok == false`: it failed; the failure is in the journal).
    fn step_finished(&self, _stage: Stage, _step: &str, _ok: bool) {}
    /// The stage ended (all its steps ran, or the run stopped in it).
    fn stage_finished(&self, _stage: Stage) {}
    /// An operator message (`level` is "info", "warn" or "error"), for the front end to show.
    /// The log file in the state directory gets every message either way.
    fn message(&self, _level: &str, _text: &str) {}
}

/// A shareable observer for [`crate::ApplyOptions`] and [`crate::RollbackOptions`].
#[derive(Clone)]
pub struct SharedObserver(pub Arc<dyn Observer>);

impl SharedObserver {
    pub fn new(o: impl Observer + 'static) -> Self {
        SharedObserver(Arc::new(o))
    }
}

impl fmt::Debug for SharedObserver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedObserver(..)")
    }
}

impl std::ops::Deref for SharedObserver {
    type Target = dyn Observer;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

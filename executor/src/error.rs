//! Typed errors of the executor. None of them carries a credential: NSX errors come from the
//! client's [`client::ClientError`], which never holds one.

use std::path::PathBuf;

/// Why the executor refused or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The plan file is unreadable, invalid, altered (seal mismatch) or has error findings.
    #[error("{0}")]
    Plan(String),

    /// Another run holds the state-directory lock.
    #[error(
        "state directory {} is locked by {}@{} pid {} since {} (plan {}); if that run is gone, remove the lock with `nsx-migrate force-unlock {}`",
        dir.display(), held.owner, held.host, held.pid, held.started_at, held.plan_id, held.id
    )]
    Locked {
        dir: PathBuf,
        held: Box<crate::lock::LockInfo>,
    },

    /// Another run, from any machine, holds the lock on the manager.
    #[error(
        "the manager is locked by {}, at {path}; nothing was sent. If that run is gone, wait for its lease to end or remove the lock with `nsx-migrate force-unlock {}` (with the --nsx flags)",
        holder.describe(), holder.id
    )]
    ManagerLocked {
        path: String,
        holder: Box<crate::manager_lock::Holder>,
    },

    /// The lock on the manager was taken from this run (its lease ran out unseen, or
    /// `force-unlock`): it stops before its next change.
    #[error(
        "the lock on the manager was taken from this run (lease lost or force-unlock); stopped before the next change"
    )]
    ManagerLockLost,

    /// `force-unlock` was given an id that does not match the lock.
    #[error("the lock in {} has id {actual}, not {given}: not removed", dir.display())]
    LockIdMismatch {
        dir: PathBuf,
        given: String,
        actual: String,
    },

    /// The journal belongs to another plan.
    #[error(
        "{}: this journal belongs to plan {found}, not {expected}; use another --state-dir, or finish/roll back that plan first",
        file.display()
    )]
    ForeignJournal {
        file: PathBuf,
        expected: String,
        found: String,
    },

    /// A journal line (not the last one) is invalid, or the sequence has a gap.
    #[error("{}:{line}: corrupt journal: {message}", file.display())]
    CorruptJournal {
        file: PathBuf,
        line: usize,
        message: String,
    },

    /// Reading or writing a file of the state directory failed.
    #[error("{}: {message}", file.display())]
    Io { file: PathBuf, message: String },

    /// A precondition checked before any write failed (NSX unreachable, coordinator stopped, NCP
    /// running, another promotion in progress).
    #[error("preflight refused the plan: {0}")]
    Preflight(String),

    /// Live objects differ from what the plan was made from.
    #[error("the plan is stale: {} object(s) changed since it was planned; re-plan:\n  {}", drifted.len(), drifted.join("\n  "))]
    Stale { drifted: Vec<String> },

    /// Reading Kubernetes through kubectl failed.
    #[error("kubernetes: {0}")]
    Kube(#[from] client::KubectlError),

    /// An NSX call failed.
    #[error("{0}")]
    Nsx(#[from] client::ClientError),

    /// A step cannot proceed (unexpected live state, timeout waiting for the coordinator, ...).
    #[error("step {step}: {message}")]
    Step { step: String, message: String },
}

impl ExecError {
    pub(crate) fn io(file: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        ExecError::Io {
            file: file.into(),
            message: e.to_string(),
        }
    }

    pub(crate) fn step(step: impl Into<String>, message: impl Into<String>) -> Self {
        ExecError::Step {
            step: step.into(),
            message: message.into(),
        }
    }

    /// Whether nothing was sent: a refusal before the first write (exit code 3).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ExecError::Plan(_)
                | ExecError::Locked { .. }
                | ExecError::ManagerLocked { .. }
                | ExecError::LockIdMismatch { .. }
                | ExecError::ForeignJournal { .. }
                | ExecError::CorruptJournal { .. }
                | ExecError::Preflight(_)
                | ExecError::Stale { .. }
                | ExecError::Kube(_)
        )
    }
}

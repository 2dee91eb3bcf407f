//! Exit codes of `apply`, `rollback` and `audit`, in one typed place (docs/cli.md lists them).
//! 1 and 2 are the seeds' importer codes.

use std::fmt;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitCode {
    /// Everything the plan asks for is done (or, for `rollback`, undone).
    Success,
    /// Failed with resources mixed between the old and the new control plane; re-run to resume.
    /// For Manager-to-Policy: do not run NCP in Manager mode.
    Mixed,
    /// Failed, and nothing of the plan is left applied (rolled back); for Manager-to-Policy NCP
    /// may run in Manager mode again.
    RolledBack,
    /// Refused before anything was sent (invalid input or plan, lock, foreign journal, drift).
    Refused,
    /// `audit --detailed-exitcode`: live state differs from the fully applied plan.
    AuditDifferences,
}

impl ExitCode {
    pub const fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Mixed => 1,
            ExitCode::RolledBack => 2,
            ExitCode::Refused => 3,
            ExitCode::AuditDifferences => 4,
        }
    }

    /// The code a journal's `run_finished` recorded.
    pub fn from_code(code: u8) -> Option<ExitCode> {
        [
            ExitCode::Success,
            ExitCode::Mixed,
            ExitCode::RolledBack,
            ExitCode::Refused,
            ExitCode::AuditDifferences,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }
}

impl fmt::Display for ExitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

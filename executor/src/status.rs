//! `status`: progress of the plan in a state directory, from the journal and the plan copy
//! alone (no NSX access). Read-only: a torn last line is reported, not cut.

use std::path::Path;

use serde::Serialize;

use crate::error::ExecError;
use crate::journal::{self, JOURNAL_FILE};
use crate::progress::Progress;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PhaseStatus {
    pub phase: String,
    pub steps: usize,
    pub done: usize,
    pub failed: usize,
    pub pending: usize,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StatusReport {
    pub plan_id: Option<String>,
    pub records: usize,
    pub runs: usize,
    pub phases: Vec<PhaseStatus>,
    /// Batches imported and not rolled back (the seeds' migration records).
    pub migration_records: usize,
    /// Objects submitted for import by a run that stopped before recording whether they were
    /// promoted (live state decides when the next `apply` or `rollback` runs).
    pub unrecorded_submissions: usize,
    pub rolling_back: bool,
    pub open_intents: Vec<String>,
    pub last_error: Option<String>,
    pub last_exit_code: Option<u8>,
    pub next_step: Option<String>,
    pub lock: Option<crate::lock::LockInfo>,
    pub warnings: Vec<String>,
}

impl StatusReport {
    pub fn render(&self) -> String {
        let mut out = String::new();
        match &self.plan_id {
            None => {
                out.push_str("no journal: nothing applied from this state directory\n");
                return out;
            }
            Some(p) => out.push_str(&format!(
                "plan {p}: {} journal record(s), {} run(s)\n",
                self.records, self.runs
            )),
        }
        for p in &self.phases {
            out.push_str(&format!(
                "  {:8} {:>4} step(s): {} done, {} failed, {} pending\n",
                p.phase, p.steps, p.done, p.failed, p.pending
            ));
        }
        out.push_str(&format!(
            "  migration records in force: {}{}\n",
            self.migration_records,
            if self.rolling_back {
                " (rollback under way)"
            } else {
                ""
            }
        ));
        if self.unrecorded_submissions > 0 {
            out.push_str(&format!(
                "  object(s) submitted for import without a migration record: {} (the next `apply` continues them from live state; `rollback` rolls back the ones NSX promoted)\n",
                self.unrecorded_submissions
            ));
        }
        for o in &self.open_intents {
            out.push_str(&format!("  intent without outcome: {o}\n"));
        }
        if let Some(c) = self.last_exit_code {
            out.push_str(&format!("  last run exit code: {c}\n"));
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("  last error: {e}\n"));
        }
        match &self.next_step {
            Some(s) => out.push_str(&format!("  next step: {s}\n")),
            None => out.push_str("  next step: none (plan complete)\n"),
        }
        if let Some(l) = &self.lock {
            out.push_str(&format!(
                "  locked by {}@{} pid {} since {} (id {})\n",
                l.owner, l.host, l.pid, l.started_at, l.id
            ));
        }
        for w in &self.warnings {
            out.push_str(&format!("  warning: {w}\n"));
        }
        out
    }
}

/// Status of the state directory `dir`.
pub fn status(dir: &Path) -> Result<StatusReport, ExecError> {
    let loaded = journal::load(&dir.join(JOURNAL_FILE), None)?;
    let mut r = StatusReport {
        lock: crate::lock::read_lock(dir)?,
        ..Default::default()
    };
    if let Some(t) = loaded.torn {
        r.warnings.push(t);
    }
    let Some(first) = loaded.records.first() else {
        return Ok(r);
    };
    r.plan_id = Some(first.plan_id.clone());
    r.records = loaded.records.len();
    let p = Progress::from_records(&loaded.records);
    r.runs = p.runs;
    r.migration_records = p.records.len();
    r.unrecorded_submissions = p.unrecorded().iter().map(|(_, _, ids)| ids.len()).sum();
    r.rolling_back = p.rolling_back;
    r.last_error = p.last_error.clone();
    r.last_exit_code = p.last_exit;
    r.open_intents = p
        .open
        .iter()
        .map(|o| {
            format!(
                "{} {} ({} {})",
                o.step, o.op, o.request.method, o.request.path
            )
        })
        .collect();
    let copy = dir.join(crate::apply::PLAN_COPY);
    match plan_schema::read_plan_file(&copy) {
        Ok(plan) if plan.plan_id() == first.plan_id => {
            let steps = plan.step_phases();
            for phase in plan.phase_names() {
                let ids: Vec<&str> = steps
                    .iter()
                    .filter(|(_, ph)| *ph == phase)
                    .map(|(id, _)| id.as_str())
                    .collect();
                let done = ids.iter().filter(|id| p.is_done(id)).count();
                let failed = ids
                    .iter()
                    .filter(|id| !p.is_done(id) && p.failed.contains_key(**id))
                    .count();
                r.phases.push(PhaseStatus {
                    phase: phase.to_string(),
                    steps: ids.len(),
                    done,
                    failed,
                    pending: ids.len() - done - failed,
                });
            }
            r.next_step = if p.rolling_back {
                Some("continue the rollback (`apply` or `rollback`)".into())
            } else {
                steps
                    .iter()
                    .find(|(id, _)| !p.is_done(id))
                    .map(|(id, _)| id.clone())
            };
        }
        Ok(_) => r.warnings.push(format!(
            "{}: a different plan than the journal's",
            copy.display()
        )),
        Err(e) => r.warnings.push(format!("plan copy unreadable: {e}")),
    }
    Ok(r)
}

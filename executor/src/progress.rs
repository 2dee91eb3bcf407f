//! What a journal says about a plan's progress, whatever the plan's kind: steps done, intents
//! without an outcome, the migration records still in force, objects submitted without a
//! record, whether a rollback is under way, the last error.

use std::collections::{BTreeMap, BTreeSet};

use plan_schema::journal::{JournalEvent, JournalRecord, RecordedRequest};

/// The op name that marks a whole step as done.
pub const STEP_OP: &str = "step";
/// The op name of a request that asks for objects to be created or promoted (its intent names
/// them): a step's submissions without a migration record are settled from live state.
pub const SUBMIT_OP: &str = "submit";

/// A migration record still in force: objects a step made that this plan has not rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRecord {
    pub step: String,
    /// The kind's word for what the objects are (a migration type, a Neutron resource).
    pub object_type: String,
    pub object_ids: Vec<String>,
    pub seq: u64,
}

/// An intent without an outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenIntent {
    pub step: String,
    pub op: String,
    pub request: RecordedRequest,
    pub seq: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Steps whose last word is done or skipped (and not rolled back since).
    pub done: BTreeSet<String>,
    /// Every step any record mentions.
    pub touched: BTreeSet<String>,
    /// (step, op) -> detail of the last `step_done`.
    pub op_done: BTreeMap<(String, String), Option<String>>,
    /// Intents not followed by a done/failed record of the same (step, op).
    pub open: Vec<OpenIntent>,
    /// Last failure per step (cleared by a later done).
    pub failed: BTreeMap<String, String>,
    /// Migration records in force, oldest first.
    pub records: Vec<MigrationRecord>,
    /// A rollback was started after the newest migration record and either records remain or
    /// the run doing it ended without its final record (killed after its last rollback, before
    /// DONE or its exit code): the next run continues the rollback instead of importing again.
    pub rolling_back: bool,
    pub last_error: Option<String>,
    pub last_exit: Option<u8>,
    pub runs: usize,
    /// seq of the newest submission (any step).
    pub submit_seq: u64,
    /// seq of the newest `step_done` per (step, op).
    pub done_seq: BTreeMap<(String, String), u64>,
    /// Submissions since each step's last rollback: what this plan asked to be created or
    /// promoted, as its intents name them. Ids of it that have no migration record were sent by
    /// a run that stopped before recording them.
    pub submitted: BTreeMap<String, Submission>,
}

/// The object ids one step has submitted (all its rounds), and the seq of the newest
/// submission.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    pub object_type: String,
    pub object_ids: BTreeSet<String>,
    pub seq: u64,
}

impl Progress {
    pub fn from_records(records: &[JournalRecord]) -> Progress {
        let mut p = Progress::default();
        let mut last_migration = 0u64;
        let mut last_rollback = 0u64;
        let mut last_finish = 0u64;
        for r in records {
            match &r.event {
                JournalEvent::RunStarted { .. } => p.runs += 1,
                JournalEvent::StepIntent {
                    step,
                    op,
                    request,
                    object_type,
                    object_ids,
                } => {
                    p.touched.insert(step.clone());
                    p.open.retain(|o| !(o.step == *step && o.op == *op));
                    p.open.push(OpenIntent {
                        step: step.clone(),
                        op: op.clone(),
                        request: request.clone(),
                        seq: r.seq,
                    });
                    if op == SUBMIT_OP {
                        p.submit_seq = r.seq;
                        if let Some(t) = object_type {
                            let s = p.submitted.entry(step.clone()).or_insert(Submission {
                                object_type: t.clone(),
                                object_ids: BTreeSet::new(),
                                seq: r.seq,
                            });
                            s.object_ids.extend(object_ids.iter().cloned());
                            s.seq = r.seq;
                        }
                    }
                }
                JournalEvent::StepDone { step, op, detail } => {
                    p.touched.insert(step.clone());
                    p.open.retain(|o| !(o.step == *step && o.op == *op));
                    p.op_done.insert((step.clone(), op.clone()), detail.clone());
                    if op == STEP_OP {
                        p.done.insert(step.clone());
                        p.failed.remove(step);
                    }
                    p.done_seq.insert((step.clone(), op.clone()), r.seq);
                }
                JournalEvent::StepFailed {
                    step, op, error, ..
                } => {
                    p.touched.insert(step.clone());
                    p.open.retain(|o| !(o.step == *step && o.op == *op));
                    p.failed.insert(step.clone(), error.clone());
                    p.last_error = Some(format!("{step} ({op}): {error}"));
                }
                JournalEvent::StepSkipped { step, .. } => {
                    p.touched.insert(step.clone());
                    p.done.insert(step.clone());
                    p.failed.remove(step);
                }
                JournalEvent::MigrationRecorded {
                    step,
                    object_type,
                    object_ids,
                } => {
                    p.touched.insert(step.clone());
                    last_migration = r.seq;
                    match p.records.iter_mut().find(|m| m.step == *step) {
                        Some(m) => {
                            for id in object_ids {
                                if !m.object_ids.contains(id) {
                                    m.object_ids.push(id.clone());
                                }
                            }
                            m.seq = r.seq;
                        }
                        None => p.records.push(MigrationRecord {
                            step: step.clone(),
                            object_type: object_type.clone(),
                            object_ids: object_ids.clone(),
                            seq: r.seq,
                        }),
                    }
                }
                JournalEvent::RollbackIntent { step, .. } => {
                    p.touched.insert(step.clone());
                    last_rollback = r.seq;
                }
                JournalEvent::RollbackDone { step, .. } => {
                    last_rollback = r.seq;
                    p.records.retain(|m| m.step != *step);
                    p.submitted.remove(step);
                    // The batch is no longer imported: the step must run again.
                    p.done.remove(step);
                    p.op_done.retain(|(s, _), _| s != step);
                    p.open.retain(|o| o.step != *step);
                }
                JournalEvent::RunFinished { exit_code, outcome } => {
                    last_finish = r.seq;
                    // 0: every step done; 2: rolled back cleanly. Either way live state has
                    // answered for every submission.
                    if *exit_code == 0 || *exit_code == 2 {
                        p.submitted.clear();
                    }
                    p.last_exit = Some(*exit_code);
                    if *exit_code != 0 {
                        p.last_error.get_or_insert_with(|| outcome.clone());
                    }
                }
            }
        }
        p.rolling_back = last_rollback > last_migration
            && (!p.records.is_empty() || last_rollback > last_finish);
        p
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.done.contains(step)
    }

    pub fn open_intent(&self, step: &str, op: &str) -> Option<&OpenIntent> {
        self.open.iter().find(|o| o.step == step && o.op == op)
    }

    /// Submitted object ids without a migration record in force, per step, oldest submission
    /// first.
    pub fn unrecorded(&self) -> Vec<(&str, &Submission, Vec<String>)> {
        let mut out: Vec<(&str, &Submission, Vec<String>)> = self
            .submitted
            .iter()
            .filter(|(step, _)| !self.done.contains(*step))
            .filter_map(|(step, sub)| {
                let recorded: BTreeSet<&String> = self
                    .record_of(step)
                    .map(|r| r.object_ids.iter().collect())
                    .unwrap_or_default();
                let ids: Vec<String> = sub
                    .object_ids
                    .iter()
                    .filter(|id| !recorded.contains(id))
                    .cloned()
                    .collect();
                (!ids.is_empty()).then_some((step.as_str(), sub, ids))
            })
            .collect();
        out.sort_by_key(|(_, sub, _)| sub.seq);
        out
    }

    pub fn record_of(&self, step: &str) -> Option<&MigrationRecord> {
        self.records.iter().find(|m| m.step == step)
    }
}

//! Journals for refusal tests.

use std::path::Path;

use executor::journal::Journal;
use plan_schema::JournalEvent;

/// Write, in `state_dir` (created), the journal of another plan `plan_id` holding one record:
/// an apply with this state directory must refuse it and leave it untouched.
pub fn write_foreign(state_dir: &Path, plan_id: &str) {
    std::fs::create_dir_all(state_dir).unwrap();
    let (mut j, _) = Journal::open(state_dir, plan_id).unwrap();
    j.append(JournalEvent::StepSkipped {
        step: "x".into(),
        reason: "y".into(),
    })
    .unwrap();
}

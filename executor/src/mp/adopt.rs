//! Live state instead of a journal: when the state directory holds no journal of the plan (the
//! machine that ran it is gone, or the run is continued from elsewhere), what the plan already
//! did is read from NSX, as `audit` reads it, and journaled, so nothing is sent twice and the
//! plan's own earlier changes are not mistaken for drift.
//!
//! What this infers, and says in the journal: objects the coordinator lists as migrated under
//! the Policy ids this plan gives them are taken to be this plan's (another run of the same
//! plan, or of a plan that would have made the same objects, is indistinguishable); DFW steps
//! and updates whose planned end state is there are done.

use std::collections::{BTreeMap, BTreeSet};

use plan_schema::journal::JournalEvent;
use plan_schema::mp::{Action, ImportBatch, MigrationType, Plan};

use crate::audit::StepState;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::mp::import;
use crate::progress::STEP_OP;

const INFERRED: &str = "adopted from live state (no journal of this plan): ";

/// The batch's objects that live state shows migrated with their planned Policy ids.
fn migrated_as_planned(b: &ImportBatch, live: &BTreeMap<String, String>) -> Vec<String> {
    b.resources
        .iter()
        .filter(|r| {
            live.get(&r.manager_id)
                .is_some_and(|pid| r.policy_id.as_deref().is_none_or(|want| want == pid))
        })
        .map(|r| r.manager_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn recorded(step: &str, b: &ImportBatch, ids: Vec<String>) -> JournalEvent {
    JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: b.migration_type.as_str().to_string(),
        object_ids: ids,
    }
}

fn done(step: &str, detail: &str) -> JournalEvent {
    JournalEvent::StepDone {
        step: step.to_string(),
        op: STEP_OP.to_string(),
        detail: Some(format!("{INFERRED}{detail}")),
    }
}

/// `apply` without a journal: the records that adopt every step whose planned end state is
/// there (with the migration records of imported batches, so a rollback covers them), and the
/// records of batches left half done (the import phase finishes them).
pub async fn steps(ctx: &Ctx, plan: &Plan) -> Result<Vec<JournalEvent>, ExecError> {
    let survey = super::audit::survey(&ctx.nsx, plan).await?;
    let state: BTreeMap<&str, (StepState, &str)> = survey
        .report
        .steps
        .iter()
        .map(|a| (a.step.as_str(), (a.state, a.detail.as_str())))
        .collect();
    let mut out = Vec::new();
    for s in &plan.steps {
        let Some(&(st, detail)) = state.get(s.id.as_str()) else {
            continue;
        };
        match &s.action {
            Action::ImportBatch(b) => {
                let live = survey.migrated.get(&b.migration_type);
                let ids = live.map(|l| migrated_as_planned(b, l)).unwrap_or_default();
                if ids.is_empty() {
                    continue;
                }
                // Done, or half done: either way these objects are this plan's to roll back.
                out.push(recorded(&s.id, b, ids));
                if st == StepState::Done {
                    out.push(done(&s.id, detail));
                }
            }
            _ if st == StepState::Done => out.push(done(&s.id, detail)),
            _ => {}
        }
    }
    Ok(out)
}

/// `rollback --plan` without a journal: a migration record, in plan order, for every batch
/// whose objects live state shows migrated with the planned Policy ids. Returns the records.
pub async fn imports(ctx: &Ctx, plan: &Plan) -> Result<usize, ExecError> {
    let mut by_type: BTreeMap<MigrationType, BTreeMap<String, String>> = BTreeMap::new();
    let mut n = 0;
    for s in &plan.steps {
        let Action::ImportBatch(b) = &s.action else {
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(v) = by_type.entry(b.migration_type) {
            v.insert(import::migrated(ctx, b.migration_type).await?);
        }
        let ids = migrated_as_planned(b, &by_type[&b.migration_type]);
        if ids.is_empty() {
            continue;
        }
        ctx.log.info(format!(
            "{}: {} {} object(s) are migrated with the Policy ids this plan gives them: rolling them back (inferred from live state)",
            s.id,
            ids.len(),
            b.migration_type.as_str()
        ));
        ctx.record(recorded(&s.id, b, ids))?;
        n += 1;
    }
    Ok(n)
}

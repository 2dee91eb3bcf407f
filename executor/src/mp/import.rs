//! Import phase: the migration coordinator's CONSUMER flow per batch (reference 6.1), driven by
//! live state so that a resumed run never re-imports an object and never skips one; and the
//! rollback of this plan's migration records (reference 10).

use std::collections::{BTreeMap, BTreeSet};

use plan_schema::journal::JournalEvent;
use plan_schema::mp::{ImportBatch, MigrationType, Step};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;
use crate::mp::IMPORT_WORKFLOW;
use crate::observe::Stage;
use crate::progress::{MigrationRecord, Progress, SUBMIT_OP};

const MIG: &str = "/api/v1/migration";
const DUPLICATE: &str = "is duplicate or already migrated";
/// Attempts per batch (re-submissions after duplicates, lost answers, manager restarts).
const MAX_ROUNDS: usize = 12;

/// `migrated-resources` of one type: manager id -> policy id.
pub async fn migrated(ctx: &Ctx, t: MigrationType) -> Result<BTreeMap<String, String>, ExecError> {
    let list = ctx
        .nsx
        .list_all(&format!(
            "{MIG}/migrated-resources?resource_type={}",
            t.as_str()
        ))
        .await?;
    Ok(list
        .iter()
        .filter_map(|r| {
            Some((
                r["resource_id"].as_str()?.to_string(),
                r["policy_id"].as_str().unwrap_or("").to_string(),
            ))
        })
        .collect())
}

pub async fn status(ctx: &Ctx) -> Result<Value, ExecError> {
    ctx.get(&format!("{MIG}/status-summary")).await
}

fn overall(s: &Value) -> &str {
    s["overall_migration_status"].as_str().unwrap_or("")
}

fn component<'a>(s: &'a Value, ty: &str, index: usize) -> &'a Value {
    s["component_status"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|c| c["component_type"] == ty)
                .or_else(|| a.get(index))
        })
        .unwrap_or(&Value::Null)
}

fn precheck(s: &Value) -> &Value {
    component(s, "MP_TO_POLICY_PRECHECK", 0)
}

fn migration(s: &Value) -> &Value {
    component(s, "MP_TO_POLICY_MIGRATION", 1)
}

/// Poll `status-summary` until the overall status is no longer IN_PROGRESS / PAUSING (bounded).
///
/// The pause between polls grows with the time already waited (a fortieth of it, at least
/// `poll.initial`, at most `poll.max`), so the end of a phase is noticed at most about 2.5% of its
/// duration late, while a long phase is polled rarely; and when the coordinator reports
/// `percent_complete`, the poll after the expected end comes sooner.
pub async fn settle(ctx: &Ctx, step: &str) -> Result<Value, ExecError> {
    let started = tokio::time::Instant::now();
    loop {
        let s = status(ctx).await?;
        if !matches!(overall(&s), "IN_PROGRESS" | "PAUSING") {
            return Ok(s);
        }
        let waited = started.elapsed();
        if waited >= ctx.poll.timeout {
            return Err(ExecError::step(
                step,
                format!(
                    "the migration coordinator is still {} after {:?}",
                    overall(&s),
                    ctx.poll.timeout
                ),
            ));
        }
        tokio::time::sleep(next_poll(&ctx.poll, waited, percent_complete(&s))).await;
    }
}

/// `percent_complete` of the component in progress, when strictly between 0 and 100.
fn percent_complete(s: &Value) -> Option<f64> {
    s["component_status"]
        .as_array()?
        .iter()
        .find(|c| c["status"] == "IN_PROGRESS")?["percent_complete"]
        .as_f64()
        .filter(|p| *p > 0.0 && *p < 100.0)
}

/// Pause before the next poll: [`poll_delay`], or less when the coordinator's progress so far
/// (`percent` done after `waited`) says the phase ends sooner.
pub fn next_poll(
    poll: &crate::PollConfig,
    waited: std::time::Duration,
    percent: Option<f64>,
) -> std::time::Duration {
    let delay = poll_delay(poll, waited);
    match percent {
        Some(p) => {
            let left = waited.mul_f64((100.0 - p) / p);
            delay.min(left.max(poll.initial))
        }
        None => delay,
    }
}

/// Pause before the next poll after having waited `waited`.
pub fn poll_delay(poll: &crate::PollConfig, waited: std::time::Duration) -> std::time::Duration {
    (waited / 40).clamp(poll.initial, poll.max.max(poll.initial))
}

/// The request submitting `ids` of a batch, naming them for the journal.
fn submission(b: &ImportBatch, ids: &BTreeSet<String>) -> Write {
    Write::post(format!("{MIG}/mp-to-policy"))
        .body(batch_body(b, ids))
        .objects(b.migration_type.as_str(), ids.iter().cloned().collect())
}

fn batch_body(b: &ImportBatch, ids: &BTreeSet<String>) -> Value {
    let resources: Vec<Value> = b
        .resources
        .iter()
        .filter(|r| ids.contains(&r.manager_id))
        .map(|r| {
            let mut v = json!({"manager_id": r.manager_id});
            if let Some(p) = &r.policy_id {
                v["policy_id"] = json!(p);
            }
            if let Some(p) = &r.policy_path {
                v["policy_path"] = json!(p);
            }
            if !r.metadata.is_empty() {
                v["metadata"] = json!(r.metadata);
            }
            if !r.linked_ids.is_empty() {
                v["linked_ids"] = json!(r.linked_ids);
            }
            v
        })
        .collect();
    let mut body =
        json!({"migration_data": [{"type": b.migration_type.as_str(), "resource_ids": resources}]});
    if let Some(pi) = &b.principal_identity {
        body["setup_details"] = json!({"principal_identity": pi});
    }
    body
}

/// Manager ids named as duplicates by precheck details, when every message is a duplicate.
fn duplicates_only(details: &str, t: MigrationType, ids: &BTreeSet<String>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for msg in details.split("; ").filter(|m| !m.trim().is_empty()) {
        if !msg.contains(DUPLICATE) {
            return None;
        }
        let id = ids
            .iter()
            .find(|id| msg.contains(&format!("{} {id} {DUPLICATE}", t.as_str())))?;
        out.push(id.clone());
    }
    (!out.is_empty()).then_some(out)
}

/// What this run knows about the coordinator between batches.
#[derive(Debug, Default)]
pub struct Window {
    /// This run opened the promotion window (INITIATE).
    pub initiated: bool,
    pub submitted: bool,
    /// The previous batch of this run ended with the coordinator at SUCCESS and nothing was
    /// sent since: no leftover plan to settle or abort before the next submission.
    pub idle: bool,
    /// migrated-resources per type as read at the end of this run's last batch of that type.
    /// The next batch of the type starts from it instead of reading the list again (nothing
    /// else promotes meanwhile: preflight refused a foreign promotion, and a precheck naming a
    /// duplicate is handled anyway); every later round reads live state.
    pub migrated: BTreeMap<MigrationType, BTreeMap<String, String>>,
}

async fn abort(ctx: &Ctx, step: &str) -> Result<(), ExecError> {
    ctx.write(
        step,
        "abort",
        Write::post(format!("{MIG}/plan?action=abort")),
    )
    .await
    .map(|_| ())
}

/// Run one import batch to completion. On success its migration record is journaled.
pub async fn run_batch(
    ctx: &Ctx,
    step: &Step,
    b: &ImportBatch,
    window: &mut Window,
) -> Result<(), ExecError> {
    let planned: BTreeSet<String> = b.resources.iter().map(|r| r.manager_id.clone()).collect();
    let planned_pid: BTreeMap<&str, Option<&str>> = b
        .resources
        .iter()
        .map(|r| (r.manager_id.as_str(), r.policy_id.as_deref()))
        .collect();
    // Ours: this plan submitted the batch before (journal) or does so now.
    let mut ours = ctx.progress.touched.contains(&step.id)
        && (ctx.progress.open_intent(&step.id, SUBMIT_OP).is_some()
            || ctx
                .progress
                .op_done
                .contains_key(&(step.id.clone(), SUBMIT_OP.to_string()))
            || ctx.progress.record_of(&step.id).is_some());
    let mut foreign: BTreeSet<String> = BTreeSet::new();

    if ctx.dry_run() {
        let live = migrated(ctx, b.migration_type).await?;
        let remaining: BTreeSet<String> = planned
            .iter()
            .filter(|id| !live.contains_key(*id))
            .cloned()
            .collect();
        if remaining.is_empty() {
            return Ok(());
        }
        if !window.initiated {
            window.initiated = true;
            ctx.write(
                IMPORT_WORKFLOW,
                "initiate",
                Write::post(format!("{MIG}/mp-to-policy/workflow?action=INITIATE")),
            )
            .await?;
        }
        window.submitted = true;
        ctx.write(&step.id, SUBMIT_OP, submission(b, &remaining))
            .await?;
        ctx.write(
            &step.id,
            "start",
            Write::post(format!("{MIG}/plan?action=start")),
        )
        .await?;
        ctx.write(
            &step.id,
            "continue",
            Write::post(format!("{MIG}/plan?action=continue")),
        )
        .await?;
        return Ok(());
    }

    for round in 0..MAX_ROUNDS {
        let live = match window.migrated.remove(&b.migration_type) {
            Some(cached) if round == 0 => cached,
            _ => migrated(ctx, b.migration_type).await?,
        };
        for id in &planned {
            if let (Some(live_pid), Some(Some(want))) = (live.get(id), planned_pid.get(id.as_str()))
                && live_pid != want
            {
                return Err(ExecError::step(
                    &step.id,
                    format!(
                        "{} {id} is already migrated as Policy id {live_pid}, not the planned {want}",
                        b.migration_type.as_str()
                    ),
                ));
            }
        }
        let remaining: BTreeSet<String> = planned
            .iter()
            .filter(|id| !live.contains_key(*id) && !foreign.contains(*id))
            .cloned()
            .collect();
        if remaining.is_empty() {
            let r = finish(ctx, step, b, &planned, &live, &foreign, ours);
            window.migrated.insert(b.migration_type, live);
            return r;
        }
        // Leftovers of an interrupted run (ours: the journal explains them) or of this round.
        if !std::mem::take(&mut window.idle) {
            let s = settle(ctx, &step.id).await?;
            match overall(&s) {
                "SUCCESS" | "NOT_STARTED" => {}
                _ => {
                    abort(ctx, &step.id).await?;
                    continue;
                }
            }
        }
        if !window.initiated {
            ctx.write(
                IMPORT_WORKFLOW,
                "initiate",
                Write::post(format!("{MIG}/mp-to-policy/workflow?action=INITIATE")),
            )
            .await?;
            window.initiated = true;
        }
        ours = true;
        window.submitted = true;
        match ctx
            .write(&step.id, SUBMIT_OP, submission(b, &remaining))
            .await
        {
            Ok(_) => {}
            Err(ExecError::Nsx(e)) if e.is_retriable() || e.is_connection() => continue,
            Err(e) => return Err(e),
        }
        match ctx
            .write(
                &step.id,
                "start",
                Write::post(format!("{MIG}/plan?action=start")),
            )
            .await
        {
            Ok(_) => {}
            Err(ExecError::Nsx(e)) if e.is_retriable() || e.is_connection() => continue,
            Err(e) => return Err(e),
        }
        let s = settle(ctx, &step.id).await?;
        let pre = precheck(&s);
        if pre["status"] == "FAILED" {
            let details = pre["details"].as_str().unwrap_or("");
            match duplicates_only(details, b.migration_type, &remaining) {
                Some(dups) => {
                    // Seed phase 2: drop the duplicates and send again. Ones the coordinator has a
                    // record of reappear in migrated-resources; the others were promoted outside
                    // this plan and count as done, but are not this plan's to roll back.
                    ctx.log.info(format!(
                        "{}: precheck names {} object(s) as already migrated; resending without them",
                        step.id,
                        dups.len()
                    ));
                    let recorded = migrated(ctx, b.migration_type).await?;
                    for d in dups {
                        if !recorded.contains_key(&d) {
                            foreign.insert(d);
                        }
                    }
                    abort(ctx, &step.id).await?;
                    continue;
                }
                None => {
                    let err = ExecError::step(
                        &step.id,
                        format!(
                            "precheck FAILED: {}",
                            if details.is_empty() {
                                "(no details)"
                            } else {
                                details
                            }
                        ),
                    );
                    abort(ctx, &step.id).await?;
                    return Err(err);
                }
            }
        }
        if overall(&s) == "NOT_STARTED" {
            // The coordinator lost the batch (manager restart): submit again.
            continue;
        }
        if overall(&s) != "SUCCESS" {
            match ctx
                .write(
                    &step.id,
                    "continue",
                    Write::post(format!("{MIG}/plan?action=continue")),
                )
                .await
            {
                Ok(_) => {}
                Err(ExecError::Nsx(e)) if e.is_retriable() || e.is_connection() => continue,
                Err(e) => return Err(e),
            }
        }
        let s = settle(ctx, &step.id).await?;
        let mig = migration(&s);
        if mig["status"] == "FAILED" {
            let details = mig["details"]
                .as_str()
                .unwrap_or("(no details)")
                .to_string();
            // Record what did get promoted before anything else, so rollback covers it.
            let live = migrated(ctx, b.migration_type).await?;
            record_partial(ctx, step, b, &planned, &live)?;
            abort(ctx, &step.id).await?;
            return Err(ExecError::step(
                &step.id,
                format!("migration FAILED: {details}"),
            ));
        }
        if overall(&s) == "SUCCESS" && mig["status"] == "SUCCESS" {
            // The coordinator promoted the whole submission: every id sent is migrated now, with
            // the Policy id the submission named. (A run that dies before recording this reads
            // migrated-resources when it resumes.)
            window.idle = true;
            let mut now = live;
            for id in &remaining {
                let pid = planned_pid.get(id.as_str()).copied().flatten();
                now.insert(id.clone(), pid.unwrap_or_default().to_string());
            }
            let r = finish(ctx, step, b, &planned, &now, &foreign, true);
            window.migrated.insert(b.migration_type, now);
            return r;
        }
        // Lost (e.g. a manager restart): the next round re-reads migrated-resources and decides.
    }
    Err(ExecError::step(
        &step.id,
        format!("batch not complete after {MAX_ROUNDS} rounds"),
    ))
}

fn record_partial(
    ctx: &Ctx,
    step: &Step,
    b: &ImportBatch,
    planned: &BTreeSet<String>,
    live: &BTreeMap<String, String>,
) -> Result<(), ExecError> {
    let already: BTreeSet<&String> = ctx
        .progress
        .record_of(&step.id)
        .map(|r| r.object_ids.iter().collect())
        .unwrap_or_default();
    let ids: Vec<String> = planned
        .iter()
        .filter(|id| live.contains_key(*id) && !already.contains(id))
        .cloned()
        .collect();
    if !ids.is_empty() {
        ctx.record(JournalEvent::MigrationRecorded {
            step: step.id.clone(),
            object_type: b.migration_type.as_str().to_string(),
            object_ids: ids,
        })?;
    }
    Ok(())
}

fn finish(
    ctx: &Ctx,
    step: &Step,
    b: &ImportBatch,
    planned: &BTreeSet<String>,
    live: &BTreeMap<String, String>,
    foreign: &BTreeSet<String>,
    ours: bool,
) -> Result<(), ExecError> {
    if !ours {
        return ctx.step_skipped(
            &step.id,
            "every object is already migrated with the planned Policy id",
        );
    }
    let mine: BTreeSet<String> = planned
        .iter()
        .filter(|id| live.contains_key(*id) && !foreign.contains(*id))
        .cloned()
        .collect();
    record_partial(ctx, step, b, &mine, live)?;
    ctx.step_done(
        &step.id,
        Some(format!(
            "{} imported{}",
            mine.len(),
            if foreign.is_empty() {
                String::new()
            } else {
                format!(", {} already migrated outside this plan", foreign.len())
            }
        )),
    )
}

/// `workflow?action=DONE` (no retry, long timeout).
pub async fn done(ctx: &Ctx) -> Result<(), ExecError> {
    ctx.write(
        IMPORT_WORKFLOW,
        "done",
        Write::post(format!("{MIG}/mp-to-policy/workflow?action=DONE")).once(ctx.poll.done_timeout),
    )
    .await
    .map(|_| ())
}

/// Before a rollback: ids this plan submitted but never recorded (the run that sent them stopped
/// or failed before its record) are looked up in live state, and the ones the coordinator now
/// lists as migrated are journaled as migration records, so the rollback covers them too. The
/// coordinator is first let finish a phase in progress. Returns every record in force, the
/// adopted ones included (in a dry run they are listed but not journaled).
pub async fn adopt_unrecorded(ctx: &Ctx, p: &Progress) -> Result<Vec<MigrationRecord>, ExecError> {
    let mut records = p.records.clone();
    let unrecorded = p.unrecorded();
    if unrecorded.is_empty() {
        return Ok(records);
    }
    // A batch left mid-flight is let finish its phase; one left waiting (e.g. paused after its
    // precheck) is aborted, so the coordinator holds no plan when the rollback starts.
    let mut s = status(ctx).await?;
    if matches!(overall(&s), "IN_PROGRESS" | "PAUSING") {
        s = settle(ctx, IMPORT_WORKFLOW).await?;
    }
    if !matches!(overall(&s), "SUCCESS" | "NOT_STARTED") {
        abort(ctx, IMPORT_WORKFLOW).await?;
    }
    let mut live_by_type: BTreeMap<MigrationType, BTreeMap<String, String>> = BTreeMap::new();
    for (step, sub, ids) in unrecorded {
        let t = record_type(step, &sub.object_type)?;
        let live = match live_by_type.entry(t) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => v.insert(migrated(ctx, t).await?),
        };
        let adopted: Vec<String> = ids.into_iter().filter(|id| live.contains_key(id)).collect();
        if adopted.is_empty() {
            continue;
        }
        ctx.log.info(format!(
            "{step}: {} object(s) submitted by an earlier run are migrated but were not recorded; recording them for the rollback",
            adopted.len()
        ));
        if !ctx.dry_run() {
            ctx.record(JournalEvent::MigrationRecorded {
                step: step.to_string(),
                object_type: sub.object_type.clone(),
                object_ids: adopted.clone(),
            })?;
        }
        match records.iter_mut().find(|r| r.step == step) {
            Some(r) => {
                r.object_ids.extend(adopted);
                r.seq = r.seq.max(sub.seq);
            }
            None => records.push(MigrationRecord {
                step: step.to_string(),
                object_type: sub.object_type.clone(),
                object_ids: adopted,
                seq: sub.seq,
            }),
        }
    }
    Ok(records)
}

/// The migration type a journal record names.
fn record_type(step: &str, object_type: &str) -> Result<MigrationType, ExecError> {
    MigrationType::parse(object_type).ok_or_else(|| {
        ExecError::step(
            step,
            format!("the journal names `{object_type}`, which is not a migration type"),
        )
    })
}

/// Roll back `records` newest first (each: intent, request unless live state shows it already
/// undone, done). Stops at the first failure.
pub async fn rollback_records(ctx: &Ctx, records: &[MigrationRecord]) -> Result<usize, ExecError> {
    if records.is_empty() {
        return Ok(0);
    }
    ctx.stage_started(Stage::ROLLBACK, records.len());
    let r = rollback_newest_first(ctx, records).await;
    ctx.stage_finished(Stage::ROLLBACK);
    r
}

async fn rollback_newest_first(ctx: &Ctx, records: &[MigrationRecord]) -> Result<usize, ExecError> {
    let mut ordered: Vec<&MigrationRecord> = records.iter().collect();
    ordered.sort_by_key(|r| std::cmp::Reverse(r.seq));
    let mut n = 0;
    for (i, r) in ordered.into_iter().enumerate() {
        // Before the first intent, the manager is read: if it cannot be, the rollback has not
        // started and the journal still points forward (the caller says so).
        let first_status = if i == 0 {
            Some(status(ctx).await?)
        } else {
            None
        };
        // The intent is durable before anything is sent: from here on a re-run continues the
        // rollback instead of importing.
        let t = record_type(&r.step, &r.object_type)?;
        ctx.record(JournalEvent::RollbackIntent {
            step: r.step.clone(),
            object_type: r.object_type.clone(),
            object_ids: r.object_ids.clone(),
        })?;
        if let Some(s) = first_status {
            // The coordinator must not hold a plan (reference 10: abort first).
            if !matches!(overall(&s), "SUCCESS" | "NOT_STARTED") {
                if overall(&s) == "IN_PROGRESS" {
                    settle(ctx, IMPORT_WORKFLOW).await?;
                }
                abort(ctx, IMPORT_WORKFLOW).await?;
            }
        }
        let live = if ctx.dry_run() {
            r.object_ids
                .iter()
                .map(|i| (i.clone(), String::new()))
                .collect()
        } else {
            migrated(ctx, t).await?
        };
        let still: Vec<&String> = r
            .object_ids
            .iter()
            .filter(|i| live.contains_key(*i))
            .collect();
        if !still.is_empty() {
            let ids: Vec<Value> = still.iter().map(|i| json!({"manager_id": i})).collect();
            let body = json!({"migration_data": [{"type": t.as_str(), "resource_ids": ids}]});
            let w = Write::post(format!("{MIG}/mp-to-policy/rollback"))
                .body(body)
                .once(ctx.poll.done_timeout);
            ctx.write(&r.step, "rollback", w).await?;
            if !ctx.dry_run() {
                // Confirm by live state, never by assumption.
                let after = migrated(ctx, t).await?;
                let left: Vec<&String> = r
                    .object_ids
                    .iter()
                    .filter(|i| after.contains_key(*i))
                    .collect();
                if !left.is_empty() {
                    return Err(ExecError::step(
                        &r.step,
                        format!("rollback left {} object(s) migrated", left.len()),
                    ));
                }
            }
        }
        ctx.record(JournalEvent::RollbackDone {
            step: r.step.clone(),
            object_type: r.object_type.clone(),
        })?;
        ctx.step_finished(Stage::ROLLBACK, &r.step, true);
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_delay_is_a_fortieth_of_the_wait_within_bounds() {
        use std::time::Duration;
        let p = crate::PollConfig::default();
        let ms = Duration::from_millis;
        assert_eq!(poll_delay(&p, ms(0)), p.initial);
        assert_eq!(poll_delay(&p, ms(100)), p.initial);
        assert_eq!(poll_delay(&p, ms(5000)), ms(125));
        assert_eq!(poll_delay(&p, Duration::from_secs(600)), p.max);
        let odd = crate::PollConfig {
            initial: ms(50),
            max: ms(10),
            ..p
        };
        assert_eq!(poll_delay(&odd, ms(1000)), ms(50));
        // Progress: 80% after 4 s -> about 1 s left, sooner than the usual pause only near the end.
        assert_eq!(next_poll(&p, ms(4000), Some(80.0)), ms(100));
        assert_eq!(next_poll(&p, ms(3960), Some(99.0)), ms(40));
        assert_eq!(next_poll(&p, ms(4000), Some(99.9)), p.initial);
        assert_eq!(next_poll(&p, ms(4000), None), ms(100));
    }

    #[test]
    fn duplicate_details() {
        let ids: BTreeSet<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let d =
            "TIER0 a is duplicate or already migrated; TIER0 b is duplicate or already migrated";
        assert_eq!(
            duplicates_only(d, MigrationType::Tier0, &ids),
            Some(vec!["a".to_string(), "b".to_string()])
        );
        let mixed = "TIER0 a is duplicate or already migrated; TIER0 b not found on the Manager";
        assert_eq!(duplicates_only(mixed, MigrationType::Tier0, &ids), None);
        assert_eq!(
            duplicates_only(
                "TIER0 zz is duplicate or already migrated",
                MigrationType::Tier0,
                &ids
            ),
            None
        );
        assert_eq!(duplicates_only("", MigrationType::Tier0, &ids), None);
    }
}

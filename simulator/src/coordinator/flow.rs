//! Simulated time: the precheck and migration phases run over time, and every request first calls
//! [`tick`], which completes whatever the elapsed time allows.

use serde_json::{Value, json};

use super::model::{Item, Phase};
use super::precheck::precheck;
use super::promote::promote;
use super::resolve::{display_name, lookup};
use super::table::rank;
use crate::SimConfig;
use crate::faults::MigrationFaults;
use crate::state::State;
use crate::util::now_ms;

fn feedback_entry(item: &Item, name: &str, code: &str, desc: &str) -> Value {
    json!({
        "type": item.type_,
        "mp_id": item.details.manager_id,
        "mp_display_name": name,
        "error_list": [{"error_id": code, "error_desc": desc}],
    })
}

/// Advance the coordinator according to elapsed time.
pub fn tick(st: &mut State, cfg: &SimConfig, faults: &MigrationFaults) {
    let Some(started) = st.mig.phase_started else {
        return;
    };
    let elapsed = started.elapsed();
    match st.mig.phase {
        Phase::Prechecking if elapsed >= st.mig.phase_total => {
            let batch = st.mig.batch.clone().unwrap_or_default();
            let errors = precheck(st, &batch, faults);
            st.mig.phase_started = None;
            if errors.is_empty() {
                st.mig.phase = Phase::Paused;
                st.mig.precheck_details = String::new();
            } else {
                st.mig.phase = Phase::PrecheckFailed;
                let msgs: Vec<&str> = errors.iter().map(|(_, _, m)| m.as_str()).collect();
                st.mig.precheck_details = msgs.join("; ");
                for (item, code, msg) in &errors {
                    let name = lookup(
                        st,
                        &item.type_,
                        &item.details.manager_id,
                        &item.details.linked_ids,
                    )
                    .map(|o| display_name(&o))
                    .unwrap_or_default();
                    st.mig.feedback.push(feedback_entry(item, &name, code, msg));
                }
            }
            st.touch();
        }
        Phase::Migrating => {
            let batch = st.mig.batch.clone().unwrap_or_default();
            let mut order: Vec<Item> = batch.items.clone();
            order.sort_by_key(|i| rank(&i.type_));
            let per = cfg.migration.migrate_per_object.as_nanos().max(1);
            let due = ((elapsed.as_nanos() / per) as usize).min(order.len());
            let user = batch
                .principal_identity
                .clone()
                .unwrap_or_else(|| "admin".into());
            while st.mig.progress < due {
                let item = order[st.mig.progress].clone();
                let result = if faults.migration_fail.contains(&item.details.manager_id) {
                    Err(format!(
                        "{} {} failed to migrate (simulated fault)",
                        item.type_, item.details.manager_id
                    ))
                } else {
                    promote(st, &batch, &item, &user)
                };
                st.touch();
                match result {
                    Ok(rec) => {
                        st.mig.push_record(rec);
                        st.mig.progress += 1;
                    }
                    Err(e) => {
                        let name = lookup(
                            st,
                            &item.type_,
                            &item.details.manager_id,
                            &item.details.linked_ids,
                        )
                        .map(|o| display_name(&o))
                        .unwrap_or_default();
                        st.mig
                            .feedback
                            .push(feedback_entry(&item, &name, "MIGRATION_FAILED", &e));
                        st.mig.migration_details = e;
                        st.mig.phase = Phase::MigrationFailed;
                        st.mig.phase_started = None;
                        return;
                    }
                }
            }
            if st.mig.progress >= order.len() && elapsed >= st.mig.phase_total {
                st.mig.phase = Phase::Succeeded;
                st.mig.phase_started = None;
                st.mig
                    .history
                    .push(json!({"status": "SUCCESS", "date_time": now_ms()}));
                st.touch();
            }
        }
        _ => {}
    }
}

//! Update phase (seed phase 4): tags and display names of the imported Policy objects.
//!
//! Each update reads the live object and computes the new tag list as live tags minus the
//! planned removals plus the planned additions (tags the plan does not mention are kept), and
//! the planned display name. Nothing is sent when the object already looks like that. The PATCH
//! body and URL are journaled before sending (seed phase 4), so the journal shows exactly what a
//! failed update still has to do; the next run recomputes it from live state and retries only
//! the updates not done. A 409/412 re-reads the object and re-applies the planned change.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use client::Method;
use plan_schema::{Action, PolicyUpdate, Step, Tag};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;

pub const POLICY: &str = "/policy/api/v1";

pub fn live_tags(o: &Value) -> Vec<Tag> {
    o["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(Tag {
                scope: t["scope"].as_str().unwrap_or("").to_string(),
                tag: t["tag"].as_str()?.to_string(),
            })
        })
        .collect()
}

/// The tag list after applying `u` to `live`.
pub fn target_tags(u: &PolicyUpdate, live: &[Tag]) -> Vec<Tag> {
    let removed: Vec<Tag> = u.tags_remove.iter().map(|t| t.as_tag()).collect();
    let mut out: Vec<Tag> = live
        .iter()
        .filter(|t| !removed.contains(t))
        .cloned()
        .collect();
    for a in &u.tags_add {
        let t = a.as_tag();
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn same_set(a: &[Tag], b: &[Tag]) -> bool {
    a.len() == b.len() && a.iter().all(|t| b.contains(t))
}

/// Whether the live object already carries the planned change.
pub fn is_applied(u: &PolicyUpdate, live: &Value) -> bool {
    let tags = live_tags(live);
    let name_ok = u
        .display_name
        .as_ref()
        .is_none_or(|d| live["display_name"] == d.to.as_str());
    name_ok && same_set(&target_tags(u, &tags), &tags)
}

/// The PATCH body for `u` given the live object.
pub fn patch_body(u: &PolicyUpdate, live: &Value) -> Value {
    let tags = target_tags(u, &live_tags(live));
    let mut body = json!({"resource_type": u.resource_type, "tags": tags});
    if let Some(d) = &u.display_name {
        body["display_name"] = json!(d.to);
    }
    body
}

async fn one(ctx: &Ctx, step: &Step, u: &PolicyUpdate) -> Result<(), ExecError> {
    let url = format!("{POLICY}{}", u.path);
    for attempt in 0..5 {
        let live = match ctx.get_opt(&url).await? {
            Some(v) => v,
            None if ctx.dry_run() => {
                // Not imported yet: show the change as planned.
                json!({"tags": u.tags_before, "display_name": u.display_name.as_ref().map(|d| d.from.clone())})
            }
            None => {
                return Err(ExecError::step(
                    &step.id,
                    format!("Policy object {} does not exist (was it imported?)", u.path),
                ));
            }
        };
        if is_applied(u, &live) {
            return ctx.step_skipped(&step.id, "already applied");
        }
        let w = Write::new(Method::PATCH, url.clone()).body(patch_body(u, &live));
        match ctx.write(&step.id, "patch", w).await {
            Ok(_) => return ctx.step_done(&step.id, None),
            Err(ExecError::Nsx(e)) if e.is_stale_revision() && attempt < 4 => {
                ctx.log.info(format!(
                    "{}: {} changed meanwhile (HTTP {}); re-reading and re-applying",
                    step.id,
                    u.path,
                    e.http_status().unwrap_or(0)
                ));
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ExecError::step(&step.id, "object kept changing (409/412)"))
}

/// Run the pending update steps with at most `ctx.concurrency` in flight. Returns the failures
/// (step id, error); every step is attempted.
pub async fn run(ctx: &Arc<Ctx>, steps: Vec<Step>) -> Vec<(String, ExecError)> {
    let queue = Arc::new(Mutex::new(steps.into_iter().collect::<VecDeque<Step>>()));
    let failures: Arc<Mutex<Vec<(String, ExecError)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..ctx.concurrency.max(1) {
        let ctx = ctx.clone();
        let queue = queue.clone();
        let failures = failures.clone();
        tasks.spawn(async move {
            loop {
                let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                let Some(step) = next else { break };
                let Action::PolicyUpdate(u) = &step.action else {
                    continue;
                };
                if let Err(e) = one(&ctx, &step, u).await {
                    let _ = ctx.step_failed(&step.id, "patch", &e);
                    if let Ok(mut f) = failures.lock() {
                        f.push((step.id.clone(), e));
                    }
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r
            && let Ok(mut f) = failures.lock()
        {
            f.push((
                "update".into(),
                ExecError::step("update", format!("worker failed: {e}")),
            ));
        }
    }
    let mut out = match Arc::try_unwrap(failures) {
        Ok(m) => m.into_inner().unwrap_or_default(),
        Err(a) => a
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default(),
    };
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan_schema::{DisplayNameChange, TagChange};

    fn upd() -> PolicyUpdate {
        PolicyUpdate {
            path: "/infra/segments/s".into(),
            resource_type: "Segment".into(),
            manager_id: None,
            tags_before: vec![],
            tags_remove: vec![TagChange {
                scope: "ncp/version".into(),
                tag: "1.2.0".into(),
                rule: "r".into(),
            }],
            tags_add: vec![TagChange {
                scope: "ncp/version".into(),
                tag: "2.0".into(),
                rule: "r".into(),
            }],
            display_name: Some(DisplayNameChange {
                from: "a".into(),
                to: "b".into(),
                rule: "r".into(),
            }),
        }
    }

    #[test]
    fn keeps_unmentioned_tags_and_detects_applied() {
        let u = upd();
        let live = json!({"display_name": "a", "tags": [
            {"scope": "ncp/version", "tag": "1.2.0"}, {"scope": "owner", "tag": "ops"}]});
        assert!(!is_applied(&u, &live));
        let body = patch_body(&u, &live);
        assert_eq!(
            body["tags"],
            json!([{"scope": "owner", "tag": "ops"}, {"scope": "ncp/version", "tag": "2.0"}])
        );
        assert_eq!(body["display_name"], "b");
        let after = json!({"display_name": "b", "tags": body["tags"]});
        assert!(is_applied(&u, &after));
        let renamed_only = json!({"display_name": "a", "tags": body["tags"]});
        assert!(!is_applied(&u, &renamed_only));
    }
}

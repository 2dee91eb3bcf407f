//! Update phase (seed phase 4): tags and display names of the imported Policy objects.
//!
//! Each update computes the new tag list from the live object: live tags minus the planned
//! removals plus the planned additions (tags the plan does not mention are kept), and the
//! planned display name. Nothing is sent when the object already looks like that. The PATCH
//! body and URL are journaled before sending (seed phase 4), so the journal shows exactly what a
//! failed update still has to do; the next run recomputes it from live state and retries only
//! the updates not done.
//!
//! Live objects are read in bulk: the pending updates are grouped by their parent collection
//! (`/infra/lb-virtual-servers`, `/infra/segments/S/ports`, ...) and each collection is listed
//! page by page (1000 objects a page) while the workers PATCH what the previous page showed, so
//! under NSX's per-client request limit almost every request is a change. A collection is
//! listed only when that costs fewer requests than reading its objects one by one (a single
//! pending object, or a collection whose remaining pages outnumber the objects still wanted, is
//! read with a GET per object). An object the listing does not show is read with its own GET;
//! a 409/412 answer re-reads the object and re-applies the planned change, never a blind
//! overwrite.
//!
//! Objects imported by a batch that names a principal identity (`setup_details`, NCP's) belong
//! to that identity and are protected: the admin the executor runs as may change them only with
//! `X-Allow-Overwrite: true`, as NSX documents for a superuser acting on a principal identity's
//! objects. Those PATCHes carry the header; the others do not.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use client::{Method, NsxClient, Request};
use plan_schema::Tag;
use plan_schema::mp::{Action, PolicyUpdate, Step};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;

pub const POLICY: &str = "/policy/api/v1";

/// Manager ids of the objects the plan imports with a batch naming a principal identity: their
/// Policy objects are owned by it, so updates to them need `X-Allow-Overwrite`.
pub fn owned_by_principal(plan: &plan_schema::mp::Plan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) if b.principal_identity.is_some() => Some(b),
            _ => None,
        })
        .flat_map(|b| b.resources.iter().map(|r| r.manager_id.clone()))
        .collect()
}

/// Whether the PATCH of `u` needs `X-Allow-Overwrite` (see [`owned_by_principal`]).
pub fn needs_overwrite(u: &PolicyUpdate, owned: &BTreeSet<String>) -> bool {
    u.manager_id.as_ref().is_some_and(|m| owned.contains(m))
}

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

/// The Policy paths of the plan's updates, in plan order.
pub fn planned_paths(plan: &plan_schema::mp::Plan) -> Vec<&str> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::PolicyUpdate(u) => Some(u.path.as_str()),
            _ => None,
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
    // The revision the new tag list was computed from: an edit made since is refused (412) and
    // re-read instead of overwritten.
    if let Some(r) = live.get("_revision") {
        body["_revision"] = r.clone();
    }
    body
}

/// Page size of collection reads (NSX's maximum).
pub const PAGE_SIZE: usize = 1000;

/// The collection an object path belongs to (`/infra/segments/s/ports/p` ->
/// `/infra/segments/s/ports`).
pub fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

/// Reads one Policy collection page by page and hands out the objects that are wanted. Stops
/// early (leaving the rest to per-object reads) as soon as the pages still to read outnumber
/// the objects still wanted.
pub struct CollectionReader {
    parent: String,
    /// Paths not seen yet.
    wanted: BTreeSet<String>,
    cursor: Option<String>,
    /// The listing was read to its end: a wanted path not seen does not exist (as far as one
    /// consistent read of the collection can tell).
    pub complete: bool,
    finished: bool,
    /// Pages read so far.
    pub pages: u64,
}

impl CollectionReader {
    pub fn new(parent: impl Into<String>, wanted: BTreeSet<String>) -> Self {
        CollectionReader {
            parent: parent.into(),
            wanted,
            cursor: None,
            complete: false,
            finished: false,
            pages: 0,
        }
    }

    /// The next page's wanted objects (path, object); `Ok(None)` once the listing is finished
    /// or abandoned. An error ends the listing too (the caller falls back to per-object reads).
    pub async fn next_page(
        &mut self,
        nsx: &NsxClient,
    ) -> Result<Option<Vec<(String, Value)>>, ExecError> {
        if self.finished || self.wanted.is_empty() {
            self.finished = true;
            return Ok(None);
        }
        let mut req = Request::get(format!("{POLICY}{}", self.parent))
            .query("page_size", PAGE_SIZE.to_string());
        if let Some(c) = &self.cursor {
            req = req.query("cursor", c.clone());
        }
        let page = match nsx.send(req).await {
            Ok(r) => r.body,
            Err(e) => {
                self.finished = true;
                return Err(e.into());
            }
        };
        self.pages += 1;
        let results = page["results"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let mut found = Vec::new();
        for o in results {
            let path = match o["path"].as_str() {
                Some(p) => p.to_string(),
                None => match o["id"].as_str() {
                    Some(id) => format!("{}/{id}", self.parent),
                    None => continue,
                },
            };
            if self.wanted.remove(&path) {
                found.push((path, o.clone()));
            }
        }
        let cursor = page["cursor"]
            .as_str()
            .filter(|c| !c.is_empty() && !c.starts_with("0000"));
        match cursor {
            None => {
                self.complete = true;
                self.finished = true;
            }
            Some(_) if results.is_empty() || self.pages >= 10_000 => self.finished = true,
            Some(c) => {
                // Pages still to read, when the manager says how many objects there are.
                let seen = self.pages as usize * PAGE_SIZE;
                let left = page["result_count"]
                    .as_u64()
                    .map(|t| (t as usize).saturating_sub(seen).div_ceil(PAGE_SIZE));
                if left.is_some_and(|l| l > self.wanted.len()) || self.wanted.is_empty() {
                    self.finished = true;
                } else {
                    self.cursor = Some(c.to_string());
                }
            }
        }
        Ok(Some(found))
    }

    /// Paths the listing did not show (read them one by one).
    pub fn into_missing(self) -> BTreeSet<String> {
        self.wanted
    }
}

/// Group `paths` by collection: collections with at least two paths (worth a listing) and the
/// paths to read one by one.
pub fn group_by_collection<'a>(
    paths: impl IntoIterator<Item = &'a str>,
) -> (Vec<(String, BTreeSet<String>)>, Vec<String>) {
    let mut groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for p in paths {
        groups
            .entry(parent_of(p))
            .or_default()
            .insert(p.to_string());
    }
    let mut listed = Vec::new();
    let mut single = Vec::new();
    for (parent, set) in groups {
        if set.len() >= 2 && !parent.is_empty() {
            listed.push((parent.to_string(), set));
        } else {
            single.extend(set);
        }
    }
    (listed, single)
}

/// Live state of `paths`: `Some(object)` or `None` (does not exist), read in bulk where that
/// saves requests (see the module documentation). `note` hears about a listing that failed
/// (its objects are then read one by one).
pub async fn read_live(
    nsx: &NsxClient,
    paths: &[&str],
    note: &(dyn Fn(String) + Sync),
) -> Result<BTreeMap<String, Option<Value>>, ExecError> {
    let (listed, mut single) = group_by_collection(paths.iter().copied());
    let mut out = BTreeMap::new();
    for (parent, wanted) in listed {
        let mut r = CollectionReader::new(parent.clone(), wanted);
        loop {
            match r.next_page(nsx).await {
                Ok(Some(found)) => out.extend(found.into_iter().map(|(p, o)| (p, Some(o)))),
                Ok(None) => break,
                Err(e) => {
                    note(format!(
                        "listing {parent} failed ({e}); reading its objects one by one"
                    ));
                    break;
                }
            }
        }
        single.extend(r.into_missing());
    }
    for p in single {
        let live = match nsx.get(&format!("{POLICY}{p}")).await {
            Ok(v) => Some(v),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        };
        out.insert(p, live);
    }
    Ok(out)
}

/// One update. `prefetched`: the object as a bulk read showed it (`None`: read it now).
async fn one(
    ctx: &Ctx,
    step: &Step,
    u: &PolicyUpdate,
    mut prefetched: Option<Value>,
    overwrite: bool,
) -> Result<(), ExecError> {
    let url = format!("{POLICY}{}", u.path);
    for attempt in 0..5 {
        let live = match prefetched.take() {
            Some(v) => Some(v),
            None => ctx.get_opt(&url).await?,
        };
        let live = match live {
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
        let mut w = Write::new(Method::PATCH, url.clone()).body(patch_body(u, &live));
        if overwrite {
            w = w.overwrite();
        }
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

/// Feed the workers: collection by collection, page by page, each update with the object its
/// page showed; then every update the listings did not cover, to be read one by one.
async fn produce(
    ctx: &Ctx,
    steps: Vec<Step>,
    tx: tokio::sync::mpsc::Sender<(Step, Option<Value>)>,
) {
    let mut by_path: BTreeMap<String, Vec<Step>> = BTreeMap::new();
    let mut other = Vec::new();
    for s in steps {
        match &s.action {
            Action::PolicyUpdate(u) => by_path.entry(u.path.clone()).or_default().push(s),
            _ => other.push(s),
        }
    }
    let (listed, single) = group_by_collection(by_path.keys().map(String::as_str));
    let mut rest: Vec<String> = single;
    for (parent, wanted) in listed {
        let mut r = CollectionReader::new(parent.clone(), wanted);
        loop {
            match r.next_page(&ctx.nsx).await {
                Ok(Some(found)) => {
                    for (path, obj) in found {
                        for s in by_path.remove(&path).unwrap_or_default() {
                            if tx.send((s, Some(obj.clone()))).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    ctx.log.info(format!(
                        "listing {parent} failed ({e}); reading its objects one by one"
                    ));
                    break;
                }
            }
        }
        rest.extend(r.into_missing());
    }
    for p in rest {
        for s in by_path.remove(&p).unwrap_or_default() {
            if tx.send((s, None)).await.is_err() {
                return;
            }
        }
    }
    for s in other {
        if tx.send((s, None)).await.is_err() {
            return;
        }
    }
}

/// Run the pending update steps with at most `ctx.concurrency` in flight. Returns the failures
/// (step id, error); every step is attempted.
pub async fn run(
    ctx: &Arc<Ctx>,
    steps: Vec<Step>,
    owned: Arc<BTreeSet<String>>,
) -> Vec<(String, ExecError)> {
    let workers = ctx.concurrency.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel::<(Step, Option<Value>)>(workers * 2);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let failures: Arc<Mutex<Vec<(String, ExecError)>>> = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    {
        let ctx = ctx.clone();
        tasks.spawn(async move { produce(&ctx, steps, tx).await });
    }
    for _ in 0..workers {
        let ctx = ctx.clone();
        let rx = rx.clone();
        let failures = failures.clone();
        let owned = owned.clone();
        tasks.spawn(async move {
            loop {
                let next = rx.lock().await.recv().await;
                let Some((step, live)) = next else { break };
                let Action::PolicyUpdate(u) = &step.action else {
                    continue;
                };
                match one(&ctx, &step, u, live, needs_overwrite(u, &owned)).await {
                    Ok(()) => ctx.step_finished(super::UPDATE, &step.id, true),
                    Err(e) => {
                        let _ = ctx.step_failed(&step.id, "patch", &e);
                        ctx.step_finished(super::UPDATE, &step.id, false);
                        if let Ok(mut f) = failures.lock() {
                            f.push((step.id.clone(), e));
                        }
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
    use plan_schema::mp::{DisplayNameChange, TagChange};

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
    fn collections_with_two_or_more_objects_are_listed() {
        assert_eq!(
            parent_of("/infra/segments/s/ports/p"),
            "/infra/segments/s/ports"
        );
        let (listed, single) = group_by_collection([
            "/infra/lb-virtual-servers/a",
            "/infra/segments/s1",
            "/infra/lb-virtual-servers/b",
            "/infra/segments/s1/ports/p",
        ]);
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].0, "/infra/lb-virtual-servers");
        assert_eq!(listed[0].1.len(), 2);
        assert_eq!(
            single,
            vec!["/infra/segments/s1", "/infra/segments/s1/ports/p"]
        );
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

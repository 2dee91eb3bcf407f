//! Checks before any write: NSX reachable and recent enough, migration coordinator running, no
//! foreign promotion in progress, NCP stopped, and no drift of the objects the plan was made
//! from (MP `_revision`s, Kubernetes fingerprint).

use std::collections::{BTreeMap, BTreeSet};

use client::{KubeResource, Kubectl};
use plan_schema::mp::{Action, Plan, PodSelector};
use serde_json::Value;

use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::progress::Progress;

/// Options only another kind's plans take, given to a Manager-to-Policy plan: refused before
/// anything is opened or sent (a flag silently ignored would let an operator believe a step was
/// confirmed). `--confirm-task` names a `vio-v2t` plan's operator task; this kind has none.
pub fn check_options(opts: &crate::ApplyOptions) -> Result<(), ExecError> {
    if let Some(id) = opts.confirm_tasks.first() {
        return Err(ExecError::Plan(format!(
            "{}: --confirm-task {id}: a Manager-to-Policy plan has no operator tasks (the flag confirms a vio-v2t plan's operator task); nothing was sent. Run `apply` without --confirm-task",
            opts.plan.display()
        )));
    }
    // The other vio-v2t-only options: refused rather than ignored, so an operator who meant
    // another plan finds out before anything is sent.
    let vio_only = [
        (
            opts.confirm_point_of_no_return,
            "--confirm-point-of-no-return (a Manager-to-Policy plan has no point of no return)",
        ),
        (
            opts.window.nsxv.is_some(),
            "--nsxv (the NSX-V Manager of a vio-v2t plan)",
        ),
        (
            opts.window.vcenter.is_some(),
            "--vcenter (the vCenter of a vio-v2t plan)",
        ),
    ];
    if let Some((_, flag)) = vio_only.iter().find(|(set, _)| *set) {
        return Err(ExecError::Plan(format!(
            "{}: {flag} belongs to a vio-v2t plan, and this is a Manager-to-Policy plan; nothing was sent. Run `apply` without it",
            opts.plan.display()
        )));
    }
    Ok(())
}

fn pf(what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::Preflight(format!("{what}: {e}"))
}

/// MP ids whose revision a touched step may have changed (moved or promoted by an earlier run
/// of this plan): not compared.
fn changed_by_touched_steps(plan: &Plan, progress: &Progress) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in &plan.steps {
        if !progress.touched.contains(&s.id) {
            continue;
        }
        match &s.action {
            Action::DfwSectionMove(m) => out.extend(m.section.id.clone()),
            Action::DfwRuleMove(m) => {
                out.extend(m.from_section.id.clone());
                out.extend(m.to_section.id.clone());
            }
            Action::ImportBatch(b) => out.extend(b.resources.iter().map(|r| r.manager_id.clone())),
            _ => {}
        }
    }
    out
}

/// Every MP object the plan relies on with its planned revision: (id, resource_type) -> revision.
fn planned_revisions(plan: &Plan) -> BTreeMap<(String, String), (i64, String)> {
    let mut out = BTreeMap::new();
    for s in &plan.steps {
        match &s.action {
            Action::DfwSectionMove(m) => {
                if let Some(id) = &m.section.id {
                    out.insert(
                        (id.clone(), "FirewallSection".to_string()),
                        (m.revision, s.id.clone()),
                    );
                }
            }
            Action::DfwRuleMove(m) => {
                if let Some(id) = &m.from_section.id {
                    out.insert(
                        (id.clone(), "FirewallSection".to_string()),
                        (m.from_section_revision, s.id.clone()),
                    );
                }
            }
            Action::ImportBatch(b) => {
                for r in &b.resources {
                    // Allocations are addresses, not revisioned objects.
                    if r.resource_type == "AllocationIpAddress" {
                        continue;
                    }
                    out.entry((r.manager_id.clone(), r.resource_type.clone()))
                        .or_insert((r.revision, s.id.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The `policyPath` marker promotion leaves on an MP object.
fn policy_marker(o: &Value) -> Option<&str> {
    o.get("tags")?
        .as_array()?
        .iter()
        .find(|t| t["scope"] == "policyPath")
        .and_then(|t| t["tag"].as_str())
}

/// Ids per search request when objects are searched by id.
const IDS_PER_SEARCH: usize = 40;

/// Re-read the MP objects of the plan, (id, resource_type) -> object. Per type the cheaper of
/// two ways in requests: a search by id, 40 ids a request, or every object of the type
/// (`resource_type:T`, 1000 a page) when that takes fewer pages (and NSX can page through it:
/// at most 50,000 results).
async fn reread(
    ctx: &Ctx,
    by_type: &BTreeMap<&str, BTreeSet<&str>>,
) -> Result<BTreeMap<(String, String), Value>, ExecError> {
    let mut live: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut keep = |hits: Vec<Value>, wanted: Option<&BTreeSet<&str>>| {
        for h in hits {
            if let (Some(id), Some(rt)) = (h["id"].as_str(), h["resource_type"].as_str())
                && wanted.is_none_or(|w| w.contains(id))
            {
                live.insert((id.to_string(), rt.to_string()), h);
            }
        }
    };
    // Ids searched by id, all types together.
    let mut by_id: Vec<&str> = Vec::new();
    for (rt, ids) in by_type {
        let chunks = ids.len().div_ceil(IDS_PER_SEARCH);
        if chunks > 1 {
            let q = format!("resource_type:{}", client::search_escape(rt));
            let probe = ctx
                .nsx
                .send(
                    client::Request::get("/api/v1/search/query")
                        .query("query", q.clone())
                        .query("page_size", "1"),
                )
                .await
                .map_err(|e| pf("re-reading planned objects", e))?;
            let total = probe.body["result_count"].as_u64().unwrap_or(u64::MAX);
            if total <= 50_000 && (total as usize).div_ceil(1000) < chunks {
                let hits = ctx
                    .nsx
                    .search_all(&q)
                    .await
                    .map_err(|e| pf("re-reading planned objects", e))?;
                keep(hits, Some(ids));
                continue;
            }
        }
        by_id.extend(ids.iter().copied());
    }
    for chunk in by_id.chunks(IDS_PER_SEARCH) {
        let q = chunk
            .iter()
            .map(|id| format!("id:\"{id}\""))
            .collect::<Vec<_>>()
            .join(" OR ");
        let hits = ctx
            .nsx
            .search_all(&q)
            .await
            .map_err(|e| pf("re-reading planned objects", e))?;
        keep(hits, None);
    }
    Ok(live)
}

/// The whole preflight. Returns warnings; refuses with a typed error.
/// The whole preflight, against the requirements the plan carries. Returns warnings; refuses
/// with a typed error.
pub async fn run(
    ctx: &Ctx,
    plan: &Plan,
    kubectl: Option<&Kubectl>,
) -> Result<Vec<String>, ExecError> {
    let mut warnings = Vec::new();
    let progress = &ctx.progress;
    let req = &plan.requirements;
    ctx.check_nsx_version(
        &req.min_nsx_version,
        "the first with MP-to-Policy promotion for NCP",
        &mut warnings,
    )
    .await?;
    let coord = ctx
        .nsx
        .coordinator_status()
        .await
        .map_err(|e| pf("migration coordinator status", e))?;
    if req.coordinator_running && !coord.is_running() {
        return Err(ExecError::Preflight(format!(
            "the migration coordinator is {}; start it on the manager (`/etc/init.d/migration-coordinator start`) and re-run",
            coord.runtime_state
        )));
    }
    let state = ctx
        .get("/api/v1/migration/mp-policy-promotion/state")
        .await
        .map_err(|e| pf("promotion state", e))?;
    let summary = ctx
        .get("/api/v1/migration/status-summary")
        .await
        .map_err(|e| pf("migration status", e))?;
    let overall = summary["overall_migration_status"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Ours: the journal explains it, or the run of this plan whose lock this run took over.
    let ours = super::window_open(progress)
        || ctx.inherited.is_some()
        || !progress.records.is_empty()
        || progress
            .open
            .iter()
            .any(|o| o.step.starts_with("import") || o.op == "rollback");
    let in_progress = state["mp_policy_promotion"] == "PROMOTION_IN_PROGRESS";
    if (in_progress || !matches!(overall.as_str(), "SUCCESS" | "NOT_STARTED")) && !ours {
        return Err(ExecError::Preflight(format!(
            "another promotion is in progress on this manager (state {}, status {overall}); only one cluster may be promoted at a time",
            state["mp_policy_promotion"]
        )));
    }

    // Staleness of MP objects.
    let skip = changed_by_touched_steps(plan, progress);
    let import_touched = plan
        .steps
        .iter()
        .any(|s| matches!(s.action, Action::ImportBatch(_)) && progress.touched.contains(&s.id));
    let planned = planned_revisions(plan);
    let mut by_type: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (id, rt) in planned.keys() {
        if !skip.contains(id) {
            by_type.entry(rt.as_str()).or_default().insert(id.as_str());
        }
    }
    let live = reread(ctx, &by_type).await?;
    let planned_paths: BTreeMap<&str, &str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b.resources.iter()),
            _ => None,
        })
        .flatten()
        .filter_map(|r| Some((r.manager_id.as_str(), r.policy_path.as_deref()?)))
        .collect();
    let mut drifted = Vec::new();
    for ((id, rt), (rev, step)) in &planned {
        if skip.contains(id) {
            continue;
        }
        match live.get(&(id.clone(), rt.clone())) {
            None => drifted.push(format!("{rt} {id} (step {step}): no longer exists")),
            Some(o) => {
                let now = o["_revision"].as_i64().unwrap_or(-1);
                if now != *rev {
                    if import_touched && policy_marker(o).is_some() {
                        // Promoted by an earlier run of this plan (promotion changes revisions).
                        continue;
                    }
                    if let (Some(m), Some(p)) = (policy_marker(o), planned_paths.get(id.as_str()))
                        && m == *p
                    {
                        // Already promoted with the planned Policy path: counts as done.
                        continue;
                    }
                    drifted.push(format!(
                        "{rt} {id} (step {step}): _revision {now}, planned {rev}"
                    ));
                }
            }
        }
    }

    // Kubernetes.
    if let Some(k) = kubectl {
        let mut lists: Vec<(&'static str, Value)> = Vec::new();
        for r in KubeResource::ALL {
            lists.push((r.file_stem(), k.list_resource(r).await?));
        }
        let items = lists.iter().flat_map(|(stem, l)| {
            l["items"]
                .as_array()
                .map(|a| a.iter().map(move |i| (*stem, i)).collect::<Vec<_>>())
                .unwrap_or_default()
        });
        let (fp, n) = plan_schema::fingerprint::kube_fingerprint(items);
        if let Some(input) = plan.inputs.iter().find(|i| i.name == "kubernetes")
            && input.sha256 != fp
        {
            drifted.push(format!(
                "Kubernetes objects changed since planning ({n} objects now{}, fingerprint {} planned {}): NCP or users created, changed or deleted resources",
                input.objects.map(|o| format!(", {o} planned")).unwrap_or_default(),
                &fp[..12.min(fp.len())],
                &input.sha256[..12.min(input.sha256.len())]
            ));
        }
        if let Some((_, pods)) = lists.iter().find(|(s, _)| *s == "pods") {
            let running: Vec<String> = pods["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| is_controller_pod(&req.controller_pods, p))
                .map(|p| {
                    format!(
                        "{}/{}",
                        p["metadata"]["namespace"].as_str().unwrap_or(""),
                        p["metadata"]["name"].as_str().unwrap_or("")
                    )
                })
                .collect();
            if !running.is_empty() {
                return Err(ExecError::Preflight(format!(
                    "NCP is running ({}); stop NCP before migrating (seed prerequisite: no CRUD on NSX during the import)",
                    running.join(", ")
                )));
            }
        }
    } else {
        warnings.push(
            "Kubernetes was not re-read (--skip-kubernetes-check): drift there is not detected, and that NCP is stopped was not re-checked"
                .into(),
        );
    }
    if !drifted.is_empty() {
        return Err(ExecError::Stale { drifted });
    }
    Ok(warnings)
}

/// A pod the plan's requirements name as NCP's, in a phase that counts as running.
pub fn is_controller_pod(sel: &PodSelector, p: &Value) -> bool {
    let m = &p["metadata"];
    sel.matches(
        m["namespace"].as_str().unwrap_or(""),
        m["name"].as_str().unwrap_or(""),
        p["status"]["phase"].as_str().unwrap_or(""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ncp_pods() {
        let sel = PodSelector {
            namespaces: vec!["nsx-system".into()],
            name_prefixes: vec!["nsx-ncp-".into()],
            phases: vec!["Running".into(), "Pending".into()],
        };
        let pod = |name: &str, ns: &str, phase: &str| serde_json::json!({"metadata": {"name": name, "namespace": ns}, "status": {"phase": phase}});
        assert!(is_controller_pod(
            &sel,
            &pod("nsx-ncp-7f8", "nsx-system", "Running")
        ));
        assert!(is_controller_pod(
            &sel,
            &pod("nsx-ncp-7f8", "nsx-system", "Pending")
        ));
        assert!(!is_controller_pod(
            &sel,
            &pod("nsx-ncp-7f8", "nsx-system", "Succeeded")
        ));
        assert!(!is_controller_pod(
            &sel,
            &pod("nsx-ncp-7f8", "default", "Running")
        ));
        assert!(!is_controller_pod(
            &sel,
            &pod("nsx-node-agent-x", "nsx-system", "Running")
        ));
    }
}

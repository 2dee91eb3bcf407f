//! `audit`: a read-only comparison of a plan with live state, per step: done, pending, drifted
//! (live state is neither the planned before nor after), conflicting (live state contradicts the
//! plan). An import is done only when the coordinator lists its objects as migrated under the
//! planned Policy ids and the planned Policy objects exist (read per collection). When every
//! step is done it also checks that no object tagged with the cluster, of any type, is left in
//! Manager mode (objects promoted inside their parent excepted). Sends GETs only.

use std::collections::BTreeMap;

use client::{NsxClient, NsxConfig};
use plan_schema::mp::{Action, MigrationType, Plan, Step};

use plan_schema::Tag;
use serde_json::Value;

use crate::audit::{AuditReport, ObjectDrift, StepAudit, StepState};
use crate::error::ExecError;
use crate::mp::update::{self, is_applied, live_tags};

/// Manager objects the coordinator promotes with their parent (router ports and static routes
/// with their Tier-1's TIER1_LOGICAL_ROUTER_PORT entry, LB rules inside their virtual server,
/// firewall rules inside their section, NSGroup expressions inside their group): they carry no
/// Policy marker of their own. Every other object tagged with the cluster must carry one after
/// a finished migration, whether or not the plan imports its type.
fn carried_by_parent(resource_type: &str) -> bool {
    (resource_type.starts_with("LogicalRouter") && resource_type.ends_with("Port"))
        || resource_type.contains("LinkPortOn")
        || matches!(
            resource_type,
            "StaticRoute" | "LbRule" | "FirewallRule" | "VifAttachmentContext"
        )
        || resource_type.starts_with("NSGroup") && resource_type.ends_with("Expression")
}

fn sa(step: &str, kind: &str, state: StepState, detail: impl Into<String>) -> StepAudit {
    StepAudit {
        step: step.to_string(),
        kind: kind.to_string(),
        state,
        detail: detail.into(),
    }
}

/// Audit `plan` against the manager of `nsx`.
pub async fn audit(plan: &Plan, nsx: &NsxConfig) -> Result<AuditReport, ExecError> {
    let nsx = NsxClient::new(nsx.clone()).map_err(|e| ExecError::Preflight(e.to_string()))?;
    let mut report = survey(&nsx, plan).await?.report;
    if report.steps.iter().all(|s| s.state == StepState::Done) {
        report.left_in_manager = left_in_manager(&nsx, plan).await?;
    }
    Ok(report)
}

/// Per step, what live state shows, and the coordinator's migration records per type.
pub(crate) struct Survey {
    pub report: AuditReport,
    pub migrated: BTreeMap<MigrationType, BTreeMap<String, String>>,
}

/// The per-step part of the audit (also what `apply` adopts from when it has no journal).
#[allow(clippy::map_entry)]
pub(crate) async fn survey(nsx: &NsxClient, plan: &Plan) -> Result<Survey, ExecError> {
    let order = nsx.list_all("/api/v1/firewall/sections").await?;
    let mut migrated: BTreeMap<MigrationType, BTreeMap<String, String>> = BTreeMap::new();
    let mut report = AuditReport {
        plan_id: plan.plan_id.clone(),
        ..Default::default()
    };
    // The coordinator's records of every type the plan imports, first: Policy objects of
    // objects not migrated yet need no read (before a first apply, none is read).
    for s in &plan.steps {
        if let Action::ImportBatch(b) = &s.action
            && !migrated.contains_key(&b.migration_type)
        {
            let list = nsx
                .list_all(&format!(
                    "/api/v1/migration/migrated-resources?resource_type={}",
                    b.migration_type.as_str()
                ))
                .await?;
            let map = list
                .iter()
                .filter_map(|r| {
                    Some((
                        r["resource_id"].as_str()?.to_string(),
                        r["policy_id"].as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect();
            migrated.insert(b.migration_type, map);
        }
    }
    let imported: BTreeMap<&str, bool> = plan
        .steps
        .iter()
        .flat_map(|s| match &s.action {
            Action::ImportBatch(b) => b
                .resources
                .iter()
                .map(|r| {
                    let done = migrated
                        .get(&b.migration_type)
                        .is_some_and(|m| m.contains_key(&r.manager_id));
                    (r.manager_id.as_str(), done)
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    // The Policy objects of the updates (unless their object is still to be imported), read
    // per collection where that saves requests.
    let mut paths: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::PolicyUpdate(u)
                if u.manager_id
                    .as_deref()
                    .is_none_or(|m| imported.get(m).copied().unwrap_or(true)) =>
            {
                Some(u.path.as_str())
            }
            _ => None,
        })
        .collect();
    // And the Policy objects the imports created.
    paths.extend(plan.steps.iter().flat_map(|s| {
        match &s.action {
            Action::ImportBatch(b) => b
                .resources
                .iter()
                .filter(|r| {
                    imported
                        .get(r.manager_id.as_str())
                        .copied()
                        .unwrap_or(false)
                })
                .filter_map(|r| r.policy_path.as_deref())
                .collect(),
            _ => Vec::new(),
        }
    }));
    paths.sort_unstable();
    paths.dedup();
    let updated = update::read_live(nsx, &paths, &|m| tracing::info!("{m}")).await?;
    for s in &plan.steps {
        let kind = s.action.kind_str();
        let a = match &s.action {
            Action::DfwSectionMove(m) => match crate::mp::dfw::resolve(&order, &m.section) {
                None => sa(
                    &s.id,
                    kind,
                    StepState::Conflicting,
                    "section no longer exists",
                ),
                Some(id) => {
                    let anchor = m
                        .anchor
                        .as_ref()
                        .and_then(|a| crate::mp::dfw::resolve(&order, a));
                    if crate::mp::dfw::placed(&order, &id, m.operation, anchor.as_deref()) {
                        sa(&s.id, kind, StepState::Done, "section in place")
                    } else {
                        let rev = order
                            .iter()
                            .find(|x| x["id"] == id.as_str())
                            .and_then(|x| x["_revision"].as_i64());
                        if rev == Some(m.revision) {
                            sa(&s.id, kind, StepState::Pending, "section not moved yet")
                        } else {
                            sa(
                                &s.id,
                                kind,
                                StepState::Drifted,
                                format!(
                                    "section changed (_revision {rev:?}, planned {})",
                                    m.revision
                                ),
                            )
                        }
                    }
                }
            },
            Action::DfwSectionCreate(c) => {
                if order
                    .iter()
                    .any(|x| x["display_name"] == c.display_name.as_str())
                {
                    sa(&s.id, kind, StepState::Done, "section exists")
                } else {
                    sa(&s.id, kind, StepState::Pending, "section not created yet")
                }
            }
            Action::DfwRuleMove(m) => {
                let from = crate::mp::dfw::resolve(&order, &m.from_section);
                let to = crate::mp::dfw::resolve(&order, &m.to_section);
                let src = match &from {
                    Some(f) => {
                        nsx.list_all(&format!("/api/v1/firewall/sections/{f}/rules"))
                            .await?
                    }
                    None => Vec::new(),
                };
                let dst = match &to {
                    Some(t) => {
                        nsx.list_all(&format!("/api/v1/firewall/sections/{t}/rules"))
                            .await?
                    }
                    None => Vec::new(),
                };
                let in_src = src.iter().any(|r| r["id"] == m.rule_id.as_str());
                let in_dst = dst
                    .iter()
                    .any(|r| r["display_name"] == m.display_name.as_str());
                match (in_src, in_dst) {
                    (false, true) => sa(&s.id, kind, StepState::Done, "rule moved"),
                    (true, false) => sa(
                        &s.id,
                        kind,
                        StepState::Pending,
                        "rule still in its NCP section",
                    ),
                    (true, true) => sa(
                        &s.id,
                        kind,
                        StepState::Conflicting,
                        "rule in both sections (interrupted move)",
                    ),
                    (false, false) => sa(
                        &s.id,
                        kind,
                        StepState::Conflicting,
                        "rule found in neither section",
                    ),
                }
            }
            Action::ImportBatch(b) => {
                let live = &migrated[&b.migration_type];
                let n = b.resources.len();
                let done = b
                    .resources
                    .iter()
                    .filter(|r| live.contains_key(&r.manager_id))
                    .count();
                let wrong: Vec<String> = b
                    .resources
                    .iter()
                    .filter_map(|r| {
                        let got = live.get(&r.manager_id)?;
                        let want = r.policy_id.as_ref()?;
                        (got != want).then(|| format!("{} as {got} (planned {want})", r.manager_id))
                    })
                    .collect();
                // Migrated objects whose planned Policy object is missing.
                let missing: Vec<&str> = b
                    .resources
                    .iter()
                    .filter(|r| live.contains_key(&r.manager_id))
                    .filter_map(|r| r.policy_path.as_deref())
                    .filter(|p| updated.get(*p).is_none_or(Option::is_none))
                    .collect();
                if !wrong.is_empty() {
                    sa(
                        &s.id,
                        kind,
                        StepState::Conflicting,
                        format!("migrated under another Policy id: {}", wrong.join(", ")),
                    )
                } else if !missing.is_empty() {
                    sa(
                        &s.id,
                        kind,
                        StepState::Conflicting,
                        format!(
                            "migrated, but {} planned Policy object(s) do not exist: {}",
                            missing.len(),
                            missing.join(", ")
                        ),
                    )
                } else if done == n {
                    sa(
                        &s.id,
                        kind,
                        StepState::Done,
                        format!("{n} object(s) migrated"),
                    )
                } else if done == 0 {
                    sa(
                        &s.id,
                        kind,
                        StepState::Pending,
                        format!("{n} object(s) to import"),
                    )
                } else {
                    sa(
                        &s.id,
                        kind,
                        StepState::Conflicting,
                        format!("partially imported: {done} of {n}"),
                    )
                }
            }
            Action::PolicyUpdate(u) => match updated.get(&u.path).cloned().flatten() {
                None => sa(
                    &s.id,
                    kind,
                    StepState::Pending,
                    format!("{} does not exist yet", u.path),
                ),
                Some(live) if is_applied(u, &live) => {
                    sa(&s.id, kind, StepState::Done, "tags and name as planned")
                }
                Some(live) => {
                    let tags = live_tags(&live);
                    let before_ok = u.tags_before.iter().all(|t| tags.contains(t))
                        && u.display_name
                            .as_ref()
                            .is_none_or(|d| live["display_name"] == d.from.as_str());
                    if before_ok {
                        sa(&s.id, kind, StepState::Pending, "update not applied yet")
                    } else {
                        let want = update::patch_body(u, &live);
                        sa(
                            &s.id,
                            kind,
                            StepState::Drifted,
                            format!(
                                "live object differs from the plan's before and after (tags now {}, planned after {})",
                                serde_json::to_string(&live["tags"]).unwrap_or_default(),
                                want["tags"]
                            ),
                        )
                    }
                }
            },
        };
        *report
            .counts
            .entry(a.state.as_str().to_string())
            .or_default() += 1;
        report.steps.push(a);
    }
    end_state(plan, &updated, &mut report);
    report.counts.clear();
    for a in &report.steps {
        *report
            .counts
            .entry(a.state.as_str().to_string())
            .or_default() += 1;
    }
    Ok(Survey { report, migrated })
}

/// Objects tagged with the cluster, of any type, still in Manager mode.
async fn left_in_manager(nsx: &NsxClient, plan: &Plan) -> Result<Vec<String>, ExecError> {
    let mut out = Vec::new();
    let q = format!(
        "tags.scope:ncp\\/cluster AND tags.tag:\"{}\"",
        plan.target.cluster
    );
    let hits = nsx.search_all(&q).await?;
    for h in hits {
        let rt = h["resource_type"].as_str().unwrap_or("");
        if carried_by_parent(rt) {
            continue;
        }
        let marked = h["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["scope"] == "policyPath"))
            || h["_create_user"] == "nsx_policy";
        if !marked {
            out.push(format!(
                "{rt} {} ({})",
                h["id"].as_str().unwrap_or(""),
                h["display_name"].as_str().unwrap_or("")
            ));
        }
    }
    Ok(out)
}

/// What the plan promises one Policy object looks like once its steps are done.
struct Promised<'a> {
    /// The steps that shape it, in plan order (its import, then its update if any).
    steps: Vec<&'a str>,
    resource_type: &'a str,
    tags: Option<Vec<Tag>>,
    display_name: Option<&'a str>,
}

/// Every Policy object the plan imports or updates, with its planned end state: the tags the
/// import carries over (or the update's result) and the display name.
fn promised(steps: &[Step]) -> BTreeMap<&str, Promised<'_>> {
    let mut out: BTreeMap<&str, Promised<'_>> = BTreeMap::new();
    for s in steps {
        match &s.action {
            Action::ImportBatch(b) => {
                for r in &b.resources {
                    let Some(path) = r.policy_path.as_deref() else {
                        continue;
                    };
                    out.insert(
                        path,
                        Promised {
                            steps: vec![s.id.as_str()],
                            resource_type: r.resource_type.as_str(),
                            tags: r.tags.as_ref().map(|t| t.iter().map(Into::into).collect()),
                            display_name: Some(r.display_name.as_str()),
                        },
                    );
                }
            }
            Action::PolicyUpdate(u) => {
                let p = out.entry(u.path.as_str()).or_insert(Promised {
                    steps: Vec::new(),
                    resource_type: u.resource_type.as_str(),
                    tags: None,
                    display_name: None,
                });
                p.steps.push(s.id.as_str());
                p.resource_type = u.resource_type.as_str();
                p.tags = Some(u.tags_after());
                if let Some(d) = &u.display_name {
                    p.display_name = Some(d.to.as_str());
                }
            }
            _ => {}
        }
    }
    out
}

fn pair(t: &Tag) -> String {
    format!("{}={}", t.scope, t.tag)
}

/// How `live` differs from `want`, if it does.
fn compare(
    path: &str,
    step: &str,
    want: &Promised<'_>,
    live: Option<&Value>,
) -> Option<ObjectDrift> {
    let mut d = ObjectDrift {
        step: step.to_string(),
        path: path.to_string(),
        resource_type: want.resource_type.to_string(),
        missing: live.is_none(),
        tags_missing: Vec::new(),
        tags_extra: Vec::new(),
        display_name: None,
    };
    let Some(live) = live else { return Some(d) };
    if let Some(tags) = &want.tags {
        let now = live_tags(live);
        d.tags_missing = tags.iter().filter(|t| !now.contains(t)).map(pair).collect();
        d.tags_extra = now.iter().filter(|t| !tags.contains(t)).map(pair).collect();
    }
    if let Some(name) = want.display_name {
        let got = live["display_name"].as_str().unwrap_or("");
        if got != name {
            d.display_name = Some((name.to_string(), got.to_string()));
        }
    }
    (!d.tags_missing.is_empty() || !d.tags_extra.is_empty() || d.display_name.is_some())
        .then_some(d)
}

/// The end-state pass: every object whose steps are all done must be what the plan promised;
/// a difference marks the last of those steps drifted and is listed per object.
fn end_state(plan: &Plan, live: &BTreeMap<String, Option<Value>>, report: &mut AuditReport) {
    let state: BTreeMap<String, StepState> = report
        .steps
        .iter()
        .map(|a| (a.step.clone(), a.state))
        .collect();
    let mut per_step: BTreeMap<&str, Vec<ObjectDrift>> = BTreeMap::new();
    for (path, want) in promised(&plan.steps) {
        let Some(&last) = want.steps.last() else {
            continue;
        };
        if !want
            .steps
            .iter()
            .all(|s| state.get(*s) == Some(&StepState::Done))
        {
            continue;
        }
        if let Some(d) = compare(path, last, &want, live.get(path).and_then(Option::as_ref)) {
            per_step.entry(last).or_default().push(d);
        }
    }
    for a in &mut report.steps {
        let Some(drifts) = per_step.remove(a.step.as_str()) else {
            continue;
        };
        let shown: Vec<String> = drifts.iter().take(3).map(ObjectDrift::describe).collect();
        a.state = StepState::Drifted;
        a.detail = format!(
            "{} object(s) differ from the planned end state: {}{}",
            drifts.len(),
            shown.join(" | "),
            if drifts.len() > 3 { " | ..." } else { "" }
        );
        report.drift.extend(drifts);
    }
}

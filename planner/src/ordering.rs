//! Ordering: references resolved to dependencies between requests, requests ordered by the rules'
//! type order and within a type by their references, split into one-type batches (logical ports
//! per switch), each batch an import step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use plan_schema::mp::{Action, ImportBatch, MigrationType, Phase, Step};
use plan_schema::{Severity, Subject};

use crate::context::{Context, subject};
use crate::dfw::DfwPlan;
use crate::findings::Findings;
use crate::model::Kind;
use crate::requests::Entry;

/// The import steps of `entries`, in dependency order. DFW section imports also wait for the
/// rules the DFW analysis moves out of those sections.
pub(crate) fn import_steps(
    ctx: &Context<'_>,
    entries: &[Entry],
    dfw_plan: &DfwPlan,
) -> (Vec<Step>, Findings) {
    let mut findings = Findings::new();
    let index_of_object: HashMap<usize, Vec<usize>> = {
        let mut m: HashMap<usize, Vec<usize>> = HashMap::new();
        for (e, entry) in entries.iter().enumerate() {
            if let Some(o) = entry.object {
                m.entry(o).or_default().push(e);
            }
        }
        m
    };
    let order = &ctx.rules.import.order;
    let rank = |t: MigrationType| order.iter().position(|x| *x == t);
    for e in entries {
        if rank(e.mtype).is_none() {
            findings.add(
                Severity::Error,
                "migration-type-not-ordered",
                Subject {
                    resource_type: e.resource.resource_type.clone(),
                    id: e.resource.manager_id.clone(),
                    display_name: Some(e.resource.display_name.clone()),
                },
                format!(
                    "Migration type {} is not in the rules' import order.",
                    e.mtype.as_str()
                ),
                "Add it to [import] order in the rules file.",
            );
        }
    }
    let mut steps = order_and_batch(
        ctx,
        entries,
        &index_of_object,
        &dfw_plan.moved_rules,
        &mut findings,
    );
    // DFW section imports wait for the rules planned to leave those sections.
    for s in &mut steps {
        if let Action::ImportBatch(b) = &s.action
            && b.migration_type == MigrationType::DfwSection
        {
            for r in &b.resources {
                if let Some(deps) = dfw_plan.section_deps.get(&r.manager_id) {
                    for d in deps {
                        if !s.depends_on.contains(d) {
                            s.depends_on.push(d.clone());
                        }
                    }
                }
            }
        }
    }
    (steps, findings)
}

/// Resolve references to dependencies, order entries by type rank and within a type by their
/// references, split into batches, and emit import steps.
fn order_and_batch(
    ctx: &Context<'_>,
    entries: &[Entry],
    index_of_object: &HashMap<usize, Vec<usize>>,
    moved_rules: &BTreeSet<String>,
    findings: &mut Findings,
) -> Vec<Step> {
    let order = &ctx.rules.import.order;
    let rank = |t: MigrationType| order.iter().position(|x| *x == t).unwrap_or(usize::MAX);

    // Entry -> entries it needs (references resolved to entries of the plan).
    let mut needs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); entries.len()];
    for (e, entry) in entries.iter().enumerate() {
        let mut targets: Vec<(String, usize)> = entry
            .needs
            .iter()
            .map(|&o| ("(carried)".to_string(), o))
            .collect();
        if let Some(oi) = entry.object
            && !matches!(
                entry.mtype,
                MigrationType::Tier1LogicalRouterPort | MigrationType::Tier0LogicalRouterConfig
            )
        {
            let o = ctx.obj(oi);
            for r in o.refs() {
                if entry.mtype == MigrationType::DfwSection && r.field.starts_with("rules[") {
                    let rid = r
                        .field
                        .trim_start_matches("rules[")
                        .split(']')
                        .next()
                        .unwrap_or_default();
                    if moved_rules.contains(rid) {
                        continue;
                    }
                }
                match ctx.find(&r.target, r.kinds) {
                    // LB rules travel inline in their virtual server: their references count.
                    Some(t) if ctx.obj(t).kind == Kind::LbRule => {
                        targets.push(("(carried)".to_string(), t))
                    }
                    Some(t) => targets.push((r.field.clone(), t)),
                    None => {
                        if r.kinds.is_empty() || r.kinds == [Kind::LbRule] {
                            // Untyped references (DFW targets, group members) can point at
                            // objects outside the snapshot (VMs, services); only checked when found.
                            continue;
                        }
                        findings.add(
                            Severity::Error,
                            "reference-missing",
                            subject(o),
                            format!("{} refers to {} {} through {}, which is not in the inventory.", o.display_name, r.kinds.first().map(|k| k.as_str()).unwrap_or("object"), r.target, r.field),
                            "Re-collect the inventory; if the object really is gone, fix the reference in NSX Manager first.",
                        );
                    }
                }
            }
        }
        for (field, t) in targets {
            // Carried objects (router ports, LB rules) bring their own references along.
            let resolved: Vec<usize> = match index_of_object.get(&t) {
                Some(list) => list
                    .iter()
                    .copied()
                    .filter(|&x| {
                        x != e
                            && entries[x].mtype != MigrationType::Tier1LogicalRouterPort
                            && entries[x].mtype != MigrationType::Tier0LogicalRouterConfig
                    })
                    .collect(),
                None => Vec::new(),
            };
            if !resolved.is_empty() {
                needs[e].extend(resolved);
                continue;
            }
            let target = ctx.obj(t);
            if target.system_owned || target.already_in_policy() || field == "(carried)" {
                if field == "(carried)" {
                    // A carried object's own references must be imported too.
                    for r in target.refs() {
                        if let Some(t2) = ctx.find(&r.target, r.kinds)
                            && let Some(list) = index_of_object.get(&t2)
                        {
                            needs[e].extend(
                                list.iter()
                                    .copied()
                                    .filter(|&x| x != e && entries[x].mtype != entry.mtype),
                            );
                        }
                    }
                }
                continue;
            }
            let o = entry.object.map(|oi| ctx.obj(oi));
            let subj = o.map(subject).unwrap_or(Subject {
                resource_type: entry.resource.resource_type.clone(),
                id: entry.resource.manager_id.clone(),
                display_name: None,
            });
            findings.add(
                Severity::Error,
                "reference-not-imported",
                subj,
                format!(
                    "{} refers to {} \"{}\" ({}) through {}; that object is neither imported by this plan nor already in Policy, so the migration coordinator would refuse the request.",
                    entry.resource.display_name, target.resource_type, target.display_name, target.id, field
                ),
                "Add the object to the user spec's shared resources (it is probably an admin-created shared object), or remove the reference in NSX Manager.",
            );
        }
    }

    // Order check: a reference to a later migration type cannot be satisfied.
    let mut graph: DiGraphMap<usize, ()> = DiGraphMap::new();
    for e in 0..entries.len() {
        graph.add_node(e);
    }
    for (e, deps) in needs.iter().enumerate() {
        for &d in deps {
            if rank(entries[d].mtype) > rank(entries[e].mtype) {
                let o = &entries[e].resource;
                findings.add(
                    Severity::Error,
                    "import-order-conflict",
                    Subject {
                        resource_type: o.resource_type.clone(),
                        id: o.manager_id.clone(),
                        display_name: Some(o.display_name.clone()),
                    },
                    format!(
                        "{} ({}) refers to {} ({}), {}.",
                        o.display_name,
                        entries[e].mtype.as_str(),
                        entries[d].resource.display_name,
                        entries[d].mtype.as_str(),
                        if rank(entries[d].mtype) == usize::MAX {
                            "a type missing from the rules' import order"
                        } else {
                            "which is imported later by the rules' type order"
                        }
                    ),
                    "Reorder [import] order in the rules file, or remove the reference.",
                );
            } else {
                graph.add_edge(d, e, ());
            }
        }
    }
    let topo = match toposort(&graph, None) {
        Ok(t) => t,
        Err(cycle) => {
            let o = &entries[cycle.node_id()].resource;
            findings.add(
                Severity::Error,
                "reference-cycle",
                Subject {
                    resource_type: o.resource_type.clone(),
                    id: o.manager_id.clone(),
                    display_name: Some(o.display_name.clone()),
                },
                format!(
                    "{} is part of a reference cycle; no import order satisfies it.",
                    o.display_name
                ),
                "Break the cycle in NSX Manager (remove one of the references) and re-collect.",
            );
            (0..entries.len()).collect()
        }
    };
    let mut position = vec![0usize; entries.len()];
    for (p, &e) in topo.iter().enumerate() {
        position[e] = p;
    }

    // The seeds' order: shared resources first, then the cluster's (NCP's importer imports them
    // in separate runs); DFW sections last of all. Within each group the rules' type order.
    // A shared object that needs one of the cluster's cannot go first.
    let tier = |e: usize| -> u8 {
        if entries[e].mtype == MigrationType::DfwSection {
            2
        } else if entries[e].shared {
            0
        } else {
            1
        }
    };
    for (e, deps) in needs.iter().enumerate() {
        if let Some(&d) = deps.iter().find(|&&d| tier(d) > tier(e)) {
            let o = &entries[e].resource;
            findings.add(
                Severity::Error,
                "shared-needs-cluster-object",
                Subject { resource_type: o.resource_type.clone(), id: o.manager_id.clone(), display_name: Some(o.display_name.clone()) },
                format!("The shared resource {} ({}) refers to {} ({}), an object of the cluster; shared resources are imported before the cluster's.", o.display_name, entries[e].mtype.as_str(), entries[d].resource.display_name, entries[d].mtype.as_str()),
                "Remove the reference in NSX Manager, or drop the object from the user spec's shared resources if it belongs to the cluster.",
            );
        }
    }

    // Group by (shared, cluster, DFW) then type, keep dependency order within a group (ties by
    // id), then batch. Batch numbers count per type across the groups.
    let mut by_type: BTreeMap<(u8, usize), Vec<usize>> = BTreeMap::new();
    for (e, entry) in entries.iter().enumerate() {
        by_type
            .entry((tier(e), rank(entry.mtype)))
            .or_default()
            .push(e);
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut step_of: HashMap<usize, usize> = HashMap::new();
    let mut batches_of_type: HashMap<MigrationType, usize> = HashMap::new();
    for (_, mut list) in by_type {
        // Stable, deterministic: dependency depth first, then manager id.
        let depth = depths(&list, &needs);
        list.sort_by(|&a, &b| {
            depth[a]
                .cmp(&depth[b])
                .then(entries[a].group.cmp(&entries[b].group))
                .then(
                    entries[a]
                        .resource
                        .manager_id
                        .cmp(&entries[b].resource.manager_id),
                )
                .then(position[a].cmp(&position[b]))
        });
        let t = entries[list[0]].mtype;
        let limit = ctx.rules.batch_size(t);
        // One owner per batch (`setup_details` is per request).
        let owner = |scope| ctx.rules.import.principal_for(scope);
        let per_switch =
            t == MigrationType::LogicalPort && ctx.rules.import.logical_ports_per_switch;
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: HashSet<usize> = HashSet::new();
        for e in list {
            let start_new = match batches.last() {
                None => true,
                Some(b) => {
                    b.len() >= limit
                        || (per_switch && entries[b[0]].group != entries[e].group)
                        || owner(entries[b[0]].resource.scope) != owner(entries[e].resource.scope)
                        || needs[e].iter().any(|x| current.contains(x))
                }
            };
            if start_new {
                batches.push(vec![e]);
                current.clear();
            } else if let Some(b) = batches.last_mut() {
                b.push(e);
            }
            current.insert(e);
        }
        for batch in batches {
            let counter = batches_of_type.entry(t).or_default();
            *counter += 1;
            let n = *counter - 1;
            let id = format!("import/{}/{}", t.as_str(), n + 1);
            let mut deps: BTreeSet<usize> = BTreeSet::new();
            for &e in &batch {
                for d in &needs[e] {
                    if let Some(&at) = step_of.get(d) {
                        deps.insert(at);
                    }
                }
            }
            let deps: Vec<String> = deps.into_iter().map(|at| steps[at].id.clone()).collect();
            for &e in &batch {
                step_of.insert(e, steps.len());
            }
            steps.push(Step {
                id: id.clone(),
                phase: Phase::Import,
                depends_on: deps,
                action: Action::ImportBatch(ImportBatch {
                    migration_type: t,
                    batch: (n + 1) as u32,
                    principal_identity: owner(entries[batch[0]].resource.scope).map(str::to_string),
                    resources: batch.iter().map(|&e| entries[e].resource.clone()).collect(),
                }),
            });
        }
    }
    steps
}

/// Longest chain of same-list dependencies below each entry of `list` (0 for none), indexed by
/// entry (entries outside `list` read 0).
fn depths(list: &[usize], needs: &[BTreeSet<usize>]) -> Vec<usize> {
    let mut member = vec![false; needs.len()];
    for &e in list {
        member[e] = true;
    }
    let mut memo: Vec<Option<usize>> = vec![None; needs.len()];
    fn depth(
        e: usize,
        member: &[bool],
        needs: &[BTreeSet<usize>],
        memo: &mut [Option<usize>],
        guard: usize,
    ) -> usize {
        if let Some(d) = memo[e] {
            return d;
        }
        if guard == 0 {
            return 0;
        }
        let d = needs[e]
            .iter()
            .filter(|&&x| member[x])
            .map(|&x| depth(x, member, needs, memo, guard - 1) + 1)
            .max()
            .unwrap_or(0);
        memo[e] = Some(d);
        d
    }
    for &e in list {
        depth(e, &member, needs, &mut memo, list.len());
    }
    memo.into_iter().map(|d| d.unwrap_or(0)).collect()
}

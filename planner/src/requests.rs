//! Requests: the migration coordinator's import resources, one entry per imported object plus
//! the router-port and router-config requests and the IP allocations the user spec names.

use std::collections::BTreeSet;

use plan_schema::mp::{ImportResource, ImportScope, MigrationType};
use plan_schema::{KeyValue, Severity, Subject};

use crate::context::{Context, subject};
use crate::dfw::DfwPlan;
use crate::findings::{Findings, RulesUsed};
use crate::mapping::{migration_type, policy_collection};
use crate::model::Kind;
use crate::policy_ids::{PolicyIds, display_name_policy_id};
use crate::scope::Scope;
use crate::userspec::ResourceRef;

/// An object the plan imports.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub mtype: MigrationType,
    /// Index into `Inventory::objects`, or None for synthesized entries (allocations).
    pub object: Option<usize>,
    pub resource: ImportResource,
    /// Objects (indexes) this entry references and needs promoted first.
    pub needs: Vec<usize>,
    /// For logical ports: the switch they sit on (batching per switch).
    pub group: Option<String>,
    pub shared: bool,
}

/// What the requests stage produces.
pub(crate) struct Requests {
    pub entries: Vec<Entry>,
    pub findings: Findings,
    pub rules_used: RulesUsed,
}

/// The inputs every request is built from.
struct Sources<'c, 'a> {
    ctx: &'c Context<'a>,
    scope: &'c Scope,
    ids: &'c PolicyIds,
}

/// Build the import requests of the objects in scope.
pub(crate) fn build(
    ctx: &Context<'_>,
    scope: &Scope,
    ids: &PolicyIds,
    dfw_plan: &DfwPlan,
) -> Requests {
    let src = Sources { ctx, scope, ids };
    let mut findings = Findings::new();
    let mut rules_used = RulesUsed::default();
    let mut entries: Vec<Entry> = Vec::new();
    for (i, shared) in scope.iter() {
        let o = ctx.obj(i);
        let Some(mtype) = migration_type(o) else {
            if !matches!(
                o.kind,
                Kind::LogicalRouterPort | Kind::StaticRoute | Kind::LbRule
            ) {
                findings.add(
                    Severity::Error,
                    "no-migration-type",
                    subject(o),
                    format!("{} objects cannot be imported by the migration coordinator.", o.resource_type),
                    "Remove the object or its ncp/cluster tag if NCP does not need it, or promote it by hand after the migration.",
                );
            }
            continue;
        };
        if mtype == MigrationType::DfwSection && o.tag("ncp/fw_sect_marker").is_some() {
            continue;
        }
        entries.push(make_entry(&src, i, mtype, shared, dfw_plan));
    }
    // Router-port and router-config requests, keyed by their router.
    synthesize_router_entries(&src, &mut entries);
    // IP allocations named in the user spec.
    synthesize_allocations(&src, &mut entries, &mut findings, &mut rules_used);
    Requests {
        entries,
        findings,
        rules_used,
    }
}

fn kv(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn make_entry(
    src: &Sources<'_, '_>,
    i: usize,
    mtype: MigrationType,
    shared: bool,
    dfw_plan: &DfwPlan,
) -> Entry {
    let ctx = src.ctx;
    let o = ctx.obj(i);
    let pid = src.ids.of(ctx, i);
    let mut metadata = Vec::new();
    let mut linked_ids = Vec::new();
    let mut group = None;
    let policy_path = match mtype {
        MigrationType::LogicalPort => {
            let ls = o
                .str_field("logical_switch_id")
                .unwrap_or_default()
                .to_string();
            group = Some(ls.clone());
            let parent = parent_policy_id(src, &ls, &[Kind::LogicalSwitch]);
            Some(format!("/infra/segments/{parent}/ports/{pid}"))
        }
        MigrationType::Nat => {
            let router = o
                .str_field("logical_router_id")
                .unwrap_or_default()
                .to_string();
            let (tier, coll) = match ctx
                .find(&router, &[Kind::LogicalRouter])
                .map(|r| ctx.obj(r).router_type())
            {
                Some(Some("TIER0")) => ("TIER0", "tier-0s"),
                _ => ("TIER1", "tier-1s"),
            };
            linked_ids.push(kv(tier, router.clone()));
            let parent = parent_policy_id(src, &router, &[Kind::LogicalRouter]);
            Some(format!("/infra/{coll}/{parent}/nat/USER/nat-rules/{pid}"))
        }
        MigrationType::IpblockSubnet => {
            // NCP builds one IP pool per block subnet and tags it with the subnet id.
            let pool = ctx.pool_of_subnet.get(o.id.as_str()).copied();
            pool.map(|p| {
                let parent = src.ids.of(ctx, p);
                format!("/infra/ip-pools/{parent}/ip-subnets/{pid}")
            })
        }
        MigrationType::DfwSection => {
            let category = ctx.rules.dfw.ncp_section_category.clone();
            metadata.push(kv("category", category));
            let seq = dfw_plan.sequence.get(&o.id).copied().unwrap_or(0);
            metadata.push(kv("sequence", seq.to_string()));
            let mut used = BTreeSet::new();
            let mut k = 0;
            for r in &o.rules {
                if dfw_plan.moved_rules.contains(&r.id) {
                    continue;
                }
                k += 1;
                linked_ids.push(kv(r.id.clone(), k.to_string()));
                let mut rpid = display_name_policy_id(&r.display_name);
                if rpid.is_empty() || !used.insert(rpid.clone()) {
                    rpid = r.id.clone();
                }
                linked_ids.push(kv(format!("{}-policyid", r.id), rpid));
            }
            policy_collection(mtype).map(|c| format!("{c}/{pid}"))
        }
        _ => policy_collection(mtype).map(|c| format!("{c}/{pid}")),
    };
    let mut needs = Vec::new();
    if mtype == MigrationType::IpblockSubnet
        && let Some(&pool) = ctx.pool_of_subnet.get(o.id.as_str())
    {
        needs.push(pool);
    }
    Entry {
        mtype,
        object: Some(i),
        resource: ImportResource {
            manager_id: o.id.clone(),
            resource_type: o.resource_type.clone(),
            display_name: o.display_name.clone(),
            revision: o.revision,
            policy_id: Some(pid),
            tags: policy_path
                .as_ref()
                .map(|_| o.tags.iter().map(Into::into).collect()),
            policy_path,
            metadata,
            linked_ids,
            scope: src.scope.why.get(&i).copied(),
            rule: src.ids.rule(i).map(str::to_string),
        },
        needs,
        group,
        shared,
    }
}

/// The Policy id of a parent object: the one this plan gives it, the one it already has in
/// Policy, or its Manager id.
fn parent_policy_id(src: &Sources<'_, '_>, id: &str, kinds: &[Kind]) -> String {
    let ctx = src.ctx;
    match ctx.find(id, kinds) {
        Some(p) => {
            if let Some(pid) = src.ids.get(p) {
                return pid.clone();
            }
            let o = ctx.obj(p);
            if let Some(path) = o.tag("policyPath") {
                return path.rsplit('/').next().unwrap_or(id).to_string();
            }
            id.to_string()
        }
        None => id.to_string(),
    }
}

fn synthesize_router_entries(src: &Sources<'_, '_>, entries: &mut Vec<Entry>) {
    let ctx = src.ctx;
    let routers: Vec<(usize, MigrationType)> = entries
        .iter()
        .filter(|e| matches!(e.mtype, MigrationType::Tier0 | MigrationType::Tier1))
        .filter_map(|e| e.object.map(|o| (o, e.mtype)))
        .collect();
    for (ri, rtype) in routers {
        let router = ctx.obj(ri);
        let rpid = src.ids.of(ctx, ri);
        let mut metadata = Vec::new();
        let mut port_objects = Vec::new();
        let children = ctx
            .on_router
            .get(router.id.as_str())
            .cloned()
            .unwrap_or_default();
        for pi in children {
            let p = ctx.obj(pi);
            match (rtype, p.kind, p.resource_type.as_str()) {
                (MigrationType::Tier1, Kind::LogicalRouterPort, "LogicalRouterDownLinkPort") => {
                    // Downlink -> the segment it connects (through the switch port it links).
                    let ls_port = p
                        .raw
                        .pointer("/linked_logical_switch_port_id/target_id")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    let segment = ctx
                        .find(ls_port, &[Kind::LogicalPort])
                        .and_then(|lp| ctx.obj(lp).str_field("logical_switch_id"))
                        .map(|ls| parent_policy_id(src, ls, &[Kind::LogicalSwitch]))
                        .unwrap_or_default();
                    metadata.push(kv(p.id.clone(), segment));
                    port_objects.push(pi);
                }
                (MigrationType::Tier1, Kind::StaticRoute, _) => {
                    let network = p.str_field("network").unwrap_or_default().replace('/', "_");
                    let hop = p
                        .raw
                        .pointer("/next_hops/0/ip_address")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default();
                    metadata.push(kv(p.id.clone(), format!("{network}-{hop}")));
                    port_objects.push(pi);
                }
                (MigrationType::Tier0, Kind::LogicalRouterPort, "LogicalRouterUpLinkPort") => {
                    port_objects.push(pi);
                }
                _ => {}
            }
        }
        match rtype {
            MigrationType::Tier1 if !metadata.is_empty() => {
                metadata.push(kv("localeServiceId", format!("{rpid}-0")));
                entries.push(Entry {
                    mtype: MigrationType::Tier1LogicalRouterPort,
                    object: Some(ri),
                    resource: ImportResource {
                        manager_id: router.id.clone(),
                        resource_type: router.resource_type.clone(),
                        display_name: router.display_name.clone(),
                        revision: router.revision,
                        policy_id: None,
                        policy_path: None,
                        tags: None,
                        metadata,
                        linked_ids: Vec::new(),
                        scope: Some(ImportScope::RouterConfig),
                        rule: None,
                    },
                    needs: port_objects,
                    group: None,
                    shared: false,
                });
            }
            MigrationType::Tier0 => {
                for pi in port_objects {
                    let p = ctx.obj(pi);
                    entries.push(Entry {
                        mtype: MigrationType::Tier0LogicalRouterPort,
                        object: Some(pi),
                        resource: ImportResource {
                            manager_id: p.id.clone(),
                            resource_type: p.resource_type.clone(),
                            display_name: p.display_name.clone(),
                            revision: p.revision,
                            policy_id: None,
                            policy_path: None,
                            tags: None,
                            metadata: Vec::new(),
                            linked_ids: vec![kv("TIER0", router.id.clone())],
                            scope: Some(ImportScope::RouterConfig),
                            rule: None,
                        },
                        needs: vec![ri],
                        group: None,
                        shared: true,
                    });
                }
                entries.push(Entry {
                    mtype: MigrationType::Tier0LogicalRouterConfig,
                    object: Some(ri),
                    resource: ImportResource {
                        manager_id: router.id.clone(),
                        resource_type: router.resource_type.clone(),
                        display_name: router.display_name.clone(),
                        revision: router.revision,
                        policy_id: None,
                        policy_path: None,
                        tags: None,
                        metadata: Vec::new(),
                        linked_ids: Vec::new(),
                        scope: Some(ImportScope::RouterConfig),
                        rule: None,
                    },
                    needs: Vec::new(),
                    group: None,
                    shared: true,
                });
            }
            _ => {}
        }
    }
}

fn synthesize_allocations(
    src: &Sources<'_, '_>,
    entries: &mut Vec<Entry>,
    findings: &mut Findings,
    rules_used: &mut RulesUsed,
) {
    let ctx = src.ctx;
    let Some(spec) = ctx.spec else { return };
    let pools: Vec<ResourceRef> = spec.shared_resources.ip_pools.clone();
    for r in pools {
        if r.ip_allocations.is_empty() {
            continue;
        }
        let Some(pool) = ctx.find_pool(&r) else {
            continue;
        };
        let pool_obj = ctx.obj(pool);
        let pool_pid = src.ids.of(ctx, pool);
        for (address, pid) in &r.ip_allocations {
            let found = ctx
                .inv
                .allocations
                .iter()
                .any(|a| a.pool_id == pool_obj.id && &a.allocation_id == address);
            if !found {
                findings.add(
                    Severity::Warning,
                    "user-spec-allocation-not-found",
                    Subject { resource_type: "AllocationIpAddress".into(), id: address.clone(), display_name: Some(pid.clone()) },
                    format!("The user spec maps allocation {address} of IP pool \"{}\", but the pool has no such allocation; it is ignored.", pool_obj.display_name),
                    "Check the address against the pool's allocations, or remove the entry.",
                );
                continue;
            }
            rules_used.use_rule(
                "policy-id/user-spec-allocation",
                "IP allocations named in the user spec get the Policy id it gives them.",
            );
            entries.push(Entry {
                mtype: MigrationType::IppoolAllocation,
                object: None,
                resource: ImportResource {
                    manager_id: address.clone(),
                    resource_type: "AllocationIpAddress".into(),
                    display_name: address.clone(),
                    revision: 0,
                    policy_id: Some(pid.clone()),
                    policy_path: Some(format!("/infra/ip-pools/{pool_pid}/ip-allocations/{pid}")),
                    tags: None,
                    metadata: Vec::new(),
                    linked_ids: vec![kv("IPPOOL", pool_obj.id.clone())],
                    scope: Some(ImportScope::UserSpec),
                    rule: Some("policy-id/user-spec-allocation".into()),
                },
                needs: vec![pool],
                group: None,
                shared: true,
            });
        }
    }
}

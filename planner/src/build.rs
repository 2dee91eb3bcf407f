//! Building the plan: scope, migration requests, dependency order and batches, then the DFW
//! moves, prechecks and Policy updates, sealed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::algo::toposort;
use petgraph::graphmap::DiGraphMap;

use plan_schema::{
    Action, FORMAT_VERSION, Finding, Header, ImportBatch, ImportResource, ImportScope, Input,
    KeyValue, MigrationKind, MigrationType, Phase, Plan, RuleRef, Severity, Step, Subject, Summary,
};

use crate::error::PlanError;
use crate::inventory::{Inventory, Metadata};
use crate::model::{Kind, MpObject};
use crate::rules::{PolicyIdRule, Rules};
use crate::userspec::{ClusterSpec, ResourceRef, UserSpec};
use crate::{checks, dfw, updates};

/// What the plan is made from.
pub struct PlanInputs<'a> {
    pub inventory: &'a Inventory,
    /// Where the inventory came from, as the plan should name it.
    pub inventory_source: String,
    pub user_spec: Option<SourcedSpec<'a>>,
    pub rules: &'a Rules,
    /// `None` for the built-in rules.
    pub rules_source: Option<(String, String)>,
}

pub struct SourcedSpec<'a> {
    pub spec: &'a UserSpec,
    pub source: String,
    pub sha256: String,
}

pub struct PlanOptions {
    pub cluster: String,
    pub created_at: String,
    pub tool_version: String,
    /// Overrides the rules' DFW placement (`--dfw-admin-sections`).
    pub dfw_admin_sections: Option<crate::rules::Placement>,
}

/// An object the plan imports.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub mtype: MigrationType,
    /// Index into `Inventory::objects`, or None for synthesized entries (allocations).
    pub object: Option<usize>,
    pub resource: ImportResource,
    /// Manager ids (with kind) this entry references and needs promoted first.
    pub needs: Vec<usize>,
    /// For logical ports: the switch they sit on (batching per switch).
    pub group: Option<String>,
    pub shared: bool,
}

/// Shared state while building.
pub(crate) struct Ctx<'a> {
    pub inv: &'a Inventory,
    pub rules: &'a Rules,
    pub cluster: String,
    pub spec: Option<&'a ClusterSpec>,
    pub by_id: HashMap<&'a str, Vec<usize>>,
    pub findings: Vec<Finding>,
    pub rules_used: BTreeMap<String, String>,
    /// Objects in scope: index -> shared?
    pub scope: BTreeMap<usize, bool>,
    /// Policy id each imported object gets, by object index.
    pub policy_ids: HashMap<usize, String>,
    /// Why each object in scope is imported, and the rule that chose its Policy id (for reviewers).
    pub scope_why: HashMap<usize, ImportScope>,
    pub id_rule: HashMap<usize, &'static str>,
    /// IP pool built from each IP block subnet (NCP tags the pool with `ncp/subnet_id`).
    pub pool_of_subnet: HashMap<&'a str, usize>,
    /// Objects that name a logical router in `logical_router_id` (ports, routes, NAT rules).
    pub on_router: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Ctx<'a> {
    pub fn obj(&self, i: usize) -> &'a MpObject {
        &self.inv.objects[i]
    }

    pub fn is_cluster_owned(&self, o: &MpObject) -> bool {
        o.has_tag(&self.rules.ncp.cluster_tag_scope, &self.cluster)
    }

    /// The Policy id this plan gives object `i`, or its Manager id when it gets none.
    pub fn policy_id_of(&self, i: usize) -> String {
        self.policy_ids
            .get(&i)
            .cloned()
            .unwrap_or_else(|| self.obj(i).id.clone())
    }

    pub fn find(&self, id: &str, kinds: &[Kind]) -> Option<usize> {
        self.by_id
            .get(id)?
            .iter()
            .copied()
            .find(|&i| kinds.is_empty() || kinds.contains(&self.inv.objects[i].kind))
    }

    pub fn finding(
        &mut self,
        severity: Severity,
        check: &str,
        subject: Subject,
        message: String,
        remedy: &str,
    ) {
        let id = format!(
            "{check}:{}",
            subject.id.replace(
                |c: char| !c.is_ascii_alphanumeric() && !"._:/-".contains(c),
                "_"
            )
        );
        if self.findings.iter().any(|f| f.id == id) {
            return;
        }
        self.findings.push(Finding {
            id,
            severity,
            check: check.to_string(),
            subject,
            message,
            remedy: remedy.to_string(),
            steps: Vec::new(),
        });
    }

    pub fn use_rule(&mut self, id: &str, description: &str) {
        self.rules_used
            .entry(id.to_string())
            .or_insert_with(|| description.to_string());
    }
}

pub(crate) fn subject(o: &MpObject) -> Subject {
    Subject {
        resource_type: o.resource_type.clone(),
        id: o.id.clone(),
        display_name: Some(o.display_name.clone()),
    }
}

/// NCP's shared-resource Policy id rule: spaces and '/' become '_', names of only dots get a
/// leading '_' (NCP docs, translated in the reference).
pub fn display_name_policy_id(name: &str) -> String {
    let id: String = name
        .chars()
        .map(|c| if c == ' ' || c == '/' { '_' } else { c })
        .collect();
    if !id.is_empty() && id.chars().all(|c| c == '.') {
        format!("_{id}")
    } else {
        id
    }
}

fn migration_type(o: &MpObject) -> Option<MigrationType> {
    use MigrationType as M;
    Some(match o.kind {
        Kind::LogicalRouter => match o.router_type() {
            Some("TIER0") => M::Tier0,
            Some("TIER1") => M::Tier1,
            _ => return None,
        },
        Kind::LogicalSwitch => M::LogicalSwitch,
        Kind::LogicalPort => M::LogicalPort,
        Kind::NatRule => M::Nat,
        Kind::IpBlock => M::Ipblock,
        Kind::IpBlockSubnet => M::IpblockSubnet,
        Kind::IpPool => M::Ippool,
        Kind::IpSet => M::IpSet,
        Kind::NsGroup => M::NsGroup,
        Kind::FirewallSection => M::DfwSection,
        Kind::Certificate => M::Certificate,
        Kind::LbService => M::LbService,
        Kind::LbVirtualServer => M::LbVirtualServer,
        Kind::LbPool => M::LbPool,
        Kind::LbMonitor => M::LbMonitor,
        Kind::LbAppProfile => M::LbApplicationProfile,
        Kind::LbPersistenceProfile => M::LbPersistenceProfile,
        Kind::LbClientSslProfile => M::LbClientSslProfile,
        Kind::SwitchingProfile => match o.resource_type.as_str() {
            "SpoofGuardSwitchingProfile" => M::SpoofguardProfiles,
            "MacManagementSwitchingProfile" => M::MacdiscoveryProfiles,
            "SwitchSecuritySwitchingProfile" => M::SegmentSecurityProfiles,
            "QosSwitchingProfile" => M::QosProfiles,
            "IpDiscoverySwitchingProfile" => M::IpdiscoveryProfiles,
            _ => return None,
        },
        // Carried by other requests: router ports and static routes by their Tier-1's
        // TIER1_LOGICAL_ROUTER_PORT entry, LB rules inline in their virtual server.
        Kind::LogicalRouterPort | Kind::StaticRoute | Kind::LbRule | Kind::LbServerSslProfile => {
            return None;
        }
    })
}

/// Where a promoted object lands in Policy, given the Policy ids of its parents.
fn policy_collection(t: MigrationType, o: &MpObject) -> Option<&'static str> {
    use MigrationType as M;
    Some(match t {
        M::Ipblock => "/infra/ip-blocks",
        M::Ippool => "/infra/ip-pools",
        M::Tier0 => "/infra/tier-0s",
        M::Tier1 => "/infra/tier-1s",
        M::LogicalSwitch => "/infra/segments",
        M::IpSet | M::NsGroup => "/infra/domains/default/groups",
        M::DfwSection => "/infra/domains/default/security-policies",
        M::Certificate => "/infra/certificates",
        M::LbService => "/infra/lb-services",
        M::LbVirtualServer => "/infra/lb-virtual-servers",
        M::LbPool => "/infra/lb-pools",
        M::LbMonitor => "/infra/lb-monitor-profiles",
        M::LbApplicationProfile => "/infra/lb-app-profiles",
        M::LbPersistenceProfile => "/infra/lb-persistence-profiles",
        M::LbClientSslProfile => "/infra/lb-client-ssl-profiles",
        M::SpoofguardProfiles => "/infra/spoofguard-profiles",
        M::MacdiscoveryProfiles => "/infra/mac-discovery-profiles",
        M::SegmentSecurityProfiles => "/infra/segment-security-profiles",
        M::QosProfiles => "/infra/qos-profiles",
        M::IpdiscoveryProfiles => "/infra/ip-discovery-profiles",
        _ => {
            let _ = o;
            return None;
        }
    })
}

/// The Policy `resource_type` an imported object becomes (for update steps and reviewers).
pub(crate) fn policy_resource_type(t: MigrationType) -> &'static str {
    use MigrationType as M;
    match t {
        M::Ipblock => "IpAddressBlock",
        M::Ippool => "IpAddressPool",
        M::IpblockSubnet => "IpAddressPoolBlockSubnet",
        M::IppoolAllocation => "IpAddressAllocation",
        M::Tier0 => "Tier0",
        M::Tier1 => "Tier1",
        M::LogicalSwitch => "Segment",
        M::LogicalPort => "SegmentPort",
        M::Nat => "PolicyNatRule",
        M::IpSet | M::NsGroup => "Group",
        M::DfwSection => "SecurityPolicy",
        M::Certificate => "TlsCertificate",
        M::LbService => "LBService",
        M::LbVirtualServer => "LBVirtualServer",
        M::LbPool => "LBPool",
        M::LbMonitor => "LBMonitorProfile",
        M::LbApplicationProfile => "LBAppProfile",
        M::LbPersistenceProfile => "LBPersistenceProfile",
        M::LbClientSslProfile => "LBClientSslProfile",
        M::SpoofguardProfiles => "SpoofGuardProfile",
        M::MacdiscoveryProfiles => "MacDiscoveryProfile",
        M::SegmentSecurityProfiles => "SegmentSecurityProfile",
        M::QosProfiles => "QoSProfile",
        M::IpdiscoveryProfiles => "IPDiscoveryProfile",
        M::Tier1LogicalRouterPort | M::Tier0LogicalRouterPort | M::Tier0LogicalRouterConfig => {
            "Tier-router configuration"
        }
        M::DhcpServer => "DhcpServerConfig",
        M::MetadataProxy => "MetadataProxyConfig",
        M::Crl => "TlsCrl",
    }
}

fn resolve_shared<'a>(ctx: &mut Ctx<'a>, list: &str, r: &ResourceRef) -> Option<usize> {
    let kinds: &[Kind] = match list {
        "tier0_routers" | "tier1_routers" => &[Kind::LogicalRouter],
        "ip_blocks" => &[Kind::IpBlock],
        "ip_pools" => &[Kind::IpPool],
        "logical_switches" => &[Kind::LogicalSwitch],
        "ip_sets" => &[Kind::IpSet],
        "ns_groups" => &[Kind::NsGroup],
        "switching_profiles" => &[Kind::SwitchingProfile],
        "certificates" => &[Kind::Certificate],
        "lb_services" => &[Kind::LbService],
        _ => &[],
    };
    let matches: Vec<usize> = ctx
        .inv
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| kinds.contains(&o.kind))
        .filter(|(_, o)| match (&r.id, &r.display_name) {
            (Some(id), _) => &o.id == id,
            (None, Some(n)) => &o.display_name == n,
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    match matches.as_slice() {
        [] => {
            ctx.finding(
                Severity::Warning,
                "user-spec-resource-not-found",
                Subject { resource_type: list.to_string(), id: r.id.clone().or(r.display_name.clone()).unwrap_or_default(), display_name: r.display_name.clone() },
                format!("The user spec names {} in {list}, but the inventory has no such object; it is ignored (as NCP's importer does).", r.describe()),
                "Check the spelling against the NSX Manager, or remove the entry.",
            );
            None
        }
        [one] => Some(*one),
        many => {
            let o = ctx.obj(many[0]);
            ctx.finding(
                Severity::Error,
                "shared-display-name-not-unique",
                subject(o),
                format!(
                    "{} objects in {list} are named \"{}\"; shared resources are found and given Policy ids by display name, which must be unique.",
                    many.len(),
                    o.display_name
                ),
                "Rename the duplicates in NSX Manager, or name this resource by `id` in the user spec.",
            );
            None
        }
    }
}

pub fn build_plan(inputs: &PlanInputs<'_>, opts: &PlanOptions) -> Result<Plan, PlanError> {
    let inv = inputs.inventory;
    let spec = match inputs.user_spec.as_ref() {
        Some(s) => match s.spec.clusters.get(&opts.cluster) {
            Some(c) => Some(c),
            None => {
                return Err(PlanError::UnknownCluster {
                    cluster: opts.cluster.clone(),
                    known: s
                        .spec
                        .clusters
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        },
        None => None,
    };
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, o) in inv.objects.iter().enumerate() {
        by_id.entry(o.id.as_str()).or_default().push(i);
    }
    let mut ctx = Ctx {
        inv,
        rules: inputs.rules,
        cluster: opts.cluster.clone(),
        spec,
        by_id,
        findings: Vec::new(),
        rules_used: BTreeMap::new(),
        scope: BTreeMap::new(),
        policy_ids: HashMap::new(),
        scope_why: HashMap::new(),
        id_rule: HashMap::new(),
        pool_of_subnet: HashMap::new(),
        on_router: HashMap::new(),
    };
    for (i, o) in inv.objects.iter().enumerate() {
        if o.kind == Kind::IpPool
            && let Some(subnet) = o.tag("ncp/subnet_id")
        {
            ctx.pool_of_subnet.entry(subnet).or_insert(i);
        }
        if let Some(r) = o.str_field("logical_router_id") {
            ctx.on_router.entry(r).or_default().push(i);
        }
    }

    // 1. Scope: shared resources of the user spec, then the cluster's own objects.
    let mut shared_policy_ids: HashMap<usize, Option<String>> = HashMap::new();
    if let Some(c) = spec {
        for (list, r) in c.shared_resources.entries() {
            if let Some(i) = resolve_shared(&mut ctx, list, r) {
                ctx.scope.insert(i, true);
                ctx.scope_why.insert(i, ImportScope::UserSpec);
                shared_policy_ids.insert(i, r.policy_id.clone());
            }
        }
    }
    // A shared logical switch comes with its admin-created (untagged) ports, e.g. the switch port
    // a Tier-0 uplink connects to.
    let shared_switches: BTreeSet<String> = ctx
        .scope
        .keys()
        .map(|&i| ctx.obj(i))
        .filter(|o| o.kind == Kind::LogicalSwitch)
        .map(|o| o.id.clone())
        .collect();
    for (i, o) in inv.objects.iter().enumerate() {
        if o.kind == Kind::LogicalPort
            && o.str_field("logical_switch_id")
                .is_some_and(|ls| shared_switches.contains(ls))
            && o.tag(&ctx.rules.ncp.cluster_tag_scope).is_none()
            && !o.already_in_policy()
        {
            ctx.scope.insert(i, true);
            ctx.scope_why.insert(i, ImportScope::SharedSwitchPort);
            shared_policy_ids.insert(i, None);
        }
    }
    let mut already = 0usize;
    for (i, o) in inv.objects.iter().enumerate() {
        if !ctx.is_cluster_owned(o) {
            continue;
        }
        if o.already_in_policy() {
            already += 1;
            continue;
        }
        ctx.scope.entry(i).or_insert(false);
        ctx.scope_why.entry(i).or_insert(ImportScope::Cluster);
    }
    if already > 0 {
        ctx.finding(
            Severity::Info,
            "already-in-policy",
            Subject { resource_type: "Cluster".into(), id: opts.cluster.clone(), display_name: None },
            format!("{already} object(s) of the cluster already carry the markers of a Policy object (policyPath tag or owner nsx_policy) and are not imported again."),
            "None: they count as done.",
        );
    }

    // DFW analysis decides which rules leave NCP sections before they are imported.
    let dfw_plan = dfw::analyse(&mut ctx, opts.dfw_admin_sections);

    // 2. Policy ids.
    let scope: Vec<(usize, bool)> = ctx.scope.iter().map(|(&i, &s)| (i, s)).collect();
    let product = ctx.cluster_product();
    let shared_rule = product
        .and_then(|p| ctx.rules.policy_ids.shared_by_product.get(&p).copied())
        .unwrap_or(ctx.rules.policy_ids.shared);
    for &(i, shared) in &scope {
        let o = ctx.obj(i);
        let (rule, pid) = if shared {
            match shared_policy_ids.get(&i).cloned().flatten() {
                Some(p) => ("policy-id/user-spec", p),
                None => match shared_rule {
                    PolicyIdRule::DisplayName => (
                        "policy-id/shared-display-name",
                        display_name_policy_id(&o.display_name),
                    ),
                    PolicyIdRule::MpId => ("policy-id/shared-mp-id", o.id.clone()),
                },
            }
        } else {
            match ctx.rules.policy_ids.ncp_owned {
                PolicyIdRule::MpId => ("policy-id/ncp-owned-mp-id", o.id.clone()),
                PolicyIdRule::DisplayName => (
                    "policy-id/ncp-owned-display-name",
                    display_name_policy_id(&o.display_name),
                ),
            }
        };
        let description = match rule {
            "policy-id/user-spec" => {
                "Shared resources keep the Policy id the user spec gives them."
            }
            "policy-id/shared-display-name" => {
                "Shared resources named in the user spec get a Policy id from their display name: spaces and '/' become '_', a name of only dots gets a leading '_' (NCP docs)."
            }
            "policy-id/shared-mp-id" => {
                "Shared resources keep their Manager id as Policy id (TKGi)."
            }
            "policy-id/ncp-owned-mp-id" => "NCP-owned objects keep their Manager id as Policy id.",
            _ => "NCP-owned objects get a Policy id from their display name.",
        };
        if migration_type(o).is_some() {
            ctx.use_rule(rule, description);
            ctx.id_rule.insert(i, rule);
        }
        ctx.policy_ids.insert(i, pid);
    }

    // 3. Requests.
    let mut entries: Vec<Entry> = Vec::new();
    for &(i, shared) in &scope {
        let o = ctx.obj(i);
        let Some(mtype) = migration_type(o) else {
            if !matches!(
                o.kind,
                Kind::LogicalRouterPort | Kind::StaticRoute | Kind::LbRule
            ) {
                ctx.finding(
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
        let entry = make_entry(&mut ctx, i, mtype, shared, &dfw_plan);
        entries.push(entry);
    }
    // Router-port and router-config requests, keyed by their router.
    synthesize_router_entries(&mut ctx, &mut entries);
    // IP allocations named in the user spec.
    synthesize_allocations(&mut ctx, &mut entries);

    // 4. References -> dependencies, and order/batches.
    let index_of_object: HashMap<usize, Vec<usize>> = {
        let mut m: HashMap<usize, Vec<usize>> = HashMap::new();
        for (e, entry) in entries.iter().enumerate() {
            if let Some(o) = entry.object {
                m.entry(o).or_default().push(e);
            }
        }
        m
    };
    let order: Vec<MigrationType> = ctx.rules.import.order.clone();
    let rank = |t: MigrationType| order.iter().position(|x| *x == t);
    for e in &entries {
        if rank(e.mtype).is_none() {
            ctx.finding(
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
    let steps_import = order_and_batch(&mut ctx, &entries, &index_of_object, &dfw_plan.moved_rules);

    // 5. Prechecks, DFW steps, updates.
    checks::run(&mut ctx, &entries);
    let mut steps: Vec<Step> = dfw_plan.steps.clone();
    for f in dfw_plan.findings.iter() {
        ctx.findings.push(f.clone());
    }
    // DFW section imports wait for the rules planned to leave those sections.
    let mut steps_import = steps_import;
    for s in &mut steps_import {
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
    for r in &dfw_plan.rules_used {
        ctx.use_rule(&r.id, &r.description);
    }
    let update_steps = updates::plan_updates(&mut ctx, &entries, &steps_import);
    steps.extend(steps_import);
    steps.extend(update_steps);

    // 6. Assemble, order, seal.
    let meta = inv.metadata.as_ref();
    let mut inputs_list = vec![
        Input {
            name: "nsx".into(),
            source: format!("{}/nsx", inputs.inventory_source),
            sha256: inv.nsx_fingerprint.clone(),
            objects: Some(inv.nsx_count),
        },
        Input {
            name: "kubernetes".into(),
            source: format!("{}/k8s", inputs.inventory_source),
            sha256: inv.kube_fingerprint.clone(),
            objects: Some(inv.kube_count),
        },
    ];
    if let Some(s) = &inputs.user_spec {
        inputs_list.push(Input {
            name: "user-spec".into(),
            source: s.source.clone(),
            sha256: s.sha256.clone(),
            objects: None,
        });
    }
    if let Some((source, sha)) = &inputs.rules_source {
        inputs_list.push(Input {
            name: "rules".into(),
            source: source.clone(),
            sha256: sha.clone(),
            objects: None,
        });
    }
    let mut findings = std::mem::take(&mut ctx.findings);
    findings.sort_by(|a, b| {
        a.severity
            .cmp(&b.severity)
            .then(a.check.cmp(&b.check))
            .then(a.id.cmp(&b.id))
    });
    let rules: Vec<RuleRef> = ctx
        .rules_used
        .iter()
        .map(|(id, d)| RuleRef {
            id: id.clone(),
            description: d.clone(),
        })
        .collect();
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        plan_id: String::new(),
        header: Header {
            kind: MigrationKind::MpToPolicy,
            cluster: opts.cluster.clone(),
            nsx_manager: manager_name(meta),
            nsx_version: meta.and_then(|m| m.nsx_version.clone()),
            ncp_version: spec.and_then(|c| c.ncp_version.clone()),
            created_at: opts.created_at.clone(),
            tool_version: opts.tool_version.clone(),
        },
        inputs: inputs_list,
        summary: Summary::default(),
        rules,
        findings,
        steps,
    };
    plan_schema::write::normalize(&mut plan);
    plan.summary = plan.computed_summary();
    plan_schema::seal(&mut plan);
    let problems = plan_schema::check::check_plan(&plan);
    if !problems.is_empty() {
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        return Err(PlanError::Invalid(text.join("; ")));
    }
    Ok(plan)
}

fn kv(key: impl Into<String>, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn make_entry(
    ctx: &mut Ctx<'_>,
    i: usize,
    mtype: MigrationType,
    shared: bool,
    dfw_plan: &dfw::DfwPlan,
) -> Entry {
    let o = ctx.obj(i);
    let pid = ctx.policy_id_of(i);
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
            let parent = parent_policy_id(ctx, &ls, &[Kind::LogicalSwitch]);
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
            let parent = parent_policy_id(ctx, &router, &[Kind::LogicalRouter]);
            Some(format!("/infra/{coll}/{parent}/nat/USER/nat-rules/{pid}"))
        }
        MigrationType::IpblockSubnet => {
            // NCP builds one IP pool per block subnet and tags it with the subnet id.
            let pool = ctx.pool_of_subnet.get(o.id.as_str()).copied();
            pool.map(|p| {
                let parent = ctx.policy_id_of(p);
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
            policy_collection(mtype, o).map(|c| format!("{c}/{pid}"))
        }
        _ => policy_collection(mtype, o).map(|c| format!("{c}/{pid}")),
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
            policy_path,
            metadata,
            linked_ids,
            scope: ctx.scope_why.get(&i).copied(),
            rule: ctx.id_rule.get(&i).map(|r| r.to_string()),
        },
        needs,
        group,
        shared,
    }
}

/// The Policy id of a parent object: the one this plan gives it, the one it already has in
/// Policy, or its Manager id.
fn parent_policy_id(ctx: &Ctx<'_>, id: &str, kinds: &[Kind]) -> String {
    match ctx.find(id, kinds) {
        Some(p) => {
            if let Some(pid) = ctx.policy_ids.get(&p) {
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

fn synthesize_router_entries(ctx: &mut Ctx<'_>, entries: &mut Vec<Entry>) {
    let routers: Vec<(usize, MigrationType)> = entries
        .iter()
        .filter(|e| matches!(e.mtype, MigrationType::Tier0 | MigrationType::Tier1))
        .filter_map(|e| e.object.map(|o| (o, e.mtype)))
        .collect();
    for (ri, rtype) in routers {
        let router = ctx.obj(ri);
        let rpid = ctx.policy_id_of(ri);
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
                        .map(|ls| parent_policy_id(ctx, ls, &[Kind::LogicalSwitch]))
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

fn synthesize_allocations(ctx: &mut Ctx<'_>, entries: &mut Vec<Entry>) {
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
        let pool_pid = ctx.policy_id_of(pool);
        for (address, pid) in &r.ip_allocations {
            let found = ctx
                .inv
                .allocations
                .iter()
                .any(|a| a.pool_id == pool_obj.id && &a.allocation_id == address);
            if !found {
                ctx.finding(
                    Severity::Warning,
                    "user-spec-allocation-not-found",
                    Subject { resource_type: "AllocationIpAddress".into(), id: address.clone(), display_name: Some(pid.clone()) },
                    format!("The user spec maps allocation {address} of IP pool \"{}\", but the pool has no such allocation; it is ignored.", pool_obj.display_name),
                    "Check the address against the pool's allocations, or remove the entry.",
                );
                continue;
            }
            ctx.use_rule(
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

impl Ctx<'_> {
    /// The product running the cluster: `product:` in the user spec, else TKGi when the
    /// cluster's objects carry `pks/cluster` or its name starts with `pks-` (inferred; TAS is not
    /// inferred), else unknown.
    pub(crate) fn cluster_product(&self) -> Option<crate::userspec::Product> {
        if let Some(p) = self.spec.and_then(|c| c.product) {
            return Some(p);
        }
        let tkgi = self.cluster.starts_with("pks-")
            || self
                .scope
                .keys()
                .any(|&i| self.obj(i).tag("pks/cluster").is_some());
        tkgi.then_some(crate::userspec::Product::Tkgi)
    }

    /// The NSX Manager the inventory was collected from, as the plan names it.
    pub(crate) fn manager_name(&self) -> String {
        manager_name(self.inv.metadata.as_ref())
    }

    fn find_pool(&self, r: &ResourceRef) -> Option<usize> {
        self.inv.objects.iter().position(|o| {
            o.kind == Kind::IpPool
                && match (&r.id, &r.display_name) {
                    (Some(id), _) => &o.id == id,
                    (None, Some(n)) => &o.display_name == n,
                    _ => false,
                }
        })
    }
}

/// The manager named in the inventory's metadata, or "unknown".
fn manager_name(meta: Option<&Metadata>) -> String {
    meta.map(|m| m.nsx_manager.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// Resolve references to dependencies, order entries by type rank and within a type by their
/// references, split into batches, and emit import steps.
fn order_and_batch(
    ctx: &mut Ctx<'_>,
    entries: &[Entry],
    index_of_object: &HashMap<usize, Vec<usize>>,
    moved_rules: &BTreeSet<String>,
) -> Vec<Step> {
    let order = ctx.rules.import.order.clone();
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
                        ctx.finding(
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
            ctx.finding(
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
                ctx.finding(
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
            ctx.finding(
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
            ctx.finding(
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
                    principal_identity: None,
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

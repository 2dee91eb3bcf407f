//! Which objects the plan imports and why: the shared resources the user spec names (with the
//! admin-created ports of shared switches), then the cluster's own objects.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plan_schema::mp::ImportScope;
use plan_schema::{Severity, Subject};

use crate::context::{Context, subject};
use crate::findings::Findings;
use crate::model::Kind;
use crate::userspec::ResourceRef;

/// The objects in scope.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    /// Objects in scope: index -> shared?
    pub members: BTreeMap<usize, bool>,
    /// Why each object in scope is imported (for reviewers).
    pub why: HashMap<usize, ImportScope>,
    /// Shared objects: the Policy id the user spec gives them, if any.
    pub user_policy_ids: HashMap<usize, Option<String>>,
}

impl Scope {
    /// Objects in scope with their shared flag, by index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        self.members.iter().map(|(&i, &s)| (i, s))
    }

    pub fn indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.keys().copied()
    }
}

/// Select the objects to import.
pub(crate) fn select(ctx: &Context<'_>) -> (Scope, Findings) {
    let inv = ctx.inv;
    let mut scope = Scope::default();
    let mut findings = Findings::new();
    if let Some(c) = ctx.spec {
        for (list, r) in c.shared_resources.entries() {
            if let Some(i) = resolve_shared(ctx, list, r, &mut findings) {
                scope.members.insert(i, true);
                scope.why.insert(i, ImportScope::UserSpec);
                scope.user_policy_ids.insert(i, r.policy_id.clone());
            }
        }
    }
    // A shared logical switch comes with its admin-created (untagged) ports, e.g. the switch port
    // a Tier-0 uplink connects to.
    let shared_switches: BTreeSet<String> = scope
        .indexes()
        .map(|i| ctx.obj(i))
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
            scope.members.insert(i, true);
            scope.why.insert(i, ImportScope::SharedSwitchPort);
            scope.user_policy_ids.insert(i, None);
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
        scope.members.entry(i).or_insert(false);
        scope.why.entry(i).or_insert(ImportScope::Cluster);
    }
    if already > 0 {
        findings.add(
            Severity::Info,
            "already-in-policy",
            Subject { resource_type: "Cluster".into(), id: ctx.cluster.clone(), display_name: None },
            format!("{already} object(s) of the cluster already carry the markers of a Policy object (policyPath tag or owner nsx_policy) and are not imported again."),
            "None: they count as done.",
        );
    }
    (scope, findings)
}

/// The object a user spec entry of shared resource list `list` names.
fn resolve_shared(
    ctx: &Context<'_>,
    list: &str,
    r: &ResourceRef,
    findings: &mut Findings,
) -> Option<usize> {
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
            findings.add(
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
            findings.add(
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

//! What a plan is made from: the inputs as the caller hands them over, and the read-only
//! [`Context`] every planning stage shares (inventory, cluster spec, rules, and the indexes over
//! the inventory's objects).

use std::collections::HashMap;

use plan_schema::Subject;

use crate::inventory::{Inventory, Metadata};
use crate::model::{Kind, MpObject};
use crate::rules::Rules;
use crate::userspec::{ClusterSpec, ResourceRef, UserSpec};

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

/// The read-only inputs of every planning stage. Stages take it by shared reference and return
/// what they produce; nothing here changes once planning starts.
pub(crate) struct Context<'a> {
    pub inv: &'a Inventory,
    pub rules: &'a Rules,
    pub cluster: String,
    /// The user spec's entry for this cluster.
    pub spec: Option<&'a ClusterSpec>,
    /// The whole user spec (other clusters' entries, for the TAS strategy check).
    user_spec: Option<&'a UserSpec>,
    /// Object indexes by Manager id (ids need not be unique across kinds).
    by_id: HashMap<&'a str, Vec<usize>>,
    /// IP pool built from each IP block subnet (NCP tags the pool with `ncp/subnet_id`).
    pub pool_of_subnet: HashMap<&'a str, usize>,
    /// Objects that name a logical router in `logical_router_id` (ports, routes, NAT rules).
    pub on_router: HashMap<&'a str, Vec<usize>>,
}

impl<'a> Context<'a> {
    pub fn new(
        inv: &'a Inventory,
        rules: &'a Rules,
        cluster: &str,
        spec: Option<&'a ClusterSpec>,
    ) -> Context<'a> {
        let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut pool_of_subnet: HashMap<&str, usize> = HashMap::new();
        let mut on_router: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, o) in inv.objects.iter().enumerate() {
            by_id.entry(o.id.as_str()).or_default().push(i);
            if o.kind == Kind::IpPool
                && let Some(subnet) = o.tag("ncp/subnet_id")
            {
                pool_of_subnet.entry(subnet).or_insert(i);
            }
            if let Some(r) = o.str_field("logical_router_id") {
                on_router.entry(r).or_default().push(i);
            }
        }
        Context {
            inv,
            rules,
            cluster: cluster.to_string(),
            spec,
            user_spec: None,
            by_id,
            pool_of_subnet,
            on_router,
        }
    }

    pub fn obj(&self, i: usize) -> &'a MpObject {
        &self.inv.objects[i]
    }

    pub fn is_cluster_owned(&self, o: &MpObject) -> bool {
        o.has_tag(&self.rules.ncp.cluster_tag_scope, &self.cluster)
    }

    /// The first object with Manager id `id` of one of `kinds` (any kind when empty).
    pub fn find(&self, id: &str, kinds: &[Kind]) -> Option<usize> {
        self.by_id
            .get(id)?
            .iter()
            .copied()
            .find(|&i| kinds.is_empty() || kinds.contains(&self.inv.objects[i].kind))
    }

    /// The IP pool a user spec entry names.
    pub fn find_pool(&self, r: &ResourceRef) -> Option<usize> {
        self.inv.objects.iter().position(|o| {
            o.kind == Kind::IpPool
                && match (&r.id, &r.display_name) {
                    (Some(id), _) => &o.id == id,
                    (None, Some(n)) => &o.display_name == n,
                    _ => false,
                }
        })
    }

    /// Attach the whole user spec.
    pub fn with_user_spec(mut self, spec: Option<&'a UserSpec>) -> Context<'a> {
        self.user_spec = spec;
        self
    }

    /// The user spec's entry for another cluster.
    pub fn spec_file_cluster(&self, cluster: &str) -> Option<&'a ClusterSpec> {
        self.user_spec?.clusters.get(cluster)
    }

    /// Whether the plan is for a TAS foundation: the snapshot has its Cloud Foundry side, or the
    /// user spec says `product: tas`.
    pub fn is_tas(&self) -> bool {
        self.inv.cf.is_some()
            || self.spec.and_then(|c| c.product) == Some(crate::userspec::Product::Tas)
    }

    /// The NSX Manager the inventory was collected from, as the plan names it.
    pub fn manager_name(&self) -> String {
        manager_name(self.inv.metadata.as_ref())
    }
}

/// The manager named in the inventory's metadata, or "unknown".
pub(crate) fn manager_name(meta: Option<&Metadata>) -> String {
    meta.map(|m| m.nsx_manager.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// A finding's subject for a Manager object.
pub(crate) fn subject(o: &MpObject) -> Subject {
    Subject {
        resource_type: o.resource_type.clone(),
        id: o.id.clone(),
        display_name: Some(o.display_name.clone()),
    }
}

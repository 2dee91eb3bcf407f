//! Policy ids: the id each imported object gets in Policy, and the rule that chose it.

use std::collections::HashMap;

use crate::context::Context;
use crate::findings::RulesUsed;
use crate::mapping::migration_type;
use crate::rules::PolicyIdRule;
use crate::scope::Scope;
use crate::userspec::Product;

/// The Policy id of each object in scope, by object index.
#[derive(Debug, Default)]
pub(crate) struct PolicyIds {
    ids: HashMap<usize, String>,
    /// The rule that chose the id, for objects that get a request of their own.
    rule: HashMap<usize, &'static str>,
}

impl PolicyIds {
    /// The Policy id this plan gives object `i`, if any.
    pub fn get(&self, i: usize) -> Option<&String> {
        self.ids.get(&i)
    }

    /// The Policy id this plan gives object `i`, or its Manager id when it gets none.
    pub fn of(&self, ctx: &Context<'_>, i: usize) -> String {
        self.ids
            .get(&i)
            .cloned()
            .unwrap_or_else(|| ctx.obj(i).id.clone())
    }

    /// The rule that chose object `i`'s Policy id.
    pub fn rule(&self, i: usize) -> Option<&'static str> {
        self.rule.get(&i).copied()
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

/// The product running the cluster: `product:` in the user spec, else TKGi when the cluster's
/// objects carry `pks/cluster` or its name starts with `pks-` (inferred; TAS is not inferred),
/// else unknown.
fn cluster_product(ctx: &Context<'_>, scope: &Scope) -> Option<Product> {
    if let Some(p) = ctx.spec.and_then(|c| c.product) {
        return Some(p);
    }
    let tkgi = ctx.cluster.starts_with("pks-")
        || scope
            .indexes()
            .any(|i| ctx.obj(i).tag("pks/cluster").is_some());
    tkgi.then_some(Product::Tkgi)
}

/// Give every object in scope its Policy id.
pub(crate) fn assign(ctx: &Context<'_>, scope: &Scope) -> (PolicyIds, RulesUsed) {
    let mut out = PolicyIds::default();
    let mut used = RulesUsed::default();
    let product = cluster_product(ctx, scope);
    let shared_rule = product
        .and_then(|p| ctx.rules.policy_ids.shared_by_product.get(&p).copied())
        .unwrap_or(ctx.rules.policy_ids.shared);
    for (i, shared) in scope.iter() {
        let o = ctx.obj(i);
        let (rule, pid) = if shared {
            match scope.user_policy_ids.get(&i).cloned().flatten() {
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
            used.use_rule(rule, description);
            out.rule.insert(i, rule);
        }
        out.ids.insert(i, pid);
    }
    (out, used)
}

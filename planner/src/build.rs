//! Building the plan: the pipeline of planning stages. Each stage reads the shared [`Context`]
//! (and what earlier stages returned) and returns what it produces; the assembly puts it all into
//! the sealed plan.
//!
//! scope → DFW analysis → Policy ids → requests → ordering (import steps) → prechecks → Policy
//! updates → assembly.

use plan_schema::mp::{Plan, Step};

use crate::assembly::{self, Parts};
use crate::context::{Context, PlanInputs, PlanOptions};
use crate::error::PlanError;
use crate::{checks, dfw, ordering, policy_ids, requests, scope, updates};

pub fn build_plan(inputs: &PlanInputs<'_>, opts: &PlanOptions) -> Result<Plan, PlanError> {
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
    let ctx = Context::new(inputs.inventory, inputs.rules, &opts.cluster, spec)
        .with_user_spec(inputs.user_spec.as_ref().map(|s| s.spec));

    // 1. Scope: shared resources of the user spec, then the cluster's own objects.
    let (scope, scope_findings) = scope::select(&ctx);
    // 2. DFW analysis decides which rules leave NCP sections before they are imported.
    let dfw_plan = dfw::analyse(&ctx, opts.dfw_admin_sections);
    // 3. Policy ids.
    let (ids, id_rules) = policy_ids::assign(&ctx, &scope);
    // 4. Requests.
    let requests = requests::build(&ctx, &scope, &ids, &dfw_plan);
    // 5. References -> dependencies, order and batches.
    let (import_steps, order_findings) = ordering::import_steps(&ctx, &requests.entries, &dfw_plan);
    // 6. Prechecks and Policy updates.
    let check_findings = checks::run(&ctx, &scope, &requests.entries);
    let updates = updates::plan_updates(&ctx, &requests.entries, &import_steps);

    // 7. Assemble, order, seal.
    let mut steps: Vec<Step> = dfw_plan.steps;
    steps.extend(import_steps);
    steps.extend(updates.steps);
    let parts = Parts {
        findings: vec![
            scope_findings,
            dfw_plan.range_findings,
            requests.findings,
            order_findings,
            check_findings,
            dfw_plan.move_findings,
            updates.findings,
        ],
        rules_used: vec![
            id_rules,
            requests.rules_used,
            dfw_plan.rules_used,
            updates.rules_used,
        ],
        steps,
    };
    assembly::assemble(inputs, opts, spec, parts)
}

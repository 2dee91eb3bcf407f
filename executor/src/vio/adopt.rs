//! No journal of the plan here (a new state directory, or the machine that ran it is gone): the
//! replay steps whose end state the replay target already shows are adopted as done, with the
//! records their rollback needs, so the run sends nothing for them. Reads only (one list per
//! collection on each Neutron; the Octavia steps' objects one by one at the plan's Octavia
//! endpoint, `octavia::adopt_step`); the core journals what this returns, Neutron's records
//! first so a rollback removes the load balancers before what they sit on.

use std::collections::HashSet;

use plan_schema::journal::JournalEvent;
use plan_schema::vio::{Action, Phase, Plan, ReplayResource};
use serde_json::Value;

use super::neutron::{self, Source, TARGET};
use super::octavia;
use super::replay::{self, NEW_ID_OP};
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::progress::STEP_OP;

fn recorded(step: &str, res: ReplayResource, ids: Vec<String>) -> JournalEvent {
    JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: res.as_str().to_string(),
        object_ids: ids,
    }
}

pub async fn steps(ctx: &Ctx, plan: &Plan) -> Result<Vec<JournalEvent>, ExecError> {
    let os = replay::client(ctx)?;
    let resources: HashSet<ReplayResource> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ApiReplay(r) if neutron::coll(r.resource).is_some() => Some(r.resource),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    let lbs = octavia::Source::load(os, &plan.steps).await?;
    let ep = &plan.requirements.octavia;
    for step in plan.steps.iter().filter(|s| s.phase == Phase::Replay) {
        let Action::ApiReplay(r) = &step.action else {
            continue;
        };
        if !octavia::is_octavia(r.resource) {
            continue;
        }
        if let Some(events) = octavia::adopt_step(os, &lbs, ep, step, r).await? {
            out.extend(events);
            out.push(JournalEvent::StepDone {
                step: step.id.clone(),
                op: STEP_OP.to_string(),
                detail: Some("adopted: the Octavia endpoint already holds it".into()),
            });
        }
    }
    if resources.is_empty() {
        return Ok(out);
    }
    let target = Source::load_from(os, TARGET, resources.iter().copied()).await?;
    let src = Source::load(os, resources.iter().copied()).await?;
    let mut neutron_out = Vec::new();
    for step in plan.steps.iter().filter(|s| s.phase == Phase::Replay) {
        let Action::ApiReplay(r) = &step.action else {
            continue;
        };
        if neutron::coll(r.resource).is_none() {
            continue;
        }
        let res = r.resource;
        let lookup_res = if res == ReplayResource::DlrTransitNetwork {
            ReplayResource::Network
        } else {
            res
        };
        let router = r.call.split('/').nth(3).unwrap_or("");
        let mut events = Vec::new();
        let mut all = true;
        for o in &r.objects {
            let s = src.get(res, &o.id);
            let live = target.get(lookup_res, &o.id);
            let done = match res {
                ReplayResource::Floatingip
                | ReplayResource::Subnetpool
                | ReplayResource::RbacPolicy => {
                    let found = s.and_then(|s| {
                        let coll = neutron::coll(res)?;
                        target
                            .by_key
                            .get(coll.key)?
                            .values()
                            .find(|l| neutron::same_object(res, s, l))
                    });
                    match found.and_then(|l| l["id"].as_str()) {
                        Some(new) => {
                            events.push(recorded(&step.id, res, vec![new.to_string()]));
                            events.push(JournalEvent::StepDone {
                                step: step.id.clone(),
                                op: format!("{NEW_ID_OP}{}", o.id),
                                detail: Some(new.to_string()),
                            });
                            true
                        }
                        None => false,
                    }
                }
                ReplayResource::QosPolicy => {
                    let rules = |v: Option<&Value>| {
                        v.and_then(|v| v["rules"].as_array()).map_or(0, Vec::len)
                    };
                    let ok = live.is_some() && rules(live) >= rules(s);
                    if ok {
                        events.push(recorded(&step.id, res, vec![o.id.clone()]));
                    }
                    ok
                }
                ReplayResource::RouterGateway => {
                    let ok = match (s, live) {
                        (Some(s), Some(l)) => {
                            !l["external_gateway_info"].is_null()
                                && l["external_gateway_info"]["network_id"]
                                    == s["external_gateway_info"]["network_id"]
                        }
                        _ => false,
                    };
                    if ok {
                        events.push(recorded(&step.id, res, vec![o.id.clone()]));
                    }
                    ok
                }
                ReplayResource::RouterInterface => {
                    let ok = live.is_some_and(|l| l["device_id"] == router);
                    if ok {
                        events.push(recorded(&step.id, res, vec![format!("{router}/{}", o.id)]));
                    }
                    ok
                }
                ReplayResource::SubnetDhcp => live.is_some_and(|l| l["enable_dhcp"] == true),
                ReplayResource::RouterRoutes => match (s, live) {
                    (Some(s), Some(l)) => {
                        s["routes"].as_array().map_or(0, Vec::len)
                            == l["routes"].as_array().map_or(0, Vec::len)
                    }
                    _ => false,
                },
                ReplayResource::Quota => {
                    let ok = match (s, live) {
                        (Some(s), Some(l)) => s
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(_, v)| v.is_i64())
                            .all(|(k, v)| l.get(k) == Some(v)),
                        _ => false,
                    };
                    if ok {
                        events.push(recorded(&step.id, res, vec![o.id.clone()]));
                    }
                    ok
                }
                _ => {
                    let ok = live.is_some();
                    if ok {
                        events.push(recorded(&step.id, res, vec![o.id.clone()]));
                    }
                    ok
                }
            };
            if !done {
                all = false;
                break;
            }
        }
        if all {
            neutron_out.extend(events);
            neutron_out.push(JournalEvent::StepDone {
                step: step.id.clone(),
                op: STEP_OP.to_string(),
                detail: Some("adopted: the replay target already holds it".into()),
            });
        }
    }
    // Neutron's records first: a rollback undoes records newest first, and the load balancers
    // sit on the Neutron objects.
    neutron_out.extend(out);
    Ok(neutron_out)
}

//! The API replay phase: each step's Neutron call against the replay target, write-ahead
//! journaled, resumed from what the target shows, and undone newest first.
//!
//! Journal protocol of a replay step (the core's records):
//! - `step_intent` `submit` naming the source ids it asks to create, then the request;
//! - `migration_recorded` with the ids the target now holds (a renewed id, e.g. a floating IP's,
//!   as the target answered it) and, for a renewed id, `step_done` `new-id/<source id>` with the
//!   new id as detail: both before any later step can use it;
//! - `step_done` `step` when every object of the step is on the target.
//!
//! A step the journal touched but did not finish is settled by reading the target first: by id
//! for kept ids, by a lookup on fields the source fixes for renewed ids (a floating IP by its
//! address and port), so nothing is created twice. A 409 is settled the same way.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use client::{ClientError, Method, OpenStackClient};
use plan_schema::journal::{JournalEvent, RecordedRequest};
use plan_schema::vio::{ApiReplay, ReplayObject, ReplayResource, Step};
use serde_json::{Value, json};

use super::neutron::{self, Coll, Source, TARGET};
use crate::ctx::Ctx;
use crate::current;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::progress::{Progress, SUBMIT_OP};

/// Op prefix of the record that maps a renewed-id object's source id to its target id.
pub const NEW_ID_OP: &str = "new-id/";

/// The seed's code for a failed API replay (004, error 2112).
pub const REPLAY_FAILED: u32 = 2112;

pub(crate) fn no_cloud() -> ExecError {
    ExecError::Preflight(
        "a vio-v2t plan needs the OpenStack cloud: give --os-cloud NAME (clouds.yaml) or set OS_CLOUD / the OS_* variables".into(),
    )
}

pub(crate) fn client(ctx: &Ctx) -> Result<&OpenStackClient, ExecError> {
    ctx.openstack.as_ref().ok_or_else(no_cloud)
}

/// Source id -> target id of every renewed-id object the journal recorded.
pub fn renewed_ids(p: &Progress) -> HashMap<String, String> {
    p.op_done
        .iter()
        .filter_map(|((_, op), detail)| {
            let src = op.strip_prefix(NEW_ID_OP)?;
            Some((src.to_string(), detail.clone()?))
        })
        .collect()
}

fn parse_call(step: &str, call: &str) -> Result<(Method, String), ExecError> {
    let (m, path) = call
        .split_once(' ')
        .ok_or_else(|| ExecError::step(step, format!("call `{call}` has no method")))?;
    let method = match m {
        "POST" => Method::POST,
        "PUT" => Method::PUT,
        other => {
            return Err(ExecError::step(
                step,
                format!("call method {other} is not replayed"),
            ));
        }
    };
    Ok((method, path.to_string()))
}

/// The HTTP status of a failed call, when the service answered.
pub(crate) fn status_of(e: &ExecError) -> Option<u16> {
    match e {
        ExecError::Nsx(c) => c.api().map(|a| a.http_status),
        _ => None,
    }
}

fn client_status(e: &ClientError) -> Option<u16> {
    e.api().map(|a| a.http_status)
}

/// One journaled change to the replay target; `after` names what the answer made, journaled
/// with the outcome (one sync).
#[allow(clippy::too_many_arguments)]
async fn send(
    ctx: &Ctx,
    os: &OpenStackClient,
    step: &str,
    op: &str,
    method: Method,
    path: &str,
    body: Value,
    objects: Option<(String, Vec<String>)>,
    after: impl FnOnce(&Value) -> Vec<JournalEvent>,
) -> Result<Value, ExecError> {
    let request = RecordedRequest {
        endpoint: Some(TARGET.to_string()),
        method: method.as_str().to_string(),
        path: path.to_string(),
        body: Some(body.clone()),
    };
    let describe = format!("{method} [{TARGET}]{path} {body}");
    let fut = async { os.send(TARGET, method.clone(), path, Some(&body)).await };
    ctx.write_with_after(step, op, request, describe, objects, fut, after)
        .await
}

fn recorded(step: &str, res: &str, ids: Vec<String>) -> Vec<JournalEvent> {
    if ids.is_empty() {
        return Vec::new();
    }
    vec![JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: res.to_string(),
        object_ids: ids,
    }]
}

/// The step's end record, when `last` (the call is the step's last change).
fn done_if(step: &str, last: bool) -> Option<JournalEvent> {
    last.then(|| JournalEvent::StepDone {
        step: step.to_string(),
        op: crate::progress::STEP_OP.to_string(),
        detail: None,
    })
}

async fn target_get(os: &OpenStackClient, path: &str) -> Result<Option<Value>, ExecError> {
    match os.get(TARGET, path).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if client_status(&e) == Some(404) => Ok(None),
        Err(e) => Err(ExecError::Nsx(e)),
    }
}

fn record(ctx: &Ctx, step: &str, res: &str, ids: Vec<String>) -> Result<(), ExecError> {
    if ids.is_empty() || ctx.dry_run() {
        return Ok(());
    }
    ctx.record(JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: res.to_string(),
        object_ids: ids,
    })
}

fn record_new(
    ctx: &Ctx,
    step: &str,
    res: ReplayResource,
    src_id: &str,
    new: &str,
    renewed: &mut HashMap<String, String>,
) -> Result<(), ExecError> {
    record(ctx, step, res.as_str(), vec![new.to_string()])?;
    if !ctx.dry_run() {
        ctx.record(JournalEvent::StepDone {
            step: step.to_string(),
            op: format!("{NEW_ID_OP}{src_id}"),
            detail: Some(new.to_string()),
        })?;
    }
    renewed.insert(src_id.to_string(), new.to_string());
    Ok(())
}

fn stale(step: &str, res: ReplayResource, id: &str) -> ExecError {
    ExecError::step(
        step,
        format!(
            "{} {id} is no longer in the source Neutron; the plan is stale: re-plan",
            res.as_str()
        ),
    )
}

/// Run one replay step to its end (every object on the target, journaled).
pub async fn run_step(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &Step,
    r: &ApiReplay,
    renewed: &mut HashMap<String, String>,
) -> Result<(), ExecError> {
    let res = r.resource;
    let c =
        neutron::coll(res).ok_or_else(|| ExecError::step(&step.id, "not a Neutron resource"))?;
    let (method, path) = parse_call(&step.id, &r.call)?;
    let touched = ctx.progress.touched.contains(&step.id);
    // Whether the step's end was journaled with its last change's outcome.
    let ended = if !neutron::creates(res) {
        change_step(ctx, os, src, step, r, &path).await?
    } else if neutron::new_id(res) {
        let mut ended = false;
        for (i, o) in r.objects.iter().enumerate() {
            let last = i + 1 == r.objects.len();
            ended = create_renewed(ctx, os, src, step, res, c, &path, o, last, renewed).await?;
        }
        ended
    } else {
        create_kept(ctx, os, src, step, r, c, method, &path, touched, renewed).await?
    };
    if !ctx.dry_run() && !ended {
        ctx.step_done(&step.id, None)?;
    }
    Ok(())
}

/// Kept-id creates: the ids not on the target yet, in one bulk call where the target takes one.
#[allow(clippy::too_many_arguments)]
async fn create_kept(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &Step,
    r: &ApiReplay,
    c: Coll,
    method: Method,
    path: &str,
    touched: bool,
    renewed: &HashMap<String, String>,
) -> Result<bool, ExecError> {
    let res = r.resource;
    // What the journal held when this run started: a step runs once per run, so nothing of
    // it was recorded since (re-reading the whole journal per step made the replay O(n^2)).
    let recorded: HashSet<String> = ctx
        .progress
        .record_of(&step.id)
        .map(|m| m.object_ids.iter().cloned().collect())
        .unwrap_or_default();
    let mut missing: Vec<&ReplayObject> = r
        .objects
        .iter()
        .filter(|o| !recorded.contains(&o.id))
        .collect();
    if touched && !missing.is_empty() {
        missing = settle_kept(ctx, os, &step.id, res, c, missing).await?;
    }
    // A QoS policy's rules follow it: its creation is not the step's last change.
    let qos = res == ReplayResource::QosPolicy;
    let mut ended = false;
    if !missing.is_empty() {
        ended = send_kept(
            ctx, os, src, step, r, c, method, path, missing, !qos, renewed,
        )
        .await?;
    }
    // A policy's rules follow it; the target's rules are read first, so a policy an earlier
    // run made (and maybe some of its rules) is completed, not duplicated.
    if qos {
        for o in &r.objects {
            qos_rules(ctx, os, src, &step.id, &o.id).await?;
        }
    }
    Ok(ended)
}

#[allow(clippy::too_many_arguments)]
async fn send_kept(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &Step,
    r: &ApiReplay,
    c: Coll,
    method: Method,
    path: &str,
    missing: Vec<&ReplayObject>,
    last: bool,
    renewed: &HashMap<String, String>,
) -> Result<bool, ExecError> {
    let res = r.resource;
    let mut bodies = Vec::with_capacity(missing.len());
    for o in &missing {
        bodies.push(body_of(&step.id, res, src, o, &r.project_id, renewed)?);
    }
    let ids: Vec<String> = missing.iter().map(|o| o.id.clone()).collect();
    let objects = Some((res.as_str().to_string(), ids.clone()));
    if neutron::bulk(res) && missing.len() > 1 {
        let body = json!({ c.key: bodies });
        let (sid, rs) = (step.id.as_str(), res.as_str());
        let after = |_: &Value| {
            let mut ev = recorded(sid, rs, ids);
            ev.extend(done_if(sid, last));
            ev
        };
        match send(ctx, os, sid, SUBMIT_OP, method, path, body, objects, after).await {
            Ok(_) => return Ok(last),
            Err(e) if status_of(&e) == Some(409) => {
                // Someone (an earlier run whose journal is lost) made some of them: the bulk
                // was refused whole; settle and send the rest one by one.
                let rest = settle_kept(ctx, os, &step.id, res, c, missing).await?;
                for o in rest {
                    let b = body_of(&step.id, res, src, o, &r.project_id, renewed)?;
                    one_kept(ctx, os, &step.id, res, c, path, o, b, false).await?;
                }
            }
            Err(e) => return Err(e),
        }
        Ok(false)
    } else {
        let n = missing.len();
        let mut ended = false;
        for (i, (o, b)) in missing.iter().zip(bodies).enumerate() {
            ended = one_kept(ctx, os, &step.id, res, c, path, o, b, last && i + 1 == n).await?;
        }
        Ok(ended)
    }
}

#[allow(clippy::too_many_arguments)]
async fn one_kept(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    step: &str,
    res: ReplayResource,
    c: Coll,
    path: &str,
    o: &ReplayObject,
    body: Value,
    last: bool,
) -> Result<bool, ExecError> {
    let objects = Some((res.as_str().to_string(), vec![o.id.clone()]));
    let body = json!({ c.single: body });
    let after = |_: &Value| {
        let mut ev = recorded(step, res.as_str(), vec![o.id.clone()]);
        ev.extend(done_if(step, last));
        ev
    };
    match send(
        ctx,
        os,
        step,
        SUBMIT_OP,
        Method::POST,
        path,
        body,
        objects,
        after,
    )
    .await
    {
        Ok(_) => Ok(last),
        Err(e) if status_of(&e) == Some(409) => {
            if settle_kept(ctx, os, step, res, c, vec![o])
                .await?
                .is_empty()
            {
                Ok(false)
            } else {
                Err(e)
            }
        }
        Err(e) => Err(e),
    }
}

/// Which of `objs` are on the target (journaled as made by this step); returns the others.
async fn settle_kept<'a>(
    ctx: &Ctx,
    os: &OpenStackClient,
    step: &str,
    res: ReplayResource,
    c: Coll,
    objs: Vec<&'a ReplayObject>,
) -> Result<Vec<&'a ReplayObject>, ExecError> {
    let mut found = Vec::new();
    let mut rest = Vec::new();
    for o in objs {
        match target_get(os, &format!("/v2.0/{}/{}", c.path, o.id)).await? {
            Some(_) => found.push(o.id.clone()),
            None => rest.push(o),
        }
    }
    if !found.is_empty() {
        ctx.log.info(format!(
            "{step}: {} {} already on the target (an earlier run made them): recorded, not sent again",
            found.len(),
            res.as_str()
        ));
    }
    record(ctx, step, res.as_str(), found)?;
    Ok(rest)
}

fn body_of(
    step: &str,
    res: ReplayResource,
    src: &Source,
    o: &ReplayObject,
    project: &str,
    renewed: &HashMap<String, String>,
) -> Result<Value, ExecError> {
    if res == ReplayResource::DlrTransitNetwork {
        // The DLR-to-PLR transit network: id = the router's, named as the migrator names it.
        return Ok(json!({
            "id": o.id,
            "name": format!("Internal network for router {} migration", o.id),
            "project_id": project,
        }));
    }
    let s = src.get(res, &o.id).ok_or_else(|| stale(step, res, &o.id))?;
    neutron::create_body(res, s, renewed).map_err(|m| ExecError::step(step, m))
}

/// A QoS policy's rules, after the policy (skipped when the target already has them).
async fn qos_rules(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &str,
    id: &str,
) -> Result<(), ExecError> {
    let Some(s) = src.get(ReplayResource::QosPolicy, id) else {
        return Ok(());
    };
    for (i, (sub, body)) in neutron::qos_rules(s).into_iter().enumerate() {
        let path = format!("/v2.0/qos/policies/{id}/{sub}");
        if !ctx.dry_run()
            && let Some(live) = target_get(os, &path).await?
            && live[&sub].as_array().is_some_and(|a| !a.is_empty())
        {
            continue;
        }
        send(
            ctx,
            os,
            step,
            &format!("qos-rule/{id}/{i}"),
            Method::POST,
            &path,
            body,
            None,
            |_| Vec::new(),
        )
        .await?;
    }
    Ok(())
}

/// Renewed-id creates, one call each: found on the target by the source's fixed fields when
/// an earlier run may have made it, else created and its new id journaled at once.
#[allow(clippy::too_many_arguments)]
async fn create_renewed(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &Step,
    res: ReplayResource,
    c: Coll,
    path: &str,
    o: &ReplayObject,
    last: bool,
    renewed: &mut HashMap<String, String>,
) -> Result<bool, ExecError> {
    if renewed.contains_key(&o.id) {
        return Ok(false);
    }
    let s = src
        .get(res, &o.id)
        .ok_or_else(|| stale(&step.id, res, &o.id))?;
    // Always looked up first (one read): the target gives these new ids, so a 409 cannot
    // reveal an earlier run's object, and a floating IP must never be made twice.
    if let Some(new) = lookup(os, res, c, s).await? {
        ctx.log.info(format!(
            "{}: {} {} is already on the target as {new}: recorded, not created again",
            step.id,
            res.as_str(),
            o.id
        ));
        record_new(ctx, &step.id, res, &o.id, &new, renewed)?;
        return Ok(false);
    }
    let body = neutron::create_body(res, s, renewed).map_err(|m| ExecError::step(&step.id, m))?;
    let objects = Some((res.as_str().to_string(), vec![o.id.clone()]));
    // The new id is journaled with the outcome (one sync), before any later step can use it;
    // an answer without one is journaled as sent and then refused below.
    let sid = step.id.as_str();
    let after = |v: &Value| match v[c.single]["id"].as_str() {
        Some(new) => {
            let mut ev = recorded(sid, res.as_str(), vec![new.to_string()]);
            ev.push(JournalEvent::StepDone {
                step: sid.to_string(),
                op: format!("{NEW_ID_OP}{}", o.id),
                detail: Some(new.to_string()),
            });
            ev.extend(done_if(sid, last));
            ev
        }
        None => Vec::new(),
    };
    let answer = send(
        ctx,
        os,
        &step.id,
        SUBMIT_OP,
        Method::POST,
        path,
        json!({ c.single: body }),
        objects,
        after,
    )
    .await;
    match answer {
        Ok(_) if ctx.dry_run() => {
            // Nothing was sent: later bodies name the id the target would give.
            renewed.insert(
                o.id.clone(),
                format!("(new id of {} {})", res.as_str(), o.id),
            );
            Ok(false)
        }
        Ok(v) => {
            let new = v[c.single]["id"].as_str().ok_or_else(|| {
                ExecError::step(
                    &step.id,
                    format!(
                        "the target's answer names no id for {} {}",
                        res.as_str(),
                        o.id
                    ),
                )
            })?;
            renewed.insert(o.id.clone(), new.to_string());
            Ok(last)
        }
        Err(e) if status_of(&e) == Some(409) => match lookup(os, res, c, s).await? {
            Some(new) => record_new(ctx, &step.id, res, &o.id, &new, renewed).map(|_| false),
            None if res == ReplayResource::RbacPolicy => {
                // Neutron made it itself (shared and external networks): the migrator skips
                // these conflicts too.
                ctx.log.info(format!(
                    "{}: rbac policy {} already exists on the target (made by Neutron): skipped",
                    step.id, o.id
                ));
                Ok(false)
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

async fn lookup(
    os: &OpenStackClient,
    res: ReplayResource,
    c: Coll,
    s: &Value,
) -> Result<Option<String>, ExecError> {
    let Some(q) = neutron::lookup_query(res, s) else {
        return Ok(None);
    };
    let live = os
        .list_all(TARGET, &format!("/v2.0/{}?{q}", c.path), c.key)
        .await?;
    Ok(live
        .iter()
        .find(|l| neutron::same_object(res, s, l))
        .and_then(|l| l["id"].as_str())
        .map(str::to_string))
}

/// Changes of existing objects (quota, gateway, interface, DHCP on, routes): one PUT per
/// object; what a rollback must undo is journaled.
#[allow(clippy::too_many_arguments)]
async fn change_step(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    step: &Step,
    r: &ApiReplay,
    path: &str,
) -> Result<bool, ExecError> {
    let res = r.resource;
    let router = path.split('/').nth(3).unwrap_or("").to_string();
    let mut ended = false;
    for (i, o) in r.objects.iter().enumerate() {
        let last = i + 1 == r.objects.len();
        let s = src
            .get(res, &o.id)
            .ok_or_else(|| stale(&step.id, res, &o.id))?;
        let undo_id = match res {
            ReplayResource::RouterInterface => Some(format!("{router}/{}", o.id)),
            ReplayResource::RouterGateway | ReplayResource::Quota => Some(o.id.clone()),
            _ => None,
        };
        // Always read first: an interface added twice is an error, not a no-op.
        if res == ReplayResource::RouterInterface
            && !ctx.dry_run()
            && let Some(p) = target_get(os, &format!("/v2.0/ports/{}", o.id)).await?
            && p["port"]["device_id"] == router.as_str()
        {
            record(ctx, &step.id, res.as_str(), undo_id.into_iter().collect())?;
            ended = false;
            continue;
        }
        let body = neutron::change_body(res, s, &o.id).map_err(|m| ExecError::step(&step.id, m))?;
        let sid = step.id.as_str();
        let after = |_: &Value| {
            let mut ev = recorded(sid, res.as_str(), undo_id.into_iter().collect());
            ev.extend(done_if(sid, last));
            ev
        };
        send(
            ctx,
            os,
            &step.id,
            SUBMIT_OP,
            Method::PUT,
            path,
            body,
            Some((res.as_str().to_string(), vec![o.id.clone()])),
            after,
        )
        .await?;
        ended = last;
    }
    Ok(ended)
}

/// The request that undoes one journaled object, or `None` when nothing is to undo.
fn undo(object_type: &str, id: &str) -> Option<(Method, String, Option<Value>)> {
    let del = |p: &str| Some((Method::DELETE, format!("/v2.0/{p}/{id}"), None));
    match object_type {
        "router_interface" => {
            let (router, port) = id.split_once('/')?;
            Some((
                Method::PUT,
                format!("/v2.0/routers/{router}/remove_router_interface"),
                Some(json!({"port_id": port})),
            ))
        }
        "router_gateway" => Some((
            Method::PUT,
            format!("/v2.0/routers/{id}"),
            Some(json!({"router": {"external_gateway_info": {}}})),
        )),
        "quota" => del("quotas"),
        "network" | "dlr_transit_network" => del("networks"),
        "subnet" => del("subnets"),
        "port" => del("ports"),
        "router" => del("routers"),
        "security_group" => del("security-groups"),
        "security_group_rule" => del("security-group-rules"),
        "qos_policy" => del("qos/policies"),
        "floatingip" => del("floatingips"),
        "subnetpool" => del("subnetpools"),
        "rbac_policy" => del("rbac-policies"),
        "firewall_rule" => del("fwaas/firewall_rules"),
        "firewall_policy" => del("fwaas/firewall_policies"),
        "firewall_group" => del("fwaas/firewall_groups"),
        _ => None,
    }
}

/// Remove what the journal says this plan's replay made, newest record first; each record's
/// intent and end journaled, so an interrupted rollback continues where it stopped. Returns how
/// many records were undone.
pub async fn undo_records(ctx: &Ctx) -> Result<usize, ExecError> {
    let os = client(ctx)?;
    let progress = current(ctx);
    let records = &progress.records;
    let mut n = 0;
    for rec in records.iter().rev() {
        let octavia = super::octavia::endpoint_of(&progress, &rec.step);
        ctx.record(JournalEvent::RollbackIntent {
            step: rec.step.clone(),
            object_type: rec.object_type.clone(),
            object_ids: rec.object_ids.clone(),
        })?;
        for id in rec.object_ids.iter().rev() {
            let (service, (method, path, body)) =
                match super::octavia::undo(&octavia, &rec.object_type, id) {
                    Some(path) => (octavia.service.as_str(), (Method::DELETE, path, None)),
                    None => match undo(&rec.object_type, id) {
                        Some(u) => (TARGET, u),
                        None => continue,
                    },
                };
            if ctx
                .lock_lost
                .as_ref()
                .is_some_and(|l| l.load(std::sync::atomic::Ordering::SeqCst))
            {
                return Err(ExecError::ManagerLockLost);
            }
            ctx.writes_sent
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match os.send(service, method.clone(), &path, body.as_ref()).await {
                Ok(_) => {}
                // Gone already (an interface removed with its port, an earlier rollback).
                Err(e) if client_status(&e) == Some(404) => {}
                // A gateway or interface already cleared.
                Err(e)
                    if method == Method::PUT
                        && rec.object_type == "router_interface"
                        && client_status(&e) == Some(400) => {}
                Err(e) => {
                    return Err(ExecError::step(
                        &rec.step,
                        format!("undoing {} {id}: {e}", rec.object_type),
                    ));
                }
            }
        }
        ctx.record(JournalEvent::RollbackDone {
            step: rec.step.clone(),
            object_type: rec.object_type.clone(),
        })?;
        n += 1;
    }
    Ok(n)
}

/// The rollback of `apply` (after a replay failure, or continuing an interrupted one) and of
/// the `rollback` command.
pub async fn rollback(ctx: &Ctx, why: Option<&str>) -> (ExitCode, String) {
    if let Some(w) = why {
        ctx.log.warn(format!(
            "{w}: removing what this plan's replay made, newest first"
        ));
    }
    match undo_records(ctx).await {
        Ok(n) => match why {
            Some(w) => (
                ExitCode::RolledBack,
                format!(
                    "{w}; rolled back: {n} journaled replay record(s) removed from the target, newest first; nothing of this plan is left on NSX and VIO still runs on NSX-V. Fix the cause and re-run `apply`"
                ),
            ),
            None => (
                ExitCode::Success,
                format!(
                    "rolled back {n} replay record(s); nothing plan {} replayed is left on the target",
                    ctx.plan_id
                ),
            ),
        },
        Err(e) => {
            let _ = ctx.step_failed("replay", "rollback", &e);
            (
                ExitCode::Mixed,
                format!(
                    "{}rollback FAILED: {e}. Part of the replay is still on the target; re-run `rollback` (or `apply`) to continue it",
                    why.map(|w| format!("{w}; ")).unwrap_or_default()
                ),
            )
        }
    }
}

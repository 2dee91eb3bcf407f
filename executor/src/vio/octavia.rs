//! The Octavia part of the API replay: load balancers, listeners, pools, members, health
//! monitors and L7 policies (with their rules), each created with its source id through
//! Octavia's REST bodies at the plan's `[requirements.octavia]` endpoint (by default the replay
//! target's `v2/lbaas/`; the vendor's migrator hands them to the NSX Octavia driver over RPC
//! instead, docs/rules.md `vio_octavia_endpoint`).
//!
//! Octavia keeps the ids the replay sends, so every object is recorded under its source id
//! (a member as `<pool>/<member>`, an L7 rule as `<policy>/rules/<rule>` in its policy's
//! record: what its undo needs). One journaled call per object (Octavia takes no bulk
//! creates): the intent before the request, the object recorded with the outcome. A step the
//! journal touched is read first, object by object, and a 409 is settled by reading, so a
//! re-run never creates an object twice. The replay loop runs one Octavia step per load balancer at
//! a time (its calls one after the other; `Source::step_lb`), and when an answer shows the object busy (`PENDING_*`), the next
//! call waits for its load balancer to be `ACTIVE` again (bounded polling with a growing pause,
//! the run's poll settings): Octavia refuses a change to a load balancer that is not.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use client::{Method, OpenStackClient};
use plan_schema::journal::{JournalEvent, RecordedRequest};
use plan_schema::vio::{ApiReplay, OctaviaEndpoint, ReplayResource, Step};
use serde_json::{Map, Value, json};

use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::progress::SUBMIT_OP;

/// Catalog type of the source Octavia.
pub const SOURCE: &str = "load-balancer";

/// Op prefix of an L7 rule's call within its policy's step.
const RULE_OP: &str = "l7rule/";

/// Op of the record naming the endpoint a step's objects went to (detail: the endpoint as
/// JSON), journaled before its first call, so `rollback` (which has only the journal) deletes
/// them where they are.
pub const ENDPOINT_OP: &str = "octavia-endpoint";

/// The endpoint a step's objects went to, from the journal (the default when not recorded).
pub fn endpoint_of(p: &crate::progress::Progress, step: &str) -> OctaviaEndpoint {
    p.op_done
        .get(&(step.to_string(), ENDPOINT_OP.to_string()))
        .and_then(|d| d.as_deref())
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_default()
}

/// Whether `res` is one of the Octavia resources.
pub fn is_octavia(res: ReplayResource) -> bool {
    use ReplayResource::*;
    matches!(
        res,
        Loadbalancer | Listener | Pool | Member | Healthmonitor | L7policy
    )
}

/// Octavia's collection path (under `/v2/lbaas/`) and single-object key of a resource.
fn coll(res: ReplayResource) -> (&'static str, &'static str) {
    use ReplayResource::*;
    match res {
        Loadbalancer => ("loadbalancers", "loadbalancer"),
        Listener => ("listeners", "listener"),
        Pool => ("pools", "pool"),
        Member => ("members", "member"),
        Healthmonitor => ("healthmonitors", "healthmonitor"),
        _ => ("l7policies", "l7policy"),
    }
}

/// The pool of a member step, from its call (`POST /v2/lbaas/pools/<pool>/members`).
fn pool_of_call(call: &str) -> Option<&str> {
    let rest = call.split_once(' ')?.1.strip_prefix("/v2/lbaas/pools/")?;
    rest.strip_suffix("/members")
}

/// The source Octavia objects the plan replays, by id; members by pool, rules by policy.
#[derive(Debug, Default)]
pub struct Source {
    by_res: HashMap<&'static str, HashMap<String, Value>>,
    members: HashMap<String, Vec<Value>>,
    rules: HashMap<String, Vec<Value>>,
}

impl Source {
    /// Read what `steps` replay from the source Octavia: one paged list per top-level
    /// collection, the members of each replayed pool and the rules of each replayed policy.
    /// Nothing is read when no step is an Octavia call.
    pub async fn load(os: &OpenStackClient, steps: &[Step]) -> Result<Source, ExecError> {
        let mut src = Source::default();
        let replays: Vec<&ApiReplay> = steps
            .iter()
            .filter_map(|s| match &s.action {
                plan_schema::vio::Action::ApiReplay(r) if is_octavia(r.resource) => Some(r),
                _ => None,
            })
            .collect();
        if replays.is_empty() {
            return Ok(src);
        }
        let read = |e: client::ClientError, what: &str| {
            ExecError::step("replay", format!("{SOURCE}: reading {what}: {e}"))
        };
        use ReplayResource::*;
        for res in [Loadbalancer, Listener, Pool, Healthmonitor, L7policy] {
            let (path, _) = coll(res);
            let items = os
                .list_all(SOURCE, &format!("/v2/lbaas/{path}"), path)
                .await
                .map_err(|e| read(e, path))?;
            src.by_res.insert(path, by_id(items));
        }
        let pools: HashSet<&str> = replays
            .iter()
            .filter(|r| r.resource == Member)
            .filter_map(|r| pool_of_call(&r.call))
            .collect();
        for pool in pools {
            let items = os
                .list_all(
                    SOURCE,
                    &format!("/v2/lbaas/pools/{pool}/members"),
                    "members",
                )
                .await
                .map_err(|e| read(e, &format!("the members of pool {pool}")))?;
            src.members.insert(pool.to_string(), items);
        }
        let policies: HashSet<&str> = replays
            .iter()
            .filter(|r| r.resource == L7policy)
            .flat_map(|r| r.objects.iter().map(|o| o.id.as_str()))
            .collect();
        for p in policies {
            if !src.by_res["l7policies"].contains_key(p) {
                continue;
            }
            let items = os
                .list_all(SOURCE, &format!("/v2/lbaas/l7policies/{p}/rules"), "rules")
                .await
                .map_err(|e| read(e, &format!("the rules of L7 policy {p}")))?;
            src.rules.insert(p.to_string(), items);
        }
        Ok(src)
    }

    fn get(&self, res: ReplayResource, id: &str, pool: Option<&str>) -> Option<&Value> {
        if res == ReplayResource::Member {
            return self.members.get(pool?)?.iter().find(|m| m["id"] == id);
        }
        self.by_res.get(coll(res).0)?.get(id)
    }

    /// The one load balancer every object of `step` belongs to; `None` when the source does not
    /// say or the objects belong to several (then the step runs alone).
    pub fn step_lb(&self, r: &ApiReplay) -> Option<String> {
        let pool = pool_of_call(&r.call);
        let mut lbs = r.objects.iter().map(|o| {
            let v = self.get(r.resource, &o.id, pool)?;
            self.lb_of(r.resource, v, pool)
        });
        let first = lbs.next()??;
        lbs.all(|l| l.as_deref() == Some(first.as_str()))
            .then_some(first)
    }

    /// The load balancer an object belongs to (the one a busy answer makes us wait for).
    fn lb_of(&self, res: ReplayResource, s: &Value, pool: Option<&str>) -> Option<String> {
        use ReplayResource::*;
        let first_lb = |v: &Value| v["loadbalancers"][0]["id"].as_str().map(str::to_string);
        let pool_lb = |p: &str| self.by_res.get("pools")?.get(p).and_then(first_lb);
        match res {
            Loadbalancer => s["id"].as_str().map(str::to_string),
            Listener | Pool => first_lb(s),
            Member => pool_lb(pool?),
            Healthmonitor => pool_lb(s["pools"][0]["id"].as_str()?),
            _ => {
                let l = s["listener_id"].as_str()?;
                self.by_res.get("listeners")?.get(l).and_then(first_lb)
            }
        }
    }

    /// The listener whose default pool `pool` is, if any.
    fn listener_of_pool(&self, pool: &str) -> Option<&str> {
        let mut ls: Vec<&Value> = self
            .by_res
            .get("listeners")?
            .values()
            .filter(|l| l["default_pool_id"] == pool)
            .collect();
        ls.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        ls.first()?["id"].as_str()
    }
}

fn by_id(items: Vec<Value>) -> HashMap<String, Value> {
    items
        .into_iter()
        .filter_map(|o| Some((o["id"].as_str()?.to_string(), o)))
        .collect()
}

fn pick(src: &Value, keys: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = src.get(*k)
            && !v.is_null()
        {
            m.insert((*k).to_string(), v.clone());
        }
    }
    m
}

/// The create body of one object: the source object with Octavia's writable attributes, its
/// parent named the way Octavia's create takes it. A listener carries no default pool (the
/// pool comes later and names its listener); a pool names the listener it is the default pool
/// of, else its load balancer.
fn create_body(
    res: ReplayResource,
    s: &Value,
    src: &Source,
    pool: Option<&str>,
) -> Result<Value, String> {
    use ReplayResource::*;
    let base = ["id", "name", "description", "project_id", "admin_state_up"];
    let with = |extra: &[&str]| {
        let keys: Vec<&str> = base.iter().chain(extra).copied().collect();
        pick(s, &keys)
    };
    let first = |k: &str| s[k][0]["id"].as_str().map(str::to_string);
    let id = s["id"].as_str().unwrap_or("");
    let m = match res {
        Loadbalancer => with(&[
            "vip_address",
            "vip_subnet_id",
            "vip_network_id",
            "vip_port_id",
            "vip_qos_policy_id",
            "flavor_id",
        ]),
        Listener => {
            let mut m = with(&[
                "protocol",
                "protocol_port",
                "connection_limit",
                "insert_headers",
                "timeout_client_data",
                "timeout_member_connect",
                "timeout_member_data",
                "timeout_tcp_inspect",
            ]);
            let lb = first("loadbalancers")
                .ok_or_else(|| format!("listener {id} names no load balancer in the source"))?;
            m.insert("loadbalancer_id".into(), json!(lb));
            m
        }
        Pool => {
            let mut m = with(&["protocol", "lb_algorithm", "session_persistence"]);
            match src.listener_of_pool(id) {
                Some(l) => m.insert("listener_id".into(), json!(l)),
                None => m.insert(
                    "loadbalancer_id".into(),
                    json!(first("loadbalancers").ok_or_else(|| format!(
                        "pool {id} names no load balancer in the source"
                    ))?),
                ),
            };
            m
        }
        Member => {
            let mut m = with(&[
                "address",
                "protocol_port",
                "weight",
                "backup",
                "subnet_id",
                "monitor_address",
                "monitor_port",
            ]);
            m.remove("description");
            if pool.is_none() {
                return Err(format!("member {id} has no pool"));
            }
            m
        }
        Healthmonitor => {
            let mut m = with(&[
                "type",
                "delay",
                "timeout",
                "max_retries",
                "max_retries_down",
                "http_method",
                "url_path",
                "expected_codes",
                "http_version",
                "domain_name",
            ]);
            m.remove("description");
            let p = first("pools")
                .ok_or_else(|| format!("health monitor {id} names no pool in the source"))?;
            m.insert("pool_id".into(), json!(p));
            m
        }
        L7policy => with(&[
            "listener_id",
            "action",
            "position",
            "redirect_pool_id",
            "redirect_url",
            "redirect_prefix",
            "redirect_http_code",
        ]),
        other => return Err(format!("{} is not an Octavia resource", other.as_str())),
    };
    Ok(Value::Object(m))
}

fn rule_body(r: &Value) -> Value {
    Value::Object(pick(
        r,
        &[
            "id",
            "project_id",
            "admin_state_up",
            "type",
            "compare_type",
            "key",
            "value",
            "invert",
        ],
    ))
}

/// The journal id of an object: a member with its pool (its undo needs both).
fn record_id(res: ReplayResource, pool: Option<&str>, id: &str) -> String {
    match (res, pool) {
        (ReplayResource::Member, Some(p)) => format!("{p}/{id}"),
        _ => id.to_string(),
    }
}

fn rule_record_id(policy: &str, rule: &str) -> String {
    format!("{policy}/rules/{rule}")
}

fn recorded(step: &str, res: ReplayResource, id: String) -> JournalEvent {
    JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: res.as_str().to_string(),
        object_ids: vec![id],
    }
}

fn status(e: &ExecError) -> Option<u16> {
    super::replay::status_of(e)
}

async fn get_opt(
    os: &OpenStackClient,
    ep: &OctaviaEndpoint,
    path: &str,
) -> Result<Option<Value>, ExecError> {
    match os.get(&ep.service, path).await {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.api().map(|a| a.http_status) == Some(404) => Ok(None),
        Err(e) => Err(ExecError::Nsx(e)),
    }
}

/// Whether the object is on the endpoint (a member in its pool's `members`, a rule in its
/// policy's `rules`: both lists name their children in Octavia and in the stand-in).
async fn exists(
    os: &OpenStackClient,
    ep: &OctaviaEndpoint,
    res: ReplayResource,
    pool: Option<&str>,
    id: &str,
) -> Result<bool, ExecError> {
    let (path, single, child, list) = match (res, pool) {
        (ReplayResource::Member, Some(p)) => ("pools", "pool", p, Some("members")),
        _ => {
            let (path, single) = coll(res);
            (path, single, id, None)
        }
    };
    let Some(v) = get_opt(os, ep, &format!("{}/{path}/{child}", ep.path)).await? else {
        return Ok(false);
    };
    Ok(match list {
        Some(k) => v[single][k]
            .as_array()
            .is_some_and(|a| a.iter().any(|m| m["id"] == id)),
        None => true,
    })
}

async fn rule_exists(
    os: &OpenStackClient,
    ep: &OctaviaEndpoint,
    policy: &str,
    rule: &str,
) -> Result<bool, ExecError> {
    Ok(get_opt(os, ep, &format!("{}/l7policies/{policy}", ep.path))
        .await?
        .is_some_and(|v| {
            v["l7policy"]["rules"]
                .as_array()
                .is_some_and(|a| a.iter().any(|r| r["id"] == rule))
        }))
}

/// One journaled create at the endpoint; `after` names what the answer made.
#[allow(clippy::too_many_arguments)]
async fn send(
    ctx: &Ctx,
    os: &OpenStackClient,
    ep: &OctaviaEndpoint,
    step: &str,
    op: &str,
    path: &str,
    body: Value,
    objects: (String, Vec<String>),
    after: impl FnOnce(&Value) -> Vec<JournalEvent>,
) -> Result<Value, ExecError> {
    let request = RecordedRequest {
        endpoint: Some(ep.service.clone()),
        method: "POST".into(),
        path: path.to_string(),
        body: Some(body.clone()),
    };
    let describe = format!("POST [{}]{path} {body}", ep.service);
    let fut = async { os.send(&ep.service, Method::POST, path, Some(&body)).await };
    ctx.write_with_after(step, op, request, describe, Some(objects), fut, after)
        .await
}

/// Wait for load balancer `lb` to be `ACTIVE` when an answer showed it (or the object) busy:
/// bounded by the run's poll timeout, with a growing pause.
async fn wait_active(
    ctx: &Ctx,
    os: &OpenStackClient,
    ep: &OctaviaEndpoint,
    step: &str,
    lb: &str,
) -> Result<(), ExecError> {
    let start = Instant::now();
    let mut pause = ctx.poll.initial;
    loop {
        let v = get_opt(os, ep, &format!("{}/loadbalancers/{lb}", ep.path)).await?;
        let st = v
            .as_ref()
            .and_then(|v| v["loadbalancer"]["provisioning_status"].as_str())
            .unwrap_or("")
            .to_string();
        match st.as_str() {
            "ACTIVE" => return Ok(()),
            "ERROR" => {
                return Err(ExecError::step(
                    step,
                    format!("load balancer {lb} went to provisioning status ERROR"),
                ));
            }
            "" if v.is_none() => {
                return Err(ExecError::step(
                    step,
                    format!("load balancer {lb} is not on the Octavia endpoint"),
                ));
            }
            _ => {}
        }
        if start.elapsed() >= ctx.poll.timeout {
            return Err(ExecError::step(
                step,
                format!(
                    "load balancer {lb} still {st} after {:?} (poll timeout)",
                    ctx.poll.timeout
                ),
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(ctx.poll.max);
    }
}

fn busy(answer: &Value, single: &str) -> bool {
    answer[single]["provisioning_status"]
        .as_str()
        .is_some_and(|s| s.starts_with("PENDING"))
}

/// Run one Octavia step to its end (every object, and an L7 policy's rules, on the endpoint,
/// journaled).
pub async fn run_step(
    ctx: &Arc<Ctx>,
    os: &OpenStackClient,
    src: &Source,
    ep: &OctaviaEndpoint,
    step: &Step,
    r: &ApiReplay,
) -> Result<(), ExecError> {
    let res = r.resource;
    let (method, call_path) = r
        .call
        .split_once(' ')
        .ok_or_else(|| ExecError::step(&step.id, format!("call `{}` has no method", r.call)))?;
    if method != "POST" {
        return Err(ExecError::step(
            &step.id,
            format!("call method {method} of an Octavia step is not replayed"),
        ));
    }
    let path = ep.path_of(call_path);
    let pool = (res == ReplayResource::Member)
        .then(|| pool_of_call(&r.call))
        .flatten();
    if res == ReplayResource::Member && pool.is_none() {
        return Err(ExecError::step(
            &step.id,
            format!("member call `{}` names no pool", r.call),
        ));
    }
    let (_, single) = coll(res);
    let touched = ctx.progress.touched.contains(&step.id);
    // What the journal held when this run started (a step runs once per run).
    let recorded_ids: HashSet<String> = ctx
        .progress
        .record_of(&step.id)
        .map(|m| m.object_ids.iter().cloned().collect())
        .unwrap_or_default();
    let key = (step.id.clone(), ENDPOINT_OP.to_string());
    if !ctx.dry_run() && !ctx.progress.op_done.contains_key(&key) {
        let detail =
            serde_json::to_string(ep).map_err(|e| ExecError::step(&step.id, e.to_string()))?;
        ctx.record(JournalEvent::StepDone {
            step: step.id.clone(),
            op: ENDPOINT_OP.to_string(),
            detail: Some(detail),
        })?;
    }
    for o in &r.objects {
        let rid = record_id(res, pool, &o.id);
        let s = src.get(res, &o.id, pool).ok_or_else(|| {
            ExecError::step(
                &step.id,
                format!(
                    "{} {} is no longer in the source Octavia; the plan is stale: re-plan",
                    res.as_str(),
                    o.id
                ),
            )
        })?;
        let mut made = recorded_ids.contains(&rid);
        if !made && touched && !ctx.dry_run() && exists(os, ep, res, pool, &o.id).await? {
            settled(ctx, &step.id, res, &rid)?;
            made = true;
        }
        if !made {
            let body = create_body(res, s, src, pool).map_err(|m| ExecError::step(&step.id, m))?;
            let sid = step.id.as_str();
            let objects = (res.as_str().to_string(), vec![rid.clone()]);
            let after = |_: &Value| vec![recorded(sid, res, rid.clone())];
            let answer = send(
                ctx,
                os,
                ep,
                sid,
                SUBMIT_OP,
                &path,
                json!({ single: body }),
                objects,
                after,
            )
            .await;
            match answer {
                Ok(v) => {
                    if !ctx.dry_run()
                        && busy(&v, single)
                        && let Some(lb) = src.lb_of(res, s, pool)
                    {
                        wait_active(ctx, os, ep, sid, &lb).await?;
                    }
                }
                // Made by a run whose journal does not show it: settled by reading.
                Err(e) if status(&e) == Some(409) && exists(os, ep, res, pool, &o.id).await? => {
                    settled(ctx, sid, res, &rid)?;
                }
                Err(e) => return Err(e),
            }
        }
        if res == ReplayResource::L7policy {
            rules(ctx, os, src, ep, step, &o.id, &recorded_ids, touched).await?;
        }
    }
    if !ctx.dry_run() {
        ctx.step_done(&step.id, None)?;
    }
    Ok(())
}

fn settled(ctx: &Ctx, step: &str, res: ReplayResource, rid: &str) -> Result<(), ExecError> {
    ctx.log.info(format!(
        "{step}: {} {rid} is already on the Octavia endpoint (an earlier run made it): recorded, not sent again",
        res.as_str()
    ));
    ctx.record(recorded(step, res, rid.to_string()))
}

/// An L7 policy's rules, after it, each journaled in the policy's record.
#[allow(clippy::too_many_arguments)]
async fn rules(
    ctx: &Ctx,
    os: &OpenStackClient,
    src: &Source,
    ep: &OctaviaEndpoint,
    step: &Step,
    policy: &str,
    recorded_ids: &HashSet<String>,
    touched: bool,
) -> Result<(), ExecError> {
    let res = ReplayResource::L7policy;
    let path = format!("{}/l7policies/{policy}/rules", ep.path);
    for r in src.rules.get(policy).into_iter().flatten() {
        let Some(rule) = r["id"].as_str() else {
            continue;
        };
        let rid = rule_record_id(policy, rule);
        if recorded_ids.contains(&rid) {
            continue;
        }
        if touched && !ctx.dry_run() && rule_exists(os, ep, policy, rule).await? {
            settled(ctx, &step.id, res, &rid)?;
            continue;
        }
        let sid = step.id.as_str();
        let objects = (res.as_str().to_string(), vec![rid.clone()]);
        let after = |_: &Value| vec![recorded(sid, res, rid.clone())];
        let answer = send(
            ctx,
            os,
            ep,
            sid,
            &format!("{RULE_OP}{rule}"),
            &path,
            json!({ "rule": rule_body(r) }),
            objects,
            after,
        )
        .await;
        match answer {
            Ok(v) => {
                if !ctx.dry_run()
                    && busy(&v, "rule")
                    && let Some(lb) = src
                        .get(res, policy, None)
                        .and_then(|p| src.lb_of(res, p, None))
                {
                    wait_active(ctx, os, ep, sid, &lb).await?;
                }
            }
            Err(e) if status(&e) == Some(409) && rule_exists(os, ep, policy, rule).await? => {
                settled(ctx, sid, res, &rid)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The request that undoes one journaled Octavia object (`None` for another type): deletes at
/// the endpoint, children before parents (the journal's reverse order gives that).
pub fn undo(ep: &OctaviaEndpoint, object_type: &str, id: &str) -> Option<String> {
    let p = &ep.path;
    Some(match object_type {
        "loadbalancer" => format!("{p}/loadbalancers/{id}"),
        "listener" => format!("{p}/listeners/{id}"),
        "pool" => format!("{p}/pools/{id}"),
        "healthmonitor" => format!("{p}/healthmonitors/{id}"),
        "member" => {
            let (pool, m) = id.split_once('/')?;
            format!("{p}/pools/{pool}/members/{m}")
        }
        "l7policy" => match id.split_once("/rules/") {
            Some((pol, rule)) => format!("{p}/l7policies/{pol}/rules/{rule}"),
            None => format!("{p}/l7policies/{id}"),
        },
        _ => return None,
    })
}

/// Adoption (no journal of the plan): the records of an Octavia step whose every object (and
/// an L7 policy's every rule) the endpoint already holds, or `None`. Reads only.
pub async fn adopt_step(
    os: &OpenStackClient,
    src: &Source,
    ep: &OctaviaEndpoint,
    step: &Step,
    r: &ApiReplay,
) -> Result<Option<Vec<JournalEvent>>, ExecError> {
    let res = r.resource;
    let pool = (res == ReplayResource::Member)
        .then(|| pool_of_call(&r.call))
        .flatten();
    let mut events = Vec::new();
    if !r.objects.is_empty() {
        events.push(JournalEvent::StepDone {
            step: step.id.clone(),
            op: ENDPOINT_OP.to_string(),
            detail: Some(
                serde_json::to_string(ep).map_err(|e| ExecError::step(&step.id, e.to_string()))?,
            ),
        });
    }
    for o in &r.objects {
        if !exists(os, ep, res, pool, &o.id).await? {
            return Ok(None);
        }
        events.push(recorded(&step.id, res, record_id(res, pool, &o.id)));
        if res == ReplayResource::L7policy {
            for rule in src.rules.get(&o.id).into_iter().flatten() {
                let Some(rid) = rule["id"].as_str() else {
                    continue;
                };
                if !rule_exists(os, ep, &o.id, rid).await? {
                    return Ok(None);
                }
                events.push(recorded(&step.id, res, rule_record_id(&o.id, rid)));
            }
        }
    }
    Ok(Some(events))
}

/// What changed in the source Octavia since the plan was made (preflight: nothing sent on a
/// refusal): a replayed object gone, or a load balancer the plan does not carry.
pub fn staleness(steps: &[Step], src: &Source) -> Vec<String> {
    let mut drift = Vec::new();
    let mut planned_lbs: HashSet<&str> = HashSet::new();
    for s in steps {
        let plan_schema::vio::Action::ApiReplay(r) = &s.action else {
            continue;
        };
        if !is_octavia(r.resource) {
            continue;
        }
        let pool = pool_of_call(&r.call);
        for o in &r.objects {
            if r.resource == ReplayResource::Loadbalancer {
                planned_lbs.insert(o.id.as_str());
            }
            if src.get(r.resource, &o.id, pool).is_none() {
                drift.push(format!(
                    "{}: {} {} ({}) is no longer in the source Octavia",
                    s.id,
                    r.resource.as_str(),
                    o.id,
                    o.name
                ));
            }
        }
    }
    // Read only when the plan has Octavia steps (`Source::load`).
    {
        let mut extra: Vec<String> = src
            .by_res
            .get("loadbalancers")
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(|(id, _)| !planned_lbs.contains(id.as_str()))
            .map(|(id, o)| {
                format!(
                    "loadbalancer {id} ({}) is in the source Octavia but not in the plan (made since the plan)",
                    o["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        drift.append(&mut extra);
    }
    drift.sort();
    drift
}

//! The migration coordinator's two V2T runs (reference `vio-v2t-anchors.md` 3): the edge
//! cutover (`EDGE_CUTOVER`: setup, the edge mapping upload when the plan has one, start,
//! feedback, wait) and the host migration (`DFW_AND_HOST_AND_WORKLOAD`: the edge cutover's
//! `finish`, setup, only the plan's compute clusters' host groups enabled, start, feedback,
//! wait, `finish`).
//!
//! The edge cutover run is left at SUCCESS, not finished: the coordinator can roll an edge
//! cutover back until the next workflow begins, so `rollback` stays possible until the host
//! migration step sends its first call (the cutover's `finish`). From then on `rollback`
//! refuses: NSX does not roll back a host migration (seed).
//!
//! Every call is journaled write-ahead; what the coordinator holds (its setup, its status, the
//! mapping file's presence, the host groups, the feedback requests) is read before each call,
//! so a run that resumes after an unsettled call sends only what the coordinator still lacks.

use std::time::Duration;

use plan_schema::journal::{JournalEvent, RecordedRequest};
use plan_schema::vio::{
    EdgeCutover, FeedbackKey, FeedbackResponse, HostMigration, Plan, StartBy, Step,
};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::Flow;
use crate::mp::import::next_poll;
use crate::vio::edge::{self, sent_before};

const MIG: &str = "/api/v1/migration";
pub const EDGE_MODE: &str = "EDGE_CUTOVER";
pub const HOST_MODE: &str = "DFW_AND_HOST_AND_WORKLOAD";
const MAPPING: &str = "EDGE_CUTOVER_MAPPING";
/// The object type of the coordinator's migration records (id: the mode set up).
pub const COORDINATOR: &str = "coordinator_mode";

/// Seed error codes of the coordinator runs.
pub const E_MODE: u32 = 1100;
pub const E_EDGE_SETUP: u32 = 1007;
pub const E_EDGE_APPLY: u32 = 1110;
pub const E_HOST_APPLY: u32 = 1120;
pub const E_FINISH: u32 = 1130;
pub const E_TIMEOUT: u32 = 1132;
/// The coordinator does not answer (seed: "NSX migration coordinator not running").
pub const E_NOT_RUNNING: u32 = 1001;

/// Op names of the host migration step: any of them in the journal means the host migration
/// has begun (the edge cutover was finished), and `rollback` refuses.
pub const HOST_OPS: [&str; 4] = ["finish-edge-cutover", "setup", "start", "finish"];

/// What one run drives.
struct Run<'a> {
    step: &'a str,
    mode: &'static str,
    start: StartBy,
    feedback: &'a [FeedbackResponse],
    accept_recommended: bool,
    timeout_hours: u32,
    failure_code: u32,
}

fn stop(code: u32, msg: String) -> Flow {
    Flow::Stop(ExitCode::Mixed, format!("seed error {code}: {msg}"))
}

fn host_port(url: &str) -> (String, u16) {
    match url::Url::parse(url) {
        Ok(u) => (
            u.host_str().unwrap_or("").to_string(),
            u.port_or_known_default().unwrap_or(443),
        ),
        Err(_) => (url.to_string(), 443),
    }
}

/// The setup body: the source NSX-V (by the token) and its vCenter, the destination (this
/// manager). Returns the body sent and the one journaled (secrets replaced).
fn setup_body(ctx: &Ctx, mode: &str, token: &str) -> Result<(Value, Value), ExecError> {
    let nsxv = ctx
        .window
        .nsxv
        .as_ref()
        .ok_or_else(|| ExecError::Plan("no NSX-V Manager (--nsxv)".into()))?;
    let vc = ctx
        .window
        .vcenter
        .as_ref()
        .ok_or_else(|| ExecError::Plan("no vCenter (--vcenter)".into()))?;
    let (vc_ip, vc_port) = host_port(&vc.base_label());
    let (v_ip, v_port) = host_port(&nsxv.base_label());
    let (d_ip, d_port) = host_port(ctx.nsx.base_url());
    let ip = if v_port == 443 {
        v_ip
    } else {
        format!("{v_ip}:{v_port}")
    };
    let creds = vc.credentials();
    let body = |vc_password: &str, auth_token: &str| {
        json!({
            "migration_mode": mode,
            "source_nsx": [{
                "vc_ip": vc_ip, "vc_port": vc_port, "vc_username": creds.username,
                "vc_password": vc_password, "ip": ip, "auth_token": auth_token,
            }],
            "destination_nsx": {"destination_nsx_ip": d_ip, "destination_nsx_port": d_port},
        })
    };
    Ok((
        body(creds.password.expose(), token),
        body("<redacted>", "<redacted>"),
    ))
}

async fn setup_mode(ctx: &Ctx) -> Result<Option<String>, ExecError> {
    let s = ctx.get(&format!("{MIG}/setup")).await?;
    Ok(s["migration_mode"]
        .as_str()
        .filter(|m| !m.is_empty())
        .map(str::to_string))
}

fn token_minutes(plan: &Plan) -> u32 {
    plan.steps
        .iter()
        .find_map(|s| match &s.action {
            plan_schema::vio::Action::NsxvToken(t) => Some(t.lifetime_minutes),
            _ => None,
        })
        .unwrap_or(1440)
}

/// `PUT setup` for `mode`, unless the coordinator has it already; recorded for `rollback`.
async fn setup(
    ctx: &Ctx,
    plan: &Plan,
    step: &str,
    mode: &str,
    code: u32,
) -> Result<Option<Flow>, ExecError> {
    match setup_mode(ctx).await? {
        Some(m) if m == mode => {
            if current_record(ctx, step).is_none() && !ctx.dry_run() {
                record_mode(ctx, step, mode)?;
            }
            return Ok(None);
        }
        Some(other) => {
            return Ok(Some(stop(
                E_MODE,
                format!(
                    "step {step}: the migration coordinator is configured for {other}, not {mode} (invalid mode in migration plan): roll back or abort that migration on NSX, then re-run `apply`"
                ),
            )));
        }
        None => {}
    }
    let have = ctx
        .secrets
        .lock()
        .map(|s| s.contains_key(edge::TOKEN_KEY))
        .unwrap_or(false);
    // The host migration (up to 48 h) gets a token of its own: the edge preparation's has
    // spent part of its at most 24 h by now.
    if !have || mode == HOST_MODE {
        edge::token(ctx, step, token_minutes(plan)).await?;
    }
    let token = ctx
        .secrets
        .lock()
        .ok()
        .and_then(|s| s.get(edge::TOKEN_KEY).map(|t| t.expose().to_string()))
        .unwrap_or_default();
    let (body, shown) = setup_body(ctx, mode, &token)?;
    let path = format!("{MIG}/setup");
    let req = RecordedRequest {
        endpoint: None,
        method: "PUT".into(),
        path: path.clone(),
        body: Some(shown.clone()),
    };
    let describe = format!("PUT {path} {shown}");
    let send = async { ctx.nsx.put(&path, &body).await };
    if let Err(e) = ctx
        .write_with(step, "setup", req, describe, None, send)
        .await
    {
        return Ok(Some(stop(
            code,
            format!("step {step}: setting up {mode} on the migration coordinator failed: {e}"),
        )));
    }
    if !ctx.dry_run() {
        record_mode(ctx, step, mode)?;
    }
    Ok(None)
}

fn current_record(ctx: &Ctx, step: &str) -> Option<crate::progress::MigrationRecord> {
    crate::current(ctx).record_of(step).cloned()
}

fn record_mode(ctx: &Ctx, step: &str, mode: &str) -> Result<(), ExecError> {
    ctx.record(JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: COORDINATOR.to_string(),
        object_ids: vec![mode.to_string()],
    })
}

/// The edge mapping file (reference 4.1: one set named `dlr_edges_to_migrate`).
fn mapping_file(c: &EdgeCutover) -> Value {
    json!([{
        "name": "dlr_edges_to_migrate",
        "v_edges_to_policy_gateways_mappings": c.mapping.iter().map(|m| json!({
            "v_edges": m.v_edges, "policy_gateway_name": m.policy_gateway_name,
        })).collect::<Vec<_>>(),
    }])
}

async fn upload_mapping(ctx: &Ctx, step: &str, c: &EdgeCutover) -> Result<Option<Flow>, ExecError> {
    if c.mapping.is_empty() {
        return Ok(None);
    }
    if !ctx.dry_run() {
        let info = ctx.get(&format!("{MIG}/data?file_type={MAPPING}")).await?;
        if info["is_present"] == json!(true) {
            return Ok(None);
        }
    }
    let file = mapping_file(c);
    let boundary = "nsx-migrate-edge-mapping-5b1f";
    let mut bytes = Vec::new();
    bytes.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file_type\"\r\n\r\n{MAPPING}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"edge_mapping.json\"\r\nContent-Type: application/json\r\n\r\n"
        )
        .as_bytes(),
    );
    bytes.extend_from_slice(file.to_string().as_bytes());
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let path = format!("{MIG}/data/upload");
    let req = RecordedRequest {
        endpoint: None,
        method: "POST".into(),
        path: path.clone(),
        body: Some(json!({"file_type": MAPPING, "file": file})),
    };
    let describe = format!("POST {path} (multipart: file_type={MAPPING}, file={file})");
    let send = async {
        ctx.nsx
            .send(
                client::Request::post(path.clone())
                    .raw(format!("multipart/form-data; boundary={boundary}"), bytes),
            )
            .await
            .map(|r| r.body)
    };
    if let Err(e) = ctx
        .write_with(step, "upload-mapping", req, describe, None, send)
        .await
    {
        return Ok(Some(stop(
            E_EDGE_SETUP,
            format!("step {step}: uploading the edge cutover mapping failed: {e}"),
        )));
    }
    Ok(None)
}

async fn plan_action(ctx: &Ctx, step: &str, op: &str, action: &str) -> Result<Value, ExecError> {
    ctx.write(
        step,
        op,
        Write::post(format!("{MIG}/plan?action={action}")).once(ctx.poll.done_timeout),
    )
    .await
}

async fn status(ctx: &Ctx) -> Result<Value, ExecError> {
    ctx.get(&format!("{MIG}/status-summary")).await
}

fn failed_details(s: &Value) -> String {
    s["component_status"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "FAILED")
        .map(|c| {
            format!(
                "{} FAILED at {}%: {}",
                c["component_type"].as_str().unwrap_or("?"),
                c["percent_complete"],
                c["details"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn percent(s: &Value) -> Option<f64> {
    s["component_status"]
        .as_array()?
        .iter()
        .find(|c| c["status"] == "IN_PROGRESS")?["percent_complete"]
        .as_f64()
        .filter(|p| *p > 0.0 && *p < 100.0)
}

/// One unresolved feedback request, for messages.
fn describe_item(f: &Value) -> String {
    format!(
        "{} (hash {}, {}/{} {}): {} [suggested: {} {}]",
        f["id"].as_str().unwrap_or("?"),
        f["hash"].as_str().unwrap_or("?"),
        f["vertical"].as_str().unwrap_or(""),
        f["sub_vertical"].as_str().unwrap_or(""),
        f["v_object_id"].as_str().unwrap_or(""),
        f["message"].as_str().unwrap_or(""),
        f["suggested_action"].as_str().unwrap_or(""),
        f["suggested_value"].as_str().unwrap_or("")
    )
}

/// Answer the unresolved feedback with exactly the plan's responses (by `hash` or `id`), and
/// with the coordinator's recommendation only when the plan says so. `Some(flow)`: items the
/// plan does not answer; the run stops with their list.
async fn answer_feedback(ctx: &Ctx, r: &Run<'_>) -> Result<Option<Flow>, ExecError> {
    let items = ctx
        .nsx
        .list_all(&format!("{MIG}/feedback-requests?state=UNRESOLVED"))
        .await?;
    if items.is_empty() {
        return Ok(None);
    }
    let mut answers = Vec::new();
    let mut open = Vec::new();
    for f in &items {
        let id = f["id"].as_str().unwrap_or("");
        let hash = f["hash"].as_str().unwrap_or("");
        let key = FeedbackKey {
            vertical: f["vertical"].as_str().unwrap_or(""),
            sub_vertical: f["sub_vertical"].as_str().unwrap_or(""),
            v_object_id: f["v_object_id"].as_str().unwrap_or(""),
            object_id: f["object_id"].as_str().unwrap_or(""),
        };
        // The plan's most precise answer: by id, then by category and object, then by hash.
        match r
            .feedback
            .iter()
            .filter(|x| x.answers(id, hash, &key))
            .max_by_key(|x| x.precision(id))
        {
            Some(x) => {
                let mut a = json!({"id": id, "action": x.action});
                if let Some(v) = &x.value {
                    a["value"] = json!(v);
                }
                answers.push(a);
            }
            None => open.push(f),
        }
    }
    if !open.is_empty() && !r.accept_recommended {
        let list: Vec<String> = open.iter().map(|f| describe_item(f)).collect();
        for l in &list {
            ctx.log
                .warn(format!("{}: unanswered coordinator feedback: {l}", r.step));
        }
        return Ok(Some(Flow::Stop(
            ExitCode::Mixed,
            format!(
                "step {}: the migration coordinator asks for feedback the plan does not answer ({} item(s)); nothing was answered. Answer them in the plan (the step's `feedback`, by hash or id, or by vertical and object) and re-run `apply` with the new plan, or answer them on NSX and re-run `apply`:\n  {}",
                r.step,
                list.len(),
                list.join("\n  ")
            ),
        )));
    }
    if !answers.is_empty() {
        ctx.write(
            r.step,
            "feedback",
            Write::new(client::Method::PUT, format!("{MIG}/feedback-response"))
                .body(json!({"response_list": answers})),
        )
        .await?;
    }
    if !open.is_empty() {
        ctx.write(
            r.step,
            "feedback-accept-recommended",
            Write::post(format!("{MIG}/feedback-response?action=accept-recommended")),
        )
        .await?;
    }
    Ok(None)
}

/// Start (when the plan says `apply`), then poll the coordinator with a growing pause until the
/// run succeeds, fails, times out or needs feedback the plan does not give.
async fn drive(ctx: &Ctx, r: &Run<'_>) -> Result<Option<Flow>, ExecError> {
    if ctx.dry_run() {
        if r.start == StartBy::Apply {
            plan_action(ctx, r.step, "start", "start").await?;
        }
        return Ok(None);
    }
    let budget = Duration::from_secs(u64::from(r.timeout_hours) * 3600);
    let began = tokio::time::Instant::now();
    let mut told_operator = false;
    // Bounded: every pass sleeps at least poll.initial, and the budget ends the loop.
    loop {
        let s = status(ctx).await?;
        let overall = s["overall_migration_status"].as_str().unwrap_or("");
        match overall {
            "SUCCESS" => return Ok(None),
            "FAILED" => {
                let details = failed_details(&s);
                let code = if details.contains("Timeout") {
                    E_TIMEOUT
                } else {
                    r.failure_code
                };
                return Ok(Some(stop(
                    code,
                    format!(
                        "step {}: the migration coordinator's {} run failed: {details}",
                        r.step, r.mode
                    ),
                )));
            }
            "NOT_STARTED" if r.start == StartBy::Apply => {
                if let Err(e) = plan_action(ctx, r.step, "start", "start").await {
                    return Ok(Some(stop(
                        r.failure_code,
                        format!("step {}: starting {} failed: {e}", r.step, r.mode),
                    )));
                }
                continue;
            }
            "NOT_STARTED" if !told_operator => {
                told_operator = true;
                ctx.log.warn(format!(
                    "{}: waiting for the operator to start the {} run in the NSX UI (up to {} h)",
                    r.step, r.mode, r.timeout_hours
                ));
            }
            "PAUSED" => {
                if let Some(f) = answer_feedback(ctx, r).await? {
                    return Ok(Some(f));
                }
                // Continue only what feedback paused (this plan answered it, or the
                // coordinator says it waits for it); a pause by the operator is theirs.
                let by_feedback = sent_before(ctx, r.step, "feedback")
                    || sent_before(ctx, r.step, "feedback-accept-recommended")
                    || s.to_string().contains("eedback");
                if !by_feedback {
                    return Ok(Some(Flow::Stop(
                        ExitCode::Mixed,
                        format!(
                            "step {}: the migration coordinator's {} run is paused (not for feedback): continue it on NSX, then re-run `apply`",
                            r.step, r.mode
                        ),
                    )));
                }
                plan_action(ctx, r.step, "continue", "continue").await?;
                continue;
            }
            _ => {}
        }
        let waited = began.elapsed();
        if waited >= budget {
            return Ok(Some(stop(
                E_TIMEOUT,
                format!(
                    "step {}: the {} run did not finish within the plan's {} h (now {overall}); re-run `apply` to wait again",
                    r.step, r.mode, r.timeout_hours
                ),
            )));
        }
        tokio::time::sleep(next_poll(&ctx.poll, waited, percent(&s))).await;
    }
}

/// The edge cutover step.
pub async fn edge_cutover(
    ctx: &Ctx,
    plan: &Plan,
    step: &Step,
    c: &EdgeCutover,
) -> Result<Option<Flow>, ExecError> {
    coordinator_down(&step.id, edge_cutover_run(ctx, plan, step, c).await)
}

async fn edge_cutover_run(
    ctx: &Ctx,
    plan: &Plan,
    step: &Step,
    c: &EdgeCutover,
) -> Result<Option<Flow>, ExecError> {
    if let Some(f) = setup(ctx, plan, &step.id, EDGE_MODE, E_EDGE_SETUP).await? {
        return Ok(Some(f));
    }
    // A cutover already through (a run killed before journaling its end) is not run again.
    if !ctx.dry_run() && status(ctx).await?["overall_migration_status"] == "SUCCESS" {
        return Ok(None);
    }
    if let Some(f) = upload_mapping(ctx, &step.id, c).await? {
        return Ok(Some(f));
    }
    drive(
        ctx,
        &Run {
            step: &step.id,
            mode: EDGE_MODE,
            start: c.start,
            feedback: &c.feedback,
            accept_recommended: c.accept_recommended,
            timeout_hours: c.timeout_hours,
            failure_code: E_EDGE_APPLY,
        },
    )
    .await
}

/// The host migration step (after the confirmation was checked by the phase).
pub async fn host_migration(
    ctx: &Ctx,
    plan: &Plan,
    step: &Step,
    h: &HostMigration,
) -> Result<Option<Flow>, ExecError> {
    coordinator_down(&step.id, host_migration_run(ctx, plan, step, h).await)
}

async fn host_migration_run(
    ctx: &Ctx,
    plan: &Plan,
    step: &Step,
    h: &HostMigration,
) -> Result<Option<Flow>, ExecError> {
    // A host migration this plan already finished (a run killed after its `finish`, before
    // the step's end was journaled): the coordinator is free again, nothing is sent.
    if !ctx.dry_run() && sent_before(ctx, &step.id, "finish") && setup_mode(ctx).await?.is_none() {
        return Ok(None);
    }
    // The edge cutover's run is finished first (it frees the coordinator for the next mode).
    if !ctx.dry_run() && setup_mode(ctx).await?.as_deref() == Some(EDGE_MODE) {
        let s = status(ctx).await?;
        if s["overall_migration_status"] != "SUCCESS" {
            return Ok(Some(stop(
                E_FINISH,
                format!(
                    "step {}: the edge cutover run on the coordinator is {}, not SUCCESS; it cannot be finished before the host migration",
                    step.id, s["overall_migration_status"]
                ),
            )));
        }
        if let Err(e) = plan_action(ctx, &step.id, "finish-edge-cutover", "finish").await {
            return Ok(Some(stop(
                E_FINISH,
                format!(
                    "step {}: finishing the edge cutover run failed: {e}",
                    step.id
                ),
            )));
        }
    } else if ctx.dry_run() {
        plan_action(ctx, &step.id, "finish-edge-cutover", "finish").await?;
    }
    if let Some(f) = setup(ctx, plan, &step.id, HOST_MODE, E_HOST_APPLY).await? {
        return Ok(Some(f));
    }
    if !ctx.dry_run() {
        let s = status(ctx).await?;
        if s["overall_migration_status"] == "SUCCESS" {
            return finish_host(ctx, &step.id).await;
        }
        // Only the plan's compute clusters' host groups are enabled. A coordinator that
        // refuses that (not one that does not answer: 1001 above) fails the host migration.
        let enabled = async {
            if s["overall_migration_status"] == "NOT_STARTED" {
                let groups = ctx
                    .nsx
                    .list_all(&format!("{MIG}/migration-unit-groups?component_type=HOST"))
                    .await?;
                for c in &h.compute_clusters {
                    if !groups.iter().any(|g| g["id"] == json!(c)) {
                        return Ok::<_, ExecError>(Some(stop(
                            E_HOST_APPLY,
                            format!(
                                "step {}: the coordinator has no host group for compute cluster {c}",
                                step.id
                            ),
                        )));
                    }
                }
                for g in &groups {
                    let id = g["id"].as_str().unwrap_or("");
                    let want = h.compute_clusters.iter().any(|c| c == id);
                    if g["enabled"] != json!(want) {
                        ctx.write(
                            &step.id,
                            &format!("group/{id}"),
                            Write::new(
                                client::Method::PUT,
                                format!("{MIG}/migration-unit-groups/{id}"),
                            )
                            .body(json!({"type": "HOST", "enabled": want})),
                        )
                        .await?;
                    }
                }
            }
            Ok(None)
        }
        .await;
        match enabled {
            Ok(Some(f)) => return Ok(Some(f)),
            Ok(None) => {}
            Err(ExecError::Nsx(e)) if !unanswered(&e) => {
                return Ok(Some(stop(
                    E_HOST_APPLY,
                    format!(
                        "step {}: enabling only the plan's compute clusters' host groups failed: {e}",
                        step.id
                    ),
                )));
            }
            Err(e) => return Err(e),
        }
    }
    if let Some(f) = drive(
        ctx,
        &Run {
            step: &step.id,
            mode: HOST_MODE,
            start: h.start,
            feedback: &h.feedback,
            accept_recommended: h.accept_recommended,
            timeout_hours: h.timeout_hours,
            failure_code: E_HOST_APPLY,
        },
    )
    .await?
    {
        return Ok(Some(f));
    }
    finish_host(ctx, &step.id).await
}

async fn finish_host(ctx: &Ctx, step: &str) -> Result<Option<Flow>, ExecError> {
    match plan_action(ctx, step, "finish", "finish").await {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(stop(
            E_FINISH,
            format!("step {step}: marking the host migration finished failed: {e}"),
        ))),
    }
}

/// Whether this plan's host migration has begun (its step sent anything): no rollback then.
pub fn host_started(ctx: &Ctx) -> Option<String> {
    let p = crate::current(ctx);
    p.op_done
        .keys()
        .map(|(s, o)| (s.clone(), o.clone()))
        .chain(p.open.iter().map(|o| (o.step.clone(), o.op.clone())))
        .find(|(s, o)| s.starts_with("host-migration/") && HOST_OPS.contains(&o.as_str()))
        .map(|(s, _)| s)
}

/// Undo a coordinator record (rollback before the host migration): the edge cutover rolled
/// back on the coordinator (it deletes the mapping file; the next `apply` uploads it again) and
/// the setup aborted, so the coordinator is free as before the window.
pub async fn undo(ctx: &Ctx, mode: &str) -> Result<(), ExecError> {
    let Some(now) = setup_mode(ctx).await? else {
        return Ok(());
    };
    if now != mode {
        return Ok(());
    }
    let s = status(ctx).await?;
    if s["overall_migration_status"] != "NOT_STARTED" {
        ctx.writes_sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ctx.nsx
            .send(client::Request::post(format!("{MIG}/plan?action=rollback")).no_retry())
            .await?;
    }
    ctx.writes_sent
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ctx.nsx
        .send(client::Request::post(format!("{MIG}/plan?action=abort")).no_retry())
        .await?;
    Ok(())
}

/// A read of the coordinator's API that got no usable answer after the client's retries: 503
/// (the service is down), no answer within the timeout, or a broken connection.
pub(crate) fn unanswered(e: &client::ClientError) -> bool {
    use client::ClientError as C;
    match e {
        C::RetriesExhausted { last, .. } => unanswered(last),
        C::Timeout { url, .. } | C::Connect { url, .. } => url.contains(MIG),
        _ => e.http_status() == Some(503) && e.api().is_some_and(|a| a.path.starts_with(MIG)),
    }
}

/// The coordinator stopped answering during a run (`unanswered`): the stop carries seed 1001.
/// Nothing after the failed call was sent; a re-run once the coordinator answers reads its
/// setup and status and goes on with the same run.
fn coordinator_down(
    step: &str,
    res: Result<Option<Flow>, ExecError>,
) -> Result<Option<Flow>, ExecError> {
    match res {
        Err(ExecError::Nsx(e)) if unanswered(&e) => Ok(Some(stop(
            E_NOT_RUNNING,
            format!(
                "step {step}: the migration coordinator does not answer (not running): {e}. Start it on the NSX Manager (`start service migration-coordinator`), then re-run `apply`: it resumes the run where the coordinator is"
            ),
        ))),
        other => other,
    }
}

/// Preflight warnings about the NSX-V token: the coordinator holds the token of its setup for
/// the whole run, NSX-V grants at most 24 h, and the plan lets a run take longer (the host
/// migration up to 48 h): a run outliving its token fails (seed 1120, the coordinator's
/// message names the token). The host migration's setup asks for a token of its own.
pub fn token_warnings(plan: &Plan) -> Vec<String> {
    let minutes = token_minutes(plan);
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            plan_schema::vio::Action::EdgeCutover(c) => Some((s.id.as_str(), c.timeout_hours)),
            plan_schema::vio::Action::HostMigration(h) => Some((s.id.as_str(), h.timeout_hours)),
            _ => None,
        })
        .filter(|(_, hours)| u64::from(*hours) * 60 > u64::from(minutes))
        .map(|(step, hours)| {
            format!(
                "step {step} may run up to {hours} h, but the NSX-V token it is set up with lives {minutes} minutes (NSX-V grants at most 24 h): a run still going when the token runs out fails (seed error 1120 or 1110, the coordinator's details name the token); apply asks for a new token at each setup. If that happens, abort the run on NSX and re-run `apply`"
            )
        })
        .collect()
}

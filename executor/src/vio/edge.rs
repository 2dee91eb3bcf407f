//! The VIO window's single calls (seed 004, "Edge Cutover" and "Host Migration"; reference
//! `vio-v2t-anchors.md` 3.3): NSX-V edge vNICs down, the NSX edge transport nodes'
//! `v2t-migration-config`, gateway-less routers attached to a tier-0 for the cutover and
//! detached again, the NSX-V token for the coordinator, and the NSX-V edges' VMs powered off.
//!
//! Every call reads live state first and is sent only when live state differs from the end
//! state; it is journaled write-ahead (intent, request, outcome) and read back. What a call
//! changed is journaled as a migration record, so `rollback` (before the host migration starts)
//! puts exactly that back, newest first. An intent without an outcome (a run killed while it
//! was sent) is settled by reading the object: already in the end state means the call went
//! through and the change is this plan's.

use plan_schema::journal::{JournalEvent, RecordedRequest};
use plan_schema::vio::{
    EdgeInterfacesDown, EdgeMigrationConfig, EdgePowerOff, NsxvToken, RouterNogwFixup, Step,
};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::current;
use crate::error::ExecError;

/// Object types of the window's migration records (what `rollback` puts back).
pub const VNIC: &str = "nsxv_edge_vnic";
pub const EDGE_CONFIG: &str = "edge_v2t_migration_config";
pub const NOGW: &str = "router_nogw_tier0";
pub const EDGE_VM: &str = "nsxv_edge_vm";

/// Where the NSX-V token is kept for the run (memory only).
pub const TOKEN_KEY: &str = "nsxv-token";

/// Seed error codes of these calls.
pub const E_INTERFACES: u32 = 1008;
pub const E_NOGW_FIXUP: u32 = 1105;
pub const E_NOGW_RESTORE: u32 = 1106;
pub const E_POWER_OFF: u32 = 1115;
pub const E_EDGE_PREP: u32 = 1007;

/// Whether this plan's journal shows `op` of `step` as sent (an intent, settled or not).
pub fn sent_before(ctx: &Ctx, step: &str, op: &str) -> bool {
    let p = current(ctx);
    p.open_intent(step, op).is_some() || p.op_done.contains_key(&(step.into(), op.into()))
}

fn record(ctx: &Ctx, step: &str, object_type: &str, id: String) -> Result<(), ExecError> {
    ctx.record(JournalEvent::MigrationRecorded {
        step: step.to_string(),
        object_type: object_type.to_string(),
        object_ids: vec![id],
    })
}

fn coded(step: &str, code: u32, what: &str, e: impl std::fmt::Display) -> ExecError {
    ExecError::step(step, format!("seed error {code}: {what}: {e}"))
}

fn nsxv(ctx: &Ctx) -> Result<&client::NsxvClient, ExecError> {
    ctx.window.nsxv.as_ref().ok_or_else(|| {
        ExecError::Plan(
            "the NSX-V Manager is needed from the edge preparation on: give --nsxv URL (NSXV_USERNAME, NSXV_PASSWORD or --nsxv-password-file)"
                .into(),
        )
    })
}

fn vcenter(ctx: &Ctx) -> Result<&client::VcenterClient, ExecError> {
    ctx.window.vcenter.as_ref().ok_or_else(|| {
        ExecError::Plan(
            "vCenter is needed from the edge preparation on: give --vcenter URL (VCENTER_USERNAME, VCENTER_PASSWORD or --vcenter-password-file)"
                .into(),
        )
    })
}

/// Refuse before anything is sent when the plan's window steps need an endpoint the run lacks.
pub fn check_clients(ctx: &Ctx) -> Result<(), ExecError> {
    nsxv(ctx)?;
    vcenter(ctx)?;
    Ok(())
}

fn recorded(endpoint: &str, method: &str, path: &str, body: Option<Value>) -> RecordedRequest {
    RecordedRequest {
        endpoint: Some(endpoint.to_string()),
        method: method.to_string(),
        path: path.to_string(),
        body,
    }
}

fn vnic_path(edge: &str, index: u32) -> String {
    format!("/api/4.0/edges/{edge}/vnics/{index}")
}

/// `edge_interfaces_down`: each listed vNIC of the edge disconnected (`isConnected: false`,
/// the whole vNIC sent back with `PUT /api/4.0/edges/{id}/vnics/{index}`), read back.
pub async fn interfaces_down(
    ctx: &Ctx,
    step: &Step,
    a: &EdgeInterfacesDown,
) -> Result<(), ExecError> {
    let v = nsxv(ctx)?;
    for &index in &a.vnics {
        let path = vnic_path(&a.edge_id, index);
        let op = format!("vnic-down/{index}");
        let id = format!("{}/{index}", a.edge_id);
        let vnic = v
            .get_json(&path)
            .await
            .map_err(|e| coded(&step.id, E_INTERFACES, "reading the vNIC", e))?;
        if vnic["isConnected"] == json!(false) {
            // Down already: this plan's doing when its journal shows the call.
            if sent_before(ctx, &step.id, &op) && !recorded_id(ctx, &step.id, &id) {
                record(ctx, &step.id, VNIC, id)?;
            }
            continue;
        }
        let mut body = vnic.clone();
        body["isConnected"] = json!(false);
        let req = recorded("nsx-v", "PUT", &path, Some(body.clone()));
        let describe = format!("PUT [nsx-v]{path} {body}");
        let send = v.put_json(&path, &body);
        ctx.write_with(&step.id, &op, req, describe, None, send)
            .await
            .map_err(|e| {
                coded(
                    &step.id,
                    E_INTERFACES,
                    "bringing the edge interface down",
                    e,
                )
            })?;
        if ctx.dry_run() {
            continue;
        }
        record(ctx, &step.id, VNIC, id)?;
        let back = v
            .get_json(&path)
            .await
            .map_err(|e| coded(&step.id, E_INTERFACES, "reading the vNIC back", e))?;
        if back["isConnected"] != json!(false) {
            return Err(coded(
                &step.id,
                E_INTERFACES,
                "bringing the edge interface down",
                format!("vNIC {index} of {} still reads connected", a.edge_id),
            ));
        }
    }
    Ok(())
}

fn recorded_id(ctx: &Ctx, step: &str, id: &str) -> bool {
    current(ctx)
        .record_of(step)
        .is_some_and(|r| r.object_ids.iter().any(|x| x == id))
}

fn tn_config_path(tn: &str) -> String {
    format!("/api/v1/transport-nodes/{tn}/node/v2t-migration-config")
}

/// `edge_migration_config`: `PUT /api/v1/transport-nodes/<id>/node/v2t-migration-config`
/// `{"enabled": ..}` (seed), read back. Enabling is recorded (rollback disables it again).
pub async fn edge_config(ctx: &Ctx, step: &Step, a: &EdgeMigrationConfig) -> Result<(), ExecError> {
    let path = tn_config_path(&a.transport_node_id);
    let op = if a.enabled { "enable" } else { "disable" };
    let now = ctx
        .get(&path)
        .await
        .map_err(|e| coded(&step.id, E_EDGE_PREP, "reading v2t-migration-config", e))?;
    if now["enabled"] == json!(a.enabled) {
        if a.enabled
            && sent_before(ctx, &step.id, op)
            && !recorded_id(ctx, &step.id, &a.transport_node_id)
        {
            record(ctx, &step.id, EDGE_CONFIG, a.transport_node_id.clone())?;
        }
        return Ok(());
    }
    ctx.write(
        &step.id,
        op,
        Write::new(client::Method::PUT, &path).body(json!({"enabled": a.enabled})),
    )
    .await
    .map_err(|e| coded(&step.id, E_EDGE_PREP, "setting v2t-migration-config", e))?;
    if ctx.dry_run() {
        return Ok(());
    }
    if a.enabled {
        record(ctx, &step.id, EDGE_CONFIG, a.transport_node_id.clone())?;
    }
    let back = ctx.get(&path).await?;
    if back["enabled"] != json!(a.enabled) {
        return Err(coded(
            &step.id,
            E_EDGE_PREP,
            "setting v2t-migration-config",
            format!("transport node {} reads {back}", a.transport_node_id),
        ));
    }
    Ok(())
}

/// `nsxv_token`: a token from NSX-V for the coordinator's setup, kept in memory only (the seed:
/// the token is renewed at each run of the migrator). The journal shows the request, never
/// the token.
pub async fn token(ctx: &Ctx, step: &str, minutes: u32) -> Result<(), ExecError> {
    let v = nsxv(ctx)?;
    let path = format!("/api/2.0/services/auth/token?expiresInMinutes={minutes}");
    let req = recorded("nsx-v", "POST", &path, None);
    let describe = format!("POST [nsx-v]{path}");
    let secrets = &ctx.secrets;
    let send = async {
        let t = v.issue_token(minutes).await?;
        if let Ok(mut s) = secrets.lock() {
            s.insert(TOKEN_KEY.to_string(), t);
        }
        Ok(Value::Null)
    };
    ctx.write_with(step, "nsxv-token", req, describe, None, send)
        .await
        .map_err(|e| coded(step, E_EDGE_PREP, "getting the NSX-V token", e))?;
    Ok(())
}

pub async fn nsxv_token(ctx: &Ctx, step: &Step, a: &NsxvToken) -> Result<(), ExecError> {
    token(ctx, &step.id, a.lifetime_minutes).await
}

fn tier1_path(router: &str) -> String {
    format!("/policy/api/v1/infra/tier-1s/{router}")
}

/// `router_nogw_fixup`: the router's tier-1 attached to the tier-0 for the cutover (seed 1105),
/// read back; recorded, so that `rollback` detaches it again.
pub async fn nogw_fixup(ctx: &Ctx, step: &Step, a: &RouterNogwFixup) -> Result<(), ExecError> {
    let path = tier1_path(&a.router_id);
    let t1 = ctx
        .get(&path)
        .await
        .map_err(|e| coded(&step.id, E_NOGW_FIXUP, "reading the tier-1", e))?;
    if t1["tier0_path"] == json!(a.tier0_path) {
        if sent_before(ctx, &step.id, "attach") && !recorded_id(ctx, &step.id, &a.router_id) {
            record(ctx, &step.id, NOGW, a.router_id.clone())?;
        }
        return Ok(());
    }
    if t1["tier0_path"].as_str().is_some_and(|p| !p.is_empty()) {
        return Err(coded(
            &step.id,
            E_NOGW_FIXUP,
            "attaching the gateway-less router",
            format!(
                "tier-1 {} is attached to {} already",
                a.router_id, t1["tier0_path"]
            ),
        ));
    }
    ctx.write(
        &step.id,
        "attach",
        Write::new(client::Method::PATCH, &path).body(json!({"tier0_path": a.tier0_path})),
    )
    .await
    .map_err(|e| {
        coded(
            &step.id,
            E_NOGW_FIXUP,
            "attaching the gateway-less router",
            e,
        )
    })?;
    if ctx.dry_run() {
        return Ok(());
    }
    record(ctx, &step.id, NOGW, a.router_id.clone())?;
    let back = ctx.get(&path).await?;
    if back["tier0_path"] != json!(a.tier0_path) {
        return Err(coded(
            &step.id,
            E_NOGW_FIXUP,
            "attaching the gateway-less router",
            format!(
                "tier-1 {} reads tier0_path {}",
                a.router_id, back["tier0_path"]
            ),
        ));
    }
    Ok(())
}

/// Detach a tier-1 from its tier-0 again: the object without `tier0_path`, `PUT` with the
/// `_revision` it was read at (an edit made meanwhile is refused, 412, not overwritten).
pub async fn detach(
    ctx: &Ctx,
    step: &str,
    op: &str,
    router: &str,
    code: u32,
) -> Result<(), ExecError> {
    let path = tier1_path(router);
    let Some(mut t1) = ctx.get_opt(&path).await? else {
        return Ok(());
    };
    if t1["tier0_path"].as_str().is_none_or(str::is_empty) {
        return Ok(());
    }
    if let Some(o) = t1.as_object_mut() {
        o.remove("tier0_path");
        o.retain(|k, _| k == "_revision" || !k.starts_with('_'));
    }
    ctx.write(step, op, Write::new(client::Method::PUT, &path).body(t1))
        .await
        .map_err(|e| coded(step, code, "detaching the router from the tier-0", e))?;
    Ok(())
}

fn power_path(vm: &str) -> String {
    format!("/api/vcenter/vm/{vm}/power")
}

/// `edge_power_off`: each appliance VM of the edge powered off through vCenter
/// (`POST /api/vcenter/vm/{vm}/power?action=stop`), read back (seed 1115).
pub async fn power_off(ctx: &Ctx, step: &Step, a: &EdgePowerOff) -> Result<(), ExecError> {
    let vc = vcenter(ctx)?;
    for vm in &a.vm_ids {
        let path = power_path(vm);
        let op = format!("power-off/{vm}");
        let state = vc.get(&path).await.map_err(|e| {
            coded(
                &step.id,
                E_POWER_OFF,
                "reading the edge VM's power state",
                e,
            )
        })?;
        if state["state"] == json!("POWERED_OFF") {
            if sent_before(ctx, &step.id, &op) && !recorded_id(ctx, &step.id, vm) {
                record(ctx, &step.id, EDGE_VM, vm.clone())?;
            }
            continue;
        }
        let call = format!("{path}?action=stop");
        let req = recorded("vcenter", "POST", &call, None);
        let describe = format!("POST [vcenter]{call}");
        ctx.write_with(&step.id, &op, req, describe, None, vc.post(&call))
            .await
            .map_err(|e| {
                coded(
                    &step.id,
                    E_POWER_OFF,
                    &format!("powering off VM {vm} of edge {}", a.edge_id),
                    e,
                )
            })?;
        if ctx.dry_run() {
            continue;
        }
        record(ctx, &step.id, EDGE_VM, vm.clone())?;
        let back = vc.get(&path).await.map_err(|e| {
            coded(
                &step.id,
                E_POWER_OFF,
                "reading the edge VM's power state",
                e,
            )
        })?;
        if back["state"] != json!("POWERED_OFF") {
            return Err(coded(
                &step.id,
                E_POWER_OFF,
                "powering off the edge VM",
                format!("VM {vm} reads {}", back["state"]),
            ));
        }
    }
    Ok(())
}

/// Put back one window record's object (rollback before the host migration): a vNIC
/// reconnected, `v2t-migration-config` disabled, a tier-1 detached, a VM powered on. Reads
/// first; sends only what differs. Returns false for a record that is not the window's.
pub async fn undo(ctx: &Ctx, step: &str, object_type: &str, id: &str) -> Result<bool, ExecError> {
    match object_type {
        VNIC => {
            let v = nsxv(ctx)?;
            let Some((edge, index)) = id.rsplit_once('/') else {
                return Ok(true);
            };
            let path = format!("/api/4.0/edges/{edge}/vnics/{index}");
            let mut vnic = v.get_json(&path).await?;
            if vnic["isConnected"] != json!(true) {
                vnic["isConnected"] = json!(true);
                ctx.writes_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                v.put_json(&path, &vnic).await?;
            }
        }
        EDGE_CONFIG => {
            let path = tn_config_path(id);
            if ctx.get(&path).await?["enabled"] != json!(false) {
                ctx.writes_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ctx.nsx.put(&path, &json!({"enabled": false})).await?;
            }
        }
        NOGW => {
            let path = tier1_path(id);
            if let Some(mut t1) = ctx.get_opt(&path).await?
                && t1["tier0_path"].as_str().is_some_and(|p| !p.is_empty())
            {
                if let Some(o) = t1.as_object_mut() {
                    o.remove("tier0_path");
                    o.retain(|k, _| k == "_revision" || !k.starts_with('_'));
                }
                ctx.writes_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                ctx.nsx.put(&path, &t1).await?;
            }
        }
        EDGE_VM => {
            let vc = vcenter(ctx)?;
            let path = power_path(id);
            if vc.get(&path).await?["state"] != json!("POWERED_ON") {
                ctx.writes_sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                vc.post(&format!("{path}?action=start")).await?;
            }
        }
        _ => return Ok(false),
    }
    let _ = step;
    Ok(true)
}

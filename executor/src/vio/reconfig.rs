//! The VIO reconfiguration phase (seed 004, errors 2001-2004 and 2011/2012): VIO's Neutron
//! custom resource is switched from the NSX-V plugin to the NSX Policy plugin, the NSX
//! credentials go into a VIOSecret the resource references, and the tasks only the operator can
//! do (the database rename) stop the run until the operator confirms them.
//!
//! Every change goes through kubectl (the kubeconfig of `apply`: `--kubeconfig`, `--context`,
//! `KUBECONFIG`) as a JSON merge patch or a create, write-ahead journaled (intent, request,
//! outcome) and verified by reading the object back. Before each step the live object is read:
//! a step whose end state is already there (a re-run, or an intent a killed run left unsettled)
//! is journaled as done without sending anything. The password is read from the run's NSX
//! credentials, sent to kubectl through its stdin, and never journaled or logged (the journal
//! records the request with the password replaced by a note).
//!
//! What the resource looks like is inferred (docs/rules.md `vio_neutron_cr`,
//! `vio_policy_plugin`): its group, version and plurals, the secret's kind, name and key, and the
//! Policy plugin's class come from the plan's `[requirements.reconfig]` (the planner's rules
//! `[reconfig]`), never from constants here.

use std::sync::Arc;

use client::{ClientError, Kubectl, KubectlError};
use plan_schema::KindPhase;
use plan_schema::journal::RecordedRequest;
use plan_schema::vio::{Action, Phase, Plan, ReconfigNames, Step, VioReconfig, VioTask};
use serde_json::{Value, json};

use crate::ApplyOptions;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::Flow;
use crate::observe::Stage;
use crate::progress::STEP_OP;

/// What the journal shows instead of the password.
const REDACTED: &str = "<the password of this run's NSX user; not journaled>";

/// Seed errors of this phase.
pub const CR_UNREADABLE: u32 = 2001;
pub const CR_UNPARSABLE: u32 = 2002;
pub const CR_INVALID: u32 = 2003;
pub const CR_UPDATE_FAILED: u32 = 2004;

/// The Neutron custom resource as this phase reads it, with the plan's names it was read by.
#[derive(Debug, Clone)]
pub struct NeutronCr {
    pub namespace: String,
    pub name: String,
    pub object: Value,
    pub names: ReconfigNames,
}

impl NeutronCr {
    fn manifest(&self, plugin: &str) -> Option<bool> {
        self.object
            .pointer(&format!("/spec/manifests/{plugin}"))
            .and_then(Value::as_bool)
    }
    fn str_at(&self, ptr: &str) -> Option<&str> {
        self.object.pointer(ptr).and_then(Value::as_str)
    }
    /// The Policy plugin on, the NSX-V plugin off, Neutron's core plugin the Policy plugin.
    pub fn on_policy_plugin(&self, nsx_manager: &str) -> bool {
        self.manifest("nsxp") == Some(true)
            && self.manifest("nsxv") != Some(true)
            && self.str_at("/spec/conf/neutron/DEFAULT/core_plugin")
                == Some(self.names.policy_plugin.as_str())
            && self.str_at("/spec/conf/plugins/nsxp/nsx_api_managers") == Some(nsx_manager)
    }
    /// As the migration expects it before the switch (seed 2003): the NSX-V plugin on, every
    /// other plugin off.
    fn on_nsxv_only(&self) -> bool {
        let Some(Value::Object(m)) = self.object.pointer("/spec/manifests") else {
            return false;
        };
        m.get("nsxv").and_then(Value::as_bool) == Some(true)
            && ["nsxp", "nsxt", "dvs"]
                .iter()
                .all(|p| m.get(*p).and_then(Value::as_bool) != Some(true))
    }
    /// The Policy plugin's user and password reference point at the VIOSecret.
    pub fn references_secret(&self, user: &str) -> bool {
        self.str_at("/spec/conf/plugins/nsxp/nsx_api_user") == Some(user)
            && self.object.pointer("/spec/conf/plugins/nsxp/password_ref")
                == Some(&secret_ref(&self.names))
    }
    /// The plugin names whose manifests are on.
    pub fn plugins_on(&self) -> Vec<String> {
        match self.object.pointer("/spec/manifests") {
            Some(Value::Object(m)) => m
                .iter()
                .filter(|(k, v)| *k != "neutron_server" && v.as_bool() == Some(true))
                .map(|(k, _)| k.clone())
                .collect(),
            _ => Vec::new(),
        }
    }
    /// The resource's API path.
    pub fn path(&self) -> String {
        format!(
            "/apis/{}/namespaces/{}/{}/{}",
            self.names.group_version(),
            self.namespace,
            self.names.neutron_plural,
            self.name
        )
    }
}

fn secret_ref(n: &ReconfigNames) -> Value {
    json!({"kind": n.secret_kind, "name": n.secret_name, "key": n.secret_key})
}

/// The kubectl of this run, or the refusal naming the flags.
pub fn kubectl(ctx: &Ctx) -> Result<&Kubectl, ExecError> {
    ctx.kubectl.as_ref().ok_or_else(|| {
        ExecError::step(
            Phase::VioReconfig.as_str(),
            "the VIO reconfiguration needs VIO's Kubernetes control plane: give --kubeconfig (or KUBECONFIG) and do not pass --skip-kubernetes-check",
        )
    })
}

/// Read the one Neutron custom resource (seed 2001 when it cannot be read, 2002 when it is not
/// one resource with `spec.manifests`).
pub async fn read_cr(kc: &Kubectl, names: &ReconfigNames) -> Result<NeutronCr, ExecError> {
    let raw = kc
        .get_raw(&format!(
            "/apis/{}/{}",
            names.group_version(),
            names.neutron_plural
        ))
        .await
        .map_err(|e| {
            ExecError::step(
                Phase::VioReconfig.as_str(),
                format!("seed error {CR_UNREADABLE}: cannot read the Neutron custom resource: {e}"),
            )
        })?;
    let list: Value = serde_json::from_slice(&raw).map_err(|e| {
        ExecError::step(
            Phase::VioReconfig.as_str(),
            format!(
                "seed error {CR_UNPARSABLE}: the Neutron custom resource list is not JSON: {e}"
            ),
        )
    })?;
    let items = list
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let [object] = <[Value; 1]>::try_from(items).map_err(|items| {
        ExecError::step(
            Phase::VioReconfig.as_str(),
            format!(
                "seed error {CR_UNPARSABLE}: expected exactly one {} resource, found {}",
                names.neutron_resource(),
                items.len()
            ),
        )
    })?;
    let s = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let (Some(namespace), Some(name)) = (s("/metadata/namespace"), s("/metadata/name")) else {
        return Err(ExecError::step(
            Phase::VioReconfig.as_str(),
            format!(
                "seed error {CR_UNPARSABLE}: the Neutron custom resource has no metadata.name or metadata.namespace"
            ),
        ));
    };
    if !object
        .pointer("/spec/manifests")
        .is_some_and(Value::is_object)
    {
        return Err(ExecError::step(
            Phase::VioReconfig.as_str(),
            format!(
                "seed error {CR_UNPARSABLE}: {namespace}/{name} has no `manifests` object in its `spec`"
            ),
        ));
    }
    Ok(NeutronCr {
        namespace,
        name,
        object,
        names: names.clone(),
    })
}

/// Whether the VIOSecret holds `password` (compared in memory; nothing of it is kept).
pub async fn secret_holds(
    kc: &Kubectl,
    names: &ReconfigNames,
    ns: &str,
    password: &str,
) -> Result<Option<bool>, ExecError> {
    let raw = kc
        .get_raw(&format!(
            "/apis/{}/namespaces/{ns}/{}?fieldSelector=metadata.name%3D{}",
            names.group_version(),
            names.secret_plural,
            names.secret_name
        ))
        .await?;
    let list: Value = serde_json::from_slice(&raw).map_err(|e| {
        ExecError::step(
            Phase::VioReconfig.as_str(),
            format!("the {} list of {ns} is not JSON: {e}", names.secret_kind),
        )
    })?;
    let found = list
        .get("items")
        .and_then(Value::as_array)
        .and_then(|items| {
            items.iter().find(|o| {
                o.pointer("/metadata/name").and_then(Value::as_str)
                    == Some(names.secret_name.as_str())
            })
        });
    Ok(found.map(|o| {
        o.pointer(&format!("/spec/data/{}", names.secret_key))
            .and_then(Value::as_str)
            == Some(password)
    }))
}

/// Refuse `--confirm-task` of a step that is not one of the plan's operator tasks (before
/// anything is sent).
pub fn check_confirmations(plan: &Plan, opts: &ApplyOptions) -> Result<(), ExecError> {
    for id in &opts.confirm_tasks {
        let ok = plan
            .steps
            .iter()
            .any(|s| s.id == *id && matches!(&s.action, Action::VioReconfig(v) if v.operator_task));
        if !ok {
            let tasks: Vec<&str> = plan
                .steps
                .iter()
                .filter(|s| matches!(&s.action, Action::VioReconfig(v) if v.operator_task))
                .map(|s| s.id.as_str())
                .collect();
            return Err(ExecError::Plan(format!(
                "--confirm-task {id}: not an operator task of plan {} (its operator tasks: {}); nothing was sent",
                plan.plan_id,
                if tasks.is_empty() {
                    "none".to_string()
                } else {
                    tasks.join(", ")
                }
            )));
        }
    }
    Ok(())
}

/// Run the phase's pending steps in plan order.
pub async fn phase(ctx: &Arc<Ctx>, plan: &Plan, steps: Vec<Step>) -> Result<Flow, ExecError> {
    let stage = Stage::new(Phase::VioReconfig.as_str());
    if ctx.kubectl.is_none()
        && steps
            .iter()
            .any(|s| matches!(&s.action, Action::VioReconfig(v) if !v.operator_task))
    {
        ctx.log.warn(format!(
            "phase {} needs VIO's Kubernetes control plane and this run has no kubectl",
            Phase::VioReconfig.as_str()
        ));
        return Ok(Flow::Stop(
            ExitCode::Mixed,
            format!(
                "stopped before phase `{}` ({}): it reads and patches VIO's Neutron custom resource through kubectl, and this run has none; nothing of it was sent. Run `apply` again with --kubeconfig (or KUBECONFIG) for VIO's Kubernetes control plane, without --skip-kubernetes-check",
                Phase::VioReconfig.as_str(),
                Phase::VioReconfig.title()
            ),
        ));
    }
    for step in &steps {
        let Action::VioReconfig(v) = &step.action else {
            continue;
        };
        if v.operator_task {
            if ctx.confirmed_tasks.contains(&step.id) {
                ctx.step_done(
                    &step.id,
                    Some("done by the operator, confirmed with --confirm-task".into()),
                )?;
                ctx.log.info(format!(
                    "{}: confirmed by the operator ({})",
                    step.id, v.description
                ));
                ctx.step_finished(stage, &step.id, true);
                continue;
            }
            ctx.step_finished(stage, &step.id, false);
            return Ok(operator_stop(ctx, plan, step, v));
        }
        let res = match v.task {
            VioTask::NeutronCr => neutron_cr(ctx, plan, step).await,
            VioTask::VioSecret => vio_secret(ctx, plan, step).await,
            VioTask::DatabaseRename => Err(ExecError::step(
                &step.id,
                "the database rename is an operator task only (operator_task = false is not supported for it): re-plan",
            )),
        };
        ctx.step_finished(stage, &step.id, res.is_ok());
        if let Err(e) = res {
            ctx.step_failed(&step.id, STEP_OP, &e)?;
            return Ok(Flow::Stop(
                ExitCode::Mixed,
                format!(
                    "VIO reconfiguration failed at step {} (seed error {CR_UPDATE_FAILED}: cannot update the Neutron CR): {e}. The hosts are on NSX already: fix the cause and re-run `apply`; steps done are not repeated",
                    step.id
                ),
            ));
        }
    }
    Ok(Flow::Continue)
}

fn operator_stop(ctx: &Ctx, plan: &Plan, step: &Step, v: &VioReconfig) -> Flow {
    let what = match v.task {
        VioTask::DatabaseRename => " (seed errors 2011/2012 if the SQL fails)",
        _ => "",
    };
    ctx.log.warn(format!(
        "{}: operator task, waiting for the operator: {}",
        step.id, v.description
    ));
    Flow::Stop(
        ExitCode::Mixed,
        format!(
            "{}waiting for the operator at step {}: {}{what}. Do it, then run `nsx-migrate apply` of plan {} again with the same flags and `--confirm-task {}`; that run journals the confirmation and continues",
            if ctx.dry_run() {
                "dry run, nothing was sent; "
            } else {
                ""
            },
            step.id,
            v.description,
            plan.plan_id,
            step.id
        ),
    )
}

/// The patch switching the resource to the Policy plugin. The NSX-V plugin's settings stay
/// (the seed: harmless, for reference; `viocli update neutron` removes them later).
fn switch_patch(nsx_manager: &str, policy_plugin: &str) -> Value {
    json!({"spec": {
        "manifests": {"nsxv": false, "nsxp": true},
        "conf": {
            "neutron": {"DEFAULT": {"core_plugin": policy_plugin}},
            "plugins": {"nsxp": {"nsx_api_managers": nsx_manager}}
        }
    }})
}

/// One merge patch of the Neutron custom resource, journaled write-ahead (intent, request,
/// outcome) through `Ctx::write_with` under the op `patch_neutron_cr`.
pub(super) async fn patch_cr(
    ctx: &Arc<Ctx>,
    kc: &Kubectl,
    names: &ReconfigNames,
    cr: &NeutronCr,
    step: &str,
    patch: Value,
) -> Result<(), ExecError> {
    let path = cr.path();
    let res = names.neutron_resource();
    let describe = format!("PATCH (kubernetes) {path} {patch}");
    let send = async {
        kc.patch_merge(&res, &cr.namespace, &cr.name, &patch)
            .await
            .map(|_| Value::Null)
            .map_err(|e| to_client(e, "PATCH", &path))
    };
    let request = RecordedRequest {
        endpoint: Some("kubernetes".into()),
        method: "PATCH".into(),
        path: path.clone(),
        body: Some(patch.clone()),
    };
    ctx.write_with(step, "patch_neutron_cr", request, describe, None, send)
        .await?;
    Ok(())
}

fn to_client(e: KubectlError, method: &str, path: &str) -> ClientError {
    ClientError::Transport {
        method: method.into(),
        url: format!("kubernetes {path}"),
        message: e.to_string(),
    }
}

async fn neutron_cr(ctx: &Arc<Ctx>, plan: &Plan, step: &Step) -> Result<(), ExecError> {
    let kc = kubectl(ctx)?;
    let mgr = plan.target.nsx_manager.as_str();
    let names = &plan.requirements.reconfig;
    let cr = read_cr(kc, names).await?;
    if cr.on_policy_plugin(mgr) {
        ctx.step_done(
            &step.id,
            Some(format!(
                "{}/{} already on the Policy plugin (read back; nothing sent)",
                cr.namespace, cr.name
            )),
        )?;
        return Ok(());
    }
    if !cr.on_nsxv_only() {
        return Err(ExecError::step(
            &step.id,
            format!(
                "seed error {CR_INVALID}: {}/{} has the plugins {:?} on; the migration expects the NSX-V plugin on and every other plugin off",
                cr.namespace,
                cr.name,
                cr.plugins_on()
            ),
        ));
    }
    let patch = switch_patch(mgr, &names.policy_plugin);
    patch_cr(ctx, kc, names, &cr, &step.id, patch).await?;
    if ctx.dry_run() {
        return Ok(());
    }
    let back = read_cr(kc, names).await?;
    if !back.on_policy_plugin(mgr) {
        return Err(ExecError::step(
            &step.id,
            format!(
                "{}/{} read back after the patch is not on the Policy plugin (plugins on: {:?})",
                back.namespace,
                back.name,
                back.plugins_on()
            ),
        ));
    }
    ctx.step_done(
        &step.id,
        Some(format!(
            "{}/{} on the Policy plugin",
            back.namespace, back.name
        )),
    )
}

async fn vio_secret(ctx: &Arc<Ctx>, plan: &Plan, step: &Step) -> Result<(), ExecError> {
    let n = &plan.requirements.reconfig;
    let gv = n.group_version();
    let (kind, secret, key) = (&n.secret_kind, &n.secret_name, &n.secret_key);
    let kc = kubectl(ctx)?;
    let Some(cred) = ctx.nsx.config().credentials.clone() else {
        return Err(ExecError::step(
            &step.id,
            "the VIOSecret needs the NSX user's password, and this run has no NSX username/password (NSX_USERNAME / NSX_PASSWORD or --password-file)",
        ));
    };
    let password = cred.password.expose();
    let cr = read_cr(kc, n).await?;
    let ns = cr.namespace.clone();
    let holds = secret_holds(kc, n, &ns, password).await?;
    if holds != Some(true) {
        let path = format!("/apis/{gv}/namespaces/{ns}/{}", n.secret_plural);
        let shown = json!({"apiVersion": gv, "kind": kind,
            "metadata": {"name": secret, "namespace": ns},
            "spec": {"data": {key: REDACTED}}});
        let (method, rec_path, rec_body) = match holds {
            None => ("POST", path.clone(), shown),
            Some(_) => (
                "PATCH",
                format!("{path}/{secret}"),
                json!({"spec": {"data": {key: REDACTED}}}),
            ),
        };
        let request = RecordedRequest {
            endpoint: Some("kubernetes".into()),
            method: method.into(),
            path: rec_path.clone(),
            body: Some(rec_body.clone()),
        };
        let describe = format!("{method} (kubernetes) {rec_path} {rec_body}");
        let send = async {
            let r = match holds {
                None => {
                    kc.create(&json!({"apiVersion": gv, "kind": kind,
                        "metadata": {"name": secret, "namespace": ns},
                        "spec": {"data": {key: password}}}))
                        .await
                }
                Some(_) => {
                    kc.patch_merge(
                        &n.secret_resource(),
                        &ns,
                        secret,
                        &json!({"spec": {"data": {key: password}}}),
                    )
                    .await
                }
            };
            // The answer carries the secret's data: only that it succeeded is kept.
            r.map(|_| Value::Null)
                .map_err(|e| to_client(e, method, &rec_path))
        };
        ctx.write_with(&step.id, "write_viosecret", request, describe, None, send)
            .await?;
        if !ctx.dry_run() && secret_holds(kc, n, &ns, password).await? != Some(true) {
            return Err(ExecError::step(
                &step.id,
                format!("{ns}/{secret} read back does not hold the NSX password"),
            ));
        }
    }
    let user = cred.username.as_str();
    if !cr.references_secret(user) {
        let patch = json!({"spec": {"conf": {"plugins": {"nsxp": {
            "nsx_api_user": user, "password_ref": secret_ref(n)}}}}});
        patch_cr(ctx, kc, n, &cr, &step.id, patch).await?;
        if !ctx.dry_run() && !read_cr(kc, n).await?.references_secret(user) {
            return Err(ExecError::step(
                &step.id,
                format!(
                    "{}/{} read back does not reference {secret}",
                    cr.namespace, cr.name
                ),
            ));
        }
    }
    ctx.step_done(
        &step.id,
        Some(format!(
            "{ns}/{secret} holds the NSX password; {}/{} references it",
            cr.namespace, cr.name
        )),
    )
}

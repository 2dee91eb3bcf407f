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
//! `vio_policy_plugin`).

use std::sync::Arc;

use client::{ClientError, Kubectl, KubectlError};
use plan_schema::KindPhase;
use plan_schema::journal::RecordedRequest;
use plan_schema::vio::{Action, Phase, Plan, Step, VioReconfig, VioTask};
use serde_json::{Value, json};

use crate::ApplyOptions;
use crate::ctx::Ctx;
use crate::error::ExecError;
use crate::exit::ExitCode;
use crate::kind::Flow;
use crate::observe::Stage;
use crate::progress::STEP_OP;

/// The API group and version of VIO's custom resources.
pub const GROUP_VERSION: &str = "vio.vmware.com/v1alpha1";
/// The Neutron custom resource's plural (as kubectl names it, with its group).
pub const NEUTRON_RES: &str = "neutrons.vio.vmware.com";
/// The VIOSecret custom resource.
pub const SECRET_RES: &str = "viosecrets.vio.vmware.com";
/// The VIOSecret this phase writes the NSX password into (in the resource's namespace).
pub const NSXP_SECRET: &str = "neutron-nsxp-secret";
/// Its key.
pub const NSXP_SECRET_KEY: &str = "nsxp_password";
/// Neutron's `core_plugin` for the NSX Policy plugin.
pub const POLICY_PLUGIN: &str = "vmware_nsx.plugin.NsxPolicyPlugin";
/// What the journal shows instead of the password.
const REDACTED: &str = "<the password of this run's NSX user; not journaled>";

/// Seed errors of this phase.
pub const CR_UNREADABLE: u32 = 2001;
pub const CR_UNPARSABLE: u32 = 2002;
pub const CR_INVALID: u32 = 2003;
pub const CR_UPDATE_FAILED: u32 = 2004;

/// The Neutron custom resource as this phase reads it.
#[derive(Debug, Clone)]
pub struct NeutronCr {
    pub namespace: String,
    pub name: String,
    pub object: Value,
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
            && self.str_at("/spec/conf/neutron/DEFAULT/core_plugin") == Some(POLICY_PLUGIN)
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
            && self.object.pointer("/spec/conf/plugins/nsxp/password_ref") == Some(&secret_ref())
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
    fn path(&self) -> String {
        format!(
            "/apis/{GROUP_VERSION}/namespaces/{}/neutrons/{}",
            self.namespace, self.name
        )
    }
}

fn secret_ref() -> Value {
    json!({"kind": "VIOSecret", "name": NSXP_SECRET, "key": NSXP_SECRET_KEY})
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
pub async fn read_cr(kc: &Kubectl) -> Result<NeutronCr, ExecError> {
    let raw = kc
        .get_raw(&format!("/apis/{GROUP_VERSION}/neutrons"))
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
                "seed error {CR_UNPARSABLE}: expected exactly one {NEUTRON_RES} resource, found {}",
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
    })
}

/// Whether the VIOSecret holds `password` (compared in memory; nothing of it is kept).
pub async fn secret_holds(
    kc: &Kubectl,
    ns: &str,
    password: &str,
) -> Result<Option<bool>, ExecError> {
    let raw = kc
        .get_raw(&format!(
            "/apis/{GROUP_VERSION}/namespaces/{ns}/viosecrets?fieldSelector=metadata.name%3D{NSXP_SECRET}"
        ))
        .await?;
    let list: Value = serde_json::from_slice(&raw).map_err(|e| {
        ExecError::step(
            Phase::VioReconfig.as_str(),
            format!("the VIOSecret list of {ns} is not JSON: {e}"),
        )
    })?;
    let found = list
        .get("items")
        .and_then(Value::as_array)
        .and_then(|items| {
            items
                .iter()
                .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(NSXP_SECRET))
        });
    Ok(found.map(|o| {
        o.pointer(&format!("/spec/data/{NSXP_SECRET_KEY}"))
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
            VioTask::VioSecret => vio_secret(ctx, step).await,
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
fn switch_patch(nsx_manager: &str) -> Value {
    json!({"spec": {
        "manifests": {"nsxv": false, "nsxp": true},
        "conf": {
            "neutron": {"DEFAULT": {"core_plugin": POLICY_PLUGIN}},
            "plugins": {"nsxp": {"nsx_api_managers": nsx_manager}}
        }
    }})
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
    let cr = read_cr(kc).await?;
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
    let patch = switch_patch(mgr);
    let path = cr.path();
    let request = RecordedRequest {
        endpoint: Some("kubernetes".into()),
        method: "PATCH".into(),
        path: path.clone(),
        body: Some(patch.clone()),
    };
    let describe = format!("PATCH (kubernetes) {path} {patch}");
    let send = async {
        kc.patch_merge(NEUTRON_RES, &cr.namespace, &cr.name, &patch)
            .await
            .map_err(|e| to_client(e, "PATCH", &path))
    };
    ctx.write_with(&step.id, "patch_neutron_cr", request, describe, None, send)
        .await?;
    if ctx.dry_run() {
        return Ok(());
    }
    let back = read_cr(kc).await?;
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

async fn vio_secret(ctx: &Arc<Ctx>, step: &Step) -> Result<(), ExecError> {
    let kc = kubectl(ctx)?;
    let Some(cred) = ctx.nsx.config().credentials.clone() else {
        return Err(ExecError::step(
            &step.id,
            "the VIOSecret needs the NSX user's password, and this run has no NSX username/password (NSX_USERNAME / NSX_PASSWORD or --password-file)",
        ));
    };
    let password = cred.password.expose();
    let cr = read_cr(kc).await?;
    let ns = cr.namespace.clone();
    let holds = secret_holds(kc, &ns, password).await?;
    if holds != Some(true) {
        let path = format!("/apis/{GROUP_VERSION}/namespaces/{ns}/viosecrets");
        let shown = json!({"apiVersion": GROUP_VERSION, "kind": "VIOSecret",
            "metadata": {"name": NSXP_SECRET, "namespace": ns},
            "spec": {"data": {NSXP_SECRET_KEY: REDACTED}}});
        let (method, rec_path, rec_body) = match holds {
            None => ("POST", path.clone(), shown),
            Some(_) => (
                "PATCH",
                format!("{path}/{NSXP_SECRET}"),
                json!({"spec": {"data": {NSXP_SECRET_KEY: REDACTED}}}),
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
                    kc.create(&json!({"apiVersion": GROUP_VERSION, "kind": "VIOSecret",
                        "metadata": {"name": NSXP_SECRET, "namespace": ns},
                        "spec": {"data": {NSXP_SECRET_KEY: password}}}))
                        .await
                }
                Some(_) => {
                    kc.patch_merge(
                        SECRET_RES,
                        &ns,
                        NSXP_SECRET,
                        &json!({"spec": {"data": {NSXP_SECRET_KEY: password}}}),
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
        if !ctx.dry_run() && secret_holds(kc, &ns, password).await? != Some(true) {
            return Err(ExecError::step(
                &step.id,
                format!("{ns}/{NSXP_SECRET} read back does not hold the NSX password"),
            ));
        }
    }
    let user = cred.username.as_str();
    if !cr.references_secret(user) {
        let patch = json!({"spec": {"conf": {"plugins": {"nsxp": {
            "nsx_api_user": user, "password_ref": secret_ref()}}}}});
        let path = cr.path();
        let request = RecordedRequest {
            endpoint: Some("kubernetes".into()),
            method: "PATCH".into(),
            path: path.clone(),
            body: Some(patch.clone()),
        };
        let describe = format!("PATCH (kubernetes) {path} {patch}");
        let send = async {
            kc.patch_merge(NEUTRON_RES, &cr.namespace, &cr.name, &patch)
                .await
                .map(|_| Value::Null)
                .map_err(|e| to_client(e, "PATCH", &path))
        };
        ctx.write_with(&step.id, "patch_neutron_cr", request, describe, None, send)
            .await?;
        if !ctx.dry_run() && !read_cr(kc).await?.references_secret(user) {
            return Err(ExecError::step(
                &step.id,
                format!(
                    "{}/{} read back does not reference {NSXP_SECRET}",
                    cr.namespace, cr.name
                ),
            ));
        }
    }
    ctx.step_done(
        &step.id,
        Some(format!(
            "{ns}/{NSXP_SECRET} holds the NSX password; {}/{} references it",
            cr.namespace, cr.name
        )),
    )
}

//! The VIO reconfiguration phase against the VIO simulator's Kubernetes API, through the real
//! kubectl: the Neutron custom resource switched to the Policy plugin and read back, the NSX
//! password in a VIOSecret (never in the journal or the log), the operator task that stops the
//! run until `--confirm-task`, a re-run that sends nothing, a resource already switched out of
//! band adopted without a write, and a resource in an unexpected state refused (seed 2003).
//!
//! The plans are the clean example's, cut down to the reconfiguration steps (resealed), so the
//! earlier phases do not run: each test costs a few kubectl calls.

use std::path::PathBuf;

use executor::client::Kubectl;
use executor::{ApplyOptions, ExitCode};
use plan_schema::vio::{Phase, Plan};
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;
use planner::vio::{VioPlanOptions, build_vio_plan};
use serde_json::{Value, json};
use simulator::SimHandle;

use crate::common::apply_opts;

fn clean_inventory() -> PathBuf {
    test_support::repo_root().join("examples/inventories/vio-small-clean")
}

/// The clean example's plan with only the steps of `phases`, resealed.
pub fn plan_of_phases(phases: &[Phase]) -> Plan {
    let snap = VioSnapshot::load(&clean_inventory()).expect("snapshot loads");
    let mut plan = build_vio_plan(
        &snap,
        &VioRules::builtin(),
        &VioPlanOptions {
            created_at: "2026-12-01T10:00:00Z".into(),
            tool_version: "test".into(),
            deployment: None,
            rules_source: None,
            inventory_source: Some("examples/inventories/vio-small-clean".into()),
        },
    )
    .expect("plan builds");
    plan.steps.retain(|s| phases.contains(&s.phase));
    let kept: std::collections::BTreeSet<String> =
        plan.steps.iter().map(|s| s.id.clone()).collect();
    for s in &mut plan.steps {
        s.depends_on.retain(|d| kept.contains(d));
    }
    plan.summary = plan.computed_summary();
    plan_schema::seal::seal(&mut plan);
    plan
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub h: SimHandle,
    pub plan_path: PathBuf,
    pub plan: Plan,
    pub state: PathBuf,
    pub kubeconfig: PathBuf,
}

pub async fn fixture(phases: &[Phase]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let h = test_support::start_vio_sim(&clean_inventory(), None).await;
    let plan = plan_of_phases(phases);
    let plan_path = dir.path().join("plan.toml");
    std::fs::write(
        &plan_path,
        plan_schema::write::to_toml(&plan, None).unwrap(),
    )
    .unwrap();
    let kubeconfig = test_support::kubeconfig(&h, dir.path());
    let state = dir.path().join("state");
    Fixture {
        dir,
        h,
        plan_path,
        plan,
        state,
        kubeconfig,
    }
}

impl Fixture {
    pub fn kubectl(&self) -> Kubectl {
        Kubectl {
            kubeconfig: Some(self.kubeconfig.clone()),
            cache_dir: Some(self.dir.path().join("kube-cache")),
            ..Kubectl::default()
        }
    }

    pub fn opts(&self) -> ApplyOptions {
        let mut o = apply_opts(&self.h, &self.plan_path, &self.state);
        o.kubectl = Some(self.kubectl());
        o.openstack = Some(crate::vio_apply::openstack(&self.h, self.dir.path()));
        o
    }

    pub async fn cr(&self) -> Value {
        executor::vio::reconfig::read_cr(&self.kubectl())
            .await
            .unwrap()
            .object
    }

    /// Writes the simulator's Kubernetes API received (PATCH, POST, PUT, DELETE).
    pub fn k8s_writes(&self) -> Vec<String> {
        self.h
            .request_log()
            .iter()
            .filter(|r| r["api"] == "k8s" && r["method"] != "GET")
            .map(|r| format!("{} {}", r["method"], r["path"]))
            .collect()
    }

    /// Everything the run wrote to its state directory.
    pub fn state_text(&self) -> String {
        let mut out = String::new();
        for e in std::fs::read_dir(&self.state).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            }
        }
        out
    }
}

fn assert_switched(cr: &Value) {
    assert_eq!(
        cr.pointer("/spec/manifests/nsxp"),
        Some(&json!(true)),
        "{cr}"
    );
    assert_eq!(
        cr.pointer("/spec/manifests/nsxv"),
        Some(&json!(false)),
        "{cr}"
    );
    assert_eq!(
        cr.pointer("/spec/conf/neutron/DEFAULT/core_plugin"),
        Some(&json!("vmware_nsx.plugin.NsxPolicyPlugin"))
    );
    assert_eq!(
        cr.pointer("/spec/conf/plugins/nsxp/password_ref/name"),
        Some(&json!("neutron-nsxp-secret"))
    );
    // The NSX-V settings stay, for reference (seed).
    assert!(cr.pointer("/spec/conf/plugins/nsxv/manager_uri").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_neutron_cr_is_switched_and_the_operator_task_waits_for_its_confirmation() {
    let f = fixture(&[Phase::VioReconfig]).await;
    let before = f.cr().await;
    assert_eq!(before.pointer("/spec/manifests/nsxv"), Some(&json!(true)));

    // First run: the resource and the secret are written, then the database rename (an
    // operator task) stops the run.
    let out = executor::apply(&f.opts()).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("--confirm-task vio-reconfig/database"),
        "{}",
        out.message
    );
    assert_switched(&f.cr().await);
    let writes = f.k8s_writes();
    assert_eq!(
        writes,
        [
            "\"PATCH\" \"/apis/vio.vmware.com/v1alpha1/namespaces/openstack/neutrons/neutron-6f8d4\"",
            "\"POST\" \"/apis/vio.vmware.com/v1alpha1/namespaces/openstack/viosecrets\"",
            "\"PATCH\" \"/apis/vio.vmware.com/v1alpha1/namespaces/openstack/neutrons/neutron-6f8d4\"",
        ],
        "one patch to switch, one create of the secret, one patch to reference it"
    );
    // The secret holds the password; the journal and the log do not.
    let secret = executor::vio::reconfig::secret_holds(
        &f.kubectl(),
        "openstack",
        simulator::DEFAULT_PASSWORD,
    )
    .await
    .unwrap();
    assert_eq!(secret, Some(true));
    assert!(f.state.join("journal.jsonl").exists());
    let text = f.state_text();
    assert!(
        !text.contains(simulator::DEFAULT_PASSWORD),
        "password in the state dir"
    );
    assert!(text.contains("patch_neutron_cr"), "the patch is journaled");

    // A confirmation of a step that is no operator task is refused, nothing sent.
    let mut o = f.opts();
    o.confirm_tasks = vec!["vio-reconfig/neutron-cr".into()];
    let e = executor::apply(&o).await.unwrap_err();
    assert!(e.to_string().contains("not an operator task"), "{e}");

    // Second run with the confirmation: journaled, done, nothing more written.
    let mut o = f.opts();
    o.confirm_tasks = vec!["vio-reconfig/database".into()];
    let out = executor::apply(&o).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(f.k8s_writes().len(), 3);
    assert!(f.state_text().contains("confirmed with --confirm-task"));

    // Third run: everything is journaled as done; nothing is sent.
    let out = executor::apply(&f.opts()).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(out.writes_sent, 0);
    assert_eq!(f.k8s_writes().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_switched_already_is_adopted_and_an_unexpected_one_is_refused() {
    let f = fixture(&[Phase::VioReconfig]).await;
    let kc = f.kubectl();
    // Out of band (a killed run whose patch landed): switched, secret written and referenced.
    kc.patch_merge(
        "neutrons.vio.vmware.com",
        "openstack",
        "neutron-6f8d4",
        &json!({"spec": {"manifests": {"nsxv": false, "nsxp": true},
            "conf": {"neutron": {"DEFAULT": {"core_plugin": "vmware_nsx.plugin.NsxPolicyPlugin"}},
                     "plugins": {"nsxp": {"nsx_api_managers": f.plan.target.nsx_manager,
                        "nsx_api_user": simulator::DEFAULT_USERNAME,
                        "password_ref": {"kind": "VIOSecret", "name": "neutron-nsxp-secret", "key": "nsxp_password"}}}}}}),
    )
    .await
    .unwrap();
    kc.create(
        &json!({"apiVersion": "vio.vmware.com/v1alpha1", "kind": "VIOSecret",
        "metadata": {"name": "neutron-nsxp-secret", "namespace": "openstack"},
        "spec": {"data": {"nsxp_password": simulator::DEFAULT_PASSWORD}}}),
    )
    .await
    .unwrap();
    let before = f.k8s_writes().len();
    let mut o = f.opts();
    o.confirm_tasks = vec!["vio-reconfig/database".into()];
    let out = executor::apply(&o).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(f.k8s_writes().len(), before, "read back, nothing sent");
    assert!(f.state_text().contains("already on the Policy plugin"));

    // Another deployment whose resource has a second plugin on: seed 2003, nothing patched.
    let g = fixture(&[Phase::VioReconfig]).await;
    g.kubectl()
        .patch_merge(
            "neutrons.vio.vmware.com",
            "openstack",
            "neutron-6f8d4",
            &json!({"spec": {"manifests": {"nsxt": true}}}),
        )
        .await
        .unwrap();
    let before = g.k8s_writes().len();
    let out = executor::apply(&g.opts()).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(out.message.contains("2003"), "{}", out.message);
    assert_eq!(g.k8s_writes().len(), before);
}

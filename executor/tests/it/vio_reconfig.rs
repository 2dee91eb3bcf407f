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
use executor::{ApplyOptions, AuditReport, ExitCode};
use plan_schema::vio::{Phase, Plan};
use planner::vio::rules::VioRules;
use serde_json::{Value, json};
use simulator::SimHandle;

use crate::common::apply_opts;
use crate::vio_common::{
    CLEAN_SOURCE, build_plan, clean_inventory, openstack, reseal, save_plan_in, start_sim,
};

/// The clean example's plan, planned with `rules`, with only the steps of `phases`, resealed.
pub fn plan_of_phases_with(phases: &[Phase], rules: &VioRules) -> Plan {
    let mut plan = build_plan(&clean_inventory(), rules, Some(CLEAN_SOURCE));
    plan.steps.retain(|s| phases.contains(&s.phase));
    let kept: std::collections::BTreeSet<String> =
        plan.steps.iter().map(|s| s.id.clone()).collect();
    for s in &mut plan.steps {
        s.depends_on.retain(|d| kept.contains(d));
    }
    reseal(&mut plan);
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
    fixture_with(phases, &VioRules::builtin()).await
}

pub async fn fixture_with(phases: &[Phase], rules: &VioRules) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let h = start_sim(&clean_inventory(), dir.path(), None).await;
    let plan = plan_of_phases_with(phases, rules);
    let plan_path = save_plan_in(dir.path(), &plan);
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
        o.openstack = Some(openstack(&self.h, self.dir.path()));
        o
    }

    pub async fn cr(&self) -> Value {
        executor::vio::reconfig::read_cr(&self.kubectl(), &self.plan.requirements.reconfig)
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

    /// `audit` of `plan` through `kc`, asserted to have written nothing.
    pub async fn audit_read_only(&self, plan: &plan_schema::AnyPlan, kc: &Kubectl) -> AuditReport {
        let from = self.h.request_log().len();
        let report = executor::audit(
            plan,
            &crate::common::nsx_config(&self.h),
            &Default::default(),
            Some(kc),
        )
        .await
        .unwrap();
        assert_eq!(writes_since(&self.h, from), Vec::<String>::new());
        report
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
        &f.plan.requirements.reconfig,
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

/// The names the reconfiguration uses are rules (`[reconfig]`): a user's file overriding the
/// secret's name and the plugin class gives a plan carrying them, and apply writes those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secret_name_and_plugin_class_come_from_the_rules_through_the_plan() {
    let rules = VioRules::merge_text(
        "[reconfig]\nsecret_name = \"nsx-policy-cred\"\npolicy_plugin = \"site.plugins.PolicyV2\"\n",
        std::path::Path::new("site-rules.toml"),
    )
    .unwrap();
    let f = fixture_with(&[Phase::VioReconfig], &rules).await;
    let names: &plan_schema::vio::ReconfigNames = &f.plan.requirements.reconfig;
    assert_eq!(names.secret_name, "nsx-policy-cred");
    assert_eq!(names.policy_plugin, "site.plugins.PolicyV2");
    assert_eq!(
        names.secret_key, "nsxp_password",
        "the rest keep the defaults"
    );
    // The sealed plan shows them to the reviewer and reads back with them.
    let text = std::fs::read_to_string(&f.plan_path).unwrap();
    assert!(text.contains("[requirements.reconfig]"), "{text}");
    assert!(text.contains("nsx-policy-cred"), "{text}");
    let back: Plan =
        plan_schema::read::read_plan_file_of::<plan_schema::vio::VioV2t>(&f.plan_path).unwrap();
    assert_eq!(*back.requirements.reconfig, *names);

    let out = executor::apply(&f.opts()).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    let cr = f.cr().await;
    assert_eq!(
        cr.pointer("/spec/conf/neutron/DEFAULT/core_plugin"),
        Some(&json!("site.plugins.PolicyV2")),
        "{cr}"
    );
    assert_eq!(
        cr.pointer("/spec/conf/plugins/nsxp/password_ref/name"),
        Some(&json!("nsx-policy-cred")),
        "{cr}"
    );
    let holds = |n| {
        let kc = f.kubectl();
        async move {
            executor::vio::reconfig::secret_holds(&kc, &n, "openstack", simulator::DEFAULT_PASSWORD)
                .await
                .unwrap()
        }
    };
    assert_eq!(holds(names.clone()).await, Some(true));
    assert_eq!(
        holds(plan_schema::vio::ReconfigNames::default()).await,
        None,
        "no secret of the default name was written"
    );
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

/// Writes any API of the simulator received since `from` (the NSX session login aside).
fn writes_since(h: &SimHandle, from: usize) -> Vec<String> {
    h.request_log()
        .iter()
        .skip(from)
        // Logins are no changes: NSX's session, Keystone's token.
        .filter(|r| {
            r["method"] != "GET"
                && r["path"] != "/api/session/create"
                && r["path"] != "/v3/auth/tokens"
        })
        .map(|r| format!("{} {} {}", r["api"], r["method"], r["path"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_only_what_the_migration_left_and_audit_is_clean_after_and_read_only() {
    let f = fixture(&[Phase::VioReconfig, Phase::PostCleanup]).await;
    let nsx = executor::client::NsxClient::new(crate::common::nsx_config(&f.h)).unwrap();
    let tags = |extra: Value| json!([{"scope": "os-project-id", "tag": "p1"}, extra]);
    // What the coordinator and the migration leave: a v_origin DFW policy, a port without
    // os-api-version on a Neutron segment; and what must stay.
    for (path, body) in [
        (
            "/policy/api/v1/infra/domains/default/security-policies/mc-section-1",
            json!({"display_name": "mc-section-1", "category": "Application", "tags": [{"scope": "v_origin", "tag": "1001"}]}),
        ),
        (
            "/policy/api/v1/infra/domains/default/security-policies/user-policy",
            json!({"display_name": "user-policy", "category": "Application"}),
        ),
        (
            "/policy/api/v1/infra/segments/neutron-net-1",
            json!({"display_name": "net-1", "tags": tags(json!({"scope": "os-api-version", "tag": "3.2"}))}),
        ),
        (
            "/policy/api/v1/infra/segments/neutron-net-1/ports/mc-port",
            json!({"display_name": "mc-port"}),
        ),
        (
            "/policy/api/v1/infra/segments/neutron-net-1/ports/neutron-port",
            json!({"display_name": "neutron-port", "tags": tags(json!({"scope": "os-api-version", "tag": "3.2"}))}),
        ),
        (
            "/policy/api/v1/infra/segments/other/ports/other-port",
            json!({"display_name": "other-port"}),
        ),
    ] {
        if path.ends_with("/other/ports/other-port") {
            nsx.send(
                executor::client::Request::new(
                    executor::client::Method::PATCH,
                    "/policy/api/v1/infra/segments/other",
                )
                .json(json!({"display_name": "other"})),
            )
            .await
            .unwrap();
        }
        nsx.send(executor::client::Request::new(executor::client::Method::PATCH, path).json(body))
            .await
            .unwrap();
    }
    f.kubectl()
        .patch_merge(
            "neutrons.vio.vmware.com",
            "openstack",
            "neutron-6f8d4",
            &json!({"spec": {"conf": {"neutron": {"DEFAULT": {"api_replay_mode": true}}}}}),
        )
        .await
        .unwrap();
    let parsed = plan_schema::read_plan_file(&f.plan_path).unwrap();
    let kc = f.kubectl();

    // Before: every step still to do; nothing written by the audit.
    let report = f.audit_read_only(&parsed, &kc).await;
    assert!(!report.is_clean(), "{}", report.render());
    assert_eq!(
        report.counts.get("pending"),
        Some(&6),
        "{}",
        report.render()
    );
    assert!(
        report.render().contains("plugins on [\"nsxv\"]"),
        "{}",
        report.render()
    );

    let mut o = f.opts();
    o.confirm_tasks = vec!["vio-reconfig/database".into()];
    let out = executor::apply(&o).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    for (path, kept) in [
        (
            "/policy/api/v1/infra/domains/default/security-policies/mc-section-1",
            false,
        ),
        (
            "/policy/api/v1/infra/domains/default/security-policies/user-policy",
            true,
        ),
        (
            "/policy/api/v1/infra/segments/neutron-net-1/ports/mc-port",
            false,
        ),
        (
            "/policy/api/v1/infra/segments/neutron-net-1/ports/neutron-port",
            true,
        ),
        ("/policy/api/v1/infra/segments/other/ports/other-port", true),
    ] {
        assert_eq!(nsx.get(path).await.is_ok(), kept, "{path}");
    }
    assert!(
        f.cr()
            .await
            .pointer("/spec/conf/neutron/DEFAULT/api_replay_mode")
            .is_none()
    );

    // After: clean, and still read-only.
    let report = f.audit_read_only(&parsed, &kc).await;
    assert!(report.is_clean(), "{}", report.render());

    // A re-run sends nothing.
    let from = f.h.request_log().len();
    let out = executor::apply(&f.opts()).await.unwrap();
    assert_eq!(out.exit_code, ExitCode::Success, "{}", out.message);
    assert_eq!(out.writes_sent, 0);
    let w: Vec<String> = writes_since(&f.h, from)
        .into_iter()
        .filter(|w| !w.contains("nsx-migrate-lock"))
        .collect();
    assert_eq!(w, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_of_the_whole_plan_before_the_migration_lists_what_is_to_do() {
    let f = fixture(<Phase as plan_schema::KindPhase>::ALL).await;
    let parsed = plan_schema::read_plan_file(&f.plan_path).unwrap();
    let report = f.audit_read_only(&parsed, &f.kubectl()).await;
    assert!(!report.is_clean());
    assert_eq!(
        report.counts.get("pending"),
        Some(&f.plan.steps.len()),
        "{}",
        report.render()
    );
    assert!(
        report.render().contains("migration coordinator: mode"),
        "{}",
        report.render()
    );
    let j = serde_json::to_value(&report).unwrap();
    assert_eq!(j["steps"].as_array().unwrap().len(), f.plan.steps.len());
}

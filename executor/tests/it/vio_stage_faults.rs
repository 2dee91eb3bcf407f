//! The fault matrix of the VIO stages outside the window (issue 15): the API replay, the VIO
//! reconfiguration, the post-migration cleanup and audit, each against HTTP 5xx / 4xx, a
//! connection reset and a hang past the client's timeout, on plans cut down to the stage
//! (`vio_reconfig::plan_of_phases_with`), so each case costs one stage. Each case asserts the
//! exit code, the seed code in the message and that nothing was changed after the fault but
//! what the stage's failure rule sends (the replay's rollback). The window's stages are in
//! `vio_window` (`fault_matrix_*`); docs/recovery.md has the whole table.

use std::time::Duration;

use executor::client::{OpenStackClient, ServiceConfig};
use executor::{ExitCode, OnImportFailure};
use plan_schema::vio::Phase;
use planner::vio::rules::VioRules;
use serde_json::{Value, json};
use simulator::SimHandle;

use crate::common::{add_fault, full_log, sim_control};
use crate::vio_common::{is_change_with, openstack_with, quick_retry};
use crate::vio_reconfig::{Fixture, fixture, fixture_with};

/// An OpenStack client that gives up on a hung request after 1.5 s, retrying once.
fn openstack_quick(h: &SimHandle, dir: &std::path::Path) -> OpenStackClient {
    openstack_with(
        h,
        dir,
        ServiceConfig {
            retry: quick_retry(),
            timeout: Duration::from_millis(1500),
            ..ServiceConfig::default()
        },
    )
}

fn rule(method: &str, path: &str, action: Value) -> Value {
    let mut r = json!({"method": method, "path": path, "name": "the-fault"});
    for (k, v) in action.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

fn status(s: u16) -> Value {
    json!({"action": "status", "status": s})
}

/// Changes (NSX, replay target, Kubernetes) logged after the faulted request, other than its own
/// retries: `(method path)`. None when the fault was never answered (a hang is not logged).
fn changed_after_fault(h: &SimHandle) -> Option<Vec<String>> {
    let log = full_log(h);
    let at = log.iter().find(|r| r["fault"] == "the-fault")?;
    let seq = at["seq"].as_u64().unwrap();
    let faulted = (at["method"].clone(), at["path"].clone());
    Some(
        log.iter()
            .filter(|r| r["seq"].as_u64().unwrap() > seq)
            // The simulator's control endpoint counts here (as it always did in this module).
            .filter(|r| is_change_with(r, true))
            .filter(|r| (r["method"].clone(), r["path"].clone()) != faulted)
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect(),
    )
}

/// API replay: the seed's rule on failure (what this plan created removed newest first, seed
/// 2112, exit 2); after the fault only the rollback's removals are sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_api_replay() {
    let cases = [
        (
            "5xx",
            rule("POST", "/target-network/v2.0/ports", status(500)),
        ),
        (
            "4xx",
            rule("POST", "/target-network/v2.0/subnets", status(400)),
        ),
        (
            "reset",
            rule(
                "POST",
                "/target-network/v2.0/security-groups",
                json!({"action": "reset"}),
            ),
        ),
        (
            "hang",
            rule(
                "POST",
                "/target-network/v2.0/routers",
                json!({"action": "hang"}),
            ),
        ),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, r)| {
            tokio::spawn(async move {
                let f = fixture(&[Phase::Replay]).await;
                add_fault(&f.h, r).await;
                let mut o = f.opts();
                o.openstack = Some(openstack_quick(&f.h, f.dir.path()));
                o.concurrency = Some(1);
                o.on_import_failure = OnImportFailure::Rollback;
                let out = executor::apply(&o).await.expect("not refused");
                assert_eq!(
                    out.exit_code,
                    ExitCode::RolledBack,
                    "{name}: {}",
                    out.message
                );
                assert!(out.message.contains("2112"), "{name}: {}", out.message);
                if let Some(after) = changed_after_fault(&f.h) {
                    let created: Vec<&String> = after
                        .iter()
                        .filter(|l| l.starts_with("POST ") || l.starts_with("PATCH "))
                        .collect();
                    assert!(
                        created.is_empty(),
                        "{name}: created after the fault: {after:#?}"
                    );
                }
                // Nothing of the plan is left on the target.
                for (path, key) in [
                    ("/v2.0/networks", "networks"),
                    ("/v2.0/routers", "routers"),
                    ("/v2.0/security-groups", "security_groups"),
                ] {
                    let left = f
                        .opts()
                        .openstack
                        .unwrap()
                        .list_all("network-replay", path, key)
                        .await
                        .unwrap();
                    let ours = left.iter().filter(|x| x["name"] != "default").count();
                    assert_eq!(ours, 0, "{name}: {path} left: {left:#?}");
                }
            })
        })
        .collect();
    for r in runs {
        r.await.expect("case passed");
    }
}

/// The VIO reconfiguration (kubectl): every failure stops with exit 1 and seed 2004; the step
/// after the failed one is not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_vio_reconfiguration() {
    const CR: &str = "/apis/vio.vmware.com/v1alpha1/namespaces/openstack/neutrons/*";
    const SECRETS: &str = "/apis/vio.vmware.com/v1alpha1/namespaces/openstack/viosecrets";
    let cases = [
        ("5xx", rule("PATCH", CR, status(500)), "POST"),
        ("4xx", rule("POST", SECRETS, status(403)), "PATCH"),
        (
            "reset",
            rule("PATCH", CR, json!({"action": "reset"})),
            "POST",
        ),
        ("hang", rule("PATCH", CR, json!({"action": "hang"})), "POST"),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, r, not_after)| {
            tokio::spawn(async move {
                let f = fixture(&[Phase::VioReconfig]).await;
                add_fault(&f.h, r).await;
                let mut o = f.opts();
                let mut kc = f.kubectl();
                kc.timeout = Duration::from_secs(2);
                o.kubectl = Some(kc);
                let out = executor::apply(&o).await.expect("not refused");
                assert_eq!(out.exit_code, ExitCode::Mixed, "{name}: {}", out.message);
                assert!(
                    out.message.contains("seed error 2004")
                        && out.message.contains("vio-reconfig/"),
                    "{name}: {}",
                    out.message
                );
                let writes = f.k8s_writes();
                if name == "4xx" {
                    // The switch went through; the secret was refused; no reference patched.
                    assert_eq!(
                        writes.iter().filter(|w| w.contains("PATCH")).count(),
                        1,
                        "{name}: {writes:#?}"
                    );
                } else {
                    assert!(
                        !writes.iter().any(|w| w.contains(not_after)),
                        "{name}: {writes:#?}"
                    );
                }
                assert!(
                    !f.state_text().contains(simulator::DEFAULT_PASSWORD),
                    "{name}: password in the state dir"
                );
            })
        })
        .collect();
    for r in runs {
        r.await.expect("case passed");
    }
}

/// Post-migration cleanup: a v_origin policy to remove; every failure stops with exit 1 (the
/// seed has no code for this stage) and nothing is deleted after the fault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_post_migration_cleanup() {
    const POLICIES: &str = "/policy/api/v1/infra/domains/default/security-policies";
    let cases = [
        ("5xx", rule("GET", POLICIES, status(500))),
        (
            "4xx",
            rule("DELETE", &format!("{POLICIES}/mc-section-1"), status(400)),
        ),
        (
            "reset",
            rule(
                "GET",
                "/policy/api/v1/infra/segments",
                json!({"action": "reset"}),
            ),
        ),
        ("hang", rule("GET", POLICIES, json!({"action": "hang"}))),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(name, r)| {
            tokio::spawn(async move {
                let f: Fixture = fixture(&[Phase::PostCleanup]).await;
                let mut cfg = crate::common::nsx_config(&f.h);
                let nsx = executor::client::NsxClient::new(cfg.clone()).unwrap();
                nsx.patch(
                    &format!("{POLICIES}/mc-section-1"),
                    &json!({"display_name": "mc-section-1", "category": "Application",
                        "tags": [{"scope": "v_origin", "tag": "1001"}]}),
                )
                .await
                .unwrap();
                add_fault(&f.h, r).await;
                cfg.retry = quick_retry();
                cfg.timeout = Duration::from_millis(1500);
                let mut o = f.opts();
                o.nsx = cfg;
                let out = executor::apply(&o).await.expect("not refused");
                assert_eq!(out.exit_code, ExitCode::Mixed, "{name}: {}", out.message);
                assert!(
                    out.message
                        .contains("post-migration cleanup failed at step post-cleanup/"),
                    "{name}: {}",
                    out.message
                );
                if let Some(after) = changed_after_fault(&f.h) {
                    assert_eq!(after, Vec::<String>::new(), "{name}");
                }
            })
        })
        .collect();
    for r in runs {
        r.await.expect("case passed");
    }
}

/// audit is read-only whatever fails: an NSX read that fails for good ends it with an error
/// (the CLI's exit 3), a Neutron custom resource that cannot be read is a note of the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_audit() {
    let f = fixture_with(<Phase as plan_schema::KindPhase>::ALL, &VioRules::builtin()).await;
    let parsed = plan_schema::read_plan_file(&f.plan_path).unwrap();
    let mut cfg = crate::common::nsx_config(&f.h);
    cfg.retry = quick_retry();
    cfg.timeout = Duration::from_millis(1500);
    let mut kc = f.kubectl();
    kc.timeout = Duration::from_secs(2);
    for (name, r, fails) in [
        (
            "5xx",
            rule("GET", "/policy/api/v1/infra/*", status(500)),
            true,
        ),
        (
            "4xx",
            rule("GET", "/policy/api/v1/infra/*", status(403)),
            true,
        ),
        (
            "reset",
            rule("GET", "/policy/api/v1/infra/*", json!({"action": "reset"})),
            true,
        ),
        (
            "hang",
            rule("GET", "/policy/api/v1/infra/*", json!({"action": "hang"})),
            true,
        ),
        (
            "Kubernetes 5xx",
            rule("GET", "/apis/vio.vmware.com/*neutrons*", status(500)),
            false,
        ),
    ] {
        let from = f.h.request_log().len();
        add_fault(&f.h, r).await;
        let res = executor::audit(&parsed, &cfg, &Default::default(), Some(&kc)).await;
        match (&res, fails) {
            (Err(e), true) => assert!(!e.to_string().is_empty(), "{name}"),
            (Ok(report), false) => assert!(
                report.render().contains("Neutron custom resource:"),
                "{name}: {}",
                report.render()
            ),
            _ => panic!("{name}: {:?}", res.map(|r| r.render())),
        }
        assert_eq!(
            crate::common::writes_since(&f.h, from),
            Vec::<Value>::new(),
            "{name}: audit wrote"
        );
        let c = sim_control(&f.h, reqwest::Method::DELETE, "/_sim/faults", None).await;
        assert!(c.status().is_success());
    }
}

//! Coordinator feedback the planner foresaw: the simulator's coordinator asks to confirm the
//! gateway of each distributed router of the edge cutover mapping (`confirm_dlr_gateways`);
//! the planner's plan answers it by category and object (`vertical`, `sub_vertical`, `object`
//! = the DLR's edge id); apply sends exactly that answer. An answer naming another object does
//! not match, and the run stops with the list, answering nothing.
//!
//! Each test stops before the host migration (no `--confirm-point-of-no-return`), so the
//! coordinator's feedback of the edge cutover run is still there to read.

use executor::{ApplyOptions, ExitCode};
use plan_schema::vio::{Action, EdgeCutover, Plan};
use planner::vio::rules::VioRules;
use serde_json::Value;
use simulator::SimHandle;

use crate::common::full_log;
use crate::vio_common::{
    VioFixture, build_plan, clean_inventory, reseal, started_by_apply, without_octavia,
};

/// Instant coordinator work, and the foreseeable per-DLR confirmation switched on.
const FAULTS: &str = "[migration.v2t]\nedge_s_per_dlr = 0\ndfw_s = 0\nhost_s_per_host = 0\nconfirm_dlr_gateways = true\n";

/// The clean example's plan from the built-in rules, without its Octavia steps (as in
/// `vio_window`), both runs started by apply, `edit` applied to the edge cutover, resealed.
fn plan(edit: impl FnOnce(&mut EdgeCutover)) -> Plan {
    let mut plan = build_plan(&clean_inventory(), &VioRules::builtin(), None);
    without_octavia(&mut plan);
    started_by_apply(&mut plan);
    if let Some(c) = plan.steps.iter_mut().find_map(|s| match &mut s.action {
        Action::EdgeCutover(c) => Some(c),
        _ => None,
    }) {
        edit(c);
    }
    reseal(&mut plan);
    plan
}

fn cutover(plan: &Plan) -> &EdgeCutover {
    plan.steps
        .iter()
        .find_map(|s| match &s.action {
            Action::EdgeCutover(c) => Some(c),
            _ => None,
        })
        .expect("the clean example has an edge cutover")
}

/// Apply `edit`'s plan against a fresh simulator without the host migration's confirmation.
async fn run(
    edit: impl FnOnce(&mut EdgeCutover),
) -> (tempfile::TempDir, SimHandle, Plan, executor::Outcome) {
    let f = VioFixture::builder()
        .faults(FAULTS)
        .start(|_| plan(edit))
        .await;
    let o: ApplyOptions = f.window_opts(false);
    let out = executor::apply(&o).await.expect("not refused");
    (f.dir, f.h, f.plan, out)
}

/// The bodies of the feedback answers apply sent.
fn feedback_puts(h: &SimHandle) -> Vec<Value> {
    full_log(h)
        .into_iter()
        .filter(|r| {
            r["method"] == "PUT"
                && r["path"].as_str() == Some("/api/v1/migration/feedback-response")
        })
        .map(|r| r["body"].clone())
        .collect()
}

fn coordinator_feedback(h: &SimHandle) -> Vec<Value> {
    h.state_dump()["migration"]["v2t"]["feedback"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_foreseen_by_category_and_object_is_answered_as_the_plan_says() {
    let (_dir, h, plan, out) = run(|_| {}).await;
    // The planner foresaw one confirmation per mapped DLR, answered with its mapped gateway.
    let c = cutover(&plan);
    assert!(!c.mapping.is_empty());
    assert!(!c.accept_recommended);
    for m in &c.mapping {
        let a = c
            .feedback
            .iter()
            .find(|f| f.object == m.v_edges[0])
            .unwrap_or_else(|| panic!("no foreseen answer for {:?}: {:?}", m.v_edges, c.feedback));
        assert_eq!(
            (
                a.request.as_str(),
                a.vertical.as_str(),
                a.sub_vertical.as_str()
            ),
            ("", "EDGE", "DLR_GATEWAY")
        );
        assert_eq!(
            (a.action.as_str(), a.value.as_deref()),
            ("map", Some(m.policy_gateway_name.as_str()))
        );
    }
    // The run went through the edge cutover and stopped only for the point of no return.
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("--confirm-point-of-no-return"),
        "{}",
        out.message
    );
    // The coordinator asked once per DLR; one answer went back per request, by its id.
    let asked = coordinator_feedback(&h);
    assert_eq!(asked.len(), c.mapping.len(), "{asked:#?}");
    let puts = feedback_puts(&h);
    assert_eq!(puts.len(), 1, "{puts:#?}");
    let sent = puts[0]["response_list"].as_array().unwrap();
    assert_eq!(sent.len(), asked.len(), "{sent:#?}");
    for item in &asked {
        assert_eq!(item["sub_vertical"], "DLR_GATEWAY");
        assert_eq!(item["resolved"], true, "{item}");
        let answer = sent
            .iter()
            .find(|a| a["id"] == item["id"])
            .expect("answered");
        assert_eq!(answer["action"], "map");
        assert_eq!(answer["value"], item["suggested_value"]);
        assert_eq!(
            item["resolution"],
            format!("map:{}", item["suggested_value"].as_str().unwrap())
        );
    }
    assert!(
        !full_log(&h).iter().any(|r| r["path"]
            .as_str()
            .is_some_and(|p| p.contains("accept-recommended"))),
        "nothing accepted wholesale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_for_another_object_does_not_match_and_the_run_stops_with_the_list() {
    let (_dir, h, plan, out) = run(|c| {
        for f in &mut c.feedback {
            f.object = format!("{}-elsewhere", f.object);
        }
    })
    .await;
    let c = cutover(&plan);
    assert_eq!(out.exit_code, ExitCode::Mixed, "{}", out.message);
    assert!(
        out.message.contains("feedback the plan does not answer")
            && out.message.contains("DLR_GATEWAY"),
        "{}",
        out.message
    );
    for m in &c.mapping {
        assert!(out.message.contains(&m.v_edges[0]), "{}", out.message);
    }
    assert!(feedback_puts(&h).is_empty(), "nothing answered");
    assert!(
        coordinator_feedback(&h)
            .iter()
            .all(|f| f["resolved"] == false),
        "every request still open"
    );
    assert!(!full_log(&h).iter().any(|r| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.contains("accept-recommended"))
    }));
}

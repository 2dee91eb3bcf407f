//! The migration coordinator's V2T modes as a VIO migration drives them, over real HTTP on
//! 127.0.0.1 with the `vio-small-clean` snapshot: setup and the mode conflict (with each other
//! and with the MP-to-Policy import), the edge cutover mapping upload, plan actions, status on the
//! virtual clock, feedback pause and response, host groups, rollback before and after host
//! migration, the seed's timeouts, faults, a restart with `--state-file`, and every response
//! whose type the 2.5.1 spec defines validated against it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonschema::{Draft, ValidatorMap};
use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle, Simulator};

use crate::common::{Client, assert_nsx_error};
use crate::spec_validation::{spec_path, strip_regex_delimiters};

const MODE_CONFLICT: i64 = 30530;
const SETUP_FAILED: i64 = 30531;
const INVALID_STATE: i64 = 30532;
const ROLLBACK_REFUSED: i64 = 30533;
const FEEDBACK_PENDING: i64 = 30534;

/// The distributed router of vio-small-clean and its DLR edge.
const DLR_ROUTER: &str = "6cb26f9a-b1e3-52fc-afab-d05c3ce7f5ed";
const DLR_EDGE: &str = "edge-2";

fn clean() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/vio-small-clean")
}

fn cfg(state_file: Option<&Path>) -> SimConfig {
    SimConfig {
        inventory: Some(clean()),
        state_file: state_file.map(Path::to_path_buf),
        ..SimConfig::default()
    }
}

async fn start(state_file: Option<&Path>) -> (SimHandle, Client) {
    let h = Simulator::start(cfg(state_file))
        .await
        .expect("simulator starts");
    let c = Client::new(&h);
    (h, c)
}

/// The 2.5.1 definitions; `migration_mode` gains the two modes later APIs added (2.5.1 predates
/// them: reference vio-v2t-anchors.md 3.1), every other constraint is the spec's own.
pub(crate) fn validators() -> &'static ValidatorMap {
    static MAP: std::sync::OnceLock<ValidatorMap> = std::sync::OnceLock::new();
    MAP.get_or_init(build_validators)
}

fn build_validators() -> ValidatorMap {
    let text = std::fs::read_to_string(spec_path()).expect("the 2.5.1 spec is readable");
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    strip_regex_delimiters(&mut spec);
    let modes =
        &mut spec["definitions"]["MigrationSetupInfo"]["properties"]["migration_mode"]["enum"];
    let list = modes.as_array_mut().expect("2.5.1 lists migration modes");
    list.push(json!("EDGE_CUTOVER"));
    list.push(json!("DFW_AND_HOST_AND_WORKLOAD"));
    let doc = json!({ "definitions": spec["definitions"] });
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .build_map(&doc)
        .expect("spec definitions compile")
}

pub(crate) fn valid(map: &ValidatorMap, ty: &str, v: &Value) {
    let val = map
        .get(&format!("#/definitions/{ty}"))
        .unwrap_or_else(|| panic!("no definition {ty}"));
    let errs: Vec<String> = val
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{ty} invalid: {errs:?}\n{v}");
}

fn host(h: &SimHandle) -> String {
    h.addr().ip().to_string()
}

/// An NSX-V auth token from the simulated NSX-V (basic auth), valid `minutes`.
async fn nsxv_token(c: &Client, minutes: u32) -> String {
    let resp = c
        .http
        .post(format!(
            "{}/api/2.0/services/auth/token?expiresInMinutes={minutes}",
            c.base
        ))
        .basic_auth(&c.user, Some(&c.pass))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["value"].as_str().unwrap().to_string()
}

fn setup_body(h: &SimHandle, mode: &str, token: &str) -> Value {
    json!({
        "source_nsx": [{"vc_ip": host(h), "vc_username": simulator::DEFAULT_USERNAME,
                        "vc_password": simulator::DEFAULT_PASSWORD, "ip": host(h), "auth_token": token}],
        "destination_nsx": {"destination_nsx_ip": host(h), "destination_nsx_username": simulator::DEFAULT_USERNAME,
                            "destination_nsx_password": simulator::DEFAULT_PASSWORD},
        "migration_mode": mode,
        "create_segment_ports": true,
    })
}

async fn setup(h: &SimHandle, c: &Client, mode: &str) -> String {
    let token = nsxv_token(c, 1440).await;
    let (s, v) = c
        .put("/api/v1/migration/setup", &setup_body(h, mode, &token))
        .await;
    assert_eq!(s, 200, "{v}");
    valid(validators(), "MigrationSetupInfo", &v);
    assert!(!v.to_string().contains(&token), "{v}");
    token
}

async fn upload(c: &Client, file_type: &str, content: &[u8]) -> (u16, Value) {
    let b = "sim-boundary-7c1e";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"file_type\"\r\n\r\n{file_type}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"map.json\"\r\nContent-Type: application/json\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    let resp = c
        .http
        .post(format!("{}/api/v1/migration/data/upload", c.base))
        .basic_auth(&c.user, Some(&c.pass))
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let s = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        s,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn mapping(gateway: &str) -> Vec<u8> {
    serde_json::to_vec(&json!([{"name": "dlr_edges_to_migrate",
        "v_edges_to_policy_gateways_mappings": [{"v_edges": [DLR_EDGE], "policy_gateway_name": gateway}]}]))
    .unwrap()
}

/// The Tier-1 the API replay would have made for the distributed router.
async fn replayed_t1(c: &Client) {
    let (s, v) = c
        .patch(
            &format!("/policy/api/v1/infra/tier-1s/{DLR_ROUTER}"),
            &json!({"display_name": "eng-dr_6cb26...5605d"}),
        )
        .await;
    assert!(s < 300, "{v}");
}

/// An edge cutover set up with the replay's Tier-1 in place, whose run will ask for feedback
/// on each of `edges` (the simulator's `feedback_edges`).
async fn edge_cutover_asking_feedback(h: &SimHandle, c: &Client, edges: &[&str]) {
    let (s, _) = c
        .put(
            "/_sim/migration-faults",
            &json!({"v2t": {"feedback_edges": edges}}),
        )
        .await;
    assert_eq!(s, 204);
    setup(h, c, "EDGE_CUTOVER").await;
    replayed_t1(c).await;
}

async fn advance(c: &Client, secs: u64) -> u64 {
    let (s, v) = c
        .post_empty(&format!("/_sim/v2t/clock?advance_seconds={secs}"))
        .await;
    assert_eq!(s, 200, "{v}");
    v["virtual_time_ms"].as_u64().unwrap()
}

async fn status(c: &Client, map: &ValidatorMap) -> Value {
    let (s, v) = c.get("/api/v1/migration/status-summary").await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationStatus", &v);
    v
}

async fn plan(c: &Client, action: &str) -> (u16, Value) {
    c.post_empty(&format!("/api/v1/migration/plan?action={action}"))
        .await
}

async fn plan_ok(c: &Client, action: &str) {
    let (s, v) = plan(c, action).await;
    assert_eq!(s, 200, "{action}: {v}");
}

fn refused(s: u16, v: &Value, code: i64) -> String {
    assert_eq!(s, 400, "{v}");
    assert_eq!(assert_nsx_error(v), code, "{v}");
    v["error_message"].as_str().unwrap().to_string()
}

fn comp<'a>(st: &'a Value, t: &str) -> &'a Value {
    st["component_status"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component_type"] == t)
        .unwrap_or_else(|| panic!("no component {t}: {st}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_cutover_runs_as_a_client_drives_it() {
    let map = validators();
    // The validator bites (a control): a status the spec does not list is refused.
    assert!(
        !map.get("#/definitions/MigrationStatus")
            .unwrap()
            .is_valid(&json!({"overall_migration_status": "DONE"}))
    );
    let (h, c) = start(None).await;
    let token = setup(&h, &c, "EDGE_CUTOVER").await;
    let (s, v) = c.get("/api/v1/migration/setup").await;
    assert_eq!(s, 200);
    valid(map, "MigrationSetupInfo", &v);
    assert_eq!(v["migration_mode"], "EDGE_CUTOVER");
    assert_eq!(v["source_nsx"][0]["nsx_version"], "6.4.11", "{v}");
    let text = v.to_string();
    assert!(
        !text.contains(&token) && !text.contains(simulator::DEFAULT_PASSWORD),
        "no secret is echoed: {v}"
    );

    // Another mode, and the MP-to-Policy import, are refused while this one is configured.
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "DFW_AND_HOST_AND_WORKLOAD", &token),
        )
        .await;
    assert!(refused(s, &v, MODE_CONFLICT).contains("EDGE_CUTOVER"));
    let (s, v) = c
        .post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    refused(s, &v, MODE_CONFLICT);

    // The mapping file: absent, uploaded, present.
    let (s, v) = c
        .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!((s, &v["is_present"]), (200, &json!(false)), "{v}");
    replayed_t1(&c).await;
    let (s, v) = upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER)).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!(v["is_present"], true, "{v}");

    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "NOT_STARTED");
    plan_ok(&c, "start").await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "IN_PROGRESS", "{st}");
    // One mapped DLR: 120 virtual seconds of work.
    advance(&c, 60).await;
    let st = status(&c, map).await;
    let pct = comp(&st, "EDGE")["percent_complete"].as_f64().unwrap();
    assert!((50.0..60.0).contains(&pct), "{st}");
    plan_ok(&c, "pause").await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "PAUSED");
    assert_eq!(comp(&st, "EDGE")["status"], "PAUSED");
    let paused_at = comp(&st, "EDGE")["percent_complete"].as_f64().unwrap();
    advance(&c, 3600).await;
    let st = status(&c, map).await;
    assert_eq!(
        comp(&st, "EDGE")["percent_complete"].as_f64().unwrap(),
        paused_at,
        "no progress while paused"
    );
    let (s, v) = plan(&c, "finish").await;
    refused(s, &v, INVALID_STATE);
    plan_ok(&c, "continue").await;
    advance(&c, 61).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "SUCCESS", "{st}");
    assert_eq!(comp(&st, "EDGE")["percent_complete"], 100.0);
    plan_ok(&c, "finish").await;
    // Finished: the mode is free for host migration.
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    let (_, v) = c.get("/api/v1/migration/setup").await;
    assert_eq!(v["migration_mode"], "DFW_AND_HOST_AND_WORKLOAD");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mp_to_policy_import_and_v2t_exclude_each_other() {
    let (h, c) = start(None).await;
    let (s, _) = c
        .post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    assert_eq!(s, 200);
    let token = nsxv_token(&c, 60).await;
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "EDGE_CUTOVER", &token),
        )
        .await;
    assert!(refused(s, &v, MODE_CONFLICT).contains("MP to Policy"));
    let (s, _) = c
        .post_empty("/api/v1/migration/mp-to-policy/workflow?action=DONE")
        .await;
    assert_eq!(s, 200);
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "EDGE_CUTOVER", &token),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    // Abort frees the mode.
    plan_ok(&c, "abort").await;
    let (s, _) = c
        .post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    assert_eq!(s, 200);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_refuses_what_the_coordinator_cannot_reach_or_authenticate() {
    let (h, c) = start(None).await;
    let token = nsxv_token(&c, 60).await;
    let mut wrong_ip = setup_body(&h, "EDGE_CUTOVER", &token);
    wrong_ip["source_nsx"][0]["ip"] = json!("192.0.2.10");
    let mut wrong_token = setup_body(&h, "EDGE_CUTOVER", "not-a-token");
    wrong_token["source_nsx"][0]["auth_token"] = json!("not-a-token");
    let mut wrong_password = setup_body(&h, "EDGE_CUTOVER", &token);
    let src = wrong_password["source_nsx"][0].as_object_mut().unwrap();
    src.remove("auth_token");
    src.insert("nsx_username".into(), json!("admin"));
    src.insert("nsx_password".into(), json!("wrong-secret-123"));
    let mut wrong_vc = setup_body(&h, "EDGE_CUTOVER", &token);
    wrong_vc["source_nsx"][0]["vc_password"] = json!("wrong-secret-456");
    for (body, needle) in [
        (&wrong_ip, "192.0.2.10"),
        (&wrong_token, "token"),
        (&wrong_password, "password"),
        (&wrong_vc, "vCenter"),
    ] {
        let (s, v) = c.put("/api/v1/migration/setup", body).await;
        let msg = refused(s, &v, SETUP_FAILED);
        assert!(msg.contains(needle), "{msg}");
        assert!(
            !msg.contains("wrong-secret"),
            "no password in errors: {msg}"
        );
    }
    let mut no_vc = setup_body(&h, "EDGE_CUTOVER", &token);
    no_vc["source_nsx"][0]
        .as_object_mut()
        .unwrap()
        .remove("vc_ip");
    let (s, v) = c.put("/api/v1/migration/setup", &no_vc).await;
    assert_eq!(s, 400);
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("source_nsx[0].vc_ip"),
        "{v}"
    );
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "ONPREMISE_V2T", &token),
        )
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("migration_mode"),
        "{v}"
    );
    // Nothing was configured by the refusals.
    let (_, v) = c.get("/api/v1/migration/setup").await;
    assert!(v.get("migration_mode").is_none(), "{v}");

    // User and password work as well as a token.
    let mut by_password = setup_body(&h, "EDGE_CUTOVER", &token);
    let src = by_password["source_nsx"][0].as_object_mut().unwrap();
    src.remove("auth_token");
    src.insert("nsx_username".into(), json!(simulator::DEFAULT_USERNAME));
    src.insert("nsx_password".into(), json!(simulator::DEFAULT_PASSWORD));
    let (s, v) = c.put("/api/v1/migration/setup", &by_password).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["source_nsx"][0].get("nsx_password").is_none(), "{v}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_expired_at_start_fails_the_component() {
    let map = validators();
    let (h, c) = start(None).await;
    let token = nsxv_token(&c, 1).await;
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "EDGE_CUTOVER", &token),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    replayed_t1(&c).await;
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER))
            .await
            .0,
        200
    );
    advance(&c, 120).await;
    plan_ok(&c, "start").await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let edge = comp(&st, "EDGE");
    assert_eq!(edge["status"], "FAILED");
    assert!(
        edge["details"]
            .as_str()
            .unwrap()
            .contains("token has expired"),
        "{st}"
    );
    // A token that runs out while the plan runs fails the running component.
    plan_ok(&c, "abort").await;
    let token = nsxv_token(&c, 1).await;
    let (s, v) = c
        .put(
            "/api/v1/migration/setup",
            &setup_body(&h, "EDGE_CUTOVER", &token),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER))
            .await
            .0,
        200
    );
    plan_ok(&c, "start").await;
    assert_eq!(
        status(&c, map).await["overall_migration_status"],
        "IN_PROGRESS"
    );
    advance(&c, 90).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let edge = comp(&st, "EDGE");
    assert!(
        edge["details"].as_str().unwrap().contains("expired during"),
        "{st}"
    );
    let pct = edge["percent_complete"].as_f64().unwrap();
    assert!(
        (40.0..55.0).contains(&pct),
        "work stopped when the token ran out: {st}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_mapping_files_are_refused() {
    let (h, c) = start(None).await;
    // No setup yet.
    let (s, v) = upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER)).await;
    refused(s, &v, INVALID_STATE);
    setup(&h, &c, "EDGE_CUTOVER").await;
    for (content, needle) in [
        (&b"{not json"[..], "not valid JSON at line 1"),
        (br#"{"name": "x"}"#, "JSON array"),
        (br#"[{"v_edges_to_policy_gateways_mappings": []}]"#, "[0].name is required"),
        (br#"[{"name": "x"}]"#, "[0].v_edges_to_policy_gateways_mappings is required"),
        (
            br#"[{"name": "x", "v_edges_to_policy_gateways_mappings": [{"v_edges": [], "policy_gateway_name": "g"}]}]"#,
            "v_edges must list one or two",
        ),
        (
            br#"[{"name": "x", "v_edges_to_policy_gateways_mappings": [{"v_edges": ["a", "b", "c"], "policy_gateway_name": "g"}]}]"#,
            "v_edges must list one or two",
        ),
        (
            br#"[{"name": "x", "v_edges_to_policy_gateways_mappings": [{"v_edges": ["edge-2"]}]}]"#,
            "[0].v_edges_to_policy_gateways_mappings[0].policy_gateway_name",
        ),
    ] {
        let (s, v) = upload(&c, "EDGE_CUTOVER_MAPPING", content).await;
        assert_eq!(s, 400, "{v}");
        assert_nsx_error(&v);
        let msg = v["error_message"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle}: {msg}");
    }
    let (s, v) = upload(&c, "NOT_A_TYPE", &mapping("g")).await;
    assert_eq!(s, 400, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!(v["is_present"], false, "nothing stored: {v}");
    // Delete after upload.
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping("g")).await.0,
        200
    );
    let (s, _) = c
        .delete("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!(s, 200);
    let (_, v) = c
        .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!(v["is_present"], false);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dlr_missing_from_the_mapping_pauses_the_run_until_answered() {
    let map = validators();
    let (h, c) = start(None).await;
    setup(&h, &c, "EDGE_CUTOVER").await;
    // No mapping file: the DLR needs an answer.
    plan_ok(&c, "start").await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "PAUSED", "{st}");
    assert!(
        comp(&st, "EDGE")["details"]
            .as_str()
            .unwrap()
            .contains("1 unresolved"),
        "{st}"
    );
    let (s, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED&page_size=1")
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationFeedbackRequestListResult", &v);
    assert_eq!(v["result_count"], 1);
    let item = &v["results"][0];
    assert_eq!(item["v_object_id"], DLR_EDGE);
    assert_eq!(item["object_id"], DLR_ROUTER);
    assert!(item["message"].as_str().unwrap().contains("no mapping"));
    let id = item["id"].as_str().unwrap().to_string();
    let (s, v) = c
        .get("/api/v1/migration/feedback-requests?state=BOGUS")
        .await;
    assert_eq!(s, 400, "{v}");

    let (s, v) = plan(&c, "continue").await;
    refused(s, &v, FEEDBACK_PENDING);
    // An action not offered is refused and changes nothing.
    let (s, v) = c
        .put(
            "/api/v1/migration/feedback-response",
            &json!({"response_list": [{"id": id, "action": "ignore"}]}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/migration/feedback-response",
            &json!({"response_list": [{"id": "feedback-99", "action": "skip"}]}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED")
        .await;
    assert_eq!(v["result_count"], 1);
    let (s, v) = c
        .put(
            "/api/v1/migration/feedback-response",
            &json!({"response_list": [{"id": id, "action": "skip"}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=RESOLVED")
        .await;
    valid(map, "MigrationFeedbackRequestListResult", &v);
    assert_eq!(v["results"][0]["resolved"], true);
    assert_eq!(v["results"][0]["resolution"], "skip");
    // Still paused until continue.
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "PAUSED");
    assert!(
        comp(&st, "EDGE")["details"]
            .as_str()
            .unwrap()
            .contains("Feedback resolved"),
        "{st}"
    );
    plan_ok(&c, "continue").await;
    advance(&c, 121).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "SUCCESS");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_feedback_item_on_a_mapped_dlr_and_accept_recommended() {
    let map = validators();
    let (h, c) = start(None).await;
    edge_cutover_asking_feedback(&h, &c, &[DLR_EDGE]).await;
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER))
            .await
            .0,
        200
    );
    plan_ok(&c, "start").await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "PAUSED");
    let (_, v) = c.get("/api/v1/migration/feedback-requests").await;
    assert_eq!(v["result_count"], 1, "{v}");
    assert!(
        v["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("simulated")
    );
    let (s, v) = c
        .post_empty("/api/v1/migration/feedback-response?action=accept-recommended")
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED")
        .await;
    assert_eq!(v["result_count"], 0);
    plan_ok(&c, "continue").await;
    assert_eq!(
        status(&c, map).await["overall_migration_status"],
        "IN_PROGRESS"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn feedback_pages_with_a_cursor_and_filters() {
    let map = validators();
    let (h, c) = start(None).await;
    edge_cutover_asking_feedback(&h, &c, &[DLR_EDGE, "edge-3"]).await;
    // The DLR for cutover and the PLR's ESG for DHCP leases, both mapped to the router's T1.
    let file = serde_json::to_vec(&json!([{"name": "dlr_edges_to_migrate",
        "v_edges_to_policy_gateways_mappings": [
            {"v_edges": [DLR_EDGE, "edge-3"], "policy_gateway_name": DLR_ROUTER}]}]))
    .unwrap();
    assert_eq!(upload(&c, "EDGE_CUTOVER_MAPPING", &file).await.0, 200);
    plan_ok(&c, "start").await;
    let (s, first) = c
        .get("/api/v1/migration/feedback-requests?page_size=1")
        .await;
    assert_eq!(s, 200, "{first}");
    valid(map, "MigrationFeedbackRequestListResult", &first);
    assert_eq!(first["result_count"], 2);
    let cursor = first["cursor"].as_str().expect("a next page").to_string();
    let (_, second) = c
        .get(&format!(
            "/api/v1/migration/feedback-requests?page_size=1&cursor={cursor}"
        ))
        .await;
    valid(map, "MigrationFeedbackRequestListResult", &second);
    assert!(second.get("cursor").is_none(), "{second}");
    let ids: Vec<&Value> = [&first, &second]
        .iter()
        .map(|p| &p["results"][0]["v_object_id"])
        .collect();
    assert_eq!(ids, [&json!(DLR_EDGE), &json!("edge-3")]);
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?sub_category=ESG")
        .await;
    assert_eq!(v["result_count"], 1);
    assert_eq!(v["results"][0]["v_object_id"], "edge-3");
    // Answer one: still paused, one left.
    let id = first["results"][0]["id"].as_str().unwrap();
    let (s, _) = c
        .put(
            "/api/v1/migration/feedback-response",
            &json!({"response_list": [{"id": id, "action": "map", "value": DLR_ROUTER}]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = plan(&c, "continue").await;
    assert!(refused(s, &v, FEEDBACK_PENDING).contains("1 feedback"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mapping_to_a_gateway_the_destination_lacks_fails_edge_cutover() {
    let map = validators();
    let (h, c) = start(None).await;
    setup(&h, &c, "EDGE_CUTOVER").await;
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping("no-such-t1"))
            .await
            .0,
        200
    );
    plan_ok(&c, "start").await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED");
    assert!(
        comp(&st, "EDGE")["details"]
            .as_str()
            .unwrap()
            .contains("no-such-t1")
    );
    // Rollback is allowed in edge cutover: the run resets and the mapping file is deleted.
    plan_ok(&c, "rollback").await;
    assert_eq!(
        status(&c, map).await["overall_migration_status"],
        "NOT_STARTED"
    );
    let (_, v) = c
        .get("/api/v1/migration/data?file_type=EDGE_CUTOVER_MAPPING")
        .await;
    assert_eq!(v["is_present"], false, "deleted on rollback: {v}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn host_migration_groups_and_no_rollback_once_hosts_started() {
    let map = validators();
    let (h, c) = start(None).await;
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    let (s, v) = c
        .get("/api/v1/migration/migration-unit-groups?component_type=HOST")
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitGroupListResult", &v);
    let groups = v["results"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "one group per vSphere cluster: {v}");
    let c7 = groups.iter().find(|g| g["id"] == "domain-c7").unwrap();
    assert_eq!(c7["display_name"], "compute-cluster-1");
    assert_eq!(c7["migration_unit_count"], 2);
    assert_eq!(c7["enabled"], true);
    let (s, v) = c
        .get("/api/v1/migration/migration-unit-groups/domain-c7")
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitGroup", &v);
    assert_eq!(v["migration_units"][0]["type"], "HOST");
    // Only the compute cluster migrates.
    let (s, v) = c
        .put(
            "/api/v1/migration/migration-unit-groups/domain-c8",
            &json!({"type": "HOST", "enabled": false}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitGroup", &v);
    assert_eq!(v["enabled"], false);
    let (s, _) = c
        .put(
            "/api/v1/migration/migration-unit-groups/domain-c99",
            &json!({"type": "HOST", "enabled": false}),
        )
        .await;
    assert_eq!(s, 404);

    plan_ok(&c, "start").await;
    let st = status(&c, map).await;
    assert_eq!(comp(&st, "DFW")["status"], "IN_PROGRESS", "{st}");
    assert_eq!(comp(&st, "HOST")["status"], "NOT_STARTED");
    // Rollback while running is refused; paused before host migration, it is allowed.
    let (s, v) = plan(&c, "rollback").await;
    refused(s, &v, INVALID_STATE);
    advance(&c, 30).await;
    plan_ok(&c, "pause").await;
    plan_ok(&c, "rollback").await;
    assert_eq!(
        status(&c, map).await["overall_migration_status"],
        "NOT_STARTED"
    );

    plan_ok(&c, "start").await;
    advance(&c, 61).await;
    let st = status(&c, map).await;
    assert_eq!(comp(&st, "DFW")["status"], "SUCCESS", "{st}");
    assert_eq!(comp(&st, "HOST")["status"], "IN_PROGRESS", "{st}");
    let (_, only) = c
        .get("/api/v1/migration/status-summary?component_type=HOST")
        .await;
    valid(map, "MigrationStatus", &only);
    assert_eq!(
        only["component_status"].as_array().unwrap().len(),
        1,
        "{only}"
    );
    plan_ok(&c, "pause").await;
    let (s, v) = plan(&c, "rollback").await;
    assert!(refused(s, &v, ROLLBACK_REFUSED).contains("host migration has started"));
    let (s, v) = c
        .put(
            "/api/v1/migration/migration-unit-groups/domain-c8",
            &json!({"type": "HOST", "enabled": true}),
        )
        .await;
    refused(s, &v, INVALID_STATE);
    plan_ok(&c, "continue").await;
    // Two hosts of 600 s each (the disabled group's host is not migrated).
    advance(&c, 1180).await;
    assert_eq!(
        status(&c, map).await["overall_migration_status"],
        "IN_PROGRESS"
    );
    advance(&c, 20).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "SUCCESS", "{st}");
    let (s, v) = plan(&c, "rollback").await;
    refused(s, &v, ROLLBACK_REFUSED);
    plan_ok(&c, "finish").await;
    let (_, v) = c.get("/api/v1/migration/setup").await;
    assert!(
        v.get("migration_mode").is_none(),
        "finish clears the setup: {v}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_timeouts_on_the_virtual_clock() {
    let map = validators();
    let (h, c) = start(None).await;
    // Edge cutover left waiting on feedback for 12 hours.
    setup(&h, &c, "EDGE_CUTOVER").await;
    plan_ok(&c, "start").await;
    advance(&c, 11 * 3600 + 3599).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "PAUSED");
    advance(&c, 1).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let d = comp(&st, "EDGE")["details"].as_str().unwrap().to_string();
    assert!(d.contains("Timeout") && d.contains("12 hours"), "{d}");
    let (s, v) = plan(&c, "continue").await;
    refused(s, &v, INVALID_STATE);
    plan_ok(&c, "abort").await;

    // Host migration paused for 48 hours (a fresh token: the first ran out on the clock).
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    plan_ok(&c, "start").await;
    advance(&c, 70).await;
    plan_ok(&c, "pause").await;
    advance(&c, 47 * 3600).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "PAUSED");
    advance(&c, 3600).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let host = comp(&st, "HOST");
    assert_eq!(host["status"], "FAILED");
    assert!(
        host["details"].as_str().unwrap().contains("48 hours"),
        "{st}"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_component_failed_at_n_percent_and_the_service_down() {
    let map = validators();
    let (h, c) = start(None).await;
    let (s, _) = c
        .put(
            "/_sim/migration-faults",
            &json!({"v2t": {"fail_at": {"HOST": 50.0}}}),
        )
        .await;
    assert_eq!(s, 204);
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    plan_ok(&c, "start").await;
    advance(&c, 60 + 3 * 600).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let host = comp(&st, "HOST");
    assert_eq!(host["status"], "FAILED");
    assert_eq!(host["percent_complete"], 50.0, "{st}");
    assert!(host["details"].as_str().unwrap().contains("50%"));
    assert_eq!(comp(&st, "DFW")["status"], "SUCCESS");

    let (s, _) = c
        .put(
            "/_sim/migration-faults",
            &json!({"v2t": {"service_down": true}}),
        )
        .await;
    assert_eq!(s, 204);
    for p in [
        "/api/v1/migration/status-summary",
        "/api/v1/migration/setup",
        "/api/v1/migration/feedback-requests",
    ] {
        let (s, v) = c.get(p).await;
        assert_eq!(s, 503, "{p}: {v}");
        assert_eq!(assert_nsx_error(&v), 101);
        assert_eq!(v["httpStatus"], "SERVICE_UNAVAILABLE");
    }
    let (s, _) = c.delete("/_sim/faults").await;
    assert_eq!(s, 204);
    assert_eq!(status(&c, map).await["overall_migration_status"], "FAILED");
    h.shutdown().await;
}

async fn restart(h: SimHandle, sf: &Path) -> (SimHandle, Client) {
    h.shutdown().await;
    start(Some(sf)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_a_state_file_resumes_each_flow() {
    let map = validators();
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("state.json");
    let (h, c) = start(Some(&sf)).await;

    // Edge cutover, paused on feedback: the restart keeps the item, the clock and the mapping.
    let token = setup(&h, &c, "EDGE_CUTOVER").await;
    plan_ok(&c, "start").await;
    let t0 = advance(&c, 3600).await;
    let text = std::fs::read_to_string(&sf).unwrap();
    assert!(
        !text.contains(&token),
        "the token never reaches the state file"
    );
    let (h, c) = restart(h, &sf).await;
    let (_, v) = c.get("/_sim/v2t/clock").await;
    assert!(v["virtual_time_ms"].as_u64().unwrap() >= t0, "{v}");
    assert_eq!(status(&c, map).await["overall_migration_status"], "PAUSED");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED")
        .await;
    assert_eq!(v["result_count"], 1, "{v}");
    let (s, _) = c
        .post_empty("/api/v1/migration/feedback-response?action=accept-recommended")
        .await;
    assert_eq!(s, 200);
    plan_ok(&c, "continue").await;
    advance(&c, 60).await;
    // The manager goes away right after this status call (an `exit` fault), mid-flow.
    let (s, _) = c
        .post(
            "/_sim/faults",
            &json!({"path": "/api/v1/migration/status-summary", "action": "exit", "times": 1}),
        )
        .await;
    assert_eq!(s, 200);
    let st = status(&c, map).await;
    let pct = comp(&st, "EDGE")["percent_complete"].as_f64().unwrap();
    assert!(pct >= 50.0, "{st}");
    tokio::time::timeout(Duration::from_secs(10), h.wait())
        .await
        .expect("the manager went away");
    let (h, c) = start(Some(&sf)).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "IN_PROGRESS", "{st}");
    assert!(comp(&st, "EDGE")["percent_complete"].as_f64().unwrap() >= pct);
    advance(&c, 60).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "SUCCESS");
    plan_ok(&c, "finish").await;

    // Host migration under way: after the restart rollback is still refused, and the plan
    // settings and group progress are kept.
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    let (s, _) = c
        .put(
            "/api/v1/migration/plan/HOST/settings",
            &json!({"pause_on_error": true}),
        )
        .await;
    assert_eq!(s, 200);
    plan_ok(&c, "start").await;
    advance(&c, 100).await;
    let (h, c) = restart(h, &sf).await;
    let st = status(&c, map).await;
    assert_eq!(comp(&st, "HOST")["status"], "IN_PROGRESS", "{st}");
    let (_, v) = c.get("/api/v1/migration/plan/HOST/settings").await;
    assert_eq!(v["pause_on_error"], true, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/migration-unit-groups-status?component_type=HOST")
        .await;
    assert_eq!(v["results"][0]["status"], "IN_PROGRESS", "{v}");
    plan_ok(&c, "pause").await;
    let (s, v) = plan(&c, "rollback").await;
    refused(s, &v, ROLLBACK_REFUSED);
    let (_, v) = c.get("/api/v1/migration/setup").await;
    assert_eq!(v["migration_mode"], "DFW_AND_HOST_AND_WORKLOAD");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timings_come_from_the_faults_file() {
    let map = validators();
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(
        &faults,
        "[migration.v2t]\nedge_timeout_s = 600\nedge_s_per_dlr = 10\n",
    )
    .unwrap();
    let h = Simulator::start(SimConfig {
        faults: Some(faults.clone()),
        ..cfg(None)
    })
    .await
    .unwrap();
    let c = Client::new(&h);
    setup(&h, &c, "EDGE_CUTOVER").await;
    plan_ok(&c, "start").await;
    advance(&c, 599).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "PAUSED");
    advance(&c, 1).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "FAILED", "{st}");
    let d = comp(&st, "EDGE")["details"].as_str().unwrap().to_string();
    assert!(d.contains("within 600 seconds"), "{d}");
    h.shutdown().await;
    // An unknown setting is refused with the file named.
    std::fs::write(&faults, "[migration.v2t]\nedge_timeout = 600\n").unwrap();
    let e = Simulator::start(SimConfig {
        faults: Some(faults.clone()),
        ..cfg(None)
    })
    .await
    .err()
    .expect("refused");
    let msg = e.to_string();
    assert!(
        msg.contains("faults.toml") && msg.contains("edge_timeout"),
        "{msg}"
    );
}

/// The unit groups of a component, validated as the spec's list type.
async fn groups_of(c: &Client, map: &ValidatorMap, t: &str) -> Vec<Value> {
    let (s, v) = c
        .get(&format!(
            "/api/v1/migration/migration-unit-groups?component_type={t}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitGroupListResult", &v);
    v["results"].as_array().unwrap().clone()
}

/// `migration-unit-groups-status`, validated, by group id: (status, percent).
async fn group_status(c: &Client, map: &ValidatorMap, t: &str) -> Vec<(String, String, f64)> {
    let (s, v) = c
        .get(&format!(
            "/api/v1/migration/migration-unit-groups-status?component_type={t}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitGroupStatusListResult", &v);
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["group_id"].as_str().unwrap().to_string(),
                g["status"].as_str().unwrap().to_string(),
                g["percent_complete"].as_f64().unwrap(),
            )
        })
        .collect()
}

async fn answer(c: &Client, id: &str, action: &str, value: Option<&str>) -> (u16, Value) {
    let mut r = json!({"id": id, "action": action});
    if let Some(v) = value {
        r["value"] = json!(v);
    }
    c.put(
        "/api/v1/migration/feedback-response",
        &json!({ "response_list": [r] }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_map_answer_cuts_the_edge_over_to_that_gateway_and_a_bad_one_is_rejected() {
    let map = validators();
    let (h, c) = start(None).await;
    setup(&h, &c, "EDGE_CUTOVER").await;
    // No mapping file: the DLR waits for an answer and nothing is planned for it yet.
    plan_ok(&c, "start").await;
    assert!(groups_of(&c, map, "EDGE").await.is_empty());
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED")
        .await;
    let item = &v["results"][0];
    assert_eq!(
        (&item["suggested_action"], &item["suggested_value"]),
        (&json!("skip"), &json!(DLR_ROUTER)),
        "{item}"
    );
    let id = item["id"].as_str().unwrap().to_string();
    // A map to a gateway the destination lacks is taken but rejected: still unresolved.
    let (s, v) = answer(&c, &id, "map", Some("no-such-gateway")).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=UNRESOLVED")
        .await;
    valid(map, "MigrationFeedbackRequestListResult", &v);
    assert_eq!(v["result_count"], 1, "{v}");
    assert_eq!(v["results"][0]["rejected"], true, "{v}");
    let (s, v) = plan(&c, "continue").await;
    refused(s, &v, FEEDBACK_PENDING);
    // `map` without a value is refused outright.
    let (s, v) = answer(&c, &id, "map", None).await;
    assert_eq!(s, 400, "{v}");
    // Mapped to the replayed Tier-1: the edge is cut over to it.
    replayed_t1(&c).await;
    let (s, v) = answer(&c, &id, "map", Some(DLR_ROUTER)).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/migration/feedback-requests?state=RESOLVED")
        .await;
    assert_eq!(v["results"][0]["rejected"], false, "{v}");
    assert_eq!(
        v["results"][0]["resolution"],
        format!("map:{DLR_ROUTER}"),
        "{v}"
    );
    let groups = groups_of(&c, map, "EDGE").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["id"], DLR_EDGE);
    assert_eq!(groups[0]["type"], "EDGE");
    assert_eq!(
        groups[0]["extended_configuration"][0],
        json!({"key": "policy_gateway", "value": DLR_ROUTER})
    );
    plan_ok(&c, "continue").await;
    advance(&c, 60).await;
    let gs = group_status(&c, map, "EDGE").await;
    assert_eq!(gs.len(), 1);
    assert_eq!(gs[0].1, "IN_PROGRESS", "{gs:?}");
    assert!((50.0..60.0).contains(&gs[0].2), "{gs:?}");
    // Answers are taken only while the run waits.
    let (s, v) = answer(&c, &id, "skip", None).await;
    refused(s, &v, INVALID_STATE);
    advance(&c, 61).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "SUCCESS");
    let gs = group_status(&c, map, "EDGE").await;
    assert_eq!((gs[0].1.as_str(), gs[0].2), ("SUCCESS", 100.0), "{gs:?}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skip_answer_leaves_the_edge_out_of_the_cutover() {
    let map = validators();
    let (h, c) = start(None).await;
    edge_cutover_asking_feedback(&h, &c, &[DLR_EDGE]).await;
    assert_eq!(
        upload(&c, "EDGE_CUTOVER_MAPPING", &mapping(DLR_ROUTER))
            .await
            .0,
        200
    );
    // Before the run the groups follow the mapping file.
    let groups = groups_of(&c, map, "EDGE").await;
    assert_eq!(groups.len(), 1, "{groups:?}");
    let (s, v) = c
        .put(
            &format!("/api/v1/migration/migration-unit-groups/{DLR_EDGE}"),
            &json!({"type": "EDGE", "enabled": false}),
        )
        .await;
    assert_eq!(s, 400, "EDGE groups follow the mapping: {v}");
    plan_ok(&c, "start").await;
    let (_, v) = c.get("/api/v1/migration/feedback-requests").await;
    let item = &v["results"][0];
    // Confirmation of a mapped DLR: mapping to the file's gateway is suggested.
    assert_eq!(item["suggested_action"], "map", "{item}");
    assert_eq!(item["suggested_value"], DLR_ROUTER, "{item}");
    let id = item["id"].as_str().unwrap().to_string();
    let (s, v) = answer(&c, &id, "skip", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(groups_of(&c, map, "EDGE").await.is_empty());
    assert!(group_status(&c, map, "EDGE").await.is_empty());
    plan_ok(&c, "continue").await;
    advance(&c, 121).await;
    assert_eq!(status(&c, map).await["overall_migration_status"], "SUCCESS");
    assert!(
        groups_of(&c, map, "EDGE").await.is_empty(),
        "the skipped edge was not cut over"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_settings_reset_and_group_status_of_host_migration() {
    let map = validators();
    let (h, c) = start(None).await;
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    let (s, v) = c.get("/api/v1/migration/plan/HOST/settings").await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationPlanSettings", &v);
    assert_eq!(
        v,
        json!({"parallel": true, "pause_after_each_group": false, "pause_on_error": false})
    );
    let (s, v) = c
        .put(
            "/api/v1/migration/plan/HOST/settings",
            &json!({"pause_after_each_group": "yes"}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/migration/plan/EDGE/settings",
            &json!({"pause_after_each_group": true}),
        )
        .await;
    assert_eq!(s, 400, "not a component of this mode: {v}");
    let (s, v) = c
        .put(
            "/api/v1/migration/plan/HOST/settings",
            &json!({"pause_after_each_group": true}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationPlanSettings", &v);
    let (s, _) = c
        .put(
            "/api/v1/migration/migration-unit-groups/domain-c8",
            &json!({"type": "HOST", "enabled": false}),
        )
        .await;
    assert_eq!(s, 200);
    // Reset: the default plan again (every group enabled, default settings).
    let (s, v) = plan(&c, "reset").await;
    assert_eq!(s, 400, "component_type is required: {v}");
    plan_ok(&c, "reset&component_type=HOST").await;
    let groups = groups_of(&c, map, "HOST").await;
    assert!(groups.iter().all(|g| g["enabled"] == true), "{groups:?}");
    let (_, v) = c.get("/api/v1/migration/plan/HOST/settings").await;
    assert_eq!(v["pause_after_each_group"], false, "{v}");
    let (s, _) = c
        .put(
            "/api/v1/migration/plan/HOST/settings",
            &json!({"pause_after_each_group": true}),
        )
        .await;
    assert_eq!(s, 200);

    plan_ok(&c, "start").await;
    let (s, v) = plan(&c, "reset&component_type=HOST").await;
    refused(s, &v, INVALID_STATE);
    // DFW 60 s, then domain-c7's two hosts (600 s each): the run pauses after that group.
    advance(&c, 660).await;
    let gs = group_status(&c, map, "HOST").await;
    assert_eq!(
        gs[0],
        ("domain-c7".into(), "IN_PROGRESS".into(), 50.0),
        "{gs:?}"
    );
    let (s, v) = c
        .get("/api/v1/migration/migration-unit-groups/domain-c7/status")
        .await;
    assert_eq!(s, 200, "{v}");
    valid(map, "MigrationUnitStatusListResult", &v);
    let units: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["status"].as_str().unwrap())
        .collect();
    assert_eq!(units, ["SUCCESS", "IN_PROGRESS"], "{v}");
    advance(&c, 900).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "PAUSED", "{st}");
    assert!(
        comp(&st, "HOST")["details"]
            .as_str()
            .unwrap()
            .contains("Paused after group 'compute-cluster-1'"),
        "{st}"
    );
    let gs = group_status(&c, map, "HOST").await;
    assert_eq!(gs[0].1, "SUCCESS", "{gs:?}");
    assert_eq!(
        gs[1],
        ("domain-c8".into(), "NOT_STARTED".into(), 0.0),
        "{gs:?}"
    );
    plan_ok(&c, "continue").await;
    advance(&c, 600).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "SUCCESS", "{st}");
    let gs = group_status(&c, map, "HOST").await;
    assert!(gs.iter().all(|g| g.1 == "SUCCESS"), "{gs:?}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pause_on_error_pauses_at_the_failed_host_and_continue_retries_it() {
    let map = validators();
    let (h, c) = start(None).await;
    let (s, _) = c
        .put(
            "/_sim/migration-faults",
            &json!({"v2t": {"fail_at": {"HOST": 50.0}}}),
        )
        .await;
    assert_eq!(s, 204);
    setup(&h, &c, "DFW_AND_HOST_AND_WORKLOAD").await;
    let (s, _) = c
        .put(
            "/api/v1/migration/plan/HOST/settings",
            &json!({"pause_on_error": true}),
        )
        .await;
    assert_eq!(s, 200);
    plan_ok(&c, "start").await;
    // 3 hosts, 1800 s: the failure at 50% is inside domain-c7's second host.
    advance(&c, 60 + 1800).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "PAUSED", "{st}");
    assert_eq!(comp(&st, "HOST")["status"], "PAUSED", "{st}");
    assert!(
        comp(&st, "HOST")["details"]
            .as_str()
            .unwrap()
            .contains("simulated fault"),
        "{st}"
    );
    let gs = group_status(&c, map, "HOST").await;
    assert_eq!(gs[0].1, "FAILED", "{gs:?}");
    let (_, v) = c
        .get("/api/v1/migration/migration-unit-groups/domain-c7/status?has_errors=true")
        .await;
    valid(map, "MigrationUnitStatusListResult", &v);
    assert_eq!(v["result_count"], 1, "{v}");
    assert!(
        v["results"][0]["errors"][0]
            .as_str()
            .unwrap()
            .contains("failed at 50%")
    );
    plan_ok(&c, "continue").await;
    advance(&c, 901).await;
    let st = status(&c, map).await;
    assert_eq!(st["overall_migration_status"], "SUCCESS", "{st}");
    let (_, v) = c
        .get("/api/v1/migration/migration-unit-groups/domain-c7/status?has_errors=true")
        .await;
    assert_eq!(v["result_count"], 0, "{v}");
    h.shutdown().await;
}

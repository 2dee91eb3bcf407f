//! Core Manager API behaviour over real HTTP: loading, paging, CRUD, revisions, limits,
//! protection, authentication, node endpoints.

use crate::common::*;
use serde_json::{Value, json};
use simulator::{SimConfig, SimError, Simulator};

#[tokio::test]
async fn refuses_non_loopback_listen() {
    let cfg = SimConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..SimConfig::default()
    };
    match Simulator::start(cfg).await {
        Err(SimError::NonLoopback(a)) => assert_eq!(a.to_string(), "0.0.0.0:0"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("must refuse a non-loopback address"),
    }
}

#[tokio::test]
async fn inventory_errors_name_file_and_pointer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("nsx")).unwrap();
    std::fs::copy(
        fixture("mini").join("metadata.json"),
        dir.path().join("metadata.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("nsx/logical-switches.json"),
        r#"{"results":[{"id":"a","resource_type":"LogicalSwitch"},{"resource_type":"LogicalSwitch"}]}"#,
    )
    .unwrap();
    let err = Simulator::start(config_with(Some(dir.path().to_path_buf())))
        .await
        .err()
        .expect("bad inventory refused")
        .to_string();
    assert!(err.contains("logical-switches.json"), "{err}");
    assert!(err.contains("/results/1/id"), "{err}");

    std::fs::remove_file(dir.path().join("nsx/logical-switches.json")).unwrap();
    std::fs::write(
        dir.path().join("nsx/logical-swiches.json"),
        r#"{"results":[]}"#,
    )
    .unwrap();
    let err = Simulator::start(config_with(Some(dir.path().to_path_buf())))
        .await
        .err()
        .expect("typo refused")
        .to_string();
    assert!(err.contains("unknown NSX snapshot file"), "{err}");

    std::fs::remove_file(dir.path().join("nsx/logical-swiches.json")).unwrap();
    std::fs::write(
        dir.path().join("nsx/ip-sets.json"),
        "{\"results\": [\n  {\"id\": 1,}\n]}",
    )
    .unwrap();
    let err = Simulator::start(config_with(Some(dir.path().to_path_buf())))
        .await
        .err()
        .expect("bad json refused")
        .to_string();
    assert!(
        err.contains("ip-sets.json") && err.contains("line 2"),
        "{err}"
    );
}

#[tokio::test]
async fn lists_page_with_cursors_and_cap_page_size() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let (s, v) = c.get("/api/v1/logical-ports?page_size=2").await;
    assert_eq!(s, 200);
    assert_eq!(v["result_count"], 3);
    assert_eq!(v["results"].as_array().unwrap().len(), 2);
    let cursor = v["cursor"]
        .as_str()
        .expect("cursor on a partial page")
        .to_string();
    let (_, v2) = c
        .get(&format!(
            "/api/v1/logical-ports?page_size=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(v2["results"].as_array().unwrap().len(), 1);
    assert!(v2.get("cursor").is_none());
    let all = c.list_all("/api/v1/logical-ports", 1).await;
    assert_eq!(all.len(), 3);

    let (s, v) = c.get("/api/v1/logical-ports?page_size=1001").await;
    assert_eq!(s, 400);
    assert_nsx_error(&v);
    assert_eq!(v["httpStatus"], "BAD_REQUEST");

    let (_, v) = c.get("/api/v1/logical-ports?attachment_id=vif-web-1").await;
    assert_eq!(v["result_count"], 1);
    assert_eq!(v["results"][0]["display_name"], "ns1/web-1");
    let (_, v) = c
        .get("/api/v1/logical-ports?attachment_type=LOGICALROUTER")
        .await;
    assert_eq!(v["result_count"], 1);
    let (_, v) = c.get("/api/v1/logical-routers?router_type=TIER0").await;
    assert_eq!(v["result_count"], 1);
    assert_eq!(v["results"][0]["router_type"], "TIER0");

    // System-owned switching profiles are hidden unless asked for.
    let (_, v) = c.get("/api/v1/switching-profiles").await;
    assert_eq!(v["result_count"], 1);
    let (_, v) = c
        .get("/api/v1/switching-profiles?include_system_owned=true")
        .await;
    assert_eq!(v["result_count"], 2);
    h.shutdown().await;
}

#[tokio::test]
async fn create_get_update_delete_with_revisions() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let (s, created) = c
        .post(
            "/api/v1/logical-switches",
            &json!({"display_name": "ls-new", "transport_zone_id": "tz-1", "admin_state": "UP",
                    "_revision": 99, "_create_user": "mallory",
                    "tags": [{"scope": "ncp/cluster", "tag": "k8s-cl1"}]}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 36);
    assert_eq!(created["resource_type"], "LogicalSwitch");
    assert_eq!(created["_revision"], 0);
    assert_eq!(created["_create_user"], "admin");
    assert_eq!(created["_protection"], "NOT_PROTECTED");
    assert_eq!(created["_system_owned"], false);
    assert!(created["_create_time"].as_i64().unwrap() > 1_700_000_000_000);

    let (s, got) = c.get(&format!("/api/v1/logical-switches/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(got, created);

    // Missing and stale _revision are refused with 412.
    let mut upd = got.clone();
    upd.as_object_mut().unwrap().remove("_revision");
    upd["display_name"] = json!("renamed");
    let (s, v) = c.put(&format!("/api/v1/logical-switches/{id}"), &upd).await;
    assert_eq!(s, 412, "{v}");
    assert_nsx_error(&v);
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("Fetch the latest copy")
    );
    upd["_revision"] = json!(5);
    let (s, _) = c.put(&format!("/api/v1/logical-switches/{id}"), &upd).await;
    assert_eq!(s, 412);
    upd["_revision"] = json!(0);
    let (s, v) = c.put(&format!("/api/v1/logical-switches/{id}"), &upd).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["_revision"], 1);
    assert_eq!(v["display_name"], "renamed");
    assert_eq!(v["_create_time"], created["_create_time"]);
    // Old revision is now stale.
    let (s, _) = c.put(&format!("/api/v1/logical-switches/{id}"), &upd).await;
    assert_eq!(s, 412);

    let (s, _) = c.delete(&format!("/api/v1/logical-switches/{id}")).await;
    assert_eq!(s, 200);
    let (s, v) = c.get(&format!("/api/v1/logical-switches/{id}")).await;
    assert_eq!(s, 404);
    assert_eq!(assert_nsx_error(&v), 202);
    h.shutdown().await;
}

#[tokio::test]
async fn validation_limits_and_required_fields() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let tags: Vec<Value> = (0..31)
        .map(|i| json!({"scope": "s", "tag": format!("t{i}")}))
        .collect();
    let base = json!({"transport_zone_id": "tz", "admin_state": "UP"});
    let mut b = base.clone();
    b["tags"] = json!(tags);
    let (s, v) = c.post("/api/v1/logical-switches", &b).await;
    assert_eq!(s, 400);
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("maximum is 30"),
        "{v}"
    );
    b["tags"] = json!(tags[..30]);
    let (s, _) = c.post("/api/v1/logical-switches", &b).await;
    assert_eq!(s, 201);

    let mut b = base.clone();
    b["tags"] = json!([{"scope": "x".repeat(129), "tag": "t"}]);
    assert_eq!(c.post("/api/v1/logical-switches", &b).await.0, 400);
    b["tags"] = json!([{"scope": "x".repeat(128), "tag": "t".repeat(257)}]);
    assert_eq!(c.post("/api/v1/logical-switches", &b).await.0, 400);
    b["tags"] = json!([{"scope": "x".repeat(128), "tag": "t".repeat(256)}]);
    assert_eq!(c.post("/api/v1/logical-switches", &b).await.0, 201);
    let mut b = base.clone();
    b["display_name"] = json!("d".repeat(256));
    assert_eq!(c.post("/api/v1/logical-switches", &b).await.0, 400);

    let (s, v) = c
        .post("/api/v1/logical-switches", &json!({"admin_state": "UP"}))
        .await;
    assert_eq!(s, 400);
    assert!(
        v["error_message"]
            .as_str()
            .unwrap()
            .contains("transport_zone_id")
    );

    // Polymorphic collections need a known resource_type.
    let (s, _) = c
        .post(
            "/api/v1/logical-router-ports",
            &json!({"logical_router_id": "x"}),
        )
        .await;
    assert_eq!(s, 400);
    // References are checked.
    let (s, v) = c
        .post(
            "/api/v1/logical-ports",
            &json!({"logical_switch_id": "nope", "admin_state": "UP"}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/logical-switches",
            &json!({"x": 1}).to_string().into(),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn children_under_routers_and_ipam() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let t1 = "22222222-0000-4000-8000-000000000000";
    let t0 = "11111111-0000-4000-8000-000000000000";
    let (_, v) = c
        .get(&format!("/api/v1/logical-routers/{t0}/nat/rules"))
        .await;
    assert_eq!(v["result_count"], 1);
    let (_, v) = c
        .get(&format!("/api/v1/logical-routers/{t1}/nat/rules"))
        .await;
    assert_eq!(v["result_count"], 0);
    let (s, nat) = c
        .post(
            &format!("/api/v1/logical-routers/{t1}/nat/rules"),
            &json!({"action": "SNAT", "match_source_network": "10.20.0.0/24", "translated_network": "192.0.2.11"}),
        )
        .await;
    assert_eq!(s, 201, "{nat}");
    assert_eq!(nat["logical_router_id"], t1);
    let nat_id = nat["id"].as_str().unwrap();
    assert!(
        nat_id.parse::<u64>().unwrap() > 1030,
        "numeric id above loaded ones"
    );
    // A NAT rule is not visible under another router.
    let (s, _) = c
        .get(&format!("/api/v1/logical-routers/{t0}/nat/rules/{nat_id}"))
        .await;
    assert_eq!(s, 404);
    let (_, v) = c
        .get(&format!(
            "/api/v1/logical-routers/{t1}/routing/static-routes"
        ))
        .await;
    assert_eq!(v["result_count"], 1);

    // IP block subnets are carved from the block, without overlap.
    let blk = "77777777-0000-4000-8000-000000000000";
    let (s, sub) = c
        .post(
            "/api/v1/pools/ip-subnets",
            &json!({"block_id": blk, "size": 256}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    assert_eq!(sub["cidr"], "10.10.1.0/24");
    // Pool allocation picks the next free address and refuses duplicates.
    let ext = "88888888-0000-4000-8000-000000000001";
    let (s, a) = c
        .post(
            &format!("/api/v1/pools/ip-pools/{ext}?action=ALLOCATE"),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["allocation_id"], "192.0.2.11");
    let (s, _) = c
        .post(
            &format!("/api/v1/pools/ip-pools/{ext}?action=ALLOCATE"),
            &json!({"allocation_id": "192.0.2.11"}),
        )
        .await;
    assert_eq!(s, 400);
    let (_, v) = c
        .get(&format!("/api/v1/pools/ip-pools/{ext}/allocations"))
        .await;
    assert_eq!(v["result_count"], 2);
    let (s, _) = c
        .post(
            &format!("/api/v1/pools/ip-pools/{ext}?action=RELEASE"),
            &json!({"allocation_id": "192.0.2.11"}),
        )
        .await;
    assert_eq!(s, 200);
    // A switch with ports cannot be deleted.
    let (s, v) = c
        .delete("/api/v1/logical-switches/44444444-0000-4000-8000-000000000000")
        .await;
    assert_eq!(s, 400, "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn basic_auth_and_wrong_credentials() {
    let h = start_mini().await;
    let mut c = Client::new(&h);
    let (s, _) = c.get("/api/v1/node/version").await;
    assert_eq!(s, 200);
    c.pass = "wrong".into();
    let (s, v) = c.get("/api/v1/node/version").await;
    assert_eq!(s, 403);
    assert_eq!(assert_nsx_error(&v), 403);
    // No credentials at all.
    init_tls();
    let resp = reqwest::get(format!("{}/api/v1/node/version", h.base_url()))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    // The request log never contains the password.
    let log = serde_json::to_string(&h.request_log()).unwrap();
    assert!(!log.contains(simulator::DEFAULT_PASSWORD));
    assert!(!log.contains("wrong"));
    h.shutdown().await;
}

#[tokio::test]
async fn session_auth_requires_xsrf_on_writes() {
    let h = start_mini().await;
    init_tls();
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let base = h.base_url();
    let bad = http
        .post(format!("{base}/api/session/create"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("j_username=admin&j_password=nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 403);
    let v: Value = bad.json().await.unwrap();
    assert_eq!(v["error_code"], 403);

    let resp = http
        .post(format!("{base}/api/session/create"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("j_username=admin&j_password=VMware1%21VMware1%21")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let xsrf = resp
        .headers()
        .get("x-xsrf-token")
        .expect("X-XSRF-TOKEN header")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        resp.headers()
            .get("set-cookie")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("JSESSIONID=")
    );
    // Reads work with the cookie alone.
    let r = http
        .get(format!("{base}/api/v1/logical-switches"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // Writes without the token: 403 error_code 98.
    let body = json!({"transport_zone_id": "tz", "admin_state": "UP"}).to_string();
    let r = http
        .post(format!("{base}/api/v1/logical-switches"))
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], 98);
    let r = http
        .post(format!("{base}/api/v1/logical-switches"))
        .header("content-type", "application/json")
        .header("X-XSRF-TOKEN", "forged")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = http
        .post(format!("{base}/api/v1/logical-switches"))
        .header("content-type", "application/json")
        .header("X-XSRF-TOKEN", &xsrf)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    // After destroy the cookie no longer works.
    let r = http
        .post(format!("{base}/api/session/destroy"))
        .header("X-XSRF-TOKEN", &xsrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http
        .get(format!("{base}/api/v1/logical-switches"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    h.shutdown().await;
}

#[tokio::test]
async fn node_version_and_coordinator_service() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let (_, v) = c.get("/api/v1/node/version").await;
    assert_eq!(v["node_version"], "3.2.1.2.0.19283847");
    let (_, v) = c
        .get("/api/v1/node/services/migration-coordinator/status")
        .await;
    assert_eq!(v["runtime_state"], "running");
    let (s, v) = c
        .post_empty("/api/v1/node/services/migration-coordinator?action=stop")
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = c
        .get("/api/v1/node/services/migration-coordinator/status")
        .await;
    assert_eq!(v["runtime_state"], "stopped");
    assert_eq!(v["monitor_runtime_state"], "stopped");
    let (s, _) = c
        .post_empty("/api/v1/node/services/migration-coordinator?action=bogus")
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .post_empty("/api/v1/node/services/migration-coordinator?action=start")
        .await;
    assert_eq!(s, 200);
    let (_, v) = c
        .get("/api/v1/node/services/migration-coordinator/status")
        .await;
    assert_eq!(v["runtime_state"], "running");
    let (_, v) = c.get("/api/v1/spec/vmware/types/Tag").await;
    assert_eq!(v["properties"]["scope"]["maxLength"], 128);
    assert_eq!(v["properties"]["tag"]["maxLength"], 256);
    let (_, v) = c.get("/api/v1/spec/vmware/types/ManagedResource").await;
    assert_eq!(v["properties"]["tags"]["maxItems"], 30);
    let (s, v) = c.get("/api/v1/no-such-thing").await;
    assert_eq!(s, 404);
    assert_nsx_error(&v);
    h.shutdown().await;
}

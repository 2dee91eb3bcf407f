//! Fault injection, limits, latency, request log, state dump, state file and exit-after-N,
//! each observed from the client side.

use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::{Value, json};
use simulator::{Limits, SimConfig, Simulator};

fn write_faults(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let p = dir.path().join("faults.toml");
    std::fs::write(&p, text).unwrap();
    p
}

async fn start_with(cfg: SimConfig) -> simulator::SimHandle {
    Simulator::start(SimConfig {
        inventory: Some(fixture("mini")),
        ..cfg
    })
    .await
    .expect("simulator starts")
}

#[tokio::test]
async fn status_faults_from_toml_nth_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_faults(
        &dir,
        r#"
[[rule]]
name = "first-list-503"
method = "GET"
path = "/api/v1/logical-switches"
nth = [1, 3]
action = "status"
status = 503

[[rule]]
name = "busy"
method = "POST"
path = "/api/v1/migration/mp-to-policy"
times = 1
action = "busy"

[[rule]]
path = "/api/v1/logical-routers/*"
query = "action=nothing"
action = "status"
status = 500
"#,
    );
    let h = start_with(SimConfig {
        faults: Some(f),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(c.get("/api/v1/logical-switches").await.0);
        }
        v
    };
    assert_eq!(statuses, vec![503, 200, 503, 200]);
    let (s, v) = c.get("/api/v1/logical-switches").await;
    assert_eq!(s, 200, "{v}");

    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    let body = json!({"migration_data": [{"type": "IPBLOCK", "resource_ids": [
        {"manager_id": "77777777-0000-4000-8000-000000000000"}]}]});
    let (s, v) = c.post("/api/v1/migration/mp-to-policy", &body).await;
    assert_eq!(s, 400);
    assert_nsx_error(&v);
    assert_eq!(
        v["error_message"],
        "Migration coordinator backend is busy. Please try again after some time."
    );
    let (s, _) = c.post("/api/v1/migration/mp-to-policy", &body).await;
    assert_eq!(s, 200, "times = 1");

    // The request log records which fault fired.
    let log = h.request_log();
    let fired: Vec<&str> = log.iter().filter_map(|e| e["fault"].as_str()).collect();
    assert_eq!(fired, vec!["first-list-503", "first-list-503", "busy"]);
    h.shutdown().await;
}

#[tokio::test]
async fn bad_fault_files_are_refused_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_faults(&dir, "[[rule]]\npath = \"/x\"\naction = \"explode\"\n");
    let e = Simulator::start(SimConfig {
        faults: Some(f),
        ..SimConfig::default()
    })
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(
        e.contains("faults.toml") && e.contains("unknown action"),
        "{e}"
    );
    let f = write_faults(
        &dir,
        "[[rule]]\npath = \"/x\"\naction = \"status\"\nstatuss = 5\n",
    );
    let e = Simulator::start(SimConfig {
        faults: Some(f),
        ..SimConfig::default()
    })
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("statuss"), "{e}");
}

async fn probability_pattern(seed: u64) -> Vec<u16> {
    let h = start_with(SimConfig {
        seed,
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    let (s, _) = c
        .post(
            "/_sim/faults",
            &json!({"path": "/api/v1/ip-sets", "probability": 0.5, "action": "status", "status": 429}),
        )
        .await;
    assert_eq!(s, 200);
    let mut out = Vec::new();
    for _ in 0..24 {
        out.push(
            c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[])
                .await
                .0,
        );
    }
    h.shutdown().await;
    out
}

#[tokio::test]
async fn seeded_probability_is_deterministic() {
    let a = probability_pattern(42).await;
    let b = probability_pattern(42).await;
    assert_eq!(a, b, "same seed, same faults");
    assert!(a.contains(&429) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn delay_reset_drop_and_hang_are_observable() {
    let h = start_with(SimConfig::default()).await;
    let c = Client::new(&h);
    for rule in [
        json!({"path": "/api/v1/ip-sets", "action": "delay", "delay_ms": 300, "times": 1}),
        json!({"path": "/api/v1/ns-groups", "action": "reset", "times": 1}),
        json!({"path": "/api/v1/logical-ports", "action": "drop", "times": 1}),
        json!({"path": "/api/v1/logical-routers", "action": "hang", "times": 1}),
    ] {
        let (s, v) = c.post("/_sim/faults", &rule).await;
        assert_eq!(s, 200, "{v}");
    }
    let t = Instant::now();
    let (s, _) = c.get("/api/v1/ip-sets").await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));

    let url = |p: &str| format!("{}{p}", h.base_url());
    let auth = |rb: reqwest::RequestBuilder| {
        rb.basic_auth(
            simulator::DEFAULT_USERNAME,
            Some(simulator::DEFAULT_PASSWORD),
        )
    };
    for p in ["/api/v1/ns-groups", "/api/v1/logical-ports"] {
        let fresh = reqwest::Client::builder().build().unwrap();
        let r = auth(fresh.get(url(p))).send().await;
        assert!(r.is_err(), "{p}: connection must fail, got {r:?}");
        // The next request succeeds (times = 1).
        let r = auth(fresh.get(url(p))).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    let fresh = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let r = auth(fresh.get(url("/api/v1/logical-routers"))).send().await;
    assert!(r.as_ref().is_err_and(|e| e.is_timeout()), "{r:?}");

    let (_, faults) = c.get("/_sim/faults").await;
    let fired: Vec<u64> = faults["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fired"].as_u64().unwrap())
        .collect();
    assert_eq!(fired, vec![1, 1, 1, 1]);
    let (s, _) = c.delete("/_sim/faults").await;
    assert_eq!(s, 204);
    let (_, faults) = c.get("/_sim/faults").await;
    assert_eq!(faults["rules"].as_array().unwrap().len(), 0);
    h.shutdown().await;
}

#[tokio::test]
async fn migration_faults_from_toml() {
    let dir = tempfile::tempdir().unwrap();
    let f = write_faults(
        &dir,
        "[migration]\nprecheck_fail = [\"77777777-0000-4000-8000-000000000000\"]\n",
    );
    let h = start_with(SimConfig {
        faults: Some(f),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    let (ok, last) = run_batch(
        &c,
        &json!({"migration_data": [{"type": "IPBLOCK", "resource_ids": [
            {"manager_id": "77777777-0000-4000-8000-000000000000"}]}]}),
    )
    .await;
    assert!(!ok, "{last}");
    assert_eq!(last["component_status"][0]["status"], "FAILED", "{last}");
    h.shutdown().await;
}

#[tokio::test]
async fn rate_and_concurrency_limits_answer_429() {
    let h = start_with(SimConfig {
        limits: Limits {
            client_rate_per_sec: 5,
            client_concurrency: 0,
            global_concurrency: 0,
        },
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    // Align to the start of a second so the burst falls in one window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(
        1000 - (now.as_millis() % 1000) as u64,
    ))
    .await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        statuses.push(
            c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[])
                .await,
        );
    }
    let limited: Vec<&(u16, Value)> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert_eq!(
        limited[0].1["error_message"],
        "Client 'admin' exceeded request rate of 5 per second."
    );
    h.shutdown().await;

    let h = start_with(SimConfig {
        limits: Limits {
            client_rate_per_sec: 0,
            client_concurrency: 1,
            global_concurrency: 0,
        },
        latency: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    let (a, b) = tokio::join!(
        c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[]),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[])
                .await
        }
    );
    assert_eq!(a.0, 200);
    assert_eq!(b.0, 429, "{}", b.1);
    assert!(
        b.1["error_message"]
            .as_str()
            .unwrap()
            .contains("concurrent")
    );
    h.shutdown().await;

    let h = start_with(SimConfig {
        limits: Limits {
            client_rate_per_sec: 0,
            client_concurrency: 0,
            global_concurrency: 1,
        },
        latency: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    let (a, b) = tokio::join!(
        c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[]),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            c.send_once(reqwest::Method::GET, "/api/v1/ip-sets", None, &[])
                .await
        }
    );
    assert_eq!(a.0, 200);
    assert_eq!(b.0, 503);
    h.shutdown().await;
}

#[tokio::test]
async fn latency_with_seeded_jitter() {
    let h = start_with(SimConfig {
        latency: Duration::from_millis(50),
        jitter: Duration::from_millis(50),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    for _ in 0..3 {
        let t = Instant::now();
        let (s, _) = c.get("/api/v1/ip-sets").await;
        assert_eq!(s, 200);
        assert!(t.elapsed() >= Duration::from_millis(50));
    }
    h.shutdown().await;
}

#[tokio::test]
async fn request_log_file_and_state_dump() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("requests.jsonl");
    let h = start_with(SimConfig {
        request_log: Some(log.clone()),
        ..SimConfig::default()
    })
    .await;
    let c = Client::new(&h);
    c.get("/api/v1/ip-sets").await;
    let (s, created) = c
        .post(
            "/api/v1/ip-sets",
            &json!({"display_name": "logged", "ip_addresses": ["10.0.0.1"]}),
        )
        .await;
    assert_eq!(s, 201);
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["method"], "GET");
    assert_eq!(lines[1]["status"], 201);
    assert_eq!(lines[1]["body"]["display_name"], "logged");
    let (_, reqs) = c.get("/_sim/requests").await;
    assert_eq!(
        reqs.as_array().unwrap().len(),
        2,
        "control calls are not logged"
    );
    let (_, dump) = c.get("/_sim/state").await;
    assert!(
        dump["mp"]["ip-sets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == created["id"])
    );
    assert_eq!(dump, h.state_dump());
    h.shutdown().await;
}

#[tokio::test]
async fn state_file_survives_exit_after_n_requests() {
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("state.json");
    let cfg = SimConfig {
        state_file: Some(sf.clone()),
        exit_after_requests: Some(3),
        ..SimConfig::default()
    };
    let h = start_with(cfg.clone()).await;
    let c = Client::new(&h);
    let (s, created) = c
        .post(
            "/api/v1/logical-switches",
            &json!({"transport_zone_id": "tz", "admin_state": "UP", "display_name": "survivor"}),
        )
        .await;
    assert_eq!(s, 201);
    c.post_empty("/api/v1/node/services/migration-coordinator?action=stop")
        .await;
    c.get("/api/v1/node/version").await;
    // Third request reached: the server stops on its own.
    tokio::time::timeout(Duration::from_secs(10), h.wait())
        .await
        .expect("server exits after 3 requests");
    assert!(sf.exists());

    let h = start_with(SimConfig {
        exit_after_requests: None,
        ..cfg
    })
    .await;
    let c = Client::new(&h);
    let id = created["id"].as_str().unwrap();
    let (s, v) = c.get(&format!("/api/v1/logical-switches/{id}")).await;
    assert_eq!(s, 200, "state restored: {v}");
    assert_eq!(v["display_name"], "survivor");
    let (_, v) = c
        .get("/api/v1/node/services/migration-coordinator/status")
        .await;
    assert_eq!(v["runtime_state"], "stopped");
    // New ids never collide with restored ones; a corrupt state file is refused by name.
    let (_, other) = c
        .post(
            "/api/v1/logical-switches",
            &json!({"transport_zone_id": "tz", "admin_state": "UP"}),
        )
        .await;
    assert_ne!(other["id"], created["id"]);
    h.shutdown().await;
    std::fs::write(&sf, "{not json").unwrap();
    let e = Simulator::start(SimConfig {
        state_file: Some(sf.clone()),
        ..SimConfig::default()
    })
    .await
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("state.json"), "{e}");
}

#[tokio::test]
async fn exit_rule_serves_the_request_then_the_manager_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let sf = dir.path().join("state.json");
    let cfg = SimConfig {
        state_file: Some(sf.clone()),
        ..SimConfig::default()
    };
    let h = start_with(cfg.clone()).await;
    let c = Client::new(&h);
    let (s, _) = c
        .post(
            "/_sim/faults",
            &json!({"name": "bye", "method": "POST", "path": "/api/v1/logical-switches",
                    "nth": [2], "action": "exit"}),
        )
        .await;
    assert_eq!(s, 200);
    let body = json!({"transport_zone_id": "tz", "admin_state": "UP"});
    let (s, first) = c.post("/api/v1/logical-switches", &body).await;
    assert_eq!(s, 201);
    // Other requests do not count towards the rule's `nth`.
    c.get("/api/v1/node/version").await;
    let (s, second) = c.post("/api/v1/logical-switches", &body).await;
    assert_eq!(s, 201, "the request that fires the rule is served");
    tokio::time::timeout(Duration::from_secs(10), h.wait())
        .await
        .expect("the manager goes away after the exit rule fired");

    let h = start_with(cfg).await;
    let c = Client::new(&h);
    for created in [first, second] {
        let id = created["id"].as_str().unwrap();
        let (s, _) = c.get(&format!("/api/v1/logical-switches/{id}")).await;
        assert_eq!(s, 200, "{id} persisted across the restart");
    }
    h.shutdown().await;
}

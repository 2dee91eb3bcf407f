//! NsxClient against the simulator over real HTTP on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use client::{AuthMode, ClientError, Credentials, NsxClient, Request};
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn session_login_once_and_xsrf_on_writes() {
    let h = start_mini().await;
    let c = client_for(&h);
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    let created = c
        .post(
            "/api/v1/ip-sets",
            &json!({"display_name": "client-test", "ip_addresses": ["10.9.9.0/24"]}),
        )
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let got = c.get(&format!("/api/v1/ip-sets/{id}")).await.unwrap();
    assert_eq!(got["display_name"], "client-test");
    c.delete(&format!("/api/v1/ip-sets/{id}")).await.unwrap();
    assert!(
        c.get(&format!("/api/v1/ip-sets/{id}"))
            .await
            .unwrap_err()
            .is_not_found()
    );

    // One login for all of it; every call authenticated by the session (no basic auth).
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 1);
    let log = h.request_log();
    assert!(
        log.iter()
            .all(|e| e["user"] == "admin" || e["path"] == "/api/session/create")
    );
    assert!(log.iter().all(|e| e["status"].as_u64().unwrap() < 500));

    // Control: the simulator does refuse a session write without the XSRF token, so the POST
    // above passing proves the client sent it.
    let http = reqwest_plain();
    let resp = http
        .post(format!("{}/api/session/create", h.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "j_username=admin&j_password={}",
            urlenc(&password())
        ))
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let resp = http
        .post(format!("{}/api/v1/ip-sets", h.base_url()))
        .header("cookie", cookie)
        .header("content-type", "application/json")
        .body(r#"{"display_name":"x"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    h.shutdown().await;
}

fn reqwest_plain() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(client::client_config(&Default::default()).unwrap())
        .build()
        .unwrap()
}

fn urlenc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn wrong_password_fails_fast_without_echoing_it() {
    let h = start_mini().await;
    let secret = "Wr0ng-Pa55word-do-not-print";
    for auth in [AuthMode::Session, AuthMode::Basic] {
        let mut cfg = config_for(&h.base_url());
        cfg.credentials = Some(Credentials::new("admin", secret));
        cfg.auth = auth;
        let c = NsxClient::new(cfg).unwrap();
        let err = c.get("/api/v1/node/version").await.unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(
            matches!(
                err,
                ClientError::AuthFailed {
                    http_status: 403,
                    ..
                }
            ),
            "{auth:?}: {text}"
        );
        assert!(!text.contains(secret), "{text}");
        assert!(
            text.contains("admin") && text.contains("NSX_PASSWORD"),
            "{text}"
        );
        assert!(!err.is_retriable());
    }
    // Fail fast: one session create, one basic-auth GET; nothing retried.
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 1);
    assert_eq!(logged(&h, "GET", "/api/v1/node/version").len(), 1);
    // The request log never holds the password either.
    let log = serde_json::to_string(&h.request_log()).unwrap();
    assert!(!log.contains(secret));
    h.shutdown().await;
}

#[tokio::test]
async fn basic_auth_and_convenience_calls() {
    let h = start_mini().await;
    let c = basic_client(&h.base_url());
    assert_eq!(c.node_version().await.unwrap(), "3.2.1.2.0.19283847");
    let st = c.coordinator_status().await.unwrap();
    assert!(st.is_running(), "{st:?}");
    c.send(Request::post("/api/v1/node/services/migration-coordinator").query("action", "stop"))
        .await
        .unwrap();
    let st = c.coordinator_status().await.unwrap();
    assert!(!st.is_running());
    assert_eq!(st.runtime_state.to_ascii_lowercase(), "stopped");
    assert!(logged(&h, "POST", "/api/session/create").is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn session_renewed_once_on_bad_xsrf_and_401() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([
            {"name": "xsrf", "method": "GET", "path": "/api/v1/node/version", "nth": [2],
             "action": "status", "status": 403, "error_code": 98, "message": "Bad XSRF token"},
            {"name": "expired", "method": "GET", "path": "/api/v1/ip-sets", "nth": [1],
             "action": "status", "status": 401}
        ]),
    )
    .await;
    let c = client_for(&h);
    c.node_version().await.unwrap();
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 1);
    // Second call meets "bad XSRF": the client logs in again and resends.
    c.node_version().await.unwrap();
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 2);
    c.list_all("/api/v1/ip-sets").await.unwrap();
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 3);

    // A refusal that persists after a fresh login is reported, not looped on.
    add_faults(
        &h,
        json!([{"method": "GET", "path": "/api/v1/logical-ports", "action": "status", "status": 401}]),
    )
    .await;
    let err = c.get("/api/v1/logical-ports").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::AuthFailed {
                http_status: 401,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(logged(&h, "GET", "/api/v1/logical-ports").len(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn concurrent_callers_share_one_session() {
    let h = start_mini().await;
    let c = client_for(&h);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.node_version().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn list_all_pages_through_more_than_1000_objects() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_big(dir.path(), 2345).await;
    let c = client_for(&h);
    let mut progress = Vec::new();
    let all = c
        .list_all_with("/api/v1/ip-sets", |n| progress.push(n))
        .await
        .unwrap();
    assert_eq!(all.len(), 2345);
    assert_eq!(progress, vec![1000, 2000, 2345]);
    let ids: std::collections::BTreeSet<&str> =
        all.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2345);
    let gets = logged(&h, "GET", "/api/v1/ip-sets");
    let queries: Vec<&str> = gets.iter().map(|e| e["query"].as_str().unwrap()).collect();
    assert_eq!(queries, vec!["", "cursor=1000", "cursor=2000"]);

    // A path with its own query keeps it while paging.
    let filtered = c
        .list_all("/api/v1/ip-sets?resource_type=IPSet")
        .await
        .unwrap();
    assert_eq!(filtered.len(), 2345);

    // Bounded: a page limit stops with a clear error instead of running on.
    let mut cfg = config_for(&h.base_url());
    cfg.max_pages = 2;
    let c2 = NsxClient::new(cfg).unwrap();
    let err = c2.list_all("/api/v1/ip-sets").await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::PageLimit {
                max_pages: 2,
                objects: 2000,
                ..
            }
        ),
        "{err}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn search_all_pages_with_numeric_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let h = start_big(dir.path(), 2100).await;
    let c = client_for(&h);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let hits = c
        .search_all_with("resource_type:IPSet AND tags.tag:big", move |n| {
            s2.lock().unwrap().push(n)
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 2100);
    assert_eq!(*seen.lock().unwrap(), vec![1000, 2000, 2100]);
    // sort_by=id gives a stable order across pages.
    let ids: Vec<&str> = hits.iter().map(|o| o["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    assert_eq!(logged(&h, "GET", "/api/v1/search/query").len(), 3);

    let none = c.search_all("resource_type:LogicalPort").await.unwrap();
    assert!(none.is_empty());
    assert_eq!(logged(&h, "GET", "/api/v1/search/query").len(), 4);

    // Invalid queries surface the NSX error body.
    let err = c.search_all("resource_type:(").await.unwrap_err();
    let api = err.api().expect("api error");
    assert_eq!(api.http_status, 400);
    assert!(!api.error_message.is_empty());
    h.shutdown().await;
}

#[tokio::test]
async fn retries_429_503_and_busy_then_succeeds() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([
            {"name": "rate", "method": "GET", "path": "/api/v1/node/version", "nth": [1, 2],
             "action": "status", "status": 429},
            {"name": "unavail", "method": "GET", "path": "/api/v1/ip-sets", "nth": [1],
             "action": "status", "status": 503},
            {"name": "busy", "method": "POST", "path": "/api/v1/ip-sets", "nth": [1, 2],
             "action": "busy"}
        ]),
    )
    .await;
    let c = client_for(&h);
    c.node_version().await.unwrap();
    let v = logged(&h, "GET", "/api/v1/node/version");
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["fault"], "rate");
    assert_eq!(v[1]["fault"], "rate");
    assert_eq!(v[2]["status"], 200);

    c.list_all("/api/v1/ip-sets").await.unwrap();
    assert_eq!(logged(&h, "GET", "/api/v1/ip-sets").len(), 2);

    // "Migration coordinator backend is busy" (HTTP 400) is retried even for POST: the server
    // refused it before doing anything.
    let created = c
        .post("/api/v1/ip-sets", &json!({"display_name": "after-busy"}))
        .await
        .unwrap();
    assert_eq!(created["display_name"], "after-busy");
    let posts = logged(&h, "POST", "/api/v1/ip-sets");
    assert_eq!(posts.len(), 3);
    assert_eq!(
        posts.iter().filter(|e| e["status"] == 400).count(),
        2,
        "{posts:?}"
    );
    // 1 login + 3 version GETs + 2 list GETs + 3 POSTs; 2 + 1 + 2 retries.
    let st = c.stats();
    assert_eq!(
        (st.requests_sent, st.retries, st.logins),
        (9, 5, 1),
        "{st:?}"
    );
    let sets = c.list_all("/api/v1/ip-sets").await.unwrap();
    assert_eq!(
        sets.iter()
            .filter(|s| s["display_name"] == "after-busy")
            .count(),
        1
    );
    h.shutdown().await;
}

#[tokio::test]
async fn retries_are_bounded() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([{"method": "GET", "path": "/api/v1/node/version", "action": "status", "status": 503}]),
    )
    .await;
    let mut cfg = config_for(&h.base_url());
    cfg.retry = fast_retry(3);
    let c = NsxClient::new(cfg).unwrap();
    let err = c.node_version().await.unwrap_err();
    match &err {
        ClientError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 3);
            assert_eq!(last.http_status(), Some(503));
        }
        other => panic!("expected RetriesExhausted, got {other}"),
    }
    assert!(err.is_retriable());
    assert_eq!(err.api().unwrap().http_status, 503);
    assert_eq!(logged(&h, "GET", "/api/v1/node/version").len(), 3);

    // no_retry() sends exactly once.
    let err = c
        .send(Request::get("/api/v1/node/version").no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Api(_)), "{err}");
    assert_eq!(logged(&h, "GET", "/api/v1/node/version").len(), 4);

    // Non-retriable errors are not retried.
    let err = c.get("/api/v1/ip-sets/does-not-exist").await.unwrap_err();
    assert!(err.is_not_found() && !err.is_retriable());
    assert_eq!(logged(&h, "GET", "/api/v1/ip-sets/does-not-exist").len(), 1);
    h.shutdown().await;
}

#[tokio::test]
async fn connection_reset_retried_only_when_safe() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([
            {"name": "reset-get", "method": "GET", "path": "/api/v1/node/version", "nth": [1],
             "action": "reset"},
            {"name": "reset-post", "method": "POST", "path": "/api/v1/ip-sets", "nth": [1, 2],
             "action": "reset"}
        ]),
    )
    .await;
    let c = client_for(&h);
    // GET is idempotent: retried after the reset.
    c.node_version().await.unwrap();
    assert_eq!(logged(&h, "GET", "/api/v1/node/version").len(), 2);

    // POST is not: the reset is reported, nothing resent.
    let err = c
        .post("/api/v1/ip-sets", &json!({"display_name": "once"}))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Connect {
                may_have_reached_server: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_connection());
    assert_eq!(logged(&h, "POST", "/api/v1/ip-sets").len(), 1);

    // ... unless the caller marks it safe to resend.
    let created = c
        .send(
            Request::post("/api/v1/ip-sets")
                .json(json!({"display_name": "marked-safe"}))
                .idempotent(true),
        )
        .await
        .unwrap();
    assert_eq!(created.body["display_name"], "marked-safe");
    assert_eq!(logged(&h, "POST", "/api/v1/ip-sets").len(), 3);
    h.shutdown().await;
}

#[tokio::test]
async fn stale_revision_is_classified() {
    let h = start_mini().await;
    let c = client_for(&h);
    let created = c
        .post("/api/v1/ip-sets", &json!({"display_name": "rev"}))
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let mut body = created.clone();
    body["display_name"] = json!("rev-2");
    let updated = c
        .put(&format!("/api/v1/ip-sets/{id}"), &body)
        .await
        .unwrap();
    assert_eq!(updated["_revision"], 1);
    // The old revision is now stale.
    let err = c
        .put(&format!("/api/v1/ip-sets/{id}"), &body)
        .await
        .unwrap_err();
    assert!(err.is_stale_revision(), "{err}");
    assert!(!err.is_retriable() && !err.is_not_found());
    let api = err.api().unwrap();
    assert!(matches!(api.http_status, 409 | 412));
    assert!(!api.error_message.is_empty());
    // Stale revisions are the caller's business (re-read and re-apply): sent once.
    assert_eq!(logged(&h, "PUT", &format!("/api/v1/ip-sets/{id}")).len(), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn client_concurrency_limit_keeps_under_the_managers_limit() {
    // The simulated manager allows 4 outstanding requests per client and answers slowly.
    let mk = |client_concurrency| SimConfig {
        latency: Duration::from_millis(40),
        limits: simulator::Limits {
            client_rate_per_sec: 0,
            client_concurrency,
            global_concurrency: 0,
        },
        ..mini_config()
    };
    async fn burst(h: &simulator::SimHandle, limit: usize) -> (usize, usize) {
        let mut cfg = config_for(&h.base_url());
        cfg.max_concurrency = limit;
        cfg.retry = client::RetryPolicy::none();
        let c = NsxClient::new(cfg).unwrap();
        c.login().await.unwrap();
        let mut tasks = Vec::new();
        for _ in 0..48 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move { c.node_version().await }));
        }
        let (mut ok, mut too_many) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) if e.http_status() == Some(429) => too_many += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        (ok, too_many)
    }
    let h = start(mk(4)).await;
    assert_eq!(burst(&h, 4).await, (48, 0));
    // Control: without the client-side limit the manager does refuse some of the burst.
    let (_, refused) = burst(&h, 48).await;
    assert!(
        refused > 0,
        "the control burst should exceed the manager's limit"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn client_rate_limit_keeps_under_the_managers_rate() {
    let h = start(SimConfig {
        limits: simulator::Limits {
            client_rate_per_sec: 15,
            client_concurrency: 0,
            global_concurrency: 0,
        },
        ..mini_config()
    })
    .await;
    let mut cfg = config_for(&h.base_url());
    // A third of the manager's rate: even a long scheduling stall cannot bunch 15 starts into
    // one second, since slots are claimed when taken.
    cfg.rate_limit = Some(5.0);
    cfg.retry = client::RetryPolicy::none();
    let c = NsxClient::new(cfg).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.node_version().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let log = h.request_log();
    assert_eq!(log.len(), 17, "login + 16 GETs");
    assert!(log.iter().all(|e| e["status"] == 200), "{log:?}");

    // Control: 40 unpaced requests cannot fit in two 15-per-second windows, so the manager
    // refuses some of them.
    let mut cfg = config_for(&h.base_url());
    cfg.retry = client::RetryPolicy::none();
    cfg.auth = AuthMode::Basic;
    let fast = NsxClient::new(cfg).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let c = fast.clone();
        tasks.push(tokio::spawn(async move { c.node_version().await }));
    }
    let mut refused = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert_eq!(e.http_status(), Some(429), "{e}");
            refused += 1;
        }
    }
    assert!(refused > 0);
    h.shutdown().await;
}

#[tokio::test]
async fn typed_responses_and_errors_name_the_request() {
    #[derive(serde::Deserialize)]
    struct Version {
        node_version: String,
    }
    let h = start_mini().await;
    let c = client_for(&h);
    let v: Version = c.get_as("/api/v1/node/version").await.unwrap();
    assert!(v.node_version.starts_with("3.2"));
    let err = c
        .get_as::<Vec<String>>("/api/v1/node/version")
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("/api/v1/node/version"));
    let err = c.get("/api/v1/no-such-collection").await.unwrap_err();
    let s = err.to_string();
    assert!(
        s.contains("GET /api/v1/no-such-collection") && s.contains("404"),
        "{s}"
    );
    let _: Value = c.get("/api/v1/node/status").await.unwrap();
    h.shutdown().await;
}

#[tokio::test]
async fn unreachable_manager_is_a_connection_error() {
    // Bind then drop a listener to find a loopback port with nothing behind it.
    let port = unused_port();
    let mut cfg = config_for(&format!("http://127.0.0.1:{port}"));
    cfg.retry = fast_retry(2);
    let c = NsxClient::new(cfg).unwrap();
    let err = c.node_version().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    let s = err.to_string();
    assert!(
        s.contains("connection failed") && !s.contains(&password()),
        "{s}"
    );
}

#[tokio::test]
async fn escaped_values_find_exactly_their_object() {
    let h = start_mini().await;
    let c = client_for(&h);
    // Each name is found by `display_name:<escaped>` alone; the decoys would match if a
    // wildcard, an operator or a space in the searched value were read as syntax.
    let names = [
        "web (prod) && db",
        "a:b/c [x] {y} ^2 ~1 \\ \"q\"",
        "x*y",
        "x?y",
        "1+1=2 <3> !4 | 5 - 6",
        "東京 大阪/名古屋",
        "AND",
        "NOT",
    ];
    let decoys = ["xzy", "web", "prod", "db", "东京", "and-or"];
    for n in names.iter().chain(&decoys) {
        c.post("/api/v1/ip-sets", &json!({"display_name": n}))
            .await
            .unwrap();
    }
    for n in names {
        let q = format!(
            "resource_type:IPSet AND display_name:{}",
            client::search_escape(n)
        );
        let hits = c
            .search_all(&q)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        let found: Vec<&str> = hits
            .iter()
            .map(|o| o["display_name"].as_str().unwrap())
            .collect();
        assert_eq!(found, [n], "{q}");
    }
    h.shutdown().await;
}

#[tokio::test]
async fn policy_search_and_patch() {
    let h = start_mini().await;
    let c = client_for(&h);
    for i in 0..3 {
        c.patch(
            &format!("/policy/api/v1/infra/segments/seg-{i}"),
            &json!({"display_name": format!("seg {i}"), "tags": [{"scope": "t", "tag": "client"}]}),
        )
        .await
        .unwrap();
    }
    let hits = c
        .search_all_at(
            "/policy/api/v1/search/query",
            "resource_type:Segment AND tags.tag:client",
            |_| {},
        )
        .await
        .unwrap();
    let mut ids: Vec<&str> = hits.iter().map(|o| o["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, ["seg-0", "seg-1", "seg-2"]);
    h.shutdown().await;
}

#[tokio::test]
async fn login_retries_transient_failures_within_one_budget() {
    let h = start_mini().await;
    add_faults(
        &h,
        json!([{"name": "login-503", "method": "POST", "path": "/api/session/create", "nth": [1],
                "action": "status", "status": 503}]),
    )
    .await;
    let c = client_for(&h);
    c.node_version().await.unwrap();
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 2);

    // A login that keeps failing is retried by the login's own budget only (5 attempts), not
    // once more per attempt of the request that needed it.
    add_faults(
        &h,
        json!([{"method": "POST", "path": "/api/session/create", "action": "status", "status": 503}]),
    )
    .await;
    let c = client_for(&h);
    let err = c.node_version().await.unwrap_err();
    assert!(
        matches!(err, ClientError::RetriesExhausted { attempts: 5, .. }),
        "{err}"
    );
    assert_eq!(logged(&h, "POST", "/api/session/create").len(), 2 + 5);
    h.shutdown().await;
}

#[tokio::test]
async fn manager_restart_loses_sessions_and_the_client_logs_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let first = start(SimConfig {
        state_file: Some(state.clone()),
        ..mini_config()
    })
    .await;
    let addr = first.addr();
    let c = client_for(&first);
    let created = c
        .post(
            "/api/v1/ip-sets",
            &json!({"display_name": "before-restart"}),
        )
        .await
        .unwrap();
    first.shutdown().await;

    // Same address, state resumed from the state file, sessions gone.
    let second = start(SimConfig {
        listen: addr,
        state_file: Some(state),
        ..mini_config()
    })
    .await;
    let id = created["id"].as_str().unwrap();
    let got = c.get(&format!("/api/v1/ip-sets/{id}")).await.unwrap();
    assert_eq!(got["display_name"], "before-restart");
    let gets = logged(&second, "GET", &format!("/api/v1/ip-sets/{id}"));
    let statuses: Vec<u64> = gets.iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![403, 200], "{gets:?}");
    assert_eq!(logged(&second, "POST", "/api/session/create").len(), 1);

    // Again with 20 callers at once: every one of them meets the dead session, exactly one
    // logs in again, all succeed.
    second.shutdown().await;
    let third = start(SimConfig {
        listen: addr,
        state_file: Some(dir.path().join("state.json")),
        ..mini_config()
    })
    .await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.node_version().await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(logged(&third, "POST", "/api/session/create").len(), 1);
    assert_eq!(c.stats().logins, 3);
    third.shutdown().await;
}

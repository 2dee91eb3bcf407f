//! The OpenStack, NSX-V and vCenter readers against a small stub of each API on 127.0.0.1:
//! Keystone token and catalog, re-authentication after a refused token, Neutron marker paging
//! (following only the next link's query), NSX-V startIndex paging with the page past an exact
//! multiple, vCenter session renewal, and refused credentials named without the password.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use client::{
    ClientError, CloudConfig, Credentials, DomainRef, NsxvAuth, NsxvClient, OpenStackClient,
    ProjectScope, RetryPolicy, Secret, ServiceConfig, VcenterClient,
};
use serde_json::{Value, json};
use std::collections::HashMap;

const PASSWORD: &str = "Stub-Pass-123";

#[derive(Default)]
struct Stub {
    base: String,
    tokens_issued: usize,
    /// Tokens the stub still accepts.
    valid: Vec<String>,
    /// Requests with a valid token before the stub revokes it (simulates expiry).
    revoke_after: usize,
    served: usize,
    /// Query strings of the port list requests, in order.
    port_queries: Vec<String>,
    /// startIndex of the NSX-V edge page requests, in order.
    edge_starts: Vec<usize>,
    edge_count: usize,
    nsxv_tokens: usize,
    vc_sessions: usize,
}

type S = Arc<Mutex<Stub>>;

fn basic_ok(h: &HeaderMap) -> bool {
    // "admin:Stub-Pass-123"
    let expect = format!(
        "Basic {}",
        base64_encode(format!("admin:{PASSWORD}").as_bytes())
    );
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(expect.as_str())
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn tokens(State(s): State<S>, body: String) -> Response {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let user = &v["auth"]["identity"]["password"]["user"];
    if user["password"] != PASSWORD
        || user["name"] != "admin"
        || user["domain"]["name"] != "Default"
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})),
        )
            .into_response();
    }
    assert_eq!(v["auth"]["scope"]["project"]["name"], "admin");
    let mut st = s.lock().unwrap();
    st.tokens_issued += 1;
    let tok = format!("tok-{}", st.tokens_issued);
    st.valid = vec![tok.clone()];
    st.served = 0;
    let base = st.base.clone();
    let ep = |ty: &str, path: &str| {
        json!({"type": ty, "name": ty, "endpoints": [
            {"interface": "internal", "region_id": "RegionOne", "url": format!("{base}/wrong")},
            {"interface": "public", "region_id": "Other", "url": format!("{base}/wrong")},
            {"interface": "public", "region_id": "RegionOne", "url": format!("{base}/{path}")},
        ]})
    };
    let body = json!({"token": {
        "expires_at": "2999-01-01T00:00:00.000000Z",
        "catalog": [ep("network", "network/"), ep("load-balancer", "lb")],
    }});
    let mut h = HeaderMap::new();
    h.insert("x-subject-token", tok.parse().unwrap());
    (StatusCode::CREATED, h, axum::Json(body)).into_response()
}

fn token_ok(s: &S, h: &HeaderMap) -> bool {
    let mut st = s.lock().unwrap();
    let t = h
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !st.valid.iter().any(|v| v == t) {
        return false;
    }
    st.served += 1;
    if st.revoke_after > 0 && st.served > st.revoke_after {
        st.valid.clear();
        st.revoke_after = 0;
        return false;
    }
    true
}

async fn ports(
    State(s): State<S>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    raw: axum::extract::RawQuery,
) -> Response {
    if !token_ok(&s, &h) {
        return (StatusCode::UNAUTHORIZED, "{}").into_response();
    }
    s.lock()
        .unwrap()
        .port_queries
        .push(raw.0.unwrap_or_default());
    let all: Vec<Value> = (0..5).map(|i| json!({"id": format!("p{i}")})).collect();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000)
        .min(2);
    let start = match q.get("marker") {
        Some(m) => all
            .iter()
            .position(|p| p["id"] == m.as_str())
            .map(|i| i + 1)
            .unwrap_or(0),
        None => 0,
    };
    let page: Vec<Value> = all.iter().skip(start).take(limit).cloned().collect();
    let mut body = json!({"ports": page});
    if start + limit < all.len() {
        let last = page.last().unwrap()["id"].as_str().unwrap().to_string();
        // A next link naming another host: the client must keep its own.
        body["ports_links"] = json!([{"rel": "next", "href": format!("http://elsewhere.invalid/v2.0/ports?limit={limit}&marker={last}")}]);
    }
    axum::Json(body).into_response()
}

async fn nsxv_token(State(s): State<S>, h: HeaderMap) -> Response {
    if !basic_ok(&h) {
        return (
            StatusCode::FORBIDDEN,
            "<error><details>Authentication failed</details></error>",
        )
            .into_response();
    }
    let mut st = s.lock().unwrap();
    st.nsxv_tokens += 1;
    let t = format!("nsxv-{}", st.nsxv_tokens);
    st.valid.push(format!("AUTHTOKEN {t}"));
    format!("<authToken><value>{t}</value><expiresOn>0</expiresOn></authToken>").into_response()
}

async fn edges(
    State(s): State<S>,
    h: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let auth = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first token is refused (as if expired), the second accepted.
    if !(auth == "AUTHTOKEN nsxv-2" || basic_ok(&h)) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let start: usize = q["startIndex"].parse().unwrap();
    let size: usize = q["pageSize"].parse::<usize>().unwrap().min(2);
    let mut st = s.lock().unwrap();
    st.edge_starts.push(start);
    let total = st.edge_count;
    let data: Vec<Value> = (start..total.min(start + size))
        .map(|i| json!({"id": format!("edge-{i}"), "edgeType": "gatewayServices"}))
        .collect();
    axum::Json(json!({"edgePage": {"data": data, "pagingInfo": {"startIndex": start, "pageSize": size, "totalCount": total}}})).into_response()
}

async fn vc_session(State(s): State<S>, h: HeaderMap) -> Response {
    if !basic_ok(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error_type": "UNAUTHENTICATED", "messages": [{"default_message": "Authentication required.", "id": "x"}]})),
        )
            .into_response();
    }
    let mut st = s.lock().unwrap();
    st.vc_sessions += 1;
    axum::Json(json!(format!("sess-{}", st.vc_sessions))).into_response()
}

async fn vc_clusters(h: HeaderMap) -> Response {
    // Session 1 has "expired"; session 2 is good.
    if h.get("vmware-api-session-id").and_then(|v| v.to_str().ok()) != Some("sess-2") {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error_type": "UNAUTHENTICATED"})),
        )
            .into_response();
    }
    axum::Json(json!([{"cluster": "domain-c7", "name": "compute", "ha_enabled": false, "drs_enabled": false}])).into_response()
}

async fn start(edge_count: usize, revoke_after: usize) -> (String, S) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let s: S = Arc::new(Mutex::new(Stub {
        base: base.clone(),
        edge_count,
        revoke_after,
        ..Default::default()
    }));
    let app = Router::new()
        .route("/identity/v3/auth/tokens", post(tokens))
        .route("/network/v2.0/ports", get(ports))
        .route("/api/2.0/services/auth/token", post(nsxv_token))
        .route("/api/4.0/edges", get(edges))
        .route("/api/session", post(vc_session))
        .route("/api/vcenter/cluster", get(vc_clusters))
        .with_state(s.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, s)
}

fn cfg(page_size: usize) -> ServiceConfig {
    ServiceConfig {
        retry: RetryPolicy::none(),
        page_size,
        max_pages: 50,
        ..ServiceConfig::default()
    }
}

fn cloud(base: &str, password: &str) -> CloudConfig {
    CloudConfig {
        name: "stub".into(),
        source: "test".into(),
        auth_url: format!("{base}/identity/v3"),
        username: "admin".into(),
        user_domain: DomainRef::Name("Default".into()),
        password: Secret::new(password),
        project: ProjectScope::Name {
            name: "admin".into(),
            domain: DomainRef::Name("Default".into()),
        },
        region_name: Some("RegionOne".into()),
        interface: "public".into(),
        cacert: None,
        insecure: false,
    }
}

#[tokio::test]
async fn neutron_paging_follows_next_links_and_reauthenticates_once() {
    let (base, s) = start(0, 2).await;
    let os = OpenStackClient::new(cloud(&base, PASSWORD), cfg(2)).unwrap();
    let ports = os
        .list_all("network", "/v2.0/ports", "ports")
        .await
        .unwrap();
    let ids: Vec<&str> = ports.iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["p0", "p1", "p2", "p3", "p4"]);
    {
        let st = s.lock().unwrap();
        // The token was refused after two pages: one new token, the third page re-sent.
        assert_eq!(st.tokens_issued, 2);
        assert_eq!(
            st.port_queries,
            ["limit=2", "limit=2&marker=p1", "limit=2&marker=p3"]
        );
    }
    assert_eq!(os.logins(), 2);
    assert_eq!(
        os.endpoint("network").await.unwrap().as_str(),
        format!("{base}/network/")
    );
    let e = os.endpoint("compute").await.unwrap_err().to_string();
    assert!(
        e.contains("'compute'") && e.contains("network, load-balancer"),
        "{e}"
    );
}

#[tokio::test]
async fn keystone_refusal_names_user_and_cloud_not_password() {
    let (base, _) = start(0, 0).await;
    let os = OpenStackClient::new(cloud(&base, "Wrong-Secret-9"), cfg(2)).unwrap();
    let e = os
        .list_all("network", "/v2.0/ports", "ports")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Unauthorized {
                http_status: 401,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("Keystone") && msg.contains("'admin'") && msg.contains("'stub'"),
        "{msg}"
    );
    assert!(!msg.contains("Wrong-Secret-9"), "{msg}");
}

#[tokio::test]
async fn nsxv_paging_reads_the_page_past_an_exact_multiple_and_renews_the_token() {
    let (base, s) = start(4, 0).await;
    let creds = Credentials::new("admin", PASSWORD);
    let v = NsxvClient::new(
        &base,
        creds.clone(),
        NsxvAuth::Token {
            expires_in_minutes: 60,
        },
        cfg(2),
    )
    .unwrap();
    let edges = v.edges().await.unwrap();
    assert_eq!(edges.len(), 4);
    // Token 1 was refused, token 2 used; 4 edges in pages of 2 read 0, 2 and the empty 4.
    assert_eq!(v.logins(), 2);
    assert_eq!(s.lock().unwrap().edge_starts, [0, 2, 4]);
    s.lock().unwrap().edge_starts.clear();
    let v = NsxvClient::new(&base, creds.clone(), NsxvAuth::Basic, cfg(2))
        .unwrap()
        .page_past_end(false);
    assert_eq!(v.edges().await.unwrap().len(), 4);
    assert_eq!(s.lock().unwrap().edge_starts, [0, 2]);
    s.lock().unwrap().edge_starts.clear();
    s.lock().unwrap().edge_count = 3;
    let v = NsxvClient::new(&base, creds, NsxvAuth::Basic, cfg(2)).unwrap();
    assert_eq!(v.edges().await.unwrap().len(), 3);
    assert_eq!(s.lock().unwrap().edge_starts, [0, 2]);
    let bad = NsxvClient::new(
        &base,
        Credentials::new("admin", "Nope-Secret-1"),
        NsxvAuth::Token {
            expires_in_minutes: 60,
        },
        cfg(2),
    )
    .unwrap();
    let msg = bad.edges().await.unwrap_err().to_string();
    assert!(
        msg.contains("NSX-V Manager") && msg.contains("HTTP 403") && !msg.contains("Nope-Secret-1"),
        "{msg}"
    );
}

#[tokio::test]
async fn vcenter_session_is_renewed_once() {
    let (base, _) = start(0, 0).await;
    let vc = VcenterClient::new(&base, Credentials::new("admin", PASSWORD), cfg(2)).unwrap();
    let c = vc.clusters().await.unwrap();
    assert_eq!(c[0]["cluster"], "domain-c7");
    assert_eq!(vc.logins(), 2);
    let bad = VcenterClient::new(&base, Credentials::new("admin", "Bad-Secret-7"), cfg(2)).unwrap();
    let msg = bad.clusters().await.unwrap_err().to_string();
    assert!(
        msg.contains("vCenter")
            && msg.contains("Authentication required")
            && !msg.contains("Bad-Secret-7"),
        "{msg}"
    );
}

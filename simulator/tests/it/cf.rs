//! The Cloud Controller v3 and UAA subset of a TAS foundation (seeded from
//! `examples/inventories/tas-small/cf`): root links, tokens, 401 without one, pagination, stats,
//! and a simulator without a foundation.

use std::path::PathBuf;

use serde_json::Value;
use simulator::{SimHandle, Simulator};

use crate::common::{config_with, init_tls, start_mini};

fn tas_small() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/tas-small")
}

async fn start_tas() -> SimHandle {
    Simulator::start(config_with(Some(tas_small())))
        .await
        .expect("simulator starts")
}

fn http() -> reqwest::Client {
    init_tls();
    reqwest::Client::new()
}

async fn json(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn token(h: &SimHandle, form: &str, client: (&str, &str)) -> (u16, Value) {
    json(
        http()
            .post(format!("{}/uaa/oauth/token", h.base_url()))
            .basic_auth(client.0, Some(client.1))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_string()),
    )
    .await
}

fn password_form() -> String {
    format!(
        "grant_type=password&username={}&password={}",
        simulator::DEFAULT_USERNAME,
        simulator::DEFAULT_PASSWORD
    )
}

#[tokio::test]
async fn root_links_to_uaa_and_tokens_follow_the_grants() {
    let h = start_tas().await;
    let base = h.base_url();
    let (s, root) = json(http().get(format!("{base}/"))).await;
    assert_eq!(s, 200);
    assert_eq!(root["links"]["uaa"]["href"], format!("{base}/uaa"));
    assert_eq!(
        root["links"]["cloud_controller_v3"]["href"],
        format!("{base}/v3")
    );

    let (s, t) = token(&h, &password_form(), ("cf", "")).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["token_type"], "bearer");
    assert!(t["refresh_token"].is_string() && t["expires_in"].as_i64().unwrap() > 0);
    // A refresh gives a new access token.
    let form = format!(
        "grant_type=refresh_token&refresh_token={}",
        t["refresh_token"].as_str().unwrap()
    );
    let (s, r) = token(&h, &form, ("cf", "")).await;
    assert_eq!(s, 200, "{r}");
    assert_ne!(r["access_token"], t["access_token"]);
    // Wrong password, an unknown client, client credentials for the public `cf` client, an
    // unknown grant.
    let (s, e) = token(
        &h,
        "grant_type=password&username=admin&password=nope",
        ("cf", ""),
    )
    .await;
    assert_eq!((s, e["error"].as_str()), (401, Some("unauthorized")));
    let (s, _) = token(&h, &password_form(), ("other", "x")).await;
    assert_eq!(s, 401);
    let (s, _) = token(&h, "grant_type=client_credentials", ("cf", "")).await;
    assert_eq!(s, 400);
    let (s, e) = token(&h, "grant_type=implicit", ("cf", "")).await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn lists_need_a_bearer_token_and_page_with_absolute_next_links() {
    let h = start_tas().await;
    let base = h.base_url();
    let (s, e) = json(http().get(format!("{base}/v3/apps"))).await;
    assert_eq!(
        (s, e["errors"][0]["title"].as_str()),
        (401, Some("CF-NotAuthenticated"))
    );
    let (s, e) = json(http().get(format!("{base}/v3/apps")).bearer_auth("forged")).await;
    assert_eq!(
        (s, e["errors"][0]["title"].as_str()),
        (401, Some("CF-InvalidAuthToken"))
    );

    let (_, t) = token(&h, &password_form(), ("cf", "")).await;
    let bearer = t["access_token"].as_str().unwrap().to_string();
    let mut url = format!("{base}/v3/apps?per_page=3");
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (s, page) = json(http().get(&url).bearer_auth(&bearer)).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        assert_eq!(page["pagination"]["total_results"], 4);
        assert_eq!(page["pagination"]["total_pages"], 2);
        for a in page["resources"].as_array().unwrap() {
            names.push(a["name"].as_str().unwrap().to_string());
        }
        match page["pagination"]["next"]["href"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    names.sort();
    assert_eq!(names, ["cart", "catalog", "monitor", "storefront"]);
    for bad in ["per_page=0", "per_page=5001", "page=x"] {
        let (s, _) = json(
            http()
                .get(format!("{base}/v3/apps?{bad}"))
                .bearer_auth(&bearer),
        )
        .await;
        assert_eq!(s, 400, "{bad}");
    }
    let (s, _) = json(
        http()
            .get(format!("{base}/v3/processes/no-such/stats"))
            .bearer_auth(&bearer),
    )
    .await;
    assert_eq!(s, 404);
    // An expired token is refused.
    assert_eq!(h.expire_cf_tokens(), 1);
    let (s, e) = json(http().get(format!("{base}/v3/apps")).bearer_auth(&bearer)).await;
    assert_eq!((s, e["errors"][0]["code"].as_i64()), (401, Some(1000)));
    // Requests are logged as the Cloud Foundry API's, without the token request's body.
    let log = h.request_log();
    assert!(
        log.iter()
            .filter(|r| r["path"] == "/v3/apps")
            .all(|r| r["api"] == "cf")
    );
    assert!(
        log.iter()
            .filter(|r| r["path"] == "/uaa/oauth/token")
            .all(|r| r.get("body").is_none())
    );
    h.shutdown().await;
}

#[tokio::test]
async fn without_a_foundation_the_cloud_controller_paths_are_not_found() {
    let h = start_mini().await;
    let (s, e) = json(http().get(format!("{}/v3/apps", h.base_url()))).await;
    assert_eq!(
        (s, e["errors"][0]["title"].as_str()),
        (404, Some("CF-NotFound"))
    );
    h.shutdown().await;
}

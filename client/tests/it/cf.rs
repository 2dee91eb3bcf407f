//! The Cloud Foundry client against the simulator seeded with the TAS example
//! (`examples/inventories/tas-small`): UAA token, paging through `pagination.next.href`, token
//! renewal on a 401, refused credentials without the password in the message, TLS.

use std::path::PathBuf;

use client::{CfAuth, CfClient, CfConfig, CfError, Secret, TlsOptions};
use simulator::{SimConfig, SimHandle};

use crate::common::{password, start};

fn tas_small() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/tas-small")
}

async fn start_tas(tls: bool) -> SimHandle {
    start(SimConfig {
        inventory: Some(tas_small()),
        tls,
        ..SimConfig::default()
    })
    .await
}

fn user(pw: &str) -> CfAuth {
    CfAuth::Password {
        username: simulator::DEFAULT_USERNAME.into(),
        password: Secret::new(pw),
    }
}

fn client(h: &SimHandle, auth: CfAuth, per_page: usize) -> CfClient {
    let mut cfg = CfConfig::new(h.base_url(), auth);
    cfg.per_page = per_page;
    CfClient::new(cfg).unwrap()
}

fn token_requests(h: &SimHandle) -> usize {
    h.request_log()
        .iter()
        .filter(|r| r["path"] == "/uaa/oauth/token")
        .count()
}

#[tokio::test]
async fn lists_are_read_page_by_page_with_a_password_grant_token() {
    let h = start_tas(false).await;
    let cf = client(&h, user(&password()), 1);
    let apps = cf.list_all("/v3/apps").await.unwrap();
    let mut names: Vec<&str> = apps.iter().map(|a| a["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["cart", "catalog", "monitor", "storefront"]);
    // One page per app (per_page 1), each with the bearer token; one token request.
    let pages: Vec<_> = h
        .request_log()
        .into_iter()
        .filter(|r| r["path"] == "/v3/apps")
        .collect();
    assert_eq!(pages.len(), 4, "{pages:#?}");
    assert!(pages.iter().all(|r| r["status"] == 200));
    assert_eq!(token_requests(&h), 1);
    let processes = cf.list_all("/v3/processes").await.unwrap();
    let storefront = processes.iter().find(|p| p["instances"] == 2).unwrap()["guid"]
        .as_str()
        .unwrap()
        .to_string();
    let stats = cf.process_stats(&storefront).await.unwrap();
    let indexes: Vec<u64> = stats["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1]);
    h.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_renewed_once_and_the_request_repeated() {
    let h = start_tas(false).await;
    let cf = client(&h, user(&password()), 50);
    assert_eq!(cf.list_all("/v3/organizations").await.unwrap().len(), 2);
    assert_eq!(h.expire_cf_tokens(), 1);
    assert_eq!(cf.list_all("/v3/spaces").await.unwrap().len(), 3);
    let log = h.request_log();
    let spaces: Vec<u64> = log
        .iter()
        .filter(|r| r["path"] == "/v3/spaces")
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(spaces, [401, 200]);
    // The refresh token was used: a second token request, no second login needed.
    assert_eq!(token_requests(&h), 2);
    h.shutdown().await;
}

#[tokio::test]
async fn refused_credentials_name_uaa_and_never_the_password() {
    let h = start_tas(false).await;
    let cf = client(&h, user("not-the-password-4711"), 50);
    let e = cf.list_all("/v3/apps").await.unwrap_err();
    assert!(matches!(e, CfError::Auth { status: 401, .. }), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(
        text.contains("/uaa/oauth/token") && !text.contains("4711"),
        "{text}"
    );
    // Client credentials of a UAA client work; a wrong secret does not.
    let ok = client(
        &h,
        CfAuth::ClientCredentials {
            client_id: simulator::DEFAULT_USERNAME.into(),
            secret: Secret::new(password()),
        },
        50,
    );
    assert_eq!(ok.list_all("/v3/organizations").await.unwrap().len(), 2);
    // Without any token the Cloud Controller answers 401.
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(client::client_config(&TlsOptions::default()).unwrap())
        .build()
        .unwrap();
    let raw = http
        .get(format!("{}/v3/apps", h.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 401);
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["errors"][0]["title"], "CF-NotAuthenticated");
    h.shutdown().await;
}

#[tokio::test]
async fn tls_is_verified_and_a_pinned_thumbprint_is_accepted() {
    let h = start_tas(true).await;
    let unverified = client(&h, user(&password()), 50);
    let e = unverified.list_all("/v3/apps").await.unwrap_err();
    assert!(matches!(e, CfError::Http { .. }), "{e:?}");
    let mut cfg = CfConfig::new(h.base_url(), user(&password()));
    cfg.tls = TlsOptions {
        thumbprint: Some(h.tls_thumbprint().unwrap().to_string()),
        ..TlsOptions::default()
    };
    let pinned = CfClient::new(cfg).unwrap();
    assert_eq!(pinned.list_all("/v3/apps").await.unwrap().len(), 4);
    h.shutdown().await;
}

#[test]
fn an_api_url_with_credentials_is_refused() {
    let e = CfClient::new(CfConfig::new("https://u:p@api.example", user("x")))
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("must not contain credentials") && !e.contains("u:p"),
        "{e}"
    );
}

//! Principal identities: registration with a certificate, TLS client-certificate authentication,
//! ownership (`_create_user`) and protection of what an identity writes, on the Manager and the
//! Policy API, and the admin's `X-Allow-Overwrite` override.

use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle, Simulator};

const NCP_PI: &str = "com.vmware.nsx.ncp";

struct Tls {
    h: SimHandle,
    ca: reqwest::Certificate,
}

impl Tls {
    async fn start() -> Self {
        init_tls();
        let h = Simulator::start(SimConfig {
            tls: true,
            ..config_with(Some(fixture("mini")))
        })
        .await
        .unwrap();
        let ca = reqwest::Certificate::from_pem(h.tls_cert_pem().unwrap().as_bytes()).unwrap();
        Self { h, ca }
    }

    /// A client trusting the simulator's certificate, presenting `identity` (cert + key PEM).
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .tls_certs_only([self.ca.clone()])
            .timeout(Duration::from_secs(20));
        if let Some(pem) = identity {
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        admin: bool,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        overwrite: bool,
    ) -> (u16, Value) {
        let mut rq = client.request(method, format!("{}{path}", self.h.base_url()));
        if admin {
            rq = rq.basic_auth(
                simulator::DEFAULT_USERNAME,
                Some(simulator::DEFAULT_PASSWORD),
            );
        }
        if overwrite {
            rq = rq.header("X-Allow-Overwrite", "true");
        }
        if let Some(b) = body {
            rq = rq.json(b);
        }
        let r = rq.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

/// A self-signed client certificate and its key, as one PEM text (what `Identity::from_pem` reads).
fn client_identity(cn: &str) -> (String, String) {
    let ck = rcgen::generate_simple_self_signed(vec![cn.to_string()]).unwrap();
    let cert = ck.cert.pem();
    (
        cert.clone(),
        format!("{cert}{}", ck.signing_key.serialize_pem()),
    )
}

async fn register(t: &Tls, admin: &reqwest::Client, name: &str, cert: &str) -> Value {
    let (s, v) = t
        .send(
            admin,
            true,
            reqwest::Method::POST,
            "/api/v1/trust-management/principal-identities/with-certificate",
            Some(&json!({
                "name": name, "node_id": format!("{name}-node"), "role": "enterprise_admin",
                "certificate_pem": cert,
            })),
            false,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    v
}

#[tokio::test]
async fn registration_is_validated_and_listed() {
    let t = Tls::start().await;
    let admin = t.client(None);
    let (cert, _) = client_identity("ncp");
    let url = "/api/v1/trust-management/principal-identities/with-certificate";
    let post = reqwest::Method::POST;
    for (body, what) in [
        (json!({"node_id": "n", "certificate_pem": cert}), "name"),
        (json!({"name": "x", "certificate_pem": cert}), "node_id"),
        (json!({"name": "x", "node_id": "n"}), "certificate_pem"),
        (
            json!({"name": "x", "node_id": "n", "certificate_pem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}),
            "certificate_pem",
        ),
    ] {
        let (s, v) = t
            .send(&admin, true, post.clone(), url, Some(&body), false)
            .await;
        assert_eq!(s, 400, "{v}");
        assert_nsx_error(&v);
        assert!(v["error_message"].as_str().unwrap().contains(what), "{v}");
    }
    let pi = register(&t, &admin, NCP_PI, &cert).await;
    assert_eq!(pi["name"], NCP_PI);
    assert_eq!(pi["role"], "enterprise_admin");
    assert_eq!(pi["is_protected"], true);
    // The same certificate cannot be registered twice.
    let (s, _) = t
        .send(
            &admin,
            true,
            post,
            url,
            Some(&json!({"name": "other", "node_id": "n2", "certificate_pem": cert})),
            false,
        )
        .await;
    assert_eq!(s, 400);
    let (s, list) = t
        .send(
            &admin,
            true,
            reqwest::Method::GET,
            "/api/v1/trust-management/principal-identities",
            None,
            false,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["result_count"], 1, "{list}");
    assert_eq!(list["results"][0]["id"], pi["id"]);
    let id = pi["id"].as_str().unwrap();
    let path = format!("/api/v1/trust-management/principal-identities/{id}");
    let (s, one) = t
        .send(&admin, true, reqwest::Method::GET, &path, None, false)
        .await;
    assert_eq!((s, &one["name"]), (200, &json!(NCP_PI)));
    t.h.shutdown().await;
}

#[tokio::test]
async fn an_identity_owns_and_protects_what_it_writes() {
    let t = Tls::start().await;
    let admin_http = t.client(None);
    let (cert, ident) = client_identity("ncp");
    let ncp = t.client(Some(&ident));
    let (get, post, put, patch, delete) = (
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    );

    // Not registered yet: the certificate is not trusted; no certificate and no credentials at
    // all is refused as bad credentials.
    let (s, v) = t
        .send(&ncp, false, get.clone(), "/api/v1/ip-sets", None, false)
        .await;
    assert_eq!((s, assert_nsx_error(&v)), (500, 99), "{v}");
    let (s, v) = t
        .send(
            &admin_http,
            false,
            get.clone(),
            "/api/v1/ip-sets",
            None,
            false,
        )
        .await;
    assert_eq!((s, assert_nsx_error(&v)), (403, 403), "{v}");

    let pi = register(&t, &admin_http, NCP_PI, &cert).await;

    // Manager API: what the identity creates is its own and protected.
    let (s, set) = t
        .send(
            &ncp,
            false,
            post.clone(),
            "/api/v1/ip-sets",
            Some(&json!({"display_name": "ncp-set", "ip_addresses": ["10.0.0.1"]})),
            false,
        )
        .await;
    assert_eq!(s, 201, "{set}");
    assert_eq!(set["_create_user"], NCP_PI);
    assert_eq!(set["_last_modified_user"], NCP_PI);
    assert_eq!(set["_protection"], "REQUIRE_OVERRIDE");
    let path = format!("/api/v1/ip-sets/{}", set["id"].as_str().unwrap());
    let mut body = set.clone();
    body["display_name"] = json!("changed by admin");

    // The admin is refused without X-Allow-Overwrite, on update and delete.
    let (s, v) = t
        .send(&admin_http, true, put.clone(), &path, Some(&body), false)
        .await;
    assert_eq!((s, assert_nsx_error(&v)), (403, 520013), "{v}");
    assert!(v["error_message"].as_str().unwrap().contains(NCP_PI), "{v}");
    let (s, _) = t
        .send(&admin_http, true, delete.clone(), &path, None, false)
        .await;
    assert_eq!(s, 403);
    // ... and let through with it; the owner and the protection stay.
    let (s, v) = t
        .send(&admin_http, true, put.clone(), &path, Some(&body), true)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["display_name"], "changed by admin");
    assert_eq!(v["_create_user"], NCP_PI);
    assert_eq!(v["_last_modified_user"], simulator::DEFAULT_USERNAME);
    assert_eq!(v["_protection"], "REQUIRE_OVERRIDE");
    // The owner modifies its object without any header.
    let mut body = v.clone();
    body["display_name"] = json!("ncp again");
    let (s, v) = t
        .send(&ncp, false, put.clone(), &path, Some(&body), false)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["_last_modified_user"], NCP_PI);

    // Another identity may not modify it, not even with X-Allow-Overwrite (only a superuser may).
    let (cert2, ident2) = client_identity("other");
    register(&t, &admin_http, "other-pi", &cert2).await;
    let other = t.client(Some(&ident2));
    let (s, _) = t
        .send(&other, false, put.clone(), &path, Some(&v), true)
        .await;
    assert_eq!(s, 403);

    // Credentials win over a certificate: the request acts as the admin.
    let (s, v) = t
        .send(
            &ncp,
            true,
            post.clone(),
            "/api/v1/ip-sets",
            Some(&json!({"display_name": "admin-set"})),
            false,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["_create_user"], simulator::DEFAULT_USERNAME);
    assert_eq!(v["_protection"], "NOT_PROTECTED");

    // Policy API: the same rules on PATCH, PUT, DELETE and the hierarchical API.
    let seg = "/policy/api/v1/infra/segments/ncp-seg";
    let (s, v) = t
        .send(
            &ncp,
            false,
            patch.clone(),
            seg,
            Some(&json!({"display_name": "ncp-seg"})),
            false,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, obj) = t
        .send(&admin_http, true, get.clone(), seg, None, false)
        .await;
    assert_eq!(obj["_create_user"], NCP_PI);
    assert_eq!(obj["_protection"], "REQUIRE_OVERRIDE");
    let change = json!({"display_name": "admin-seg"});
    let (s, v) = t
        .send(&admin_http, true, patch.clone(), seg, Some(&change), false)
        .await;
    assert_eq!((s, assert_nsx_error(&v)), (403, 520013), "{v}");
    let (s, _) = t
        .send(&admin_http, true, delete.clone(), seg, None, false)
        .await;
    assert_eq!(s, 403);
    let hapi = json!({"resource_type": "Infra", "children": [
        {"resource_type": "ChildSegment", "Segment": {"resource_type": "Segment", "id": "ncp-seg", "display_name": "via h-api"}}
    ]});
    let (s, _) = t
        .send(
            &admin_http,
            true,
            patch.clone(),
            "/policy/api/v1/infra",
            Some(&hapi),
            false,
        )
        .await;
    assert_eq!(s, 403);
    let (s, v) = t
        .send(&admin_http, true, patch.clone(), seg, Some(&change), true)
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, obj) = t
        .send(&admin_http, true, get.clone(), seg, None, false)
        .await;
    assert_eq!(obj["display_name"], "admin-seg");
    assert_eq!(obj["_create_user"], NCP_PI);
    let (s, _) = t
        .send(&admin_http, true, put.clone(), seg, Some(&obj), false)
        .await;
    assert_eq!(s, 403);
    let (s, _) = t.send(&ncp, false, delete.clone(), seg, None, false).await;
    assert_eq!(s, 200);

    // Deleting the identity makes its certificate untrusted again.
    let id = pi["id"].as_str().unwrap();
    let (s, _) = t
        .send(
            &admin_http,
            true,
            delete,
            &format!("/api/v1/trust-management/principal-identities/{id}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .send(&ncp, false, get, "/api/v1/ip-sets", None, false)
        .await;
    assert_eq!(s, 500);
    t.h.shutdown().await;
}

/// The import's `setup_details.principal_identity` decides who owns the promoted Policy objects:
/// named, they are that identity's and protected from the admin (X-Allow-Overwrite needed);
/// absent, they are the caller's and unprotected.
#[tokio::test]
async fn import_setup_details_decide_the_owner_of_promoted_objects() {
    let h = start_mini().await;
    let c = Client::new(&h);
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    let block = "77777777-0000-4000-8000-000000000000";
    must_succeed(
        &c,
        &json!({"migration_data": [{"type": "IPBLOCK", "resource_ids": [{"manager_id": block}]}],
                "setup_details": {"principal_identity": NCP_PI}}),
    )
    .await;
    let (_, blk) = c.get(&format!("/api/v1/pools/ip-blocks/{block}")).await;
    let path = blk["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scope"] == "policyPath")
        .and_then(|t| t["tag"].as_str())
        .unwrap()
        .to_string();
    let url = format!("/policy/api/v1{path}");
    let (s, owned) = c.get(&url).await;
    assert_eq!(s, 200, "{owned}");
    assert_eq!(owned["_create_user"], NCP_PI);
    assert_eq!(owned["_protection"], "REQUIRE_OVERRIDE");
    let change = json!({"display_name": "renamed"});
    let (s, v) = c.patch(&url, &change).await;
    assert_eq!((s, assert_nsx_error(&v)), (403, 520013), "{v}");
    let r = c
        .http
        .patch(format!("{}{url}", c.base))
        .basic_auth(&c.user, Some(&c.pass))
        .header("X-Allow-Overwrite", "true")
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = c.get(&url).await;
    assert_eq!(v["display_name"], "renamed");
    assert_eq!(v["_create_user"], NCP_PI);

    // Without setup_details the caller owns them, unprotected: a plain PATCH works.
    let (_, pools) = c.get("/api/v1/ip-sets").await;
    let pool = pools["results"][0]["id"].as_str().unwrap().to_string();
    must_succeed(
        &c,
        &json!({"migration_data": [{"type": "IP_SET", "resource_ids": [{"manager_id": pool}]}]}),
    )
    .await;
    let (_, p) = c.get(&format!("/api/v1/ip-sets/{pool}")).await;
    let ppath = p["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["scope"] == "policyPath")
        .and_then(|t| t["tag"].as_str())
        .unwrap()
        .to_string();
    let purl = format!("/policy/api/v1{ppath}");
    let (_, unowned) = c.get(&purl).await;
    assert_eq!(unowned["_create_user"], simulator::DEFAULT_USERNAME);
    assert_eq!(unowned["_protection"], "NOT_PROTECTED");
    let (s, v) = c.patch(&purl, &change).await;
    assert_eq!(s, 200, "{v}");
    h.shutdown().await;
}

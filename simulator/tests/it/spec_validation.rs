//! Every Manager object the simulator serves validates against the official NSX-T 2.5.1 Manager API
//! definitions (Swagger 2.0 `definitions`, validated as draft 4 with `$ref: #/definitions/<Type>`).

use std::path::PathBuf;

use crate::common::*;
use jsonschema::{Draft, ValidatorMap};
use serde_json::{Value, json};
use simulator::{SimConfig, Simulator};

/// The official NSX-T 2.5.1 Manager API spec: `NSX_MANAGER_API_SPEC`, else the project's shared
/// reference folder next to the checkout.
pub(crate) fn spec_path() -> PathBuf {
    std::env::var_os("NSX_MANAGER_API_SPEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/reference/nsx-t-2.5.1-manager-api.json")
        })
}

/// A few spec patterns are written JavaScript-style with `/.../` delimiters (e.g. the MAC address
/// pattern), which as JSON Schema regexes would require literal slashes that no real value has.
/// Strip the delimiters so the patterns mean what the spec authors intended.
pub(crate) fn strip_regex_delimiters(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "pattern"
                    && let Value::String(p) = x
                    && p.len() > 2
                    && p.starts_with('/')
                    && p.ends_with('/')
                {
                    *p = p[1..p.len() - 1].to_string();
                } else {
                    strip_regex_delimiters(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(strip_regex_delimiters),
        _ => {}
    }
}

pub fn validators() -> ValidatorMap {
    let path = spec_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the official spec {} cannot be read ({e}); set NSX_MANAGER_API_SPEC to its path",
            path.display()
        )
    });
    let mut spec: Value = serde_json::from_str(&text).unwrap();
    strip_regex_delimiters(&mut spec);
    let doc = json!({ "definitions": spec["definitions"] });
    jsonschema::options()
        .with_draft(Draft::Draft4)
        .build_map(&doc)
        .expect("spec definitions compile")
}

struct Checker {
    map: ValidatorMap,
    checked: usize,
    failures: Vec<String>,
}

impl Checker {
    fn check(&mut self, ty: &str, v: &Value, what: &str) {
        let Some(val) = self.map.get(&format!("#/definitions/{ty}")) else {
            self.failures
                .push(format!("{what}: no definition {ty} in the spec"));
            return;
        };
        self.checked += 1;
        let errs: Vec<String> = val
            .iter_errors(v)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if !errs.is_empty() {
            self.failures
                .push(format!("{what} as {ty}: {}", errs.join(" | ")));
        }
    }

    /// Validate each result against its own resource_type when the spec defines it, else `default`.
    fn check_items(&mut self, items: &[Value], default: &str, what: &str) {
        for (i, it) in items.iter().enumerate() {
            let rt = it["resource_type"].as_str().unwrap_or(default);
            let ty = if self.map.get(&format!("#/definitions/{rt}")).is_some() {
                rt
            } else {
                default
            };
            self.check(ty, it, &format!("{what}[{i}] id={}", it["id"]));
        }
    }
}

const COLLECTIONS: &[(&str, &str, &str)] = &[
    (
        "/api/v1/logical-switches",
        "LogicalSwitch",
        "LogicalSwitchListResult",
    ),
    (
        "/api/v1/logical-ports",
        "LogicalPort",
        "LogicalPortListResult",
    ),
    (
        "/api/v1/logical-routers",
        "LogicalRouter",
        "LogicalRouterListResult",
    ),
    (
        "/api/v1/logical-router-ports",
        "LogicalRouterPort",
        "LogicalRouterPortListResult",
    ),
    ("/api/v1/pools/ip-blocks", "IpBlock", "IpBlockListResult"),
    (
        "/api/v1/pools/ip-subnets",
        "IpBlockSubnet",
        "IpBlockSubnetListResult",
    ),
    ("/api/v1/pools/ip-pools", "IpPool", "IpPoolListResult"),
    ("/api/v1/ip-sets", "IPSet", "IPSetListResult"),
    ("/api/v1/ns-groups", "NSGroup", "NSGroupListResult"),
    (
        "/api/v1/switching-profiles?include_system_owned=true",
        "BaseSwitchingProfile",
        "SwitchingProfilesListResult",
    ),
    (
        "/api/v1/trust-management/certificates",
        "Certificate",
        "CertificateList",
    ),
    (
        "/api/v1/loadbalancer/services",
        "LbService",
        "LbServiceListResult",
    ),
    (
        "/api/v1/loadbalancer/virtual-servers",
        "LbVirtualServer",
        "LbVirtualServerListResult",
    ),
    ("/api/v1/loadbalancer/pools", "LbPool", "LbPoolListResult"),
    (
        "/api/v1/loadbalancer/monitors",
        "LbMonitor",
        "LbMonitorListResult",
    ),
    (
        "/api/v1/loadbalancer/application-profiles",
        "LbAppProfile",
        "LbAppProfileListResult",
    ),
    (
        "/api/v1/loadbalancer/persistence-profiles",
        "LbPersistenceProfile",
        "LbPersistenceProfileListResult",
    ),
    (
        "/api/v1/loadbalancer/client-ssl-profiles",
        "LbClientSslProfile",
        "LbClientSslProfileListResult",
    ),
    (
        "/api/v1/loadbalancer/server-ssl-profiles",
        "LbServerSslProfile",
        "LbServerSslProfileListResult",
    ),
    ("/api/v1/loadbalancer/rules", "LbRule", "LbRuleListResult"),
    (
        "/api/v1/firewall/sections",
        "FirewallSection",
        "FirewallSectionListResult",
    ),
    (
        "/api/v1/firewall/sections?type=LAYER2",
        "FirewallSection",
        "FirewallSectionListResult",
    ),
];

async fn validate_everything(c: &Client, ck: &mut Checker) {
    for (path, item_ty, list_ty) in COLLECTIONS {
        let (s, first) = c
            .get(&format!(
                "{path}{}page_size=1000",
                if path.contains('?') { '&' } else { '?' }
            ))
            .await;
        assert_eq!(s, 200, "{path}");
        if ck.map.get(&format!("#/definitions/{list_ty}")).is_some() {
            ck.check(list_ty, &first, path);
        }
        let items = c.list_all(path, 50).await;
        ck.check_items(&items, item_ty, path);
    }
    let (_, routers) = c.get("/api/v1/logical-routers").await;
    for r in routers["results"].as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let nat = c
            .list_all(&format!("/api/v1/logical-routers/{id}/nat/rules"), 100)
            .await;
        ck.check_items(&nat, "NatRule", "nat rules");
        let sr = c
            .list_all(
                &format!("/api/v1/logical-routers/{id}/routing/static-routes"),
                100,
            )
            .await;
        ck.check_items(&sr, "StaticRoute", "static routes");
    }
    let (_, pools) = c.get("/api/v1/pools/ip-pools").await;
    for p in pools["results"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        let (s, v) = c
            .get(&format!("/api/v1/pools/ip-pools/{id}/allocations"))
            .await;
        assert_eq!(s, 200);
        ck.check("AllocationIpAddressListResult", &v, "allocations");
    }
    for ty in ["LAYER3", "LAYER2"] {
        let sections = c
            .list_all(&format!("/api/v1/firewall/sections?type={ty}"), 100)
            .await;
        for s in &sections {
            let id = s["id"].as_str().unwrap();
            let (st, v) = c
                .post_empty(&format!(
                    "/api/v1/firewall/sections/{id}?action=list_with_rules"
                ))
                .await;
            assert_eq!(st, 200);
            ck.check(
                "FirewallSectionRuleList",
                &v,
                &format!("section {id} with rules"),
            );
            let (_, rules) = c
                .get(&format!("/api/v1/firewall/sections/{id}/rules"))
                .await;
            ck.check("FirewallRuleListResult", &rules, &format!("rules of {id}"));
        }
    }
    let (_, v) = c.get("/api/v1/node/version").await;
    ck.check("NodeVersion", &v, "node version");
    let (s, v) = c.get("/api/v1/node").await;
    assert_eq!(s, 200, "{v}");
    for f in [
        "node_version",
        "product_version",
        "kernel_version",
        "hostname",
        "node_uuid",
    ] {
        assert!(v[f].as_str().is_some_and(|x| !x.is_empty()), "{f}: {v}");
    }
    ck.check("NodeProperties", &v, "node properties");
    let (s, v) = c.get("/api/v1/trust-management/principal-identities").await;
    assert_eq!(s, 200, "{v}");
    ck.check("PrincipalIdentityList", &v, "principal identities");
    let (_, v) = c
        .get("/api/v1/node/services/migration-coordinator/status")
        .await;
    ck.check("NodeServiceStatusProperties", &v, "coordinator status");
    let (_, v) = c.get("/api/v1/migration/status-summary").await;
    ck.check("MigrationStatus", &v, "status summary");
    let (s, v) = c.get("/api/v1/logical-switches/does-not-exist").await;
    assert_eq!(s, 404);
    ck.check("ApiError", &v, "error body");
}

async fn run_on(inventory: PathBuf, min_checked: usize) {
    let h = Simulator::start(SimConfig {
        inventory: Some(inventory.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = Client::new(&h);
    let mut ck = Checker {
        map: validators(),
        checked: 0,
        failures: Vec::new(),
    };
    validate_everything(&c, &mut ck).await;
    assert!(
        ck.failures.is_empty(),
        "{} of {} checks failed for {}:\n{}",
        ck.failures.len(),
        ck.checked,
        inventory.display(),
        ck.failures.join("\n")
    );
    assert!(
        ck.checked >= min_checked,
        "only {} objects checked",
        ck.checked
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fixture_objects_validate_against_the_spec() {
    run_on(fixture("mini"), 60).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn example_inventory_objects_validate_against_the_spec() {
    run_on(example_inventory(), 100).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn created_and_promoted_objects_still_validate() {
    let h = start_mini().await;
    let c = Client::new(&h);
    // Objects created through the API.
    let (s, _) = c
        .post(
            "/api/v1/logical-switches",
            &json!({"transport_zone_id": "tz", "admin_state": "UP", "display_name": "new"}),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _) = c
        .post(
            "/api/v1/firewall/sections?action=create_with_rules",
            &json!({"section_type": "LAYER3", "stateful": true,
                    "rules": [{"action": "ALLOW", "display_name": "r"}]}),
        )
        .await;
    assert_eq!(s, 201);
    // Promote a few objects so markers are present.
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    must_succeed(
        &c,
        &json!({"migration_data": [{"type": "IPBLOCK", "resource_ids": [
            {"manager_id": "77777777-0000-4000-8000-000000000000"}]}]}),
    )
    .await;
    let (_, blk) = c
        .get("/api/v1/pools/ip-blocks/77777777-0000-4000-8000-000000000000")
        .await;
    assert_eq!(blk["_create_user"], "nsx_policy");
    // A registered principal identity, so that the list is not empty.
    let ck_cert = rcgen::generate_simple_self_signed(vec!["ncp".to_string()]).unwrap();
    let (s, pi) = c
        .post(
            "/api/v1/trust-management/principal-identities/with-certificate",
            &json!({"name": "com.vmware.nsx.ncp", "node_id": "ncp-1",
                    "certificate_pem": ck_cert.cert.pem()}),
        )
        .await;
    assert_eq!(s, 201, "{pi}");
    let mut ck = Checker {
        map: validators(),
        checked: 0,
        failures: Vec::new(),
    };
    validate_everything(&c, &mut ck).await;
    ck.check("PrincipalIdentity", &pi, "registered principal identity");
    assert!(ck.failures.is_empty(), "{}", ck.failures.join("\n"));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_inventory_objects_validate_against_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulator::generate(
        &simulator::GenerateSpec {
            seed: 3,
            namespaces: 3,
            pods_per_namespace: 5,
            policies_per_namespace: 2,
            lb_services_per_namespace: 1,
            ..simulator::GenerateSpec::default()
        },
        dir.path(),
    )
    .unwrap();
    assert!(summary.nsx_objects > 50);
    run_on(dir.path().to_path_buf(), 60).await;
}

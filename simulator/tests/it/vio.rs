//! The simulated VIO deployment (kind `vio-v2t`, `examples/inventories/vio-small`): Keystone
//! tokens and project scoping, every Neutron and Octavia list walked through its `*_links` and
//! compared with the snapshot, filters and `fields=`, NSX-V paging (and the one-page-past-the-end
//! quirk), tokens and vNICs, vCenter sessions, power state and power-off.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle, Simulator};

use crate::common::init_tls;

pub fn vio_small() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/vio-small")
}

fn read(rel: &str) -> Value {
    let p = vio_small().join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

pub async fn start_vio() -> SimHandle {
    Simulator::start(SimConfig {
        inventory: Some(vio_small()),
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts with the vio-small snapshot")
}

pub fn http() -> reqwest::Client {
    init_tls();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn send(rb: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = rb.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, v)
}

/// A project-scoped token (by project name) and the catalog's public URLs of network and
/// load-balancer.
pub struct Os {
    pub token: String,
    pub network: String,
    pub lb: String,
    pub body: Value,
}

pub async fn login(c: &reqwest::Client, base: &str, project: &str) -> Os {
    let (status, headers, body) = send(c.post(format!("{base}/v3/auth/tokens")).json(&json!({
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": simulator::DEFAULT_USERNAME, "domain": {"name": "Default"},
                "password": simulator::DEFAULT_PASSWORD}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}
        }
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    let token = headers["x-subject-token"].to_str().unwrap().to_string();
    let url = |ty: &str| {
        body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == ty)
            .and_then(|s| {
                s["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["interface"] == "public")
            })
            .map(|e| e["url"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("no {ty} in the catalog: {body}"))
    };
    Os {
        network: url("network"),
        lb: url("load-balancer"),
        token,
        body,
    }
}

async fn os_get(c: &reqwest::Client, token: &str, url: &str) -> (u16, Value) {
    let (s, _, v) = send(c.get(url).header("x-auth-token", token)).await;
    (s, v)
}

/// Walk a list through its `<key>_links` `next` hrefs; returns the ids in order and the
/// number of pages. Bounded.
async fn walk(
    c: &reqwest::Client,
    token: &str,
    first: &str,
    key: &str,
    id: &str,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut url = first.to_string();
    for page in 1..=1000 {
        let (s, v) = os_get(c, token, &url).await;
        assert_eq!(s, 200, "{url}: {v}");
        for o in v[key]
            .as_array()
            .unwrap_or_else(|| panic!("{url}: no {key}: {v}"))
        {
            ids.push(o[id].as_str().unwrap().to_string());
        }
        let next = v[format!("{key}_links")]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["rel"] == "next"))
            .map(|l| l["href"].as_str().unwrap().to_string());
        match next {
            Some(n) => url = n,
            None => return (ids, page),
        }
    }
    panic!("{first}: more than 1000 pages");
}

fn sorted_ids(v: &Value, key: &str, id: &str) -> Vec<String> {
    let mut ids: Vec<String> = v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[id].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn keystone_issues_tokens_and_openstack_endpoints_need_one() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let os = login(&c, &base, "admin").await;
    let t = &os.body["token"];
    assert_eq!(t["project"]["name"], "admin");
    assert!(t["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(os.network, format!("{base}/network"));
    assert_eq!(os.lb, format!("{base}/load-balancer"));
    for svc in t["catalog"].as_array().unwrap() {
        let ifaces: BTreeSet<&str> = svc["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                assert_eq!(e["region"], "RegionOne");
                e["interface"].as_str().unwrap()
            })
            .collect();
        assert!(
            ifaces.contains("public") && ifaces.contains("internal"),
            "{svc}"
        );
    }

    // Wrong password: 401 and no token.
    let (s, hd, _) = send(
        c.post(format!("{base}/v3/auth/tokens"))
            .json(&json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"name": "admin",
            "domain": {"name": "Default"}, "password": "wrong"}}}}})),
    )
    .await;
    assert_eq!(s, 401);
    assert!(hd.get("x-subject-token").is_none());

    // Every OpenStack endpoint: 401 without a token and with a bogus one, 200 with ours.
    for url in [
        format!("{}/v2.0/networks", os.network),
        format!("{}/v2.0/ports/does-not-matter", os.network),
        format!("{}/v2/lbaas/loadbalancers", os.lb),
        format!("{base}/v3/projects"),
    ] {
        let (s, hd, v) = send(c.get(&url)).await;
        assert_eq!(s, 401, "{url}: {v}");
        assert!(
            hd["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Keystone uri=")
        );
        let (s, _) = os_get(&c, "gAAAAAbogus", &url).await;
        assert_eq!(s, 401, "{url}");
    }
    let (s, v) = os_get(&c, &os.token, &format!("{base}/v3/projects")).await;
    assert_eq!(s, 200);
    assert_eq!(v["projects"].as_array().unwrap().len(), 3);
    // Token validation.
    let (s, hd, v) = send(
        c.get(format!("{base}/v3/auth/tokens"))
            .header("x-auth-token", &os.token)
            .header("x-subject-token", &os.token),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(hd["x-subject-token"].to_str().unwrap(), os.token);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_token_sees_its_project_plus_shared_and_external() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let eng = login(&c, &base, "engineering").await;
    let admin = login(&c, &base, "admin").await;
    let projects = read("keystone/projects.json");
    let pid = |name: &str| {
        projects["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (eng_id, fin_id) = (pid("engineering"), pid("finance"));

    let (s, v) = os_get(&c, &eng.token, &format!("{}/v2.0/networks", eng.network)).await;
    assert_eq!(s, 200);
    let nets = v["networks"].as_array().unwrap();
    let names: BTreeSet<&str> = nets.iter().map(|n| n["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["eng-app", "eng-db", "eng-web", "public", "shared-services"])
    );
    assert!(nets.iter().all(|n| n["project_id"] != fin_id.as_str()));

    // Ports: only the project's own (no gateway ports, no finance ports).
    let (_, v) = os_get(&c, &eng.token, &format!("{}/v2.0/ports", eng.network)).await;
    let ports = v["ports"].as_array().unwrap();
    assert!(!ports.is_empty());
    assert!(
        ports.iter().all(|p| p["project_id"] == eng_id.as_str()),
        "{v}"
    );
    // Subnets of the shared and external networks are visible.
    let (_, v) = os_get(
        &c,
        &eng.token,
        &format!("{}/v2.0/subnets?fields=name", eng.network),
    )
    .await;
    let sn: BTreeSet<&str> = v["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        sn.contains("public-subnet")
            && sn.contains("shared-services-subnet")
            && !sn.contains("fin-app-subnet"),
        "{sn:?}"
    );

    // Another project's router: 404 in Neutron's error shape; the admin token sees it.
    let fin_router = read("neutron/routers.json")["routers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["project_id"] == fin_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/v2.0/routers/{fin_router}", eng.network);
    let (s, v) = os_get(&c, &eng.token, &url).await;
    assert_eq!(s, 404);
    assert_eq!(v["NeutronError"]["type"], "RouterNotFound");
    assert!(
        v["NeutronError"]["message"]
            .as_str()
            .unwrap()
            .contains(&fin_router)
    );
    let (s, v) = os_get(&c, &admin.token, &url).await;
    assert_eq!(s, 200);
    assert_eq!(v["router"]["id"], fin_router.as_str());

    // Quotas are admin-only; Octavia's LB belongs to finance.
    let (s, v) = os_get(&c, &eng.token, &format!("{}/v2.0/quotas", eng.network)).await;
    assert_eq!(s, 403, "{v}");
    let (s, v) = os_get(
        &c,
        &eng.token,
        &format!("{}/v2/lbaas/loadbalancers", eng.lb),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["loadbalancers"].as_array().unwrap().len(), 0);
    let (s, v) = os_get(
        &c,
        &eng.token,
        &format!("{}/v2/lbaas/flavorprofiles", eng.lb),
    )
    .await;
    assert_eq!(s, 403, "{v}");
    let fin = login(&c, &base, "finance").await;
    let (_, v) = os_get(
        &c,
        &fin.token,
        &format!("{}/v2/lbaas/loadbalancers", fin.lb),
    )
    .await;
    assert_eq!(v["loadbalancers"].as_array().unwrap().len(), 1);
    h.shutdown().await;
}

const NEUTRON_LISTS: &[(&str, &str, &str, &str)] = &[
    ("networks", "neutron/networks.json", "networks", "id"),
    ("subnets", "neutron/subnets.json", "subnets", "id"),
    ("ports", "neutron/ports.json", "ports", "id"),
    ("routers", "neutron/routers.json", "routers", "id"),
    (
        "floatingips",
        "neutron/floatingips.json",
        "floatingips",
        "id",
    ),
    (
        "security-groups",
        "neutron/security-groups.json",
        "security_groups",
        "id",
    ),
    (
        "qos/policies",
        "neutron/qos-policies.json",
        "policies",
        "id",
    ),
    (
        "fwaas/firewall_groups",
        "neutron/firewall-groups.json",
        "firewall_groups",
        "id",
    ),
    (
        "fwaas/firewall_policies",
        "neutron/firewall-policies.json",
        "firewall_policies",
        "id",
    ),
    (
        "fwaas/firewall_rules",
        "neutron/firewall-rules.json",
        "firewall_rules",
        "id",
    ),
    (
        "subnetpools",
        "neutron/subnetpools.json",
        "subnetpools",
        "id",
    ),
    ("quotas", "neutron/quotas.json", "quotas", "project_id"),
    (
        "rbac-policies",
        "neutron/rbac-policies.json",
        "rbac_policies",
        "id",
    ),
    (
        "extensions",
        "neutron/extensions.json",
        "extensions",
        "alias",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_neutron_list_pages_through_its_links_to_the_snapshot() {
    let h = start_vio().await;
    let c = http();
    let os = login(&c, &h.base_url(), "admin").await;
    for (path, file, key, id) in NEUTRON_LISTS {
        let want = sorted_ids(&read(file), key, id);
        assert!(
            !want.is_empty(),
            "{file} is empty: the example should exercise it"
        );
        let (got, pages) = walk(
            &c,
            &os.token,
            &format!("{}/v2.0/{path}?limit=2", os.network),
            key,
            id,
        )
        .await;
        assert_eq!(got, want, "{path}");
        assert_eq!(pages, want.len().div_ceil(2).max(1), "{path}");
        // Unpaged: everything at once, no links.
        let (s, v) = os_get(&c, &os.token, &format!("{}/v2.0/{path}", os.network)).await;
        assert_eq!(s, 200);
        assert_eq!(sorted_ids(&v, key, id), want, "{path}");
        assert!(v.get(format!("{key}_links")).is_none(), "{path}");
    }
    // Security group rules, listed on their own, are the ones embedded in the groups.
    let mut rules: Vec<String> = read("neutron/security-groups.json")["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["security_group_rules"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    rules.sort();
    let (got, _) = walk(
        &c,
        &os.token,
        &format!("{}/v2.0/security-group-rules?limit=5", os.network),
        "security_group_rules",
        "id",
    )
    .await;
    assert_eq!(got, rules);

    // Backwards: from the last page, `previous` links lead back to the first item.
    let want = sorted_ids(&read("neutron/ports.json"), "ports", "id");
    let last = &want[want.len() - 1];
    let mut url = format!(
        "{}/v2.0/ports?limit=3&marker={last}&page_reverse=True",
        os.network
    );
    let mut back: Vec<String> = vec![last.clone()];
    for _ in 0..1000 {
        let (s, v) = os_get(&c, &os.token, &url).await;
        assert_eq!(s, 200, "{v}");
        let page: Vec<String> = v["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 3);
        back.splice(0..0, page);
        match v["ports_links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(l) => url = l["href"].as_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(back, want);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn neutron_filters_fields_and_errors() {
    let h = start_vio().await;
    let c = http();
    let os = login(&c, &h.base_url(), "admin").await;
    let ports = read("neutron/ports.json");
    let ports = ports["ports"].as_array().unwrap();
    let count = |owner: &str| ports.iter().filter(|p| p["device_owner"] == owner).count();

    let n = &os.network;
    let (s, v) = os_get(
        &c,
        &os.token,
        &format!("{n}/v2.0/ports?device_owner=network:dhcp&fields=id&fields=device_owner"),
    )
    .await;
    assert_eq!(s, 200);
    let got = v["ports"].as_array().unwrap();
    assert_eq!(got.len(), count("network:dhcp"));
    for p in got {
        let keys: BTreeSet<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["device_owner", "id"]));
    }
    // A repeated key is OR.
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!("{n}/v2.0/ports?device_owner=network:dhcp&device_owner=network:router_interface"),
    )
    .await;
    assert_eq!(
        v["ports"].as_array().unwrap().len(),
        count("network:dhcp") + count("network:router_interface")
    );
    assert!(count("network:dhcp") > 0 && count("network:router_interface") > 0);
    // Two different keys are AND; booleans compare as Neutron prints them.
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!("{n}/v2.0/networks?router:external=True"),
    )
    .await;
    assert_eq!(v["networks"].as_array().unwrap().len(), 1);
    assert_eq!(v["networks"][0]["name"], "public");
    let net = &v["networks"][0]["id"];
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!(
            "{n}/v2.0/ports?network_id={}&device_owner=network:router_gateway",
            net.as_str().unwrap()
        ),
    )
    .await;
    let gws = ports
        .iter()
        .filter(|p| p["device_owner"] == "network:router_gateway")
        .count();
    assert_eq!(v["ports"].as_array().unwrap().len(), gws);
    // Paging keeps the filter in the links.
    let (ids, _) = walk(
        &c,
        &os.token,
        &format!("{n}/v2.0/ports?device_owner=network:dhcp&limit=1"),
        "ports",
        "id",
    )
    .await;
    assert_eq!(ids.len(), count("network:dhcp"));
    // An unknown filter is refused; an unknown id is a NeutronError 404.
    let (s, v) = os_get(&c, &os.token, &format!("{n}/v2.0/networks?colour=blue")).await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = os_get(
        &c,
        &os.token,
        &format!("{n}/v2.0/networks/00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["NeutronError"]["type"], "NetworkNotFound");
    // Single GET with fields.
    let id = ports[0]["id"].as_str().unwrap();
    let (s, v) = os_get(
        &c,
        &os.token,
        &format!("{n}/v2.0/ports/{id}?fields=mac_address"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["port"], json!({"mac_address": ports[0]["mac_address"]}));
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_octavia_list_pages_through_its_links_to_the_snapshot() {
    let h = start_vio().await;
    let c = http();
    let os = login(&c, &h.base_url(), "admin").await;
    for coll in [
        "loadbalancers",
        "listeners",
        "pools",
        "healthmonitors",
        "l7policies",
        "flavors",
        "flavorprofiles",
    ] {
        let want = sorted_ids(&read(&format!("octavia/{coll}.json")), coll, "id");
        assert!(!want.is_empty(), "{coll}");
        let (got, pages) = walk(
            &c,
            &os.token,
            &format!("{}/v2/lbaas/{coll}?limit=1", os.lb),
            coll,
            "id",
        )
        .await;
        assert_eq!(got, want, "{coll}");
        assert_eq!(pages, want.len());
        let (_, v) = os_get(&c, &os.token, &format!("{}/v2/lbaas/{coll}", os.lb)).await;
        assert_eq!(
            v[format!("{coll}_links")],
            json!([]),
            "Octavia always sends the links array"
        );
    }
    // Children: members per pool, rules per L7 policy.
    let members = read("octavia/members.json");
    for (pool, body) in members.as_object().unwrap() {
        let want = sorted_ids(body, "members", "id");
        let (got, _) = walk(
            &c,
            &os.token,
            &format!("{}/v2/lbaas/pools/{pool}/members?limit=1", os.lb),
            "members",
            "id",
        )
        .await;
        assert_eq!(got, want);
        let (s, v) = os_get(
            &c,
            &os.token,
            &format!("{}/v2/lbaas/pools/{pool}/members/{}", os.lb, want[0]),
        )
        .await;
        assert_eq!(s, 200);
        assert_eq!(v["member"]["id"], want[0].as_str());
    }
    let rules = read("octavia/l7rules.json");
    for (pol, body) in rules.as_object().unwrap() {
        let want = sorted_ids(body, "rules", "id");
        let (got, _) = walk(
            &c,
            &os.token,
            &format!("{}/v2.0/lbaas/l7policies/{pol}/rules", os.lb),
            "rules",
            "id",
        )
        .await;
        assert_eq!(got, want);
    }
    // Filters and fields; a missing object in Octavia's error shape.
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!(
            "{}/v2/lbaas/pools?protocol=HTTP&protocol=TCP&fields=id",
            os.lb
        ),
    )
    .await;
    assert_eq!(v["pools"].as_array().unwrap().len(), 2);
    assert_eq!(v["pools"][0].as_object().unwrap().len(), 1);
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!("{}/v2/lbaas/pools?protocol=TCP", os.lb),
    )
    .await;
    assert_eq!(v["pools"].as_array().unwrap().len(), 1);
    let (s, v) = os_get(
        &c,
        &os.token,
        &format!("{}/v2/lbaas/loadbalancers/nope", os.lb),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["faultstring"], "Load Balancer nope not found.");
    h.shutdown().await;
}

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

fn basic(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.basic_auth(
        simulator::DEFAULT_USERNAME,
        Some(simulator::DEFAULT_PASSWORD),
    )
}

/// NSX-V paging as the plugin's vcns.py does it: `total / pageSize + 1` pages, so an exact
/// multiple asks for one page past the end, which must come back empty.
async fn nsxv_walk(
    c: &reqwest::Client,
    base: &str,
    path: &str,
    outer: &str,
    page: usize,
    auth: &str,
) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let (s, _, first) = send(
        c.get(format!("{base}{path}?startIndex=0&pageSize={page}"))
            .header("authorization", auth)
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 200, "{first}");
    let total = first[outer]["pagingInfo"]["totalCount"].as_u64().unwrap() as usize;
    let pages = total / page + 1;
    for i in 0..pages {
        let (s, _, v) = send(
            c.get(format!(
                "{base}{path}?startIndex={}&pageSize={page}",
                i * page
            ))
            .header("authorization", auth)
            .header("accept", "application/json"),
        )
        .await;
        assert_eq!(s, 200, "page {i}: {v}");
        assert_eq!(
            v[outer]["pagingInfo"]["totalCount"].as_u64().unwrap() as usize,
            total
        );
        for o in v[outer]["data"].as_array().unwrap() {
            ids.push(o["objectId"].as_str().unwrap().to_string());
        }
    }
    (ids, pages)
}

#[tokio::test(flavor = "multi_thread")]
async fn nsxv_pages_edges_and_virtual_wires_and_answers_the_page_past_the_end() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let auth = format!(
        "Basic {}",
        simulator_base64(&format!(
            "{}:{}",
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD
        ))
    );
    let want = |file: &str, outer: &str| -> Vec<String> {
        read(file)[outer]["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["objectId"].as_str().unwrap().to_string())
            .collect()
    };
    let edges = want("nsxv/edges.json", "edgePage");
    let wires = want("nsxv/virtualwires.json", "dataPage");
    // Page sizes that divide the totals exactly: the extra, empty page is asked for and answered.
    for (path, outer, all) in [
        ("/api/4.0/edges", "edgePage", &edges),
        ("/api/2.0/vdn/virtualwires", "dataPage", &wires),
    ] {
        let exact = (2..all.len()).find(|p| all.len() % p == 0).unwrap_or(1);
        let (got, pages) = nsxv_walk(&c, &base, path, outer, exact, &auth).await;
        assert_eq!(&got, all, "{path}");
        assert_eq!(pages, all.len() / exact + 1);
        let (got, _) = nsxv_walk(&c, &base, path, outer, 3, &auth).await;
        assert_eq!(&got, all, "{path}");
    }
    // Without Accept: application/json the manager would answer XML: refused here, loudly.
    let (s, hd, _) = send(basic(c.get(format!("{base}/api/4.0/edges")))).await;
    assert_eq!(s, 406);
    assert!(hd["content-type"].to_str().unwrap().contains("xml"));
    // Scoping objects are XML only.
    let resp = basic(c.get(format!("{base}/api/2.0/services/usermgmt/scopingobjects")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let xml = resp.text().await.unwrap();
    assert!(
        xml.contains("<objectTypeName>VirtualWire</objectTypeName>")
            && xml.contains("dvportgroup-41")
    );
    // vsmconfig names the version.
    let (s, _, v) = send(
        basic(c.get(format!("{base}/api/2.0/services/vsmconfig")))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["version"], "6.4.11");
    // No credentials: 401; wrong ones: 403.
    let (s, _, _) = send(
        c.get(format!("{base}/api/4.0/edges"))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 401);
    let (s, _, _) = send(
        c.get(format!("{base}/api/4.0/edges"))
            .basic_auth("admin", Some("nope"))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 403);
    h.shutdown().await;
}

fn simulator_base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for ch in b.chunks(3) {
        let n = (ch[0] as u32) << 16
            | (*ch.get(1).unwrap_or(&0) as u32) << 8
            | *ch.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= ch.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn nsxv_tokens_expire_and_edge_vnics_disconnect() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let (s, _, v) = send(
        basic(c.post(format!(
            "{base}/api/2.0/services/auth/token?expiresInMinutes=1440"
        )))
        .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let token = v["value"].as_str().unwrap().to_string();
    assert!(v["expiresOn"].as_i64().unwrap() > 0);
    let (s, _, _) = send(basic(c.post(format!(
        "{base}/api/2.0/services/auth/token?expiresInMinutes=1441"
    ))))
    .await;
    assert_eq!(s, 400, "beyond the 24 h maximum");
    let auth = format!("AUTHTOKEN {token}");

    // Details, vNICs, DLR interfaces, appliances, LB virtual servers.
    let details = read("nsxv/edge-details.json");
    let esg = read("nsxv/edge-vnics.json")
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let dlr = read("nsxv/edge-interfaces.json")
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let get = |p: String| {
        c.get(format!("{base}{p}"))
            .header("authorization", auth.clone())
            .header("accept", "application/json")
    };
    let (s, _, v) = send(get(format!("/api/4.0/edges/{esg}"))).await;
    assert_eq!(s, 200);
    assert_eq!(v, details[&esg]);
    let (s, _, v) = send(get(format!("/api/4.0/edges/{dlr}/interfaces"))).await;
    assert_eq!(s, 200);
    assert!(!v["interfaces"].as_array().unwrap().is_empty());
    let (s, _, v) = send(get(format!("/api/4.0/edges/{esg}/appliances"))).await;
    assert_eq!(s, 200);
    assert!(v["appliances"].is_array());
    let (s, _, v) = send(get(format!(
        "/api/4.0/edges/{esg}/loadbalancer/config/virtualservers"
    )))
    .await;
    assert_eq!(s, 200);
    assert!(v["virtualServer"].is_array());
    let lb_edge = read("nsxv/edge-virtualservers.json")
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, v)| !v["virtualServer"].as_array().unwrap().is_empty())
        .unwrap()
        .0
        .clone();
    let (_, _, v) = send(get(format!(
        "/api/4.0/edges/{lb_edge}/loadbalancer/config/virtualservers"
    )))
    .await;
    assert_eq!(v["virtualServer"].as_array().unwrap().len(), 2);
    let (s, _, _) = send(get("/api/4.0/edges/edge-999".into())).await;
    assert_eq!(s, 404);

    // Disconnect vNIC 1 and read it back, alone and in the list.
    let (s, _, _) = send(
        c.put(format!("{base}/api/4.0/edges/{esg}/vnics/1"))
            .header("authorization", auth.clone())
            .header("accept", "application/json")
            .json(&json!({"isConnected": false})),
    )
    .await;
    assert_eq!(s, 204);
    let (_, _, v) = send(get(format!("/api/4.0/edges/{esg}/vnics/1"))).await;
    assert_eq!(v["isConnected"], false);
    let (_, _, v) = send(get(format!("/api/4.0/edges/{esg}/vnics"))).await;
    let vn = v["vnics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["index"] == 1)
        .unwrap();
    assert_eq!(vn["isConnected"], false);
    assert_eq!(
        vn["portgroupId"], details[&esg]["vnics"]["vnics"][1]["portgroupId"],
        "other fields kept"
    );

    // The token expires (fault): 403, and a new token works.
    let (s, _, v) = send(c.post(format!("{base}/_sim/vio/expire-tokens?service=nsxv"))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["expired"], 1);
    let (s, _, _) = send(get(format!("/api/4.0/edges/{esg}"))).await;
    assert_eq!(s, 403);
    let resp = basic(c.post(format!("{base}/api/2.0/services/auth/token")))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("xml")
    );
    let xml = resp.text().await.unwrap();
    let fresh = xml
        .split("<value>")
        .nth(1)
        .unwrap()
        .split("</value>")
        .next()
        .unwrap();
    let (s, _, _) = send(
        c.get(format!("{base}/api/4.0/edges/{esg}"))
            .header("authorization", format!("AUTHTOKEN {fresh}"))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 200);
    h.shutdown().await;
}

async fn vc_session(c: &reqwest::Client, base: &str) -> String {
    let (s, _, v) = send(basic(c.post(format!("{base}/api/session")))).await;
    assert_eq!(s, 201, "{v}");
    v.as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn vcenter_lists_filters_and_powers_off_with_its_fault() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let (s, _, v) = send(c.get(format!("{base}/api/vcenter/vm"))).await;
    assert_eq!(s, 401);
    assert_eq!(v["error_type"], "UNAUTHENTICATED");
    let (s, _, _) = send(
        c.post(format!("{base}/api/session"))
            .basic_auth("admin", Some("nope")),
    )
    .await;
    assert_eq!(s, 401);
    let sid = vc_session(&c, &base).await;
    let get = |p: &str| {
        c.get(format!("{base}{p}"))
            .header("vmware-api-session-id", sid.clone())
    };

    let (s, _, v) = get("/api/vcenter/cluster")
        .send()
        .await
        .map(|r| (r.status().as_u16(), (), r))
        .unwrap();
    assert_eq!(s, 200);
    let clusters: Value = v.json().await.unwrap();
    assert_eq!(clusters, read("vcenter/clusters.json"));
    let (_, _, v) = send(get("/api/vcenter/host?clusters=domain-c8")).await;
    assert_eq!(v, read("vcenter/hosts-by-cluster.json")["domain-c8"]);
    let (_, _, v) = send(get("/api/vcenter/host?connection_states=CONNECTED")).await;
    assert_eq!(v, read("vcenter/hosts.json"));
    for (host, vms) in read("vcenter/vms-by-host.json").as_object().unwrap() {
        let (_, _, v) = send(get(&format!("/api/vcenter/vm?hosts={host}"))).await;
        assert_eq!(&v, vms, "{host}");
    }
    let all = read("vcenter/vms.json");
    let (_, _, v) = send(get("/api/vcenter/vm")).await;
    assert_eq!(v, all);
    // Edge appliance VMs: the ones the host phase powers off.
    let edge_vm = read("nsxv/edge-appliances.json")
        .as_object()
        .unwrap()
        .values()
        .find_map(|a| {
            a["appliances"]
                .as_array()
                .unwrap()
                .first()
                .map(|x| x["vmId"].as_str().unwrap().to_string())
        })
        .unwrap();
    let (_, _, v) = send(get(&format!("/api/vcenter/vm/{edge_vm}/power"))).await;
    assert_eq!(v, json!({"state": "POWERED_ON"}));

    // A power-off that fails (fault rule), then one that works, then "already off".
    let (s, _, v) = send(c.post(format!("{base}/_sim/faults")).json(&json!({
        "name": "power-off-fails", "method": "POST", "path": format!("/api/vcenter/vm/{edge_vm}/power"),
        "query": "action=stop", "times": 1, "action": "status", "status": 500}))).await;
    assert_eq!(s, 200, "{v}");
    let stop = || {
        c.post(format!("{base}/api/vcenter/vm/{edge_vm}/power?action=stop"))
            .header("vmware-api-session-id", sid.clone())
    };
    let (s, _, _) = send(stop()).await;
    assert_eq!(s, 500);
    let (_, _, v) = send(get(&format!("/api/vcenter/vm/{edge_vm}/power"))).await;
    assert_eq!(
        v["state"], "POWERED_ON",
        "a failed power-off changes nothing"
    );
    let (s, _, _) = send(stop()).await;
    assert_eq!(s, 204);
    let (_, _, v) = send(get(&format!("/api/vcenter/vm/{edge_vm}/power"))).await;
    assert_eq!(v["state"], "POWERED_OFF");
    let (s, _, v) = send(stop()).await;
    assert_eq!(s, 400);
    assert_eq!(v["error_type"], "ALREADY_IN_DESIRED_STATE");
    let (_, _, v) = send(get("/api/vcenter/vm?power_states=POWERED_OFF")).await;
    assert_eq!(v.as_array().unwrap().len(), 1);

    // The session ends.
    let (s, _, _) = send(
        c.delete(format!("{base}/api/session"))
            .header("vmware-api-session-id", sid.clone()),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _, _) = send(get("/api/vcenter/cluster")).await;
    assert_eq!(s, 401);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn faults_on_the_new_sources_and_a_restart_that_keeps_power_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let cfg = || SimConfig {
        inventory: Some(vio_small()),
        state_file: Some(state.clone()),
        ..SimConfig::default()
    };
    let h = Simulator::start(cfg()).await.unwrap();
    let c = http();
    let base = h.base_url();
    let os = login(&c, &base, "admin").await;
    // A 403 on Neutron ports once, a truncated Octavia page, a slow NSX-V page.
    let (s, _, v) = send(
        c.post(format!("{base}/_sim/faults"))
            .json(&json!({"rules": [
                {"path": "/network/v2.0/ports", "times": 1, "action": "status", "status": 403},
                {"path": "/load-balancer/v2/lbaas/pools", "times": 1, "action": "truncate"},
                {"path": "/api/4.0/edges", "times": 1, "action": "delay", "delay_ms": 300},
            ]})),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = os_get(&c, &os.token, &format!("{}/v2.0/ports", os.network)).await;
    assert_eq!(s, 403);
    assert_eq!(
        v["NeutronError"]["type"], "HTTPForbidden",
        "in Neutron's error shape: {v}"
    );
    let (s, _) = os_get(&c, &os.token, &format!("{}/v2.0/ports", os.network)).await;
    assert_eq!(s, 200);
    let resp = c
        .get(format!("{}/v2/lbaas/pools", os.lb))
        .header("x-auth-token", &os.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "a truncated page is not valid JSON: {text}"
    );
    let started = std::time::Instant::now();
    let (s, _, _) =
        send(basic(c.get(format!("{base}/api/4.0/edges"))).header("accept", "application/json"))
            .await;
    assert_eq!(s, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Keystone tokens expire too.
    let (_, _, v) = send(c.post(format!("{base}/_sim/vio/expire-tokens?service=keystone"))).await;
    assert!(v["expired"].as_u64().unwrap() >= 1);
    let (s, _) = os_get(&c, &os.token, &format!("{}/v2.0/networks", os.network)).await;
    assert_eq!(s, 401);

    // Power off a VM, restart on the same state file: still off.
    let sid = vc_session(&c, &base).await;
    let vm = read("vcenter/vms.json")[0]["vm"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _, _) = send(
        c.post(format!("{base}/api/vcenter/vm/{vm}/power?action=stop"))
            .header("vmware-api-session-id", &sid),
    )
    .await;
    assert_eq!(s, 204);
    h.shutdown().await;
    let h = Simulator::start(cfg()).await.unwrap();
    let base = h.base_url();
    let sid = vc_session(&c, &base).await;
    let (_, _, v) = send(
        c.get(format!("{base}/api/vcenter/vm/{vm}/power"))
            .header("vmware-api-session-id", &sid),
    )
    .await;
    assert_eq!(v["state"], "POWERED_OFF");
    h.shutdown().await;
}

fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap())
        .output()
        .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_kubectl_reads_patches_and_applies_the_neutron_custom_resource() {
    assert!(
        std::path::Path::new("/usr/bin/kubectl").exists(),
        "kubectl is required for this test (Debian package kubectl)"
    );
    let h = start_vio().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, h.kubeconfig()).unwrap();
    let run = |args: Vec<String>| {
        let kc = kc.clone();
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl(&kc, &a)
        })
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let (ok, out, err) = run(s(&["get", "neutrons", "-n", "openstack"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("neutron-6f8d4"), "{out}");
    let (ok, out, err) = run(s(&[
        "get",
        "neutrons.vio.vmware.com",
        "neutron-6f8d4",
        "-n",
        "openstack",
        "-o",
        "json",
    ]))
    .await
    .unwrap();
    assert!(ok, "{err}");
    let cr: Value = serde_json::from_str(&out).unwrap();
    let want = &read("vio/neutron-cr.json")["items"][0];
    assert_eq!(cr["spec"], want["spec"]);
    assert_eq!(cr["spec"]["manifests"]["nsxv"], true);
    assert_eq!(cr["spec"]["manifests"]["nsxp"], false);
    let (ok, out, err) = run(s(&["get", "viosecrets", "-n", "openstack", "-o", "json"]))
        .await
        .unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][0]["metadata"]["name"], "neutron-nsxv-secret");

    // Switch the plugins with a merge patch.
    let (ok, out, err) = run(s(&[
        "patch",
        "neutron",
        "neutron-6f8d4",
        "-n",
        "openstack",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"manifests":{"nsxv":false,"nsxp":true}}}"#,
    ]))
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("patched"), "{out}");
    let (_, out, _) = run(s(&[
        "get",
        "neutron",
        "neutron-6f8d4",
        "-n",
        "openstack",
        "-o",
        "json",
    ]))
    .await
    .unwrap();
    let after: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(after["spec"]["manifests"]["nsxp"], true);
    assert_eq!(after["spec"]["manifests"]["nsxv"], false);
    assert_eq!(
        after["spec"]["conf"], want["spec"]["conf"],
        "the rest of the spec is kept"
    );
    assert_ne!(
        after["metadata"]["resourceVersion"],
        cr["metadata"]["resourceVersion"]
    );
    // A strategic merge patch (kubectl's default) is refused for a custom resource, as the API server does.
    let (ok, _, err) = run(s(&[
        "patch",
        "neutron",
        "neutron-6f8d4",
        "-n",
        "openstack",
        "-p",
        r#"{"spec":{"replicas":3}}"#,
    ]))
    .await
    .unwrap();
    assert!(!ok);
    assert!(err.contains("strategic merge patch"), "{err}");

    // kubectl apply of an edited manifest.
    let mut edited = after.clone();
    edited["spec"]["conf"]["plugins"]["nsxp"] =
        json!({"nsx_api_managers": "nsx-mgr-01.corp.example"});
    edited["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let manifest = dir.path().join("neutron.json");
    std::fs::write(&manifest, serde_json::to_vec(&edited).unwrap()).unwrap();
    let (ok, out, err) = run(vec![
        "apply".into(),
        "-f".into(),
        manifest.display().to_string(),
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("configured"), "{out}");
    let (_, out, _) = run(s(&[
        "get",
        "neutron",
        "neutron-6f8d4",
        "-n",
        "openstack",
        "-o",
        "json",
    ]))
    .await
    .unwrap();
    let applied: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        applied["spec"]["conf"]["plugins"]["nsxp"]["nsx_api_managers"],
        "nsx-mgr-01.corp.example"
    );
    h.shutdown().await;
}

fn dir_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap().flatten() {
        let p = sub.path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap().flatten() {
                out.push((
                    f.path()
                        .display()
                        .to_string()
                        .replace(&dir.display().to_string(), ""),
                    std::fs::read(f.path()).unwrap(),
                ));
            }
        } else {
            out.push((
                p.display()
                    .to_string()
                    .replace(&dir.display().to_string(), ""),
                std::fs::read(&p).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

/// Ports of the generator test: above vCenter's unfiltered VM list limit, small enough for a
/// debug build. The 50,000-port determinism and load check is `cargo bench -p nsx-migrate --bench
/// vio_generate` (docs/performance.md).
const GENERATED_PORTS: usize = 5_000;

#[tokio::test(flavor = "multi_thread")]
async fn the_generator_is_deterministic_and_loads() {
    use simulator::vio::generate::{VioGenerateSpec, generate};
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c2) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    let spec = VioGenerateSpec {
        seed: 11,
        ports: GENERATED_PORTS,
    };
    let sa = generate(&spec, &a).unwrap();
    generate(&spec, &b).unwrap();
    assert_eq!(sa.ports, GENERATED_PORTS);
    // The module's proportions: a tenant network per 20 ports (and the external one), a router
    // per four networks, a load balancer per 1,000 ports, an NSX-V edge per router, load
    // balancer and DHCP network.
    assert_eq!(sa.networks, GENERATED_PORTS / 20 + 1, "{sa:?}");
    assert_eq!(sa.routers, GENERATED_PORTS / 20 / 4, "{sa:?}");
    assert_eq!(sa.load_balancers, GENERATED_PORTS / 1000, "{sa:?}");
    assert!(
        sa.edges > sa.networks && sa.vms > 4_000, // vCenter's unfiltered list limit
        "{sa:?}"
    );
    let (da, db) = (dir_bytes(&a), dir_bytes(&b));
    assert!(da.len() > 50);
    assert!(da == db, "same seed, same bytes");
    generate(
        &VioGenerateSpec {
            seed: 11,
            ports: 1_000,
        },
        &c2,
    )
    .unwrap();
    generate(
        &VioGenerateSpec {
            seed: 12,
            ports: 1_000,
        },
        &tmp.path().join("e"),
    )
    .unwrap();
    assert!(
        dir_bytes(&c2) != dir_bytes(&tmp.path().join("e")),
        "another seed, other ids"
    );
    assert!(
        generate(
            &VioGenerateSpec {
                seed: 1,
                ports: 50_001
            },
            &tmp.path().join("d")
        )
        .is_err()
    );

    // It loads, and the API serves all of it.
    let h = Simulator::start(SimConfig {
        inventory: Some(a.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = http();
    let os = login(&c, &h.base_url(), "admin").await;
    let (s, v) = os_get(
        &c,
        &os.token,
        &format!("{}/v2.0/ports?fields=id", os.network),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["ports"].as_array().unwrap().len(), GENERATED_PORTS);
    let (_, v) = os_get(
        &c,
        &os.token,
        &format!(
            "{}/v2.0/ports?fields=id&device_owner=network:dhcp",
            os.network
        ),
    )
    .await;
    assert_eq!(v["ports"].as_array().unwrap().len(), sa.networks - 1);
    let (s, _, v) = send(
        basic(c.get(format!("{}/api/4.0/edges?pageSize=1", h.base_url())))
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        v["edgePage"]["pagingInfo"]["totalCount"].as_u64().unwrap() as usize,
        sa.edges
    );
    // More VMs than vCenter lists at once: refused unfiltered, served per host.
    let sid = vc_session(&c, &h.base_url()).await;
    let (s, _, v) = send(
        c.get(format!("{}/api/vcenter/vm", h.base_url()))
            .header("vmware-api-session-id", &sid),
    )
    .await;
    assert_eq!(s, 500);
    assert_eq!(v["error_type"], "UNABLE_TO_ALLOCATE_RESOURCE");
    let (s, _, v) = send(
        c.get(format!("{}/api/vcenter/vm?hosts=host-100", h.base_url()))
            .header("vmware-api-session-id", &sid),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 40);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn clouds_yaml_names_the_simulated_cloud_and_its_ca() {
    // No VIO deployment, no clouds.yaml.
    let plain = Simulator::start(SimConfig::default()).await.unwrap();
    assert!(plain.clouds_yaml(None).is_none());
    plain.shutdown().await;

    let h = Simulator::start(SimConfig {
        inventory: Some(vio_small()),
        tls: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("clouds.yaml.ca.pem");
    std::fs::write(&ca_path, h.tls_cert_pem().unwrap()).unwrap();
    let yaml = h.clouds_yaml(Some(&ca_path)).unwrap();
    let field = |k: &str| {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{k}: ")))
            .unwrap_or_else(|| panic!("no {k} in {yaml}"))
            .trim_matches('"')
            .to_string()
    };
    let auth_url = field("auth_url");
    assert_eq!(auth_url, format!("{}/v3", h.base_url()));
    assert!(auth_url.starts_with("https://127.0.0.1:"));
    assert_eq!(field("region_name"), "RegionOne");
    assert_eq!(field("project_name"), "admin");
    assert_eq!(field("user_domain_name"), "Default");
    assert_eq!(field("cacert"), ca_path.display().to_string());
    // The file's CA and credentials get a token with TLS verification on.
    init_tls();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(field("cacert")).unwrap()).unwrap();
    let c = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = c
        .post(format!("{auth_url}/auth/tokens"))
        .json(&json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": field("username"), "domain": {"name": field("user_domain_name")},
            "password": field("password")}}},
            "scope": {"project": {"name": field("project_name"), "domain": {"name": field("project_domain_name")}}}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_checked_and_no_password_reaches_the_request_log() {
    // The clean example loads too.
    let clean = vio_small().with_file_name("vio-small-clean");
    let h = Simulator::start(SimConfig {
        inventory: Some(clean),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    h.shutdown().await;

    // A copy of vio-small with a clear-text password in nsx.ini, then in migrator.conf.json,
    // then secret data in a VIOSecret, then an unknown file: each refused with file and place.
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("snap");
    let cp = std::process::Command::new("cp")
        .arg("-r")
        .arg(vio_small())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let start = |dir: PathBuf| async move {
        Simulator::start(SimConfig {
            inventory: Some(dir),
            ..SimConfig::default()
        })
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    let ini = copy.join("vio/nsx.ini");
    let orig = std::fs::read_to_string(&ini).unwrap();
    std::fs::write(
        &ini,
        orig.replace(
            "password = secret-ref:openstack/neutron-nsxv-secret/nsxv_password",
            "password = hunter2",
        ),
    )
    .unwrap();
    let e = start(copy.clone()).await;
    assert!(
        e.contains("nsx.ini")
            && e.contains("line ")
            && e.contains("[nsxv] password")
            && !e.contains("hunter2"),
        "{e}"
    );
    std::fs::write(&ini, &orig).unwrap();
    let conf = copy.join("vio/migrator.conf.json");
    let orig_conf = std::fs::read_to_string(&conf).unwrap();
    let mut v: Value = serde_json::from_str(&orig_conf).unwrap();
    v["nsx_manager_password"] = json!("hunter2");
    std::fs::write(&conf, v.to_string()).unwrap();
    let e = start(copy.clone()).await;
    assert!(
        e.contains("migrator.conf.json")
            && e.contains("/nsx_manager_password")
            && !e.contains("hunter2"),
        "{e}"
    );
    std::fs::write(&conf, &orig_conf).unwrap();
    let sec = copy.join("vio/viosecrets.json");
    let orig_sec = std::fs::read_to_string(&sec).unwrap();
    std::fs::write(
        &sec,
        orig_sec.replace(
            "\"nsxv_password\": \"\"",
            "\"nsxv_password\": \"aHVudGVyMg==\"",
        ),
    )
    .unwrap();
    let e = start(copy.clone()).await;
    assert!(
        e.contains("viosecrets.json") && e.contains("/items/0/spec/data/nsxv_password"),
        "{e}"
    );
    std::fs::write(&sec, &orig_sec).unwrap();
    std::fs::write(copy.join("neutron/network.json"), "{}").unwrap();
    let e = start(copy.clone()).await;
    assert!(
        e.contains("network.json") && e.contains("unknown file"),
        "{e}"
    );
    std::fs::remove_file(copy.join("neutron/network.json")).unwrap();

    // Logging in leaves no password in the request log.
    let log = tmp.path().join("requests.jsonl");
    let h = Simulator::start(SimConfig {
        inventory: Some(copy),
        request_log: Some(log.clone()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = http();
    let os = login(&c, &h.base_url(), "admin").await;
    let _ = os_get(&c, &os.token, &format!("{}/v2.0/networks", os.network)).await;
    h.shutdown().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("/v3/auth/tokens"));
    assert!(!text.contains(simulator::DEFAULT_PASSWORD), "{text}");
    assert!(!text.contains(&os.token), "tokens stay out of the log too");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_destination_nsx_objects_are_served_by_the_policy_and_manager_apis() {
    let h = start_vio().await;
    let c = http();
    let base = h.base_url();
    let get = |p: &str| basic(c.get(format!("{base}{p}")));
    let ids = |v: &Value| -> Vec<String> {
        let mut x: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect();
        x.sort();
        x
    };
    for (path, file) in [
        ("/policy/api/v1/infra/tier-0s", "nsx/tier-0s.json"),
        (
            "/policy/api/v1/infra/sites/default/enforcement-points/default/transport-zones",
            "nsx/transport-zones.json",
        ),
        (
            "/policy/api/v1/infra/sites/default/enforcement-points/default/edge-clusters",
            "nsx/edge-clusters.json",
        ),
        (
            "/policy/api/v1/infra/sites/default/enforcement-points/default/edge-clusters/ec-1/edge-nodes",
            "nsx/edge-cluster-nodes.json",
        ),
        (
            "/policy/api/v1/infra/tier-0s/t0-public/locale-services",
            "nsx/tier-0-locale-services.json",
        ),
        (
            "/policy/api/v1/infra/tier-0s/t0-public/locale-services/default/interfaces",
            "nsx/tier-0-interfaces.json",
        ),
        (
            "/policy/api/v1/infra/dhcp-server-configs",
            "nsx/dhcp-server-configs.json",
        ),
        (
            "/policy/api/v1/infra/metadata-proxies",
            "nsx/metadata-proxies.json",
        ),
        (
            "/api/v1/fabric/compute-managers",
            "nsx/compute-managers.json",
        ),
    ] {
        let (s, _, v) = send(get(path)).await;
        assert_eq!(s, 200, "{path}: {v}");
        let want = read(file);
        let want = if want.get("results").is_some() {
            want
        } else {
            want.as_object().unwrap().values().next().unwrap().clone()
        };
        assert_eq!(ids(&v), ids(&want), "{path}");
    }
    let (s, _, v) = send(get(
        "/policy/api/v1/infra/tier-0s/t0-public/locale-services/default/interfaces/uplink-0",
    ))
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["subnets"][0]["prefix_len"], 28);
    // Neutron-owned leftovers are found by their tag.
    let (s, _, v) = send(get(
        "/policy/api/v1/search/query?query=tags.scope:os-api-version",
    ))
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result_count"], 1);
    assert_eq!(v["results"][0]["resource_type"], "Segment");
    h.shutdown().await;
}

fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A child collection of an existing Policy object is listed even when it is empty (200,
/// `results: []`, as NSX answers); under a parent that does not exist it is 404.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_child_collection_is_an_empty_list_and_a_missing_parent_404() {
    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("vio");
    copy_tree(&vio_small(), &inv);
    // No node of the edge cluster, no interface of the tier-0's locale service.
    std::fs::remove_file(inv.join("nsx/edge-cluster-nodes.json")).unwrap();
    std::fs::remove_file(inv.join("nsx/tier-0-interfaces.json")).unwrap();
    let h = Simulator::start(SimConfig {
        inventory: Some(inv),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = http();
    let base = h.base_url();
    let ep = "/policy/api/v1/infra/sites/default/enforcement-points/default";
    for path in [
        format!("{ep}/edge-clusters/ec-1/edge-nodes"),
        "/policy/api/v1/infra/tier-0s/t0-public/locale-services/default/interfaces".to_string(),
    ] {
        let (s, _, v) = send(basic(c.get(format!("{base}{path}")))).await;
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(v["results"], json!([]), "{path}");
        assert_eq!(v["result_count"], 0, "{path}");
    }
    for path in [
        format!("{ep}/edge-clusters/ec-9/edge-nodes"),
        "/policy/api/v1/infra/tier-0s/t0-missing/locale-services".to_string(),
        "/policy/api/v1/infra/tier-0s/t0-public/locale-services/missing/interfaces".to_string(),
    ] {
        let (s, _, v) = send(basic(c.get(format!("{base}{path}")))).await;
        assert_eq!(s, 404, "{path}: {v}");
    }
    // Top-level collections and the default domain's are there from the start.
    for path in [
        "/policy/api/v1/infra/tier-1s",
        "/policy/api/v1/infra/domains/default/groups",
    ] {
        let (s, _, v) = send(basic(c.get(format!("{base}{path}")))).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    h.shutdown().await;
}

/// The generator writes the destination's edge nodes and tier-0 uplinks, and they are served.
#[tokio::test(flavor = "multi_thread")]
async fn generated_edge_nodes_and_uplinks_are_served() {
    use simulator::vio::generate::{VioGenerateSpec, generate};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("g");
    let s = generate(
        &VioGenerateSpec {
            seed: 3,
            ports: 20_000,
        },
        &dir,
    )
    .unwrap();
    assert_eq!(s.edge_nodes, 4);
    let h = Simulator::start(SimConfig {
        inventory: Some(dir),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = http();
    let base = h.base_url();
    let (st, _, v) = send(basic(c.get(format!(
        "{base}/policy/api/v1/infra/sites/default/enforcement-points/default/edge-clusters/ec-1/edge-nodes"
    ))))
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["result_count"], 4);
    assert_eq!(v["results"][0]["resource_type"], "PolicyEdgeNode");
    let (st, _, v) = send(basic(c.get(format!(
        "{base}/policy/api/v1/infra/tier-0s/t0-public/locale-services/default/interfaces"
    ))))
    .await;
    assert_eq!(st, 200, "{v}");
    let edges: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["edge_path"].as_str().unwrap())
        .collect();
    assert_eq!(edges.len(), 4);
    assert!(
        edges[3].ends_with("/edge-clusters/ec-1/edge-nodes/3"),
        "{edges:?}"
    );
    h.shutdown().await;
}

/// kubectl with `input` on its stdin (how the executor sends a body: never on the command line).
fn kubectl_stdin(
    kubeconfig: &std::path::Path,
    args: &[&str],
    input: &str,
) -> (bool, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_kubectl_creates_and_merge_patches_a_viosecret_and_removes_a_key_with_null() {
    let h = start_vio().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, h.kubeconfig()).unwrap();
    let kc2 = kc.clone();
    tokio::task::spawn_blocking(move || {
        let kc = kc2;
        let secret = r#"{"apiVersion":"vio.vmware.com/v1alpha1","kind":"VIOSecret","metadata":{"name":"neutron-nsxp-secret","namespace":"openstack"},"spec":{"data":{"nsxp_password":"one"}}}"#;
        let (ok, out, err) = kubectl_stdin(&kc, &["create", "--filename=-", "--output=json"], secret);
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["metadata"]["name"], "neutron-nsxp-secret");
        assert!(v["metadata"]["uid"].is_string());
        // A second create of the same name: AlreadyExists.
        let (ok, _, err) = kubectl_stdin(&kc, &["create", "--filename=-"], secret);
        assert!(!ok);
        assert!(err.contains("AlreadyExists") || err.contains("already exists"), "{err}");
        // A merge patch from stdin changes the data.
        let (ok, out, err) = kubectl_stdin(
            &kc,
            &["patch", "viosecrets.vio.vmware.com", "neutron-nsxp-secret", "--namespace=openstack",
              "--type=merge", "--patch-file=/dev/stdin", "--output=json"],
            r#"{"spec":{"data":{"nsxp_password":"two"}}}"#,
        );
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["spec"]["data"]["nsxp_password"], "two");
        // Listed by name with a field selector.
        let (ok, out, err) = kubectl(
            &kc,
            &["get", "--raw",
              "/apis/vio.vmware.com/v1alpha1/namespaces/openstack/viosecrets?fieldSelector=metadata.name%3Dneutron-nsxp-secret"],
        );
        assert!(ok, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
        // null in a merge patch removes the key (RFC 7386).
        let (ok, _, err) = kubectl_stdin(
            &kc,
            &["patch", "neutrons.vio.vmware.com", "neutron-6f8d4", "--namespace=openstack",
              "--type=merge", "--patch-file=/dev/stdin"],
            r#"{"spec":{"conf":{"neutron":{"DEFAULT":{"api_replay_mode":true}}}}}"#,
        );
        assert!(ok, "{err}");
        let (ok, _, err) = kubectl_stdin(
            &kc,
            &["patch", "neutrons.vio.vmware.com", "neutron-6f8d4", "--namespace=openstack",
              "--type=merge", "--patch-file=/dev/stdin"],
            r#"{"spec":{"conf":{"neutron":{"DEFAULT":{"api_replay_mode":null}}}}}"#,
        );
        assert!(ok, "{err}");
        let (_, out, _) = kubectl(&kc, &["get", "neutron", "neutron-6f8d4", "-n", "openstack", "-o", "json"]);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert!(v.pointer("/spec/conf/neutron/DEFAULT/api_replay_mode").is_none(), "{v}");
        assert!(v.pointer("/spec/conf/neutron/DEFAULT/core_plugin").is_some());
    })
    .await
    .unwrap();
    // The request log keeps the secret writes' shape, never their values; the Neutron CR's
    // patches are logged as sent.
    let log = serde_json::to_string(&h.request_log()).unwrap();
    assert!(
        !log.contains("\"one\"") && !log.contains("\"two\""),
        "{log}"
    );
    let entries = h.request_log();
    let secret_writes: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["path"].as_str().is_some_and(|p| p.contains("viosecrets")) && e["method"] != "GET"
        })
        .collect();
    assert!(secret_writes.len() >= 2, "{log}");
    for e in secret_writes {
        assert_eq!(
            e["body"]["spec"]["data"]["nsxp_password"], "<redacted>",
            "{e}"
        );
    }
    assert!(log.contains("api_replay_mode"), "{log}");
}

/// networking-l2gw's collections exist only where the snapshot's extensions list them (404
/// otherwise, as Neutron routes them only with the service plugin); the snapshot's migration
/// coordinator state (`nsx/coordinator-status.json`) is the state the simulator starts in.
#[tokio::test(flavor = "multi_thread")]
async fn l2_gateways_only_with_their_extension_and_the_coordinator_as_collected() {
    let c = http();
    let status = |base: String| {
        let c = c.clone();
        async move {
            let url = format!("{base}/api/v1/node/services/migration-coordinator/status");
            let (s, _, v) = send(basic(c.get(url))).await;
            assert_eq!(s, 200, "{v}");
            v["runtime_state"].as_str().unwrap().to_string()
        }
    };
    let h = start_vio().await;
    let os = login(&c, &h.base_url(), "admin").await;
    let (s, v) = os_get(&c, &os.token, &format!("{}/v2.0/l2-gateways", os.network)).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(status(h.base_url()).await, "running");
    h.shutdown().await;

    let tmp = tempfile::tempdir().unwrap();
    let inv = tmp.path().join("vio");
    copy_tree(&vio_small(), &inv);
    let ext = inv.join("neutron/extensions.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&ext).unwrap()).unwrap();
    v["extensions"].as_array_mut().unwrap().push(
        json!({"alias": "l2-gateway", "name": "l2-gateway", "description": "", "updated": "", "links": []}),
    );
    std::fs::write(&ext, v.to_string()).unwrap();
    std::fs::write(
        inv.join("neutron/l2-gateways.json"),
        json!({"l2_gateways": [{"id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11", "name": "gw-dc1",
            "tenant_id": "t", "project_id": "t", "devices": []}]})
        .to_string(),
    )
    .unwrap();
    let st = inv.join("nsx/coordinator-status.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&st).unwrap()).unwrap();
    v["runtime_state"] = json!("stopped");
    std::fs::write(&st, v.to_string()).unwrap();
    let h = Simulator::start(SimConfig {
        inventory: Some(inv),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let os = login(&c, &h.base_url(), "admin").await;
    let (s, v) = os_get(&c, &os.token, &format!("{}/v2.0/l2-gateways", os.network)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["l2_gateways"][0]["name"], "gw-dc1", "{v}");
    // The connections' extension is not listed: no such collection.
    let url = format!("{}/v2.0/l2-gateway-connections", os.network);
    assert_eq!(os_get(&c, &os.token, &url).await.0, 404);
    assert_eq!(status(h.base_url()).await, "stopped");
    h.shutdown().await;
}

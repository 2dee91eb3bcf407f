//! The API-replay target of a V2T migration (`/target-network`, `src/vio/replay.rs`) and the
//! destination's edge transport nodes (`src/vio/edge_nodes.rs`), over real HTTP on 127.0.0.1,
//! seeded with `examples/inventories/vio-small-clean`: a replay of one project's objects creates
//! exactly the Policy objects of the mapping (paths, ids, tags), duplicates are refused with 409,
//! bulk requests are atomic and single-project, each fault is seen by a client, and a restart on
//! the state file resumes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::{Value, json};
use simulator::{SimConfig, SimHandle, Simulator};

use crate::common::Client;
use crate::vio::{http, login};

const ENG: &str = "dac67d49624351d79fb38e306658946a";
const ADMIN_PROJECT: &str = "4210bb028d2050edba766c2613427b8e";
const EXT: &str = "37da786e-94af-59c7-8466-fe4335d430e2";
const EXT_SUB: &str = "bdc5dfbf-ee83-5584-af91-f7d825e40df6";
const NET: &str = "980e32e8-cad4-51b7-b56d-85b9b73b4610";
const SUB: &str = "658f57a7-38e9-5c9f-9d46-873ae4a0201e";
const ROUTER: &str = "b1175375-3d0e-5d68-9d10-f1329c75605d";
const RPORT: &str = "11111111-2222-4333-8444-555555555501";
const VM: &str = "11111111-2222-4333-8444-555555555502";
const SG: &str = "8ecf8fef-b501-5161-8fc9-17624ba6af82";
const RULE_WEB: &str = "22222222-3333-4444-8555-666666666601";
const RULE_SELF: &str = "22222222-3333-4444-8555-666666666602";
const QOS: &str = "9124953a-79c2-53c9-b9a0-8315cbce416b";
const SOURCE_FIP: &str = "4673b556-820b-55bb-8717-268d26f9f1c3";
const EP: &str = "/infra/sites/default/enforcement-points/default";

fn clean() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/vio-small-clean")
}

async fn start(state: Option<PathBuf>, faults: Option<PathBuf>) -> SimHandle {
    Simulator::start(SimConfig {
        inventory: Some(clean()),
        state_file: state,
        faults,
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts with vio-small-clean")
}

/// A Keystone-authenticated client of the target Neutron, found through the catalog.
struct Target {
    c: reqwest::Client,
    url: String,
    token: String,
}

impl Target {
    async fn new(h: &SimHandle) -> Self {
        let c = http();
        let os = login(&c, &h.base_url(), "admin").await;
        let url = os.body["token"]["catalog"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["type"] == "network-replay")
            .and_then(|s| {
                s["endpoints"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["interface"] == "public")
            })
            .map(|e| e["url"].as_str().unwrap().to_string())
            .expect("the catalog names the replay target");
        Self {
            c,
            url,
            token: os.token,
        }
    }

    async fn send(&self, m: reqwest::Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut rb = self
            .c
            .request(m, format!("{}/v2.0/{path}", self.url))
            .header("x-auth-token", &self.token);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(&body)).await
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }
    async fn ok(&self, m: reqwest::Method, path: &str, body: Value) -> Value {
        let (s, v) = self.send(m.clone(), path, Some(&body)).await;
        assert!(s < 300, "{m} {path}: {s} {v}");
        v
    }
}

fn policy_paths(h: &SimHandle) -> BTreeSet<String> {
    h.state_dump()["policy"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

fn tags(scope: &str, id: &str, project: &str, project_name: &str) -> Value {
    json!([
        {"scope": scope, "tag": id},
        {"scope": "os-project-id", "tag": project},
        {"scope": "os-project-name", "tag": project_name},
        {"scope": "os-api-version", "tag": simulator::vio::replay::OS_API_VERSION},
    ])
}

fn assert_neutron_error(v: &Value, ty: &str) {
    assert_eq!(v["NeutronError"]["type"], ty, "NeutronError shape: {v}");
    assert!(v["NeutronError"]["message"].as_str().is_some(), "{v}");
}

/// The replay of project `engineering`'s web tier, in the migrator's order; the new FIP id.
async fn replay_engineering(t: &Target) -> String {
    replay_engineering_until_vm_port(t).await;
    replay_engineering_rest(t).await
}

/// The replay up to (and with) the VM's port.
async fn replay_engineering_until_vm_port(t: &Target) {
    use reqwest::Method as M;
    t.ok(
        M::PUT,
        &format!("quotas/{ENG}"),
        json!({"quota": {"network": 50, "port": 500}}),
    )
    .await;
    t.ok(
        M::POST,
        "security-groups",
        json!({"security_group": {"id": SG, "name": "eng-web", "project_id": ENG}}),
    )
    .await;
    // SG rules after all groups, in one single-project bulk request.
    let v = t
        .ok(
            M::POST,
            "security-group-rules",
            json!({"security_group_rules": [
                {"id": RULE_WEB, "security_group_id": SG, "direction": "ingress", "ethertype": "IPv4",
                 "protocol": "tcp", "port_range_min": 80, "port_range_max": 80,
                 "remote_ip_prefix": "0.0.0.0/0", "project_id": ENG},
                {"id": RULE_SELF, "security_group_id": SG, "direction": "ingress", "ethertype": "IPv4",
                 "remote_group_id": SG, "project_id": ENG},
            ]}),
        )
        .await;
    assert_eq!(v["security_group_rules"].as_array().unwrap().len(), 2);
    t.ok(
        M::POST,
        "qos/policies",
        json!({"policy": {"id": QOS, "name": "eng-limit", "project_id": ENG}}),
    )
    .await;
    t.ok(
        M::POST,
        &format!("qos/policies/{QOS}/bandwidth_limit_rules"),
        json!({"bandwidth_limit_rule": {"max_kbps": 10240, "max_burst_kbps": 1024}}),
    )
    .await;
    t.ok(
        M::POST,
        "routers",
        json!({"router": {"id": ROUTER, "name": "eng-router", "project_id": ENG}}),
    )
    .await;
    // External network first, its subnet without DHCP, then the gateway.
    t.ok(
        M::POST,
        "networks",
        json!({"network": {"id": EXT, "name": "public", "router:external": true,
                           "provider:physical_network": "t0-public", "project_id": ADMIN_PROJECT}}),
    )
    .await;
    t.ok(
        M::POST,
        "subnets",
        json!({"subnet": {"id": EXT_SUB, "network_id": EXT, "cidr": "203.0.113.0/24",
                          "ip_version": 4, "enable_dhcp": false, "project_id": ADMIN_PROJECT}}),
    )
    .await;
    let v = t
        .ok(
            M::PUT,
            &format!("routers/{ROUTER}"),
            json!({"router": {"external_gateway_info": {"network_id": EXT, "enable_snat": true,
                "external_fixed_ips": [{"subnet_id": EXT_SUB, "ip_address": "203.0.113.10"}]}}}),
        )
        .await;
    assert_eq!(v["router"]["external_gateway_info"]["enable_snat"], true);
    // The internal network with its VNI, its subnet with DHCP off, the interface, the VM port.
    let v = t
        .ok(
            M::POST,
            "networks",
            json!({"network": {"id": NET, "name": "eng-web", "vni": 5001, "project_id": ENG,
                               "provider:network_type": "vxlan"}}),
        )
        .await;
    assert!(v["network"].get("vni").is_none(), "vni is not echoed: {v}");
    t.ok(
        M::POST,
        "subnets",
        json!({"subnet": {"id": SUB, "network_id": NET, "cidr": "10.10.1.0/24", "ip_version": 4,
                          "gateway_ip": "10.10.1.1", "enable_dhcp": false, "project_id": ENG}}),
    )
    .await;
    t.ok(
        M::POST,
        "ports",
        json!({"port": {"id": RPORT, "network_id": NET, "project_id": ENG, "mac_address": "fa:16:3e:10:01:01",
                        "device_owner": "network:router_interface", "device_id": ROUTER,
                        "fixed_ips": [{"subnet_id": SUB, "ip_address": "10.10.1.1"}]}}),
    )
    .await;
    t.ok(
        M::PUT,
        &format!("routers/{ROUTER}/add_router_interface"),
        json!({"port_id": RPORT}),
    )
    .await;
    t.ok(
        M::POST,
        "ports",
        json!({"port": {"id": VM, "network_id": NET, "project_id": ENG, "name": "web-1",
                        "mac_address": "fa:16:3e:10:01:02", "device_owner": "compute:nova",
                        "device_id": "vm-web-1", "vif_id": "502a0c1e-vm-web-1:4000",
                        "fixed_ips": [{"subnet_id": SUB, "ip_address": "10.10.1.20"}],
                        "security_groups": [SG], "qos_policy_id": QOS}}),
    )
    .await;
}

/// The rest of `engineering`'s replay: DHCP on, then the floating IP (its new id).
async fn replay_engineering_rest(t: &Target) -> String {
    use reqwest::Method as M;
    t.ok(
        M::PUT,
        &format!("subnets/{SUB}"),
        json!({"subnet": {"enable_dhcp": true, "host_routes": []}}),
    )
    .await;
    // The floating IP: the replay cannot keep its id.
    let v = t
        .ok(
            M::POST,
            "floatingips",
            json!({"floatingip": {"floating_network_id": EXT, "port_id": VM,
                                  "floating_ip_address": "203.0.113.50", "project_id": ENG}}),
        )
        .await;
    let fip = v["floatingip"]["id"].as_str().unwrap().to_string();
    assert_ne!(fip, SOURCE_FIP);
    assert_eq!(v["floatingip"]["router_id"], ROUTER);
    assert_eq!(v["floatingip"]["fixed_ip_address"], "10.10.1.20");
    fip
}

#[tokio::test]
async fn replay_writes_create_exactly_the_policy_objects_of_the_mapping() {
    let h = start(None, None).await;
    let t = Target::new(&h).await;
    assert_eq!(t.url, format!("{}/target-network", h.base_url()));
    // Keystone tokens are required.
    let resp =
        t.c.get(format!("{}/v2.0/networks", t.url))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    let before = policy_paths(&h);
    let fip = replay_engineering(&t).await;
    let after = policy_paths(&h);
    let created: BTreeSet<String> = after.difference(&before).cloned().collect();
    let seg = format!("/infra/segments/{NET}");
    let t1 = format!("/infra/tier-1s/{ROUTER}");
    let nat = format!("{t1}/nat/USER/nat-rules");
    let expected: BTreeSet<String> = [
        format!("/infra/domains/default/groups/{SG}"),
        format!("/infra/domains/default/security-policies/{SG}"),
        format!("/infra/domains/default/security-policies/{SG}/rules/{RULE_WEB}"),
        format!("/infra/domains/default/security-policies/{SG}/rules/{RULE_SELF}"),
        format!("/infra/domains/default/groups/{RULE_WEB}_remote_group"),
        format!("/infra/services/{RULE_WEB}"),
        format!("/infra/qos-profiles/{QOS}"),
        t1.clone(),
        format!("{t1}/locale-services/{ROUTER}-0"),
        format!("{nat}/S-{SUB}"),
        format!("{nat}/ND-{SUB}"),
        format!("{nat}/S-{fip}"),
        format!("{nat}/D-{fip}"),
        seg.clone(),
        format!("{seg}/ports/{VM}"),
        format!("{seg}/ports/{VM}/port-qos-profile-binding-maps/DEFAULT"),
        format!("{seg}/dhcp-static-binding-configs/{VM}-ipv4"),
    ]
    .into_iter()
    .collect();
    assert_eq!(created, expected, "exactly the mapping's Policy objects");
    assert!(
        before.is_subset(&after),
        "nothing of the destination's fixtures went away"
    );

    // Every object the writes created has the Policy API's documented common shape
    // (PolicyConfigResource: id / path / parent_path / relative_path consistent, a known
    // resource_type, at most 30 tags, scope <= 128 and tag <= 256 characters, display_name <= 255).
    let dump = h.state_dump();
    for p in &created {
        let o = &dump["policy"][p.as_str()];
        let (parent, id) = p.rsplit_once('/').unwrap();
        assert_eq!(o["id"], id, "{p}");
        assert_eq!(o["path"], p.as_str(), "{p}");
        assert_eq!(o["relative_path"], id, "{p}");
        assert_eq!(o["parent_path"], parent, "{p}");
        assert!(o["_revision"].is_i64(), "{p}");
        let rt = o["resource_type"].as_str().unwrap();
        assert!(
            [
                "Segment",
                "SegmentPort",
                "DhcpV4StaticBindingConfig",
                "PortQoSProfileBindingMap",
                "Tier1",
                "LocaleServices",
                "PolicyNatRule",
                "Group",
                "SecurityPolicy",
                "Rule",
                "Service",
                "QoSProfile",
            ]
            .contains(&rt),
            "{p}: {rt}"
        );
        assert!(
            o["display_name"].as_str().unwrap().chars().count() <= 255,
            "{p}"
        );
        let tl = o["tags"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        assert!(tl.len() <= 30, "{p}");
        for tg in tl {
            assert!(
                tg["scope"].as_str().unwrap_or("").chars().count() <= 128,
                "{p}"
            );
            assert!(tg["tag"].as_str().unwrap().chars().count() <= 256, "{p}");
        }
    }

    let nsx = Client::new(&h);
    let get = |p: String| {
        let nsx = &nsx;
        async move {
            let (s, v) = nsx.get(&format!("/policy/api/v1{p}")).await;
            assert_eq!(s, 200, "{p}: {v}");
            v
        }
    };
    // The segment: id = network id, tags, name rule, overlay TZ, VNI, tier-1, DHCP, MD proxy.
    let v = get(seg.clone()).await;
    assert_eq!(v["id"], NET);
    assert_eq!(v["resource_type"], "Segment");
    assert_eq!(v["display_name"], "eng-web_980e3...b4610");
    assert_eq!(
        v["tags"],
        tags("os-neutron-net-id", NET, ENG, "engineering")
    );
    assert_eq!(
        v["transport_zone_path"],
        format!("{EP}/transport-zones/overlay-tz")
    );
    assert_eq!(v["overlay_id"], 5001);
    assert_eq!(v["connectivity_path"], t1);
    assert_eq!(
        v["dhcp_config_path"],
        "/infra/dhcp-server-configs/dhcp-profile-1"
    );
    assert_eq!(
        v["metadata_proxy_paths"],
        json!(["/infra/metadata-proxies/mdproxy-1"])
    );
    assert_eq!(v["subnets"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["subnets"][0]["gateway_address"], "10.10.1.1/24");
    assert_eq!(
        v["subnets"][0]["dhcp_config"]["resource_type"],
        "SegmentDhcpV4Config"
    );
    // The VM's segment port: attachment = the replay's vif_id; SG membership by tag.
    let v = get(format!("{seg}/ports/{VM}")).await;
    assert_eq!(v["attachment"]["id"], "502a0c1e-vm-web-1:4000");
    assert_eq!(v["display_name"], "web-1_11111...55502");
    let mut want = tags("os-neutron-port-id", VM, ENG, "engineering");
    want.as_array_mut()
        .unwrap()
        .push(json!({"scope": "os-security-group", "tag": SG}));
    assert_eq!(v["tags"], want);
    assert_eq!(
        v["address_bindings"],
        json!([{"ip_address": "10.10.1.20", "mac_address": "fa:16:3e:10:01:02"}])
    );
    let v = get(format!("{seg}/dhcp-static-binding-configs/{VM}-ipv4")).await;
    assert_eq!(v["ip_address"], "10.10.1.20");
    assert_eq!(v["host_name"], "host-10-10-1-20");
    assert_eq!(v["mac_address"], "fa:16:3e:10:01:02");
    let v = get(format!(
        "{seg}/ports/{VM}/port-qos-profile-binding-maps/DEFAULT"
    ))
    .await;
    assert_eq!(v["qos_profile_path"], format!("/infra/qos-profiles/{QOS}"));
    // Router: tier-1 with the replay tag, on the external network's tier-0, SR on ec-1.
    let v = get(t1.clone()).await;
    assert_eq!(v["display_name"], "eng-router_b1175...5605d");
    let mut want = tags("os-neutron-router-id", ROUTER, ENG, "engineering");
    want.as_array_mut()
        .unwrap()
        .push(json!({"tag": "v2t-gateway-transit-ls"}));
    assert_eq!(v["tags"], want);
    assert_eq!(v["tier0_path"], "/infra/tier-0s/t0-public");
    let v = get(format!("{t1}/locale-services/{ROUTER}-0")).await;
    assert_eq!(v["edge_cluster_path"], format!("{EP}/edge-clusters/ec-1"));
    let v = get(format!("{nat}/S-{SUB}")).await;
    assert_eq!(
        (
            &v["action"],
            &v["source_network"],
            &v["translated_network"],
            &v["sequence_number"]
        ),
        (
            &json!("SNAT"),
            &json!("10.10.1.0/24"),
            &json!("203.0.113.10"),
            &json!(3000)
        )
    );
    assert_eq!(get(format!("{nat}/ND-{SUB}")).await["action"], "NO_DNAT");
    let v = get(format!("{nat}/D-{fip}")).await;
    assert_eq!(
        (
            &v["action"],
            &v["destination_network"],
            &v["translated_network"],
            &v["sequence_number"]
        ),
        (
            &json!("DNAT"),
            &json!("203.0.113.50"),
            &json!("10.10.1.20"),
            &json!(2000)
        )
    );
    // Security group: group by port tag, policy, rules, service, remote-IP group.
    let v = get(format!("/infra/domains/default/groups/{SG}")).await;
    assert_eq!(
        v["tags"],
        tags("os-neutron-secg-id", SG, ENG, "engineering")
    );
    assert_eq!(
        v["expression"][0]["value"],
        format!("os-security-group|{SG}")
    );
    let v = get(format!("/infra/domains/default/security-policies/{SG}")).await;
    assert_eq!(v["category"], "Application");
    let v = get(format!(
        "/infra/domains/default/security-policies/{SG}/rules/{RULE_WEB}"
    ))
    .await;
    assert_eq!(
        v["tags"],
        tags("os-neutron-secgr-id", RULE_WEB, ENG, "engineering")
    );
    assert_eq!(v["direction"], "IN");
    assert_eq!(
        v["source_groups"],
        json!([format!(
            "/infra/domains/default/groups/{RULE_WEB}_remote_group"
        )])
    );
    assert_eq!(
        v["destination_groups"],
        json!([format!("/infra/domains/default/groups/{SG}")])
    );
    assert_eq!(
        v["services"],
        json!([format!("/infra/services/{RULE_WEB}")])
    );
    let v = get(format!("/infra/services/{RULE_WEB}")).await;
    assert_eq!(v["service_entries"][0]["l4_protocol"], "TCP");
    assert_eq!(v["service_entries"][0]["destination_ports"], json!(["80"]));
    let v = get(format!(
        "/infra/domains/default/security-policies/{SG}/rules/{RULE_SELF}"
    ))
    .await;
    assert_eq!(v["services"], json!(["ANY"]));
    let v = get(format!("/infra/qos-profiles/{QOS}")).await;
    assert_eq!(
        v["tags"],
        tags("os-neutron-qos-id", QOS, ENG, "engineering")
    );
    assert_eq!(v["shaper_configurations"][0]["average_bandwidth_mbps"], 10);
    assert_eq!(
        v["shaper_configurations"][0]["burst_size_bytes"],
        1024 * 128
    );

    // Search by tag finds them.
    let (s, v) = nsx
        .get(&format!(
            "/policy/api/v1/search/query?query=tags.scope:os-neutron-port-id%20AND%20tags.tag:{VM}"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    let paths: BTreeSet<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            format!("{seg}/ports/{VM}"),
            format!("{seg}/dhcp-static-binding-configs/{VM}-ipv4")
        ]
        .iter()
        .map(String::as_str)
        .collect()
    );

    // The target Neutron lists what was written, in Neutron's shapes.
    let (s, v) = t.get(&format!("ports?network_id={NET}")).await;
    assert_eq!(s, 200);
    let ids: BTreeSet<&str> = v["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [RPORT, VM].into_iter().collect());
    let (_, v) = t.get(&format!("quotas/{ENG}")).await;
    assert_eq!(v["quota"]["network"], 50);
    let (_, v) = t.get(&format!("security-groups/{SG}")).await;
    assert_eq!(
        v["security_group"]["security_group_rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Cleanup deletes what the writes made: FIP, interface, port, gateway.
    assert_eq!(t.delete(&format!("floatingips/{fip}")).await.0, 204);
    let (s, v) = t.delete(&format!("ports/{RPORT}")).await;
    assert_eq!(s, 409, "an interface port goes through the router: {v}");
    t.ok(
        reqwest::Method::PUT,
        &format!("routers/{ROUTER}/remove_router_interface"),
        json!({"port_id": RPORT}),
    )
    .await;
    assert_eq!(t.delete(&format!("ports/{VM}")).await.0, 204);
    t.ok(
        reqwest::Method::PUT,
        &format!("routers/{ROUTER}"),
        json!({"router": {"external_gateway_info": {}}}),
    )
    .await;
    let left: BTreeSet<String> = policy_paths(&h).difference(&before).cloned().collect();
    assert!(!left.iter().any(|p| p.contains("/nat/")), "{left:?}");
    assert!(
        !left.iter().any(|p| p.starts_with(&format!("{seg}/"))),
        "{left:?}"
    );
    let v = get(t1.clone()).await;
    assert!(v.get("tier0_path").is_none(), "{v}");
    h.shutdown().await;
}

#[tokio::test]
async fn duplicates_are_refused_and_bulk_requests_are_atomic_and_single_project() {
    let h = start(None, None).await;
    let t = Target::new(&h).await;
    let net = |id: &str, project: &str| json!({"id": id, "name": "n", "project_id": project});
    let a = "33333333-0000-4000-8000-00000000000a";
    let b = "33333333-0000-4000-8000-00000000000b";
    let (s, _) = t.post("networks", json!({"network": net(a, ENG)})).await;
    assert_eq!(s, 201);
    let seg_a = Client::new(&h)
        .get(&format!("/policy/api/v1/infra/segments/{a}"))
        .await
        .1;
    // The same id again: 409, and the segment is untouched.
    let (s, v) = t.post("networks", json!({"network": net(a, ENG)})).await;
    assert_eq!(s, 409);
    assert_neutron_error(&v, "HTTPConflict");
    let again = Client::new(&h)
        .get(&format!("/policy/api/v1/infra/segments/{a}"))
        .await
        .1;
    assert_eq!(again["_revision"], seg_a["_revision"]);
    // A bulk request with one duplicate creates nothing.
    let before = policy_paths(&h);
    let (s, v) = t
        .post("networks", json!({"networks": [net(b, ENG), net(a, ENG)]}))
        .await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(t.get(&format!("networks/{b}")).await.0, 404);
    assert_eq!(policy_paths(&h), before);
    // Two projects in one bulk request: 400, nothing created.
    let (s, v) = t
        .post(
            "networks",
            json!({"networks": [net(b, ENG), net("33333333-0000-4000-8000-00000000000c", ADMIN_PROJECT)]}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert_neutron_error(&v, "HTTPBadRequest");
    assert_eq!(t.get(&format!("networks/{b}")).await.0, 404);
    assert_eq!(policy_paths(&h), before);
    // A bulk request whose second member is invalid (unknown network): nothing created.
    let (s, _) = t
        .post(
            "subnets",
            json!({"subnets": [
                {"id": "44444444-0000-4000-8000-000000000001", "network_id": a, "cidr": "10.9.0.0/24", "ip_version": 4, "project_id": ENG},
                {"id": "44444444-0000-4000-8000-000000000002", "network_id": b, "cidr": "10.9.1.0/24", "ip_version": 4, "project_id": ENG},
            ]}),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        t.get("subnets/44444444-0000-4000-8000-000000000001")
            .await
            .0,
        404
    );
    assert_eq!(
        policy_paths(&h),
        before,
        "the first subnet's DHCP config is not left behind"
    );
    // A valid bulk request creates all.
    let (s, v) = t
        .post(
            "networks",
            json!({"networks": [net(b, ENG), net("33333333-0000-4000-8000-00000000000d", ENG)]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["networks"].as_array().unwrap().len(), 2);
    // Routers are not bulk; FIPs cannot carry an id; a non-admin cannot write for another project.
    let (s, _) = t
        .post(
            "routers",
            json!({"routers": [{"id": "55555555-0000-4000-8000-000000000001"}]}),
        )
        .await;
    assert_eq!(s, 400);
    let (s, v) = t
        .post(
            "floatingips",
            json!({"floatingip": {"id": SOURCE_FIP, "floating_network_id": a}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let c = http();
    let eng = login(&c, &h.base_url(), "engineering").await;
    let resp = c
        .post(format!("{}/v2.0/networks", t.url))
        .header("x-auth-token", &eng.token)
        .json(&json!({"network": net("33333333-0000-4000-8000-0000000000ee", ADMIN_PROJECT)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    h.shutdown().await;
}

#[tokio::test]
async fn faults_fail_the_nth_object_delay_realization_and_load_from_the_fault_file() {
    let dir = tempfile::tempdir().unwrap();
    let faults = dir.path().join("faults.toml");
    std::fs::write(
        &faults,
        "[replay]\nfail_at_object = [2]\nrealization_reads = 2\n",
    )
    .unwrap();
    let h = start(None, Some(faults)).await;
    let t = Target::new(&h).await;
    let net = |id: &str| json!({"id": id, "name": "n", "project_id": ENG});
    let (a, b, c) = (
        "66666666-0000-4000-8000-00000000000a",
        "66666666-0000-4000-8000-00000000000b",
        "66666666-0000-4000-8000-00000000000c",
    );
    let (s, _) = t.post("networks", json!({"network": net(a)})).await;
    assert_eq!(s, 201, "object 1 is written");
    // Objects 2 and 3 in one bulk request: object 2 fails, so the request fails whole.
    let before = policy_paths(&h);
    let (s, v) = t
        .post("networks", json!({"networks": [net(b), net(c)]}))
        .await;
    assert_eq!(s, 500);
    assert_neutron_error(&v, "HTTPInternalServerError");
    assert_eq!(t.get(&format!("networks/{b}")).await.0, 404);
    assert_eq!(policy_paths(&h), before, "nothing created");
    // The retry is objects 4 and 5: written.
    let (s, _) = t
        .post("networks", json!({"networks": [net(b), net(c)]}))
        .await;
    assert_eq!(s, 201);
    // A re-run of the first write: the duplicate is refused.
    let (s, v) = t.post("networks", json!({"network": net(a)})).await;
    assert_eq!(s, 409);
    assert_neutron_error(&v, "HTTPConflict");

    // Realization: two reads say not yet, then realized; fixtures are realized at once.
    let nsx = Client::new(&h);
    let entity =
        |p: &str| format!("/policy/api/v1/infra/realized-state/realized-entities?intent_path={p}");
    let status = |p: &str| format!("/policy/api/v1/infra/realized-state/status?intent_path={p}");
    let seg = format!("/infra/segments/{b}");
    let (s, v) = nsx.get(&entity(&seg)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["results"][0]["state"], "UNREALIZED");
    assert_eq!(v["results"][0]["intent_paths"], json!([seg]));
    let (_, v) = nsx.get(&status(&seg)).await;
    assert_eq!(
        v["consolidated_status"]["consolidated_status"],
        "IN_PROGRESS"
    );
    assert_eq!(v["publish_status"], "IN_PROGRESS");
    let (_, v) = nsx.get(&entity(&seg)).await;
    assert_eq!(v["results"][0]["state"], "REALIZED");
    let (_, v) = nsx.get(&status(&seg)).await;
    assert_eq!(v["consolidated_status"]["consolidated_status"], "SUCCESS");
    let (_, v) = nsx.get(&entity("/infra/tier-0s/t0-public")).await;
    assert_eq!(v["results"][0]["state"], "REALIZED");
    let (s, _) = nsx.get(&entity("/infra/segments/nope")).await;
    assert_eq!(s, 404);

    // The same faults through the control endpoint, and a status fault on the target's paths
    // answers in Neutron's shape.
    let (s, _) = nsx
        .put("/_sim/vio/replay-faults", &json!({"fail_at_object": [7]}))
        .await;
    assert_eq!(s, 204);
    let (s, v) = t
        .post(
            "networks",
            json!({"network": net("66666666-0000-4000-8000-00000000000d")}),
        )
        .await;
    assert_eq!(s, 500, "the 409 was attempt 6, this is 7: {v}");
    let (s, v) = nsx
        .post(
            "/_sim/faults",
            &json!({"path": "/target-network/v2.0/ports", "times": 1, "action": "status", "status": 503}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = t.get("ports").await;
    assert_eq!(s, 503);
    assert_neutron_error(&v, "HTTPServiceUnavailable");
    h.shutdown().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_the_replay_resumes_from_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let h = start(Some(state.clone()), None).await;
    let t = Target::new(&h).await;
    let nsx = Client::new(&h);
    // The manager goes away right after the VM port is written.
    let (s, _) = nsx
        .post(
            "/_sim/faults",
            &json!({"method": "POST", "path": "/target-network/v2.0/ports", "nth": [2], "action": "exit"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = nsx
        .put("/_sim/vio/replay-faults", &json!({"realization_reads": 3}))
        .await;
    assert_eq!(s, 204);
    let node = edge_node_ids(&nsx).await.remove(0);
    let (s, _) = nsx
        .put(
            &format!("/api/v1/transport-nodes/{node}/node/v2t-migration-config"),
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(s, 200);
    replay_engineering_until_vm_port(&t).await;
    h.wait().await;

    let h = start(Some(state.clone()), None).await;
    let t = Target::new(&h).await;
    let nsx = Client::new(&h);
    // What was written before the restart is there, on both sides, and a re-run is refused.
    let (s, _) = t.get(&format!("ports/{VM}")).await;
    assert_eq!(s, 200);
    let (s, _) = nsx
        .get(&format!("/policy/api/v1/infra/segments/{NET}/ports/{VM}"))
        .await;
    assert_eq!(s, 200);
    let (s, _) = t
        .post(
            "ports",
            json!({"port": {"id": VM, "network_id": NET, "project_id": ENG}}),
        )
        .await;
    assert_eq!(s, 409);
    // The V2T flag and the pending realization survived.
    let (_, v) = nsx
        .get(&format!(
            "/api/v1/transport-nodes/{node}/node/v2t-migration-config"
        ))
        .await;
    assert_eq!(v["enabled"], true);
    let (_, v) = nsx
        .get(&format!(
            "/policy/api/v1/infra/realized-state/realized-entities?intent_path=/infra/segments/{NET}/ports/{VM}"
        ))
        .await;
    assert_eq!(v["results"][0]["state"], "UNREALIZED");
    // The rest of the replay goes on.
    t.ok(
        reqwest::Method::PUT,
        &format!("subnets/{SUB}"),
        json!({"subnet": {"enable_dhcp": true}}),
    )
    .await;
    let (s, v) = t
        .post(
            "floatingips",
            json!({"floatingip": {"floating_network_id": EXT, "port_id": VM, "project_id": ENG}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["floatingip"]["floating_ip_address"], "203.0.113.2", "{v}");
    h.shutdown().await;
}

async fn edge_node_ids(nsx: &Client) -> Vec<String> {
    let (s, v) = nsx.get("/api/v1/transport-nodes").await;
    assert_eq!(s, 200, "{v}");
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn edge_transport_nodes_validate_and_take_the_v2t_migration_config() {
    let h = start(None, None).await;
    let nsx = Client::new(&h);
    let (s, list) = nsx.get("/api/v1/transport-nodes").await;
    assert_eq!(s, 200);
    let ids = edge_node_ids(&nsx).await;
    // Seeded from the snapshot's edge-cluster members: their nsx_id.
    assert_eq!(
        ids,
        vec![
            "93ff563c-b1ef-5a5e-8bea-6410b8d61051",
            "d0d4f118-ef7b-5d0b-b897-107a17fc2d3b"
        ]
    );
    let map = crate::spec_validation::validators();
    let check = |ty: &str, v: &Value| {
        let val = map
            .get(&format!("#/definitions/{ty}"))
            .unwrap_or_else(|| panic!("no {ty} in the spec"));
        let errs: Vec<String> = val
            .iter_errors(v)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errs.is_empty(), "{ty}: {errs:?}\n{v}");
    };
    check("TransportNodeListResult", &list);
    for id in &ids {
        let (s, v) = nsx.get(&format!("/api/v1/transport-nodes/{id}")).await;
        assert_eq!(s, 200);
        check("TransportNode", &v);
        check("EdgeNode", &v["node_deployment_info"]);
        check("StandardHostSwitchSpec", &v["host_switch_spec"]);
    }
    let cfg = format!(
        "/api/v1/transport-nodes/{}/node/v2t-migration-config",
        ids[0]
    );
    assert_eq!(nsx.get(&cfg).await.1, json!({"enabled": false}));
    let (s, v) = nsx.put(&cfg, &json!({"enabled": true})).await;
    assert_eq!((s, v), (200, json!({"enabled": true})));
    assert_eq!(nsx.get(&cfg).await.1, json!({"enabled": true}));
    let other = format!(
        "/api/v1/transport-nodes/{}/node/v2t-migration-config",
        ids[1]
    );
    assert_eq!(nsx.get(&other).await.1, json!({"enabled": false}));
    let (s, v) = nsx.put(&cfg, &json!({"enabled": "yes"})).await;
    assert_eq!(s, 400);
    crate::common::assert_nsx_error(&v);
    let (s, _) = nsx.put(&cfg, &json!({"enabled": true, "garp": 1})).await;
    assert_eq!(s, 400);
    let (s, _) = nsx
        .put(
            "/api/v1/transport-nodes/nope/node/v2t-migration-config",
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(s, 404);
    h.shutdown().await;
}

/// FWaaS through the target: a firewall group on a router interface makes the Policy plugin's
/// gateway policy, groups and services; a change rewrites it; a delete removes it.
#[tokio::test]
async fn fwaas_groups_on_router_ports_make_the_gateway_firewall() {
    use reqwest::Method as M;
    const FW_WEB: &str = "33333333-4444-4555-8666-777777777701";
    const FW_ICMP: &str = "33333333-4444-4555-8666-777777777702";
    const FW_OFF: &str = "33333333-4444-4555-8666-777777777703";
    const FW_POL: &str = "33333333-4444-4555-8666-777777777710";
    const FW_GRP: &str = "33333333-4444-4555-8666-777777777720";
    let h = start(None, None).await;
    let t = Target::new(&h).await;
    replay_engineering(&t).await;
    let before = policy_paths(&h);
    for rule in [
        json!({"id": FW_WEB, "name": "web", "protocol": "tcp", "action": "allow",
               "destination_port": "80:90", "source_ip_address": "198.51.100.0/24",
               "ip_version": 4, "enabled": true, "project_id": ENG}),
        json!({"id": FW_ICMP, "protocol": "icmp", "action": "deny", "ip_version": 4,
               "source_ip_address": "0.0.0.0/0", "enabled": true, "project_id": ENG}),
        json!({"id": FW_OFF, "name": "off", "protocol": "udp", "action": "allow",
               "enabled": false, "project_id": ENG}),
    ] {
        t.ok(
            M::POST,
            "fwaas/firewall_rules",
            json!({ "firewall_rule": rule }),
        )
        .await;
    }
    t.ok(
        M::POST,
        "fwaas/firewall_policies",
        json!({"firewall_policy": {"id": FW_POL, "name": "eng-in", "project_id": ENG,
               "firewall_rules": [FW_WEB, FW_ICMP, FW_OFF]}}),
    )
    .await;
    assert_eq!(
        policy_paths(&h),
        before,
        "rules and policies alone make nothing"
    );
    let grp = json!({"firewall_group": {"id": FW_GRP, "name": "eng-edge", "project_id": ENG,
        "admin_state_up": true, "ingress_firewall_policy_id": FW_POL, "ports": [RPORT]}});
    t.ok(M::POST, "fwaas/firewall_groups", grp.clone()).await;
    let (s, v) = t.post("fwaas/firewall_groups", grp).await;
    assert_eq!(s, 409, "{v}");
    assert_neutron_error(&v, "HTTPConflict");

    let dump = h.state_dump();
    let pol = &dump["policy"];
    // Every Policy object of the replay (and the seeded destination) has its documented shape.
    let typed = crate::spec_validation::check_policy_store(pol);
    for t in [
        "Segment",
        "SegmentPort",
        "Tier1",
        "LocaleServices",
        "PolicyNatRule",
        "Group",
        "SecurityPolicy",
        "GatewayPolicy",
        "Rule",
        "Service",
        "QoSProfile",
    ] {
        assert!(typed.contains(t), "no {t} validated: {typed:?}");
    }
    let gp = format!("/infra/domains/{ENG}/gateway-policies/{ROUTER}");
    assert_eq!(pol[&gp]["resource_type"], "GatewayPolicy");
    assert_eq!(pol[&gp]["category"], "LocalGatewayRules");
    assert_eq!(
        pol[&gp]["display_name"],
        format!("Tier1 {ROUTER} gateway policy")
    );
    assert_eq!(
        pol[&gp]["tags"],
        tags("os-neutron-router-id", ROUTER, ENG, "engineering")
    );
    let mut rules: Vec<&Value> = pol
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{gp}/rules/")))
        .map(|(_, v)| v)
        .collect();
    rules.sort_by_key(|r| r["sequence_number"].as_u64());
    let names: Vec<&str> = rules
        .iter()
        .map(|r| r["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Fwaas-web".to_string(),
            format!("Fwaas-{FW_ICMP}"),
            "Block port ingress".into(),
            "Block port egress".into(),
            "Default LR Layer3 Rule".into()
        ],
        "the disabled rule is left out"
    );
    let net_group = format!("/infra/domains/{ENG}/groups/{ROUTER}-{NET}");
    let src_group = format!("/infra/domains/{ENG}/groups/source-{FW_WEB}");
    let t1 = format!("/infra/tier-1s/{ROUTER}");
    let web = rules[0];
    assert!(
        web["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{FW_WEB}-")),
        "{web}"
    );
    assert_eq!(
        (&web["action"], &web["direction"], &web["ip_protocol"]),
        (&json!("ALLOW"), &json!("IN"), &json!("IPV4"))
    );
    assert_eq!(web["source_groups"], json!([src_group]));
    assert_eq!(web["destination_groups"], json!([net_group]));
    assert_eq!(web["scope"], json!([t1]));
    let svc = &pol[web["services"][0].as_str().unwrap()];
    assert_eq!(svc["display_name"], format!("FW_rule_{FW_WEB}_tcp_service"));
    assert_eq!(
        svc["service_entries"][0]["destination_ports"],
        json!(["80-90"])
    );
    assert_eq!(svc["service_entries"][0]["l4_protocol"], "TCP");
    // 0.0.0.0/0 makes no IP group: the source is ANY.
    let icmp = rules[1];
    assert_eq!(icmp["action"], "DROP");
    assert_eq!(icmp["source_groups"], json!(["ANY"]));
    assert_eq!(
        pol[icmp["services"][0].as_str().unwrap()]["service_entries"][0]["protocol"],
        "ICMPv4"
    );
    assert_eq!(rules[2]["destination_groups"], json!([net_group]));
    assert_eq!(rules[3]["source_groups"], json!([net_group]));
    assert_eq!(rules[4]["action"], "ALLOW");
    assert_eq!(rules[4]["direction"], "IN_OUT");
    assert_eq!(
        pol[&net_group]["expression"][0]["value"],
        format!("os-neutron-net-id|{NET}")
    );
    assert_eq!(
        pol[&src_group]["expression"][0]["ip_addresses"],
        json!(["198.51.100.0/24"])
    );
    assert!(
        pol[&src_group]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({"scope": "os-router-firewall", "tag": ROUTER}))
    );

    // Group down: only the port's block rules and the default stay.
    t.ok(
        M::PUT,
        &format!("fwaas/firewall_groups/{FW_GRP}"),
        json!({"firewall_group": {"admin_state_up": false}}),
    )
    .await;
    let dump = h.state_dump();
    let n = dump["policy"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|p| p.starts_with(&format!("{gp}/rules/")))
        .count();
    assert_eq!(n, 3);
    // Deleted: the gateway policy, its groups and services go; SNAT keeps the service router.
    let (s, v) = t.delete(&format!("fwaas/firewall_groups/{FW_GRP}")).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(policy_paths(&h), before);
    h.shutdown().await;
}

/// The Octavia stand-in: load balancers, listeners, pools, members and monitors written with
/// their ids make the Policy plugin's LB objects; duplicates are 409; deletes undo them.
#[tokio::test]
async fn octavia_writes_make_the_policy_plugins_lb_objects() {
    use reqwest::Method as M;
    const LB1: &str = "44444444-5555-4666-8777-888888888801";
    const LB2: &str = "44444444-5555-4666-8777-888888888802";
    const LB3: &str = "44444444-5555-4666-8777-888888888803";
    const LSN: &str = "44444444-5555-4666-8777-888888888810";
    const POOL: &str = "44444444-5555-4666-8777-888888888820";
    const MEMBER: &str = "44444444-5555-4666-8777-888888888830";
    const HM: &str = "44444444-5555-4666-8777-888888888840";
    const MEDIUM: &str = "363c71bf-0f15-51da-b64c-20f1163e695b";
    let h = start(None, None).await;
    let t = Target::new(&h).await;
    replay_engineering(&t).await;
    let before = policy_paths(&h);
    let lb = |id: &str, ip: &str| {
        json!({"loadbalancer": {"id": id, "name": "web-lb", "vip_subnet_id": SUB, "vip_address": ip,
                                "flavor_id": MEDIUM, "project_id": ENG}})
    };
    t.ok(M::POST, "lbaas/loadbalancers", lb(LB1, "10.10.1.30"))
        .await;
    let (s, v) = t.post("lbaas/loadbalancers", lb(LB1, "10.10.1.30")).await;
    assert_eq!(s, 409, "{v}");
    assert_neutron_error(&v, "HTTPConflict");
    // The same collection at Octavia's own path.
    let resp =
        t.c.get(format!("{}/v2/lbaas/loadbalancers/{LB1}", t.url))
            .header("x-auth-token", &t.token)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["loadbalancer"]["provisioning_status"], "ACTIVE", "{v}");
    // A second load balancer on the same router joins the router's service by tag.
    t.ok(M::POST, "lbaas/loadbalancers", lb(LB2, "10.10.1.31"))
        .await;
    t.ok(
        M::POST,
        "lbaas/listeners",
        json!({"listener": {"id": LSN, "name": "http", "loadbalancer_id": LB1, "protocol": "HTTP",
                            "protocol_port": 80, "connection_limit": -1, "project_id": ENG}}),
    )
    .await;
    t.ok(
        M::POST,
        "lbaas/pools",
        json!({"pool": {"id": POOL, "name": "web", "listener_id": LSN, "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN", "project_id": ENG}}),
    )
    .await;
    let v = t
        .ok(
            M::POST,
            &format!("lbaas/pools/{POOL}/members"),
            json!({"member": {"id": MEMBER, "name": "web-1", "address": "10.10.1.20",
                              "protocol_port": 8080, "subnet_id": SUB}}),
        )
        .await;
    assert_eq!(v["member"]["weight"], 1, "{v}");
    let (s, _) = t
        .post(
            &format!("lbaas/pools/{POOL}/members"),
            json!({"member": {"id": MEMBER, "address": "10.10.1.20", "protocol_port": 8080}}),
        )
        .await;
    assert_eq!(s, 409);
    t.ok(
        M::POST,
        "lbaas/healthmonitors",
        json!({"healthmonitor": {"id": HM, "pool_id": POOL, "type": "HTTP", "delay": 5,
               "timeout": 3, "max_retries": 3, "http_method": "GET", "url_path": "/health",
               "expected_codes": "200,202", "project_id": ENG}}),
    )
    .await;
    // An L7 policy with two rules: a rule of the virtual server.
    const L7: &str = "44444444-5555-4666-8777-888888888860";
    t.ok(
        M::POST,
        "lbaas/l7policies",
        json!({"l7policy": {"id": L7, "name": "api", "listener_id": LSN, "action": "REDIRECT_TO_POOL",
                            "redirect_pool_id": POOL, "position": 1, "project_id": ENG}}),
    )
    .await;
    for (rid, rule) in [
        (
            "44444444-5555-4666-8777-888888888861",
            json!({"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}),
        ),
        (
            "44444444-5555-4666-8777-888888888862",
            json!({"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "web.example"}),
        ),
    ] {
        let mut r = rule;
        r["id"] = json!(rid);
        t.ok(
            M::POST,
            &format!("lbaas/l7policies/{L7}/rules"),
            json!({ "rule": r }),
        )
        .await;
    }
    // A VIP subnet neither external nor routed is refused.
    t.ok(
        M::POST,
        "networks",
        json!({"network": {"id": "44444444-5555-4666-8777-888888888850", "name": "island", "project_id": ENG}}),
    )
    .await;
    t.ok(
        M::POST,
        "subnets",
        json!({"subnet": {"id": "44444444-5555-4666-8777-888888888851", "name": "island",
               "network_id": "44444444-5555-4666-8777-888888888850", "cidr": "10.99.0.0/24",
               "ip_version": 4, "enable_dhcp": false, "project_id": ENG}}),
    )
    .await;
    let (s, v) = t
        .post(
            "lbaas/loadbalancers",
            json!({"loadbalancer": {"id": LB3, "vip_subnet_id": "44444444-5555-4666-8777-888888888851",
                                    "vip_address": "10.99.0.5", "project_id": ENG}}),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    assert!(
        v.to_string().contains("neither public nor connected"),
        "{v}"
    );

    let dump = h.state_dump();
    let pol = &dump["policy"];
    let typed = crate::spec_validation::check_policy_store(pol);
    for ty in [
        "LBService",
        "LBVirtualServer",
        "LBPool",
        "LBHttpProfile",
        "LBHttpMonitorProfile",
    ] {
        assert!(typed.contains(ty), "no {ty} validated: {typed:?}");
    }
    let t1 = format!("/infra/tier-1s/{ROUTER}");
    let svc = &pol[&format!("/infra/lb-services/{LB1}")];
    assert_eq!(svc["display_name"], "rtr_b1175...5605d");
    assert_eq!(svc["size"], "MEDIUM");
    assert_eq!(svc["connectivity_path"], t1);
    let mut want = tags("os-neutron-router-id", ROUTER, ENG, "engineering");
    want.as_array_mut().unwrap().extend([
        json!({"scope": "loadbalancer_id", "tag": LB1}),
        json!({"scope": "loadbalancer_id", "tag": LB2}),
    ]);
    assert_eq!(svc["tags"], want);
    assert!(pol.get(format!("/infra/lb-services/{LB2}")).is_none());
    assert_eq!(pol[&t1]["pool_allocation"], "LB_MEDIUM");
    assert_eq!(
        pol[&t1]["route_advertisement_rules"][0]["subnets"],
        json!(["203.0.113.0/24"])
    );
    let vs = &pol[&format!("/infra/lb-virtual-servers/{LSN}")];
    assert_eq!(vs["ip_address"], "10.10.1.30");
    assert_eq!(vs["ports"], json!(["80"]));
    assert_eq!(vs["lb_service_path"], format!("/infra/lb-services/{LB1}"));
    assert_eq!(vs["pool_path"], format!("/infra/lb-pools/{POOL}"));
    assert!(vs.get("max_concurrent_connections").is_none());
    let mut want = tags("os-lbaas-listener-id", LSN, ENG, "engineering");
    want.as_array_mut().unwrap().extend([
        json!({"scope": "os-lbaas-lb-name", "tag": "web-lb"}),
        json!({"scope": "os-lbaas-lb-id", "tag": LB1}),
    ]);
    assert_eq!(vs["tags"], want);
    assert_eq!(
        pol[&format!("/infra/lb-app-profiles/{LSN}")]["resource_type"],
        "LBHttpProfile"
    );
    let pool = &pol[&format!("/infra/lb-pools/{POOL}")];
    assert_eq!(pool["algorithm"], "WEIGHTED_ROUND_ROBIN");
    assert_eq!(pool["snat_translation"]["type"], "LBSnatAutoMap");
    assert_eq!(
        pool["members"],
        json!([{"display_name": format!("web-1_{MEMBER}"), "ip_address": "10.10.1.20",
                "port": "8080", "weight": 1, "backup_member": false, "admin_state": "ENABLED"}])
    );
    let hm_path = format!("/infra/lb-monitor-profiles/{HM}");
    assert_eq!(pool["active_monitor_paths"], json!([hm_path]));
    assert_eq!(pol[&hm_path]["response_status_codes"], json!([200, 202]));
    assert_eq!(pol[&hm_path]["fall_count"], 3);

    assert_eq!(
        vs["rules"],
        json!([{"display_name": "api_44444...88860", "phase": "HTTP_FORWARDING", "match_strategy": "ALL",
                "match_conditions": [
                    {"type": "LBHttpRequestUriCondition", "match_type": "STARTS_WITH", "uri": "/api"},
                    {"type": "LBHttpRequestHeaderCondition", "match_type": "EQUALS", "header_name": "Host", "header_value": "web.example"}],
                "actions": [{"type": "LBSelectPoolAction", "pool_id": format!("/infra/lb-pools/{POOL}")}]}])
    );

    // In use: the pool has a member, a monitor and an L7 policy pointing at it.
    let (s, v) = t.delete(&format!("lbaas/pools/{POOL}")).await;
    assert_eq!(s, 409, "{v}");
    for path in [
        format!("lbaas/l7policies/{L7}/rules/44444444-5555-4666-8777-888888888861"),
        format!("lbaas/l7policies/{L7}/rules/44444444-5555-4666-8777-888888888862"),
        format!("lbaas/l7policies/{L7}"),
        format!("lbaas/healthmonitors/{HM}"),
        format!("lbaas/pools/{POOL}/members/{MEMBER}"),
        format!("lbaas/pools/{POOL}"),
        format!("lbaas/listeners/{LSN}"),
        format!("lbaas/loadbalancers/{LB2}"),
    ] {
        let (s, v) = t.delete(&path).await;
        assert_eq!(s, 204, "{path}: {v}");
    }
    let pol = h.state_dump()["policy"].clone();
    assert_eq!(
        pol[&format!("/infra/lb-services/{LB1}")]["tags"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "LB2's tag is gone, the service stays for LB1"
    );
    let (s, v) = t.delete(&format!("lbaas/loadbalancers/{LB1}")).await;
    assert_eq!(s, 204, "{v}");
    let pol = h.state_dump()["policy"].clone();
    assert!(pol[&t1].get("pool_allocation").is_none(), "{}", pol[&t1]);
    let after = policy_paths(&h);
    let extra: Vec<&String> = after.difference(&before).collect();
    assert!(
        extra
            .iter()
            .all(|p| p.contains("44444444-5555-4666-8777-888888888850")),
        "only the island network's segment is left: {extra:?}"
    );
    h.shutdown().await;
}

/// A port's MAC and fixed address are checked against the other ports of its network only
/// (read through the store's port index): in use on the same network is 409, on another
/// network allowed, within one bulk request refused whole, free again once the port is
/// deleted, and still in use after a restart on the state file (the index is rebuilt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mac_or_address_in_use_on_the_ports_network_is_refused_also_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let h = start(Some(state.clone()), None).await;
    let t = Target::new(&h).await;
    let (na, nb) = (
        "55555555-0000-4000-8000-00000000000a",
        "55555555-0000-4000-8000-00000000000b",
    );
    let (sa, sb) = (
        "55555555-0000-4000-8000-0000000000aa",
        "55555555-0000-4000-8000-0000000000bb",
    );
    for (n, sub) in [(na, sa), (nb, sb)] {
        let (s, v) = t
            .post(
                "networks",
                json!({"network": {"id": n, "name": "n", "project_id": ENG}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = t
            .post(
                "subnets",
                json!({"subnet": {"id": sub, "network_id": n, "cidr": "10.9.0.0/24",
                "ip_version": 4, "enable_dhcp": false, "project_id": ENG}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let port = |id: &str, net: &str, sub: &str, mac: &str, ip: &str| {
        json!({"id": id, "network_id": net, "mac_address": mac, "project_id": ENG,
               "fixed_ips": [{"subnet_id": sub, "ip_address": ip}]})
    };
    let id = |n: u8| format!("66666666-0000-4000-8000-0000000000{n:02}");
    let (mac, ip) = ("fa:16:3e:00:00:01", "10.9.0.10");
    let (s, v) = t
        .post("ports", json!({"port": port(&id(1), na, sa, mac, ip)}))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = t
        .post(
            "ports",
            json!({"port": port(&id(2), na, sa, mac, "10.9.0.11")}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_neutron_error(&v, "MacAddressInUse");
    let (s, v) = t
        .post(
            "ports",
            json!({"port": port(&id(2), na, sa, "fa:16:3e:00:00:02", ip)}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_neutron_error(&v, "IpAddressAlreadyAllocated");
    let (s, v) = t
        .post("ports", json!({"port": port(&id(3), nb, sb, mac, ip)}))
        .await;
    assert_eq!(s, 201, "another network: {v}");
    let (s, v) = t
        .post(
            "ports",
            json!({"ports": [port(&id(4), na, sa, "fa:16:3e:00:00:04", "10.9.0.14"),
                             port(&id(5), na, sa, "fa:16:3e:00:00:04", "10.9.0.15")]}),
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_neutron_error(&v, "MacAddressInUse");
    assert_eq!(t.get(&format!("ports/{}", id(4))).await.0, 404);
    assert_eq!(t.delete(&format!("ports/{}", id(1))).await.0, 204);
    let (s, v) = t
        .post("ports", json!({"port": port(&id(6), na, sa, mac, ip)}))
        .await;
    assert_eq!(s, 201, "free again after the delete: {v}");
    h.shutdown().await;

    let h = start(Some(state), None).await;
    let t = Target::new(&h).await;
    let (s, v) = t
        .post(
            "ports",
            json!({"port": port(&id(7), na, sa, mac, "10.9.0.17")}),
        )
        .await;
    assert_eq!(s, 409, "after the restart: {v}");
    assert_neutron_error(&v, "MacAddressInUse");
    h.shutdown().await;
}

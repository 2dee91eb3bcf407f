//! Promote every NCP-relevant object of the example inventory (examples/inventories/small-cluster)
//! in dependency order, one type per batch as VNX does, then roll everything back in reverse and
//! check the Manager objects are as before (markers removed, owners and protection restored).

use crate::common::*;
use serde_json::{Value, json};
use simulator::{SimConfig, Simulator};

async fn ids(c: &Client, path: &str, filter: impl Fn(&Value) -> bool) -> Vec<String> {
    c.list_all(path, 100)
        .await
        .into_iter()
        .filter(|o| o["_system_owned"] != true)
        .filter(|o| filter(o))
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

async fn promote(c: &Client, ty: &str, ids: &[String]) -> Value {
    let entry = json!({"type": ty, "resource_ids": ids.iter().map(|i| json!({"manager_id": i})).collect::<Vec<_>>()});
    must_succeed(c, &json!({"migration_data": [entry]})).await;
    entry
}

#[tokio::test(flavor = "multi_thread")]
async fn example_inventory_promotes_in_order_and_rolls_back() {
    let h = Simulator::start(SimConfig {
        inventory: Some(example_inventory()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = Client::new(&h);
    let before = h.state_dump();

    let routers = c.list_all("/api/v1/logical-routers", 100).await;
    let tier = |t: &str| -> Vec<String> {
        routers
            .iter()
            .filter(|r| r["router_type"] == t)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let t0s = tier("TIER0");
    let t1s = tier("TIER1");
    let profile_ids = |rt: &'static str| {
        let c = &c;
        async move {
            ids(c, "/api/v1/switching-profiles", |o| {
                o["resource_type"] == rt
            })
            .await
        }
    };
    let mut allocations = Vec::new();
    for p in ids(&c, "/api/v1/pools/ip-pools", |_| true).await {
        let (_, v) = c
            .get(&format!("/api/v1/pools/ip-pools/{p}/allocations"))
            .await;
        for a in v["results"].as_array().unwrap() {
            allocations.push(a["allocation_id"].as_str().unwrap().to_string());
        }
    }
    let mut nat = Vec::new();
    for r in routers.iter() {
        let id = r["id"].as_str().unwrap();
        nat.extend(
            ids(
                &c,
                &format!("/api/v1/logical-routers/{id}/nat/rules"),
                |_| true,
            )
            .await,
        );
    }
    let t0_ports = ids(&c, "/api/v1/logical-router-ports", |o| {
        o["resource_type"] == "LogicalRouterUpLinkPort"
    })
    .await;

    let plan: Vec<(&str, Vec<String>)> = vec![
        (
            "IPBLOCK",
            ids(&c, "/api/v1/pools/ip-blocks", |_| true).await,
        ),
        ("IPPOOL", ids(&c, "/api/v1/pools/ip-pools", |_| true).await),
        (
            "IPBLOCK_SUBNET",
            ids(&c, "/api/v1/pools/ip-subnets", |_| true).await,
        ),
        ("IPPOOL_ALLOCATION", allocations),
        ("TIER0", t0s.clone()),
        ("TIER1", t1s.clone()),
        (
            "SPOOFGUARD_PROFILES",
            profile_ids("SpoofGuardSwitchingProfile").await,
        ),
        (
            "LOGICAL_SWITCH",
            ids(&c, "/api/v1/logical-switches", |_| true).await,
        ),
        (
            "LOGICAL_PORT",
            ids(&c, "/api/v1/logical-ports", |_| true).await,
        ),
        ("TIER1_LOGICAL_ROUTER_PORT", t1s.clone()),
        ("TIER0_LOGICAL_ROUTER_PORT", t0_ports),
        ("TIER0_LOGICAL_ROUTER_CONFIG", t0s.clone()),
        ("NAT", nat),
        ("IP_SET", ids(&c, "/api/v1/ip-sets", |_| true).await),
        ("NS_GROUP", ids(&c, "/api/v1/ns-groups", |_| true).await),
        (
            "CERTIFICATE",
            ids(&c, "/api/v1/trust-management/certificates", |_| true).await,
        ),
        (
            "LB_MONITOR",
            ids(&c, "/api/v1/loadbalancer/monitors", |_| true).await,
        ),
        (
            "LB_POOL",
            ids(&c, "/api/v1/loadbalancer/pools", |_| true).await,
        ),
        (
            "LB_PERSISTENCE_PROFILE",
            ids(&c, "/api/v1/loadbalancer/persistence-profiles", |_| true).await,
        ),
        (
            "LB_APPLICATION_PROFILE",
            ids(&c, "/api/v1/loadbalancer/application-profiles", |_| true).await,
        ),
        (
            "LB_CLIENT_SSL_PROFILE",
            ids(&c, "/api/v1/loadbalancer/client-ssl-profiles", |_| true).await,
        ),
        (
            "LB_SERVER_SSL_PROFILE",
            ids(&c, "/api/v1/loadbalancer/server-ssl-profiles", |_| true).await,
        ),
        (
            "LB_VIRTUAL_SERVER",
            ids(&c, "/api/v1/loadbalancer/virtual-servers", |_| true).await,
        ),
        (
            "LB_SERVICE",
            ids(&c, "/api/v1/loadbalancer/services", |_| true).await,
        ),
        (
            "DFW_SECTION",
            ids(&c, "/api/v1/firewall/sections", |_| true).await,
        ),
    ];

    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    let mut done: Vec<Value> = Vec::new();
    let mut total = 0;
    for (ty, list) in &plan {
        if list.is_empty() {
            continue;
        }
        total += list.len();
        done.insert(0, promote(&c, ty, list).await);
    }
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=DONE")
        .await;
    assert!(total > 100, "{total} objects promoted");
    let (_, all) = c
        .get("/policy/api/v1/search/query?query=resource_type:SegmentPort")
        .await;
    assert_eq!(all["result_count"], 24);
    let (_, ls) = c.get("/api/v1/logical-switches").await;
    assert!(
        ls["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["_create_user"] == "nsx_policy")
    );

    // Everything back, latest batch first.
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=INITIATE")
        .await;
    let (s, v) = c
        .post(
            "/api/v1/migration/mp-to-policy/rollback",
            &json!({"migration_data": done}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c.post_empty("/api/v1/migration/mp-to-policy/workflow?action=DONE")
        .await;
    let (_, all) = c.get("/policy/api/v1/search/query?query=*").await;
    assert_eq!(all["result_count"], 0, "{all}");
    let after = h.state_dump();
    // Same objects with the same tags, owners and protection (revisions and times moved on).
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        fn walk(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.remove("_revision");
                    m.remove("_last_modified_time");
                    m.remove("_last_modified_user");
                    m.values_mut().for_each(walk);
                }
                Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        v
    };
    assert_eq!(strip(&before["mp"]), strip(&after["mp"]));
    assert_eq!(
        strip(&before["firewall_sections"]),
        strip(&after["firewall_sections"])
    );
    h.shutdown().await;
}

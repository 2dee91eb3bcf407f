//! Firewall sections and rules: evaluation order, insert operations, revise moves, 409 on stale.

use crate::common::*;
use serde_json::{Value, json};

const TOP: &str = "dd000000-0000-4000-8000-000000000000";
const NCP1: &str = "dd000000-0000-4000-8000-000000000001";
const ADMIN: &str = "dd000000-0000-4000-8000-000000000002";
const NCP2: &str = "dd000000-0000-4000-8000-000000000003";
const BOTTOM: &str = "dd000000-0000-4000-8000-000000000004";

async fn order(c: &Client) -> Vec<String> {
    c.list_all("/api/v1/firewall/sections", 2)
        .await
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn section_body(name: &str) -> Value {
    json!({"display_name": name, "section_type": "LAYER3", "stateful": true})
}

#[tokio::test]
async fn sections_keep_evaluation_order_and_insert_ops() {
    let h = start_mini().await;
    let c = Client::new(&h);
    assert_eq!(order(&c).await, vec![TOP, NCP1, ADMIN, NCP2, BOTTOM]);
    let (_, v) = c.get(&format!("/api/v1/firewall/sections/{ADMIN}")).await;
    assert_eq!(v["priority"], 3);
    assert_eq!(v["rule_count"], 1);
    assert!(v.get("rules").is_none());

    // Default operation is insert_top.
    let (s, a) = c
        .post("/api/v1/firewall/sections", &section_body("a"))
        .await;
    assert_eq!(s, 201, "{a}");
    let a = a["id"].as_str().unwrap().to_string();
    let (_, b) = c
        .post(
            "/api/v1/firewall/sections?operation=insert_bottom",
            &section_body("b"),
        )
        .await;
    let b = b["id"].as_str().unwrap().to_string();
    let (_, x) = c
        .post(
            &format!("/api/v1/firewall/sections?operation=insert_before&id={ADMIN}"),
            &section_body("x"),
        )
        .await;
    let x = x["id"].as_str().unwrap().to_string();
    let (_, y) = c
        .post(
            &format!("/api/v1/firewall/sections?operation=insert_after&id={ADMIN}"),
            &section_body("y"),
        )
        .await;
    let y = y["id"].as_str().unwrap().to_string();
    assert_eq!(
        order(&c).await,
        vec![
            a.as_str(),
            TOP,
            NCP1,
            x.as_str(),
            ADMIN,
            y.as_str(),
            NCP2,
            BOTTOM,
            b.as_str()
        ]
    );
    // Anchors are validated.
    let (s, v) = c
        .post(
            "/api/v1/firewall/sections?operation=insert_after",
            &section_body("z"),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = c
        .post(
            "/api/v1/firewall/sections?operation=insert_after&id=missing",
            &section_body("z"),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = c
        .post(
            "/api/v1/firewall/sections?operation=sideways",
            &section_body("z"),
        )
        .await;
    assert_eq!(s, 400);
    // A default section stays last: insert_bottom goes above it.
    let mut d = section_body("default");
    d["is_default"] = json!(true);
    let (_, d) = c
        .post("/api/v1/firewall/sections?operation=insert_bottom", &d)
        .await;
    let d = d["id"].as_str().unwrap().to_string();
    let (_, e) = c
        .post(
            "/api/v1/firewall/sections?operation=insert_bottom",
            &section_body("e"),
        )
        .await;
    let e = e["id"].as_str().unwrap().to_string();
    let o = order(&c).await;
    assert_eq!(&o[o.len() - 2..], &[e, d]);
    h.shutdown().await;
}

#[tokio::test]
async fn revise_moves_sections_and_refuses_stale_revisions() {
    let h = start_mini().await;
    let c = Client::new(&h);
    // Move the admin section out from between the NCP sections, above the top marker.
    let (_, sec) = c.get(&format!("/api/v1/firewall/sections/{ADMIN}")).await;
    let (s, moved) = c
        .post(
            &format!(
                "/api/v1/firewall/sections/{ADMIN}?action=revise&operation=insert_before&id={TOP}"
            ),
            &sec,
        )
        .await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(moved["_revision"], sec["_revision"].as_i64().unwrap() + 1);
    assert_eq!(moved["priority"], 1);
    assert_eq!(order(&c).await, vec![ADMIN, TOP, NCP1, NCP2, BOTTOM]);
    // The same (now stale) body is refused with 409 and the order is unchanged.
    let (s, v) = c
        .post(
            &format!("/api/v1/firewall/sections/{ADMIN}?action=revise&operation=insert_bottom"),
            &sec,
        )
        .await;
    assert_eq!(s, 409, "{v}");
    assert_nsx_error(&v);
    assert_eq!(order(&c).await, vec![ADMIN, TOP, NCP1, NCP2, BOTTOM]);
    // Move below the bottom marker with the fresh revision.
    let (s, _) = c
        .post(
            &format!(
                "/api/v1/firewall/sections/{ADMIN}?action=revise&operation=insert_after&id={BOTTOM}"
            ),
            &moved,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(order(&c).await, vec![TOP, NCP1, NCP2, BOTTOM, ADMIN]);
    // Self-anchoring is an error.
    let (_, cur) = c.get(&format!("/api/v1/firewall/sections/{ADMIN}")).await;
    let (s, _) = c
        .post(
            &format!(
                "/api/v1/firewall/sections/{ADMIN}?action=revise&operation=insert_after&id={ADMIN}"
            ),
            &cur,
        )
        .await;
    assert_eq!(s, 400);
    // PUT with a stale revision: 409 as well.
    let (s, _) = c
        .put(&format!("/api/v1/firewall/sections/{ADMIN}"), &sec)
        .await;
    assert_eq!(s, 409);
    // Deleting a section with rules needs cascade.
    let (s, _) = c
        .delete(&format!("/api/v1/firewall/sections/{ADMIN}"))
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .delete(&format!("/api/v1/firewall/sections/{ADMIN}?cascade=true"))
        .await;
    assert_eq!(s, 200);
    assert_eq!(order(&c).await, vec![TOP, NCP1, NCP2, BOTTOM]);
    h.shutdown().await;
}

async fn rule_order(c: &Client, sid: &str) -> Vec<String> {
    let (s, v) = c
        .post_empty(&format!(
            "/api/v1/firewall/sections/{sid}?action=list_with_rules"
        ))
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["resource_type"], "FirewallSectionRuleList");
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["display_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn rules_inside_a_section_keep_order() {
    let h = start_mini().await;
    let c = Client::new(&h);
    assert_eq!(
        rule_order(&c, NCP1).await,
        vec!["allow-web", "admin-user-rule"]
    );
    let (_, sec) = c.get(&format!("/api/v1/firewall/sections/{NCP1}")).await;
    let rev = sec["_revision"].as_i64().unwrap();
    // Create at the top (default), carrying the section revision as nsxlib does.
    let (s, r1) = c
        .post(
            &format!("/api/v1/firewall/sections/{NCP1}/rules"),
            &json!({"display_name": "r-top", "action": "ALLOW", "_revision": rev}),
        )
        .await;
    assert_eq!(s, 200, "{r1}");
    assert!(r1["id"].as_str().unwrap().parse::<u64>().is_ok());
    // The section revision moved, so the old one is stale now.
    let (s, _) = c
        .post(
            &format!("/api/v1/firewall/sections/{NCP1}/rules?operation=insert_bottom"),
            &json!({"display_name": "r-stale", "action": "ALLOW", "_revision": rev}),
        )
        .await;
    assert_eq!(s, 409);
    let (s, _) = c
        .post(
            &format!("/api/v1/firewall/sections/{NCP1}/rules?operation=insert_after&id=2001"),
            &json!({"display_name": "r-after", "action": "DROP"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = c
        .post(
            &format!("/api/v1/firewall/sections/{NCP1}/rules?action=create_multiple&operation=insert_bottom"),
            &json!({"rules": [{"display_name": "m1", "action": "ALLOW"}, {"display_name": "m2", "action": "ALLOW"}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        rule_order(&c, NCP1).await,
        vec![
            "r-top",
            "allow-web",
            "r-after",
            "admin-user-rule",
            "m1",
            "m2"
        ]
    );
    // Move the admin's rule to the top with revise.
    let (_, rule) = c
        .get(&format!("/api/v1/firewall/sections/{NCP1}/rules/2002"))
        .await;
    let (s, v) = c
        .post(
            &format!(
                "/api/v1/firewall/sections/{NCP1}/rules/2002?action=revise&operation=insert_top"
            ),
            &rule,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(rule_order(&c, NCP1).await[0], "admin-user-rule");
    let (s, _) = c
        .post(
            &format!(
                "/api/v1/firewall/sections/{NCP1}/rules/2002?action=revise&operation=insert_top"
            ),
            &rule,
        )
        .await;
    assert_eq!(s, 409, "stale rule revision");
    let (_, sec) = c.get(&format!("/api/v1/firewall/sections/{NCP1}")).await;
    assert_eq!(sec["rule_count"], 6);
    let (s, _) = c
        .delete(&format!("/api/v1/firewall/sections/{NCP1}/rules/2002"))
        .await;
    assert_eq!(s, 200);
    let (_, v) = c
        .get(&format!(
            "/api/v1/firewall/sections/{NCP1}/rules?page_size=2"
        ))
        .await;
    assert_eq!(v["result_count"], 5);
    assert!(v["cursor"].is_string());
    // Create a section together with its rules.
    let mut b = section_body("with-rules");
    b["rules"] = json!([{"display_name": "w1", "action": "ALLOW"}, {"display_name": "w2", "action": "DROP"}]);
    let (s, v) = c
        .post(
            &format!("/api/v1/firewall/sections?action=create_with_rules&operation=insert_after&id={NCP2}"),
            &b,
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
    let sid = v["id"].as_str().unwrap().to_string();
    assert_eq!(rule_order(&c, &sid).await, vec!["w1", "w2"]);
    assert_eq!(order(&c).await[4], sid);
    h.shutdown().await;
}

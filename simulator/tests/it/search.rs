//! Search API over HTTP: query forms, numeric cursors, result_count on the first page, limits.

use crate::common::*;
use serde_json::Value;

fn enc(q: &str) -> String {
    let mut out = String::new();
    for b in q.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn search(c: &Client, q: &str, extra: &str) -> (u16, Value) {
    c.get(&format!("/api/v1/search/query?query={}{extra}", enc(q)))
        .await
}

#[tokio::test]
async fn search_query_forms_and_paging() {
    let h = start_mini().await;
    let c = Client::new(&h);
    let (s, v) = search(&c, "resource_type:LogicalPort", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result_count"], 3);

    let (_, v) = search(
        &c,
        r"resource_type:LogicalPort AND tags.scope:ncp\/pod AND tags.tag:web\-1",
        "",
    )
    .await;
    assert_eq!(v["result_count"], 1);
    assert_eq!(v["results"][0]["display_name"], "ns1/web-1");

    let (_, v) = search(
        &c,
        r"(resource_type:LogicalSwitch OR resource_type:LogicalRouter) AND NOT tags.scope:ncp\/snat_ip",
        "",
    )
    .await;
    assert_eq!(v["result_count"], 2, "{v}");

    let (_, v) = search(
        &c,
        "resource_type:FirewallSection AND display_name:\"ncp-top-marker\"",
        "",
    )
    .await;
    assert_eq!(v["result_count"], 1);
    let (_, v) = search(&c, "resource_type:Lb*", "").await;
    assert_eq!(v["result_count"], 6, "{v}");

    // Numeric-string cursors; result_count only on the first page.
    let q = r"tags.scope:ncp\/cluster AND tags.tag:k8s\-cl1";
    let (_, first) = search(&c, q, "&page_size=4&sort_by=id").await;
    let total = first["result_count"].as_u64().unwrap();
    assert!(total > 8, "{total}");
    let mut seen = first["results"].as_array().unwrap().len() as u64;
    let mut cursor = first["cursor"].as_str().unwrap().to_string();
    let mut pages = 1;
    while !cursor.is_empty() && pages < 100 {
        assert!(cursor.parse::<u64>().is_ok(), "numeric cursor {cursor}");
        let (s, v) = search(&c, q, &format!("&page_size=4&sort_by=id&cursor={cursor}")).await;
        assert_eq!(s, 200);
        assert!(v.get("result_count").is_none(), "only on first page: {v}");
        seen += v["results"].as_array().unwrap().len() as u64;
        cursor = v["cursor"].as_str().unwrap_or("").to_string();
        pages += 1;
    }
    assert_eq!(seen, total);

    let (s, v) = search(&c, "resource_type:LogicalPort", "&page_size=1001").await;
    assert_eq!(s, 400);
    assert_nsx_error(&v);
    let (s, v) = search(&c, "(resource_type:LogicalPort", "").await;
    assert_eq!(s, 400);
    assert_nsx_error(&v);
    let (s, _) = c.get("/api/v1/search/query").await;
    assert_eq!(s, 400);
    h.shutdown().await;
}

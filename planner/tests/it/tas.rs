//! A TAS foundation (`examples/inventories/tas-small`): its Cloud Foundry side read from `cf/`,
//! the TAS prechecks (NCP 4.1.2, strategy 1, shared NSX, orphaned app-instance ports) and the
//! plan of the clean foundation (snapshot).

use std::path::Path;

use plan_schema::Severity;
use plan_schema::mp::{Action, Plan};
use planner::Rules;
use test_support::{
    PlanParams, TAS_ORPHAN_PORT, copy_dir, remove_tas_orphan, tas_example_inventory,
};

fn plan_of(dir: &Path) -> Plan {
    try_plan(dir).unwrap()
}

fn try_plan(dir: &Path) -> Result<Plan, planner::PlanError> {
    test_support::plan_inventory(
        dir,
        &PlanParams {
            inventory_source: "inventory",
            cluster: "tas-fnd1",
            created_at: "2026-11-20T10:00:00Z",
            tool_version: "0.1.0",
            rules: &Rules::builtin(),
            placement: None,
        },
    )
}

fn errors(plan: &Plan) -> Vec<(String, String)> {
    plan.findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.check.clone(), f.subject.id.clone()))
        .collect()
}

fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&tas_example_inventory(), dir.path());
    dir
}

fn edit_spec(dir: &Path, f: impl FnOnce(String) -> String) {
    let p = dir.join("user-spec.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, f(text)).unwrap();
}

#[test]
fn the_orphaned_app_instance_port_is_an_error_naming_it() {
    let plan = plan_of(&tas_example_inventory());
    assert_eq!(
        errors(&plan),
        vec![(
            "cf-counterpart-missing".to_string(),
            TAS_ORPHAN_PORT.0.to_string()
        )]
    );
    let f = plan
        .findings
        .iter()
        .find(|f| f.check == "cf-counterpart-missing")
        .unwrap();
    assert_eq!(f.subject.display_name.as_deref(), Some(TAS_ORPHAN_PORT.1));
    assert!(
        f.message.contains("instance 1 of app cart"),
        "{}",
        f.message
    );
    // The Cloud Foundry side is a recorded input of the plan.
    let cf = plan
        .inputs
        .iter()
        .find(|i| i.name == "cloud-foundry")
        .unwrap();
    assert_eq!(cf.source, "inventory/cf");
    assert!(cf.objects.unwrap() > 10);
}

#[test]
fn the_clean_foundation_plans_without_errors_and_imports_every_org() {
    let dir = copy();
    remove_tas_orphan(dir.path());
    let plan = plan_of(dir.path());
    assert_eq!(errors(&plan), vec![]);
    let text = plan_schema::write::to_toml(&plan, None).unwrap();
    insta::assert_snapshot!("tas_small_clean_plan_toml", text);
    let imported: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b.resources.iter().map(|r| r.manager_id.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    // Every NSX object of the foundation is imported; router ports go with their router
    // (TIER1_LOGICAL_ROUTER_PORT / TIER0_LOGICAL_ROUTER_PORT requests name the router).
    let imported: std::collections::BTreeSet<&str> = imported.into_iter().collect();
    let inv = planner::Inventory::load(dir.path()).unwrap();
    for o in &inv.objects {
        if o.resource_type.starts_with("LogicalRouter") && o.resource_type != "LogicalRouter" {
            continue;
        }
        assert!(
            imported.contains(o.id.as_str()),
            "{} {} not imported",
            o.resource_type,
            o.display_name
        );
    }
    for a in &inv.allocations {
        assert!(
            imported.contains(a.allocation_id.as_str()),
            "{}",
            a.allocation_id
        );
    }
    assert!(!imported.contains(&TAS_ORPHAN_PORT.0));
}

#[test]
fn a_gone_app_space_or_org_is_named() {
    let dir = copy();
    remove_tas_orphan(dir.path());
    // Delete app `catalog` (space dev) from the Cloud Controller's lists.
    let path = dir.path().join("cf/apps.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["name"] != "catalog");
    std::fs::write(&path, v.to_string()).unwrap();
    let path = dir.path().join("cf/organizations.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["resources"]
        .as_array_mut()
        .unwrap()
        .retain(|a| a["name"] != "ops");
    std::fs::write(&path, v.to_string()).unwrap();
    let plan = plan_of(dir.path());
    let messages: Vec<&str> = plan
        .findings
        .iter()
        .filter(|f| f.check == "cf-counterpart-missing")
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("\"catalog-0\"") && m.contains("no app ")),
        "{messages:#?}"
    );
    // Everything of org ops: its router, 2 link ports, downlink, switch, router port, subnet,
    // pool, SNAT rule and the monitor instance port.
    assert_eq!(
        messages.iter().filter(|m| m.contains("no org ")).count(),
        10,
        "{messages:#?}"
    );
}

#[test]
fn ncp_older_than_4_1_2_is_an_error_for_tas() {
    let dir = copy();
    edit_spec(dir.path(), |t| {
        t.replace("ncp_version: \"4.1.2\"", "ncp_version: \"4.1.1\"")
    });
    let plan = plan_of(dir.path());
    let f = plan
        .findings
        .iter()
        .find(|f| f.check == "ncp-version")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.message.contains("4.1.2") && f.message.contains("TAS"),
        "{}",
        f.message
    );
}

#[test]
fn strategy_2_and_clusters_outside_the_window_are_errors() {
    let dir = copy();
    remove_tas_orphan(dir.path());
    edit_spec(dir.path(), |t| t.replace("strategy: 1", "strategy: 2"));
    let plan = plan_of(dir.path());
    assert_eq!(
        errors(&plan),
        vec![("tas-strategy".to_string(), "tas-fnd1".to_string())]
    );

    // Another foundation's router on the same NSX, absent from the user spec.
    let dir = copy();
    remove_tas_orphan(dir.path());
    let path = dir.path().join("nsx/logical-routers.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut other = v["results"][1].clone();
    other["id"] = "0a0a0a0a-1111-4222-8333-444444444444".into();
    other["display_name"] = "tas-fnd2-org-x".into();
    other["tags"][0]["tag"] = "tas-fnd2".into();
    v["results"].as_array_mut().unwrap().push(other);
    v["result_count"] = 4.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let plan = plan_of(dir.path());
    let f = plan
        .findings
        .iter()
        .find(|f| f.check == "tas-strategy")
        .unwrap();
    assert!(
        f.message.contains("tas-fnd2") && f.message.contains("not in the user spec"),
        "{}",
        f.message
    );
    // Naming it in the user spec for the same window settles it.
    edit_spec(dir.path(), |t| {
        t + "  tas-fnd2:\n    product: tas\n    strategy: 1\n"
    });
    let plan = try_plan(dir.path()).unwrap();
    assert!(
        !plan.findings.iter().any(|f| f.check == "tas-strategy"),
        "{:#?}",
        plan.findings
    );
}

#[test]
fn a_tkgi_cluster_on_the_same_nsx_is_the_shared_products_error() {
    let dir = copy();
    let path = dir.path().join("nsx/logical-switches.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut other = v["results"][0].clone();
    other["id"] = "0b0b0b0b-1111-4222-8333-444444444444".into();
    other["tags"] = serde_json::json!([{"scope": "ncp/cluster", "tag": "pks-7c1e"}, {"scope": "ncp/coe", "tag": "kubernetes"}]);
    v["results"].as_array_mut().unwrap().push(other);
    std::fs::write(&path, v.to_string()).unwrap();
    let plan = plan_of(dir.path());
    let f = plan
        .findings
        .iter()
        .find(|f| f.check == "shared-nsx-products")
        .unwrap();
    assert!(
        f.message.contains("TAS") && f.message.contains("TKGi"),
        "{}",
        f.message
    );
}

#[test]
fn a_cf_file_with_a_next_page_or_a_bad_field_is_refused_with_its_location() {
    let dir = copy();
    let path = dir.path().join("cf/spaces.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["resources"][1]["relationships"]["organization"]["data"]["guid"] = 7.into();
    std::fs::write(&path, v.to_string()).unwrap();
    let e = try_plan(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("spaces.json")
            && e.contains("/resources/1/relationships/organization/data/guid"),
        "{e}"
    );
    v["resources"][1]["relationships"]["organization"]["data"]["guid"] = "x".into();
    v["pagination"]["next"] = serde_json::json!({"href": "https://api.example/v3/spaces?page=2"});
    std::fs::write(&path, v.to_string()).unwrap();
    let e = try_plan(dir.path()).unwrap_err().to_string();
    assert!(e.contains("/pagination/next"), "{e}");
    std::fs::write(dir.path().join("cf/routes.json"), "{}").unwrap();
    let e = try_plan(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("routes.json") && e.contains("unknown snapshot file"),
        "{e}"
    );
}

#[test]
fn an_unknown_strategy_is_refused_naming_the_file() {
    let dir = copy();
    edit_spec(dir.path(), |t| t.replace("strategy: 1", "strategy: 3"));
    let e = try_plan(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("user-spec.yaml") && e.contains("strategy 3 does not exist"),
        "{e}"
    );
}

//! Every precheck: a fixture that triggers it and the base example that does not.

mod common;

use common::{Fixture, has};
use plan_schema::{Action, InsertOp, MigrationType};
use planner::rules::Placement;
use serde_json::json;

fn base() -> plan_schema::Plan {
    Fixture::new().plan()
}

#[test]
fn the_example_plans_cleanly() {
    let plan = base();
    assert!(plan.is_applicable(), "{:#?}", plan.findings);
    for check in [
        "ncp-running",
        "nsx-version",
        "ncp-version",
        "lb-virtual-server-rules",
        "k8s-counterpart-missing",
        "shared-nsx-products",
        "other-clusters",
        "port-tag-count",
        "duplicate-policy-id",
        "shared-display-name-not-unique",
        "user-spec-resource-not-found",
        "reference-not-imported",
        "tag-not-inferable",
        "already-in-policy",
        "shared-needs-cluster-object",
        "reference-cycle",
    ] {
        assert!(
            !plan.findings.iter().any(|f| f.check == check),
            "{check} raised on the base example"
        );
    }
}

#[test]
fn ncp_running() {
    let f = Fixture::new();
    f.edit_json("k8s/pods.json", |v| {
        v["items"].as_array_mut().unwrap().push(json!({
            "metadata": {"name": "nsx-ncp-7c9f6d8b5-x2x4q", "namespace": "nsx-system", "uid": "0b1c2d3e-0000-4000-8000-000000000001"},
            "spec": {"containers": [{"name": "nsx-ncp", "image": "nsx-ncp:4.1.2"}]},
            "status": {"phase": "Running"}
        }));
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "ncp-running"));
    assert!(!plan.is_applicable());
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "ncp-running")
        .unwrap();
    assert!(finding.remedy.contains("at least 10 minutes"));
}

#[test]
fn nsx_version() {
    let f = Fixture::new();
    f.edit_json("metadata.json", |v| {
        v["nsx_version"] = json!("3.1.3.7.0.19380482")
    });
    assert!(has(&f.plan(), "error", "nsx-version"));
}

#[test]
fn ncp_version() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("ncp_version: \"4.1.2\"", "ncp_version: \"3.2.1\"")
    });
    assert!(has(&f.plan(), "error", "ncp-version"));
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("    ncp_version: \"4.1.2\"\n", "")
    });
    assert!(has(&f.plan(), "warning", "ncp-version"));
}

#[test]
fn coordinator_status() {
    assert!(has(&base(), "info", "coordinator-status"));
    let f = Fixture::new();
    f.edit_json("metadata.json", |v| {
        v["migration_coordinator"] = json!("STOPPED")
    });
    assert!(has(&f.plan(), "warning", "coordinator-status"));
}

#[test]
fn lb_virtual_server_with_too_many_rules() {
    let f = Fixture::new();
    f.edit_object("lb-virtual-servers", "kube-prod-01-http", |o| {
        let ids: Vec<String> = (0..256)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        o["rule_ids"] = json!(ids);
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "lb-virtual-server-rules"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "lb-virtual-server-rules")
        .unwrap();
    assert!(finding.remedy.contains("LoadBalancer CRDs"));
}

#[test]
fn admin_section_between_ncp_sections_is_moved_below_by_default() {
    let plan = base();
    assert!(has(&plan, "warning", "dfw-admin-section-in-ncp-range"));
    let mv = plan.steps.iter().find_map(|s| match &s.action {
        Action::DfwSectionMove(m) => Some(m),
        _ => None,
    });
    let mv = mv.unwrap();
    assert_eq!(mv.section.display_name, "ops-backup-exception");
    assert_eq!(mv.operation, InsertOp::InsertAfter);
    assert_eq!(
        mv.anchor.as_ref().unwrap().display_name,
        "kube-prod-01-ncp-bottom-marker"
    );
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "dfw-admin-section-in-ncp-range")
        .unwrap();
    assert!(finding.message.contains("precedence"));

    // Without the admin section there is nothing to move.
    let f = Fixture::new();
    f.edit_json("nsx/firewall-sections.json", |v| {
        v["results"]
            .as_array_mut()
            .unwrap()
            .retain(|s| s["display_name"] != "ops-backup-exception");
    });
    let plan = f.plan();
    assert!(!has(&plan, "warning", "dfw-admin-section-in-ncp-range"));
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::DfwSectionMove(_)))
    );
}

#[test]
fn admin_sections_can_go_above_globally_or_per_section() {
    let plan = Fixture::new().plan_with(Some(Placement::Above));
    let mv = plan.steps.iter().find_map(|s| match &s.action {
        Action::DfwSectionMove(m) => Some(m),
        _ => None,
    });
    let mv = mv.unwrap();
    assert_eq!(mv.operation, InsertOp::InsertBefore);
    assert_eq!(
        mv.anchor.as_ref().unwrap().display_name,
        "kube-prod-01-ncp-top-marker"
    );

    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("    shared_resources:\n", "    dfw:\n      sections:\n        ops-backup-exception: above\n    shared_resources:\n")
    });
    let plan = f.plan();
    let mv = plan.steps.iter().find_map(|s| match &s.action {
        Action::DfwSectionMove(m) => Some(m),
        _ => None,
    });
    assert_eq!(mv.unwrap().operation, InsertOp::InsertBefore);
}

#[test]
fn user_rule_inside_ncp_section_moves_before_the_section_is_imported() {
    let plan = base();
    assert!(has(&plan, "warning", "dfw-user-rule-in-ncp-section"));
    let dfw_import = plan
        .steps
        .iter()
        .find(|s| matches!(&s.action, Action::ImportBatch(b) if b.migration_type == MigrationType::DfwSection))
        .unwrap();
    assert!(
        dfw_import
            .depends_on
            .contains(&"prepare/move-rule/1044".to_string())
    );
    // The moved rule is not among the section's rules in the import request.
    if let Action::ImportBatch(b) = &dfw_import.action {
        assert!(
            b.resources
                .iter()
                .all(|r| r.linked_ids.iter().all(|k| !k.key.starts_with("1044")))
        );
    }

    let f = Fixture::new();
    f.edit_json("nsx/firewall-sections.json", |v| {
        for s in v["results"].as_array_mut().unwrap() {
            if let Some(rules) = s["rules"].as_array_mut() {
                rules.retain(|r| r["id"] != "1044");
            }
        }
    });
    let plan = f.plan();
    assert!(!has(&plan, "warning", "dfw-user-rule-in-ncp-section"));
    assert!(!plan.steps.iter().any(|s| matches!(
        s.action,
        Action::DfwRuleMove(_) | Action::DfwSectionCreate(_)
    )));
}

#[test]
fn nsx_object_without_kubernetes_counterpart() {
    let f = Fixture::new();
    f.edit_json("k8s/pods.json", |v| {
        v["items"]
            .as_array_mut()
            .unwrap()
            .retain(|p| p["metadata"]["name"] != "payments-db-0");
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "k8s-counterpart-missing"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "k8s-counterpart-missing")
        .unwrap();
    assert!(
        finding.message.contains("Pod payments/payments-db-0"),
        "{}",
        finding.message
    );
    assert!(finding.remedy.contains("10 minutes"));
}

#[test]
fn nsx_shared_between_products() {
    let f = Fixture::new();
    f.edit_object("logical-switches", "t0-uplink-vlan-100", |o| {
        o["tags"] = json!([{"scope": "pks/cluster", "tag": "pks-5f1a"}]);
    });
    assert!(has(&f.plan(), "error", "shared-nsx-products"));
}

#[test]
fn other_clusters_on_the_same_nsx() {
    let f = Fixture::new();
    f.edit_object("ip-sets", "backup-proxies", |o| {
        o["tags"] = json!([{"scope": "ncp/cluster", "tag": "kube-dev-02"}]);
    });
    let plan = f.plan();
    assert!(has(&plan, "info", "other-clusters"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "other-clusters")
        .unwrap();
    assert!(finding.message.contains("kube-dev-02"));
}

#[test]
fn snat_firewall_match() {
    assert!(has(&base(), "warning", "snat-firewall-match"));
    let f = Fixture::new();
    f.edit_json("nsx/nat-rules.json", |v| {
        for r in v["results"].as_array_mut().unwrap() {
            r["firewall_match"] = json!("BYPASS");
        }
    });
    assert!(!has(&f.plan(), "warning", "snat-firewall-match"));
}

#[test]
fn port_with_too_many_tags() {
    let f = Fixture::new();
    f.edit_object("logical-ports", "payments-db-0", |o| {
        let tags = o["tags"].as_array_mut().unwrap();
        for i in 0..25 {
            tags.push(json!({"scope": format!("label-{i}"), "tag": "x"}));
        }
    });
    assert!(has(&f.plan(), "error", "port-tag-count"));
}

#[test]
fn duplicate_policy_ids() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace(
            "        - display_name: snat-pool\n",
            "        - display_name: snat-pool\n          policy_id: lb-vip-pool\n",
        )
    });
    assert!(has(&f.plan(), "error", "duplicate-policy-id"));
}

#[test]
fn shared_display_names_must_be_unique() {
    let f = Fixture::new();
    f.edit_json("nsx/ip-pools.json", |v| {
        let mut copy = v["results"][0].clone();
        copy["id"] = json!("99999999-0000-4000-8000-000000000001");
        v["results"].as_array_mut().unwrap().push(copy);
    });
    assert!(has(&f.plan(), "error", "shared-display-name-not-unique"));
}

#[test]
fn shared_resource_missing_from_nsx() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace(
            "      ip_blocks:\n",
            "      ip_blocks:\n        - display_name: no-such-block\n",
        )
    });
    assert!(has(&f.plan(), "warning", "user-spec-resource-not-found"));
}

#[test]
fn reference_to_an_object_not_imported() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("        - display_name: kube-prod-01-node-vif\n", "")
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "reference-not-imported"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "reference-not-imported")
        .unwrap();
    assert!(finding.message.contains("kube-prod-01-node-vif"));
}

#[test]
fn tag_that_cannot_be_inferred() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        let start = t.find("        - display_name: lb-vip-pool").unwrap();
        t[..start].to_string()
    });
    assert!(has(&f.plan(), "error", "tag-not-inferable"));
}

#[test]
fn objects_already_in_policy_are_skipped() {
    let f = Fixture::new();
    f.edit_object("logical-ports", "payments-db-0", |o| {
        o["tags"]
            .as_array_mut()
            .unwrap()
            .push(json!({"scope": "policyPath", "tag": "/infra/segments/x/ports/y"}));
    });
    let plan = f.plan();
    assert!(has(&plan, "info", "already-in-policy"));
    let imported: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b),
            _ => None,
        })
        .flat_map(|b| b.resources.iter().map(|r| r.display_name.as_str()))
        .collect();
    assert!(!imported.contains(&"payments-db-0"));
}

#[test]
fn a_shared_resource_that_needs_an_object_of_the_cluster() {
    // The shared node switch handing out addresses from one of the cluster's pools: shared
    // resources go first, so that reference cannot be satisfied.
    let f = Fixture::new();
    f.edit_object("logical-switches", "kube-prod-01-node-vif", |o| {
        o["ip_pool_id"] = json!("c199c0a9-8a62-4ac1-bac0-cddb0346ce06");
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "shared-needs-cluster-object"));
    assert!(!plan.is_applicable());
}

#[test]
fn a_reference_cycle() {
    // Two of the cluster's NSGroups that contain each other: no import order satisfies both.
    let f = Fixture::new();
    let plan = f.plan();
    let groups: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) if b.migration_type == MigrationType::NsGroup => {
                Some(b.resources.iter().map(|r| r.display_name.clone()))
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert!(groups.len() >= 2, "{groups:?}");
    let ids: Vec<String> = {
        let inv = planner::Inventory::load(f.path()).unwrap();
        groups
            .iter()
            .take(2)
            .map(|n| {
                inv.objects
                    .iter()
                    .find(|o| &o.display_name == n && o.resource_type == "NSGroup")
                    .unwrap()
                    .id
                    .clone()
            })
            .collect()
    };
    for (name, other) in [(&groups[0], &ids[1]), (&groups[1], &ids[0])] {
        f.edit_object("ns-groups", name, |o| {
            o["members"] = json!([{"resource_type": "NSGroupSimpleExpression",
                "target_type": "NSGroup", "target_property": "id", "op": "EQUALS",
                "value": other}]);
        });
    }
    assert!(has(&f.plan(), "error", "reference-cycle"));
}

#[test]
fn a_user_spec_allocation_the_pool_does_not_have() {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace(
            "            \"172.24.10.17\": kube-prod-01-monitoring-snat\n",
            "            \"172.24.10.17\": kube-prod-01-monitoring-snat\n            \"172.24.10.99\": kube-prod-01-ghost-snat\n",
        )
    });
    let plan = f.plan();
    assert!(has(&plan, "warning", "user-spec-allocation-not-found"));
    let finding = plan
        .findings
        .iter()
        .find(|f| f.check == "user-spec-allocation-not-found")
        .unwrap();
    assert!(
        finding.message.contains("172.24.10.99"),
        "{}",
        finding.message
    );
    assert!(
        !base()
            .findings
            .iter()
            .any(|f| f.check == "user-spec-allocation-not-found")
    );
}

#[test]
fn coordinator_state_unknown_offline_is_info() {
    let base = base();
    let running = base
        .findings
        .iter()
        .find(|f| f.check == "coordinator-status")
        .unwrap();
    assert!(running.message.contains("running"), "{}", running.message);
    let f = Fixture::new();
    f.edit_json("metadata.json", |v| {
        v.as_object_mut().unwrap().remove("migration_coordinator");
    });
    let plan = f.plan();
    let unknown = plan
        .findings
        .iter()
        .find(|f| f.check == "coordinator-status")
        .unwrap();
    assert_eq!(unknown.severity.as_str(), "info");
    assert!(unknown.message.contains("unknown"), "{}", unknown.message);
    // Stopped when collected: a warning.
    let f = Fixture::new();
    f.edit_json("metadata.json", |v| {
        v["migration_coordinator"] = json!("STOPPED");
    });
    assert!(has(&f.plan(), "warning", "coordinator-status"));
}

#[test]
fn another_clusters_section_inside_the_ncp_range() {
    let f = Fixture::new();
    f.edit_object("firewall-sections", "ops-backup-exception", |o| {
        o["tags"] = json!([{"scope": "ncp/cluster", "tag": "kube-dev-02"}]);
    });
    assert!(has(&f.plan(), "error", "dfw-other-cluster-in-range"));
    assert!(!has(&base(), "error", "dfw-other-cluster-in-range"));
}

#[test]
fn an_object_of_the_cluster_the_coordinator_cannot_import() {
    let f = Fixture::new();
    let name = {
        let text =
            std::fs::read_to_string(f.path().join("nsx/lb-server-ssl-profiles.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["results"][0]["display_name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    f.edit_object("lb-server-ssl-profiles", &name, |o| {
        o["tags"] = json!([{"scope": "ncp/cluster", "tag": "kube-prod-01"}]);
    });
    assert!(has(&f.plan(), "error", "no-migration-type"));
    assert!(!has(&base(), "error", "no-migration-type"));
}

#[test]
fn a_reference_to_an_object_missing_from_the_inventory() {
    let f = Fixture::new();
    f.edit_object("logical-switches", "kube-prod-01-default-0", |o| {
        o["ip_pool_id"] = json!("00000000-0000-4000-8000-000000000000");
    });
    assert!(has(&f.plan(), "error", "reference-missing"));
    assert!(!has(&base(), "error", "reference-missing"));
}

fn imported(plan: &plan_schema::Plan) -> Vec<(MigrationType, plan_schema::ImportResource)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(
                b.resources
                    .iter()
                    .map(|r| (b.migration_type, r.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn a_policy_path_already_owned_by_another_promoted_object() {
    // Another Manager object already promoted to the Policy path this plan gives a shared pool.
    let base = base();
    assert!(!has(&base, "error", "policy-id-taken"));
    let (_, pool) = imported(&base)
        .into_iter()
        .find(|(t, r)| *t == MigrationType::Ippool && r.policy_path.is_some())
        .unwrap();
    let path = pool.policy_path.clone().unwrap();
    let f = Fixture::new();
    f.edit_object("logical-ports", "payments-db-0", |o| {
        o["tags"]
            .as_array_mut()
            .unwrap()
            .push(json!({"scope": "policyPath", "tag": path}));
    });
    let plan = f.plan();
    assert!(has(&plan, "error", "policy-id-taken"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "policy-id-taken")
        .unwrap();
    assert_eq!(finding.subject.id, pool.manager_id);
    assert!(!plan.is_applicable());
}

#[test]
fn a_display_name_template_naming_a_missing_tag() {
    let rules = r#"
[[display_name_rules]]
id = "display-name/test"
description = "test"
resource_types = ["LogicalSwitch"]
requires_tags = ["ncp/project"]
template = "seg-{tag:ncp/no-such-scope}"
"#;
    let f = Fixture::new();
    let plan = f.plan_rules(rules);
    assert!(has(&plan, "error", "display-name-not-inferable"));
    // The same rule with a tag the segments have fills in.
    let ok = rules.replace("ncp/no-such-scope", "ncp/project");
    assert!(!has(
        &f.plan_rules(&ok),
        "error",
        "display-name-not-inferable"
    ));
    assert!(!has(&base(), "error", "display-name-not-inferable"));
}

const ORDER: &str = r#""IPBLOCK", "IPPOOL", "IPBLOCK_SUBNET", "IPPOOL_ALLOCATION",
  "TIER0", "TIER1",
  "SPOOFGUARD_PROFILES", "MACDISCOVERY_PROFILES", "SEGMENT_SECURITY_PROFILES", "QOS_PROFILES", "IPDISCOVERY_PROFILES",
  "LOGICAL_SWITCH", "LOGICAL_PORT",
  "TIER1_LOGICAL_ROUTER_PORT", "TIER0_LOGICAL_ROUTER_PORT", "TIER0_LOGICAL_ROUTER_CONFIG",
  "NAT", "IP_SET", "NS_GROUP",
  "CERTIFICATE", "LB_MONITOR", "LB_POOL", "LB_PERSISTENCE_PROFILE", "LB_APPLICATION_PROFILE", "LB_CLIENT_SSL_PROFILE",
  "LB_VIRTUAL_SERVER", "LB_SERVICE",
  "DFW_SECTION""#;

#[test]
fn an_import_order_that_puts_a_referenced_type_later() {
    // Pools after switches: the switches' ip_pool_id points at something imported later.
    let f = Fixture::new();
    let same = format!("[import]\norder = [{ORDER}]\n");
    assert!(!has(&f.plan_rules(&same), "error", "import-order-conflict"));
    let order = ORDER
        .replace("\"IPPOOL\", ", "")
        .replace("\"LOGICAL_SWITCH\", ", "\"LOGICAL_SWITCH\", \"IPPOOL\", ");
    let plan = f.plan_rules(&format!("[import]\norder = [{order}]\n"));
    assert!(has(&plan, "error", "import-order-conflict"));
    let finding = plan
        .findings
        .iter()
        .find(|x| x.check == "import-order-conflict")
        .unwrap();
    assert!(finding.message.contains("IPPOOL"), "{}", finding.message);
}

#[test]
fn a_migration_type_missing_from_the_import_order() {
    let f = Fixture::new();
    let order = ORDER.replace("\"NS_GROUP\",", "");
    let plan = f.plan_rules(&format!("[import]\norder = [{order}]\n"));
    assert!(has(&plan, "error", "migration-type-not-ordered"));
    assert!(!plan.is_applicable());
    assert!(!has(&base(), "error", "migration-type-not-ordered"));
}

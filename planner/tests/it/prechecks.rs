//! Every precheck: a fixture that triggers it and the base example that does not.

use crate::common::{Fixture, has};
use plan_schema::mp::{Action, InsertOp, MigrationType, Plan};
use planner::rules::Placement;
use serde_json::json;

fn base() -> Plan {
    Fixture::new().plan()
}

// Focused fixtures: the example inventory with one edit each. The tests below and the findings
// snapshot (`every_focused_fixture_findings`) share them.

/// An NCP pod still running in the cluster.
fn ncp_pod_running() -> Fixture {
    let f = Fixture::new();
    f.edit_json("k8s/pods.json", |v| {
        v["items"].as_array_mut().unwrap().push(json!({
            "metadata": {"name": "nsx-ncp-7c9f6d8b5-x2x4q", "namespace": "nsx-system", "uid": "0b1c2d3e-0000-4000-8000-000000000001"},
            "spec": {"containers": [{"name": "nsx-ncp", "image": "nsx-ncp:4.1.2"}]},
            "status": {"phase": "Running"}
        }));
    });
    f
}

fn metadata(key: &'static str, value: Option<&'static str>) -> Fixture {
    let f = Fixture::new();
    f.edit_json("metadata.json", |v| match value {
        Some(x) => v[key] = json!(x),
        None => {
            v.as_object_mut().unwrap().remove(key);
        }
    });
    f
}

/// The user spec with `from` replaced by `to`.
fn spec_edit((from, to): (&'static str, &'static str)) -> Fixture {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        assert!(t.contains(from), "{from:?} not in the user spec");
        t.replace(from, to)
    });
    f
}

/// The virtual server kube-prod-01-http with `n` rules.
fn lb_rules(n: usize) -> Fixture {
    let f = Fixture::new();
    f.edit_object("lb-virtual-servers", "kube-prod-01-http", |o| {
        let ids: Vec<String> = (0..n)
            .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
            .collect();
        o["rule_ids"] = json!(ids);
    });
    f
}

/// The logical port of pod payments-db-0 with exactly `n` tags (its own, then label tags).
fn port_tags(n: usize) -> Fixture {
    let f = Fixture::new();
    f.edit_object("logical-ports", "payments-db-0", |o| {
        let tags = o["tags"].as_array_mut().unwrap();
        assert!(tags.len() <= n, "the port already has {} tags", tags.len());
        for i in tags.len()..n {
            tags.push(json!({"scope": format!("label-{i}"), "tag": "x"}));
        }
    });
    f
}

/// Kubernetes without the pods named (namespace, name).
fn without_pods(gone: &'static [(&'static str, &'static str)]) -> Fixture {
    let f = Fixture::new();
    f.edit_json("k8s/pods.json", |v| {
        let items = v["items"].as_array_mut().unwrap();
        let before = items.len();
        items.retain(|p| {
            !gone
                .iter()
                .any(|(ns, n)| p["metadata"]["namespace"] == *ns && p["metadata"]["name"] == *n)
        });
        assert_eq!(items.len(), before - gone.len(), "{gone:?}");
    });
    f
}

const GONE_PODS: &[(&str, &str)] = &[
    ("payments", "payments-db-0"),
    ("storefront", "web-7d4b9c6f8-tn5lx"),
    ("monitoring", "prometheus-0"),
];

/// NSX object `name` of `file` with `tags` as its only tags.
fn retagged(file: &str, name: &str, tags: serde_json::Value) -> Fixture {
    let f = Fixture::new();
    f.edit_object(file, name, |o| o["tags"] = tags.clone());
    f
}

/// NSX object `name` of `file` with one more tag.
fn extra_tag(file: &str, name: &str, scope: &str, tag: &str) -> Fixture {
    let f = Fixture::new();
    f.edit_object(file, name, |o| {
        o["tags"]
            .as_array_mut()
            .unwrap()
            .push(json!({"scope": scope, "tag": tag}));
    });
    f
}

/// The logical switch `name` handing out addresses from pool `pool`.
fn switch_on_pool((name, pool): (&str, &str)) -> Fixture {
    let f = Fixture::new();
    f.edit_object("logical-switches", name, |o| o["ip_pool_id"] = json!(pool));
    f
}

/// A second IP pool with the display name of the first (a shared one).
fn duplicate_shared_name() -> Fixture {
    let f = Fixture::new();
    f.edit_json("nsx/ip-pools.json", |v| {
        let mut copy = v["results"][0].clone();
        copy["id"] = json!("99999999-0000-4000-8000-000000000001");
        v["results"].as_array_mut().unwrap().push(copy);
    });
    f
}

/// The user spec without the LB pools (and everything after them).
fn spec_without_lb_pools() -> Fixture {
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        let start = t.find("        - display_name: lb-vip-pool").unwrap();
        t[..start].to_string()
    });
    f
}

/// Two of the cluster's NSGroups that contain each other: no import order satisfies both.
fn nsgroup_cycle() -> Fixture {
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
    f
}

/// The first LB server SSL profile (not migratable) tagged for the cluster.
fn cluster_ssl_profile() -> Fixture {
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
    f
}

/// A port already promoted to the Policy path the base plan gives a shared IP pool; returns the
/// fixture and that pool's Manager id.
fn policy_path_taken() -> (Fixture, String) {
    let (_, pool) = imported(&base())
        .into_iter()
        .find(|(t, r)| *t == MigrationType::Ippool && r.policy_path.is_some())
        .unwrap();
    let path = pool.policy_path.clone().unwrap();
    (
        extra_tag("logical-ports", "payments-db-0", "policyPath", &path),
        pool.manager_id,
    )
}

const DISPLAY_NAME_RULE: &str = r#"
[[display_name_rules]]
id = "display-name/test"
description = "test"
resource_types = ["LogicalSwitch"]
requires_tags = ["ncp/project"]
template = "seg-{tag:ncp/no-such-scope}"
"#;

/// A display_name rule whose template names `scope`.
fn display_name_rule(scope: &str) -> Plan {
    Fixture::new().plan_rules(&DISPLAY_NAME_RULE.replace("ncp/no-such-scope", scope))
}

/// The import order `order` (the body of the `order` array).
fn import_order(order: &str) -> Plan {
    Fixture::new().plan_rules(&format!("[import]\norder = [{order}]\n"))
}

fn pools_after_switches() -> Plan {
    import_order(
        &ORDER
            .replace("\"IPPOOL\", ", "")
            .replace("\"LOGICAL_SWITCH\", ", "\"LOGICAL_SWITCH\", \"IPPOOL\", "),
    )
}

fn pks_tagged_switch() -> Fixture {
    let tags = json!([{"scope": "pks/cluster", "tag": "pks-5f1a"}]);
    retagged("logical-switches", "t0-uplink-vlan-100", tags)
}

fn other_cluster_ip_set() -> Fixture {
    let tags = json!([{"scope": "ncp/cluster", "tag": "kube-dev-02"}]);
    retagged("ip-sets", "backup-proxies", tags)
}

fn other_cluster_section() -> Fixture {
    let tags = json!([{"scope": "ncp/cluster", "tag": "kube-dev-02"}]);
    retagged("firewall-sections", "ops-backup-exception", tags)
}

// User spec edits (`spec_edit`): from, to.
const DUPLICATE_POLICY_ID: (&str, &str) = (
    "        - display_name: snat-pool\n",
    "        - display_name: snat-pool\n          policy_id: lb-vip-pool\n",
);
const MISSING_BLOCK: (&str, &str) = (
    "      ip_blocks:\n",
    "      ip_blocks:\n        - display_name: no-such-block\n",
);
const NO_NODE_SWITCH: (&str, &str) = ("        - display_name: kube-prod-01-node-vif\n", "");
const GHOST_ALLOCATION: (&str, &str) = (
    "            \"172.24.10.17\": kube-prod-01-monitoring-snat\n",
    "            \"172.24.10.17\": kube-prod-01-monitoring-snat\n            \"172.24.10.99\": kube-prod-01-ghost-snat\n",
);
const OLD_NCP: (&str, &str) = ("ncp_version: \"4.1.2\"", "ncp_version: \"3.2.1\"");
const NO_NCP_VERSION: (&str, &str) = ("    ncp_version: \"4.1.2\"\n", "");

fn port_in_policy() -> Fixture {
    let path = "/infra/segments/x/ports/y";
    extra_tag("logical-ports", "payments-db-0", "policyPath", path)
}

// Switch edits (`switch_on_pool`): the switch, the pool id it hands out addresses from.
/// The shared node switch on one of the cluster's pools.
const SHARED_ON_CLUSTER_POOL: (&str, &str) = (
    "kube-prod-01-node-vif",
    "c199c0a9-8a62-4ac1-bac0-cddb0346ce06",
);
/// A switch on a pool the inventory does not have.
const DANGLING_POOL: (&str, &str) = (
    "kube-prod-01-default-0",
    "00000000-0000-4000-8000-000000000000",
);

fn finding<'a>(plan: &'a Plan, check: &str) -> &'a plan_schema::Finding {
    plan.findings
        .iter()
        .find(|x| x.check == check)
        .unwrap_or_else(|| panic!("no {check} finding: {:#?}", plan.findings))
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
    let plan = ncp_pod_running().plan();
    assert!(has(&plan, "error", "ncp-running"));
    assert!(!plan.is_applicable());
    assert!(
        finding(&plan, "ncp-running")
            .remedy
            .contains("at least 10 minutes")
    );
}

#[test]
fn nsx_version() {
    let f = metadata("nsx_version", Some("3.1.3.7.0.19380482"));
    assert!(has(&f.plan(), "error", "nsx-version"));
}

#[test]
fn ncp_version() {
    let f = spec_edit(OLD_NCP);
    assert!(has(&f.plan(), "error", "ncp-version"));
    let f = spec_edit(NO_NCP_VERSION);
    assert!(has(&f.plan(), "warning", "ncp-version"));
}

#[test]
fn coordinator_status() {
    assert!(has(&base(), "info", "coordinator-status"));
    let f = metadata("migration_coordinator", Some("STOPPED"));
    assert!(has(&f.plan(), "warning", "coordinator-status"));
}

#[test]
fn lb_virtual_server_with_too_many_rules() {
    let plan = lb_rules(256).plan();
    assert!(has(&plan, "error", "lb-virtual-server-rules"));
    let finding = finding(&plan, "lb-virtual-server-rules");
    assert!(finding.remedy.contains("LoadBalancer CRDs"));
}

/// `at(limit)` passes `check`; `at(limit + 1)` raises it as an error.
fn limit_is_inclusive(at: fn(usize) -> Fixture, limit: usize, check: &str) {
    assert!(!has(&at(limit).plan(), "error", check), "{check}: {limit}");
    let over = limit + 1;
    assert!(has(&at(over).plan(), "error", check), "{check}: {over}");
}

#[test]
fn lb_virtual_server_rule_limit_is_255_inclusive() {
    // "must not have more than 255 rules".
    limit_is_inclusive(lb_rules, 255, "lb-virtual-server-rules");
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
    let plan = without_pods(&[("payments", "payments-db-0")]).plan();
    assert!(has(&plan, "error", "k8s-counterpart-missing"));
    let finding = finding(&plan, "k8s-counterpart-missing");
    assert!(
        finding.message.contains("Pod payments/payments-db-0"),
        "{}",
        finding.message
    );
    assert!(finding.remedy.contains("10 minutes"));
}

#[test]
fn several_objects_without_kubernetes_counterpart_are_listed_one_by_one() {
    let plan = without_pods(GONE_PODS).plan();
    let missing: Vec<&plan_schema::Finding> = plan
        .findings
        .iter()
        .filter(|x| x.check == "k8s-counterpart-missing")
        .collect();
    assert_eq!(missing.len(), GONE_PODS.len(), "{missing:#?}");
    for (ns, pod) in GONE_PODS {
        // One finding per port, naming the port and the pod it lost.
        let hits: Vec<_> = missing
            .iter()
            .filter(|x| x.subject.display_name.as_deref() == Some(*pod))
            .collect();
        assert_eq!(hits.len(), 1, "{pod}: {missing:#?}");
        assert_eq!(hits[0].severity.as_str(), "error");
        assert_eq!(hits[0].subject.resource_type, "LogicalPort");
        assert!(
            hits[0].message.contains(&format!("Pod {ns}/{pod}")),
            "{}",
            hits[0].message
        );
    }
    assert!(!plan.is_applicable());
}

#[test]
fn nsx_shared_between_products() {
    let f = pks_tagged_switch();
    assert!(has(&f.plan(), "error", "shared-nsx-products"));
}

#[test]
fn other_clusters_on_the_same_nsx() {
    let plan = other_cluster_ip_set().plan();
    assert!(has(&plan, "info", "other-clusters"));
    assert!(
        finding(&plan, "other-clusters")
            .message
            .contains("kube-dev-02")
    );
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
    assert!(has(&port_tags(33).plan(), "error", "port-tag-count"));
}

#[test]
fn port_tag_limit_is_29_inclusive() {
    // "ports with more than 29 tags".
    limit_is_inclusive(port_tags, 29, "port-tag-count");
}

#[test]
fn duplicate_policy_ids() {
    let f = spec_edit(DUPLICATE_POLICY_ID);
    assert!(has(&f.plan(), "error", "duplicate-policy-id"));
}

#[test]
fn shared_display_names_must_be_unique() {
    let f = duplicate_shared_name();
    assert!(has(&f.plan(), "error", "shared-display-name-not-unique"));
}

#[test]
fn shared_resource_missing_from_nsx() {
    let f = spec_edit(MISSING_BLOCK);
    assert!(has(&f.plan(), "warning", "user-spec-resource-not-found"));
}

#[test]
fn reference_to_an_object_not_imported() {
    let plan = spec_edit(NO_NODE_SWITCH).plan();
    assert!(has(&plan, "error", "reference-not-imported"));
    assert!(
        finding(&plan, "reference-not-imported")
            .message
            .contains("kube-prod-01-node-vif")
    );
}

#[test]
fn tag_that_cannot_be_inferred() {
    let f = spec_without_lb_pools();
    assert!(has(&f.plan(), "error", "tag-not-inferable"));
}

#[test]
fn objects_already_in_policy_are_skipped() {
    let plan = port_in_policy().plan();
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
    let plan = switch_on_pool(SHARED_ON_CLUSTER_POOL).plan();
    assert!(has(&plan, "error", "shared-needs-cluster-object"));
    assert!(!plan.is_applicable());
}

#[test]
fn a_reference_cycle() {
    let f = nsgroup_cycle();
    assert!(has(&f.plan(), "error", "reference-cycle"));
}

#[test]
fn a_user_spec_allocation_the_pool_does_not_have() {
    let plan = spec_edit(GHOST_ALLOCATION).plan();
    assert!(has(&plan, "warning", "user-spec-allocation-not-found"));
    let finding = finding(&plan, "user-spec-allocation-not-found");
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
    let plan = metadata("migration_coordinator", None).plan();
    let unknown = plan
        .findings
        .iter()
        .find(|f| f.check == "coordinator-status")
        .unwrap();
    assert_eq!(unknown.severity.as_str(), "info");
    assert!(unknown.message.contains("unknown"), "{}", unknown.message);
    // Stopped when collected: a warning.
    let f = metadata("migration_coordinator", Some("STOPPED"));
    assert!(has(&f.plan(), "warning", "coordinator-status"));
}

#[test]
fn another_clusters_section_inside_the_ncp_range() {
    let f = other_cluster_section();
    assert!(has(&f.plan(), "error", "dfw-other-cluster-in-range"));
    assert!(!has(&base(), "error", "dfw-other-cluster-in-range"));
}

#[test]
fn an_object_of_the_cluster_the_coordinator_cannot_import() {
    let f = cluster_ssl_profile();
    assert!(has(&f.plan(), "error", "no-migration-type"));
    assert!(!has(&base(), "error", "no-migration-type"));
}

#[test]
fn a_reference_to_an_object_missing_from_the_inventory() {
    let f = switch_on_pool(DANGLING_POOL);
    assert!(has(&f.plan(), "error", "reference-missing"));
    assert!(!has(&base(), "error", "reference-missing"));
}

fn imported(plan: &Plan) -> Vec<(MigrationType, plan_schema::mp::ImportResource)> {
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
    assert!(!has(&base(), "error", "policy-id-taken"));
    let (f, pool) = policy_path_taken();
    let plan = f.plan();
    assert!(has(&plan, "error", "policy-id-taken"));
    assert_eq!(finding(&plan, "policy-id-taken").subject.id, pool);
    assert!(!plan.is_applicable());
}

#[test]
fn a_display_name_template_naming_a_missing_tag() {
    let plan = display_name_rule("ncp/no-such-scope");
    assert!(has(&plan, "error", "display-name-not-inferable"));
    // The same rule with a tag the segments have fills in.
    assert!(!has(
        &display_name_rule("ncp/project"),
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
    assert!(!has(&import_order(ORDER), "error", "import-order-conflict"));
    let plan = pools_after_switches();
    assert!(has(&plan, "error", "import-order-conflict"));
    let finding = finding(&plan, "import-order-conflict");
    assert!(finding.message.contains("IPPOOL"), "{}", finding.message);
}

#[test]
fn a_migration_type_missing_from_the_import_order() {
    let plan = import_order(&ORDER.replace("\"NS_GROUP\",", ""));
    assert!(has(&plan, "error", "migration-type-not-ordered"));
    assert!(!plan.is_applicable());
    assert!(!has(&base(), "error", "migration-type-not-ordered"));
}

/// A focused fixture: the check it exercises (and a variant), and its plan.
type Focused = (&'static str, fn() -> Plan);

/// Every focused fixture.
const FOCUSED: &[Focused] = &[
    ("ncp-running", || ncp_pod_running().plan()),
    ("nsx-version", || {
        metadata("nsx_version", Some("3.1.3.7.0.19380482")).plan()
    }),
    ("ncp-version (too old)", || spec_edit(OLD_NCP).plan()),
    ("ncp-version (unknown)", || spec_edit(NO_NCP_VERSION).plan()),
    ("coordinator-status (stopped)", || {
        metadata("migration_coordinator", Some("STOPPED")).plan()
    }),
    ("coordinator-status (unknown)", || {
        metadata("migration_coordinator", None).plan()
    }),
    ("lb-virtual-server-rules", || lb_rules(256).plan()),
    ("k8s-counterpart-missing", || without_pods(GONE_PODS).plan()),
    ("shared-nsx-products", || pks_tagged_switch().plan()),
    ("other-clusters", || other_cluster_ip_set().plan()),
    ("port-tag-count", || port_tags(30).plan()),
    ("duplicate-policy-id", || {
        spec_edit(DUPLICATE_POLICY_ID).plan()
    }),
    ("shared-display-name-not-unique", || {
        duplicate_shared_name().plan()
    }),
    ("user-spec-resource-not-found", || {
        spec_edit(MISSING_BLOCK).plan()
    }),
    ("reference-not-imported", || {
        spec_edit(NO_NODE_SWITCH).plan()
    }),
    ("tag-not-inferable", || spec_without_lb_pools().plan()),
    ("already-in-policy", || port_in_policy().plan()),
    ("shared-needs-cluster-object", || {
        switch_on_pool(SHARED_ON_CLUSTER_POOL).plan()
    }),
    ("reference-cycle", || nsgroup_cycle().plan()),
    ("user-spec-allocation-not-found", || {
        spec_edit(GHOST_ALLOCATION).plan()
    }),
    ("dfw-other-cluster-in-range", || {
        other_cluster_section().plan()
    }),
    ("no-migration-type", || cluster_ssl_profile().plan()),
    ("reference-missing", || switch_on_pool(DANGLING_POOL).plan()),
    ("policy-id-taken", || policy_path_taken().0.plan()),
    ("display-name-not-inferable", || {
        display_name_rule("ncp/no-such-scope")
    }),
    ("import-order-conflict", pools_after_switches),
    ("migration-type-not-ordered", || {
        import_order(&ORDER.replace("\"NS_GROUP\",", ""))
    }),
];

/// What a finding says, without its id and the steps it explains (which move when a fixture
/// adds or removes steps).
fn said(f: &plan_schema::Finding) -> impl PartialEq + '_ {
    (f.severity, &f.check, &f.subject, &f.message, &f.remedy)
}

#[test]
fn every_focused_fixture_findings() {
    // The base example's findings in full, then for each fixture the findings it adds, as
    // `show` prints them: a reviewer reads every message and remedy here.
    let base = base();
    let mut out = format!(
        "== base example ==\n{}",
        plan_schema::render::findings(&base.findings)
    );
    for (name, plan) in FOCUSED {
        let plan = plan();
        let added: Vec<plan_schema::Finding> = plan
            .findings
            .iter()
            .filter(|f| !base.findings.iter().any(|b| said(b) == said(f)))
            .cloned()
            .collect();
        let check = name.split(' ').next().unwrap_or(name);
        assert!(
            added.iter().any(|f| f.check == check),
            "{name}: the fixture does not raise {check}: {added:#?}"
        );
        out.push_str(&format!(
            "\n== {name} ==\n{}",
            plan_schema::render::findings(&added)
        ));
    }
    insta::assert_snapshot!("focused_fixture_findings", out);
}

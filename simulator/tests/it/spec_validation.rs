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

// ---------------------------------------------------------------------------------------------
// The VIO flow's NSX objects: Manager objects against the 2.5.1 spec, Policy objects against
// hand-written schemas of their documented shapes (2.5.1 has no Policy definitions).

/// Hand-written draft-4 schemas of the NSX Policy types the VIO flow serves and the API replay
/// writes. Source: the NSX-T Data Center REST API reference (developer.broadcom.com/xapis/
/// nsx-t-data-center-rest-api/, pages `schemas_<Type>.html`): the `PolicyConfigResource` base
/// (ids and paths are strings, `display_name` at most 255 characters, `description` at most
/// 1024, at most 30 `tags`, each `Tag` with a scope of at most 128 and a tag of at most 256
/// characters, `_protection` one of four values), and per type only the fields and enums the
/// simulator writes: `PolicyNatRule` (`action`, `firewall_match`: NatFirewallMatch's three
/// values), `Rule` (`action`, `direction`, `ip_protocol`, group, service and scope lists of at
/// most 128 paths), `Group` expressions (`Condition` `key`, `member_type`, `operator`;
/// `IPAddressExpression` `ip_addresses`), `Service` entries (`L4PortSetServiceEntry`
/// `l4_protocol` and at most 15 port entries, `ICMPTypeServiceEntry` `protocol`),
/// `PolicyTransportZone` `tz_type`, `Segment`, `SegmentPort`, `Tier0`, `Tier1`
/// (`route_advertisement_types`), `LocaleServices`, `StaticRoutes` (`admin_distance` 1-255),
/// `QoSProfile`, `DhcpServerConfig`, `MetadataProxyConfig`, `GatewayPolicy`, `SecurityPolicy`,
/// and the load balancer types (`LBService` `size`, `LBVirtualServer` with its `rules` (`phase`, `match_strategy`), `LBPool` `algorithm`,
/// `snat_translation` and members with `weight` 1-256 and `admin_state`, the application
/// profiles, the monitor profiles' `interval`, `timeout`, `fall_count`, `request_method`).
pub(crate) fn policy_schemas() -> Value {
    let s = || json!({"type": "string"});
    let strs = |max: u64| json!({"type": "array", "maxItems": max, "items": {"type": "string"}});
    let en = |v: &[&str]| json!({"type": "string", "enum": v});
    let obj = |props: Value, required: &[&str]| {
        let mut o = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            o["required"] = json!(required);
        }
        o
    };
    let ty = |props: Value, required: &[&str]| json!({"allOf": [{"$ref": "#/definitions/PolicyConfigResource"}, obj(props, required)]});
    let condition = obj(
        json!({
            "resource_type": en(&["Condition"]),
            "key": en(&["Tag", "Name", "OSName", "ComputerName", "NodeType", "GroupType", "ALL", "IPAddress"]),
            "member_type": en(&["IPSet", "LogicalPort", "LogicalSwitch", "Segment", "SegmentPort",
                                "VirtualMachine", "Group", "DVPG", "DVPort", "IPAddress", "TransportNode"]),
            "operator": en(&["EQUALS", "CONTAINS", "STARTSWITH", "ENDSWITH", "NOTEQUALS", "IN", "NOTIN", "MATCHES"]),
            "value": s(),
        }),
        &["key", "member_type", "value"],
    );
    let ip_expr = obj(
        json!({"resource_type": en(&["IPAddressExpression"]), "ip_addresses": strs(4000)}),
        &["ip_addresses"],
    );
    let l4 = obj(
        json!({"resource_type": en(&["L4PortSetServiceEntry"]), "l4_protocol": en(&["TCP", "UDP"]),
               "destination_ports": strs(15), "source_ports": strs(15)}),
        &["l4_protocol"],
    );
    let icmp = obj(
        json!({"resource_type": en(&["ICMPTypeServiceEntry"]), "protocol": en(&["ICMPv4", "ICMPv6"]),
               "icmp_type": {"type": "integer", "minimum": 0, "maximum": 255}}),
        &["protocol"],
    );
    let ipproto = obj(
        json!({"resource_type": en(&["IPProtocolServiceEntry"]),
               "protocol_number": {"type": "integer", "minimum": 0, "maximum": 255}}),
        &["protocol_number"],
    );
    let tag = json!({"type": "object", "properties": {
        "scope": {"type": "string", "maxLength": 128}, "tag": {"type": "string", "maxLength": 256}}});
    let mut defs = json!({
        "PolicyConfigResource": obj(json!({
            "resource_type": s(), "id": s(), "path": s(), "relative_path": s(), "parent_path": s(),
            "display_name": {"type": "string", "maxLength": 255},
            "description": {"type": "string", "maxLength": 1024},
            "tags": {"type": "array", "maxItems": 30, "items": tag},
            "marked_for_delete": {"type": "boolean"},
            "_revision": {"type": "integer"},
            "_system_owned": {"type": "boolean"},
            "_protection": en(&["PROTECTED", "NOT_PROTECTED", "REQUIRE_OVERRIDE", "UNKNOWN"]),
            "_create_time": {"type": "integer"}, "_last_modified_time": {"type": "integer"},
            "_create_user": s(), "_last_modified_user": s(),
        }), &["resource_type", "id", "path", "display_name"]),
        "PolicyTransportZone": ty(json!({"tz_type": en(&["OVERLAY_STANDARD", "OVERLAY_ENS", "VLAN_BACKED", "OVERLAY_BACKED", "UNKNOWN"])}), &["tz_type"]),
        "PolicyEdgeCluster": ty(json!({"deployment_type": s(), "member_node_type": s()}), &[]),
        "PolicyEdgeNode": ty(json!({"nsx_id": s()}), &[]),
        "Tier0": ty(json!({"ha_mode": en(&["ACTIVE_ACTIVE", "ACTIVE_STANDBY"]), "failover_mode": en(&["PREEMPTIVE", "NON_PREEMPTIVE"])}), &[]),
        "Tier0Interface": ty(json!({"type": en(&["EXTERNAL", "SERVICE", "LOOPBACK"]), "subnets": {"type": "array", "items": obj(json!({"ip_addresses": strs(1000), "prefix_len": {"type": "integer", "minimum": 1, "maximum": 128}}), &["ip_addresses", "prefix_len"])}}), &[]),
        "Tier1": ty(json!({"tier0_path": s(), "failover_mode": en(&["PREEMPTIVE", "NON_PREEMPTIVE"]),
            "route_advertisement_types": {"type": "array", "items": en(&["TIER1_STATIC_ROUTES", "TIER1_CONNECTED", "TIER1_NAT", "TIER1_LB_VIP", "TIER1_LB_SNAT", "TIER1_DNS_FORWARDER_IP", "TIER1_IPSEC_LOCAL_ENDPOINT"])}}), &[]),
        "LocaleServices": ty(json!({"edge_cluster_path": s()}), &[]),
        "StaticRoutes": ty(json!({"network": s(), "next_hops": {"type": "array", "minItems": 1, "items": obj(json!({"ip_address": s(), "admin_distance": {"type": "integer", "minimum": 1, "maximum": 255}}), &[])}}), &["network", "next_hops"]),
        "PolicyNatRule": ty(json!({"action": en(&["SNAT", "DNAT", "REFLEXIVE", "NO_SNAT", "NO_DNAT", "NAT64"]),
            "firewall_match": en(&["MATCH_EXTERNAL_ADDRESS", "MATCH_INTERNAL_ADDRESS", "BYPASS"]),
            "sequence_number": {"type": "integer"}, "source_network": s(), "destination_network": s(), "translated_network": s(), "enabled": {"type": "boolean"}, "logging": {"type": "boolean"}}), &["action"]),
        "Segment": ty(json!({"transport_zone_path": s(), "connectivity_path": s(), "overlay_id": {"type": "integer"},
            "vlan_ids": strs(4096), "metadata_proxy_paths": strs(1), "dhcp_config_path": s(),
            "subnets": {"type": "array", "items": obj(json!({"gateway_address": s(), "network": s(), "dhcp_ranges": strs(99), "dhcp_config": {"type": "object"}}), &[])}}), &[]),
        "SegmentPort": ty(json!({"attachment": obj(json!({"id": s(), "type": s()}), &[]), "address_bindings": {"type": "array", "maxItems": 512, "items": obj(json!({"ip_address": s(), "mac_address": s()}), &[])}}), &[]),
        "DhcpV4StaticBindingConfig": ty(json!({"ip_address": s(), "mac_address": s(), "host_name": s(), "lease_time": {"type": "integer", "minimum": 60}}), &["ip_address", "mac_address"]),
        "Group": ty(json!({"expression": {"type": "array", "maxItems": 5, "items": {"oneOf": [condition, ip_expr]}}}), &[]),
        "SecurityPolicy": ty(json!({"category": s(), "sequence_number": {"type": "integer"}}), &[]),
        "GatewayPolicy": ty(json!({"category": s(), "sequence_number": {"type": "integer"}}), &[]),
        "Rule": ty(json!({"action": en(&["ALLOW", "DROP", "REJECT", "JUMP_TO_APPLICATION"]),
            "direction": en(&["IN", "OUT", "IN_OUT"]), "ip_protocol": en(&["IPV4", "IPV6", "IPV4_IPV6"]),
            "sequence_number": {"type": "integer", "minimum": 0}, "logged": {"type": "boolean"},
            "source_groups": strs(128), "destination_groups": strs(128), "services": strs(128), "scope": strs(128)}),
            &["source_groups", "destination_groups", "services"]),
        "Service": ty(json!({"service_entries": {"type": "array", "maxItems": 2000, "items": {"oneOf": [l4, icmp, ipproto]}}}), &[]),
        "QoSProfile": ty(json!({"class_of_service": {"type": "integer", "minimum": 0, "maximum": 7},
            "dscp": obj(json!({"mode": en(&["TRUSTED", "UNTRUSTED"]), "priority": {"type": "integer", "minimum": 0, "maximum": 63}}), &[]),
            "shaper_configurations": {"type": "array", "items": obj(json!({"resource_type": en(&["IngressRateLimiter", "EgressRateLimiter", "IngressBroadcastRateLimiter"]), "enabled": {"type": "boolean"}}), &["resource_type"])}}), &[]),
        "DhcpServerConfig": ty(json!({"edge_cluster_path": s(), "server_addresses": strs(2), "lease_time": {"type": "integer"}}), &[]),
        "MetadataProxyConfig": ty(json!({"edge_cluster_path": s(), "server_address": s()}), &[]),
    });
    let lb = json!({
        "LBService": ty(json!({"size": en(&["SMALL", "MEDIUM", "LARGE", "XLARGE", "DLB"]), "connectivity_path": s(), "enabled": {"type": "boolean"}}), &[]),
        "LBVirtualServer": ty(json!({"ip_address": s(), "ports": strs(100), "application_profile_path": s(), "lb_service_path": s(), "pool_path": s(),
            "max_concurrent_connections": {"type": "integer", "minimum": 1},
            "rules": {"type": "array", "maxItems": 4000, "items": obj(json!({
                "phase": en(&["HTTP_REQUEST_REWRITE", "HTTP_FORWARDING", "HTTP_RESPONSE_REWRITE", "HTTP_ACCESS", "TRANSPORT"]),
                "match_strategy": en(&["ALL", "ANY"]), "match_conditions": {"type": "array", "maxItems": 60},
                "actions": {"type": "array", "minItems": 1, "maxItems": 60}}), &["actions"])}}), &["ip_address", "ports", "application_profile_path"]),
        "LBPool": ty(json!({"algorithm": en(&["ROUND_ROBIN", "WEIGHTED_ROUND_ROBIN", "LEAST_CONNECTION", "WEIGHTED_LEAST_CONNECTION", "IP_HASH"]),
            "snat_translation": obj(json!({"type": en(&["LBSnatAutoMap", "LBSnatDisabled", "LBSnatIpPool"])}), &["type"]),
            "active_monitor_paths": strs(1),
            "members": {"type": "array", "items": obj(json!({"ip_address": s(), "port": s(), "display_name": s(), "weight": {"type": "integer", "minimum": 1, "maximum": 256},
                "admin_state": en(&["ENABLED", "DISABLED", "GRACEFUL_DISABLED"]), "backup_member": {"type": "boolean"}}), &["ip_address"])}}), &[]),
        "LBHttpProfile": ty(json!({}), &[]),
        "LBFastTcpProfile": ty(json!({}), &[]),
        "LBFastUdpProfile": ty(json!({}), &[]),
        "LBHttpMonitorProfile": ty(json!({"interval": {"type": "integer", "minimum": 1}, "timeout": {"type": "integer", "minimum": 1}, "fall_count": {"type": "integer", "minimum": 1},
            "request_method": en(&["GET", "OPTIONS", "POST", "HEAD", "PUT"]), "request_url": s(),
            "response_status_codes": {"type": "array", "maxItems": 64, "items": {"type": "integer", "minimum": 100, "maximum": 599}}}), &[]),
        "LBTcpMonitorProfile": ty(json!({"interval": {"type": "integer", "minimum": 1}, "timeout": {"type": "integer", "minimum": 1}, "fall_count": {"type": "integer", "minimum": 1}}), &[]),
        "LBIcmpMonitorProfile": ty(json!({"interval": {"type": "integer", "minimum": 1}, "timeout": {"type": "integer", "minimum": 1}, "fall_count": {"type": "integer", "minimum": 1}}), &[]),
    });
    if let (Some(d), Some(l)) = (defs.as_object_mut(), lb.as_object()) {
        d.extend(l.clone());
    }
    json!({ "definitions": defs })
}

/// Validate every object of a Policy store dump (`path -> object`) against [`policy_schemas`]:
/// the base schema for each, the type's own where one is written. Returns the types checked
/// with their own schema.
pub(crate) fn check_policy_store(policy: &Value) -> std::collections::BTreeSet<String> {
    let map = jsonschema::options()
        .with_draft(Draft::Draft4)
        .build_map(&policy_schemas())
        .expect("the Policy schemas compile");
    let mut typed = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (path, o) in policy.as_object().expect("a path -> object map") {
        let rt = o["resource_type"].as_str().unwrap_or("");
        let val = match map.get(&format!("#/definitions/{rt}")) {
            Some(v) => {
                typed.insert(rt.to_string());
                v
            }
            None => map.get("#/definitions/PolicyConfigResource").unwrap(),
        };
        for e in val.iter_errors(o) {
            failures.push(format!("{path} ({rt}): {e} at {}", e.instance_path()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    typed
}

fn vio_clean() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/vio-small-clean")
}

#[tokio::test(flavor = "multi_thread")]
async fn vio_target_objects_validate_against_the_spec_and_policy_shapes() {
    // The schemas bite (controls): a bad enum, an over-long tag scope, a missing path.
    let map = jsonschema::options()
        .with_draft(Draft::Draft4)
        .build_map(&policy_schemas())
        .unwrap();
    let nat = map.get("#/definitions/PolicyNatRule").unwrap();
    let base = json!({"resource_type": "PolicyNatRule", "id": "S-1", "path": "/infra/tier-1s/a/nat/USER/nat-rules/S-1",
                      "display_name": "S-1", "action": "SNAT", "firewall_match": "MATCH_INTERNAL_ADDRESS"});
    assert!(nat.is_valid(&base));
    let mut bad = base.clone();
    bad["firewall_match"] = json!("MATCH_INTERNAL");
    assert!(!nat.is_valid(&bad));
    let mut bad = base.clone();
    bad["tags"] = json!([{"scope": "x".repeat(129), "tag": "t"}]);
    assert!(!nat.is_valid(&bad));
    let mut bad = base;
    bad.as_object_mut().unwrap().remove("path");
    assert!(!nat.is_valid(&bad));

    let h = Simulator::start(SimConfig {
        inventory: Some(vio_clean()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let c = Client::new(&h);
    // Manager API objects of the destination the spec defines (the spec's validators, built
    // once for the binary and shared with the coordinator tests).
    use crate::v2t_coordinator::{valid, validators as spec};
    let (s, v) = c.get("/api/v1/fabric/compute-managers").await;
    assert_eq!(s, 200, "{v}");
    valid(spec(), "ComputeManagerListResult", &v);
    let cms = v["results"].as_array().unwrap();
    assert!(!cms.is_empty(), "{v}");
    for cm in cms {
        valid(spec(), "ComputeManager", cm);
        let (s, one) = c
            .get(&format!(
                "/api/v1/fabric/compute-managers/{}",
                cm["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(s, 200, "{one}");
        valid(spec(), "ComputeManager", &one);
    }
    let (s, v) = c.get("/api/v1/transport-nodes").await;
    assert_eq!(s, 200, "{v}");
    valid(spec(), "TransportNodeListResult", &v);
    assert!(v["result_count"].as_u64().is_some_and(|n| n > 0), "{v}");
    // Policy objects the destination is seeded with, as the API serves them.
    let typed = check_policy_store(&h.state_dump()["policy"]);
    for t in [
        "PolicyTransportZone",
        "PolicyEdgeCluster",
        "Tier0",
        "LocaleServices",
        "DhcpServerConfig",
        "MetadataProxyConfig",
    ] {
        assert!(typed.contains(t), "no {t} checked: {typed:?}");
    }
    for (coll, n) in [
        ("/policy/api/v1/infra/tier-0s", 1),
        ("/policy/api/v1/infra/dhcp-server-configs", 1),
        ("/policy/api/v1/infra/metadata-proxies", 1),
        (
            "/policy/api/v1/infra/sites/default/enforcement-points/default/transport-zones",
            2,
        ),
        (
            "/policy/api/v1/infra/sites/default/enforcement-points/default/edge-clusters",
            1,
        ),
    ] {
        let (s, v) = c.get(coll).await;
        assert_eq!(s, 200, "{coll}: {v}");
        let items = v["results"].as_array().unwrap();
        assert!(items.len() >= n, "{coll}: {v}");
        let dump: serde_json::Map<String, Value> = items
            .iter()
            .map(|o| (o["path"].as_str().unwrap().to_string(), o.clone()))
            .collect();
        check_policy_store(&Value::Object(dump));
    }
    h.shutdown().await;
}

//! The VIO prechecks: the planted problems of vio-small, the clean variant, and per check a
//! fixture that triggers it and the clean snapshot that does not.

use plan_schema::{Finding, Severity};
use planner::vio::prechecks;
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;

use crate::vio_snapshot::{VioFixture, vio_small, vio_small_clean};

fn run(s: &VioSnapshot) -> Vec<Finding> {
    prechecks(s, &VioRules::builtin())
}

/// `(check, severity)` of every error and warning.
fn blocking(findings: &[Finding]) -> Vec<(String, Severity)> {
    let mut v: Vec<(String, Severity)> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.check.clone(), f.severity))
        .collect();
    v.sort();
    v
}

fn clean() -> VioSnapshot {
    VioSnapshot::load(&vio_small_clean()).unwrap()
}

/// The findings of check `check` (any severity).
fn of<'a>(findings: &'a [Finding], check: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.check == check).collect()
}

#[test]
fn vio_small_has_exactly_its_thirteen_planted_problems() {
    let s = VioSnapshot::load(&vio_small()).unwrap();
    let findings = run(&s);
    use Severity::{Error as E, Warning as W};
    let mut expected: Vec<(String, Severity)> = [
        ("N2", E),
        ("N9", E),
        ("R3", E),
        ("L4", E),
        ("P1", W),
        ("P3", E),
        ("Q1", E),
        ("E-NOVM", E),
        ("X3", W),
        ("X2", W),
        ("C1", W),
        ("INI-UNSUPPORTED", W),
        ("X-NEUTRON-ON-NSX", E),
    ]
    .into_iter()
    .map(|(c, s)| (c.to_string(), s))
    .collect();
    expected.sort();
    assert_eq!(blocking(&findings), expected);
    // Each names the planted object.
    let by_check = |c: &str| of(&findings, c)[0].clone();
    assert_eq!(
        by_check("N2").subject.display_name.as_deref(),
        Some("eng-db")
    );
    assert_eq!(
        by_check("N9").subject.display_name.as_deref(),
        Some("eng-db-subnet")
    );
    assert_eq!(
        by_check("R3").subject.display_name.as_deref(),
        Some("fin-spare")
    );
    assert_eq!(by_check("R3").code.as_deref(), Some("1009"));
    assert_eq!(
        by_check("L4").subject.display_name.as_deref(),
        Some("fin-web-lb")
    );
    assert!(by_check("P1").message.contains("130 allowed address pairs"));
    assert_eq!(
        by_check("Q1").subject.display_name.as_deref(),
        Some("eng-limit")
    );
    assert_eq!(by_check("E-NOVM").code.as_deref(), Some("1114"));
    assert!(
        by_check("E-NOVM")
            .subject
            .display_name
            .as_deref()
            .unwrap()
            .starts_with("dhcp-ab1bbd84")
    );
    assert_eq!(
        by_check("X3").subject.display_name.as_deref(),
        Some("old-test-edge")
    );
    assert_eq!(
        by_check("X2").subject.display_name.as_deref(),
        Some("legacy-backup-wire")
    );
    assert_eq!(by_check("C1").id, "C1/az2");
    assert_eq!(
        of(&findings, "INI-UNSUPPORTED")
            .iter()
            .find(|f| f.severity == W)
            .unwrap()
            .id,
        "INI-UNSUPPORTED/nsxv/spoofguard_enabled"
    );
    assert_eq!(by_check("X-NEUTRON-ON-NSX").code.as_deref(), Some("1005"));
    // Ids are unique, sorted errors first.
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), findings.len());
    assert!(
        findings
            .windows(2)
            .all(|w| (w[0].severity, &w[0].id) <= (w[1].severity, &w[1].id))
    );
    // The same input gives the same findings.
    assert_eq!(findings, run(&s));
}

#[test]
fn vio_small_clean_has_no_error_or_warning() {
    let findings = run(&clean());
    assert_eq!(blocking(&findings), vec![]);
    // The documented infos: unsupported nsx.ini options set, API replay's rewrites, LB sizing.
    let checks: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks.into_iter().collect::<Vec<_>>(),
        ["INI-UNSUPPORTED", "RW-NEWID", "RW-PROVIDER", "SIZE-LB"]
    );
}

// ---------------------------------------------------------------------------------------------
// Per check: the clean snapshot with one change triggers it; the clean snapshot does not.

/// Run the checks on the clean snapshot after `edit`; assert that `check` fires with `severity`
/// for some object the clean snapshot does not raise it for. Returns those findings.
fn triggers(check: &str, severity: Severity, edit: impl FnOnce(&mut VioSnapshot)) -> Vec<Finding> {
    let base = run(&clean());
    let mut s = clean();
    edit(&mut s);
    let findings = run(&s);
    // What the edit added (the clean snapshot's infos of the same check are not counted).
    let hits: Vec<Finding> = of(&findings, check)
        .into_iter()
        .filter(|f| !base.iter().any(|b| b.id == f.id))
        .cloned()
        .collect();
    assert!(
        !hits.is_empty(),
        "{check} did not fire; got {:?}",
        findings.iter().map(|f| &f.id).collect::<Vec<_>>()
    );
    assert!(
        hits.iter().all(|f| f.severity == severity),
        "{check}: {hits:?}"
    );
    for f in &hits {
        assert!(f.id.starts_with(&format!("{check}/")), "{}", f.id);
        assert!(!f.message.is_empty() && !f.remedy.is_empty());
    }
    hits
}

/// Like [`triggers`], the snapshot edited on disk (nsx.ini, migrator.conf.json, ...).
fn triggers_on_disk(
    check: &str,
    severity: Severity,
    edit: impl FnOnce(&VioFixture),
) -> Vec<Finding> {
    let f = VioFixture::clean();
    edit(&f);
    let loaded = f.load();
    triggers(check, severity, |s| *s = loaded)
}

fn checks_of(s: &VioSnapshot, check: &str) -> usize {
    of(&run(s), check).len()
}

fn net_id(s: &VioSnapshot, name: &str) -> String {
    s.neutron
        .networks
        .iter()
        .find(|n| n.name == name)
        .unwrap()
        .id
        .clone()
}

fn subnet_idx(s: &VioSnapshot, name: &str) -> usize {
    s.neutron
        .subnets
        .iter()
        .position(|n| n.name == name)
        .unwrap()
}

fn router_id(s: &VioSnapshot, name: &str) -> String {
    s.neutron
        .routers
        .iter()
        .find(|n| n.name == name)
        .unwrap()
        .id
        .clone()
}

/// The first compute port.
fn compute_port(s: &mut VioSnapshot) -> &mut planner::vio::snapshot::Port {
    s.neutron
        .ports
        .iter_mut()
        .find(|p| p.device_owner.starts_with("compute:"))
        .unwrap()
}

fn pairs(n: usize) -> Vec<planner::vio::snapshot::AddressPair> {
    (0..n)
        .map(|i| planner::vio::snapshot::AddressPair {
            ip_address: format!("10.99.{}.{}", i / 250, i % 250 + 1),
            mac_address: None,
        })
        .collect()
}

#[test]
fn p1_address_pairs_boundary_127_128() {
    let mut s = clean();
    compute_port(&mut s).allowed_address_pairs = pairs(127);
    assert_eq!(checks_of(&s, "P1"), 0);
    let hits = triggers("P1", Severity::Warning, |s| {
        compute_port(s).allowed_address_pairs = pairs(128)
    });
    assert!(hits[0].message.contains("128 allowed address pairs"));
}

#[test]
fn p2_pair_equal_to_own_address() {
    triggers("P2", Severity::Error, |s| {
        let p = compute_port(s);
        let ip = p.fixed_ips[0].ip_address.clone();
        p.allowed_address_pairs = vec![planner::vio::snapshot::AddressPair {
            ip_address: ip,
            mac_address: Some(p.mac_address.clone()),
        }];
    });
}

#[test]
fn p3_vm_on_external_network() {
    triggers("P3", Severity::Error, |s| {
        let public = net_id(s, "public");
        compute_port(s).network_id = public;
    });
}

#[test]
fn p4_direct_vnic_on_overlay() {
    triggers("P4", Severity::Error, |s| {
        compute_port(s).vnic_type = Some("direct".into())
    });
}

#[test]
fn n1_flat_provider_network() {
    triggers("N1", Severity::Error, |s| {
        s.neutron
            .networks
            .iter_mut()
            .find(|n| n.name == "eng-web")
            .unwrap()
            .network_type = Some("flat".into());
    });
}

/// A copy of subnet `name` with a new id and CIDR.
fn extra_subnet(s: &mut VioSnapshot, name: &str, id: &str, cidr: &str) -> usize {
    let mut sn = s.neutron.subnets[subnet_idx(s, name)].clone();
    sn.id = id.into();
    sn.name = format!("{name}-extra");
    sn.cidr = Some(cidr.into());
    sn.gateway_ip = None;
    sn.allocation_pools.clear();
    s.neutron.subnets.push(sn);
    s.neutron.subnets.len() - 1
}

#[test]
fn n2_second_dhcp_subnet() {
    let hits = triggers("N2", Severity::Error, |s| {
        let i = extra_subnet(
            s,
            "eng-web-subnet",
            "00000000-0000-4000-8000-000000000001",
            "10.77.0.0/24",
        );
        s.neutron.subnets[i].enable_dhcp = true;
    });
    assert!(hits[0].message.contains("10.77.0.0/24"));
}

#[test]
fn n3_network_on_two_routers() {
    triggers("N3", Severity::Error, |s| {
        let web = net_id(s, "eng-web");
        let other = router_id(s, "fin-router-b");
        let mut p = s
            .neutron
            .ports
            .iter()
            .find(|p| p.network_id == web && p.device_owner == "network:router_interface")
            .unwrap()
            .clone();
        p.id = "00000000-0000-4000-8000-000000000002".into();
        p.device_id = other;
        s.neutron.ports.push(p);
    });
}

#[test]
fn n4_vlan_transparent_network_on_a_router() {
    let f = VioFixture::clean();
    f.edit_text("vio/nsx.ini", |t| {
        t.replace("vlan_transparent = False", "vlan_transparent = True")
    });
    let mut on = f.load();
    assert_eq!(checks_of(&on, "N4"), 0);
    on.neutron
        .networks
        .iter_mut()
        .find(|n| n.name == "eng-web")
        .unwrap()
        .vlan_transparent = Some(true);
    assert_eq!(of(&run(&on), "N4")[0].severity, Severity::Error);
    // Not enabled globally: no finding.
    let mut off = clean();
    off.neutron
        .networks
        .iter_mut()
        .find(|n| n.name == "eng-web")
        .unwrap()
        .vlan_transparent = Some(true);
    assert_eq!(checks_of(&off, "N4"), 0);
}

#[test]
fn n5_transit_overlap_follows_the_configured_transit_network() {
    triggers("N5", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        s.neutron.subnets[i].allocation_pools = vec![planner::vio::snapshot::AllocationPool {
            start: "100.64.0.10".into(),
            end: "100.64.0.20".into(),
        }];
    });
    // Another transit network in migrator.conf.json: no overlap.
    let mut s = clean();
    let i = subnet_idx(&s, "eng-web-subnet");
    s.neutron.subnets[i].allocation_pools = vec![planner::vio::snapshot::AllocationPool {
        start: "100.64.0.10".into(),
        end: "100.64.0.20".into(),
    }];
    s.vio.migrator_conf.as_mut().unwrap().transit_network = Some("100.96.0.0/16".into());
    assert_eq!(checks_of(&s, "N5"), 0);
}

#[test]
fn n6_routed_non_dhcp_subnet_beside_a_dhcp_subnet() {
    triggers("N6", Severity::Error, |s| {
        let id = "00000000-0000-4000-8000-000000000003";
        let i = extra_subnet(s, "eng-web-subnet", id, "10.77.1.0/24");
        s.neutron.subnets[i].enable_dhcp = false;
        s.neutron.subnets[i].gateway_ip = Some("10.77.1.1".into());
        let web = net_id(s, "eng-web");
        let p = s
            .neutron
            .ports
            .iter_mut()
            .find(|p| p.network_id == web && p.device_owner == "network:router_interface")
            .unwrap();
        p.fixed_ips[0].subnet_id = id.into();
    });
}

#[test]
fn n7_routed_subnet_without_gateway() {
    triggers("N7", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        s.neutron.subnets[i].gateway_ip = None;
    });
}

#[test]
fn n8_gateway_outside_the_cidr() {
    triggers("N8", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        s.neutron.subnets[i].gateway_ip = Some("10.200.0.1".into());
    });
}

#[test]
fn n9_three_dns_servers_two_are_fine() {
    let mut s = clean();
    let i = subnet_idx(&s, "eng-web-subnet");
    s.neutron.subnets[i].dns_nameservers = vec!["10.0.0.53".into(), "10.0.0.54".into()];
    assert_eq!(checks_of(&s, "N9"), 0);
    triggers("N9", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        s.neutron.subnets[i].dns_nameservers =
            vec!["10.0.0.53".into(), "10.0.0.54".into(), "10.0.0.55".into()];
    });
}

#[test]
fn n10_two_ipv6_subnets() {
    triggers("N10", Severity::Error, |s| {
        for (n, cidr) in [(4, "fd00:1::/64"), (5, "fd00:2::/64")] {
            let i = extra_subnet(
                s,
                "eng-web-subnet",
                &format!("00000000-0000-4000-8000-00000000000{n}"),
                cidr,
            );
            s.neutron.subnets[i].ip_version = 6;
        }
    });
}

#[test]
fn r1_gateway_subnet_overlaps_an_interface_subnet() {
    triggers("R1", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        s.neutron.subnets[i].cidr = Some("203.0.113.0/25".into());
    });
}

#[test]
fn r2_no_gateway_and_a_vlan_interface() {
    triggers("R2", Severity::Error, |s| {
        s.neutron
            .routers
            .iter_mut()
            .find(|r| r.name == "eng-router")
            .unwrap()
            .external_gateway_info = None;
        s.neutron
            .networks
            .iter_mut()
            .find(|n| n.name == "eng-web")
            .unwrap()
            .network_type = Some("vlan".into());
    });
}

fn drop_interfaces(s: &mut VioSnapshot, router: &str) {
    let id = router_id(s, router);
    s.neutron
        .ports
        .retain(|p| !(p.device_id == id && p.device_owner.starts_with("network:router_interface")));
}

#[test]
fn r3_router_without_interfaces_and_advanced_validation_off() {
    let hits = triggers("R3", Severity::Error, |s| drop_interfaces(s, "eng-dr"));
    assert_eq!(hits[0].code.as_deref(), Some("1009"));
    let mut s = clean();
    drop_interfaces(&mut s, "eng-dr");
    s.vio
        .migrator_conf
        .as_mut()
        .unwrap()
        .advanced_router_validation = Some(false);
    assert_eq!(of(&run(&s), "R3")[0].severity, Severity::Warning);
}

#[test]
fn r_nogw_router_without_gateway() {
    triggers("R-NOGW", Severity::Warning, |s| {
        s.neutron
            .routers
            .iter_mut()
            .find(|r| r.name == "eng-router")
            .unwrap()
            .external_gateway_info = None;
    });
}

fn add_lbs(s: &mut VioSnapshot, n: usize) {
    let lb = s.octavia.loadbalancers[0].clone();
    for i in 0..n {
        let mut x = lb.clone();
        x.id = format!("00000000-0000-4000-9000-{i:012}");
        x.name = format!("lb-{i}");
        s.octavia.loadbalancers.push(x);
    }
}

#[test]
fn l1_lbs_per_router_boundary_20_21() {
    let mut s = clean();
    add_lbs(&mut s, 19);
    assert_eq!(checks_of(&s, "L1"), 0);
    let hits = triggers("L1", Severity::Error, |s| add_lbs(s, 20));
    assert!(hits[0].message.contains("21 load balancers"));
}

#[test]
fn l2_vip_on_an_unrouted_subnet() {
    triggers("L2", Severity::Error, |s| {
        let i = subnet_idx(s, "shared-services-subnet");
        s.octavia.loadbalancers[0].vip_subnet_id = Some(s.neutron.subnets[i].id.clone());
    });
}

#[test]
fn l3_listeners_share_a_default_pool() {
    triggers("L3", Severity::Error, |s| {
        let vs = s
            .nsxv
            .edge_virtualservers
            .values_mut()
            .find(|v| v.virtual_server.len() > 1)
            .unwrap();
        let pool = vs.virtual_server[0].default_pool_id.clone();
        vs.virtual_server[1].default_pool_id = pool;
    });
}

#[test]
fn l4_members_behind_another_router() {
    triggers("L4", Severity::Error, |s| {
        let i = subnet_idx(s, "eng-web-subnet");
        let id = s.neutron.subnets[i].id.clone();
        let m = s.octavia.members.values_mut().next().unwrap();
        m[0].subnet_id = Some(id);
    });
}

#[test]
fn l5_lb_router_without_gateway() {
    triggers("L5", Severity::Error, |s| {
        s.neutron
            .routers
            .iter_mut()
            .find(|r| r.name == "fin-router-a")
            .unwrap()
            .external_gateway_info = None;
    });
}

#[test]
fn s1_group_bound_to_an_nsxv_policy() {
    triggers("S1", Severity::Error, |s| {
        s.neutron.security_groups[0].policy = Some("policy-3".into())
    });
}

#[test]
fn q1_q2_qos_boundaries() {
    fn rule(s: &mut VioSnapshot) -> &mut planner::vio::snapshot::QosRule {
        s.neutron.qos_policies[0]
            .rules
            .iter_mut()
            .find(|r| r.rule_type == "bandwidth_limit")
            .unwrap()
    }
    let mut s = clean();
    rule(&mut s).max_kbps = Some(1024);
    rule(&mut s).max_burst_kbps = Some(16_777_215);
    assert_eq!(checks_of(&s, "Q1") + checks_of(&s, "Q2"), 0);
    let hits = triggers("Q1", Severity::Error, |s| rule(s).max_kbps = Some(1023));
    assert!(hits[0].message.contains("1023 kbps"));
    triggers("Q2", Severity::Error, |s| {
        rule(s).max_burst_kbps = Some(16_777_216)
    });
}

/// With the snapshot's list of L2 gateways (read from disk), each gateway is an error; an empty
/// list is no finding even with the extension loaded.
#[test]
fn g1_listed_l2_gateways() {
    let hits = triggers_on_disk("G1", Severity::Error, |f| {
        std::fs::write(
            f.path().join("neutron/l2-gateways.json"),
            r#"{"l2_gateways": [{"id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11", "name": "gw-dc1",
                "tenant_id": "4210bb028d2050edba766c2613427b8e",
                "devices": [{"device_name": "edge-1", "interfaces": [{"name": "vnic-3"}]}]}]}"#,
        )
        .unwrap();
    });
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, "G1/0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11");
    assert!(hits[0].message.contains("gw-dc1"), "{}", hits[0].message);

    // Its connections name the networks it bridges; a connection whose gateway the list lacks
    // is an error of its own (the connections file alone suffices).
    let hits = triggers_on_disk("G1", Severity::Error, |f| {
        let net = net_id(&f.load(), "eng-web");
        std::fs::write(
            f.path().join("neutron/l2-gateways.json"),
            r#"{"l2_gateways": [{"id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11", "name": "gw-dc1"}]}"#,
        )
        .unwrap();
        std::fs::write(
            f.path().join("neutron/l2-gateway-connections.json"),
            format!(
                r#"{{"l2_gateway_connections": [
                {{"id": "c1", "l2_gateway_id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11", "network_id": "{net}", "segmentation_id": 100}},
                {{"id": "c2", "l2_gateway_id": "9d0e2f1b-0000-4a55-9d0e-2f1b8d3c4a12", "network_id": "{net}"}}]}}"#
            ),
        )
        .unwrap();
    });
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits[0].message.contains("bridging network `eng-web`"),
        "{}",
        hits[0].message
    );
    assert_eq!(hits[1].id, "G1/9d0e2f1b-0000-4a55-9d0e-2f1b8d3c4a12");

    let f = VioFixture::clean();
    std::fs::write(
        f.path().join("neutron/l2-gateways.json"),
        r#"{"l2_gateways": []}"#,
    )
    .unwrap();
    let mut s = f.load();
    assert_eq!(s.neutron.l2_gateways.as_deref(), Some(&[][..]));
    s.neutron
        .extensions
        .push(planner::vio::snapshot::Extension {
            alias: "l2-gateway".into(),
        });
    assert_eq!(checks_of(&s, "G1"), 0);
    // Without the file, there is no list: the extension alone is a warning (below).
    assert_eq!(clean().neutron.l2_gateways, None);
}

#[test]
fn g1_l2_gateway_extension() {
    triggers("G1", Severity::Warning, |s| {
        s.neutron
            .extensions
            .push(planner::vio::snapshot::Extension {
                alias: "l2-gateway".into(),
            })
    });
}

#[test]
fn x1_x2_x3_stale_backend_objects() {
    triggers("X1", Severity::Warning, |s| {
        let mut w = s.nsxv.virtualwires[0].clone();
        w.object_id = "virtualwire-99".into();
        w.name = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9".into();
        s.nsxv.virtualwires.push(w);
    });
    triggers("X2", Severity::Warning, |s| {
        let mut w = s.nsxv.virtualwires[0].clone();
        w.object_id = "virtualwire-98".into();
        w.name = "hand-made".into();
        s.nsxv.virtualwires.push(w);
    });
    triggers("X3", Severity::Warning, |s| {
        let mut e = s.nsxv.edges[0].clone();
        e.id = "edge-99".into();
        e.name = "hand-made-edge".into();
        s.nsxv.edge_appliances.insert(
            "edge-99".into(),
            s.nsxv.edge_appliances[&s.nsxv.edges[0].id].clone(),
        );
        s.nsxv.edges.push(e);
    });
}

#[test]
fn e_novm_edge_without_appliance_vm() {
    let hits = triggers("E-NOVM", Severity::Error, |s| {
        s.nsxv.edges[0].appliances_summary.number_of_deployed_vms = Some(0)
    });
    assert_eq!(hits[0].code.as_deref(), Some("1114"));
    triggers("E-NOVM", Severity::Error, |s| {
        let id = s.nsxv.edges[0].id.clone();
        s.nsxv.edge_appliances.get_mut(&id).unwrap().appliances[0].vm_id = Some("vm-9999".into());
    });
}

#[test]
fn neutron_objects_on_nsx_error_or_cleanup_with_rollback() {
    let leftover = |s: &mut VioSnapshot| {
        let mut o = s.nsx.tier0s[0].clone();
        o.id = "seg-1".into();
        o.resource_type = "Segment".into();
        s.nsx.neutron_owned.push(o);
    };
    let hits = triggers("X-NEUTRON-ON-NSX", Severity::Error, leftover);
    assert_eq!(hits[0].code.as_deref(), Some("1005"));
    let mut s = clean();
    leftover(&mut s);
    s.vio.migrator_conf.as_mut().unwrap().rollback = Some(true);
    assert_eq!(of(&run(&s), "X-NEUTRON-ON-NSX")[0].severity, Severity::Info);
}

#[test]
fn versions_of_nsxv_and_nsx() {
    let hits = triggers("V-VER", Severity::Error, |s| {
        s.nsxv.version = "6.4.10".into()
    });
    assert!(!hits[0].message.contains("open-source"));
    let hits = triggers("V-VER", Severity::Error, |s| {
        s.nsxv.version = "6.4.8".into()
    });
    assert!(hits[0].message.contains("open-source"));
    let hits = triggers("T-VER", Severity::Error, |s| {
        s.metadata.nsx_version = Some("3.1.3.0.0.1".into())
    });
    assert_eq!(hits[0].code.as_deref(), Some("1002"));
    let hits = triggers("T-VER", Severity::Error, |s| s.metadata.nsx_version = None);
    assert_eq!(hits[0].code.as_deref(), Some("1003"));
}

/// The edge clusters of the tier-0, DHCP server config and metadata proxy must span the default
/// overlay and VLAN transport zones (by the members' transport nodes).
#[test]
fn edge_cluster_spans_the_transport_zones() {
    use planner::vio::snapshot::TzEndpoint;
    let tz_nsx_id = |s: &VioSnapshot, id: &str| {
        let tz = s.nsx.transport_zones.iter().find(|t| t.id == id).unwrap();
        tz.nsx_id.clone().unwrap()
    };
    // No node in the VLAN zone: an error naming the cluster, its users and the zone.
    let hits = triggers("T-EC-TZ", Severity::Error, |s| {
        let vlan = tz_nsx_id(s, "vlan-tz");
        for n in s.nsx.edge_transport_nodes.as_mut().unwrap() {
            n.transport_zone_endpoints
                .retain(|e| e.transport_zone_id != vlan);
        }
    });
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].id, "T-EC-TZ/ec-1/vlan-tz");
    assert_eq!(hits[0].code.as_deref(), Some("2111"));
    for user in [
        "tier-0 t0-public",
        "DHCP server config dhcp-profile-1",
        "metadata proxy mdproxy-1",
    ] {
        assert!(hits[0].message.contains(user), "{}", hits[0].message);
    }
    // One node outside the overlay zone (or a member without its transport node): a warning
    // naming the node.
    let hits = triggers("T-EC-TZ", Severity::Warning, |s| {
        let overlay = tz_nsx_id(s, "overlay-tz");
        let n = &mut s.nsx.edge_transport_nodes.as_mut().unwrap()[1];
        n.transport_zone_endpoints
            .retain(|e| e.transport_zone_id != overlay);
    });
    assert_eq!(hits[0].id, "T-EC-TZ/ec-1/overlay-tz");
    assert!(
        hits[0].message.contains("nsx-edge-02"),
        "{}",
        hits[0].message
    );
    let hits = triggers("T-EC-TZ", Severity::Warning, |s| {
        s.nsx.edge_transport_nodes.as_mut().unwrap().remove(0);
    });
    assert!(
        hits[0]
            .message
            .contains("no transport node in the snapshot"),
        "{}",
        hits[0].message
    );
    // Zones listed per host switch (later NSX versions) count the same.
    let mut s = clean();
    for n in s.nsx.edge_transport_nodes.as_mut().unwrap() {
        let eps: Vec<TzEndpoint> = std::mem::take(&mut n.transport_zone_endpoints);
        n.host_switch_spec.host_switches[0].transport_zone_endpoints = eps;
    }
    assert_eq!(checks_of(&s, "T-EC-TZ"), 0);
    // Without the VLAN zone configured, only the overlay zone is required.
    let mut s = clean();
    let vlan = tz_nsx_id(&s, "vlan-tz");
    for n in s.nsx.edge_transport_nodes.as_mut().unwrap() {
        n.transport_zone_endpoints
            .retain(|e| e.transport_zone_id != vlan);
    }
    s.vio.migrator_conf.as_mut().unwrap().default_vlan_tz = None;
    assert_eq!(checks_of(&s, "T-EC-TZ"), 0);
    // A snapshot without the transport nodes (older ones) says it was not checked.
    let hits = triggers("T-EC-TZ", Severity::Info, |s| {
        s.nsx.edge_transport_nodes = None
    });
    assert_eq!(hits[0].id, "T-EC-TZ/edge-transport-nodes");
}

#[test]
fn compute_manager_missing() {
    let hits = triggers("T-CM", Severity::Error, |s| s.nsx.compute_managers.clear());
    assert_eq!(hits[0].code.as_deref(), Some("1004"));
}

#[test]
fn target_objects_resolve_by_id_tag_or_name() {
    for (check, edit) in [
        (
            "T-TZ-OVERLAY",
            Box::new(|c: &mut planner::vio::snapshot::MigratorConf| {
                c.default_overlay_tz = Some("nope".into())
            }) as Box<dyn Fn(&mut planner::vio::snapshot::MigratorConf)>,
        ),
        (
            "T-TZ-VLAN",
            Box::new(|c| c.default_vlan_tz = Some("overlay-tz".into())),
        ),
        (
            "T-T0",
            Box::new(|c| c.default_tier0_router = Some("nope".into())),
        ),
        ("T-DHCP", Box::new(|c| c.dhcp_profile = Some("nope".into()))),
        (
            "T-MDPROXY",
            Box::new(|c| c.metadata_proxy = Some("nope".into())),
        ),
    ] {
        triggers(check, Severity::Error, |s| {
            edit(s.vio.migrator_conf.as_mut().unwrap())
        });
    }
    // By display name, and unset with one candidate: resolved.
    let mut s = clean();
    let name = s.nsx.tier0s[0].display_name.clone();
    s.nsx.tier0s[0].id = "t0-other-id".into();
    s.nsx.tier0_locale_services = [(
        "t0-other-id".to_string(),
        s.nsx.tier0_locale_services.values().next().unwrap().clone(),
    )]
    .into();
    let conf = s.vio.migrator_conf.as_mut().unwrap();
    conf.default_tier0_router = Some(name);
    conf.metadata_proxy = None;
    let f = run(&s);
    assert!(
        of(&f, "T-T0").is_empty() && of(&f, "T-MDPROXY").is_empty() && of(&f, "T-T0-EC").is_empty()
    );
    triggers("T-T0-EC", Severity::Error, |s| {
        for ls in s.nsx.tier0_locale_services.values_mut().flatten() {
            ls.edge_cluster_path = None;
        }
    });
}

#[test]
fn availability_zone_objects_resolve() {
    let hits = triggers("T-AZ", Severity::Error, |s| {
        s.vio.migrator_conf.as_mut().unwrap().availability_zones = vec![
            serde_json::json!({"name": "az2", "metadata_proxy": "nope", "dhcp_profile": "dhcp-profile-1"}),
        ];
    });
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, "T-AZ/az2/metadata_proxy");
    let mut s = clean();
    s.vio.migrator_conf.as_mut().unwrap().availability_zones = vec![
        serde_json::json!({"name": "az2", "metadata_proxy": "mdproxy-1", "default_tier0_router": "t0-public"}),
    ];
    assert_eq!(checks_of(&s, "T-AZ"), 0);
}

#[test]
fn neutron_cr_plugins() {
    triggers("CR-PLUGINS", Severity::Error, |s| {
        s.vio.neutron_crs[0].manifests.insert("nsxp".into(), true);
    });
    triggers("CR-MANIFESTS", Severity::Error, |s| {
        s.vio.neutron_crs[0].manifests.clear()
    });
    triggers("CR-NEUTRON", Severity::Error, |s| s.vio.neutron_crs.clear());
}

#[test]
fn c1_c2_edge_ha_and_host_groups() {
    let hits = triggers_on_disk("C1", Severity::Warning, |f| {
        f.edit_text("vio/nsx.ini", |t| {
            t.replacen("edge_ha = False", "edge_ha = True", 1)
        });
    });
    assert_eq!(hits[0].id, "C1/default");
    triggers_on_disk("C2", Severity::Warning, |f| {
        f.edit_text("vio/nsx.ini", |t| {
            t.replace("edge_host_groups =", "edge_host_groups = hg-a,hg-b")
        });
    });
}

#[test]
fn nsx_ini_unsupported_options_behaviour_changes_and_seed_spellings() {
    let hits = triggers_on_disk("INI-UNSUPPORTED", Severity::Warning, |f| {
        f.edit_text("vio/nsx.ini", |t| {
            t.replace("use_exclude_list = True", "use_exclude_list = False")
        });
    });
    assert_eq!(hits[0].id, "INI-UNSUPPORTED/nsxv/use_exclude_list");
    assert!(hits[0].message.contains("cannot be globally turned off"));
    // The seed's misspelling is matched too (an info: no behaviour change).
    let f = VioFixture::clean();
    f.edit_text("vio/nsx.ini", |t| {
        t.replace("nova_metadata_port = 8775", "nova_metadat_port = 8080")
    });
    let found = run(&f.load());
    let hit = found
        .iter()
        .find(|x| x.id == "INI-UNSUPPORTED/nsxv/nova_metadat_port")
        .unwrap();
    assert_eq!(hit.severity, Severity::Info);
    // A default value (any case) is no finding.
    let f = VioFixture::clean();
    f.edit_text("vio/nsx.ini", |t| {
        t.replace("use_exclude_list = True", "use_exclude_list = true")
    });
    assert!(
        !run(&f.load())
            .iter()
            .any(|x| x.id.ends_with("use_exclude_list"))
    );
}

#[test]
fn migrator_conf_checks() {
    triggers("CONF-MISSING", Severity::Error, |s| {
        s.vio.migrator_conf = None
    });
    let hits = triggers("CONF-ACK", Severity::Error, |s| {
        let c = s.vio.migrator_conf.as_mut().unwrap();
        c.edge_migration = Some(false);
        c.host_migration = Some(false);
    });
    assert_eq!(hits[0].code.as_deref(), Some("1101"));
    triggers("CONF-TRANSIT", Severity::Error, |s| {
        s.vio.migrator_conf.as_mut().unwrap().transit_network = Some("100.64.0.0".into())
    });
    triggers("CONF-TOKEN", Severity::Error, |s| {
        s.vio.migrator_conf.as_mut().unwrap().nsxv_token_lifetime = Some(1441)
    });
    triggers("CONF-TOKEN", Severity::Error, |s| {
        s.vio.migrator_conf.as_mut().unwrap().nsxv_token_lifetime = Some(0)
    });
    triggers("CONF-TOKEN", Severity::Warning, |s| {
        s.vio.migrator_conf.as_mut().unwrap().nsxv_token_lifetime = Some(239)
    });
    let mut s = clean();
    s.vio.migrator_conf.as_mut().unwrap().nsxv_token_lifetime = Some(240);
    assert_eq!(checks_of(&s, "CONF-TOKEN"), 0);
    triggers("CONF-CLUSTERS", Severity::Error, |s| {
        s.vio.migrator_conf.as_mut().unwrap().compute_clusters = vec!["domain-c404".into()]
    });
    triggers("CONF-CLUSTERS", Severity::Error, |s| {
        s.vio
            .migrator_conf
            .as_mut()
            .unwrap()
            .compute_clusters
            .clear()
    });
}

#[test]
fn external_networks_map_and_uplink_overlap() {
    triggers("T-EXTMAP", Severity::Error, |s| {
        s.vio
            .migrator_conf
            .as_mut()
            .unwrap()
            .external_networks_map
            .clear()
    });
    triggers("T-EXTMAP", Severity::Error, |s| {
        for v in s
            .vio
            .migrator_conf
            .as_mut()
            .unwrap()
            .external_networks_map
            .values_mut()
        {
            *v = "t0-missing".into();
        }
    });
    triggers("T-EXTMAP", Severity::Warning, |s| {
        let web = net_id(s, "eng-web");
        s.vio
            .migrator_conf
            .as_mut()
            .unwrap()
            .external_networks_map
            .insert(web, "t0-public".into());
    });
    triggers("T-EXTCIDR", Severity::Error, |s| {
        let ifs = s.nsx.tier0_interfaces.values_mut().next().unwrap();
        ifs[0].subnets[0].ip_addresses = vec!["203.0.113.2".into()];
        ifs[0].subnets[0].prefix_len = 28;
    });
}

#[test]
fn host_phase_hosts_connected_and_on() {
    triggers("H-HOST", Severity::Error, |s| {
        let h = s.vcenter.hosts_by_cluster["domain-c7"][0].clone();
        s.vcenter
            .hosts
            .iter_mut()
            .find(|x| x.host == h)
            .unwrap()
            .connection_state = "NOT_RESPONDING".into();
    });
    // A host outside the compute clusters does not count.
    let mut s = clean();
    let h = s.vcenter.hosts_by_cluster["domain-c8"][0].clone();
    s.vcenter
        .hosts
        .iter_mut()
        .find(|x| x.host == h)
        .unwrap()
        .power_state = "POWERED_OFF".into();
    assert_eq!(checks_of(&s, "H-HOST"), 0);
}

/// DRS as the host migration mode needs it: disabled in place (the default mode), enabled for
/// automated maintenance mode; clusters outside compute_clusters do not count.
#[test]
fn host_phase_drs_follows_the_host_migration_mode() {
    let drs = |s: &mut VioSnapshot, id: &str, on: bool| {
        s.vcenter
            .clusters
            .iter_mut()
            .find(|c| c.cluster == id)
            .unwrap()
            .drs_enabled = Some(on);
    };
    let hits = triggers("H-DRS", Severity::Warning, |s| drs(s, "domain-c7", true));
    assert_eq!(hits[0].id, "H-DRS/domain-c7");
    assert!(hits[0].message.contains("in-place"), "{}", hits[0].message);
    let mut s = clean();
    drs(&mut s, "domain-c8", true);
    assert_eq!(checks_of(&s, "H-DRS"), 0);
    // Automated maintenance mode wants DRS on: the clean snapshot's compute cluster has it off.
    let maintenance = VioRules::merge_text(
        "[host_migration]\nmode = \"maintenance\"\n",
        std::path::Path::new("r.toml"),
    )
    .unwrap();
    let f = prechecks(&clean(), &maintenance);
    assert_eq!(of(&f, "H-DRS")[0].severity, Severity::Warning);
    let mut s = clean();
    drs(&mut s, "domain-c7", true);
    assert!(of(&prechecks(&s, &maintenance), "H-DRS").is_empty());
    let e = VioRules::merge_text(
        "[host_migration]\nmode = \"sideways\"\n",
        std::path::Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("r.toml") && e.contains("sideways"), "{e}");
}

/// The migration coordinator service as collected (seed 1001): anything but running is an
/// error; a snapshot without the file is not checked.
#[test]
fn migration_coordinator_not_running() {
    let hits = triggers_on_disk("T-MC", Severity::Error, |f| {
        f.edit_json("nsx/coordinator-status.json", |v| {
            v["runtime_state"] = serde_json::json!("stopped");
        });
    });
    assert_eq!(hits[0].code.as_deref(), Some("1001"));
    assert!(hits[0].message.contains("stopped"), "{}", hits[0].message);
    assert_eq!(
        clean()
            .nsx
            .coordinator_status
            .as_ref()
            .map(|c| c.runtime_state.as_str()),
        Some("running")
    );
    let f = VioFixture::clean();
    std::fs::remove_file(f.path().join("nsx/coordinator-status.json")).unwrap();
    assert_eq!(checks_of(&f.load(), "T-MC"), 0);
}

#[test]
fn rewrites_are_findings_naming_the_object() {
    let hits = triggers("RW-PORTSEC", Severity::Info, |s| {
        let p = compute_port(s);
        p.mac_learning_enabled = Some(true);
        p.port_security_enabled = Some(true);
    });
    assert_eq!(hits[0].subject.resource_type, "port");
    triggers("RW-DHCP", Severity::Info, |s| {
        let i = extra_subnet(
            s,
            "eng-web-subnet",
            "00000000-0000-4000-8000-000000000006",
            "10.77.2.0/24",
        );
        s.neutron.subnets[i].enable_dhcp = true;
    });
    // Floating IPs, gateway and DHCP ports, subnet pools and RBAC policies get new ids.
    let f = run(&clean());
    let s = clean();
    for fip in &s.neutron.floatingips {
        assert!(f.iter().any(|x| x.id == format!("RW-NEWID/{}", fip.id)));
    }
    assert_eq!(of(&f, "RW-PROVIDER").len(), s.neutron.networks.len());
}

#[test]
fn lb_sizing_shortfall_is_an_error() {
    // vio-small-clean: one LB router, MEDIUM (10 credits) x 2 = 20; 2 nodes.
    let rules = |credits: u64| {
        VioRules::merge_text(
            &format!("[sizing]\nedge_node_credits = {{ LARGE = {credits} }}\n"),
            std::path::Path::new("rules.toml"),
        )
        .unwrap()
    };
    let s = clean();
    let f = prechecks(&s, &rules(10));
    assert_eq!(of(&f, "SIZE-LB")[0].severity, Severity::Info);
    let f = prechecks(&s, &rules(9));
    let hit = of(&f, "SIZE-LB")[0];
    assert_eq!(hit.severity, Severity::Error);
    assert!(hit.message.contains("2 credits short"), "{}", hit.message);
}

#[test]
fn strict_validation_raises_warnings() {
    let mut s = VioSnapshot::load(&vio_small()).unwrap();
    s.vio.migrator_conf.as_mut().unwrap().strict_validation = Some(true);
    let f = run(&s);
    assert!(f.iter().all(|x| x.severity != Severity::Warning));
    assert_eq!(of(&f, "X3")[0].severity, Severity::Error);
    // From the rules when migrator.conf.json does not say.
    s.vio.migrator_conf.as_mut().unwrap().strict_validation = None;
    let strict = VioRules::merge_text(
        "[validation]\nstrict_validation = true\n",
        std::path::Path::new("r.toml"),
    )
    .unwrap();
    assert_eq!(
        of(&prechecks(&s, &strict), "P1")[0].severity,
        Severity::Error
    );
}

#[test]
fn vio_rules_merge_and_refuse_unknown_keys() {
    let r = VioRules::builtin();
    assert_eq!(r.ports.max_address_pairs, 127);
    assert_eq!(r.nsx_ini_unsupported.len(), 40);
    let over = VioRules::merge_text(
        "[qos]\nmin_max_kbps = 2048\n",
        std::path::Path::new("r.toml"),
    )
    .unwrap();
    assert_eq!(over.qos.min_max_kbps, 2048);
    assert_eq!(over.qos.max_burst_kbps, 16_777_215);
    let e = VioRules::merge_text("[qos]\nmin_kbps = 1\n", std::path::Path::new("r.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("r.toml:2") && e.contains("min_kbps"), "{e}");
    let e = VioRules::merge_text(
        "[networks]\ntransit_network = \"nope\"\n",
        std::path::Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("transit_network"), "{e}");
}

/// The simulator's generated deployments are snapshots this reader loads, and the prechecks run
/// over them (1,000 ports here; 50,000 load in about 9 s and check in about 0.6 s in a debug
/// build on a loaded machine, measured once, not asserted).
#[test]
fn generated_snapshots_load_and_are_checked() {
    use simulator::vio::generate::{VioGenerateSpec, generate};
    let tmp = tempfile::tempdir().unwrap();
    generate(
        &VioGenerateSpec {
            seed: 11,
            ports: 1000,
        },
        tmp.path(),
    )
    .unwrap();
    let s = VioSnapshot::load(tmp.path()).unwrap();
    assert_eq!(s.neutron.ports.len(), 1000);
    let f = run(&s);
    let ids: std::collections::HashSet<&str> = f.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids.len(), f.len());
    assert_eq!(
        of(&f, "RW-PROVIDER").len(),
        s.neutron
            .networks
            .iter()
            .filter(|n| n.network_type.is_some())
            .count()
    );
}

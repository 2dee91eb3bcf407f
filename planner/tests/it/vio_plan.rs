//! The VIO plan: vio-small and vio-small-clean pinned (TOML, and `show` text and Markdown of the
//! clean plan), the plan's structure (phases, point of no return, feedback, switches), and an
//! ordering property over generated deployments whose oracle reads the snapshot's JSON files
//! directly (not the planner's typed model) and checks every dependency edge named there.

use std::collections::HashMap;
use std::path::Path;

use plan_schema::render::{self, Format, View};
use plan_schema::vio::{Action, Phase, Plan, ReplayResource};
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;
use planner::vio::{VioPlanOptions, build_vio_plan};
use proptest::prelude::*;
use serde_json::Value;

use crate::vio_snapshot::{VioFixture, vio_small, vio_small_clean};

fn opts(source: &str) -> VioPlanOptions {
    VioPlanOptions {
        created_at: "2026-12-01T10:00:00Z".into(),
        tool_version: "0.1.0".into(),
        deployment: None,
        rules_source: None,
        inventory_source: Some(source.into()),
    }
}

fn plan_of(dir: &Path, source: &str) -> Plan {
    let s = VioSnapshot::load(dir).unwrap();
    build_vio_plan(&s, &VioRules::builtin(), &opts(source)).unwrap()
}

fn toml(plan: &Plan) -> String {
    plan_schema::write::to_toml(plan, None).unwrap()
}

#[test]
fn vio_small_plan() {
    let plan = plan_of(&vio_small(), "examples/inventories/vio-small");
    assert!(!plan.is_applicable(), "vio-small has planted errors");
    insta::assert_snapshot!(toml(&plan));
}

#[test]
fn vio_small_clean_plan() {
    let plan = plan_of(&vio_small_clean(), "examples/inventories/vio-small-clean");
    assert!(plan.is_applicable());
    insta::assert_snapshot!(toml(&plan));
}

/// `show` (the reviewer's view `nsx-migrate show` prints by default) and `show --full`.
#[test]
fn vio_small_clean_show_text() {
    let plan = plan_of(&vio_small_clean(), "examples/inventories/vio-small-clean");
    insta::assert_snapshot!(render::show_view(
        &plan,
        Format::Text { color: false },
        View::Review
    ));
}

#[test]
fn vio_small_clean_show_markdown() {
    let plan = plan_of(&vio_small_clean(), "examples/inventories/vio-small-clean");
    insta::assert_snapshot!(render::show_view(&plan, Format::Markdown, View::Review));
}

#[test]
fn vio_small_clean_show_full_text() {
    let plan = plan_of(&vio_small_clean(), "examples/inventories/vio-small-clean");
    insta::assert_snapshot!(render::show(&plan, Format::Text { color: false }));
}

#[test]
fn vio_small_clean_show_full_markdown() {
    let plan = plan_of(&vio_small_clean(), "examples/inventories/vio-small-clean");
    insta::assert_snapshot!(render::show(&plan, Format::Markdown));
}

#[test]
fn the_plan_reads_back_and_is_deterministic() {
    let a = plan_of(&vio_small_clean(), "x");
    let b = plan_of(&vio_small_clean(), "x");
    assert_eq!(toml(&a), toml(&b));
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("plan.toml");
    std::fs::write(&path, toml(&a)).unwrap();
    let back = plan_schema::read::read_plan_file(&path).unwrap();
    assert_eq!(back.plan_id(), a.plan_id);
}

#[test]
fn phases_run_in_order_and_host_migration_is_the_point_of_no_return() {
    let plan = plan_of(&vio_small_clean(), "x");
    let phases: Vec<Phase> = plan.steps.iter().map(|s| s.phase).collect();
    assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{phases:?}");
    let host: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::HostMigration(h) => Some((s, h)),
            _ => None,
        })
        .collect();
    assert_eq!(host.len(), 1);
    let (step, h) = host[0];
    assert!(h.point_of_no_return);
    assert!(!h.accept_recommended);
    assert_eq!(h.compute_clusters, vec!["domain-c7".to_string()]);
    assert!(step.depends_on.contains(&"edge-cutover/run".to_string()));
    // The cutover maps the one distributed router to its DLR edge.
    let cut = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::EdgeCutover(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert_eq!(cut.mapping.len(), 1);
    assert_eq!(cut.mapping[0].v_edges, vec!["edge-2".to_string()]);
    // Its one foreseen answer: the DLR's gateway confirmed (built-in `foreseen_feedback`).
    assert_eq!(cut.feedback.len(), 1);
    assert_eq!(cut.feedback[0].object, "edge-2");
    assert!(!cut.accept_recommended);
    // Every replayed object of the example has its Policy paths where the mapping has them; a
    // router interface's own port has none (the plugin keeps no segment port for it).
    for s in &plan.steps {
        if let Action::ApiReplay(r) = &s.action
            && matches!(
                r.resource,
                ReplayResource::Router | ReplayResource::SecurityGroup | ReplayResource::Port
            )
        {
            let interface_port = s.id.starts_with("replay/interface-ports/");
            assert!(
                r.objects
                    .iter()
                    .all(|o| o.policy_paths.is_empty() == interface_port),
                "{}",
                s.id
            );
        }
    }
    // A security group rule has a service only when it names a protocol.
    let rule_paths: Vec<&Vec<String>> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ApiReplay(r) if r.resource == ReplayResource::SecurityGroupRule => {
                Some(r.objects.iter().map(|o| &o.policy_paths))
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        rule_paths.iter().any(|p| p.len() == 1),
        "a protocol-less rule"
    );
    assert!(
        rule_paths.iter().any(|p| p.len() == 2),
        "a rule with a protocol"
    );
    assert!(
        rule_paths.iter().all(|p| p.len() == 1
            || p[1] == format!("/infra/services/{}", p[0].rsplit('/').next().unwrap()))
    );
}

#[test]
fn feedback_answers_and_switches_come_from_the_rules_and_migrator_conf() {
    let rules = VioRules::merge_text(
        "[plan]\naccept_recommended = true\nreplay_batch_size = 2\n[[plan.feedback]]\nrun = \"host_migration\"\nrequest = \"abc123\"\naction = \"ACCEPT\"\n",
        Path::new("rules.toml"),
    )
    .unwrap();
    let fx = VioFixture::clean();
    fx.edit_json("vio/migrator.conf.json", |v| {
        v["post_migration_cleanup"] = Value::Bool(false);
        v["host_migration"] = Value::Bool(true);
    });
    let plan = build_vio_plan(&fx.load(), &rules, &opts("x")).unwrap();
    let h = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::HostMigration(h) => Some(h),
            _ => None,
        })
        .unwrap();
    assert!(h.accept_recommended);
    assert_eq!(h.feedback.len(), 1);
    assert_eq!(h.feedback[0].request, "abc123");
    assert!(!plan.steps.iter().any(|s| s.phase == Phase::PostCleanup));
    // Batches of at most 2 objects.
    for s in &plan.steps {
        if let Action::ApiReplay(r) = &s.action {
            assert!(r.objects.len() <= 2, "{}", s.id);
        }
    }
    // Without edge migration there is no edge preparation or cutover.
    let fx = VioFixture::clean();
    fx.edit_json("vio/migrator.conf.json", |v| {
        v["edge_migration"] = Value::Bool(false);
    });
    let plan = build_vio_plan(&fx.load(), &VioRules::builtin(), &opts("x")).unwrap();
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| matches!(s.phase, Phase::EdgePrep | Phase::EdgeCutover))
    );
}

#[test]
fn rollback_with_neutron_objects_on_nsx_plans_their_cleanup_first() {
    let fx = VioFixture::clean();
    fx.edit_json("vio/migrator.conf.json", |v| {
        v["rollback"] = Value::Bool(true);
    });
    fx.edit_json("nsx/neutron-owned.json", |v| {
        v["results"] = serde_json::json!([
            {"id": "s1", "resource_type": "Segment", "path": "/infra/segments/s1",
             "tags": [{"scope": "os-api-version", "tag": "3.2"}]},
            {"id": "p1", "resource_type": "SegmentPort", "path": "/infra/segments/s1/ports/p1",
             "tags": [{"scope": "os-api-version", "tag": "3.2"}]}
        ]);
        v["result_count"] = serde_json::json!(2);
    });
    let plan = build_vio_plan(&fx.load(), &VioRules::builtin(), &opts("x")).unwrap();
    let first = &plan.steps[0];
    match &first.action {
        Action::NsxCleanupStale(c) => assert_eq!(
            c.paths,
            vec!["/infra/segments/s1/ports/p1", "/infra/segments/s1"]
        ),
        other => panic!("first step is {other:?}"),
    }
}

#[test]
fn a_bad_rules_value_is_a_located_error() {
    let e = VioRules::merge_text("[plan]\nreplay_batch_size = 0\n", Path::new("r.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("r.toml:2") && e.contains("replay_batch_size"),
        "{e}"
    );
}

#[test]
fn a_bad_reconfig_name_is_a_located_error() {
    let e = VioRules::merge_text(
        "[reconfig]\napi_version = \"v1\"\nsecret_name = \"NSX_Secret\"\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("r.toml:3") && e.contains("reconfig.secret_name") && e.contains("NSX_Secret"),
        "{e}"
    );
    let e = VioRules::merge_text("[reconfig]\npolicy_plugin = \"\"\n", Path::new("r.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("reconfig.policy_plugin"), "{e}");
}

#[test]
fn the_octavia_endpoint_rule_reaches_the_plan_only_when_changed() {
    let fx = VioFixture::clean();
    let plan = build_vio_plan(&fx.load(), &VioRules::builtin(), &opts("x")).unwrap();
    assert!(plan.requirements.octavia.is_default());
    let text = plan_schema::write::to_toml(&plan, None).unwrap();
    assert!(!text.contains("[requirements.octavia]"), "{text}");

    let rules = VioRules::merge_text(
        "[replay]\noctavia_service = \"load-balancer\"\n",
        Path::new("r.toml"),
    )
    .unwrap();
    let plan = build_vio_plan(&fx.load(), &rules, &opts("x")).unwrap();
    assert_eq!(plan.requirements.octavia.service, "load-balancer");
    assert_eq!(plan.requirements.octavia.path, "/v2/lbaas");
    let text = plan_schema::write::to_toml(&plan, None).unwrap();
    assert!(text.contains("[requirements.octavia]"), "{text}");
    let back = plan_schema::parse_plan(&text, Path::new("p.toml"));
    assert!(back.is_ok(), "{:?}", back.err());

    let e = VioRules::merge_text(
        "[replay]\noctavia_path = \"v2/lbaas/\"\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("r.toml:2") && e.contains("replay.octavia_path"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Ordering property: an oracle over the snapshot's JSON.

fn read(dir: &Path, rel: &str, key: &str) -> Vec<Value> {
    let p = dir.join(rel);
    if !p.exists() {
        return Vec::new();
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v[key].as_array().cloned().unwrap_or_default()
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

/// Where each (resource, object id) is replayed: the step's position in the plan.
fn positions(plan: &Plan) -> HashMap<(&'static str, String), usize> {
    let mut out = HashMap::new();
    for (i, st) in plan.steps.iter().enumerate() {
        if let Action::ApiReplay(r) = &st.action {
            for o in &r.objects {
                out.entry((r.resource.as_str(), o.id.clone())).or_insert(i);
            }
        }
    }
    out
}

/// Every step a step needs, directly or not (through `depends_on`).
fn ancestors(plan: &Plan) -> Vec<std::collections::HashSet<usize>> {
    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut out: Vec<std::collections::HashSet<usize>> = Vec::with_capacity(plan.steps.len());
    // Steps are in dependency order: a step's dependencies come earlier.
    for st in &plan.steps {
        let mut set = std::collections::HashSet::new();
        for d in &st.depends_on {
            let d = index[d.as_str()];
            set.insert(d);
            set.extend(out[d].iter().copied());
        }
        out.push(set);
    }
    out
}

/// Every dependency named in the snapshot holds in `plan`: the step that needs an object comes
/// after the step that makes it, and needs it through `depends_on` (not by tie-break luck).
/// Returns how many edges were checked.
fn check_order(dir: &Path, plan: &Plan) -> Result<usize, String> {
    let pos = positions(plan);
    let anc = ancestors(plan);
    let mut checked = 0usize;
    let mut before = |a: (&'static str, &str), b: (&'static str, &str), why: &str| {
        let pa = pos.get(&(a.0, a.1.to_string()));
        let pb = pos.get(&(b.0, b.1.to_string()));
        match (pa, pb) {
            (Some(x), Some(y)) if x == y => {
                checked += 1;
                Ok(())
            }
            (Some(x), Some(y)) if x < y && anc[*y].contains(x) => {
                checked += 1;
                Ok(())
            }
            (Some(x), Some(y)) if x < y => Err(format!(
                "{why}: {} {} (step {x}) comes first but step {y} ({} {}) does not depend on it",
                a.0, a.1, b.0, b.1
            )),
            (Some(x), Some(y)) => Err(format!(
                "{why}: {} {} (step {x}) is not before {} {} (step {y})",
                a.0, a.1, b.0, b.1
            )),
            (None, _) => Err(format!("{why}: {} {} is not replayed", a.0, a.1)),
            (_, None) => Err(format!("{why}: {} {} is not replayed", b.0, b.1)),
        }
    };
    // Security group rules after their group and their remote group.
    for sg in read(dir, "neutron/security-groups.json", "security_groups") {
        for r in sg["security_group_rules"].as_array().into_iter().flatten() {
            let id = s(r, "id").unwrap();
            let own = s(r, "security_group_id").or(s(&sg, "id")).unwrap();
            before(
                ("security_group", own),
                ("security_group_rule", id),
                "rule after its group",
            )?;
            if let Some(remote) = s(r, "remote_group_id") {
                before(
                    ("security_group", remote),
                    ("security_group_rule", id),
                    "rule after its remote group",
                )?;
            }
        }
    }
    let networks = read(dir, "neutron/networks.json", "networks");
    let external: HashMap<&str, bool> = networks
        .iter()
        .map(|n| {
            (
                s(n, "id").unwrap(),
                n["router:external"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    // External networks (and their subnets) before the gateways of routers on them.
    let subnets = read(dir, "neutron/subnets.json", "subnets");
    for r in read(dir, "neutron/routers.json", "routers") {
        let rid = s(&r, "id").unwrap();
        if let Some(net) = r["external_gateway_info"]
            .get("network_id")
            .and_then(Value::as_str)
        {
            before(
                ("network", net),
                ("router_gateway", rid),
                "external network before gateway",
            )?;
            before(
                ("router", rid),
                ("router_gateway", rid),
                "router before its gateway",
            )?;
            for sn in subnets.iter().filter(|x| s(x, "network_id") == Some(net)) {
                before(
                    ("subnet", s(sn, "id").unwrap()),
                    ("router_gateway", rid),
                    "external subnet before gateway",
                )?;
            }
        }
    }
    // Interfaces before the ports of their network; ports after network and subnets; DHCP on
    // after the ports.
    let ports = read(dir, "neutron/ports.json", "ports");
    let is_if = |p: &Value| {
        matches!(
            s(p, "device_owner"),
            Some("network:router_interface") | Some("network:router_interface_distributed")
        )
    };
    let mut ifs_of_net: HashMap<&str, Vec<&str>> = HashMap::new();
    for p in ports.iter().filter(|p| is_if(p)) {
        let id = s(p, "id").unwrap();
        if !pos.contains_key(&("router_interface", id.to_string())) {
            continue; // skipped project
        }
        let router = s(p, "device_id").unwrap();
        before(
            ("router", router),
            ("router_interface", id),
            "router before its interface",
        )?;
        for f in p["fixed_ips"].as_array().into_iter().flatten() {
            before(
                ("subnet", s(f, "subnet_id").unwrap()),
                ("router_interface", id),
                "subnet before interface",
            )?;
        }
        ifs_of_net
            .entry(s(p, "network_id").unwrap())
            .or_default()
            .push(id);
    }
    let mut dhcp_after: Vec<(&str, &str)> = Vec::new();
    for p in ports.iter().filter(|p| !is_if(p)) {
        let id = s(p, "id").unwrap();
        if !pos.contains_key(&("port", id.to_string())) {
            continue; // not replayed (gateway, DHCP, LB, FIP ports; skipped projects)
        }
        let net = s(p, "network_id").unwrap();
        before(("network", net), ("port", id), "network before port")?;
        for f in p["fixed_ips"].as_array().into_iter().flatten() {
            before(
                ("subnet", s(f, "subnet_id").unwrap()),
                ("port", id),
                "subnet before port",
            )?;
            dhcp_after.push((s(f, "subnet_id").unwrap(), id));
        }
        for i in ifs_of_net.get(net).into_iter().flatten() {
            before(
                ("router_interface", i),
                ("port", id),
                "interface before port",
            )?;
        }
        for sg in p["security_groups"].as_array().into_iter().flatten() {
            before(
                ("security_group", sg.as_str().unwrap()),
                ("port", id),
                "security group before port",
            )?;
        }
        if let Some(q) = s(p, "qos_policy_id") {
            before(("qos_policy", q), ("port", id), "QoS policy before port")?;
        }
    }
    for (subnet, port) in dhcp_after {
        if pos.contains_key(&("subnet_dhcp", subnet.to_string())) {
            before(
                ("port", port),
                ("subnet_dhcp", subnet),
                "ports before DHCP on",
            )?;
        }
    }
    // Floating IPs after their port and their router's gateway.
    for f in read(dir, "neutron/floatingips.json", "floatingips") {
        let id = s(&f, "id").unwrap();
        if let Some(p) = s(&f, "port_id")
            && pos.contains_key(&("port", p.to_string()))
        {
            before(("port", p), ("floatingip", id), "port before floating IP")?;
        }
        if let Some(r) = s(&f, "router_id") {
            before(
                ("router_gateway", r),
                ("floatingip", id),
                "gateway before floating IP",
            )?;
        }
    }
    // Octavia: listener after LB, pool after LB and listeners, member after pool, HM after
    // pool, L7 policy after listener and redirect pool; external-VIP LBs before the others.
    for l in read(dir, "octavia/listeners.json", "listeners") {
        for lb in l["loadbalancers"].as_array().into_iter().flatten() {
            before(
                ("loadbalancer", s(lb, "id").unwrap()),
                ("listener", s(&l, "id").unwrap()),
                "LB before listener",
            )?;
        }
    }
    for p in read(dir, "octavia/pools.json", "pools") {
        let id = s(&p, "id").unwrap();
        for lb in p["loadbalancers"].as_array().into_iter().flatten() {
            before(
                ("loadbalancer", s(lb, "id").unwrap()),
                ("pool", id),
                "LB before pool",
            )?;
        }
        for l in p["listeners"].as_array().into_iter().flatten() {
            before(
                ("listener", s(l, "id").unwrap()),
                ("pool", id),
                "listener before pool",
            )?;
        }
    }
    let members_path = dir.join("octavia/members.json");
    if members_path.exists() {
        let v: Value =
            serde_json::from_str(&std::fs::read_to_string(members_path).unwrap()).unwrap();
        for (pool, body) in v.as_object().unwrap() {
            for m in body["members"].as_array().into_iter().flatten() {
                before(
                    ("pool", pool),
                    ("member", s(m, "id").unwrap()),
                    "pool before member",
                )?;
                if let Some(sn) = s(m, "subnet_id") {
                    before(
                        ("subnet", sn),
                        ("member", s(m, "id").unwrap()),
                        "subnet before member",
                    )?;
                }
            }
        }
    }
    for h in read(dir, "octavia/healthmonitors.json", "healthmonitors") {
        for p in h["pools"].as_array().into_iter().flatten() {
            before(
                ("pool", s(p, "id").unwrap()),
                ("healthmonitor", s(&h, "id").unwrap()),
                "pool before HM",
            )?;
        }
    }
    for l7 in read(dir, "octavia/l7policies.json", "l7policies") {
        let id = s(&l7, "id").unwrap();
        before(
            ("listener", s(&l7, "listener_id").unwrap()),
            ("l7policy", id),
            "listener before L7 policy",
        )?;
        if let Some(p) = s(&l7, "redirect_pool_id") {
            before(
                ("pool", p),
                ("l7policy", id),
                "redirect pool before L7 policy",
            )?;
        }
    }
    let subnet_net: HashMap<&str, &str> = subnets
        .iter()
        .map(|x| (s(x, "id").unwrap(), s(x, "network_id").unwrap()))
        .collect();
    let lbs = read(dir, "octavia/loadbalancers.json", "loadbalancers");
    let ext_lb = |lb: &Value| {
        s(lb, "vip_subnet_id")
            .and_then(|sn| subnet_net.get(sn))
            .is_some_and(|n| external.get(n).copied().unwrap_or(false))
    };
    // External-VIP LBs first: an order, not a dependency.
    let lb_pos = |l: &Value| {
        pos.get(&("loadbalancer", s(l, "id").unwrap().to_string()))
            .copied()
    };
    let last_ext = lbs.iter().filter(|l| ext_lb(l)).filter_map(lb_pos).max();
    let first_int = lbs.iter().filter(|l| !ext_lb(l)).filter_map(lb_pos).min();
    if let (Some(a), Some(b)) = (last_ext, first_int)
        && a > b
    {
        return Err("an LB with an internal VIP comes before one with an external VIP".into());
    }
    // Edge phases after the whole replay: every replay step comes before the first non-replay
    // step of a later phase.
    let last_replay = plan.steps.iter().rposition(|x| x.phase == Phase::Replay);
    let first_after = plan.steps.iter().position(|x| x.phase > Phase::Replay);
    if let (Some(a), Some(b)) = (last_replay, first_after)
        && a > b
    {
        return Err("a replay step comes after the edge preparation".into());
    }
    Ok(checked)
}

#[test]
fn the_example_keeps_every_dependency() {
    for dir in [vio_small(), vio_small_clean()] {
        let plan = plan_of(&dir, "x");
        let n = check_order(&dir, &plan).unwrap();
        assert!(n > 50, "only {n} edges checked");
    }
}

/// The generator writes no `openstack` section in metadata.json (collect does); the plan's
/// target needs the Keystone address.
pub fn complete_metadata(dir: &Path) {
    let p = dir.join("metadata.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    if v.get("openstack").is_none() {
        v["openstack"] = serde_json::json!({"auth_url": "https://vio.synth.example:5000/v3"});
    }
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 0, ..ProptestConfig::default() })]
    #[test]
    fn generated_deployments_keep_every_dependency(seed in 0u64..1000, ports in 100usize..300) {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("vio");
        simulator::vio::generate::generate(
            &simulator::vio::generate::VioGenerateSpec { seed, ports },
            &dir,
        )
        .unwrap();
        complete_metadata(&dir);
        let snapshot = VioSnapshot::load(&dir).unwrap();
        let plan = build_vio_plan(&snapshot, &VioRules::builtin(), &opts("x")).unwrap();
        let n = check_order(&dir, &plan).map_err(TestCaseError::fail)?;
        prop_assert!(n >= ports / 2, "only {} edges checked", n);
    }
}

/// A router's static routes promise the tier-1 static routes the Policy plugin writes (id
/// `<destination with "/" as "_">-<nexthop>`); a route the replay would refuse promises none.
#[test]
fn static_routes_map_to_the_plugins_static_route_ids() {
    let mut s = VioSnapshot::load(&vio_small_clean()).unwrap();
    let r = s
        .neutron
        .routers
        .iter_mut()
        .find(|r| r.external_gateway_info.is_some())
        .unwrap();
    r.routes = vec![
        serde_json::json!({"destination": "10.9.0.0/16", "nexthop": "10.0.1.254"}),
        serde_json::json!({"destination": "10.8.0.0/24"}),
    ];
    let id = r.id.clone();
    let plan = build_vio_plan(&s, &VioRules::builtin(), &opts("edited")).unwrap();
    let step = plan
        .steps
        .iter()
        .find(|st| st.id == format!("replay/router-routes/{id}"))
        .unwrap();
    let Action::ApiReplay(r) = &step.action else {
        panic!("{step:?}")
    };
    assert_eq!(
        r.objects[0].policy_paths,
        vec![format!(
            "/infra/tier-1s/{id}/static-routes/10.9.0.0_16-10.0.1.254"
        )]
    );
}

fn edge_cutover(plan: &Plan) -> &plan_schema::vio::EdgeCutover {
    plan.steps
        .iter()
        .find_map(|s| match &s.action {
            Action::EdgeCutover(c) => Some(c),
            _ => None,
        })
        .expect("an edge cutover")
}

/// The built-in rules foresee the coordinator's confirmation of each mapped DLR's gateway and
/// answer it with the gateway the mapping names; an explicit answer for the same request wins;
/// `per = "edge"` answers once per NSX-V edge; `foreseen_feedback = []` answers nothing ahead.
#[test]
fn foreseen_feedback_is_one_answer_per_object_of_the_snapshot() {
    let snap = VioSnapshot::load(&vio_small_clean()).unwrap();
    let plan = build_vio_plan(&snap, &VioRules::builtin(), &opts("x")).unwrap();
    let c = edge_cutover(&plan);
    assert!(!c.mapping.is_empty());
    assert_eq!(c.feedback.len(), c.mapping.len());
    for (m, f) in c.mapping.iter().zip(&c.feedback) {
        assert_eq!(f.request, "");
        assert_eq!(
            (f.vertical.as_str(), f.sub_vertical.as_str()),
            ("EDGE", "DLR_GATEWAY")
        );
        assert_eq!(f.object, m.v_edges[0]);
        assert_eq!(
            (f.action.as_str(), f.value.as_deref()),
            ("map", Some(m.policy_gateway_name.as_str()))
        );
    }
    let edge = c.mapping[0].v_edges[0].clone();

    // An explicit answer for the same request (a reviewer's `skip`) replaces the foreseen one.
    let rules = VioRules::merge_text(
        &format!(
            "[[plan.feedback]]\nrun = \"edge_cutover\"\nvertical = \"EDGE\"\nsub_vertical = \"DLR_GATEWAY\"\nobject = \"{edge}\"\naction = \"skip\"\n\n\
             [[plan.foreseen_feedback]]\nrun = \"host_migration\"\nper = \"edge\"\nvertical = \"HOST\"\naction = \"ACCEPT\"\nvalue = \"edge {{edge_id}}\"\n"
        ),
        Path::new("rules.toml"),
    )
    .unwrap();
    let plan = build_vio_plan(&snap, &rules, &opts("x")).unwrap();
    let c = edge_cutover(&plan);
    // The user's `foreseen_feedback` replaced the built-in list: only the explicit answer.
    assert_eq!(c.feedback.len(), 1, "{:?}", c.feedback);
    assert_eq!(
        (c.feedback[0].object.as_str(), c.feedback[0].action.as_str()),
        (edge.as_str(), "skip")
    );
    let h = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::HostMigration(h) => Some(h),
            _ => None,
        })
        .unwrap();
    let mut edges: Vec<&str> = snap.nsxv.edges.iter().map(|e| e.id.as_str()).collect();
    edges.sort();
    let objects: Vec<&str> = h.feedback.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(objects, edges);
    assert!(
        h.feedback
            .iter()
            .all(|f| f.value.as_deref() == Some(&format!("edge {}", f.object)[..]))
    );
    // The plan shows each answer with what it names.
    let shown = render::show_view(&plan, Format::Text { color: false }, View::Full);
    assert!(
        shown.contains(&format!("feedback EDGE/DLR_GATEWAY {edge}: skip")),
        "{shown}"
    );

    let none =
        VioRules::merge_text("[plan]\nforeseen_feedback = []\n", Path::new("r.toml")).unwrap();
    let plan = build_vio_plan(&snap, &none, &opts("x")).unwrap();
    assert!(edge_cutover(&plan).feedback.is_empty());
}

#[test]
fn a_bad_feedback_rule_is_a_located_error() {
    let e = VioRules::merge_text(
        "[plan]\n[[plan.feedback]]\nrun = \"edge_cutover\"\nrequest = \"h\"\nobject = \"edge-1\"\nvertical = \"EDGE\"\naction = \"skip\"\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("r.toml:2") && e.contains("not both"), "{e}");
    let e = VioRules::merge_text(
        "[[plan.foreseen_feedback]]\nrun = \"edge_cutover\"\nper = \"edge\"\nvertical = \"EDGE\"\naction = \"map\"\nvalue = \"{router_id}\"\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("r.toml:1") && e.contains("{router_id}"), "{e}");
}

/// A firewall group on router interface ports promises what the Policy plugin's FWaaS driver
/// writes, in the router's project's domain: the router's gateway policy, a group per
/// interface network, and a group per "non-any" CIDR of its enabled rules. The oracle reads the
/// snapshot's JSON files.
#[test]
fn firewall_groups_promise_the_fwaas_drivers_gateway_policy_and_groups() {
    let dir = vio_small_clean();
    let plan = plan_of(&dir, "examples/inventories/vio-small-clean");
    let ports = read(&dir, "neutron/ports.json", "ports");
    let routers = read(&dir, "neutron/routers.json", "routers");
    let policies = read(&dir, "neutron/firewall-policies.json", "firewall_policies");
    let rules = read(&dir, "neutron/firewall-rules.json", "firewall_rules");
    let by_id = |list: &[Value], id: &str| list.iter().find(|x| s(x, "id") == Some(id)).cloned();
    let mut checked = 0;
    for g in read(&dir, "neutron/firewall-groups.json", "firewall_groups") {
        let mut want = std::collections::BTreeSet::new();
        for p in g["ports"].as_array().unwrap() {
            let port = by_id(&ports, p.as_str().unwrap()).unwrap();
            assert_eq!(s(&port, "device_owner"), Some("network:router_interface"));
            let router = by_id(&routers, s(&port, "device_id").unwrap()).unwrap();
            let domain = format!("/infra/domains/{}", s(&router, "project_id").unwrap());
            let rid = s(&router, "id").unwrap();
            want.insert(format!("{domain}/gateway-policies/{rid}"));
            want.insert(format!(
                "{domain}/groups/{rid}-{}",
                s(&port, "network_id").unwrap()
            ));
            for pid in ["ingress_firewall_policy_id", "egress_firewall_policy_id"] {
                let Some(pol) = s(&g, pid).and_then(|id| by_id(&policies, id)) else {
                    continue;
                };
                for r in pol["firewall_rules"].as_array().unwrap() {
                    let rule = by_id(&rules, r.as_str().unwrap()).unwrap();
                    for dir in ["source", "destination"] {
                        if let Some(c) = s(&rule, &format!("{dir}_ip_address"))
                            && !c.starts_with("0.0.0.0/")
                        {
                            want.insert(format!(
                                "{domain}/groups/{dir}-{}",
                                s(&rule, "id").unwrap()
                            ));
                        }
                    }
                }
            }
        }
        let got: Vec<String> = plan
            .steps
            .iter()
            .find_map(|st| match &st.action {
                Action::ApiReplay(r) if r.resource == ReplayResource::FirewallGroup => r
                    .objects
                    .iter()
                    .find(|o| Some(o.id.as_str()) == s(&g, "id"))
                    .map(|o| o.policy_paths.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            want.iter().any(|p| p.contains("/groups/destination-")),
            "{want:?}"
        );
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        checked += 1;
    }
    assert!(checked > 0);
}

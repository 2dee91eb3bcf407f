//! The plan for the example inventory (snapshot), determinism, ordering, bad inputs.

use std::collections::{BTreeSet, HashMap};

use crate::common::{Fixture, example_dir, plan_dir, try_plan_dir};
use plan_schema::mp::Action;
use plan_schema::render::{self, Format};

#[test]
fn example_plan_snapshot() {
    let plan = plan_dir(&example_dir(), None);
    let text = plan_schema::write::to_toml(&plan, None).unwrap();
    // The written plan reads back valid and equal.
    let again = plan_schema::parse_plan(&text, std::path::Path::new("plan.toml")).unwrap();
    assert_eq!(again, plan_schema::AnyPlan::MpToPolicy(plan.clone()));
    insta::assert_snapshot!("example_plan_toml", text);
    insta::assert_snapshot!(
        "example_plan_show",
        render::show(&plan, Format::Text { color: false })
    );
}

#[test]
fn every_change_of_the_example_plan_says_why() {
    let plan = plan_dir(&example_dir(), None);
    let rules: BTreeSet<&str> = plan.rules.iter().map(|r| r.id.as_str()).collect();
    let mut imports = 0;
    for step in &plan.steps {
        match &step.action {
            Action::ImportBatch(b) => {
                for r in &b.resources {
                    imports += 1;
                    assert!(
                        r.scope.is_some(),
                        "{}: {} has no scope",
                        step.id,
                        r.manager_id
                    );
                    // A Policy id the planner chose names its rule; one NSX chooses has none.
                    assert_eq!(
                        r.policy_id.is_some(),
                        r.rule.is_some(),
                        "{}: {}",
                        step.id,
                        r.manager_id
                    );
                    if let Some(rule) = &r.rule {
                        assert!(rules.contains(rule.as_str()), "{rule} not in [[rules]]");
                    }
                }
            }
            Action::PolicyUpdate(u) => {
                assert!(u.tags_add.iter().all(|t| rules.contains(t.rule.as_str())));
                assert!(
                    u.tags_remove
                        .iter()
                        .all(|t| rules.contains(t.rule.as_str()))
                );
                if let Some(d) = &u.display_name {
                    assert!(rules.contains(d.rule.as_str()));
                }
            }
            Action::DfwSectionCreate(c) => assert!(!c.reason.is_empty()),
            Action::DfwSectionMove(m) => assert!(!m.reason.is_empty()),
            Action::DfwRuleMove(m) => assert!(!m.reason.is_empty()),
        }
    }
    assert!(imports > 50, "{imports}");
    // `show` prints each imported object's reason on its line.
    let text = render::show(&plan, Format::Text { color: false });
    let import_lines = text.lines().filter(|l| l.contains(" -> ")).count();
    let with_reason = text
        .lines()
        .filter(|l| l.contains(" -> ") && l.trim_end().ends_with(']'))
        .count();
    assert_eq!(import_lines, imports);
    assert_eq!(with_reason, imports);
}

#[test]
fn same_inputs_give_a_byte_identical_plan() {
    let a = plan_schema::write::to_toml(&plan_dir(&example_dir(), None), None).unwrap();
    let b = plan_schema::write::to_toml(&plan_dir(&example_dir(), None), None).unwrap();
    assert_eq!(a, b);
}

#[test]
fn file_layout_and_listing_order_do_not_change_the_plan() {
    // The same objects listed in another order and formatted differently (as another collector
    // would write them) give the same fingerprints and the same plan, except DFW order, which is
    // data: firewall sections keep their order.
    let f = Fixture::new();
    for file in [
        "logical-ports",
        "ip-pools",
        "logical-switches",
        "nat-rules",
        "lb-pools",
    ] {
        f.edit_json(&format!("nsx/{file}.json"), |v| {
            v["results"].as_array_mut().unwrap().reverse()
        });
    }
    f.edit_json("k8s/pods.json", |v| {
        v["items"].as_array_mut().unwrap().reverse()
    });
    let shuffled = f.plan();
    let original = plan_dir(&example_dir(), None);
    assert_eq!(shuffled.inputs, original.inputs);
    assert_eq!(shuffled.plan_id, original.plan_id);
}

#[test]
fn import_steps_reference_only_earlier_steps_and_updates_follow_their_imports() {
    let plan = plan_dir(&example_dir(), None);
    let position: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    for (i, s) in plan.steps.iter().enumerate() {
        for d in &s.depends_on {
            assert!(position[d.as_str()] < i, "{} depends on later {d}", s.id);
        }
    }
    // Every update depends on the import of its object.
    for s in &plan.steps {
        if let Action::PolicyUpdate(u) = &s.action {
            let dep = &s.depends_on[0];
            let imp = plan.step(dep).unwrap();
            let Action::ImportBatch(b) = &imp.action else {
                panic!("{dep} is not an import")
            };
            assert!(
                b.resources
                    .iter()
                    .any(|r| Some(&r.manager_id) == u.manager_id.as_ref())
            );
        }
    }
}

#[test]
fn one_migration_type_per_request_and_dfw_sections_last() {
    let plan = plan_dir(&example_dir(), None);
    let types: Vec<_> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b.migration_type),
            _ => None,
        })
        .collect();
    assert_eq!(
        types.last(),
        Some(&plan_schema::mp::MigrationType::DfwSection)
    );
    // Two passes over the type order (shared resources, then the cluster's), then DFW: the
    // type order restarts at most once before the DFW sections.
    let order = planner::Rules::builtin().import.order;
    let rank = |t: &plan_schema::mp::MigrationType| order.iter().position(|x| x == t).unwrap();
    let restarts = types
        .windows(2)
        .filter(|w| rank(&w[1]) < rank(&w[0]))
        .count();
    assert!(restarts <= 1, "{types:?}");
}

#[test]
fn shared_resources_are_imported_before_any_object_of_the_cluster() {
    let plan = plan_dir(&example_dir(), None);
    let inv = planner::Inventory::load(&example_dir()).unwrap();
    let cluster_owned: BTreeSet<&str> = inv
        .objects
        .iter()
        .filter(|o| o.tag("ncp/cluster") == Some(plan.target.cluster.as_str()))
        .map(|o| o.id.as_str())
        .collect();
    let spec = std::fs::read_to_string(example_dir().join("user-spec.yaml")).unwrap();
    let named_shared = |name: &str, id: &str| {
        spec.contains(&format!("display_name: {name}\n")) || spec.contains(&format!("\"{id}\""))
    };
    let (mut last_shared, mut first_cluster) = (None, None);
    for (i, s) in plan.steps.iter().enumerate() {
        let Action::ImportBatch(b) = &s.action else {
            continue;
        };
        if b.migration_type == plan_schema::mp::MigrationType::DfwSection {
            continue;
        }
        let shared = b
            .resources
            .iter()
            .filter(|r| named_shared(&r.display_name, &r.manager_id))
            .count();
        let owned = b
            .resources
            .iter()
            .filter(|r| cluster_owned.contains(r.manager_id.as_str()))
            .count();
        assert!(
            shared == 0 || owned == 0,
            "{} mixes shared and cluster objects",
            s.id
        );
        if shared > 0 {
            last_shared = Some(i);
        }
        if owned > 0 && first_cluster.is_none() {
            first_cluster = Some(i);
        }
    }
    let (last_shared, first_cluster) = (last_shared.unwrap(), first_cluster.unwrap());
    assert!(
        last_shared < first_cluster,
        "{} (shared) comes after {} (cluster)",
        plan.steps[last_shared].id,
        plan.steps[first_cluster].id
    );
}

#[test]
fn bad_inputs_name_the_file_and_field() {
    // Missing directory.
    let err = try_plan_dir(std::path::Path::new("/nonexistent/inventory"), None).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/inventory: cannot read"),
        "{err}"
    );

    // Malformed JSON: file, line and column.
    let f = Fixture::new();
    f.edit_text("nsx/ip-pools.json", |t| {
        t.replacen("\"results\"", "\"results\" oops", 1)
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("ip-pools.json:") && err.contains("invalid JSON"),
        "{err}"
    );

    // An object without id: file and JSON pointer.
    let f = Fixture::new();
    f.edit_json("nsx/ip-blocks.json", |v| {
        v["results"][0].as_object_mut().unwrap().remove("id");
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("ip-blocks.json: /results/0: object without an `id`"),
        "{err}"
    );

    // Unknown snapshot file (a typo).
    let f = Fixture::new();
    std::fs::write(
        f.path().join("nsx/logical-swtiches.json"),
        "{\"results\": []}",
    )
    .unwrap();
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("logical-swtiches.json") && err.contains("unknown snapshot file"),
        "{err}"
    );

    // Malformed YAML and an unknown key in the user spec.
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("version: 1\n", "version: [1\n")
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    // The example spec's `version: 1` is on line 4 (after three comment lines).
    assert!(
        err.contains("user-spec.yaml: ") && err.contains("line 4, column 10"),
        "{err}"
    );
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("    product: vanilla\n", "    prodcut: vanilla\n")
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("user-spec.yaml: ")
            && err.contains("line 7, column 5")
            && err.contains("unknown field `prodcut`"),
        "{err}"
    );

    // A user spec without this cluster.
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("  kube-prod-01:\n", "  kube-prod-02:\n")
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("kube-prod-01") && err.contains("kube-prod-02"),
        "{err}"
    );

    // Wrong list kind in a Kubernetes file.
    let f = Fixture::new();
    f.edit_json("k8s/pods.json", |v| {
        v["kind"] = serde_json::json!("ServiceList")
    });
    let err = try_plan_dir(f.path(), None).unwrap_err().to_string();
    assert!(
        err.contains("pods.json: /kind: expected kind PodList"),
        "{err}"
    );
}

#[test]
fn rules_file_overrides_merge_and_unknown_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(
        &path,
        "format_version = 1\n[dfw]\nadmin_sections = \"above\"\n",
    )
    .unwrap();
    let rules = planner::Rules::load_with_overrides(&path).unwrap();
    assert_eq!(rules.dfw.admin_sections, planner::rules::Placement::Above);
    // Untouched keys keep their defaults.
    assert_eq!(rules.ncp.max_port_tags, 29);

    std::fs::write(&path, "[ncp]\nmax_port_tag = 10\n").unwrap();
    let err = planner::Rules::load_with_overrides(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rules.toml:2") && err.contains("max_port_tag"),
        "{err}"
    );

    std::fs::write(&path, "[dfw\n").unwrap();
    let err = planner::Rules::load_with_overrides(&path)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rules.toml:1:") && err.contains("TOML syntax"),
        "{err}"
    );
}

#[test]
fn shared_policy_ids_follow_the_display_name_rule() {
    assert_eq!(
        planner::display_name_policy_id("mp display/name"),
        "mp_display_name"
    );
    assert_eq!(planner::display_name_policy_id("....."), "_.....");
    assert_eq!(planner::display_name_policy_id("t0-shared"), "t0-shared");
}

/// Manager and Policy id of each imported object of the plan, by migration type and display name.
fn policy_ids_by_name(plan: &plan_schema::mp::Plan) -> HashMap<String, (String, Option<String>)> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) => Some(b.resources.iter().map(move |r| {
                (
                    format!("{} {}", b.migration_type.as_str(), r.display_name),
                    (r.manager_id.clone(), r.policy_id.clone()),
                )
            })),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn shared_resources_of_a_tkgi_cluster_keep_their_mp_id_and_of_a_vanilla_one_get_the_name_rule() {
    let shared = [
        ("TIER0", "t0-shared"),
        ("IPBLOCK", "k8s-pod-block"),
        ("IPPOOL", "snat-pool"),
        ("IPPOOL", "lb-vip-pool"),
    ];
    // Vanilla (the example's `product: vanilla`): the display-name rule.
    let vanilla = policy_ids_by_name(&plan_dir(&example_dir(), None));
    for (t, name) in shared {
        let (mp, pid) = &vanilla[&format!("{t} {name}")];
        assert_eq!(
            pid.as_deref(),
            Some(planner::display_name_policy_id(name).as_str()),
            "{name}"
        );
        assert_ne!(pid.as_deref(), Some(mp.as_str()), "{name}: ids differ here");
    }
    // The same spec saying `product: tkgi`: the MP UUIDs.
    let f = Fixture::new();
    f.edit_text("user-spec.yaml", |t| {
        t.replace("product: vanilla", "product: tkgi")
    });
    let tkgi = f.plan();
    assert!(
        tkgi.rules.iter().any(|r| r.id == "policy-id/shared-mp-id"),
        "the rule is named in the plan"
    );
    let tkgi = policy_ids_by_name(&tkgi);
    for (t, name) in shared {
        let (mp, pid) = &tkgi[&format!("{t} {name}")];
        assert_eq!(pid.as_deref(), Some(mp.as_str()), "{name}");
    }
    // NCP-owned objects are not affected.
    // Objects that keep their MP id under the vanilla rules (the NCP-owned ones) keep it.
    let mut kept = 0;
    for (key, (mp, pid)) in &vanilla {
        if pid.as_deref() == Some(mp.as_str()) {
            assert_eq!(&tkgi[key].1, pid, "{key}");
            kept += 1;
        }
    }
    assert!(kept > 50, "{kept}");
}

/// Import batches of one migration type, as (manager ids) per batch.
fn batches_of(plan: &plan_schema::mp::Plan, t: plan_schema::mp::MigrationType) -> Vec<Vec<String>> {
    plan.steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::ImportBatch(b) if b.migration_type == t => {
                Some(b.resources.iter().map(|r| r.manager_id.clone()).collect())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn batch_limits_from_a_rules_override() {
    use plan_schema::mp::MigrationType as T;
    let f = Fixture::new();
    let inv = planner::Inventory::load(f.path()).unwrap();
    let switch_of: HashMap<String, String> = inv
        .objects
        .iter()
        .filter(|o| o.resource_type == "LogicalPort")
        .map(|o| {
            let s = o.raw["logical_switch_id"].as_str().unwrap().to_string();
            (o.id.clone(), s)
        })
        .collect();
    let base = f.plan();
    let all_switches: usize = batches_of(&base, T::LogicalSwitch)
        .iter()
        .map(Vec::len)
        .sum();
    let all_ports: usize = batches_of(&base, T::LogicalPort).iter().map(Vec::len).sum();
    assert!(
        all_switches > 2 && all_ports > 2,
        "{all_switches} {all_ports}"
    );

    let plan = f.plan_rules("[import.batch]\nLOGICAL_SWITCH = 2\n");
    let switches = batches_of(&plan, T::LogicalSwitch);
    assert!(
        switches.iter().all(|b| !b.is_empty() && b.len() <= 2),
        "{switches:?}"
    );
    assert_eq!(switches.iter().map(Vec::len).sum::<usize>(), all_switches);
    assert!(switches.len() >= all_switches.div_ceil(2));

    for per_switch in [true, false] {
        let plan = f.plan_rules(&format!(
            "[import]\nlogical_ports_per_switch = {per_switch}\n[import.batch]\nLOGICAL_PORT = 2\n"
        ));
        let ports = batches_of(&plan, T::LogicalPort);
        assert!(
            ports.iter().all(|b| !b.is_empty() && b.len() <= 2),
            "{ports:?}"
        );
        assert_eq!(ports.iter().map(Vec::len).sum::<usize>(), all_ports);
        let mixed = ports.iter().any(|b| {
            b.iter()
                .map(|p| &switch_of[p])
                .collect::<BTreeSet<_>>()
                .len()
                > 1
        });
        if per_switch {
            assert!(!mixed, "a per-switch batch mixes switches: {ports:?}");
        } else {
            // Without the rule, batches fill up across switches (the example has switches with
            // an odd number of ports, so some batch must span two).
            assert!(mixed, "{ports:?}");
        }
    }
}

#[test]
fn several_admin_sections_keep_their_relative_order_when_moved() {
    use plan_schema::mp::InsertOp;
    use planner::rules::Placement;
    // A second admin section inside NCP's range, after ops-backup-exception.
    let f = Fixture::new();
    f.edit_json("nsx/firewall-sections.json", |v| {
        let list = v["results"].as_array_mut().unwrap();
        let i = list
            .iter()
            .position(|s| s["display_name"] == "ops-backup-exception")
            .unwrap();
        let mut copy = list[i].clone();
        copy["id"] = serde_json::json!("7c1d94f4-0000-4000-8000-00000000000b");
        copy["display_name"] = serde_json::json!("ops-second-exception");
        copy["rules"] = serde_json::json!([]);
        list.insert(i + 2, copy);
    });
    let inv = planner::Inventory::load(f.path()).unwrap();
    let original: Vec<String> = inv
        .objects
        .iter()
        .filter(|o| o.resource_type == "FirewallSection")
        .map(|o| o.display_name.clone())
        .collect();
    // The inventory keeps the file's (precedence) order.
    let a = original
        .iter()
        .position(|n| n == "ops-backup-exception")
        .unwrap();
    let b = original
        .iter()
        .position(|n| n == "ops-second-exception")
        .unwrap();
    assert!(a < b, "{original:?}");

    for placement in [Placement::Below, Placement::Above] {
        let plan = f.plan_with(Some(placement));
        let moves: Vec<&plan_schema::mp::DfwSectionMove> = plan
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                Action::DfwSectionMove(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(moves.len(), 2, "{placement:?}");
        // Apply the moves in plan order to the section list.
        let mut order = original.clone();
        for m in &moves {
            let name = &m.section.display_name;
            order.retain(|n| n != name);
            let anchor = order
                .iter()
                .position(|n| *n == m.anchor.as_ref().unwrap().display_name)
                .unwrap();
            match m.operation {
                InsertOp::InsertAfter => order.insert(anchor + 1, name.clone()),
                InsertOp::InsertBefore => order.insert(anchor, name.clone()),
                ref other => panic!("unexpected {other:?}"),
            }
        }
        // The second move waits for the first.
        let second = plan
            .steps
            .iter()
            .find(|s| matches!(&s.action, Action::DfwSectionMove(m) if m.section.display_name == moves[1].section.display_name))
            .unwrap();
        let first = plan
            .steps
            .iter()
            .find(|s| matches!(&s.action, Action::DfwSectionMove(m) if m.section.display_name == moves[0].section.display_name))
            .unwrap();
        assert!(second.depends_on.contains(&first.id), "{placement:?}");
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(
            pos("ops-backup-exception") < pos("ops-second-exception"),
            "{placement:?}: {order:?}"
        );
        let (top, bottom) = (
            pos("kube-prod-01-ncp-top-marker"),
            pos("kube-prod-01-ncp-bottom-marker"),
        );
        match placement {
            Placement::Below => {
                assert_eq!(pos("ops-backup-exception"), bottom + 1, "{order:?}");
                assert_eq!(pos("ops-second-exception"), bottom + 2, "{order:?}");
            }
            Placement::Above => {
                assert_eq!(pos("ops-backup-exception") + 2, top, "{order:?}");
                assert_eq!(pos("ops-second-exception") + 1, top, "{order:?}");
            }
        }
    }
}

/// Update step ids shorten a 36-byte (UUID-sized) Manager id to its first 8 bytes; an id whose
/// byte 8 falls inside a multi-byte character used to panic there.
#[test]
fn a_uuid_sized_id_with_a_multibyte_character_at_byte_8_is_planned() {
    let old = "1d45595d-2b38-40cf-a2b4-67be13dc085a";
    let new = "1d45595é2b38-40cf-a2b4-67be13dc085a";
    assert_eq!(new.len(), 36);
    assert!(!new.is_char_boundary(8));
    let fx = Fixture::new();
    // The virtual server and the LB service that lists it.
    for file in ["nsx/lb-virtual-servers.json", "nsx/lb-services.json"] {
        fx.edit_text(file, |t| {
            assert!(t.contains(old), "{file}");
            t.replace(old, new)
        });
    }
    let plan = fx.plan();
    let update = plan
        .steps
        .iter()
        .find(|s| matches!(&s.action, Action::PolicyUpdate(u) if u.manager_id.as_deref() == Some(new)))
        .expect("the virtual server's update step");
    assert_eq!(update.id, format!("update/lb-virtual-server/{new}"));
}

//! Fixtures: the example inventory, copied to a temporary directory and edited per test.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use plan_schema::mp::Plan;
use planner::rules::Placement;
use planner::{Inventory, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};
use serde_json::Value;

pub const CLUSTER: &str = "kube-prod-01";

pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/inventories/small-cluster")
}

/// A writable copy of the example inventory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&example_dir(), dir.path());
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn edit_json(&self, rel: &str, f: impl FnOnce(&mut Value)) -> &Self {
        let path = self.path().join(rel);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        self
    }

    /// Edit every NSX object of a file (`results`) whose display_name matches.
    pub fn edit_object(&self, file: &str, name: &str, f: impl Fn(&mut Value)) -> &Self {
        self.edit_json(&format!("nsx/{file}.json"), |v| {
            let mut hit = false;
            for o in v["results"].as_array_mut().unwrap() {
                if o["display_name"] == name {
                    f(o);
                    hit = true;
                }
            }
            assert!(hit, "no {name} in {file}");
        })
    }

    pub fn edit_text(&self, rel: &str, f: impl FnOnce(String) -> String) -> &Self {
        let path = self.path().join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
        self
    }

    pub fn plan(&self) -> Plan {
        plan_dir(self.path(), None)
    }

    pub fn plan_with(&self, placement: Option<Placement>) -> Plan {
        plan_dir(self.path(), placement)
    }

    /// A plan made with the built-in rules and `overrides` (a rules file's text) merged over them.
    pub fn plan_rules(&self, overrides: &str) -> Plan {
        let rules = Rules::merge_text(overrides, Path::new("test-rules.toml")).unwrap();
        try_plan_dir_rules(self.path(), None, &rules).unwrap()
    }
}

pub fn plan_dir(dir: &Path, placement: Option<Placement>) -> Plan {
    try_plan_dir(dir, placement).unwrap()
}

pub fn try_plan_dir(dir: &Path, placement: Option<Placement>) -> Result<Plan, planner::PlanError> {
    try_plan_dir_rules(dir, placement, &Rules::builtin())
}

pub fn try_plan_dir_rules(
    dir: &Path,
    placement: Option<Placement>,
    rules: &Rules,
) -> Result<Plan, planner::PlanError> {
    let inventory = Inventory::load(dir)?;
    let spec_path = dir.join("user-spec.yaml");
    let spec_bytes = std::fs::read(&spec_path).unwrap_or_default();
    let spec = if spec_path.exists() {
        Some(UserSpec::load(&spec_path)?)
    } else {
        None
    };
    let inputs = PlanInputs {
        inventory: &inventory,
        inventory_source: "inventory".into(),
        user_spec: spec.as_ref().map(|s| SourcedSpec {
            spec: s,
            source: "inventory/user-spec.yaml".into(),
            sha256: plan_schema::sha256_hex(&spec_bytes),
        }),
        rules,
        rules_source: None,
    };
    let opts = PlanOptions {
        cluster: CLUSTER.into(),
        created_at: "2026-11-20T10:00:00Z".into(),
        tool_version: "0.1.0".into(),
        dfw_admin_sections: placement,
    };
    planner::build_plan(&inputs, &opts)
}

pub fn checks(plan: &Plan) -> Vec<String> {
    plan.findings
        .iter()
        .map(|f| format!("{}:{}", f.severity.as_str(), f.check))
        .collect()
}

pub fn has(plan: &Plan, severity: &str, check: &str) -> bool {
    checks(plan).contains(&format!("{severity}:{check}"))
}

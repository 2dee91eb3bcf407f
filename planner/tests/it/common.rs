//! Fixtures: the example inventory, copied to a temporary directory and edited per test.

use std::path::{Path, PathBuf};

use plan_schema::mp::Plan;
use planner::Rules;
use planner::rules::Placement;
use serde_json::Value;
use test_support::PlanParams;

pub const CLUSTER: &str = "kube-prod-01";

pub fn example_dir() -> PathBuf {
    test_support::example_inventory()
}

/// A writable copy of the example inventory.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        test_support::copy_dir(&example_dir(), dir.path());
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
    test_support::plan_inventory(
        dir,
        &PlanParams {
            inventory_source: "inventory",
            cluster: CLUSTER,
            created_at: "2026-11-20T10:00:00Z",
            tool_version: "0.1.0",
            rules,
            placement,
        },
    )
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

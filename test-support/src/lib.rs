//! Helpers the workspace's integration tests share, written once: where the example inventory
//! is, a simulator seeded with it on 127.0.0.1, a plan for it built in-process by the planner,
//! and journals. Dev-only (`publish = false`); see `Cargo.toml` for who may depend on it.

use std::path::{Path, PathBuf};

use plan_schema::mp::Plan;
use planner::rules::Placement;
use planner::{Inventory, PlanError, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};
use simulator::{SimConfig, SimHandle, Simulator};

pub mod journal;
pub mod snapshot;

/// The repository root (the `nsx-migrate` package).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits in the repository root")
        .to_path_buf()
}

/// `examples/inventories/small-cluster`: the NCP cluster snapshot the tests and the demo use.
pub fn example_inventory() -> PathBuf {
    repo_root().join("examples/inventories/small-cluster")
}

/// `examples/inventories/tas-small`: a TAS foundation snapshot with one orphaned app-instance
/// port (docs/inventory-format.md, Cloud Foundry files).
pub fn tas_example_inventory() -> PathBuf {
    repo_root().join("examples/inventories/tas-small")
}

/// The Manager id and display name of `tas-small`'s orphaned app-instance port.
pub const TAS_ORPHAN_PORT: (&str, &str) = ("16f697cd-f0dd-5e8a-97ea-7aba6779928c", "cart-1");

/// Remove `tas-small`'s orphaned port from a copy of it in `dir` (what NCP does once it runs
/// again and is idle).
pub fn remove_tas_orphan(dir: &Path) {
    let path = dir.join("nsx/logical-ports.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let list = v["results"].as_array_mut().unwrap();
    let before = list.len();
    list.retain(|p| p["id"] != TAS_ORPHAN_PORT.0);
    assert_eq!(list.len(), before - 1, "the orphan port is in the example");
    v["result_count"] = serde_json::json!(list.len());
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
}

/// Copy a directory tree (small inventories only).
pub fn copy_dir(from: &Path, to: &Path) {
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

/// A simulator configuration seeded with the example inventory (loopback, free ports).
///
/// Its NSX-like per-client rate limit is off: tests drive it without a client-side throttle
/// (pacing is the client crate's concern, tested there against the limit).
pub fn sim_config() -> SimConfig {
    SimConfig {
        inventory: Some(example_inventory()),
        limits: simulator::Limits {
            client_rate_per_sec: 0,
            ..simulator::Limits::default()
        },
        ..SimConfig::default()
    }
}

/// A simulator seeded with the example inventory, on 127.0.0.1.
pub async fn start_sim() -> SimHandle {
    start_sim_with(sim_config()).await
}

pub async fn start_sim_with(cfg: SimConfig) -> SimHandle {
    Simulator::start(cfg).await.expect("simulator starts")
}

/// Write the simulator's kubeconfig to `dir/kubeconfig`.
pub fn kubeconfig(h: &SimHandle, dir: &Path) -> PathBuf {
    let p = dir.join("kubeconfig");
    std::fs::write(&p, h.kubeconfig()).unwrap();
    p
}

/// What a plan records besides its inventory: the inputs' names, the cluster, fixed times.
pub struct PlanParams<'a> {
    /// Recorded as the inventory's source; the user spec's is `<this>/user-spec.yaml`.
    pub inventory_source: &'a str,
    pub cluster: &'a str,
    pub created_at: &'a str,
    pub tool_version: &'a str,
    pub rules: &'a Rules,
    pub placement: Option<Placement>,
}

/// Plan the inventory in `dir` (with its `user-spec.yaml` when there is one) in-process.
pub fn plan_inventory(dir: &Path, p: &PlanParams) -> Result<Plan, PlanError> {
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
        inventory_source: p.inventory_source.into(),
        user_spec: spec.as_ref().map(|s| SourcedSpec {
            spec: s,
            source: format!("{}/user-spec.yaml", p.inventory_source),
            sha256: plan_schema::sha256_hex(&spec_bytes),
        }),
        rules: p.rules,
        rules_source: None,
    };
    let opts = PlanOptions {
        cluster: p.cluster.into(),
        created_at: p.created_at.into(),
        tool_version: p.tool_version.into(),
        dfw_admin_sections: p.placement,
    };
    planner::build_plan(&inputs, &opts)
}

/// Plan the example inventory in-process into `dir/plan.toml` (fixed creation time, so the plan
/// is deterministic) and return its path.
pub fn write_plan(dir: &Path) -> PathBuf {
    write_plan_with(dir, &Rules::builtin())
}

/// [`write_plan`] with other rules.
pub fn write_plan_with(dir: &Path, rules: &Rules) -> PathBuf {
    let inv_dir = example_inventory();
    let inv = Inventory::load(&inv_dir).expect("inventory loads");
    let cluster = inv
        .metadata
        .as_ref()
        .and_then(|m| m.kubernetes.as_ref())
        .and_then(|k| k.cluster.clone())
        .expect("cluster name in metadata.json");
    assert!(
        inv_dir.join("user-spec.yaml").exists(),
        "the example has a user spec"
    );
    let plan = plan_inventory(
        &inv_dir,
        &PlanParams {
            inventory_source: "examples/inventories/small-cluster",
            cluster: &cluster,
            created_at: "2026-11-22T00:00:00Z",
            tool_version: "test",
            rules,
            placement: None,
        },
    )
    .expect("plan builds");
    let text = plan_schema::write::to_toml(&plan, None).expect("plan renders");
    let path = dir.join("plan.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `examples/inventories/vio-small`: the VIO (NSX-V) deployment snapshot of kind `vio-v2t`.
pub fn vio_example_inventory() -> PathBuf {
    repo_root().join("examples/inventories/vio-small")
}

/// A simulator seeded with a `vio-v2t` snapshot, on 127.0.0.1 (Keystone, Neutron, Octavia,
/// NSX-V, vCenter and NSX on one port, VIO's Kubernetes API on another).
/// The simulator's NSX-like per-client rate limit is off: every VIO service shares its one port
/// and one user, where the real services each have their own (the CLI paces each source).
pub async fn start_vio_sim(inventory: &Path, faults: Option<PathBuf>) -> SimHandle {
    start_sim_with(SimConfig {
        inventory: Some(inventory.to_path_buf()),
        faults,
        limits: simulator::Limits {
            client_rate_per_sec: 0,
            ..simulator::Limits::default()
        },
        ..SimConfig::default()
    })
    .await
}

/// Write `dir/clouds.yaml` with a cloud named `vio-sim` for the simulator's Keystone, and its
/// password in `dir/secure.yaml` (as operators keep it). Returns the two paths.
pub fn clouds_yaml(h: &SimHandle, dir: &Path, password: &str) -> (PathBuf, PathBuf) {
    let clouds = dir.join("clouds.yaml");
    let secure = dir.join("secure.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  vio-sim:\n    auth:\n      auth_url: {}/v3\n      username: {}\n      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n",
            h.base_url(),
            simulator::DEFAULT_USERNAME
        ),
    )
    .unwrap();
    std::fs::write(
        &secure,
        format!("clouds:\n  vio-sim:\n    auth:\n      password: \"{password}\"\n"),
    )
    .unwrap();
    (clouds, secure)
}

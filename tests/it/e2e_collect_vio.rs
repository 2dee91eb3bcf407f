//! `collect --kind vio-v2t` end to end over real HTTP: the simulator seeded with
//! `examples/inventories/vio-small` (Keystone, Neutron, Octavia, NSX-V, vCenter, NSX and VIO's
//! Kubernetes API) -> the CLI with a clouds.yaml + secure.yaml and the real kubectl -> a snapshot
//! equal, file by file and object by object, to the one the simulator was seeded with. Only
//! reads are sent; bad credentials, an unreachable endpoint and a malformed answer each fail
//! naming the source and leave no snapshot directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use simulator::SimHandle;
use test_support::snapshot::{assert_same_vio_snapshot, files, json};

use crate::common::{cli_for_sim, text};

struct Run {
    handle: SimHandle,
    dir: tempfile::TempDir,
    inventory: PathBuf,
}

async fn start(faults: Option<&str>) -> Run {
    start_with(test_support::vio_example_inventory(), faults).await
}

async fn start_with(inventory: PathBuf, faults: Option<&str>) -> Run {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        panic!("kubectl is required for this test (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let faults = faults.map(|f| {
        let p = dir.path().join("faults.toml");
        std::fs::write(&p, f).unwrap();
        p
    });
    let handle = test_support::start_vio_sim(&inventory, faults).await;
    Run {
        handle,
        dir,
        inventory,
    }
}

impl Run {
    /// The CLI's collect with every source pointed at the simulator. `tweak` changes the
    /// command before it runs.
    async fn collect(
        &self,
        out: &Path,
        vcenter: Option<&str>,
        tweak: impl FnOnce(&mut Command, &Path),
    ) -> Output {
        let mut c = self.live(&["collect", "--kind", "vio-v2t"], out, vcenter);
        tweak(&mut c, self.dir.path());
        tokio::task::spawn_blocking(move || c.output())
            .await
            .unwrap()
            .unwrap()
    }

    /// `nsx-migrate <sub>` with every live source flag pointed at the simulator.
    fn live(&self, sub: &[&str], out: &Path, vcenter: Option<&str>) -> Command {
        let url = self.handle.base_url();
        let (clouds, secure) =
            test_support::clouds_yaml(&self.handle, self.dir.path(), simulator::DEFAULT_PASSWORD);
        let kubeconfig = test_support::kubeconfig(&self.handle, self.dir.path());
        let example = &self.inventory;
        let mut c = cli_for_sim();
        c.current_dir(self.dir.path())
            .env("OS_CLIENT_CONFIG_FILE", &clouds)
            .env("OS_CLIENT_SECURE_FILE", &secure)
            .env_remove("OS_CLOUD")
            .env_remove("OS_AUTH_URL")
            .env("NSXV_USERNAME", simulator::DEFAULT_USERNAME)
            .env("NSXV_PASSWORD", simulator::DEFAULT_PASSWORD)
            .env("VCENTER_USERNAME", simulator::DEFAULT_USERNAME)
            .env("VCENTER_PASSWORD", simulator::DEFAULT_PASSWORD)
            .args(sub)
            .args(["--os-cloud", "vio-sim"])
            .args([
                "--nsx",
                &url,
                "--nsxv",
                &url,
                "--vcenter",
                vcenter.unwrap_or(&url),
            ])
            .arg("--nsx-ini")
            .arg(example.join("vio/nsx.ini"))
            .arg("--migrator-conf")
            .arg(example.join("vio/migrator.conf.json"))
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--out")
            .arg(out);
        c
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_of_vio_small_equals_the_inventory_and_sends_only_reads() {
    let run = start(None).await;
    let out_dir = run.dir.path().join("collected");
    let out = run.collect(&out_dir, None, |_, _| {}).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("vio-v2t snapshot"),
        "{}",
        text(&out.stdout)
    );

    assert_same_vio_snapshot(&test_support::vio_example_inventory(), &out_dir);
    // The data of a VIOSecret never reached the snapshot (nor this process: read through
    // jsonpath and go-template).
    let secrets = std::fs::read_to_string(out_dir.join("vio/viosecrets.json")).unwrap();
    assert!(!secrets.contains(simulator::DEFAULT_PASSWORD));

    // Only reads were sent (and the logins every source needs).
    let writes: Vec<_> = run
        .handle
        .request_log()
        .into_iter()
        .filter(|r| {
            let m = r["method"].as_str().unwrap_or("");
            let p = r["path"].as_str().unwrap_or("");
            let login = matches!(
                (m, p),
                ("POST", "/v3/auth/tokens")
                    | ("POST", "/api/2.0/services/auth/token")
                    | ("POST" | "DELETE", "/api/session")
                    | ("POST", "/api/session/create" | "/api/session/destroy")
            );
            m != "GET" && !login
        })
        .collect();
    assert!(writes.is_empty(), "collect sent writes: {writes:#?}");
    // No credential or token in any file.
    for f in files(&out_dir) {
        let t = std::fs::read_to_string(out_dir.join(&f)).unwrap();
        assert!(!t.contains(simulator::DEFAULT_PASSWORD), "{f}");
    }
    run.handle.shutdown().await;
}

/// Run a collect that must fail (exit 3) with `expect` in stderr and no snapshot left.
async fn fails_naming(
    faults: Option<&str>,
    vcenter: Option<&str>,
    tweak: impl FnOnce(&mut Command, &Path),
    expect: &[&str],
) -> String {
    let run = start(faults).await;
    let out_dir = run.dir.path().join("collected");
    let out = run.collect(&out_dir, vcenter, tweak).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    for e in expect {
        assert!(err.contains(e), "stderr should mention {e:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out_dir.exists(), "no snapshot directory after a failure");
    let leftovers: Vec<PathBuf> = std::fs::read_dir(run.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    run.handle.shutdown().await;
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_nsxv_password_is_named_and_leaves_no_snapshot() {
    let err = fails_naming(
        None,
        None,
        |c, _| {
            c.env("NSXV_PASSWORD", "Not-The-Password-1");
        },
        &[
            "nsx-v:",
            "NSX-V Manager",
            "rejected the credentials of user 'admin'",
        ],
    )
    .await;
    assert!(!err.contains("Not-The-Password-1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_keystone_password_is_named() {
    let err = fails_naming(
        None,
        None,
        |c, dir| {
            let secure = dir.join("wrong-secure.yaml");
            std::fs::write(
                &secure,
                "clouds:\n  vio-sim:\n    auth:\n      password: Wrong-Keystone-2\n",
            )
            .unwrap();
            c.env("OS_CLIENT_SECURE_FILE", &secure);
        },
        &[
            "keystone:",
            "Keystone",
            "rejected the credentials",
            "'vio-sim'",
        ],
    )
    .await;
    assert!(!err.contains("Wrong-Keystone-2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_vcenter_is_named() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    fails_naming(
        None,
        Some(&format!("http://127.0.0.1:{port}")),
        |_, _| {},
        &["vcenter:", "/api/session", "connection failed"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_neutron_answer_is_named() {
    fails_naming(
        Some(
            "[[rule]]\nname = \"cut-ports\"\nmethod = \"GET\"\npath = \"/network/v2.0/ports\"\naction = \"truncate\"\n",
        ),
        None,
        |_, _| {},
        &["neutron:", "GET /network/v2.0/ports", "invalid JSON"],
    )
    .await;
}

/// Ports of the generated deployment CI collects: the same code paths as the benchmark's
/// 50,000 (every list paged, more than one page of ports, NSX-V edges and virtual wires paged,
/// VMs listed per host), small enough for a debug build. The 50,000-port run, with the same
/// comparison, is `cargo bench --bench collect_vio_scale` (docs/performance.md).
/// With networking-l2gw's extensions loaded, collect lists its gateways and connections (the
/// simulator serves them only then, as Neutron does) and the snapshot holds them as served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_lists_l2_gateways_where_their_extension_is_loaded() {
    let inv = tempfile::tempdir().unwrap();
    test_support::copy_dir(&test_support::vio_example_inventory(), inv.path());
    let ext_path = inv.path().join("neutron/extensions.json");
    let mut ext = json(&ext_path);
    for alias in ["l2-gateway", "l2-gateway-connection"] {
        ext["extensions"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
            "alias": alias, "name": alias, "description": "networking-l2gw",
            "updated": "2015-01-01T10:00:00-00:00", "links": []}));
    }
    std::fs::write(&ext_path, serde_json::to_string_pretty(&ext).unwrap()).unwrap();
    let nets = json(&inv.path().join("neutron/networks.json"));
    let net = nets["networks"][1]["id"].as_str().unwrap().to_string();
    let project = nets["networks"][1]["project_id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(
        inv.path().join("neutron/l2-gateways.json"),
        serde_json::json!({"l2_gateways": [{"id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11",
            "name": "gw-dc1", "tenant_id": project, "project_id": project,
            "devices": [{"id": "d1", "device_name": "edge-1", "interfaces": [{"name": "vnic-3", "segmentation_id": [100]}]}]}]})
        .to_string(),
    )
    .unwrap();
    std::fs::write(
        inv.path().join("neutron/l2-gateway-connections.json"),
        serde_json::json!({"l2_gateway_connections": [{"id": "5c0e8e0e-7c2e-4a55-9d0e-2f1b8d3c4a12",
            "l2_gateway_id": "0b5c8e0e-7c2e-4a55-9d0e-2f1b8d3c4a11", "network_id": net,
            "segmentation_id": 100, "tenant_id": project, "project_id": project}]})
        .to_string(),
    )
    .unwrap();
    let run = start_with(inv.path().to_path_buf(), None).await;
    let out_dir = run.dir.path().join("collected");
    let out = run.collect(&out_dir, None, |_, _| {}).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_same_vio_snapshot(inv.path(), &out_dir);
    let log = run.handle.request_log();
    assert!(
        log.iter()
            .any(|r| r["path"] == "/network/v2.0/l2-gateway-connections")
    );
    run.handle.shutdown().await;
}

const GENERATED_PORTS: usize = 3_000;

/// A generated deployment (`sim generate --kind vio-v2t`): the collect pages through every list
/// and gives the generated snapshot back, object by object. (Its speed at NSX-like limits is the
/// benchmark's business; here the pace is raised so the test stays short.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collect_of_a_generated_deployment_equals_it() {
    let gen_dir = tempfile::tempdir().unwrap();
    let inventory = gen_dir.path().join("vio-generated");
    let summary = simulator::vio::generate::generate(
        &simulator::vio::generate::VioGenerateSpec {
            seed: 7,
            ports: GENERATED_PORTS,
        },
        &inventory,
    )
    .unwrap();
    assert_eq!(summary.ports, GENERATED_PORTS);
    let run = start_with(inventory.clone(), None).await;
    let out_dir = run.dir.path().join("collected");
    let out = run
        .collect(&out_dir, None, |c, _| {
            c.args(["--rate-limit", "2000"]);
        })
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let compared = assert_same_vio_snapshot(&inventory, &out_dir);
    assert!(compared.objects > GENERATED_PORTS * 2, "{compared:?}");
    let ports = json(&out_dir.join("neutron/ports.json"));
    assert_eq!(ports["ports"].as_array().unwrap().len(), GENERATED_PORTS);
    let nodes = json(&out_dir.join("nsx/edge-cluster-nodes.json"));
    assert_eq!(
        nodes["ec-1"]["results"].as_array().unwrap().len(),
        summary.edge_nodes
    );
    // Paged: more than one request for the port list (1,000 a page), VMs host by host. (NSX-V
    // lists pass 1,000 edges only from about 16,000 ports: the simulator's tests page them, and
    // the benchmark collects 3,175 edges.)
    let log = run.handle.request_log();
    let count = |path: &str| log.iter().filter(|r| r["path"] == path).count();
    let (port_pages, vm_lists) = (count("/network/v2.0/ports"), count("/api/vcenter/vm"));
    assert!(port_pages >= 3, "{port_pages} port pages");
    assert!(vm_lists > 10, "{vm_lists} VM lists");
    run.handle.shutdown().await;
}

/// The plan's content a reviewer approves, minus what names where it was read from: the seal
/// (it covers the input paths), the creation time, the target's addresses (the simulator's URL
/// instead of the example's hosts) and the inputs' paths (their fingerprints stay).
fn plan_content(p: &Path) -> Value {
    let mut v = plan_schema::read::read_plan_file(p).unwrap().to_json();
    let o = v.as_object_mut().unwrap();
    o.remove("plan_id");
    o.remove("target");
    o["header"].as_object_mut().unwrap().remove("created_at");
    for i in o["inputs"].as_array_mut().unwrap() {
        i.as_object_mut().unwrap().remove("source");
    }
    v
}

/// `plan --kind vio-v2t` against the live simulator (collect, then plan) gives the plan of the
/// example snapshot it was seeded with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_from_the_live_simulator_equals_the_plan_of_its_snapshot() {
    // The example's vCenter is registered on NSX as vc-01.corp.example; a live collect records
    // the simulator's address, so the copy served names 127.0.0.1 in both places.
    let seed = tempfile::tempdir().unwrap();
    let inventory = seed.path().join("vio-small");
    test_support::copy_dir(&test_support::vio_example_inventory(), &inventory);
    let edit = |rel: &str, f: &dyn Fn(&mut Value)| {
        let p = inventory.join(rel);
        let mut v = json(&p);
        f(&mut v);
        std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    };
    edit("metadata.json", &|v| v["vcenter"] = "127.0.0.1".into());
    edit("nsx/compute-managers.json", &|v| {
        v["results"][0]["server"] = "127.0.0.1".into();
    });
    let run = start_with(inventory, None).await;
    let live_plan = run.dir.path().join("live.toml");
    let mut c = run.live(&["plan", "--kind", "vio-v2t"], &live_plan, None);
    c.args(["--created-at", "2026-12-01T10:00:00Z"]);
    let out = tokio::task::spawn_blocking(move || c.output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        run.dir
            .path()
            .join("live.toml.inventory/metadata.json")
            .exists()
    );
    // Offline, from the seed snapshot; the kind comes from its metadata.json.
    let offline_plan = run.dir.path().join("offline.toml");
    let out = cli_for_sim()
        .arg("plan")
        .arg("--inventory")
        .arg(&run.inventory)
        .arg("--out")
        .arg(&offline_plan)
        .args(["--created-at", "2026-12-01T10:00:00Z"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let (a, b) = (plan_content(&live_plan), plan_content(&offline_plan));
    assert!(a["steps"].as_array().unwrap().len() > 50);
    if a != b {
        let ids = |v: &Value| -> Vec<String> {
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| format!("{} {}", f["id"], f["severity"]))
                .collect()
        };
        eprintln!("LIVE {:?}\nOFF {:?}", ids(&a), ids(&b));
        for (x, y) in a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .zip(b["steps"].as_array().unwrap())
        {
            if x != y {
                eprintln!("STEP LIVE {x}\nSTEP OFF  {y}");
            }
        }
        for key in [
            "inputs",
            "summary",
            "rules",
            "findings",
            "steps",
            "requirements",
        ] {
            assert_eq!(a[key], b[key], "[{key}] differs");
        }
        assert_eq!(a, b);
    }
    run.handle.shutdown().await;
}

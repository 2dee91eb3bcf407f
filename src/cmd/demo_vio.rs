//! `nsx-migrate demo --kind vio-v2t`: the VIO migration against the embedded simulator (a VIO
//! deployment on NSX-V, NSX, the migration coordinator and VIO's Kubernetes API, on loopback),
//! driven through this binary's own commands as an operator types them: collect, plan, show,
//! apply (every phase this nsx-migrate runs, confirming what an operator confirms), audit.
//! It ends with apply's exit code when apply did not finish (the message says where it
//! stopped), otherwise with the audit's (`--detailed-exitcode`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result};
use simulator::{SimConfig, SimHandle, Simulator};

use executor::ExitCode;

/// The clean VIO example of the source tree.
pub fn example_inventory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inventories/vio-small-clean")
}

/// The operator tasks of the example's plan, which the demo confirms (the simulator has no
/// database to rename).
const OPERATOR_TASKS: &[&str] = &["vio-reconfig/database"];

pub async fn demo(inventory_src: &Path, work: &Path) -> Result<ExitCode> {
    // The simulated vCenter answers on the simulator's address, so the copy it serves
    // registers that address on NSX as the compute manager (as a live deployment registers its
    // own vCenter); otherwise the plan would carry the compute-manager error finding.
    let inventory = &work.join("deployment");
    copy_dir(inventory_src, inventory)?;
    let edit = |rel: &str, f: &dyn Fn(&mut serde_json::Value)| -> Result<()> {
        let p = inventory.join(rel);
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p)?)
            .with_context(|| format!("{}: not JSON", p.display()))?;
        f(&mut v);
        std::fs::write(&p, serde_json::to_string_pretty(&v)?)?;
        Ok(())
    };
    edit("metadata.json", &|v| v["vcenter"] = "127.0.0.1".into())?;
    edit("nsx/compute-managers.json", &|v| {
        if let Some(cm) = v.pointer_mut("/results/0") {
            cm["server"] = "127.0.0.1".into();
            cm["display_name"] = "127.0.0.1".into();
        }
    })?;
    eprintln!(
        "the demo's deployment is the clean VIO example (its load balancer included), its vCenter registered on NSX at the simulator's address"
    );
    // The coordinator's modelled durations off, so the window passes in seconds.
    let faults = work.join("simulator-faults.toml");
    std::fs::write(
        &faults,
        "[migration.v2t]\nedge_s_per_dlr = 0\ndfw_s = 0\nhost_s_per_host = 0\n",
    )?;
    super::demo::step(
        1,
        "start the simulated VIO deployment (Keystone, Neutron, NSX-V, vCenter), NSX and VIO's Kubernetes API on loopback",
    );
    let sim = Simulator::start(SimConfig {
        inventory: Some(inventory.to_path_buf()),
        faults: Some(faults),
        // The simulator's NSX-like per-client rate limit is off: every simulated service shares
        // one port and one user, where the real ones each have their own.
        limits: simulator::Limits {
            client_rate_per_sec: 0,
            ..simulator::Limits::default()
        },
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    let kubeconfig = work.join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig())?;
    eprintln!(
        "NSX, NSX-V, vCenter, Keystone {}  Kubernetes {}",
        sim.base_url(),
        sim.k8s_base_url()
    );
    let result = steps(&sim, inventory, &kubeconfig, work).await;
    sim.shutdown().await;
    result
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("{}: cannot read", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// This binary with the simulator's credentials in the environment (the conventions a real
/// run uses: NSX_*, NSXV_*, VCENTER_*, OS_*; nothing of them reaches a file).
fn cli(sim: &SimHandle, kubeconfig: &Path) -> Result<tokio::process::Command> {
    let exe = std::env::current_exe().context("cannot find this nsx-migrate binary")?;
    let mut c = tokio::process::Command::new(exe);
    let (user, pw) = (simulator::DEFAULT_USERNAME, simulator::DEFAULT_PASSWORD);
    for (k, v) in [
        ("NSX_USERNAME", user),
        ("NSX_PASSWORD", pw),
        ("NSXV_USERNAME", user),
        ("NSXV_PASSWORD", pw),
        ("VCENTER_USERNAME", user),
        ("VCENTER_PASSWORD", pw),
        ("OS_USERNAME", user),
        ("OS_PASSWORD", pw),
        ("OS_PROJECT_NAME", "admin"),
        ("OS_USER_DOMAIN_NAME", "Default"),
        ("OS_PROJECT_DOMAIN_NAME", "Default"),
        ("OS_REGION_NAME", "RegionOne"),
        ("OS_INTERFACE", "public"),
    ] {
        c.env(k, v);
    }
    c.env("OS_AUTH_URL", format!("{}/v3", sim.base_url()))
        .env("KUBECONFIG", kubeconfig)
        .env_remove("OS_CLOUD")
        .env_remove("OS_CLIENT_CONFIG_FILE")
        .env_remove("OS_CLIENT_SECURE_FILE")
        .stdin(Stdio::null());
    Ok(c)
}

/// Run one command (echoed as the operator would type it); its exit code and stdout.
async fn run(
    sim: &SimHandle,
    kubeconfig: &Path,
    args: &[String],
    capture: bool,
) -> Result<(u8, String)> {
    eprintln!("$ nsx-migrate {}", args.join(" "));
    let mut c = cli(sim, kubeconfig)?;
    c.args(args);
    c.stderr(Stdio::inherit()).stdout(if capture {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    // Not `output()`: tokio's pipes stderr there; the commands' messages go to the demo's.
    let out = c
        .spawn()
        .context("cannot run nsx-migrate")?
        .wait_with_output()
        .await
        .context("cannot run nsx-migrate")?;
    let code = out.status.code().unwrap_or(1).clamp(0, 255) as u8;
    Ok((code, String::from_utf8_lossy(&out.stdout).into_owned()))
}

fn s(v: impl AsRef<std::ffi::OsStr>) -> String {
    v.as_ref().to_string_lossy().into_owned()
}

async fn steps(
    sim: &SimHandle,
    inventory: &Path,
    kubeconfig: &Path,
    work: &Path,
) -> Result<ExitCode> {
    let url = sim.base_url();
    let snapshot = work.join("inventory");
    let plan = work.join("plan.toml");
    let state = work.join("state");

    super::demo::step(
        2,
        "collect the deployment (OpenStack, NSX-V, vCenter, NSX, and the Neutron custom resource through kubectl)",
    );
    let mut args: Vec<String> = ["collect", "--kind", "vio-v2t"].map(String::from).to_vec();
    args.extend([
        "--nsx".into(),
        url.clone(),
        "--nsxv".into(),
        url.clone(),
        "--vcenter".into(),
        url.clone(),
        "--nsx-ini".into(),
        s(inventory.join("vio/nsx.ini")),
        "--migrator-conf".into(),
        s(inventory.join("vio/migrator.conf.json")),
        "--out".into(),
        s(&snapshot),
    ]);
    let (code, _) = run(sim, kubeconfig, &args, false).await?;
    if code != 0 {
        eprintln!("collect failed (exit {code}); the demo stops here");
        return Ok(ExitCode::from_code(code).unwrap_or(ExitCode::Mixed));
    }

    super::demo::step(3, "plan (offline, from the snapshot)");
    // Both coordinator runs started by apply: nobody presses Start in a simulated NSX UI.
    let rules = work.join("demo-rules.toml");
    std::fs::write(
        &rules,
        "# nsx-migrate demo: apply starts the coordinator's runs (the default is the operator)\n[plan]\nedge_cutover_start = \"apply\"\nhost_migration_start = \"apply\"\n",
    )?;
    let args: Vec<String> = vec![
        "plan".into(),
        "--kind".into(),
        "vio-v2t".into(),
        "--rules".into(),
        s(&rules),
        "--inventory".into(),
        s(&snapshot),
        "--out".into(),
        s(&plan),
    ];
    let (code, _) = run(sim, kubeconfig, &args, false).await?;
    if code != 0 {
        eprintln!("plan failed (exit {code}); the demo stops here");
        return Ok(ExitCode::from_code(code).unwrap_or(ExitCode::Mixed));
    }

    super::demo::step(
        4,
        "show (what a reviewer reads; `nsx-migrate show` prints every step)",
    );
    let (_, text) = run(sim, kubeconfig, &["show".into(), s(&plan)], true).await?;
    let head = text.split("\nPhase ").next().unwrap_or(&text);
    println!("{head}");

    super::demo::step(
        5,
        "apply (write-ahead journal: API replay, then every later phase this nsx-migrate runs)",
    );
    eprintln!(
        "the demo confirms the operator task(s) {} itself (the simulator has no database to rename); a real run stops there until the operator confirms with --confirm-task",
        OPERATOR_TASKS.join(", ")
    );
    let mut args: Vec<String> = vec![
        "apply".into(),
        s(&plan),
        "--nsx".into(),
        url.clone(),
        "--nsxv".into(),
        url.clone(),
        "--vcenter".into(),
        url.clone(),
        "--state-dir".into(),
        s(&state),
        // A simulator: the demo confirms the point of no return (a real run decides).
        "--confirm-point-of-no-return".into(),
    ];
    for t in OPERATOR_TASKS {
        args.extend(["--confirm-task".into(), (*t).into()]);
    }
    let (apply_code, _) = run(sim, kubeconfig, &args, false).await?;

    super::demo::step(6, "audit (read-only: plan against live state)");
    let args: Vec<String> = vec![
        "audit".into(),
        s(&plan),
        "--nsx".into(),
        url.clone(),
        "--detailed-exitcode".into(),
    ];
    let (audit_code, _) = run(sim, kubeconfig, &args, false).await?;

    eprintln!("\nplan:     {}", plan.display());
    eprintln!("journal:  {}", state.join("journal.jsonl").display());
    eprintln!("log:      {}", state.join("executor.log").display());
    eprintln!("snapshot: {}", snapshot.display());
    if apply_code != 0 {
        eprintln!(
            "apply did not finish (exit {apply_code}): its message above says where it stopped and why"
        );
        return Ok(ExitCode::from_code(apply_code).unwrap_or(ExitCode::Mixed));
    }
    if audit_code != 0 {
        eprintln!("audit found differences (exit {audit_code})");
        return Ok(ExitCode::from_code(audit_code).unwrap_or(ExitCode::AuditDifferences));
    }
    eprintln!("migration applied and audited clean");
    Ok(ExitCode::Success)
}

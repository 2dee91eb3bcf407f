//! `nsx-migrate demo`: the whole job against the embedded simulator, on loopback: start the
//! simulator with the example cluster, collect (NSX REST + the real kubectl), plan, show the
//! summary, apply, audit, and say where everything was written. `--kind vio-v2t` does the
//! same for a VIO deployment (`demo_vio.rs`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use executor::client::{Credentials, Kubectl, NsxClient, NsxConfig};
use plan_schema::render::{self, Format};
use planner::collect::CollectOptions;
use planner::{Inventory, PlanInputs, PlanOptions, Rules, SourcedSpec, UserSpec};
use simulator::{SimConfig, Simulator};

use crate::cmd::connect::runtime;
use executor::ExitCode;

const MARKER: &str = ".nsx-migrate-demo";

#[derive(clap::Args)]
pub struct Args {
    /// Directory for everything the demo writes (plan, journal, logs, snapshot). Replaced if it
    /// holds an earlier demo.
    #[arg(long, default_value = "nsx-migrate-demo")]
    workdir: PathBuf,
    /// Inventory the simulator starts from (default: the example of the source tree for the
    /// kind: the NCP cluster, or the clean VIO deployment).
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Which migration to show: `mp` (Manager-to-Policy) or `vio-v2t` (VIO's Neutron from
    /// NSX-V to NSX).
    #[arg(long, value_enum, default_value = "mp")]
    kind: DemoKind,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoKind {
    #[value(name = "mp")]
    Mp,
    #[value(name = "vio-v2t")]
    VioV2t,
}

fn example_inventory() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/inventories/small-cluster")
}

fn prepare_workdir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !is_demo && !empty {
            bail!(
                "{}: exists and was not written by `nsx-migrate demo`; choose another --workdir",
                dir.display()
            );
        }
        if is_demo {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("{}: cannot clear", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    std::fs::write(dir.join(MARKER), "written by nsx-migrate demo\n")?;
    Ok(())
}

pub(crate) fn step(n: u32, what: &str) {
    eprintln!("\n== {n}. {what}");
}

pub fn run(args: Args) -> Result<ExitCode> {
    let started = Instant::now();
    let inventory_src = args.inventory.clone().unwrap_or_else(|| match args.kind {
        DemoKind::Mp => example_inventory(),
        DemoKind::VioV2t => crate::cmd::demo_vio::example_inventory(),
    });
    if !inventory_src.join("metadata.json").exists() {
        bail!(
            "{}: no inventory snapshot there; run the demo from the nsx-migrate source tree or pass --inventory",
            inventory_src.display()
        );
    }
    let work = args.workdir.clone();
    prepare_workdir(&work)?;
    let rt = runtime()?;
    let code = match args.kind {
        DemoKind::Mp => rt.block_on(demo(&inventory_src, &work))?,
        DemoKind::VioV2t => rt.block_on(crate::cmd::demo_vio::demo(&inventory_src, &work))?,
    };
    eprintln!(
        "\ndemo finished in {:.1} s with exit code {code}",
        started.elapsed().as_secs_f64()
    );
    Ok(code)
}

async fn demo(inventory_src: &Path, work: &Path) -> Result<ExitCode> {
    step(
        1,
        "start the simulated NSX Manager and Kubernetes API on loopback",
    );
    let sim = Simulator::start(SimConfig {
        inventory: Some(inventory_src.to_path_buf()),
        request_log: Some(work.join("simulator-requests.jsonl")),
        ..SimConfig::default()
    })
    .await
    .context("cannot start the simulator")?;
    let kubeconfig = work.join("kubeconfig");
    std::fs::write(&kubeconfig, sim.kubeconfig())?;
    eprintln!(
        "NSX Manager {}  Kubernetes {}",
        sim.base_url(),
        sim.k8s_base_url()
    );
    let result = run_steps(&sim.base_url(), &kubeconfig, inventory_src, work).await;
    sim.shutdown().await;
    result
}

async fn run_steps(
    url: &str,
    kubeconfig: &Path,
    inventory_src: &Path,
    work: &Path,
) -> Result<ExitCode> {
    // The simulator's demo credentials; a real run reads NSX_USERNAME / NSX_PASSWORD.
    let credentials = Credentials::new(simulator::DEFAULT_USERNAME, simulator::DEFAULT_PASSWORD);
    let nsx = NsxConfig::new(url.to_string(), Some(credentials));
    let kubectl = Kubectl {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        ..Kubectl::default()
    };
    let spec_path = inventory_src.join("user-spec.yaml");
    let spec = UserSpec::load(&spec_path)?;
    let cluster = Inventory::load(inventory_src)?
        .metadata
        .and_then(|m| m.kubernetes.and_then(|k| k.cluster))
        .context("the inventory's metadata.json names no cluster")?;

    step(
        2,
        &format!("collect cluster {cluster} from NSX (REST) and Kubernetes (kubectl)"),
    );
    let snapshot = work.join("inventory");
    let client = NsxClient::new(nsx.clone())?;
    let opts = CollectOptions {
        cluster: cluster.clone(),
        spec: spec.clusters.get(&cluster),
        nsx_manager: url.to_string(),
        kube_context: None,
        collected_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let summary =
        planner::collect::collect(&client, &kubectl, &opts, &snapshot, &|_, _| {}).await?;
    client.logout().await;
    std::fs::copy(&spec_path, snapshot.join("user-spec.yaml"))?;
    eprintln!(
        "{} NSX objects, {} Kubernetes objects in {} requests",
        summary.nsx_objects, summary.kube_objects, summary.requests
    );

    step(3, "plan (offline, from the snapshot)");
    let inventory = Inventory::load(&snapshot)?;
    let spec_bytes = std::fs::read(snapshot.join("user-spec.yaml"))?;
    let rules = Rules::builtin();
    let plan = planner::build_plan(
        &PlanInputs {
            inventory: &inventory,
            inventory_source: snapshot.display().to_string(),
            user_spec: Some(SourcedSpec {
                spec: &spec,
                source: snapshot.join("user-spec.yaml").display().to_string(),
                sha256: plan_schema::sha256_hex(&spec_bytes),
            }),
            rules: &rules,
            rules_source: None,
        },
        &PlanOptions {
            cluster: cluster.clone(),
            created_at: opts.collected_at.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            dfw_admin_sections: None,
        },
    )?;
    let plan_path = work.join("plan.toml");
    std::fs::write(&plan_path, plan_schema::write::to_toml(&plan, None)?)?;

    step(
        4,
        "show (what a reviewer reads; `nsx-migrate show` prints every step)",
    );
    let text = render::show(&plan, Format::Text { color: false });
    let head = text.split("\nPhase ").next().unwrap_or(&text);
    println!("{head}");

    step(
        5,
        "apply (write-ahead journal; DFW moves, imports through the migration coordinator, Policy updates)",
    );
    let state_dir = work.join("state");
    let mut apply = executor::ApplyOptions::new(&plan_path, &state_dir, nsx.clone());
    apply.kubectl = Some(kubectl.clone());
    apply.observer = Some(crate::cmd::apply::observer(false, false));
    let outcome = executor::apply(&apply).await?;
    eprintln!(
        "apply: exit {} ({}), {} change request(s) sent",
        outcome.exit_code, outcome.message, outcome.writes_sent
    );

    step(6, "audit (read-only: plan against live state)");
    let report = executor::mp::audit(&plan, &nsx).await?;
    println!("{}", report.render());

    eprintln!("\nplan:     {}", plan_path.display());
    eprintln!("journal:  {}", state_dir.join("journal.jsonl").display());
    eprintln!("log:      {}", state_dir.join("executor.log").display());
    eprintln!("snapshot: {}", snapshot.display());
    eprintln!(
        "requests: {}",
        work.join("simulator-requests.jsonl").display()
    );
    if outcome.exit_code != ExitCode::Success {
        return Ok(outcome.exit_code);
    }
    if !report.is_clean() {
        eprintln!("audit found differences");
        return Ok(ExitCode::AuditDifferences);
    }
    Ok(ExitCode::Success)
}

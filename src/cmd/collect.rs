pub(crate) mod vio;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use planner::UserSpec;
use planner::collect::{CollectOptions, CollectSummary};

use crate::cmd::connect::{KubeArgs, NsxArgs, runtime};
use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// What to collect: `mp` (an NCP cluster for the Manager-to-Policy migration, the default)
    /// or `vio-v2t` (a VIO deployment on NSX-V and the destination NSX).
    #[arg(long, value_enum, default_value = "mp")]
    pub kind: KindArg,
    #[command(flatten)]
    pub nsx: NsxArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A TAS foundation instead of a Kubernetes cluster (--cf-api).
    #[command(flatten)]
    pub cf: crate::cmd::cf::CfArgs,
    #[command(flatten)]
    pub vio: Box<vio::VioArgs>,
    /// Cluster name (NCP's `[coe] cluster`, the ncp/cluster tag value; for TAS, the foundation's).
    /// Required for `--kind mp`.
    #[arg(long)]
    pub cluster: Option<String>,
    /// User spec naming the cluster's shared NSX resources; copied into the snapshot.
    #[arg(long)]
    pub user_spec: Option<PathBuf>,
    /// Snapshot directory to write (docs/inventory-format.md).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KindArg {
    Mp,
    #[value(name = "vio-v2t")]
    VioV2t,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.kind == KindArg::VioV2t {
        if args.cluster.is_some() || args.user_spec.is_some() {
            anyhow::bail!(
                "--cluster and --user-spec belong to --kind mp; --kind vio-v2t does not take them"
            );
        }
        return vio::run(&args.nsx, &args.kube, &args.vio, &args.out);
    }
    if args.cf.cf_api.is_some() {
        return run_tas(&args);
    }
    let Some(cluster) = args.cluster.as_deref() else {
        anyhow::bail!("--kind mp needs --cluster NAME (the ncp/cluster tag value)");
    };
    let summary = collect_into(
        &args.nsx,
        &args.kube,
        cluster,
        args.user_spec.as_deref(),
        &args.out,
    )?;
    println!(
        "{}: {} NSX objects, {} Kubernetes objects from {} (NSX {}), {} requests",
        args.out.display(),
        summary.nsx_objects,
        summary.kube_objects,
        args.nsx.manager_label(),
        summary.nsx_version.as_deref().unwrap_or("?"),
        summary.requests
    );
    Ok(ExitCode::Success)
}

/// Collect a snapshot (shared with `plan --nsx`).
pub fn collect_into(
    nsx: &NsxArgs,
    kube: &KubeArgs,
    cluster: &str,
    user_spec: Option<&Path>,
    out: &Path,
) -> Result<CollectSummary> {
    let spec = match user_spec {
        Some(p) => Some(UserSpec::load(p)?),
        None => None,
    };
    let cluster_spec = spec.as_ref().and_then(|s| s.clusters.get(cluster));
    if let (Some(s), None) = (&spec, cluster_spec) {
        anyhow::bail!(
            "{}: no entry for cluster `{cluster}` under k8s-clusters (it has: {})",
            user_spec.unwrap_or(Path::new("user spec")).display(),
            s.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let client = nsx.client()?;
    let kubectl = kube.kubectl();
    let opts = CollectOptions {
        cluster: cluster.to_string(),
        spec: cluster_spec,
        nsx_manager: nsx.manager_label(),
        kube_context: kube.context.clone(),
        collected_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let progress = |stage: &str, n: usize| {
        if let Some(b) = &bar {
            b.set_message(format!("collecting {stage}: {n} objects"));
        }
    };
    let rt = runtime()?;
    let result = rt.block_on(async {
        let r = planner::collect::collect(&client, &kubectl, &opts, out, &progress).await;
        client.logout().await;
        r
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = result?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(p) = user_spec {
        std::fs::copy(p, out.join("user-spec.yaml"))
            .with_context(|| format!("{}: cannot copy into the snapshot", p.display()))?;
    }
    Ok(summary)
}

/// `collect --cf-api`: a TAS foundation (NSX and its Cloud Controller).
fn run_tas(args: &Args) -> Result<ExitCode> {
    let Some(cluster) = args.cluster.as_deref() else {
        anyhow::bail!(
            "--cf-api needs --cluster NAME (the foundation's name, the ncp/cluster tag value)"
        );
    };
    let spec = match &args.user_spec {
        Some(p) => Some(UserSpec::load(p)?),
        None => None,
    };
    let cluster_spec = spec.as_ref().and_then(|s| s.clusters.get(cluster));
    if let (Some(s), None) = (&spec, cluster_spec) {
        anyhow::bail!(
            "{}: no entry for foundation `{}` under k8s-clusters (it has: {})",
            args.user_spec
                .as_deref()
                .unwrap_or(Path::new("user spec"))
                .display(),
            cluster,
            s.clusters.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let cf = args.cf.client()?.context("--cf-api is required")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create", args.out.display()))?;
    let client = args.nsx.client()?;
    let opts = CollectOptions {
        cluster: cluster.to_string(),
        spec: cluster_spec,
        nsx_manager: args.nsx.manager_label(),
        kube_context: None,
        collected_at: jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .map(|t| t.to_string())
            .unwrap_or_default(),
    };
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let r = planner::collect::collect_tas(&client, &cf, &opts, &args.out, &|_, _| {}).await;
        client.logout().await;
        r
    })?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(p) = &args.user_spec {
        std::fs::copy(p, args.out.join("user-spec.yaml"))
            .with_context(|| format!("{}: cannot copy into the snapshot", p.display()))?;
    }
    println!(
        "{}: {} NSX objects, {} Cloud Foundry objects from {} (NSX {}), {} requests",
        args.out.display(),
        summary.nsx_objects,
        summary.cf_objects,
        args.nsx.manager_label(),
        summary.nsx_version.as_deref().unwrap_or("?"),
        summary.requests
    );
    Ok(ExitCode::Success)
}

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use simulator::{GenerateSpec, SimConfig, Simulator};

use crate::cmd::connect::runtime;
use executor::ExitCode;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub generate: Option<SimCommand>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(clap::Subcommand)]
pub enum SimCommand {
    /// Write a deterministic synthetic inventory snapshot (for benchmarks and tests).
    Generate(GenerateArgs),
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Loopback address to listen on (the simulator refuses anything but loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Inventory snapshot to seed the state from (docs/inventory-format.md).
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Fault injection rules (TOML).
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Persist the state here after every change and load it on start (survives restarts).
    #[arg(long)]
    pub state_file: Option<PathBuf>,
    /// Serve HTTPS with a generated self-signed certificate (prints its SHA-256 thumbprint).
    #[arg(long)]
    pub tls: bool,
    /// JSON-lines request log.
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// Write a kubeconfig pointing kubectl at the simulated Kubernetes API to this file.
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// Write a clouds.yaml for the simulated OpenStack (cloud `nsx-migrate-sim`) to this file
    /// (a vio-v2t inventory only). With --tls the simulator's certificate is written next to it
    /// as `<FILE>.ca.pem` and named as `cacert`.
    #[arg(long)]
    pub clouds_yaml_out: Option<PathBuf>,
}

/// The kind of deployment `sim generate` writes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum GenerateKind {
    /// An NCP cluster in Manager mode (Manager-to-Policy).
    #[value(name = "mp-to-policy")]
    MpToPolicy,
    /// A VIO deployment on NSX-V.
    #[value(name = "vio-v2t")]
    VioV2t,
}

#[derive(clap::Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(long, value_enum, default_value = "mp-to-policy")]
    pub kind: GenerateKind,
    /// vio-v2t: the number of Neutron ports (100 to 50,000); everything else is in proportion.
    #[arg(long, default_value_t = 1000)]
    pub ports: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "kube-synth-01")]
    pub cluster: String,
    #[arg(long, default_value_t = 10)]
    pub namespaces: usize,
    #[arg(long, default_value_t = 10)]
    pub pods_per_namespace: usize,
    #[arg(long, default_value_t = 2)]
    pub policies_per_namespace: usize,
    #[arg(long, default_value_t = 1)]
    pub lb_services_per_namespace: usize,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.generate {
        Some(SimCommand::Generate(g)) if matches!(g.kind, GenerateKind::VioV2t) => {
            let spec = simulator::vio::generate::VioGenerateSpec {
                seed: g.seed,
                ports: g.ports,
            };
            let s = simulator::vio::generate::generate(&spec, &g.out)?;
            println!(
                "{}: {} ports, {} networks, {} routers, {} load balancers, {} NSX-V edges, {} VMs",
                g.out.display(),
                s.ports,
                s.networks,
                s.routers,
                s.load_balancers,
                s.edges,
                s.vms
            );
            Ok(ExitCode::Success)
        }
        Some(SimCommand::Generate(g)) => {
            let spec = GenerateSpec {
                seed: g.seed,
                cluster: g.cluster,
                namespaces: g.namespaces,
                pods_per_namespace: g.pods_per_namespace,
                policies_per_namespace: g.policies_per_namespace,
                lb_services_per_namespace: g.lb_services_per_namespace,
            };
            let summary = simulator::generate(&spec, &g.out)?;
            println!(
                "{}: {} NSX objects, {} Kubernetes objects",
                g.out.display(),
                summary.nsx_objects,
                summary.k8s_objects
            );
            Ok(ExitCode::Success)
        }
        None => serve(args.serve),
    }
}

fn serve(a: ServeArgs) -> Result<ExitCode> {
    let kubeconfig_out = a.kubeconfig_out.clone();
    let clouds_yaml_out = a.clouds_yaml_out.clone();
    let mut cfg = SimConfig {
        listen: a.listen,
        inventory: a.inventory,
        faults: a.faults,
        state_file: a.state_file,
        tls: a.tls,
        request_log: a.request_log,
        ..SimConfig::default()
    };
    if let Ok(u) = std::env::var("NSX_USERNAME") {
        cfg.username = u;
    }
    if let Ok(p) = std::env::var("NSX_PASSWORD") {
        cfg.password = p;
    }
    let using_default = cfg.password == simulator::DEFAULT_PASSWORD;
    let rt = runtime()?;
    rt.block_on(async {
        let handle = Simulator::start(cfg)
            .await
            .context("cannot start the simulator")?;
        println!("{}", handle.base_url());
        eprintln!(
            "NSX Manager API, Policy API and migration coordinator at {}",
            handle.base_url()
        );
        if let Some(t) = handle.tls_thumbprint() {
            eprintln!("certificate SHA-256 thumbprint: {t}");
        }
        eprintln!("Kubernetes API at {}", handle.k8s_base_url());
        if let Some(p) = &kubeconfig_out {
            std::fs::write(p, handle.kubeconfig())
                .with_context(|| format!("{}: cannot write", p.display()))?;
            eprintln!("kubeconfig written to {}", p.display());
        }
        if let Some(p) = &clouds_yaml_out {
            let ca = handle.tls_cert_pem().map(|pem| {
                let mut name = p.as_os_str().to_owned();
                name.push(".ca.pem");
                (PathBuf::from(name), pem.to_string())
            });
            if let Some((ca_path, pem)) = &ca {
                std::fs::write(ca_path, pem)
                    .with_context(|| format!("{}: cannot write", ca_path.display()))?;
            }
            let Some(yaml) = handle.clouds_yaml(ca.as_ref().map(|(p, _)| p.as_path())) else {
                anyhow::bail!(
                    "--clouds-yaml-out needs a vio-v2t inventory (--inventory DIR whose metadata.json says \"kind\": \"vio-v2t\")"
                );
            };
            std::fs::write(p, yaml).with_context(|| format!("{}: cannot write", p.display()))?;
            eprintln!("clouds.yaml written to {} (cloud nsx-migrate-sim)", p.display());
        }
        if using_default {
            eprintln!(
                "credentials: the demo default (user {}); set NSX_USERNAME/NSX_PASSWORD to change",
                simulator::DEFAULT_USERNAME
            );
        }
        eprintln!("Ctrl-C to stop");
        tokio::signal::ctrl_c().await.ok();
        handle.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::Success)
}

//! `nsx-migrate audit PLAN --nsx URL`: read-only comparison of a plan with live state (a
//! vio-v2t plan also reads VIO's Neutron custom resource through kubectl: `--kubeconfig`).
//! With --detailed-exitcode: 0 when everything is applied and nothing of the cluster is left in
//! Manager mode, 4 when there are differences.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::connect::{KubeArgs, NsxArgs};
use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    plan: PathBuf,
    #[command(flatten)]
    nsx: NsxArgs,
    #[command(flatten)]
    lock: crate::cmd::connect::ManagerLockArgs,
    /// VIO's Kubernetes control plane (a vio-v2t plan: the Neutron custom resource is read).
    #[command(flatten)]
    kube: KubeArgs,
    /// Exit 4 when live state differs from the fully applied plan.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let plan = match plan_schema::read_plan_file(&args.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::Refused);
        }
    };
    let cfg = args.nsx.config()?;
    let kubectl = matches!(plan, plan_schema::AnyPlan::VioV2t(_)).then(|| args.kube.kubectl());
    let report = executor::block_on(executor::audit(
        &plan,
        &cfg,
        &args.lock.config()?,
        kubectl.as_ref(),
    ))??;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(if args.detailed_exitcode && !report.is_clean() {
        ExitCode::AuditDifferences
    } else {
        ExitCode::Success
    })
}

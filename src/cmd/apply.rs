//! `nsx-migrate apply PLAN --nsx URL`: apply a sealed plan with the write-ahead journal
//! (executor crate).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use executor::{ApplyOptions, OnImportFailure};

use crate::cmd::connect::{KubeArgs, NsxArgs};
use crate::exit;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FailureArg {
    Rollback,
    Stop,
}

#[derive(clap::Args)]
pub struct Args {
    /// The reviewed, sealed plan (TOML).
    plan: PathBuf,
    #[command(flatten)]
    nsx: NsxArgs,
    /// State directory: lock, journal.jsonl, executor.log, plan copy.
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// Print the requests that would be sent, in order; send none (reads only).
    #[arg(long)]
    dry_run: bool,
    /// Policy updates in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// On an import failure: roll back this plan's imports (exit 2), or stop and keep them (exit 1).
    #[arg(long, value_enum, default_value = "rollback")]
    on_import_failure: FailureArg,
    #[command(flatten)]
    kube: KubeArgs,
    /// Do not re-read Kubernetes (drift there goes undetected).
    #[arg(long)]
    skip_kubernetes_check: bool,
    /// Seconds to wait for one import batch before giving up.
    #[arg(long, default_value_t = 6000)]
    batch_timeout: u64,
    /// JSON-lines events on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<u8> {
    let mut o = ApplyOptions::new(&args.plan, &args.state_dir, args.nsx.config()?);
    o.dry_run = args.dry_run;
    o.concurrency = args.concurrency.max(1);
    o.on_import_failure = match args.on_import_failure {
        FailureArg::Rollback => OnImportFailure::Rollback,
        FailureArg::Stop => OnImportFailure::Stop,
    };
    o.kubectl = (!args.skip_kubernetes_check).then(|| args.kube.kubectl());
    o.poll.timeout = Duration::from_secs(args.batch_timeout);
    o.json = args.json;
    match executor::block_on(executor::apply(&o))? {
        Ok(out) => {
            for r in &out.dry_run_requests {
                println!("{r}");
            }
            Ok(out.exit_code)
        }
        Err(e) => {
            eprintln!("error: refused, nothing was sent: {e}");
            Ok(exit::INVALID_INPUT)
        }
    }
}

//! `nsx-migrate rollback --nsx URL`: roll back every import recorded in the state directory's
//! journal, newest first (idempotent); without a journal, `--plan PLAN` rolls back what live
//! state shows that plan imported. Exit 0 when nothing of the plan remains imported, 1 when
//! the rollback failed (re-run it), 3 when refused.

use std::path::PathBuf;

use anyhow::Result;
use executor::RollbackOptions;

use crate::cmd::connect::NsxArgs;
use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    nsx: NsxArgs,
    #[command(flatten)]
    lock: crate::cmd::connect::ManagerLockArgs,
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// The plan: needed when the state directory has no journal (another machine ran it):
    /// what live state shows the plan imported is rolled back.
    #[arg(long, value_name = "PLAN")]
    plan: Option<PathBuf>,
    /// The OpenStack cloud, when the journal is of a vio-v2t plan (clouds.yaml / OS_*).
    #[command(flatten)]
    os: crate::cmd::collect::vio::OsArgs,
    /// The NSX-V Manager and vCenter, when the journal's vio-v2t run reached the window phases
    /// (edge vNICs reconnected, edge VMs powered on).
    #[command(flatten)]
    window: crate::cmd::collect::vio::WindowArgs,
    /// JSON-lines events on stdout (no progress bar).
    #[arg(long)]
    json: bool,
    /// Only warnings and errors on stderr (no progress bar).
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let o = RollbackOptions {
        window: args.window.window_clients(95.0)?,
        state_dir: args.state_dir.clone(),
        plan: args.plan.clone(),
        manager_lock: args.lock.config()?,
        nsx: args.nsx.config()?,
        openstack: args.os.client_if_configured(95.0)?,
        poll: executor::PollConfig::default(),
        observer: Some(crate::cmd::apply::observer(args.json, args.quiet)),
    };
    match executor::block_on(executor::rollback(&o))? {
        Ok(out) => Ok(out.exit_code),
        Err(e) => {
            eprintln!("error: refused, nothing was sent: {e}");
            Ok(ExitCode::Refused)
        }
    }
}

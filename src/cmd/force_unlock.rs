//! `nsx-migrate force-unlock ID`: remove the locks whose id is ID (after making sure the run
//! that holds them is gone): the state directory's, and with `--nsx`, the one on the manager.

use std::path::PathBuf;

use anyhow::Result;

use crate::cmd::connect::{ManagerLockArgs, NsxArgs};
use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The lock id, as printed by the refused run, `nsx-migrate status` or `audit`.
    id: String,
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// Also remove the lock on this manager (its id must match too).
    #[command(flatten)]
    nsx: Option<NsxArgs>,
    #[command(flatten)]
    lock: ManagerLockArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut removed = 0;
    let mut code = ExitCode::Success;
    if args.state_dir.join(executor::lock::LOCK_FILE).exists() || args.nsx.is_none() {
        match executor::force_unlock(&args.state_dir, &args.id) {
            Ok(info) => {
                removed += 1;
                eprintln!(
                    "removed the lock in {}: {} of {}@{} pid {} (plan {})",
                    args.state_dir.display(),
                    info.id,
                    info.owner,
                    info.host,
                    info.pid,
                    info.plan_id
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = ExitCode::Refused;
            }
        }
    }
    if let Some(nsx) = &args.nsx {
        let cfg = nsx.config()?;
        let lock = args.lock.config()?;
        let client = executor::client::NsxClient::new(cfg)?;
        match executor::block_on(executor::manager_lock::force_unlock(
            &client, &lock, &args.id,
        ))? {
            Ok(Some(h)) => {
                removed += 1;
                eprintln!(
                    "removed the lock on the manager ({}): {}",
                    lock.path,
                    h.describe()
                );
            }
            Ok(None) => eprintln!("no lock on the manager at {}", lock.path),
            Err(e) => {
                eprintln!("error: {e}");
                code = ExitCode::Refused;
            }
        }
    }
    if removed == 0 && code == ExitCode::Success {
        eprintln!("nothing removed");
    }
    Ok(code)
}

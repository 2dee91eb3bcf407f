//! `nsx-migrate force-unlock ID`: remove the state directory's lock when its id is ID (after
//! making sure the run that holds it is gone).

use std::path::PathBuf;

use anyhow::Result;

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The lock id, as printed by the refused run or `nsx-migrate status`.
    id: String,
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match executor::force_unlock(&args.state_dir, &args.id) {
        Ok(info) => {
            eprintln!(
                "removed lock {} of {}@{} pid {} (plan {})",
                info.id, info.owner, info.host, info.pid, info.plan_id
            );
            Ok(ExitCode::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::Refused)
        }
    }
}

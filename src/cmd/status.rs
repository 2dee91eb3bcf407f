//! `nsx-migrate status`: progress per phase from the state directory (no NSX access).

use std::path::PathBuf;

use anyhow::Result;

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match executor::status(&args.state_dir) {
        Ok(r) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", r.render());
            }
            Ok(ExitCode::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::Refused)
        }
    }
}

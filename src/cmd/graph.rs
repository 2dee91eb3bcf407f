use std::path::PathBuf;

use anyhow::Result;

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML).
    plan: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let plan = match plan_schema::read_plan_file(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::Refused);
        }
    };
    print!("{}", plan_schema::render::dot_any(&plan));
    Ok(ExitCode::Success)
}

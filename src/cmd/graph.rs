use std::path::PathBuf;

use anyhow::Result;

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML).
    plan: PathBuf,
}

pub fn run(args: Args) -> Result<u8> {
    let plan = match plan_schema::read_plan_file(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID_INPUT);
        }
    };
    print!("{}", plan_schema::render::dot(&plan));
    Ok(exit::SUCCESS)
}

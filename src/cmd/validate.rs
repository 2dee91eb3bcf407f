use std::path::PathBuf;

use anyhow::Result;

use crate::exit;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML).
    plan: PathBuf,
}

pub fn run(args: Args) -> Result<u8> {
    match plan_schema::read_plan_file(&args.plan) {
        Ok(plan) => {
            let s = &plan.summary;
            println!(
                "{}: valid plan {} ({} steps)",
                args.plan.display(),
                plan.plan_id,
                plan.steps.len()
            );
            if !plan.is_applicable() {
                println!(
                    "{}: {} error finding(s): the plan can be reviewed but not applied until they are resolved",
                    args.plan.display(),
                    s.errors
                );
            }
            Ok(exit::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit::INVALID_INPUT)
        }
    }
}

use std::path::PathBuf;

use anyhow::Result;

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML).
    plan: PathBuf,
}

pub fn run(args: Args) -> Result<ExitCode> {
    match plan_schema::read_plan_file(&args.plan) {
        Ok(plan) => {
            println!(
                "{}: valid plan {} ({}, {} steps)",
                args.plan.display(),
                plan.plan_id(),
                plan.kind().as_str(),
                plan.step_phases().len()
            );
            if !plan.is_applicable() {
                println!(
                    "{}: {} error finding(s): the plan can be reviewed but not applied until they are resolved",
                    args.plan.display(),
                    plan.errors()
                );
            }
            Ok(ExitCode::Success)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::Refused)
        }
    }
}

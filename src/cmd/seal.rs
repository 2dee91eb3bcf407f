use std::path::PathBuf;

use anyhow::{Context, Result};

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML), rewritten in place with a new plan_id.
    plan: PathBuf,
}

/// Re-seal: everything but the seal must already be valid, so a typo is never sealed in.
pub fn run(args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("{}: cannot read plan", args.plan.display()))?;
    let mut plan = match plan_schema::parse_plan(&text, &args.plan) {
        Ok(plan) => {
            eprintln!(
                "{}: already sealed as {}",
                args.plan.display(),
                plan.plan_id()
            );
            return Ok(ExitCode::Success);
        }
        Err(e) => {
            let only_seal =
                !e.problems().is_empty() && e.problems().iter().all(|p| p.pointer == "/plan_id");
            if !only_seal {
                eprintln!("error: {e}");
                eprintln!("error: not sealed: fix the problems above first");
                return Ok(ExitCode::Refused);
            }
            plan_schema::read::parse_plan_unsealed(&text, &args.plan)?
        }
    };
    let old = plan.plan_id().to_string();
    let schema_ref = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#:schema "))
        .map(str::to_string);
    let (new, out) = plan_schema::with_plan!(&mut plan, p => {
        plan_schema::seal(p);
        (p.plan_id.clone(), plan_schema::write::to_toml(p, schema_ref.as_deref())?)
    });
    std::fs::write(&args.plan, out)
        .with_context(|| format!("{}: cannot write plan", args.plan.display()))?;
    eprintln!("{}: re-sealed: {old} -> {new}", args.plan.display());
    Ok(ExitCode::Success)
}

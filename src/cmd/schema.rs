use anyhow::Result;

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Which schema.
    #[arg(value_enum)]
    which: Which,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Which {
    /// The plan file.
    Plan,
    /// One line of the executor's journal.
    Journal,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let schema = match args.which {
        Which::Plan => plan_schema::schema::plan_schema(),
        Which::Journal => plan_schema::schema::journal_schema(),
    };
    print!("{}", plan_schema::schema::to_pretty(&schema));
    Ok(ExitCode::Success)
}

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use plan_schema::render::{self, Format, View};

use executor::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The plan file (TOML).
    plan: PathBuf,
    /// Output format: text for a terminal, markdown for a change ticket, json for machines.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Every step and every object, instead of the reviewer's view (counts per phase, type and
    /// namespace, departures from the defaults, and only the steps to read one by one). JSON is
    /// always complete.
    #[arg(long)]
    full: bool,
    /// Colour in text output: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Text,
    Markdown,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let plan = match plan_schema::read_plan_file(&args.plan) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::Refused);
        }
    };
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let format = match args.format {
        FormatArg::Text => Format::Text { color },
        FormatArg::Markdown => Format::Markdown,
        FormatArg::Json => Format::Json,
    };
    let view = if args.full { View::Full } else { View::Review };
    print!("{}", render::show_any_view(&plan, format, view));
    Ok(ExitCode::Success)
}

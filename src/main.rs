//! `nsx-migrate`: the command line. Kept thin: it parses flags, calls the library crates, adds
//! context to their errors and maps outcomes to the exit codes documented in `docs/cli.md`.

mod cmd;

use executor::ExitCode;

use clap::{Parser, Subcommand};

/// Planning large inventories makes millions of small allocations; mimalloc is markedly faster
/// than the system allocator there (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "nsx-migrate",
    version,
    about = "Plan, apply and audit VMware NSX migrations (Manager-to-Policy; VIO NSX-V to NSX) with a reviewable plan file",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the JSON Schema of the plan file or of a journal record.
    Schema(cmd::schema::Args),
    /// Check a plan file: TOML syntax, schema, dependencies and seal. Exits 0 when valid.
    Validate(cmd::validate::Args),
    /// Show a plan for review: summary, findings with remedies, steps per phase with diffs.
    Show(cmd::show::Args),
    /// Print the step dependency graph of a plan in Graphviz DOT.
    Graph(cmd::graph::Args),
    /// Run the whole job against the embedded simulator: collect, plan, show, apply, audit.
    Demo(cmd::demo::Args),
    /// Run the NSX + Kubernetes simulator on loopback (or `sim generate` a synthetic inventory).
    Sim(cmd::sim::Args),
    /// Read a live NSX Manager and Kubernetes (kubectl) into an inventory snapshot.
    Collect(cmd::collect::Args),
    /// Plan a migration from an inventory snapshot: prechecks, imports, tag changes, DFW moves.
    #[command(
        override_usage = "nsx-migrate plan --inventory DIR --out PLAN [OPTIONS]\n       nsx-migrate plan --nsx URL --cluster NAME --out PLAN [OPTIONS]   (collect, then plan)"
    )]
    Plan(cmd::plan::Args),
    /// Apply a sealed plan to NSX, resumably, with a write-ahead journal (exit 0/1/2/3).
    Apply(cmd::apply::Args),
    /// Roll back every import recorded in the journal, newest first.
    Rollback(cmd::rollback::Args),
    /// Progress of an apply from its state directory: per phase done/pending/failed, next step.
    Status(cmd::status::Args),
    /// Compare a plan, or a finished migration, with live state. Read-only.
    Audit(cmd::audit::Args),
    /// Remove a stale lock left by a crashed apply (give the lock id `status` shows).
    ForceUnlock(cmd::force_unlock::Args),
    /// Re-seal a plan after a deliberate, reviewed hand edit (recomputes plan_id).
    Seal(cmd::seal::Args),
}

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; usage errors are invalid input (never 2,
            // which the seeds reserve for "restart NCP in Manager mode").
            let code = if e.use_stderr() {
                ExitCode::Refused
            } else {
                ExitCode::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    let result = match cli.command {
        Command::Schema(args) => cmd::schema::run(args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::Graph(args) => cmd::graph::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Sim(args) => cmd::sim::run(args),
        Command::Collect(args) => cmd::collect::run(args),
        Command::Plan(args) => cmd::plan::run(args),
        Command::Apply(args) => cmd::apply::run(args),
        Command::Rollback(args) => cmd::rollback::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::ForceUnlock(args) => cmd::force_unlock::run(args),
        Command::Seal(args) => cmd::seal::run(args),
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::Refused.into()
        }
    }
}

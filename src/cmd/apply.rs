//! `nsx-migrate apply PLAN --nsx URL`: apply a sealed plan with the write-ahead journal
//! (executor crate).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Result;
use executor::{ApplyOptions, Observer, OnImportFailure, SharedObserver, Stage};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::cmd::connect::{KubeArgs, NsxArgs};
use executor::ExitCode;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum FailureArg {
    Rollback,
    Stop,
}

#[derive(clap::Args)]
pub struct Args {
    /// The reviewed, sealed plan (TOML).
    plan: PathBuf,
    #[command(flatten)]
    nsx: NsxArgs,
    #[command(flatten)]
    lock: crate::cmd::connect::ManagerLockArgs,
    /// State directory: lock, journal.jsonl, executor.log, plan copy.
    #[arg(long, default_value = "nsx-migrate-state")]
    state_dir: PathBuf,
    /// Print the requests that would be sent, in order; send none (reads only).
    #[arg(long)]
    dry_run: bool,
    /// Changes in flight at once: Policy updates (Manager-to-Policy, default 8) or API replay
    /// steps (vio-v2t, default 16).
    #[arg(long, value_name = "N")]
    concurrency: Option<usize>,
    /// On an import failure (Manager-to-Policy) or a replay failure (vio-v2t,
    /// `--on-failure`): roll back what this plan made (exit 2), or stop and keep it (exit 1).
    #[arg(long, value_enum, default_value = "rollback", alias = "on-failure")]
    on_import_failure: FailureArg,
    /// The OpenStack cloud of a vio-v2t plan (clouds.yaml / OS_*).
    #[command(flatten)]
    os: crate::cmd::collect::vio::OsArgs,
    /// Requests per second to the OpenStack services of a vio-v2t plan (NSX allows 100 per
    /// client; the replay target writes to NSX).
    #[arg(long, value_name = "N", default_value_t = 95.0)]
    os_rate_limit: f64,
    /// The NSX-V Manager and vCenter of a vio-v2t plan's window phases (edge preparation,
    /// edge cutover, host migration).
    #[command(flatten)]
    window: crate::cmd::collect::vio::WindowArgs,
    /// Start a step the plan marks as the point of no return (a vio-v2t host migration: no
    /// rollback once hosts move). Without it, apply stops before that phase and sends nothing
    /// of it.
    #[arg(long)]
    confirm_point_of_no_return: bool,
    #[command(flatten)]
    kube: KubeArgs,
    /// Do not re-read Kubernetes: drift there goes undetected, and NCP is not re-checked as stopped.
    #[arg(long)]
    skip_kubernetes_check: bool,
    /// A vio-v2t plan's operator task (its step id) that the operator has done: this run
    /// journals it as done and goes on past it. Repeatable.
    #[arg(long, value_name = "STEP")]
    confirm_task: Vec<String>,
    /// Seconds to wait for one import batch before giving up.
    #[arg(long, default_value_t = 6000)]
    batch_timeout: u64,
    /// JSON-lines events on stdout (no progress bars).
    #[arg(long)]
    json: bool,
    /// Only warnings and errors on stderr (no progress bars).
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let mut o = ApplyOptions::new(&args.plan, &args.state_dir, args.nsx.config()?);
    o.dry_run = args.dry_run;
    o.manager_lock = args.lock.config()?;
    o.concurrency = args.concurrency.map(|n| n.max(1));
    o.on_import_failure = match args.on_import_failure {
        FailureArg::Rollback => OnImportFailure::Rollback,
        FailureArg::Stop => OnImportFailure::Stop,
    };
    o.kubectl = (!args.skip_kubernetes_check).then(|| args.kube.kubectl());
    o.openstack = args.os.client_if_configured(args.os_rate_limit)?;
    o.confirm_tasks = args.confirm_task.clone();
    o.window = args.window.window_clients(args.os_rate_limit)?;
    o.confirm_point_of_no_return = args.confirm_point_of_no_return;
    o.poll.timeout = Duration::from_secs(args.batch_timeout);
    o.observer = Some(observer(args.json, args.quiet));
    match executor::block_on(executor::apply(&o))? {
        Ok(out) => {
            for r in &out.dry_run_requests {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"event": "dry_run_request", "request": r})
                    );
                } else {
                    println!("{r}");
                }
            }
            Ok(out.exit_code)
        }
        Err(e) => {
            eprintln!("error: refused, nothing was sent: {e}");
            Ok(ExitCode::Refused)
        }
    }
}

/// How the CLI shows a run: `--json`: stage and step events and the executor's messages as JSON
/// lines on stdout; on a terminal: progress bars, with the messages printed through them;
/// otherwise the messages on stderr. `--quiet`: no bars, only warnings and errors.
pub(crate) fn observer(json: bool, quiet: bool) -> SharedObserver {
    if json {
        SharedObserver::new(JsonEvents)
    } else {
        Bars::for_terminal(json, quiet).unwrap_or_else(|| SharedObserver::new(Messages { quiet }))
    }
}

/// The executor's messages on stderr, `level: text` (`--quiet`: warnings and errors only).
pub(crate) struct Messages {
    quiet: bool,
}

impl Observer for Messages {
    fn message(&self, level: &str, text: &str) {
        if !self.quiet || level != "info" {
            eprintln!("{level}: {text}");
        }
    }
}

/// Stage and step events, and the executor's messages, as JSON lines on stdout.
pub(crate) struct JsonEvents;

impl JsonEvents {
    fn emit(&self, mut event: serde_json::Value) {
        event["at"] = serde_json::json!(jiff::Timestamp::now().to_string());
        println!("{event}");
    }
}

impl Observer for JsonEvents {
    fn stage_started(&self, stage: Stage, total: u64) {
        self.emit(
            serde_json::json!({"event": "stage_started", "stage": stage.as_str(), "total": total}),
        );
    }
    fn step_finished(&self, stage: Stage, step: &str, ok: bool) {
        self.emit(serde_json::json!({"event": "step_finished", "stage": stage.as_str(), "step": step, "ok": ok}));
    }
    fn stage_finished(&self, stage: Stage) {
        self.emit(serde_json::json!({"event": "stage_finished", "stage": stage.as_str()}));
    }
    fn message(&self, level: &str, text: &str) {
        self.emit(serde_json::json!({"level": level, "message": text}));
    }
}

/// Progress bars on stderr, one per stage (prepare, import, update, verify, rollback), drawn from
/// the executor's observer calls. Only on a terminal, never with `--json` or `--quiet`; without
/// colour when `NO_COLOR` is set. The executor's messages are printed through the bars so that
/// they do not tear them.
pub(crate) struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    current: Mutex<Option<(ProgressBar, u64)>>,
}

impl Bars {
    pub(crate) fn for_terminal(json: bool, quiet: bool) -> Option<SharedObserver> {
        if json || quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let template = if color {
            "{prefix:>9.bold} [{bar:32.cyan/blue}] {pos}/{len} {msg} {elapsed}"
        } else {
            "{prefix:>9} [{bar:32}] {pos}/{len} {msg} {elapsed}"
        };
        let style = ProgressStyle::with_template(template)
            .ok()?
            .progress_chars("=> ");
        Some(SharedObserver::new(Bars {
            multi: MultiProgress::new(),
            style,
            current: Mutex::new(None),
        }))
    }
}

impl Observer for Bars {
    fn stage_started(&self, stage: Stage, total: u64) {
        let bar = self.multi.add(
            ProgressBar::new(total)
                .with_style(self.style.clone())
                .with_prefix(stage.as_str()),
        );
        if total == 0 {
            bar.finish_with_message("nothing to do");
            return;
        }
        bar.enable_steady_tick(Duration::from_millis(250));
        if let Ok(mut c) = self.current.lock() {
            *c = Some((bar, 0));
        }
    }

    fn step_finished(&self, _stage: Stage, _step: &str, ok: bool) {
        if let Ok(mut c) = self.current.lock()
            && let Some((bar, failed)) = c.as_mut()
        {
            bar.inc(1);
            if !ok {
                *failed += 1;
                bar.set_message(format!("{failed} failed"));
            }
        }
    }

    fn stage_finished(&self, _stage: Stage) {
        if let Ok(mut c) = self.current.lock()
            && let Some((bar, failed)) = c.take()
        {
            let msg = match (failed, bar.position() < bar.length().unwrap_or(0)) {
                (0, false) => "done".to_string(),
                (0, true) => "stopped".to_string(),
                (n, _) => format!("{n} failed"),
            };
            bar.finish_with_message(msg);
        }
    }

    fn message(&self, level: &str, text: &str) {
        self.multi.suspend(|| eprintln!("{level}: {text}"));
    }
}

//! `cargo bench -p nsx-migrate --bench show_scale`: `nsx-migrate show` (the bench build of the
//! binary) on the plan of a generated inventory of about 100k NSX objects, in the reviewer's view
//! (text and Markdown) and with `--full`. Prints wall time (best of 3) and line counts, and the
//! time the library spends reading the plan and rendering it. Figures go to docs/performance.md.
//!
//! The reviewer's view must fit in a change ticket: the bench fails (non-zero exit) when it is
//! longer than `MAX_REVIEW_LINES` lines, in either format, at any size.
//!
//! `SHOW_SCALE_SIZES=10000,100000` picks sizes; the inventories are generated (deterministically,
//! by the simulator's generator) under target/plan-scale/ and shared with the other benches; the
//! plan is made afresh by `nsx-migrate plan` in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use plan_schema::render::{self, Format, View};

/// The reviewer's view of any plan fits in this many lines.
const MAX_REVIEW_LINES: usize = 300;
/// No single command may take longer than this.
const TIMEOUT: Duration = Duration::from_secs(600);

fn inventory(size: usize) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/plan-scale");
    simulator::GenerateSpec::benchmark(size)
        .generate_cached(&root)
        .expect("generate")
}

/// Run the CLI with a deadline; its output and how long it took.
fn run(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nsx-migrate");
    // Drain stdout on a thread so that a long listing cannot fill the pipe and stall the child.
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).map(|_| buf)
    });
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("nsx-migrate {args:?} took more than {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    let stdout = reader.join().expect("join").expect("read stdout");
    let mut out = child.wait_with_output().expect("output");
    out.stdout = stdout;
    assert!(
        out.status.success(),
        "nsx-migrate {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, took)
}

/// Best wall time of three runs, and the line count of the output.
fn show(plan: &str, extra: &[&str]) -> (Duration, usize) {
    let mut args = vec!["show", "--color", "never"];
    args.extend_from_slice(extra);
    args.push(plan);
    let mut best = Duration::MAX;
    let mut lines = 0;
    for _ in 0..3 {
        let (out, took) = run(&args);
        best = best.min(took);
        lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    (best, lines)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SHOW_SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000]);
    println!(
        "{:>9} {:>9} {:>22} {:>22} {:>22} {:>9} {:>9}",
        "objects",
        "plan MiB",
        "review text (lines)",
        "review md (lines)",
        "--full text (lines)",
        "read ms",
        "render ms"
    );
    let mut too_long = Vec::new();
    for size in sizes {
        let dir = inventory(size);
        let work = tempfile::tempdir().expect("tempdir");
        let plan_path = work.path().join("plan.toml");
        let plan = plan_path.to_str().expect("utf-8 path");
        let inv = dir.to_str().expect("utf-8 path");
        run(&["plan", "--inventory", inv, "--out", plan]);
        let bytes = std::fs::metadata(Path::new(plan)).expect("plan").len();

        let (text_t, text_n) = show(plan, &[]);
        let (md_t, md_n) = show(plan, &["--format", "markdown"]);
        let (full_t, full_n) = show(plan, &["--full"]);

        // The library's share: reading (TOML, schema, checks) and rendering the review.
        let start = Instant::now();
        let any = plan_schema::read_plan_file(Path::new(plan)).expect("read plan");
        let read = start.elapsed();
        let start = Instant::now();
        let view = render::show_any_view(&any, Format::Text { color: false }, View::Review);
        let rendered = start.elapsed();
        assert_eq!(view.lines().count(), text_n, "library and CLI disagree");

        // The NSX objects the plan was made from (its first input).
        let objects = plan_schema::with_plan!(&any, p => p
            .inputs
            .first()
            .and_then(|i| i.objects)
            .unwrap_or(0));
        println!(
            "{:>9} {:>9.1} {:>12.2} s ({:>4}) {:>12.2} s ({:>4}) {:>11.2} s ({:>6}) {:>9} {:>9}",
            objects,
            bytes as f64 / (1024.0 * 1024.0),
            text_t.as_secs_f64(),
            text_n,
            md_t.as_secs_f64(),
            md_n,
            full_t.as_secs_f64(),
            full_n,
            read.as_millis(),
            rendered.as_millis()
        );
        for (format, n) in [("text", text_n), ("markdown", md_n)] {
            if n > MAX_REVIEW_LINES {
                too_long.push(format!(
                    "{size}: the {format} review is {n} lines (at most {MAX_REVIEW_LINES})"
                ));
            }
        }
    }
    assert!(too_long.is_empty(), "{}", too_long.join("\n"));
}

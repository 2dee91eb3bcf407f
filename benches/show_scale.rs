//! `cargo bench -p nsx-migrate --bench show_scale`: `nsx-migrate show` (the bench build of the
//! binary) on the plan of a generated inventory of about 100k NSX objects, in the reviewer's view
//! (text and Markdown) and with `--full`. Prints line counts, wall time (best of 3) and the CPU
//! time of that run (user + system, which a busy machine does not inflate as it does wall
//! time), and the time the library spends reading the plan and rendering it. Figures go to
//! docs/performance.md.
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

/// CPU seconds (user + system) of this process and of its children waited for, from
/// /proc/self/stat (fields 14 to 17, in clock ticks of 1/100 s, the kernel's fixed USER_HZ).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = |i: usize| f.get(i).copied().unwrap_or(0) as f64 / 100.0;
    (ticks(0) + ticks(1), ticks(2) + ticks(3))
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

/// Best wall time of three runs with that run's CPU seconds, and the line count of the output.
fn show(plan: &str, extra: &[&str]) -> (Duration, f64, usize) {
    let mut args = vec!["show", "--color", "never"];
    args.extend_from_slice(extra);
    args.push(plan);
    let mut best = (Duration::MAX, 0.0);
    let mut lines = 0;
    for _ in 0..3 {
        let before = cpu_seconds().1;
        let (out, took) = run(&args);
        let cpu = cpu_seconds().1 - before;
        if took < best.0 {
            best = (took, cpu);
        }
        lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    }
    (best.0, best.1, lines)
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SHOW_SCALE_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000]);
    let mut too_long = Vec::new();
    for size in sizes {
        let dir = inventory(size);
        let work = tempfile::tempdir().expect("tempdir");
        let plan_path = work.path().join("plan.toml");
        let plan = plan_path.to_str().expect("utf-8 path");
        let inv = dir.to_str().expect("utf-8 path");
        run(&["plan", "--inventory", inv, "--out", plan]);
        let bytes = std::fs::metadata(Path::new(plan)).expect("plan").len();

        let (text_t, text_cpu, text_n) = show(plan, &[]);
        let (md_t, md_cpu, md_n) = show(plan, &["--format", "markdown"]);
        let (full_t, full_cpu, full_n) = show(plan, &["--full"]);

        // The library's share: reading (TOML, schema, checks) and rendering the review.
        let cpu0 = cpu_seconds().0;
        let start = Instant::now();
        let any = plan_schema::read_plan_file(Path::new(plan)).expect("read plan");
        let read = start.elapsed();
        let cpu1 = cpu_seconds().0;
        let start = Instant::now();
        let view = render::show_any_view(&any, Format::Text { color: false }, View::Review);
        let rendered = start.elapsed();
        let cpu2 = cpu_seconds().0;
        assert_eq!(view.lines().count(), text_n, "library and CLI disagree");

        // The NSX objects the plan was made from (its first input).
        let objects = plan_schema::with_plan!(&any, p => p
            .inputs
            .first()
            .and_then(|i| i.objects)
            .unwrap_or(0));
        println!(
            "{objects} NSX objects, plan {:.1} MiB",
            bytes as f64 / (1024.0 * 1024.0)
        );
        println!(
            "  {:<18} {:>7} {:>10} {:>9}",
            "show", "lines", "wall", "CPU"
        );
        for (name, n, t, cpu) in [
            ("review (text)", text_n, text_t, text_cpu),
            ("review (markdown)", md_n, md_t, md_cpu),
            ("--full (text)", full_n, full_t, full_cpu),
        ] {
            println!(
                "  {name:<18} {n:>7} {:>8.2} s {cpu:>7.2} s",
                t.as_secs_f64()
            );
        }
        println!(
            "  in-process: read {:.2} s (CPU {:.2} s), render review {:.3} s (CPU {:.2} s)",
            read.as_secs_f64(),
            cpu1 - cpu0,
            rendered.as_secs_f64(),
            cpu2 - cpu1
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

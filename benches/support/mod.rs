//! What the collect benchmarks share: running the release CLI against a started simulator with a
//! time limit, measuring CPU time (this process, which hosts the simulator, and the CLI child),
//! and the table of the request shapes the simulator spent its time on.
#![allow(dead_code)] // each bench uses part of it

use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

/// CPU seconds (user + system) of this process and of its waited-for children, from
/// `/proc/self/stat` (Linux; zero elsewhere).
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub own: f64,
    pub children: f64,
}

pub fn cpu() -> Cpu {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Cpu::default();
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14 to 17 (1-based), 12 to 15 after the name.
    let tick = 100.0; // USER_HZ on Linux
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0) / tick;
    Cpu {
        own: at(11) + at(12),
        children: at(13) + at(14),
    }
}

/// A finished CLI run: its output, wall time, and CPU seconds spent by the simulator (this
/// process, every thread) and by the CLI (with its children, e.g. kubectl) meanwhile.
pub struct Run {
    pub output: Output,
    pub wall: Duration,
    pub simulator_cpu: f64,
    pub cli_cpu: f64,
}

/// Run `cmd` (a CLI pointed at the simulator this process serves) on a blocking thread, at
/// most `limit`; panics with its stderr when it fails.
pub async fn run_cli(mut cmd: Command, limit: Duration) -> Run {
    let before = cpu();
    let start = Instant::now();
    let output = tokio::time::timeout(limit, tokio::task::spawn_blocking(move || cmd.output()))
        .await
        .unwrap_or_else(|_| panic!("the CLI took more than {limit:?}"))
        .expect("join")
        .expect("run nsx-migrate");
    let wall = start.elapsed();
    let after = cpu();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Run {
        output,
        wall,
        simulator_cpu: after.own - before.own,
        cli_cpu: after.children - before.children,
    }
}

/// Request shapes (method and path, ids folded by `fold`): count and milliseconds the
/// simulator spent answering, the costliest first.
pub fn request_shapes(log: &[Value], fold: impl Fn(&str) -> bool) -> Vec<(String, usize, u64)> {
    let mut kinds: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for r in log {
        let path = r["path"].as_str().unwrap_or("?");
        let shape: Vec<&str> = path
            .split('/')
            .map(|seg| if fold(seg) { "{id}" } else { seg })
            .collect();
        let k = kinds
            .entry(format!(
                "{} {}",
                r["method"].as_str().unwrap_or("?"),
                shape.join("/")
            ))
            .or_default();
        k.0 += 1;
        k.1 += r["duration_ms"].as_u64().unwrap_or(0);
    }
    let mut kinds: Vec<(String, usize, u64)> =
        kinds.into_iter().map(|(k, (n, ms))| (k, n, ms)).collect();
    kinds.sort_by_key(|k| std::cmp::Reverse(k.2));
    kinds
}

/// Print the `n` costliest request shapes under a table row.
pub fn print_shapes(shapes: &[(String, usize, u64)], n: usize) {
    for (k, count, ms) in shapes.iter().take(n) {
        println!(
            "{:>20} {count:>6} x {k} ({:.1} s in the simulator)",
            "",
            *ms as f64 / 1000.0
        );
    }
}

/// Summed server-side durations of a request log, in seconds.
pub fn busy_secs(log: &[Value]) -> f64 {
    log.iter()
        .map(|r| r["duration_ms"].as_u64().unwrap_or(0))
        .sum::<u64>() as f64
        / 1000.0
}

/// Sizes from a comma-separated environment variable, or `default`.
pub fn sizes(var: &str, default: &[usize]) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

//! Journal cost per record: appends N records (each synced with `sync_data`, as the executor
//! does) to a journal in a temporary directory under the given path (default: the system temp
//! directory) and prints the mean time per record. A measurement, not a test.
//!
//! `cargo run --release -p executor --example journal_cost -- [N] [DIR]`

use std::time::Instant;

use plan_schema::journal::{JournalEvent, RecordedRequest};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let base = args
        .get(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("journal-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plan_id = format!("sha256:{}", "ab".repeat(32));
    let (mut j, _) = executor::journal::Journal::open(&dir, &plan_id).expect("journal opens");
    let body = serde_json::json!({"resource_type": "Segment", "display_name": "seg-x",
        "tags": (0..10).map(|i| serde_json::json!({"scope": format!("ncp/s{i}"), "tag": "v"})).collect::<Vec<_>>()});
    let started = Instant::now();
    for i in 0..n {
        j.append(JournalEvent::StepIntent {
            step: format!("update/segment/{i}"),
            op: "patch".into(),
            request: RecordedRequest {
                endpoint: None,
                method: "PATCH".into(),
                path: format!("/policy/api/v1/infra/segments/{i}"),
                body: Some(body.clone()),
            },
            object_type: None,
            object_ids: Vec::new(),
        })
        .expect("append");
    }
    let elapsed = started.elapsed();
    let size = std::fs::metadata(j.path()).map(|m| m.len()).unwrap_or(0);
    drop(j);
    let reopen = Instant::now();
    let (j, _) = executor::journal::Journal::open(&dir, &plan_id).expect("journal reopens");
    let reopen = reopen.elapsed();
    println!(
        "{n} records, {size} bytes: {:.1} us per synced append; reopen with validation of every line {:.1} ms ({:.1} us per record)",
        elapsed.as_secs_f64() * 1e6 / n as f64,
        reopen.as_secs_f64() * 1e3,
        reopen.as_secs_f64() * 1e6 / j.records().len().max(1) as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! Measure the client's request rate against the simulator (loopback only).
//!
//! `cargo run --release -p client --example throughput -- [REQUESTS] [LATENCY_MS] [RATE] [CONCURRENCY]`
//!
//! Defaults: 1000 GETs, 20 ms simulated latency, client-side rate limit 95/s, concurrency 20,
//! against a manager enforcing NSX's defaults (100 req/s, 40 concurrent per client). Prints the
//! achieved rate, the 429s seen, and the same run at concurrency 1 for comparison.

use std::time::{Duration, Instant};

use client::{Credentials, NsxClient, NsxConfig, RetryPolicy};
use simulator::{SimConfig, Simulator};

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

async fn run(
    base: &str,
    requests: usize,
    rate: f64,
    concurrency: usize,
) -> Result<(f64, usize), client::ClientError> {
    let mut cfg = NsxConfig::new(
        base,
        Some(Credentials::new(
            simulator::DEFAULT_USERNAME,
            simulator::DEFAULT_PASSWORD,
        )),
    );
    cfg.max_concurrency = concurrency;
    cfg.rate_limit = (rate > 0.0).then_some(rate);
    cfg.retry = RetryPolicy::none();
    let c = NsxClient::new(cfg)?;
    c.login().await?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..requests {
        let c = c.clone();
        tasks.spawn(async move { c.get("/api/v1/node/version").await });
    }
    let mut refused = 0;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.http_status() == Some(429) => refused += 1,
            Ok(Err(e)) => return Err(e),
            Err(e) => panic!("task failed: {e}"),
        }
    }
    Ok((requests as f64 / started.elapsed().as_secs_f64(), refused))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = arg(1, 1000);
    let latency: u64 = arg(2, 20);
    let rate: f64 = arg(3, 95.0);
    let concurrency: usize = arg(4, 20);
    let h = Simulator::start(SimConfig {
        latency: Duration::from_millis(latency),
        ..SimConfig::default()
    })
    .await?;
    let (rps, refused) = run(&h.base_url(), requests, rate, concurrency).await?;
    println!(
        "{requests} GETs, latency {latency} ms, rate limit {rate}/s, concurrency {concurrency}: {rps:.1} req/s, {refused} refused (429)"
    );
    let n1 = requests.min(200);
    let (rps1, refused1) = run(&h.base_url(), n1, rate, 1).await?;
    println!(
        "{n1} GETs at concurrency 1: {rps1:.1} req/s, {refused1} refused; ratio {:.1}x",
        rps / rps1
    );
    h.shutdown().await;
    Ok(())
}

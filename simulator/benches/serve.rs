//! Serving benchmark: a generated ~100k-object NCP inventory, read back over real HTTP on
//! 127.0.0.1 with cursor paging (page_size 1000), for the list and search APIs.
//!
//! Run: `cargo bench -p simulator --bench serve` (optionally `-- <namespaces> <pods_per_namespace>`).

use std::time::{Duration, Instant};

use serde_json::Value;
use simulator::{GenerateSpec, Limits, SimConfig, Simulator};

async fn page_through(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    max_pages: usize,
) -> (usize, usize, Duration) {
    let t = Instant::now();
    let mut cursor = String::new();
    let mut objects = 0;
    let mut pages = 0;
    let sep = if path.contains('?') { '&' } else { '?' };
    while pages < max_pages {
        let url = if cursor.is_empty() {
            format!("{base}{path}{sep}page_size=1000")
        } else {
            format!("{base}{path}{sep}page_size=1000&cursor={cursor}")
        };
        let resp = http
            .get(&url)
            .basic_auth(
                simulator::DEFAULT_USERNAME,
                Some(simulator::DEFAULT_PASSWORD),
            )
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        let v: Value = resp.json().await.expect("json");
        objects += v["results"].as_array().map(Vec::len).unwrap_or(0);
        pages += 1;
        match v.get("cursor").and_then(Value::as_str) {
            Some(c) if !c.is_empty() => cursor = c.to_string(),
            _ => break,
        }
    }
    (objects, pages, t.elapsed())
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let namespaces: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(100);
    let pods: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(990);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Instant::now();
        let summary = simulator::generate(
            &GenerateSpec {
                seed: 1,
                namespaces,
                pods_per_namespace: pods,
                policies_per_namespace: 1,
                lb_services_per_namespace: 1,
                ..GenerateSpec::default()
            },
            dir.path(),
        )
        .expect("generate");
        let gen_time = t.elapsed();
        let t = Instant::now();
        let h = Simulator::start(SimConfig {
            inventory: Some(dir.path().to_path_buf()),
            // The benchmark measures serving speed, not NSX's per-client limits.
            limits: Limits { client_rate_per_sec: 0, client_concurrency: 0, global_concurrency: 0 },
            ..SimConfig::default()
        })
        .await
        .expect("start");
        let load_time = t.elapsed();
        println!("inventory: {} NSX objects, {} Kubernetes objects", summary.nsx_objects, summary.k8s_objects);
        println!("generate: {:.2?}   load+start: {:.2?}", gen_time, load_time);
        let http = reqwest::Client::new();
        let base = h.base_url();
        println!("{:<72} {:>8} {:>6} {:>10} {:>12}", "request (page_size=1000)", "objects", "pages", "time", "objects/s");
        for path in [
            "/api/v1/logical-ports",
            "/api/v1/logical-switches",
            "/api/v1/firewall/sections",
            "/api/v1/search/query?query=resource_type:LogicalPort",
            "/api/v1/search/query?query=tags.scope:ncp%5C%2Fcluster%20AND%20tags.tag:k8s%5C-synth",
            "/api/v1/search/query?query=resource_type:LogicalPort%20AND%20tags.scope:ncp%5C%2Fproject%20AND%20tags.tag:ns%5C-0042",
        ] {
            let (n, pages, d) = page_through(&http, &base, path, 1000).await;
            let rate = n as f64 / d.as_secs_f64().max(1e-9);
            println!("{:<72} {:>8} {:>6} {:>10.2?} {:>12.0}", path, n, pages, d, rate);
        }
        // Kubernetes API (HTTPS with its own CA): all pods with limit/continue.
        let k8s_ca = reqwest::Certificate::from_pem(h.k8s_ca_pem().as_bytes()).expect("ca");
        let k8s_http = reqwest::Client::builder()
            .tls_certs_only([k8s_ca])
            .build()
            .expect("client");
        let t = Instant::now();
        let (mut n, mut pages, mut cont) = (0usize, 0usize, String::new());
        while pages < 1000 {
            let url = if cont.is_empty() {
                format!("{}/api/v1/pods?limit=1000", h.k8s_base_url())
            } else {
                format!("{}/api/v1/pods?limit=1000&continue={cont}", h.k8s_base_url())
            };
            let v: Value = k8s_http
                .get(&url)
                .bearer_auth(h.k8s_token())
                .send()
                .await
                .expect("k8s")
                .json()
                .await
                .expect("json");
            n += v["items"].as_array().map(Vec::len).unwrap_or(0);
            pages += 1;
            match v.pointer("/metadata/continue").and_then(Value::as_str) {
                Some(c) if !c.is_empty() => cont = c.to_string(),
                _ => break,
            }
        }
        let d = t.elapsed();
        println!(
            "{:<72} {:>8} {:>6} {:>10.2?} {:>12.0}",
            "k8s /api/v1/pods?limit=1000",
            n,
            pages,
            d,
            n as f64 / d.as_secs_f64().max(1e-9)
        );
        h.shutdown().await;
    });
}

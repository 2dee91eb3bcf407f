//! `cargo bench -p nsx-migrate --bench vio_generate`: the VIO generator at its largest size
//! (50,000 ports, `sim generate --kind vio-v2t`): the same seed twice gives byte-identical
//! files, and the simulator loads the deployment and serves all of it (every port in one list,
//! the NSX-V edge count, vCenter's VM list refused unfiltered and served per host). CI runs the
//! same checks at 5,000 ports (`simulator` tests, `vio::the_generator_is_deterministic_and_loads`).
//! Prints the time of each part. `VIO_GENERATE_PORTS` picks the size.

use std::path::Path;
use std::time::Instant;

use serde_json::Value;
use simulator::vio::generate::{VioGenerateSpec, generate};
use simulator::{SimConfig, Simulator};

/// Every file under `dir`, relative, with its bytes, sorted.
fn dir_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    test_support::snapshot::files(dir)
        .into_iter()
        .map(|f| {
            let b = std::fs::read(dir.join(&f)).expect("read");
            (f, b)
        })
        .collect()
}

async fn get(c: &reqwest::Client, url: &str, auth: (&str, &str)) -> (u16, Value) {
    let r = c
        .get(url)
        .header(auth.0, auth.1)
        .header("accept", "application/json")
        .send()
        .await
        .expect("request");
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

fn main() {
    let ports: usize = std::env::var("VIO_GENERATE_PORTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(simulator::vio::generate::MAX_PORTS);
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let spec = VioGenerateSpec { seed: 11, ports };
    let t = Instant::now();
    let s = generate(&spec, &a).expect("generate");
    let generated = t.elapsed();
    generate(&spec, &b).expect("generate again");
    let (da, db) = (dir_bytes(&a), dir_bytes(&b));
    assert!(da == db, "same seed, same bytes");
    assert_eq!(s.ports, ports);
    println!("{s:?}");
    println!(
        "generated in {:.2} s ({} files, {:.1} MiB), the same bytes twice",
        generated.as_secs_f64(),
        da.len(),
        da.iter().map(|(_, b)| b.len()).sum::<usize>() as f64 / 1048576.0
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // reqwest is built without a default TLS provider (the workspace picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    rt.block_on(async {
        let t = Instant::now();
        let h = Simulator::start(SimConfig {
            inventory: Some(a.clone()),
            ..SimConfig::default()
        })
        .await
        .expect("the simulator loads the deployment");
        println!("loaded in {:.2} s", t.elapsed().as_secs_f64());
        let base = h.base_url();
        let c = reqwest::Client::new();
        let r = c
            .post(format!("{base}/v3/auth/tokens"))
            .json(&serde_json::json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
                "name": simulator::DEFAULT_USERNAME, "domain": {"name": "Default"},
                "password": simulator::DEFAULT_PASSWORD}}},
                "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}))
            .send()
            .await
            .expect("token");
        assert_eq!(r.status().as_u16(), 201);
        let token = r
            .headers()
            .get("x-subject-token")
            .expect("token header")
            .to_str()
            .expect("ascii")
            .to_string();
        let t = Instant::now();
        let (st, v) = get(
            &c,
            &format!("{base}/network/v2.0/ports?fields=id"),
            ("x-auth-token", &token),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(v["ports"].as_array().map(Vec::len), Some(ports));
        println!(
            "all {ports} ports in one list in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        let basic = {
            let r = c
                .get(&base)
                .basic_auth(simulator::DEFAULT_USERNAME, Some(simulator::DEFAULT_PASSWORD))
                .build()
                .expect("request");
            r.headers()["authorization"]
                .to_str()
                .expect("ascii")
                .to_string()
        };
        let (st, v) = get(
            &c,
            &format!("{base}/api/4.0/edges?pageSize=1"),
            ("authorization", &basic),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(
            v["edgePage"]["pagingInfo"]["totalCount"].as_u64(),
            Some(s.edges as u64)
        );
        let r = c
            .post(format!("{base}/api/session"))
            .header("authorization", &basic)
            .send()
            .await
            .expect("vCenter session");
        let sid: String = r.json().await.expect("session id");
        let (st, v) = get(&c, &format!("{base}/api/vcenter/vm"), ("vmware-api-session-id", &sid)).await;
        assert_eq!(st, 500, "{v}");
        assert_eq!(v["error_type"], "UNABLE_TO_ALLOCATE_RESOURCE");
        let (st, v) = get(
            &c,
            &format!("{base}/api/vcenter/vm?hosts=host-100"),
            ("vmware-api-session-id", &sid),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(v.as_array().map(Vec::len), Some(40));
        println!("served: ports, edges, VMs per host");
        h.shutdown().await;
    });
}

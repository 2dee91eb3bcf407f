//! Serve an inventory snapshot (or a generated one) until Ctrl-C:
//! `cargo run -p simulator --example serve -- <inventory-dir> [port]`
//! `cargo run -p simulator --example serve -- --generate <namespaces> <pods-per-namespace> [port]`

use simulator::{GenerateSpec, SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut tmp = None;
    let (inventory, port_arg) = if args.first().map(String::as_str) == Some("--generate") {
        let ns: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(4);
        let pods: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
        let dir = std::env::temp_dir().join(format!("nsx-sim-gen-{}", std::process::id()));
        simulator::generate(
            &GenerateSpec {
                namespaces: ns,
                pods_per_namespace: pods,
                ..GenerateSpec::default()
            },
            &dir,
        )?;
        tmp = Some(dir.clone());
        (Some(dir), args.get(3).cloned())
    } else {
        (args.first().map(Into::into), args.get(1).cloned())
    };
    let port: u16 = port_arg.and_then(|p| p.parse().ok()).unwrap_or(0);
    let h = Simulator::start(SimConfig {
        listen: ([127, 0, 0, 1], port).into(),
        inventory,
        ..SimConfig::default()
    })
    .await?;
    println!("NSX API:        {}", h.base_url());
    println!("Kubernetes API: {}", h.k8s_base_url());
    tokio::signal::ctrl_c().await?;
    h.shutdown().await;
    if let Some(d) = tmp {
        let _ = std::fs::remove_dir_all(d);
    }
    Ok(())
}

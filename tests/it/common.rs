//! Helpers the CLI tests share.

use std::process::Command;

pub use test_support::repo_root as repo;

/// The CLI, with the simulator's credentials in its environment and no `KUBECONFIG` from ours.
pub fn cli_for_sim() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"));
    c.env("NSX_USERNAME", simulator::DEFAULT_USERNAME)
        .env("NSX_PASSWORD", simulator::DEFAULT_PASSWORD)
        .env_remove("KUBECONFIG");
    c
}

/// Output bytes as text, for messages and `contains` checks.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

//! End-to-end tests of the `nsx-migrate` binary, grouped into one test binary (as ripgrep and
//! cargo do): one link of tokio, axum, reqwest, the simulator, planner and executor instead of one
//! per file. Each module is one area; `common` holds what they share (most comes from the
//! workspace's `test-support` crate). Run one area with `cargo test -p nsx-migrate --test it
//! <module>::`.
//!
//! Every test runs the CLI as a child process (`CARGO_BIN_EXE_nsx-migrate`) with the environment
//! it sets on that child, so tests in different modules can share this process; simulators listen
//! on 127.0.0.1 only.

mod common;

mod cli;
mod cli_flow;
mod demo;
mod e2e_apply_vio;
mod e2e_collect;
mod e2e_collect_vio;
mod e2e_tas;

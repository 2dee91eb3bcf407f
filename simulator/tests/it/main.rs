//! The simulator's HTTP tests (real HTTP on 127.0.0.1), as one test binary: tokio, axum and
//! reqwest are linked once instead of once per file. Each module is one area; `common` holds the
//! helpers they share. Run one area with `cargo test -p simulator --test it <module>::`.

mod cf;
mod common;
mod core;
mod example_flow;
mod faults;
mod firewall;
mod internals;
mod kubectl;
mod migration;
mod principal;
mod search;
mod spec_validation;
mod tls;
mod v2t_coordinator;
mod vio;
mod vio_replay;

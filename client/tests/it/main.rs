//! The client's integration tests, grouped into one test binary (as ripgrep and cargo do): one
//! link of tokio, axum, reqwest and the simulator instead of one per file. Everything runs over
//! 127.0.0.1 only.
//!
//! `common` holds the shared helpers (simulator start-up, client configurations, fault
//! injection, fixtures). Tests in different modules run in parallel threads of this one
//! process: a test that needs process-wide state says how it stays correct (see `logging`).

mod common;

mod cf;
mod kubectl;
mod logging;
mod nsx;
mod retry_after;
mod services;
mod sim_tls;
mod tls;

//! The executor's integration tests, grouped into one test binary (as ripgrep and cargo do): one
//! link of tokio, axum, reqwest, the simulator and the planner instead of one per file. Each
//! module is one area; `common` holds the helpers they share (most come from the workspace's
//! `test-support` crate), `vio_common` those the VIO modules share (their fixture and its builder). Run one area with `cargo test -p executor --test it <module>::`.
//!
//! Everything runs over 127.0.0.1; each test starts its own simulator and uses its own temporary
//! state directory, so tests in different modules can share this process. The crash tests kill
//! a child process, never this one: `executor-crash-harness`, which cargo builds for the
//! package's integration tests (`CARGO_BIN_EXE_executor-crash-harness`); the kill switch
//! (`NSX_MIGRATE_TEST_KILL_AFTER_RECORDS`) is set on that child only.

mod common;

mod apply;
mod audit_live;
mod crash;
mod faults;
mod manager_lock;
mod vio_apply;
mod vio_common;
mod vio_feedback;
mod vio_reconfig;
mod vio_stage_faults;
mod vio_window;

//! The planner's integration tests, grouped into one test binary (as ripgrep and cargo do): one
//! link instead of one per file. Each module is one area; `common` holds the fixtures they share.
//! Run one area with `cargo test -p planner --test it <module>::`.
//!
//! insta names a snapshot after the module path, so the snapshots live in
//! `snapshots/it__<module>__*.snap`.

mod common;

mod fuzz;
mod ordering;
mod plan;
mod prechecks;
mod tas;
mod vio_checks;
mod vio_plan;
mod vio_snapshot;

//! plan-schema's integration tests, grouped into one test binary (as ripgrep and cargo do): one
//! link instead of one per file. Each module is one area. Run one area with
//! `cargo test -p plan-schema --test it <module>::`.
//!
//! insta names a snapshot after the module path, so the snapshots of `render` live in
//! `snapshots/it__render__*.snap`.

mod fuzz;
mod plans;
mod render;

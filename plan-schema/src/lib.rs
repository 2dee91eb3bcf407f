//! The nsx-migrate plan contract: plan and journal types, their JSON Schemas, reading with
//! located errors, sealing, and rendering for reviewers.
//!
//! This crate knows nothing of HTTP, NSX clients or the simulator: it is the format that the
//! planner writes and the executor applies.

pub mod check;
pub mod fingerprint;
pub mod journal;
pub mod plan;
pub mod read;
pub mod render;
pub mod schema;
pub mod seal;
pub mod write;

pub use journal::{JournalEvent, JournalRecord, RecordedRequest, RunMode};
pub use plan::*;
pub use read::{Layer, PlanError, Problem, parse_plan, read_plan_file};
pub use seal::{compute_plan_id, seal, sha256_hex};

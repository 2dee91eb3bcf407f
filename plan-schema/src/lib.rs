//! The nsx-migrate plan contract: plan and journal types, their JSON Schemas, reading with
//! located errors, sealing, and rendering for reviewers.
//!
//! A plan is an envelope shared by every migration kind ([`Plan`]) around a kind's payload
//! ([`kind::Kind`]): [`mp`] (Manager-to-Policy) and [`vio`] (VIO Neutron NSX-V to NSX).
//! [`AnyPlan`] is a plan of any kind as read from a file.
//!
//! This crate knows nothing of HTTP, NSX clients or the simulator: it is the format that the
//! planner writes and the executor applies.

// A library reports through its return values and observers; only the CLI prints.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod check;
pub mod fingerprint;
pub mod journal;
pub mod kind;
pub mod mp;
pub mod plan;
pub mod problem;
pub mod read;
pub mod render;
pub mod schema;
pub mod seal;
pub mod vio;
pub mod write;

pub use journal::{JournalEvent, JournalRecord, RecordedRequest, RunMode};
pub use kind::{Detail, Kind, KindAction, KindPhase};
pub use plan::{
    AnyPlan, FORMAT_VERSION, Finding, Header, Input, KeyValue, MAX_TAG_SCOPE_LEN,
    MAX_TAG_VALUE_LEN, MAX_TAGS, MigrationKind, Plan, RuleRef, Severity, Step, Subject, Summary,
    Tag,
};
pub use read::{
    Layer, PlanError, Problem, parse_plan, read_mp_plan_file, read_plan_file, read_plan_file_of,
};
pub use seal::{compute_plan_id, seal, sha256_hex};

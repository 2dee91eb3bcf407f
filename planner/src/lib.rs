//! The nsx-migrate planner: inventories in, a reviewable, dependency-ordered, sealed plan out.
//!
//! It knows the NCP resource model and the migration coordinator's request shapes, but sends no
//! request to NSX: collection goes through the `client` crate, the plan format is `plan-schema`'s.

// A library reports through its return values and observers; only the CLI prints.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod assembly;
mod build;
pub mod cf;
mod checks;
pub mod collect;
mod context;
mod dfw;
pub mod error;
mod findings;
pub mod inventory;
mod mapping;
pub mod model;
mod ordering;
mod policy_ids;
mod requests;
pub mod rules;
mod scope;
mod updates;
pub mod userspec;
pub mod vio;

pub use build::build_plan;
pub use context::{PlanInputs, PlanOptions, SourcedSpec};
pub use error::PlanError;
pub use inventory::Inventory;
pub use policy_ids::display_name_policy_id;
pub use rules::Rules;
pub use userspec::UserSpec;

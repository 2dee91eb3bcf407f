//! The nsx-migrate planner: inventories in, a reviewable, dependency-ordered, sealed plan out.
//!
//! It knows the NCP resource model and the migration coordinator's request shapes, but sends no
//! request to NSX: collection goes through the `client` crate, the plan format is `plan-schema`'s.

mod build;
mod checks;
pub mod collect;
mod dfw;
pub mod error;
pub mod inventory;
pub mod model;
pub mod rules;
mod updates;
pub mod userspec;

pub use build::{PlanInputs, PlanOptions, SourcedSpec, build_plan, display_name_policy_id};
pub use error::PlanError;
pub use inventory::Inventory;
pub use rules::Rules;
pub use userspec::UserSpec;

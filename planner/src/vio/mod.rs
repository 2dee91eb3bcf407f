//! The VIO NSX-V to NSX migration kind (`vio-v2t`). `collect` (live APIs → snapshot),
//! `snapshot` (a snapshot directory → typed structs and fingerprints), `checks` (prechecks),
//! `mapping`, `steps`, `ordering` and `build` (snapshot → sealed plan).

pub mod build;
pub mod checks;
pub mod collect;
pub mod mapping;
pub mod net;
pub mod ordering;
pub mod redact;
pub mod rules;
pub mod snapshot;
pub mod steps;

pub use build::{VioPlanOptions, build_vio_plan};
pub use checks::prechecks;

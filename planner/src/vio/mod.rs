//! The VIO NSX-V to NSX migration kind (`vio-v2t`). So far: `collect` (live APIs → snapshot),
//! `snapshot` (a snapshot directory → typed structs and fingerprints).

pub mod checks;
pub mod collect;
pub mod net;
pub mod redact;
pub mod rules;
pub mod snapshot;

pub use checks::prechecks;

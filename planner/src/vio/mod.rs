//! The VIO NSX-V to NSX migration kind (`vio-v2t`). So far: `collect` (live APIs → snapshot).

pub mod collect;
pub mod redact;

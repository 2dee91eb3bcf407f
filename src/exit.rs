//! Exit codes (documented in docs/cli.md). 1 and 2 are the seeds' importer codes.

/// Success.
pub const SUCCESS: u8 = 0;
/// Input was invalid (usage, unreadable or invalid file, refused plan); nothing was sent to NSX.
pub const INVALID_INPUT: u8 = 3;

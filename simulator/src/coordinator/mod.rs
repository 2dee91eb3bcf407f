//! Migration coordinator, MP-to-Policy promotion in CONSUMER mode (`/api/v1/migration/...`).
//!
//! State machine (reference section 6.1 / 16): `workflow?action=INITIATE` opens the window;
//! `POST mp-to-policy` stores one batch; `plan?action=start` runs the precheck over simulated time and
//! ends `PAUSED` (precheck SUCCESS, or FAILED with details); `plan?action=continue` promotes the batch
//! object by object over simulated time and ends `SUCCESS` (or `PAUSED` with the migration component
//! FAILED); `plan?action=abort` clears the plan; `mp-to-policy/rollback` undoes listed objects;
//! `workflow?action=DONE` closes the window. Time advances lazily: every request first calls
//! [`tick`], which completes whatever the elapsed time allows.
//!
//! | File | What it holds |
//! |---|---|
//! | `api.rs` | the HTTP handlers and the state machine's transitions ([`route`]) |
//! | `flow.rs` | simulated time: the precheck and migration phases ([`tick`]) |
//! | `model.rs` | the request body (MpMigrationData) and the persisted state ([`MigrationState`]) |
//! | `table.rs` | one entry per migration type: Manager source, dependencies, Policy type and path, build function, marking, rollback cost |
//! | `kinds/` | the per-type functions the table names, by family (ipam, switching, routing, security, lb) |
//! | `resolve.rs` | Manager object lookup, dependency lists, Policy paths of promoted or batched objects |
//! | `precheck.rs` | the checks run before a batch is promoted |
//! | `promote.rs` | promotion of one item: the shared steps around the type's `build` |
//! | `rollback.rs` | undoing promotions from their records |
//! | `v2t.rs` | the NSX-V to NSX modes a VIO migration drives (EDGE_CUTOVER, DFW_AND_HOST_AND_WORKLOAD): setup, data files, plan actions and settings, feedback and its effects, unit groups and their status, on a virtual clock |

mod api;
mod flow;
mod kinds;
mod model;
mod precheck;
mod promote;
mod resolve;
mod rollback;
mod table;
pub mod v2t;

pub use api::route;
pub use flow::tick;
pub use model::MigrationState;

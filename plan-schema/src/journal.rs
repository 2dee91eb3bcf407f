//! The journal: JSON lines the executor appends (and fsyncs) in its state directory.
//!
//! Write-ahead discipline: a `step_intent` record is durable before the request it describes is
//! sent, and a `step_done` / `step_failed` record after the answer. An intent without an outcome
//! is resolved on the next run by reading live state, never by guessing. `migration_recorded`
//! records are the seeds' "migration records": the manager ids of each imported batch, which
//! rollback works from.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The journal format version.
pub const JOURNAL_FORMAT_VERSION: u32 = 2;

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nsx-migrate journal record")]
pub struct JournalRecord {
    /// 1-based, gap-free sequence number within the journal file.
    #[schemars(range(min = 1))]
    pub seq: u64,
    /// RFC 3339 time the record was written.
    #[schemars(extend("format" = "date-time"))]
    pub at: String,
    /// The plan this journal belongs to; a journal of another plan is refused.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub plan_id: String,
    pub event: JournalEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum JournalEvent {
    /// A run of `apply` or `rollback` began.
    RunStarted {
        journal_format_version: u32,
        /// The kind of plan the run applies; `rollback` picks its executor by it.
        kind: crate::plan::MigrationKind,
        mode: RunMode,
        tool_version: String,
        host: String,
        pid: u32,
    },
    /// About to send a change. `request` is exactly what will be sent (body included, so a
    /// failed Policy update can be re-sent from the journal, as the seeds' phase 4 requires).
    StepIntent {
        step: String,
        /// Which request of the step (an import batch takes several calls).
        op: String,
        request: RecordedRequest,
        /// What the request asks to create or promote (the kind's word, e.g. a migration
        /// type), when it does: with `object_ids`, what a later run must settle from live state
        /// if no outcome follows.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        object_type: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        object_ids: Vec<String>,
    },
    /// The change was confirmed by NSX.
    StepDone {
        step: String,
        op: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    /// The change failed, or its outcome could not be read.
    StepFailed {
        step: String,
        op: String,
        error: String,
        retriable: bool,
    },
    /// Live state showed the step already done (resume or re-apply): nothing was sent.
    StepSkipped { step: String, reason: String },
    /// A step made objects that a rollback must undo (for Manager-to-Policy: the manager ids
    /// an import batch promoted, the seeds' migration records). `object_type` is the kind's
    /// word for what they are (a migration type, a Neutron resource).
    MigrationRecorded {
        step: String,
        object_type: String,
        object_ids: Vec<String>,
    },
    /// Rollback of a step's recorded objects is about to be requested.
    RollbackIntent {
        step: String,
        object_type: String,
        object_ids: Vec<String>,
    },
    /// Rollback of a step's recorded objects succeeded; its migration record is void.
    RollbackDone { step: String, object_type: String },
    /// The run ended (cleanly, or by a handled failure) with this exit code.
    RunFinished { exit_code: u8, outcome: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    Apply,
    Rollback,
}

/// A request as recorded in the journal: the endpoint, method, path and query relative to it,
/// and body. Never headers (they hold credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    /// Which endpoint of the plan's target it went to (e.g. `neutron`, `nsx-v`); absent for
    /// the NSX Manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub method: String,
    /// Path and query, e.g. `/policy/api/v1/infra/segments/abc`.
    #[schemars(regex(pattern = r"^/"))]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

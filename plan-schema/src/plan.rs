//! The plan envelope: what every plan says whatever its migration kind.
//!
//! A plan is `Plan<K>` for a [`Kind`] `K`: the envelope (format version, seal, header, inputs,
//! summary, rules, findings, steps with ids, phases and dependencies) is shared; the kind owns
//! the target (`[target]`), the requirements the executor re-checks (`[requirements]`), its
//! phases, its actions and its change counters (`[summary.changes]`). [`AnyPlan`] is a plan of
//! any kind, as read from a file.
//!
//! Field order in these structs is the order a reviewer sees in the TOML file; keep it readable.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kind::Kind;
use crate::mp::MpToPolicy;
use crate::vio::VioV2t;

/// The plan format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 2;

/// NSX limits on tags (NSX-T Manager API `Tag`, `ManagedResource.tags`).
pub const MAX_TAGS: usize = 30;
pub const MAX_TAG_SCOPE_LEN: usize = 128;
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// A whole plan of kind `K`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(bound = "", rename = "Plan")]
pub struct Plan<K: Kind> {
    /// Version of this file format. This nsx-migrate writes and reads version 2.
    #[schemars(range(min = 1))]
    pub format_version: u32,
    /// `sha256:<hex>` over the canonical content (everything but `plan_id` and
    /// `header.created_at`). Editing the plan by hand breaks it on purpose; `nsx-migrate seal`
    /// re-seals a deliberately edited plan.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub plan_id: String,
    pub header: Header,
    /// What is migrated, and where: owned by the kind.
    pub target: K::Target,
    /// What the executor re-checks before its first change, as the planner decided it: owned
    /// by the kind, so planner and executor never disagree.
    pub requirements: K::Requirements,
    /// One fingerprint per inventory source the plan was made from.
    #[serde(default)]
    pub inputs: Vec<Input>,
    pub summary: Summary<K::Counters>,
    /// The rules that produced the changes below, so the plan explains itself.
    #[serde(default)]
    pub rules: Vec<RuleRef>,
    /// Prechecks. A plan with `error` findings can be written and reviewed but not applied.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The changes, in phase order and dependency order.
    #[serde(default)]
    pub steps: Vec<Step<K>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The migration kind; it decides what `[target]`, `[requirements]`, the phases and the
    /// actions may say.
    pub kind: MigrationKind,
    /// RFC 3339 time the plan was written. Not covered by `plan_id`.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    /// nsx-migrate version that wrote the plan.
    #[schemars(length(min = 1))]
    pub tool_version: String,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationKind {
    /// NCP cluster or TAS foundation: NSX Manager API objects imported into the Policy API.
    MpToPolicy,
    /// VMware Integrated OpenStack: Neutron moved from NSX-V to NSX.
    VioV2t,
}

impl MigrationKind {
    pub const ALL: [MigrationKind; 2] = [MigrationKind::MpToPolicy, MigrationKind::VioV2t];

    pub fn as_str(self) -> &'static str {
        match self {
            MigrationKind::MpToPolicy => "mp-to-policy",
            MigrationKind::VioV2t => "vio-v2t",
        }
    }

    pub fn parse(s: &str) -> Option<MigrationKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Fingerprint of one inventory source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// What the source is, e.g. `nsx`, `kubernetes`, `user-spec`, `neutron`.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Where it was read from: a path, or an address without credentials.
    pub source: String,
    /// sha256 (hex) of the source's canonical form.
    #[schemars(regex(pattern = r"^[0-9a-f]{64}$"))]
    pub sha256: String,
    /// How many objects it held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<u64>,
}

/// Counts a reviewer reads first. Checked against the steps and findings when the plan is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary<C> {
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
    /// The kind's change counters.
    pub changes: C,
}

/// A rule that produced changes in this plan, by id, with what it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRef {
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"))]
    pub id: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Stable id, unique in the plan.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"))]
    pub id: String,
    pub severity: Severity,
    /// The precheck that raised it, e.g. `ncp-running`.
    #[schemars(length(min = 1))]
    pub check: String,
    pub subject: Subject,
    pub message: String,
    /// What the operator should do about it.
    pub remedy: String,
    /// Steps this finding explains (e.g. the DFW move it planned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<String>,
    /// The vendor tool's error code for the same condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// API type or kind, e.g. `FirewallSection`, `Pod`, `NsxManager`, `port`.
    pub resource_type: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, bound = "")]
#[schemars(bound = "", rename = "Step")]
pub struct Step<K: Kind> {
    /// Stable id, unique in the plan; the journal refers to it.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"), length(max = 200))]
    pub id: String,
    /// When the step runs; the kind defines its phases and their order.
    pub phase: K::Phase,
    /// Steps that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub action: K::Action,
}

/// An NSX tag.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    #[schemars(length(max = 128))]
    pub scope: String,
    #[schemars(length(max = 256))]
    pub tag: String,
}

/// `{key, value}` pairs (the migration API's `metadata` and `linked_ids`, pod labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    #[schemars(length(min = 1))]
    pub key: String,
    pub value: String,
}

impl<K: Kind> Plan<K> {
    /// Whether the plan may be applied: no error findings.
    pub fn is_applicable(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The summary these steps and findings imply.
    pub fn computed_summary(&self) -> Summary<K::Counters> {
        let mut s = Summary {
            errors: 0,
            warnings: 0,
            infos: 0,
            changes: K::counters(&self.steps),
        };
        for f in &self.findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }

    pub fn step(&self, id: &str) -> Option<&Step<K>> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// What the plan migrates, in one line (cluster, deployment).
    pub fn subject_name(&self) -> String {
        K::target_name(&self.target)
    }
}

/// A plan of any kind, as read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyPlan {
    MpToPolicy(Plan<MpToPolicy>),
    VioV2t(Plan<VioV2t>),
}

/// Run the same generic code on whichever kind of plan this is: `with_plan!(any, p => expr)`.
#[macro_export]
macro_rules! with_plan {
    ($any:expr, $p:ident => $body:expr) => {
        match $any {
            $crate::AnyPlan::MpToPolicy($p) => $body,
            $crate::AnyPlan::VioV2t($p) => $body,
        }
    };
}

impl AnyPlan {
    pub fn kind(&self) -> MigrationKind {
        match self {
            AnyPlan::MpToPolicy(_) => MigrationKind::MpToPolicy,
            AnyPlan::VioV2t(_) => MigrationKind::VioV2t,
        }
    }

    pub fn plan_id(&self) -> &str {
        with_plan!(self, p => &p.plan_id)
    }

    pub fn header(&self) -> &Header {
        with_plan!(self, p => &p.header)
    }

    pub fn findings(&self) -> &[Finding] {
        with_plan!(self, p => &p.findings)
    }

    pub fn is_applicable(&self) -> bool {
        with_plan!(self, p => p.is_applicable())
    }

    pub fn errors(&self) -> u64 {
        with_plan!(self, p => p.summary.errors)
    }

    /// Step ids and phase names, in plan order.
    pub fn step_phases(&self) -> Vec<(String, &'static str)> {
        use crate::kind::KindPhase;
        with_plan!(self, p => p.steps.iter().map(|s| (s.id.clone(), s.phase.as_str())).collect())
    }

    /// Phase names of the kind, in order.
    pub fn phase_names(&self) -> Vec<&'static str> {
        use crate::kind::KindPhase;
        fn names<P: KindPhase>() -> Vec<&'static str> {
            P::ALL.iter().map(|p| p.as_str()).collect()
        }
        match self {
            AnyPlan::MpToPolicy(_) => names::<crate::mp::Phase>(),
            AnyPlan::VioV2t(_) => names::<crate::vio::Phase>(),
        }
    }

    pub fn subject_name(&self) -> String {
        with_plan!(self, p => p.subject_name())
    }

    /// The plan as JSON (its serialized form).
    pub fn to_json(&self) -> serde_json::Value {
        with_plan!(self, p => serde_json::to_value(p).unwrap_or_default())
    }
}

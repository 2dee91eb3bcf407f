//! The plan file: what the planner writes, a reviewer reads and the executor applies.
//!
//! Field order in these structs is the order a reviewer sees in the TOML file; keep it readable.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The plan format version this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// NSX limits on tags (NSX-T Manager API `Tag`, `ManagedResource.tags`).
pub const MAX_TAGS: usize = 30;
pub const MAX_TAG_SCOPE_LEN: usize = 128;
pub const MAX_TAG_VALUE_LEN: usize = 256;

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "nsx-migrate plan")]
pub struct Plan {
    /// Version of this file format. This nsx-migrate writes and reads version 1.
    #[schemars(range(min = 1))]
    pub format_version: u32,
    /// `sha256:<hex>` over the canonical content (everything but `plan_id` and
    /// `header.created_at`). Editing the plan by hand breaks it on purpose; `nsx-migrate seal`
    /// re-seals a deliberately edited plan.
    #[schemars(regex(pattern = r"^sha256:[0-9a-f]{64}$"))]
    pub plan_id: String,
    pub header: Header,
    /// One fingerprint per inventory source the plan was made from.
    #[serde(default)]
    pub inputs: Vec<Input>,
    pub summary: Summary,
    /// The rules (id rules, tag and display_name rules, DFW rules) that produced the changes
    /// below, so the plan explains itself.
    #[serde(default)]
    pub rules: Vec<RuleRef>,
    /// Prechecks. A plan with `error` findings can be written and reviewed but not applied.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// The changes, in phase order and dependency order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub kind: MigrationKind,
    /// Kubernetes cluster, TAS foundation or VIO deployment name (NCP's `[coe] cluster`).
    #[schemars(length(min = 1))]
    pub cluster: String,
    /// NSX Manager address (host name, IP or URL). Never credentials.
    #[schemars(length(min = 1))]
    pub nsx_manager: String,
    /// NSX version seen when planning (`GET /api/v1/node/version` `node_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsx_version: Option<String>,
    /// NCP version found in the `ncp/version` tags, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncp_version: Option<String>,
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
    /// VIO Neutron from NSX-V to NSX (reserved; no step actions exist for it yet).
    VioV2t,
}

impl MigrationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationKind::MpToPolicy => "mp-to-policy",
            MigrationKind::VioV2t => "vio-v2t",
        }
    }
}

/// Fingerprint of one inventory source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// What the source is: `nsx`, `kubernetes`, `user-spec`, `rules`.
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
pub struct Summary {
    pub dfw_sections_created: u64,
    pub dfw_section_moves: u64,
    pub dfw_rule_moves: u64,
    pub import_batches: u64,
    pub imported_resources: u64,
    pub policy_updates: u64,
    pub errors: u64,
    pub warnings: u64,
    pub infos: u64,
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
    /// NSX `resource_type` or Kubernetes kind, e.g. `FirewallSection`, `Pod`, `NsxManager`.
    pub resource_type: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id, unique in the plan; the journal refers to it.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"), length(max = 200))]
    pub id: String,
    pub phase: Phase,
    /// Steps that must be done first.
    #[serde(default)]
    pub depends_on: Vec<String>,
    pub action: Action,
}

/// When a step runs. `prepare` fixes the DFW layout through the Manager API before anything is
/// imported; `import` drives the migration coordinator (seed phase 2); `update` changes tags and
/// display names of the imported Policy objects (seed phase 4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Prepare,
    Import,
    Update,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Prepare, Phase::Import, Phase::Update];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Import => "import",
            Phase::Update => "update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create a firewall section (Manager API), e.g. to receive user rules moved out of NCP's.
    DfwSectionCreate(DfwSectionCreate),
    /// Move a firewall section (`POST /api/v1/firewall/sections/<id>?action=revise&operation=...`).
    DfwSectionMove(DfwSectionMove),
    /// Move a firewall rule to another section.
    DfwRuleMove(DfwRuleMove),
    /// One request to the migration coordinator: one migration type, a batch of MP objects.
    ImportBatch(ImportBatch),
    /// Change tags and/or display_name of one Policy object after import.
    PolicyUpdate(PolicyUpdate),
}

impl Action {
    /// The phase this kind of action belongs to.
    pub fn phase(&self) -> Phase {
        match self {
            Action::DfwSectionCreate(_) | Action::DfwSectionMove(_) | Action::DfwRuleMove(_) => {
                Phase::Prepare
            }
            Action::ImportBatch(_) => Phase::Import,
            Action::PolicyUpdate(_) => Phase::Update,
        }
    }

    pub fn kind_str(&self) -> &'static str {
        match self {
            Action::DfwSectionCreate(_) => "dfw_section_create",
            Action::DfwSectionMove(_) => "dfw_section_move",
            Action::DfwRuleMove(_) => "dfw_rule_move",
            Action::ImportBatch(_) => "import_batch",
            Action::PolicyUpdate(_) => "policy_update",
        }
    }
}

/// Position operations of the Manager firewall API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsertOp {
    InsertTop,
    InsertBottom,
    InsertBefore,
    InsertAfter,
}

impl InsertOp {
    pub fn as_str(self) -> &'static str {
        match self {
            InsertOp::InsertTop => "insert_top",
            InsertOp::InsertBottom => "insert_bottom",
            InsertOp::InsertBefore => "insert_before",
            InsertOp::InsertAfter => "insert_after",
        }
    }

    /// Whether the operation needs an anchor (`id=` parameter).
    pub fn needs_anchor(self) -> bool {
        matches!(self, InsertOp::InsertBefore | InsertOp::InsertAfter)
    }
}

/// A firewall section: an existing one by MP id, or one a `dfw_section_create` step of this plan
/// creates (its id is only known once it exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionRef {
    /// MP id of an existing section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Id of the `dfw_section_create` step that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwSectionCreate {
    #[schemars(length(min = 1, max = 255))]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `LAYER3` for the DFW sections NCP uses.
    pub section_type: String,
    pub stateful: bool,
    pub operation: InsertOp,
    /// Required for `insert_before` / `insert_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<SectionRef>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwSectionMove {
    pub section: SectionRef,
    /// The section's `_revision` when planned; a different one at apply time means drift.
    pub revision: i64,
    pub operation: InsertOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<SectionRef>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwRuleMove {
    pub rule_id: String,
    pub display_name: String,
    pub from_section: SectionRef,
    /// `_revision` of the source section when planned.
    pub from_section_revision: i64,
    pub to_section: SectionRef,
    /// Position inside the target section.
    pub operation: InsertOp,
    /// Anchor rule id inside the target section, for `insert_before` / `insert_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_rule: Option<String>,
    pub reason: String,
}

/// Migration types of the NSX migration coordinator (`MPResource.type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrationType {
    Ipblock,
    Ippool,
    IpblockSubnet,
    IppoolAllocation,
    Tier0,
    Tier1,
    SpoofguardProfiles,
    MacdiscoveryProfiles,
    SegmentSecurityProfiles,
    QosProfiles,
    IpdiscoveryProfiles,
    DhcpServer,
    MetadataProxy,
    LogicalSwitch,
    LogicalPort,
    Tier1LogicalRouterPort,
    Tier0LogicalRouterPort,
    Tier0LogicalRouterConfig,
    Nat,
    IpSet,
    NsGroup,
    Certificate,
    Crl,
    LbMonitor,
    LbPool,
    LbPersistenceProfile,
    LbApplicationProfile,
    LbClientSslProfile,
    LbVirtualServer,
    LbService,
    DfwSection,
}

impl MigrationType {
    /// The string the migration API takes.
    pub fn as_str(self) -> &'static str {
        use MigrationType::*;
        match self {
            Ipblock => "IPBLOCK",
            Ippool => "IPPOOL",
            IpblockSubnet => "IPBLOCK_SUBNET",
            IppoolAllocation => "IPPOOL_ALLOCATION",
            Tier0 => "TIER0",
            Tier1 => "TIER1",
            SpoofguardProfiles => "SPOOFGUARD_PROFILES",
            MacdiscoveryProfiles => "MACDISCOVERY_PROFILES",
            SegmentSecurityProfiles => "SEGMENT_SECURITY_PROFILES",
            QosProfiles => "QOS_PROFILES",
            IpdiscoveryProfiles => "IPDISCOVERY_PROFILES",
            DhcpServer => "DHCP_SERVER",
            MetadataProxy => "METADATA_PROXY",
            LogicalSwitch => "LOGICAL_SWITCH",
            LogicalPort => "LOGICAL_PORT",
            Tier1LogicalRouterPort => "TIER1_LOGICAL_ROUTER_PORT",
            Tier0LogicalRouterPort => "TIER0_LOGICAL_ROUTER_PORT",
            Tier0LogicalRouterConfig => "TIER0_LOGICAL_ROUTER_CONFIG",
            Nat => "NAT",
            IpSet => "IP_SET",
            NsGroup => "NS_GROUP",
            Certificate => "CERTIFICATE",
            Crl => "CRL",
            LbMonitor => "LB_MONITOR",
            LbPool => "LB_POOL",
            LbPersistenceProfile => "LB_PERSISTENCE_PROFILE",
            LbApplicationProfile => "LB_APPLICATION_PROFILE",
            LbClientSslProfile => "LB_CLIENT_SSL_PROFILE",
            LbVirtualServer => "LB_VIRTUAL_SERVER",
            LbService => "LB_SERVICE",
            DfwSection => "DFW_SECTION",
        }
    }
}

/// `{key, value}` as the migration API takes `metadata` and `linked_ids`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    #[schemars(length(min = 1))]
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBatch {
    pub migration_type: MigrationType,
    /// 1-based batch number within its migration type.
    #[schemars(range(min = 1))]
    pub batch: u32,
    /// `setup_details.principal_identity`: owner of the created Policy objects; NSX's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identity: Option<String>,
    #[schemars(length(min = 1))]
    pub resources: Vec<ImportResource>,
}

/// One `MPResourceDetails` entry, plus what a reviewer and the staleness check need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportResource {
    #[schemars(length(min = 1))]
    pub manager_id: String,
    /// MP `resource_type`, e.g. `LogicalSwitch`.
    pub resource_type: String,
    /// For reviewers.
    pub display_name: String,
    /// MP `_revision` when planned; a different one at apply time means the plan is stale.
    pub revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_ids: Vec<KeyValue>,
    /// Why the object is imported (for reviewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ImportScope>,
    /// The rule (listed in `[[rules]]`) that chose `policy_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Why an object is part of the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImportScope {
    /// It carries the cluster's tag (`ncp/cluster`): NCP created it for this cluster.
    Cluster,
    /// The user spec names it as a shared resource of the cluster.
    UserSpec,
    /// An untagged (admin-created) port of a logical switch the user spec names.
    SharedSwitchPort,
    /// Ports, routes or uplinks of a router in scope, imported as the router's configuration.
    RouterConfig,
}

impl ImportScope {
    /// How a reviewer reads it.
    pub fn describe(self) -> &'static str {
        match self {
            ImportScope::Cluster => "cluster tag",
            ImportScope::UserSpec => "named in the user spec",
            ImportScope::SharedSwitchPort => "port of a shared switch",
            ImportScope::RouterConfig => "configuration of its router",
        }
    }
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

/// A tag to add or remove, with the rule that asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagChange {
    #[schemars(length(max = 128))]
    pub scope: String,
    #[schemars(length(max = 256))]
    pub tag: String,
    pub rule: String,
}

impl TagChange {
    pub fn as_tag(&self) -> Tag {
        Tag {
            scope: self.scope.clone(),
            tag: self.tag.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplayNameChange {
    pub from: String,
    #[schemars(length(min = 1, max = 255))]
    pub to: String,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    /// Policy path under `/policy/api/v1`, e.g. `/infra/segments/<id>`.
    #[schemars(regex(pattern = r"^/infra/"))]
    pub path: String,
    /// Policy `resource_type`, e.g. `Segment`.
    pub resource_type: String,
    /// The MP object it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
    /// Tags the object is expected to carry before the update (as planned).
    #[serde(default)]
    pub tags_before: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_remove: Vec<TagChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_add: Vec<TagChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayNameChange>,
}

impl PolicyUpdate {
    /// The tag list after the update: `tags_before` without the removed tags, then the added
    /// ones. Order is kept so that a reviewer's diff shows only real changes.
    pub fn tags_after(&self) -> Vec<Tag> {
        let removed: Vec<Tag> = self.tags_remove.iter().map(TagChange::as_tag).collect();
        let mut out: Vec<Tag> = self
            .tags_before
            .iter()
            .filter(|t| !removed.contains(t))
            .cloned()
            .collect();
        for add in &self.tags_add {
            let t = add.as_tag();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

impl Plan {
    /// Whether the plan may be applied: no error findings.
    pub fn is_applicable(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The summary these steps and findings imply.
    pub fn computed_summary(&self) -> Summary {
        let mut s = Summary::default();
        for step in &self.steps {
            match &step.action {
                Action::DfwSectionCreate(_) => s.dfw_sections_created += 1,
                Action::DfwSectionMove(_) => s.dfw_section_moves += 1,
                Action::DfwRuleMove(_) => s.dfw_rule_moves += 1,
                Action::ImportBatch(b) => {
                    s.import_batches += 1;
                    s.imported_resources += b.resources.len() as u64;
                }
                Action::PolicyUpdate(_) => s.policy_updates += 1,
            }
        }
        for f in &self.findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }
}

//! The VIO kind (`vio-v2t`): a VMware Integrated OpenStack deployment's Neutron moved from NSX-V
//! to NSX (seed 004). Action names follow the proposed plan steps of
//! `vio-v2t-anchors.md` section 6.3: a stale-object cleanup, the ordered API replay of Neutron
//! onto the Policy plugin, edge preparation, the coordinator's edge cutover and host migration,
//! VIO's reconfiguration and the post-migration cleanup.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kind::{Departure, Detail, Kind, KindAction, KindPhase, Tally};
use crate::plan::MigrationKind;
use crate::problem::Problem;

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem::semantic(pointer, message)
}

/// The VIO Neutron NSX-V to NSX kind.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct VioV2t;

/// A VIO V2T plan.
pub type Plan = crate::plan::Plan<VioV2t>;
/// A step of a VIO V2T plan.
pub type Step = crate::plan::Step<VioV2t>;

/// `[target]`: the deployment and the endpoints the migration touches (addresses only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "VioTarget")]
pub struct Target {
    /// VIO deployment name.
    #[schemars(length(min = 1))]
    pub deployment: String,
    /// Keystone v3 endpoint of the cloud.
    #[schemars(length(min = 1))]
    pub keystone_url: String,
    /// NSX-V Manager address (the source).
    #[schemars(length(min = 1))]
    pub nsxv_manager: String,
    /// NSX Manager address (the target).
    #[schemars(length(min = 1))]
    pub nsx_manager: String,
    /// vCenter address.
    #[schemars(length(min = 1))]
    pub vcenter: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsxv_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsx_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vio_version: Option<String>,
}

/// `[requirements]`: what `apply` re-checks before its first change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "VioRequirements")]
pub struct Requirements {
    /// Oldest NSX-V version accepted (seed: 6.4.11).
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)*$"))]
    pub min_nsxv_version: String,
    /// Oldest NSX version accepted (seed error 1002: 3.2).
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)*$"))]
    pub min_nsx_version: String,
    /// The migration coordinator service must be running (seed error 1001).
    pub coordinator_running: bool,
    /// No other migration mode may be configured on the coordinator (seed error 1100).
    pub coordinator_mode_free: bool,
    /// At least one compute manager registered on NSX (seed error 1004).
    pub compute_manager: bool,
    /// The names the VIO reconfiguration and the post-migration cleanup use in VIO's Kubernetes
    /// API (inferred: the planner's rules `[reconfig]`, docs/rules.md `vio_neutron_cr`). Plans
    /// without it read with today's names; it is written only when a value differs from them,
    /// so the plan id of a plan without it stays what it was.
    // Boxed: rarely set, and inline it would make every VIO plan value larger.
    #[serde(default, skip_serializing_if = "ReconfigNames::is_default")]
    pub reconfig: Box<ReconfigNames>,
    /// Where the API replay sends the Octavia calls (inferred: the planner's rules `[replay]`,
    /// docs/rules.md `vio_octavia_endpoint`). Written only when it differs from the default, so
    /// the plan id of a plan without it stays what it was.
    #[serde(default, skip_serializing_if = "OctaviaEndpoint::is_default")]
    pub octavia: Box<OctaviaEndpoint>,
}

/// `[requirements.octavia]`: the service the replay's Octavia calls go to. The vendor's migrator
/// hands load balancers to the NSX Octavia driver over RPC; nsx-migrate sends Octavia's REST
/// bodies to `<catalog endpoint of service><path>/...` instead (the plan's calls name
/// `/v2/lbaas/...`; `path` replaces that prefix).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(rename = "VioOctaviaEndpoint")]
pub struct OctaviaEndpoint {
    /// Catalog service type, e.g. `network-replay` (the replay target) or `load-balancer`.
    #[schemars(length(min = 1))]
    pub service: String,
    /// Path prefix under that endpoint standing for the calls' `/v2/lbaas`.
    #[schemars(regex(pattern = r"^/[^\s?#]*[^/\s?#]$"))]
    pub path: String,
}

impl Default for OctaviaEndpoint {
    /// The replay target's Neutron endpoint, at Octavia's own `v2/lbaas/` location.
    fn default() -> Self {
        OctaviaEndpoint {
            service: "network-replay".into(),
            path: "/v2/lbaas".into(),
        }
    }
}

impl OctaviaEndpoint {
    /// Both values the default.
    pub fn is_default(&self) -> bool {
        *self == OctaviaEndpoint::default()
    }

    /// Each value that breaks its syntax, as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let s = &self.service;
        if s.is_empty()
            || !s
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            out.push((
                "service",
                format!("`{s}` is not a catalog service type (letters, digits, '-' and '_')"),
            ));
        }
        let p = &self.path;
        if !p.starts_with('/')
            || p.len() < 2
            || p.ends_with('/')
            || p.chars().any(|c| c.is_whitespace() || c == '?' || c == '#')
        {
            out.push((
                "path",
                format!("`{p}` is not a path starting with '/' and not ending with one"),
            ));
        }
        out
    }

    /// The path of a planned call (`/v2/lbaas/...`) under this endpoint.
    pub fn path_of(&self, call_path: &str) -> String {
        match call_path.strip_prefix("/v2/lbaas") {
            Some(rest) => format!("{}{rest}", self.path),
            None => call_path.to_string(),
        }
    }
}

/// `[requirements.reconfig]`: VIO's custom resources as the reconfiguration addresses them, and
/// what it writes into them. Every value is inferred (no public source states it); the planner
/// copies them from its rules so the reviewer sees them in the sealed plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
#[schemars(rename = "VioReconfigNames")]
pub struct ReconfigNames {
    /// API group of VIO's custom resources.
    #[schemars(length(min = 1))]
    pub api_group: String,
    /// Their API version.
    #[schemars(length(min = 1))]
    pub api_version: String,
    /// Plural of the Neutron custom resource.
    #[schemars(length(min = 1))]
    pub neutron_plural: String,
    /// Plural of the secret resource.
    #[schemars(length(min = 1))]
    pub secret_plural: String,
    /// Kind of the secret resource.
    #[schemars(length(min = 1))]
    pub secret_kind: String,
    /// The secret the NSX password is written into (in the Neutron resource's namespace).
    #[schemars(length(min = 1))]
    pub secret_name: String,
    /// The key of the secret's `spec.data` holding the password.
    #[schemars(length(min = 1))]
    pub secret_key: String,
    /// Neutron's `core_plugin` for the NSX Policy plugin.
    #[schemars(length(min = 1))]
    pub policy_plugin: String,
}

impl Default for ReconfigNames {
    /// The values plans carried implicitly before this table existed.
    fn default() -> Self {
        ReconfigNames {
            api_group: "vio.vmware.com".into(),
            api_version: "v1alpha1".into(),
            neutron_plural: "neutrons".into(),
            secret_plural: "viosecrets".into(),
            secret_kind: "VIOSecret".into(),
            secret_name: "neutron-nsxp-secret".into(),
            secret_key: "nsxp_password".into(),
            policy_plugin: "vmware_nsx.plugin.NsxPolicyPlugin".into(),
        }
    }
}

impl ReconfigNames {
    /// Every value today's default.
    pub fn is_default(&self) -> bool {
        *self == ReconfigNames::default()
    }
    /// `<group>/<version>`, as in `apiVersion` and `/apis/...` paths.
    pub fn group_version(&self) -> String {
        format!("{}/{}", self.api_group, self.api_version)
    }
    /// `<plural>.<group>` of the Neutron resource, as kubectl names it.
    pub fn neutron_resource(&self) -> String {
        format!("{}.{}", self.neutron_plural, self.api_group)
    }
    /// `<plural>.<group>` of the secret resource.
    pub fn secret_resource(&self) -> String {
        format!("{}.{}", self.secret_plural, self.api_group)
    }

    /// Each value that breaks its syntax, as (field, message): group and secret name are DNS
    /// subdomains (RFC 1123), version and plurals DNS labels, the kind, key and plugin class
    /// non-empty without whitespace or `/`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut check = |field: &'static str, v: &str, ok: bool, what: &str| {
            if !ok {
                out.push((field, format!("`{v}` is not {what}")));
            }
        };
        check(
            "api_group",
            &self.api_group,
            dns_subdomain(&self.api_group),
            "a DNS subdomain (lower-case letters, digits, '-' and '.')",
        );
        for (field, v) in [
            ("api_version", &self.api_version),
            ("neutron_plural", &self.neutron_plural),
            ("secret_plural", &self.secret_plural),
        ] {
            check(
                field,
                v,
                dns_label(v),
                "a DNS label (lower-case letters, digits and '-', at most 63)",
            );
        }
        check(
            "secret_name",
            &self.secret_name,
            dns_subdomain(&self.secret_name),
            "a Kubernetes object name (lower-case letters, digits, '-' and '.', at most 253)",
        );
        for (field, v) in [
            ("secret_kind", &self.secret_kind),
            ("secret_key", &self.secret_key),
            ("policy_plugin", &self.policy_plugin),
        ] {
            check(
                field,
                v,
                !v.is_empty() && !v.chars().any(|c| c.is_whitespace() || c == '/'),
                "non-empty without whitespace or '/'",
            );
        }
        out
    }
}

/// An RFC 1123 label: 1 to 63 of `[a-z0-9-]`, starting and ending alphanumeric.
fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An RFC 1123 subdomain: labels joined by `.`, at most 253 in all.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// When a step runs, in this order.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "VioPhase")]
pub enum Phase {
    Cleanup,
    Replay,
    EdgePrep,
    EdgeCutover,
    HostMigration,
    VioReconfig,
    PostCleanup,
}

impl KindPhase for Phase {
    const ALL: &'static [Phase] = &[
        Phase::Cleanup,
        Phase::Replay,
        Phase::EdgePrep,
        Phase::EdgeCutover,
        Phase::HostMigration,
        Phase::VioReconfig,
        Phase::PostCleanup,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Phase::Cleanup => "cleanup",
            Phase::Replay => "replay",
            Phase::EdgePrep => "edge_prep",
            Phase::EdgeCutover => "edge_cutover",
            Phase::HostMigration => "host_migration",
            Phase::VioReconfig => "vio_reconfig",
            Phase::PostCleanup => "post_cleanup",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Phase::Cleanup => "remove Neutron objects a failed earlier attempt left on NSX",
            Phase::Replay => "replay Neutron onto the NSX Policy plugin, in dependency order",
            Phase::EdgePrep => "prepare the edges for cutover",
            Phase::EdgeCutover => "cut north-south traffic over to the NSX edges (coordinator)",
            Phase::HostMigration => {
                "migrate hosts, DFW and workloads (coordinator): no rollback once started"
            }
            Phase::VioReconfig => "switch VIO's Neutron to the NSX Policy plugin",
            Phase::PostCleanup => "clean up what the migration left behind",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[schemars(rename = "VioAction")]
pub enum Action {
    /// Delete Neutron-owned objects already on NSX (by their `os-api-version` tag), in reverse
    /// dependency order; only when the migrator's `rollback` option allows it.
    NsxCleanupStale(NsxCleanupStale),
    /// One Neutron API call against the temporary Neutron server with the Policy plugin, and the
    /// NSX Policy objects it is expected to create.
    ApiReplay(ApiReplay),
    /// Disconnect NSX-V edge vNICs before cutover (`edge_migration_interfaces_down`).
    EdgeInterfacesDown(EdgeInterfacesDown),
    /// Attach a router without gateway to a tier-0 for the cutover (seed 1105); undone by
    /// `router_nogw_restore`.
    RouterNogwFixup(RouterNogwFixup),
    /// Enable or disable `v2t-migration-config` on an NSX edge transport node.
    EdgeMigrationConfig(EdgeMigrationConfig),
    /// Ask NSX-V for the token the coordinator uses as the source's credential
    /// (`SourceNsxApiEndpoint.auth_token`), valid for the migrator's `nsxv_token_lifetime`.
    NsxvToken(NsxvToken),
    /// The coordinator's EDGE_CUTOVER run: setup, mapping upload, start, feedback, finish.
    EdgeCutover(EdgeCutover),
    /// Detach the routers fixed up for the cutover again (seed 1106).
    RouterNogwRestore(RouterNogwRestore),
    /// Power off an NSX-V edge's appliance VMs (seed 1115).
    EdgePowerOff(EdgePowerOff),
    /// The coordinator's DFW_AND_HOST_AND_WORKLOAD run for the compute clusters.
    HostMigration(HostMigration),
    /// Reconfigure VIO: Neutron custom resource, secret, database.
    VioReconfig(VioReconfig),
    /// Remove what the migration left behind (`post_migration_cleanup`).
    PostCleanup(PostCleanup),
}

impl Action {
    pub fn kind_str(&self) -> &'static str {
        match self {
            Action::NsxCleanupStale(_) => "nsx_cleanup_stale",
            Action::ApiReplay(_) => "api_replay",
            Action::EdgeInterfacesDown(_) => "edge_interfaces_down",
            Action::RouterNogwFixup(_) => "router_nogw_fixup",
            Action::EdgeMigrationConfig(_) => "edge_migration_config",
            Action::NsxvToken(_) => "nsxv_token",
            Action::EdgeCutover(_) => "edge_cutover",
            Action::RouterNogwRestore(_) => "router_nogw_restore",
            Action::EdgePowerOff(_) => "edge_power_off",
            Action::HostMigration(_) => "host_migration",
            Action::VioReconfig(_) => "vio_reconfig",
            Action::PostCleanup(_) => "post_cleanup",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NsxCleanupStale {
    /// Policy paths to delete, in this order.
    #[schemars(length(min = 1))]
    pub paths: Vec<String>,
    pub reason: String,
}

/// The Neutron (or Octavia) resource a replay call creates or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplayResource {
    Quota,
    SecurityGroup,
    SecurityGroupRule,
    QosPolicy,
    /// The DLR-to-PLR transit network of a distributed router (id = router id), created
    /// before the router.
    DlrTransitNetwork,
    Router,
    Subnetpool,
    Network,
    Subnet,
    RouterGateway,
    RouterInterface,
    Port,
    SubnetDhcp,
    Floatingip,
    RouterRoutes,
    FirewallRule,
    FirewallPolicy,
    FirewallGroup,
    Loadbalancer,
    Listener,
    Pool,
    Member,
    Healthmonitor,
    L7policy,
    RbacPolicy,
}

impl ReplayResource {
    pub fn as_str(self) -> &'static str {
        use ReplayResource::*;
        match self {
            Quota => "quota",
            SecurityGroup => "security_group",
            SecurityGroupRule => "security_group_rule",
            QosPolicy => "qos_policy",
            DlrTransitNetwork => "dlr_transit_network",
            Router => "router",
            Subnetpool => "subnetpool",
            Network => "network",
            Subnet => "subnet",
            RouterGateway => "router_gateway",
            RouterInterface => "router_interface",
            Port => "port",
            SubnetDhcp => "subnet_dhcp",
            Floatingip => "floatingip",
            RouterRoutes => "router_routes",
            FirewallRule => "firewall_rule",
            FirewallPolicy => "firewall_policy",
            FirewallGroup => "firewall_group",
            Loadbalancer => "loadbalancer",
            Listener => "listener",
            Pool => "pool",
            Member => "member",
            Healthmonitor => "healthmonitor",
            L7policy => "l7policy",
            RbacPolicy => "rbac_policy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiReplay {
    pub resource: ReplayResource,
    /// The call: method and path under the network endpoint, e.g. `POST /v2.0/networks`, or
    /// under the load-balancer endpoint (`/v2/lbaas/...`) for Octavia objects, which the replay
    /// hands to the NSX Octavia driver.
    #[schemars(regex(pattern = r"^(POST|PUT) /v2(\.0)?/"))]
    pub call: String,
    /// The project the objects belong to (a bulk request is single-tenant).
    #[schemars(length(min = 1))]
    pub project_id: String,
    /// The objects the call carries, with their source ids.
    #[schemars(length(min = 1))]
    pub objects: Vec<ReplayObject>,
    /// What the replay changes on the way (address pairs cut, DHCP off, new ids), so that
    /// nothing is changed silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewrites: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayObject {
    /// Neutron id (kept by the replay, except where a rewrite says otherwise).
    #[schemars(length(min = 1))]
    pub id: String,
    pub name: String,
    /// NSX Policy paths the Policy plugin is expected to create for it (the audit reads them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policy_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeInterfacesDown {
    /// NSX-V edge id, e.g. `edge-12`.
    pub edge_id: String,
    /// vNIC indexes to disconnect.
    #[schemars(length(min = 1))]
    pub vnics: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterNogwFixup {
    pub router_id: String,
    /// Tier-0 path the router is attached to for the cutover.
    #[schemars(regex(pattern = r"^/infra/tier-0s/"))]
    pub tier0_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterNogwRestore {
    pub router_id: String,
    /// The `router_nogw_fixup` step it undoes.
    pub fixup_step: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeMigrationConfig {
    /// NSX edge transport node id.
    pub transport_node_id: String,
    /// `true` before the edge cutover, `false` after the host migration.
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NsxvToken {
    /// Token lifetime in minutes (NSX-V accepts 1 to 1440).
    #[schemars(range(min = 1, max = 1440))]
    pub lifetime_minutes: u32,
}

/// One element of the coordinator's EDGE_CUTOVER_MAPPING file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeMapping {
    /// NSX-V edge ids (the DLR, and/or an ESG for DHCP leases): one or two.
    #[schemars(length(min = 1, max = 2))]
    pub v_edges: Vec<String>,
    /// The tier-1 the edges map to (the Neutron router id).
    pub policy_gateway_name: String,
}

/// A pre-approved answer to a coordinator feedback request. It names the requests it answers
/// either by `request` (a request's `hash`, which names a kind of request across objects, or its
/// `id`) or by `vertical` (with `sub_vertical` when given) and `object`: the request about that
/// source object, which the planner can foresee from the snapshot before the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackResponse {
    /// The request's `hash` (stable across runs), or its `id`; empty for an answer by
    /// `vertical` and `object`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub request: String,
    /// The request's `vertical` (the coordinator's feedback category, e.g. `EDGE`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vertical: String,
    /// The request's `sub_vertical`; empty matches any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub_vertical: String,
    /// The source object the request is about: its `v_object_id` (the NSX-V id, e.g. an edge
    /// id) or its `object_id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub object: String,
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl FeedbackResponse {
    /// Does this answer name the coordinator's request `item` (a `MigrationFeedbackRequest`:
    /// `id`, `hash`, `vertical`, `sub_vertical`, `v_object_id`, `object_id`)?
    pub fn answers(&self, id: &str, hash: &str, key: &FeedbackKey<'_>) -> bool {
        if !self.request.is_empty() {
            return self.request == id || self.request == hash;
        }
        !self.object.is_empty()
            && self.vertical == key.vertical
            && (self.sub_vertical.is_empty() || self.sub_vertical == key.sub_vertical)
            && (self.object == key.v_object_id || self.object == key.object_id)
    }

    /// How precisely the answer names its request: by id (3), by category and object (2), by
    /// hash (1, a kind of request). The most precise answer wins.
    pub fn precision(&self, id: &str) -> u8 {
        if self.request.is_empty() {
            2
        } else if self.request == id {
            3
        } else {
            1
        }
    }

    /// How `show` names what it answers.
    pub fn key_text(&self) -> String {
        if !self.request.is_empty() {
            return self.request.clone();
        }
        let mut k = self.vertical.clone();
        if !self.sub_vertical.is_empty() {
            k = format!("{k}/{}", self.sub_vertical);
        }
        format!("{k} {}", self.object)
    }
}

/// The fields of a live feedback request an answer by category and object compares.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedbackKey<'a> {
    pub vertical: &'a str,
    pub sub_vertical: &'a str,
    pub v_object_id: &'a str,
    pub object_id: &'a str,
}

/// Who starts a coordinator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StartBy {
    /// The operator starts it in the NSX UI; apply waits (the seed's procedure).
    Operator,
    /// apply starts it (`plan?action=start`).
    Apply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgeCutover {
    pub start: StartBy,
    /// The mapping file uploaded before the start; empty when there is no distributed router
    /// (then no file is uploaded).
    #[serde(default)]
    pub mapping: Vec<EdgeMapping>,
    /// Feedback answers the reviewer approved; any other unresolved request stops apply with
    /// the list of unanswered requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<FeedbackResponse>,
    /// Answer every unresolved request with the coordinator's recommendation
    /// (`feedback-response?action=accept-recommended`). Off unless the plan says so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept_recommended: bool,
    /// How long to wait for the coordinator (seed 1132: 12 h).
    #[schemars(range(min = 1))]
    pub timeout_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgePowerOff {
    pub edge_id: String,
    /// vCenter VM ids of the edge's appliances.
    #[schemars(length(min = 1))]
    pub vm_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostMigration {
    pub start: StartBy,
    /// vSphere clusters whose host groups are enabled (the migrator's `compute_clusters`).
    #[schemars(length(min = 1))]
    pub compute_clusters: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feedback: Vec<FeedbackResponse>,
    /// As for the edge cutover: off unless the plan says so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub accept_recommended: bool,
    /// How long to wait for the coordinator (seed 1132: 48 h).
    #[schemars(range(min = 1))]
    pub timeout_hours: u32,
    /// Must be true: once hosts start moving there is no rollback, and apply asks for explicit
    /// confirmation before this step.
    pub point_of_no_return: bool,
}

/// What part of VIO is reconfigured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VioTask {
    /// The Neutron custom resource: NSX-V plugin off, Policy plugin on.
    NeutronCr,
    /// The VIO secret with the NSX credentials (by reference; never in the plan).
    VioSecret,
    /// Rename the Policy plugin's database `neutron_policy` to `neutron`.
    DatabaseRename,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VioReconfig {
    pub task: VioTask,
    /// Done by the operator and confirmed to apply, rather than sent by apply.
    pub operator_task: bool,
    pub description: String,
}

/// What the post-migration cleanup removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CleanupTarget {
    /// DFW security policies the coordinator migrated (tag scope `v_origin`).
    VOriginDfwPolicies,
    /// Segment ports on Neutron segments without an `os-api-version` tag.
    NonNeutronSegmentPorts,
    /// The Policy plugin's `api_replay_mode`.
    ApiReplayMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostCleanup {
    pub remove: CleanupTarget,
}

/// `[summary.changes]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "VioCounters")]
pub struct Counters {
    pub stale_objects_removed: u64,
    pub replay_calls: u64,
    pub replayed_objects: u64,
    pub edge_prep_steps: u64,
    pub edge_cutovers: u64,
    pub host_migrations: u64,
    pub edges_powered_off: u64,
    pub vio_tasks: u64,
    pub cleanup_steps: u64,
}

impl KindAction for Action {
    type Phase = Phase;

    fn phase(&self) -> Phase {
        match self {
            Action::NsxCleanupStale(_) => Phase::Cleanup,
            Action::ApiReplay(_) => Phase::Replay,
            Action::EdgeInterfacesDown(_) | Action::RouterNogwFixup(_) | Action::NsxvToken(_) => {
                Phase::EdgePrep
            }
            Action::EdgeMigrationConfig(c) if c.enabled => Phase::EdgePrep,
            Action::EdgeMigrationConfig(_) => Phase::HostMigration,
            Action::EdgeCutover(_) | Action::RouterNogwRestore(_) => Phase::EdgeCutover,
            Action::EdgePowerOff(_) | Action::HostMigration(_) => Phase::HostMigration,
            Action::VioReconfig(_) => Phase::VioReconfig,
            Action::PostCleanup(_) => Phase::PostCleanup,
        }
    }

    fn kind_str(&self) -> &'static str {
        Action::kind_str(self)
    }

    fn describe(&self) -> String {
        match self {
            Action::NsxCleanupStale(c) => {
                format!("delete {} stale Neutron object(s) on NSX", c.paths.len())
            }
            Action::ApiReplay(r) => {
                let n = r.objects.len();
                format!(
                    "{} ({} {}{}, project {})",
                    r.call,
                    n,
                    r.resource.as_str(),
                    if n == 1 { "" } else { "s" },
                    r.project_id
                )
            }
            Action::EdgeInterfacesDown(e) => format!(
                "disconnect vNIC(s) {} of NSX-V edge {}",
                e.vnics
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                e.edge_id
            ),
            Action::NsxvToken(t) => format!(
                "get an NSX-V token valid for {} min for the coordinator",
                t.lifetime_minutes
            ),
            Action::RouterNogwFixup(r) => format!(
                "attach gateway-less router {} to {} for the cutover",
                r.router_id, r.tier0_path
            ),
            Action::EdgeMigrationConfig(c) => format!(
                "{} v2t-migration-config on edge transport node {}",
                if c.enabled { "enable" } else { "disable" },
                c.transport_node_id
            ),
            Action::EdgeCutover(c) => format!(
                "edge cutover (EDGE_CUTOVER): {} mapping(s), started by {}, up to {} h",
                c.mapping.len(),
                start_by(c.start),
                c.timeout_hours
            ),
            Action::RouterNogwRestore(r) => {
                format!(
                    "detach router {} again (undoes {})",
                    r.router_id, r.fixup_step
                )
            }
            Action::EdgePowerOff(e) => format!(
                "power off NSX-V edge {} ({} VM(s))",
                e.edge_id,
                e.vm_ids.len()
            ),
            Action::HostMigration(h) => format!(
                "host migration (DFW_AND_HOST_AND_WORKLOAD) of {}, started by {}, up to {} h{}",
                h.compute_clusters.join(", "),
                start_by(h.start),
                h.timeout_hours,
                if h.point_of_no_return {
                    "; POINT OF NO RETURN"
                } else {
                    ""
                }
            ),
            Action::VioReconfig(v) => format!(
                "{}{}",
                v.description,
                if v.operator_task {
                    " (operator task)"
                } else {
                    ""
                }
            ),
            Action::PostCleanup(p) => format!(
                "remove {}",
                match p.remove {
                    CleanupTarget::VOriginDfwPolicies => "the DFW policies tagged v_origin",
                    CleanupTarget::NonNeutronSegmentPorts =>
                        "segment ports without os-api-version on Neutron segments",
                    CleanupTarget::ApiReplayMode => "api_replay_mode from the Policy plugin",
                }
            ),
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Action::NsxCleanupStale(c) => Some(&c.reason),
            _ => None,
        }
    }

    fn details(&self) -> Vec<Detail> {
        match self {
            Action::ApiReplay(r) => {
                let mut out: Vec<Detail> = r
                    .objects
                    .iter()
                    .map(|o| Detail::Object {
                        resource_type: r.resource.as_str().to_string(),
                        display_name: o.name.clone(),
                        id: o.id.clone(),
                        target: if o.policy_paths.is_empty() {
                            "(no NSX object of its own)".to_string()
                        } else {
                            o.policy_paths.join(", ")
                        },
                        note: String::new(),
                    })
                    .collect();
                out.extend(
                    r.rewrites
                        .iter()
                        .map(|w| Detail::Note(format!("rewritten: {w}"))),
                );
                out
            }
            Action::NsxCleanupStale(c) => c
                .paths
                .iter()
                .map(|p| Detail::Note(format!("delete {p}")))
                .collect(),
            Action::EdgeCutover(c) => c
                .mapping
                .iter()
                .map(|m| {
                    Detail::Note(format!(
                        "map {} -> {}",
                        m.v_edges.join(" + "),
                        m.policy_gateway_name
                    ))
                })
                .chain(c.feedback.iter().map(feedback_note))
                .chain(feedback_policy(c.accept_recommended))
                .collect(),
            Action::HostMigration(h) => h
                .feedback
                .iter()
                .map(feedback_note)
                .chain(feedback_policy(h.accept_recommended))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Replayed Neutron objects are counted; every other step (deletions, edge work, cutover,
    /// host migration, reconfiguration, cleanup) is listed: there are few and each matters.
    fn itemised(&self) -> bool {
        !matches!(self, Action::ApiReplay(_))
    }

    fn tally(&self) -> Vec<Tally> {
        match self {
            Action::ApiReplay(r) => vec![Tally {
                what: r.resource.as_str().to_string(),
                group: Some(r.project_id.clone()),
                objects: r.objects.len() as u64,
            }],
            Action::NsxCleanupStale(c) => vec![Tally {
                what: self.kind_str().to_string(),
                group: None,
                objects: c.paths.len() as u64,
            }],
            _ => vec![Tally {
                what: self.kind_str().to_string(),
                group: None,
                objects: 1,
            }],
        }
    }

    /// A replay that changes what it carries (a rewrite) departs from a plain replay.
    fn departures(&self) -> Vec<Departure> {
        match self {
            Action::ApiReplay(r) => r
                .rewrites
                .iter()
                .map(|w| Departure {
                    class: format!("{} rewritten on replay", r.resource.as_str()),
                    example: w.clone(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn start_by(s: StartBy) -> &'static str {
    match s {
        StartBy::Operator => "the operator",
        StartBy::Apply => "apply",
    }
}

fn feedback_policy(accept_recommended: bool) -> Option<Detail> {
    Some(Detail::Note(if accept_recommended {
        "feedback: every other request is answered with the coordinator's recommendation".into()
    } else {
        "feedback: any other request stops apply with the list; answer it in the plan".into()
    }))
}

fn feedback_note(f: &FeedbackResponse) -> Detail {
    Detail::Note(format!(
        "feedback {}: {}{}",
        f.key_text(),
        f.action,
        f.value
            .as_deref()
            .map(|v| format!(" = {v}"))
            .unwrap_or_default()
    ))
}

impl Kind for VioV2t {
    const KIND: MigrationKind = MigrationKind::VioV2t;
    type Target = Target;
    type Requirements = Requirements;
    type Phase = Phase;
    type Action = Action;
    type Counters = Counters;
    /// A replay step's `objects`: one line per replayed object (tens of thousands in a large
    /// deployment).
    const INLINE_TABLE_ARRAYS: &'static [&'static str] = &["objects"];

    fn counters(steps: &[Step]) -> Counters {
        let mut c = Counters::default();
        for s in steps {
            match &s.action {
                Action::NsxCleanupStale(x) => c.stale_objects_removed += x.paths.len() as u64,
                Action::ApiReplay(r) => {
                    c.replay_calls += 1;
                    c.replayed_objects += r.objects.len() as u64;
                }
                Action::EdgeInterfacesDown(_)
                | Action::RouterNogwFixup(_)
                | Action::EdgeMigrationConfig(_)
                | Action::NsxvToken(_)
                | Action::RouterNogwRestore(_) => c.edge_prep_steps += 1,
                Action::EdgeCutover(_) => c.edge_cutovers += 1,
                Action::EdgePowerOff(_) => c.edges_powered_off += 1,
                Action::HostMigration(_) => c.host_migrations += 1,
                Action::VioReconfig(_) => c.vio_tasks += 1,
                Action::PostCleanup(_) => c.cleanup_steps += 1,
            }
        }
        c
    }

    fn counter_pairs(c: &Counters) -> Vec<(&'static str, u64)> {
        vec![
            ("stale_objects_removed", c.stale_objects_removed),
            ("replay_calls", c.replay_calls),
            ("replayed_objects", c.replayed_objects),
            ("edge_prep_steps", c.edge_prep_steps),
            ("edge_cutovers", c.edge_cutovers),
            ("host_migrations", c.host_migrations),
            ("edges_powered_off", c.edges_powered_off),
            ("vio_tasks", c.vio_tasks),
            ("cleanup_steps", c.cleanup_steps),
        ]
    }

    fn phase_summary(c: &Counters, phase: Phase) -> String {
        match phase {
            Phase::Cleanup => format!("{} stale object(s) to delete", c.stale_objects_removed),
            Phase::Replay => format!(
                "{} Neutron call(s), {} object(s)",
                c.replay_calls, c.replayed_objects
            ),
            Phase::EdgePrep => format!("{} edge preparation step(s)", c.edge_prep_steps),
            Phase::EdgeCutover => format!("{} edge cutover run(s)", c.edge_cutovers),
            Phase::HostMigration => format!(
                "{} host migration run(s), {} edge(s) powered off",
                c.host_migrations, c.edges_powered_off
            ),
            Phase::VioReconfig => format!("{} VIO task(s)", c.vio_tasks),
            Phase::PostCleanup => format!("{} cleanup step(s)", c.cleanup_steps),
        }
    }

    fn target_name(t: &Target) -> String {
        t.deployment.clone()
    }

    fn group_label(_: &Plan) -> (&'static str, &'static str) {
        ("project", "the OpenStack project of each replayed call")
    }

    fn header_rows(plan: &Plan) -> Vec<(&'static str, String)> {
        let t = &plan.target;
        let v = |s: &Option<String>| s.as_deref().map(|v| format!(" ({v})")).unwrap_or_default();
        let r = &plan.requirements;
        vec![
            ("deployment", t.deployment.clone()),
            ("Keystone", t.keystone_url.clone()),
            ("NSX-V", format!("{}{}", t.nsxv_manager, v(&t.nsxv_version))),
            (
                "NSX Manager",
                format!("{}{}", t.nsx_manager, v(&t.nsx_version)),
            ),
            ("vCenter", t.vcenter.clone()),
            (
                "requires",
                format!(
                    "NSX-V {} or later, NSX {} or later{}{}{}",
                    r.min_nsxv_version,
                    r.min_nsx_version,
                    if r.coordinator_running {
                        ", migration coordinator running"
                    } else {
                        ""
                    },
                    if r.coordinator_mode_free {
                        ", no other coordinator mode configured"
                    } else {
                        ""
                    },
                    if r.compute_manager {
                        ", a compute manager"
                    } else {
                        ""
                    }
                ),
            ),
        ]
    }

    fn addresses(t: &Target) -> Vec<(&'static str, &str)> {
        vec![
            ("/target/keystone_url", t.keystone_url.as_str()),
            ("/target/nsxv_manager", t.nsxv_manager.as_str()),
            ("/target/nsx_manager", t.nsx_manager.as_str()),
            ("/target/vcenter", t.vcenter.as_str()),
        ]
    }

    fn from_any(any: crate::AnyPlan) -> Option<Plan> {
        match any {
            crate::AnyPlan::VioV2t(p) => Some(p),
            _ => None,
        }
    }

    fn into_any(plan: Plan) -> crate::AnyPlan {
        crate::AnyPlan::VioV2t(plan)
    }

    fn check(plan: &Plan, out: &mut Vec<Problem>) {
        let index: HashMap<&str, usize> = plan
            .steps
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (s.id.as_str(), i))
            .collect();
        let cutovers: Vec<&str> = plan
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::EdgeCutover(_)))
            .map(|s| s.id.as_str())
            .collect();
        for (field, message) in plan.requirements.reconfig.problems() {
            out.push(problem(
                format!("/requirements/reconfig/{field}"),
                format!("requirements.reconfig.{field}: {message}"),
            ));
        }
        for (field, message) in plan.requirements.octavia.problems() {
            out.push(problem(
                format!("/requirements/octavia/{field}"),
                format!("requirements.octavia.{field}: {message}"),
            ));
        }
        let mut replayed: HashMap<(ReplayResource, &str), &str> = HashMap::new();
        for (i, step) in plan.steps.iter().enumerate() {
            let base = format!("/steps/{i}/action");
            match &step.action {
                Action::ApiReplay(r) => {
                    for (j, o) in r.objects.iter().enumerate() {
                        if let Some(other) = replayed.insert((r.resource, &o.id), &step.id) {
                            out.push(problem(
                                format!("{base}/objects/{j}/id"),
                                format!(
                                    "{} {} is already replayed by step `{other}`",
                                    r.resource.as_str(),
                                    o.id
                                ),
                            ));
                        }
                        for (k, p) in o.policy_paths.iter().enumerate() {
                            if !p.starts_with("/infra/") {
                                out.push(problem(
                                    format!("{base}/objects/{j}/policy_paths/{k}"),
                                    format!("policy path `{p}` must start with /infra/"),
                                ));
                            }
                        }
                    }
                }
                Action::RouterNogwRestore(r) => match index.get(r.fixup_step.as_str()) {
                    Some(&f) => match &plan.steps[f].action {
                        Action::RouterNogwFixup(x) if x.router_id == r.router_id => {
                            if !step.depends_on.contains(&r.fixup_step) {
                                out.push(problem(
                                    format!("{base}/fixup_step"),
                                    format!(
                                        "step `{}` undoes `{}` but does not depend on it",
                                        step.id, r.fixup_step
                                    ),
                                ));
                            }
                        }
                        _ => out.push(problem(
                            format!("{base}/fixup_step"),
                            format!(
                                "`{}` is not the router_nogw_fixup of router {}",
                                r.fixup_step, r.router_id
                            ),
                        )),
                    },
                    None => out.push(problem(
                        format!("{base}/fixup_step"),
                        format!("unknown step `{}`", r.fixup_step),
                    )),
                },
                Action::EdgeCutover(c) => check_feedback(&c.feedback, &base, out),
                Action::HostMigration(h) => {
                    check_feedback(&h.feedback, &base, out);
                    if !h.point_of_no_return {
                        out.push(problem(
                            format!("{base}/point_of_no_return"),
                            "a host migration cannot be rolled back: point_of_no_return must be true",
                        ));
                    }
                    for c in &cutovers {
                        if !step.depends_on.iter().any(|d| d == c) {
                            out.push(problem(
                                format!("/steps/{i}/depends_on"),
                                format!(
                                    "host migration `{}` must depend on the edge cutover `{c}`",
                                    step.id
                                ),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Each answer names its requests one way (by `request`, or by `vertical` and `object`), has an
/// action, and no two answers of a run name the same requests.
fn check_feedback(answers: &[FeedbackResponse], base: &str, out: &mut Vec<Problem>) {
    let mut seen: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
    for (j, f) in answers.iter().enumerate() {
        let at = format!("{base}/feedback/{j}");
        let by_object =
            !f.vertical.is_empty() || !f.sub_vertical.is_empty() || !f.object.is_empty();
        if !f.request.is_empty() && by_object {
            out.push(problem(
                format!("{at}/request"),
                "a feedback answer names its request either by `request` (hash or id) or by `vertical` and `object`, not both",
            ));
        } else if f.request.is_empty() && (f.vertical.is_empty() || f.object.is_empty()) {
            let field = if f.vertical.is_empty() {
                "vertical"
            } else {
                "object"
            };
            out.push(problem(
                format!("{at}/{field}"),
                "a feedback answer needs `request` (hash or id), or `vertical` and `object`",
            ));
        }
        if f.action.trim().is_empty() {
            out.push(problem(
                format!("{at}/action"),
                "a feedback answer needs an action",
            ));
        }
        let key = (
            f.request.as_str(),
            f.vertical.as_str(),
            f.sub_vertical.as_str(),
            f.object.as_str(),
        );
        if let Some(first) = seen.insert(key, j) {
            out.push(problem(
                at,
                format!(
                    "feedback answer for `{}` repeats answer {first} of the same step",
                    f.key_text()
                ),
            ));
        }
    }
}

//! The VIO planner's rules (`planner/rules/vio-default.toml`): every limit and convention the
//! prechecks apply, readable and changeable. A user's file merges over the built-in one as the
//! Manager-to-Policy rules do; unknown keys are errors naming the key (and its line).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use plan_schema::Severity;
use plan_schema::vio::{OctaviaEndpoint, ReconfigNames};

use crate::error::PlanError;
use crate::rules::{check_format_version, find_key_line, merge_over};

pub const DEFAULT_VIO_RULES: &str = include_str!("../../rules/vio-default.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VioRules {
    pub format_version: u32,
    pub validation: ValidationRules,
    pub versions: VersionRules,
    pub ports: PortRules,
    pub networks: NetworkRules,
    pub load_balancers: LbRules,
    pub qos: QosRules,
    pub sizing: SizingRules,
    pub backend_names: BackendNames,
    pub token: TokenRules,
    pub hosts: HostRules,
    /// The host phase's environment checks beyond host state (anchors 2.4).
    pub host_migration: HostMigrationRules,
    pub plan: PlanRules,
    /// VIO's custom resources as the reconfiguration addresses them (all inferred); copied into
    /// the plan's `[requirements.reconfig]` for the executor.
    pub reconfig: ReconfigNames,
    /// Where the API replay sends the Octavia calls (inferred); copied into the plan's
    /// `[requirements.octavia]` for the executor.
    pub replay: ReplayRules,
    #[serde(default)]
    pub nsx_ini_unsupported: Vec<UnsupportedOption>,
}

/// `[replay]`: the endpoint of the Octavia replay (docs/rules.md `vio_octavia_endpoint`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplayRules {
    /// Catalog service type the Octavia calls go to.
    pub octavia_service: String,
    /// Path prefix under it standing for Octavia's `/v2/lbaas`.
    pub octavia_path: String,
}

impl ReplayRules {
    pub fn octavia(&self) -> OctaviaEndpoint {
        OctaviaEndpoint {
            service: self.octavia_service.clone(),
            path: self.octavia_path.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValidationRules {
    pub strict_validation: bool,
    pub skip_project_names: Vec<String>,
    pub advanced_router_validation: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VersionRules {
    pub min_nsxv_version: String,
    pub min_nsxv_version_open_source: String,
    pub min_nsx_version: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortRules {
    pub max_address_pairs: usize,
    pub vip_device_owners: Vec<String>,
    pub direct_vnic_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NetworkRules {
    pub transit_network: String,
    pub unsupported_network_types: Vec<String>,
    pub max_dhcp_subnets: usize,
    pub max_routers: usize,
    pub max_dns_nameservers: usize,
    pub max_ipv6_subnets: usize,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LbRules {
    pub max_per_router: usize,
    pub default_size: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QosRules {
    pub min_max_kbps: u64,
    pub max_burst_kbps: u64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SizingRules {
    pub slots_per_lb: u64,
    pub lb_size_credits: BTreeMap<String, u64>,
    pub edge_node_credits: BTreeMap<String, u64>,
    pub edge_node_form_factor: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackendNames {
    pub plr_edge_prefix: String,
    pub dhcp_edge_prefix: String,
    pub lb_edge_prefix: String,
    pub shared_edge_prefix: String,
    pub backup_edge_prefix: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenRules {
    pub min_lifetime_minutes: i64,
    pub max_lifetime_minutes: i64,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostMigrationRules {
    /// How the coordinator migrates the compute clusters' hosts, which decides what DRS must be.
    pub mode: HostMigrationMode,
}

/// The coordinator's host migration mode of a host group.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum HostMigrationMode {
    /// In place: DRS must be disabled (MC pre-check).
    #[serde(rename = "in-place")]
    InPlace,
    /// Automated maintenance mode: DRS must be enabled (fully automated) to move the VMs off.
    #[serde(rename = "maintenance")]
    Maintenance,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostRules {
    pub connection_states: Vec<String>,
    pub power_states: Vec<String>,
}

/// How the plan's steps are laid out, and what it does where migrator.conf.json is silent.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanRules {
    /// Most objects one Neutron bulk POST carries (a bulk request is single-project).
    pub replay_batch_size: usize,
    /// migrator.conf.json defaults for the keys it may leave out.
    pub edge_migration: bool,
    pub host_migration: bool,
    pub edge_migration_interfaces_down: bool,
    pub post_migration_cleanup: bool,
    pub rollback: bool,
    pub nsxv_token_lifetime: u32,
    /// Who starts each coordinator run: "operator" (in the NSX UI) or "apply".
    pub edge_cutover_start: StartRule,
    pub host_migration_start: StartRule,
    pub edge_cutover_timeout_hours: u32,
    pub host_migration_timeout_hours: u32,
    /// Answer every unanswered coordinator feedback request with its recommendation.
    pub accept_recommended: bool,
    /// Edges whose name starts with one of these keep their vNICs connected.
    pub interfaces_down_skip_prefixes: Vec<String>,
    /// vNICs with an address in this range stay connected (the DLR-PLR link-local ones).
    pub interfaces_down_keep_cidr: String,
    /// Pre-approved answers to coordinator feedback requests.
    #[serde(default)]
    pub feedback: Vec<FeedbackRule>,
    /// Feedback requests the planner foresees, one per object of the snapshot, with the answer
    /// the reviewer approves (inferred categories: docs/rules.md `vio_foreseen_feedback`).
    #[serde(default)]
    pub foreseen_feedback: Vec<ForeseenFeedback>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StartRule {
    Operator,
    Apply,
}

/// Which coordinator run a feedback answer belongs to.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackRun {
    EdgeCutover,
    HostMigration,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRule {
    pub run: FeedbackRun,
    /// The request's hash (stable across runs) or id; or leave it out and name `vertical`
    /// (and `sub_vertical`) and `object`.
    #[serde(default)]
    pub request: String,
    #[serde(default)]
    pub vertical: String,
    #[serde(default)]
    pub sub_vertical: String,
    #[serde(default)]
    pub object: String,
    pub action: String,
    #[serde(default)]
    pub value: Option<String>,
}

/// The objects of the snapshot a foreseen feedback request is about.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ForeseenPer {
    /// Each distributed router of the edge cutover mapping: the object is its DLR edge id.
    DistributedRouter,
    /// Each NSX-V edge of the snapshot: the object is its edge id.
    Edge,
}

/// A kind of coordinator feedback request the planner writes an answer for, per object.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ForeseenFeedback {
    pub run: FeedbackRun,
    pub per: ForeseenPer,
    /// The request's `vertical` and `sub_vertical` (empty: any).
    pub vertical: String,
    #[serde(default)]
    pub sub_vertical: String,
    pub action: String,
    /// May name `{edge_id}`, and for a distributed router `{router_id}` and `{gateway}` (the
    /// mapping's policy gateway).
    #[serde(default)]
    pub value: Option<String>,
}

/// The placeholders a foreseen answer's value may use.
pub const FORESEEN_PLACEHOLDERS: [&str; 3] = ["{edge_id}", "{router_id}", "{gateway}"];

impl ForeseenFeedback {
    /// Why this entry cannot be used, if it cannot.
    fn problem(&self) -> Option<String> {
        if self.vertical.trim().is_empty() {
            return Some("plan.foreseen_feedback: `vertical` must not be empty".into());
        }
        if self.action.trim().is_empty() {
            return Some("plan.foreseen_feedback: `action` must not be empty".into());
        }
        let mut rest = self.value.clone().unwrap_or_default();
        for p in FORESEEN_PLACEHOLDERS {
            if self.per == ForeseenPer::Edge && p != "{edge_id}" {
                continue;
            }
            rest = rest.replace(p, "");
        }
        if rest.contains('{') || rest.contains('}') {
            return Some(format!(
                "plan.foreseen_feedback: value `{}` uses a placeholder this `per` does not have (per = \"edge\": {{edge_id}}; per = \"distributed_router\": {{edge_id}}, {{router_id}}, {{gateway}})",
                self.value.as_deref().unwrap_or_default()
            ));
        }
        None
    }
}

impl FeedbackRule {
    /// Why this answer cannot be used, if it cannot.
    fn problem(&self) -> Option<String> {
        let by_object = !self.vertical.is_empty() || !self.object.is_empty();
        if !self.request.is_empty() && by_object {
            return Some(format!(
                "plan.feedback `{}`: name the request either by `request` or by `vertical` and `object`, not both",
                self.request
            ));
        }
        if self.request.is_empty() && (self.vertical.is_empty() || self.object.is_empty()) {
            return Some(
                "plan.feedback: an answer needs `request` (hash or id), or `vertical` and `object`"
                    .into(),
            );
        }
        if self.action.trim().is_empty() {
            return Some("plan.feedback: `action` must not be empty".into());
        }
        None
    }
}

/// Where an unsupported option may appear.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IniPlace {
    /// `[nsxv]`
    Nsxv,
    /// `[az:<name>]`
    Az,
}

/// One row of the seed's table of NSX-V options NSX does not support.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UnsupportedOption {
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The NSX-V default ("" = none: any value is reported).
    pub default: String,
    pub severity: Severity,
    pub sections: Vec<IniPlace>,
    /// The seed's reason, quoted in the finding.
    pub reason: String,
}

impl VioRules {
    /// The rules shipped with nsx-migrate.
    pub fn builtin() -> VioRules {
        // The embedded file is tested to parse; failing here is a build defect, not bad input.
        toml::from_str(DEFAULT_VIO_RULES).expect("planner/rules/vio-default.toml parses")
    }

    /// The built-in rules with a user's file merged over them.
    pub fn load_with_overrides(path: &Path) -> Result<VioRules, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|cause| PlanError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        VioRules::merge_text(&text, path)
    }

    /// `text` (a user's rules, read from `path`) merged over the built-in rules.
    pub fn merge_text(text: &str, path: &Path) -> Result<VioRules, PlanError> {
        let rules: VioRules = merge_over(DEFAULT_VIO_RULES, text, path)?;
        check_format_version(rules.format_version, text, path)?;
        let invalid = |key: &str, message: String| PlanError::Rules {
            path: path.to_path_buf(),
            line: find_key_line(text, key),
            message,
        };
        if crate::vio::net::Cidr::parse(&rules.networks.transit_network).is_none() {
            return Err(invalid(
                "transit_network",
                format!(
                    "networks.transit_network `{}` is not a CIDR",
                    rules.networks.transit_network
                ),
            ));
        }
        for key in [
            "min_nsxv_version",
            "min_nsxv_version_open_source",
            "min_nsx_version",
        ] {
            let v = match key {
                "min_nsxv_version" => &rules.versions.min_nsxv_version,
                "min_nsxv_version_open_source" => &rules.versions.min_nsxv_version_open_source,
                _ => &rules.versions.min_nsx_version,
            };
            if v.parse::<client::NsxVersion>().is_err() {
                return Err(invalid(
                    key,
                    format!("versions.{key} `{v}` is not a version"),
                ));
            }
        }
        if rules.plan.replay_batch_size == 0 {
            return Err(invalid(
                "replay_batch_size",
                "plan.replay_batch_size must be at least 1".to_string(),
            ));
        }
        if !(1..=1440).contains(&rules.plan.nsxv_token_lifetime) {
            return Err(invalid(
                "nsxv_token_lifetime",
                format!(
                    "plan.nsxv_token_lifetime {} is not between 1 and 1440 minutes",
                    rules.plan.nsxv_token_lifetime
                ),
            ));
        }
        if crate::vio::net::Cidr::parse(&rules.plan.interfaces_down_keep_cidr).is_none() {
            return Err(invalid(
                "interfaces_down_keep_cidr",
                format!(
                    "plan.interfaces_down_keep_cidr `{}` is not a CIDR",
                    rules.plan.interfaces_down_keep_cidr
                ),
            ));
        }
        if !rules
            .sizing
            .edge_node_credits
            .contains_key(&rules.sizing.edge_node_form_factor)
        {
            return Err(invalid(
                "edge_node_form_factor",
                format!(
                    "sizing.edge_node_form_factor `{}` has no entry in sizing.edge_node_credits",
                    rules.sizing.edge_node_form_factor
                ),
            ));
        }
        if !rules
            .sizing
            .lb_size_credits
            .contains_key(&rules.load_balancers.default_size.to_ascii_uppercase())
        {
            return Err(invalid(
                "default_size",
                format!(
                    "load_balancers.default_size `{}` has no entry in sizing.lb_size_credits",
                    rules.load_balancers.default_size
                ),
            ));
        }
        if let Some(message) = rules.plan.feedback.iter().find_map(FeedbackRule::problem) {
            return Err(invalid("feedback", message));
        }
        if let Some(message) = rules
            .plan
            .foreseen_feedback
            .iter()
            .find_map(ForeseenFeedback::problem)
        {
            return Err(invalid("foreseen_feedback", message));
        }
        if let Some((key, message)) = rules.reconfig.problems().into_iter().next() {
            return Err(invalid(key, format!("reconfig.{key}: {message}")));
        }
        if let Some((key, message)) = rules.replay.octavia().problems().into_iter().next() {
            let key = if key == "service" {
                "octavia_service"
            } else {
                "octavia_path"
            };
            return Err(invalid(key, format!("replay.{key}: {message}")));
        }
        Ok(rules)
    }
}

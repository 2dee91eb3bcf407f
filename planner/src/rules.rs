//! The planner's rules: conventions an operator can read and change (`planner/rules/default.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use plan_schema::mp::MigrationType;

use crate::error::PlanError;

pub const DEFAULT_RULES: &str = include_str!("../rules/default.toml");

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    pub format_version: u32,
    pub ncp: NcpRules,
    pub policy_ids: PolicyIdRules,
    pub dfw: DfwRules,
    pub import: ImportRules,
    pub tas: TasRules,
    #[serde(default)]
    pub tag_rules: Vec<TagRule>,
    #[serde(default)]
    pub display_name_rules: Vec<DisplayNameRule>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NcpRules {
    pub cluster_tag_scope: String,
    pub principal_identities: Vec<String>,
    pub pod_namespaces: Vec<String>,
    pub pod_name_prefixes: Vec<String>,
    pub pod_phases: Vec<String>,
    pub min_nsx_version: String,
    pub min_ncp_version: String,
    pub max_lb_virtual_server_rules: usize,
    pub max_port_tags: usize,
}

/// How NCP for TAS marks what it creates per org, space and app instance (inferred: see
/// docs/rules.md), and what the TAS import needs.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TasRules {
    /// The first NCP release whose importer migrates TAS foundations.
    pub min_ncp_version: String,
    /// `ncp/coe` values that mark a foundation's objects (product detection on a shared NSX).
    pub coe_values: Vec<String>,
    /// Tag scope whose value is the org guid (org routers, switches, subnets, pools, NAT rules).
    pub org_tag_scope: String,
    /// Tag scope whose value is the space guid (app instance ports).
    pub space_tag_scope: String,
    /// Tag scope whose value is the app guid (app instance ports).
    pub app_tag_scope: String,
    /// Tag scope whose value is the instance index (app instance ports).
    pub instance_tag_scope: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyIdRule {
    MpId,
    DisplayName,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyIdRules {
    pub ncp_owned: PolicyIdRule,
    pub shared: PolicyIdRule,
    /// `shared` for clusters of one product (`product:` in the user spec, else what the
    /// cluster's tags show).
    #[serde(default)]
    pub shared_by_product: BTreeMap<crate::userspec::Product, PolicyIdRule>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    Above,
    Below,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DfwRules {
    pub admin_sections: Placement,
    pub admin_rules_section: String,
    pub ncp_section_category: String,
    pub np_rule_patterns: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ImportRules {
    pub order: Vec<MigrationType>,
    pub default_batch: usize,
    pub logical_ports_per_switch: bool,
    /// `setup_details.principal_identity` of batches of NCP-created (cluster-tagged) objects:
    /// the owner of the Policy objects they become. Empty: leave it out (NSX's default owner).
    #[serde(default)]
    pub principal_identity: String,
    #[serde(default)]
    pub batch: BTreeMap<MigrationType, usize>,
}

impl ImportRules {
    /// The principal identity an import batch of `scope`d resources names, if any: NCP's for
    /// what NCP created; shared and configuration objects stay with NSX's default owner.
    pub fn principal_for(&self, scope: Option<plan_schema::mp::ImportScope>) -> Option<&str> {
        (scope == Some(plan_schema::mp::ImportScope::Cluster)
            && !self.principal_identity.is_empty())
        .then_some(self.principal_identity.as_str())
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TagRule {
    pub id: String,
    pub description: String,
    pub resource_types: Vec<String>,
    pub rename: Rename,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    pub from: String,
    pub to: String,
    pub value: RenameValue,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RenameValue {
    PolicyId,
    Same,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DisplayNameRule {
    pub id: String,
    pub description: String,
    pub resource_types: Vec<String>,
    #[serde(default)]
    pub requires_tags: Vec<String>,
    pub template: String,
}

impl Rules {
    /// The pods that mean NCP is still running, as the plan's requirements carry them.
    pub fn controller_pods(&self) -> plan_schema::mp::PodSelector {
        plan_schema::mp::PodSelector {
            namespaces: self.ncp.pod_namespaces.clone(),
            name_prefixes: self.ncp.pod_name_prefixes.clone(),
            phases: self.ncp.pod_phases.clone(),
        }
    }

    /// The rules shipped with nsx-migrate.
    pub fn builtin() -> Rules {
        // The embedded file is tested to parse; failing here is a build defect, not bad input.
        toml::from_str(DEFAULT_RULES).expect("planner/rules/default.toml parses")
    }

    /// The built-in rules with a user's rules file merged over them (tables key by key, arrays and
    /// values replaced).
    pub fn load_with_overrides(path: &Path) -> Result<Rules, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|cause| PlanError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        Rules::merge_text(&text, path)
    }

    pub fn merge_text(text: &str, path: &Path) -> Result<Rules, PlanError> {
        let rules: Rules = merge_over(DEFAULT_RULES, text, path)?;
        check_format_version(rules.format_version, text, path)?;
        Ok(rules)
    }

    pub fn batch_size(&self, t: MigrationType) -> usize {
        self.import
            .batch
            .get(&t)
            .copied()
            .unwrap_or(self.import.default_batch)
            .max(1)
    }
}

/// A user's rules file (`text`, read from `path`) merged over a kind's built-in rules, read as
/// `T`. Syntax errors carry their line and column; an unknown key or a wrong type the line of
/// the key the message names. Every kind's rules load through here.
pub(crate) fn merge_over<T: serde::de::DeserializeOwned>(
    builtin: &str,
    text: &str,
    path: &Path,
) -> Result<T, PlanError> {
    let user: toml::Table = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
        PlanError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    // The built-in files are tested to parse; failing here is a build defect, not bad input.
    let mut base: toml::Table = toml::from_str(builtin).expect("built-in rules parse");
    merge(&mut base, user);
    toml::Value::Table(base)
        .try_into()
        .map_err(|e: toml::de::Error| {
            let message = e.message().to_string();
            let line = quoted_name(&message).and_then(|k| find_key_line(text, &k));
            PlanError::Rules {
                path: path.to_path_buf(),
                line,
                message,
            }
        })
}

/// Rules files of every kind are at format version 1.
pub(crate) fn check_format_version(version: u32, text: &str, path: &Path) -> Result<(), PlanError> {
    if version == 1 {
        return Ok(());
    }
    Err(PlanError::Rules {
        path: path.to_path_buf(),
        line: find_key_line(text, "format_version"),
        message: format!("rules format_version {version} is not supported (expected 1)"),
    })
}

pub(crate) fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The first name quoted in backticks in `message`.
pub(crate) fn quoted_name(message: &str) -> Option<String> {
    let (_, rest) = message.split_once('`')?;
    let (name, _) = rest.split_once('`')?;
    Some(name.to_string())
}

pub(crate) fn find_key_line(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let t = l.trim_start();
            t.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
                || (t.starts_with('[') && t.contains(key))
        })
        .map(|i| i + 1)
}

pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut i = offset;
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    let before = &text[..i];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_names_and_positions_never_split_a_character() {
        assert_eq!(
            quoted_name("unknown field `é1`, expected"),
            Some("é1".into())
        );
        assert_eq!(quoted_name("no closing `quote"), None);
        assert_eq!(quoted_name("none"), None);
        // Offsets inside a multi-byte character count from its start.
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 8), (2, 2));
        assert_eq!(line_col(text, 9), (2, 3));
        assert_eq!(line_col(text, 1000), (3, 1));
    }
}

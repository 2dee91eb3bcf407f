//! `user-spec.yaml`: the shared NSX resources a cluster uses, which the import must carry along.
//!
//! NCP's own sample file is not public, so this shape is nsx-migrate's (docs/user-spec.md); the
//! verified parts are the top key `k8s-clusters`, one entry per cluster, shared resources named by
//! display name or id, and `ip_allocations` mapping an allocation to its desired Policy id.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::PlanError;
use crate::rules::Placement;

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub version: u32,
    #[serde(rename = "k8s-clusters")]
    pub clusters: BTreeMap<String, ClusterSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    Vanilla,
    Tkgi,
    Tas,
}

/// The seeds' two migration strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// All clusters and foundations on the NSX in one control-plane downtime.
    OneWindow,
    /// One cluster at a time.
    OneAtATime,
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u8::deserialize(d)? {
            1 => Ok(Strategy::OneWindow),
            2 => Ok(Strategy::OneAtATime),
            n => Err(serde::de::Error::custom(format!(
                "strategy {n} does not exist (1: all clusters in one window, 2: one cluster at a time)"
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Which NCP product runs the cluster (vanilla Kubernetes, TKGi, TAS).
    #[serde(default)]
    pub product: Option<Product>,
    /// NCP version of the cluster (the importer needs 4.0 or later).
    #[serde(default)]
    pub ncp_version: Option<String>,
    /// The migration strategy this cluster is planned with: 1 (every cluster and foundation on
    /// the NSX stopped for one window; required for TAS) or 2 (one cluster at a time).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    #[serde(default)]
    pub shared_resources: SharedResources,
    #[serde(default)]
    pub dfw: DfwSpec,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SharedResources {
    #[serde(default)]
    pub tier0_routers: Vec<ResourceRef>,
    #[serde(default)]
    pub tier1_routers: Vec<ResourceRef>,
    #[serde(default)]
    pub ip_blocks: Vec<ResourceRef>,
    #[serde(default)]
    pub ip_pools: Vec<ResourceRef>,
    #[serde(default)]
    pub logical_switches: Vec<ResourceRef>,
    #[serde(default)]
    pub ip_sets: Vec<ResourceRef>,
    #[serde(default)]
    pub ns_groups: Vec<ResourceRef>,
    #[serde(default)]
    pub switching_profiles: Vec<ResourceRef>,
    #[serde(default)]
    pub certificates: Vec<ResourceRef>,
    #[serde(default)]
    pub lb_services: Vec<ResourceRef>,
}

impl SharedResources {
    /// Every entry with the list it came from.
    pub fn entries(&self) -> Vec<(&'static str, &ResourceRef)> {
        let lists: [(&'static str, &Vec<ResourceRef>); 10] = [
            ("tier0_routers", &self.tier0_routers),
            ("tier1_routers", &self.tier1_routers),
            ("ip_blocks", &self.ip_blocks),
            ("ip_pools", &self.ip_pools),
            ("logical_switches", &self.logical_switches),
            ("ip_sets", &self.ip_sets),
            ("ns_groups", &self.ns_groups),
            ("switching_profiles", &self.switching_profiles),
            ("certificates", &self.certificates),
            ("lb_services", &self.lb_services),
        ];
        lists
            .into_iter()
            .flat_map(|(name, l)| l.iter().map(move |r| (name, r)))
            .collect()
    }
}

/// A shared resource, by MP id or display name, optionally with the Policy id it must get.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub policy_id: Option<String>,
    /// IP pools only: allocation (the allocated address) -> desired Policy id.
    #[serde(default)]
    pub ip_allocations: BTreeMap<String, String>,
}

impl ResourceRef {
    pub fn describe(&self) -> String {
        match (&self.id, &self.display_name) {
            (Some(id), _) => format!("id {id}"),
            (None, Some(n)) => format!("display_name \"{n}\""),
            (None, None) => "(no id or display_name)".to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct DfwSpec {
    /// Per-section placement overrides for admin sections found inside NCP's range, by section id
    /// or display name.
    #[serde(default)]
    pub sections: BTreeMap<String, Placement>,
}

impl UserSpec {
    pub fn load(path: &Path) -> Result<UserSpec, PlanError> {
        let text = std::fs::read_to_string(path).map_err(|cause| PlanError::Io {
            path: path.to_path_buf(),
            cause,
        })?;
        UserSpec::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<UserSpec, PlanError> {
        let spec: UserSpec = serde_saphyr::from_str(text).map_err(|e| {
            // The YAML library's excerpt names its source `<input>`; the file and line are in our
            // own message, so take the message without it.
            let message = e.without_snippet().to_string();
            PlanError::UserSpec {
                path: path.to_path_buf(),
                message: message
                    .strip_prefix("error: ")
                    .unwrap_or(&message)
                    .trim_end()
                    .to_string(),
            }
        })?;
        if spec.version != 1 {
            return Err(PlanError::UserSpec {
                path: path.to_path_buf(),
                message: format!("version {} is not supported (expected 1)", spec.version),
            });
        }
        for (cluster, c) in &spec.clusters {
            for (list, r) in c.shared_resources.entries() {
                if r.id.is_none() && r.display_name.is_none() {
                    return Err(PlanError::UserSpec {
                        path: path.to_path_buf(),
                        message: format!(
                            "k8s-clusters.{cluster}.shared_resources.{list}: an entry needs `id` or `display_name`"
                        ),
                    });
                }
                if !r.ip_allocations.is_empty() && list != "ip_pools" {
                    return Err(PlanError::UserSpec {
                        path: path.to_path_buf(),
                        message: format!(
                            "k8s-clusters.{cluster}.shared_resources.{list} ({}): ip_allocations belong to ip_pools only",
                            r.describe()
                        ),
                    });
                }
            }
        }
        Ok(spec)
    }
}

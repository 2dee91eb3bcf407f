//! Kubernetes object store (the API server subset is served from `k8s_api`).

use std::collections::BTreeMap;

use serde_json::Value;

/// A Kubernetes resource the simulator knows.
#[derive(Debug)]
pub struct K8sResource {
    /// Snapshot file stem.
    pub file: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub list_kind: &'static str,
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
}

pub const K8S_RESOURCES: &[K8sResource] = &[
    K8sResource {
        file: "namespaces",
        plural: "namespaces",
        kind: "Namespace",
        list_kind: "NamespaceList",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["ns"],
    },
    K8sResource {
        file: "pods",
        plural: "pods",
        kind: "Pod",
        list_kind: "PodList",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["po"],
    },
    K8sResource {
        file: "services",
        plural: "services",
        kind: "Service",
        list_kind: "ServiceList",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["svc"],
    },
    K8sResource {
        file: "endpoints",
        plural: "endpoints",
        kind: "Endpoints",
        list_kind: "EndpointsList",
        group: "",
        version: "v1",
        namespaced: true,
        short_names: &["ep"],
    },
    K8sResource {
        file: "nodes",
        plural: "nodes",
        kind: "Node",
        list_kind: "NodeList",
        group: "",
        version: "v1",
        namespaced: false,
        short_names: &["no"],
    },
    K8sResource {
        file: "ingresses",
        plural: "ingresses",
        kind: "Ingress",
        list_kind: "IngressList",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &["ing"],
    },
    K8sResource {
        file: "networkpolicies",
        plural: "networkpolicies",
        kind: "NetworkPolicy",
        list_kind: "NetworkPolicyList",
        group: "networking.k8s.io",
        version: "v1",
        namespaced: true,
        short_names: &["netpol"],
    },
    K8sResource {
        file: "neutrons",
        plural: "neutrons",
        kind: "Neutron",
        list_kind: "NeutronList",
        group: VIO_GROUP,
        version: "v1alpha1",
        namespaced: true,
        short_names: &[],
    },
    K8sResource {
        file: "viosecrets",
        plural: "viosecrets",
        kind: "VIOSecret",
        list_kind: "VIOSecretList",
        group: VIO_GROUP,
        version: "v1alpha1",
        namespaced: true,
        short_names: &[],
    },
];

/// The API group of VIO's custom resources (inferred, docs/rules.md `vio_neutron_cr`): served
/// only when the simulator runs a VIO deployment.
pub const VIO_GROUP: &str = "vio.vmware.com";

pub fn resource(plural: &str) -> Option<&'static K8sResource> {
    K8S_RESOURCES.iter().find(|r| r.plural == plural)
}

/// Objects keyed by resource plural, then by "namespace/name" (sorted, as the API server lists them).
#[derive(Debug, Default, Clone)]
pub struct K8sStore {
    pub objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    pub resource_version: u64,
}

impl K8sStore {
    pub fn load(&mut self, plural: &str, items: Vec<Value>) {
        let Some(res) = resource(plural) else {
            return;
        };
        let map = self.objects.entry(res.plural).or_default();
        for it in items {
            let ns = it
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = it
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(rv) = it
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok())
            {
                self.resource_version = self.resource_version.max(rv);
            }
            map.insert(format!("{ns}/{name}"), it);
        }
    }

    pub fn count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }
}

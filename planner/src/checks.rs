//! Prechecks: the seeds' requirements and limitations, as findings with remedies.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use plan_schema::{Severity, Subject};

use crate::context::{Context, subject};
use crate::findings::Findings;
use crate::model::Kind;
use crate::requests::Entry;
use crate::scope::Scope;
use crate::userspec::Product;

const NCP_IDLE_REMEDY: &str = "Run NCP in Manager mode again until it is idle (no create, update or delete), at least 10 minutes (NCP's longest retry interval), then collect and plan again.";

/// Compare versions as NSX's do ([`client::NsxVersion`]); `None` when either is not one.
pub(crate) fn version_at_least(version: &str, min: &str) -> Option<bool> {
    let v: client::NsxVersion = version.parse().ok()?;
    let m: client::NsxVersion = min.parse().ok()?;
    Some(v >= m)
}

fn subj(resource_type: &str, id: &str, name: Option<&str>) -> Subject {
    Subject {
        resource_type: resource_type.into(),
        id: id.into(),
        display_name: name.map(str::to_string),
    }
}

/// Run every precheck, in a fixed order.
pub(crate) fn run(ctx: &Context<'_>, scope: &Scope, entries: &[Entry]) -> Findings {
    let mut f = Findings::new();
    versions(ctx, &mut f);
    coordinator(ctx, &mut f);
    ncp_running(ctx, &mut f);
    kubernetes_counterparts(ctx, scope, &mut f);
    cf_counterparts(ctx, scope, &mut f);
    lb_rule_counts(ctx, scope, &mut f);
    port_tags(ctx, scope, &mut f);
    duplicate_policy_ids(ctx, entries, &mut f);
    snat_firewall_match(ctx, scope, &mut f);
    other_clusters(ctx, &mut f);
    tas_strategy(ctx, &mut f);
    f
}

fn versions(ctx: &Context<'_>, f: &mut Findings) {
    let manager = ctx.manager_name();
    let min_nsx = ctx.rules.ncp.min_nsx_version.clone();
    match ctx.inv.metadata.as_ref().and_then(|m| m.nsx_version.clone()) {
        Some(v) => match version_at_least(&v, &min_nsx) {
            Some(true) => {}
            Some(false) => f.add(
                Severity::Error,
                "nsx-version",
                subj("NsxManager", &manager, None),
                format!("NSX {v} is older than {min_nsx}, the minimum for importing NCP objects into Policy."),
                "Upgrade NSX first.",
            ),
            None => f.add(
                Severity::Warning,
                "nsx-version",
                subj("NsxManager", &manager, None),
                format!("NSX version \"{v}\" could not be read as a version; {min_nsx} or later is required."),
                "Check the NSX version by hand.",
            ),
        },
        None => f.add(
            Severity::Warning,
            "nsx-version",
            subj("NsxManager", &manager, None),
            format!("The inventory does not say which NSX version it came from; {min_nsx} or later is required."),
            "Collect the inventory with `nsx-migrate collect`, or check the version by hand.",
        ),
    }
    let (min_ncp, what) = if ctx.is_tas() {
        (ctx.rules.tas.min_ncp_version.clone(), "TAS foundations")
    } else {
        (ctx.rules.ncp.min_ncp_version.clone(), "this migration")
    };
    let cluster = ctx.cluster.clone();
    let tag_versions: BTreeSet<String> = ctx
        .inv
        .objects
        .iter()
        .filter(|o| ctx.is_cluster_owned(o))
        .filter_map(|o| o.tag("ncp/version").map(str::to_string))
        .collect();
    let tags_note = if tag_versions.is_empty() {
        String::new()
    } else {
        format!(
            " (the ncp/version tags say {}, which is NCP's tagging version, not its release)",
            tag_versions.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    match ctx.spec.and_then(|c| c.ncp_version.clone()) {
        Some(v) => {
            if version_at_least(&v, &min_ncp) == Some(false) {
                f.add(
                    Severity::Error,
                    "ncp-version",
                    subj("Cluster", &cluster, None),
                    format!("NCP {v} is older than {min_ncp}, the first release whose importer supports {what}."),
                    "Upgrade NCP (in Manager mode) first.",
                );
            }
        }
        None => f.add(
            Severity::Warning,
            "ncp-version",
            subj("Cluster", &cluster, None),
            format!("The NCP release of the cluster is not known{tags_note}; the import needs NCP {min_ncp} or later (4.1.2 for TAS)."),
            "Set ncp_version for the cluster in the user spec once you have checked it.",
        ),
    }
}

fn coordinator(ctx: &Context<'_>, f: &mut Findings) {
    let manager = ctx.manager_name();
    let state = ctx
        .inv
        .metadata
        .as_ref()
        .and_then(|m| m.migration_coordinator.clone());
    match state.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("RUNNING") => f.add(
            Severity::Info,
            "coordinator-status",
            subj("NsxManager", &manager, None),
            "The migration coordinator was running when the inventory was collected.".into(),
            "None now; apply checks it again before any change.",
        ),
        Some(other) => f.add(
            Severity::Warning,
            "coordinator-status",
            subj("NsxManager", &manager, None),
            format!("The migration coordinator was {other} when the inventory was collected."),
            "Start it on the manager you will apply against (`/etc/init.d/migration-coordinator start`, or `start service migration-coordinator`) before the window; apply refuses to start without it.",
        ),
        None => f.add(
            Severity::Info,
            "coordinator-status",
            subj("NsxManager", &manager, None),
            "The migration coordinator's state is unknown (offline inventory).".into(),
            "None now; apply checks it before any change.",
        ),
    }
}

fn ncp_running(ctx: &Context<'_>, f: &mut Findings) {
    if ctx.is_tas() {
        // NCP for TAS is a BOSH job; neither the Cloud Controller nor NSX shows whether it runs.
        f.add(
            Severity::Warning,
            "ncp-running",
            subj("Foundation", &ctx.cluster, None),
            format!("Whether NCP is stopped in foundation {} cannot be seen from the Cloud Controller or NSX. The import needs NCP stopped and NSX idle in every foundation and cluster on this NSX.", ctx.cluster),
            "Stop the NCP job on the foundation's VMs (and NCP of every other cluster on this NSX), wait at least 10 minutes, take an NSX backup, then apply.",
        );
    }
    // The same selector the plan carries for `apply` to re-check.
    let selector = ctx.rules.controller_pods();
    let pods: Vec<(String, String, String)> = ctx
        .inv
        .kube("pods")
        .iter()
        .map(|p| {
            let phase = p.phase.clone().unwrap_or_else(|| "Unknown".into());
            (
                p.namespace.clone().unwrap_or_default(),
                p.name.clone(),
                phase,
            )
        })
        .filter(|(ns, name, phase)| selector.matches(ns, name, phase))
        .collect();
    for (ns, name, phase) in pods {
        f.add(
            Severity::Error,
            "ncp-running",
            subj("Pod", &format!("{ns}/{name}"), Some(&name)),
            format!("NCP pod {ns}/{name} is {phase}. The import needs NCP stopped and NSX idle; the importer does not stop NCP itself."),
            "Stop NCP (scale its deployment to 0), wait at least 10 minutes, then collect and plan again.",
        );
    }
}

fn kubernetes_counterparts(ctx: &Context<'_>, scope: &Scope, f: &mut Findings) {
    let set = |stem: &str, ctx: &Context<'_>| -> BTreeSet<(String, String)> {
        ctx.inv
            .kube(stem)
            .iter()
            .map(|o| (o.namespace.clone().unwrap_or_default(), o.name.clone()))
            .collect()
    };
    let namespaces: BTreeSet<String> = ctx
        .inv
        .kube("namespaces")
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let nodes: BTreeSet<String> = ctx
        .inv
        .kube("nodes")
        .iter()
        .map(|o| o.name.clone())
        .collect();
    let pods = set("pods", ctx);
    let nps = set("networkpolicies", ctx);
    let services = set("services", ctx);
    let ingresses = set("ingresses", ctx);
    let cluster_objects: Vec<usize> = scope
        .iter()
        .filter(|&(_, shared)| !shared)
        .map(|(i, _)| i)
        .collect();
    for i in cluster_objects {
        let o = ctx.obj(i);
        let ns = o.tag("ncp/project");
        let mut missing: Option<String> = None;
        if let Some(ns) = ns
            && !namespaces.contains(ns)
        {
            missing = Some(format!("Namespace {ns}"));
        } else if let (Kind::LogicalPort, Some(pod), Some(ns)) = (o.kind, o.tag("ncp/pod"), ns) {
            if !pods.contains(&(ns.to_string(), pod.to_string())) {
                missing = Some(format!("Pod {ns}/{pod}"));
            }
        } else if let (Kind::LogicalPort, Some(node)) = (o.kind, o.tag("ncp/node_name")) {
            if !nodes.contains(node) {
                missing = Some(format!("Node {node}"));
            }
        } else if let (Some(np), Some(ns)) = (o.tag("ncp/network_policy"), ns) {
            if !nps.contains(&(ns.to_string(), np.to_string())) {
                missing = Some(format!("NetworkPolicy {ns}/{np}"));
            }
        } else if let (Some(svc), Some(ns)) = (o.tag("ncp/service"), ns) {
            if !services.contains(&(ns.to_string(), svc.to_string())) {
                missing = Some(format!("Service {ns}/{svc}"));
            }
        } else if let (Some(ing), Some(ns)) = (o.tag("ncp/ingress"), ns)
            && !ingresses.contains(&(ns.to_string(), ing.to_string()))
        {
            missing = Some(format!("Ingress {ns}/{ing}"));
        }
        if let Some(what) = missing {
            let cluster = ctx.cluster.clone();
            f.add(
                Severity::Error,
                "k8s-counterpart-missing",
                subject(o),
                format!("{} \"{}\" is tagged for cluster {cluster}, but Kubernetes has no {what}. The importer cannot build this object's request (seed phase 1).", o.resource_type, o.display_name),
                NCP_IDLE_REMEDY,
            );
        }
    }
}

fn lb_rule_counts(ctx: &Context<'_>, scope: &Scope, f: &mut Findings) {
    let max = ctx.rules.ncp.max_lb_virtual_server_rules;
    for i in scope.indexes() {
        let o = ctx.obj(i);
        if o.kind != Kind::LbVirtualServer {
            continue;
        }
        let n = o
            .raw
            .get("rule_ids")
            .and_then(|v| v.as_array())
            .map(Vec::len)
            .unwrap_or(0);
        if n > max {
            f.add(
                Severity::Error,
                "lb-virtual-server-rules",
                subject(o),
                format!("Virtual server \"{}\" has {n} rules; NCP-created virtual servers must have at most {max} for the import.", o.display_name),
                "While NCP still runs in Manager mode, split the Ingress rules over several LoadBalancer CRDs, wait until NCP is idle, then collect and plan again.",
            );
        }
    }
}

fn port_tags(ctx: &Context<'_>, scope: &Scope, f: &mut Findings) {
    let max = ctx.rules.ncp.max_port_tags;
    for i in scope.indexes() {
        let o = ctx.obj(i);
        if o.kind == Kind::LogicalPort && o.tags.len() > max {
            f.add(
                Severity::Error,
                "port-tag-count",
                subject(o),
                format!("Logical port \"{}\" carries {} tags; ports with more than {max} tags fail promotion (a known NSX defect).", o.display_name, o.tags.len()),
                "Remove labels from the pod (NCP copies them into tags) while NCP runs in Manager mode, wait until it is idle, then collect again.",
            );
        }
    }
}

fn duplicate_policy_ids(ctx: &Context<'_>, entries: &[Entry], f: &mut Findings) {
    let mut seen: HashMap<&str, &Entry> = HashMap::new();
    let mut dups: Vec<(String, String, String, String, String)> = Vec::new();
    for e in entries {
        let Some(path) = e.resource.policy_path.as_deref() else {
            continue;
        };
        if let Some(first) = seen.insert(path, e)
            && first.resource.manager_id != e.resource.manager_id
        {
            dups.push((
                path.to_string(),
                e.resource.resource_type.clone(),
                e.resource.manager_id.clone(),
                e.resource.display_name.clone(),
                first.resource.manager_id.clone(),
            ));
        }
    }
    for (path, rt, id, name, other) in dups {
        f.add(
            Severity::Error,
            "duplicate-policy-id",
            subj(&rt, &id, Some(&name)),
            format!("Manager objects {other} and {id} would both become {path}."),
            "Give one of them another Policy id (policy_id in the user spec), or rename it if ids come from display names.",
        );
    }
    // Existing Policy objects of other owners on the same path.
    let promoted: BTreeMap<&str, &str> = ctx
        .inv
        .objects
        .iter()
        .filter_map(|o| o.tag("policyPath").map(|p| (p, o.id.as_str())))
        .collect();
    let mut taken = Vec::new();
    for e in entries {
        if let Some(path) = e.resource.policy_path.as_deref()
            && let Some(owner) = promoted.get(path)
            && *owner != e.resource.manager_id
        {
            taken.push((
                path.to_string(),
                e.resource.resource_type.clone(),
                e.resource.manager_id.clone(),
                e.resource.display_name.clone(),
                owner.to_string(),
            ));
        }
    }
    for (path, rt, id, name, owner) in taken {
        f.add(
            Severity::Error,
            "policy-id-taken",
            subj(&rt, &id, Some(&name)),
            format!("{path} already belongs to the Policy object promoted from {owner}."),
            "Choose another Policy id for this object (policy_id in the user spec).",
        );
    }
}

fn snat_firewall_match(ctx: &Context<'_>, scope: &Scope, f: &mut Findings) {
    let mut per_router: BTreeMap<String, usize> = BTreeMap::new();
    for i in scope.indexes() {
        let o = ctx.obj(i);
        if o.kind == Kind::NatRule
            && o.str_field("action") == Some("SNAT")
            && o.str_field("firewall_match") != Some("BYPASS")
        {
            *per_router
                .entry(
                    o.str_field("logical_router_id")
                        .unwrap_or_default()
                        .to_string(),
                )
                .or_default() += 1;
        }
    }
    for (router, n) in per_router {
        let (name, rt) = match ctx.find(&router, &[Kind::LogicalRouter]) {
            Some(r) => (
                ctx.obj(r).display_name.clone(),
                ctx.obj(r).resource_type.clone(),
            ),
            None => (router.clone(), "LogicalRouter".into()),
        };
        f.add(
            Severity::Warning,
            "snat-firewall-match",
            subj(&rt, &router, Some(&name)),
            format!("{n} NCP SNAT rule(s) on \"{name}\" will use firewall_match BYPASS after the import: Gateway Firewall rules on that router stop applying to this traffic, and new SNAT rules follow ncp.ini's natfirewallmatch."),
            "Review the Gateway Firewall rules of the Tier-0; set natfirewallmatch in ncp.ini to what new SNAT rules should use.",
        );
    }
}

fn other_clusters(ctx: &Context<'_>, f: &mut Findings) {
    let scope_tag = ctx.rules.ncp.cluster_tag_scope.clone();
    // Product of each cluster seen on this NSX: TKGi clusters carry pks/* tags (and pks-<id>
    // names), TAS foundations say so in ncp/coe (unverified value), the rest is vanilla.
    let mut product_of: BTreeMap<String, &'static str> = BTreeMap::new();
    for o in &ctx.inv.objects {
        if let Some(p) = o.tag("pks/cluster") {
            product_of.insert(p.to_string(), "TKGi");
        }
        let Some(c) = o.tag(&scope_tag) else { continue };
        let product = if o
            .tag("ncp/coe")
            .is_some_and(|v| ctx.rules.tas.coe_values.iter().any(|c| c == v))
        {
            "TAS"
        } else if o.tag("pks/cluster").is_some() || c.starts_with("pks-") {
            "TKGi"
        } else {
            "Kubernetes"
        };
        let entry = product_of.entry(c.to_string()).or_insert(product);
        if *entry == "Kubernetes" {
            *entry = product;
        }
    }
    if ctx.inv.cf.is_some() {
        product_of.insert(ctx.cluster.clone(), "TAS");
    }
    if let Some(p) = ctx.spec.and_then(|c| c.product) {
        product_of.insert(
            ctx.cluster.clone(),
            match p {
                Product::Vanilla => "Kubernetes",
                Product::Tkgi => "TKGi",
                Product::Tas => "TAS",
            },
        );
    }
    let products: BTreeSet<&str> = product_of.values().copied().collect();
    let manager = ctx.manager_name();
    if products.len() > 1 {
        let detail: Vec<String> = product_of
            .iter()
            .map(|(c, p)| format!("{c} ({p})"))
            .collect();
        f.add(
            Severity::Error,
            "shared-nsx-products",
            subj("NsxManager", &manager, None),
            format!("This NSX serves {}: {}. Importing when one NSX is shared between TAS, TKGi and vanilla Kubernetes is not supported.", products.iter().copied().collect::<Vec<_>>().join(", "), detail.join(", ")),
            "Do not import while the NSX is shared between products (NCP documentation, limitations).",
        );
    }
    let others: Vec<String> = product_of
        .keys()
        .filter(|c| **c != ctx.cluster)
        .cloned()
        .collect();
    if !others.is_empty() {
        f.add(
            Severity::Info,
            "other-clusters",
            subj("NsxManager", &manager, None),
            format!("Other clusters use this NSX: {}. Only one cluster can be imported at a time.", others.join(", ")),
            "Strategy 1: stop NCP on all clusters for one window (NSX backup and restore stay usable). Strategy 2: one cluster at a time (no backup restore). See docs/runbook.md.",
        );
    }
}

/// Every cluster and foundation (other than this one) whose NCP objects are on this NSX.
fn clusters_on_nsx(ctx: &Context<'_>) -> BTreeSet<String> {
    let scope_tag = &ctx.rules.ncp.cluster_tag_scope;
    ctx.inv
        .objects
        .iter()
        .filter_map(|o| o.tag(scope_tag))
        .filter(|c| *c != ctx.cluster)
        .map(str::to_string)
        .collect()
}

/// TAS needs Strategy 1 (seeds 001/002): NCP stopped in every cluster and foundation on the NSX
/// for one window, so that an NSX backup taken before the import stays restorable.
fn tas_strategy(ctx: &Context<'_>, f: &mut Findings) {
    if !ctx.is_tas() {
        return;
    }
    let manager = ctx.manager_name();
    if ctx.spec.and_then(|c| c.strategy) == Some(crate::userspec::Strategy::OneAtATime) {
        f.add(
            Severity::Error,
            "tas-strategy",
            subj("Foundation", &ctx.cluster, None),
            format!("Foundation {} is planned with strategy 2 (one cluster at a time); TAS foundations can only be imported with strategy 1.", ctx.cluster),
            "Plan one window for every cluster and foundation on this NSX (strategy: 1 in the user spec), with NCP stopped in all of them and an NSX backup taken first.",
        );
    }
    let planned = |c: &str| -> Option<bool> {
        // Some(true): in the user spec for the same window; Some(false): planned one at a time.
        ctx.spec_file_cluster(c)
            .map(|s| s.strategy != Some(crate::userspec::Strategy::OneAtATime))
    };
    for other in clusters_on_nsx(ctx) {
        let (message, remedy) = match planned(&other) {
            Some(true) => continue,
            Some(false) => (
                format!(
                    "Cluster {other} also uses this NSX and is planned with strategy 2; TAS needs every cluster and foundation on the NSX stopped for the same window (strategy 1)."
                ),
                format!(
                    "Set strategy: 1 for {other} in the user spec and stop its NCP for the window too."
                ),
            ),
            None => (
                format!(
                    "Cluster {other} also uses this NSX but is not in the user spec: TAS needs every cluster and foundation on the NSX stopped and planned for the same window (strategy 1)."
                ),
                format!(
                    "Add {other} to the user spec (strategy: 1), stop its NCP for the window, and import it in the same window after this foundation."
                ),
            ),
        };
        f.add(
            Severity::Error,
            "tas-strategy",
            subj("NsxManager", &manager, Some(&other)),
            message,
            &remedy,
        );
    }
}

/// The orphan check for TAS (seed phase 1): an NSX object NCP made for an org, space, app or app
/// instance that the Cloud Controller no longer lists stops the import.
fn cf_counterparts(ctx: &Context<'_>, scope: &Scope, f: &mut Findings) {
    let Some(cf) = ctx.inv.cf.as_ref() else {
        return;
    };
    let t = &ctx.rules.tas;
    for (i, shared) in scope.iter() {
        if shared {
            continue;
        }
        let o = ctx.obj(i);
        let mut missing: Option<String> = None;
        if let Some(org) = o.tag(&t.org_tag_scope)
            && cf.org(org).is_none()
        {
            missing = Some(format!("org {org}"));
        } else if let Some(space) = o.tag(&t.space_tag_scope)
            && cf.space(space).is_none()
        {
            missing = Some(format!("space {space}"));
        } else if let Some(app) = o.tag(&t.app_tag_scope) {
            match cf.app(app) {
                None => missing = Some(format!("app {app}")),
                Some(a) => {
                    if let Some(index) = o.tag(&t.instance_tag_scope) {
                        let exists = index.parse::<u64>().ok().is_some_and(|n| {
                            cf.instances.get(app).is_some_and(|set| set.contains(&n))
                        });
                        if !exists {
                            missing = Some(format!("instance {index} of app {} ({app})", a.name));
                        }
                    }
                }
            }
        }
        if let Some(what) = missing {
            f.add(
                Severity::Error,
                "cf-counterpart-missing",
                subject(o),
                format!("{} \"{}\" is tagged for foundation {}, but the Cloud Controller has no {what}. The importer cannot build this object's request (seed phase 1).", o.resource_type, o.display_name, ctx.cluster),
                "Start NCP in Manager mode again until it is idle (at least 10 minutes, NCP's longest retry interval) so that it deletes what it made for the gone app instance, then collect and plan again. If NCP does not remove it, delete the port in NSX by hand.",
            );
        }
    }
}

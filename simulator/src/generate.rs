//! Deterministic synthetic inventories in the snapshot format (docs/inventory-format.md), shaped
//! like an NCP cluster in Manager mode: a shared Tier-0, a pod IP block, an external SNAT/VIP pool;
//! per namespace a Tier-1 linked to the Tier-0, a logical switch with its router port, an IP block
//! subnet and IP pool, a SNAT rule and SNAT IP allocation; per pod a logical port (CHILD VIF); per
//! network policy an IP set, an NSGroup and a firewall section between the NCP top/bottom markers;
//! per LoadBalancer service a virtual server and pool on the cluster's LB service. The same seed
//! always writes byte-identical files.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::SimError;
use crate::util::SplitMix64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub seed: u64,
    pub cluster: String,
    pub namespaces: usize,
    pub pods_per_namespace: usize,
    pub policies_per_namespace: usize,
    pub lb_services_per_namespace: usize,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        Self {
            seed: 1,
            cluster: "k8s-synth".into(),
            namespaces: 4,
            pods_per_namespace: 10,
            policies_per_namespace: 1,
            lb_services_per_namespace: 1,
        }
    }
}

impl GenerateSpec {
    /// The benchmarks' world of about `objects` NSX objects: one cluster `kube-synth-01`
    /// (seed 7) whose namespaces hold about 250 objects each (pods plus about 23 per-namespace
    /// objects with the default policies and LB services).
    pub fn benchmark(objects: usize) -> GenerateSpec {
        let namespaces = (objects / 250).clamp(10, 4000);
        GenerateSpec {
            seed: 7,
            cluster: "kube-synth-01".into(),
            namespaces,
            pods_per_namespace: (objects / namespaces).saturating_sub(23).max(1),
            ..GenerateSpec::default()
        }
    }

    /// `root/n<namespaces>-p<pods>`, generated there unless a previous run left it complete
    /// (generation is deterministic, so benchmarks share and reuse it).
    pub fn generate_cached(&self, root: &Path) -> Result<PathBuf, SimError> {
        let dir = root.join(format!("n{}-p{}", self.namespaces, self.pods_per_namespace));
        if !dir.join("metadata.json").exists() {
            generate(self, &dir)?;
        }
        Ok(dir)
    }
}

/// Counts of what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSummary {
    pub nsx_objects: usize,
    pub k8s_objects: usize,
    pub files: Vec<PathBuf>,
}

const T: i64 = 1_763_630_000_000;
/// NCP's principal identity (NCP source of the 2.x era; see docs/rules.md).
const NCP_USER: &str = "com.vmware.nsx.ncp";

struct Gen {
    rng: SplitMix64,
    cluster: String,
}

impl Gen {
    fn obj(&mut self, rt: &str, name: &str, tags: Vec<Value>) -> Value {
        let id = self.rng.uuid();
        self.obj_with_id(&id, rt, name, tags)
    }

    fn obj_with_id(&mut self, id: &str, rt: &str, name: &str, tags: Vec<Value>) -> Value {
        // NCP writes its objects with its principal identity; shared ones are the admin's.
        let user = if tags.iter().any(|t| t["scope"] == "ncp/cluster") {
            NCP_USER
        } else {
            "admin"
        };
        json!({
            "id": id, "resource_type": rt, "display_name": name, "tags": tags,
            "_revision": 0, "_create_user": user, "_create_time": T,
            "_last_modified_user": user, "_last_modified_time": T,
            "_system_owned": false,
            // What the admin who takes the snapshot reads on a protected identity's objects.
            "_protection": if user == NCP_USER { "REQUIRE_OVERRIDE" } else { "NOT_PROTECTED" },
        })
    }

    fn tags(&self, project: Option<&str>, extra: &[(&str, &str)]) -> Vec<Value> {
        let mut t = vec![
            json!({"scope": "ncp/cluster", "tag": self.cluster}),
            json!({"scope": "ncp/version", "tag": "1.2.0"}),
        ];
        if let Some(p) = project {
            t.push(json!({"scope": "ncp/project", "tag": p}));
        }
        for (s, v) in extra {
            t.push(json!({"scope": s, "tag": v}));
        }
        t
    }
}

fn ip(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

fn write(dir: &Path, rel: &str, v: &Value, files: &mut Vec<PathBuf>) -> Result<(), SimError> {
    let p = dir.join(rel);
    let text = serde_json::to_vec(v).map_err(|e| SimError::Inventory {
        file: p.clone(),
        pointer: String::new(),
        message: format!("cannot serialize: {e}"),
    })?;
    std::fs::write(&p, text).map_err(|e| SimError::Inventory {
        file: p.clone(),
        pointer: String::new(),
        message: format!("cannot write: {e}"),
    })?;
    files.push(p);
    Ok(())
}

fn list(items: Vec<Value>) -> Value {
    let n = items.len();
    json!({"results": items, "result_count": n})
}

fn k8s_list(kind: &str, api_version: &str, items: Vec<Value>) -> Value {
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"resourceVersion": "1000"}, "items": items})
}

/// Write a synthetic inventory snapshot to `out` (created if missing; existing files are replaced).
pub fn generate(spec: &GenerateSpec, out: &Path) -> Result<GenerateSummary, SimError> {
    if spec.namespaces > 4000 || spec.pods_per_namespace > 60_000 {
        return Err(SimError::Inventory {
            file: out.to_path_buf(),
            pointer: String::new(),
            message: "at most 4000 namespaces and 60000 pods per namespace".into(),
        });
    }
    for d in ["nsx", "k8s"] {
        std::fs::create_dir_all(out.join(d)).map_err(|e| SimError::Inventory {
            file: out.join(d),
            pointer: String::new(),
            message: format!("cannot create: {e}"),
        })?;
    }
    let mut g = Gen {
        rng: SplitMix64::new(spec.seed),
        cluster: spec.cluster.clone(),
    };
    let cl = spec.cluster.clone();
    let tz = g.rng.uuid();
    let edge = g.rng.uuid();

    let mut routers = Vec::new();
    let mut router_ports = Vec::new();
    let mut switches = Vec::new();
    let mut ports = Vec::new();
    let mut nat = Vec::new();
    let mut blocks = Vec::new();
    let mut subnets = Vec::new();
    let mut pools = Vec::new();
    let mut ipsets = Vec::new();
    let mut groups = Vec::new();
    let mut sections = Vec::new();
    let mut lb_vs = Vec::new();
    let mut lb_pools = Vec::new();
    let mut profiles = Vec::new();
    let mut k_ns = Vec::new();
    let mut k_pods = Vec::new();
    let mut k_svcs = Vec::new();
    let mut k_eps = Vec::new();
    let mut k_np = Vec::new();

    let mut t0 = g.obj("LogicalRouter", "t0-shared", vec![]);
    t0["router_type"] = json!("TIER0");
    t0["high_availability_mode"] = json!("ACTIVE_STANDBY");
    t0["edge_cluster_id"] = json!(edge);
    let t0_id = t0["id"].as_str().unwrap_or_default().to_string();
    routers.push(t0);

    let mut block = g.obj("IpBlock", &format!("{cl}-pod-block"), g.tags(None, &[]));
    block["cidr"] = json!("10.0.0.0/8");
    let block_id = block["id"].as_str().unwrap_or_default().to_string();
    blocks.push(block);

    let ext_base: u32 = u32::from(std::net::Ipv4Addr::new(100, 64, 0, 0));
    let mut ext = g.obj(
        "IpPool",
        "external-pool",
        vec![json!({"scope": "ncp/external", "tag": "true"})],
    );
    ext["subnets"] = json!([{"cidr": "100.64.0.0/12", "allocation_ranges": [{"start": ip(ext_base + 10), "end": ip(ext_base + (1 << 20) - 2)}]}]);
    let ext_id = ext["id"].as_str().unwrap_or_default().to_string();
    pools.push(ext);
    let mut ext_allocs = Vec::new();

    let mut sg = g.obj(
        "SpoofGuardSwitchingProfile",
        &format!("{cl}-spoofguard"),
        g.tags(None, &[]),
    );
    sg["white_list_providers"] = json!(["LPORT_BINDINGS"]);
    let sg_id = sg["id"].as_str().unwrap_or_default().to_string();
    profiles.push(sg);

    // Cluster LB: a Tier-1 with an LB service, monitor and profiles.
    let mut lb_t1 = g.obj("LogicalRouter", &format!("{cl}-lb-t1"), g.tags(None, &[]));
    lb_t1["router_type"] = json!("TIER1");
    let lb_t1_id = lb_t1["id"].as_str().unwrap_or_default().to_string();
    routers.push(lb_t1);
    let mut mon = g.obj("LbHttpMonitor", &format!("{cl}-monitor"), g.tags(None, &[]));
    mon["monitor_port"] = json!("80");
    mon["request_url"] = json!("/");
    let mon_id = mon["id"].as_str().unwrap_or_default().to_string();
    let app = g.obj("LbFastTcpProfile", &format!("{cl}-tcp"), g.tags(None, &[]));
    let app_id = app["id"].as_str().unwrap_or_default().to_string();
    let mut lbs = g.obj("LbService", &format!("{cl}-lbs"), g.tags(None, &[]));
    lbs["size"] = json!("SMALL");
    lbs["enabled"] = json!(true);
    lbs["attachment"] = json!({"target_id": lb_t1_id, "target_type": "LogicalRouter"});

    let mut top = g.obj(
        "FirewallSectionRuleList",
        "ncp-top-marker",
        vec![json!({"scope": "ncp/fw_sect_marker", "tag": "top"})],
    );
    top["section_type"] = json!("LAYER3");
    top["stateful"] = json!(true);
    top["rules"] = json!([]);
    sections.push(top);

    let node_vif = g.rng.uuid();
    let mut rule_id: u64 = 10_000;
    let mut nat_id: u64 = 2_000;
    let mut vip: u32 = ext_base + 1000;

    for n in 0..spec.namespaces {
        let ns = format!("ns-{n:04}");
        let net = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0)) + ((n as u32) << 12);
        let size: u32 = 4096;
        let gw = net + 1;
        let snat_ip = ip(ext_base + 10 + n as u32);
        ext_allocs.push(json!({"allocation_id": snat_ip}));

        let mut t1 = g.obj(
            "LogicalRouter",
            &format!("t1-{cl}-{ns}"),
            g.tags(
                Some(&ns),
                &[("ncp/snat_ip", &snat_ip), ("ncp/extpoolid", &ext_id)],
            ),
        );
        t1["router_type"] = json!("TIER1");
        let t1_id = t1["id"].as_str().unwrap_or_default().to_string();
        routers.push(t1);

        let mut lp0 = g.obj(
            "LogicalRouterLinkPortOnTIER0",
            &format!("LinkedPort_{ns}"),
            g.tags(None, &[]),
        );
        lp0["logical_router_id"] = json!(t0_id);
        lp0["subnets"] = json!([{"ip_addresses": [ip(ext_base + (1 << 19) + 2 * n as u32)], "prefix_length": 31}]);
        let lp0_id = lp0["id"].as_str().unwrap_or_default().to_string();
        let mut lp1 = g.obj(
            "LogicalRouterLinkPortOnTIER1",
            &format!("LinkedPort_t0_{ns}"),
            g.tags(Some(&ns), &[]),
        );
        lp1["logical_router_id"] = json!(t1_id);
        lp1["linked_logical_router_port_id"] =
            json!({"target_id": lp0_id, "target_type": "LogicalRouterLinkPortOnTIER0"});

        let mut sub = g.obj(
            "IpBlockSubnet",
            &format!("{cl}-{ns}-subnet"),
            g.tags(Some(&ns), &[]),
        );
        sub["block_id"] = json!(block_id);
        sub["size"] = json!(size);
        sub["cidr"] = json!(format!("{}/20", ip(net)));
        sub["allocation_ranges"] = json!([{"start": ip(net + 1), "end": ip(net + size - 2)}]);
        let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
        subnets.push(sub);
        let mut pool = g.obj(
            "IpPool",
            &format!("{cl}-{ns}-pool"),
            g.tags(Some(&ns), &[("ncp/subnet_id", &sub_id)]),
        );
        pool["subnets"] = json!([{"cidr": format!("{}/20", ip(net)), "gateway_ip": ip(gw),
                                   "allocation_ranges": [{"start": ip(net + 2), "end": ip(net + size - 2)}]}]);
        let pool_id = pool["id"].as_str().unwrap_or_default().to_string();
        pools.push(pool);

        let mut ls = g.obj(
            "LogicalSwitch",
            &format!("{cl}-{ns}-0"),
            g.tags(
                Some(&ns),
                &[
                    ("ncp/subnet", &format!("{}/20", ip(net))),
                    ("ncp/subnet_id", &sub_id),
                    ("ncp/ip_pool_id", &pool_id),
                ],
            ),
        );
        ls["transport_zone_id"] = json!(tz);
        ls["admin_state"] = json!("UP");
        ls["replication_mode"] = json!("MTEP");
        ls["ip_pool_id"] = json!(pool_id);
        ls["switching_profile_ids"] =
            json!([{"key": "SpoofGuardSwitchingProfile", "value": sg_id}]);
        let ls_id = ls["id"].as_str().unwrap_or_default().to_string();
        switches.push(ls);

        let rport_id = g.rng.uuid();
        let dl_id = g.rng.uuid();
        let mut rport = g.obj_with_id(
            &rport_id,
            "LogicalPort",
            &format!("rtr-port-{ns}"),
            g.tags(Some(&ns), &[]),
        );
        rport["logical_switch_id"] = json!(ls_id);
        rport["admin_state"] = json!("UP");
        rport["attachment"] = json!({"attachment_type": "LOGICALROUTER", "id": dl_id});
        ports.push(rport);
        let mut dl = g.obj_with_id(
            &dl_id,
            "LogicalRouterDownLinkPort",
            &format!("DownLink_{ns}"),
            g.tags(Some(&ns), &[]),
        );
        dl["logical_router_id"] = json!(t1_id);
        dl["linked_logical_switch_port_id"] =
            json!({"target_id": rport_id, "target_type": "LogicalPort"});
        dl["subnets"] = json!([{"ip_addresses": [ip(gw)], "prefix_length": 20}]);
        router_ports.push(lp0);
        router_ports.push(lp1);
        router_ports.push(dl);

        nat_id += 1;
        let mut rule = g.obj_with_id(
            &nat_id.to_string(),
            "NatRule",
            &format!("snat-{ns}"),
            g.tags(None, &[("ncp/extpoolid", &ext_id)]),
        );
        rule["action"] = json!("SNAT");
        rule["logical_router_id"] = json!(t0_id);
        rule["match_source_network"] = json!(format!("{}/20", ip(net)));
        rule["translated_network"] = json!(snat_ip);
        rule["rule_priority"] = json!(1024);
        rule["enabled"] = json!(true);
        nat.push(rule);

        k_ns.push(json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "uid": g.rng.uuid(), "resourceVersion": "100", "creationTimestamp": "2026-11-20T09:00:00Z",
                         "annotations": {"ncp/subnet-0": format!("{}/20", ip(net)), "ncp/snat_ip": snat_ip}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}));

        for p in 0..spec.pods_per_namespace {
            let pod = format!("app-{p:05}");
            let app_label = format!("app-{}", p % 5);
            let pip = ip(net + 2 + p as u32 % (size - 4));
            let mut port = g.obj(
                "LogicalPort",
                &format!("{ns}/{pod}"),
                g.tags(Some(&ns), &[("ncp/pod", &pod), ("app", &app_label)]),
            );
            port["logical_switch_id"] = json!(ls_id);
            port["admin_state"] = json!("UP");
            port["attachment"] = json!({"attachment_type": "VIF", "id": g.rng.uuid(),
                "context": {"resource_type": "VifAttachmentContext", "vif_type": "CHILD", "parent_vif_id": node_vif,
                            "traffic_tag": 100 + (p % 3900), "app_id": format!("{ns}/{pod}")}});
            ports.push(port);
            k_pods.push(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns, "uid": g.rng.uuid(), "resourceVersion": "100",
                             "creationTimestamp": "2026-11-20T09:00:00Z", "labels": {"app": app_label}},
                "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx:1.27"}]},
                "status": {"phase": "Running", "podIP": pip}}));
        }

        for k in 0..spec.policies_per_namespace {
            let np = format!("np-{k}");
            let mut set = g.obj(
                "IPSet",
                &format!("{ns}-{np}-ingress"),
                g.tags(Some(&ns), &[("ncp/network_policy", &np)]),
            );
            set["ip_addresses"] = json!([format!("{}/24", ip(net))]);
            let set_id = set["id"].as_str().unwrap_or_default().to_string();
            ipsets.push(set);
            let mut grp = g.obj(
                "NSGroup",
                &format!("{ns}-{np}-tgt"),
                g.tags(Some(&ns), &[("ncp/network_policy", &np)]),
            );
            grp["membership_criteria"] = json!([{"resource_type": "NSGroupTagExpression", "target_type": "LogicalPort", "scope": "ncp/project", "tag": ns}]);
            grp["members"] = json!([{"resource_type": "NSGroupSimpleExpression", "target_type": "IPSet", "target_property": "id", "op": "EQUALS", "value": set_id}]);
            let grp_id = grp["id"].as_str().unwrap_or_default().to_string();
            groups.push(grp);
            let mut sec = g.obj(
                "FirewallSectionRuleList",
                &format!("{ns}-{np}"),
                g.tags(
                    Some(&ns),
                    &[
                        ("ncp/fw_sect_type", "networkpolicies"),
                        ("ncp/network_policy", &np),
                    ],
                ),
            );
            sec["section_type"] = json!("LAYER3");
            sec["stateful"] = json!(true);
            sec["enforced_on"] = json!("VIF");
            sec["category"] = json!("Default");
            sec["is_default"] = json!(false);
            sec["applied_tos"] = json!([{"target_id": grp_id, "target_type": "NSGroup"}]);
            let mut rules = Vec::new();
            for (name, action) in [("allow", "ALLOW"), ("isolate", "DROP")] {
                rule_id += 1;
                rules.push(json!({"id": rule_id.to_string(), "resource_type": "FirewallRule", "display_name": format!("{np}-{name}"),
                    "action": action, "direction": "IN_OUT", "ip_protocol": "IPV4_IPV6", "disabled": false, "logged": false,
                    "_revision": 0, "_create_user": NCP_USER, "_last_modified_user": NCP_USER, "sources": [{"target_id": grp_id, "target_type": "NSGroup"}]}));
            }
            sec["rule_count"] = json!(rules.len());
            sec["rules"] = Value::Array(rules);
            sections.push(sec);
            k_np.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": np, "namespace": ns, "uid": g.rng.uuid(), "resourceVersion": "100", "creationTimestamp": "2026-11-20T09:00:00Z"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"ipBlock": {"cidr": format!("{}/24", ip(net))}}]}]}}));
        }

        for s in 0..spec.lb_services_per_namespace {
            let svc = format!("svc-{s}");
            vip += 1;
            let mut lbp = g.obj(
                "LbPool",
                &format!("{ns}-{svc}-pool"),
                g.tags(Some(&ns), &[]),
            );
            lbp["algorithm"] = json!("ROUND_ROBIN");
            lbp["active_monitor_ids"] = json!([mon_id]);
            lbp["snat_translation"] = json!({"type": "LbSnatAutoMap"});
            lbp["members"] =
                json!([{"ip_address": ip(net + 2), "port": "8080", "admin_state": "ENABLED"}]);
            let lbp_id = lbp["id"].as_str().unwrap_or_default().to_string();
            lb_pools.push(lbp);
            let mut vs = g.obj(
                "LbVirtualServer",
                &format!("{ns}-{svc}"),
                g.tags(Some(&ns), &[("ext_pool_id", &ext_id)]),
            );
            vs["ip_address"] = json!(ip(vip));
            vs["ports"] = json!(["80"]);
            vs["ip_protocol"] = json!("TCP");
            vs["pool_id"] = json!(lbp_id);
            vs["application_profile_id"] = json!(app_id);
            vs["enabled"] = json!(true);
            lb_vs.push(vs);
            ext_allocs.push(json!({"allocation_id": ip(vip)}));
            let svc_uid = g.rng.uuid();
            k_svcs.push(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": svc, "namespace": ns, "uid": svc_uid, "resourceVersion": "100", "creationTimestamp": "2026-11-20T09:00:00Z"},
                "spec": {"type": "LoadBalancer", "selector": {"app": "app-0"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]},
                "status": {"loadBalancer": {"ingress": [{"ip": ip(vip)}]}}}));
            k_eps.push(json!({"apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": svc, "namespace": ns, "uid": g.rng.uuid(), "resourceVersion": "100", "creationTimestamp": "2026-11-20T09:00:00Z"},
                "subsets": [{"addresses": [{"ip": ip(net + 2)}], "ports": [{"port": 8080, "protocol": "TCP"}]}]}));
        }
    }
    let vs_ids: Vec<Value> = lb_vs.iter().map(|v| v["id"].clone()).collect();
    lbs["virtual_server_ids"] = Value::Array(vs_ids);

    let mut bottom = g.obj(
        "FirewallSectionRuleList",
        "ncp-bottom-marker",
        vec![json!({"scope": "ncp/fw_sect_marker", "tag": "bottom"})],
    );
    bottom["section_type"] = json!("LAYER3");
    bottom["stateful"] = json!(true);
    bottom["rules"] = json!([]);
    sections.push(bottom);
    for (i, s) in sections.iter_mut().enumerate() {
        s["priority"] = json!(i + 1);
        if s.get("rule_count").is_none() {
            s["rule_count"] = json!(0);
        }
    }

    let mut files = Vec::new();
    let rule_count: usize = sections
        .iter()
        .map(|s| s["rules"].as_array().map(Vec::len).unwrap_or(0))
        .sum();
    let nsx_objects = routers.len()
        + router_ports.len()
        + switches.len()
        + ports.len()
        + nat.len()
        + blocks.len()
        + subnets.len()
        + pools.len()
        + ext_allocs.len()
        + ipsets.len()
        + groups.len()
        + sections.len()
        + rule_count
        + lb_vs.len()
        + lb_pools.len()
        + profiles.len()
        + 3;
    let k8s_objects = 1 + k_ns.len() + k_pods.len() + k_svcs.len() + k_eps.len() + k_np.len();

    write(
        out,
        "metadata.json",
        &json!({
            "format": "nsx-migrate-inventory", "format_version": 1,
            "source": format!("synthetic (nsx-migrate sim generate --seed {})", spec.seed),
            "collected_at": "2026-11-20T09:30:00Z", "nsx_manager": "nsx-sim.invalid",
            "nsx_version": crate::DEFAULT_NSX_VERSION, "migration_coordinator": "RUNNING",
            "kubernetes": {"cluster": cl, "context": format!("{cl}-admin")},
        }),
        &mut files,
    )?;
    // The shared resources NCP was given, as the operator would name them for the import.
    let spec_path = out.join("user-spec.yaml");
    let user_spec = format!(
        "# Shared NSX resources of the synthetic cluster (generated).\nversion: 1\nk8s-clusters:\n  {cl}:\n    product: vanilla\n    ncp_version: \"4.1.2\"\n    shared_resources:\n      tier0_routers: [{{display_name: t0-shared}}]\n      ip_pools: [{{display_name: external-pool}}]\n"
    );
    std::fs::write(&spec_path, user_spec).map_err(|e| SimError::Inventory {
        file: spec_path.clone(),
        pointer: String::new(),
        message: e.to_string(),
    })?;
    files.push(spec_path);
    write(out, "nsx/logical-routers.json", &list(routers), &mut files)?;
    write(
        out,
        "nsx/logical-router-ports.json",
        &list(router_ports),
        &mut files,
    )?;
    write(
        out,
        "nsx/logical-switches.json",
        &list(switches),
        &mut files,
    )?;
    write(out, "nsx/logical-ports.json", &list(ports), &mut files)?;
    write(out, "nsx/nat-rules.json", &list(nat), &mut files)?;
    write(out, "nsx/ip-blocks.json", &list(blocks), &mut files)?;
    write(out, "nsx/ip-block-subnets.json", &list(subnets), &mut files)?;
    write(out, "nsx/ip-pools.json", &list(pools), &mut files)?;
    write(
        out,
        "nsx/ip-pool-allocations.json",
        &json!({ ext_id: list(ext_allocs) }),
        &mut files,
    )?;
    write(out, "nsx/ip-sets.json", &list(ipsets), &mut files)?;
    write(out, "nsx/ns-groups.json", &list(groups), &mut files)?;
    write(
        out,
        "nsx/firewall-sections.json",
        &list(sections),
        &mut files,
    )?;
    write(
        out,
        "nsx/switching-profiles.json",
        &list(profiles),
        &mut files,
    )?;
    write(out, "nsx/lb-services.json", &list(vec![lbs]), &mut files)?;
    write(out, "nsx/lb-virtual-servers.json", &list(lb_vs), &mut files)?;
    write(out, "nsx/lb-pools.json", &list(lb_pools), &mut files)?;
    write(out, "nsx/lb-monitors.json", &list(vec![mon]), &mut files)?;
    write(
        out,
        "nsx/lb-app-profiles.json",
        &list(vec![app]),
        &mut files,
    )?;
    let node = json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node-1", "uid": g.rng.uuid(), "resourceVersion": "100", "creationTimestamp": "2026-11-20T09:00:00Z"},
        "spec": {}, "status": {"addresses": [{"type": "InternalIP", "address": "192.0.2.11"}]}});
    write(
        out,
        "k8s/namespaces.json",
        &k8s_list("NamespaceList", "v1", k_ns),
        &mut files,
    )?;
    write(
        out,
        "k8s/pods.json",
        &k8s_list("PodList", "v1", k_pods),
        &mut files,
    )?;
    write(
        out,
        "k8s/services.json",
        &k8s_list("ServiceList", "v1", k_svcs),
        &mut files,
    )?;
    write(
        out,
        "k8s/endpoints.json",
        &k8s_list("EndpointsList", "v1", k_eps),
        &mut files,
    )?;
    write(
        out,
        "k8s/nodes.json",
        &k8s_list("NodeList", "v1", vec![node]),
        &mut files,
    )?;
    write(
        out,
        "k8s/networkpolicies.json",
        &k8s_list("NetworkPolicyList", "networking.k8s.io/v1", k_np),
        &mut files,
    )?;
    Ok(GenerateSummary {
        nsx_objects,
        k8s_objects,
        files,
    })
}

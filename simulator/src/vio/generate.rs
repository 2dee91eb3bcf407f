//! Deterministic synthetic `vio-v2t` snapshots of a given number of Neutron ports
//! (`nsx-migrate sim generate --kind vio-v2t --ports N`), with networks, routers, security
//! groups, floating IPs, load balancers, NSX-V edges, virtual wires and vCenter VMs in proportion.
//! Proportions, per deployment of N ports: one project per 2,000 ports (at least two), one network
//! (one DHCP subnet) per 20 ports, one exclusive router per four networks with a gateway, one load
//! balancer per 1,000 ports; of the remaining ports, one in eleven is a floating IP and the rest
//! are instances. The destination NSX has one edge cluster of two nodes plus one per 10,000 ports
//! (at most ten) and a tier-0 with an uplink on each. Every file `collect --kind vio-v2t` writes is
//! written (empty lists where the deployment has none), so collecting a generated deployment gives
//! it back. The same seed and size always write byte-identical files.

use std::path::Path;

use serde_json::{Value, json};

use crate::SimError;
use crate::util::SplitMix64;

/// What to generate.
#[derive(Debug, Clone)]
pub struct VioGenerateSpec {
    pub seed: u64,
    pub ports: usize,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct VioGenerateSummary {
    pub ports: usize,
    pub networks: usize,
    pub routers: usize,
    pub load_balancers: usize,
    pub edges: usize,
    pub vms: usize,
    /// Nodes of the destination's edge cluster.
    pub edge_nodes: usize,
}

pub const MIN_PORTS: usize = 100;
pub const MAX_PORTS: usize = 50_000;
const T: &str = "2026-10-02T08:15:00Z";

fn werr(path: &Path, e: impl std::fmt::Display) -> SimError {
    SimError::Inventory {
        file: path.to_path_buf(),
        pointer: String::new(),
        message: format!("cannot write: {e}"),
    }
}

fn write(dir: &Path, rel: &str, v: &Value) -> Result<(), SimError> {
    let p = dir.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| werr(parent, e))?;
    }
    let mut bytes = serde_json::to_vec(v).map_err(|e| werr(&p, e))?;
    bytes.push(b'\n');
    std::fs::write(&p, bytes).map_err(|e| werr(&p, e))
}

struct Gen {
    rng: SplitMix64,
    mac: u64,
}

impl Gen {
    fn id(&mut self) -> String {
        self.rng.uuid()
    }
    fn mac(&mut self) -> String {
        self.mac += 1;
        let m = self.mac;
        format!(
            "fa:16:3e:{:02x}:{:02x}:{:02x}",
            (m >> 16) & 0xff,
            (m >> 8) & 0xff,
            m & 0xff
        )
    }
}

/// The extensions Neutron lists with the NSX-V plugin (alias, name).
const NEUTRON_EXTENSIONS: &[(&str, &str)] = &[
    ("agent", "agent"),
    ("allowed-address-pairs", "Allowed Address Pairs"),
    ("availability_zone", "Availability Zone"),
    ("binding", "Port Binding"),
    ("dhcp_agent_scheduler", "DHCP Agent Scheduler"),
    ("dns-integration", "DNS Integration"),
    ("external-net", "Neutron external network"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options"),
    ("extraroute", "Neutron Extra Route"),
    ("flavors", "Neutron Service Flavors"),
    ("l3-flavors", "Router Flavor Extension"),
    ("port-security", "Port Security"),
    ("provider", "Provider Network"),
    ("quotas", "Quota management support"),
    ("router", "Neutron L3 Router"),
    ("security-group", "security-group"),
    ("subnet_allocation", "Subnet Allocation"),
];

fn internal_cidr(n: usize) -> (String, String) {
    let (a, b) = (n / 256, n % 256);
    (format!("10.{a}.{b}.0/24"), format!("10.{a}.{b}"))
}

/// Write a deterministic `vio-v2t` snapshot of `spec.ports` Neutron ports to `out`.
pub fn generate(spec: &VioGenerateSpec, out: &Path) -> Result<VioGenerateSummary, SimError> {
    let n = spec.ports;
    if !(MIN_PORTS..=MAX_PORTS).contains(&n) {
        return Err(SimError::Inventory {
            file: out.to_path_buf(),
            pointer: String::new(),
            message: format!("--ports must be between {MIN_PORTS} and {MAX_PORTS}, not {n}"),
        });
    }
    let mut g = Gen {
        rng: SplitMix64::new(spec.seed ^ 0x0510_2026),
        mac: 0x10_0000,
    };
    let n_proj = (n / 2000).max(2);
    let n_net = (n / 20).max(2);
    let n_router = (n_net / 4).max(1);
    let n_lb = (n / 1000).max(1);
    let rest = n - 2 * n_net - n_router - n_lb;
    let n_compute = rest * 10 / 11;
    let n_fip = rest - n_compute;

    // Projects: admin plus tenants.
    let mut projects = vec![
        json!({"id": g.rng.token(16), "name": "admin", "domain_id": "default",
        "description": "Bootstrap project", "enabled": true, "parent_id": "default", "is_domain": false,
        "tags": [], "options": {}}),
    ];
    for p in 0..n_proj {
        projects.push(json!({"id": g.rng.token(16), "name": format!("tenant-{p:04}"), "domain_id": "default",
            "description": "", "enabled": true, "parent_id": "default", "is_domain": false, "tags": [], "options": {}}));
    }
    let admin = projects[0]["id"].as_str().unwrap_or_default().to_string();
    let tenant = |i: usize| {
        projects[1 + i % n_proj]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };

    let (mut nets, mut subnets, mut ports, mut routers, mut fips) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut wires, mut vnics, mut appl, mut details, mut vss) = (
        Vec::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
        serde_json::Map::new(),
    );
    let mut edge_list = Vec::new();
    let mut vms: Vec<Value> = Vec::new();
    let mut next_vm = 1000usize;

    let port = |g: &mut Gen,
                net: &str,
                sub: &str,
                ip: String,
                owner: &str,
                device: &str,
                proj: &str| {
        json!({"id": g.id(), "name": "", "network_id": net, "tenant_id": proj, "project_id": proj,
            "mac_address": g.mac(), "admin_state_up": true, "status": "ACTIVE", "device_id": device,
            "device_owner": owner, "fixed_ips": [{"subnet_id": sub, "ip_address": ip}],
            "allowed_address_pairs": [], "extra_dhcp_opts": [], "security_groups": [], "description": "",
            "binding:vnic_type": "normal", "port_security_enabled": owner.starts_with("compute:"),
            "qos_policy_id": null, "tags": [], "created_at": T, "updated_at": T, "revision_number": 1})
    };

    // External network.
    let ext_id = g.id();
    let ext_sub = g.id();
    nets.push(json!({"id": ext_id, "name": "public", "tenant_id": admin, "project_id": admin,
        "admin_state_up": true, "mtu": 1500, "status": "ACTIVE", "subnets": [ext_sub], "shared": false,
        "availability_zone_hints": [], "availability_zones": ["default"], "router:external": true, "is_default": true,
        "description": "", "port_security_enabled": true, "qos_policy_id": null, "tags": [], "created_at": T,
        "updated_at": T, "revision_number": 1, "provider:network_type": "portgroup",
        "provider:physical_network": "dvportgroup-41", "provider:segmentation_id": null}));
    subnets.push(json!({"id": ext_sub, "name": "public-subnet", "tenant_id": admin, "project_id": admin,
        "network_id": ext_id, "ip_version": 4, "enable_dhcp": false, "gateway_ip": "198.18.0.1",
        "cidr": "198.18.0.0/15", "allocation_pools": [{"start": "198.18.0.10", "end": "198.19.255.250"}],
        "host_routes": [], "dns_nameservers": [], "subnetpool_id": null, "description": "", "tags": [],
        "created_at": T, "updated_at": T, "revision_number": 0}));
    let mut ext_ip = 10usize;
    let mut next_ext = || {
        ext_ip += 1;
        format!(
            "198.{}.{}.{}",
            18 + ext_ip / 65536,
            (ext_ip / 256) % 256,
            ext_ip % 256
        )
    };

    // Routers, each with a gateway port and an ESG.
    for r in 0..n_router {
        let rid = g.id();
        let proj = tenant(r);
        let gw_ip = next_ext();
        ports.push(port(
            &mut g,
            &ext_id,
            &ext_sub,
            gw_ip.clone(),
            "network:router_gateway",
            &rid,
            "",
        ));
        routers.push(json!({"id": rid, "name": format!("router-{r:05}"), "tenant_id": proj, "project_id": proj,
            "admin_state_up": true, "status": "ACTIVE", "description": "", "availability_zone_hints": [],
            "availability_zones": ["default"], "routes": [], "distributed": false, "router_type": "exclusive",
            "router_size": "compact", "tags": [], "created_at": T, "updated_at": T, "revision_number": 3,
            "external_gateway_info": {"network_id": ext_id, "enable_snat": true,
                "external_fixed_ips": [{"subnet_id": ext_sub, "ip_address": gw_ip}]}}));
    }

    // Security groups: a default group per project and a web group allowing it.
    let mut sgs = Vec::new();
    let mut default_sg = Vec::new();
    for p in 0..n_proj {
        let proj = tenant(p);
        let sid = g.id();
        let rule = |g: &mut Gen, dir: &str, remote: Option<&str>, pmin: Option<u16>| {
            json!({"id": g.id(), "tenant_id": proj, "project_id": proj, "security_group_id": sid,
                "direction": dir, "ethertype": "IPv4", "protocol": pmin.map(|_| "tcp"), "port_range_min": pmin,
                "port_range_max": pmin, "remote_group_id": remote, "remote_ip_prefix": null, "description": ""})
        };
        let rules = vec![
            rule(&mut g, "egress", None, None),
            rule(&mut g, "ingress", Some(&sid), None),
        ];
        sgs.push(json!({"id": sid, "name": "default", "tenant_id": proj, "project_id": proj,
            "description": "Default security group", "stateful": true, "tags": [], "security_group_rules": rules}));
        let web = g.id();
        let mut w = rule(&mut g, "ingress", Some(&sid), Some(443));
        w["security_group_id"] = json!(web);
        sgs.push(json!({"id": web, "name": "web", "tenant_id": proj, "project_id": proj, "description": "",
            "stateful": true, "tags": [], "security_group_rules": [w]}));
        default_sg.push(sid);
    }

    // Networks: one DHCP subnet, a router interface, a DHCP port, a virtual wire, a DHCP edge.
    let per_net = n_compute / n_net;
    let mut compute_left = n_compute;
    let mut compute_ports: Vec<(String, String, String)> = Vec::new(); // (port id, ip, project)
    let mut edge_no = 0usize;
    let mut new_edge = |name: String,
                        vnic_list: Vec<Value>,
                        vs: Value,
                        vms: &mut Vec<Value>,
                        next_vm: &mut usize|
     -> String {
        edge_no += 1;
        let eid = format!("edge-{edge_no}");
        *next_vm += 1;
        let vm = format!("vm-{next_vm}");
        vms.push(json!({"vm": vm, "name": format!("{name}-0"), "power_state": "POWERED_ON", "cpu_count": 1, "memory_size_MiB": 512}));
        let a = json!({"applianceSize": "compact", "deployAppliances": true, "appliances": [
            {"highAvailabilityIndex": 0, "vmId": vm, "vmName": format!("{name}-0"), "hostId": "host-edge-1",
             "resourcePoolId": "resgroup-51", "datastoreId": "datastore-61", "deployed": true, "edgeId": eid}]});
        edge_list.push(json!({"objectId": eid, "id": eid, "name": name, "edgeType": "gatewayServices",
            "state": "deployed", "edgeStatus": "GREEN", "tenantId": "default", "apiVersion": "4.0",
            "numberOfConnectedVnics": vnic_list.len(),
            "appliancesSummary": {"applianceSize": "compact", "numberOfDeployedVms": 1, "vmNameOfActiveVse": format!("{name}-0"),
                                  "vmMoidOfActiveVse": vm, "hostMoidOfActiveVse": "host-edge-1", "deployAppliances": true}}));
        details.insert(eid.clone(), json!({"id": eid, "name": name, "type": "gatewayServices", "status": "deployed",
            "tenant": "default", "appliances": a, "vnics": {"vnics": vnic_list}, "features": {"featureConfigs": []}}));
        vnics.insert(eid.clone(), json!({"vnics": vnic_list}));
        appl.insert(eid.clone(), a);
        vss.insert(eid.clone(), vs);
        eid
    };
    let vnic = |i: usize, pg: &str, addr: &str, ty: &str| {
        json!({"label": format!("vNic_{i}"), "name": format!("vnic{i}"), "index": i, "type": ty, "isConnected": true,
            "portgroupId": pg, "mtu": 1500, "addressGroups": {"addressGroups": [{"primaryAddress": addr, "subnetPrefixLength": "24"}]}})
    };
    let mut router_vnics: Vec<Vec<Value>> = routers
        .iter()
        .map(|r| {
            let ip = r["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            vec![vnic(0, "dvportgroup-41", &ip, "uplink")]
        })
        .collect();
    let mut net_subnet_router = Vec::new();
    for k in 0..n_net {
        let nid = g.id();
        let sid = g.id();
        let r = k % n_router;
        let proj = routers[r]["project_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (cidr, base) = internal_cidr(k);
        nets.push(json!({"id": nid, "name": format!("net-{k:05}"), "tenant_id": proj, "project_id": proj,
            "admin_state_up": true, "mtu": 1500, "status": "ACTIVE", "subnets": [sid], "shared": false,
            "availability_zone_hints": [], "availability_zones": ["default"], "router:external": false,
            "description": "", "port_security_enabled": true, "qos_policy_id": null, "tags": [], "created_at": T,
            "updated_at": T, "revision_number": 2, "provider:network_type": "vxlan",
            "provider:physical_network": null, "provider:segmentation_id": 5001 + k}));
        subnets.push(json!({"id": sid, "name": format!("net-{k:05}-subnet"), "tenant_id": proj, "project_id": proj,
            "network_id": nid, "ip_version": 4, "enable_dhcp": true, "gateway_ip": format!("{base}.1"), "cidr": cidr,
            "allocation_pools": [{"start": format!("{base}.2"), "end": format!("{base}.254")}], "host_routes": [],
            "dns_nameservers": ["10.0.0.53"], "subnetpool_id": null, "description": "", "tags": [], "created_at": T,
            "updated_at": T, "revision_number": 0}));
        let rid = routers[r]["id"].as_str().unwrap_or_default().to_string();
        ports.push(port(
            &mut g,
            &nid,
            &sid,
            format!("{base}.1"),
            "network:router_interface",
            &rid,
            &proj,
        ));
        ports.push(port(
            &mut g,
            &nid,
            &sid,
            format!("{base}.2"),
            "network:dhcp",
            &format!("dhcp-{nid}"),
            &proj,
        ));
        let wire = format!("virtualwire-{}", k + 1);
        wires.push(json!({"objectId": wire, "objectTypeName": "VirtualWire", "name": nid, "vdnId": (5001 + k).to_string(),
            "vdnScopeId": "vdnscope-1", "tenantId": proj, "description": "", "isUniversal": false}));
        let idx = router_vnics[r].len();
        router_vnics[r].push(vnic(idx, &wire, &format!("{base}.1"), "internal"));
        new_edge(
            format!("dhcp-{nid}"),
            vec![vnic(0, &wire, &format!("{base}.2"), "internal")],
            json!({"virtualServer": []}),
            &mut vms,
            &mut next_vm,
        );
        let count = if k + 1 == n_net {
            compute_left
        } else {
            per_net.min(compute_left)
        };
        compute_left -= count;
        let sg = default_sg[(k % n_router) % n_proj].clone();
        for c in 0..count {
            let ip = format!("{base}.{}", 10 + c);
            let inst = g.id();
            let mut p = port(&mut g, &nid, &sid, ip.clone(), "compute:nova", &inst, &proj);
            p["security_groups"] = json!([sg]);
            compute_ports.push((
                p["id"].as_str().unwrap_or_default().to_string(),
                ip,
                proj.clone(),
            ));
            ports.push(p);
            next_vm += 1;
            vms.push(json!({"vm": format!("vm-{next_vm}"), "name": inst, "power_state": "POWERED_ON", "cpu_count": 2, "memory_size_MiB": 4096}));
        }
        net_subnet_router.push((nid, sid, rid, proj, base));
    }
    for (r, vl) in router_vnics.into_iter().enumerate() {
        let name = format!(
            "{}-{}",
            routers[r]["name"].as_str().unwrap_or_default(),
            routers[r]["id"].as_str().unwrap_or_default()
        );
        new_edge(
            name,
            vl,
            json!({"virtualServer": []}),
            &mut vms,
            &mut next_vm,
        );
    }

    // Floating IPs on the first instances.
    for (i, (pid, ip, proj)) in compute_ports.iter().take(n_fip).enumerate() {
        let fid = g.id();
        let fip = next_ext();
        ports.push(port(
            &mut g,
            &ext_id,
            &ext_sub,
            fip.clone(),
            "network:floatingip",
            &fid,
            "",
        ));
        let router = &routers[(i / per_net.max(1)) % n_router];
        fips.push(json!({"id": fid, "tenant_id": proj, "project_id": proj, "floating_network_id": ext_id,
            "router_id": router["id"], "fixed_ip_address": ip, "floating_ip_address": fip, "port_id": pid,
            "status": "ACTIVE", "description": "", "tags": [], "created_at": T, "updated_at": T, "revision_number": 1}));
    }

    // Load balancers: VIP on a network, one listener, pool, two members, a health monitor.
    let (mut lbs, mut listeners, mut pools, mut hms) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut members = serde_json::Map::new();
    for l in 0..n_lb {
        let (nid, sid, _rid, proj, base) = &net_subnet_router[(l * 7) % n_net];
        let (lb, lst, pool, hm) = (g.id(), g.id(), g.id(), g.id());
        let vip_ip = format!("{base}.250");
        let vip = port(
            &mut g,
            nid,
            sid,
            vip_ip.clone(),
            "Octavia",
            &format!("lb-{lb}"),
            proj,
        );
        let st = json!({"provisioning_status": "ACTIVE", "operating_status": "ONLINE", "tags": []});
        let with = |mut v: Value| {
            if let (Some(m), Some(s)) = (v.as_object_mut(), st.as_object()) {
                m.extend(s.clone());
            }
            v
        };
        lbs.push(with(json!({"id": lb, "name": format!("lb-{l:04}"), "project_id": proj, "tenant_id": proj,
            "vip_address": vip_ip, "vip_port_id": vip["id"], "vip_subnet_id": sid, "vip_network_id": nid,
            "listeners": [{"id": lst}], "pools": [{"id": pool}], "provider": "vmwareedge", "flavor_id": null,
            "admin_state_up": true, "description": ""})));
        ports.push(vip);
        listeners.push(with(json!({"id": lst, "name": "http", "project_id": proj, "tenant_id": proj, "protocol": "HTTP",
            "protocol_port": 80, "default_pool_id": pool, "loadbalancers": [{"id": lb}], "l7policies": [], "admin_state_up": true})));
        let mlist: Vec<Value> = (0..2)
            .map(|m| with(json!({"id": g.id(), "project_id": proj, "tenant_id": proj, "address": format!("{base}.{}", 10 + m),
                "protocol_port": 8080, "weight": 1, "subnet_id": sid, "admin_state_up": true, "backup": false})))
            .collect();
        pools.push(with(json!({"id": pool, "name": "pool", "project_id": proj, "tenant_id": proj, "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN", "listeners": [{"id": lst}], "loadbalancers": [{"id": lb}],
            "healthmonitor_id": hm, "members": mlist.iter().map(|m| json!({"id": m["id"]})).collect::<Vec<_>>(),
            "admin_state_up": true})));
        members.insert(pool.clone(), json!({"members": mlist}));
        hms.push(with(json!({"id": hm, "project_id": proj, "tenant_id": proj, "type": "HTTP", "delay": 5, "timeout": 3,
            "max_retries": 3, "url_path": "/", "expected_codes": "200", "pools": [{"id": pool}], "admin_state_up": true})));
        let vs = json!({"virtualServer": [{"virtualServerId": "virtualServer-1", "name": format!("vip_{lst}"),
            "ipAddress": vip_ip, "protocol": "http", "port": "80", "defaultPoolId": "pool-1", "enabled": true}]});
        new_edge(
            format!("lbaas-{lb}"),
            vec![vnic(0, "dvportgroup-41", &vip_ip, "uplink")],
            vs,
            &mut vms,
            &mut next_vm,
        );
    }

    // vCenter: instances spread over compute hosts (40 each), edges on one edge host.
    let n_hosts = vms.len().div_ceil(40).max(1);
    let mut hosts = vec![
        json!({"host": "host-edge-1", "name": "esx-edge-1.synth.example", "connection_state": "CONNECTED", "power_state": "POWERED_ON"}),
    ];
    let mut by_host: serde_json::Map<String, Value> = serde_json::Map::new();
    by_host.insert("host-edge-1".into(), json!([]));
    for h in 0..n_hosts {
        let id = format!("host-{}", 100 + h);
        hosts.push(json!({"host": id, "name": format!("esx-{h:04}.synth.example"), "connection_state": "CONNECTED", "power_state": "POWERED_ON"}));
        by_host.insert(id, json!([]));
    }
    let mut ci = 0usize;
    for v in &vms {
        let host = if v["name"].as_str().is_some_and(|n| n.len() == 36) {
            ci += 1;
            format!("host-{}", 100 + (ci - 1) / 40)
        } else {
            "host-edge-1".to_string()
        };
        if let Some(a) = by_host.get_mut(&host).and_then(Value::as_array_mut) {
            a.push(v.clone());
        }
    }
    let compute_hosts: Vec<Value> = hosts[1..].to_vec();
    let clusters = json!([{"cluster": "domain-c7", "name": "compute", "ha_enabled": true, "drs_enabled": true},
                          {"cluster": "domain-c8", "name": "edge", "ha_enabled": true, "drs_enabled": false}]);

    let mut summary = VioGenerateSummary {
        ports: ports.len(),
        networks: nets.len(),
        routers: routers.len(),
        load_balancers: lbs.len(),
        edges: edge_list.len(),
        vms: vms.len(),
        edge_nodes: 0,
    };
    debug_assert_eq!(summary.ports, n);

    let d = out;
    write(
        d,
        "metadata.json",
        &json!({"format": "nsx-migrate-inventory", "format_version": 1, "kind": "vio-v2t",
        "source": format!("nsx-migrate sim generate --kind vio-v2t --ports {n} --seed {}", spec.seed),
        "collected_at": "2026-11-20T09:30:00Z",
        "openstack": {"auth_url": "https://vio.synth.example:5000/v3", "region": "RegionOne", "user": "admin",
            "user_domain": "Default", "project": "admin", "project_domain": "Default",
            "network_endpoint": "https://vio.synth.example:9696", "load_balancer_endpoint": "https://vio.synth.example:9876"},
        "nsxv_manager": "nsxv.synth.example", "nsxv_version": "6.4.11",
        "vcenter": "vc.synth.example", "nsx_manager": "nsx.synth.example", "nsx_version": "4.1.2.0.0.22589037",
        "kubernetes": {"cluster": "vio-synth", "context": "vio-synth", "namespace": "openstack"},
        // The passwords of the operator's files, already references (as collect records them).
        "redactions": [
            {"file": "vio/nsx.ini", "at": "[nsxv] password",
             "reference": "secret-ref:openstack/neutron-nsxv-secret/nsxv_password"},
            {"file": "vio/migrator.conf.json", "at": "/nsx_manager_password", "reference": "secret-ref:none"}]}),
    )?;
    write(d, "keystone/projects.json", &json!({"projects": projects}))?;
    write(d, "neutron/networks.json", &json!({"networks": nets}))?;
    write(d, "neutron/subnets.json", &json!({"subnets": subnets}))?;
    write(d, "neutron/ports.json", &json!({"ports": ports}))?;
    write(d, "neutron/routers.json", &json!({"routers": routers}))?;
    write(d, "neutron/floatingips.json", &json!({"floatingips": fips}))?;
    write(
        d,
        "neutron/security-groups.json",
        &json!({"security_groups": sgs}),
    )?;
    write(
        d,
        "octavia/loadbalancers.json",
        &json!({"loadbalancers": lbs}),
    )?;
    write(
        d,
        "octavia/listeners.json",
        &json!({"listeners": listeners}),
    )?;
    write(d, "octavia/pools.json", &json!({"pools": pools}))?;
    write(d, "octavia/members.json", &Value::Object(members))?;
    write(
        d,
        "octavia/healthmonitors.json",
        &json!({"healthmonitors": hms}),
    )?;
    let paging = |items: &[Value], outer: &str| {
        json!({ outer: {"data": items, "pagingInfo": {"startIndex": 0, "pageSize": items.len(),
            "totalCount": items.len(), "sortOrderAscending": true, "sortBy": "id"}}})
    };
    write(
        d,
        "nsxv/vsmconfig.json",
        &json!({"version": "6.4.11", "versionInfo": {"majorVersion": "6", "minorVersion": "4", "patchVersion": "11"}}),
    )?;
    write(d, "nsxv/edges.json", &paging(&edge_list, "edgePage"))?;
    write(d, "nsxv/edge-details.json", &Value::Object(details))?;
    write(d, "nsxv/edge-vnics.json", &Value::Object(vnics))?;
    write(d, "nsxv/edge-appliances.json", &Value::Object(appl))?;
    write(d, "nsxv/edge-virtualservers.json", &Value::Object(vss))?;
    write(d, "nsxv/virtualwires.json", &paging(&wires, "dataPage"))?;
    write(d, "vcenter/clusters.json", &clusters)?;
    write(d, "vcenter/hosts.json", &json!(hosts))?;
    write(
        d,
        "vcenter/hosts-by-cluster.json",
        &json!({"domain-c7": compute_hosts, "domain-c8": [hosts[0]]}),
    )?;
    write(d, "vcenter/vms.json", &json!(vms))?;
    write(d, "vcenter/vms-by-host.json", &Value::Object(by_host))?;
    write(
        d,
        "vio/neutron-cr.json",
        &json!({"apiVersion": "v1", "kind": "NeutronList", "metadata": {"resourceVersion": "1"},
        "items": [{"apiVersion": "vio.vmware.com/v1alpha1", "kind": "Neutron",
            "metadata": {"name": "neutron-synth", "namespace": "openstack", "resourceVersion": "1", "generation": 1},
            "spec": {"manifests": {"nsxv": true, "nsxp": false, "nsxt": false, "dvs": false},
                     "conf": {"plugins": {"nsxv": {"manager_uri": "https://nsxv.synth.example", "user": "admin",
                         "password_ref": {"kind": "VIOSecret", "name": "neutron-nsxv-secret", "key": "nsxv_password"}}}}}}]}),
    )?;
    write(
        d,
        "vio/viosecrets.json",
        &json!({"apiVersion": "v1", "kind": "VIOSecretList", "metadata": {"resourceVersion": "1"},
        "items": [{"apiVersion": "vio.vmware.com/v1alpha1", "kind": "VIOSecret",
            "metadata": {"name": "neutron-nsxv-secret", "namespace": "openstack"}, "spec": {"data": {"nsxv_password": ""}}}]}),
    )?;
    write(
        d,
        "vio/migrator.conf.json",
        &json!({"strict_validation": false, "edge_migration": true, "host_migration": true,
        "rollback": false, "nsxv_token_lifetime": 1440, "compute_clusters": ["domain-c7"], "nsx_manager_ips": ["nsx.synth.example"],
        "nsx_manager_user": "admin", "nsx_manager_password": "secret-ref:none", "default_overlay_tz": "overlay-tz",
        "default_tier0_router": "t0-public", "external_networks_map": {ext_id.clone(): "t0-public"},
        "transit_network": "100.64.0.0/16", "advanced_router_validation": true}),
    )?;
    let ini = "[DEFAULT]\ncore_plugin = vmware_nsx.plugin.NsxVPlugin\n\n[nsxv]\nmanager_uri = https://nsxv.synth.example\nuser = admin\npassword = secret-ref:openstack/neutron-nsxv-secret/nsxv_password\ncluster_moid = domain-c7\nexternal_network = dvportgroup-41\nvdn_scope_id = vdnscope-1\n";
    let p = d.join("vio/nsx.ini");
    std::fs::write(&p, ini).map_err(|e| werr(&p, e))?;
    let pol = |id: &str, path: &str, rt: &str, extra: Value| {
        let mut o = json!({"id": id, "display_name": id, "path": path, "resource_type": rt, "_revision": 0});
        if let (Some(m), Value::Object(e)) = (o.as_object_mut(), extra) {
            m.extend(e);
        }
        json!({"results": [o], "result_count": 1})
    };
    let ep = "/infra/sites/default/enforcement-points/default";
    write(
        d,
        "nsx/transport-zones.json",
        &pol(
            "overlay-tz",
            &format!("{ep}/transport-zones/overlay-tz"),
            "PolicyTransportZone",
            json!({"tz_type": "OVERLAY_BACKED"}),
        ),
    )?;
    write(
        d,
        "nsx/edge-clusters.json",
        &pol(
            "ec-1",
            &format!("{ep}/edge-clusters/ec-1"),
            "PolicyEdgeCluster",
            json!({}),
        ),
    )?;
    // What a deployment without FWaaS, QoS, RBAC, subnet pools, per-project quotas, Octavia
    // flavors, L7 policies or distributed routers lists: nothing, in each list's own shape (the
    // collector writes every file, so a generated snapshot is complete as collected).
    for (rel, key) in [
        ("neutron/firewall-groups.json", "firewall_groups"),
        ("neutron/firewall-policies.json", "firewall_policies"),
        ("neutron/firewall-rules.json", "firewall_rules"),
        ("neutron/qos-policies.json", "policies"),
        ("neutron/quotas.json", "quotas"),
        ("neutron/rbac-policies.json", "rbac_policies"),
        ("neutron/subnetpools.json", "subnetpools"),
        ("octavia/flavors.json", "flavors"),
        ("octavia/flavorprofiles.json", "flavorprofiles"),
        ("octavia/l7policies.json", "l7policies"),
    ] {
        write(d, rel, &json!({ key: [] }))?;
    }
    write(d, "octavia/l7rules.json", &json!({}))?;
    write(d, "nsxv/edge-interfaces.json", &json!({}))?;
    let exts: Vec<Value> = NEUTRON_EXTENSIONS
        .iter()
        .map(|(alias, name)| json!({"alias": alias, "name": name,
            "description": format!("{name} extension."), "updated": "2019-01-01T10:00:00-00:00", "links": []}))
        .collect();
    write(d, "neutron/extensions.json", &json!({ "extensions": exts }))?;
    write(
        d,
        "neutron/availability-zones.json",
        &json!({"availability_zones": [
            {"name": "default", "resource": "network", "state": "available"},
            {"name": "default", "resource": "router", "state": "available"}]}),
    )?;
    // The NSX-V Manager's scoping objects: one per virtual wire, in the transport zone.
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<scopingObjects>\n");
    for w in &wires {
        let (id, name) = (
            w["objectId"].as_str().unwrap_or_default(),
            w["name"].as_str().unwrap_or_default(),
        );
        xml.push_str(&format!("  <object><objectId>{id}</objectId><objectTypeName>VirtualWire</objectTypeName><type><typeName>VirtualWire</typeName></type><name>{name}</name><scope><id>vdnscope-1</id><objectTypeName>VdnScope</objectTypeName><name>vio-tz</name></scope><isUniversal>false</isUniversal></object>\n"));
    }
    xml.push_str("</scopingObjects>\n");
    let p = d.join("nsxv/scopingobjects.xml");
    std::fs::write(&p, xml).map_err(|e| werr(&p, e))?;

    // The edge cluster's nodes (two, plus one per 10,000 ports, at most ten) and one uplink of
    // the tier-0 on each, as an NSX prepared for the migration has them.
    let n_edge_nodes = (2 + n / 10_000).min(10);
    let mut nodes = Vec::new();
    let mut uplinks = Vec::new();
    let mut transport_nodes = Vec::new();
    for i in 0..n_edge_nodes {
        let node_path = format!("{ep}/edge-clusters/ec-1/edge-nodes/{i}");
        let (node_id, node_name) = (g.id(), format!("nsx-edge-{:02}", i + 1));
        // Each node in the one (overlay) transport zone, as the Manager API shows it.
        transport_nodes.push(super::edge_nodes::transport_node(
            i,
            &node_id,
            &node_name,
            &[json!("overlay-tz")],
        ));
        nodes.push(json!({"id": i.to_string(), "display_name": node_name,
            "nsx_id": node_id, "member_index": i, "resource_type": "PolicyEdgeNode",
            "path": node_path, "relative_path": i.to_string(),
            "parent_path": format!("{ep}/edge-clusters/ec-1"), "_revision": 0}));
        let ls = "/infra/tier-0s/t0-public/locale-services/default";
        uplinks.push(json!({"id": format!("uplink-{i}"), "display_name": format!("uplink-{i}"),
            "type": "EXTERNAL", "segment_path": "/infra/segments/t0-uplink-vlan", "edge_path": node_path,
            "subnets": [{"ip_addresses": [format!("192.0.2.{}", 2 + i)], "prefix_len": 28}],
            "mtu": 1500, "urpf_mode": "STRICT", "resource_type": "Tier0Interface",
            "path": format!("{ls}/interfaces/uplink-{i}"), "relative_path": format!("uplink-{i}"),
            "parent_path": ls, "_revision": 0}));
    }
    summary.edge_nodes = n_edge_nodes;
    write(
        d,
        "nsx/edge-cluster-nodes.json",
        &json!({"ec-1": {"result_count": nodes.len(), "results": nodes}}),
    )?;
    // The migration coordinator service, running (as the Manager's node API shows it).
    write(
        d,
        "nsx/coordinator-status.json",
        &json!({"runtime_state": "running", "monitor_runtime_state": "running",
            "health": "STABLE", "pids": [4242], "monitor_pid": 4241}),
    )?;
    write(
        d,
        "nsx/edge-transport-nodes.json",
        &json!({"results": transport_nodes, "result_count": n_edge_nodes}),
    )?;
    write(
        d,
        "nsx/tier-0-interfaces.json",
        &json!({"t0-public/default": {"result_count": uplinks.len(), "results": uplinks}}),
    )?;
    // A destination prepared for the migration holds nothing Neutron made yet.
    write(
        d,
        "nsx/neutron-owned.json",
        &json!({"results": [], "result_count": 0}),
    )?;
    write(
        d,
        "nsx/tier-0s.json",
        &pol(
            "t0-public",
            "/infra/tier-0s/t0-public",
            "Tier0",
            json!({"ha_mode": "ACTIVE_STANDBY"}),
        ),
    )?;
    write(
        d,
        "nsx/tier-0-locale-services.json",
        &json!({"t0-public": pol("default", "/infra/tier-0s/t0-public/locale-services/default", "LocaleServices", json!({"edge_cluster_path": format!("{ep}/edge-clusters/ec-1")}))}),
    )?;
    write(
        d,
        "nsx/dhcp-server-configs.json",
        &pol(
            "dhcp-profile-1",
            "/infra/dhcp-server-configs/dhcp-profile-1",
            "DhcpServerConfig",
            json!({"edge_cluster_path": format!("{ep}/edge-clusters/ec-1")}),
        ),
    )?;
    write(
        d,
        "nsx/metadata-proxies.json",
        &pol(
            "mdproxy-1",
            "/infra/metadata-proxies/mdproxy-1",
            "MetadataProxyConfig",
            json!({"edge_cluster_path": format!("{ep}/edge-clusters/ec-1")}),
        ),
    )?;
    write(
        d,
        "nsx/compute-managers.json",
        &json!({"results": [{"id": "cm-1", "display_name": "vc.synth.example",
        "resource_type": "ComputeManager", "server": "vc.synth.example", "origin_type": "vCenter", "_revision": 0}], "result_count": 1}),
    )?;
    Ok(summary)
}

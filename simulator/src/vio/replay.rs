//! The target of API replay: the temporary Neutron server the V2T migrator runs with the NSX
//! Policy plugin and `api_replay_mode = true`, served under `/target-network/v2.0/...` on the
//! simulator's port (Keystone catalog: service type `network-replay`, name `neutron-replay`;
//! docs/inventory-format.md).
//!
//! Writes accept the client's ids (the api-replay extension: `id`, `vif_id` on ports, `vni` on
//! networks), refuse an existing id with 409, and take bulk bodies (`{"networks": [...]}`) all or
//! nothing, one project per request. Each accepted write creates, updates or deletes the NSX
//! Policy objects the Policy plugin would (this module's own reading of the plugin's mapping; the
//! planner has another), in the simulator's Policy store, so the Policy API and search see them.
//! Octavia objects are not replayed through Neutron (they travel over RPC to the NSX Octavia
//! driver) and are not served here; neither are FWaaS's Policy objects (the Neutron side only).
//!
//! A write is computed against a transaction (an overlay on the Neutron and Policy stores) and
//! committed only when every object of the request succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::keystone::{Caller, authenticate};
use super::list::{Style, list, project};
use crate::api::{Reply, Req};
use crate::state::State;

#[path = "replay_fwaas.rs"]
mod fwaas;
#[path = "replay_lb.rs"]
mod lb;

/// Path prefix of the target Neutron on the simulator's port.
pub const PREFIX: &str = "/target-network";
/// Value of the `os-api-version` tag (the plugin's version string; inferred, docs/rules.md).
pub const OS_API_VERSION: &str = "17.0.0";
/// The tag (no scope) the plugin puts on a tier-1 in replay mode.
pub const TRANSIT_TAG: &str = "v2t-gateway-transit-ls";
const EP: &str = "/infra/sites/default/enforcement-points/default";

/// Faults of the replay target (fault file section `[replay]`, or `PUT /_sim/vio/replay-faults`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReplayFaults {
    /// 1-based ordinals of object writes that fail with 500 (each member of a bulk request is
    /// one object; the whole request fails and nothing is created; a retry is a later ordinal).
    #[serde(default)]
    pub fail_at_object: Vec<u64>,
    /// Policy objects written by the target report not realized for this many realized-state
    /// reads before they report REALIZED.
    #[serde(default)]
    pub realization_reads: u32,
}

/// What the replay target holds; kept in the state file under `vio.replay`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReplayState {
    /// Neutron objects by collection key (`networks`, `ports`, ...) then id.
    #[serde(default)]
    pub objects: BTreeMap<String, BTreeMap<String, Value>>,
    /// Object writes attempted so far (the counter `fail_at_object` refers to).
    #[serde(default)]
    pub attempts: u64,
    /// Policy path -> realized-state reads left before it reports REALIZED.
    #[serde(default)]
    pub unrealized: BTreeMap<String, u32>,
    /// Sequence for generated ids (FIPs, subnet pools, RBAC, QoS rules, interface ports).
    #[serde(default)]
    pub next_id: u64,
    /// Port ids by network id: an index of `objects["ports"]` for the per-network checks of a
    /// port write (MAC and address in use), built on first use, kept by every commit.
    #[serde(skip)]
    ports_by_net: Option<BTreeMap<String, BTreeSet<String>>>,
}

impl ReplayState {
    fn index_ports(&mut self) {
        if self.ports_by_net.is_some() {
            return;
        }
        let mut idx: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, p) in self.objects.get("ports").into_iter().flatten() {
            idx.entry(s(p, "network_id").unwrap_or("").to_string())
                .or_default()
                .insert(id.clone());
        }
        self.ports_by_net = Some(idx);
    }

    /// Keep the port index when a port is stored (`Some`) or removed (`None`).
    fn reindex_port(&mut self, id: &str, new: Option<&Value>) {
        let old = self
            .objects
            .get("ports")
            .and_then(|m| m.get(id))
            .map(|p| s(p, "network_id").unwrap_or("").to_string());
        let Some(idx) = self.ports_by_net.as_mut() else {
            return;
        };
        if let Some(o) = old
            && let Some(set) = idx.get_mut(&o)
        {
            set.remove(id);
        }
        if let Some(p) = new {
            idx.entry(s(p, "network_id").unwrap_or("").to_string())
                .or_default()
                .insert(id.to_string());
        }
    }
}

struct Res {
    path: &'static [&'static str],
    key: &'static str,
    single: &'static str,
    err: &'static str,
    /// The api-replay extension lets a POST carry `id`.
    client_id: bool,
    bulk: bool,
}

const RES: &[Res] = &[
    Res {
        path: &["networks"],
        key: "networks",
        single: "network",
        err: "Network",
        client_id: true,
        bulk: true,
    },
    Res {
        path: &["subnets"],
        key: "subnets",
        single: "subnet",
        err: "Subnet",
        client_id: true,
        bulk: true,
    },
    Res {
        path: &["ports"],
        key: "ports",
        single: "port",
        err: "Port",
        client_id: true,
        bulk: true,
    },
    Res {
        path: &["routers"],
        key: "routers",
        single: "router",
        err: "Router",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["security-groups"],
        key: "security_groups",
        single: "security_group",
        err: "SecurityGroup",
        client_id: true,
        bulk: true,
    },
    Res {
        path: &["security-group-rules"],
        key: "security_group_rules",
        single: "security_group_rule",
        err: "SecurityGroupRule",
        client_id: true,
        bulk: true,
    },
    Res {
        path: &["qos", "policies"],
        key: "policies",
        single: "policy",
        err: "QosPolicy",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["floatingips"],
        key: "floatingips",
        single: "floatingip",
        err: "FloatingIP",
        client_id: false,
        bulk: false,
    },
    Res {
        path: &["subnetpools"],
        key: "subnetpools",
        single: "subnetpool",
        err: "SubnetPool",
        client_id: false,
        bulk: false,
    },
    Res {
        path: &["rbac-policies"],
        key: "rbac_policies",
        single: "rbac_policy",
        err: "RbacPolicy",
        client_id: false,
        bulk: false,
    },
    Res {
        path: &["fwaas", "firewall_rules"],
        key: "firewall_rules",
        single: "firewall_rule",
        err: "FirewallRule",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["fwaas", "firewall_policies"],
        key: "firewall_policies",
        single: "firewall_policy",
        err: "FirewallPolicy",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["fwaas", "firewall_groups"],
        key: "firewall_groups",
        single: "firewall_group",
        err: "FirewallGroup",
        client_id: true,
        bulk: false,
    },
    // The Octavia stand-in (`replay_lb.rs`): Octavia's bodies at the neutron-lbaas location.
    Res {
        path: &["lbaas", "loadbalancers"],
        key: "loadbalancers",
        single: "loadbalancer",
        err: "LoadBalancer",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["lbaas", "listeners"],
        key: "listeners",
        single: "listener",
        err: "Listener",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["lbaas", "pools"],
        key: "pools",
        single: "pool",
        err: "Pool",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["lbaas", "healthmonitors"],
        key: "healthmonitors",
        single: "healthmonitor",
        err: "HealthMonitor",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["lbaas", "l7policies"],
        key: "l7policies",
        single: "l7policy",
        err: "L7Policy",
        client_id: true,
        bulk: false,
    },
    Res {
        path: &["quotas"],
        key: "quotas",
        single: "quota",
        err: "Quota",
        client_id: false,
        bulk: false,
    },
];

/// A Neutron error: status, type, message.
#[derive(Debug)]
pub struct NErr(u16, String, String);

fn nerr(status: u16, ty: &str, msg: impl Into<String>) -> NErr {
    NErr(status, ty.to_string(), msg.into())
}

fn bad(msg: impl Into<String>) -> NErr {
    nerr(400, "HTTPBadRequest", msg)
}

fn not_found(err: &str, noun: &str, id: &str) -> NErr {
    nerr(
        404,
        &format!("{err}NotFound"),
        format!("{noun} {id} could not be found."),
    )
}

pub fn neutron_error(status: u16, ty: &str, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({"NeutronError": {"type": ty, "message": message, "detail": ""}})),
        headers: Vec::new(),
        raw: None,
    }
}

fn reply_err(e: NErr) -> Reply {
    neutron_error(e.0, &e.1, &e.2)
}

fn s<'a>(o: &'a Value, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

fn project_of(o: &Value) -> &str {
    s(o, "project_id")
        .or_else(|| s(o, "tenant_id"))
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// Naming and tags (the plugin's conventions, as anchors 1.3 describes them)

/// `<name>[:80 - 14]_<first 5 of id>...<last 5 of id>`, counting characters.
pub fn name_and_uuid(name: &str, id: &str) -> String {
    let short = format!(
        "_{}...{}",
        id.chars().take(5).collect::<String>(),
        id.chars()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<String>()
    );
    let max = 80usize.saturating_sub(short.chars().count());
    let head: String = name.chars().take(max).collect();
    format!("{head}{short}")
}

fn cut(v: &str, n: usize) -> String {
    v.chars().take(n).collect()
}

// ---------------------------------------------------------------------------------------------
// IP arithmetic (IPv4 and IPv6 as u128)

#[derive(Debug, Clone, Copy)]
/// A subnet's CIDR (IPv4 or IPv6), addresses as `u128`.
pub struct Cidr {
    v6: bool,
    net: u128,
    prefix: u32,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = s.split_once('/')?;
        let ip: IpAddr = a.parse().ok()?;
        let prefix: u32 = p.parse().ok()?;
        let (v6, bits, n) = match ip {
            IpAddr::V4(x) => (false, 32, u32::from(x) as u128),
            IpAddr::V6(x) => (true, 128, u128::from(x)),
        };
        if prefix > bits {
            return None;
        }
        let host_bits = bits - prefix;
        let mask = if host_bits >= 128 {
            0
        } else {
            !((1u128 << host_bits) - 1)
        };
        Some(Self {
            v6,
            net: n & mask,
            prefix,
        })
    }
    fn bits(&self) -> u32 {
        if self.v6 { 128 } else { 32 }
    }
    fn size(&self) -> u128 {
        let hb = self.bits() - self.prefix;
        if hb >= 127 { u128::MAX } else { 1u128 << hb }
    }
    pub fn contains(&self, ip: u128) -> bool {
        ip >= self.net && ip - self.net < self.size()
    }
    pub fn fmt(&self, n: u128) -> String {
        if self.v6 {
            std::net::Ipv6Addr::from(n).to_string()
        } else {
            std::net::Ipv4Addr::from(n as u32).to_string()
        }
    }
    pub fn ip(&self, s: &str) -> Option<u128> {
        match s.parse::<IpAddr>().ok()? {
            IpAddr::V4(x) if !self.v6 => Some(u32::from(x) as u128),
            IpAddr::V6(x) if self.v6 => Some(u128::from(x)),
            _ => None,
        }
    }
    /// The first and last addresses Neutron hands out by default.
    pub fn default_pool(&self) -> (u128, u128) {
        let last = if self.v6 {
            self.net + self.size() - 1
        } else {
            self.net + self.size().saturating_sub(2)
        };
        (self.net + 1, last.max(self.net + 1))
    }
}

// ---------------------------------------------------------------------------------------------
// The transaction: an overlay on the Neutron objects and the Policy store

struct Tx<'a> {
    objs: &'a BTreeMap<String, BTreeMap<String, Value>>,
    /// The store's port ids by network (`ReplayState::ports_by_net`).
    ports_by_net: &'a BTreeMap<String, BTreeSet<String>>,
    pol: &'a BTreeMap<String, Value>,
    projects: &'a [Value],
    /// The deployment's Octavia collections (flavors for the LB stand-in's `lb_size`).
    octavia: &'a BTreeMap<&'static str, Vec<Value>>,
    new_objs: BTreeMap<(String, String), Option<Value>>,
    new_pol: BTreeMap<String, Option<Value>>,
    user: String,
    now: i64,
    next_id: u64,
    seed: u64,
}

impl Tx<'_> {
    fn obj(&self, key: &str, id: &str) -> Option<Value> {
        match self.new_objs.get(&(key.to_string(), id.to_string())) {
            Some(o) => o.clone(),
            None => self.objs.get(key).and_then(|m| m.get(id)).cloned(),
        }
    }
    fn all(&self, key: &str) -> Vec<Value> {
        self.each(key).into_iter().cloned().collect()
    }
    /// The objects of a collection in id order, borrowed: the store's merged with this
    /// request's overlay (no copies; a port write reads every port of the store).
    fn each(&self, key: &str) -> Vec<&Value> {
        let mut over = self
            .new_objs
            .range((key.to_string(), String::new())..)
            .take_while(|((k, _), _)| k == key)
            .map(|((_, id), o)| (id.as_str(), o.as_ref()))
            .peekable();
        let base = self.objs.get(key);
        let mut out = Vec::with_capacity(base.map_or(0, BTreeMap::len) + 1);
        for (id, v) in base.into_iter().flatten() {
            while let Some((oid, o)) = over.next_if(|(oid, _)| *oid < id.as_str()) {
                let _ = oid;
                out.extend(o);
            }
            match over.next_if(|(oid, _)| *oid == id.as_str()) {
                Some((_, o)) => out.extend(o),
                None => out.push(v),
            }
        }
        out.extend(over.filter_map(|(_, o)| o));
        out
    }
    /// The ports on network `net`, in id order: `each("ports")` filtered by network, read
    /// through the store's index instead of a walk of every port.
    fn ports_on(&self, net: &str) -> Vec<&Value> {
        let over: BTreeMap<&str, Option<&Value>> = self
            .new_objs
            .range(("ports".to_string(), String::new())..)
            .take_while(|((k, _), _)| k == "ports")
            .map(|((_, id), o)| (id.as_str(), o.as_ref()))
            .collect();
        let stored = self.objs.get("ports");
        let mut out: BTreeMap<&str, &Value> = BTreeMap::new();
        for id in self.ports_by_net.get(net).into_iter().flatten() {
            if !over.contains_key(id.as_str())
                && let Some(p) = stored.and_then(|m| m.get(id))
            {
                out.insert(id.as_str(), p);
            }
        }
        for (id, o) in over {
            if let Some(p) = o
                && p["network_id"] == net
            {
                out.insert(id, p);
            }
        }
        out.into_values().collect()
    }
    fn put_obj(&mut self, key: &str, o: Value) {
        let id = s(&o, "id")
            .or_else(|| s(&o, "project_id"))
            .unwrap_or_default()
            .to_string();
        self.new_objs.insert((key.to_string(), id), Some(o));
    }
    fn del_obj(&mut self, key: &str, id: &str) {
        self.new_objs
            .insert((key.to_string(), id.to_string()), None);
    }
    fn pol(&self, path: &str) -> Option<Value> {
        match self.new_pol.get(path) {
            Some(o) => o.clone(),
            None => self.pol.get(path).cloned(),
        }
    }
    /// The paths under `prefix` (a range of the ordered store, not a walk of all of it) that
    /// `pred` accepts, in path order.
    fn pol_paths_under(&self, prefix: &str, pred: impl Fn(&str, &Value) -> bool) -> Vec<String> {
        use std::ops::Bound;
        let from = (Bound::Included(prefix), Bound::Unbounded);
        let mut out: Vec<String> = self
            .pol
            .range::<str, _>(from)
            .take_while(|(p, _)| p.starts_with(prefix))
            .filter(|(p, v)| !self.new_pol.contains_key(*p) && pred(p, v))
            .map(|(p, _)| p.clone())
            .collect();
        for (p, v) in self
            .new_pol
            .range::<str, _>(from)
            .take_while(|(p, _)| p.starts_with(prefix))
        {
            if let Some(v) = v
                && pred(p, v)
            {
                out.push(p.clone());
            }
        }
        out.sort();
        out
    }
    /// Create or replace a Policy object (PATCH semantics on the fields given).
    fn upsert(&mut self, path: &str, body: Value) {
        let obj = match self.pol(path) {
            Some(mut old) => {
                if let Some(m) = body.as_object() {
                    for (k, v) in m {
                        old[k.as_str()] = v.clone();
                    }
                }
                let rev = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
                old["_revision"] = json!(rev + 1);
                old["_last_modified_user"] = json!(self.user);
                old["_last_modified_time"] = json!(self.now);
                old
            }
            None => crate::policy::new_object(path, &body, &self.user, self.now),
        };
        self.new_pol.insert(path.to_string(), Some(obj));
    }
    fn remove_field(&mut self, path: &str, field: &str) {
        if let Some(mut o) = self.pol(path)
            && let Some(m) = o.as_object_mut()
            && m.remove(field).is_some()
        {
            self.new_pol.insert(path.to_string(), Some(o));
        }
    }
    /// Delete a Policy object and everything under it.
    fn delete_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        for p in self.pol_paths_under(path, |p, _| p == path || p.starts_with(&prefix)) {
            self.new_pol.insert(p, None);
        }
    }
    fn gen_id(&mut self) -> String {
        self.next_id += 1;
        let mut r = crate::util::SplitMix64::new(self.seed ^ self.next_id.rotate_left(23));
        r.uuid()
    }
    fn project_name(&self, id: &str) -> String {
        self.projects
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| s(p, "name"))
            .unwrap_or("")
            .to_string()
    }
    fn tags(&self, scope: &str, o: &Value) -> Vec<Value> {
        let pid = project_of(o);
        vec![
            json!({"scope": scope, "tag": cut(s(o, "id").unwrap_or(""), 256)}),
            json!({"scope": "os-project-id", "tag": cut(pid, 256)}),
            json!({"scope": "os-project-name", "tag": cut(&self.project_name(pid), 256)}),
            json!({"scope": "os-api-version", "tag": OS_API_VERSION}),
        ]
    }
    /// The first Policy object of a type under a collection path, by path order.
    fn first_of(&self, coll: &str, rt: &str) -> Option<String> {
        let prefix = format!("{coll}/");
        self.pol_paths_under(&prefix, |p, v| {
            !p[prefix.len()..].contains('/') && v["resource_type"] == rt
        })
        .into_iter()
        .next()
    }
}

// ---------------------------------------------------------------------------------------------
// Entry point

/// Serve one request under `/target-network`. `rest` follows the prefix.
pub fn route(
    st: &mut State,
    req: &Req,
    rest: &[&str],
    base: &str,
    faults: &ReplayFaults,
    user: &str,
) -> Reply {
    let Some(vio) = st.vio.as_deref() else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    if rest.is_empty() {
        return Reply::json(json!({"versions": [{"id": "v2.0", "status": "CURRENT",
            "links": [{"href": format!("{base}{PREFIX}/v2.0/"), "rel": "self"}]}]}));
    }
    let caller = match authenticate(vio, req, base) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    // Neutron's `v2.0/...`; the Octavia stand-in also answers at Octavia's own `v2/lbaas/...`.
    let rest = match rest {
        ["v2.0", r @ ..] => r,
        ["v2", r @ ..] if r.first() == Some(&"lbaas") => r,
        _ => return neutron_error(404, "HTTPNotFound", "The resource could not be found."),
    };
    let Some((res, tail)) = RES.iter().find_map(|r| {
        (rest.len() >= r.path.len() && rest[..r.path.len()] == *r.path)
            .then(|| (r, &rest[r.path.len()..]))
    }) else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    if req.method == Method::GET {
        return read(st, req, res, tail, &caller, base);
    }
    let body = if req.method == Method::DELETE {
        Value::Null
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(v) if v.is_object() => v,
            _ => return neutron_error(400, "HTTPBadRequest", "Malformed request body"),
        }
    };
    let seed = st
        .node_uuid
        .bytes()
        .fold(0u64, |a, b| a.rotate_left(5) ^ b as u64);
    let user = user.to_string();
    if let Some(v) = st.vio.as_deref_mut() {
        v.replay.index_ports();
    }
    let Some(vio) = st.vio.as_deref() else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    let rs = &vio.replay;
    let no_index = BTreeMap::new();
    let mut tx = Tx {
        objs: &rs.objects,
        ports_by_net: rs.ports_by_net.as_ref().unwrap_or(&no_index),
        pol: &st.policy,
        projects: &vio.inv.projects,
        octavia: &vio.inv.octavia,
        new_objs: BTreeMap::new(),
        new_pol: BTreeMap::new(),
        user,
        now: crate::util::now_ms(),
        next_id: rs.next_id,
        seed,
    };
    // How many objects this request writes (for `fail_at_object`).
    let count = match (&req.method, tail) {
        (&Method::POST, []) => body
            .get(res.key)
            .and_then(Value::as_array)
            .map(|a| a.len() as u64)
            .unwrap_or(1),
        _ => 1,
    };
    let first = rs.attempts + 1;
    let last = rs.attempts + count;
    let result = if faults
        .fail_at_object
        .iter()
        .any(|n| (first..=last).contains(n))
    {
        Err(nerr(
            500,
            "HTTPInternalServerError",
            format!(
                "Request Failed: internal server error while processing your request (simulated failure at object {}).",
                faults
                    .fail_at_object
                    .iter()
                    .find(|n| (first..=last).contains(*n))
                    .copied()
                    .unwrap_or(first)
            ),
        ))
    } else {
        write(&mut tx, req, res, tail, &body, &caller).and_then(|r| {
            // The Policy plugin's FWaaS callbacks rewrite the routers' firewalls.
            if res.key.starts_with("firewall_") {
                fwaas::sync(&mut tx)?;
            }
            Ok(r)
        })
    };
    let (new_objs, new_pol, next_id) = (tx.new_objs, tx.new_pol, tx.next_id);
    let vio = match st.vio.as_deref_mut() {
        Some(v) => v,
        None => return neutron_error(500, "HTTPInternalServerError", "no VIO state"),
    };
    let rs = &mut vio.replay;
    rs.attempts = last;
    match result {
        Err(e) => reply_err(e),
        Ok(reply) => {
            rs.next_id = next_id;
            for ((k, id), o) in new_objs {
                if k == "ports" {
                    rs.reindex_port(&id, o.as_ref());
                }
                let m = rs.objects.entry(k).or_default();
                match o {
                    Some(o) => {
                        m.insert(id, o);
                    }
                    None => {
                        m.remove(&id);
                    }
                }
            }
            for (p, o) in new_pol {
                match o {
                    Some(o) => {
                        if faults.realization_reads > 0 {
                            rs.unrealized.insert(p.clone(), faults.realization_reads);
                        }
                        st.policy.insert(p, o);
                    }
                    None => {
                        rs.unrealized.remove(&p);
                        st.policy.remove(&p);
                    }
                }
            }
            st.touch();
            reply
        }
    }
}

fn read(st: &State, req: &Req, res: &Res, tail: &[&str], caller: &Caller, base: &str) -> Reply {
    let Some(vio) = st.vio.as_deref() else {
        return neutron_error(404, "HTTPNotFound", "The resource could not be found.");
    };
    let empty = BTreeMap::new();
    let items = vio.replay.objects.get(res.key).unwrap_or(&empty);
    let vis = |o: &Value| {
        caller.admin
            || project_of(o) == caller.project_id
            || o.get("shared").and_then(Value::as_bool) == Some(true)
            || o.get("router:external").and_then(Value::as_bool) == Some(true)
    };
    match tail {
        [] => {
            let scoped: Vec<&Value> = items.values().filter(|o| vis(o)).collect();
            let id_field = if res.key == "quotas" {
                "project_id"
            } else {
                "id"
            };
            let url = format!("{base}{PREFIX}/v2.0/{}", res.path.join("/"));
            match list(
                &scoped,
                req,
                res.key,
                id_field,
                &url,
                Style {
                    always_links: false,
                },
            ) {
                Ok(v) => Reply::json(v),
                Err((st, m)) => neutron_error(st, "HTTPBadRequest", &m),
            }
        }
        [id] => match items.get(*id).filter(|o| vis(o)) {
            Some(o) => {
                let fields = super::query_all(req, &["fields"]);
                let mut o = project(o, &fields);
                if res.key == "quotas"
                    && let Some(m) = o.as_object_mut()
                {
                    m.remove("project_id");
                }
                Reply::json(json!({ res.single: o }))
            }
            None => reply_err(not_found(res.err, res.err, id)),
        },
        [pid, kind @ ("bandwidth_limit_rules" | "dscp_marking_rules")] if res.key == "policies" => {
            match items.get(*pid).filter(|o| vis(o)) {
                Some(o) => {
                    let rules: Vec<&Value> = o["rules"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|r| r["type"] == kind.trim_end_matches("_rules"))
                        .collect();
                    Reply::json(json!({ *kind: rules }))
                }
                None => reply_err(not_found("QosPolicy", "QoS policy", pid)),
            }
        }
        _ => neutron_error(404, "HTTPNotFound", "The resource could not be found."),
    }
}

fn write(
    tx: &mut Tx<'_>,
    req: &Req,
    res: &Res,
    tail: &[&str],
    body: &Value,
    caller: &Caller,
) -> Result<Reply, NErr> {
    match (&req.method, tail) {
        (&Method::POST, []) => create(tx, res, body, caller),
        (&Method::PUT, [id]) if res.key == "quotas" => {
            if !caller.admin {
                return Err(nerr(
                    403,
                    "PolicyNotAuthorized",
                    "rule:update_quota is disallowed by policy",
                ));
            }
            let q = body
                .get("quota")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("Body must contain \"quota\""))?;
            let mut o = tx
                .obj("quotas", id)
                .unwrap_or_else(|| json!({"project_id": id}));
            for (k, v) in q {
                if !v.is_i64() {
                    return Err(bad(format!("Invalid input for {k}: must be an integer")));
                }
                o[k.as_str()] = v.clone();
            }
            tx.put_obj("quotas", o.clone());
            if let Some(m) = o.as_object_mut() {
                m.remove("project_id");
            }
            Ok(Reply::json(json!({"quota": o})))
        }
        (&Method::PUT, [id]) => {
            let mut existing = tx
                .obj(res.key, id)
                .ok_or_else(|| not_found(res.err, res.err, id))?;
            own(&existing, caller)?;
            let upd = body
                .get(res.single)
                .and_then(Value::as_object)
                .ok_or_else(|| bad(format!("Body must contain \"{}\"", res.single)))?
                .clone();
            if upd.contains_key("id") {
                return Err(bad("Cannot update read-only attribute id"));
            }
            match res.key {
                "subnets" => update_subnet(tx, &mut existing, &upd)?,
                "routers" => update_router(tx, &mut existing, &upd)?,
                "floatingips" => update_fip(tx, &mut existing, &upd)?,
                "networks" | "ports" | "security_groups" | "policies" | "firewall_rules"
                | "firewall_policies" | "firewall_groups" | "subnetpools" | "rbac_policies" => {
                    for (k, v) in &upd {
                        existing[k.as_str()] = v.clone();
                    }
                    rename(tx, res.key, &existing);
                }
                _ => return Err(bad(format!("{} cannot be updated here", res.key))),
            }
            bump(&mut existing, tx.now);
            tx.put_obj(res.key, existing.clone());
            Ok(Reply::json(json!({ res.single: public(&existing) })))
        }
        (
            &Method::PUT,
            [
                id,
                op @ ("add_router_interface" | "remove_router_interface"),
            ],
        ) if res.key == "routers" => {
            let router = tx
                .obj("routers", id)
                .ok_or_else(|| not_found("Router", "Router", id))?;
            own(&router, caller)?;
            if *op == "add_router_interface" {
                add_interface(tx, &router, body)
            } else {
                remove_interface(tx, &router, body)
            }
        }
        (&Method::POST, [pid, "members"]) if res.key == "pools" => {
            let pool = tx
                .obj("pools", pid)
                .ok_or_else(|| not_found("Pool", "Pool", pid))?;
            own(&pool, caller)?;
            let m = lb::create_member(tx, pid, body, project_of(&pool))?;
            Ok(Reply::created(json!({ "member": m })))
        }
        (&Method::POST, [pid, "rules"]) if res.key == "l7policies" => {
            let pol = tx
                .obj("l7policies", pid)
                .ok_or_else(|| not_found("L7Policy", "L7 Policy", pid))?;
            own(&pol, caller)?;
            let r = lb::create_l7rule(tx, pid, body, project_of(&pol))?;
            Ok(Reply::created(json!({ "rule": r })))
        }
        (&Method::DELETE, [pid, "rules", rid]) if res.key == "l7policies" => {
            let pol = tx
                .obj("l7policies", pid)
                .ok_or_else(|| not_found("L7Policy", "L7 Policy", pid))?;
            own(&pol, caller)?;
            lb::delete_l7rule(tx, pid, rid)?;
            Ok(Reply::empty(204))
        }
        (&Method::DELETE, [pid, "members", mid]) if res.key == "pools" => {
            let pool = tx
                .obj("pools", pid)
                .ok_or_else(|| not_found("Pool", "Pool", pid))?;
            own(&pool, caller)?;
            lb::delete_member(tx, pid, mid)?;
            Ok(Reply::empty(204))
        }
        (&Method::POST, [pid, kind @ ("bandwidth_limit_rules" | "dscp_marking_rules")])
            if res.key == "policies" =>
        {
            qos_rule(tx, pid, kind, body, caller)
        }
        (&Method::DELETE, [id]) => {
            let existing = tx
                .obj(res.key, id)
                .ok_or_else(|| not_found(res.err, res.err, id))?;
            if res.key != "quotas" {
                own(&existing, caller)?;
            }
            delete(tx, res, &existing)?;
            tx.del_obj(res.key, id);
            Ok(Reply::empty(204))
        }
        _ => Err(nerr(
            405,
            "HTTPMethodNotAllowed",
            "The method is not allowed on this resource.",
        )),
    }
}

fn own(o: &Value, caller: &Caller) -> Result<(), NErr> {
    if caller.admin || project_of(o) == caller.project_id {
        Ok(())
    } else {
        Err(nerr(
            403,
            "PolicyNotAuthorized",
            "The caller's project does not own this object.",
        ))
    }
}

fn bump(o: &mut Value, now: i64) {
    let rev = o["revision_number"].as_i64().unwrap_or(0);
    o["revision_number"] = json!(rev + 1);
    o["updated_at"] = json!(iso(now));
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// What a GET shows: the replay-only attributes (`vif_id`, `vni`) are not echoed.
fn public(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("vif_id");
        m.remove("vni");
    }
    o
}

// ---------------------------------------------------------------------------------------------
// Create

fn create(tx: &mut Tx<'_>, res: &Res, body: &Value, caller: &Caller) -> Result<Reply, NErr> {
    let (items, is_bulk): (Vec<Value>, bool) = if let Some(a) = body.get(res.key) {
        let a = a
            .as_array()
            .ok_or_else(|| bad(format!("\"{}\" must be a list", res.key)))?;
        if !res.bulk {
            return Err(bad(format!(
                "Bulk operation is not supported for {}",
                res.key
            )));
        }
        if a.is_empty() {
            return Err(bad(format!("Resources required: \"{}\" is empty", res.key)));
        }
        (a.clone(), true)
    } else if let Some(o) = body.get(res.single) {
        (vec![o.clone()], false)
    } else {
        return Err(bad(format!(
            "Resource body required: expected \"{}\" or \"{}\"",
            res.single, res.key
        )));
    };
    // One project per request (a bulk request must be single-tenant).
    let mut tenant: Option<String> = None;
    let mut prepared = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        let Some(m) = it.as_object() else {
            return Err(bad(format!("{}[{i}] must be an object", res.key)));
        };
        let mut o = Value::Object(m.clone());
        if let (Some(p), Some(t)) = (s(&o, "project_id"), s(&o, "tenant_id"))
            && p != t
        {
            return Err(bad("project_id and tenant_id do not match"));
        }
        let pid = project_of(&o).to_string();
        let pid = if pid.is_empty() {
            caller.project_id.clone()
        } else {
            pid
        };
        if !caller.admin && pid != caller.project_id {
            return Err(nerr(
                403,
                "PolicyNotAuthorized",
                format!(
                    "rule:create_{} is disallowed by policy (project {pid})",
                    res.single
                ),
            ));
        }
        match &tenant {
            Some(t) if *t != pid => {
                return Err(bad(format!(
                    "A bulk request must be for one project: {}[{i}] is for {pid}, an earlier one for {t}",
                    res.key
                )));
            }
            _ => tenant = Some(pid.clone()),
        }
        o["project_id"] = json!(pid);
        o["tenant_id"] = json!(pid);
        if o.get("id").is_some() && !res.client_id {
            return Err(bad(format!(
                "Attribute 'id' not allowed in POST of {}",
                res.key
            )));
        }
        let id = match s(&o, "id") {
            Some(id) => id.to_string(),
            None => tx.gen_id(),
        };
        o["id"] = json!(id);
        if res.key != "networks" && o.get("vni").is_some() {
            return Err(bad(format!(
                "Unrecognized attribute(s) 'vni' in {}",
                res.key
            )));
        }
        if res.key != "ports" && o.get("vif_id").is_some() {
            return Err(bad(format!(
                "Unrecognized attribute(s) 'vif_id' in {}",
                res.key
            )));
        }
        prepared.push(o);
    }
    let mut out = Vec::with_capacity(prepared.len());
    for o in prepared {
        let id = s(&o, "id").unwrap_or_default().to_string();
        if tx.obj(res.key, &id).is_some() {
            return Err(nerr(
                409,
                "HTTPConflict",
                format!("{} {id} already exists (duplicate id).", res.err),
            ));
        }
        let mut o = o;
        o["created_at"] = json!(iso(tx.now));
        o["updated_at"] = json!(iso(tx.now));
        o["revision_number"] = json!(0);
        match res.key {
            "networks" => create_network(tx, &mut o)?,
            "subnets" => create_subnet(tx, &mut o)?,
            "ports" => create_port(tx, &mut o)?,
            "routers" => create_router(tx, &mut o)?,
            "security_groups" => create_sg(tx, &mut o)?,
            "security_group_rules" => create_sg_rule(tx, &mut o)?,
            "policies" => create_qos(tx, &mut o)?,
            "floatingips" => create_fip(tx, &mut o)?,
            "loadbalancers" | "listeners" | "pools" | "healthmonitors" => {
                lb::create(tx, res.key, &mut o)?
            }
            "l7policies" => lb::create_l7policy(tx, &mut o)?,
            "subnetpools" if o.get("prefixes").and_then(Value::as_array).is_none() => {
                return Err(bad("Invalid input: 'prefixes' is required"));
            }
            "rbac_policies" => {
                for f in ["object_type", "object_id", "action", "target_tenant"] {
                    if s(&o, f).is_none() {
                        return Err(bad(format!("Invalid input: '{f}' is required")));
                    }
                }
            }
            _ => {}
        }
        tx.put_obj(res.key, o.clone());
        out.push(public(&o));
    }
    Ok(Reply::created(if is_bulk {
        json!({ res.key: out })
    } else {
        json!({ res.single: out.pop().unwrap_or(Value::Null) })
    }))
}

fn segment_path(net: &str) -> String {
    format!("/infra/segments/{net}")
}

fn t1_path(rid: &str) -> String {
    format!("/infra/tier-1s/{rid}")
}

fn ls_path(rid: &str) -> String {
    format!("/infra/tier-1s/{rid}/locale-services/{rid}-0")
}

fn nat_path(rid: &str, rule: &str) -> String {
    format!("/infra/tier-1s/{rid}/nat/USER/nat-rules/{rule}")
}

fn is_external(net: &Value) -> bool {
    net.get("router:external").and_then(Value::as_bool) == Some(true)
}

/// The tier-0 an external network maps to: `provider:physical_network` when it names one, else
/// the first tier-0 (the default).
fn tier0_of(tx: &Tx<'_>, net: &Value) -> Result<String, NErr> {
    if let Some(p) = s(net, "provider:physical_network") {
        let path = format!("/infra/tier-0s/{p}");
        if tx.pol(&path).is_some() {
            return Ok(path);
        }
        return Err(bad(format!(
            "Invalid input: provider:physical_network {p} is not a tier-0 on NSX"
        )));
    }
    tx.first_of("/infra/tier-0s", "Tier0")
        .ok_or_else(|| bad("No tier-0 gateway exists on NSX for the external network"))
}

fn create_network(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    for (k, d) in [
        ("admin_state_up", json!(true)),
        ("shared", json!(false)),
        ("router:external", json!(false)),
        ("port_security_enabled", json!(true)),
        ("mtu", json!(1500)),
        ("name", json!("")),
        ("description", json!("")),
        ("qos_policy_id", Value::Null),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    o["status"] = json!("ACTIVE");
    o["subnets"] = json!([]);
    if let Some(q) = s(o, "qos_policy_id")
        && tx.obj("policies", q).is_none()
    {
        return Err(not_found("QosPolicy", "QoS policy", q));
    }
    let ty = s(o, "provider:network_type").unwrap_or("").to_string();
    if is_external(o) {
        tier0_of(tx, o)?;
        return Ok(());
    }
    let (tz_type, vlan) = match ty.as_str() {
        "vlan" => ("VLAN_BACKED", o["provider:segmentation_id"].as_i64()),
        "" | "geneve" | "vxlan" | "local" => ("OVERLAY_BACKED", None),
        other => {
            return Err(bad(format!(
                "Invalid input: network type {other} is not supported by the NSX Policy plugin"
            )));
        }
    };
    let tz = tx
        .pol_paths_under(&format!("{EP}/transport-zones/"), |_, v| {
            v["tz_type"] == tz_type
        })
        .into_iter()
        .min_by_key(|p| (tx.pol(p).map(|v| v["is_default"] != true), p.clone()))
        .ok_or_else(|| bad(format!("No {tz_type} transport zone exists on NSX")))?;
    let clean: String = s(o, "name")
        .unwrap_or("network")
        .chars()
        .filter(|c| !";|=,~@'".contains(*c))
        .collect();
    let mut seg = json!({
        "resource_type": "Segment",
        "display_name": name_and_uuid(if clean.is_empty() { "network" } else { &clean }, &id),
        "description": o["description"],
        "transport_zone_path": tz,
        "admin_state": if o["admin_state_up"] == false { "DOWN" } else { "UP" },
        "tags": tx.tags("os-neutron-net-id", o),
    });
    if let Some(v) = vlan {
        seg["vlan_ids"] = json!([v.to_string()]);
    } else {
        if let Some(vni) = o.get("vni").filter(|v| !v.is_null()) {
            let Some(n) = vni.as_u64().filter(|n| (4096..=16_777_215).contains(n)) else {
                return Err(bad(format!(
                    "Invalid input for vni: {vni} is not a VNI (4096-16777215)"
                )));
            };
            seg["overlay_id"] = json!(n);
        }
        if let Some(mp) = tx.first_of("/infra/metadata-proxies", "MetadataProxyConfig") {
            seg["metadata_proxy_paths"] = json!([mp]);
        }
    }
    tx.upsert(&segment_path(&id), seg);
    if let Some(q) = s(o, "qos_policy_id") {
        tx.upsert(
            &format!("{}/segment-qos-profile-binding-maps/DEFAULT", segment_path(&id)),
            json!({"resource_type": "SegmentQoSProfileBindingMap", "qos_profile_path": format!("/infra/qos-profiles/{q}")}),
        );
    }
    Ok(())
}

fn dhcp_subnets_of(tx: &Tx<'_>, net: &str) -> Vec<Value> {
    tx.each("subnets")
        .into_iter()
        .filter(|x| x["network_id"] == net && x["enable_dhcp"] == true)
        .cloned()
        .collect()
}

fn create_subnet(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let net_id = s(o, "network_id")
        .ok_or_else(|| bad("Invalid input: 'network_id' is required"))?
        .to_string();
    let mut net = tx
        .obj("networks", &net_id)
        .ok_or_else(|| not_found("Network", "Network", &net_id))?;
    let cidr_s = s(o, "cidr")
        .ok_or_else(|| bad("Invalid input: 'cidr' is required (subnet pools are not served)"))?
        .to_string();
    let c = Cidr::parse(&cidr_s).ok_or_else(|| {
        bad(format!(
            "Invalid input for cidr: '{cidr_s}' is not a valid IP subnet"
        ))
    })?;
    let ver = if c.v6 { 6 } else { 4 };
    if let Some(v) = o.get("ip_version")
        && v.as_i64() != Some(ver)
    {
        return Err(bad(format!(
            "Invalid input: ip_version {v} does not match cidr {cidr_s}"
        )));
    }
    o["ip_version"] = json!(ver);
    o["cidr"] = json!(format!("{}/{}", c.fmt(c.net), c.prefix));
    let (lo, hi) = c.default_pool();
    if o.get("gateway_ip").is_none() {
        o["gateway_ip"] = json!(c.fmt(lo));
    }
    if let Some(g) = s(o, "gateway_ip")
        && !c.ip(g).is_some_and(|x| c.contains(x))
    {
        return Err(bad(format!(
            "Invalid input: gateway_ip {g} is not in {cidr_s}"
        )));
    }
    if o.get("allocation_pools").is_none() {
        let gw = s(o, "gateway_ip").and_then(|g| c.ip(g));
        let start = if gw == Some(lo) { lo + 1 } else { lo };
        o["allocation_pools"] = json!([{"start": c.fmt(start), "end": c.fmt(hi)}]);
    }
    for (k, d) in [
        ("enable_dhcp", json!(true)),
        ("dns_nameservers", json!([])),
        ("host_routes", json!([])),
        ("name", json!("")),
        ("description", json!("")),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    let mut subs = net["subnets"].as_array().cloned().unwrap_or_default();
    subs.push(o["id"].clone());
    net["subnets"] = json!(subs);
    tx.put_obj("networks", net.clone());
    if o["enable_dhcp"] == true && !is_external(&net) {
        if ver == 4
            && dhcp_subnets_of(tx, &net_id)
                .iter()
                .any(|x| x["ip_version"] == 4)
        {
            return Err(bad(format!(
                "Network {net_id} already has a DHCP-enabled IPv4 subnet (the NSX Policy plugin allows one)"
            )));
        }
        dhcp_on(tx, &net_id, o)?;
    }
    Ok(())
}

/// The segment's `subnets[]` entry of a subnet, as the plugin writes it.
fn segment_subnet(tx: &Tx<'_>, sub: &Value) -> Value {
    let c = Cidr::parse(s(sub, "cidr").unwrap_or("")).unwrap_or(Cidr {
        v6: false,
        net: 0,
        prefix: 0,
    });
    let mut e = json!({});
    if let Some(g) = s(sub, "gateway_ip") {
        e["gateway_address"] = json!(format!("{g}/{}", c.prefix));
    }
    if sub["enable_dhcp"] == true {
        let pools: Vec<String> = sub["allocation_pools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some(format!("{}-{}", s(p, "start")?, s(p, "end")?)))
            .collect();
        e["dhcp_ranges"] = json!(pools);
        let server = dhcp_server_ip(sub).unwrap_or_default();
        let mut cfg = json!({
            "resource_type": if c.v6 { "SegmentDhcpV6Config" } else { "SegmentDhcpV4Config" },
            "server_address": format!("{server}/{}", c.prefix),
            "dns_servers": sub["dns_nameservers"],
            "lease_time": 86400,
        });
        let routes: Vec<Value> = sub["host_routes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| json!({"network": r["destination"], "next_hop": r["nexthop"]}))
            .collect();
        if !routes.is_empty() && !c.v6 {
            cfg["options"] = json!({"option121": {"static_routes": routes}});
        }
        e["dhcp_config"] = cfg;
    }
    let _ = tx;
    e
}

/// The DHCP server's address on a subnet: the last address of its last allocation pool (the
/// simulator's choice; the plugin takes the address of the subnet's DHCP port).
fn dhcp_server_ip(sub: &Value) -> Option<String> {
    let c = Cidr::parse(s(sub, "cidr")?)?;
    let end = sub["allocation_pools"].as_array()?.last()?;
    let e = c.ip(s(end, "end")?)?;
    Some(c.fmt(e))
}

/// Replace (or add, or with `None` remove) the entry of subnet `sub` in its segment's subnets.
fn set_segment_subnet(tx: &mut Tx<'_>, net_id: &str, sub: &Value, entry: Option<Value>) {
    let path = segment_path(net_id);
    let Some(seg) = tx.pol(&path) else { return };
    let cidr = Cidr::parse(s(sub, "cidr").unwrap_or(""));
    let mut list: Vec<Value> = seg["subnets"].as_array().cloned().unwrap_or_default();
    list.retain(|e| {
        let Some(c) = cidr else { return true };
        let ip = s(e, "gateway_address")
            .or_else(|| {
                e.pointer("/dhcp_config/server_address")
                    .and_then(Value::as_str)
            })
            .and_then(|g| g.split('/').next())
            .and_then(|g| c.ip(g));
        !ip.is_some_and(|x| c.contains(x))
    });
    if let Some(e) = entry {
        list.push(e);
    }
    tx.upsert(&path, json!({"subnets": list}));
}

fn dhcp_on(tx: &mut Tx<'_>, net_id: &str, sub: &Value) -> Result<(), NErr> {
    let entry = segment_subnet(tx, sub);
    set_segment_subnet(tx, net_id, sub, Some(entry));
    if let Some(cfg) = tx.first_of("/infra/dhcp-server-configs", "DhcpServerConfig") {
        tx.upsert(&segment_path(net_id), json!({"dhcp_config_path": cfg}));
    } else {
        return Err(bad(
            "No DHCP server config exists on NSX (needed for DHCP subnets)",
        ));
    }
    // Bindings of the compute ports already on this subnet.
    let ports: Vec<Value> = tx.ports_on(net_id).into_iter().cloned().collect();
    for p in ports {
        bindings(tx, &p, true);
    }
    Ok(())
}

fn dhcp_off(tx: &mut Tx<'_>, net_id: &str, sub: &Value) {
    let ports: Vec<Value> = tx.ports_on(net_id).into_iter().cloned().collect();
    for p in ports {
        bindings(tx, &p, false);
    }
    let attached = router_of_subnet(tx, s(sub, "id").unwrap_or("")).is_some();
    let mut off = sub.clone();
    off["enable_dhcp"] = json!(false);
    let entry = attached.then(|| segment_subnet(tx, &off));
    set_segment_subnet(tx, net_id, sub, entry);
    if dhcp_subnets_of(tx, net_id)
        .iter()
        .all(|x| x["id"] == sub["id"])
    {
        tx.remove_field(&segment_path(net_id), "dhcp_config_path");
    }
}

/// Create (or remove) the DHCP static bindings of a compute port's IPv4/IPv6 addresses on the
/// DHCP-enabled subnets of its network.
fn bindings(tx: &mut Tx<'_>, port: &Value, on: bool) {
    let pid = s(port, "id").unwrap_or_default().to_string();
    let net = s(port, "network_id").unwrap_or_default().to_string();
    let owner = s(port, "device_owner").unwrap_or("");
    let dhcp_capable = !owner.starts_with("network:");
    for fip in port["fixed_ips"].as_array().cloned().unwrap_or_default() {
        let Some(sub) = s(&fip, "subnet_id").and_then(|x| tx.obj("subnets", x)) else {
            continue;
        };
        let ver = if sub["ip_version"] == 6 {
            "ipv6"
        } else {
            "ipv4"
        };
        let path = format!(
            "{}/dhcp-static-binding-configs/{pid}-{ver}",
            segment_path(&net)
        );
        if on && dhcp_capable && sub["enable_dhcp"] == true {
            let ip = s(&fip, "ip_address").unwrap_or_default();
            let mut b = json!({
                "resource_type": if ver == "ipv4" { "DhcpV4StaticBindingConfig" } else { "DhcpV6StaticBindingConfig" },
                "display_name": name_and_uuid(s(port, "name").unwrap_or("port"), &pid),
                "mac_address": port["mac_address"],
                "lease_time": 86400,
                "tags": tx.tags("os-neutron-port-id", port),
            });
            if ver == "ipv4" {
                b["ip_address"] = json!(ip);
                b["host_name"] = json!(format!("host-{}", ip.replace('.', "-")));
                if let Some(g) = s(&sub, "gateway_ip") {
                    b["gateway_address"] = json!(g);
                }
            } else {
                b["ip_addresses"] = json!([ip]);
            }
            tx.upsert(&path, b);
        } else if tx.pol(&path).is_some() {
            tx.delete_tree(&path);
        }
    }
}

fn update_subnet(tx: &mut Tx<'_>, o: &mut Value, upd: &Map<String, Value>) -> Result<(), NErr> {
    for k in upd.keys() {
        if !matches!(
            k.as_str(),
            "name"
                | "description"
                | "enable_dhcp"
                | "host_routes"
                | "dns_nameservers"
                | "gateway_ip"
                | "allocation_pools"
        ) {
            return Err(bad(format!("Cannot update read-only attribute {k}")));
        }
    }
    let was = o["enable_dhcp"] == true;
    for (k, v) in upd {
        o[k.as_str()] = v.clone();
    }
    let now = o["enable_dhcp"] == true;
    let net_id = s(o, "network_id").unwrap_or_default().to_string();
    let net = tx.obj("networks", &net_id).unwrap_or(Value::Null);
    if is_external(&net) {
        return Ok(());
    }
    tx.put_obj("subnets", o.clone());
    match (was, now) {
        (false, true) => {
            if o["ip_version"] == 4
                && dhcp_subnets_of(tx, &net_id)
                    .iter()
                    .any(|x| x["ip_version"] == 4 && x["id"] != o["id"])
            {
                return Err(bad(format!(
                    "Network {net_id} already has a DHCP-enabled IPv4 subnet (the NSX Policy plugin allows one)"
                )));
            }
            dhcp_on(tx, &net_id, o)?;
        }
        (true, false) => dhcp_off(tx, &net_id, o),
        _ => {
            if now || router_of_subnet(tx, s(o, "id").unwrap_or("")).is_some() {
                let entry = segment_subnet(tx, o);
                set_segment_subnet(tx, &net_id, o, Some(entry));
            }
        }
    }
    Ok(())
}

fn port_owner_is_router(p: &Value) -> bool {
    s(p, "device_owner") == Some("network:router_interface")
}

/// The router a subnet is attached to (through an interface port), if any.
fn router_of_subnet(tx: &Tx<'_>, sub_id: &str) -> Option<String> {
    tx.each("ports")
        .into_iter()
        .filter(|p| port_owner_is_router(p))
        .find(|p| {
            p["fixed_ips"]
                .as_array()
                .is_some_and(|a| a.iter().any(|f| f["subnet_id"] == sub_id))
        })
        .and_then(|p| s(p, "device_id").map(str::to_string))
}

/// The next free address of a subnet's allocation pools.
fn allocate(tx: &Tx<'_>, sub: &Value) -> Result<String, NErr> {
    let c = Cidr::parse(s(sub, "cidr").unwrap_or("")).ok_or_else(|| bad("subnet has no cidr"))?;
    let no_ips: Vec<Value> = Vec::new();
    let used: std::collections::HashSet<u128> = tx
        .each("ports")
        .into_iter()
        .flat_map(|p| p["fixed_ips"].as_array().unwrap_or(&no_ips))
        .filter_map(|f| s(f, "ip_address"))
        .chain(
            tx.each("floatingips")
                .into_iter()
                .filter_map(|f| s(f, "floating_ip_address")),
        )
        .chain(tx.each("routers").into_iter().flat_map(|r| {
            r.pointer("/external_gateway_info/external_fixed_ips")
                .and_then(Value::as_array)
                .unwrap_or(&no_ips)
                .iter()
                .filter_map(|f| s(f, "ip_address"))
        }))
        .filter_map(|x| c.ip(x))
        .chain(s(sub, "gateway_ip").and_then(|g| c.ip(g)))
        .chain(
            dhcp_server_ip(sub)
                .and_then(|x| c.ip(&x))
                .filter(|_| sub["enable_dhcp"] == true),
        )
        .collect();
    for p in sub["allocation_pools"].as_array().into_iter().flatten() {
        let (Some(a), Some(b)) = (
            s(p, "start").and_then(|x| c.ip(x)),
            s(p, "end").and_then(|x| c.ip(x)),
        ) else {
            continue;
        };
        let mut x = a;
        while x <= b && x - a < 1_000_000 {
            if !used.contains(&x) {
                return Ok(c.fmt(x));
            }
            x += 1;
        }
    }
    Err(nerr(
        409,
        "IpAddressGenerationFailure",
        format!(
            "No more IP addresses available on subnet {}.",
            s(sub, "id").unwrap_or("")
        ),
    ))
}

fn ip_in_use(tx: &Tx<'_>, net: &str, ip: &str, except_port: &str) -> bool {
    tx.ports_on(net).into_iter().any(|p| {
        p["network_id"] == net
            && p["id"] != except_port
            && p["fixed_ips"]
                .as_array()
                .is_some_and(|a| a.iter().any(|f| f["ip_address"] == ip))
    })
}

fn create_port(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let net_id = s(o, "network_id")
        .ok_or_else(|| bad("Invalid input: 'network_id' is required"))?
        .to_string();
    let net = tx
        .obj("networks", &net_id)
        .ok_or_else(|| not_found("Network", "Network", &net_id))?;
    for (k, d) in [
        ("admin_state_up", json!(true)),
        ("name", json!("")),
        ("description", json!("")),
        ("device_owner", json!("")),
        ("device_id", json!("")),
        ("allowed_address_pairs", json!([])),
        ("binding:vnic_type", json!("normal")),
        ("qos_policy_id", Value::Null),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    if o.get("port_security_enabled").is_none() {
        o["port_security_enabled"] = json!(net["port_security_enabled"] != false);
    }
    if o.get("mac_address").is_none() {
        let h = tx.gen_id().replace('-', "");
        o["mac_address"] = json!(format!("fa:16:3e:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6]));
    }
    let mac = s(o, "mac_address").unwrap_or_default().to_string();
    if tx
        .ports_on(&net_id)
        .into_iter()
        .any(|p| p["network_id"] == net_id.as_str() && p["mac_address"] == mac.as_str())
    {
        return Err(nerr(
            409,
            "MacAddressInUse",
            format!(
                "Unable to complete operation for network {net_id}. The mac address {mac} is in use."
            ),
        ));
    }
    // Fixed IPs: given ones are checked, missing addresses allocated.
    let asked: Vec<Value> = match o.get("fixed_ips") {
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(bad("Invalid input for fixed_ips: must be a list")),
        None => net["subnets"]
            .as_array()
            .and_then(|a| a.first())
            .map(|sid| vec![json!({"subnet_id": sid})])
            .unwrap_or_default(),
    };
    let mut fixed = Vec::new();
    for f in asked {
        let sub = match s(&f, "subnet_id") {
            Some(sid) => tx
                .obj("subnets", sid)
                .ok_or_else(|| not_found("Subnet", "Subnet", sid))?,
            None => {
                let ip = s(&f, "ip_address")
                    .ok_or_else(|| bad("fixed_ips entry needs subnet_id or ip_address"))?;
                tx.all("subnets")
                    .into_iter()
                    .find(|x| {
                        x["network_id"] == net_id.as_str()
                            && Cidr::parse(s(x, "cidr").unwrap_or(""))
                                .is_some_and(|c| c.ip(ip).is_some_and(|n| c.contains(n)))
                    })
                    .ok_or_else(|| bad(format!("No subnet of network {net_id} holds {ip}")))?
            }
        };
        if sub["network_id"] != net_id.as_str() {
            return Err(bad(format!(
                "Subnet {} is not on network {net_id}",
                sub["id"]
            )));
        }
        let ip = match s(&f, "ip_address") {
            Some(ip) => {
                let c =
                    Cidr::parse(s(&sub, "cidr").unwrap_or("")).ok_or_else(|| bad("bad subnet"))?;
                if !c.ip(ip).is_some_and(|n| c.contains(n)) {
                    return Err(bad(format!(
                        "IP address {ip} is not a valid IP for the specified subnet."
                    )));
                }
                if ip_in_use(tx, &net_id, ip, &id) {
                    return Err(nerr(
                        409,
                        "IpAddressAlreadyAllocated",
                        format!(
                            "IP address {ip} already allocated in subnet {}",
                            sub["id"].as_str().unwrap_or("")
                        ),
                    ));
                }
                ip.to_string()
            }
            None => allocate(tx, &sub)?,
        };
        fixed.push(json!({"subnet_id": sub["id"], "ip_address": ip}));
    }
    o["fixed_ips"] = json!(fixed);
    let sgs: Vec<String> = match o.get("security_groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        Some(_) => return Err(bad("Invalid input for security_groups: must be a list")),
    };
    for sg in &sgs {
        if tx.obj("security_groups", sg).is_none() {
            return Err(not_found("SecurityGroup", "Security group", sg));
        }
    }
    if o["port_security_enabled"] == false && !sgs.is_empty() {
        return Err(bad(
            "Port security must be enabled in order to have security groups on a port.",
        ));
    }
    o["security_groups"] = json!(sgs);
    if let Some(q) = s(o, "qos_policy_id")
        && tx.obj("policies", q).is_none()
    {
        return Err(not_found("QosPolicy", "QoS policy", q));
    }
    o["status"] = json!("DOWN");
    segment_port(tx, o, &net);
    bindings(tx, o, true);
    Ok(())
}

/// The segment port (and its QoS binding) of a port the plugin puts on NSX: not on external
/// networks, not router interfaces, not DHCP ports.
fn segment_port(tx: &mut Tx<'_>, o: &Value, net: &Value) {
    let id = s(o, "id").unwrap_or_default();
    let net_id = s(o, "network_id").unwrap_or_default();
    let owner = s(o, "device_owner").unwrap_or("");
    if is_external(net) || owner == "network:router_interface" || owner == "network:dhcp" {
        return;
    }
    let path = format!("{}/ports/{id}", segment_path(net_id));
    let mut tags = tx.tags("os-neutron-port-id", o);
    if o["port_security_enabled"] == false {
        tags.push(json!({"scope": "os-security-group", "tag": "Exclude-Port"}));
    } else {
        for sg in o["security_groups"].as_array().into_iter().flatten() {
            tags.push(json!({"scope": "os-security-group", "tag": sg}));
        }
    }
    let attachment = match (owner.starts_with("compute:"), s(o, "vif_id")) {
        (true, Some(v)) => v.to_string(),
        _ => id.to_string(),
    };
    let bindings: Vec<Value> = o["fixed_ips"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| json!({"ip_address": f["ip_address"], "mac_address": o["mac_address"]}))
        .collect();
    tx.upsert(
        &path,
        json!({
            "resource_type": "SegmentPort",
            "display_name": name_and_uuid(s(o, "name").unwrap_or("port"), id),
            "description": o["description"],
            "attachment": {"id": attachment},
            "address_bindings": bindings,
            "admin_state": if o["admin_state_up"] == false { "DOWN" } else { "UP" },
            "tags": tags,
        }),
    );
    let qpath = format!("{path}/port-qos-profile-binding-maps/DEFAULT");
    match s(o, "qos_policy_id") {
        Some(q) => tx.upsert(
            &qpath,
            json!({"resource_type": "PortQoSProfileBindingMap", "qos_profile_path": format!("/infra/qos-profiles/{q}")}),
        ),
        None => {
            if tx.pol(&qpath).is_some() {
                tx.delete_tree(&qpath);
            }
        }
    }
}

fn create_router(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    for (k, d) in [
        ("admin_state_up", json!(true)),
        ("name", json!("")),
        ("description", json!("")),
        ("routes", json!([])),
        ("distributed", json!(false)),
        ("ha", json!(false)),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    o["status"] = json!("ACTIVE");
    let gw = o
        .get("external_gateway_info")
        .cloned()
        .filter(|g| !g.is_null());
    o["external_gateway_info"] = Value::Null;
    let mut tags = tx.tags("os-neutron-router-id", o);
    tags.push(json!({"tag": TRANSIT_TAG}));
    tx.upsert(
        &t1_path(&id),
        json!({
            "resource_type": "Tier1",
            "display_name": name_and_uuid(s(o, "name").unwrap_or("router"), &id),
            "description": o["description"],
            "tags": tags,
        }),
    );
    tx.upsert(
        &ls_path(&id),
        json!({"resource_type": "LocaleServices", "display_name": format!("{id}-0")}),
    );
    let routes = o["routes"].clone();
    o["routes"] = json!([]);
    let mut upd = Map::new();
    if let Some(g) = gw {
        upd.insert("external_gateway_info".into(), g);
    }
    if routes.as_array().is_some_and(|a| !a.is_empty()) {
        upd.insert("routes".into(), routes);
    }
    if !upd.is_empty() {
        update_router(tx, o, &upd)?;
    }
    Ok(())
}

/// The interface subnets of a router (through its interface ports).
fn router_subnets(tx: &Tx<'_>, rid: &str) -> Vec<Value> {
    tx.each("ports")
        .into_iter()
        .filter(|p| port_owner_is_router(p) && p["device_id"] == rid)
        .flat_map(|p| p["fixed_ips"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| s(&f, "subnet_id").and_then(|x| tx.obj("subnets", x)))
        .collect()
}

fn snat_rules(tx: &mut Tx<'_>, router: &Value, sub: &Value, on: bool) {
    let rid = s(router, "id").unwrap_or_default();
    let sid = s(sub, "id").unwrap_or_default();
    let (sp, np) = (
        nat_path(rid, &format!("S-{sid}")),
        nat_path(rid, &format!("ND-{sid}")),
    );
    let gw_ip = router
        .pointer("/external_gateway_info/external_fixed_ips/0/ip_address")
        .and_then(Value::as_str)
        .map(str::to_string);
    let snat = router.pointer("/external_gateway_info/enable_snat") == Some(&json!(true));
    if on
        && snat
        && sub["ip_version"] == 4
        && let Some(ip) = gw_ip
    {
        let tags = tx.tags("os-neutron-router-id", router);
        tx.upsert(
            &sp,
            json!({
                "resource_type": "PolicyNatRule",
                "display_name": format!("S-{sid}"),
                "action": "SNAT",
                "source_network": sub["cidr"],
                "translated_network": ip,
                "sequence_number": 3000,
                "enabled": true,
                "firewall_match": "MATCH_INTERNAL_ADDRESS",
                "tags": tags,
            }),
        );
        tx.upsert(
            &np,
            json!({
                "resource_type": "PolicyNatRule",
                "display_name": format!("ND-{sid}"),
                "action": "NO_DNAT",
                "destination_network": sub["cidr"],
                "sequence_number": 3000,
                "enabled": true,
                "tags": tags,
            }),
        );
    } else {
        for p in [sp, np] {
            if tx.pol(&p).is_some() {
                tx.delete_tree(&p);
            }
        }
    }
}

fn update_router(tx: &mut Tx<'_>, o: &mut Value, upd: &Map<String, Value>) -> Result<(), NErr> {
    let rid = s(o, "id").unwrap_or_default().to_string();
    for (k, v) in upd {
        match k.as_str() {
            "external_gateway_info" => {
                let old_subs = router_subnets(tx, &rid);
                // Drop the old gateway's rules first.
                for sub in &old_subs {
                    snat_rules(tx, o, sub, false);
                }
                if v.is_null() || v.as_object().is_some_and(|m| m.is_empty()) {
                    o["external_gateway_info"] = Value::Null;
                    tx.remove_field(&t1_path(&rid), "tier0_path");
                    tx.remove_field(&ls_path(&rid), "edge_cluster_path");
                    continue;
                }
                let net_id = s(v, "network_id")
                    .ok_or_else(|| bad("Invalid input: external_gateway_info needs network_id"))?
                    .to_string();
                let net = tx
                    .obj("networks", &net_id)
                    .ok_or_else(|| not_found("Network", "Network", &net_id))?;
                if !is_external(&net) {
                    return Err(bad(format!("Network {net_id} is not an external network")));
                }
                let t0 = tier0_of(tx, &net)?;
                let snat = v
                    .get("enable_snat")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                let mut ips = Vec::new();
                match v.get("external_fixed_ips").and_then(Value::as_array) {
                    Some(a) if !a.is_empty() => {
                        for f in a {
                            let sub = match s(f, "subnet_id") {
                                Some(x) => tx
                                    .obj("subnets", x)
                                    .ok_or_else(|| not_found("Subnet", "Subnet", x))?,
                                None => net["subnets"]
                                    .as_array()
                                    .and_then(|a| a.first())
                                    .and_then(|x| x.as_str())
                                    .and_then(|x| tx.obj("subnets", x))
                                    .ok_or_else(|| {
                                        bad(format!("External network {net_id} has no subnet"))
                                    })?,
                            };
                            let ip = match s(f, "ip_address") {
                                Some(ip) => ip.to_string(),
                                None => allocate(tx, &sub)?,
                            };
                            ips.push(json!({"subnet_id": sub["id"], "ip_address": ip}));
                        }
                    }
                    _ => {
                        let sub = net["subnets"]
                            .as_array()
                            .and_then(|a| a.first())
                            .and_then(|x| x.as_str())
                            .and_then(|x| tx.obj("subnets", x))
                            .ok_or_else(|| {
                                bad(format!("External network {net_id} has no subnet"))
                            })?;
                        let ip = allocate(tx, &sub)?;
                        ips.push(json!({"subnet_id": sub["id"], "ip_address": ip}));
                    }
                }
                o["external_gateway_info"] =
                    json!({"network_id": net_id, "enable_snat": snat, "external_fixed_ips": ips});
                tx.upsert(&t1_path(&rid), json!({"tier0_path": t0}));
                // A service router is needed for SNAT: the locale service takes the tier-0's
                // edge cluster.
                let ec = tx
                    .pol_paths_under(&format!("{t0}/locale-services/"), |_, v| {
                        v.get("edge_cluster_path").is_some()
                    })
                    .into_iter()
                    .next()
                    .and_then(|p| tx.pol(&p))
                    .and_then(|v| v.get("edge_cluster_path").cloned());
                match (snat, ec) {
                    (true, Some(ec)) => tx.upsert(&ls_path(&rid), json!({"edge_cluster_path": ec})),
                    _ => tx.remove_field(&ls_path(&rid), "edge_cluster_path"),
                }
                for sub in &old_subs {
                    snat_rules(tx, o, sub, true);
                }
            }
            "routes" => {
                let routes = v.as_array().cloned().unwrap_or_default();
                let prefix = format!("{}/static-routes/", t1_path(&rid));
                for p in tx.pol_paths_under(&prefix, |_, _| true) {
                    tx.delete_tree(&p);
                }
                for r in &routes {
                    let (Some(d), Some(n)) = (s(r, "destination"), s(r, "nexthop")) else {
                        return Err(bad(
                            "Invalid input for routes: each needs destination and nexthop",
                        ));
                    };
                    let rtid = format!("{}-{n}", d.replace('/', "_"));
                    let tags = tx.tags("os-neutron-router-id", o);
                    tx.upsert(
                        &format!("{prefix}{rtid}"),
                        json!({"resource_type": "StaticRoutes", "display_name": format!("{d} -> {n}"),
                               "network": d, "next_hops": [{"ip_address": n, "admin_distance": 1}], "tags": tags}),
                    );
                }
                o["routes"] = json!(routes);
            }
            "name" | "description" | "admin_state_up" => {
                o[k.as_str()] = v.clone();
                rename(tx, "routers", o);
            }
            other => {
                return Err(bad(format!(
                    "Cannot update attribute {other} of a router here"
                )));
            }
        }
    }
    Ok(())
}

fn rename(tx: &mut Tx<'_>, key: &str, o: &Value) {
    let id = s(o, "id").unwrap_or_default();
    let (path, default) = match key {
        "routers" => (t1_path(id), "router"),
        "networks" if !is_external(o) => (segment_path(id), "network"),
        "security_groups" => (
            format!("/infra/domains/default/groups/{id}"),
            "securitygroup",
        ),
        "policies" => (format!("/infra/qos-profiles/{id}"), "policy"),
        _ => return,
    };
    if tx.pol(&path).is_some() {
        let name = name_and_uuid(s(o, "name").unwrap_or(default), id);
        tx.upsert(&path, json!({"display_name": name}));
        if key == "security_groups" {
            tx.upsert(
                &format!("/infra/domains/default/security-policies/{id}"),
                json!({"display_name": name}),
            );
        }
    }
}

fn add_interface(tx: &mut Tx<'_>, router: &Value, body: &Value) -> Result<Reply, NErr> {
    let rid = s(router, "id").unwrap_or_default().to_string();
    let (port, sub) = match (s(body, "port_id"), s(body, "subnet_id")) {
        (Some(pid), None) => {
            let mut p = tx
                .obj("ports", pid)
                .ok_or_else(|| not_found("Port", "Port", pid))?;
            let dev = s(&p, "device_id").unwrap_or("");
            if !dev.is_empty() && dev != rid {
                return Err(nerr(
                    409,
                    "PortInUse",
                    format!("Port {pid} is in use by device {dev}."),
                ));
            }
            let sid = p
                .pointer("/fixed_ips/0/subnet_id")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("Port {pid} has no fixed IP")))?;
            let sub = tx
                .obj("subnets", sid)
                .ok_or_else(|| not_found("Subnet", "Subnet", sid))?;
            // A plain port becomes the interface: its segment port goes away.
            let net_path = segment_path(s(&p, "network_id").unwrap_or(""));
            let sp = format!("{net_path}/ports/{pid}");
            if tx.pol(&sp).is_some() {
                tx.delete_tree(&sp);
            }
            p["device_owner"] = json!("network:router_interface");
            p["device_id"] = json!(rid);
            tx.put_obj("ports", p.clone());
            (p, sub)
        }
        (None, Some(sid)) => {
            let sub = tx
                .obj("subnets", sid)
                .ok_or_else(|| not_found("Subnet", "Subnet", sid))?;
            let gw = s(&sub, "gateway_ip")
                .ok_or_else(|| bad(format!("Subnet {sid} has no gateway_ip")))?
                .to_string();
            let net_id = s(&sub, "network_id").unwrap_or_default().to_string();
            if ip_in_use(tx, &net_id, &gw, "") {
                return Err(nerr(
                    409,
                    "IpAddressAlreadyAllocated",
                    format!("IP address {gw} already allocated in subnet {sid}"),
                ));
            }
            let pid = tx.gen_id();
            let h = pid.replace('-', "");
            let p = json!({
                "id": pid, "name": "", "network_id": net_id, "tenant_id": project_of(router),
                "project_id": project_of(router), "device_owner": "network:router_interface",
                "device_id": rid, "fixed_ips": [{"subnet_id": sid, "ip_address": gw}],
                "mac_address": format!("fa:16:3e:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6]),
                "admin_state_up": true, "status": "ACTIVE", "security_groups": [],
                "port_security_enabled": false, "description": "", "allowed_address_pairs": [],
                "created_at": iso(tx.now), "updated_at": iso(tx.now), "revision_number": 0,
            });
            tx.put_obj("ports", p.clone());
            (p, sub)
        }
        _ => {
            return Err(bad(
                "Either subnet_id or port_id must be specified (not both)",
            ));
        }
    };
    let sid = s(&sub, "id").unwrap_or_default().to_string();
    let net_id = s(&sub, "network_id").unwrap_or_default().to_string();
    let net = tx.obj("networks", &net_id).unwrap_or(Value::Null);
    if is_external(&net) {
        return Err(bad(format!(
            "Subnet {sid} is on an external network and cannot be a router interface"
        )));
    }
    if let Some(other) = tx
        .each("ports")
        .into_iter()
        .filter(|p| {
            port_owner_is_router(p)
                && p["network_id"] == net_id.as_str()
                && p["device_id"] != rid.as_str()
        })
        .find_map(|p| s(p, "device_id").map(str::to_string))
    {
        return Err(bad(format!(
            "Network {net_id} is already attached to router {other} (the NSX Policy plugin allows one router per network)"
        )));
    }
    // The segment connects to the tier-1 and shows the subnet's gateway.
    tx.upsert(
        &segment_path(&net_id),
        json!({"connectivity_path": t1_path(&rid)}),
    );
    let entry = segment_subnet(tx, &sub);
    set_segment_subnet(tx, &net_id, &sub, Some(entry));
    snat_rules(tx, router, &sub, true);
    Ok(Reply::json(json!({
        "id": rid, "tenant_id": project_of(router), "project_id": project_of(router),
        "port_id": port["id"], "network_id": net_id, "subnet_id": sid, "subnet_ids": [sid],
    })))
}

fn remove_interface(tx: &mut Tx<'_>, router: &Value, body: &Value) -> Result<Reply, NErr> {
    let rid = s(router, "id").unwrap_or_default().to_string();
    let ports: Vec<Value> = tx
        .all("ports")
        .into_iter()
        .filter(|p| port_owner_is_router(p) && p["device_id"] == rid.as_str())
        .collect();
    let port = match (s(body, "port_id"), s(body, "subnet_id")) {
        (Some(pid), _) => ports.into_iter().find(|p| p["id"] == pid),
        (None, Some(sid)) => ports.into_iter().find(|p| {
            p["fixed_ips"]
                .as_array()
                .is_some_and(|a| a.iter().any(|f| f["subnet_id"] == sid))
        }),
        _ => return Err(bad("Either subnet_id or port_id must be specified")),
    }
    .ok_or_else(|| {
        nerr(
            404,
            "RouterInterfaceNotFound",
            format!("Router {rid} has no such interface"),
        )
    })?;
    let pid = s(&port, "id").unwrap_or_default().to_string();
    let net_id = s(&port, "network_id").unwrap_or_default().to_string();
    let sid = port
        .pointer("/fixed_ips/0/subnet_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let sub = tx.obj("subnets", &sid).unwrap_or(Value::Null);
    snat_rules(tx, router, &sub, false);
    tx.del_obj("ports", &pid);
    tx.remove_field(&segment_path(&net_id), "connectivity_path");
    if sub["enable_dhcp"] == true {
        let mut e = segment_subnet(tx, &sub);
        if let Some(m) = e.as_object_mut() {
            m.remove("gateway_address");
        }
        set_segment_subnet(tx, &net_id, &sub, Some(e));
    } else {
        set_segment_subnet(tx, &net_id, &sub, None);
    }
    Ok(Reply::json(json!({
        "id": rid, "tenant_id": project_of(router), "project_id": project_of(router),
        "port_id": pid, "network_id": net_id, "subnet_id": sid, "subnet_ids": [sid],
    })))
}

fn create_sg(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    for (k, d) in [
        ("name", json!("")),
        ("description", json!("")),
        ("stateful", json!(true)),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    if o.get("security_group_rules")
        .is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(bad(
            "security_group_rules cannot be given when creating a security group",
        ));
    }
    // The target adds no default rules: the replay copies the source's rules one by one.
    o["security_group_rules"] = json!([]);
    let tags = tx.tags("os-neutron-secg-id", o);
    let name = name_and_uuid(s(o, "name").unwrap_or("securitygroup"), &id);
    tx.upsert(
        &format!("/infra/domains/default/groups/{id}"),
        json!({
            "resource_type": "Group",
            "display_name": name,
            "description": o["description"],
            "expression": [{"resource_type": "Condition", "member_type": "SegmentPort", "key": "Tag",
                            "operator": "EQUALS", "value": format!("os-security-group|{id}")}],
            "tags": tags,
        }),
    );
    tx.upsert(
        &format!("/infra/domains/default/security-policies/{id}"),
        json!({
            "resource_type": "SecurityPolicy",
            "display_name": name,
            "description": o["description"],
            "category": "Application",
            "tags": tags,
        }),
    );
    Ok(())
}

fn create_sg_rule(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    let sg_id = s(o, "security_group_id")
        .ok_or_else(|| bad("Invalid input: 'security_group_id' is required"))?
        .to_string();
    let mut sg = tx
        .obj("security_groups", &sg_id)
        .ok_or_else(|| not_found("SecurityGroup", "Security group", &sg_id))?;
    let dir = s(o, "direction").unwrap_or("").to_string();
    if dir != "ingress" && dir != "egress" {
        return Err(bad(
            "Invalid input for direction: must be ingress or egress",
        ));
    }
    for (k, d) in [
        ("ethertype", json!("IPv4")),
        ("protocol", Value::Null),
        ("port_range_min", Value::Null),
        ("port_range_max", Value::Null),
        ("remote_ip_prefix", Value::Null),
        ("remote_group_id", Value::Null),
        ("description", json!("")),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    if !o["remote_ip_prefix"].is_null() && !o["remote_group_id"].is_null() {
        return Err(bad(
            "Only remote_ip_prefix or remote_group_id may be provided.",
        ));
    }
    if let Some(rg) = s(o, "remote_group_id")
        && tx.obj("security_groups", rg).is_none()
    {
        return Err(not_found("SecurityGroup", "Security group", rg));
    }
    let same = |r: &Value| {
        [
            "security_group_id",
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
        ]
        .iter()
        .all(|k| r[*k] == o[*k])
    };
    if let Some(dup) = tx
        .each("security_group_rules")
        .into_iter()
        .find(|r| same(r))
    {
        return Err(nerr(
            409,
            "SecurityGroupRuleExists",
            format!(
                "Security group rule already exists. Rule id is {}.",
                dup["id"].as_str().unwrap_or("")
            ),
        ));
    }
    let tags = tx.tags("os-neutron-secgr-id", o);
    let group = |g: &str| format!("/infra/domains/default/groups/{g}");
    let this = group(&sg_id);
    let mut remote: Option<String> = s(o, "remote_group_id").map(group);
    if let Some(prefix) = s(o, "remote_ip_prefix") {
        let gid = format!("{id}_remote_group");
        tx.upsert(
            &group(&gid),
            json!({"resource_type": "Group", "display_name": gid,
                   "description": format!("{prefix} for OS rule {id}"),
                   "expression": [{"resource_type": "IPAddressExpression", "ip_addresses": [prefix]}],
                   "tags": tags}),
        );
        remote = Some(group(&gid));
    }
    let (src, dst) = if dir == "ingress" {
        (remote, Some(this.clone()))
    } else {
        (Some(this.clone()), remote)
    };
    let proto = o["protocol"].clone();
    let proto_s = match &proto {
        Value::String(p) => p.to_ascii_lowercase(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let service = if proto_s.is_empty() || proto_s == "any" {
        None
    } else {
        let entry = match proto_s.as_str() {
            "tcp" | "6" | "udp" | "17" => {
                let l4 = if proto_s == "tcp" || proto_s == "6" {
                    "TCP"
                } else {
                    "UDP"
                };
                let ports = match (o["port_range_min"].as_i64(), o["port_range_max"].as_i64()) {
                    (None, _) => json!([]),
                    (Some(a), Some(b)) if a != b => json!([format!("{a}-{b}")]),
                    (Some(a), _) => json!([a.to_string()]),
                };
                json!({"resource_type": "L4PortSetServiceEntry", "id": id, "display_name": id,
                       "l4_protocol": l4, "destination_ports": ports, "source_ports": []})
            }
            "icmp" | "1" | "ipv6-icmp" | "icmpv6" | "58" => {
                let v6 = !matches!(proto_s.as_str(), "icmp" | "1") || o["ethertype"] == "IPv6";
                let mut e = json!({"resource_type": "ICMPTypeServiceEntry", "id": id, "display_name": id,
                                   "protocol": if v6 { "ICMPv6" } else { "ICMPv4" }});
                if let Some(t) = o["port_range_min"].as_i64() {
                    e["icmp_type"] = json!(t);
                }
                if let Some(c) = o["port_range_max"].as_i64() {
                    e["icmp_code"] = json!(c);
                }
                e
            }
            other => {
                let n: i64 = other.parse().unwrap_or(match other {
                    "gre" => 47,
                    "esp" => 50,
                    "ah" => 51,
                    "sctp" => 132,
                    "vrrp" => 112,
                    _ => {
                        return Err(bad(format!(
                            "Security group rule protocol {other} is not supported"
                        )));
                    }
                });
                json!({"resource_type": "IPProtocolServiceEntry", "id": id, "display_name": id, "protocol_number": n})
            }
        };
        let path = format!("/infra/services/{id}");
        tx.upsert(&path, json!({"resource_type": "Service", "display_name": format!("Service for OS rule {id}"),
                                "description": o["description"], "service_entries": [entry], "tags": tags}));
        Some(path)
    };
    let seq = tx
        .pol_paths_under(
            &format!("/infra/domains/default/security-policies/{sg_id}/rules/"),
            |_, _| true,
        )
        .len();
    tx.upsert(
        &format!("/infra/domains/default/security-policies/{sg_id}/rules/{id}"),
        json!({
            "resource_type": "Rule",
            "display_name": id,
            "description": o["description"],
            "source_groups": [src.unwrap_or_else(|| "ANY".into())],
            "destination_groups": [dst.unwrap_or_else(|| "ANY".into())],
            "services": [service.unwrap_or_else(|| "ANY".into())],
            "scope": [this],
            "action": "ALLOW",
            "direction": if dir == "ingress" { "IN" } else { "OUT" },
            "ip_protocol": match o["ethertype"].as_str() { Some("IPv6") => "IPV6", Some("IPv4") => "IPV4", _ => "IPV4_IPV6" },
            "logged": false,
            "sequence_number": seq,
            "tags": tags,
        }),
    );
    let mut rules = sg["security_group_rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    rules.push(o.clone());
    sg["security_group_rules"] = json!(rules);
    tx.put_obj("security_groups", sg);
    Ok(())
}

fn qos_profile(tx: &mut Tx<'_>, pol: &Value) {
    let id = s(pol, "id").unwrap_or_default();
    let mut shapers = Vec::new();
    let mut dscp = json!({"mode": "TRUSTED", "priority": 0});
    for r in pol["rules"].as_array().into_iter().flatten() {
        match r["type"].as_str() {
            Some("bandwidth_limit") => {
                let kbps = r["max_kbps"].as_i64().unwrap_or(0);
                let burst = r["max_burst_kbps"].as_i64().unwrap_or(0);
                let avg = ((kbps as f64) / 1024.0).round() as i64;
                let ty = if r["direction"] == "ingress" {
                    "EgressRateLimiter"
                } else {
                    "IngressRateLimiter"
                };
                shapers.push(json!({"resource_type": ty, "enabled": true, "average_bandwidth_mbps": avg,
                                    "peak_bandwidth_mbps": avg * 2, "burst_size_bytes": burst * 128}));
            }
            Some("dscp_marking") => {
                dscp = json!({"mode": "UNTRUSTED", "priority": r["dscp_mark"]});
            }
            _ => {}
        }
    }
    let tags = tx.tags("os-neutron-qos-id", pol);
    tx.upsert(
        &format!("/infra/qos-profiles/{id}"),
        json!({"resource_type": "QoSProfile", "display_name": name_and_uuid(s(pol, "name").unwrap_or("policy"), id),
               "description": pol["description"], "shaper_configurations": shapers, "dscp": dscp, "tags": tags}),
    );
}

fn create_qos(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    for (k, d) in [
        ("name", json!("")),
        ("description", json!("")),
        ("shared", json!(false)),
        ("is_default", json!(false)),
    ] {
        o.as_object_mut().map(|m| m.entry(k).or_insert(d));
    }
    if o.get("rules")
        .is_some_and(|r| r.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(bad(
            "rules are created through the policy's rule collections",
        ));
    }
    o["rules"] = json!([]);
    qos_profile(tx, o);
    Ok(())
}

fn qos_rule(
    tx: &mut Tx<'_>,
    pid: &str,
    kind: &str,
    body: &Value,
    caller: &Caller,
) -> Result<Reply, NErr> {
    let mut pol = tx
        .obj("policies", pid)
        .ok_or_else(|| not_found("QosPolicy", "QoS policy", pid))?;
    own(&pol, caller)?;
    let single = kind.trim_end_matches('s');
    let mut r = body
        .get(single)
        .and_then(Value::as_object)
        .cloned()
        .map(Value::Object)
        .ok_or_else(|| bad(format!("Body must contain \"{single}\"")))?;
    let ty = kind.trim_end_matches("_rules");
    match ty {
        "bandwidth_limit" => {
            if !r["max_kbps"].is_i64() {
                return Err(bad("Invalid input: 'max_kbps' is required"));
            }
            r.as_object_mut()
                .map(|m| m.entry("max_burst_kbps").or_insert(json!(0)));
            r.as_object_mut()
                .map(|m| m.entry("direction").or_insert(json!("egress")));
        }
        _ => {
            if !r["dscp_mark"].is_i64() {
                return Err(bad("Invalid input: 'dscp_mark' is required"));
            }
        }
    }
    let rules = pol["rules"].as_array().cloned().unwrap_or_default();
    if rules
        .iter()
        .any(|x| x["type"] == ty && x["direction"] == r["direction"])
    {
        return Err(nerr(
            409,
            "QoSRulesConflict",
            format!("Rule {ty} already exists in QoS policy {pid}."),
        ));
    }
    let rid = tx.gen_id();
    r["id"] = json!(rid);
    r["type"] = json!(ty);
    let mut rules = rules;
    rules.push(r.clone());
    pol["rules"] = json!(rules);
    bump(&mut pol, tx.now);
    tx.put_obj("policies", pol.clone());
    qos_profile(tx, &pol);
    Ok(Reply::created(json!({ single: r })))
}

fn fip_router(tx: &Tx<'_>, ext_net: &str, port: &Value) -> Result<String, NErr> {
    let net = s(port, "network_id").unwrap_or("");
    tx.each("ports")
        .into_iter()
        .filter(|p| port_owner_is_router(p) && p["network_id"] == net)
        .filter_map(|p| s(p, "device_id").map(str::to_string))
        .find(|rid| {
            tx.obj("routers", rid).is_some_and(|r| {
                r.pointer("/external_gateway_info/network_id") == Some(&json!(ext_net))
            })
        })
        .ok_or_else(|| {
            nerr(
                404,
                "ExternalGatewayForFloatingIPNotFound",
                format!(
                    "External network {ext_net} is not reachable from port {}.",
                    s(port, "id").unwrap_or("")
                ),
            )
        })
}

fn fip_nat(tx: &mut Tx<'_>, fip: &Value, on: bool) {
    let fid = s(fip, "id").unwrap_or_default();
    let Some(rid) = s(fip, "router_id").map(str::to_string) else {
        return;
    };
    let (sp, dp) = (
        nat_path(&rid, &format!("S-{fid}")),
        nat_path(&rid, &format!("D-{fid}")),
    );
    if on {
        let tags = tx.tags("os-neutron-fip-id", fip);
        let (ext, int) = (
            fip["floating_ip_address"].clone(),
            fip["fixed_ip_address"].clone(),
        );
        tx.upsert(&sp, json!({"resource_type": "PolicyNatRule", "display_name": format!("S-{fid}"), "action": "SNAT",
            "source_network": int, "translated_network": ext, "sequence_number": 2000, "enabled": true,
            "firewall_match": "MATCH_INTERNAL_ADDRESS", "tags": tags}));
        tx.upsert(&dp, json!({"resource_type": "PolicyNatRule", "display_name": format!("D-{fid}"), "action": "DNAT",
            "destination_network": ext, "translated_network": int, "sequence_number": 2000, "enabled": true,
            "firewall_match": "MATCH_EXTERNAL_ADDRESS", "tags": tags}));
    } else {
        for p in [sp, dp] {
            if tx.pol(&p).is_some() {
                tx.delete_tree(&p);
            }
        }
    }
}

fn associate(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let ext = s(o, "floating_network_id").unwrap_or_default().to_string();
    match s(o, "port_id").map(str::to_string) {
        Some(pid) => {
            let port = tx
                .obj("ports", &pid)
                .ok_or_else(|| not_found("Port", "Port", &pid))?;
            let fixed = match s(o, "fixed_ip_address") {
                Some(ip) => {
                    if !port["fixed_ips"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|f| f["ip_address"] == ip))
                    {
                        return Err(bad(format!("Port {pid} does not have fixed ip {ip}")));
                    }
                    ip.to_string()
                }
                None => port
                    .pointer("/fixed_ips/0/ip_address")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(format!("Port {pid} has no fixed IP")))?
                    .to_string(),
            };
            let rid = fip_router(tx, &ext, &port)?;
            o["fixed_ip_address"] = json!(fixed);
            o["router_id"] = json!(rid);
            o["status"] = json!("ACTIVE");
            fip_nat(tx, o, true);
        }
        None => {
            o["port_id"] = Value::Null;
            o["fixed_ip_address"] = Value::Null;
            o["router_id"] = Value::Null;
            o["status"] = json!("DOWN");
        }
    }
    Ok(())
}

fn create_fip(tx: &mut Tx<'_>, o: &mut Value) -> Result<(), NErr> {
    let ext = s(o, "floating_network_id")
        .ok_or_else(|| bad("Invalid input: 'floating_network_id' is required"))?
        .to_string();
    let net = tx
        .obj("networks", &ext)
        .ok_or_else(|| not_found("Network", "Network", &ext))?;
    if !is_external(&net) {
        return Err(bad(format!(
            "Network {ext} is not a valid external network"
        )));
    }
    let sub = net["subnets"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|x| x.as_str())
        .and_then(|x| tx.obj("subnets", x))
        .ok_or_else(|| bad(format!("External network {ext} has no subnet")))?;
    let ip = match s(o, "floating_ip_address") {
        Some(ip) => {
            if tx
                .each("floatingips")
                .into_iter()
                .any(|f| f["floating_ip_address"] == ip)
            {
                return Err(nerr(
                    409,
                    "IpAddressAlreadyAllocated",
                    format!(
                        "IP address {ip} already allocated in subnet {}",
                        sub["id"].as_str().unwrap_or("")
                    ),
                ));
            }
            ip.to_string()
        }
        None => allocate(tx, &sub)?,
    };
    o["floating_ip_address"] = json!(ip);
    o.as_object_mut()
        .map(|m| m.entry("description").or_insert(json!("")));
    associate(tx, o)
}

fn update_fip(tx: &mut Tx<'_>, o: &mut Value, upd: &Map<String, Value>) -> Result<(), NErr> {
    for k in upd.keys() {
        if !matches!(k.as_str(), "port_id" | "fixed_ip_address" | "description") {
            return Err(bad(format!("Cannot update read-only attribute {k}")));
        }
    }
    fip_nat(tx, o, false);
    for (k, v) in upd {
        o[k.as_str()] = v.clone();
    }
    if upd.contains_key("port_id") && !upd.contains_key("fixed_ip_address") {
        o["fixed_ip_address"] = Value::Null;
    }
    associate(tx, o)
}

// ---------------------------------------------------------------------------------------------
// Delete

fn delete(tx: &mut Tx<'_>, res: &Res, o: &Value) -> Result<(), NErr> {
    let id = s(o, "id").unwrap_or_default().to_string();
    match res.key {
        "networks" => {
            if tx
                .all("ports")
                .iter()
                .any(|p| p["network_id"] == id.as_str() && !port_owner_is_router(p))
            {
                return Err(nerr(
                    409,
                    "NetworkInUse",
                    format!(
                        "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
                    ),
                ));
            }
            if tx
                .all("ports")
                .iter()
                .any(|p| p["network_id"] == id.as_str())
            {
                return Err(nerr(
                    409,
                    "NetworkInUse",
                    format!(
                        "Unable to complete operation on network {id}. It is attached to a router."
                    ),
                ));
            }
            for sub in tx
                .all("subnets")
                .into_iter()
                .filter(|x| x["network_id"] == id.as_str())
            {
                tx.del_obj("subnets", s(&sub, "id").unwrap_or_default());
            }
            tx.delete_tree(&segment_path(&id));
        }
        "subnets" => {
            let net = s(o, "network_id").unwrap_or_default().to_string();
            if tx.all("ports").iter().any(|p| {
                p["fixed_ips"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|f| f["subnet_id"] == id.as_str()))
            }) {
                return Err(nerr(
                    409,
                    "SubnetInUse",
                    format!(
                        "Unable to complete operation on subnet {id}: one or more ports have an IP allocation from this subnet."
                    ),
                ));
            }
            if o["enable_dhcp"] == true {
                dhcp_off(tx, &net, o);
            }
            set_segment_subnet(tx, &net, o, None);
            if let Some(mut n) = tx.obj("networks", &net) {
                let subs: Vec<Value> = n["subnets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|x| x != id.as_str())
                    .collect();
                n["subnets"] = json!(subs);
                tx.put_obj("networks", n);
            }
        }
        "ports" => {
            if port_owner_is_router(o) {
                return Err(nerr(
                    409,
                    "PortInUse",
                    format!(
                        "Port {id} cannot be deleted directly via the port API: has device owner network:router_interface."
                    ),
                ));
            }
            for mut f in tx
                .all("floatingips")
                .into_iter()
                .filter(|f| f["port_id"] == id.as_str())
            {
                fip_nat(tx, &f, false);
                f["port_id"] = Value::Null;
                f["fixed_ip_address"] = Value::Null;
                f["router_id"] = Value::Null;
                f["status"] = json!("DOWN");
                tx.put_obj("floatingips", f);
            }
            bindings(tx, o, false);
            tx.delete_tree(&format!(
                "{}/ports/{id}",
                segment_path(s(o, "network_id").unwrap_or(""))
            ));
        }
        "routers" => {
            if tx
                .all("ports")
                .iter()
                .any(|p| port_owner_is_router(p) && p["device_id"] == id.as_str())
            {
                return Err(nerr(
                    409,
                    "RouterInUse",
                    format!("Router {id} still has ports"),
                ));
            }
            if tx
                .all("floatingips")
                .iter()
                .any(|f| f["router_id"] == id.as_str())
            {
                return Err(nerr(
                    409,
                    "RouterInUse",
                    format!("Router {id} still has floating IPs"),
                ));
            }
            tx.delete_tree(&t1_path(&id));
        }
        "security_groups" => {
            if tx.all("ports").iter().any(|p| {
                p["security_groups"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == id.as_str()))
            }) {
                return Err(nerr(
                    409,
                    "SecurityGroupInUse",
                    format!("Security Group {id} in use."),
                ));
            }
            for r in o["security_group_rules"]
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let rid = s(&r, "id").unwrap_or_default();
                tx.del_obj("security_group_rules", rid);
                tx.delete_tree(&format!("/infra/services/{rid}"));
                tx.delete_tree(&format!("/infra/domains/default/groups/{rid}_remote_group"));
            }
            tx.delete_tree(&format!("/infra/domains/default/security-policies/{id}"));
            tx.delete_tree(&format!("/infra/domains/default/groups/{id}"));
        }
        "security_group_rules" => {
            let sg_id = s(o, "security_group_id").unwrap_or_default().to_string();
            tx.delete_tree(&format!(
                "/infra/domains/default/security-policies/{sg_id}/rules/{id}"
            ));
            tx.delete_tree(&format!("/infra/services/{id}"));
            tx.delete_tree(&format!("/infra/domains/default/groups/{id}_remote_group"));
            if let Some(mut sg) = tx.obj("security_groups", &sg_id) {
                let rules: Vec<Value> = sg["security_group_rules"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|r| r["id"] != id.as_str())
                    .collect();
                sg["security_group_rules"] = json!(rules);
                tx.put_obj("security_groups", sg);
            }
        }
        "policies" => {
            if tx
                .all("ports")
                .iter()
                .chain(tx.all("networks").iter())
                .any(|p| p["qos_policy_id"] == id.as_str())
            {
                return Err(nerr(
                    409,
                    "QosPolicyInUse",
                    format!("QoS Policy {id} is used."),
                ));
            }
            tx.delete_tree(&format!("/infra/qos-profiles/{id}"));
        }
        "floatingips" => fip_nat(tx, o, false),
        "loadbalancers" | "listeners" | "pools" | "healthmonitors" => lb::delete(tx, res.key, o)?,
        "l7policies" => lb::delete_l7policy(tx, o)?,
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Realized state (`/policy/api/v1/infra/realized-state/...`)

/// `realized-entities?intent_path=` and `status?intent_path=` for any Policy object: an object
/// the replay target wrote reports not realized for `realization_reads` reads (each read of
/// either counts), then realized; every other existing object is realized.
pub fn realized_state(
    st: &mut State,
    req: &Req,
    rest: &[&str],
) -> Result<Reply, crate::api::ApiError> {
    use crate::api::ApiError;
    if req.method != Method::GET {
        return Err(ApiError::method_not_allowed(&req.method, &req.path));
    }
    let path = req
        .q("intent_path")
        .ok_or_else(|| ApiError::bad_request("Parameter intent_path is required."))?
        .to_string();
    let Some(obj) = st.policy.get(&path) else {
        return Err(ApiError::new(
            404,
            500012,
            "policy",
            format!("The path={path} is invalid or the object does not exist."),
        ));
    };
    let display = obj["display_name"].clone();
    let rt = obj["resource_type"]
        .as_str()
        .unwrap_or("PolicyObject")
        .to_string();
    let id = obj["id"].clone();
    let pending = st
        .vio
        .as_deref_mut()
        .and_then(|v| {
            let n = v.replay.unrealized.get_mut(&path)?;
            *n -= 1;
            let left = *n;
            if left == 0 {
                v.replay.unrealized.remove(&path);
            }
            Some(left + 1)
        })
        .is_some();
    match rest {
        ["realized-entities"] => {
            let entity = json!({
                "resource_type": "GenericPolicyRealizedResource",
                "id": id,
                "display_name": display,
                "path": format!("{path}/realized-state/realized-entities/{}", id.as_str().unwrap_or("")),
                "intent_paths": [path],
                "entity_type": format!("Realized{rt}"),
                "state": if pending { "UNREALIZED" } else { "REALIZED" },
                "runtime_status": if pending { "UNINITIALIZED" } else { "UP" },
                "realization_specific_identifier": id,
                "_revision": 0,
            });
            Ok(Reply::json(json!({"results": [entity], "result_count": 1})))
        }
        ["status"] => Ok(Reply::json(json!({
            "intent_path": path,
            "publish_status": if pending { "IN_PROGRESS" } else { "REALIZED" },
            "consolidated_status": {"consolidated_status": if pending { "IN_PROGRESS" } else { "SUCCESS" }},
        }))),
        _ => Err(ApiError::not_found(&req.path)),
    }
}

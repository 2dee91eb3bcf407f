//! The simulated Manager-API object store: one ordered collection per kind, firewall sections with
//! their rules in evaluation order, and IP pool allocations.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::api::ApiError;

/// One Manager API collection the simulator serves.
#[derive(Debug)]
pub struct Kind {
    /// Snapshot file stem (`nsx/<key>.json`) and internal collection key.
    pub key: &'static str,
    /// Path under `/api/v1/` for top-level kinds; for child kinds the suffix after the parent id.
    pub api: &'static str,
    /// Child kinds: (parent api path, field carrying the parent id).
    pub parent: Option<(&'static str, &'static str)>,
    /// Accepted `resource_type` values; when there is exactly one it is the default on create.
    pub types: &'static [&'static str],
    /// Required properties on create/update (from the spec's `required` lists).
    pub required: &'static [&'static str],
    /// Ids are small integers (NAT rules) rather than UUIDs.
    pub numeric_ids: bool,
}

pub const KINDS: &[Kind] = &[
    Kind {
        key: "logical-switches",
        api: "logical-switches",
        parent: None,
        types: &["LogicalSwitch"],
        required: &["transport_zone_id", "admin_state"],
        numeric_ids: false,
    },
    Kind {
        key: "logical-ports",
        api: "logical-ports",
        parent: None,
        types: &["LogicalPort"],
        required: &["logical_switch_id", "admin_state"],
        numeric_ids: false,
    },
    Kind {
        key: "logical-routers",
        api: "logical-routers",
        parent: None,
        types: &["LogicalRouter"],
        required: &["router_type"],
        numeric_ids: false,
    },
    Kind {
        key: "logical-router-ports",
        api: "logical-router-ports",
        parent: None,
        types: &[
            "LogicalRouterDownLinkPort",
            "LogicalRouterCentralizedServicePort",
            "LogicalRouterLoopbackPort",
            "LogicalRouterUpLinkPort",
            "LogicalRouterIPTunnelPort",
            "LogicalRouterLinkPortOnTIER0",
            "LogicalRouterLinkPortOnTIER1",
        ],
        required: &["logical_router_id", "resource_type"],
        numeric_ids: false,
    },
    Kind {
        key: "nat-rules",
        api: "nat/rules",
        parent: Some(("logical-routers", "logical_router_id")),
        types: &["NatRule"],
        required: &["action"],
        numeric_ids: true,
    },
    Kind {
        key: "static-routes",
        api: "routing/static-routes",
        parent: Some(("logical-routers", "logical_router_id")),
        types: &["StaticRoute"],
        required: &["next_hops", "network"],
        numeric_ids: false,
    },
    Kind {
        key: "ip-blocks",
        api: "pools/ip-blocks",
        parent: None,
        types: &["IpBlock"],
        required: &["cidr"],
        numeric_ids: false,
    },
    Kind {
        key: "ip-block-subnets",
        api: "pools/ip-subnets",
        parent: None,
        types: &["IpBlockSubnet"],
        required: &["block_id", "size"],
        numeric_ids: false,
    },
    Kind {
        key: "ip-pools",
        api: "pools/ip-pools",
        parent: None,
        types: &["IpPool"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "ip-sets",
        api: "ip-sets",
        parent: None,
        types: &["IPSet"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "ns-groups",
        api: "ns-groups",
        parent: None,
        types: &["NSGroup"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "switching-profiles",
        api: "switching-profiles",
        parent: None,
        types: &[
            "QosSwitchingProfile",
            "PortMirroringSwitchingProfile",
            "IpDiscoverySwitchingProfile",
            "SpoofGuardSwitchingProfile",
            "MacManagementSwitchingProfile",
            "SwitchSecuritySwitchingProfile",
        ],
        required: &["resource_type"],
        numeric_ids: false,
    },
    Kind {
        key: "certificates",
        api: "trust-management/certificates",
        parent: None,
        types: &[
            "certificate_self_signed",
            "certificate_ca",
            "certificate_signed",
            "Certificate",
        ],
        required: &["pem_encoded"],
        numeric_ids: false,
    },
    Kind {
        key: "lb-services",
        api: "loadbalancer/services",
        parent: None,
        types: &["LbService"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "lb-virtual-servers",
        api: "loadbalancer/virtual-servers",
        parent: None,
        types: &["LbVirtualServer"],
        required: &["application_profile_id", "ip_address"],
        numeric_ids: false,
    },
    Kind {
        key: "lb-pools",
        api: "loadbalancer/pools",
        parent: None,
        types: &["LbPool"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "lb-monitors",
        api: "loadbalancer/monitors",
        parent: None,
        types: &[
            "LbHttpMonitor",
            "LbHttpsMonitor",
            "LbTcpMonitor",
            "LbUdpMonitor",
            "LbIcmpMonitor",
            "LbPassiveMonitor",
        ],
        required: &["resource_type"],
        numeric_ids: false,
    },
    Kind {
        key: "lb-app-profiles",
        api: "loadbalancer/application-profiles",
        parent: None,
        types: &["LbHttpProfile", "LbFastTcpProfile", "LbFastUdpProfile"],
        required: &["resource_type"],
        numeric_ids: false,
    },
    Kind {
        key: "lb-persistence-profiles",
        api: "loadbalancer/persistence-profiles",
        parent: None,
        types: &[
            "LbCookiePersistenceProfile",
            "LbGenericPersistenceProfile",
            "LbSourceIpPersistenceProfile",
        ],
        required: &["resource_type"],
        numeric_ids: false,
    },
    Kind {
        key: "lb-client-ssl-profiles",
        api: "loadbalancer/client-ssl-profiles",
        parent: None,
        types: &["LbClientSslProfile"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "lb-server-ssl-profiles",
        api: "loadbalancer/server-ssl-profiles",
        parent: None,
        types: &["LbServerSslProfile"],
        required: &[],
        numeric_ids: false,
    },
    Kind {
        key: "lb-rules",
        api: "loadbalancer/rules",
        parent: None,
        types: &["LbRule"],
        required: &["phase", "actions", "match_strategy"],
        numeric_ids: false,
    },
];

pub fn kind(key: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.key == key)
}

/// Insertion-ordered collection.
#[derive(Debug, Default, Clone)]
pub struct Coll {
    pub order: Vec<String>,
    pub map: HashMap<String, Value>,
}

impl Coll {
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.map.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.map.get_mut(id)
    }

    pub fn insert(&mut self, id: String, v: Value) {
        if self.map.insert(id.clone(), v).is_none() {
            self.order.push(id);
        }
    }

    pub fn remove(&mut self, id: &str) -> Option<Value> {
        let v = self.map.remove(id)?;
        self.order.retain(|x| x != id);
        Some(v)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.order.iter().filter_map(|id| self.map.get(id))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Firewall sections in evaluation order, each with its rules in evaluation order.
#[derive(Debug, Default, Clone)]
pub struct Firewall {
    /// Section objects without `rules`.
    pub sections: Coll,
    /// Section id -> rules.
    pub rules: HashMap<String, Vec<Value>>,
}

impl Firewall {
    pub fn section_with_rules(&self, id: &str) -> Option<Value> {
        let mut s = self.sections.get(id)?.clone();
        s["resource_type"] = json!("FirewallSectionRuleList");
        let rules = self.rules.get(id).cloned().unwrap_or_default();
        s["rules"] = Value::Array(rules);
        Some(s)
    }

    /// Recompute read-only `priority` and `rule_count` after any change in order or membership.
    pub fn renumber(&mut self) {
        for (i, id) in self.sections.order.clone().iter().enumerate() {
            let count = self.rules.get(id).map(|r| r.len()).unwrap_or(0);
            if let Some(s) = self.sections.get_mut(id) {
                s["priority"] = json!(i as i64 + 1);
                s["rule_count"] = json!(count as i64);
            }
        }
    }
}

/// All Manager-API state.
#[derive(Debug, Default, Clone)]
pub struct MpStore {
    pub colls: HashMap<&'static str, Coll>,
    pub firewall: Firewall,
    /// IP pool id -> allocations (`AllocationIpAddress` objects).
    pub allocations: HashMap<String, Vec<Value>>,
    /// Next numeric id for NAT and firewall rules.
    pub next_numeric: u64,
}

impl MpStore {
    pub fn coll(&self, key: &str) -> Option<&Coll> {
        self.colls.get(key)
    }

    pub fn coll_mut(&mut self, key: &'static str) -> &mut Coll {
        self.colls.entry(key).or_default()
    }

    /// Find any MP object by id: (kind key, object). Firewall sections report "firewall-sections".
    pub fn find_any(&self, id: &str) -> Option<(&'static str, &Value)> {
        for k in KINDS {
            if let Some(v) = self.colls.get(k.key).and_then(|c| c.get(id)) {
                return Some((k.key, v));
            }
        }
        self.firewall
            .sections
            .get(id)
            .map(|v| ("firewall-sections", v))
    }

    pub fn object_count(&self) -> usize {
        self.colls.values().map(Coll::len).sum::<usize>()
            + self.firewall.sections.len()
            + self.firewall.rules.values().map(Vec::len).sum::<usize>()
            + self.allocations.values().map(Vec::len).sum::<usize>()
    }

    pub fn alloc_numeric_id(&mut self) -> String {
        self.next_numeric += 1;
        self.next_numeric.to_string()
    }

    /// After loading, make sure fresh numeric ids do not collide with loaded ones.
    pub fn fix_numeric_counter(&mut self) {
        let mut max = 1023u64;
        let mut see = |v: &Value| {
            if let Some(n) = v
                .get("id")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<u64>().ok())
            {
                max = max.max(n);
            }
        };
        if let Some(c) = self.colls.get("nat-rules") {
            c.iter().for_each(&mut see);
        }
        for rules in self.firewall.rules.values() {
            rules.iter().for_each(&mut see);
        }
        self.next_numeric = self.next_numeric.max(max);
    }
}

/// Validate the common `ManagedResource` limits. `what` names the object for messages.
pub fn validate_common(obj: &Value) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(dn) = obj.get("display_name").filter(|v| !v.is_null()) {
        match dn.as_str() {
            Some(s) if s.chars().count() > 255 => errors.push(format!(
                "display_name length {} exceeds the maximum of 255",
                s.chars().count()
            )),
            Some(_) => {}
            None => errors.push("display_name must be a string".to_string()),
        }
    }
    if let Some(d) = obj.get("description").and_then(Value::as_str)
        && d.chars().count() > 1024
    {
        errors.push(format!(
            "description length {} exceeds the maximum of 1024",
            d.chars().count()
        ));
    }
    if let Some(tags) = obj.get("tags") {
        match tags.as_array() {
            None if tags.is_null() => {}
            None => errors.push("tags must be an array".to_string()),
            Some(arr) => {
                if arr.len() > 30 {
                    errors.push(format!("tags has {} items, the maximum is 30", arr.len()));
                }
                for (i, t) in arr.iter().enumerate() {
                    let Some(t) = t.as_object() else {
                        errors.push(format!("tags[{i}] must be an object"));
                        continue;
                    };
                    for k in t.keys() {
                        if k != "scope" && k != "tag" {
                            errors.push(format!("tags[{i}]: property {k} is unrecognized"));
                        }
                    }
                    if let Some(s) = t.get("scope").and_then(Value::as_str)
                        && s.chars().count() > 128
                    {
                        errors.push(format!(
                            "tags[{i}].scope length {} exceeds the maximum of 128",
                            s.chars().count()
                        ));
                    }
                    if let Some(s) = t.get("tag").and_then(Value::as_str)
                        && s.chars().count() > 256
                    {
                        errors.push(format!(
                            "tags[{i}].tag length {} exceeds the maximum of 256",
                            s.chars().count()
                        ));
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            255,
            "common-services",
            format!("Field level validation errors: {{{}}}", errors.join("; ")),
        ))
    }
}

/// Validate required fields and the resource type for a kind; returns the resource type to use.
pub fn validate_for_kind(k: &Kind, obj: &Value) -> Result<String, ApiError> {
    validate_common(obj)?;
    let rt = match obj.get("resource_type").and_then(Value::as_str) {
        Some(rt) => {
            if !k.types.contains(&rt) {
                return Err(ApiError::bad_request(format!(
                    "Invalid resource_type '{rt}' for this collection; expected one of {}.",
                    k.types.join(", ")
                )));
            }
            rt.to_string()
        }
        None if k.types.len() == 1 => k.types[0].to_string(),
        None if k.key == "certificates" => "certificate_self_signed".to_string(),
        None => {
            return Err(ApiError::bad_request(
                "Field level validation errors: {required property resource_type is missing}",
            ));
        }
    };
    let missing: Vec<&str> = k
        .required
        .iter()
        .copied()
        .filter(|f| *f != "resource_type" && obj.get(*f).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Field level validation errors: {{required property {} is missing}}",
            missing.join(", ")
        )));
    }
    Ok(rt)
}

/// Read-only system fields the server owns.
pub const SYSTEM_FIELDS: &[&str] = &[
    "_revision",
    "_create_user",
    "_create_time",
    "_last_modified_user",
    "_last_modified_time",
    "_system_owned",
    "_protection",
    "_self",
    "_links",
    "_schema",
];

/// Fill the system fields of a newly created object.
pub fn stamp_new(obj: &mut Value, id: &str, rt: &str, user: &str, now: i64) {
    let Some(m) = obj.as_object_mut() else {
        return;
    };
    for f in SYSTEM_FIELDS {
        m.remove(*f);
    }
    m.insert("id".into(), json!(id));
    m.insert("resource_type".into(), json!(rt));
    if m.get("display_name").is_none_or(Value::is_null) {
        m.insert("display_name".into(), json!(id));
    }
    m.insert("_revision".into(), json!(0));
    m.insert("_create_user".into(), json!(user));
    m.insert("_create_time".into(), json!(now));
    m.insert("_last_modified_user".into(), json!(user));
    m.insert("_last_modified_time".into(), json!(now));
    m.insert("_system_owned".into(), json!(false));
    m.insert("_protection".into(), json!("NOT_PROTECTED"));
}

/// Build the replacement object for a PUT: body fields plus preserved/advanced system fields.
pub fn stamp_update(old: &Value, body: &Value, user: &str, now: i64) -> Value {
    let mut m: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    for f in SYSTEM_FIELDS {
        m.remove(*f);
    }
    for f in [
        "id",
        "resource_type",
        "_create_user",
        "_create_time",
        "_system_owned",
        "_protection",
    ] {
        if let Some(v) = old.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    let rev = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    m.insert("_revision".into(), json!(rev + 1));
    m.insert("_last_modified_user".into(), json!(user));
    m.insert("_last_modified_time".into(), json!(now));
    if m.get("display_name").is_none_or(Value::is_null)
        && let Some(id) = old.get("id")
    {
        m.insert("display_name".into(), id.clone());
    }
    Value::Object(m)
}

/// Check `_revision` of a PUT body against the stored object.
pub fn check_revision(
    old: &Value,
    body: &Value,
    kind: &str,
    id: &str,
    stale_status: u16,
) -> Result<(), ApiError> {
    let current = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    match body.get("_revision").and_then(Value::as_i64) {
        Some(r) if r == current => Ok(()),
        _ => {
            let mut e = ApiError::stale(kind, id);
            if stale_status == 409 {
                e.status = 409;
            }
            Err(e)
        }
    }
}

/// Refuse writes to protected objects unless the override header is present.
/// Refuse a change to a protected object by anyone but its owner. `_protection` is stored as a
/// superuser sees it: REQUIRE_OVERRIDE (owned by a protected principal identity, or by Policy:
/// `_create_user` `nsx_policy`) lets the admin through with `X-Allow-Overwrite: true`, never
/// another principal identity; PROTECTED lets nobody but the owner through.
pub fn check_protection(obj: &Value, req: &crate::api::Req) -> Result<(), ApiError> {
    let (user, allow_overwrite) = (req.user.as_str(), req.allow_overwrite());
    let protection = obj
        .get("_protection")
        .and_then(Value::as_str)
        .unwrap_or("NOT_PROTECTED");
    let owner = obj
        .get("_create_user")
        .and_then(Value::as_str)
        .unwrap_or("");
    let rt = obj
        .get("resource_type")
        .and_then(Value::as_str)
        .unwrap_or("object");
    let refuse = || {
        ApiError::new(
            403,
            520013,
            "common-services",
            format!(
                "Principal '{user}' attempts to delete or modify an object of type {rt} it doesn't own. (createUser={owner}, allowOverwrite={})",
                if allow_overwrite { "true" } else { "null" }
            ),
        )
    };
    if !owner.is_empty() && owner == user {
        return Ok(());
    }
    let superuser_override = allow_overwrite && req.principal.is_none();
    match protection {
        "PROTECTED" => Err(refuse()),
        "REQUIRE_OVERRIDE" if !superuser_override => Err(refuse()),
        _ if owner == "nsx_policy" && !superuser_override => Err(refuse()),
        _ => Ok(()),
    }
}

pub fn tags_of(obj: &Value) -> Vec<(String, String)> {
    obj.get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t.get("scope")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        t.get("tag")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

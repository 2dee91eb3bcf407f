//! Typed views on Manager API objects: identity, tags, ownership markers and references.

use serde_json::Value;

use plan_schema::Tag;

/// The collections the planner reads (one per snapshot file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    LogicalSwitch,
    LogicalPort,
    LogicalRouter,
    LogicalRouterPort,
    NatRule,
    StaticRoute,
    IpBlock,
    IpBlockSubnet,
    IpPool,
    IpSet,
    NsGroup,
    FirewallSection,
    SwitchingProfile,
    Certificate,
    LbService,
    LbVirtualServer,
    LbPool,
    LbMonitor,
    LbAppProfile,
    LbPersistenceProfile,
    LbClientSslProfile,
    LbServerSslProfile,
    LbRule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::LogicalSwitch => "LogicalSwitch",
            Kind::LogicalPort => "LogicalPort",
            Kind::LogicalRouter => "LogicalRouter",
            Kind::LogicalRouterPort => "LogicalRouterPort",
            Kind::NatRule => "NatRule",
            Kind::StaticRoute => "StaticRoute",
            Kind::IpBlock => "IpBlock",
            Kind::IpBlockSubnet => "IpBlockSubnet",
            Kind::IpPool => "IpPool",
            Kind::IpSet => "IPSet",
            Kind::NsGroup => "NSGroup",
            Kind::FirewallSection => "FirewallSection",
            Kind::SwitchingProfile => "SwitchingProfile",
            Kind::Certificate => "Certificate",
            Kind::LbService => "LbService",
            Kind::LbVirtualServer => "LbVirtualServer",
            Kind::LbPool => "LbPool",
            Kind::LbMonitor => "LbMonitor",
            Kind::LbAppProfile => "LbAppProfile",
            Kind::LbPersistenceProfile => "LbPersistenceProfile",
            Kind::LbClientSslProfile => "LbClientSslProfile",
            Kind::LbServerSslProfile => "LbServerSslProfile",
            Kind::LbRule => "LbRule",
        }
    }
}

/// A firewall rule inside its section.
#[derive(Debug, Clone, PartialEq)]
pub struct FwRule {
    pub id: String,
    pub display_name: String,
    pub create_user: Option<String>,
}

/// One Manager API object.
#[derive(Debug, Clone, PartialEq)]
pub struct MpObject {
    pub kind: Kind,
    pub id: String,
    pub resource_type: String,
    pub display_name: String,
    pub revision: i64,
    pub tags: Vec<Tag>,
    pub create_user: Option<String>,
    pub system_owned: bool,
    /// Rules, for firewall sections (evaluation order).
    pub rules: Vec<FwRule>,
    /// References to other objects, computed from the full object when it was read.
    pub references: Vec<Ref>,
    /// The few fields the planner reads besides the ones above (see `KEPT_FIELDS`); the rest of
    /// the object is not kept in memory (inventories hold hundreds of thousands of objects).
    pub raw: Value,
}

/// Fields of the Manager object kept after reading.
const KEPT_FIELDS: &[&str] = &[
    "router_type",
    "logical_switch_id",
    "logical_router_id",
    "linked_logical_switch_port_id",
    "network",
    "next_hops",
    "action",
    "firewall_match",
    "is_default",
    "rule_ids",
];

/// A reference from one MP object to another, by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ref {
    /// Where in the object, e.g. `logical_switch_id` or `rules[1044].sources`.
    pub field: String,
    pub target: String,
    /// What the target can be; empty when only the id is known.
    pub kinds: &'static [Kind],
}

fn s(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

impl MpObject {
    pub fn from_json(kind: Kind, raw: Value) -> Result<MpObject, String> {
        let id = s(&raw, "id").ok_or("object without an `id`")?;
        let mut resource_type =
            s(&raw, "resource_type").ok_or("object without a `resource_type`")?;
        // A section read with its rules (`?action=list_with_rules`) may name its list type.
        if kind == Kind::FirewallSection && resource_type == "FirewallSectionRuleList" {
            resource_type = "FirewallSection".to_string();
        }
        let display_name = s(&raw, "display_name").unwrap_or_else(|| id.clone());
        let revision = raw.get("_revision").and_then(Value::as_i64).unwrap_or(0);
        let mut tags = Vec::new();
        if let Some(list) = raw.get("tags") {
            let list = list.as_array().ok_or("`tags` is not an array")?;
            for (i, t) in list.iter().enumerate() {
                let scope = t.get("scope").and_then(Value::as_str).unwrap_or("");
                let tag = t
                    .get("tag")
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("tags[{i}] has no `tag`"))?;
                tags.push(Tag {
                    scope: scope.to_string(),
                    tag: tag.to_string(),
                });
            }
        }
        let mut rules = Vec::new();
        if kind == Kind::FirewallSection
            && let Some(list) = raw.get("rules").and_then(Value::as_array)
        {
            for (i, r) in list.iter().enumerate() {
                let rid = s(r, "id").ok_or_else(|| format!("rules[{i}] has no `id`"))?;
                rules.push(FwRule {
                    display_name: s(r, "display_name").unwrap_or_else(|| rid.clone()),
                    id: rid,
                    create_user: s(r, "_create_user"),
                });
            }
        }
        let mut o = MpObject {
            kind,
            id,
            resource_type,
            display_name,
            revision,
            tags,
            create_user: s(&raw, "_create_user"),
            system_owned: raw
                .get("_system_owned")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            rules,
            references: Vec::new(),
            raw,
        };
        o.references = o.compute_refs();
        let mut kept = serde_json::Map::new();
        if let Value::Object(mut m) = std::mem::take(&mut o.raw) {
            for k in KEPT_FIELDS {
                if let Some(v) = m.remove(*k) {
                    kept.insert((*k).to_string(), v);
                }
            }
        }
        o.raw = Value::Object(kept);
        Ok(o)
    }

    pub fn tag(&self, scope: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.scope == scope)
            .map(|t| t.tag.as_str())
    }

    pub fn has_tag(&self, scope: &str, value: &str) -> bool {
        self.tags.iter().any(|t| t.scope == scope && t.tag == value)
    }

    pub fn str_field(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }

    /// Already a Policy object (promoted earlier): the markers promotion leaves (reference §9.2).
    pub fn already_in_policy(&self) -> bool {
        self.tag("policyPath").is_some() || self.create_user.as_deref() == Some("nsx_policy")
    }

    /// `router_type` of a logical router.
    pub fn router_type(&self) -> Option<&str> {
        self.str_field("router_type")
    }

    /// Every reference to another MP object (reference §7.4), in a fixed order.
    pub fn refs(&self) -> Vec<Ref> {
        self.references.clone()
    }

    fn compute_refs(&self) -> Vec<Ref> {
        use Kind::*;
        let mut out = Vec::new();
        let raw = &self.raw;
        let mut push = |field: &str, target: Option<&str>, kinds: &'static [Kind]| {
            if let Some(t) = target.filter(|t| !t.is_empty()) {
                out.push(Ref {
                    field: field.to_string(),
                    target: t.to_string(),
                    kinds,
                });
            }
        };
        let str_at = |p: &str| raw.pointer(p).and_then(Value::as_str);
        match self.kind {
            LogicalSwitch => {
                push("ip_pool_id", str_at("/ip_pool_id"), &[IpPool]);
                push("mac_pool_id", str_at("/mac_pool_id"), &[]);
                for (i, p) in array(raw, "switching_profile_ids").iter().enumerate() {
                    push(
                        &format!("switching_profile_ids[{i}]"),
                        p.get("value").and_then(Value::as_str),
                        &[SwitchingProfile],
                    );
                }
            }
            LogicalPort => {
                push(
                    "logical_switch_id",
                    str_at("/logical_switch_id"),
                    &[LogicalSwitch],
                );
                for (i, p) in array(raw, "switching_profile_ids").iter().enumerate() {
                    push(
                        &format!("switching_profile_ids[{i}]"),
                        p.get("value").and_then(Value::as_str),
                        &[SwitchingProfile],
                    );
                }
                // A LOGICALROUTER attachment points at the router port, which points back at this
                // port; the router port carries that link (it is imported after ports).
            }
            LogicalRouterPort => {
                push(
                    "logical_router_id",
                    str_at("/logical_router_id"),
                    &[LogicalRouter],
                );
                push(
                    "linked_logical_switch_port_id",
                    str_at("/linked_logical_switch_port_id/target_id"),
                    &[LogicalPort],
                );
                if self.resource_type == "LogicalRouterLinkPortOnTIER1" {
                    push(
                        "linked_logical_router_port_id",
                        str_at("/linked_logical_router_port_id/target_id"),
                        &[LogicalRouterPort],
                    );
                }
            }
            NatRule | StaticRoute => {
                push(
                    "logical_router_id",
                    str_at("/logical_router_id"),
                    &[LogicalRouter],
                );
            }
            IpBlockSubnet => push("block_id", str_at("/block_id"), &[IpBlock]),
            NsGroup => {
                for (i, m) in array(raw, "members").iter().enumerate() {
                    if m.get("target_property").and_then(Value::as_str) == Some("id") {
                        push(
                            &format!("members[{i}]"),
                            m.get("value").and_then(Value::as_str),
                            &[],
                        );
                    }
                }
            }
            FirewallSection => {
                for (i, t) in array(raw, "applied_tos").iter().enumerate() {
                    push(
                        &format!("applied_tos[{i}]"),
                        t.get("target_id").and_then(Value::as_str),
                        &[],
                    );
                }
                for r in array(raw, "rules") {
                    let rid = r.get("id").and_then(Value::as_str).unwrap_or("?");
                    for field in ["sources", "destinations", "applied_tos"] {
                        for t in array(r, field) {
                            push(
                                &format!("rules[{rid}].{field}"),
                                t.get("target_id").and_then(Value::as_str),
                                &[],
                            );
                        }
                    }
                    for t in array(r, "services") {
                        push(
                            &format!("rules[{rid}].services"),
                            t.get("target_id").and_then(Value::as_str),
                            &[],
                        );
                    }
                }
            }
            LbService => {
                push(
                    "attachment",
                    str_at("/attachment/target_id"),
                    &[LogicalRouter],
                );
                for (i, v) in array(raw, "virtual_server_ids").iter().enumerate() {
                    push(
                        &format!("virtual_server_ids[{i}]"),
                        v.as_str(),
                        &[LbVirtualServer],
                    );
                }
            }
            LbVirtualServer => {
                push("pool_id", str_at("/pool_id"), &[LbPool]);
                push("sorry_pool_id", str_at("/sorry_pool_id"), &[LbPool]);
                push(
                    "application_profile_id",
                    str_at("/application_profile_id"),
                    &[LbAppProfile],
                );
                push(
                    "persistence_profile_id",
                    str_at("/persistence_profile_id"),
                    &[LbPersistenceProfile],
                );
                for (i, v) in array(raw, "rule_ids").iter().enumerate() {
                    push(&format!("rule_ids[{i}]"), v.as_str(), &[LbRule]);
                }
                push(
                    "client_ssl_profile_binding.ssl_profile_id",
                    str_at("/client_ssl_profile_binding/ssl_profile_id"),
                    &[LbClientSslProfile],
                );
                push(
                    "client_ssl_profile_binding.default_certificate_id",
                    str_at("/client_ssl_profile_binding/default_certificate_id"),
                    &[Certificate],
                );
                if let Some(b) = raw.get("client_ssl_profile_binding") {
                    for (i, v) in array(b, "sni_certificate_ids").iter().enumerate() {
                        push(
                            &format!("client_ssl_profile_binding.sni_certificate_ids[{i}]"),
                            v.as_str(),
                            &[Certificate],
                        );
                    }
                }
                push(
                    "server_ssl_profile_binding.ssl_profile_id",
                    str_at("/server_ssl_profile_binding/ssl_profile_id"),
                    &[LbServerSslProfile],
                );
                push(
                    "server_ssl_profile_binding.client_certificate_id",
                    str_at("/server_ssl_profile_binding/client_certificate_id"),
                    &[Certificate],
                );
            }
            LbPool => {
                for (i, v) in array(raw, "active_monitor_ids").iter().enumerate() {
                    push(
                        &format!("active_monitor_ids[{i}]"),
                        v.as_str(),
                        &[LbMonitor],
                    );
                }
                push(
                    "passive_monitor_id",
                    str_at("/passive_monitor_id"),
                    &[LbMonitor],
                );
                push(
                    "member_group.grouping_object",
                    str_at("/member_group/grouping_object/target_id"),
                    &[NsGroup],
                );
            }
            LbRule => {
                for (i, a) in array(raw, "actions").iter().enumerate() {
                    push(
                        &format!("actions[{i}].pool_id"),
                        a.get("pool_id").and_then(Value::as_str),
                        &[LbPool],
                    );
                }
            }
            LogicalRouter | IpBlock | IpPool | IpSet | SwitchingProfile | Certificate
            | LbMonitor | LbAppProfile | LbPersistenceProfile | LbClientSslProfile
            | LbServerSslProfile => {}
        }
        out
    }
}

fn array<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

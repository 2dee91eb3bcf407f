//! Policy API (`/policy/api/v1`): GET / PATCH / PUT / DELETE of intents under `/infra`,
//! hierarchical `PATCH /infra`, and Policy search.
//!
//! PATCH creates or updates, and a `tags` field replaces the whole list; a PATCH that carries a
//! `_revision` is checked like a PUT (inferred: NSX documents the check for PUT only); PUT is a
//! full replace and needs the current `_revision` when the object exists (412 otherwise); DELETE of an object that
//! still has children is refused; deleting a promoted intent also deletes the MP object behind it.

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::api::{ApiError, ApiResult, Reply, Req, list_page};
use crate::state::State;
use crate::store::{check_protection, validate_common};
use crate::util::now_ms;

/// Collection name -> resource_type of its members.
const COLLECTIONS: &[(&str, &str)] = &[
    ("tier-0s", "Tier0"),
    ("tier-1s", "Tier1"),
    ("locale-services", "LocaleServices"),
    ("interfaces", "Tier0Interface"),
    ("static-routes", "StaticRoutes"),
    ("nat-rules", "PolicyNatRule"),
    ("nat", "PolicyNat"),
    ("segments", "Segment"),
    ("ports", "SegmentPort"),
    ("ip-blocks", "IpAddressBlock"),
    ("ip-pools", "IpAddressPool"),
    ("ip-subnets", "IpAddressPoolBlockSubnet"),
    ("ip-allocations", "IpAddressAllocation"),
    ("domains", "Domain"),
    ("groups", "Group"),
    ("security-policies", "SecurityPolicy"),
    ("gateway-policies", "GatewayPolicy"),
    ("rules", "Rule"),
    ("services", "Service"),
    ("service-entries", "L4PortSetServiceEntry"),
    ("lb-services", "LBService"),
    ("lb-virtual-servers", "LBVirtualServer"),
    ("lb-pools", "LBPool"),
    ("lb-app-profiles", "LBHttpProfile"),
    ("lb-monitor-profiles", "LBHttpMonitorProfile"),
    ("lb-persistence-profiles", "LBSourceIpPersistenceProfile"),
    ("lb-client-ssl-profiles", "LBClientSslProfile"),
    ("lb-server-ssl-profiles", "LBServerSslProfile"),
    ("certificates", "TlsCertificate"),
    ("spoofguard-profiles", "SpoofGuardProfile"),
    ("mac-discovery-profiles", "MacDiscoveryProfile"),
    ("ip-discovery-profiles", "IPDiscoveryProfile"),
    ("segment-security-profiles", "SegmentSecurityProfile"),
    ("qos-profiles", "QoSProfile"),
    ("dhcp-server-configs", "DhcpServerConfig"),
    ("dhcp-relay-configs", "DhcpRelayConfig"),
    ("metadata-proxies", "MetadataProxyConfig"),
];

fn collection_type(name: &str) -> Option<&'static str> {
    COLLECTIONS
        .iter()
        .find(|(c, _)| *c == name)
        .map(|(_, t)| *t)
}

/// For hierarchical API children: resource_type -> collection name.
fn collection_for_type(rt: &str) -> Option<&'static str> {
    if let Some((c, _)) = COLLECTIONS.iter().find(|(_, t)| *t == rt) {
        return Some(c);
    }
    Some(match rt {
        "Tier1Interface" => "interfaces",
        "IpAddressPoolStaticSubnet" => "ip-subnets",
        r if r.starts_with("LB") && r.ends_with("MonitorProfile") => "lb-monitor-profiles",
        r if r.starts_with("LB") && r.ends_with("PersistenceProfile") => "lb-persistence-profiles",
        "LBFastTcpProfile" | "LBFastUdpProfile" => "lb-app-profiles",
        _ => return None,
    })
}

fn children_of<'a>(st: &'a State, coll_path: &str) -> Vec<&'a Value> {
    let prefix = format!("{coll_path}/");
    st.policy
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| !k[prefix.len()..].contains('/'))
        .map(|(_, v)| v)
        .collect()
}

fn has_descendants(st: &State, path: &str) -> bool {
    let prefix = format!("{path}/");
    st.policy
        .range(prefix.clone()..)
        .next()
        .is_some_and(|(k, _)| k.starts_with(&prefix))
}

pub fn route(st: &mut State, req: &Req, rest: &[&str]) -> ApiResult {
    match rest {
        ["search", "query"] | ["search"] => {
            if req.method != Method::GET {
                return Err(ApiError::method_not_allowed(&req.method, &req.path));
            }
            crate::search::run(st, req, crate::search::Source::Policy)
        }
        ["infra"] if req.method == Method::PATCH => hierarchical(st, req),
        ["infra", ..] => {
            let path = format!("/{}", rest.join("/"));
            match req.method {
                Method::GET => get(st, req, &path, rest),
                Method::PATCH => {
                    let body = req.json()?;
                    if let Some(old) = st.policy.get(&path) {
                        check_protection(old, req)?;
                    }
                    patch(st, &path, &body, req)?;
                    Ok(Reply::empty(200))
                }
                Method::PUT => put(st, req, &path),
                Method::DELETE => {
                    if let Some(old) = st.policy.get(&path) {
                        check_protection(old, req)?;
                    }
                    delete(st, &path)?;
                    Ok(Reply::empty(200))
                }
                _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
            }
        }
        _ => Err(ApiError::not_found(&req.path)),
    }
}

fn get(st: &State, req: &Req, path: &str, rest: &[&str]) -> ApiResult {
    if let Some(o) = st.policy.get(path) {
        return Ok(Reply::json(o.clone()));
    }
    let last = rest.last().copied().unwrap_or("");
    let children = children_of(st, path);
    // A collection under an existing parent lists its members, none included (200, `results:
    // []`); under a parent that does not exist it is 404, as for any missing object.
    if !children.is_empty() || (is_collection(last) && parent_exists(st, path)) {
        let (off, size) = req.page()?;
        return Ok(list_page(children, off, size));
    }
    Err(ApiError::new(
        404,
        500012,
        "policy",
        format!("The path={path} is invalid or the object does not exist."),
    ))
}

/// Collections of the enforcement point (`/infra/sites/<site>/enforcement-points/<ep>/...`),
/// read-only here: their members come from the inventory.
const EP_COLLECTIONS: &[&str] = &[
    "sites",
    "enforcement-points",
    "transport-zones",
    "edge-clusters",
    "edge-nodes",
];

fn is_collection(name: &str) -> bool {
    collection_type(name).is_some() || EP_COLLECTIONS.contains(&name)
}

/// Does the object a collection path (`<parent>/<collection>`) hangs under exist? `/infra` and
/// the containers NSX always has (the default domain, site and enforcement point, a gateway's
/// NAT sections) count, and so does a parent that holds other children.
fn parent_exists(st: &State, coll_path: &str) -> bool {
    let Some((parent, _)) = coll_path.rsplit_once('/') else {
        return false;
    };
    if matches!(
        parent,
        "/infra"
            | "/infra/domains/default"
            | "/infra/sites/default"
            | "/infra/sites/default/enforcement-points/default"
    ) || st.policy.contains_key(parent)
        || has_descendants(st, parent)
    {
        return true;
    }
    // `<gateway>/nat/<USER|DEFAULT|NAT64>`: exists with its gateway.
    parent
        .rsplit_once("/nat/")
        .is_some_and(|(gw, _)| st.policy.contains_key(gw))
}

fn infer_type(path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    let coll = if segs.len() >= 2 {
        segs[segs.len() - 2]
    } else {
        ""
    };
    collection_type(coll).unwrap_or("PolicyObject").to_string()
}

fn check_parent(st: &State, path: &str) -> Result<(), ApiError> {
    // Parent object (two segments up) must exist for nested intents, except top-level /infra/<coll>/<id>
    // and the implicit containers (domains/default, nat/<section>).
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() <= 3 {
        return Ok(());
    }
    let parent = format!("/{}", segs[..segs.len() - 2].join("/"));
    let implicit = parent == "/infra/domains/default"
        || segs[segs.len() - 4] == "nat"
        || parent.ends_with("/nat/USER")
        || parent.ends_with("/nat/DEFAULT");
    if implicit || st.policy.contains_key(&parent) {
        return Ok(());
    }
    Err(ApiError::new(
        400,
        500016,
        "policy",
        format!("The parent object {parent} of {path} does not exist."),
    ))
}

/// Create-or-update with PATCH semantics (top-level fields replace, `tags` replaces the list).
/// Protection is the caller's business (checked before, for every object a request touches).
pub fn patch(st: &mut State, path: &str, body: &Value, req: &Req) -> Result<(), ApiError> {
    let user = req.user.as_str();
    validate_common(body)?;
    let now = now_ms();
    if let Some(old) = st.policy.get_mut(path) {
        let Some(m) = body.as_object() else {
            return Err(ApiError::bad_request("Request body must be a JSON object."));
        };
        if let Some(sent) = m.get("_revision") {
            check_revision(old, Some(sent), path)?;
        }
        for (k, v) in m {
            if k.starts_with('_')
                || matches!(
                    k.as_str(),
                    "id" | "path" | "relative_path" | "parent_path" | "resource_type"
                )
            {
                continue;
            }
            old[k.as_str()] = v.clone();
        }
        let rev = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
        old["_revision"] = json!(rev + 1);
        old["_last_modified_user"] = json!(user);
        old["_last_modified_time"] = json!(now);
        return Ok(());
    }
    check_parent(st, path)?;
    let mut obj = new_object(path, body, user, now);
    obj["_protection"] = json!(req.protection_for_new());
    st.policy.insert(path.to_string(), obj);
    Ok(())
}

pub(crate) fn new_object(path: &str, body: &Value, user: &str, now: i64) -> Value {
    let (parent, id) = path.rsplit_once('/').unwrap_or(("", path));
    let mut m: Map<String, Value> = body.as_object().cloned().unwrap_or_default();
    m.retain(|k, _| !k.starts_with('_'));
    let rt = m
        .get("resource_type")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| infer_type(path));
    m.insert("resource_type".into(), json!(rt));
    m.insert("id".into(), json!(id));
    m.entry("display_name").or_insert(json!(id));
    m.insert("path".into(), json!(path));
    m.insert("relative_path".into(), json!(id));
    m.insert("parent_path".into(), json!(parent));
    m.entry("marked_for_delete").or_insert(json!(false));
    m.insert("_revision".into(), json!(0));
    m.insert("_create_user".into(), json!(user));
    m.insert("_create_time".into(), json!(now));
    m.insert("_last_modified_user".into(), json!(user));
    m.insert("_last_modified_time".into(), json!(now));
    m.insert("_system_owned".into(), json!(false));
    m.insert("_protection".into(), json!("NOT_PROTECTED"));
    Value::Object(m)
}

/// The object's current `_revision`, or 412 when `sent` is missing or another one.
fn check_revision(old: &Value, sent: Option<&Value>, path: &str) -> Result<i64, ApiError> {
    let cur = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    if sent.and_then(Value::as_i64) != Some(cur) {
        return Err(ApiError::new(
            412,
            500090,
            "policy",
            format!(
                "The object {path} was modified by somebody else (revision {cur}). Fetch the latest copy of the object and retry."
            ),
        ));
    }
    Ok(cur)
}

fn put(st: &mut State, req: &Req, path: &str) -> ApiResult {
    let body = req.json()?;
    validate_common(&body)?;
    let now = now_ms();
    match st.policy.get(path).cloned() {
        Some(old) => {
            check_protection(&old, req)?;
            let cur = check_revision(&old, body.get("_revision"), path)?;
            let mut new = new_object(path, &body, &req.user, now);
            for f in [
                "_create_user",
                "_create_time",
                "resource_type",
                "_protection",
                "_system_owned",
            ] {
                if let Some(v) = old.get(f) {
                    new[f] = v.clone();
                }
            }
            new["_revision"] = json!(cur + 1);
            st.policy.insert(path.to_string(), new.clone());
            Ok(Reply::json(new))
        }
        None => {
            check_parent(st, path)?;
            let mut new = new_object(path, &body, &req.user, now);
            new["_protection"] = json!(req.protection_for_new());
            st.policy.insert(path.to_string(), new.clone());
            Ok(Reply::json(new))
        }
    }
}

pub fn delete(st: &mut State, path: &str) -> Result<(), ApiError> {
    if !st.policy.contains_key(path) {
        return Ok(());
    }
    if has_descendants(st, path) {
        return Err(ApiError::new(
            400,
            500030,
            "policy",
            format!("{path} still has child objects; delete them first."),
        ));
    }
    st.policy.remove(path);
    // A promoted intent owns the MP object behind it: deleting it realizes as an MP delete.
    if let Some(i) = st.mig.records.iter().position(|r| r.policy_path == path) {
        let Some(rec) = st.mig.remove_records(vec![i]).pop() else {
            return Ok(());
        };
        for m in &rec.marked {
            if m.kind == "firewall-sections" {
                st.mp.firewall.sections.remove(&m.id);
                st.mp.firewall.rules.remove(&m.id);
            } else if let Some(k) = crate::store::kind(&m.kind) {
                st.mp.coll_mut(k.key).remove(&m.id);
            }
        }
        for p in &rec.created {
            st.policy.remove(p);
        }
        st.mp.firewall.renumber();
    }
    Ok(())
}

/// `PATCH /policy/api/v1/infra` with `Child<Type>` and `ChildResourceReference` children.
/// All children are validated first (against the current state plus the earlier children of the
/// same request), then applied in order, so an invalid child leaves nothing half-applied.
fn hierarchical(st: &mut State, req: &Req) -> ApiResult {
    let body = req.json()?;
    if body.get("resource_type").and_then(Value::as_str) != Some("Infra") {
        return Err(ApiError::bad_request(
            "The hierarchical body must have resource_type Infra.",
        ));
    }
    let mut plan = Plan::default();
    walk(st, &mut plan, "/infra", body.get("children"))?;
    for op in &plan.ops {
        let (Op::Patch(path, _) | Op::Delete(path)) = op;
        if let Some(old) = st.policy.get(path) {
            check_protection(old, req)?;
        }
    }
    for op in plan.ops {
        match op {
            Op::Patch(path, body) => patch(st, &path, &body, req)?,
            Op::Delete(path) => delete(st, &path)?,
        }
    }
    Ok(Reply::empty(200))
}

enum Op {
    Patch(String, Value),
    Delete(String),
}

#[derive(Default)]
struct Plan {
    ops: Vec<Op>,
    created: std::collections::BTreeSet<String>,
    deleted: std::collections::BTreeSet<String>,
}

impl Plan {
    fn exists(&self, st: &State, path: &str) -> bool {
        self.created.contains(path)
            || (st.policy.contains_key(path) && !self.deleted.contains(path))
    }

    fn has_descendants(&self, st: &State, path: &str) -> bool {
        let prefix = format!("{path}/");
        st.policy
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .any(|(k, _)| !self.deleted.contains(k))
            || self.created.iter().any(|k| k.starts_with(&prefix))
    }
}

fn walk(st: &State, plan: &mut Plan, base: &str, children: Option<&Value>) -> Result<(), ApiError> {
    for (i, c) in children
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let rt = c.get("resource_type").and_then(Value::as_str).unwrap_or("");
        if rt == "ChildResourceReference" {
            let tt = c.get("target_type").and_then(Value::as_str).unwrap_or("");
            let id = c.get("id").and_then(Value::as_str).unwrap_or("");
            let coll = collection_for_type(tt).ok_or_else(|| {
                ApiError::bad_request(format!("children[{i}]: unknown target_type '{tt}'"))
            })?;
            let path = format!("{base}/{coll}/{id}");
            let implicit = tt == "Domain" && id == "default";
            if !implicit && !plan.exists(st, &path) {
                return Err(ApiError::new(
                    404,
                    500012,
                    "policy",
                    format!("children[{i}]: referenced object {path} does not exist."),
                ));
            }
            walk(st, plan, &path, c.get("children"))?;
            continue;
        }
        let Some(ty) = rt.strip_prefix("Child") else {
            return Err(ApiError::bad_request(format!(
                "children[{i}]: resource_type '{rt}' is not a Child<Type> wrapper"
            )));
        };
        let obj = c.get(ty).ok_or_else(|| {
            ApiError::bad_request(format!(
                "children[{i}]: the wrapped object property '{ty}' is missing"
            ))
        })?;
        let id = obj.get("id").and_then(Value::as_str).ok_or_else(|| {
            ApiError::bad_request(format!("children[{i}]: the wrapped {ty} has no id"))
        })?;
        let coll = collection_for_type(ty)
            .ok_or_else(|| ApiError::bad_request(format!("children[{i}]: unknown type '{ty}'")))?;
        let path = format!("{base}/{coll}/{id}");
        let marked = c.get("marked_for_delete").and_then(Value::as_bool) == Some(true)
            || obj.get("marked_for_delete").and_then(Value::as_bool) == Some(true);
        if marked {
            if plan.exists(st, &path) {
                if plan.has_descendants(st, &path) {
                    return Err(ApiError::new(
                        400,
                        500030,
                        "policy",
                        format!("{path} still has child objects; delete them first."),
                    ));
                }
                plan.created.remove(&path);
                plan.deleted.insert(path.clone());
                plan.ops.push(Op::Delete(path));
            }
            continue;
        }
        let mut body = obj.clone();
        if let Some(m) = body.as_object_mut() {
            m.remove("children");
        }
        validate_common(&body)?;
        if !plan.exists(st, &path) {
            let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            if segs.len() > 3 {
                let parent = format!("/{}", segs[..segs.len() - 2].join("/"));
                let implicit = parent == "/infra/domains/default"
                    || segs[segs.len() - 4] == "nat"
                    || parent.ends_with("/nat/USER")
                    || parent.ends_with("/nat/DEFAULT");
                if !implicit && !plan.exists(st, &parent) {
                    return Err(ApiError::new(
                        400,
                        500016,
                        "policy",
                        format!("The parent object {parent} of {path} does not exist."),
                    ));
                }
            }
            plan.created.insert(path.clone());
            plan.deleted.remove(&path);
        }
        plan.ops.push(Op::Patch(path.clone(), body));
        walk(st, plan, &path, obj.get("children"))?;
    }
    Ok(())
}

//! Distributed firewall sections and rules (`/api/v1/firewall/sections`), in evaluation order.
//!
//! Order changes use `operation=insert_top|insert_bottom|insert_before|insert_after` with `id=<anchor>`
//! (default `insert_top`). A default section (or rule, `is_default`) stays last: `insert_bottom` lands
//! just above it. Concurrent modification (stale `_revision`) answers 409.

use axum::http::Method;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Reply, Req, list_page};
use crate::state::State;
use crate::store::{check_protection, stamp_new, stamp_update, validate_common};
use crate::util::now_ms;

const SECTION_TYPES: &[&str] = &["LAYER2", "LAYER3", "L3REDIRECT"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Top,
    Bottom,
    Before,
    After,
}

fn parse_op(req: &Req) -> Result<(Op, Option<String>), ApiError> {
    let op = match req.q("operation").unwrap_or("insert_top") {
        "insert_top" => Op::Top,
        "insert_bottom" => Op::Bottom,
        "insert_before" => Op::Before,
        "insert_after" => Op::After,
        other => {
            return Err(ApiError::bad_request(format!(
                "Invalid value '{other}' for parameter operation; expected insert_top, insert_bottom, insert_before or insert_after."
            )));
        }
    };
    let anchor = req.q("id").filter(|s| !s.is_empty()).map(str::to_string);
    if matches!(op, Op::Before | Op::After) && anchor.is_none() {
        return Err(ApiError::bad_request(
            "Parameter id (the anchor) is required for insert_before and insert_after.",
        ));
    }
    if let Some(a) = &anchor
        && a.len() > 64
    {
        return Err(ApiError::bad_request("Parameter id exceeds 64 characters."));
    }
    Ok((op, anchor))
}

fn is_default(v: &Value) -> bool {
    v.get("is_default").and_then(Value::as_bool) == Some(true)
}

/// Position at which to insert into `ids` (which does not contain the moving element).
fn position(
    ids: &[String],
    defaults: &[bool],
    op: Op,
    anchor: Option<&str>,
    what: &str,
) -> Result<usize, ApiError> {
    match op {
        Op::Top => Ok(0),
        Op::Bottom => {
            // Above the trailing default element(s).
            let mut pos = ids.len();
            while pos > 0 && defaults[pos - 1] {
                pos -= 1;
            }
            Ok(pos)
        }
        Op::Before | Op::After => {
            let a = anchor.unwrap_or("");
            let i = ids.iter().position(|x| x == a).ok_or_else(|| {
                ApiError::new(
                    404,
                    202,
                    "firewall",
                    format!("The anchor {what} {a} given in parameter id could not be found."),
                )
            })?;
            Ok(if op == Op::Before { i } else { i + 1 })
        }
    }
}

fn stale_409(what: &str, id: &str) -> ApiError {
    ApiError::new(
        409,
        244,
        "firewall",
        format!(
            "The {what} {id} was modified concurrently by another request. Fetch the latest copy of the object and retry."
        ),
    )
}

fn revision_matches(old: &Value, body: &Value) -> bool {
    let cur = old.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    body.get("_revision").and_then(Value::as_i64) == Some(cur)
}

fn bump(v: &mut Value, user: &str) {
    let rev = v.get("_revision").and_then(Value::as_i64).unwrap_or(0);
    v["_revision"] = json!(rev + 1);
    v["_last_modified_user"] = json!(user);
    v["_last_modified_time"] = json!(now_ms());
}

fn validate_section(body: &Value) -> Result<(), ApiError> {
    validate_common(body)?;
    let st = body.get("section_type").and_then(Value::as_str);
    match st {
        Some(t) if SECTION_TYPES.contains(&t) => {}
        Some(t) => {
            return Err(ApiError::bad_request(format!(
                "Invalid section_type '{t}'."
            )));
        }
        None => {
            return Err(ApiError::bad_request(
                "Field level validation errors: {required property section_type is missing}",
            ));
        }
    }
    if body.get("stateful").and_then(Value::as_bool).is_none() {
        return Err(ApiError::bad_request(
            "Field level validation errors: {required property stateful is missing}",
        ));
    }
    if st == Some("LAYER2") && body.get("stateful").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::bad_request(
            "LAYER2 sections can only be stateless.",
        ));
    }
    if body
        .get("applied_tos")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() > 128)
    {
        return Err(ApiError::bad_request(
            "applied_tos has more than 128 items.",
        ));
    }
    Ok(())
}

fn validate_rule(body: &Value) -> Result<(), ApiError> {
    validate_common(body)?;
    match body.get("action").and_then(Value::as_str) {
        Some("ALLOW" | "DROP" | "REJECT" | "REDIRECT" | "DO_NOT_REDIRECT") => {}
        Some(a) => return Err(ApiError::bad_request(format!("Invalid rule action '{a}'."))),
        None => {
            return Err(ApiError::bad_request(
                "Field level validation errors: {required property action is missing}",
            ));
        }
    }
    for f in ["sources", "destinations", "services", "applied_tos"] {
        if body
            .get(f)
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 128)
        {
            return Err(ApiError::bad_request(format!(
                "{f} has more than 128 items."
            )));
        }
    }
    if let Some(t) = body.get("rule_tag").and_then(Value::as_str)
        && t.chars().count() > 32
    {
        return Err(ApiError::bad_request("rule_tag exceeds 32 characters."));
    }
    Ok(())
}

pub fn route(st: &mut State, req: &Req, rest: &[&str]) -> ApiResult {
    match rest {
        [] => sections(st, req),
        [sid] => section(st, req, sid),
        [sid, "rules"] => rules(st, req, sid),
        [sid, "rules", rid] => rule(st, req, sid, rid),
        _ => Err(ApiError::not_found(&req.path)),
    }
}

fn get_section(st: &State, sid: &str) -> Result<Value, ApiError> {
    st.mp
        .firewall
        .sections
        .get(sid)
        .cloned()
        .ok_or_else(|| ApiError::not_found(&format!("FirewallSection/{sid}")))
}

fn section_defaults(st: &State) -> Vec<bool> {
    st.mp
        .firewall
        .sections
        .order
        .iter()
        .map(|id| st.mp.firewall.sections.get(id).is_some_and(is_default))
        .collect()
}

/// Place section `id` (already removed from order) according to op/anchor.
fn place_section(st: &mut State, id: &str, op: Op, anchor: Option<&str>) -> Result<(), ApiError> {
    if anchor == Some(id) {
        return Err(ApiError::bad_request(
            "A section cannot be placed relative to itself.",
        ));
    }
    let defaults = section_defaults(st);
    let pos = position(
        &st.mp.firewall.sections.order,
        &defaults,
        op,
        anchor,
        "section",
    )?;
    st.mp.firewall.sections.order.insert(pos, id.to_string());
    Ok(())
}

fn prepare_rules(st: &mut State, rules: &[Value], user: &str) -> Result<Vec<Value>, ApiError> {
    if rules.len() > 1000 {
        return Err(ApiError::bad_request(
            "A section can hold at most 1000 firewall rules.",
        ));
    }
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        validate_rule(r)?;
        let mut r = r.clone();
        let id = st.mp.alloc_numeric_id();
        stamp_new(&mut r, &id, "FirewallRule", user, now_ms());
        // Rules carry no protection/system fields of their own in list_with_rules output.
        if let Some(m) = r.as_object_mut() {
            m.remove("_protection");
            m.remove("_system_owned");
        }
        out.push(r);
    }
    Ok(out)
}

fn sections(st: &mut State, req: &Req) -> ApiResult {
    match req.method {
        Method::GET => {
            let (off, size) = req.page()?;
            let ty = req.q("type").unwrap_or("LAYER3");
            let fw = &st.mp.firewall;
            let items: Vec<&Value> = fw
                .sections
                .iter()
                .filter(|s| {
                    s.get("section_type")
                        .and_then(Value::as_str)
                        .unwrap_or("LAYER3")
                        == ty
                })
                .filter(|s| match req.q("enforced_on") {
                    Some(e) => s.get("enforced_on").and_then(Value::as_str) == Some(e),
                    None => true,
                })
                .collect();
            Ok(list_page(items, off, size))
        }
        Method::POST => {
            let with_rules = match req.q("action") {
                None => false,
                Some("create_with_rules") => true,
                Some(a) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid action '{a}' for the sections collection."
                    )));
                }
            };
            let (op, anchor) = parse_op(req)?;
            let body = req.json()?;
            validate_section(&body)?;
            let rules_in: Vec<Value> = if with_rules {
                body.get("rules")
                    .and_then(Value::as_array)
                    .cloned()
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "Field level validation errors: {required property rules is missing}",
                        )
                    })?
            } else {
                Vec::new()
            };
            let rules = prepare_rules(st, &rules_in, &req.user)?;
            let id = st.rng.uuid();
            let mut sec = body.clone();
            if let Some(m) = sec.as_object_mut() {
                m.remove("rules");
                m.remove("priority");
                m.remove("rule_count");
            }
            stamp_new(&mut sec, &id, "FirewallSection", &req.user, now_ms());
            sec["_protection"] = json!(req.protection_for_new());
            if sec.get("enforced_on").is_none() {
                sec["enforced_on"] = json!("VIF");
            }
            if sec.get("is_default").is_none() {
                sec["is_default"] = json!(false);
            }
            sec["locked"] = json!(false);
            if sec.get("category").is_none() {
                sec["category"] = json!("Default");
            }
            place_section(st, &id, op, anchor.as_deref())?;
            st.mp.firewall.sections.map.insert(id.clone(), sec);
            st.mp.firewall.rules.insert(id.clone(), rules);
            st.mp.firewall.renumber();
            let out = if with_rules {
                let mut s = st.mp.firewall.section_with_rules(&id).unwrap_or_default();
                s["resource_type"] = json!("FirewallSectionRuleList");
                s
            } else {
                st.mp
                    .firewall
                    .sections
                    .get(&id)
                    .cloned()
                    .unwrap_or_default()
            };
            Ok(Reply::created(out))
        }
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

fn with_rules_view(st: &State, sid: &str) -> Value {
    let mut s = st.mp.firewall.section_with_rules(sid).unwrap_or_default();
    s["resource_type"] = json!("FirewallSectionRuleList");
    s
}

fn check_locked(sec: &Value, sid: &str) -> Result<(), ApiError> {
    if sec.get("locked").and_then(Value::as_bool) == Some(true) {
        return Err(ApiError::new(
            400,
            100160,
            "firewall",
            format!("Section {sid} is locked; unlock it before modifying it."),
        ));
    }
    Ok(())
}

fn section(st: &mut State, req: &Req, sid: &str) -> ApiResult {
    let old = get_section(st, sid)?;
    match (&req.method, req.q("action")) {
        (&Method::GET, None) => Ok(Reply::json(old)),
        (&Method::POST, Some("list_with_rules")) => Ok(Reply::json(with_rules_view(st, sid))),
        (&Method::PUT, None) => {
            let body = req.json()?;
            check_protection(&old, req)?;
            if !revision_matches(&old, &body) {
                return Err(stale_409("section", sid));
            }
            check_locked(&old, sid)?;
            let mut probe = body.clone();
            if probe.get("section_type").is_none() {
                probe["section_type"] = old["section_type"].clone();
            }
            validate_section(&probe)?;
            let new = merge_section(&old, &body, &req.user);
            st.mp.firewall.sections.map.insert(sid.to_string(), new);
            st.mp.firewall.renumber();
            Ok(Reply::json(get_section(st, sid)?))
        }
        (&Method::DELETE, None) => {
            check_protection(&old, req)?;
            let n = st.mp.firewall.rules.get(sid).map(Vec::len).unwrap_or(0);
            if n > 0 && req.q("cascade") != Some("true") {
                return Err(ApiError::new(
                    400,
                    100040,
                    "firewall",
                    format!("Section {sid} has {n} rule(s); delete with cascade=true."),
                ));
            }
            st.mp.firewall.sections.remove(sid);
            st.mp.firewall.rules.remove(sid);
            st.mp.firewall.renumber();
            Ok(Reply::empty(200))
        }
        (&Method::POST, Some(action @ ("revise" | "revise_with_rules" | "update_with_rules"))) => {
            let body = req.json()?;
            check_protection(&old, req)?;
            if !revision_matches(&old, &body) {
                return Err(stale_409("section", sid));
            }
            check_locked(&old, sid)?;
            let mut probe = body.clone();
            if probe.get("section_type").is_none() {
                probe["section_type"] = old["section_type"].clone();
            }
            if probe.get("stateful").is_none() {
                probe["stateful"] = old["stateful"].clone();
            }
            validate_section(&probe)?;
            let new_rules = if action == "revise" {
                None
            } else {
                let rules = body.get("rules").and_then(Value::as_array).ok_or_else(|| {
                    ApiError::bad_request(
                        "Field level validation errors: {required property rules is missing}",
                    )
                })?;
                Some(rules.clone())
            };
            if action != "update_with_rules" {
                let (op, anchor) = parse_op(req)?;
                if anchor.as_deref() == Some(sid) {
                    return Err(ApiError::bad_request(
                        "A section cannot be placed relative to itself.",
                    ));
                }
                let keep = st.mp.firewall.sections.order.clone();
                st.mp.firewall.sections.order.retain(|x| x != sid);
                if let Err(e) = place_section(st, sid, op, anchor.as_deref()) {
                    st.mp.firewall.sections.order = keep;
                    return Err(e);
                }
            }
            if let Some(rules) = new_rules {
                let existing: Vec<Value> =
                    st.mp.firewall.rules.get(sid).cloned().unwrap_or_default();
                let mut out = Vec::new();
                for r in &rules {
                    validate_rule(r)?;
                    let rid = r.get("id").and_then(Value::as_str);
                    match rid.and_then(|rid| {
                        existing
                            .iter()
                            .find(|e| e.get("id").and_then(Value::as_str) == Some(rid))
                    }) {
                        Some(e) => out.push(stamp_update(e, r, &req.user, now_ms())),
                        None => out.extend(prepare_rules(st, std::slice::from_ref(r), &req.user)?),
                    }
                }
                for r in out.iter_mut() {
                    if let Some(m) = r.as_object_mut() {
                        m.remove("_protection");
                        m.remove("_system_owned");
                    }
                }
                st.mp.firewall.rules.insert(sid.to_string(), out);
            }
            let new = merge_section(&old, &body, &req.user);
            st.mp.firewall.sections.map.insert(sid.to_string(), new);
            st.mp.firewall.renumber();
            if action == "revise" {
                Ok(Reply::json(get_section(st, sid)?))
            } else {
                Ok(Reply::json(with_rules_view(st, sid)))
            }
        }
        (&Method::POST, Some(action @ ("lock" | "unlock"))) => {
            let body = req.json()?;
            if !revision_matches(&old, &body) {
                return Err(stale_409("section", sid));
            }
            let mut new = old.clone();
            new["locked"] = json!(action == "lock");
            new["lock_modified_by"] = json!(req.user);
            new["lock_modified_time"] = json!(now_ms());
            bump(&mut new, &req.user);
            st.mp
                .firewall
                .sections
                .map
                .insert(sid.to_string(), new.clone());
            Ok(Reply::json(new))
        }
        (m, a) => Err(ApiError::bad_request(format!(
            "Unsupported request {m} with action {:?} on section {sid}.",
            a.unwrap_or("")
        ))),
    }
}

/// New section object from a PUT/revise body, keeping system and read-only fields.
fn merge_section(old: &Value, body: &Value, user: &str) -> Value {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("rules");
    }
    let mut new = stamp_update(old, &b, user, now_ms());
    for f in [
        "priority",
        "rule_count",
        "locked",
        "enforced_on",
        "lock_modified_by",
        "lock_modified_time",
    ] {
        match old.get(f) {
            Some(v) => new[f] = v.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove(f);
                }
            }
        }
    }
    if let Some(m) = new.as_object_mut() {
        m.remove("rules");
    }
    new
}

fn rule_ids(st: &State, sid: &str) -> (Vec<String>, Vec<bool>) {
    let rules = st.mp.firewall.rules.get(sid).cloned().unwrap_or_default();
    (
        rules
            .iter()
            .map(|r| {
                r.get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            })
            .collect(),
        rules.iter().map(is_default).collect(),
    )
}

fn touch_section(st: &mut State, sid: &str, user: &str) {
    if let Some(s) = st.mp.firewall.sections.get_mut(sid) {
        bump(s, user);
    }
    st.mp.firewall.renumber();
}

/// When a rule body carries `_revision`, it must match the section's (nsxlib sends the section's).
fn check_rule_create_revision(sec: &Value, body: &Value, sid: &str) -> Result<(), ApiError> {
    if body.get("_revision").is_some() && !revision_matches(sec, body) {
        return Err(stale_409("section", sid));
    }
    Ok(())
}

fn rules(st: &mut State, req: &Req, sid: &str) -> ApiResult {
    let sec = get_section(st, sid)?;
    match req.method {
        Method::GET => {
            let (off, size) = req.page()?;
            let rules = st.mp.firewall.rules.get(sid).cloned().unwrap_or_default();
            Ok(list_page(rules.iter().collect(), off, size))
        }
        Method::POST => {
            check_protection(&sec, req)?;
            check_locked(&sec, sid)?;
            let (op, anchor) = parse_op(req)?;
            let body = req.json()?;
            let multiple = match req.q("action") {
                None => false,
                Some("create_multiple") => true,
                Some(a) => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid action '{a}' for the rules collection."
                    )));
                }
            };
            let input: Vec<Value> =
                if multiple {
                    body.get("rules").and_then(Value::as_array).cloned().ok_or_else(|| {
                    ApiError::bad_request(
                        "Field level validation errors: {required property rules is missing}",
                    )
                })?
                } else {
                    vec![body.clone()]
                };
            for r in &input {
                check_rule_create_revision(&sec, r, sid)?;
            }
            let (ids, defaults) = rule_ids(st, sid);
            if ids.len() + input.len() > 1000 {
                return Err(ApiError::bad_request(
                    "A section can hold at most 1000 firewall rules.",
                ));
            }
            let pos = position(&ids, &defaults, op, anchor.as_deref(), "rule")?;
            let new = prepare_rules(st, &input, &req.user)?;
            let list = st.mp.firewall.rules.entry(sid.to_string()).or_default();
            for (i, r) in new.iter().enumerate() {
                list.insert(pos + i, r.clone());
            }
            touch_section(st, sid, &req.user);
            if multiple {
                Ok(Reply::json(json!({ "rules": new })))
            } else {
                Ok(Reply::json(new.into_iter().next().unwrap_or_default()))
            }
        }
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

fn rule(st: &mut State, req: &Req, sid: &str, rid: &str) -> ApiResult {
    let sec = get_section(st, sid)?;
    let (ids, _) = rule_ids(st, sid);
    let Some(idx) = ids.iter().position(|x| x == rid) else {
        return Err(ApiError::not_found(&format!("FirewallRule/{rid}")));
    };
    let old = st.mp.firewall.rules[sid][idx].clone();
    match (&req.method, req.q("action")) {
        (&Method::GET, None) => Ok(Reply::json(old)),
        (&Method::PUT, None) | (&Method::POST, Some("revise")) => {
            check_protection(&sec, req)?;
            check_locked(&sec, sid)?;
            let body = req.json()?;
            if !revision_matches(&old, &body) {
                return Err(stale_409("rule", rid));
            }
            validate_rule(&body)?;
            let mut new = stamp_update(&old, &body, &req.user, now_ms());
            if let Some(m) = new.as_object_mut() {
                m.remove("_protection");
                m.remove("_system_owned");
            }
            let list = st.mp.firewall.rules.entry(sid.to_string()).or_default();
            if req.method == Method::POST {
                let (op, anchor) = parse_op(req)?;
                if anchor.as_deref() == Some(rid) {
                    return Err(ApiError::bad_request(
                        "A rule cannot be placed relative to itself.",
                    ));
                }
                let mut rest: Vec<Value> = list.clone();
                rest.remove(idx);
                let rest_ids: Vec<String> = rest
                    .iter()
                    .map(|r| {
                        r.get("id")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string()
                    })
                    .collect();
                let rest_def: Vec<bool> = rest.iter().map(is_default).collect();
                let pos = position(&rest_ids, &rest_def, op, anchor.as_deref(), "rule")?;
                rest.insert(pos, new.clone());
                *list = rest;
            } else {
                list[idx] = new.clone();
            }
            touch_section(st, sid, &req.user);
            Ok(Reply::json(new))
        }
        (&Method::DELETE, None) => {
            check_protection(&sec, req)?;
            check_locked(&sec, sid)?;
            if let Some(list) = st.mp.firewall.rules.get_mut(sid) {
                list.remove(idx);
            }
            touch_section(st, sid, &req.user);
            Ok(Reply::empty(200))
        }
        (m, a) => Err(ApiError::bad_request(format!(
            "Unsupported request {m} with action {:?} on rule {rid}.",
            a.unwrap_or("")
        ))),
    }
}

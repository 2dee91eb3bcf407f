//! Grouping and firewall: IP sets and NS groups (both become Policy groups) and DFW sections
//! (security policies with their rules).

use serde_json::{Value, json};

use crate::coordinator::promote::{Promotion, copy_fields};
use crate::coordinator::resolve::{
    dependencies, display_name, group_target_type, meta, path_or_null, refs_from_targets, str_field,
};
use crate::state::State;
use crate::store::tags_of;

// IP_SET

pub fn ip_set(p: &mut Promotion) {
    p.intent["expression"] = json!([{
        "resource_type": "IPAddressExpression",
        "ip_addresses": p.obj.get("ip_addresses").cloned().unwrap_or(json!([])),
    }]);
}

// NS_GROUP: tag criteria become conditions, static members a path expression.

pub fn ns_group_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    for m in obj
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let tt = m.get("target_type").and_then(Value::as_str).unwrap_or("");
        if m.get("target_property").and_then(Value::as_str) == Some("id")
            && let (Some(t), Some(v)) = (
                group_target_type(tt),
                m.get("value").and_then(Value::as_str),
            )
        {
            out.push((t.to_string(), v.to_string()));
        }
    }
}

pub fn ns_group(p: &mut Promotion) {
    let (st, obj) = (p.st, p.obj);
    let mut expr: Vec<Value> = Vec::new();
    for c in obj
        .get("membership_criteria")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if c.get("resource_type").and_then(Value::as_str) == Some("NSGroupTagExpression") {
            let member = match c.get("target_type").and_then(Value::as_str) {
                Some("LogicalSwitch") => "Segment",
                _ => "SegmentPort",
            };
            if !expr.is_empty() {
                expr.push(
                    json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}),
                );
            }
            expr.push(json!({
                "resource_type": "Condition", "key": "Tag", "member_type": member, "operator": "EQUALS",
                "value": format!("{}|{}", c.get("scope").and_then(Value::as_str).unwrap_or(""),
                                 c.get("tag").and_then(Value::as_str).unwrap_or("")),
            }));
        }
    }
    let member_paths: Vec<String> = dependencies(st, "NS_GROUP", obj)
        .iter()
        .filter_map(|(dt, did)| path_or_null(st, dt, Some(did)))
        .collect();
    if !member_paths.is_empty() {
        if !expr.is_empty() {
            expr.push(
                json!({"resource_type": "ConjunctionOperator", "conjunction_operator": "OR"}),
            );
        }
        expr.push(json!({"resource_type": "PathExpression", "paths": member_paths}));
    }
    p.intent["expression"] = Value::Array(expr);
}

// DFW_SECTION: a security policy; each rule becomes a child Rule intent. Rule ids and sequence
// numbers come from the item's linked ids (`<rule id>-policyid`, `<rule id>`).

pub fn dfw_section_deps(_: &State, obj: &Value, out: &mut Vec<(String, String)>) {
    refs_from_targets(obj.get("applied_tos"), out);
    for r in obj
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for f in ["sources", "destinations", "applied_tos"] {
            refs_from_targets(r.get(f), out);
        }
    }
}

pub fn dfw_section(p: &mut Promotion) {
    let (st, obj, d) = (p.st, p.obj, p.details);
    let category = meta(d, "category").unwrap_or("Environment");
    p.intent["category"] = json!(category);
    p.intent["sequence_number"] = json!(
        meta(d, "sequence")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(1)
    );
    p.intent["stateful"] = obj.get("stateful").cloned().unwrap_or(json!(true));
    let groups = |list: Option<&Value>| -> Value {
        let paths: Vec<String> = list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|a| {
                let tt = a
                    .get("target_type")
                    .and_then(Value::as_str)
                    .and_then(group_target_type)?;
                path_or_null(st, tt, a.get("target_id").and_then(Value::as_str))
            })
            .collect();
        if paths.is_empty() {
            json!(["ANY"])
        } else {
            json!(paths)
        }
    };
    p.intent["scope"] = groups(obj.get("applied_tos"));
    for (i, r) in obj
        .get("rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let rid = str_field(r, "id").unwrap_or_default();
        let rpid = d
            .linked_ids
            .iter()
            .find(|k| k.key == format!("{rid}-policyid"))
            .and_then(|k| k.value.clone())
            .unwrap_or_else(|| rid.clone());
        let seq = d
            .linked_ids
            .iter()
            .find(|k| k.key == rid)
            .and_then(|k| k.value.as_deref())
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(i as i64 + 1);
        let rpath = format!("{}/rules/{rpid}", p.path);
        let mut rule = p.new_intent(&rpath, "Rule", &display_name(r), &tags_of(r));
        rule["action"] = r.get("action").cloned().unwrap_or(json!("ALLOW"));
        rule["sequence_number"] = json!(seq);
        rule["source_groups"] = groups(r.get("sources"));
        rule["destination_groups"] = groups(r.get("destinations"));
        rule["services"] = json!(["ANY"]);
        rule["scope"] = groups(r.get("applied_tos"));
        copy_fields(
            r,
            &mut rule,
            &["direction", "ip_protocol", "disabled", "logged"],
        );
        p.extra.push((rpath, rule));
    }
}

//! OpenStack list semantics shared by Neutron and Octavia (neutron-lib api-ref "pagination",
//! "filtering", "fields"): `limit` / `marker` / `page_reverse` paging in id order with
//! `<collection>_links` (`rel` `next` / `previous`), `fields=` (repeatable) and filters where a
//! repeated key means OR.

use serde_json::{Map, Value, json};

use crate::api::Req;

/// How a service shapes its lists.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Octavia always sends `<collection>_links` (possibly empty); Neutron only when paging.
    pub always_links: bool,
}

/// Query parameters that are not filters.
const RESERVED: &[&str] = &[
    "fields",
    "limit",
    "marker",
    "page_reverse",
    "sort_key",
    "sort_dir",
    "sort",
    "tags",
    "tags-any",
    "not-tags",
    "not-tags-any",
];

/// A client error: status and message.
pub type ListError = (u16, String);

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Does the field value match one filter value? Booleans compare case-insensitively ("True"),
/// lists match when they contain the value, `fixed_ips` takes `ip_address=` / `subnet_id=`.
fn matches(field: &str, v: &Value, want: &str) -> bool {
    if field == "fixed_ips"
        && let Some((k, x)) = want.split_once('=')
    {
        return v.as_array().is_some_and(|a| {
            a.iter()
                .any(|ip| ip.get(k).and_then(Value::as_str) == Some(x))
        });
    }
    match v {
        Value::Bool(b) => want.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        Value::Array(a) => a.iter().any(|x| scalar_text(x).is_some_and(|t| t == want)),
        other => scalar_text(other).is_some_and(|t| t == want),
    }
}

fn tag_list(o: &Value) -> Vec<&str> {
    o.get("tags")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn id_of<'a>(o: &'a Value, id_field: &str) -> &'a str {
    o.get(id_field).and_then(Value::as_str).unwrap_or("")
}

/// Filter, page and project `items` (already sorted by id and scoped to the caller) into the list
/// body `{"<key>": [...], "<key>_links": [...]}`. `href` is the collection's absolute URL.
pub fn list(
    items: &[&Value],
    req: &Req,
    key: &str,
    id_field: &str,
    href: &str,
    style: Style,
) -> Result<Value, ListError> {
    // Filters: key -> accepted values (a repeated key is OR).
    let mut filters: Vec<(&str, Vec<&str>)> = Vec::new();
    for (k, v) in &req.query {
        if RESERVED.contains(&k.as_str()) {
            continue;
        }
        match filters.iter_mut().find(|(fk, _)| *fk == k.as_str()) {
            Some((_, vals)) => vals.push(v.as_str()),
            None => filters.push((k.as_str(), vec![v.as_str()])),
        }
    }
    for (k, _) in &filters {
        if !items.is_empty() && !items.iter().any(|o| o.get(*k).is_some()) {
            return Err((400, format!("{k} is not a valid filter for {key}")));
        }
    }
    let tag_param = |name: &str| -> Option<Vec<&str>> {
        let v: Vec<&str> = super::query_all(req, &[name]);
        (!v.is_empty()).then_some(v)
    };
    let (tags_all, tags_any, not_all, not_any) = (
        tag_param("tags"),
        tag_param("tags-any"),
        tag_param("not-tags"),
        tag_param("not-tags-any"),
    );
    let selected: Vec<&Value> = items
        .iter()
        .copied()
        .filter(|o| {
            filters.iter().all(|(k, vals)| {
                o.get(*k)
                    .is_some_and(|fv| vals.iter().any(|w| matches(k, fv, w)))
            })
        })
        .filter(|o| {
            let t = tag_list(o);
            tags_all
                .as_ref()
                .is_none_or(|w| w.iter().all(|x| t.contains(x)))
                && tags_any
                    .as_ref()
                    .is_none_or(|w| w.iter().any(|x| t.contains(x)))
                && not_all
                    .as_ref()
                    .is_none_or(|w| !w.iter().all(|x| t.contains(x)))
                && not_any
                    .as_ref()
                    .is_none_or(|w| !w.iter().any(|x| t.contains(x)))
        })
        .collect();

    let limit = match req.q("limit") {
        None | Some("") => None,
        Some(s) => match s.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(0) | Ok(-1) => None,
            _ => {
                return Err((
                    400,
                    format!(
                        "Bad limit request: Limit must be an integer 0 or greater and not '{s}'"
                    ),
                ));
            }
        },
    };
    let marker = req.q("marker").filter(|m| !m.is_empty());
    let reverse = req
        .q("page_reverse")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");

    let mut links = Vec::new();
    let page: Vec<&Value> = match limit {
        None if marker.is_none() => selected,
        _ => {
            let candidates: Vec<&Value> = selected
                .into_iter()
                .filter(|o| match marker {
                    None => true,
                    Some(m) if reverse => id_of(o, id_field) < m,
                    Some(m) => id_of(o, id_field) > m,
                })
                .collect();
            let n = limit.unwrap_or(usize::MAX).min(candidates.len());
            let more = candidates.len() > n;
            let page: Vec<&Value> = if reverse {
                candidates[candidates.len() - n..].to_vec()
            } else {
                candidates[..n].to_vec()
            };
            let link = |marker: &str, rev: bool, rel: &str| {
                let mut q: Vec<String> = req
                    .query
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "marker" | "page_reverse"))
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect();
                q.push(format!("marker={}", enc(marker)));
                if rev {
                    q.push("page_reverse=True".into());
                }
                json!({"href": format!("{href}?{}", q.join("&")), "rel": rel})
            };
            if let (Some(first), Some(last)) = (page.first(), page.last()) {
                let (first, last) = (id_of(first, id_field), id_of(last, id_field));
                if reverse {
                    if more {
                        links.push(link(first, true, "next"));
                    }
                    if marker.is_some() {
                        links.push(link(last, false, "previous"));
                    }
                } else {
                    if more {
                        links.push(link(last, false, "next"));
                    }
                    if marker.is_some() {
                        links.push(link(first, true, "previous"));
                    }
                }
            }
            page
        }
    };

    let fields: Vec<&str> = super::query_all(req, &["fields"]);
    let out: Vec<Value> = page.into_iter().map(|o| project(o, &fields)).collect();
    let mut body = Map::new();
    body.insert(key.to_string(), Value::Array(out));
    if !links.is_empty() || style.always_links || limit.is_some() {
        body.insert(format!("{key}_links"), Value::Array(links));
    }
    Ok(Value::Object(body))
}

/// Keep only the requested fields (all when none are asked for).
pub fn project(o: &Value, fields: &[&str]) -> Value {
    if fields.is_empty() {
        return o.clone();
    }
    let Some(m) = o.as_object() else {
        return o.clone();
    };
    Value::Object(
        m.iter()
            .filter(|(k, _)| fields.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

/// Percent-encode a query component.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

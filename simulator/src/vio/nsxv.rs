//! NSX-V Manager 6.4 subset (the calls the NSX-V plugin's `vcns.py` and the migration make):
//! `vsmconfig`, paged edges and virtual wires, an edge's details, vNICs (read and
//! `PUT .../vnics/<index>` for `isConnected`), DLR interfaces, appliances and LB virtual servers,
//! scoping objects (XML only) and auth tokens. JSON needs `Accept: application/json`, as on the
//! real manager, whose default is XML (docs/rules.md, `nsxv_json_accept`).

use axum::http::Method;
use serde_json::{Value, json};

use super::{VioState, raw_reply};
use crate::SimConfig;
use crate::api::{ApiError, ApiResult, Reply, Req};
use crate::util::{SplitMix64, now_ms};

/// Default and maximum token lifetime (NSX-V: 90 minutes, at most 24 hours).
const TOKEN_DEFAULT_MIN: i64 = 90;
const TOKEN_MAX_MIN: i64 = 1440;
const EDGES_PAGE: usize = 256;
const WIRES_PAGE: usize = 20;
const MAX_PAGE: usize = 1024;

fn wants_json(req: &Req) -> bool {
    req.header("accept")
        .is_some_and(|a| a.contains("application/json"))
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// NSX-V's error body, in the format the client asked for.
fn error(req: &Req, status: u16, code: i64, details: &str) -> Reply {
    if wants_json(req) {
        Reply {
            status,
            body: Some(
                json!({"details": details, "errorCode": code, "moduleName": "vShield Edge"}),
            ),
            headers: Vec::new(),
            raw: None,
        }
    } else {
        raw_reply(
            status,
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<error><details>{}</details><errorCode>{code}</errorCode><moduleName>vShield Edge</moduleName></error>",
                xml_escape(details)
            )
            .into_bytes(),
        )
    }
}

fn authenticate(vio: &VioState, cfg: &SimConfig, req: &Req) -> Result<(), Box<Reply>> {
    let denied = || {
        Box::new(error(
            req,
            403,
            5,
            "Access denied: authentication failed or the token has expired",
        ))
    };
    let Some(auth) = req.header("authorization") else {
        return Err(Box::new(error(req, 401, 5, "Authentication required")));
    };
    if let Some(tok) = auth.strip_prefix("AUTHTOKEN ") {
        return match vio.nsxv_tokens.get(tok.trim()) {
            Some(exp) if *exp > now_ms() => Ok(()),
            _ => Err(denied()),
        };
    }
    if let Some(b64) = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))
        && let Some(dec) = crate::util::base64_decode(b64.trim())
        && let Ok(text) = String::from_utf8(dec)
        && text == format!("{}:{}", cfg.username, cfg.password)
    {
        return Ok(());
    }
    Err(denied())
}

fn not_acceptable(req: &Req) -> Reply {
    error(
        req,
        406,
        100,
        "this call answers JSON only with Accept: application/json (the manager's default is XML)",
    )
}

fn page_params(req: &Req, default: usize) -> Result<(usize, usize), Box<Reply>> {
    let num = |name: &str, d: usize| -> Result<usize, Box<Reply>> {
        match req.q(name) {
            None | Some("") => Ok(d),
            Some(s) => s.parse::<usize>().map_err(|_| {
                Box::new(error(
                    req,
                    400,
                    210,
                    &format!("{name} must be a non-negative integer"),
                ))
            }),
        }
    };
    let start = num("startIndex", 0)?;
    let size = num("pageSize", default)?.clamp(1, MAX_PAGE);
    Ok((start, size))
}

/// One page: `{"<outer>": {"data": [...], "pagingInfo": {...}}}`. A page past the end is empty
/// (clients that count pages as `total / pageSize + 1` ask for it when the total is a multiple).
fn paged(items: &[Value], outer: &str, start: usize, size: usize) -> Value {
    let data: Vec<&Value> = items.iter().skip(start).take(size).collect();
    json!({ outer: {
        "data": data,
        "pagingInfo": {"pageSize": size, "startIndex": start, "totalCount": items.len(),
                       "sortOrderAscending": true, "sortBy": "id"},
    }})
}

pub fn route(
    vio: &mut VioState,
    rng: &mut SplitMix64,
    cfg: &SimConfig,
    req: &Req,
    segs: &[&str],
) -> Reply {
    // Token issue authenticates with basic auth only.
    if let ["api", "2.0", "services", "auth", "token"] = segs {
        if req.method != Method::POST {
            return error(req, 405, 100, "method not allowed");
        }
        let basic_only = req
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ") || a.starts_with("basic "));
        if !basic_only {
            return error(req, 401, 5, "Authentication required (basic)");
        }
        if let Err(r) = authenticate(vio, cfg, req) {
            return *r;
        }
        let minutes = match req.q("expiresInMinutes") {
            None | Some("") => TOKEN_DEFAULT_MIN,
            Some(s) => match s.parse::<i64>() {
                Ok(m) if (1..=TOKEN_MAX_MIN).contains(&m) => m,
                _ => {
                    return error(
                        req,
                        400,
                        210,
                        &format!("expiresInMinutes must be between 1 and {TOKEN_MAX_MIN}"),
                    );
                }
            },
        };
        let value = rng.token(32);
        let expires = now_ms() + minutes * 60_000;
        vio.nsxv_tokens.insert(value.clone(), expires);
        return if wants_json(req) {
            Reply::json(json!({"value": value, "expiresOn": expires}))
        } else {
            raw_reply(
                200,
                "application/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<authToken><value>{value}</value><expiresOn>{expires}</expiresOn></authToken>"
                )
                .into_bytes(),
            )
        };
    }
    if let Err(r) = authenticate(vio, cfg, req) {
        return *r;
    }
    let get = req.method == Method::GET;
    match segs {
        ["api", "2.0", "services", "usermgmt", "scopingobjects"] if get => {
            let xml = vio.inv.scopingobjects.clone().unwrap_or_else(|| {
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<scopingObjects></scopingObjects>"
                    .into()
            });
            raw_reply(200, "application/xml", xml.into_bytes())
        }
        _ if !wants_json(req) => not_acceptable(req),
        ["api", "2.0", "services", "vsmconfig"] if get => Reply::json(vio.inv.vsmconfig.clone()),
        ["api", "4.0", "edges"] if get => match page_params(req, EDGES_PAGE) {
            Ok((start, size)) => Reply::json(paged(&vio.inv.edges, "edgePage", start, size)),
            Err(r) => *r,
        },
        ["api", "2.0", "vdn", "virtualwires"] if get => match page_params(req, WIRES_PAGE) {
            Ok((start, size)) => Reply::json(paged(&vio.inv.virtualwires, "dataPage", start, size)),
            Err(r) => *r,
        },
        ["api", "4.0", "edges", id, rest @ ..] => edge(vio, req, id, rest),
        _ => error(
            req,
            404,
            100,
            &format!("the requested URI {} is not served", req.path),
        ),
    }
}

fn edge(vio: &mut VioState, req: &Req, id: &str, rest: &[&str]) -> Reply {
    // An edge with details exists (a map lookup); others are looked for in the list (clients
    // read several things per edge, so a scan of every edge per request added up).
    if !vio.inv.edge_details.contains_key(id) && !vio.inv.edges.iter().any(|e| e["id"] == id) {
        return error(req, 404, 10013, &format!("Edge {id} not found."));
    }
    let get = req.method == Method::GET;
    let from = |m: &std::collections::BTreeMap<String, Value>, what: &str| match m.get(id) {
        Some(v) => Reply::json(v.clone()),
        None => error(req, 404, 10013, &format!("Edge {id} has no {what}.")),
    };
    match rest {
        [] if get => from(&vio.inv.edge_details, "details"),
        ["vnics"] if get => from(
            &vio.inv.edge_vnics,
            "vNICs (it is not an edge services gateway)",
        ),
        ["interfaces"] if get => from(
            &vio.inv.edge_interfaces,
            "interfaces (it is not a distributed router)",
        ),
        ["appliances"] if get => from(&vio.inv.edge_appliances, "appliances"),
        ["loadbalancer", "config", "virtualservers"] if get => {
            match vio.inv.edge_virtualservers.get(id) {
                Some(v) => Reply::json(v.clone()),
                None => Reply::json(json!({"virtualServer": []})),
            }
        }
        ["vnics", idx] => {
            let Ok(index) = idx.parse::<u64>() else {
                return error(req, 400, 10017, &format!("invalid vNIC index {idx}"));
            };
            let Some(vnics) = vio
                .inv
                .edge_vnics
                .get_mut(id)
                .and_then(|v| v.get_mut("vnics"))
                .and_then(Value::as_array_mut)
            else {
                return error(req, 404, 10013, &format!("Edge {id} has no vNICs."));
            };
            let Some(vnic) = vnics.iter_mut().find(|v| v["index"] == index) else {
                return error(
                    req,
                    404,
                    10017,
                    &format!("vNIC {index} of edge {id} not found."),
                );
            };
            match req.method {
                Method::GET => Reply::json(vnic.clone()),
                Method::PUT => {
                    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
                        return error(req, 400, 100, "the request body is not valid JSON");
                    };
                    let Some(m) = body.as_object() else {
                        return error(req, 400, 100, "the request body must be a vnic object");
                    };
                    if m.get("isConnected").is_some_and(|c| !c.is_boolean()) {
                        return error(req, 400, 100, "isConnected must be true or false");
                    }
                    for (k, v) in m {
                        if k != "index" {
                            vnic[k] = v.clone();
                        }
                    }
                    let updated = vnic.clone();
                    // Keep the edge's details view in step.
                    if let Some(list) = vio
                        .inv
                        .edge_details
                        .get_mut(id)
                        .and_then(|d| d.pointer_mut("/vnics/vnics"))
                        .and_then(Value::as_array_mut)
                        && let Some(v) = list.iter_mut().find(|v| v["index"] == index)
                    {
                        *v = updated;
                    }
                    Reply::empty(204)
                }
                _ => error(req, 405, 100, "method not allowed"),
            }
        }
        _ => error(
            req,
            404,
            100,
            &format!("the requested URI {} is not served", req.path),
        ),
    }
}

/// `GET /api/v1/fabric/compute-managers[/<id>]` of the destination NSX (Manager API; Policy has
/// no compute managers). Called behind the NSX authentication.
pub fn compute_managers(vio: &VioState, rest: &[&str]) -> ApiResult {
    match rest {
        [] => {
            let r = &vio.inv.compute_managers;
            Ok(Reply::json(json!({"results": r, "result_count": r.len()})))
        }
        [id] => vio
            .inv
            .compute_managers
            .iter()
            .find(|c| c["id"] == *id)
            .map(|c| Reply::json(c.clone()))
            .ok_or_else(|| ApiError::new(404, 600, "fabric", format!("The requested object : {id} could not be found. Object identifiers are case sensitive."))),
        _ => Err(ApiError::not_found("compute-managers")),
    }
}

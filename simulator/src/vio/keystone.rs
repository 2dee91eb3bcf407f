//! Keystone v3 subset: password authentication (`POST /v3/auth/tokens`), token validation
//! (`GET /v3/auth/tokens`), projects, and the token check every OpenStack endpoint makes.
//!
//! One user exists: the simulator's configured user (`SimConfig::username`/`password`, the fixed
//! test credentials) in domain `Default`. It holds the `admin` role on the project named `admin`
//! and the `member` role on every other project, so a token scoped to `admin` sees everything
//! and a token scoped to another project sees what that project would (docs/rules.md,
//! `keystone_roles`).

use axum::http::Method;
use serde_json::{Value, json};

use super::VioState;
use crate::SimConfig;
use crate::api::{Reply, Req};
use crate::util::{SplitMix64, now_ms};

pub const USER_ID: &str = "b1f0e0c4d7a94e2f9c51a0d2e3f4a5b6";
pub const DOMAIN_ID: &str = "default";
pub const DOMAIN_NAME: &str = "Default";
pub const REGION: &str = "RegionOne";
/// Keystone's default token lifetime.
const TOKEN_LIFETIME_MS: i64 = 3600 * 1000;

#[derive(Debug, Clone)]
pub struct Token {
    pub project_id: String,
    pub admin: bool,
    pub expires_ms: i64,
    pub issued_ms: i64,
}

/// What a valid token lets the caller see.
#[derive(Debug, Clone)]
pub struct Caller {
    pub project_id: String,
    pub admin: bool,
}

pub fn error(status: u16, title: &str, message: &str) -> Reply {
    Reply {
        status,
        body: Some(json!({"error": {"code": status, "title": title, "message": message}})),
        headers: Vec::new(),
        raw: None,
    }
}

fn unauthorized(base: &str) -> Reply {
    error(
        401,
        "Unauthorized",
        "The request you have made requires authentication.",
    )
    .with_header("www-authenticate", &format!("Keystone uri=\"{base}/v3\""))
}

/// The check keystonemiddleware makes in front of Neutron and Octavia.
pub fn authenticate(vio: &VioState, req: &Req, base: &str) -> Result<Caller, Box<Reply>> {
    let Some(t) = req.header("x-auth-token") else {
        return Err(Box::new(unauthorized(base)));
    };
    match vio.tokens.get(t) {
        Some(tok) if tok.expires_ms > now_ms() => Ok(Caller {
            project_id: tok.project_id.clone(),
            admin: tok.admin,
        }),
        _ => Err(Box::new(unauthorized(base))),
    }
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string())
        .unwrap_or_default()
}

pub fn route(
    vio: &mut VioState,
    rng: &mut SplitMix64,
    cfg: &SimConfig,
    req: &Req,
    rest: &[&str],
    base: &str,
) -> Reply {
    match (req.method.clone(), rest) {
        (Method::GET, []) => Reply::json(json!({"version": {
            "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": format!("{base}/v3/")}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        }})),
        (Method::POST, ["auth", "tokens"]) => issue(vio, rng, cfg, req, base),
        (Method::GET, ["auth", "tokens"]) => {
            let caller = match authenticate(vio, req, base) {
                Ok(c) => c,
                Err(r) => return *r,
            };
            let _ = caller;
            let Some(subject) = req.header("x-subject-token") else {
                return error(400, "Bad Request", "X-Subject-Token is missing");
            };
            match vio.tokens.get(subject) {
                Some(t) if t.expires_ms > now_ms() => {
                    let body = token_body(vio, cfg, t, base);
                    Reply::json(body).with_header("x-subject-token", subject)
                }
                _ => error(
                    404,
                    "Not Found",
                    &format!("Could not find token: {subject}."),
                ),
            }
        }
        (Method::GET, ["projects"]) => {
            let caller = match authenticate(vio, req, base) {
                Ok(c) => c,
                Err(r) => return *r,
            };
            if !caller.admin {
                return error(
                    403,
                    "Forbidden",
                    "You are not authorized to perform the requested action: identity:list_projects.",
                );
            }
            let name = req.q("name");
            let projects: Vec<Value> = vio
                .inv
                .projects
                .iter()
                .filter(|p| name.is_none_or(|n| p.get("name").and_then(Value::as_str) == Some(n)))
                .cloned()
                .collect();
            Reply::json(json!({"projects": projects, "links": {
                "self": format!("{base}/v3/projects"), "previous": null, "next": null}}))
        }
        (Method::GET, ["projects", id]) => {
            let caller = match authenticate(vio, req, base) {
                Ok(c) => c,
                Err(r) => return *r,
            };
            match vio.inv.projects.iter().find(|p| p["id"] == *id) {
                Some(p) if caller.admin || caller.project_id == *id => {
                    Reply::json(json!({"project": p}))
                }
                _ => error(404, "Not Found", &format!("Could not find project: {id}.")),
            }
        }
        _ => error(404, "Not Found", "The resource could not be found."),
    }
}

fn domain_ok(d: Option<&Value>) -> bool {
    match d {
        None => true,
        Some(d) => {
            d.get("id").and_then(Value::as_str) == Some(DOMAIN_ID)
                || d.get("name").and_then(Value::as_str) == Some(DOMAIN_NAME)
        }
    }
}

fn issue(
    vio: &mut VioState,
    rng: &mut SplitMix64,
    cfg: &SimConfig,
    req: &Req,
    base: &str,
) -> Reply {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "Bad Request", "The request body is not valid JSON.");
    };
    let methods = body
        .pointer("/auth/identity/methods")
        .and_then(Value::as_array);
    if !methods.is_some_and(|m| m.iter().any(|x| x == "password")) {
        return error(
            400,
            "Bad Request",
            "Invalid input for field 'identity': only the password method is supported here",
        );
    }
    let user = body.pointer("/auth/identity/password/user");
    let user_ok = user.is_some_and(|u| {
        let name_ok = u.get("name").and_then(Value::as_str) == Some(cfg.username.as_str())
            && domain_ok(u.get("domain"));
        let id_ok = u.get("id").and_then(Value::as_str) == Some(USER_ID);
        (name_ok || id_ok)
            && u.get("password").and_then(Value::as_str) == Some(cfg.password.as_str())
    });
    if !user_ok {
        return error(
            401,
            "Unauthorized",
            "The request you have made requires authentication.",
        );
    }
    // Scope: a project by id, or by name within a domain; none means the user's default project.
    let project = match body.pointer("/auth/scope/project") {
        Some(p) => vio.inv.projects.iter().find(|x| {
            let by_id = p.get("id").is_some() && p.get("id") == x.get("id");
            let by_name = p.get("name").is_some()
                && p.get("name") == x.get("name")
                && domain_ok(p.get("domain"));
            by_id || by_name
        }),
        None => vio.inv.projects.iter().find(|x| x["name"] == "admin"),
    };
    let Some(project) = project else {
        return error(
            401,
            "Unauthorized",
            "User has no access to project or the project does not exist",
        );
    };
    let now = now_ms();
    let tok = Token {
        project_id: project["id"].as_str().unwrap_or_default().to_string(),
        admin: project["name"] == "admin",
        expires_ms: now + TOKEN_LIFETIME_MS,
        issued_ms: now,
    };
    let id = format!("gAAAAA{}", rng.token(48));
    let reply_body = token_body(vio, cfg, &tok, base);
    vio.tokens.insert(id.clone(), tok);
    Reply::created(reply_body).with_header("x-subject-token", &id)
}

fn token_body(vio: &VioState, cfg: &SimConfig, t: &Token, base: &str) -> Value {
    let project = vio
        .inv
        .projects
        .iter()
        .find(|p| p["id"] == t.project_id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    let role = if t.admin {
        json!([{"id": "6a5e9f6cbb2f4d9f8e41b3a1c2d3e4f5", "name": "admin"},
               {"id": "0b2c3d4e5f60718293a4b5c6d7e8f901", "name": "member"},
               {"id": "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", "name": "reader"}])
    } else {
        json!([{"id": "0b2c3d4e5f60718293a4b5c6d7e8f901", "name": "member"},
               {"id": "1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f", "name": "reader"}])
    };
    let service = |id: &str, ty: &str, name: &str, path: &str| {
        let endpoints: Vec<Value> = ["public", "internal", "admin"]
            .iter()
            .enumerate()
            .map(|(i, iface)| {
                json!({
                    "id": format!("{id}{i}"), "interface": iface, "region": REGION,
                    "region_id": REGION, "url": format!("{base}{path}"),
                })
            })
            .collect();
        json!({"id": id, "type": ty, "name": name, "endpoints": endpoints})
    };
    json!({"token": {
        "methods": ["password"],
        "user": {"id": USER_ID, "name": cfg.username, "domain": {"id": DOMAIN_ID, "name": DOMAIN_NAME},
                 "password_expires_at": null},
        "audit_ids": [hex::encode(&t.issued_ms.to_be_bytes()[2..])],
        "expires_at": iso(t.expires_ms),
        "issued_at": iso(t.issued_ms),
        "project": {"id": project["id"], "name": project["name"],
                    "domain": {"id": DOMAIN_ID, "name": DOMAIN_NAME}},
        "is_domain": false,
        "roles": role,
        "catalog": [
            service("3f1e2d3c4b5a69788796a5b4c3d2e1f0", "identity", "keystone", "/v3"),
            service("9a8b7c6d5e4f30211203f4e5d6c7b8a9", "network", "neutron", "/network"),
            service("5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b", "load-balancer", "octavia", "/load-balancer"),
            replay_service(base),
        ],
    }})
}

/// The API-replay target Neutron (`replay.rs`): its own service type, `network-replay` (name
/// `neutron-replay`), so a client asking the catalog for `network` still gets exactly one
/// endpoint, the source's (the real migrator addresses its temporary Neutron directly; the type
/// is this simulator's choice, docs/inventory-format.md).
fn replay_service(base: &str) -> Value {
    let endpoints: Vec<Value> = ["public", "internal", "admin"]
        .iter()
        .enumerate()
        .map(|(i, iface)| {
            json!({
                "id": format!("7d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5{i}"), "interface": iface,
                "region": REGION, "region_id": REGION,
                "url": format!("{base}{}", super::replay::PREFIX),
            })
        })
        .collect();
    json!({"id": "7d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a", "type": "network-replay", "name": "neutron-replay",
           "endpoints": endpoints})
}

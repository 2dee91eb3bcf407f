//! A TAS foundation's Cloud Controller v3 and UAA subset, seeded from a snapshot's `cf/` folder
//! (docs/inventory-format.md): the root document linking to UAA, `/v3/info`, the organization,
//! space, app and process lists with `page`/`per_page` pagination, process stats, and UAA's
//! `/oauth/token` (password, client-credentials and refresh-token grants) under `/uaa`.
//!
//! Served on the NSX listener under paths NSX does not use (`/`, `/v3/...`, `/uaa/...`), so the
//! Cloud Controller's address is the simulator's base URL. Lists answer 401 without a valid
//! bearer token. Users: the simulator's username and password (password grant with client `cf`
//! and an empty secret, as the cf CLI sends); clients: the same pair as client id and secret.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use axum::http::Method;
use serde_json::{Value, json};

use crate::SimError;
use crate::api::{Reply, Req};
use crate::util::{SplitMix64, base64_decode, now_ms, parse_form};

/// Lifetime of an access token, in seconds (UAA's default for the cf client is longer; a short
/// one makes refreshes happen in long runs).
const TOKEN_TTL_SECS: i64 = 600;
const LISTS: &[&str] = &["organizations", "spaces", "apps", "processes"];
const MAX_PER_PAGE: usize = 5000;

#[derive(Debug)]
struct Token {
    expires_ms: i64,
}

/// The foundation's objects and UAA's tokens.
#[derive(Debug)]
pub struct CfState {
    lists: BTreeMap<&'static str, Vec<Value>>,
    stats: BTreeMap<String, Value>,
    access: HashMap<String, Token>,
    /// refresh token -> client id
    refresh: HashMap<String, String>,
    rng: SplitMix64,
}

fn err(file: &Path, pointer: impl Into<String>, message: impl Into<String>) -> SimError {
    SimError::Inventory {
        file: file.to_path_buf(),
        pointer: pointer.into(),
        message: message.into(),
    }
}

fn read(file: &Path) -> Result<Value, SimError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| err(file, "", format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        err(
            file,
            "",
            format!(
                "invalid JSON at line {} column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}

impl CfState {
    /// The `cf/` folder of an inventory directory; `None` when there is none.
    pub fn load(inventory: Option<&Path>, seed: u64) -> Result<Option<CfState>, SimError> {
        let Some(dir) = inventory.map(|d| d.join("cf")).filter(|d| d.is_dir()) else {
            return Ok(None);
        };
        let mut lists = BTreeMap::new();
        for stem in LISTS {
            let file = dir.join(format!("{stem}.json"));
            let mut items = Vec::new();
            if file.exists() {
                let v = read(&file)?;
                let arr = v
                    .get("resources")
                    .and_then(Value::as_array)
                    .ok_or_else(|| err(&file, "/resources", "missing or not an array"))?;
                for (i, r) in arr.iter().enumerate() {
                    if r.get("guid").and_then(Value::as_str).is_none() {
                        return Err(err(&file, format!("/resources/{i}/guid"), "missing"));
                    }
                    items.push(r.clone());
                }
            }
            lists.insert(*stem, items);
        }
        let mut stats = BTreeMap::new();
        let file = dir.join("process-stats.json");
        if file.exists() {
            let v = read(&file)?;
            let map = v
                .as_object()
                .ok_or_else(|| err(&file, "", "expected an object keyed by process guid"))?;
            for (guid, s) in map {
                if s.get("resources").and_then(Value::as_array).is_none() {
                    return Err(err(&file, format!("/{guid}/resources"), "missing"));
                }
                stats.insert(guid.clone(), s.clone());
            }
        }
        Ok(Some(CfState {
            lists,
            stats,
            access: HashMap::new(),
            refresh: HashMap::new(),
            rng: SplitMix64::new(seed ^ 0xCF),
        }))
    }

    /// A new access token (and refresh token when asked) for `client`.
    fn issue(&mut self, client: &str, with_refresh: bool) -> Value {
        let access = self.rng.token(40);
        self.access.insert(
            access.clone(),
            Token {
                expires_ms: now_ms() + TOKEN_TTL_SECS * 1000,
            },
        );
        let mut body = json!({
            "access_token": access,
            "token_type": "bearer",
            "expires_in": TOKEN_TTL_SECS - 1,
            "scope": "cloud_controller.read openid",
            "jti": self.rng.uuid(),
        });
        if with_refresh {
            let refresh = format!("{}-r", self.rng.token(40));
            self.refresh.insert(refresh.clone(), client.to_string());
            body["refresh_token"] = json!(refresh);
        }
        body
    }
}

/// Whether `path` is one of the Cloud Controller's or UAA's (the NSX API never uses them).
pub fn claims(path: &str) -> bool {
    path == "/" || path.starts_with("/v3/") || path == "/v3" || path.starts_with("/uaa/")
}

fn cf_error(status: u16, code: i64, title: &str, detail: &str) -> Reply {
    let mut r = Reply::json(json!({"errors": [{"code": code, "title": title, "detail": detail}]}));
    r.status = status;
    r
}

fn uaa_error(status: u16, error: &str, description: &str) -> Reply {
    let mut r = Reply::json(json!({"error": error, "error_description": description}));
    r.status = status;
    r
}

/// The base URL the client reached us at (links and `pagination` hrefs are absolute).
fn base_url(req: &Req, tls: bool) -> String {
    let host = req.header("host").unwrap_or("127.0.0.1");
    format!("{}://{host}", if tls { "https" } else { "http" })
}

/// Answer a Cloud Controller or UAA request (`claims(path)` was true).
pub fn route(
    cf: Option<&mut CfState>,
    req: &Req,
    tls: bool,
    username: &str,
    password: &str,
) -> Reply {
    let Some(cf) = cf else {
        return cf_error(
            404,
            10000,
            "CF-NotFound",
            "Unknown request: this simulator was not seeded with a TAS foundation (no cf/ folder)",
        );
    };
    let base = base_url(req, tls);
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    match (req.method.clone(), segs.as_slice()) {
        (Method::GET, []) => Reply::json(json!({"links": {
            "self": {"href": base},
            "cloud_controller_v3": {"href": format!("{base}/v3"), "meta": {"version": "3.180.0"}},
            "login": {"href": format!("{base}/uaa")},
            "uaa": {"href": format!("{base}/uaa")},
        }})),
        (Method::GET, ["v3", "info"]) => Reply::json(json!({
            "name": "nsx-migrate simulator", "build": "", "version": 0,
            "description": "Cloud Controller v3 subset for a TAS foundation",
            "links": {"self": {"href": format!("{base}/v3/info")}},
        })),
        (Method::POST, ["uaa", "oauth", "token"]) => token(cf, req, username, password),
        (Method::GET, ["v3", rest @ ..]) => {
            if let Err(r) = authorize(cf, req) {
                return *r;
            }
            match rest {
                [list] if LISTS.contains(list) => list_page(cf, req, &base, list),
                ["processes", guid, "stats"] => match cf.stats.get(*guid) {
                    Some(s) => Reply::json(s.clone()),
                    None => cf_error(404, 10010, "CF-ResourceNotFound", "Process not found"),
                },
                _ => cf_error(404, 10000, "CF-NotFound", "Unknown request"),
            }
        }
        (m, _) if m != Method::GET && m != Method::POST => {
            cf_error(405, 10000, "CF-NotFound", "Unknown request")
        }
        _ => cf_error(404, 10000, "CF-NotFound", "Unknown request"),
    }
}

fn authorize(cf: &mut CfState, req: &Req) -> Result<(), Box<Reply>> {
    let Some(auth) = req.header("authorization") else {
        return Err(Box::new(cf_error(
            401,
            10002,
            "CF-NotAuthenticated",
            "Authentication error",
        )));
    };
    let token = auth
        .strip_prefix("bearer ")
        .or_else(|| auth.strip_prefix("Bearer "))
        .unwrap_or("");
    match cf.access.get(token) {
        Some(t) if t.expires_ms > now_ms() => Ok(()),
        Some(_) => {
            cf.access.remove(token);
            Err(Box::new(cf_error(
                401,
                1000,
                "CF-InvalidAuthToken",
                "Invalid Auth Token",
            )))
        }
        None => Err(Box::new(cf_error(
            401,
            1000,
            "CF-InvalidAuthToken",
            "Invalid Auth Token",
        ))),
    }
}

fn token(cf: &mut CfState, req: &Req, username: &str, password: &str) -> Reply {
    let form = parse_form(std::str::from_utf8(&req.body).unwrap_or(""));
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // Client authentication: HTTP Basic (what the cf CLI sends), else form fields.
    let (client, secret) = match req
        .header("authorization")
        .and_then(|a| {
            a.strip_prefix("Basic ")
                .or_else(|| a.strip_prefix("basic "))
        })
        .and_then(base64_decode)
        .and_then(|b| String::from_utf8(b).ok())
    {
        Some(pair) => match pair.split_once(':') {
            Some((c, s)) => (c.to_string(), s.to_string()),
            None => return uaa_error(401, "unauthorized", "Bad client credentials"),
        },
        None => (
            field("client_id").unwrap_or("").to_string(),
            field("client_secret").unwrap_or("").to_string(),
        ),
    };
    let client_ok =
        (client == "cf" && secret.is_empty()) || (client == username && secret == password);
    if !client_ok {
        return uaa_error(401, "unauthorized", "Bad credentials");
    }
    match field("grant_type") {
        Some("password") => {
            if field("username") == Some(username) && field("password") == Some(password) {
                Reply::json(cf.issue(&client, true))
            } else {
                uaa_error(401, "unauthorized", "Bad credentials")
            }
        }
        Some("client_credentials") if client != "cf" => Reply::json(cf.issue(&client, false)),
        Some("refresh_token") => {
            let Some(rt) = field("refresh_token") else {
                return uaa_error(400, "invalid_request", "Missing refresh_token");
            };
            match cf.refresh.get(rt) {
                Some(c) if *c == client => {
                    let mut body = cf.issue(&client, false);
                    body["refresh_token"] = json!(rt);
                    Reply::json(body)
                }
                _ => uaa_error(401, "invalid_token", "Invalid refresh token"),
            }
        }
        Some(other) => uaa_error(
            400,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {other}"),
        ),
        None => uaa_error(400, "invalid_request", "Missing grant type"),
    }
}

fn list_page(cf: &CfState, req: &Req, base: &str, list: &str) -> Reply {
    let num = |name: &str, default: usize| -> Option<usize> {
        match req.q(name) {
            None => Some(default),
            Some(v) => v.parse::<usize>().ok().filter(|n| *n >= 1),
        }
    };
    let invalid = |what: &str| cf_error(400, 10008, "CF-UnprocessableEntity", what);
    let Some(page) = num("page", 1) else {
        return invalid("Page must be a positive integer");
    };
    let per_page = match num("per_page", 50) {
        Some(n) if n <= MAX_PER_PAGE => n,
        _ => return invalid(&format!("Per page must be between 1 and {MAX_PER_PAGE}")),
    };
    let items = cf.lists.get(list).map(Vec::as_slice).unwrap_or(&[]);
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let href = |p: usize| json!({"href": format!("{base}/v3/{list}?page={p}&per_page={per_page}")});
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = (start + per_page).min(total);
    Reply::json(json!({
        "pagination": {
            "total_results": total,
            "total_pages": pages,
            "first": href(1),
            "last": href(pages),
            "next": if page < pages { href(page + 1) } else { Value::Null },
            "previous": if page > 1 { href(page - 1) } else { Value::Null },
        },
        "resources": &items[start..end],
    }))
}

/// Revoke every access token (a test's way to make the next list answer 401 as an expired token
/// would).
pub fn expire_all(cf: &mut CfState) -> usize {
    let n = cf.access.len();
    for t in cf.access.values_mut() {
        t.expires_ms = 0;
    }
    n
}

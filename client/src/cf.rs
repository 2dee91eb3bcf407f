//! A Cloud Foundry Cloud Controller v3 reader (a TAS foundation's organizations, spaces, apps,
//! processes and process stats), authenticated with a UAA token the way `cf` users get one.
//!
//! * The UAA address comes from the API root document (`GET /` → `links.uaa.href`, else
//!   `links.login.href`).
//! * Password grant with client `cf` and an empty secret (what the cf CLI sends), or the client
//!   credentials grant for a UAA client. The token is held in memory only; on a 401 the client
//!   uses its refresh token (or logs in again) once and repeats the request.
//! * TLS as for NSX ([`TlsOptions`]: system roots plus a CA file, or a pinned thumbprint).
//! * Lists are read page by page through `pagination.next.href`, bounded in pages; a next page
//!   on another host is refused (it would receive the token).

use std::sync::Mutex;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

use crate::secret::Secret;
use crate::tls::{self, TlsOptions};

/// How to get a token from UAA.
#[derive(Debug, Clone)]
pub enum CfAuth {
    /// A user's password grant with client `cf` and an empty secret (as the cf CLI).
    Password { username: String, password: Secret },
    /// The client credentials grant of a UAA client.
    ClientCredentials { client_id: String, secret: Secret },
}

#[derive(Debug, Clone)]
pub struct CfConfig {
    /// The Cloud Controller API address, e.g. `https://api.sys.example.com`.
    pub api: String,
    pub auth: CfAuth,
    pub tls: TlsOptions,
    /// Per request (connect and answer).
    pub timeout: Duration,
    /// `per_page` of list requests (1..=5000).
    pub per_page: usize,
    /// Most pages read of one list before giving up.
    pub max_pages: usize,
}

impl CfConfig {
    pub fn new(api: impl Into<String>, auth: CfAuth) -> CfConfig {
        CfConfig {
            api: api.into(),
            auth,
            tls: TlsOptions::default(),
            timeout: Duration::from_secs(60),
            per_page: 500,
            max_pages: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CfError {
    #[error("Cloud Foundry API configuration: {0}")]
    Config(String),
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: HTTP {status}: {title}: {detail}")]
    Api {
        url: String,
        status: u16,
        title: String,
        detail: String,
    },
    #[error("UAA {url}: token request refused (HTTP {status}): {error}")]
    Auth {
        url: String,
        status: u16,
        error: String,
    },
    #[error("{url}: {message}")]
    Paging { url: String, message: String },
}

#[derive(Default)]
struct Tokens {
    token_url: Option<String>,
    access: Option<Secret>,
    refresh: Option<Secret>,
}

/// A Cloud Controller v3 client. Read-only.
pub struct CfClient {
    http: reqwest::Client,
    api: Url,
    cfg: CfConfig,
    tokens: Mutex<Tokens>,
    requests: std::sync::atomic::AtomicUsize,
}

fn lock(m: &Mutex<Tokens>) -> std::sync::MutexGuard<'_, Tokens> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A URL as errors may show it (no query: the next-page links carry none that matter).
fn shown(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

impl CfClient {
    pub fn new(cfg: CfConfig) -> Result<CfClient, CfError> {
        let raw = cfg.api.trim().trim_end_matches('/');
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("https://{raw}")
        };
        let api = Url::parse(&with_scheme)
            .map_err(|e| CfError::Config(format!("invalid API URL '{with_scheme}': {e}")))?;
        if !api.username().is_empty() || api.password().is_some() {
            return Err(CfError::Config(
                "the API URL must not contain credentials; use CF_USERNAME / CF_PASSWORD or a password file".into(),
            ));
        }
        if !matches!(api.scheme(), "https" | "http") || api.host_str().is_none() {
            return Err(CfError::Config(format!(
                "API URL '{with_scheme}' needs an https:// (or http://) host"
            )));
        }
        if !(1..=5000).contains(&cfg.per_page) || cfg.max_pages == 0 {
            return Err(CfError::Config(
                "per_page must be 1..=5000 and max_pages at least 1".into(),
            ));
        }
        let tls_config =
            tls::client_config(&cfg.tls).map_err(|e| CfError::Config(format!("TLS: {e}")))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config)
            .connect_timeout(cfg.timeout)
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("nsx-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CfError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(CfClient {
            http,
            api,
            cfg,
            tokens: Mutex::new(Tokens::default()),
            requests: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The API address as given (no credentials).
    pub fn api_url(&self) -> String {
        self.api.as_str().trim_end_matches('/').to_string()
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> Result<Url, CfError> {
        let base = self.api_url();
        Url::parse(&format!("{base}{path}")).map_err(|e| CfError::Config(format!("{path}: {e}")))
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<reqwest::Response, CfError> {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        req.send().await.map_err(|e| CfError::Http {
            url: shown(url),
            message: transport_message(&e),
        })
    }

    async fn json_of(url: &Url, resp: reqwest::Response) -> Result<Value, CfError> {
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.map_err(|e| CfError::Http {
            url: shown(url),
            message: format!("HTTP {status}, body is not JSON: {}", transport_message(&e)),
        })?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let e = &body["errors"][0];
        Err(CfError::Api {
            url: shown(url),
            status,
            title: e["title"].as_str().unwrap_or("error").to_string(),
            detail: e["detail"].as_str().unwrap_or("").to_string(),
        })
    }

    /// The UAA token endpoint, from the API root's links.
    async fn token_url(&self) -> Result<String, CfError> {
        if let Some(u) = lock(&self.tokens).token_url.clone() {
            return Ok(u);
        }
        let url = self.url("/")?;
        let resp = self.send(self.http.get(url.clone()), &url).await?;
        let root = Self::json_of(&url, resp).await?;
        let uaa = root
            .pointer("/links/uaa/href")
            .or_else(|| root.pointer("/links/login/href"))
            .and_then(Value::as_str)
            .ok_or_else(|| CfError::Http {
                url: shown(&url),
                message: "the API root names no UAA (links.uaa.href)".into(),
            })?;
        let token_url = format!("{}/oauth/token", uaa.trim_end_matches('/'));
        lock(&self.tokens).token_url = Some(token_url.clone());
        Ok(token_url)
    }

    /// Get a token: refresh when a refresh token is held and `refresh` is set, else a new grant.
    async fn authenticate(&self, refresh: bool) -> Result<(), CfError> {
        let token_url = self.token_url().await?;
        let url = Url::parse(&token_url)
            .map_err(|e| CfError::Config(format!("UAA token URL '{token_url}': {e}")))?;
        let held_refresh = lock(&self.tokens).refresh.clone().filter(|_| refresh);
        let (client, secret, form) = match (&self.cfg.auth, held_refresh) {
            (CfAuth::Password { .. }, Some(rt)) => (
                "cf".to_string(),
                String::new(),
                format!(
                    "grant_type=refresh_token&refresh_token={}",
                    form_encode(rt.expose())
                ),
            ),
            (CfAuth::Password { username, password }, None) => (
                "cf".to_string(),
                String::new(),
                format!(
                    "grant_type=password&username={}&password={}",
                    form_encode(username),
                    form_encode(password.expose())
                ),
            ),
            (CfAuth::ClientCredentials { client_id, secret }, _) => (
                client_id.clone(),
                secret.expose().to_string(),
                "grant_type=client_credentials".to_string(),
            ),
        };
        let secret = Secret::new(secret);
        let req = self
            .http
            .post(url.clone())
            .basic_auth(&client, Some(secret.expose()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form);
        let resp = self.send(req, &url).await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let access = body["access_token"].as_str().filter(|_| status == 200);
        let Some(access) = access else {
            // UAA's error and description; never the request (it carries the password).
            let error = match (body["error"].as_str(), body["error_description"].as_str()) {
                (Some(e), Some(d)) => format!("{e}: {d}"),
                (Some(e), None) => e.to_string(),
                _ => "no access_token in the answer".to_string(),
            };
            return Err(CfError::Auth {
                url: shown(&url),
                status,
                error,
            });
        };
        let mut t = lock(&self.tokens);
        t.access = Some(Secret::new(access));
        if let Some(rt) = body["refresh_token"].as_str() {
            t.refresh = Some(Secret::new(rt));
        }
        Ok(())
    }

    /// Log in now (otherwise the first request does).
    pub async fn login(&self) -> Result<(), CfError> {
        self.authenticate(false).await
    }

    /// GET a URL of the API with the bearer token; on a 401 renew the token once and repeat.
    async fn get_url(&self, url: &Url) -> Result<Value, CfError> {
        if lock(&self.tokens).access.is_none() {
            self.authenticate(false).await?;
        }
        for attempt in 0..2 {
            let token = lock(&self.tokens).access.clone().unwrap_or_default();
            let req = self
                .http
                .get(url.clone())
                .bearer_auth(token.expose())
                .header("accept", "application/json");
            let resp = self.send(req, url).await?;
            if resp.status().as_u16() == 401 && attempt == 0 {
                // Expired or revoked: refresh; a refused refresh falls back to a new grant.
                if self.authenticate(true).await.is_err() {
                    lock(&self.tokens).refresh = None;
                    self.authenticate(false).await?;
                }
                continue;
            }
            return Self::json_of(url, resp).await;
        }
        Err(CfError::Http {
            url: shown(url),
            message: "still unauthorized after renewing the token".into(),
        })
    }

    /// GET `path` (e.g. `/v3/info`).
    pub async fn get(&self, path: &str) -> Result<Value, CfError> {
        let url = self.url(path)?;
        self.get_url(&url).await
    }

    /// Every resource of a v3 list (`/v3/organizations`, ...), following `pagination.next.href`.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, CfError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = self.url(&format!("{path}{sep}per_page={}", self.cfg.per_page))?;
        let mut out = Vec::new();
        for _ in 0..self.cfg.max_pages {
            let page = self.get_url(&url).await?;
            let items = page["resources"]
                .as_array()
                .ok_or_else(|| CfError::Paging {
                    url: shown(&url),
                    message: "the answer has no `resources` array".into(),
                })?;
            out.extend(items.iter().cloned());
            let Some(next) = page
                .pointer("/pagination/next/href")
                .and_then(Value::as_str)
            else {
                return Ok(out);
            };
            let next = Url::parse(next).map_err(|e| CfError::Paging {
                url: shown(&url),
                message: format!("pagination.next.href is not a URL: {e}"),
            })?;
            if next.origin() != self.api.origin() {
                return Err(CfError::Paging {
                    url: shown(&url),
                    message: format!(
                        "pagination.next.href points at another server ({}); refusing to send the token there",
                        next.origin().ascii_serialization()
                    ),
                });
            }
            url = next;
        }
        Err(CfError::Paging {
            url: shown(&url),
            message: format!("more than {} pages; stopping", self.cfg.max_pages),
        })
    }

    /// `GET /v3/processes/<guid>/stats`: one entry per instance of the process.
    pub async fn process_stats(&self, guid: &str) -> Result<Value, CfError> {
        if guid.is_empty() || !guid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CfError::Config(format!("'{guid}' is not a process guid")));
        }
        self.get(&format!("/v3/processes/{guid}/stats")).await
    }
}

/// A transport error's message with its causes (reqwest's own message is terse).
fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

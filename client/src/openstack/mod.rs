//! An OpenStack REST reader: Keystone v3 password authentication, service endpoints from the
//! token's catalog, `X-Auth-Token` on every call, one re-authentication when the token is
//! refused or about to expire, and paged lists (`limit`/`marker`, following the answer's
//! `<collection>_links` `rel=next`).

mod config;

pub use config::{
    CloudConfig, CloudConfigError, ConfigSearch, DomainRef, ProjectScope, resolve_cloud,
};

use std::collections::HashSet;
use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::ClientError;
use crate::rest::{self, Call, ServiceConfig, Transport};
use crate::secret::Secret;

/// A token is renewed this long before Keystone says it expires.
const EXPIRY_MARGIN_SECS: i64 = 60;

struct Token {
    generation: u64,
    value: HeaderValue,
    expires_at: Option<jiff::Timestamp>,
    /// service type -> endpoint URL for the configured interface and region.
    endpoints: Vec<(String, Url)>,
    /// Every service type in the catalog, for messages.
    catalog_types: Vec<String>,
}

impl Token {
    fn expiring(&self) -> bool {
        self.expires_at.is_some_and(|e| {
            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(EXPIRY_MARGIN_SECS) >= e
        })
    }
}

/// An OpenStack client for one cloud (Neutron, Octavia and any other catalog service).
/// Cheap to clone.
#[derive(Clone)]
pub struct OpenStackClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    cloud: CloudConfig,
    auth_url: Url,
    token: Mutex<Option<Arc<Token>>>,
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for OpenStackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStackClient")
            .field("cloud", &self.inner.cloud)
            .finish_non_exhaustive()
    }
}

impl OpenStackClient {
    /// `cfg.tls` is used as given, except that the cloud's `cacert` / `verify: false` apply
    /// when `cfg.tls` names no CA bundle, thumbprint or insecure mode of its own.
    pub fn new(cloud: CloudConfig, mut cfg: ServiceConfig) -> Result<Self, ClientError> {
        if cfg.tls.ca_cert.is_none() && cfg.tls.thumbprint.is_none() && !cfg.tls.insecure {
            cfg.tls.ca_cert = cloud.cacert.clone();
            cfg.tls.insecure = cloud.insecure;
        }
        let auth_url = rest::parse_service_url("Keystone auth", &cloud.auth_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport: Transport::new(cfg)?,
                cloud,
                auth_url,
                token: Mutex::new(None),
                generation: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    pub fn cloud(&self) -> &CloudConfig {
        &self.inner.cloud
    }

    /// HTTP requests sent so far (authentication included).
    pub fn requests_sent(&self) -> u64 {
        self.inner.transport.requests_sent()
    }

    /// Tokens obtained so far.
    pub fn logins(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The Keystone URL without credentials, for snapshots and messages.
    pub fn auth_url_label(&self) -> String {
        self.inner
            .auth_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }

    fn tokens_url(&self) -> Result<Url, ClientError> {
        // `join` does not repeat a `/v3` the auth URL already ends with.
        rest::join(&self.inner.auth_url, "/v3/auth/tokens")
    }

    fn auth_body(&self) -> Value {
        let c = &self.inner.cloud;
        let domain = |d: &DomainRef| match d {
            DomainRef::Name(n) => json!({"name": n}),
            DomainRef::Id(i) => json!({"id": i}),
        };
        let project = match &c.project {
            ProjectScope::Id(id) => json!({"id": id}),
            ProjectScope::Name { name, domain: d } => json!({"name": name, "domain": domain(d)}),
        };
        json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username,
                "domain": domain(&c.user_domain),
                "password": c.password.expose(),
            }}},
            "scope": {"project": project},
        }})
    }

    /// `POST /v3/auth/tokens`: a project-scoped token and the catalog.
    async fn authenticate_now(&self) -> Result<Token, ClientError> {
        let url = self.tokens_url()?;
        let mut call = Call::new(Method::POST, url);
        call.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        call.headers
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        // The body carries the password: it is built here and never logged.
        let body = Secret::new(self.auth_body().to_string());
        call.body = Some(body.expose().as_bytes().to_vec());
        let raw = self.inner.transport.send(&call).await?;
        if raw.status == 401 || raw.status == 403 {
            return Err(ClientError::Unauthorized {
                service: "Keystone",
                url: self.auth_url_label(),
                username: self.inner.cloud.username.clone(),
                http_status: raw.status,
                message: format!(
                    "{}. Check the password and the user/project domains of cloud '{}' ({})",
                    refusal_message(&raw, &call),
                    self.inner.cloud.name,
                    self.inner.cloud.source
                ),
            });
        }
        if raw.status >= 400 {
            return Err(raw.api_error(&call.method, &call.path));
        }
        let mut value =
            raw.headers
                .get("x-subject-token")
                .cloned()
                .ok_or_else(|| ClientError::Decode {
                    method: "POST".into(),
                    path: call.path.clone(),
                    message: "no X-Subject-Token header in the answer".into(),
                })?;
        value.set_sensitive(true);
        let body = raw.json(&call.method, &call.path)?;
        let decode = |message: String| ClientError::Decode {
            method: "POST".into(),
            path: call.path.clone(),
            message,
        };
        let expires_at = match body.pointer("/token/expires_at").and_then(Value::as_str) {
            Some(s) => Some(
                s.parse::<jiff::Timestamp>()
                    .map_err(|e| decode(format!("token.expires_at '{s}': {e}")))?,
            ),
            None => None,
        };
        let catalog = body
            .pointer("/token/catalog")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                decode("no token.catalog array (was the token scoped to a project?)".into())
            })?;
        let c = &self.inner.cloud;
        let mut endpoints = Vec::new();
        let mut catalog_types = Vec::new();
        for svc in catalog {
            let Some(ty) = svc.get("type").and_then(Value::as_str) else {
                continue;
            };
            catalog_types.push(ty.to_string());
            let eps = svc.get("endpoints").and_then(Value::as_array);
            let chosen = eps.into_iter().flatten().find(|ep| {
                let iface_ok = ep.get("interface").and_then(Value::as_str) == Some(&c.interface);
                let region_ok = match &c.region_name {
                    None => true,
                    Some(r) => {
                        ep.get("region_id").and_then(Value::as_str) == Some(r)
                            || ep.get("region").and_then(Value::as_str) == Some(r)
                    }
                };
                iface_ok && region_ok
            });
            if let Some(url) = chosen.and_then(|ep| ep.get("url")).and_then(Value::as_str) {
                let url = rest::parse_service_url(&format!("catalog '{ty}' endpoint"), url)
                    .map_err(|e| decode(e.to_string()))?;
                endpoints.push((ty.to_string(), url));
            }
        }
        let generation = self
            .inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        tracing::debug!(generation, cloud = %c.name, "Keystone token obtained");
        Ok(Token {
            generation,
            value,
            expires_at,
            endpoints,
            catalog_types,
        })
    }

    /// Authenticate now rather than on the first request.
    pub async fn authenticate(&self) -> Result<(), ClientError> {
        let t = self.authenticate_now().await?;
        *self.inner.token.lock().await = Some(Arc::new(t));
        Ok(())
    }

    async fn token(&self) -> Result<Arc<Token>, ClientError> {
        let mut guard = self.inner.token.lock().await;
        if let Some(t) = guard.as_ref()
            && !t.expiring()
        {
            return Ok(t.clone());
        }
        let t = Arc::new(self.authenticate_now().await?);
        *guard = Some(t.clone());
        Ok(t)
    }

    async fn renew(&self, failed: u64) -> Result<Arc<Token>, ClientError> {
        let mut guard = self.inner.token.lock().await;
        if let Some(t) = guard.as_ref()
            && t.generation != failed
        {
            return Ok(t.clone());
        }
        tracing::debug!("token refused; authenticating again");
        let t = Arc::new(self.authenticate_now().await?);
        *guard = Some(t.clone());
        Ok(t)
    }

    fn endpoint_of(&self, token: &Token, service_type: &str) -> Result<Url, ClientError> {
        token
            .endpoints
            .iter()
            .find(|(t, _)| t == service_type)
            .map(|(_, u)| u.clone())
            .ok_or_else(|| {
                let c = &self.inner.cloud;
                ClientError::Config(format!(
                    "the Keystone catalog of cloud '{}' has no '{service_type}' endpoint for interface {}{} (services in the catalog: {})",
                    c.name,
                    c.interface,
                    c.region_name
                        .as_ref()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default(),
                    if token.catalog_types.is_empty() {
                        "none".to_string()
                    } else {
                        token.catalog_types.join(", ")
                    }
                ))
            })
    }

    /// The catalog URL of a service type (`network`, `load-balancer`).
    pub async fn endpoint(&self, service_type: &str) -> Result<Url, ClientError> {
        let t = self.token().await?;
        self.endpoint_of(&t, service_type)
    }

    /// `GET` a path (with an optional query) of a catalog service; its JSON answer.
    pub async fn get(&self, service_type: &str, path: &str) -> Result<Value, ClientError> {
        self.get_from(Some(service_type), path).await
    }

    /// `GET` a Keystone path (e.g. `/v3/projects`) relative to the auth URL.
    pub async fn get_identity(&self, path: &str) -> Result<Value, ClientError> {
        self.get_from(None, path).await
    }

    async fn get_from(&self, service_type: Option<&str>, path: &str) -> Result<Value, ClientError> {
        let mut token = self.token().await?;
        let mut renewed = false;
        loop {
            let base = match service_type {
                Some(t) => self.endpoint_of(&token, t)?,
                None => self.inner.auth_url.clone(),
            };
            let url = rest::join(&base, path)?;
            let mut call = Call::new(Method::GET, url);
            call.headers
                .insert(ACCEPT, HeaderValue::from_static("application/json"));
            call.headers.insert("x-auth-token", token.value.clone());
            let raw = self.inner.transport.send(&call).await?;
            if raw.status == 401 && !renewed {
                renewed = true;
                token = self.renew(token.generation).await?;
                continue;
            }
            if raw.status >= 400 {
                return Err(raw.api_error(&call.method, &call.path));
            }
            return raw.json(&call.method, &call.path);
        }
    }

    /// A change (`POST`, `PUT`, `DELETE`) to a path of a catalog service, with an optional
    /// JSON body; its JSON answer (`Value::Null` for an empty one, e.g. 204). Sent as the
    /// transport sends it: a POST is never repeated once it may have reached the service.
    pub async fn send(
        &self,
        service_type: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut token = self.token().await?;
        let mut renewed = false;
        loop {
            let base = self.endpoint_of(&token, service_type)?;
            let url = rest::join(&base, path)?;
            let mut call = Call::new(method.clone(), url);
            call.headers
                .insert(ACCEPT, HeaderValue::from_static("application/json"));
            call.headers.insert("x-auth-token", token.value.clone());
            if let Some(b) = body {
                call.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                call.body = Some(serde_json::to_vec(b).map_err(|e| ClientError::Decode {
                    method: method.to_string(),
                    path: path.to_string(),
                    message: e.to_string(),
                })?);
            }
            let raw = self.inner.transport.send(&call).await?;
            if raw.status == 401 && !renewed {
                renewed = true;
                token = self.renew(token.generation).await?;
                continue;
            }
            if raw.status >= 400 {
                return Err(raw.api_error(&call.method, &call.path));
            }
            if raw.body.iter().all(u8::is_ascii_whitespace) {
                return Ok(Value::Null);
            }
            return raw.json(&call.method, &call.path);
        }
    }

    /// Every object of a paged list: `GET path?limit=N`, then each `<collection>_links` `next`
    /// link's query (its `marker`) on the same path, until a page has no `next` link. Bounded
    /// by the configured page limit; a repeated `next` link is an error.
    pub async fn list_all(
        &self,
        service_type: &str,
        path: &str,
        collection: &str,
    ) -> Result<Vec<Value>, ClientError> {
        let cfg = &self.inner.transport.cfg;
        let (bare, first_query) = match path.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (path.to_string(), None),
        };
        let decode = |message: String| ClientError::Decode {
            method: "GET".into(),
            path: bare.clone(),
            message,
        };
        let limit = cfg.page_size.to_string();
        let mut query = {
            let mut q = url_query(first_query.as_deref());
            q.retain(|(k, _)| k != "limit");
            q.push(("limit".into(), limit.clone()));
            q
        };
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        for _ in 0..cfg.max_pages {
            let page_path = format!("{bare}?{}", encode_query(&query));
            let mut page = self.get(service_type, &page_path).await?;
            match page.get_mut(collection).map(Value::take) {
                Some(Value::Array(items)) => out.extend(items),
                Some(_) => return Err(decode(format!("`{collection}` is not an array"))),
                None => return Err(decode(format!("no `{collection}` array in the answer"))),
            }
            let next = page
                .get(format!("{collection}_links"))
                .and_then(Value::as_array)
                .and_then(|links| {
                    links
                        .iter()
                        .find(|l| l.get("rel").and_then(Value::as_str) == Some("next"))
                })
                .and_then(|l| l.get("href"))
                .and_then(Value::as_str);
            let Some(href) = next else {
                return Ok(out);
            };
            // Only the link's query is used: the path stays ours, so a proxy's or a service's
            // idea of its own host name cannot send the token elsewhere.
            let next_query = match href.split_once('?') {
                Some((_, q)) => url_query(Some(q)),
                None => return Err(decode(format!("next link '{href}' has no query"))),
            };
            let key = encode_query(&next_query);
            if !seen.insert(key.clone()) {
                return Err(ClientError::CursorLoop {
                    path: bare,
                    cursor: key,
                });
            }
            query = next_query;
            if !query.iter().any(|(k, _)| k == "limit") {
                query.push(("limit".into(), limit.clone()));
            }
        }
        Err(ClientError::PageLimit {
            path: bare,
            max_pages: cfg.max_pages,
            objects: out.len(),
        })
    }
}

fn url_query(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn encode_query(pairs: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish()
}

/// An error body's message (Keystone `error.message`), short and single-line.
fn refusal_message(raw: &rest::Raw, call: &Call) -> String {
    let e = crate::error::NsxApiError::from_body(
        call.method.as_str(),
        &call.path,
        raw.status,
        &raw.body,
    );
    if e.error_message.is_empty() {
        "access denied".into()
    } else {
        e.error_message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trip() {
        let q = url_query(Some("limit=2&marker=a%2Fb&fields=id"));
        assert_eq!(q[1], ("marker".to_string(), "a/b".to_string()));
        assert_eq!(encode_query(&q), "limit=2&marker=a%2Fb&fields=id");
    }
}

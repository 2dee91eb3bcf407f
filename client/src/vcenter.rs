//! A vCenter reader over the vSphere Automation REST API: `POST /api/session` with basic
//! authentication, then the session id in `vmware-api-session-id` (one new session when it is
//! refused); clusters, hosts and VMs with their power state.

use std::sync::Arc;

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::ClientError;
use crate::rest::{self, Call, ServiceConfig, Transport};
use crate::secret::Credentials;

const SESSION_HEADER: &str = "vmware-api-session-id";

/// A vCenter client. Cheap to clone.
#[derive(Clone)]
pub struct VcenterClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    base: Url,
    creds: Credentials,
    session: Mutex<Option<(u64, HeaderValue)>>,
    generation: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for VcenterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VcenterClient")
            .field("base", &self.inner.base.as_str())
            .field("username", &self.inner.creds.username)
            .finish_non_exhaustive()
    }
}

impl VcenterClient {
    pub fn new(
        base_url: &str,
        creds: Credentials,
        cfg: ServiceConfig,
    ) -> Result<Self, ClientError> {
        let base = rest::parse_service_url("vCenter", base_url)?;
        if creds.username.is_empty() || creds.password.is_empty() {
            return Err(ClientError::Config(
                "vCenter credentials are required (username and password)".into(),
            ));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                transport: Transport::new(cfg)?,
                base,
                creds,
                session: Mutex::new(None),
                generation: std::sync::atomic::AtomicU64::new(0),
            }),
        })
    }

    pub fn base_label(&self) -> String {
        self.inner.base.as_str().trim_end_matches('/').to_string()
    }

    pub fn requests_sent(&self) -> u64 {
        self.inner.transport.requests_sent()
    }

    /// Sessions created so far.
    pub fn logins(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn create_session(&self) -> Result<(u64, HeaderValue), ClientError> {
        let url = rest::join(&self.inner.base, "/api/session")?;
        let mut call = Call::new(Method::POST, url);
        call.basic = Some((
            self.inner.creds.username.clone(),
            self.inner.creds.password.clone(),
        ));
        call.headers
            .insert(ACCEPT, HeaderValue::from_static("application/json"));
        let raw = self.inner.transport.send(&call).await?;
        if matches!(raw.status, 401 | 403) {
            let e = crate::error::NsxApiError::from_body("POST", &call.path, raw.status, &raw.body);
            return Err(ClientError::Unauthorized {
                service: "vCenter",
                url: self.base_label(),
                username: self.inner.creds.username.clone(),
                http_status: raw.status,
                message: format!(
                    "{}. Check VCENTER_USERNAME / VCENTER_PASSWORD or the vCenter password file",
                    if e.error_message.is_empty() {
                        "access denied".to_string()
                    } else {
                        e.error_message
                    }
                ),
            });
        }
        if raw.status >= 400 {
            return Err(raw.api_error(&call.method, &call.path));
        }
        let body = raw.json(&call.method, &call.path)?;
        // The answer is the session id as a JSON string (the older /rest API wrapped it in
        // `value`).
        let id = body
            .as_str()
            .or_else(|| body.get("value").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ClientError::Decode {
                method: "POST".into(),
                path: call.path.clone(),
                message: "the answer is not a session id string".into(),
            })?;
        let mut hv = HeaderValue::from_str(id).map_err(|_| ClientError::Decode {
            method: "POST".into(),
            path: call.path.clone(),
            message: "the session id is not a valid header value".into(),
        })?;
        hv.set_sensitive(true);
        let generation = self
            .inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        Ok((generation, hv))
    }

    async fn session(&self, failed: Option<u64>) -> Result<(u64, HeaderValue), ClientError> {
        let mut guard = self.inner.session.lock().await;
        if let Some((g, v)) = guard.as_ref()
            && failed != Some(*g)
        {
            return Ok((*g, v.clone()));
        }
        let s = self.create_session().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Create the session now rather than on the first request.
    pub async fn login(&self) -> Result<(), ClientError> {
        self.session(None).await.map(|_| ())
    }

    /// `DELETE /api/session` (best effort).
    pub async fn logout(&self) {
        let taken = self.inner.session.lock().await.take();
        if let Some((_, v)) = taken
            && let Ok(url) = rest::join(&self.inner.base, "/api/session")
        {
            let mut call = Call::new(Method::DELETE, url);
            call.headers.insert(SESSION_HEADER, v);
            let _ = self.inner.transport.send(&call).await;
        }
    }

    /// `POST` without a body (e.g. `POST /api/vcenter/vm/{vm}/power?action=stop`); the answer
    /// as JSON (`Null` when empty).
    pub async fn post(&self, path: &str) -> Result<Value, ClientError> {
        let (raw, call) = self.answer(Method::POST, path).await?;
        if raw.status >= 400 {
            return Err(raw.api_error(&call.method, &call.path));
        }
        raw.json(&call.method, &call.path)
    }

    /// The vCenter account, for a service that logs in to vCenter itself (the migration
    /// coordinator's `SourceNsxApiEndpoint.vc_username` / `vc_password`).
    pub fn credentials(&self) -> &Credentials {
        &self.inner.creds
    }

    /// `GET` a JSON answer.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let (raw, call) = self.get_answer(path).await?;
        if raw.status >= 400 {
            return Err(raw.api_error(&call.method, &call.path));
        }
        raw.json(&call.method, &call.path)
    }

    /// `GET /api/vcenter/vm` unfiltered, or `None` when vCenter refuses because more VMs match
    /// than it lists at once (`error_type` `UNABLE_TO_ALLOCATE_RESOURCE`); then list per host.
    pub async fn vms_unless_too_many(&self) -> Result<Option<Vec<Value>>, ClientError> {
        const PATH: &str = "/api/vcenter/vm";
        let (raw, call) = self.get_answer(PATH).await?;
        if raw.status >= 400 {
            let too_many = serde_json::from_slice::<Value>(&raw.body)
                .ok()
                .and_then(|v| {
                    v.get("error_type")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .is_some_and(|t| t == "UNABLE_TO_ALLOCATE_RESOURCE");
            if too_many {
                return Ok(None);
            }
            return Err(raw.api_error(&call.method, &call.path));
        }
        match raw.json(&call.method, &call.path)? {
            Value::Array(a) => Ok(Some(a)),
            _ => Err(ClientError::Decode {
                method: "GET".into(),
                path: PATH.into(),
                message: "expected a JSON array".into(),
            }),
        }
    }

    /// The answer to a `GET` (any status but a refused session, which is renewed once).
    async fn get_answer(&self, path: &str) -> Result<(rest::Raw, Call), ClientError> {
        self.answer(Method::GET, path).await
    }

    async fn answer(&self, method: Method, path: &str) -> Result<(rest::Raw, Call), ClientError> {
        let url = rest::join(&self.inner.base, path)?;
        let mut failed = None;
        loop {
            let (g, sid) = self.session(failed).await?;
            let mut call = Call::new(method.clone(), url.clone());
            call.headers
                .insert(ACCEPT, HeaderValue::from_static("application/json"));
            call.headers.insert(SESSION_HEADER, sid);
            let raw = self.inner.transport.send(&call).await?;
            if raw.status == 401 && failed.is_none() {
                failed = Some(g);
                continue;
            }
            return Ok((raw, call));
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>, ClientError> {
        match self.get(path).await? {
            Value::Array(a) => Ok(a),
            _ => Err(ClientError::Decode {
                method: "GET".into(),
                path: path.split('?').next().unwrap_or(path).to_string(),
                message: "expected a JSON array".into(),
            }),
        }
    }

    /// `GET /api/vcenter/cluster`: `[{cluster, name, ha_enabled, drs_enabled}]`.
    pub async fn clusters(&self) -> Result<Vec<Value>, ClientError> {
        self.list("/api/vcenter/cluster").await
    }

    /// `GET /api/vcenter/host[?clusters=<id>]`: `[{host, name, connection_state, power_state}]`.
    pub async fn hosts(&self, cluster: Option<&str>) -> Result<Vec<Value>, ClientError> {
        match cluster {
            Some(c) => {
                self.list(&format!("/api/vcenter/host?clusters={}", encode(c)))
                    .await
            }
            None => self.list("/api/vcenter/host").await,
        }
    }

    /// `GET /api/vcenter/vm?hosts=<id>`: `[{vm, name, power_state, ...}]` of one host. vCenter
    /// refuses a VM list of more than 4000 entries, so VMs are read host by host.
    pub async fn vms_of_host(&self, host: &str) -> Result<Vec<Value>, ClientError> {
        self.list(&format!("/api/vcenter/vm?hosts={}", encode(host)))
            .await
    }

    /// `GET /api/vcenter/vm[?<filter>]` as given.
    pub async fn vms(&self, query: Option<&str>) -> Result<Vec<Value>, ClientError> {
        match query {
            Some(q) => self.list(&format!("/api/vcenter/vm?{q}")).await,
            None => self.list("/api/vcenter/vm").await,
        }
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

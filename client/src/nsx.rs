//! The NSX Manager REST client: authentication, requests with retries and limits, paging.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::Instant;

use crate::error::{ClientError, NsxApiError};
use crate::retry::{RateLimiter, RetryPolicy};
use crate::secret::Credentials;
use crate::tls::{self, TlsOptions};

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMode {
    /// `POST /api/session/create` once, then the `JSESSIONID` cookie and `X-XSRF-TOKEN` header
    /// on every call; one transparent re-login when the session expires.
    #[default]
    Session,
    /// HTTP basic authentication on every request.
    Basic,
    /// Client certificate only (principal identity); no username/password is sent.
    Certificate,
}

/// Configuration of an [`NsxClient`].
#[derive(Debug, Clone)]
pub struct NsxConfig {
    /// `https://manager[:port]` (scheme defaults to https when omitted; http is allowed).
    pub base_url: String,
    pub credentials: Option<Credentials>,
    pub auth: AuthMode,
    pub tls: TlsOptions,
    pub retry: RetryPolicy,
    /// Requests in flight at once from this client (NSX allows 40 per client, 199 overall).
    pub max_concurrency: usize,
    /// Request starts per second (NSX allows 100 per client); `None` = unpaced.
    pub rate_limit: Option<f64>,
    pub connect_timeout: Duration,
    /// Default per-request timeout (overridable per request, e.g. for the slow DONE call).
    pub timeout: Duration,
    /// Upper bound on pages fetched by [`NsxClient::list_all`] / [`NsxClient::search_all`].
    pub max_pages: usize,
}

impl NsxConfig {
    pub fn new(base_url: impl Into<String>, credentials: Option<Credentials>) -> Self {
        Self {
            base_url: base_url.into(),
            credentials,
            auth: AuthMode::Session,
            tls: TlsOptions::default(),
            retry: RetryPolicy::default(),
            max_concurrency: 10,
            rate_limit: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(180),
            max_pages: 1000,
        }
    }
}

/// One API call. Paths are relative to the manager (`/api/v1/...`, `/policy/api/v1/...`) and may
/// carry a query string; more parameters can be added with [`Request::query`].
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// A body other than JSON: content type and bytes (e.g. a multipart upload).
    raw: Option<(String, Vec<u8>)>,
    idempotent: Option<bool>,
    retry: bool,
    timeout: Option<Duration>,
    headers: Vec<(String, String)>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            raw: None,
            idempotent: None,
            retry: true,
            timeout: None,
            headers: Vec::new(),
        }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn put(path: impl Into<String>) -> Self {
        Self::new(Method::PUT, path)
    }
    pub fn patch(path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, path)
    }
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, path)
    }
    /// JSON request body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// A body that is not JSON, with its content type (e.g. `multipart/form-data; boundary=..`
    /// for `POST /api/v1/migration/data/upload`).
    pub fn raw(mut self, content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        self.raw = Some((content_type.into(), bytes));
        self
    }
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }
    /// Whether re-sending after a connection failure is safe. Defaults: GET, HEAD, PUT, DELETE
    /// yes; POST, PATCH no. (A connection that was never established is always retried.)
    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = Some(yes);
        self
    }
    /// Send once: no retry of any kind (e.g. the migration DONE and rollback calls).
    pub fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Extra header, e.g. `X-Allow-Overwrite: true`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn method(&self) -> &Method {
        &self.method
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    fn is_idempotent(&self) -> bool {
        self.idempotent.unwrap_or(matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        ))
    }
    /// The path without its query string, for messages and logs.
    fn bare_path(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

/// A successful answer: status and JSON body (`Value::Null` when the body is empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub body: Value,
}

/// What a client has done so far (for summaries and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClientStats {
    /// HTTP requests put on the wire (session creates and retries included).
    pub requests_sent: u64,
    /// Retries after a transient failure (re-logins not counted).
    pub retries: u64,
    /// Sessions created.
    pub logins: u64,
}

/// `GET /api/v1/node/services/migration-coordinator/status`.
#[derive(Debug, Clone, PartialEq)]
pub struct CoordinatorStatus {
    pub runtime_state: String,
    pub raw: Value,
}

impl CoordinatorStatus {
    pub fn is_running(&self) -> bool {
        self.runtime_state.eq_ignore_ascii_case("running")
    }
}

struct SessionState {
    generation: u64,
    cookie: HeaderValue,
    xsrf: Option<HeaderValue>,
}

/// Result of one attempt, before the retry decision.
enum AttemptError {
    /// The session was refused (expired, bad XSRF): log in again once and resend.
    SessionExpired {
        generation: u64,
        err: ClientError,
    },
    /// Logging in failed; the login already applied the retry policy, so no further retries.
    Login(ClientError),
    Other(ClientError),
}

/// An async NSX Manager client. Cheap to clone (shared connection pool, session and limits).
#[derive(Clone)]
pub struct NsxClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base_str: String,
    cfg: NsxConfig,
    session: Mutex<Option<Arc<SessionState>>>,
    generation: std::sync::atomic::AtomicU64,
    sent: std::sync::atomic::AtomicU64,
    retries: std::sync::atomic::AtomicU64,
    permits: Semaphore,
    rate: Option<RateLimiter>,
}

impl fmt::Debug for NsxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NsxClient")
            .field("base_url", &self.inner.base_str)
            .field("auth", &self.inner.cfg.auth)
            .field(
                "username",
                &self.inner.cfg.credentials.as_ref().map(|c| &c.username),
            )
            .finish_non_exhaustive()
    }
}

/// Normalise and check a manager URL. Never echoes userinfo.
pub fn parse_base_url(raw: &str) -> Result<Url, ClientError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ClientError::Config("the NSX Manager URL is empty".into()));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| {
        ClientError::Config(format!("invalid NSX Manager URL '{with_scheme}': {e}"))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::Config(
            "the NSX Manager URL must not contain credentials; use NSX_USERNAME / NSX_PASSWORD or --password-file".into(),
        ));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(ClientError::Config(format!(
            "NSX Manager URL scheme '{}' is not supported (use https:// or http://)",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(ClientError::Config(format!(
            "NSX Manager URL '{with_scheme}' has no host"
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::Config(
            "the NSX Manager URL must not carry a query or fragment".into(),
        ));
    }
    Ok(url)
}

fn method_str(m: &Method) -> String {
    m.as_str().to_string()
}

impl NsxClient {
    pub fn new(cfg: NsxConfig) -> Result<Self, ClientError> {
        let base = parse_base_url(&cfg.base_url)?;
        let base_str = base.as_str().trim_end_matches('/').to_string();
        match cfg.auth {
            AuthMode::Session | AuthMode::Basic => match &cfg.credentials {
                Some(c) if !c.username.is_empty() => {}
                _ => {
                    return Err(ClientError::Config(
                        "NSX credentials are required: set NSX_USERNAME and NSX_PASSWORD (or --password-file)".into(),
                    ));
                }
            },
            AuthMode::Certificate => {
                if cfg.tls.client_cert.is_none() {
                    return Err(ClientError::Config(
                        "certificate authentication needs a client certificate and key".into(),
                    ));
                }
            }
        }
        if cfg.max_concurrency == 0 {
            return Err(ClientError::Config("concurrency must be at least 1".into()));
        }
        if cfg.max_pages == 0 {
            return Err(ClientError::Config("max_pages must be at least 1".into()));
        }
        let rate = match cfg.rate_limit {
            None => None,
            Some(r) => Some(RateLimiter::new(r).ok_or_else(|| {
                ClientError::Config(format!(
                    "rate limit must be a positive number of requests per second, got {r}"
                ))
            })?),
        };
        let tls_config = tls::client_config(&cfg.tls)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls_config)
            .connect_timeout(cfg.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // All retrying is ours (policy, idempotency, logging).
            .retry(reqwest::retry::never())
            .pool_max_idle_per_host(cfg.max_concurrency)
            .user_agent(concat!("nsx-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_str,
                permits: Semaphore::new(cfg.max_concurrency),
                cfg,
                session: Mutex::new(None),
                generation: std::sync::atomic::AtomicU64::new(0),
                sent: std::sync::atomic::AtomicU64::new(0),
                retries: std::sync::atomic::AtomicU64::new(0),
                rate,
            }),
        })
    }

    /// The normalised manager URL (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.inner.base_str
    }

    pub fn config(&self) -> &NsxConfig {
        &self.inner.cfg
    }

    /// Counters since the client was built (shared by clones).
    pub fn stats(&self) -> ClientStats {
        use std::sync::atomic::Ordering::Relaxed;
        ClientStats {
            requests_sent: self.inner.sent.load(Relaxed),
            retries: self.inner.retries.load(Relaxed),
            logins: self.inner.generation.load(Relaxed),
        }
    }

    fn url_for(&self, req: &Request) -> Result<Url, ClientError> {
        let path = if req.path.starts_with('/') {
            req.path.clone()
        } else {
            format!("/{}", req.path)
        };
        let mut url = Url::parse(&format!("{}{}", self.inner.base_str, path)).map_err(|e| {
            ClientError::Config(format!("invalid request path '{}': {e}", req.bare_path()))
        })?;
        if !req.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &req.query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// Classify a transport error from reqwest.
    fn transport_error(&self, req: &Request, e: reqwest::Error, timeout: Duration) -> ClientError {
        let url = format!("{}{}", self.inner.base_str, req.bare_path());
        if let Some(msg) = tls::find_tls_error(&e) {
            return ClientError::Tls {
                url: self.inner.base_str.clone(),
                message: msg,
                hint: tls::hint(&self.inner.cfg.tls),
            };
        }
        if e.is_timeout() {
            return ClientError::Timeout {
                method: method_str(&req.method),
                url,
                timeout,
            };
        }
        // Describe without the URL (already in the message) and without any header.
        let mut parts = Vec::new();
        let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
        while let Some(s) = cur {
            parts.push(s.to_string());
            cur = s.source();
        }
        let (is_connect, is_sent) = (
            e.is_connect(),
            e.is_request() || e.is_body() || e.is_decode(),
        );
        let message = if parts.is_empty() {
            e.without_url().to_string()
        } else {
            parts.join(": ")
        };
        if is_connect {
            ClientError::Connect {
                method: method_str(&req.method),
                url,
                message,
                may_have_reached_server: false,
            }
        } else if is_sent {
            ClientError::Connect {
                method: method_str(&req.method),
                url,
                message,
                may_have_reached_server: true,
            }
        } else {
            ClientError::Transport {
                method: method_str(&req.method),
                url,
                message,
            }
        }
    }

    /// Log in (session mode) now rather than on the first request. No-op for other modes.
    pub async fn login(&self) -> Result<(), ClientError> {
        if self.inner.cfg.auth != AuthMode::Session {
            return Ok(());
        }
        let mut guard = self.inner.session.lock().await;
        let s = self.create_session().await?;
        *guard = Some(Arc::new(s));
        Ok(())
    }

    /// End the session (best effort: failures are ignored). Later calls log in again.
    pub async fn logout(&self) {
        let taken = self.inner.session.lock().await.take();
        if let Some(s) = taken {
            let url = format!("{}/api/session/destroy", self.inner.base_str);
            let mut rb = self.inner.http.post(url).header("cookie", s.cookie.clone());
            if let Some(x) = &s.xsrf {
                rb = rb.header("x-xsrf-token", x.clone());
            }
            let _ = rb.timeout(self.inner.cfg.connect_timeout).send().await;
        }
    }

    async fn current_session(&self) -> Result<Arc<SessionState>, ClientError> {
        let mut guard = self.inner.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = Arc::new(self.create_session().await?);
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Replace the session that failed (unless another task already did).
    async fn renew_session(&self, failed_generation: u64) -> Result<(), ClientError> {
        let mut guard = self.inner.session.lock().await;
        if let Some(s) = guard.as_ref()
            && s.generation != failed_generation
        {
            return Ok(());
        }
        tracing::debug!("NSX session expired or refused; logging in again");
        *guard = None;
        let s = self.create_session().await?;
        *guard = Some(Arc::new(s));
        Ok(())
    }

    /// `POST /api/session/create` with retries for transient failures.
    async fn create_session(&self) -> Result<SessionState, ClientError> {
        let Some(creds) = self.inner.cfg.credentials.as_ref() else {
            return Err(ClientError::Config("no NSX credentials configured".into()));
        };
        let req = Request::post("/api/session/create").idempotent(true);
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result = self.session_attempt(&req, creds).await;
            let err = match result {
                Ok(s) => return Ok(s),
                Err(e) => e,
            };
            if !err.is_retriable() {
                return Err(err);
            }
            self.wait_to_retry(attempt, started, err, |d, err| {
                tracing::debug!(attempt, delay_ms = d.as_millis() as u64, reason = %err, "retrying session create");
            })
            .await?;
        }
    }

    /// After a retriable failure: wait the retry policy's next delay (honouring `Retry-After`)
    /// and return `Ok` to try again, or give the error back when the policy is spent (as
    /// `RetriesExhausted` once at least one retry was made).
    async fn wait_to_retry(
        &self,
        attempt: u32,
        started: Instant,
        err: ClientError,
        log: impl FnOnce(Duration, &ClientError),
    ) -> Result<(), ClientError> {
        let retry_after = err.api().and_then(|a| a.retry_after);
        match self
            .inner
            .cfg
            .retry
            .next_delay(attempt, started.elapsed(), retry_after)
        {
            Some(d) => {
                log(d, &err);
                self.inner
                    .retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(d).await;
                Ok(())
            }
            None if attempt > 1 => Err(ClientError::RetriesExhausted {
                attempts: attempt,
                elapsed: started.elapsed(),
                last: Box::new(err),
            }),
            None => Err(err),
        }
    }

    async fn session_attempt(
        &self,
        req: &Request,
        creds: &Credentials,
    ) -> Result<SessionState, ClientError> {
        let url = self.url_for(req)?;
        let timeout = self.inner.cfg.timeout;
        let form = [
            ("j_username", creds.username.as_str()),
            ("j_password", creds.password.expose()),
        ];
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| ClientError::Config("client is shut down".into()))?;
        if let Some(r) = &self.inner.rate {
            r.acquire().await;
        }
        self.inner
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = self
            .inner
            .http
            .post(url)
            .form(&form)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(req, e, timeout))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(req, e, timeout))?;
        if status >= 400 {
            let mut api = NsxApiError::from_body("POST", req.bare_path(), status, &body);
            api.retry_after = retry_after(&headers);
            if status == 401 || status == 403 {
                return Err(ClientError::AuthFailed {
                    url: self.inner.base_str.clone(),
                    username: creds.username.clone(),
                    http_status: status,
                    error_code: api.error_code,
                    message: if api.error_message.is_empty() {
                        "access denied".into()
                    } else {
                        api.error_message
                    },
                });
            }
            return Err(ClientError::Api(Box::new(api)));
        }
        let mut cookies = Vec::new();
        for v in headers.get_all("set-cookie") {
            if let Ok(s) = v.to_str()
                && let Some(pair) = s.split(';').next()
                && pair.contains('=')
            {
                cookies.push(pair.trim().to_string());
            }
        }
        if !cookies.iter().any(|c| c.starts_with("JSESSIONID=")) {
            return Err(ClientError::Decode {
                method: "POST".into(),
                path: req.bare_path().into(),
                message: "the session was created without a JSESSIONID cookie".into(),
            });
        }
        let mut cookie =
            HeaderValue::from_str(&cookies.join("; ")).map_err(|_| ClientError::Decode {
                method: "POST".into(),
                path: req.bare_path().into(),
                message: "unusable session cookie".into(),
            })?;
        cookie.set_sensitive(true);
        let xsrf = headers.get("x-xsrf-token").map(|v| {
            let mut v = v.clone();
            v.set_sensitive(true);
            v
        });
        let generation = self
            .inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        tracing::debug!(generation, "NSX session created");
        Ok(SessionState {
            generation,
            cookie,
            xsrf,
        })
    }

    /// One attempt: authenticate, respect limits, send, read and classify the answer.
    async fn attempt(&self, req: &Request) -> Result<Response, AttemptError> {
        let cfg = &self.inner.cfg;
        let session = match cfg.auth {
            AuthMode::Session => Some(self.current_session().await.map_err(AttemptError::Login)?),
            _ => None,
        };
        let url = self.url_for(req).map_err(AttemptError::Other)?;
        let timeout = req.timeout.unwrap_or(cfg.timeout);
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        for (k, v) in &req.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                AttemptError::Other(ClientError::Config(format!("invalid header name '{k}'")))
            })?;
            let value = HeaderValue::from_str(v).map_err(|_| {
                AttemptError::Other(ClientError::Config(format!("invalid value for header {k}")))
            })?;
            headers.insert(name, value);
        }
        if let Some(s) = &session {
            headers.insert("cookie", s.cookie.clone());
            if let Some(x) = &s.xsrf {
                headers.insert("x-xsrf-token", x.clone());
            }
        }
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url)
            .headers(headers)
            .timeout(timeout);
        if cfg.auth == AuthMode::Basic
            && let Some(c) = &cfg.credentials
        {
            rb = rb.basic_auth(&c.username, Some(c.password.expose()));
        }
        if let Some(b) = &req.body {
            let bytes = serde_json::to_vec(b).map_err(|e| {
                AttemptError::Other(ClientError::Config(format!("cannot encode body: {e}")))
            })?;
            rb = rb.header("content-type", "application/json").body(bytes);
        } else if let Some((ct, bytes)) = &req.raw {
            rb = rb.header("content-type", ct.as_str()).body(bytes.clone());
        }

        let _permit =
            self.inner.permits.acquire().await.map_err(|_| {
                AttemptError::Other(ClientError::Config("client is shut down".into()))
            })?;
        if let Some(r) = &self.inner.rate {
            r.acquire().await;
        }
        self.inner
            .sent
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let resp = rb
            .send()
            .await
            .map_err(|e| AttemptError::Other(self.transport_error(req, e, timeout)))?;
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let body = resp
            .bytes()
            .await
            .map_err(|e| AttemptError::Other(self.transport_error(req, e, timeout)))?;
        drop(_permit);

        if status < 400 {
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&body).map_err(|e| {
                    AttemptError::Other(ClientError::Decode {
                        method: method_str(&req.method),
                        path: req.bare_path().into(),
                        message: format!("invalid JSON body: {e}"),
                    })
                })?
            };
            return Ok(Response { status, body });
        }
        let mut api = NsxApiError::from_body(req.method.as_str(), req.bare_path(), status, &body);
        api.retry_after = retry_after(&resp_headers);
        let auth_refused = status == 401 || api.is_bad_xsrf() || api.is_invalid_credentials();
        if auth_refused {
            if let Some(s) = &session {
                return Err(AttemptError::SessionExpired {
                    generation: s.generation,
                    err: ClientError::Api(Box::new(api)),
                });
            }
            if status == 401 || api.is_invalid_credentials() {
                return Err(AttemptError::Other(self.auth_failed(&api)));
            }
        }
        Err(AttemptError::Other(ClientError::Api(Box::new(api))))
    }

    fn auth_failed(&self, api: &NsxApiError) -> ClientError {
        ClientError::AuthFailed {
            url: self.inner.base_str.clone(),
            username: self
                .inner
                .cfg
                .credentials
                .as_ref()
                .map(|c| c.username.clone())
                .unwrap_or_default(),
            http_status: api.http_status,
            error_code: api.error_code,
            message: if api.error_message.is_empty() {
                "access denied".into()
            } else {
                api.error_message.clone()
            },
        }
    }

    /// Send a request with the retry policy, session renewal and the client's limits.
    pub async fn send(&self, req: Request) -> Result<Response, ClientError> {
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            attempt += 1;
            let err = match self.attempt(&req).await {
                Ok(r) => return Ok(r),
                Err(AttemptError::SessionExpired { generation, err }) => {
                    if renewed {
                        // A fresh session was refused too.
                        return Err(match err.api() {
                            Some(a) if a.is_invalid_credentials() || a.http_status == 401 => {
                                self.auth_failed(a)
                            }
                            _ => err,
                        });
                    }
                    renewed = true;
                    self.renew_session(generation).await?;
                    attempt -= 1; // re-login is not a retry
                    continue;
                }
                Err(AttemptError::Login(e)) => return Err(e),
                Err(AttemptError::Other(e)) => e,
            };
            let retriable = match &err {
                ClientError::Api(a) => a.is_retriable(),
                ClientError::Connect {
                    may_have_reached_server: false,
                    ..
                } => true,
                ClientError::Connect { .. } | ClientError::Timeout { .. } => req.is_idempotent(),
                _ => false,
            };
            if !req.retry || !retriable {
                return Err(err);
            }
            self.wait_to_retry(attempt, started, err, |d, err| {
                tracing::debug!(
                    method = %req.method,
                    path = req.bare_path(),
                    attempt,
                    delay_ms = d.as_millis() as u64,
                    status = err.http_status(),
                    "retrying NSX request"
                );
            })
            .await?;
        }
    }

    /// Send and deserialize the JSON answer into `T`.
    pub async fn send_as<T: DeserializeOwned>(&self, req: Request) -> Result<T, ClientError> {
        let method = method_str(&req.method);
        let path = req.bare_path().to_string();
        let resp = self.send(req).await?;
        serde_json::from_value(resp.body).map_err(|e| ClientError::Decode {
            method,
            path,
            message: e.to_string(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        Ok(self.send(Request::get(path)).await?.body)
    }

    pub async fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send_as(Request::get(path)).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        Ok(self
            .send(Request::post(path).json(body.clone()))
            .await?
            .body)
    }

    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        Ok(self.send(Request::put(path).json(body.clone())).await?.body)
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        Ok(self
            .send(Request::patch(path).json(body.clone()))
            .await?
            .body)
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        Ok(self.send(Request::delete(path)).await?.body)
    }

    fn results_of(page: &Value, req_path: &str) -> Result<Vec<Value>, ClientError> {
        match page.get("results") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(_) => Err(ClientError::Decode {
                method: "GET".into(),
                path: req_path.into(),
                message: "`results` is not an array".into(),
            }),
        }
    }

    /// Every object of an MP list API, following `cursor` until it is empty.
    pub async fn list_all(&self, path: &str) -> Result<Vec<Value>, ClientError> {
        self.list_all_with(path, |_| {}).await
    }

    /// [`NsxClient::list_all`] calling `progress(objects so far)` after each page.
    pub async fn list_all_with<F>(
        &self,
        path: &str,
        mut progress: F,
    ) -> Result<Vec<Value>, ClientError>
    where
        F: FnMut(usize) + Send,
    {
        let bare = path.split('?').next().unwrap_or(path).to_string();
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut seen_cursors = std::collections::HashSet::new();
        for _ in 0..self.inner.cfg.max_pages {
            let mut req = Request::get(path);
            if let Some(c) = &cursor {
                req = req.query("cursor", c.clone());
            }
            let page = self.send(req).await?.body;
            out.extend(Self::results_of(&page, &bare)?);
            progress(out.len());
            match page.get("cursor").and_then(Value::as_str) {
                // MP list APIs end with an empty cursor, or one starting with "0000".
                None => return Ok(out),
                Some(c) if c.is_empty() || c.starts_with("0000") => return Ok(out),
                Some(c) => {
                    if !seen_cursors.insert(c.to_string()) {
                        return Err(ClientError::CursorLoop {
                            path: bare,
                            cursor: c.to_string(),
                        });
                    }
                    cursor = Some(c.to_string());
                }
            }
        }
        Err(ClientError::PageLimit {
            path: bare,
            max_pages: self.inner.cfg.max_pages,
            objects: out.len(),
        })
    }

    /// Every result of an MP search (`GET /api/v1/search/query`), 1000 per page, sorted by id.
    pub async fn search_all(&self, query: &str) -> Result<Vec<Value>, ClientError> {
        self.search_all_with(query, |_| {}).await
    }

    /// [`NsxClient::search_all`] calling `progress(objects so far)` after each page.
    pub async fn search_all_with<F>(
        &self,
        query: &str,
        progress: F,
    ) -> Result<Vec<Value>, ClientError>
    where
        F: FnMut(usize) + Send,
    {
        self.search_all_at("/api/v1/search/query", query, progress)
            .await
    }

    /// Search paging against any search endpoint (e.g. `/policy/api/v1/search/query`). Stops on
    /// an empty page, a missing cursor, or a numeric cursor >= the first page's `result_count`.
    pub async fn search_all_at<F>(
        &self,
        path: &str,
        query: &str,
        mut progress: F,
    ) -> Result<Vec<Value>, ClientError>
    where
        F: FnMut(usize) + Send,
    {
        let bare = path.split('?').next().unwrap_or(path).to_string();
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        let mut total: Option<u64> = None;
        let mut seen_cursors = std::collections::HashSet::new();
        for _ in 0..self.inner.cfg.max_pages {
            let mut req = Request::get(path)
                .query("query", query)
                .query("page_size", "1000")
                .query("sort_by", "id");
            if let Some(c) = &cursor {
                req = req.query("cursor", c.clone());
            }
            let page = self.send(req).await?.body;
            let results = Self::results_of(&page, &bare)?;
            if total.is_none() {
                total = page.get("result_count").and_then(Value::as_u64);
                if let Some(t) = total
                    && t > 50_000
                {
                    tracing::warn!(
                        result_count = t,
                        "search matches more than 50000 objects; NSX may not page past that"
                    );
                }
            }
            let empty = results.is_empty();
            out.extend(results);
            progress(out.len());
            if empty {
                return Ok(out);
            }
            let Some(c) = page.get("cursor").and_then(Value::as_str) else {
                return Ok(out);
            };
            if c.is_empty() {
                return Ok(out);
            }
            if let (Ok(n), Some(t)) = (c.parse::<u64>(), total)
                && n >= t
            {
                return Ok(out);
            }
            if !seen_cursors.insert(c.to_string()) {
                return Err(ClientError::CursorLoop {
                    path: bare.clone(),
                    cursor: c.to_string(),
                });
            }
            cursor = Some(c.to_string());
        }
        Err(ClientError::PageLimit {
            path: bare.clone(),
            max_pages: self.inner.cfg.max_pages,
            objects: out.len(),
        })
    }

    /// `GET /api/v1/node/version` -> `node_version`.
    pub async fn node_version(&self) -> Result<String, ClientError> {
        const PATH: &str = "/api/v1/node/version";
        let v = self.get(PATH).await?;
        v.get("node_version")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Decode {
                method: "GET".into(),
                path: PATH.into(),
                message: "no `node_version` string in the answer".into(),
            })
    }

    /// `GET /api/v1/node/services/migration-coordinator/status`.
    pub async fn coordinator_status(&self) -> Result<CoordinatorStatus, ClientError> {
        const PATH: &str = "/api/v1/node/services/migration-coordinator/status";
        let raw = self.get(PATH).await?;
        let runtime_state = raw
            .get("runtime_state")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Decode {
                method: "GET".into(),
                path: PATH.into(),
                message: "no `runtime_state` string in the answer".into(),
            })?;
        Ok(CoordinatorStatus { runtime_state, raw })
    }
}

/// `Retry-After` in seconds (HTTP dates are not used by NSX and are ignored).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("nsx.example:8443").unwrap().as_str(),
            "https://nsx.example:8443/"
        );
        assert_eq!(
            parse_base_url("http://127.0.0.1:1234/").unwrap().as_str(),
            "http://127.0.0.1:1234/"
        );
        let e = parse_base_url("https://admin:s3cr3t@nsx.example")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("").is_err());
        assert!(parse_base_url("https://x/?a=b").is_err());
    }

    #[test]
    fn idempotency_defaults() {
        assert!(Request::get("/x").is_idempotent());
        assert!(Request::put("/x").is_idempotent());
        assert!(Request::delete("/x").is_idempotent());
        assert!(!Request::post("/x").is_idempotent());
        assert!(!Request::patch("/x").is_idempotent());
        assert!(Request::post("/x").idempotent(true).is_idempotent());
        assert_eq!(Request::get("/a/b?c=d").bare_path(), "/a/b");
    }

    #[test]
    fn config_requires_credentials() {
        let e = NsxClient::new(NsxConfig::new("https://127.0.0.1:1", None)).unwrap_err();
        assert!(matches!(e, ClientError::Config(_)));
        let mut c = NsxConfig::new("https://127.0.0.1:1", Some(Credentials::new("admin", "pw")));
        c.max_concurrency = 0;
        assert!(NsxClient::new(c).is_err());
    }

    #[test]
    fn debug_hides_password() {
        let c = NsxClient::new(NsxConfig::new(
            "https://127.0.0.1:1",
            Some(Credentials::new("admin", "TopSecret!42")),
        ))
        .unwrap();
        let s = format!("{c:?} {:?}", c.config());
        assert!(!s.contains("TopSecret"), "{s}");
    }
}

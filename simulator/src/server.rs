//! HTTP front: listener, authentication, client limits, latency, request log, fault injection
//! hooks and dispatch to the API modules.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::api::{ApiError, Reply, Req};
use crate::faults::{FaultAction, Faults};
use crate::state::{Session, State};
use crate::util::{SplitMix64, base64_decode, now_ms, parse_form};
use crate::{SimConfig, SimError};

/// In-memory request log capacity.
const LOG_CAP: usize = 100_000;

/// State shared by all request handlers.
pub struct Shared {
    pub config: Arc<SimConfig>,
    pub state: Mutex<State>,
    /// The most recent requests (at most LOG_CAP; the request log file keeps everything).
    pub log: Mutex<std::collections::VecDeque<Value>>,
    log_file: Option<Mutex<std::fs::File>>,
    limits: Mutex<LimitState>,
    pub faults: Mutex<Faults>,
    jitter_rng: Mutex<SplitMix64>,
    requests: AtomicU64,
    shutdown: watch::Sender<bool>,
    pub kill: crate::conn::KillSwitch,
    /// A TAS foundation's Cloud Controller and UAA (`cf/` of the inventory), if seeded with one.
    pub cf: Mutex<Option<crate::cf::CfState>>,
}

#[derive(Default)]
struct LimitState {
    /// client -> (unix second, count in that second)
    rate: HashMap<String, (i64, u32)>,
    inflight: HashMap<String, u32>,
    global_inflight: u32,
}

/// Lock a mutex, recovering from poisoning (a panicked handler must not wedge the simulator).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    tls: Option<crate::tls::TlsIdentity>,
    k8s_tls: crate::tls::TlsIdentity,
    k8s_addr: SocketAddr,
    shared: Arc<Shared>,
    join: tokio::task::JoinHandle<()>,
    k8s_join: tokio::task::JoinHandle<()>,
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, or `https://...` with TLS (no trailing slash).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// SHA-256 thumbprint (lowercase hex) of the generated certificate when serving TLS.
    pub fn tls_thumbprint(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.thumbprint_sha256.as_str())
    }

    /// PEM of the generated self-signed certificate (usable as a CA file) when serving TLS.
    pub fn tls_cert_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.cert_pem.as_str())
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL of the Kubernetes API subset (a separate loopback HTTPS listener).
    pub fn k8s_base_url(&self) -> String {
        format!("https://{}", self.k8s_addr)
    }

    /// PEM of the Kubernetes API's generated certificate (the kubeconfig's CA).
    pub fn k8s_ca_pem(&self) -> &str {
        &self.k8s_tls.cert_pem
    }

    /// The bearer token the simulated Kubernetes API requires (for clients other than kubectl).
    pub fn k8s_token(&self) -> &str {
        &self.shared.config.k8s_token
    }

    /// A kubeconfig (YAML) pointing `kubectl` at the simulated Kubernetes API, with the bearer
    /// token it requires.
    pub fn kubeconfig(&self) -> String {
        let cluster = self
            .shared
            .config
            .inventory
            .as_ref()
            .map(|_| {
                lock(&self.shared.state)
                    .metadata
                    .pointer("/kubernetes/cluster")
                    .and_then(Value::as_str)
                    .unwrap_or("sim")
                    .to_string()
            })
            .unwrap_or_else(|| "sim".to_string());
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {cluster}\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\ncontexts:\n- name: {cluster}\n  context:\n    cluster: {cluster}\n    user: sim-user\n    namespace: default\ncurrent-context: {cluster}\nusers:\n- name: sim-user\n  user:\n    token: {token}\n",
            url = self.k8s_base_url(),
            ca = crate::util::base64_encode(self.k8s_tls.cert_pem.as_bytes()),
            token = self.shared.config.k8s_token
        )
    }

    /// A clouds.yaml (cloud `nsx-migrate-sim`) for the simulated OpenStack, or None when no VIO
    /// deployment is simulated. `ca_file` is named as `cacert` (the certificate of `--tls`). The
    /// password is written only when it is the simulator's fixed test password; otherwise the
    /// file says to set `OS_PASSWORD`.
    pub fn clouds_yaml(&self, ca_file: Option<&std::path::Path>) -> Option<String> {
        lock(&self.shared.state).vio.as_ref()?;
        let cfg = &self.shared.config;
        let password = if cfg.password == crate::DEFAULT_PASSWORD {
            format!("      password: \"{}\"\n", cfg.password)
        } else {
            "      # password: not written (not the fixed test password); set OS_PASSWORD\n"
                .to_string()
        };
        let cacert = ca_file
            .map(|p| format!("    cacert: \"{}\"\n", p.display()))
            .unwrap_or_default();
        Some(format!(
            "clouds:\n  nsx-migrate-sim:\n    auth:\n      auth_url: \"{base}/v3\"\n      username: \"{user}\"\n{password}      project_name: admin\n      user_domain_name: Default\n      project_domain_name: Default\n    region_name: RegionOne\n    interface: public\n    identity_api_version: 3\n{cacert}",
            base = self.base_url(),
            user = cfg.username,
        ))
    }

    /// Every request so far, as the JSON objects also written to the request log file.
    pub fn request_log(&self) -> Vec<Value> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// The full simulator state as JSON (same document as `GET /_sim/state` and the state file).
    pub fn state_dump(&self) -> Value {
        lock(&self.shared.state).dump()
    }

    /// The session ids and XSRF tokens of the live sessions (a logged-out session is gone), so
    /// that a test can check that none of them reached a file the tool wrote.
    pub fn session_secrets(&self) -> Vec<String> {
        lock(&self.shared.state)
            .sessions
            .iter()
            .flat_map(|(sid, s)| [sid.clone(), s.xsrf.clone()])
            .collect()
    }

    /// Expire every Cloud Controller access token (the next list answers 401, as for a token
    /// that ran out); returns how many there were.
    pub fn expire_cf_tokens(&self) -> usize {
        lock(&self.shared.cf)
            .as_mut()
            .map(crate::cf::expire_all)
            .unwrap_or(0)
    }

    /// Stop serving and wait until the server task has finished.
    pub async fn shutdown(self) {
        let _ = self.shared.shutdown.send(true);
        let _ = self.join.await;
        let _ = self.k8s_join.await;
    }

    /// Wait until the server stops on its own (exit after N requests) or is shut down.
    pub async fn wait(self) {
        let _ = self.join.await;
        let _ = self.k8s_join.await;
    }
}

pub async fn start(config: Arc<SimConfig>, st: State) -> Result<SimHandle, SimError> {
    let faults = match &config.faults {
        Some(f) => Faults::load(f, config.seed)?,
        None => Faults::empty(config.seed),
    };
    let log_file = match &config.request_log {
        Some(p) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| SimError::StateFile {
                    file: p.clone(),
                    message: format!("cannot open request log: {e}"),
                })?,
        )),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.listen,
        source,
    })?;
    let k8s_listener = tokio::net::TcpListener::bind(config.k8s_listen)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.k8s_listen,
            source,
        })?;
    let k8s_addr = k8s_listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.k8s_listen,
        source,
    })?;
    let cf = crate::cf::CfState::load(config.inventory.as_deref(), config.seed)?;
    let (tx, rx) = watch::channel(false);
    let kill = crate::conn::KillSwitch::default();
    let shared = Arc::new(Shared {
        jitter_rng: Mutex::new(SplitMix64::new(config.seed ^ 0xA5A5)),
        config,
        state: Mutex::new(st),
        log: Mutex::new(std::collections::VecDeque::new()),
        log_file,
        limits: Mutex::new(LimitState::default()),
        faults: Mutex::new(faults),
        requests: AtomicU64::new(0),
        shutdown: tx,
        kill: kill.clone(),
        cf: Mutex::new(cf),
    });
    let app = Router::new()
        .fallback(handle)
        .with_state(shared.clone())
        .into_make_service_with_connect_info::<crate::conn::Peer>();
    let listener = crate::conn::KillableListener::new(listener, kill.clone());
    let tls = if shared.config.tls {
        Some(crate::tls::TlsIdentity::generate()?)
    } else {
        None
    };
    let shutdown_signal = |mut rx: watch::Receiver<bool>| async move {
        while !*rx.borrow() {
            if rx.changed().await.is_err() {
                break;
            }
        }
    };
    let join = match &tls {
        None => {
            let sig = shutdown_signal(rx.clone());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).with_graceful_shutdown(sig).await;
            })
        }
        Some(id) => {
            let tl = crate::tls::TlsListener::new(listener, id, rx.clone())
                .map_err(|e| SimError::Tls(format!("listener: {e}")))?;
            let sig = shutdown_signal(rx.clone());
            tokio::spawn(async move {
                let _ = axum::serve(tl, app).with_graceful_shutdown(sig).await;
            })
        }
    };
    let k8s_app = Router::new()
        .fallback(handle_k8s)
        .with_state(K8sCtx {
            shared: shared.clone(),
            addr: k8s_addr.to_string(),
        })
        .into_make_service_with_connect_info::<crate::conn::Peer>();
    let k8s_listener = crate::conn::KillableListener::new(k8s_listener, kill);
    // Like a real API server, the Kubernetes API is HTTPS only (kubectl sends a bearer token over
    // TLS only), with its own generated certificate that the kubeconfig carries as its CA.
    let k8s_tls = crate::tls::TlsIdentity::generate()?;
    let k8s_listener = crate::tls::TlsListener::new(k8s_listener, &k8s_tls, rx.clone())
        .map_err(|e| SimError::Tls(format!("Kubernetes listener: {e}")))?;
    let mut rx2 = shared.shutdown.subscribe();
    let k8s_join = tokio::spawn(async move {
        let _ = axum::serve(k8s_listener, k8s_app)
            .with_graceful_shutdown(async move {
                while !*rx2.borrow() {
                    if rx2.changed().await.is_err() {
                        break;
                    }
                }
            })
            .await;
    });
    Ok(SimHandle {
        addr,
        tls,
        k8s_tls,
        k8s_addr,
        shared,
        join,
        k8s_join,
    })
}

fn to_response(reply: Reply) -> Response {
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let typed = reply
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let body = match (reply.raw, reply.body) {
        (Some(bytes), _) => {
            if !typed {
                builder = builder.header("content-type", "application/json");
            }
            Body::from(bytes)
        }
        (None, Some(v)) => {
            builder = builder.header("content-type", "application/json");
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        (None, None) => Body::empty(),
    };
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Body::empty());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

fn error_reply(e: &ApiError) -> Reply {
    Reply {
        status: e.status,
        body: Some(e.body()),
        headers: Vec::new(),
        raw: None,
    }
}

struct InflightGuard {
    shared: Arc<Shared>,
    client: String,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        let mut l = lock(&self.shared.limits);
        if let Some(n) = l.inflight.get_mut(&self.client) {
            *n = n.saturating_sub(1);
        }
        l.global_inflight = l.global_inflight.saturating_sub(1);
    }
}

/// Apply per-client rate and concurrency limits. Returns a guard that releases the slot.
fn admit(shared: &Arc<Shared>, client: &str) -> Result<InflightGuard, ApiError> {
    let lim = &shared.config.limits;
    let mut l = lock(&shared.limits);
    if lim.global_concurrency > 0 && l.global_inflight >= lim.global_concurrency {
        return Err(ApiError::new(
            503,
            503,
            "common-services",
            format!(
                "The server is busy: more than {} requests are being processed. Please retry later.",
                lim.global_concurrency
            ),
        ));
    }
    let inflight = l.inflight.get(client).copied().unwrap_or(0);
    if lim.client_concurrency > 0 && inflight >= lim.client_concurrency {
        return Err(ApiError::new(
            429,
            429,
            "common-services",
            format!(
                "Client '{client}' exceeded concurrent request limit of {}.",
                lim.client_concurrency
            ),
        ));
    }
    if lim.client_rate_per_sec > 0 {
        let sec = now_ms().div_euclid(1000);
        let e = l.rate.entry(client.to_string()).or_insert((sec, 0));
        if e.0 != sec {
            *e = (sec, 0);
        }
        if e.1 >= lim.client_rate_per_sec {
            return Err(ApiError::new(
                429,
                429,
                "common-services",
                format!(
                    "Client '{client}' exceeded request rate of {} per second.",
                    lim.client_rate_per_sec
                ),
            ));
        }
        e.1 += 1;
    }
    *l.inflight.entry(client.to_string()).or_insert(0) += 1;
    l.global_inflight += 1;
    Ok(InflightGuard {
        shared: shared.clone(),
        client: client.to_string(),
    })
}

fn cookie(req: &Req, name: &str) -> Option<String> {
    for v in req.headers.get_all("cookie") {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(';') {
            if let Some((k, val)) = part.trim().split_once('=')
                && k == name
            {
                return Some(val.to_string());
            }
        }
    }
    None
}

fn bad_credentials() -> ApiError {
    ApiError::new(
        403,
        403,
        "common-services",
        "The credentials were incorrect or the account specified has been locked.",
    )
}

/// A client certificate no principal identity is registered with (nsxlib maps HTTP 500 with
/// error code 99 to "client certificate not trusted").
fn untrusted_certificate() -> ApiError {
    ApiError::new(
        500,
        99,
        "common-services",
        "The client certificate is not trusted: no principal identity is registered with it.",
    )
}

/// Authenticate a request: basic auth or session cookie (+ XSRF token on writes), else the
/// client certificate of a registered principal identity. Credentials win over a certificate, as
/// on NSX (a request carrying both acts as the user, not the identity).
fn authenticate(
    shared: &Shared,
    req: &Req,
) -> Result<(String, Option<crate::principal::PiCaller>), ApiError> {
    let has_credentials =
        req.header("authorization").is_some() || cookie(req, "JSESSIONID").is_some();
    if !has_credentials && let Some(sha) = &req.client_cert {
        let st = lock(&shared.state);
        let p = st
            .principals
            .iter()
            .find(|p| &p.certificate_sha256 == sha)
            .ok_or_else(untrusted_certificate)?;
        return Ok((
            p.name().to_string(),
            Some(crate::principal::PiCaller {
                protects: p.protects(),
            }),
        ));
    }
    authenticate_user(shared, req).map(|u| (u, None))
}

fn authenticate_user(shared: &Shared, req: &Req) -> Result<String, ApiError> {
    let cfg = &shared.config;
    if let Some(auth) = req.header("authorization") {
        let Some(b64) = auth
            .strip_prefix("Basic ")
            .or_else(|| auth.strip_prefix("basic "))
        else {
            return Err(bad_credentials());
        };
        let decoded = base64_decode(b64).ok_or_else(bad_credentials)?;
        let text = String::from_utf8(decoded).map_err(|_| bad_credentials())?;
        let (u, p) = text.split_once(':').ok_or_else(bad_credentials)?;
        if u == cfg.username && p == cfg.password {
            return Ok(u.to_string());
        }
        return Err(bad_credentials());
    }
    if let Some(sid) = cookie(req, "JSESSIONID") {
        let st = lock(&shared.state);
        let Some(sess) = st.sessions.get(&sid) else {
            return Err(bad_credentials());
        };
        let is_read = req.method == Method::GET || req.method == Method::HEAD;
        if !is_read && req.header("x-xsrf-token") != Some(sess.xsrf.as_str()) {
            return Err(ApiError::new(403, 98, "common-services", "Bad XSRF token"));
        }
        return Ok(sess.user.clone());
    }
    Err(bad_credentials())
}

fn session_create(shared: &Shared, req: &Req) -> Reply {
    let form = parse_form(&String::from_utf8_lossy(&req.body));
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let cfg = &shared.config;
    if get("j_username") != Some(cfg.username.as_str())
        || get("j_password") != Some(cfg.password.as_str())
    {
        return error_reply(&bad_credentials());
    }
    let mut st = lock(&shared.state);
    let sid = st.rng.token(16);
    let xsrf = st.rng.token(16);
    st.sessions.insert(
        sid.clone(),
        Session {
            user: cfg.username.clone(),
            xsrf: xsrf.clone(),
        },
    );
    Reply::empty(200)
        .with_header("set-cookie", &format!("JSESSIONID={sid}; Path=/; HttpOnly"))
        .with_header("x-xsrf-token", &xsrf)
}

/// A Kubernetes secret's values (a Secret's or VIOSecret's `data` / `stringData`, at the top or
/// under `spec`) replaced in a logged body: the request log keeps the request's shape, never the
/// password the executor puts there.
fn redact_secret_data(body: &mut Value) {
    redact_data_fields(body);
    if let Some(spec) = body.get_mut("spec") {
        redact_data_fields(spec);
    }
}

fn redact_data_fields(v: &mut Value) {
    for key in ["data", "stringData"] {
        if let Some(Value::Object(m)) = v.get_mut(key) {
            for val in m.values_mut() {
                if !val.is_null() {
                    *val = json!("<redacted>");
                }
            }
        }
    }
}

fn log_entry(shared: &Shared, entry: Value) {
    if let Some(f) = &shared.log_file {
        let mut f = lock(f);
        let _ = serde_json::to_writer(&mut *f, &entry);
        let _ = f.write_all(b"\n");
    }
    let mut log = lock(&shared.log);
    if log.len() >= LOG_CAP {
        log.pop_front();
    }
    log.push_back(entry);
}

#[derive(Clone)]
struct K8sCtx {
    shared: Arc<Shared>,
    addr: String,
}

async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<crate::conn::Peer>,
    request: Request,
) -> Response {
    handle_any(shared, peer, request, None).await
}

async fn handle_k8s(
    AxState(ctx): AxState<K8sCtx>,
    ConnectInfo(peer): ConnectInfo<crate::conn::Peer>,
    request: Request,
) -> Response {
    handle_any(ctx.shared, peer, request, Some(ctx.addr)).await
}

async fn handle_any(
    shared: Arc<Shared>,
    crate::conn::Peer {
        addr: peer,
        client_cert_sha256,
    }: crate::conn::Peer,
    request: Request,
    k8s: Option<String>,
) -> Response {
    let started = Instant::now();
    let seq = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 512 * 1024 * 1024)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| crate::util::percent_decode(s, false))
        .collect();
    let mut req = Req {
        method: parts.method.clone(),
        path: path.clone(),
        segs,
        query: parse_form(&raw_query),
        headers: parts.headers,
        body,
        user: String::new(),
        client_cert: client_cert_sha256,
        principal: None,
    };

    let mut exit = false;
    let mut truncate = false;
    let (mut reply, fault_name) = process(
        &shared,
        &mut req,
        peer,
        k8s.as_deref(),
        &mut exit,
        &mut truncate,
    )
    .await;
    if truncate && let Some(r) = reply.as_mut() {
        let bytes = match (r.raw.take(), r.body.take()) {
            (Some(b), _) => b,
            (None, Some(v)) => serde_json::to_vec(&v).unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        r.raw = Some(bytes[..bytes.len() / 2].to_vec());
    }

    let mut entry = json!({
        "seq": seq,
        "time_ms": now_ms(),
        "api": if k8s.is_some() { "k8s" } else if crate::cf::claims(&path) { "cf" } else { "nsx" },
        "method": req.method.as_str(),
        "path": path,
        "query": raw_query,
        "user": req.user,
        "status": reply.as_ref().map(|r| r.status).unwrap_or(0),
        "duration_ms": started.elapsed().as_millis() as u64,
    });
    if let Some(f) = &fault_name {
        entry["fault"] = json!(f);
    }
    // Bodies that carry credentials (NSX session form, Keystone password auth) are never logged.
    if path != "/api/session/create"
        && !path.starts_with("/v3/auth")
        && !req.body.is_empty()
        && req.body.len() <= 64 * 1024
        && let Ok(mut v) = serde_json::from_slice::<Value>(&req.body)
    {
        if k8s.is_some() && path.to_ascii_lowercase().contains("secret") {
            redact_secret_data(&mut v);
        }
        entry["body"] = v;
    }
    if !path.starts_with("/_sim/") {
        log_entry(&shared, entry);
    }

    // After this request's reply is built (graceful shutdown still delivers it): the manager
    // goes away after its n-th request, or after the request an `exit` fault fired on.
    if exit || shared.config.exit_after_requests.is_some_and(|n| seq >= n) {
        let _ = shared.shutdown.send(true);
    }

    match reply {
        Some(r) => to_response(r),
        None => {
            // Connection-level fault: the connection is killed; this response is never delivered.
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r.headers_mut()
                .insert("connection", HeaderValue::from_static("close"));
            r
        }
    }
}

/// Returns the reply (None when the connection was reset/dropped) and the name of a fired fault;
/// sets `exit` when an `exit` fault fired (the manager goes away once this reply is built).
async fn process(
    shared: &Arc<Shared>,
    req: &mut Req,
    peer: SocketAddr,
    k8s: Option<&str>,
    exit: &mut bool,
    truncate: &mut bool,
) -> (Option<Reply>, Option<String>) {
    if req.path.starts_with("/_sim/") && k8s.is_none() {
        return (Some(crate::faults::control(shared, req)), None);
    }

    // Fault injection happens before anything else, like a proxy in front of the manager would.
    let fault = lock(&shared.faults).check(req.method.as_str(), &req.path, &req.query);
    let mut fault_name = None;
    if let Some(f) = fault {
        fault_name = Some(f.name.clone());
        match f.action {
            FaultAction::Status(e) => {
                let has_vio = lock(&shared.state).vio.is_some();
                let reply = has_vio
                    .then(|| crate::vio::fault_reply(&req.path, e.status, &e.message))
                    .flatten()
                    .unwrap_or_else(|| error_reply(&e));
                return (Some(reply), fault_name);
            }
            FaultAction::Delay(d) => tokio::time::sleep(d).await,
            FaultAction::Exit => *exit = true,
            FaultAction::Truncate => *truncate = true,
            FaultAction::ExpireSessions => lock(&shared.state).sessions.clear(),
            FaultAction::Reset => {
                shared.kill.kill(peer, true);
                return (None, fault_name);
            }
            FaultAction::Drop => {
                shared.kill.kill(peer, false);
                return (None, fault_name);
            }
            FaultAction::Hang => {
                // Never answer; the client's timeout fires. When the server shuts down, the
                // connection is dropped, as a restarting manager's would be.
                let mut rx = shared.shutdown.subscribe();
                while !*rx.borrow() {
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
                shared.kill.kill(peer, false);
                return (None, fault_name);
            }
        }
    }

    if let Some(addr) = k8s {
        if let Err(reply) = crate::k8s_api::authenticate(req, &shared.config.k8s_token) {
            return (Some(*reply), fault_name);
        }
        let mut st = lock(&shared.state);
        let reply = crate::k8s_api::route(&mut st, req, addr);
        if st.dirty {
            st.dirty = false;
            if let Some(sf) = &shared.config.state_file
                && let Err(e) = st.persist(sf)
            {
                tracing::error!("state file: {e}");
            }
        }
        return (Some(reply), fault_name);
    }

    if crate::vio::claims(&req.path) {
        // The replay target is a Neutron server driving NSX: it answers at the configured
        // latency (outside the state lock), as the Manager and Policy APIs do.
        let cfg = &shared.config;
        if req.segs.first().is_some_and(|s| s == "target-network")
            && (!cfg.latency.is_zero() || !cfg.jitter.is_zero())
        {
            let extra = if cfg.jitter.is_zero() {
                Duration::ZERO
            } else {
                cfg.jitter.mul_f64(lock(&shared.jitter_rng).next_f64())
            };
            tokio::time::sleep(cfg.latency + extra).await;
        }
        let mut guard = lock(&shared.state);
        let st = &mut *guard;
        if st.vio.is_some() && req.segs.first().is_some_and(|s| s == "target-network") {
            let scheme = if shared.config.tls { "https" } else { "http" };
            let host = req.header("host").unwrap_or("127.0.0.1").to_string();
            let base = format!("{scheme}://{host}");
            let rf = lock(&shared.faults).replay.clone();
            let rest: Vec<&str> = req.segs[1..].iter().map(String::as_str).collect();
            let reply =
                crate::vio::replay::route(st, req, &rest, &base, &rf, &shared.config.username);
            if st.dirty {
                st.dirty = false;
                if let Some(sf) = &shared.config.state_file
                    && let Err(e) = st.persist(sf)
                {
                    tracing::error!("state file: {e}");
                }
            }
            return (Some(reply), fault_name);
        }
        if let Some(vio) = st.vio.as_deref_mut() {
            let scheme = if shared.config.tls { "https" } else { "http" };
            let host = req.header("host").unwrap_or("127.0.0.1").to_string();
            let base = format!("{scheme}://{host}");
            let reply = crate::vio::route(vio, &mut st.rng, &shared.config, req, &base);
            // Power changes and vNIC updates are state a restart keeps (sessions are not).
            let stateful = (req.method == Method::PUT && req.path.contains("/vnics/"))
                || (req.method == Method::POST && req.path.ends_with("/power"));
            if stateful && reply.status < 300 {
                st.touch();
                if let Some(sf) = &shared.config.state_file
                    && let Err(e) = st.persist(sf)
                {
                    tracing::error!("state file: {e}");
                }
                st.dirty = false;
            }
            return (Some(reply), fault_name);
        }
    }

    if crate::cf::claims(&req.path) {
        let cfg = &shared.config;
        let reply = crate::cf::route(
            lock(&shared.cf).as_mut(),
            req,
            cfg.tls,
            &cfg.username,
            &cfg.password,
        );
        return (Some(reply), fault_name);
    }

    if req.path == "/api/session/create" && req.method == Method::POST {
        return (Some(session_create(shared, req)), fault_name);
    }

    let (user, principal) = match authenticate(shared, req) {
        Ok(u) => u,
        Err(e) => return (Some(error_reply(&e)), fault_name),
    };
    req.user = user.clone();
    req.principal = principal;
    if req.path == "/api/session/destroy" && req.method == Method::POST {
        if let Some(sid) = cookie(req, "JSESSIONID") {
            lock(&shared.state).sessions.remove(&sid);
        }
        return (Some(Reply::empty(200)), fault_name);
    }

    let _guard = match admit(shared, &user) {
        Ok(g) => g,
        Err(e) => return (Some(error_reply(&e)), fault_name),
    };

    let cfg = &shared.config;
    if !cfg.latency.is_zero() || !cfg.jitter.is_zero() {
        let extra = if cfg.jitter.is_zero() {
            Duration::ZERO
        } else {
            cfg.jitter.mul_f64(lock(&shared.jitter_rng).next_f64())
        };
        tokio::time::sleep(cfg.latency + extra).await;
    }

    let (reply, delay) = {
        let mut st = lock(&shared.state);
        let migration_faults = lock(&shared.faults).migration.clone();
        crate::coordinator::tick(&mut st, cfg, &migration_faults);
        let result = route(&mut st, cfg, req, &migration_faults);
        let (reply, delay) = match result {
            Ok((r, d)) => (r, d),
            Err(e) => (error_reply(&e), Duration::ZERO),
        };
        if req.method != Method::GET && reply.status < 300 {
            st.touch();
        }
        if st.dirty {
            st.dirty = false;
            if let Some(sf) = &cfg.state_file
                && let Err(e) = st.persist(sf)
            {
                tracing::error!("state file: {e}");
            }
        }
        (reply, delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (Some(reply), fault_name)
}

/// Dispatch by path prefix. The Duration is a delay to apply before answering (slow operations).
fn route(
    st: &mut State,
    cfg: &SimConfig,
    req: &Req,
    mfaults: &crate::faults::MigrationFaults,
) -> Result<(Reply, Duration), ApiError> {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["api", "v1", "migration", rest @ ..] => {
            crate::coordinator::route(st, cfg, req, rest, mfaults)
        }
        ["api", "v1", "fabric", "compute-managers", rest @ ..] if st.vio.is_some() => {
            let vio = st
                .vio
                .as_deref()
                .ok_or_else(|| ApiError::not_found(&req.path))?;
            crate::vio::compute_managers(vio, rest).map(|r| (r, Duration::ZERO))
        }
        ["api", "v1", "transport-nodes", rest @ ..] if st.vio.is_some() => {
            crate::vio::edge_nodes::route(st, req, rest).map(|r| (r, Duration::ZERO))
        }
        ["policy", "api", "v1", "infra", "realized-state", rest @ ..] => {
            crate::vio::replay::realized_state(st, req, rest).map(|r| (r, Duration::ZERO))
        }
        ["api", "v1", rest @ ..] => {
            crate::manager::route(st, req, rest).map(|r| (r, Duration::ZERO))
        }
        ["policy", "api", "v1", rest @ ..] => {
            crate::policy::route(st, req, rest).map(|r| (r, Duration::ZERO))
        }
        _ => Err(ApiError::not_found(&req.path)),
    }
}

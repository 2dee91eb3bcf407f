//! An NSX-V (NSX for vSphere 6.x) Manager reader: HTTP basic authentication, or an auth token
//! from `POST /api/2.0/services/auth/token` sent as `Authorization: AUTHTOKEN <token>` and
//! renewed once when refused; JSON where the API offers it (`Accept: application/json`), XML
//! (parsed with roxmltree) where it does not; `startIndex`/`pageSize` paging.

use std::sync::Arc;

use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::error::ClientError;
use crate::rest::{self, Call, ServiceConfig, Transport};
use crate::secret::{Credentials, Secret};

/// How requests to NSX-V authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsxvAuth {
    /// Username and password on every request.
    Basic,
    /// One token per `expires_in_minutes` (NSX-V allows up to 1440), renewed when refused.
    Token { expires_in_minutes: u32 },
}

/// An NSX-V Manager client. Cheap to clone.
#[derive(Clone)]
pub struct NsxvClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    base: Url,
    creds: Credentials,
    auth: NsxvAuth,
    token: Mutex<Option<(u64, HeaderValue)>>,
    generation: std::sync::atomic::AtomicU64,
    page_past_end: bool,
}

impl std::fmt::Debug for NsxvClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsxvClient")
            .field("base", &self.inner.base.as_str())
            .field("username", &self.inner.creds.username)
            .field("auth", &self.inner.auth)
            .finish_non_exhaustive()
    }
}

/// One page container of an NSX-V paged list (`edgePage`, `dataPage`).
fn page_of<'v>(v: &'v Value, containers: &[&str]) -> Option<&'v Value> {
    containers
        .iter()
        .find_map(|c| v.get(*c))
        .or_else(|| v.get("data").map(|_| v))
}

impl NsxvClient {
    pub fn new(
        base_url: &str,
        creds: Credentials,
        auth: NsxvAuth,
        cfg: ServiceConfig,
    ) -> Result<Self, ClientError> {
        let base = rest::parse_service_url("NSX-V Manager", base_url)?;
        if creds.username.is_empty() || creds.password.is_empty() {
            return Err(ClientError::Config(
                "NSX-V credentials are required (username and password)".into(),
            ));
        }
        if let NsxvAuth::Token { expires_in_minutes } = auth
            && !(1..=1440).contains(&expires_in_minutes)
        {
            return Err(ClientError::Config(format!(
                "NSX-V token lifetime must be 1 to 1440 minutes, got {expires_in_minutes}"
            )));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                transport: Transport::new(cfg)?,
                base,
                creds,
                auth,
                token: Mutex::new(None),
                generation: std::sync::atomic::AtomicU64::new(0),
                page_past_end: true,
            }),
        })
    }

    /// Whether a list whose length is an exact multiple of the page size is read one page
    /// further (an empty page), as the NSX-V plugin's own paging does (default: yes; the
    /// `nsxv_page_past_end` rule in docs/rules.md). Call right after [`NsxvClient::new`]; a
    /// client already cloned is returned unchanged.
    pub fn page_past_end(mut self, yes: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.page_past_end = yes;
        }
        self
    }

    /// Scheme, host and port, for snapshots and messages.
    pub fn base_label(&self) -> String {
        self.inner.base.as_str().trim_end_matches('/').to_string()
    }

    pub fn requests_sent(&self) -> u64 {
        self.inner.transport.requests_sent()
    }

    /// Tokens obtained so far (token mode).
    pub fn logins(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn unauthorized(&self, status: u16, raw: &rest::Raw, call: &Call) -> ClientError {
        let e = crate::error::NsxApiError::from_body(
            call.method.as_str(),
            &call.path,
            status,
            &raw.body,
        );
        ClientError::Unauthorized {
            service: "NSX-V Manager",
            url: self.base_label(),
            username: self.inner.creds.username.clone(),
            http_status: status,
            message: format!(
                "{}. Check NSXV_USERNAME / NSXV_PASSWORD or the NSX-V password file; the account may also be locked",
                if e.error_message.is_empty() {
                    "access denied".to_string()
                } else {
                    e.error_message
                }
            ),
        }
    }

    /// `POST /api/2.0/services/auth/token?expiresInMinutes=N` with basic authentication: a new
    /// token (for example for the migration coordinator's `SourceNsxApiEndpoint.auth_token`),
    /// kept in memory only.
    pub async fn issue_token(&self, minutes: u32) -> Result<Secret, ClientError> {
        if !(1..=1440).contains(&minutes) {
            return Err(ClientError::Config(format!(
                "NSX-V token lifetime must be 1 to 1440 minutes, got {minutes}"
            )));
        }
        let mut url = rest::join(&self.inner.base, "/api/2.0/services/auth/token")?;
        url.query_pairs_mut()
            .append_pair("expiresInMinutes", &minutes.to_string());
        let mut call = Call::new(Method::POST, url);
        call.basic = Some((
            self.inner.creds.username.clone(),
            self.inner.creds.password.clone(),
        ));
        call.headers.insert(
            ACCEPT,
            HeaderValue::from_static("application/json, application/xml"),
        );
        let raw = self.inner.transport.send(&call).await?;
        if raw.status == 401 || raw.status == 403 {
            return Err(self.unauthorized(raw.status, &raw, &call));
        }
        if raw.status >= 400 {
            return Err(raw.api_error(&call.method, &call.path));
        }
        let text = Secret::new(raw.text(&call.method, &call.path)?);
        token_value(text.expose()).ok_or_else(|| ClientError::Decode {
            method: "POST".into(),
            path: call.path.clone(),
            message:
                "no token value in the answer (expected JSON `value` or XML <authToken><value>)"
                    .into(),
        })
    }

    /// A new token as the `Authorization` header of later requests.
    async fn new_token(&self, minutes: u32) -> Result<(u64, HeaderValue), ClientError> {
        let token = self.issue_token(minutes).await?;
        let path = "/api/2.0/services/auth/token".to_string();
        let mut hv =
            HeaderValue::from_str(&format!("AUTHTOKEN {}", token.expose())).map_err(|_| {
                ClientError::Decode {
                    method: "POST".into(),
                    path: path.clone(),
                    message: "the token is not a valid header value".into(),
                }
            })?;
        hv.set_sensitive(true);
        let generation = self
            .inner
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        tracing::debug!(generation, "NSX-V token obtained");
        Ok((generation, hv))
    }

    async fn current_token(
        &self,
        minutes: u32,
        failed: Option<u64>,
    ) -> Result<(u64, HeaderValue), ClientError> {
        let mut guard = self.inner.token.lock().await;
        if let Some((g, v)) = guard.as_ref()
            && failed != Some(*g)
        {
            return Ok((*g, v.clone()));
        }
        let t = self.new_token(minutes).await?;
        *guard = Some(t.clone());
        Ok(t)
    }

    /// Authenticate now (token mode: obtain the token; basic mode: nothing to do).
    pub async fn login(&self) -> Result<(), ClientError> {
        if let NsxvAuth::Token { expires_in_minutes } = self.inner.auth {
            self.current_token(expires_in_minutes, None).await?;
        }
        Ok(())
    }

    /// `GET` with the given `Accept`; the raw answer (status < 400).
    async fn get_raw(
        &self,
        path: &str,
        accept: &'static str,
    ) -> Result<(rest::Raw, Call), ClientError> {
        self.send_raw(Method::GET, path, accept, None).await
    }

    /// One request with the client's authentication; the raw answer (status < 400).
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        accept: &'static str,
        body: Option<&Value>,
    ) -> Result<(rest::Raw, Call), ClientError> {
        let url = rest::join(&self.inner.base, path)?;
        let mut failed = None;
        loop {
            let mut call = Call::new(method.clone(), url.clone());
            call.headers
                .insert(ACCEPT, HeaderValue::from_static(accept));
            if let Some(b) = body {
                call.headers.insert(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                call.body = Some(serde_json::to_vec(b).map_err(|e| ClientError::Decode {
                    method: method.to_string(),
                    path: path.to_string(),
                    message: format!("the body is not serialisable: {e}"),
                })?);
            }
            let generation = match self.inner.auth {
                NsxvAuth::Basic => {
                    call.basic = Some((
                        self.inner.creds.username.clone(),
                        self.inner.creds.password.clone(),
                    ));
                    None
                }
                NsxvAuth::Token { expires_in_minutes } => {
                    let (g, v) = self.current_token(expires_in_minutes, failed).await?;
                    call.headers.insert(AUTHORIZATION, v);
                    Some(g)
                }
            };
            let raw = self.inner.transport.send(&call).await?;
            if matches!(raw.status, 401 | 403) {
                // A token NSX-V no longer accepts (expired, revoked): one new token, one resend.
                if let (Some(g), None) = (generation, failed) {
                    failed = Some(g);
                    continue;
                }
                return Err(self.unauthorized(raw.status, &raw, &call));
            }
            if raw.status >= 400 {
                return Err(raw.api_error(&call.method, &call.path));
            }
            return Ok((raw, call));
        }
    }

    /// `PUT` a JSON body (e.g. a vNIC, `PUT /api/4.0/edges/{id}/vnics/{index}`); the answer as
    /// JSON (`Null` when empty, as NSX-V's 204).
    pub async fn put_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let (raw, call) = self
            .send_raw(Method::PUT, path, "application/json", Some(body))
            .await?;
        raw.json(&call.method, &call.path)
    }

    /// `GET` a JSON answer.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        let (raw, call) = self.get_raw(path, "application/json").await?;
        raw.json(&call.method, &call.path)
    }

    /// `GET` an XML answer as the text the server sent (checked to be well-formed XML).
    pub async fn get_xml_text(&self, path: &str) -> Result<String, ClientError> {
        let (raw, call) = self.get_raw(path, "application/xml").await?;
        let text = raw.text(&call.method, &call.path)?;
        roxmltree::Document::parse(&text).map_err(|e| ClientError::Decode {
            method: "GET".into(),
            path: call.path.clone(),
            message: format!("invalid XML: {e}"),
        })?;
        Ok(text)
    }

    /// `GET` an XML answer, converted to JSON by [`xml_to_json`].
    pub async fn get_xml(&self, path: &str) -> Result<Value, ClientError> {
        let (raw, call) = self.get_raw(path, "application/xml").await?;
        let text = raw.text(&call.method, &call.path)?;
        xml_to_json(&text).map_err(|message| ClientError::Decode {
            method: "GET".into(),
            path: call.path.clone(),
            message,
        })
    }

    /// Every object of a `startIndex`/`pageSize` list. The page object is the first of
    /// `containers` present in the answer (e.g. `edgePage`, `dataPage`), or the answer itself;
    /// it holds `data[]` and `pagingInfo{startIndex, pageSize, totalCount}`. Reading stops at
    /// `totalCount` (one page further when the total is an exact multiple of the page size and
    /// [`NsxvClient::page_past_end`] is on), on an empty page, or on a short page when the
    /// server gives no total. The next `startIndex` advances by the objects received (a server
    /// may shrink the page size). Ending below `totalCount` is an error.
    pub async fn list_paged(
        &self,
        path: &str,
        containers: &[&str],
    ) -> Result<Vec<Value>, ClientError> {
        let cfg = &self.inner.transport.cfg;
        let bare = path.split('?').next().unwrap_or(path).to_string();
        let sep = if path.contains('?') { '&' } else { '?' };
        let decode = |message: String| ClientError::Decode {
            method: "GET".into(),
            path: bare.clone(),
            message,
        };
        let mut out: Vec<Value> = Vec::new();
        for _ in 0..cfg.max_pages {
            let start = out.len();
            let page_path = format!("{path}{sep}startIndex={start}&pageSize={}", cfg.page_size);
            let mut answer = self.get_json(&page_path).await?;
            let total = {
                let page = page_of(&answer, containers).ok_or_else(|| {
                    decode(format!(
                        "no {} with `data` in the answer",
                        containers.join(" or ")
                    ))
                })?;
                page.pointer("/pagingInfo/totalCount")
                    .and_then(Value::as_u64)
            };
            let data = {
                let container = containers
                    .iter()
                    .find(|c| answer.get(**c).is_some())
                    .copied();
                let page = match container {
                    Some(c) => answer.get_mut(c),
                    None => Some(&mut answer),
                };
                match page.and_then(|p| p.get_mut("data")).map(Value::take) {
                    Some(Value::Array(a)) => a,
                    Some(Value::Null) | None => Vec::new(),
                    Some(_) => return Err(decode("`data` is not an array".into())),
                }
            };
            let got = data.len();
            out.extend(data);
            let full = got >= cfg.page_size;
            let done = match total {
                _ if got == 0 => true,
                // At the total: stop, unless the last page was full and the rule says to read
                // the (empty) page past it.
                Some(t) => out.len() as u64 >= t && !(full && self.inner.page_past_end),
                None => !full,
            };
            if done {
                if let Some(t) = total
                    && (out.len() as u64) < t
                {
                    return Err(decode(format!(
                        "the list ended after {} objects but pagingInfo.totalCount says {t}",
                        out.len()
                    )));
                }
                return Ok(out);
            }
        }
        Err(ClientError::PageLimit {
            path: bare,
            max_pages: cfg.max_pages,
            objects: out.len(),
        })
    }

    /// `GET /api/4.0/edges`, every page.
    pub async fn edges(&self) -> Result<Vec<Value>, ClientError> {
        self.list_paged("/api/4.0/edges", &["edgePage", "pagedEdgeList"])
            .await
    }

    /// `GET /api/2.0/vdn/virtualwires`, every page.
    pub async fn virtual_wires(&self) -> Result<Vec<Value>, ClientError> {
        self.list_paged("/api/2.0/vdn/virtualwires", &["dataPage", "virtualWires"])
            .await
    }
}

/// The token from a `POST .../auth/token` answer: JSON `{"value": ...}` or XML
/// `<authToken><value>...</value></authToken>`.
fn token_value(text: &str) -> Option<Secret> {
    let t = text.trim();
    if t.starts_with('{') {
        let v: Value = serde_json::from_str(t).ok()?;
        let s = v
            .get("value")
            .or_else(|| v.pointer("/authToken/value"))?
            .as_str()?;
        return (!s.is_empty()).then(|| Secret::new(s));
    }
    let doc = roxmltree::Document::parse(t).ok()?;
    let node = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "value")?;
    let s = node.text()?.trim();
    (!s.is_empty()).then(|| Secret::new(s))
}

/// An XML document as JSON, the way NSX-V's own JSON answers are shaped: an element becomes an
/// object of its children (attributes included, by name), a text-only element its text, and a
/// name that repeats among siblings an array. The root element is the single key of the result.
pub fn xml_to_json(text: &str) -> Result<Value, String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("invalid XML: {e}"))?;
    let root = doc.root_element();
    let mut m = Map::new();
    m.insert(root.tag_name().name().to_string(), element_json(root, 0)?);
    Ok(Value::Object(m))
}

fn element_json(node: roxmltree::Node<'_, '_>, depth: usize) -> Result<Value, String> {
    // Bounded: NSX-V documents are a few levels deep.
    if depth > 64 {
        return Err("XML nested more than 64 levels".into());
    }
    let children: Vec<_> = node.children().filter(|c| c.is_element()).collect();
    if children.is_empty() && node.attributes().len() == 0 {
        return Ok(Value::String(node.text().unwrap_or("").trim().to_string()));
    }
    let mut m = Map::new();
    for a in node.attributes() {
        m.insert(a.name().to_string(), Value::String(a.value().to_string()));
    }
    for c in children {
        let name = c.tag_name().name().to_string();
        let v = element_json(c, depth + 1)?;
        match m.get_mut(&name) {
            Some(Value::Array(a)) => a.push(v),
            Some(prev) => {
                let first = prev.take();
                *prev = Value::Array(vec![first, v]);
            }
            None => {
                m.insert(name, v);
            }
        }
    }
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_from_json_or_xml() {
        assert_eq!(
            token_value(r#"{"value":"abc","expiresOn":1}"#)
                .unwrap()
                .expose(),
            "abc"
        );
        assert_eq!(
            token_value("<authToken><value>xyz</value><expiresOn>1</expiresOn></authToken>")
                .unwrap()
                .expose(),
            "xyz"
        );
        assert!(token_value("<authToken/>").is_none());
        assert!(token_value("nonsense").is_none());
    }

    #[test]
    fn xml_shapes() {
        let v = xml_to_json(
            "<scopingObjects><object><objectId>dvportgroup-1</objectId><name>a</name></object>\
             <object><objectId>virtualwire-2</objectId><name>b</name></object></scopingObjects>",
        )
        .unwrap();
        let objs = v["scopingObjects"]["object"].as_array().unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1]["objectId"], "virtualwire-2");
        let v = xml_to_json("<a x=\"1\"><b>t</b></a>").unwrap();
        assert_eq!(v["a"]["x"], "1");
        assert_eq!(v["a"]["b"], "t");
        assert!(xml_to_json("<a>").unwrap_err().contains("invalid XML"));
    }
}

//! Typed errors: the NSX API error body and the client's own failures.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// Message NSX's migration coordinator answers while it is busy (HTTP 400 or 500).
pub const COORDINATOR_BUSY: &str = "Migration coordinator backend is busy";

/// One entry of `related_errors` in an NSX error body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RelatedError {
    pub error_code: Option<i64>,
    pub error_message: String,
    pub module_name: Option<String>,
}

/// An error answered by the NSX API (any status >= 400), with the NSX error body parsed when the
/// server sent one (`{error_code, error_message, module_name, related_errors, ...}`).
#[derive(Debug, Clone, PartialEq)]
pub struct NsxApiError {
    pub method: String,
    /// Request path without the query string (never carries credentials).
    pub path: String,
    pub http_status: u16,
    pub error_code: Option<i64>,
    pub error_message: String,
    pub module_name: Option<String>,
    pub related_errors: Vec<RelatedError>,
    /// `Retry-After` in seconds, when the server sent one.
    pub retry_after: Option<Duration>,
}

fn int_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_of(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_string)
}

impl NsxApiError {
    /// Build from a status and the raw response body (JSON error body or anything else).
    pub fn from_body(method: &str, path: &str, http_status: u16, body: &[u8]) -> Self {
        let mut e = Self {
            method: method.to_string(),
            path: path.to_string(),
            http_status,
            error_code: None,
            error_message: String::new(),
            module_name: None,
            related_errors: Vec::new(),
            retry_after: None,
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => {
                e.error_code = int_of(v.get("error_code"));
                // NSX's own body, then the shapes other services answer with: Neutron
                // (`NeutronError.message`), Keystone (`error.message`), Octavia (`faultstring`),
                // vSphere Automation (`messages[].default_message`).
                e.error_message = str_of(v.get("error_message"))
                    .or_else(|| str_of(v.get("message")))
                    .or_else(|| str_of(v.pointer("/NeutronError/message")))
                    .or_else(|| str_of(v.pointer("/error/message")))
                    .or_else(|| str_of(v.get("faultstring")))
                    .or_else(|| str_of(v.pointer("/messages/0/default_message")))
                    .or_else(|| str_of(v.get("description")))
                    .unwrap_or_default();
                e.module_name = str_of(v.get("module_name"));
                if let Some(list) = v.get("related_errors").and_then(Value::as_array) {
                    e.related_errors = list
                        .iter()
                        .map(|r| RelatedError {
                            error_code: int_of(r.get("error_code")),
                            error_message: str_of(r.get("error_message")).unwrap_or_default(),
                            module_name: str_of(r.get("module_name")),
                        })
                        .collect();
                }
            }
            _ => {
                // Not an NSX error body (proxy page, plain text): keep a short, single-line excerpt.
                let text = String::from_utf8_lossy(body);
                let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
                e.error_message = one_line.chars().take(300).collect();
            }
        }
        e
    }

    fn mentions(&self, needle: &str) -> bool {
        self.error_message.contains(needle)
            || self
                .related_errors
                .iter()
                .any(|r| r.error_message.contains(needle))
    }

    /// The migration coordinator answered "backend is busy" (HTTP 400 or 500).
    pub fn is_coordinator_busy(&self) -> bool {
        matches!(self.http_status, 400 | 500) && self.mentions(COORDINATOR_BUSY)
    }

    /// Transient server-side conditions worth retrying: 429 and 503 (rate/concurrency limits),
    /// "Migration coordinator backend is busy" (400/500), 500 with error_code 607 or 610 (API
    /// transaction aborted), and the search service's 400s 60508/60514/60515 (indexing in
    /// progress, timeout, out of sync).
    pub fn is_retriable(&self) -> bool {
        match self.http_status {
            429 | 503 => true,
            500 if matches!(self.error_code, Some(607) | Some(610)) => true,
            400 if matches!(self.error_code, Some(60508) | Some(60514) | Some(60515)) => true,
            _ => self.is_coordinator_busy(),
        }
    }

    /// Optimistic-concurrency failure (409 Conflict, 412 Precondition Failed): re-read the object
    /// and re-apply the change.
    pub fn is_stale_revision(&self) -> bool {
        matches!(self.http_status, 409 | 412)
    }

    pub fn is_not_found(&self) -> bool {
        self.http_status == 404
    }

    /// 403 with error_code 98: the XSRF token is missing or no longer valid (session expired).
    pub fn is_bad_xsrf(&self) -> bool {
        self.http_status == 403 && self.error_code == Some(98)
    }

    /// 403 with error_code 403 (or a 403 on session create): wrong username or password, or a
    /// locked account.
    pub fn is_invalid_credentials(&self) -> bool {
        self.http_status == 403 && self.error_code == Some(403)
    }
}

impl fmt::Display for NsxApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: HTTP {}",
            self.method, self.path, self.http_status
        )?;
        if let Some(c) = self.error_code {
            write!(f, ", error_code {c}")?;
        }
        if let Some(m) = &self.module_name {
            write!(f, " ({m})")?;
        }
        if !self.error_message.is_empty() {
            write!(f, ": {}", self.error_message)?;
        }
        for r in &self.related_errors {
            write!(f, "; related")?;
            if let Some(c) = r.error_code {
                write!(f, " error_code {c}")?;
            }
            write!(f, ": {}", r.error_message)?;
        }
        Ok(())
    }
}

impl std::error::Error for NsxApiError {}

/// What went wrong talking to the NSX Manager.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A configuration problem found before anything was sent (bad URL, unreadable PEM file,
    /// malformed thumbprint, missing credentials).
    #[error("{0}")]
    Config(String),

    /// A file named in the configuration (CA bundle, client certificate or key) is unusable.
    #[error("{}: {message}", file.display())]
    File { file: PathBuf, message: String },

    /// The NSX API answered with an error status.
    #[error("{0}")]
    Api(Box<NsxApiError>),

    /// The manager rejected the username/password (HTTP 403). Never carries the password.
    #[error(
        "NSX Manager {url} rejected the credentials of user '{username}' (HTTP {http_status}{}): {message}. Check NSX_USERNAME / NSX_PASSWORD or --password-file; the account may also be locked",
        error_code.map(|c| format!(", error_code {c}")).unwrap_or_default()
    )]
    AuthFailed {
        url: String,
        username: String,
        http_status: u16,
        error_code: Option<i64>,
        message: String,
    },

    /// A service other than the NSX Manager (Keystone, NSX-V, vCenter) rejected the credentials.
    /// `message` is the service's answer followed by what to check. Never carries the password.
    #[error(
        "{service} {url} rejected the credentials of user '{username}' (HTTP {http_status}): {message}"
    )]
    Unauthorized {
        service: &'static str,
        url: String,
        username: String,
        http_status: u16,
        message: String,
    },

    /// The TLS handshake failed (certificate not trusted, thumbprint mismatch, ...).
    #[error("TLS handshake with {url} failed: {message}. {hint}")]
    Tls {
        url: String,
        message: String,
        hint: String,
    },

    /// The TCP connection could not be established or broke before an answer arrived.
    #[error("{method} {url}: connection failed: {message}")]
    Connect {
        method: String,
        url: String,
        message: String,
        /// False when the connection was never established (nothing was sent, so any request
        /// may be retried); true when the request may have been received.
        may_have_reached_server: bool,
    },

    /// No answer within the request timeout.
    #[error("{method} {url}: no answer within {}s", timeout.as_secs_f64())]
    Timeout {
        method: String,
        url: String,
        timeout: Duration,
    },

    /// The answer was not what the API documents (not JSON, missing field, wrong type).
    #[error("{method} {path}: unexpected response: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },

    /// Paging stopped because it hit the configured maximum number of pages.
    #[error(
        "{path}: stopped after {max_pages} pages ({objects} objects) without reaching the end; raise the page limit or narrow the query"
    )]
    PageLimit {
        path: String,
        max_pages: usize,
        objects: usize,
    },

    /// The server repeated a cursor: paging would never end.
    #[error("{path}: the server returned the same cursor '{cursor}' twice; paging aborted")]
    CursorLoop { path: String, cursor: String },

    /// A retriable error persisted through every allowed attempt.
    #[error("giving up after {attempts} attempts in {:.1}s: {last}", elapsed.as_secs_f64())]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<ClientError>,
    },

    /// Any other transport-level failure reported by the HTTP library.
    #[error("{method} {url}: {message}")]
    Transport {
        method: String,
        url: String,
        message: String,
    },
}

impl ClientError {
    /// The NSX API error behind this error, looking through [`ClientError::RetriesExhausted`].
    pub fn api(&self) -> Option<&NsxApiError> {
        match self {
            ClientError::Api(e) => Some(e.as_ref()),
            ClientError::RetriesExhausted { last, .. } => last.api(),
            _ => None,
        }
    }

    /// The HTTP status, when the server answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ClientError::AuthFailed { http_status, .. }
            | ClientError::Unauthorized { http_status, .. } => Some(*http_status),
            _ => self.api().map(|e| e.http_status),
        }
    }

    /// A server-side transient condition (see [`NsxApiError::is_retriable`]) or a connection
    /// failure / timeout. Whether a connection failure may be retried *safely* depends on the
    /// request (see `Request::idempotent`); the client's retry loop takes care of that.
    pub fn is_retriable(&self) -> bool {
        match self {
            ClientError::Api(e) => e.is_retriable(),
            ClientError::Connect { .. } | ClientError::Timeout { .. } => true,
            ClientError::RetriesExhausted { last, .. } => last.is_retriable(),
            _ => false,
        }
    }

    pub fn is_stale_revision(&self) -> bool {
        self.api().is_some_and(NsxApiError::is_stale_revision)
    }

    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(NsxApiError::is_not_found)
    }

    /// A connection-level failure: the request may or may not have reached the server.
    pub fn is_connection(&self) -> bool {
        match self {
            ClientError::Connect { .. } | ClientError::Timeout { .. } => true,
            ClientError::RetriesExhausted { last, .. } => last.is_connection(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nsx_error_body() {
        let body = br#"{"httpStatus":"BAD_REQUEST","error_code":287,"module_name":"common-services",
            "error_message":"Json de-serialization error","related_errors":[{"error_code":"12","error_message":"inner"}]}"#;
        let e = NsxApiError::from_body("PUT", "/api/v1/x", 400, body);
        assert_eq!(e.error_code, Some(287));
        assert_eq!(e.module_name.as_deref(), Some("common-services"));
        assert_eq!(e.related_errors.len(), 1);
        assert_eq!(e.related_errors[0].error_code, Some(12));
        let s = e.to_string();
        assert!(
            s.contains("HTTP 400") && s.contains("287") && s.contains("inner"),
            "{s}"
        );
        assert!(!e.is_retriable() && !e.is_stale_revision() && !e.is_not_found());
    }

    #[test]
    fn classifies() {
        let mk = |status, code: Option<i64>, msg: &str| {
            let body = match code {
                Some(c) => format!(r#"{{"error_code":{c},"error_message":"{msg}"}}"#),
                None => format!(r#"{{"error_message":"{msg}"}}"#),
            };
            NsxApiError::from_body("POST", "/p", status, body.as_bytes())
        };
        assert!(mk(429, Some(429), "slow down").is_retriable());
        assert!(mk(503, None, "busy").is_retriable());
        assert!(
            mk(
                400,
                Some(400),
                "Migration coordinator backend is busy. Please try again after some time."
            )
            .is_retriable()
        );
        assert!(mk(500, Some(400), "Migration coordinator backend is busy.").is_retriable());
        assert!(mk(500, Some(607), "aborted").is_retriable());
        assert!(mk(500, Some(610), "aborted").is_retriable());
        assert!(!mk(500, Some(99), "cert").is_retriable());
        assert!(mk(400, Some(60508), "indexing").is_retriable());
        assert!(!mk(400, Some(60516), "bad query").is_retriable());
        assert!(!mk(400, Some(287), "bad").is_retriable());
        assert!(mk(409, None, "x").is_stale_revision());
        assert!(mk(412, None, "x").is_stale_revision());
        assert!(mk(404, Some(202), "x").is_not_found());
        assert!(mk(403, Some(98), "Bad XSRF token").is_bad_xsrf());
        assert!(mk(403, Some(403), "creds").is_invalid_credentials());
    }

    #[test]
    fn non_json_body_is_kept_short() {
        let body = "<html>\n<body>Bad   gateway</body></html>".repeat(50);
        let e = NsxApiError::from_body("GET", "/p", 502, body.as_bytes());
        assert!(e.error_message.len() <= 300);
        assert!(e.error_message.starts_with("<html> <body>Bad gateway"));
        assert_eq!(e.error_code, None);
    }
}

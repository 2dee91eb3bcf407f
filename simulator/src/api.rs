//! Request/reply plumbing shared by every API module, and NSX's error body shape.

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

/// NSX error, rendered as `{httpStatus, error_code, error_message, module_name, related_errors}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: i64,
    pub message: String,
    pub module: &'static str,
}

impl ApiError {
    pub fn new(status: u16, code: i64, module: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            module,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, 255, "common-services", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            404,
            202,
            "common-services",
            format!(
                "The requested object : {what} could not be found. Object identifiers are case sensitive."
            ),
        )
    }

    pub fn stale(kind: &str, id: &str) -> Self {
        Self::new(
            412,
            206,
            "common-services",
            format!(
                "The object {kind}/{id} was modified by somebody else. Fetch the latest copy of the object and retry."
            ),
        )
    }

    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        Self::new(
            405,
            229,
            "common-services",
            format!("The requested method {method} is not supported on {path}."),
        )
    }

    /// `httpStatus` as NSX spells it: the reason phrase in upper snake case.
    pub fn status_name(status: u16) -> String {
        StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("UNKNOWN")
            .to_ascii_uppercase()
            .replace([' ', '-'], "_")
    }

    pub fn body(&self) -> Value {
        json!({
            "httpStatus": Self::status_name(self.status),
            "error_code": self.code,
            "error_message": self.message,
            "module_name": self.module,
            "related_errors": [],
        })
    }
}

/// A reply the dispatcher turns into an HTTP response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Pre-serialized JSON body (used for large list pages to avoid deep copies).
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    pub fn json(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
            raw: None,
        }
    }

    pub fn created(body: Value) -> Self {
        Self {
            status: 201,
            body: Some(body),
            headers: Vec::new(),
            raw: None,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
            raw: None,
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

pub type ApiResult = Result<Reply, ApiError>;

/// A parsed request as the API modules see it.
#[derive(Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub segs: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Authenticated user name (empty for unauthenticated endpoints).
    pub user: String,
    /// SHA-256 of the client certificate presented on the TLS listener, if any.
    pub client_cert: Option<String>,
    /// Set when the caller authenticated as a principal identity (client certificate).
    pub principal: Option<crate::principal::PiCaller>,
}

impl Req {
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `_protection` of an object this caller creates: a protected principal identity's objects
    /// are protected from other users. The value stored is what a superuser (admin) reading the
    /// object is told: REQUIRE_OVERRIDE (NSX computes the field per reader; see the README).
    pub fn protection_for_new(&self) -> &'static str {
        if self.principal.as_ref().is_some_and(|p| p.protects) {
            "REQUIRE_OVERRIDE"
        } else {
            "NOT_PROTECTED"
        }
    }

    pub fn allow_overwrite(&self) -> bool {
        self.header("x-allow-overwrite")
            .map(|v| v.eq_ignore_ascii_case("true"))
            .unwrap_or(false)
    }

    /// Parse the body as a JSON object.
    pub fn json(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ApiError::bad_request("Request body is required."));
        }
        let v: Value = serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::new(
                400,
                287,
                "common-services",
                format!("Json de-serialization error: {e}"),
            )
        })?;
        if !v.is_object() {
            return Err(ApiError::new(
                400,
                287,
                "common-services",
                "Json de-serialization error: request body must be a JSON object.",
            ));
        }
        Ok(v)
    }

    /// Parse an optional body (empty means `{}`).
    pub fn json_or_empty(&self) -> Result<Value, ApiError> {
        if self.body.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(json!({}))
        } else {
            self.json()
        }
    }

    pub fn page(&self) -> Result<(usize, usize), ApiError> {
        page_params(self.q("cursor"), self.q("page_size"))
    }
}

/// Cursor (offset as a decimal string) and page size (0..=1000, default 1000).
pub fn page_params(
    cursor: Option<&str>,
    page_size: Option<&str>,
) -> Result<(usize, usize), ApiError> {
    let offset = match cursor {
        None | Some("") => 0,
        Some(c) => c.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!("Invalid value '{c}' for parameter cursor."))
        })?,
    };
    let size = match page_size {
        None | Some("") => 1000,
        Some(p) => {
            let n = p.parse::<i64>().map_err(|_| {
                ApiError::bad_request(format!("Invalid value '{p}' for parameter page_size."))
            })?;
            if !(0..=1000).contains(&n) {
                return Err(ApiError::bad_request(format!(
                    "Field level validation errors: {{value {n} for property page_size must be between 0 and 1000}}"
                )));
            }
            n as usize
        }
    };
    Ok((offset, size))
}

#[derive(serde::Serialize)]
struct Page<'a> {
    results: &'a [&'a Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    result_count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// Serialize a list page without copying the objects.
pub fn page_reply(
    results: &[&Value],
    result_count: Option<usize>,
    cursor: Option<String>,
) -> Reply {
    let page = Page {
        results,
        result_count,
        cursor,
    };
    match serde_json::to_vec(&page) {
        Ok(bytes) => Reply {
            status: 200,
            body: None,
            headers: Vec::new(),
            raw: Some(bytes),
        },
        Err(e) => {
            let err = ApiError::new(
                500,
                500,
                "common-services",
                format!("cannot serialize: {e}"),
            );
            Reply {
                status: 500,
                body: Some(err.body()),
                headers: Vec::new(),
                raw: None,
            }
        }
    }
}

/// Build a list result page from an already filtered list of objects.
pub fn list_page(items: Vec<&Value>, offset: usize, size: usize) -> Reply {
    let total = items.len();
    let end = offset.saturating_add(size).min(total);
    let start = offset.min(total);
    let cursor = (end < total).then(|| end.to_string());
    page_reply(&items[start..end], Some(total), cursor)
}

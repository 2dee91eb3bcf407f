//! Principal identities (`/api/v1/trust-management/principal-identities`): a name bound to a
//! client certificate. A request that presents a registered certificate on the TLS listener (and
//! no username/password) acts as that identity; what it creates is owned by it and, when the
//! identity is protected, protected from other users (see `store::check_protection`).

use axum::http::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{ApiError, ApiResult, Reply, Req, list_page};
use crate::state::State;
use crate::util::{base64_decode, now_ms};

/// Role given when the registration names none.
pub const DEFAULT_ROLE: &str = "enterprise_admin";

/// One registered identity: the `PrincipalIdentity` object as served and the SHA-256 (lowercase
/// hex) of its certificate's DER encoding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Principal {
    pub identity: Value,
    pub certificate_sha256: String,
}

impl Principal {
    pub fn name(&self) -> &str {
        self.identity
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// Whether what this identity creates is protected (`is_protected`, true unless set false).
    pub fn protects(&self) -> bool {
        self.identity
            .get("is_protected")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }
}

/// The caller of a request authenticated by a principal identity's certificate.
#[derive(Debug, Clone)]
pub struct PiCaller {
    /// Objects this caller creates are protected.
    pub protects: bool,
}

/// Whether objects owned by `name` are protected: a registered identity says so itself; a name
/// that is not registered (an import's `setup_details.principal_identity` naming an identity this
/// simulator was not told about) is treated as protected, as NCP's identity is.
pub fn name_protects(st: &State, name: &str) -> bool {
    st.principals
        .iter()
        .find(|p| p.name() == name)
        .is_none_or(Principal::protects)
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
pub fn pem_certificate_der(pem: &str) -> Option<Vec<u8>> {
    let begin = "-----BEGIN CERTIFICATE-----";
    let end = "-----END CERTIFICATE-----";
    let start = pem.find(begin)? + begin.len();
    let stop = start + pem[start..].find(end)?;
    let b64: String = pem[start..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64_decode(&b64)?;
    // A DER certificate is a SEQUENCE.
    (der.first() == Some(&0x30) && der.len() > 16).then_some(der)
}

pub fn route(st: &mut State, req: &Req, rest: &[&str]) -> ApiResult {
    match (rest, &req.method) {
        ([], &Method::GET) => {
            let items: Vec<&Value> = st.principals.iter().map(|p| &p.identity).collect();
            let (off, size) = req.page()?;
            Ok(list_page(items, off, size))
        }
        (["with-certificate"], &Method::POST) => register(st, req),
        ([id], &Method::GET) => st
            .principals
            .iter()
            .find(|p| p.identity["id"] == *id)
            .map(|p| Reply::json(p.identity.clone()))
            .ok_or_else(|| ApiError::not_found(&format!("PrincipalIdentity/{id}"))),
        ([id], &Method::DELETE) => {
            refuse_principal_caller(req)?;
            let before = st.principals.len();
            st.principals.retain(|p| p.identity["id"] != *id);
            if st.principals.len() == before {
                return Err(ApiError::not_found(&format!("PrincipalIdentity/{id}")));
            }
            st.touch();
            Ok(Reply::empty(200))
        }
        _ => Err(ApiError::method_not_allowed(&req.method, &req.path)),
    }
}

/// Identities are managed by the administrator, not by another identity.
fn refuse_principal_caller(req: &Req) -> Result<(), ApiError> {
    if req.principal.is_some() {
        return Err(ApiError::new(
            403,
            403,
            "common-services",
            format!(
                "Principal '{}' is not allowed to manage principal identities.",
                req.user
            ),
        ));
    }
    Ok(())
}

fn required_str<'a>(body: &'a Value, field: &str, max: usize) -> Result<&'a str, ApiError> {
    let v = body
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request(format!("Field '{field}' is required.")))?;
    if v.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "Field '{field}' is longer than {max} characters."
        )));
    }
    Ok(v)
}

/// `POST .../principal-identities/with-certificate` (`PrincipalIdentityWithCertificate`).
fn register(st: &mut State, req: &Req) -> ApiResult {
    refuse_principal_caller(req)?;
    let body = req.json()?;
    let name = required_str(&body, "name", 255)?.to_string();
    let node_id = required_str(&body, "node_id", 255)?.to_string();
    let pem = required_str(&body, "certificate_pem", usize::MAX)?;
    let der = pem_certificate_der(pem).ok_or_else(|| {
        ApiError::bad_request("Field 'certificate_pem' is not a PEM-encoded X.509 certificate.")
    })?;
    let sha = crate::tls::cert_sha256(&der);
    if st
        .principals
        .iter()
        .any(|p| p.name() == name && p.identity["node_id"] == node_id.as_str())
    {
        return Err(ApiError::bad_request(format!(
            "A principal identity with name '{name}' and node_id '{node_id}' already exists."
        )));
    }
    if st.principals.iter().any(|p| p.certificate_sha256 == sha) {
        return Err(ApiError::bad_request(
            "This certificate is already registered with another principal identity.",
        ));
    }
    let role = match body.get("role") {
        None | Some(Value::Null) => DEFAULT_ROLE.to_string(),
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        Some(_) => return Err(ApiError::bad_request("Field 'role' must be a string.")),
    };
    let is_protected = match body.get("is_protected") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Field 'is_protected' must be a boolean.",
            ));
        }
    };
    let now = now_ms();
    let id = st.rng.uuid();
    let certificate_id = st.rng.uuid();
    let identity = json!({
        "resource_type": "PrincipalIdentity",
        "id": id,
        "display_name": name,
        "name": name,
        "node_id": node_id,
        "role": role,
        "is_protected": is_protected,
        "certificate_id": certificate_id,
        "_revision": 0,
        "_create_user": req.user,
        "_create_time": now,
        "_last_modified_user": req.user,
        "_last_modified_time": now,
        "_system_owned": false,
        "_protection": "NOT_PROTECTED",
    });
    st.principals.push(Principal {
        identity: identity.clone(),
        certificate_sha256: sha,
    });
    st.touch();
    Ok(Reply::created(identity))
}

//! Passwords out of the operator's files before they enter a snapshot: every password option of
//! `nsx.ini` and `migrator.conf.json` is replaced by a `secret-ref:` reference, and each
//! replacement is listed (docs/inventory-format.md, "Configuration files and passwords").

use serde_json::{Value, json};

/// Where a password went, for `metadata.json` `redactions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction {
    /// Snapshot-relative file (`vio/nsx.ini`).
    pub file: String,
    /// `[section] option` (INI) or a JSON pointer.
    pub at: String,
    pub reference: String,
}

impl Redaction {
    pub fn to_json(&self) -> Value {
        json!({"file": self.file, "at": self.at, "reference": self.reference})
    }
}

/// The reference written for a password held in clear text.
pub const CLEAR_TEXT_REF: &str = "secret-ref:none";
const REF_PREFIX: &str = "secret-ref:";

/// An option holding a credential: `password`, `*_password`, and the shared secrets
/// (`secret`, `*_secret`, e.g. `[nsxv] metadata_shared_secret`).
pub fn is_secret_option(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    n == "password" || n.ends_with("_password") || n == "secret" || n.ends_with("_secret")
}

/// `nsx.ini` with every secret option's value replaced. An option already holding a
/// `secret-ref:` is kept as is (and listed); an empty one is left alone. `reference_of(section,
/// option)` names where a clear-text value really lives (a VIOSecret), else
/// [`CLEAR_TEXT_REF`] is written. Comments, order, spacing and unknown options are kept;
/// continuation lines of a replaced value are dropped.
pub fn redact_ini(
    text: &str,
    file: &str,
    reference_of: &dyn Fn(&str, &str) -> Option<String>,
) -> (String, Vec<Redaction>) {
    let mut out = String::with_capacity(text.len());
    let mut found = Vec::new();
    let mut section = String::new();
    let mut dropping_continuation = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let ending = &line[body.len()..];
        let trimmed = body.trim_start();
        let is_continuation = body.starts_with([' ', '\t']) && !trimmed.is_empty();
        if dropping_continuation && is_continuation {
            continue;
        }
        dropping_continuation = false;
        if trimmed.starts_with('#') || trimmed.starts_with(';') || trimmed.is_empty() {
            out.push_str(line);
            continue;
        }
        if trimmed.starts_with('[') {
            if let Some(end) = trimmed.find(']') {
                section = trimmed[1..end].trim().to_string();
            }
            out.push_str(line);
            continue;
        }
        let sep = match (body.find('='), body.find(':')) {
            (Some(e), Some(c)) => Some(e.min(c)),
            (e, c) => e.or(c),
        };
        let Some(sep) = sep.filter(|_| !is_continuation) else {
            out.push_str(line);
            continue;
        };
        let key = body[..sep].trim();
        let value = body[sep + 1..].trim();
        if !is_secret_option(key) || value.is_empty() {
            out.push_str(line);
            continue;
        }
        let at = format!("[{section}] {key}");
        if value.starts_with(REF_PREFIX) {
            found.push(Redaction {
                file: file.into(),
                at,
                reference: value.to_string(),
            });
            out.push_str(line);
            continue;
        }
        let reference = reference_of(&section, key).unwrap_or_else(|| CLEAR_TEXT_REF.into());
        // Keep the operator's spacing around the separator.
        let after = &body[sep + 1..];
        let pad = &after[..after.len() - after.trim_start().len()];
        out.push_str(&body[..sep + 1]);
        out.push_str(pad);
        out.push_str(&reference);
        out.push_str(ending);
        found.push(Redaction {
            file: file.into(),
            at,
            reference,
        });
        dropping_continuation = true;
    }
    (out, found)
}

/// `migrator.conf.json` (already parsed) with every secret key's string value replaced by
/// [`CLEAR_TEXT_REF`] unless it is a `secret-ref:` already. Returns whether anything changed.
pub fn redact_json(v: &mut Value, file: &str, found: &mut Vec<Redaction>) -> bool {
    fn walk(
        v: &mut Value,
        pointer: &str,
        file: &str,
        found: &mut Vec<Redaction>,
        depth: usize,
    ) -> bool {
        if depth > 64 {
            return false;
        }
        let mut changed = false;
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    let p = format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1"));
                    if is_secret_option(k)
                        && let Value::String(s) = child
                    {
                        if s.is_empty() {
                            continue;
                        }
                        if s.starts_with(REF_PREFIX) {
                            found.push(Redaction {
                                file: file.into(),
                                at: p,
                                reference: s.clone(),
                            });
                        } else {
                            *s = CLEAR_TEXT_REF.into();
                            found.push(Redaction {
                                file: file.into(),
                                at: p,
                                reference: CLEAR_TEXT_REF.into(),
                            });
                            changed = true;
                        }
                        continue;
                    }
                    changed |= walk(child, &p, file, found, depth + 1);
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter_mut().enumerate() {
                    changed |= walk(child, &format!("{pointer}/{i}"), file, found, depth + 1);
                }
            }
            _ => {}
        }
        changed
    }
    walk(v, "", file, found, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_passwords_become_references() {
        let text = "# top\n[DEFAULT]\ncore_plugin = x\n\n[nsxv]\nuser = admin\npassword = hunter2\n  more-of-it\nmetadata_shared_secret=s3\nca_file = /a\n[nsx_p]\nnsx_api_password = secret-ref:openstack/s/k\nempty_password =\n";
        let (out, found) = redact_ini(text, "vio/nsx.ini", &|s, o| {
            (s == "nsxv" && o == "password")
                .then(|| "secret-ref:openstack/neutron-nsxv-secret/nsxv_password".into())
        });
        assert!(
            !out.contains("hunter2") && !out.contains("more-of-it") && !out.contains("s3\n"),
            "{out}"
        );
        assert!(
            out.contains("password = secret-ref:openstack/neutron-nsxv-secret/nsxv_password\n")
        );
        assert!(
            out.contains("metadata_shared_secret=secret-ref:none\n"),
            "{out}"
        );
        assert!(out.starts_with("# top\n[DEFAULT]\ncore_plugin = x\n\n"));
        assert!(out.contains("empty_password =\n"));
        let ats: Vec<_> = found.iter().map(|r| r.at.as_str()).collect();
        assert_eq!(
            ats,
            [
                "[nsxv] password",
                "[nsxv] metadata_shared_secret",
                "[nsx_p] nsx_api_password"
            ]
        );
        assert_eq!(found[2].reference, "secret-ref:openstack/s/k");
    }

    #[test]
    fn json_passwords_become_references() {
        let mut v = json!({"nsx_manager_user": "admin", "nsx_manager_password": "pw", "azs": [{"password": "secret-ref:a/b/c"}]});
        let mut found = Vec::new();
        assert!(redact_json(&mut v, "vio/migrator.conf.json", &mut found));
        assert_eq!(v["nsx_manager_password"], "secret-ref:none");
        assert_eq!(found[0].at, "/nsx_manager_password");
        assert_eq!(found[1].at, "/azs/0/password");
        assert_eq!(found[1].reference, "secret-ref:a/b/c");
        let mut clean = json!({"nsx_manager_password": "secret-ref:x/y/z"});
        let mut f2 = Vec::new();
        assert!(!redact_json(&mut clean, "f", &mut f2));
        assert_eq!(f2.len(), 1);
    }
}

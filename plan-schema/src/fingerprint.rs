//! Input fingerprints: the canonical forms the plan's `[[inputs]]` sha256 values are computed
//! over, so that the planner and the executor (re-reading live state) agree on them.
//!
//! * NSX: every object, keyed by collection and id, with keys sorted recursively. Listing order
//!   and formatting do not matter.
//! * Kubernetes: only what a plan relies on: kind, namespace, name, uid, labels, and the `spec`
//!   of network policies, services and ingresses. Status, resourceVersion, managedFields and
//!   annotations change all the time without changing the plan (node heartbeats, pod conditions)
//!   and are left out.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// JSON with object keys sorted recursively, compact. Written directly, without copying the
/// value (inventories hold hundreds of thousands of objects).
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        Value::String(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
        other => out.push_str(&other.to_string()),
    }
}

/// sha256 (hex) of one object's canonical form.
pub fn object_digest(v: &Value) -> String {
    hex::encode(Sha256::digest(canonical_json(v).as_bytes()))
}

/// Combine per-object parts (any order) into one fingerprint.
pub fn combine(mut parts: Vec<String>) -> (String, u64) {
    parts.sort_unstable();
    let mut h = Sha256::new();
    for p in &parts {
        h.update(p.as_bytes());
        h.update(b"\n");
    }
    (hex::encode(h.finalize()), parts.len() as u64)
}

/// The part one NSX object contributes: collection, id and the digest of its canonical form.
pub fn nsx_part(collection: &str, id: &str, v: &Value) -> String {
    format!("{collection}\u{0}{id}\u{0}{}", object_digest(v))
}

/// The part one Kubernetes object contributes (list name and the digest of its projection).
pub fn kube_part(list: &str, item: &Value) -> String {
    format!("{list}\u{0}{}", object_digest(&kube_projection(list, item)))
}

/// Fingerprint of NSX objects given as (collection, id, object).
pub fn nsx_fingerprint<'a>(
    objects: impl IntoIterator<Item = (&'a str, &'a str, &'a Value)>,
) -> (String, u64) {
    combine(
        objects
            .into_iter()
            .map(|(c, id, v)| nsx_part(c, id, v))
            .collect(),
    )
}

/// The part of a Kubernetes object a plan relies on.
pub fn kube_projection(list: &str, item: &Value) -> Value {
    let meta = item.get("metadata").cloned().unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    for key in ["namespace", "name", "uid", "labels"] {
        if let Some(v) = meta.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if matches!(list, "networkpolicies" | "services" | "ingresses")
        && let Some(spec) = item.get("spec")
    {
        out.insert("spec".to_string(), spec.clone());
    }
    Value::Object(out)
}

/// Fingerprint of Kubernetes objects given as (list name, e.g. `pods`, item).
pub fn kube_fingerprint<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> (String, u64) {
    combine(
        items
            .into_iter()
            .map(|(list, item)| kube_part(list, item))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_and_escapes() {
        let v: Value = serde_json::from_str(r#"{"b":[1,{"z":null,"a":"x\"y"}],"a":true}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":true,"b":[1,{"a":"x\"y","z":null}]}"#
        );
    }

    #[test]
    fn order_and_formatting_do_not_matter() {
        let a = json!({"id": "1", "tags": [{"scope": "s", "tag": "t"}], "display_name": "x"});
        let b: Value = serde_json::from_str(
            r#"{ "display_name":"x","tags":[{"tag":"t","scope":"s"}],"id":"1" }"#,
        )
        .unwrap();
        let c = json!({"id": "2"});
        let (f1, n1) = nsx_fingerprint([("ip-pools", "1", &a), ("ip-pools", "2", &c)]);
        let (f2, _) = nsx_fingerprint([("ip-pools", "2", &c), ("ip-pools", "1", &b)]);
        assert_eq!(f1, f2);
        assert_eq!(n1, 2);
        let (f3, _) = nsx_fingerprint([("ip-pools", "1", &json!({"id": "1"}))]);
        assert_ne!(f1, f3);
    }

    #[test]
    fn kubernetes_status_churn_does_not_matter_but_labels_do() {
        let pod = json!({"metadata": {"name": "p", "namespace": "n", "uid": "u", "resourceVersion": "1", "labels": {"app": "a"}}, "status": {"phase": "Running"}});
        let churned = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "uid": "u", "resourceVersion": "9", "labels": {"app": "a"}, "managedFields": []}, "status": {"phase": "Running", "conditions": [{"type": "Ready"}]}});
        let relabelled = json!({"metadata": {"name": "p", "namespace": "n", "uid": "u", "labels": {"app": "b"}}});
        let (a, _) = kube_fingerprint([("pods", &pod)]);
        let (b, _) = kube_fingerprint([("pods", &churned)]);
        let (c, _) = kube_fingerprint([("pods", &relabelled)]);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

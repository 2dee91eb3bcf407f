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
    let mut out = Vec::new();
    write_canonical(v, &mut out);
    // Only valid UTF-8 is ever written (JSON text of a `Value`).
    String::from_utf8(out).unwrap_or_default()
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(m) => {
            out.push(b'{');
            if m.len() <= 16 {
                // Small objects (nearly all): sort references on the stack.
                let mut keys: [&str; 16] = [""; 16];
                let mut vals: [&Value; 16] = [&Value::Null; 16];
                for (i, (k, x)) in m.iter().enumerate() {
                    keys[i] = k;
                    vals[i] = x;
                }
                let mut order: [usize; 16] = std::array::from_fn(|i| i);
                let order = &mut order[..m.len()];
                order.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b]));
                for (n, &i) in order.iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_str(keys[i], out);
                    out.push(b':');
                    write_canonical(vals[i], out);
                }
            } else {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (n, (k, x)) in entries.into_iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    write_str(k, out);
                    out.push(b':');
                    write_canonical(x, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(x, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_str(s, out),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // Numbers print as serde_json prints them (writing to a Vec cannot fail).
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
    }
}

/// A JSON string literal with serde_json's escaping (writing to a Vec cannot fail).
fn write_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// sha256 (hex) of one object's canonical form.
pub fn object_digest(v: &Value) -> String {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|buf| {
        let mut buf = buf.borrow_mut();
        buf.clear();
        write_canonical(v, &mut buf);
        hex::encode(Sha256::digest(&buf[..]))
    })
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
    kube_projected_part(list, &kube_projection(list, item))
}

/// The part of an object whose projection ([`kube_projection`]) was built by the caller.
pub fn kube_projected_part(list: &str, projection: &Value) -> String {
    format!("{list}\u{0}{}", object_digest(projection))
}

/// Whether the projection of items of `list` keeps their `spec`.
pub fn kube_projection_keeps_spec(list: &str) -> bool {
    matches!(list, "networkpolicies" | "services" | "ingresses")
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
    if kube_projection_keeps_spec(list)
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

//! Kubernetes API server subset (separate loopback listener), enough for the real `kubectl`:
//! discovery (`/version`, `/api`, `/apis`, group versions), and list / get / create / delete with
//! `limit` / `continue`, `labelSelector` (equality) and `fieldSelector` (`metadata.name`,
//! `metadata.namespace`) for namespaces, pods, services, endpoints, nodes, ingresses and network
//! policies. No authentication (loopback only). Errors are `Status` objects.

use axum::http::Method;
use serde_json::{Value, json};

use crate::api::{Reply, Req};
use crate::k8s::{K8S_RESOURCES, K8sResource, VIO_GROUP, resource};
use crate::state::State;

pub const K8S_VERSION: (&str, &str, &str) = ("1", "30", "v1.30.0-nsx-migrate-sim");

fn status(code: u16, reason: &str, message: String, details: Option<Value>) -> Reply {
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        v["details"] = d;
    }
    Reply {
        status: code,
        body: Some(v),
        headers: Vec::new(),
        raw: None,
    }
}

fn not_found(res: &K8sResource, name: &str) -> Reply {
    status(
        404,
        "NotFound",
        format!("{} \"{name}\" not found", res.plural),
        Some(json!({"name": name, "kind": res.plural})),
    )
}

fn bad_request(message: String) -> Reply {
    status(400, "BadRequest", message, None)
}

fn resource_list(group_version: &str, group: &str) -> Value {
    let resources: Vec<Value> = K8S_RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.kind.to_ascii_lowercase(),
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": ["create", "delete", "get", "list", "patch"],
                "shortNames": r.short_names,
            })
        })
        .collect();
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    })
}

/// Minimal OpenAPI v3 document per group version: one item path per resource whose PATCH operation
/// carries the group-version-kind and the `fieldValidation` query parameter. That is what kubectl
/// inspects to decide that the server validates fields itself (so it needs no client-side schema).
fn openapi_doc(group: &str) -> Value {
    let mut paths = serde_json::Map::new();
    for r in K8S_RESOURCES.iter().filter(|r| r.group == group) {
        let prefix = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/{}", r.version)
        };
        let path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let params = json!([
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        ]);
        let gvk = json!({"group": r.group, "version": r.version, "kind": r.kind});
        paths.insert(
            path,
            json!({
                "get": {"operationId": format!("read{}", r.kind), "x-kubernetes-action": "get",
                        "x-kubernetes-group-version-kind": gvk, "responses": {"200": {"description": "OK"}}},
                "patch": {"operationId": format!("patch{}", r.kind), "x-kubernetes-action": "patch",
                          "x-kubernetes-group-version-kind": gvk, "parameters": params,
                          "responses": {"200": {"description": "OK"}}},
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (nsx-migrate simulator subset)", "version": K8S_VERSION.2},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

fn api_group(name: &str, version: &str) -> Value {
    let gv = format!("{name}/{version}");
    json!({
        "name": name,
        "versions": [{"groupVersion": gv, "version": version}],
        "preferredVersion": {"groupVersion": gv, "version": version},
    })
}

/// The API groups served: networking always, VIO's only with a VIO deployment.
fn groups(st: &State) -> Vec<(&'static str, &'static str)> {
    let mut g = vec![("networking.k8s.io", "v1")];
    if st.vio.is_some() {
        g.push((VIO_GROUP, "v1alpha1"));
    }
    g
}

pub fn route(st: &mut State, req: &Req, server_addr: &str) -> Reply {
    let segs: Vec<&str> = req.segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["version"] => Reply::json(json!({
            "major": K8S_VERSION.0, "minor": K8S_VERSION.1, "gitVersion": K8S_VERSION.2,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["api"] => Reply::json(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_addr}],
        })),
        ["apis"] => Reply::json(json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": groups(st).iter().map(|(g, v)| api_group(g, v)).collect::<Vec<_>>(),
        })),
        ["openapi", "v3"] => {
            let mut paths = serde_json::Map::new();
            paths.insert(
                "api/v1".into(),
                json!({"serverRelativeURL": "/openapi/v3/api/v1?hash=sim1"}),
            );
            for (g, v) in groups(st) {
                paths.insert(
                    format!("apis/{g}/{v}"),
                    json!({"serverRelativeURL": format!("/openapi/v3/apis/{g}/{v}?hash=sim1")}),
                );
            }
            Reply::json(json!({ "paths": paths }))
        }
        ["openapi", "v3", "api", "v1"] => Reply::json(openapi_doc("")),
        ["api", "v1"] => Reply::json(resource_list("v1", "")),
        ["api", "v1", rest @ ..] => objects(st, req, "", rest),
        ["openapi", "v3", "apis", g, v] if groups(st).contains(&(*g, *v)) => {
            Reply::json(openapi_doc(g))
        }
        ["apis", g] if groups(st).iter().any(|(x, _)| x == g) => {
            let v = groups(st)
                .iter()
                .find(|(x, _)| x == g)
                .map(|(_, v)| *v)
                .unwrap_or("v1");
            let mut body = api_group(g, v);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Reply::json(body)
        }
        ["apis", g, v] if groups(st).contains(&(*g, *v)) => {
            Reply::json(resource_list(&format!("{g}/{v}"), g))
        }
        ["apis", g, v, rest @ ..] if groups(st).contains(&(*g, *v)) => {
            let g = g.to_string();
            objects(st, req, &g, rest)
        }
        _ => status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        ),
    }
}

fn objects(st: &mut State, req: &Req, group: &str, rest: &[&str]) -> Reply {
    // (namespace, plural, name)
    let (ns, plural, name): (Option<&str>, &str, Option<&str>) = match rest {
        ["namespaces", ns, plural] => (Some(ns), plural, None),
        ["namespaces", ns, plural, name] => (Some(ns), plural, Some(name)),
        [plural] => (None, plural, None),
        [plural, name] => (None, plural, Some(name)),
        _ => {
            return status(
                404,
                "NotFound",
                "the server could not find the requested resource".into(),
                None,
            );
        }
    };
    let Some(res) = resource(plural).filter(|r| r.group == group) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        );
    };
    if ns.is_some() && !res.namespaced {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource".into(),
            None,
        );
    }
    match (&req.method, name) {
        (&Method::GET, None) => {
            if req.q("watch").is_some_and(|w| w == "true" || w == "1") {
                // Watches end immediately (no events); clients re-list.
                return Reply::empty(200).with_header("content-type", "application/json");
            }
            list(st, req, res, ns)
        }
        (&Method::GET, Some(n)) => match st
            .k8s
            .objects
            .get(res.plural)
            .and_then(|m| m.get(&key(res, ns, n)))
        {
            Some(o) => Reply::json(with_type(res, o)),
            None => not_found(res, n),
        },
        (&Method::POST, None) => create(st, req, res, ns),
        (&Method::PATCH, Some(n)) => patch(st, req, res, ns, n),
        (&Method::DELETE, Some(n)) => delete(st, res, ns, n),
        _ => status(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({})",
                req.method
            ),
            None,
        ),
    }
}

fn key(res: &K8sResource, ns: Option<&str>, name: &str) -> String {
    if res.namespaced {
        format!("{}/{name}", ns.unwrap_or("default"))
    } else {
        format!("/{name}")
    }
}

fn api_version(res: &K8sResource) -> String {
    if res.group.is_empty() {
        res.version.to_string()
    } else {
        format!("{}/{}", res.group, res.version)
    }
}

fn with_type(res: &K8sResource, o: &Value) -> Value {
    let mut o = o.clone();
    if o.get("kind").is_none() {
        o["kind"] = json!(res.kind);
    }
    if o.get("apiVersion").is_none() {
        o["apiVersion"] = json!(api_version(res));
    }
    o
}

fn selector_matches(o: &Value, label_sel: Option<&str>, field_sel: Option<&str>) -> bool {
    for term in label_sel
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter(|t| !t.is_empty())
    {
        let labels = o.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        let ok = if let Some((k, v)) = term.split_once("!=") {
            get(k.trim()) != Some(v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            get(k.trim()) == Some(v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            get(k.trim()).is_none()
        } else {
            get(term.trim()).is_some()
        };
        if !ok {
            return false;
        }
    }
    for term in field_sel
        .into_iter()
        .flat_map(|s| s.split(','))
        .filter(|t| !t.is_empty())
    {
        let (k, v, neg) = match term.split_once("!=") {
            Some((k, v)) => (k, v, true),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((k, v)) => (k, v, false),
                None => return false,
            },
        };
        let actual = match k.trim() {
            "metadata.name" => o.pointer("/metadata/name"),
            "metadata.namespace" => o.pointer("/metadata/namespace"),
            "spec.nodeName" => o.pointer("/spec/nodeName"),
            "status.phase" => o.pointer("/status/phase"),
            _ => None,
        }
        .and_then(Value::as_str)
        .unwrap_or("");
        if (actual == v.trim()) == neg {
            return false;
        }
    }
    true
}

fn list(st: &State, req: &Req, res: &K8sResource, ns: Option<&str>) -> Reply {
    let limit = match req.q("limit").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return bad_request("invalid limit".into()),
    };
    let offset = match req.q("continue").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => match c.strip_prefix("sim-").and_then(|n| n.parse::<usize>().ok()) {
            Some(n) => n,
            None => {
                return status(
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list result."
                        .into(),
                    None,
                );
            }
        },
    };
    let all: Vec<&Value> = st
        .k8s
        .objects
        .get(res.plural)
        .map(|m| {
            m.iter()
                .filter(|(k, _)| match ns {
                    Some(n) => k.split('/').next() == Some(n),
                    None => true,
                })
                .map(|(_, v)| v)
                .filter(|o| selector_matches(o, req.q("labelSelector"), req.q("fieldSelector")))
                .collect()
        })
        .unwrap_or_default();
    let end = if limit == 0 {
        all.len()
    } else {
        offset.saturating_add(limit).min(all.len())
    };
    let start = offset.min(all.len());
    let items: &[&Value] = &all[start..end];
    let mut meta = json!({"resourceVersion": st.k8s.resource_version.to_string()});
    if end < all.len() {
        meta["continue"] = json!(format!("sim-{end}"));
        meta["remainingItemCount"] = json!(all.len() - end);
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct KList<'a> {
        kind: &'a str,
        api_version: String,
        metadata: Value,
        items: Vec<Untyped<'a>>,
    }
    /// A list item as the API server serves it: without `apiVersion` and `kind` (only the list
    /// carries them; `kubectl get -o json` adds them back to each item).
    struct Untyped<'a>(&'a Value);
    impl serde::Serialize for Untyped<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let Value::Object(m) = self.0 else {
                return self.0.serialize(s);
            };
            let keep = |k: &str| k != "apiVersion" && k != "kind";
            let mut map = s.serialize_map(Some(m.keys().filter(|k| keep(k)).count()))?;
            for (k, v) in m.iter().filter(|(k, _)| keep(k)) {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
    let body = KList {
        kind: res.list_kind,
        api_version: api_version(res),
        metadata: meta,
        items: items.iter().map(|v| Untyped(v)).collect(),
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => Reply {
            status: 200,
            body: None,
            headers: Vec::new(),
            raw: Some(bytes),
        },
        Err(e) => status(500, "InternalError", format!("cannot serialize: {e}"), None),
    }
}

fn create(st: &mut State, req: &Req, res: &K8sResource, ns: Option<&str>) -> Reply {
    let mut body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request("the request body must be a JSON object".into()),
        Err(e) => return bad_request(format!("invalid JSON body: {e}")),
    };
    if let Some(k) = body.get("kind").and_then(Value::as_str)
        && k != res.kind
    {
        return bad_request(format!(
            "the kind {k} in the body does not match the resource {}",
            res.plural
        ));
    }
    let Some(name) = body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return status(
            422,
            "Invalid",
            format!(
                "{} \"\" is invalid: metadata.name: Required value: name is required",
                res.kind
            ),
            None,
        );
    };
    let ns = if res.namespaced {
        let body_ns = body.pointer("/metadata/namespace").and_then(Value::as_str);
        let url_ns = ns.unwrap_or("default");
        if body_ns.is_some_and(|b| b != url_ns) {
            return bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
                    .into(),
            );
        }
        if !st
            .k8s
            .objects
            .get("namespaces")
            .is_some_and(|m| m.contains_key(&format!("/{url_ns}")))
        {
            return status(
                404,
                "NotFound",
                format!("namespaces \"{url_ns}\" not found"),
                Some(json!({"name": url_ns, "kind": "namespaces"})),
            );
        }
        Some(url_ns.to_string())
    } else {
        None
    };
    let k = key(res, ns.as_deref(), &name);
    if st
        .k8s
        .objects
        .get(res.plural)
        .is_some_and(|m| m.contains_key(&k))
    {
        return status(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", res.plural),
            Some(json!({"name": name, "kind": res.plural})),
        );
    }
    st.k8s.resource_version += 1;
    let rv = st.k8s.resource_version.to_string();
    let uid = st.rng.uuid();
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    body["kind"] = json!(res.kind);
    body["apiVersion"] = json!(api_version(res));
    let meta = &mut body["metadata"];
    meta["uid"] = json!(uid);
    meta["resourceVersion"] = json!(rv);
    meta["creationTimestamp"] = json!(now);
    if let Some(n) = &ns {
        meta["namespace"] = json!(n);
    }
    if res.plural == "namespaces" {
        if body.get("spec").is_none() {
            body["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        body["status"] = json!({"phase": "Active"});
    }
    if res.plural == "pods" && body.pointer("/status/phase").is_none() {
        body["status"] = json!({"phase": "Pending"});
    }
    st.k8s
        .objects
        .entry(res.plural)
        .or_default()
        .insert(k, body.clone());
    st.touch();
    Reply {
        status: 201,
        body: Some(body),
        headers: Vec::new(),
        raw: None,
    }
}

fn delete(st: &mut State, res: &K8sResource, ns: Option<&str>, name: &str) -> Reply {
    let k = key(res, ns, name);
    let Some(obj) = st
        .k8s
        .objects
        .get_mut(res.plural)
        .and_then(|m| m.remove(&k))
    else {
        return not_found(res, name);
    };
    if res.plural == "namespaces" {
        // Namespaced objects go with their namespace.
        let prefix = format!("{name}/");
        for r in K8S_RESOURCES.iter().filter(|r| r.namespaced) {
            if let Some(m) = st.k8s.objects.get_mut(r.plural) {
                m.retain(|k, _| !k.starts_with(&prefix));
            }
        }
    }
    st.k8s.resource_version += 1;
    st.touch();
    Reply::json(with_type(res, &obj))
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// PATCH with `application/merge-patch+json` (what `kubectl patch --type merge` and
/// `kubectl apply` send for custom resources). Strategic merge patches are refused for custom
/// resources, as the API server does; for built-in kinds they are applied as merge patches
/// (the same for maps; lists are replaced). JSON patches and server-side apply are not served.
fn patch(st: &mut State, req: &Req, res: &K8sResource, ns: Option<&str>, name: &str) -> Reply {
    let ct = req.header("content-type").unwrap_or("");
    let merge = ct.starts_with("application/merge-patch+json");
    let strategic = ct.starts_with("application/strategic-merge-patch+json");
    if strategic && !res.group.is_empty() && res.group != "networking.k8s.io" {
        return status(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (strategic merge patch is not supported for the custom resource {})",
                res.plural
            ),
            None,
        );
    }
    if !merge && !strategic {
        return status(
            415,
            "UnsupportedMediaType",
            format!(
                "this simulator applies merge patches only (application/merge-patch+json), not {ct:?}"
            ),
            None,
        );
    }
    let p: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return bad_request("the patch must be a JSON object".into()),
        Err(e) => return bad_request(format!("invalid JSON patch: {e}")),
    };
    let k = key(res, ns, name);
    let Some(current) = st
        .k8s
        .objects
        .get(res.plural)
        .and_then(|m| m.get(&k))
        .cloned()
    else {
        return not_found(res, name);
    };
    if let Some(rv) = p
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        && Some(rv)
            != current
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
    {
        return status(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                res.plural
            ),
            Some(json!({"name": name, "kind": res.plural})),
        );
    }
    let mut updated = current.clone();
    merge_patch(&mut updated, &p);
    for f in ["/metadata/name", "/metadata/namespace", "/metadata/uid"] {
        if updated.pointer(f) != current.pointer(f) {
            return status(
                422,
                "Invalid",
                format!(
                    "{} \"{name}\" is invalid: {}: field is immutable",
                    res.kind,
                    &f[1..].replace('/', ".")
                ),
                None,
            );
        }
    }
    if updated == current {
        return Reply::json(with_type(res, &current));
    }
    st.k8s.resource_version += 1;
    updated["metadata"]["resourceVersion"] = json!(st.k8s.resource_version.to_string());
    if updated.get("spec") != current.get("spec") {
        let g = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        updated["metadata"]["generation"] = json!(g + 1);
    }
    let body = with_type(res, &updated);
    st.k8s
        .objects
        .entry(res.plural)
        .or_default()
        .insert(k, body.clone());
    st.touch();
    Reply::json(body)
}

//! The real `kubectl` (/usr/bin/kubectl) lists, gets, creates and deletes objects against the
//! simulated Kubernetes API through a kubeconfig.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use serde_json::Value;

fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .env("HOME", kubeconfig.parent().unwrap())
        .output()
        .expect("kubectl runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTPS client trusting the simulated Kubernetes API's certificate.
fn k8s_client(h: &simulator::SimHandle) -> reqwest::Client {
    init_tls();
    let ca = reqwest::Certificate::from_pem(h.k8s_ca_pem().as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_lists_gets_creates_and_deletes() {
    if !Path::new("/usr/bin/kubectl").exists() {
        panic!("kubectl is required for this test (Debian package kubectl)");
    }
    let h = start_mini().await;
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    std::fs::write(&kc, h.kubeconfig()).unwrap();
    let kc2 = kc.clone();
    let run = move |args: Vec<&'static str>| {
        let kc = kc2.clone();
        tokio::task::spawn_blocking(move || kubectl(&kc, &args))
    };

    let (ok, out, err) = run(vec!["get", "pods", "-A", "-o", "json"]).await.unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["db-1", "web-1"]);

    // Paging: kubectl follows `continue` with --chunk-size.
    let (ok, out, err) = run(vec!["get", "namespaces", "--chunk-size=1", "-o", "json"])
        .await
        .unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 3);

    let (ok, out, err) = run(vec!["get", "pod", "web-1", "-n", "ns1", "-o", "json"])
        .await
        .unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"]["podIP"], "10.10.0.5");

    let (ok, out, err) = run(vec!["get", "--raw", "/api/v1/nodes"]).await.unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "NodeList");

    let (ok, out, err) = run(vec!["get", "svc", "-n", "ns1"]).await.unwrap();
    assert!(ok, "{err}");
    assert!(out.contains("web"), "{out}");

    let (ok, _, err) = run(vec!["get", "pod", "nope", "-n", "ns1"]).await.unwrap();
    assert!(!ok);
    assert!(err.contains("not found"), "{err}");

    let manifest = dir.path().join("objs.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns2\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: api-1\n  namespace: ns2\n  labels:\n    app: api\nspec:\n  containers:\n  - name: c\n    image: nginx:1.27\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: deny-all\n  namespace: ns2\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    )
    .unwrap();
    let m = manifest.to_str().unwrap().to_string();
    let kc3 = kc.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || kubectl(&kc3, &["create", "-f", &m]))
        .await
        .unwrap();
    assert!(ok, "create failed: {out} {err}");
    assert!(out.contains("pod/api-1 created"), "{out}");

    let (ok, out, err) = run(vec![
        "get", "pods", "-n", "ns2", "-l", "app=api", "-o", "json",
    ])
    .await
    .unwrap();
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["items"][0]["metadata"]["name"], "api-1");
    assert!(v["items"][0]["metadata"]["uid"].is_string());
    let (ok, out, _) = run(vec!["get", "networkpolicies", "-A", "-o", "json"])
        .await
        .unwrap();
    assert!(ok);
    assert!(out.contains("deny-all"));

    // Creating again conflicts.
    let m = manifest.to_str().unwrap().to_string();
    let kc4 = kc.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || kubectl(&kc4, &["create", "-f", &m]))
        .await
        .unwrap();
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");

    let (ok, _, err) = run(vec!["delete", "pod", "api-1", "-n", "ns2", "--wait=false"])
        .await
        .unwrap();
    assert!(ok, "{err}");
    let (ok, _, _) = run(vec!["get", "pod", "api-1", "-n", "ns2"]).await.unwrap();
    assert!(!ok);

    // The same objects are visible over HTTPS with the kubeconfig's CA and bearer token.
    let url = format!("{}/api/v1/namespaces/ns2/pods", h.k8s_base_url());
    let v: Value = k8s_client(&h)
        .get(&url)
        .bearer_auth(h.k8s_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 0);
    h.shutdown().await;
}

/// Like an API server with anonymous access disabled, the simulated one answers a request
/// without the kubeconfig's bearer token (or with another one) with 401 and a `Status`.
#[tokio::test]
async fn anonymous_and_wrong_token_requests_are_unauthorized() {
    init_tls();
    let h = start_mini().await;
    let http = k8s_client(&h);
    for path in [
        "/api/v1/namespaces",
        "/version",
        "/api/v1/namespaces/ns2/pods",
    ] {
        let url = format!("{}{path}", h.k8s_base_url());
        for token in [None, Some("not-the-token")] {
            let mut rq = http.get(&url);
            if let Some(t) = token {
                rq = rq.bearer_auth(t);
            }
            let r = rq.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401, "{path} {token:?}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["kind"], "Status", "{v}");
            assert_eq!(v["reason"], "Unauthorized", "{v}");
            assert_eq!(v["code"], 401, "{v}");
        }
        let r = http
            .get(&url)
            .bearer_auth(h.k8s_token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
    assert!(h.kubeconfig().contains(h.k8s_token()));
    h.shutdown().await;
}

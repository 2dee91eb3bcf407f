//! The real kubectl (/usr/bin/kubectl) against the simulator's Kubernetes API, plus the error
//! paths (missing binary, failing kubectl, timeout, bad resource names).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::common::*;
use client::{KubeResource, Kubectl, KubectlError};
use serde_json::Value;

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let ns = i["metadata"]["namespace"].as_str().unwrap_or("");
            let n = i["metadata"]["name"].as_str().unwrap();
            if ns.is_empty() {
                n.to_string()
            } else {
                format!("{ns}/{n}")
            }
        })
        .collect();
    v.sort();
    v
}

fn kubectl_for(dir: &Path, kubeconfig: &str) -> Kubectl {
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, kubeconfig).unwrap();
    Kubectl {
        kubeconfig: Some(kc),
        cache_dir: Some(dir.join("cache")),
        timeout: Duration::from_secs(60),
        ..Kubectl::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_every_resource_through_real_kubectl() {
    assert!(
        Path::new("/usr/bin/kubectl").exists(),
        "kubectl is required for this test (Debian package kubectl)"
    );
    let h = start_mini().await;
    let dir = tempfile::tempdir().unwrap();
    let mut k = kubectl_for(dir.path(), &h.kubeconfig());
    // Small chunks: kubectl has to follow `continue` tokens to get everything.
    k.chunk_size = 1;
    k.context = Some("k8s-cl1".into());

    let mut all = std::collections::BTreeMap::new();
    for r in KubeResource::ALL {
        let list = k
            .list_resource(r)
            .await
            .unwrap_or_else(|e| panic!("{r:?}: {e}"));
        all.insert(r.file_stem(), names(&list));
    }
    assert_eq!(all["namespaces"], ["default", "kube-system", "ns1"]);
    assert_eq!(all["pods"], ["ns1/db-1", "ns1/web-1"]);
    assert_eq!(all["services"], ["ns1/web"]);
    assert_eq!(all["nodes"], ["node-1"]);
    assert!(all["ingresses"].is_empty());
    assert!(all["networkpolicies"].is_empty());
    assert!(all["endpoints"].is_empty());

    // The list API calls went to the simulator, paged one object at a time.
    let pods: Vec<Value> = h
        .request_log()
        .into_iter()
        .filter(|e| e["api"] == "k8s" && e["path"] == "/api/v1/pods")
        .collect();
    assert!(pods.len() >= 2, "{pods:?}");

    // Read raw, the list is the API server's own (`PodList`, items without apiVersion/kind),
    // with the same objects as `kubectl get -o json` prints (which adds those to each item).
    let raw = k.list_resource(KubeResource::Pods).await.unwrap();
    assert_eq!(raw["kind"], "PodList");
    assert_eq!(raw["apiVersion"], "v1");
    assert!(raw["items"][0].get("kind").is_none(), "{raw}");
    let mut printed = k.list("pods").await.unwrap();
    for item in printed["items"].as_array_mut().unwrap() {
        let m = item.as_object_mut().unwrap();
        m.remove("apiVersion");
        m.remove("kind");
    }
    assert_eq!(raw["items"], printed["items"]);

    // An unknown context is kubectl's error, with its stderr and exit code.
    k.context = Some("no-such-context".into());
    let err = k.list("pods").await.unwrap_err();
    match &err {
        KubectlError::Failed { code, stderr, .. } => {
            assert_eq!(*code, Some(1));
            assert!(stderr.contains("no-such-context"), "{stderr}");
            assert_eq!(stderr.trim(), stderr);
        }
        other => panic!("expected Failed, got {other}"),
    }
    h.shutdown().await;
}

#[tokio::test]
async fn unreachable_api_server_reports_kubectl_stderr() {
    let port = unused_port();
    let dir = tempfile::tempdir().unwrap();
    let kc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:{port}\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"
    );
    let mut k = kubectl_for(dir.path(), &kc);
    k.timeout = Duration::from_secs(30);
    let err = k.list("namespaces").await.unwrap_err();
    let s = err.to_string();
    assert!(
        matches!(err, KubectlError::Failed { code: Some(1), .. }),
        "{s}"
    );
    assert!(s.contains("127.0.0.1"), "{s}");
}

#[tokio::test]
async fn missing_binary_is_a_clear_error() {
    let k = Kubectl {
        binary: PathBuf::from("/nonexistent/bin/kubectl"),
        ..Kubectl::default()
    };
    let err = k.list("pods").await.unwrap_err();
    assert!(matches!(err, KubectlError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/bin/kubectl"));
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test]
async fn timeout_kills_a_hanging_kubectl() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kubectl {
        binary: script(dir.path(), "kubectl", "exec sleep 30"),
        timeout: Duration::from_millis(300),
        ..Kubectl::default()
    };
    let err = k.list("pods").await.unwrap_err();
    assert!(matches!(err, KubectlError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn output_that_is_not_a_list_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in [
        ("k1", "echo 'not json'"),
        ("k2", "echo '{\"kind\":\"Pod\"}'"),
    ] {
        let k = Kubectl {
            binary: script(dir.path(), name, body),
            ..Kubectl::default()
        };
        let err = k.list("pods").await.unwrap_err();
        assert!(matches!(err, KubectlError::InvalidOutput { .. }), "{err}");
    }
}

#[tokio::test]
async fn resource_names_cannot_smuggle_flags() {
    let k = Kubectl::default();
    for bad in ["--raw=/", "", "pods;ls", "Pods", ".x"] {
        let err = k.list(bad).await.unwrap_err();
        assert!(
            matches!(err, KubectlError::InvalidResource { .. }),
            "{bad}: {err}"
        );
    }
}

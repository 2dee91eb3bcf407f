//! Comparing a collected `vio-v2t` snapshot with the one the simulator was seeded with, file by
//! file and object by object: the end-to-end test and the collect benchmark use this one
//! function, so the benchmark's 50,000-port run checks exactly what CI checks at a smaller size.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

/// Every file under `root`, relative (with `/`), sorted.
pub fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A JSON file, parsed (the path names a failure).
pub fn json(p: &Path) -> Value {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The key naming the objects of an array, when every element has one.
fn id_key(items: &[Value]) -> Option<&'static str> {
    ["id", "objectId", "alias", "vm", "host", "cluster"]
        .into_iter()
        .find(|k| {
            !items.is_empty()
                && items
                    .iter()
                    .all(|i| i.get(*k).is_some_and(Value::is_string))
        })
}

/// Compare two JSON documents; panics naming the file and the JSON position of the first
/// difference. Arrays of objects with ids are compared object by object, by id (servers list in
/// their own order, e.g. Neutron by id), so a failure names the object.
pub fn same(file: &str, at: &str, want: &Value, got: &Value) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            let mut wk: Vec<_> = w.keys().collect();
            let mut gk: Vec<_> = g.keys().collect();
            wk.sort();
            gk.sort();
            assert_eq!(wk, gk, "{file} {at}: keys differ");
            for (k, v) in w {
                same(file, &format!("{at}/{k}"), v, &g[k]);
            }
        }
        (Value::Array(w), Value::Array(g)) => {
            assert_eq!(w.len(), g.len(), "{file} {at}: lengths differ");
            match id_key(w) {
                Some(key) => {
                    let by_id = |items: &'_ [Value]| -> BTreeMap<String, usize> {
                        items
                            .iter()
                            .enumerate()
                            .map(|(n, i)| (i[key].as_str().unwrap_or("").to_string(), n))
                            .collect()
                    };
                    let (wm, gm) = (by_id(w), by_id(g));
                    assert_eq!(wm.len(), w.len(), "{file} {at}: duplicate {key}s expected");
                    assert!(
                        wm.keys().eq(gm.keys()),
                        "{file} {at}: different objects (by {key}): only expected {:?}, only collected {:?}",
                        wm.keys()
                            .filter(|k| !gm.contains_key(*k))
                            .take(5)
                            .collect::<Vec<_>>(),
                        gm.keys()
                            .filter(|k| !wm.contains_key(*k))
                            .take(5)
                            .collect::<Vec<_>>()
                    );
                    for (id, n) in &wm {
                        same(file, &format!("{at}[{key}={id}]"), &w[*n], &g[gm[id]]);
                    }
                }
                None => {
                    for (i, (a, b)) in w.iter().zip(g).enumerate() {
                        same(file, &format!("{at}/{i}"), a, b);
                    }
                }
            }
        }
        _ => assert_eq!(want, got, "{file} {at}"),
    }
}

/// What a comparison covered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compared {
    /// Files compared.
    pub files: usize,
    /// Objects compared by id (elements of arrays whose members all carry an id).
    pub objects: usize,
}

fn count_objects(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.values().map(count_objects).sum(),
        Value::Array(a) => {
            let own = if id_key(a).is_some() { a.len() } else { 0 };
            own + a.iter().map(count_objects).sum::<usize>()
        }
        _ => 0,
    }
}

/// The collected snapshot `got` holds the same files as `want` (its README.md apart), each the
/// same JSON object by object (or the same bytes), apart from where and when it was collected
/// (metadata.json's addresses and times, the list envelope kubectl prints). Panics at the first
/// difference, naming file, object and field.
pub fn assert_same_vio_snapshot(want_dir: &Path, got_dir: &Path) -> Compared {
    // The example's README.md documents it; it is not part of the snapshot.
    let wanted: Vec<String> = files(want_dir)
        .into_iter()
        .filter(|f| f != "README.md")
        .collect();
    assert_eq!(wanted, files(got_dir), "the same files");
    let mut done = Compared::default();
    for f in wanted {
        let (want_p, got_p) = (want_dir.join(&f), got_dir.join(&f));
        done.files += 1;
        if !f.ends_with(".json") {
            // nsx.ini (already holding references), scopingobjects.xml: byte for byte.
            assert_eq!(
                std::fs::read(&want_p).unwrap(),
                std::fs::read(&got_p).unwrap(),
                "{f}"
            );
            continue;
        }
        let (mut want, mut got) = (json(&want_p), json(&got_p));
        match f.as_str() {
            "metadata.json" => {
                // Where and when it was collected differ; what it says about the sources not.
                for v in [&mut want, &mut got] {
                    let m = v.as_object_mut().expect("metadata.json is an object");
                    for k in [
                        "source",
                        "collected_at",
                        "nsxv_manager",
                        "vcenter",
                        "nsx_manager",
                    ] {
                        m.remove(k);
                    }
                    if let Some(os) = m.get_mut("openstack").and_then(Value::as_object_mut) {
                        for k in ["auth_url", "network_endpoint", "load_balancer_endpoint"] {
                            os.remove(k);
                        }
                    }
                    if let Some(k) = m.get_mut("kubernetes").and_then(Value::as_object_mut) {
                        k.remove("context");
                    }
                }
            }
            "vio/viosecrets.json" | "vio/neutron-cr.json" => {
                // kubectl prints its own list around the items (`List`, no resourceVersion);
                // the items are compared.
                for v in [&mut want, &mut got] {
                    for k in ["metadata", "kind", "apiVersion"] {
                        v[k] = Value::Null;
                    }
                }
            }
            _ => {}
        }
        same(&f, "", &want, &got);
        done.objects += count_objects(&want);
    }
    done
}

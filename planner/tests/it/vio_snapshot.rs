//! Reading `vio-v2t` snapshots: both examples load into typed structs with stable fingerprints;
//! malformed files are refused with the file and the field (or line) named.

use std::path::{Path, PathBuf};

use planner::vio::snapshot::VioSnapshot;
use serde_json::{Value, json};

pub fn vio_small() -> PathBuf {
    test_support::vio_example_inventory()
}

pub fn vio_small_clean() -> PathBuf {
    test_support::repo_root().join("examples/inventories/vio-small-clean")
}

/// A writable copy of a VIO example snapshot.
pub struct VioFixture {
    pub dir: tempfile::TempDir,
}

impl VioFixture {
    pub fn of(example: &Path) -> VioFixture {
        let dir = tempfile::tempdir().unwrap();
        test_support::copy_dir(example, dir.path());
        VioFixture { dir }
    }

    pub fn clean() -> VioFixture {
        VioFixture::of(&vio_small_clean())
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn edit_json(&self, rel: &str, f: impl FnOnce(&mut Value)) -> &Self {
        let path = self.path().join(rel);
        let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
        self
    }

    pub fn edit_text(&self, rel: &str, f: impl FnOnce(String) -> String) -> &Self {
        let path = self.path().join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, f(text)).unwrap();
        self
    }

    pub fn load(&self) -> VioSnapshot {
        VioSnapshot::load(self.path()).expect("fixture loads")
    }

    /// The load error's text.
    pub fn error(&self) -> String {
        VioSnapshot::load(self.path())
            .expect_err("fixture must be refused")
            .to_string()
    }
}

#[test]
fn both_examples_load() {
    let s = VioSnapshot::load(&vio_small()).unwrap();
    assert_eq!(s.nsxv.version, "6.4.11");
    assert_eq!(s.neutron.networks.len(), 7);
    assert_eq!(s.nsxv.edges.len(), 11);
    assert_eq!(s.octavia.members.len(), 2);
    let ini = s.vio.nsx_ini.as_ref().unwrap();
    assert_eq!(ini.get("az:az2", "edge_ha").unwrap().value, "True");
    assert_eq!(
        ini.get("nsxv", "spoofguard_enabled").unwrap().value,
        "False"
    );
    let conf = s.vio.migrator_conf.as_ref().unwrap();
    assert_eq!(conf.default_tier0_router.as_deref(), Some("t0-public"));
    assert_eq!(s.vio.neutron_crs[0].manifests.get("nsxv"), Some(&true));
    let names: Vec<&str> = s.fingerprints.iter().map(|f| f.name).collect();
    assert_eq!(names, ["openstack", "nsxv", "vcenter", "vio", "nsx"]);
    let clean = VioSnapshot::load(&vio_small_clean()).unwrap();
    assert_ne!(s.fingerprints, clean.fingerprints);
    for input in s.inputs() {
        assert_eq!(input.sha256.len(), 64);
        assert!(input.objects.unwrap() > 0, "{}", input.name);
    }
}

#[test]
fn fingerprints_ignore_order_and_formatting_but_not_content() {
    let base = VioSnapshot::load(&vio_small_clean()).unwrap();
    let f = VioFixture::clean();
    f.edit_json("neutron/networks.json", |v| {
        v["networks"].as_array_mut().unwrap().reverse();
    });
    f.edit_text("vio/nsx.ini", |t| {
        format!("# a comment\n{}", t.replace(" = ", "="))
    });
    assert_eq!(f.load().fingerprints, base.fingerprints);
    f.edit_json("neutron/networks.json", |v| {
        v["networks"][0]["mtu"] = json!(1400);
    });
    let changed = f.load();
    assert_ne!(changed.fingerprints[0], base.fingerprints[0]);
    assert_eq!(changed.fingerprints[1..], base.fingerprints[1..]);
}

#[test]
fn json_syntax_error_names_file_and_line() {
    let f = VioFixture::clean();
    f.edit_text("neutron/ports.json", |t| t.replacen('{', "{\n  oops", 2));
    let e = f.error();
    assert!(e.contains("neutron/ports.json:"), "{e}");
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn wrong_field_type_names_file_and_pointer() {
    let f = VioFixture::clean();
    f.edit_json("neutron/subnets.json", |v| {
        v["subnets"][1]["dns_nameservers"] = json!("8.8.8.8");
    });
    let e = f.error();
    assert!(e.contains("neutron/subnets.json"), "{e}");
    assert!(e.contains("/subnets/1/dns_nameservers"), "{e}");
}

#[test]
fn missing_id_and_duplicate_id_are_refused() {
    let f = VioFixture::clean();
    f.edit_json("octavia/pools.json", |v| {
        v["pools"][0].as_object_mut().unwrap().remove("id");
    });
    let e = f.error();
    assert!(
        e.contains("octavia/pools.json") && e.contains("/pools/0/id"),
        "{e}"
    );

    let f = VioFixture::clean();
    f.edit_json("nsxv/edges.json", |v| {
        let first = v["edgePage"]["data"][0].clone();
        v["edgePage"]["data"].as_array_mut().unwrap().push(first);
    });
    let e = f.error();
    assert!(
        e.contains("nsxv/edges.json") && e.contains("listed twice"),
        "{e}"
    );
}

#[test]
fn keyed_file_errors_name_the_key() {
    let f = VioFixture::clean();
    f.edit_json("nsx/tier-0-interfaces.json", |v| {
        v["t0-public/default"]["results"][0]["subnets"][0]["prefix_len"] = json!("28");
    });
    let e = f.error();
    assert!(e.contains("nsx/tier-0-interfaces.json"), "{e}");
    assert!(
        e.contains("/t0-public~1default/results/0/subnets/0/prefix_len"),
        "{e}"
    );
}

#[test]
fn required_files_and_unknown_files() {
    let f = VioFixture::clean();
    std::fs::remove_file(f.path().join("nsxv/vsmconfig.json")).unwrap();
    let e = f.error();
    assert!(
        e.contains("vsmconfig.json") && e.contains("required"),
        "{e}"
    );

    let f = VioFixture::clean();
    std::fs::write(f.path().join("neutron/trunks.json"), "{}").unwrap();
    let e = f.error();
    assert!(
        e.contains("trunks.json") && e.contains("unknown snapshot file"),
        "{e}"
    );

    let f = VioFixture::clean();
    f.edit_json("metadata.json", |v| {
        v.as_object_mut().unwrap().remove("kind");
    });
    let e = f.error();
    assert!(e.contains("metadata.json") && e.contains("kind"), "{e}");
}

#[test]
fn ini_errors_name_the_line_and_never_the_password() {
    let f = VioFixture::clean();
    f.edit_text("vio/nsx.ini", |t| t.replace("[az:az2]", "[az:az2"));
    let e = f.error();
    assert!(e.contains("vio/nsx.ini:"), "{e}");
    assert!(e.contains("closing"), "{e}");

    let f = VioFixture::clean();
    f.edit_text("vio/nsx.ini", |t| {
        t.replace(
            "password = secret-ref:openstack/neutron-nsxv-secret/nsxv_password",
            "password = Hunter2-clear",
        )
    });
    let e = f.error();
    let line = std::fs::read_to_string(f.path().join("vio/nsx.ini"))
        .unwrap()
        .lines()
        .position(|l| l.starts_with("password ="))
        .unwrap()
        + 1;
    assert!(e.contains(&format!("vio/nsx.ini:{line}:")), "{e}");
    assert!(e.contains("[nsxv] password"), "{e}");
    assert!(!e.contains("Hunter2"), "{e}");
}

#[test]
fn clear_text_password_in_migrator_conf_is_refused() {
    let f = VioFixture::clean();
    f.edit_json("vio/migrator.conf.json", |v| {
        v["nsx_manager_password"] = json!("Hunter2-clear");
    });
    let e = f.error();
    assert!(
        e.contains("migrator.conf.json") && e.contains("/nsx_manager_password"),
        "{e}"
    );
    assert!(!e.contains("Hunter2"), "{e}");
}

#[test]
fn viosecret_values_are_refused() {
    let f = VioFixture::clean();
    f.edit_json("vio/viosecrets.json", |v| {
        v["items"][0]["spec"]["data"]["nsxv_password"] = json!("Hunter2");
    });
    let e = f.error();
    assert!(
        e.contains("viosecrets.json") && e.contains("/items/0/spec/data/nsxv_password"),
        "{e}"
    );
    assert!(!e.contains("Hunter2"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Bad input never panics: nsx.ini text mutated byte by byte, and snapshot JSON values replaced by
// values of other types. Bounded case counts, no persistence (repeatable, bounded run).

mod fuzz {
    use super::*;
    use planner::vio::prechecks;
    use planner::vio::rules::VioRules;
    use planner::vio::snapshot::NsxIni;
    use proptest::prelude::*;

    const CASES_INI: u32 = 3_000;
    const CASES_JSON: u32 = 200;

    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    const FRAGMENTS: &[&str] = &[
        "[",
        "]",
        "=",
        ":",
        "\n",
        "\n  continued",
        "[az:",
        "password = clear",
        "#",
        ";",
        "\t",
        "é",
        "[]",
        " = secret-ref:x",
    ];

    proptest! {
        #![proptest_config(config(CASES_INI))]
        #[test]
        fn nsx_ini_reader_never_panics(
            at in 0usize..4_000,
            frag in 0usize..FRAGMENTS.len(),
            cut in proptest::option::of(0usize..4_000),
        ) {
            let text = std::fs::read_to_string(vio_small().join("vio/nsx.ini")).unwrap();
            let mut t = text.clone();
            let mut i = at.min(t.len());
            while !t.is_char_boundary(i) { i -= 1; }
            t.insert_str(i, FRAGMENTS[frag]);
            if let Some(c) = cut {
                let mut c = c.min(t.len());
                while !t.is_char_boundary(c) { c -= 1; }
                t.truncate(c);
            }
            match NsxIni::parse(&t, Path::new("vio/nsx.ini")) {
                Ok(_) => {}
                Err(e) => {
                    let m = e.to_string();
                    prop_assert!(m.starts_with("vio/nsx.ini:"), "{}", m);
                    prop_assert!(!m.contains("clear"), "{}", m);
                }
            }
        }
    }

    /// Every leaf pointer of a JSON value.
    fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                leaves(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| leaves(x, format!("{at}/{i}"), out)),
            _ => out.push(at),
        }
    }

    const FILES: &[&str] = &[
        "neutron/networks.json",
        "neutron/subnets.json",
        "neutron/ports.json",
        "neutron/routers.json",
        "neutron/qos-policies.json",
        "neutron/floatingips.json",
        "octavia/loadbalancers.json",
        "octavia/members.json",
        "octavia/pools.json",
        "octavia/flavorprofiles.json",
        "nsxv/edges.json",
        "nsxv/edge-appliances.json",
        "nsxv/edge-virtualservers.json",
        "nsxv/virtualwires.json",
        "nsx/tier-0-interfaces.json",
        "nsx/tier-0-locale-services.json",
        "vio/migrator.conf.json",
        "vcenter/hosts.json",
        "vio/neutron-cr.json",
    ];

    fn replacement(k: u8) -> Value {
        match k % 8 {
            0 => Value::Null,
            1 => json!(-1),
            2 => json!(""),
            3 => json!("::1/200"),
            4 => json!([]),
            5 => json!({}),
            6 => json!(18446744073709551615u64),
            _ => json!("10.0.0.0/1"),
        }
    }

    proptest! {
        #![proptest_config(config(CASES_JSON))]
        #[test]
        fn snapshot_reader_and_prechecks_never_panic(
            file in 0usize..FILES.len(),
            leaf in any::<prop::sample::Index>(),
            k in any::<u8>(),
        ) {
            let f = VioFixture::of(&vio_small());
            let rel = FILES[file];
            f.edit_json(rel, |v| {
                let mut all = Vec::new();
                leaves(v, String::new(), &mut all);
                if !all.is_empty() {
                    let p = &all[leaf.index(all.len())];
                    if let Some(x) = v.pointer_mut(p) {
                        *x = replacement(k);
                    }
                }
            });
            match VioSnapshot::load(f.path()) {
                Ok(s) => {
                    let _ = prechecks(&s, &VioRules::builtin());
                }
                Err(e) => {
                    let m = e.to_string();
                    prop_assert!(m.contains(rel) || m.contains("metadata.json"), "{}", m);
                }
            }
        }
    }
}

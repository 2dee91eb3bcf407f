//! The simulator's small internal pieces, checked directly: the generator, PEM parsing, the
//! search query language, the helpers of util.rs and the replay target's names and IP maths.
//! They live here rather than as unit tests so the simulator's library is compiled once for
//! the tests, not twice.

use serde_json::{Value, json};
use simulator::generate::{GenerateSpec, generate};
use simulator::internals::*;

#[test]
fn the_generator_is_deterministic_and_its_output_loads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let spec = GenerateSpec {
        seed: 9,
        namespaces: 3,
        pods_per_namespace: 7,
        ..GenerateSpec::default()
    };
    let sa = generate(&spec, a.path()).unwrap();
    let sb = generate(&spec, b.path()).unwrap();
    assert_eq!(sa.nsx_objects, sb.nsx_objects);
    for (fa, fb) in sa.files.iter().zip(sb.files.iter()) {
        assert_eq!(
            std::fs::read(fa).unwrap(),
            std::fs::read(fb).unwrap(),
            "{}",
            fa.display()
        );
    }
    let inv = simulator::inventory::load_dir(a.path()).unwrap();
    assert_eq!(inv.mp.object_count(), sa.nsx_objects);
    assert_eq!(inv.k8s.count(), sa.k8s_objects);
    let other = generate(&GenerateSpec { seed: 10, ..spec }, b.path()).unwrap();
    assert_ne!(
        std::fs::read(&sa.files[4]).unwrap(),
        std::fs::read(&other.files[4]).unwrap()
    );
}

#[test]
fn pem_parsing() {
    let ck = rcgen::generate_simple_self_signed(vec!["ncp".to_string()]).unwrap();
    let der = pem_certificate_der(&ck.cert.pem()).unwrap();
    assert_eq!(der, ck.cert.der().as_ref());
    assert!(pem_certificate_der("not a certificate").is_none());
    assert!(
        pem_certificate_der("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
            .is_none()
    );
}

fn m(q: &str, v: &Value) -> bool {
    eval(&parse(q).unwrap(), v)
}

#[test]
fn search_query_forms() {
    let port = json!({"resource_type": "LogicalPort", "display_name": "ns1/web-1",
        "tags": [{"scope": "ncp/cluster", "tag": "k8s-cl1"}, {"scope": "ncp/pod", "tag": "web-1"}]});
    assert!(m("resource_type:LogicalPort", &port));
    assert!(m("resource_type:logicalport", &port));
    assert!(!m("resource_type:LogicalSwitch", &port));
    assert!(m(r"tags.scope:ncp\/cluster AND tags.tag:k8s-cl1", &port));
    assert!(!m(r"tags.scope:ncp\/cluster AND tags.tag:other", &port));
    assert!(m(r"resource_type:LogicalSwitch OR tags.tag:web\-1", &port));
    assert!(m("NOT resource_type:LogicalSwitch", &port));
    assert!(m(
        "(resource_type:LogicalSwitch OR resource_type:LogicalPort) AND display_name:ns1*",
        &port
    ));
    assert!(m("display_name:*web*", &port));
    assert!(m("display_name:\"ns1/web-1\"", &port));
    assert!(
        !m("display_name:\"ns1/web*\"", &port),
        "quoted wildcards are literal"
    );
    assert!(m(r"display_name:ns1\/web?1", &port));
    assert!(
        !m(r"display_name:ns1\/web\?1", &port),
        "escaped ? is literal"
    );
    assert!(m("k8s-cl1", &port), "bare value matches any field");
    assert!(parse("a AND").is_err());
    assert!(parse("(a").is_err());
    assert!(parse("\"a").is_err());
    assert!(parse("").is_err());
    assert!(parse("field:").is_err());
}

#[test]
fn base64_roundtrip() {
    for s in ["", "a", "ab", "abc", "admin:VMware1!VMware1!"] {
        let enc = base64_encode(s.as_bytes());
        assert_eq!(base64_decode(&enc).unwrap(), s.as_bytes());
    }
    assert_eq!(base64_encode(b"admin:x"), "YWRtaW46eA==");
    assert!(base64_decode("a$b").is_none());
}

#[test]
fn globbing() {
    assert!(glob_match("/api/v1/*", "/api/v1/logical-ports"));
    assert!(glob_match("a?c", "abc"));
    assert!(!glob_match("a?c", "abbc"));
    assert!(glob_match("*x*", "aaxbb"));
    assert!(!glob_match("*x*", "aabb"));
}

#[test]
fn forms_and_uuid() {
    let f = parse_form("j_username=admin&j_password=VMware1%21VMware1%21&x=a+b");
    assert_eq!(f[1].1, "VMware1!VMware1!");
    assert_eq!(f[2].1, "a b");
    let mut r = SplitMix64::new(7);
    let u = r.uuid();
    assert_eq!(u.len(), 36);
    assert_eq!(&u[14..15], "4");
    assert_ne!(u, r.uuid());
}

#[test]
fn replay_names_follow_the_plugin_rule() {
    let id = "0123456789abcdef0123456789abcdef";
    assert_eq!(name_and_uuid("web", id), "web_01234...bcdef");
    let long = "x".repeat(100);
    let n = name_and_uuid(&long, id);
    assert_eq!(n.chars().count(), 80);
    assert!(n.starts_with(&"x".repeat(66)));
}

#[test]
fn replay_cidr_math() {
    let c = Cidr::parse("10.1.2.0/24").unwrap();
    assert_eq!(
        c.default_pool(),
        (c.ip("10.1.2.1").unwrap(), c.ip("10.1.2.254").unwrap())
    );
    assert!(c.contains(c.ip("10.1.2.200").unwrap()));
    assert!(!c.contains(c.ip("10.1.3.1").unwrap()));
    let v6 = Cidr::parse("2001:db8::/64").unwrap();
    assert_eq!(v6.fmt(v6.default_pool().0), "2001:db8::1");
}

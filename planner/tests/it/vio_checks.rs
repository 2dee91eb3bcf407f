//! The VIO prechecks: the planted problems of vio-small, the clean variant, and per check a
//! fixture that triggers it and the clean snapshot that does not.

use plan_schema::{Finding, Severity};
use planner::vio::prechecks;
use planner::vio::rules::VioRules;
use planner::vio::snapshot::VioSnapshot;

use crate::vio_snapshot::{vio_small, vio_small_clean};

fn run(s: &VioSnapshot) -> Vec<Finding> {
    prechecks(s, &VioRules::builtin())
}

/// `(check, severity)` of every error and warning.
fn blocking(findings: &[Finding]) -> Vec<(String, Severity)> {
    let mut v: Vec<(String, Severity)> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| (f.check.clone(), f.severity))
        .collect();
    v.sort();
    v
}

fn clean() -> VioSnapshot {
    VioSnapshot::load(&vio_small_clean()).unwrap()
}

/// The findings of check `check` (any severity).
fn of<'a>(findings: &'a [Finding], check: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.check == check).collect()
}

#[test]
fn vio_small_has_exactly_its_thirteen_planted_problems() {
    let s = VioSnapshot::load(&vio_small()).unwrap();
    let findings = run(&s);
    use Severity::{Error as E, Warning as W};
    let mut expected: Vec<(String, Severity)> = [
        ("N2", E),
        ("N9", E),
        ("R3", E),
        ("L4", E),
        ("P1", W),
        ("P3", E),
        ("Q1", E),
        ("E-NOVM", E),
        ("X3", W),
        ("X2", W),
        ("C1", W),
        ("INI-UNSUPPORTED", W),
        ("X-NEUTRON-ON-NSX", E),
    ]
    .into_iter()
    .map(|(c, s)| (c.to_string(), s))
    .collect();
    expected.sort();
    assert_eq!(blocking(&findings), expected);
    // Each names the planted object.
    let by_check = |c: &str| of(&findings, c)[0].clone();
    assert_eq!(
        by_check("N2").subject.display_name.as_deref(),
        Some("eng-db")
    );
    assert_eq!(
        by_check("N9").subject.display_name.as_deref(),
        Some("eng-db-subnet")
    );
    assert_eq!(
        by_check("R3").subject.display_name.as_deref(),
        Some("fin-spare")
    );
    assert_eq!(by_check("R3").code.as_deref(), Some("1009"));
    assert_eq!(
        by_check("L4").subject.display_name.as_deref(),
        Some("fin-web-lb")
    );
    assert!(by_check("P1").message.contains("130 allowed address pairs"));
    assert_eq!(
        by_check("Q1").subject.display_name.as_deref(),
        Some("eng-limit")
    );
    assert_eq!(by_check("E-NOVM").code.as_deref(), Some("1114"));
    assert!(
        by_check("E-NOVM")
            .subject
            .display_name
            .as_deref()
            .unwrap()
            .starts_with("dhcp-ab1bbd84")
    );
    assert_eq!(
        by_check("X3").subject.display_name.as_deref(),
        Some("old-test-edge")
    );
    assert_eq!(
        by_check("X2").subject.display_name.as_deref(),
        Some("legacy-backup-wire")
    );
    assert_eq!(by_check("C1").id, "C1/az2");
    assert_eq!(
        of(&findings, "INI-UNSUPPORTED")
            .iter()
            .find(|f| f.severity == W)
            .unwrap()
            .id,
        "INI-UNSUPPORTED/nsxv/spoofguard_enabled"
    );
    assert_eq!(by_check("X-NEUTRON-ON-NSX").code.as_deref(), Some("1005"));
    // Ids are unique, sorted errors first.
    let mut ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), findings.len());
    assert!(
        findings
            .windows(2)
            .all(|w| (w[0].severity, &w[0].id) <= (w[1].severity, &w[1].id))
    );
    // The same input gives the same findings.
    assert_eq!(findings, run(&s));
}

#[test]
fn vio_small_clean_has_no_error_or_warning() {
    let findings = run(&clean());
    assert_eq!(blocking(&findings), vec![]);
    // The documented infos: unsupported nsx.ini options set, API replay's rewrites, LB sizing.
    let checks: std::collections::BTreeSet<&str> =
        findings.iter().map(|f| f.check.as_str()).collect();
    assert_eq!(
        checks.into_iter().collect::<Vec<_>>(),
        ["INI-UNSUPPORTED", "RW-NEWID", "RW-PROVIDER", "SIZE-LB"]
    );
}

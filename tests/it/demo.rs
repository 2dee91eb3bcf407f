//! `nsx-migrate demo` runs the whole job against the embedded simulator and exits 0, and no file
//! it writes carries the simulator's password.

use std::process::Command;

#[test]
fn demo_runs_end_to_end_and_writes_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"))
        .args(["demo", "--workdir"])
        .arg(&work)
        .env_remove("NSX_PASSWORD")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("applied and verified"), "{stderr}");
    for f in [
        "plan.toml",
        "state/journal.jsonl",
        "state/executor.log",
        "inventory/metadata.json",
    ] {
        assert!(work.join(f).exists(), "{f} missing");
    }
    // The plan it wrote is valid and sealed.
    plan_schema::read_mp_plan_file(&work.join("plan.toml")).unwrap();

    let mut stack = vec![work.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                assert!(
                    !text.contains(simulator::DEFAULT_PASSWORD),
                    "{} contains the password",
                    p.display()
                );
                assert!(
                    !text.contains("j_password"),
                    "{} contains a login form",
                    p.display()
                );
                assert!(
                    !text.contains("JSESSIONID="),
                    "{} contains a session cookie",
                    p.display()
                );
            }
        }
    }
    assert!(files > 10);
    // A second demo in the same directory replaces the first.
    let again = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"))
        .args(["demo", "--workdir"])
        .arg(&work)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
}

/// `demo --kind vio-v2t`: collect, plan, show, apply (through the window, with the point of no
/// return confirmed) and audit of the clean VIO example through the binary's own commands: exit
/// 0 and a clean audit; no file it writes carries the password.
#[test]
fn vio_demo_runs_every_phase_to_exit_0_and_audits_clean() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("demo-vio");
    let out = Command::new(env!("CARGO_BIN_EXE_nsx-migrate"))
        .args(["demo", "--kind", "vio-v2t", "--workdir"])
        .arg(&work)
        .env_remove("NSX_PASSWORD")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "collect --kind vio-v2t",
        "plan --kind vio-v2t",
        "show",
        "apply",
        "audit",
    ] {
        assert!(
            stderr.contains(&format!("$ nsx-migrate {cmd}")),
            "{cmd}: {stderr}"
        );
    }
    assert!(stdout.contains("verdict        can be applied"), "{stdout}");
    assert!(stdout.contains("audit of plan"), "{stdout}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("migration applied and audited clean"),
        "{stderr}"
    );
    assert!(stdout.contains("on the NSX Policy plugin"), "{stdout}");
    // The example's load balancer went through the Octavia replay, and the audit found it.
    for call in [
        "loadbalancers",
        "listeners",
        "pools",
        "healthmonitors",
        "l7policies",
    ] {
        let line = format!("(POST /v2/lbaas/{call})");
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with("done ") && l.ends_with(&line)),
            "{call}: {stdout}"
        );
    }
    plan_schema::read_plan_file(&work.join("plan.toml")).unwrap();
    let mut stack = vec![work.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                assert!(
                    !text.contains(simulator::DEFAULT_PASSWORD),
                    "{} contains the password",
                    p.display()
                );
            }
        }
    }
}

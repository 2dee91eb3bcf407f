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

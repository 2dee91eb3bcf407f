//! `apply` and `rollback` of a vio-v2t plan through the binary, over real HTTP: the simulator
//! seeded with `examples/inventories/vio-small-clean`, `plan --kind vio-v2t`, then `apply` with
//! the OpenStack cloud from a clouds.yaml + secure.yaml (`--os-cloud`): the replay runs, the run
//! stops before the edge preparation (no NSX-V Manager or vCenter given; exit 1), a second
//! `apply` writes nothing to the replay target, `rollback` removes what the replay made, the
//! load balancer tree included (exit 0).

use std::path::Path;
use std::process::{Command, Output};

use simulator::SimHandle;

use crate::common::{cli_for_sim, text};

async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output())
        .await
        .unwrap()
        .unwrap()
}

fn cli(h: &SimHandle, dir: &Path) -> Command {
    let (clouds, secure) = test_support::clouds_yaml(h, dir, simulator::DEFAULT_PASSWORD);
    let mut c = cli_for_sim();
    c.current_dir(dir)
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env("OS_CLIENT_SECURE_FILE", &secure)
        .env_remove("OS_CLOUD")
        .env_remove("OS_AUTH_URL");
    c
}

fn target_writes(h: &SimHandle, from: usize) -> usize {
    h.request_log()
        .into_iter()
        .skip(from)
        .filter(|r| {
            r["method"] != "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/target-network"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_replays_stops_before_the_later_phases_and_rollback_removes_it() {
    let inventory = test_support::repo_root().join("examples/inventories/vio-small-clean");
    let h = test_support::start_vio_sim(&inventory, None).await;
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.toml");
    let state = dir.path().join("state");
    let mut c = cli(&h, dir.path());
    c.args(["plan", "--kind", "vio-v2t", "--inventory"])
        .arg(&inventory)
        .arg("--out")
        .arg(&plan);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let apply = |h: &SimHandle| {
        let mut c = cli(h, dir.path());
        c.arg("apply")
            .arg(&plan)
            .args(["--nsx", &h.base_url(), "--os-cloud", "vio-sim"])
            .args(["--on-failure", "rollback", "--skip-kubernetes-check"])
            .arg("--state-dir")
            .arg(&state);
        c
    };
    let out = run(apply(&h)).await;
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("stopped before phase `edge_prep`"), "{err}");
    assert!(target_writes(&h, 0) > 60);
    assert!(!err.contains(simulator::DEFAULT_PASSWORD));

    let from = h.request_log().len();
    let out = run(apply(&h)).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(target_writes(&h, from), 0, "a re-run writes nothing");

    let mut c = cli(&h, dir.path());
    c.args(["rollback", "--nsx", &h.base_url(), "--os-cloud", "vio-sim"])
        .arg("--state-dir")
        .arg(&state);
    let out = run(c).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The replay target holds nothing any more (quotas aside: a reset quota is not an object).
    let dump = h.state_dump();
    for (key, objs) in dump["vio"]["replay"]["objects"].as_object().unwrap() {
        if key != "quotas" {
            assert!(
                objs.as_object().is_none_or(|m| m.is_empty()),
                "{key} left on the target: {objs}"
            );
        }
    }
    let nets = h.request_log().len();
    let mut c = cli(&h, dir.path());
    c.args(["rollback", "--nsx", &h.base_url(), "--os-cloud", "vio-sim"])
        .arg("--state-dir")
        .arg(&state);
    let again = run(c).await;
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(target_writes(&h, nets), 0, "nothing left to undo");
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert!(!journal.contains(simulator::DEFAULT_PASSWORD));
}

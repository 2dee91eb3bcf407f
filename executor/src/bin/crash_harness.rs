//! Test helper for the crash-recovery tests (not shipped): runs `apply` or `rollback` of the
//! executor library in its own process, so a test can kill it with
//! `NSX_MIGRATE_TEST_KILL_AFTER_RECORDS=k` (SIGKILL after the k-th journal record) and run it
//! again. Credentials come from NSX_USERNAME / NSX_PASSWORD; with OS_CLOUD set, the OpenStack
//! cloud of a `vio-v2t` plan comes from clouds.yaml (OS_CLIENT_CONFIG_FILE /
//! OS_CLIENT_SECURE_FILE), as the CLI reads it. EXEC_HARNESS_CONCURRENCY sets `--concurrency`
//! (default 4). EXEC_HARNESS_WINDOW=1 gives a `vio-v2t` run its NSX-V Manager and vCenter at
//! the NSX URL (the simulator serves all three) with the NSX credentials;
//! EXEC_HARNESS_CONFIRM=1 is `--confirm-point-of-no-return`.
//!
//! Usage: `executor-crash-harness apply PLAN STATE_DIR NSX_URL [KUBECONFIG]`
//!        `executor-crash-harness rollback STATE_DIR NSX_URL [PLAN]`
//! Exits with the executor's exit code (3 when refused).

use std::process::ExitCode;
use std::time::Duration;

use executor::client::{Credentials, Kubectl, NsxConfig, RetryPolicy};
use executor::{ApplyOptions, PollConfig, RollbackOptions};

fn nsx(url: &str) -> Result<NsxConfig, String> {
    let creds = Credentials::from_env(None).map_err(|e| e.to_string())?;
    let mut c = NsxConfig::new(url, Some(creds));
    c.retry = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(400),
        ..RetryPolicy::default()
    };
    c.timeout = Duration::from_secs(20);
    c.rate_limit = None;
    Ok(c)
}

/// The OpenStack cloud when OS_CLOUD names one (vio-v2t plans), else none.
fn openstack() -> Result<Option<executor::client::OpenStackClient>, String> {
    let env = |k: &str| std::env::var(k).ok();
    if env("OS_CLOUD").is_none() {
        return Ok(None);
    }
    let cwd = std::env::current_dir().map_err(|e| e.to_string())?;
    let search = executor::client::ConfigSearch::standard(&env, &cwd);
    let cloud = executor::client::resolve_cloud(None, &env, &search).map_err(|e| e.to_string())?;
    let cfg = executor::client::ServiceConfig {
        rate_limit: None,
        ..Default::default()
    };
    executor::client::OpenStackClient::new(cloud, cfg)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// NSX-V and vCenter at the NSX URL when EXEC_HARNESS_WINDOW=1.
fn window(url: &str) -> Result<executor::WindowClients, String> {
    if std::env::var("EXEC_HARNESS_WINDOW").ok().as_deref() != Some("1") {
        return Ok(Default::default());
    }
    let creds = Credentials::from_env(None).map_err(|e| e.to_string())?;
    let cfg = || executor::client::ServiceConfig {
        rate_limit: Some(80.0),
        ..Default::default()
    };
    let nsxv = executor::client::NsxvClient::new(
        url,
        creds.clone(),
        executor::client::NsxvAuth::Basic,
        cfg(),
    )
    .map_err(|e| e.to_string())?;
    let vcenter =
        executor::client::VcenterClient::new(url, creds, cfg()).map_err(|e| e.to_string())?;
    Ok(executor::WindowClients {
        nsxv: Some(nsxv),
        vcenter: Some(vcenter),
    })
}

fn poll() -> PollConfig {
    PollConfig {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(50),
        timeout: Duration::from_secs(60),
        done_timeout: Duration::from_secs(30),
    }
}

fn main() -> ExitCode {
    executor::journal::arm_test_kill_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("apply") if args.len() >= 4 => nsx(&args[3]).and_then(|cfg| {
            let mut o = ApplyOptions::new(&args[1], &args[2], cfg);
            o.openstack = openstack()?;
            o.window = window(&args[3])?;
            o.confirm_point_of_no_return =
                std::env::var("EXEC_HARNESS_CONFIRM").ok().as_deref() == Some("1");
            o.poll = poll();
            // EXEC_HARNESS_CONCURRENCY=1 makes the journal's record order the same in every
            // run, so a kill point taken from one run's journal lands on the same record.
            o.concurrency = Some(
                std::env::var("EXEC_HARNESS_CONCURRENCY")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(4),
            );
            o.kubectl = args.get(4).map(|k| Kubectl {
                kubeconfig: Some(k.into()),
                ..Kubectl::default()
            });
            executor::block_on(executor::apply(&o)).map_err(|e| e.to_string())
        }),
        Some("rollback") if args.len() >= 3 => nsx(&args[2]).and_then(|cfg| {
            let o = RollbackOptions {
                window: Default::default(),
                openstack: openstack()?,
                state_dir: args[1].clone().into(),
                plan: args.get(3).map(Into::into),
                nsx: cfg,
                poll: poll(),
                observer: None,
                manager_lock: Default::default(),
            };
            executor::block_on(executor::rollback(&o)).map_err(|e| e.to_string())
        }),
        _ => {
            eprintln!(
                "usage: executor-crash-harness apply PLAN STATE_DIR NSX_URL [KUBECONFIG] | rollback STATE_DIR NSX_URL"
            );
            return executor::ExitCode::Refused.into();
        }
    };
    match result {
        Ok(Ok(out)) => {
            println!("{}", out.message);
            out.exit_code.into()
        }
        Ok(Err(e)) => {
            eprintln!("refused: {e}");
            executor::ExitCode::Refused.into()
        }
        Err(e) => {
            eprintln!("error: {e}");
            executor::ExitCode::Refused.into()
        }
    }
}

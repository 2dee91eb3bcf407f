//! The lock on the manager, beside the state directory's: two runs of any plan, from any
//! machines, never change one NSX at once.
//!
//! It is a Policy `Group` at a fixed path (default `/infra/domains/default/groups/nsx-migrate-lock`,
//! a setting): no members, no rule refers to it, so it changes no traffic, and NCP (which acts
//! only on objects tagged with its cluster) and other tools ignore it. Its tags say who holds it
//! (lock id, user, host, pid, plan, apply or rollback, since when, lease).
//!
//! Compare-and-set comes from NSX's revision check: "PUT operations must include the current
//! `_revision` ...; if it is missing or stale, the operation will be rejected" (NSX API,
//! RevisionedResource). So a PUT without `_revision` creates the lock only if it is absent; a
//! renewal or a takeover is a PUT carrying the `_revision` last read, refused (412) when anyone
//! else wrote it since. The holder renews it every third of its lease; a lock whose last change
//! (`_last_modified_time`, the manager's clock) is older than its lease plus a grace period for
//! clock skew has expired and may be taken over. The run removes it at its end; a run that was
//! killed leaves it until it expires or `force-unlock` removes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use client::{ClientError, NsxClient, Request};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::error::ExecError;
use crate::lock::LockInfo;

/// Where the lock lives unless configured otherwise.
pub const DEFAULT_PATH: &str = "/infra/domains/default/groups/nsx-migrate-lock";
const POLICY: &str = "/policy/api/v1";
const TAG_PREFIX: &str = "nsx-migrate/lock-";

/// Where the lock lives and how long it lasts without renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerLockConfig {
    /// Policy path of the lock object (under `/infra`).
    pub path: String,
    /// A holder that has not renewed the lock for this long (plus `grace`) is gone.
    pub lease: Duration,
    /// Allowance for the difference between this machine's clock and the manager's.
    pub grace: Duration,
}

impl Default for ManagerLockConfig {
    fn default() -> Self {
        ManagerLockConfig {
            path: DEFAULT_PATH.to_string(),
            lease: Duration::from_secs(120),
            grace: Duration::from_secs(30),
        }
    }
}

/// Who holds the manager lock, as its tags say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub id: String,
    pub owner: String,
    pub host: String,
    pub pid: u32,
    pub plan_id: String,
    /// `apply` or `rollback`.
    pub mode: String,
    pub started_at: String,
    pub lease_secs: u64,
    /// `_last_modified_time` of the lock (ms, the manager's clock): its last renewal.
    pub renewed_ms: i64,
    #[serde(skip)]
    revision: i64,
}

impl Holder {
    /// Whether the lease ran out (by this machine's clock, with `grace` for skew).
    pub fn expired(&self, grace: Duration) -> bool {
        let until = self.renewed_ms
            + (self.lease_secs as i64).saturating_mul(1000)
            + grace.as_millis() as i64;
        now_ms() > until
    }

    /// The lease's end, RFC 3339.
    pub fn expires_at(&self) -> String {
        let ms = self.renewed_ms + (self.lease_secs as i64).saturating_mul(1000);
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_string())
            .unwrap_or_else(|_| ms.to_string())
    }

    /// One line for messages.
    pub fn describe(&self) -> String {
        format!(
            "{}@{} pid {} ({} of plan {}, since {}, lease until {}; lock id {})",
            self.owner,
            self.host,
            self.pid,
            self.mode,
            self.plan_id,
            self.started_at,
            self.expires_at(),
            self.id
        )
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn url(cfg: &ManagerLockConfig) -> String {
    format!("{POLICY}{}", cfg.path)
}

fn body(info: &LockInfo, mode: &str, cfg: &ManagerLockConfig, revision: Option<i64>) -> Value {
    let tag = |k: &str, v: String| json!({"scope": format!("{TAG_PREFIX}{k}"), "tag": v});
    let mut b = json!({
        "resource_type": "Group",
        "display_name": "nsx-migrate lock",
        "description": format!(
            "Held by nsx-migrate while it changes this manager ({mode} of plan {}); removed when that run ends. It has no members and no rule refers to it. If its run is gone, `nsx-migrate force-unlock {}` removes it.",
            info.plan_id, info.id
        ),
        "expression": [],
        "tags": [
            tag("id", info.id.clone()),
            tag("owner", info.owner.clone()),
            tag("host", info.host.clone()),
            tag("pid", info.pid.to_string()),
            tag("plan", info.plan_id.clone()),
            tag("mode", mode.to_string()),
            tag("since", info.started_at.clone()),
            tag("lease-s", cfg.lease.as_secs().max(1).to_string()),
        ],
    });
    if let Some(r) = revision {
        b["_revision"] = json!(r);
    }
    b
}

/// The holder an object's tags describe; `None` when it is not an nsx-migrate lock.
fn parse(v: &Value) -> Option<Holder> {
    let tag = |k: &str| {
        v["tags"].as_array()?.iter().find_map(|t| {
            (t["scope"].as_str()? == format!("{TAG_PREFIX}{k}"))
                .then(|| t["tag"].as_str().unwrap_or("").to_string())
        })
    };
    Some(Holder {
        id: tag("id")?,
        owner: tag("owner").unwrap_or_default(),
        host: tag("host").unwrap_or_default(),
        pid: tag("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
        plan_id: tag("plan").unwrap_or_default(),
        mode: tag("mode").unwrap_or_default(),
        started_at: tag("since").unwrap_or_default(),
        lease_secs: tag("lease-s").and_then(|p| p.parse().ok()).unwrap_or(0),
        renewed_ms: v["_last_modified_time"].as_i64().unwrap_or(0),
        revision: v["_revision"].as_i64().unwrap_or(0),
    })
}

fn failed(what: &str, cfg: &ManagerLockConfig, e: impl std::fmt::Display) -> ExecError {
    ExecError::Preflight(format!(
        "{what} the lock on the manager ({}): {e}",
        cfg.path
    ))
}

fn is_conflict(e: &ClientError) -> bool {
    e.api().is_some_and(|a| a.is_stale_revision())
}

/// Read the lock: `None` when nobody holds it.
pub async fn read(nsx: &NsxClient, cfg: &ManagerLockConfig) -> Result<Option<Holder>, ExecError> {
    match nsx.send(Request::get(url(cfg))).await {
        Ok(r) => match parse(&r.body) {
            Some(h) => Ok(Some(h)),
            None => Err(failed(
                "reading",
                cfg,
                "an object exists there that nsx-migrate did not write; choose another --manager-lock-path",
            )),
        },
        Err(e) if e.api().is_some_and(|a| a.is_not_found()) => Ok(None),
        Err(e) => Err(failed("reading", cfg, e)),
    }
}

/// A held manager lock, renewed in the background until released.
#[derive(Debug)]
pub struct ManagerLock {
    nsx: NsxClient,
    cfg: ManagerLockConfig,
    id: String,
    revision: Arc<Mutex<i64>>,
    lost: Arc<AtomicBool>,
    renewer: Option<tokio::task::JoinHandle<()>>,
    /// The holder this run took the lock over from (its run died): what it may have left.
    pub took_over: Option<Holder>,
}

impl Drop for ManagerLock {
    fn drop(&mut self) {
        held(&self.id, false);
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
    }
}

/// Take the lock for `info`'s run. Refuses with [`ExecError::ManagerLocked`] (nothing written)
/// when another run holds it and its lease is alive. A lock whose lease ran out, or whose
/// holder was a process of this host that no longer exists, is taken over.
pub async fn acquire(
    nsx: &NsxClient,
    cfg: &ManagerLockConfig,
    info: &LockInfo,
    mode: &str,
) -> Result<ManagerLock, ExecError> {
    let mut took_over = None;
    let mut last = None;
    for _ in 0..4 {
        let held = read(nsx, cfg).await?;
        let revision = match &held {
            None => None,
            Some(h) if h.id == info.id => Some(h.revision),
            Some(h) if h.expired(cfg.grace) || gone(h, info) => {
                took_over = Some(h.clone());
                Some(h.revision)
            }
            Some(h) => {
                return Err(ExecError::ManagerLocked {
                    path: cfg.path.clone(),
                    holder: Box::new(h.clone()),
                });
            }
        };
        match nsx
            .send(Request::put(url(cfg)).json(body(info, mode, cfg, revision)))
            .await
        {
            Ok(r) => {
                let rev = r.body["_revision"]
                    .as_i64()
                    .unwrap_or(revision.map_or(0, |x| x + 1));
                return Ok(start(nsx, cfg, info, mode, rev, took_over));
            }
            // Someone else wrote it between our read and our write: read again.
            Err(e) if is_conflict(&e) => last = Some(e.to_string()),
            Err(e) => return Err(failed("taking", cfg, e)),
        }
    }
    Err(failed(
        "taking",
        cfg,
        format!("it kept changing under us ({})", last.unwrap_or_default()),
    ))
}

/// Lock ids held by runs of this process (a run whose release failed, e.g. while the manager
/// was down, is not among them).
static HELD: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn held(id: &str, yes: bool) {
    if let Ok(mut h) = HELD.lock() {
        if yes {
            h.insert(id.to_string());
        } else {
            h.remove(id);
        }
    }
}

/// The holder's run is known to be gone: a process of this host that no longer exists, or an
/// earlier run of this very process.
fn gone(h: &Holder, info: &LockInfo) -> bool {
    h.host == info.host
        && (!crate::lock::process_alive(h.pid)
            || (h.pid == info.pid && HELD.lock().is_ok_and(|held| !held.contains(&h.id))))
}

fn start(
    nsx: &NsxClient,
    cfg: &ManagerLockConfig,
    info: &LockInfo,
    mode: &str,
    rev: i64,
    took_over: Option<Holder>,
) -> ManagerLock {
    let revision = Arc::new(Mutex::new(rev));
    let lost = Arc::new(AtomicBool::new(false));
    let every = (cfg.lease / 3).max(Duration::from_millis(100));
    let renewer = {
        let (nsx, cfg, info, mode) = (nsx.clone(), cfg.clone(), info.clone(), mode.to_string());
        let (revision, lost) = (revision.clone(), lost.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let mut rev = revision.lock().await;
                match nsx
                    .send(Request::put(url(&cfg)).json(body(&info, &mode, &cfg, Some(*rev))))
                    .await
                {
                    Ok(r) => *rev = r.body["_revision"].as_i64().unwrap_or(*rev + 1),
                    Err(e) if is_conflict(&e) => {
                        // Taken over (our lease ran out unseen) or removed by force-unlock.
                        tracing::error!("the lock on the manager was taken from this run: {e}");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    // A lost answer or a busy manager: the next renewal tries again, well
                    // within the lease.
                    Err(e) => tracing::warn!("renewing the lock on the manager: {e}"),
                }
            }
        })
    };
    held(&info.id, true);
    ManagerLock {
        nsx: nsx.clone(),
        cfg: cfg.clone(),
        id: info.id.clone(),
        revision,
        lost,
        renewer: Some(renewer),
        took_over,
    }
}

impl ManagerLock {
    /// Set when the lock was taken from this run: it must send nothing more.
    pub fn lost_flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    /// Remove the lock if it is still ours. Errors are returned for the caller to report; the
    /// lock then expires by itself.
    pub async fn release(mut self) -> Result<(), ExecError> {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
        let _held = self.revision.lock().await;
        match read(&self.nsx, &self.cfg).await? {
            Some(h) if h.id == self.id => self
                .nsx
                .send(Request::delete(url(&self.cfg)))
                .await
                .map(|_| ())
                .map_err(|e| failed("removing", &self.cfg, e)),
            _ => Ok(()),
        }
    }
}

/// `force-unlock`: remove the manager lock when its id is `id`.
pub async fn force_unlock(
    nsx: &NsxClient,
    cfg: &ManagerLockConfig,
    id: &str,
) -> Result<Option<Holder>, ExecError> {
    match read(nsx, cfg).await? {
        None => Ok(None),
        Some(h) if h.id == id => {
            nsx.send(Request::delete(url(cfg)))
                .await
                .map_err(|e| failed("removing", cfg, e))?;
            Ok(Some(h))
        }
        Some(h) => Err(ExecError::LockIdMismatch {
            dir: cfg.path.clone().into(),
            given: id.to_string(),
            actual: h.id,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tags_round_trip_and_say_who_holds_the_lock() {
        let info = LockInfo {
            id: "abc".into(),
            owner: "op".into(),
            host: "jump-1".into(),
            pid: 42,
            plan_id: "sha256:1".into(),
            started_at: "2026-12-01T00:00:00Z".into(),
        };
        let cfg = ManagerLockConfig::default();
        let mut v = body(&info, "apply", &cfg, None);
        assert!(v.get("_revision").is_none());
        v["_revision"] = json!(3);
        v["_last_modified_time"] = json!(now_ms());
        let h = parse(&v).unwrap();
        assert_eq!((h.id.as_str(), h.pid, h.lease_secs), ("abc", 42, 120));
        assert_eq!(h.revision, 3);
        assert!(!h.expired(Duration::ZERO));
        assert!(h.describe().contains("op@jump-1 pid 42"));
        let old = Holder {
            renewed_ms: now_ms() - 200_000,
            ..h
        };
        assert!(old.expired(Duration::from_secs(30)));
        assert!(!old.expired(Duration::from_secs(100)));
        assert!(parse(&json!({"display_name": "someone's group"})).is_none());
    }
}

//! The state-directory lock: `lock`, a small JSON file created with `create_new`, so two runs
//! never write the same journal. A lock left by a process of this host that no longer exists
//! (crash, SIGKILL) is taken over with a warning; any other held lock refuses, and
//! `nsx-migrate force-unlock ID` removes it when the id matches.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ExecError;

pub const LOCK_FILE: &str = "lock";

/// Content of the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub id: String,
    pub owner: String,
    pub host: String,
    pub pid: u32,
    pub plan_id: String,
    pub started_at: String,
}

/// A held lock; removed on drop.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    pub info: LockInfo,
}

impl Drop for StateLock {
    fn drop(&mut self) {
        // Only remove our own lock (a force-unlock and a new owner may have replaced it).
        if let Ok(text) = std::fs::read_to_string(&self.path)
            && let Ok(info) = serde_json::from_str::<LockInfo>(&text)
            && info.id == self.info.id
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// This machine's host name (best effort, never fails).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".to_string())
}

pub(crate) fn process_alive(pid: u32) -> bool {
    // Linux: /proc/<pid> exists while the process (or its zombie) exists. Elsewhere assume alive.
    if Path::new("/proc/self").exists() {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// Read the lock of a state directory, if any.
pub fn read_lock(dir: &Path) -> Result<Option<LockInfo>, ExecError> {
    let path = dir.join(LOCK_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| ExecError::io(&path, format!("unreadable lock file: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ExecError::io(&path, e)),
    }
}

/// Take the lock for `plan_id`. Returns the lock and a warning when a dead process's lock was
/// taken over.
pub fn acquire(dir: &Path, plan_id: &str) -> Result<(StateLock, Option<String>), ExecError> {
    std::fs::create_dir_all(dir).map_err(|e| ExecError::io(dir, e))?;
    let path = dir.join(LOCK_FILE);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let info = LockInfo {
        id: format!("{pid:x}-{:x}", nanos & 0xffff_ffff_ffff),
        owner: std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        host: host_name(),
        pid,
        plan_id: plan_id.to_string(),
        started_at: crate::journal::now_rfc3339(),
    };
    let mut warning = None;
    for _ in 0..2 {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                let text =
                    serde_json::to_string_pretty(&info).map_err(|e| ExecError::io(&path, e))?;
                f.write_all(text.as_bytes())
                    .and_then(|_| f.sync_all())
                    .map_err(|e| ExecError::io(&path, e))?;
                return Ok((StateLock { path, info }, warning));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let held = read_lock(dir)?;
                match held {
                    Some(h) if h.host == info.host && !process_alive(h.pid) => {
                        warning = Some(format!(
                            "taking over the lock of process {} (started {}), which no longer runs on this host",
                            h.pid, h.started_at
                        ));
                        std::fs::remove_file(&path).map_err(|e| ExecError::io(&path, e))?;
                    }
                    Some(h) => {
                        return Err(ExecError::Locked {
                            dir: dir.to_path_buf(),
                            held: Box::new(h),
                        });
                    }
                    None => continue,
                }
            }
            Err(e) => return Err(ExecError::io(&path, e)),
        }
    }
    Err(ExecError::io(&path, "could not create the lock file"))
}

/// Remove the lock when its id is `id`.
pub fn force_unlock(dir: &Path, id: &str) -> Result<LockInfo, ExecError> {
    let path = dir.join(LOCK_FILE);
    let Some(info) = read_lock(dir)? else {
        return Err(ExecError::io(&path, "no lock to remove"));
    };
    if info.id != id {
        return Err(ExecError::LockIdMismatch {
            dir: dir.to_path_buf(),
            given: id.to_string(),
            actual: info.id,
        });
    }
    std::fs::remove_file(&path).map_err(|e| ExecError::io(&path, e))?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_lock_refuses_and_force_unlock_needs_the_id() {
        let d = tempfile::tempdir().unwrap();
        let (lock, w) = acquire(d.path(), "p").unwrap();
        assert!(w.is_none());
        let e = acquire(d.path(), "p").unwrap_err();
        assert!(matches!(e, ExecError::Locked { .. }), "{e}");
        assert!(e.to_string().contains(&lock.info.id));
        assert!(matches!(
            force_unlock(d.path(), "wrong").unwrap_err(),
            ExecError::LockIdMismatch { .. }
        ));
        let id = lock.info.id.clone();
        std::mem::forget(lock);
        force_unlock(d.path(), &id).unwrap();
        let (_l, _) = acquire(d.path(), "p").unwrap();
    }

    #[test]
    fn dead_process_lock_is_taken_over() {
        let d = tempfile::tempdir().unwrap();
        let dead = LockInfo {
            id: "x".into(),
            owner: "o".into(),
            host: host_name(),
            pid: u32::MAX - 7,
            plan_id: "p".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
        };
        std::fs::write(
            d.path().join(LOCK_FILE),
            serde_json::to_string(&dead).unwrap(),
        )
        .unwrap();
        let (l, w) = acquire(d.path(), "p").unwrap();
        assert!(w.unwrap().contains("no longer runs"));
        drop(l);
        assert!(!d.path().join(LOCK_FILE).exists());
    }
}

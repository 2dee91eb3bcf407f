//! The write-ahead journal: `journal.jsonl` in the state directory, one [`JournalRecord`] per
//! line, appended and made durable (`sync_data`) before the request it announces is sent and
//! again after its outcome.
//!
//! Group commit: a writer appends its records, then waits until they are durable
//! ([`Pending::wait`]); one `sync_data` covers every record any writer had appended before it,
//! so steps in flight side by side share syncs instead of queueing one sync each. A record is
//! still durable before the request it announces is sent. With the crash-test hook armed every
//! record is synced on its own (the hook's "after the k-th record" stays exact).
//!
//! Opening validates every line against the journal schema, checks that `seq` is gap-free and
//! that every record belongs to the plan being applied. A torn *last* line (the process died in
//! the middle of writing it) is cut off with a warning; any other damage is refused.
//!
//! Test hook: in a process that called [`arm_test_kill_hook`] (only the crash-test harness does;
//! the CLI never does), when the environment variable `NSX_MIGRATE_TEST_KILL_AFTER_RECORDS=k` is
//! set, the process sends itself SIGKILL right after the k-th record it appended has been synced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use plan_schema::journal::{JournalEvent, JournalRecord};
use serde_json::Value;

use crate::error::ExecError;

/// Environment variable of the crash test hook (see the module documentation).
pub const KILL_AFTER_ENV: &str = "NSX_MIGRATE_TEST_KILL_AFTER_RECORDS";

static KILL_HOOK_ARMED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Let [`KILL_AFTER_ENV`] take effect in this process (crash-test harness only).
#[doc(hidden)]
pub fn arm_test_kill_hook() {
    KILL_HOOK_ARMED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// File name of the journal inside the state directory.
pub const JOURNAL_FILE: &str = "journal.jsonl";

/// What reading a journal file found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<JournalRecord>,
    /// Byte length of the valid part (everything before a torn last line).
    pub valid_len: u64,
    /// Set when a torn last line was found (it is not part of `records`).
    pub torn: Option<String>,
}

/// Read and validate a journal file without changing it. A missing file is an empty journal.
pub fn load(path: &Path, plan_id: Option<&str>) -> Result<Loaded, ExecError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(ExecError::io(path, e)),
    };
    let mut out = Loaded::default();
    let mut offset = 0usize;
    let mut line_no = 0usize;
    while offset < bytes.len() {
        line_no += 1;
        let rest = &bytes[offset..];
        let (line, complete) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) => (&rest[..i], true),
            None => (rest, false),
        };
        let parsed = parse_line(line);
        match parsed {
            Ok(rec) => {
                if !complete {
                    // A full record without its newline: the crash hit between the two writes
                    // of one line; treat it as torn (it was never acknowledged as durable).
                    out.torn = Some(format!(
                        "{}:{line_no}: last line has no newline; cut off as torn",
                        path.display()
                    ));
                    break;
                }
                let expected = out.records.len() as u64 + 1;
                if rec.seq != expected {
                    return Err(ExecError::CorruptJournal {
                        file: path.to_path_buf(),
                        line: line_no,
                        message: format!("seq {} where {expected} was expected", rec.seq),
                    });
                }
                if let Some(p) = plan_id
                    && rec.plan_id != p
                {
                    return Err(ExecError::ForeignJournal {
                        file: path.to_path_buf(),
                        expected: p.to_string(),
                        found: rec.plan_id,
                    });
                }
                if let Some(first) = out.records.first()
                    && first.plan_id != rec.plan_id
                {
                    return Err(ExecError::CorruptJournal {
                        file: path.to_path_buf(),
                        line: line_no,
                        message: format!(
                            "record of plan {} in a journal of plan {}",
                            rec.plan_id, first.plan_id
                        ),
                    });
                }
                out.records.push(rec);
                offset += line.len() + 1;
                out.valid_len = offset as u64;
            }
            Err(message) => {
                if !complete {
                    out.torn = Some(format!(
                        "{}:{line_no}: torn last line ({} bytes) cut off: {message}",
                        path.display(),
                        line.len()
                    ));
                    break;
                }
                return Err(ExecError::CorruptJournal {
                    file: path.to_path_buf(),
                    line: line_no,
                    message,
                });
            }
        }
    }
    Ok(out)
}

/// The kind of plan a journal was written for (its first `run_started` says).
pub fn kind_of(records: &[JournalRecord]) -> Option<plan_schema::MigrationKind> {
    records.iter().find_map(|r| match &r.event {
        JournalEvent::RunStarted { kind, .. } => Some(*kind),
        _ => None,
    })
}

fn parse_line(line: &[u8]) -> Result<JournalRecord, String> {
    let text = std::str::from_utf8(line).map_err(|e| format!("not UTF-8: {e}"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(v) = value["event"]["journal_format_version"].as_u64()
        && v != u64::from(plan_schema::journal::JOURNAL_FORMAT_VERSION)
    {
        return Err(format!(
            "journal format {v} is not this nsx-migrate's ({}); finish or roll back that plan with the nsx-migrate that wrote it",
            plan_schema::journal::JOURNAL_FORMAT_VERSION
        ));
    }
    let problems = plan_schema::schema::validate_journal_value(&value);
    if let Some(p) = problems.first() {
        return Err(format!("does not match the journal schema: {p}"));
    }
    serde_json::from_value(value).map_err(|e| format!("not a journal record: {e}"))
}

/// An open journal, appending records for one plan.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    plan_id: String,
    records: Vec<JournalRecord>,
    appended: u64,
    kill_after: Option<u64>,
    durability: Arc<Durability>,
}

/// What the writers share to make appended records durable (group commit).
#[derive(Debug)]
struct Durability {
    /// Another handle on the journal file, synced outside the journal's lock.
    file: File,
    path: PathBuf,
    /// The highest `seq` appended (written, maybe not yet durable).
    written: AtomicU64,
    /// The highest `seq` known durable; held while syncing, so writers queue behind one sync.
    synced: Mutex<u64>,
}

/// Records appended but maybe not durable yet: [`Pending::wait`] before acting on them.
#[must_use = "the records are not durable until `wait` returns"]
#[derive(Debug)]
pub struct Pending {
    upto: u64,
    durability: Option<Arc<Durability>>,
}

impl Pending {
    /// Block until every record of this append is durable. One `sync_data` covers all records
    /// appended before it, whoever appended them.
    pub fn wait(self) -> Result<(), ExecError> {
        let Some(d) = self.durability else {
            return Ok(());
        };
        let mut synced = d
            .synced
            .lock()
            .map_err(|_| ExecError::io(&d.path, "journal sync lock poisoned"))?;
        if *synced >= self.upto {
            return Ok(());
        }
        let upto = d.written.load(Ordering::SeqCst);
        d.file.sync_data().map_err(|e| ExecError::io(&d.path, e))?;
        *synced = upto;
        Ok(())
    }
}

impl Journal {
    /// Open (creating when missing) the journal of `plan_id` in `dir`. Returns the journal and a
    /// warning when a torn last line was cut off.
    pub fn open(dir: &Path, plan_id: &str) -> Result<(Journal, Option<String>), ExecError> {
        let path = dir.join(JOURNAL_FILE);
        let loaded = load(&path, Some(plan_id))?;
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| ExecError::io(&path, e))?;
        if loaded.torn.is_some() {
            file.set_len(loaded.valid_len)
                .and_then(|_| file.sync_data())
                .map_err(|e| ExecError::io(&path, e))?;
        }
        let kill_after = KILL_HOOK_ARMED
            .load(std::sync::atomic::Ordering::SeqCst)
            .then(|| std::env::var(KILL_AFTER_ENV).ok())
            .flatten()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|k| *k > 0);
        let seq = loaded.records.len() as u64;
        let durability = Arc::new(Durability {
            file: file.try_clone().map_err(|e| ExecError::io(&path, e))?,
            path: path.clone(),
            written: AtomicU64::new(seq),
            synced: Mutex::new(seq),
        });
        let mut j = Journal {
            path,
            file,
            plan_id: plan_id.to_string(),
            records: loaded.records,
            appended: 0,
            kill_after,
            durability,
        };
        j.seek_end()?;
        Ok((j, loaded.torn))
    }

    fn seek_end(&mut self) -> Result<(), ExecError> {
        use std::io::Seek;
        self.file
            .seek(std::io::SeekFrom::End(0))
            .map(|_| ())
            .map_err(|e| ExecError::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn records(&self) -> &[JournalRecord] {
        &self.records
    }

    /// Append one record and make it durable before returning.
    pub fn append(&mut self, event: JournalEvent) -> Result<JournalRecord, ExecError> {
        let pending = self.write(vec![event])?;
        pending.wait()?;
        self.records
            .last()
            .cloned()
            .ok_or_else(|| ExecError::io(&self.path, "no record appended"))
    }

    /// Append records in one write; they are durable once the returned [`Pending`] is waited
    /// for (outside this journal's lock, so other writers append meanwhile and share the sync).
    pub fn write(&mut self, events: Vec<JournalEvent>) -> Result<Pending, ExecError> {
        let mut lines = String::new();
        let first = self.records.len();
        for event in events {
            let rec = JournalRecord {
                seq: self.records.len() as u64 + 1,
                at: now_rfc3339(),
                plan_id: self.plan_id.clone(),
                event,
            };
            let mut line = serde_json::to_string(&rec).map_err(|e| ExecError::io(&self.path, e))?;
            line.push('\n');
            if self.kill_after.is_some() {
                // The crash-test hook: each record synced on its own, the kill right after the
                // k-th.
                self.file
                    .write_all(line.as_bytes())
                    .and_then(|_| self.file.sync_data())
                    .map_err(|e| ExecError::io(&self.path, e))?;
                self.records.push(rec);
                self.appended += 1;
                self.durability
                    .written
                    .store(self.records.len() as u64, Ordering::SeqCst);
                if self.kill_after == Some(self.appended) {
                    kill_self();
                }
            } else {
                lines.push_str(&line);
                self.records.push(rec);
            }
        }
        if self.kill_after.is_some() {
            return Ok(Pending {
                upto: 0,
                durability: None,
            });
        }
        if let Err(e) = self.file.write_all(lines.as_bytes()) {
            self.records.truncate(first);
            return Err(ExecError::io(&self.path, e));
        }
        self.appended += (self.records.len() - first) as u64;
        let upto = self.records.len() as u64;
        self.durability.written.store(upto, Ordering::SeqCst);
        Ok(Pending {
            upto,
            durability: Some(self.durability.clone()),
        })
    }
}

/// The crash test hook: SIGKILL ourselves (no destructor, no flush, like a power cut for this
/// process). Falls back to `abort` if `kill` cannot be run.
fn kill_self() -> ! {
    let pid = std::process::id().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-KILL", &pid])
        .status();
    std::thread::sleep(std::time::Duration::from_secs(5));
    std::process::abort()
}

/// Current time, RFC 3339 with second precision.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    now.round(jiff::Unit::Second).unwrap_or(now).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use plan_schema::journal::RunMode;

    const PLAN: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    const OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000002";

    fn started() -> JournalEvent {
        JournalEvent::RunStarted {
            journal_format_version: plan_schema::journal::JOURNAL_FORMAT_VERSION,
            kind: plan_schema::MigrationKind::MpToPolicy,
            mode: RunMode::Apply,
            tool_version: "t".into(),
            host: "h".into(),
            pid: 1,
        }
    }

    #[test]
    fn append_reopen_and_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        {
            let (mut j, torn) = Journal::open(d.path(), PLAN).unwrap();
            assert!(torn.is_none());
            j.append(started()).unwrap();
            j.append(JournalEvent::StepSkipped {
                step: "s".into(),
                reason: "r".into(),
            })
            .unwrap();
        }
        let p = d.path().join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&p).unwrap();
        let good = bytes.len();
        bytes.extend_from_slice(b"{\"seq\":3,\"at\":\"2026-");
        std::fs::write(&p, &bytes).unwrap();
        let (mut j, torn) = Journal::open(d.path(), PLAN).unwrap();
        assert!(torn.unwrap().contains("torn"));
        assert_eq!(std::fs::metadata(&p).unwrap().len() as usize, good);
        assert_eq!(j.records().len(), 2);
        let r = j.append(started()).unwrap();
        assert_eq!(r.seq, 3);
        let loaded = load(&p, Some(PLAN)).unwrap();
        assert_eq!(loaded.records.len(), 3);
        assert!(loaded.torn.is_none());
    }

    /// Writers on several threads append and wait for durability (group commit): every
    /// record lands once, in one gap-free sequence, and a wait covers the writer's own records
    /// even when another writer's sync did the work.
    #[test]
    fn group_commit_from_several_threads_keeps_every_record_in_order() {
        let d = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(d.path(), PLAN).unwrap();
        let j = Mutex::new(j);
        std::thread::scope(|sc| {
            for t in 0..4 {
                let j = &j;
                sc.spawn(move || {
                    for i in 0..10 {
                        let ev = |k: usize| JournalEvent::StepSkipped {
                            step: format!("t{t}"),
                            reason: format!("{i}.{k}"),
                        };
                        let pending = j.lock().unwrap().write(vec![ev(0), ev(1)]).unwrap();
                        pending.wait().unwrap();
                    }
                });
            }
        });
        let j = j.into_inner().unwrap();
        assert_eq!(*j.durability.synced.lock().unwrap(), 80);
        let loaded = load(&d.path().join(JOURNAL_FILE), Some(PLAN)).unwrap();
        assert_eq!(loaded.records.len(), 80);
        // A write's records are adjacent: `.0` is always followed by the same writer's `.1`.
        for pair in loaded.records.chunks(2) {
            match (&pair[0].event, &pair[1].event) {
                (
                    JournalEvent::StepSkipped {
                        step: a,
                        reason: ra,
                    },
                    JournalEvent::StepSkipped {
                        step: b,
                        reason: rb,
                    },
                ) => {
                    assert_eq!(a, b);
                    assert_eq!(ra.replace(".0", ".1"), *rb);
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn corruption_gap_and_foreign_plan_are_refused() {
        let d = tempfile::tempdir().unwrap();
        {
            let (mut j, _) = Journal::open(d.path(), PLAN).unwrap();
            for _ in 0..3 {
                j.append(started()).unwrap();
            }
        }
        let p = d.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(matches!(
            Journal::open(d.path(), OTHER).unwrap_err(),
            ExecError::ForeignJournal { .. }
        ));
        // A damaged middle line.
        let lines: Vec<&str> = text.lines().collect();
        let damaged = format!("{}\n{{oops\n{}\n", lines[0], lines[2]);
        std::fs::write(&p, damaged).unwrap();
        let e = Journal::open(d.path(), PLAN).unwrap_err();
        assert!(
            matches!(e, ExecError::CorruptJournal { line: 2, .. }),
            "{e}"
        );
        // A gap in seq.
        std::fs::write(&p, format!("{}\n{}\n", lines[0], lines[2])).unwrap();
        let e = Journal::open(d.path(), PLAN).unwrap_err();
        assert!(e.to_string().contains("seq 3 where 2"), "{e}");
        // A record that does not match the schema (unknown field), even as the last line.
        let bad = lines[1].replace("\"seq\":2", "\"seq\":2,\"extra\":1");
        std::fs::write(&p, format!("{}\n{bad}\n", lines[0])).unwrap();
        assert!(matches!(
            Journal::open(d.path(), PLAN).unwrap_err(),
            ExecError::CorruptJournal { line: 2, .. }
        ));
    }
}

//! The run context shared by the phases: NSX client, plan, journal, log, and the one primitive
//! that sends a change: journal the intent (durable), send, journal the outcome.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::{Method, NsxClient, Request};
use plan_schema::journal::{JournalEvent, RecordedRequest};
use serde_json::Value;

use crate::error::ExecError;
use crate::journal::Journal;
use crate::log::Log;
use crate::observe::{SharedObserver, Stage};
use crate::progress::Progress;
use crate::{OnImportFailure, PollConfig};

/// A change to send.
#[derive(Debug, Clone)]
pub struct Write {
    pub method: Method,
    /// Path and query relative to the manager.
    pub path: String,
    pub body: Option<Value>,
    /// Send once, no retry of any kind (DONE and rollback calls).
    pub once: bool,
    pub timeout: Option<Duration>,
    /// `X-Allow-Overwrite: true`: modify objects owned by another principal (NCP's sections).
    pub overwrite: bool,
    /// What the request asks to create or promote (object type, ids), journaled with its
    /// intent.
    pub objects: Option<(String, Vec<String>)>,
}

impl Write {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Write {
            method,
            path: path.into(),
            body: None,
            once: false,
            timeout: None,
            overwrite: false,
            objects: None,
        }
    }
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::POST, path)
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Name the objects the request creates or promotes, for the journal.
    pub fn objects(mut self, object_type: impl Into<String>, ids: Vec<String>) -> Self {
        self.objects = Some((object_type.into(), ids));
        self
    }
    pub fn overwrite(mut self) -> Self {
        self.overwrite = true;
        self
    }
    pub fn once(mut self, timeout: Duration) -> Self {
        self.once = true;
        self.timeout = Some(timeout);
        self
    }
    pub fn recorded(&self) -> RecordedRequest {
        RecordedRequest {
            endpoint: None,
            method: self.method.as_str().to_string(),
            path: self.path.clone(),
            body: self.body.clone(),
        }
    }
    fn request(&self) -> Request {
        let mut r = Request::new(self.method.clone(), self.path.clone());
        if let Some(b) = &self.body {
            r = r.json(b.clone());
        }
        if self.once {
            r = r.no_retry();
        }
        if let Some(t) = self.timeout {
            r = r.timeout(t);
        }
        if self.overwrite {
            r = r.header("X-Allow-Overwrite", "true");
        }
        r
    }
    /// One line for `--dry-run` output and logs (method, path, compact body).
    pub fn describe(&self) -> String {
        match &self.body {
            Some(b) => format!("{} {} {}", self.method, self.path, b),
            None => format!("{} {}", self.method, self.path),
        }
    }
}

pub struct Ctx {
    /// The plan this run applies (or rolls back).
    pub plan_id: String,
    pub nsx: NsxClient,
    /// The OpenStack cloud, for kinds that drive one (VIO): Keystone, its catalog's services.
    pub openstack: Option<client::OpenStackClient>,
    /// kubectl for the target's Kubernetes control plane (VIO's Neutron custom resource).
    pub kubectl: Option<client::Kubectl>,
    /// Operator tasks (step ids) the operator confirmed done for this run (`--confirm-task`).
    pub confirmed_tasks: Vec<String>,
    /// A kind's other endpoints (NSX-V, vCenter).
    pub window: crate::WindowClients,
    /// `--confirm-point-of-no-return` was given.
    pub confirm_point_of_no_return: bool,
    /// Secrets a kind obtained during the run (e.g. a token for another service): kept in
    /// memory only, never journaled or logged; a new run obtains them again.
    pub secrets: Mutex<std::collections::BTreeMap<String, client::Secret>>,
    /// None in dry-run mode: nothing is written anywhere.
    pub journal: Option<Mutex<Journal>>,
    pub log: Log,
    pub dry: Mutex<Vec<String>>,
    pub progress: Progress,
    pub poll: PollConfig,
    pub concurrency: usize,
    pub on_import_failure: OnImportFailure,
    pub writes_sent: AtomicU64,
    pub observer: Option<SharedObserver>,
    /// Set when the lock on the manager was taken from this run: nothing more is sent.
    pub lock_lost: Option<Arc<AtomicBool>>,
    /// The run of this same plan whose manager lock this run took over (it died): live state
    /// may hold its unjournaled work, which is this plan's.
    pub inherited: Option<crate::manager_lock::Holder>,
}

impl Ctx {
    pub fn dry_run(&self) -> bool {
        self.journal.is_none()
    }

    /// Preflight: NSX reachable and at least the plan's `min` version (`why` says what needs
    /// it). A version that cannot be compared is a warning, not a refusal.
    pub async fn check_nsx_version(
        &self,
        min: &str,
        why: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(), ExecError> {
        let version = self
            .nsx
            .node_version()
            .await
            .map_err(|e| ExecError::Preflight(format!("NSX Manager not reachable: {e}")))?;
        let min: client::NsxVersion = min.parse().map_err(|e| {
            ExecError::Plan(format!(
                "requirements.min_nsx_version of the plan is not a version: {e}"
            ))
        })?;
        match version.parse::<client::NsxVersion>() {
            Ok(v) if v >= min => {}
            Ok(_) => {
                return Err(ExecError::Preflight(format!(
                    "NSX version {version} is older than {min}, which the plan requires ({why})"
                )));
            }
            Err(e) => warnings.push(format!("cannot compare the NSX version: {e}")),
        }
        Ok(())
    }

    pub fn stage_started(&self, stage: Stage, total: usize) {
        if let Some(o) = &self.observer {
            o.stage_started(stage, total as u64);
        }
    }

    pub fn step_finished(&self, stage: Stage, step: &str, ok: bool) {
        if let Some(o) = &self.observer {
            o.step_finished(stage, step, ok);
        }
    }

    pub fn stage_finished(&self, stage: Stage) {
        if let Some(o) = &self.observer {
            o.stage_finished(stage);
        }
    }

    /// Append a journal record, durable when this returns (no-op in dry-run).
    pub fn record(&self, event: JournalEvent) -> Result<(), ExecError> {
        self.record_all(vec![event])
    }

    /// Append records in one write, all durable when this returns (no-op in dry-run). The
    /// sync happens outside the journal's lock and covers what other tasks appended meanwhile
    /// (group commit); on a multi-threaded runtime the wait lets the runtime move other tasks
    /// off this thread.
    pub fn record_all(&self, events: Vec<JournalEvent>) -> Result<(), ExecError> {
        let Some(j) = &self.journal else {
            return Ok(());
        };
        let pending = j
            .lock()
            .map_err(|_| ExecError::io("journal", "journal lock poisoned"))?
            .write(events)?;
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| pending.wait())
        } else {
            pending.wait()
        }
    }

    /// Write-ahead send: intent (durable), request, outcome (durable). In dry-run the request is
    /// only listed and `Value::Null` returned.
    pub async fn write(&self, step: &str, op: &str, w: Write) -> Result<Value, ExecError> {
        let recorded = w.recorded();
        let describe = w.describe();
        let objects = w.objects.clone();
        let send = async { self.nsx.send(w.request()).await.map(|r| r.body) };
        self.write_with(step, op, recorded, describe, objects, send)
            .await
    }

    /// The write-ahead send for any transport (the NSX Manager, a kind's other endpoints):
    /// `request` is what `send` sends, journaled as the intent (with the objects it asks to
    /// create) before `send` is polled, and its outcome after. In dry-run only `describe` is
    /// listed and `Value::Null` returned; `send` is never polled.
    pub async fn write_with<F>(
        &self,
        step: &str,
        op: &str,
        request: RecordedRequest,
        describe: String,
        objects: Option<(String, Vec<String>)>,
        send: F,
    ) -> Result<Value, ExecError>
    where
        F: std::future::Future<Output = Result<Value, client::ClientError>>,
    {
        self.write_with_after(step, op, request, describe, objects, send, |_| Vec::new())
            .await
    }

    /// [`Ctx::write_with`], and on success the records `after` derives from the answer (what
    /// the change made) journaled in the same write as the outcome, after it: one sync.
    #[allow(clippy::too_many_arguments)]
    pub async fn write_with_after<F, A>(
        &self,
        step: &str,
        op: &str,
        request: RecordedRequest,
        describe: String,
        objects: Option<(String, Vec<String>)>,
        send: F,
        after: A,
    ) -> Result<Value, ExecError>
    where
        F: std::future::Future<Output = Result<Value, client::ClientError>>,
        A: FnOnce(&Value) -> Vec<JournalEvent>,
    {
        if self.dry_run() {
            self.dry
                .lock()
                .map_err(|_| ExecError::io("dry-run", "poisoned"))?
                .push(describe);
            return Ok(Value::Null);
        }
        if self
            .lock_lost
            .as_ref()
            .is_some_and(|l| l.load(Ordering::SeqCst))
        {
            return Err(ExecError::ManagerLockLost);
        }
        let (object_type, object_ids) = match objects {
            Some((t, ids)) => (Some(t), ids),
            None => (None, Vec::new()),
        };
        self.record(JournalEvent::StepIntent {
            step: step.to_string(),
            op: op.to_string(),
            request,
            object_type,
            object_ids,
        })?;
        self.writes_sent.fetch_add(1, Ordering::Relaxed);
        match send.await {
            Ok(body) => {
                let mut events = vec![JournalEvent::StepDone {
                    step: step.to_string(),
                    op: op.to_string(),
                    detail: None,
                }];
                events.extend(after(&body));
                self.record_all(events)?;
                Ok(body)
            }
            Err(e) => {
                self.record(JournalEvent::StepFailed {
                    step: step.to_string(),
                    op: op.to_string(),
                    error: e.to_string(),
                    retriable: e.is_retriable(),
                })?;
                Err(ExecError::Nsx(e))
            }
        }
    }

    pub fn step_done(&self, step: &str, detail: Option<String>) -> Result<(), ExecError> {
        self.record(JournalEvent::StepDone {
            step: step.to_string(),
            op: crate::progress::STEP_OP.to_string(),
            detail,
        })
    }

    pub fn step_skipped(&self, step: &str, reason: impl Into<String>) -> Result<(), ExecError> {
        self.record(JournalEvent::StepSkipped {
            step: step.to_string(),
            reason: reason.into(),
        })
    }

    pub fn step_failed(&self, step: &str, op: &str, err: &ExecError) -> Result<(), ExecError> {
        let retriable = matches!(err, ExecError::Nsx(e) if e.is_retriable());
        self.record(JournalEvent::StepFailed {
            step: step.to_string(),
            op: op.to_string(),
            error: err.to_string(),
            retriable,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ExecError> {
        Ok(self.nsx.get(path).await?)
    }

    /// GET that maps 404 to `None`.
    pub async fn get_opt(&self, path: &str) -> Result<Option<Value>, ExecError> {
        match self.nsx.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

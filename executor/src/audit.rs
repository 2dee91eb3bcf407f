//! `audit` reports: per step, whether live state shows it done, pending, drifted or
//! conflicting. Each kind compares its plan with live state read-only and returns an
//! [`AuditReport`].

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Done,
    Pending,
    Drifted,
    Conflicting,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Done => "done",
            StepState::Pending => "pending",
            StepState::Drifted => "drifted",
            StepState::Conflicting => "conflicting",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepAudit {
    pub step: String,
    pub kind: String,
    pub state: StepState,
    pub detail: String,
}

/// An object whose live state differs from the end state the plan promised.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ObjectDrift {
    /// The step whose end state it is (the last planned step that shapes the object).
    pub step: String,
    /// Where the object lives (a Policy path, for NSX objects).
    pub path: String,
    pub resource_type: String,
    /// The object does not exist at all.
    pub missing: bool,
    /// Planned `scope=tag` pairs the live object lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_missing: Vec<String>,
    /// Live `scope=tag` pairs the plan does not promise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_extra: Vec<String>,
    /// `(planned, live)` display names, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<(String, String)>,
}

impl ObjectDrift {
    /// One line naming the object and what differs.
    pub fn describe(&self) -> String {
        if self.missing {
            return format!("{} ({}) does not exist", self.path, self.resource_type);
        }
        let mut parts = Vec::new();
        if !self.tags_missing.is_empty() {
            parts.push(format!("tags missing {}", self.tags_missing.join(", ")));
        }
        if !self.tags_extra.is_empty() {
            parts.push(format!("tags not planned {}", self.tags_extra.join(", ")));
        }
        if let Some((want, got)) = &self.display_name {
            parts.push(format!("display_name \"{got}\", planned \"{want}\""));
        }
        format!(
            "{} ({}): {}",
            self.path,
            self.resource_type,
            parts.join("; ")
        )
    }
}

/// The lock on the manager, as the audit found it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LockNote {
    pub holder: crate::manager_lock::Holder,
    /// Its lease ran out: the run that held it is gone, and the lock is stale.
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct AuditReport {
    /// The lock on the manager, when one is there (a run in progress, or a stale one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager_lock: Option<LockNote>,
    pub plan_id: String,
    pub steps: Vec<StepAudit>,
    /// Objects of finished steps whose live state is not the planned end state.
    pub drift: Vec<ObjectDrift>,
    /// Objects tagged with the cluster still in Manager mode (checked when every step is done).
    pub left_in_manager: Vec<String>,
    pub counts: BTreeMap<String, usize>,
    /// What the kind read besides the steps (VIO: the coordinator's state, the Neutron custom
    /// resource's plugins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl AuditReport {
    /// Everything applied and nothing left behind.
    pub fn is_clean(&self) -> bool {
        self.left_in_manager.is_empty()
            && self.drift.is_empty()
            && self.manager_lock.is_none()
            && self.steps.iter().all(|s| s.state == StepState::Done)
    }

    pub fn render(&self) -> String {
        let mut out = format!("audit of plan {}\n", self.plan_id);
        for s in &self.steps {
            out.push_str(&format!(
                "  {:11} {}  {}\n",
                s.state.as_str(),
                s.step,
                s.detail
            ));
        }
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        out.push_str(&format!("summary: {}\n", counts.join(", ")));
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for d in &self.drift {
            out.push_str(&format!("  drift ({}): {}\n", d.step, d.describe()));
        }
        if let Some(l) = &self.manager_lock {
            out.push_str(&format!(
                "  {} lock on the manager: {}{}\n",
                if l.expired { "stale" } else { "held" },
                l.holder.describe(),
                if l.expired {
                    format!(
                        "; its run is gone: `nsx-migrate force-unlock {}`",
                        l.holder.id
                    )
                } else {
                    " (a run is in progress)".to_string()
                }
            ));
        }
        for o in &self.left_in_manager {
            out.push_str(&format!("  left in Manager mode: {o}\n"));
        }
        out
    }
}

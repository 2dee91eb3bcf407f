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

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct AuditReport {
    pub plan_id: String,
    pub steps: Vec<StepAudit>,
    /// Objects tagged with the cluster still in Manager mode (checked when every step is done).
    pub left_in_manager: Vec<String>,
    pub counts: BTreeMap<String, usize>,
}

impl AuditReport {
    /// Everything applied and nothing left behind.
    pub fn is_clean(&self) -> bool {
        self.left_in_manager.is_empty() && self.steps.iter().all(|s| s.state == StepState::Done)
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
        for o in &self.left_in_manager {
            out.push_str(&format!("  left in Manager mode: {o}\n"));
        }
        out
    }
}

//! What a migration kind contributes to the plan contract.
//!
//! The envelope ([`crate::Plan`]) is shared; a kind supplies its target, requirements, phases,
//! actions, change counters, semantic checks and the words `show` uses for them. Adding a kind
//! is adding a module that implements [`Kind`] and a variant of [`crate::MigrationKind`] and
//! [`crate::AnyPlan`]; reading, the schema, the seal, writing, `show`, `graph`, `validate` and
//! `seal` then work for it unchanged.

use std::fmt::Debug;
use std::hash::Hash;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::plan::{AnyPlan, MigrationKind, Plan, Step};
use crate::problem::Problem;

/// Bounds every payload type meets.
pub trait Payload:
    Debug + Clone + PartialEq + Eq + Serialize + DeserializeOwned + JsonSchema + Send + Sync + 'static
{
}
impl<T> Payload for T where
    T: Debug
        + Clone
        + PartialEq
        + Eq
        + Serialize
        + DeserializeOwned
        + JsonSchema
        + Send
        + Sync
        + 'static
{
}

/// A migration kind's part of the plan.
pub trait Kind: Debug + Clone + PartialEq + Eq + JsonSchema + Send + Sync + 'static {
    const KIND: MigrationKind;
    /// `[target]`: what is migrated and where (names and addresses, never credentials).
    type Target: Payload;
    /// `[requirements]`: what the executor re-checks before acting.
    type Requirements: Payload;
    type Phase: KindPhase;
    type Action: KindAction<Phase = Self::Phase>;
    /// `[summary.changes]`.
    type Counters: Payload + Default;
    /// Keys of arrays of tables that the plan file lays out as one inline table a line (e.g. a
    /// step's replayed objects), for reading and for writing speed. Their tables hold values
    /// only, no tables.
    const INLINE_TABLE_ARRAYS: &'static [&'static str] = &[];

    /// The counters these steps imply.
    fn counters(steps: &[Step<Self>]) -> Self::Counters;
    /// The counters as (name, value) pairs, in field order (for messages and `show`).
    fn counter_pairs(c: &Self::Counters) -> Vec<(&'static str, u64)>;
    /// How `show` summarises one phase's changes, e.g. "3 batch(es), 30 resource(s)".
    fn phase_summary(c: &Self::Counters, phase: Self::Phase) -> String;
    /// The migrated thing's name (cluster, deployment), for titles.
    fn target_name(t: &Self::Target) -> String;
    /// What the reviewer's view counts objects per, in the singular (e.g. "namespace"), and
    /// where the value comes from (e.g. "tag ncp/project"): see [`KindAction::tally`]. A kind
    /// may answer per plan (a TAS foundation's plan counts per org and space).
    fn group_label(plan: &Plan<Self>) -> (&'static str, &'static str);
    /// `[target]` and `[requirements]` as labelled rows for `show`'s header.
    fn header_rows(plan: &Plan<Self>) -> Vec<(&'static str, String)>;
    /// Addresses in the target that must not carry credentials: (JSON pointer, address).
    fn addresses(t: &Self::Target) -> Vec<(&'static str, &str)>;
    /// The kind's semantic checks (the envelope's are done already). Pointers are absolute.
    fn check(plan: &Plan<Self>, out: &mut Vec<Problem>);
    /// The plan, when `any` is of this kind.
    fn from_any(any: AnyPlan) -> Option<Plan<Self>>;
    fn into_any(plan: Plan<Self>) -> AnyPlan;
}

/// A kind's phases: a closed, ordered set.
pub trait KindPhase:
    Debug
    + Clone
    + Copy
    + PartialEq
    + Eq
    + PartialOrd
    + Ord
    + Hash
    + Serialize
    + DeserializeOwned
    + JsonSchema
    + Send
    + Sync
    + 'static
{
    /// Every phase, in the order they run.
    const ALL: &'static [Self];
    fn as_str(self) -> &'static str;
    /// What the phase does, for a reviewer.
    fn title(self) -> &'static str;
}

/// A kind's step actions.
pub trait KindAction: Payload {
    type Phase: KindPhase;
    /// The phase this kind of action belongs to.
    fn phase(&self) -> Self::Phase;
    /// The action's `kind` string in the plan.
    fn kind_str(&self) -> &'static str;
    /// One-line description.
    fn describe(&self) -> String;
    /// Why the step is planned, when the action says.
    fn reason(&self) -> Option<&str> {
        None
    }
    /// The lines under a step in `show`: objects it touches, diffs it makes.
    fn details(&self) -> Vec<Detail> {
        Vec::new()
    }
    /// Extra fields for the step in `show --format json`.
    fn json_extra(&self) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }
    /// Whether the reviewer's view (`show` without `--full`) lists this step one by one, with
    /// its details, instead of only counting it: for the rare steps a reviewer must read
    /// (firewall moves, deletions, cutovers).
    fn itemised(&self) -> bool {
        false
    }
    /// What the reviewer's view counts for this step: objects per type and group. The default
    /// counts the step as one object of its action kind, in no group.
    fn tally(&self) -> Vec<Tally> {
        vec![Tally {
            what: self.kind_str().to_string(),
            group: None,
            objects: 1,
        }]
    }
    /// Where this step departs from what the kind does by default (a rename, a tag change, a
    /// Policy id other than the Manager id, an object imported for a special reason). The
    /// reviewer's view groups them by `class` and shows one example of each.
    fn departures(&self) -> Vec<Departure> {
        Vec::new()
    }
}

/// Objects a step touches, as the reviewer's view counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The type they are counted as within their phase, e.g. a migration type.
    pub what: String,
    /// The group they belong to (see [`Kind::group_label`]), when the plan says.
    pub group: Option<String>,
    pub objects: u64,
}

/// A change that is not the kind's default, for the reviewer's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// What is grouped on, e.g. "rule tags/lb-vip-pool: tags -ext_pool_id +ncp/ip_pool_id".
    pub class: String,
    /// One instance, e.g. the object and its before/after.
    pub example: String,
}

/// A line under a step in `show`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// An object the step acts on and where it ends up.
    Object {
        resource_type: String,
        display_name: String,
        id: String,
        target: String,
        /// Why, in a few words (may be empty).
        note: String,
    },
    /// A before/after diff (`title` e.g. "display_name", "tags").
    Diff { title: String, lines: Vec<DiffLine> },
    /// A plain remark.
    Note(String),
}

/// A line of a before/after diff: `' '`, `'-'` or `'+'`, the text, and the rule that
/// asked for the change. `None` marks elided unchanged lines.
pub type DiffLine = Option<(char, String, Option<String>)>;

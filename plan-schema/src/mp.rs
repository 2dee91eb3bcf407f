//! The Manager-to-Policy kind (`mp-to-policy`): NCP clusters and TAS foundations whose NSX
//! Manager API objects are imported into the Policy API through the migration coordinator.
//!
//! Its phases are `prepare` (DFW layout through the Manager API), `import` (coordinator
//! batches) and `update` (tags and display names of the imported Policy objects).

use std::collections::{BTreeMap, HashMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use similar::{ChangeTag, TextDiff};

use crate::kind::{Departure, Detail, DiffLine, Kind, KindAction, KindPhase, Tally};
use crate::plan::{KeyValue, MAX_TAGS, MigrationKind, Tag};
use crate::problem::Problem;

fn problem(pointer: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem::semantic(pointer, message)
}

/// The Manager-to-Policy kind.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
pub struct MpToPolicy;

/// A Manager-to-Policy plan.
pub type Plan = crate::plan::Plan<MpToPolicy>;
/// A step of a Manager-to-Policy plan.
pub type Step = crate::plan::Step<MpToPolicy>;
/// The summary of a Manager-to-Policy plan.
pub type Summary = crate::plan::Summary<Counters>;

/// `[target]`: the cluster and its NSX Manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MpTarget")]
pub struct Target {
    /// Kubernetes cluster or TAS foundation name (NCP's `[coe] cluster`).
    #[schemars(length(min = 1))]
    pub cluster: String,
    /// NSX Manager address (host name, IP or URL). Never credentials.
    #[schemars(length(min = 1))]
    pub nsx_manager: String,
    /// NSX version seen when planning (`GET /api/v1/node/version` `node_version`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsx_version: Option<String>,
    /// NCP version found in the user spec or the `ncp/version` tags, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncp_version: Option<String>,
}

/// `[requirements]`: what `apply` re-checks before its first change, as the planner's rules
/// said when the plan was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MpRequirements")]
pub struct Requirements {
    /// Oldest NSX version accepted (dotted numbers).
    #[schemars(regex(pattern = r"^[0-9]+(\.[0-9]+)*$"))]
    pub min_nsx_version: String,
    /// The migration coordinator service must be running.
    pub coordinator_running: bool,
    /// Pods that mean NCP is still running: the import needs it stopped.
    pub controller_pods: PodSelector,
}

/// Which pods are a controller's, and in which phases they count as running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PodSelector {
    /// Namespaces to look in.
    pub namespaces: Vec<String>,
    /// A pod whose name starts with one of these is the controller's.
    pub name_prefixes: Vec<String>,
    /// Pod phases that count as running.
    pub phases: Vec<String>,
}

impl PodSelector {
    /// Whether a pod (namespace, name, phase) is a running controller pod.
    pub fn matches(&self, namespace: &str, name: &str, phase: &str) -> bool {
        self.namespaces.iter().any(|n| n == namespace)
            && self.phases.iter().any(|p| p == phase)
            && self
                .name_prefixes
                .iter()
                .any(|p| name.starts_with(p.as_str()))
    }
}

/// `[summary.changes]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MpCounters")]
pub struct Counters {
    pub dfw_sections_created: u64,
    pub dfw_section_moves: u64,
    pub dfw_rule_moves: u64,
    pub import_batches: u64,
    pub imported_resources: u64,
    pub policy_updates: u64,
}

impl Kind for MpToPolicy {
    const KIND: MigrationKind = MigrationKind::MpToPolicy;
    type Target = Target;
    type Requirements = Requirements;
    type Phase = Phase;
    type Action = Action;
    type Counters = Counters;

    fn counters(steps: &[Step]) -> Counters {
        let mut s = Counters::default();
        for step in steps {
            match &step.action {
                Action::DfwSectionCreate(_) => s.dfw_sections_created += 1,
                Action::DfwSectionMove(_) => s.dfw_section_moves += 1,
                Action::DfwRuleMove(_) => s.dfw_rule_moves += 1,
                Action::ImportBatch(b) => {
                    s.import_batches += 1;
                    s.imported_resources += b.resources.len() as u64;
                }
                Action::PolicyUpdate(_) => s.policy_updates += 1,
            }
        }
        s
    }

    fn counter_pairs(c: &Counters) -> Vec<(&'static str, u64)> {
        vec![
            ("dfw_sections_created", c.dfw_sections_created),
            ("dfw_section_moves", c.dfw_section_moves),
            ("dfw_rule_moves", c.dfw_rule_moves),
            ("import_batches", c.import_batches),
            ("imported_resources", c.imported_resources),
            ("policy_updates", c.policy_updates),
        ]
    }

    fn phase_summary(s: &Counters, phase: Phase) -> String {
        match phase {
            Phase::Prepare => format!(
                "{} section(s) to create, {} section move(s), {} rule move(s)",
                s.dfw_sections_created, s.dfw_section_moves, s.dfw_rule_moves
            ),
            Phase::Import => format!(
                "{} batch(es), {} resource(s)",
                s.import_batches, s.imported_resources
            ),
            Phase::Update => format!("{} Policy object(s)", s.policy_updates),
        }
    }

    fn target_name(t: &Target) -> String {
        t.cluster.clone()
    }

    fn group_label(plan: &Plan) -> (&'static str, &'static str) {
        if plan.inputs.iter().any(|i| i.name == CF_INPUT) {
            ("org/space", "tags ncp/org_id and ncp/space_id")
        } else {
            ("namespace", "tag ncp/project")
        }
    }

    fn header_rows(plan: &Plan) -> Vec<(&'static str, String)> {
        let t = &plan.target;
        let mut versions = Vec::new();
        if let Some(v) = &t.nsx_version {
            versions.push(format!("NSX {v}"));
        }
        if let Some(v) = &t.ncp_version {
            versions.push(format!("NCP {v}"));
        }
        let versions = if versions.is_empty() {
            String::new()
        } else {
            format!(" ({})", versions.join(", "))
        };
        let r = &plan.requirements;
        vec![
            ("cluster", t.cluster.clone()),
            ("NSX Manager", format!("{}{versions}", t.nsx_manager)),
            (
                "requires",
                format!(
                    "NSX {} or later, migration coordinator {}, NCP pods stopped ({} in {})",
                    r.min_nsx_version,
                    if r.coordinator_running {
                        "running"
                    } else {
                        "in any state"
                    },
                    r.controller_pods.name_prefixes.join(", "),
                    r.controller_pods.namespaces.join(", ")
                ),
            ),
        ]
    }

    fn addresses(t: &Target) -> Vec<(&'static str, &str)> {
        vec![("/target/nsx_manager", t.nsx_manager.as_str())]
    }

    fn from_any(any: crate::AnyPlan) -> Option<Plan> {
        match any {
            crate::AnyPlan::MpToPolicy(p) => Some(p),
            _ => None,
        }
    }

    fn into_any(plan: Plan) -> crate::AnyPlan {
        crate::AnyPlan::MpToPolicy(plan)
    }

    fn check(plan: &Plan, out: &mut Vec<Problem>) {
        check_rule_refs(plan, out);
        check_steps(plan, out);
    }
}

impl KindPhase for Phase {
    const ALL: &'static [Phase] = &[Phase::Prepare, Phase::Import, Phase::Update];

    fn as_str(self) -> &'static str {
        Phase::as_str(self)
    }

    fn title(self) -> &'static str {
        match self {
            Phase::Prepare => {
                "fix the DFW layout through the Manager API, before anything is imported"
            }
            Phase::Import => "import into Policy through the migration coordinator",
            Phase::Update => "update tags and display names of the imported Policy objects",
        }
    }
}

impl KindAction for Action {
    type Phase = Phase;

    fn phase(&self) -> Phase {
        Action::phase(self)
    }

    fn kind_str(&self) -> &'static str {
        Action::kind_str(self)
    }

    fn describe(&self) -> String {
        match self {
            Action::DfwSectionCreate(c) => format!(
                "create {} section \"{}\" {}",
                c.section_type,
                c.display_name,
                position(c.operation, c.anchor.as_ref().map(section_ref))
            ),
            Action::DfwSectionMove(m) => format!(
                "move section {} {}",
                section_ref(&m.section),
                position(m.operation, m.anchor.as_ref().map(section_ref))
            ),
            Action::DfwRuleMove(m) => {
                let pos = match (m.operation, &m.anchor_rule) {
                    (InsertOp::InsertTop, _) => "at its top".to_string(),
                    (InsertOp::InsertBottom, _) => "at its bottom".to_string(),
                    (op, Some(a)) => {
                        format!("{} rule {}", op.as_str().replace('_', " "), short(a))
                    }
                    (op, None) => op.as_str().to_string(),
                };
                format!(
                    "move rule \"{}\" ({}) from section {} to section {} {}",
                    m.display_name,
                    short(&m.rule_id),
                    section_ref(&m.from_section),
                    section_ref(&m.to_section),
                    pos
                )
            }
            Action::ImportBatch(b) => {
                let n = b.resources.len();
                format!(
                    "import {} batch {}: {} resource{}",
                    b.migration_type.as_str(),
                    b.batch,
                    n,
                    if n == 1 { "" } else { "s" }
                )
            }
            Action::PolicyUpdate(u) => format!("update {} {}", u.resource_type, u.path),
        }
    }

    fn reason(&self) -> Option<&str> {
        match self {
            Action::DfwSectionCreate(c) => Some(&c.reason),
            Action::DfwSectionMove(m) => Some(&m.reason),
            Action::DfwRuleMove(m) => Some(&m.reason),
            _ => None,
        }
    }

    fn details(&self) -> Vec<Detail> {
        match self {
            Action::ImportBatch(b) => b
                .principal_identity
                .iter()
                .map(|pi| {
                    Detail::Note(format!(
                        "owned by principal identity {pi} (setup_details): protected, later updates send X-Allow-Overwrite"
                    ))
                })
                .chain(b.resources.iter().map(|r| Detail::Object {
                    resource_type: r.resource_type.clone(),
                    display_name: r.display_name.clone(),
                    id: r.manager_id.clone(),
                    target: r
                        .policy_path
                        .as_deref()
                        .or(r.policy_id.as_deref())
                        .unwrap_or("(Policy id chosen by NSX)")
                        .to_string(),
                    note: import_why(r),
                }))
                .collect(),
            Action::PolicyUpdate(u) => {
                let mut out = Vec::new();
                if let Some(d) = &u.display_name {
                    out.push(Detail::Diff {
                        title: "display_name".into(),
                        lines: vec![
                            Some(('-', d.from.clone(), None)),
                            Some(('+', d.to.clone(), Some(d.rule.clone()))),
                        ],
                    });
                }
                if !u.tags_add.is_empty() || !u.tags_remove.is_empty() {
                    out.push(Detail::Diff {
                        title: "tags".into(),
                        lines: tag_diff(u),
                    });
                }
                out
            }
            _ => Vec::new(),
        }
    }

    fn json_extra(&self) -> Vec<(&'static str, serde_json::Value)> {
        match self {
            Action::PolicyUpdate(u) => vec![(
                "tags_after",
                serde_json::to_value(u.tags_after()).unwrap_or_default(),
            )],
            _ => Vec::new(),
        }
    }

    /// Firewall layout changes are few and each changes what traffic is allowed: listed.
    fn itemised(&self) -> bool {
        matches!(
            self,
            Action::DfwSectionCreate(_) | Action::DfwSectionMove(_) | Action::DfwRuleMove(_)
        )
    }

    fn tally(&self) -> Vec<Tally> {
        let (what, group, objects) = match self {
            Action::DfwSectionCreate(_) => ("DFW section create".to_string(), None, 1),
            Action::DfwSectionMove(_) => ("DFW section move".to_string(), None, 1),
            Action::DfwRuleMove(_) => ("DFW rule move".to_string(), None, 1),
            // Per namespace, from the tags each imported object carries.
            Action::ImportBatch(b) => {
                let mut groups: BTreeMap<Option<String>, u64> = BTreeMap::new();
                for r in &b.resources {
                    let tags = r
                        .tags
                        .iter()
                        .flatten()
                        .map(|t| (t.0.as_str(), t.1.as_str()));
                    *groups.entry(group_of(tags)).or_default() += 1;
                }
                return groups
                    .into_iter()
                    .map(|(group, objects)| Tally {
                        what: b.migration_type.as_str().to_string(),
                        group,
                        objects,
                    })
                    .collect();
            }
            Action::PolicyUpdate(u) => (
                u.resource_type.clone(),
                group_of(
                    u.tags_before
                        .iter()
                        .map(|t| (t.scope.as_str(), t.tag.as_str())),
                ),
                1,
            ),
        };
        vec![Tally {
            what,
            group,
            objects,
        }]
    }

    fn departures(&self) -> Vec<Departure> {
        match self {
            Action::ImportBatch(b) => import_departures(b),
            Action::PolicyUpdate(u) => update_departures(u),
            _ => Vec::new(),
        }
    }
}

/// The tag whose value is a Kubernetes object's namespace on NCP's objects (`ncp/project`).
const GROUP_TAG: &str = "ncp/project";
/// The tags NCP for TAS puts on an app's objects: its org and space (the planner's
/// `[tas] org_tag_scope` and `space_tag_scope` defaults; inferred, see docs/rules.md).
const ORG_TAG: &str = "ncp/org_id";
const SPACE_TAG: &str = "ncp/space_id";
/// The input a TAS foundation's plan has (its Cloud Foundry side).
const CF_INPUT: &str = "cloud-foundry";

/// The reviewer's group of an object: its namespace, or for a TAS foundation its org and
/// space; `None` for cluster-wide objects.
fn group_of<'a>(tags: impl Iterator<Item = (&'a str, &'a str)>) -> Option<String> {
    let (mut org, mut space) = (None, None);
    for (scope, tag) in tags {
        match scope {
            GROUP_TAG => return Some(tag.to_string()),
            ORG_TAG => org = Some(tag),
            SPACE_TAG => space = Some(tag),
            _ => {}
        }
    }
    match (org, space) {
        (Some(o), Some(s)) => Some(format!("org {o} / space {s}")),
        (Some(o), None) => Some(format!("org {o}")),
        (None, Some(s)) => Some(format!("space {s}")),
        (None, None) => None,
    }
}

/// What a reviewer should not miss in an import batch: a principal identity other than NSX's
/// default, objects imported for a reason other than the cluster tag, and Policy ids other than
/// the Manager id (the coordinator's default).
fn import_departures(b: &ImportBatch) -> Vec<Departure> {
    let mt = b.migration_type.as_str();
    let mut out = Vec::new();
    if let Some(pi) = &b.principal_identity {
        out.push(Departure {
            class: format!("{mt} objects owned by principal identity \"{pi}\""),
            example: format!("{mt} batch {}", b.batch),
        });
    }
    for r in &b.resources {
        let object = format!(
            "{} \"{}\" {}",
            r.resource_type, r.display_name, r.manager_id
        );
        if let Some(scope @ (ImportScope::UserSpec | ImportScope::SharedSwitchPort)) = r.scope {
            out.push(Departure {
                class: format!("{mt} imported because: {}", scope.describe()),
                example: object.clone(),
            });
        }
        if let Some(id) = &r.policy_id
            && *id != r.manager_id
        {
            let rule = r
                .rule
                .as_deref()
                .map(|r| format!("rule {r}"))
                .unwrap_or_else(|| "no rule named".to_string());
            out.push(Departure {
                class: format!("{mt} Policy id other than the Manager id ({rule})"),
                example: format!(
                    "{object} -> {}",
                    r.policy_path.as_deref().unwrap_or(id.as_str())
                ),
            });
        }
    }
    out
}

/// Every change of a Policy update departs from the imported object: renames per rule, and tag
/// changes per rule and the scopes they add and remove.
fn update_departures(u: &PolicyUpdate) -> Vec<Departure> {
    let mut out = Vec::new();
    if let Some(d) = &u.display_name {
        out.push(Departure {
            class: format!("rule {}: display_name of {}", d.rule, u.resource_type),
            example: format!("\"{}\" -> \"{}\" ({})", d.from, d.to, u.path),
        });
    }
    let mut rules: Vec<&str> = Vec::new();
    for c in u.tags_remove.iter().chain(&u.tags_add) {
        if !rules.contains(&c.rule.as_str()) {
            rules.push(&c.rule);
        }
    }
    for rule in rules {
        let removed = u.tags_remove.iter().filter(|c| c.rule == rule);
        let added = u.tags_add.iter().filter(|c| c.rule == rule);
        let scopes: Vec<String> = removed
            .clone()
            .map(|c| format!("-{}", c.scope))
            .chain(added.clone().map(|c| format!("+{}", c.scope)))
            .collect();
        let example: Vec<String> = removed
            .map(|c| format!("- {} = {}", c.scope, c.tag))
            .chain(added.map(|c| format!("+ {} = {}", c.scope, c.tag)))
            .collect();
        out.push(Departure {
            class: format!(
                "rule {rule}: tags of {} ({})",
                u.resource_type,
                scopes.join(" ")
            ),
            example: format!("{} ({})", example.join(", "), u.path),
        });
    }
    out
}

fn section_ref(r: &SectionRef) -> String {
    match (&r.id, &r.created_by) {
        (Some(id), _) => format!("\"{}\" ({})", r.display_name, short(id)),
        (None, Some(step)) => format!("\"{}\" (created by {step})", r.display_name),
        (None, None) => format!("\"{}\"", r.display_name),
    }
}

fn position(op: InsertOp, anchor: Option<String>) -> String {
    match (op, anchor) {
        (InsertOp::InsertTop, _) => "at the top of the DFW".to_string(),
        (InsertOp::InsertBottom, _) => "at the bottom of the DFW".to_string(),
        (InsertOp::InsertBefore, Some(a)) => format!("before {a}"),
        (InsertOp::InsertAfter, Some(a)) => format!("after {a}"),
        (op, None) => op.as_str().to_string(),
    }
}

/// Why an object is imported and which rule chose its Policy id, e.g.
/// `cluster tag; id by rule policy-id/ncp-owned-mp-id` (empty for plans that do not say).
fn import_why(r: &ImportResource) -> String {
    let mut parts = Vec::new();
    if let Some(s) = r.scope {
        parts.push(s.describe().to_string());
    }
    if let Some(rule) = &r.rule {
        parts.push(format!("id by rule {rule}"));
    }
    parts.join("; ")
}

/// Rules referenced by changes must be explained in `[[rules]]`.
fn check_rule_refs(plan: &Plan, out: &mut Vec<Problem>) {
    let rule_ids: HashSet<&str> = plan.rules.iter().map(|r| r.id.as_str()).collect();
    for (i, step) in plan.steps.iter().enumerate() {
        if let Action::ImportBatch(b) = &step.action {
            for (j, r) in b.resources.iter().enumerate() {
                let Some(rule) = &r.rule else { continue };
                let pointer = format!("/steps/{i}/action/resources/{j}/rule");
                if !rule_ids.contains(rule.as_str()) {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` is not listed in [[rules]]"),
                    ));
                } else if r.policy_id.is_none() {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` names no Policy id: the object has no `policy_id`"),
                    ));
                }
            }
        }
        if let Action::PolicyUpdate(u) = &step.action {
            let base = format!("/steps/{i}/action");
            let mut refs: Vec<(String, &str)> = Vec::new();
            for (j, t) in u.tags_add.iter().enumerate() {
                refs.push((format!("{base}/tags_add/{j}/rule"), &t.rule));
            }
            for (j, t) in u.tags_remove.iter().enumerate() {
                refs.push((format!("{base}/tags_remove/{j}/rule"), &t.rule));
            }
            if let Some(d) = &u.display_name {
                refs.push((format!("{base}/display_name/rule"), &d.rule));
            }
            for (pointer, rule) in refs {
                if !rule_ids.contains(rule) {
                    out.push(problem(
                        pointer,
                        format!("rule `{rule}` is not listed in [[rules]]"),
                    ));
                }
            }
        }
    }
}

/// Per-action checks, and each MP object imported once per migration type.
fn check_steps(plan: &Plan, out: &mut Vec<Problem>) {
    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    for (i, step) in plan.steps.iter().enumerate() {
        check_action(plan, i, step, &index, out);
    }
    // Each MP object is imported at most once per migration type (router-port and router-config
    // types are keyed by their router's id, which its TIER0/TIER1 import uses too), and each
    // (type, batch) is unique.
    let mut seen_ids: HashMap<(MigrationType, &str), &str> = HashMap::new();
    let mut seen_batches = HashSet::new();
    for (i, step) in plan.steps.iter().enumerate() {
        if let Action::ImportBatch(b) = &step.action {
            if !seen_batches.insert((b.migration_type, b.batch)) {
                out.push(problem(
                    format!("/steps/{i}/action/batch"),
                    format!(
                        "{} batch {} appears twice",
                        b.migration_type.as_str(),
                        b.batch
                    ),
                ));
            }
            for (j, r) in b.resources.iter().enumerate() {
                if let Some(other) = seen_ids.insert((b.migration_type, &r.manager_id), &step.id) {
                    out.push(problem(
                        format!("/steps/{i}/action/resources/{j}/manager_id"),
                        format!(
                            "manager id {} is already imported as {} by step `{other}`",
                            r.manager_id,
                            b.migration_type.as_str()
                        ),
                    ));
                }
                if let Some(p) = &r.policy_path
                    && !p.starts_with("/infra/")
                {
                    out.push(problem(
                        format!("/steps/{i}/action/resources/{j}/policy_path"),
                        format!("policy_path `{p}` must start with /infra/"),
                    ));
                }
            }
        }
    }
}

fn check_section_ref(
    r: &SectionRef,
    pointer: &str,
    step: &Step,
    plan: &Plan,
    index: &HashMap<&str, usize>,
    out: &mut Vec<Problem>,
) {
    match (&r.id, &r.created_by) {
        (Some(_), None) => {}
        (None, Some(creator)) => match index.get(creator.as_str()) {
            Some(&c) if matches!(plan.steps[c].action, Action::DfwSectionCreate(_)) => {
                if !step.depends_on.iter().any(|d| d == creator) {
                    out.push(problem(
                        format!("{pointer}/created_by"),
                        format!(
                            "step `{}` uses the section created by `{creator}` but does not depend on it",
                            step.id
                        ),
                    ));
                }
            }
            Some(_) => out.push(problem(
                format!("{pointer}/created_by"),
                format!("`{creator}` is not a dfw_section_create step"),
            )),
            None => out.push(problem(
                format!("{pointer}/created_by"),
                format!("unknown step `{creator}`"),
            )),
        },
        _ => out.push(problem(
            pointer.to_string(),
            "a section reference needs exactly one of `id` and `created_by`",
        )),
    }
}

fn check_action(
    plan: &Plan,
    i: usize,
    step: &Step,
    index: &HashMap<&str, usize>,
    out: &mut Vec<Problem>,
) {
    let base = format!("/steps/{i}/action");
    let anchor_check = |op: InsertOp, has_anchor: bool, field: &str, out: &mut Vec<Problem>| {
        if op.needs_anchor() && !has_anchor {
            out.push(problem(
                format!("{base}/operation"),
                format!("{} needs `{field}`", op.as_str()),
            ));
        } else if !op.needs_anchor() && has_anchor {
            out.push(problem(
                format!("{base}/{field}"),
                format!("{} takes no `{field}`", op.as_str()),
            ));
        }
    };
    match &step.action {
        Action::DfwSectionCreate(c) => {
            anchor_check(c.operation, c.anchor.is_some(), "anchor", out);
            if let Some(a) = &c.anchor {
                check_section_ref(a, &format!("{base}/anchor"), step, plan, index, out);
            }
        }
        Action::DfwSectionMove(m) => {
            anchor_check(m.operation, m.anchor.is_some(), "anchor", out);
            check_section_ref(
                &m.section,
                &format!("{base}/section"),
                step,
                plan,
                index,
                out,
            );
            if m.section.id.is_none() {
                out.push(problem(
                    format!("{base}/section"),
                    "only an existing section (by `id`) can be moved",
                ));
            }
            if let Some(a) = &m.anchor {
                check_section_ref(a, &format!("{base}/anchor"), step, plan, index, out);
                if a.id.is_some() && a.id == m.section.id {
                    out.push(problem(
                        format!("{base}/anchor"),
                        "a section cannot be its own anchor",
                    ));
                }
            }
        }
        Action::DfwRuleMove(m) => {
            anchor_check(m.operation, m.anchor_rule.is_some(), "anchor_rule", out);
            check_section_ref(
                &m.from_section,
                &format!("{base}/from_section"),
                step,
                plan,
                index,
                out,
            );
            check_section_ref(
                &m.to_section,
                &format!("{base}/to_section"),
                step,
                plan,
                index,
                out,
            );
            if m.from_section.id.is_some() && m.from_section.id == m.to_section.id {
                out.push(problem(
                    format!("{base}/to_section"),
                    "a rule move needs two different sections",
                ));
            }
        }
        Action::ImportBatch(_) => {}
        Action::PolicyUpdate(u) => check_policy_update(u, &base, out),
    }
}

fn check_policy_update(u: &PolicyUpdate, base: &str, out: &mut Vec<Problem>) {
    if u.tags_add.is_empty() && u.tags_remove.is_empty() && u.display_name.is_none() {
        out.push(problem(base.to_string(), "policy_update changes nothing"));
    }
    for (j, r) in u.tags_remove.iter().enumerate() {
        if !u.tags_before.contains(&r.as_tag()) {
            out.push(problem(
                format!("{base}/tags_remove/{j}"),
                format!(
                    "removes tag {}={} that is not in tags_before",
                    r.scope, r.tag
                ),
            ));
        }
        if u.tags_add
            .iter()
            .any(|a| a.scope == r.scope && a.tag == r.tag)
        {
            out.push(problem(
                format!("{base}/tags_remove/{j}"),
                format!("tag {}={} is both added and removed", r.scope, r.tag),
            ));
        }
    }
    for (j, a) in u.tags_add.iter().enumerate() {
        if u.tags_before.contains(&a.as_tag()) {
            out.push(problem(
                format!("{base}/tags_add/{j}"),
                format!(
                    "adds tag {}={} that is already in tags_before",
                    a.scope, a.tag
                ),
            ));
        }
    }
    let after = u.tags_after().len();
    if after > MAX_TAGS {
        out.push(problem(
            format!("{base}/tags_add"),
            format!("the object would carry {after} tags; NSX allows at most {MAX_TAGS}"),
        ));
    }
    if let Some(d) = &u.display_name
        && d.from == d.to
    {
        out.push(problem(
            format!("{base}/display_name"),
            "display_name change from and to are equal",
        ));
    }
}

/// When a step runs. `prepare` fixes the DFW layout through the Manager API before anything is
/// imported; `import` drives the migration coordinator (seed phase 2); `update` changes tags and
/// display names of the imported Policy objects (seed phase 4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Prepare,
    Import,
    Update,
}

impl Phase {
    pub const ALL: [Phase; 3] = [Phase::Prepare, Phase::Import, Phase::Update];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Import => "import",
            Phase::Update => "update",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Create a firewall section (Manager API), e.g. to receive user rules moved out of NCP's.
    DfwSectionCreate(DfwSectionCreate),
    /// Move a firewall section (`POST /api/v1/firewall/sections/<id>?action=revise&operation=...`).
    DfwSectionMove(DfwSectionMove),
    /// Move a firewall rule to another section.
    DfwRuleMove(DfwRuleMove),
    /// One request to the migration coordinator: one migration type, a batch of MP objects.
    ImportBatch(ImportBatch),
    /// Change tags and/or display_name of one Policy object after import.
    PolicyUpdate(PolicyUpdate),
}

impl Action {
    /// The phase this kind of action belongs to.
    pub fn phase(&self) -> Phase {
        match self {
            Action::DfwSectionCreate(_) | Action::DfwSectionMove(_) | Action::DfwRuleMove(_) => {
                Phase::Prepare
            }
            Action::ImportBatch(_) => Phase::Import,
            Action::PolicyUpdate(_) => Phase::Update,
        }
    }

    pub fn kind_str(&self) -> &'static str {
        match self {
            Action::DfwSectionCreate(_) => "dfw_section_create",
            Action::DfwSectionMove(_) => "dfw_section_move",
            Action::DfwRuleMove(_) => "dfw_rule_move",
            Action::ImportBatch(_) => "import_batch",
            Action::PolicyUpdate(_) => "policy_update",
        }
    }
}

/// Position operations of the Manager firewall API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InsertOp {
    InsertTop,
    InsertBottom,
    InsertBefore,
    InsertAfter,
}

impl InsertOp {
    pub fn as_str(self) -> &'static str {
        match self {
            InsertOp::InsertTop => "insert_top",
            InsertOp::InsertBottom => "insert_bottom",
            InsertOp::InsertBefore => "insert_before",
            InsertOp::InsertAfter => "insert_after",
        }
    }

    /// Whether the operation needs an anchor (`id=` parameter).
    pub fn needs_anchor(self) -> bool {
        matches!(self, InsertOp::InsertBefore | InsertOp::InsertAfter)
    }
}

/// A firewall section: an existing one by MP id, or one a `dfw_section_create` step of this plan
/// creates (its id is only known once it exists).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionRef {
    /// MP id of an existing section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Id of the `dfw_section_create` step that creates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub display_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwSectionCreate {
    #[schemars(length(min = 1, max = 255))]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `LAYER3` for the DFW sections NCP uses.
    pub section_type: String,
    pub stateful: bool,
    pub operation: InsertOp,
    /// Required for `insert_before` / `insert_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<SectionRef>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwSectionMove {
    pub section: SectionRef,
    /// The section's `_revision` when planned; a different one at apply time means drift.
    pub revision: i64,
    pub operation: InsertOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<SectionRef>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DfwRuleMove {
    pub rule_id: String,
    pub display_name: String,
    pub from_section: SectionRef,
    /// `_revision` of the source section when planned.
    pub from_section_revision: i64,
    pub to_section: SectionRef,
    /// Position inside the target section.
    pub operation: InsertOp,
    /// Anchor rule id inside the target section, for `insert_before` / `insert_after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor_rule: Option<String>,
    pub reason: String,
}

/// Migration types of the NSX migration coordinator (`MPResource.type`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MigrationType {
    Ipblock,
    Ippool,
    IpblockSubnet,
    IppoolAllocation,
    Tier0,
    Tier1,
    SpoofguardProfiles,
    MacdiscoveryProfiles,
    SegmentSecurityProfiles,
    QosProfiles,
    IpdiscoveryProfiles,
    DhcpServer,
    MetadataProxy,
    LogicalSwitch,
    LogicalPort,
    Tier1LogicalRouterPort,
    Tier0LogicalRouterPort,
    Tier0LogicalRouterConfig,
    Nat,
    IpSet,
    NsGroup,
    Certificate,
    Crl,
    LbMonitor,
    LbPool,
    LbPersistenceProfile,
    LbApplicationProfile,
    LbClientSslProfile,
    LbVirtualServer,
    LbService,
    DfwSection,
}

impl MigrationType {
    /// The type the migration API calls `s` (the serialized names are the API's).
    pub fn parse(s: &str) -> Option<MigrationType> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    /// The string the migration API takes.
    pub fn as_str(self) -> &'static str {
        use MigrationType::*;
        match self {
            Ipblock => "IPBLOCK",
            Ippool => "IPPOOL",
            IpblockSubnet => "IPBLOCK_SUBNET",
            IppoolAllocation => "IPPOOL_ALLOCATION",
            Tier0 => "TIER0",
            Tier1 => "TIER1",
            SpoofguardProfiles => "SPOOFGUARD_PROFILES",
            MacdiscoveryProfiles => "MACDISCOVERY_PROFILES",
            SegmentSecurityProfiles => "SEGMENT_SECURITY_PROFILES",
            QosProfiles => "QOS_PROFILES",
            IpdiscoveryProfiles => "IPDISCOVERY_PROFILES",
            DhcpServer => "DHCP_SERVER",
            MetadataProxy => "METADATA_PROXY",
            LogicalSwitch => "LOGICAL_SWITCH",
            LogicalPort => "LOGICAL_PORT",
            Tier1LogicalRouterPort => "TIER1_LOGICAL_ROUTER_PORT",
            Tier0LogicalRouterPort => "TIER0_LOGICAL_ROUTER_PORT",
            Tier0LogicalRouterConfig => "TIER0_LOGICAL_ROUTER_CONFIG",
            Nat => "NAT",
            IpSet => "IP_SET",
            NsGroup => "NS_GROUP",
            Certificate => "CERTIFICATE",
            Crl => "CRL",
            LbMonitor => "LB_MONITOR",
            LbPool => "LB_POOL",
            LbPersistenceProfile => "LB_PERSISTENCE_PROFILE",
            LbApplicationProfile => "LB_APPLICATION_PROFILE",
            LbClientSslProfile => "LB_CLIENT_SSL_PROFILE",
            LbVirtualServer => "LB_VIRTUAL_SERVER",
            LbService => "LB_SERVICE",
            DfwSection => "DFW_SECTION",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBatch {
    pub migration_type: MigrationType,
    /// 1-based batch number within its migration type.
    #[schemars(range(min = 1))]
    pub batch: u32,
    /// `setup_details.principal_identity`: owner of the created Policy objects; NSX's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_identity: Option<String>,
    #[schemars(length(min = 1))]
    pub resources: Vec<ImportResource>,
}

/// One `MPResourceDetails` entry, plus what a reviewer and the staleness check need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportResource {
    #[schemars(length(min = 1))]
    pub manager_id: String,
    /// MP `resource_type`, e.g. `LogicalSwitch`.
    pub resource_type: String,
    /// For reviewers.
    pub display_name: String,
    /// MP `_revision` when planned; a different one at apply time means the plan is stale.
    pub revision: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_path: Option<String>,
    /// The tags the Policy object at `policy_path` carries once imported, as `[scope, tag]`
    /// pairs: the Manager object's tags when planned (a planned update changes them afterwards).
    /// `audit` checks them; absent for entries that make no Policy object of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagPair>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_ids: Vec<KeyValue>,
    /// Why the object is imported (for reviewers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ImportScope>,
    /// The rule (listed in `[[rules]]`) that chose `policy_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// A tag written compactly as `[scope, tag]` (an imported object's tags; one short line each
/// instead of a table).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TagPair(
    #[schemars(length(max = 128))] pub String,
    #[schemars(length(max = 256))] pub String,
);

impl From<&Tag> for TagPair {
    fn from(t: &Tag) -> Self {
        TagPair(t.scope.clone(), t.tag.clone())
    }
}

impl From<&TagPair> for Tag {
    fn from(t: &TagPair) -> Self {
        Tag {
            scope: t.0.clone(),
            tag: t.1.clone(),
        }
    }
}

/// Why an object is part of the import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ImportScope {
    /// It carries the cluster's tag (`ncp/cluster`): NCP created it for this cluster.
    Cluster,
    /// The user spec names it as a shared resource of the cluster.
    UserSpec,
    /// An untagged (admin-created) port of a logical switch the user spec names.
    SharedSwitchPort,
    /// Ports, routes or uplinks of a router in scope, imported as the router's configuration.
    RouterConfig,
}

impl ImportScope {
    /// How a reviewer reads it.
    pub fn describe(self) -> &'static str {
        match self {
            ImportScope::Cluster => "cluster tag",
            ImportScope::UserSpec => "named in the user spec",
            ImportScope::SharedSwitchPort => "port of a shared switch",
            ImportScope::RouterConfig => "configuration of its router",
        }
    }
}

/// A tag to add or remove, with the rule that asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagChange {
    #[schemars(length(max = 128))]
    pub scope: String,
    #[schemars(length(max = 256))]
    pub tag: String,
    pub rule: String,
}

impl TagChange {
    pub fn as_tag(&self) -> Tag {
        Tag {
            scope: self.scope.clone(),
            tag: self.tag.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplayNameChange {
    pub from: String,
    #[schemars(length(min = 1, max = 255))]
    pub to: String,
    pub rule: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyUpdate {
    /// Policy path under `/policy/api/v1`, e.g. `/infra/segments/<id>`.
    #[schemars(regex(pattern = r"^/infra/"))]
    pub path: String,
    /// Policy `resource_type`, e.g. `Segment`.
    pub resource_type: String,
    /// The MP object it was imported from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager_id: Option<String>,
    /// Tags the object is expected to carry before the update (as planned).
    #[serde(default)]
    pub tags_before: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_remove: Vec<TagChange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_add: Vec<TagChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayNameChange>,
}

impl PolicyUpdate {
    /// The tag list after the update: `tags_before` without the removed tags, then the added
    /// ones. Order is kept so that a reviewer's diff shows only real changes.
    pub fn tags_after(&self) -> Vec<Tag> {
        let removed: Vec<Tag> = self.tags_remove.iter().map(TagChange::as_tag).collect();
        let mut out: Vec<Tag> = self
            .tags_before
            .iter()
            .filter(|t| !removed.contains(t))
            .cloned()
            .collect();
        for add in &self.tags_add {
            let t = add.as_tag();
            if !out.contains(&t) {
                out.push(t);
            }
        }
        out
    }
}

fn tag_line(t: &Tag) -> String {
    format!("{} = {}", t.scope, t.tag)
}

/// The before/after diff of a Policy update's tags, with one line of context around changes.
pub fn tag_diff(u: &PolicyUpdate) -> Vec<DiffLine> {
    let before: Vec<String> = u.tags_before.iter().map(tag_line).collect();
    let after: Vec<String> = u.tags_after().iter().map(tag_line).collect();
    let before_refs: Vec<&str> = before.iter().map(String::as_str).collect();
    let after_refs: Vec<&str> = after.iter().map(String::as_str).collect();
    let diff = TextDiff::from_slices(&before_refs, &after_refs);
    let rule_of = |line: &str, removed: bool| -> Option<String> {
        let list = if removed { &u.tags_remove } else { &u.tags_add };
        list.iter()
            .find(|c| tag_line(&c.as_tag()) == line)
            .map(|c| c.rule.clone())
    };
    let mut out = Vec::new();
    let groups = diff.grouped_ops(1);
    let mut shown_until = 0;
    for group in &groups {
        if group
            .first()
            .is_some_and(|op| op.old_range().start > shown_until)
        {
            out.push(None);
        }
        for op in group {
            shown_until = op.old_range().end;
            for change in diff.iter_changes(op) {
                let text = change.value().to_string();
                let line = match change.tag() {
                    ChangeTag::Equal => (' ', text, None),
                    ChangeTag::Delete => {
                        let r = rule_of(&text, true);
                        ('-', text, r)
                    }
                    ChangeTag::Insert => {
                        let r = rule_of(&text, false);
                        ('+', text, r)
                    }
                };
                out.push(Some(line));
            }
        }
    }
    if shown_until < before.len() {
        out.push(None);
    }
    out
}

/// A UUID shortened to its first 8 characters for prose; the full id is in the plan and in JSON
/// output.
fn short(id: &str) -> &str {
    if id.len() == 36 && id.as_bytes().get(8) == Some(&b'-') && id.is_char_boundary(8) {
        &id[..8]
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration type's API name parses back to it, and `as_str` is that name.
    #[test]
    fn migration_type_names_round_trip() {
        let schema = schemars::schema_for!(MigrationType).to_value();
        let names: Vec<&str> = schema["enum"]
            .as_array()
            .expect("an enum of names")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(names.len(), 31);
        for name in names {
            let t = MigrationType::parse(name).expect(name);
            assert_eq!(t.as_str(), name);
        }
        assert_eq!(MigrationType::parse("LOGICAL_SWITCHES"), None);
    }

    #[test]
    fn pod_selector_needs_namespace_prefix_and_phase() {
        let sel = PodSelector {
            namespaces: vec!["nsx-system".into()],
            name_prefixes: vec!["nsx-ncp-".into()],
            phases: vec!["Running".into()],
        };
        assert!(sel.matches("nsx-system", "nsx-ncp-abc", "Running"));
        assert!(!sel.matches("default", "nsx-ncp-abc", "Running"));
        assert!(!sel.matches("nsx-system", "nsx-node-agent", "Running"));
        assert!(!sel.matches("nsx-system", "nsx-ncp-abc", "Succeeded"));
    }
}

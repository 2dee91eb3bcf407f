//! What the planning stages report besides steps: findings and the rules they applied. Each stage
//! returns its own collections; the assembly merges them in the order the stages ran.

use std::collections::{BTreeMap, HashSet};

use plan_schema::{Finding, RuleRef, Severity, Subject};

/// Findings, at most one per id: a finding whose id is already present is dropped (the first one
/// wins), within a collection and when collections are merged.
#[derive(Debug, Clone)]
pub(crate) struct Findings {
    list: Vec<Finding>,
    ids: HashSet<String>,
    /// False for findings that are kept as they are, even when an id repeats (the DFW moves',
    /// which carry their steps).
    dedup: bool,
}

impl Default for Findings {
    fn default() -> Findings {
        Findings::new()
    }
}

impl Findings {
    pub fn new() -> Findings {
        Findings {
            list: Vec::new(),
            ids: HashSet::new(),
            dedup: true,
        }
    }

    /// Findings kept as given, never deduplicated.
    pub fn verbatim(list: Vec<Finding>) -> Findings {
        let ids = list.iter().map(|f| f.id.clone()).collect();
        Findings {
            list,
            ids,
            dedup: false,
        }
    }

    /// Add a finding without steps; its id is `check:subject-id` with unusual characters
    /// replaced.
    pub fn add(
        &mut self,
        severity: Severity,
        check: &str,
        subject: Subject,
        message: String,
        remedy: &str,
    ) {
        let id = format!(
            "{check}:{}",
            subject.id.replace(
                |c: char| !c.is_ascii_alphanumeric() && !"._:/-".contains(c),
                "_"
            )
        );
        if self.ids.contains(&id) {
            return;
        }
        self.ids.insert(id.clone());
        self.list.push(Finding {
            id,
            severity,
            check: check.to_string(),
            subject,
            message,
            remedy: remedy.to_string(),
            steps: Vec::new(),
            code: None,
        });
    }

    /// Merge a later stage's findings after these.
    pub fn append(&mut self, later: Findings) {
        for f in later.list {
            if later.dedup && self.ids.contains(&f.id) {
                continue;
            }
            self.ids.insert(f.id.clone());
            self.list.push(f);
        }
    }

    pub fn into_vec(self) -> Vec<Finding> {
        self.list
    }
}

/// The rules a stage applied, by id; the first description given for an id is kept.
#[derive(Debug, Clone, Default)]
pub(crate) struct RulesUsed(BTreeMap<String, String>);

impl RulesUsed {
    pub fn use_rule(&mut self, id: &str, description: &str) {
        self.0
            .entry(id.to_string())
            .or_insert_with(|| description.to_string());
    }

    /// Merge a later stage's rules after these.
    pub fn append(&mut self, later: RulesUsed) {
        for (id, description) in later.0 {
            self.0.entry(id).or_insert(description);
        }
    }

    pub fn into_refs(self) -> Vec<RuleRef> {
        self.0
            .into_iter()
            .map(|(id, description)| RuleRef { id, description })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(id: &str) -> Subject {
        Subject {
            resource_type: "T".into(),
            id: id.into(),
            display_name: None,
        }
    }

    #[test]
    fn the_first_finding_of_an_id_wins_within_and_across_stages() {
        let mut first = Findings::new();
        first.add(Severity::Error, "c", subject("a b"), "one".into(), "r");
        first.add(Severity::Info, "c", subject("a_b"), "two".into(), "r");
        let mut later = Findings::new();
        later.add(Severity::Warning, "c", subject("a b"), "three".into(), "r");
        later.add(Severity::Warning, "d", subject("x"), "four".into(), "r");
        first.append(later);
        let got: Vec<(String, String)> = first
            .into_vec()
            .into_iter()
            .map(|f| (f.id, f.message))
            .collect();
        assert_eq!(
            got,
            [
                ("c:a_b".into(), "one".into()),
                ("d:x".into(), "four".into())
            ]
        );
    }

    #[test]
    fn verbatim_findings_are_kept_and_block_later_ones() {
        let finding = |id: &str, message: &str| Finding {
            id: id.into(),
            severity: Severity::Warning,
            check: "m".into(),
            subject: subject(id),
            message: message.into(),
            remedy: String::new(),
            steps: vec!["s".into()],
            code: None,
        };
        let mut all = Findings::new();
        all.append(Findings::verbatim(vec![
            finding("m:x", "1"),
            finding("m:x", "2"),
        ]));
        let mut later = Findings::new();
        later.add(Severity::Error, "m", subject("x"), "3".into(), "r");
        all.append(later);
        let messages: Vec<String> = all.into_vec().into_iter().map(|f| f.message).collect();
        assert_eq!(messages, ["1", "2"]);
    }

    #[test]
    fn the_first_description_of_a_rule_wins() {
        let mut a = RulesUsed::default();
        a.use_rule("r", "first");
        a.use_rule("r", "second");
        let mut b = RulesUsed::default();
        b.use_rule("r", "third");
        b.use_rule("q", "other");
        a.append(b);
        let refs: Vec<(String, String)> = a
            .into_refs()
            .into_iter()
            .map(|r| (r.id, r.description))
            .collect();
        assert_eq!(
            refs,
            [("q".into(), "other".into()), ("r".into(), "first".into())]
        );
    }
}

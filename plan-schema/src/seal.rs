//! The plan seal: `plan_id` is a sha256 over the plan's canonical content.
//!
//! Canonical content = the plan serialized as compact JSON (field order of the types, which is
//! fixed) with `plan_id` and `header.created_at` blanked. Two plans made from the same inputs
//! therefore have the same id, and any edit of a step, finding or header field changes it.

use sha2::{Digest, Sha256};

use crate::kind::Kind;
use crate::plan::{Finding, Header, Input, Plan, RuleRef, Step, Summary};

/// The `plan_id` this plan's content hashes to.
pub fn compute_plan_id<K: Kind>(plan: &Plan<K>) -> String {
    // The plan as it serializes, with `plan_id` and `header.created_at` blanked, streamed into
    // the hash without copying the plan (a 100k-object plan is tens of MiB). The destructuring
    // is exhaustive so that a new `Plan` field cannot be left out of the seal.
    let Plan {
        format_version,
        plan_id: _,
        header,
        target,
        requirements,
        inputs,
        summary,
        rules,
        findings,
        steps,
    } = plan;
    let header = Header {
        created_at: String::new(),
        ..header.clone()
    };
    let canonical = Canonical {
        format_version: *format_version,
        plan_id: "",
        header: &header,
        target,
        requirements,
        inputs,
        summary,
        rules,
        findings,
        steps,
    };
    let mut hasher = std::io::BufWriter::with_capacity(1 << 16, Hashing(Sha256::new()));
    // Serializing plain data structs cannot fail (no maps with non-string keys), nor can
    // writing to a hasher.
    let _ = serde_json::to_writer(&mut hasher, &canonical);
    let digest = match hasher.into_inner() {
        Ok(h) => h.0.finalize(),
        Err(e) => e.into_inner().into_parts().0.0.finalize(),
    };
    format!("sha256:{}", hex::encode(digest))
}

/// Bytes written go into the hash.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `Plan` field for field (same names, order and serialization), by reference.
#[derive(serde::Serialize)]
#[serde(bound = "")]
struct Canonical<'a, K: Kind> {
    format_version: u32,
    plan_id: &'a str,
    header: &'a Header,
    target: &'a K::Target,
    requirements: &'a K::Requirements,
    inputs: &'a [Input],
    summary: &'a Summary<K::Counters>,
    rules: &'a [RuleRef],
    findings: &'a [Finding],
    steps: &'a [Step<K>],
}

/// Set `plan_id` from the content (after the planner wrote it, or after a reviewed hand edit).
pub fn seal<K: Kind>(plan: &mut Plan<K>) {
    plan.plan_id = compute_plan_id(plan);
}

/// Lower-case hex sha256 of some bytes (inventory fingerprints use it too).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streamed seal hashes exactly the bytes of the blanked plan's own serialization.
    #[test]
    fn seal_hashes_the_blanked_plan_as_it_serializes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/plans/small-cluster.toml"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let plan: crate::mp::Plan = toml::from_str(&text).unwrap();
        assert!(!plan.steps.is_empty() && !plan.findings.is_empty());
        let mut blanked = plan.clone();
        blanked.plan_id = String::new();
        blanked.header.created_at = String::new();
        let bytes = serde_json::to_vec(&blanked).unwrap();
        assert_eq!(
            compute_plan_id(&plan),
            format!("sha256:{}", sha256_hex(&bytes))
        );
        assert_eq!(compute_plan_id(&plan), plan.plan_id);
    }
}

//! The plan seal: `plan_id` is a sha256 over the plan's canonical content.
//!
//! Canonical content = the plan serialized as compact JSON (field order of the types, which is
//! fixed) with `plan_id` and `header.created_at` blanked. Two plans made from the same inputs
//! therefore have the same id, and any edit of a step, finding or header field changes it.

use sha2::{Digest, Sha256};

use crate::plan::Plan;

/// The `plan_id` this plan's content hashes to.
pub fn compute_plan_id(plan: &Plan) -> String {
    let mut canonical = plan.clone();
    canonical.plan_id = String::new();
    canonical.header.created_at = String::new();
    // Serializing plain data structs to a Vec cannot fail (no maps with non-string keys).
    let bytes = serde_json::to_vec(&canonical).unwrap_or_default();
    format!("sha256:{}", sha256_hex(&bytes))
}

/// Set `plan_id` from the content (after the planner wrote it, or after a reviewed hand edit).
pub fn seal(plan: &mut Plan) {
    plan.plan_id = compute_plan_id(plan);
}

/// Lower-case hex sha256 of some bytes (inventory fingerprints use it too).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

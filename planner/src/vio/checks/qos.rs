//! QoS (anchors 2.1 Q1, Q2).

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    let q = &ctx.r.qos;
    for p in &ctx.s.neutron.qos_policies {
        let what = format!("QoS policy {}", named(&p.name, &p.id));
        for rule in p.rules.iter().filter(|r| r.rule_type == "bandwidth_limit") {
            if let Some(k) = rule.max_kbps
                && k < q.min_max_kbps
            {
                out.add(
                    "Q1",
                    None,
                    Severity::Error,
                    subject("qos_policy", &p.id, &p.name),
                    format!(
                        "{what} limits bandwidth to {k} kbps (rule {}); NSX's lowest rate is {} kbps",
                        rule.id, q.min_max_kbps
                    ),
                    "raise max_kbps to at least the NSX minimum",
                );
            }
            if let Some(b) = rule.max_burst_kbps
                && b > q.max_burst_kbps
            {
                out.add(
                    "Q2",
                    None,
                    Severity::Error,
                    subject("qos_policy", &p.id, &p.name),
                    format!(
                        "{what} allows a burst of {b} kbps (rule {}); NSX's largest is {} kbps",
                        rule.id, q.max_burst_kbps
                    ),
                    "lower max_burst_kbps to the NSX maximum",
                );
            }
        }
    }
}

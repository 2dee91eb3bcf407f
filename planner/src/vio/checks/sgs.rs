//! Security groups (anchors 2.1 S1).

use plan_schema::Severity;

use super::{Ctx, Out, named, subject};

pub(crate) fn check(ctx: &Ctx, out: &mut Out) {
    for sg in &ctx.s.neutron.security_groups {
        if let Some(policy) = sg.policy.as_deref().filter(|p| !p.is_empty()) {
            out.add(
                "S1",
                None,
                Severity::Error,
                subject("security_group", &sg.id, &sg.name),
                format!(
                    "security group {} is bound to NSX-V security policy {policy}; NSX policies \
                     (use_nsx_policies) do not exist in the NSX integration",
                    named(&sg.name, &sg.id)
                ),
                "replace the policy binding with security group rules",
            );
        }
    }
}

//! Prepare phase: DFW section moves, section creation and rule moves through the Manager API.
//! Every step first reads the firewall order / section contents, so a step already done (by a
//! crashed run or by hand) is skipped, never repeated.

use client::Method;
use plan_schema::mp::{DfwRuleMove, DfwSectionCreate, DfwSectionMove, InsertOp, SectionRef, Step};
use serde_json::{Value, json};

use crate::ctx::{Ctx, Write};
use crate::error::ExecError;

const SECTIONS: &str = "/api/v1/firewall/sections";

/// Sections in evaluation order (LAYER3, the type NCP uses).
pub async fn section_order(ctx: &Ctx) -> Result<Vec<Value>, ExecError> {
    Ok(ctx.nsx.list_all(SECTIONS).await?)
}

/// The MP id of a section reference: its id, or the live section with its display name (a
/// section created by this plan).
pub fn resolve(order: &[Value], r: &SectionRef) -> Option<String> {
    if let Some(id) = &r.id {
        return Some(id.clone());
    }
    order
        .iter()
        .find(|s| s["display_name"] == r.display_name.as_str())
        .and_then(|s| s["id"].as_str())
        .map(str::to_string)
}

fn index_of(order: &[Value], id: &str) -> Option<usize> {
    order.iter().position(|s| s["id"] == id)
}

/// Whether section `id` already sits where `op`/`anchor` would put it.
pub fn placed(order: &[Value], id: &str, op: InsertOp, anchor: Option<&str>) -> bool {
    let Some(i) = index_of(order, id) else {
        return false;
    };
    let non_default: Vec<usize> = order
        .iter()
        .enumerate()
        .filter(|(_, s)| s["is_default"] != true)
        .map(|(i, _)| i)
        .collect();
    match op {
        InsertOp::InsertTop => i == 0,
        InsertOp::InsertBottom => non_default.last() == Some(&i),
        InsertOp::InsertAfter => anchor
            .and_then(|a| index_of(order, a))
            .is_some_and(|a| i == a + 1),
        InsertOp::InsertBefore => anchor
            .and_then(|a| index_of(order, a))
            .is_some_and(|a| i + 1 == a),
    }
}

fn op_query(op: InsertOp, anchor: Option<&str>) -> String {
    match anchor {
        Some(a) if op.needs_anchor() => format!("operation={}&id={a}", op.as_str()),
        _ => format!("operation={}", op.as_str()),
    }
}

fn placeholder(r: &SectionRef) -> String {
    format!(
        "<id of section '{}' created by {}>",
        r.display_name,
        r.created_by.as_deref().unwrap_or("?")
    )
}

pub async fn section_move(ctx: &Ctx, step: &Step, m: &DfwSectionMove) -> Result<(), ExecError> {
    for attempt in 0..4 {
        let order = section_order(ctx).await?;
        let id = resolve(&order, &m.section)
            .ok_or_else(|| ExecError::step(&step.id, "the section to move does not exist"))?;
        let anchor = m
            .anchor
            .as_ref()
            .map(|a| resolve(&order, a).unwrap_or_else(|| placeholder(a)));
        if placed(&order, &id, m.operation, anchor.as_deref()) {
            return ctx.step_skipped(&step.id, "section already in place");
        }
        let Some(mut body) = ctx.get_opt(&format!("{SECTIONS}/{id}")).await? else {
            return Err(ExecError::step(&step.id, format!("section {id} not found")));
        };
        if let Some(o) = body.as_object_mut() {
            o.retain(|k, _| !k.starts_with('_') || k == "_revision");
            o.remove("priority");
            o.remove("rule_count");
        }
        let w = Write::post(format!(
            "{SECTIONS}/{id}?action=revise&{}",
            op_query(m.operation, anchor.as_deref())
        ))
        .body(body)
        .overwrite();
        match ctx.write(&step.id, "revise", w).await {
            Ok(_) => return ctx.step_done(&step.id, Some(id)),
            // A stale revision, or an answer lost on the way: re-read and decide again.
            Err(ExecError::Nsx(e))
                if (e.is_stale_revision() || e.is_connection() || e.is_retriable())
                    && attempt < 3 =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    Err(ExecError::step(&step.id, "section kept changing (409)"))
}

pub async fn section_create(ctx: &Ctx, step: &Step, c: &DfwSectionCreate) -> Result<(), ExecError> {
    let mut attempt = 0;
    loop {
        match section_create_once(ctx, step, c).await {
            // The answer was lost: the next round finds the section by name if it was created.
            Err(ExecError::Nsx(e)) if (e.is_connection() || e.is_retriable()) && attempt < 3 => {
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn section_create_once(
    ctx: &Ctx,
    step: &Step,
    c: &DfwSectionCreate,
) -> Result<(), ExecError> {
    let order = section_order(ctx).await?;
    if let Some(s) = order
        .iter()
        .find(|s| s["display_name"] == c.display_name.as_str())
    {
        return ctx.step_skipped(
            &step.id,
            format!(
                "section '{}' exists ({})",
                c.display_name,
                s["id"].as_str().unwrap_or("")
            ),
        );
    }
    let anchor = c
        .anchor
        .as_ref()
        .map(|a| resolve(&order, a).unwrap_or_else(|| placeholder(a)));
    let mut body = json!({
        "display_name": c.display_name,
        "section_type": c.section_type,
        "stateful": c.stateful,
    });
    if let Some(d) = &c.description {
        body["description"] = json!(d);
    }
    let w = Write::post(format!(
        "{SECTIONS}?{}",
        op_query(c.operation, anchor.as_deref())
    ))
    .body(body);
    let created = ctx.write(&step.id, "create", w).await?;
    ctx.step_done(&step.id, created["id"].as_str().map(str::to_string))
}

const RULE_SYSTEM_FIELDS: &[&str] = &[
    "id",
    "_revision",
    "_create_time",
    "_create_user",
    "_last_modified_time",
    "_last_modified_user",
    "_system_owned",
    "_protection",
    "_schema",
    "_self",
    "_links",
    "section_id",
];

pub async fn rule_move(ctx: &Ctx, step: &Step, m: &DfwRuleMove) -> Result<(), ExecError> {
    let mut attempt = 0;
    loop {
        match rule_move_once(ctx, step, m).await {
            // Re-reading both sections tells which half of the move happened.
            Err(ExecError::Nsx(e)) if (e.is_connection() || e.is_retriable()) && attempt < 3 => {
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn rule_move_once(ctx: &Ctx, step: &Step, m: &DfwRuleMove) -> Result<(), ExecError> {
    let order = section_order(ctx).await?;
    let from = resolve(&order, &m.from_section)
        .ok_or_else(|| ExecError::step(&step.id, "the source section does not exist"))?;
    let to = match resolve(&order, &m.to_section) {
        Some(t) => t,
        None if ctx.dry_run() => placeholder(&m.to_section),
        None => {
            return Err(ExecError::step(
                &step.id,
                "the target section does not exist",
            ));
        }
    };
    let src: Vec<Value> = ctx
        .nsx
        .list_all(&format!("{SECTIONS}/{from}/rules"))
        .await?;
    let dst: Vec<Value> = if ctx.dry_run() && to.starts_with('<') {
        Vec::new()
    } else {
        ctx.nsx.list_all(&format!("{SECTIONS}/{to}/rules")).await?
    };
    let in_source = src.iter().find(|r| r["id"] == m.rule_id.as_str()).cloned();
    let in_target = dst
        .iter()
        .any(|r| r["display_name"] == m.display_name.as_str());
    match (in_source, in_target) {
        (None, true) => ctx.step_skipped(&step.id, "rule already moved"),
        (None, false) => Err(ExecError::step(
            &step.id,
            format!(
                "rule {} is neither in section {from} nor (by name '{}') in {to}",
                m.rule_id, m.display_name
            ),
        )),
        (Some(rule), in_target) => {
            if !in_target {
                let mut body = rule.clone();
                if let Some(o) = body.as_object_mut() {
                    for f in RULE_SYSTEM_FIELDS {
                        o.remove(*f);
                    }
                }
                let q = match (&m.anchor_rule, m.operation.needs_anchor()) {
                    (Some(a), true) => format!("operation={}&id={a}", m.operation.as_str()),
                    _ => format!("operation={}", m.operation.as_str()),
                };
                let w = Write::post(format!("{SECTIONS}/{to}/rules?{q}"))
                    .body(body)
                    .overwrite();
                ctx.write(&step.id, "create", w).await?;
            }
            let w = Write::new(
                Method::DELETE,
                format!("{SECTIONS}/{from}/rules/{}", m.rule_id),
            )
            .overwrite();
            ctx.write(&step.id, "delete", w).await?;
            ctx.step_done(&step.id, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement() {
        let order = vec![
            json!({"id": "a"}),
            json!({"id": "b"}),
            json!({"id": "c"}),
            json!({"id": "d", "is_default": true}),
        ];
        assert!(placed(&order, "a", InsertOp::InsertTop, None));
        assert!(placed(&order, "c", InsertOp::InsertBottom, None));
        assert!(!placed(&order, "d", InsertOp::InsertBottom, None));
        assert!(placed(&order, "b", InsertOp::InsertAfter, Some("a")));
        assert!(!placed(&order, "c", InsertOp::InsertAfter, Some("a")));
        assert!(placed(&order, "a", InsertOp::InsertBefore, Some("b")));
        assert!(!placed(&order, "x", InsertOp::InsertTop, None));
    }
}

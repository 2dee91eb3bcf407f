//! The VIO plan's order: a petgraph DAG of the steps' real dependencies, sorted topologically
//! with a deterministic tie-break (phase, then the replay's resource order, then a per-step key,
//! then creation order), so the same snapshot always gives the same plan. A cycle is a planner
//! bug and is reported as such, never papered over by loop order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};

use plan_schema::vio::{Phase, Step};

use crate::error::PlanError;
use crate::vio::steps::Node;

/// The tie-break among ready steps: phase, rank, key, step id, index.
type ReadyKey = Reverse<(Phase, u32, String, String, usize)>;

/// `nodes` in dependency order, as plan steps whose `depends_on` name their direct
/// dependencies (sorted by id).
pub fn order(nodes: Vec<Node>) -> Result<Vec<Step>, PlanError> {
    let mut graph: DiGraph<usize, ()> = DiGraph::with_capacity(nodes.len(), nodes.len() * 2);
    let idx: Vec<NodeIndex> = (0..nodes.len()).map(|i| graph.add_node(i)).collect();
    for (i, n) in nodes.iter().enumerate() {
        for &d in &n.deps {
            if d != i {
                graph.update_edge(idx[d], idx[i], ());
            }
        }
    }
    let key = |i: usize| {
        let n = &nodes[i];
        Reverse((n.action_phase(), n.rank, n.key.clone(), n.id.clone(), i))
    };
    let mut indegree: Vec<usize> = idx
        .iter()
        .map(|&x| graph.neighbors_directed(x, Direction::Incoming).count())
        .collect();
    let mut ready: BinaryHeap<ReadyKey> = (0..nodes.len())
        .filter(|&i| indegree[i] == 0)
        .map(key)
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(Reverse((_, _, _, _, i))) = ready.pop() {
        order.push(i);
        for next in graph.neighbors_directed(idx[i], Direction::Outgoing) {
            let j = graph[next];
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(key(j));
            }
        }
    }
    if order.len() != nodes.len() {
        let stuck: Vec<&str> = (0..nodes.len())
            .filter(|&i| indegree[i] > 0)
            .take(5)
            .map(|i| nodes[i].id.as_str())
            .collect();
        return Err(PlanError::Invalid(format!(
            "the VIO step dependencies form a cycle (through {})",
            stuck.join(", ")
        )));
    }
    let ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
    let mut slots: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
    let mut steps = Vec::with_capacity(order.len());
    for i in order {
        let Some(n) = slots[i].take() else { continue };
        let mut depends_on: Vec<String> = n
            .deps
            .iter()
            .filter(|&&d| d != i)
            .map(|&d| ids[d].clone())
            .collect();
        depends_on.sort();
        depends_on.dedup();
        steps.push(Step {
            id: n.id,
            phase: plan_schema::KindAction::phase(&n.action),
            depends_on,
            action: n.action,
        });
    }
    Ok(steps)
}

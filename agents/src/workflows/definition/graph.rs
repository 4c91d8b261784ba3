//! The graph of a definition: its order (a cycle is refused, naming it)
//! and each node's ancestors, the nodes a template of it may read.

use std::collections::BTreeSet;

use super::{DefinitionError, at_node};

/// Kahn's algorithm, ties in definition order (so a run's step order is
/// reproducible); a cycle is refused naming its first node and the cycle.
pub(super) fn topological(names: &[&str], pairs: &[(usize, usize)]) -> Result<Vec<usize>, DefinitionError> {
    let n = names.len();
    let mut indegree = vec![0usize; n];
    for (_, to) in pairs {
        indegree[*to] += 1;
    }
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while let Some(next) = (0..n).find(|i| !placed[*i] && indegree[*i] == 0) {
        placed[next] = true;
        order.push(next);
        for (from, to) in pairs {
            if *from == next {
                indegree[*to] -= 1;
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every node left has a predecessor that is left too: walking back
    // through them must come round to a node already walked.
    let start = (0..n).find(|i| !placed[*i]).unwrap_or_default();
    let mut walked = vec![start];
    let mut current = start;
    while let Some((previous, _)) = pairs.iter().find(|(from, to)| *to == current && !placed[*from]) {
        if let Some(at) = walked.iter().position(|w| w == previous) {
            // walked[at..] runs against the edges: walked[k + 1] → walked[k].
            let mut cycle: Vec<usize> = vec![walked[at]];
            cycle.extend(walked[at + 1..].iter().rev());
            let first = cycle.iter().enumerate().min_by_key(|(_, node)| **node).map_or(0, |(i, _)| i);
            cycle.rotate_left(first);
            let named = cycle[0];
            cycle.push(named);
            let shown: Vec<&str> = cycle.iter().map(|i| names[*i]).collect();
            return Err(at_node(names[named], format!("is part of a cycle: {}", shown.join(" → "))));
        }
        walked.push(*previous);
        current = *previous;
    }
    Err(at_node(names[start], "is part of a cycle"))
}

/// Each node's ancestors (every node a path of edges leads from).
pub(super) fn ancestors(n: usize, order: &[usize], pairs: &[(usize, usize)]) -> Vec<BTreeSet<usize>> {
    let mut ancestors: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for node in order {
        let mut found = BTreeSet::new();
        for (from, to) in pairs {
            if to == node {
                found.insert(*from);
                found.extend(ancestors[*from].iter().copied());
            }
        }
        ancestors[*node] = found;
    }
    ancestors
}

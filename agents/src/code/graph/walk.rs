//! The shared walk over a syntax tree: a cursor-driven loop, no recursion,
//! so nesting depth cannot overflow the stack. It keeps what tree-sitter
//! would otherwise recompute from the root on every question (a node's
//! parent and previous siblings cost a descent from the root each, which
//! would make large generated files quadratic): the visited node's
//! ancestors, and the comments and attributes just before it and before
//! each ancestor.

use tree_sitter::Node;

use super::record::FileCx;

/// At most this many comments and attributes are kept before a node.
const MAX_TRIVIA: usize = 64;

/// Whether to walk into a node's children.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Walk {
    /// Walk its children.
    Descend,
    /// Skip its subtree.
    Skip,
}

/// A language's visitor: called once per node, in document order.
pub(super) type Visit = for<'t, 'w, 'a, 'c, 'x> fn(Node<'t>, &'a Around<'t, 'w>, &'c mut FileCx<'x>) -> Walk;

/// One level of the walk: the siblings being visited.
#[derive(Default)]
pub(super) struct Level<'t> {
    /// Comments and attributes since the last other sibling.
    pending: Vec<Node<'t>>,
    /// Those right before the sibling visited last (or being visited).
    before: Vec<Node<'t>>,
}

/// Where the visited node is.
pub(super) struct Around<'t, 'w> {
    node: Node<'t>,
    ancestors: &'w [Node<'t>],
    levels: &'w [Level<'t>],
}

impl<'t> Around<'t, '_> {
    /// The node `up` levels above the visited one: 1 its parent, 2 its
    /// grandparent (0 the node itself).
    pub(super) fn ancestor(&self, up: usize) -> Option<Node<'t>> {
        if up == 0 {
            return Some(self.node);
        }
        self.ancestors.len().checked_sub(up).and_then(|index| self.ancestors.get(index)).copied()
    }

    /// The comments right above the node `up` levels above the visited one,
    /// top first: its previous siblings while they are comments (or
    /// attributes, decorators, stepped over) on adjacent lines.
    pub(super) fn comments_above(&self, up: usize) -> Vec<Node<'t>> {
        let level = self.levels.len().checked_sub(up + 1).and_then(|index| self.levels.get(index));
        let (Some(level), Some(node)) = (level, self.ancestor(up)) else { return Vec::new() };
        let mut row = node.start_position().row;
        let mut comments = Vec::new();
        for trivia in level.before.iter().rev() {
            if trivia.end_position().row.saturating_add(1) < row {
                break;
            }
            if trivia.kind().ends_with("comment") {
                comments.push(*trivia);
            }
            row = trivia.start_position().row;
        }
        comments.reverse();
        comments
    }
}

/// Comments, attributes and decorators: what documents the next sibling.
fn is_trivia(kind: &str) -> bool {
    kind.ends_with("comment") || matches!(kind, "attribute_item" | "decorator")
}

/// Visits `root` and every node under it in document order.
pub(super) fn walk(root: Node<'_>, cx: &mut FileCx<'_>, visit: Visit) {
    let mut cursor = root.walk();
    let mut ancestors: Vec<Node<'_>> = Vec::new();
    let mut levels: Vec<Level<'_>> = vec![Level::default()];
    loop {
        cx.enter(ancestors.len());
        let node = cursor.node();
        if let Some(level) = levels.last_mut() {
            if is_trivia(node.kind()) {
                if level.pending.len() >= MAX_TRIVIA {
                    level.pending.remove(0);
                }
                level.pending.push(node);
            } else {
                level.before = std::mem::take(&mut level.pending);
            }
        }
        let around = Around { node, ancestors: &ancestors, levels: &levels };
        if visit(node, &around, cx) == Walk::Descend && cursor.goto_first_child() {
            ancestors.push(node);
            levels.push(Level::default());
            continue;
        }
        loop {
            if ancestors.is_empty() {
                return;
            }
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                return;
            }
            ancestors.pop();
            levels.pop();
        }
    }
}

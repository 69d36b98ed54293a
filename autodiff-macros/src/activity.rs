//! Activity analysis: which values depend on an active parameter.
//!
//! Only active values get adjoints (reverse mode) or tangents (forward mode). A node is active
//! when it is a float (or a constant of unknown type) computed from an active value; a variable
//! is active when any value stored in it is. Loops make the two depend on each other (a variable
//! assigned at the end of an iteration is read at the start of the next), so the analysis
//! iterates to a fixed point; it only ever turns values on, so it ends.

use crate::graph::{Block, Graph, Op, Stmt, Ty};

pub fn analyse(graph: &mut Graph) {
    loop {
        let mut changed = false;
        for i in 0..graph.nodes.len() {
            let node = &graph.nodes[i];
            let active = matches!(node.ty, Ty::Float(_) | Ty::Other)
                && match node.op {
                    // An array parameter's values are read through its variable.
                    Op::Param(p) => graph.params[p].active && graph.params[p].var.is_none(),
                    Op::Read(v) | Op::Load(v) | Op::Array(v, _) => graph.vars[v.0].active,
                    _ => node.args.iter().any(|a| graph.nodes[a.0].active),
                };
            if active && !node.active {
                graph.nodes[i].active = true;
                changed = true;
            }
        }
        for p in &graph.params {
            if let Some(v) = p.var
                && p.active
                && !graph.vars[v.0].active
            {
                graph.vars[v.0].active = true;
                changed = true;
            }
        }
        changed |= stores(graph, &graph.body.clone());
        if !changed {
            break;
        }
    }
}

/// Marks the variables that an active value is stored in; whether any changed.
fn stores(graph: &mut Graph, block: &Block) -> bool {
    let mut changed = false;
    for stmt in &block.0 {
        let (var, value) = match stmt {
            Stmt::Declare(v, Some(n)) | Stmt::Assign(v, n) => (*v, *n),
            Stmt::Store { var, value, .. } => (*var, *value),
            Stmt::If {
                then, otherwise, ..
            } => {
                changed |= stores(graph, then);
                changed |= stores(graph, otherwise);
                continue;
            }
            Stmt::For { body, .. } => {
                changed |= stores(graph, body);
                continue;
            }
            Stmt::While { cond, body, .. } => {
                changed |= stores(graph, cond);
                changed |= stores(graph, body);
                continue;
            }
            _ => continue,
        };
        let active = graph.nodes[value.0].active;
        if active && !graph.vars[var.0].active {
            graph.vars[var.0].active = true;
            changed = true;
        }
    }
    changed
}

//! Activity analysis: which values depend on an active parameter.
//!
//! Only active values get adjoints (reverse mode) or tangents (forward mode). A node is active
//! when it is a float (or a constant of unknown type) computed from an active value; a variable
//! is active when any value stored in it is. Loops make the two depend on each other (a variable
//! assigned at the end of an iteration is read at the start of the next), so the analysis
//! iterates to a fixed point; it only ever turns values on, so it ends.

//!
//! A local variable whose value never reaches the result through a differentiable operation (an
//! array that is stored into and never read, a variable read only in conditions) is then made
//! inactive, and the analysis runs again without it: its adjoint would be zero, and reversing its
//! stores could only multiply that zero by a local derivative, which is `NaN` where the local
//! derivative is infinite (`sqrt` at `0`).

use crate::hash::HashSet;

use crate::graph::{Block, Graph, NodeId, Op, Stmt, Ty, VarId};

pub fn analyse(graph: &mut Graph) {
    spread(graph, &HashSet::default());
    let useful = useful_variables(graph);
    let unused: HashSet<VarId> = (0..graph.vars.len())
        .map(VarId)
        .filter(|v| {
            let var = &graph.vars[v.0];
            var.active && var.param.is_none() && !useful.contains(v)
        })
        .collect();
    if !unused.is_empty() {
        for node in &mut graph.nodes {
            node.active = false;
        }
        for var in &mut graph.vars {
            var.active = false;
        }
        spread(graph, &unused);
    }
}

/// The fixed point: active values and the variables they are stored in, except `excluded`.
fn spread(graph: &mut Graph, excluded: &HashSet<VarId>) {
    // The fields of a struct that `wrt` names are active, the struct itself is not.
    let fields: HashSet<NodeId> = graph
        .fields
        .iter()
        .filter(|f| f.active)
        .filter_map(|f| f.node)
        .collect();
    for f in graph.fields.iter().filter(|f| f.active) {
        if let Some(v) = f.var
            && !excluded.contains(&v)
        {
            graph.vars[v.0].active = true;
        }
    }
    loop {
        let mut changed = false;
        for i in 0..graph.nodes.len() {
            let node = &graph.nodes[i];
            let active = matches!(node.ty, Ty::Float(_) | Ty::Other)
                && match node.op {
                    // An array parameter's values are read through its variable.
                    Op::Param(p) => {
                        graph.params[p].active
                            && graph.params[p].var.is_none()
                            && !graph.params[p].fields()
                    }
                    Op::Member(_) if fields.contains(&NodeId(i)) => true,
                    Op::Read(v) | Op::Load(v) | Op::Array(v, _) | Op::Part(v) => {
                        graph.vars[v.0].active
                    }
                    Op::Written(call) => graph.nodes[call.0].active,
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
        changed |= stores(graph, &graph.body.clone(), excluded);
        if !changed {
            break;
        }
    }
}

/// The variables whose values reach the result (or an out-parameter) through operations with a derivative: read by
/// the result, or by a value stored in such a variable, through float arguments (not through
/// conditions or indices).
fn useful_variables(graph: &Graph) -> HashSet<VarId> {
    let mut assigned: Vec<(VarId, NodeId)> = Vec::new();
    collect_stores(&graph.body, &mut assigned);
    // What an out-parameter holds is an output, as the result is.
    let mut useful: HashSet<VarId> = graph
        .params
        .iter()
        .filter(|p| p.out())
        .filter_map(|p| p.var)
        .collect();
    loop {
        let mut reaches = vec![false; graph.nodes.len()];
        reaches[graph.output.0] = true;
        for &(v, n) in &assigned {
            if useful.contains(&v) {
                reaches[n.0] = true;
            }
        }
        let before = useful.len();
        for i in (0..graph.nodes.len()).rev() {
            if !reaches[i] {
                continue;
            }
            let node = &graph.nodes[i];
            if let Op::Read(v) | Op::Load(v) | Op::Array(v, _) | Op::Part(v) = node.op {
                useful.insert(v);
            }
            // A buffer a call writes reaches what the call's inputs reach.
            if let Op::Written(call) = node.op {
                reaches[call.0] = true;
            }
            for (k, a) in node.args.iter().enumerate() {
                let condition = matches!(node.op, Op::Select) && k == 0;
                let carries = matches!(graph.nodes[a.0].ty, Ty::Float(_) | Ty::Other);
                if carries && !condition {
                    reaches[a.0] = true;
                }
            }
        }
        if useful.len() == before {
            return useful;
        }
    }
}

/// Every `(variable, value)` a statement stores, at any depth.
fn collect_stores(block: &Block, into: &mut Vec<(VarId, NodeId)>) {
    block.for_each_stmt(|stmt| match stmt {
        Stmt::Declare(v, Some(n)) | Stmt::Assign(v, n) => into.push((*v, *n)),
        Stmt::Store { var, value, .. } => into.push((*var, *value)),
        _ => {}
    });
}

/// Marks the variables that an active value is stored in; whether any changed.
fn stores(graph: &mut Graph, block: &Block, excluded: &HashSet<VarId>) -> bool {
    let mut assigned = Vec::new();
    collect_stores(block, &mut assigned);
    let mut changed = false;
    for (var, value) in assigned {
        let active = graph.nodes[value.0].active && !excluded.contains(&var);
        if active && !graph.vars[var.0].active {
            graph.vars[var.0].active = true;
            changed = true;
        }
    }
    changed
}

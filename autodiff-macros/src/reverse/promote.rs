//! Adjoint elements a loop adds into at one index, summed in a local.
//!
//! The backward code of `for j in i + 1..d { out[j] += l[k] * x[i]; }` adds into `d_x[i]` at
//! every iteration of the loop over `j`. Through memory, each addition waits for the previous
//! one's store, and LLVM cannot keep the element in a register: every iteration may panic on a
//! bounds check, and the element must hold its value if it does. A hand-written adjoint sums
//! into a local and adds it once after the loop; [`promote`] rewrites the backward code so.
//!
//! A loop qualifies for an array adjoint `a` when every statement of its body that writes `a`
//! is an addition `a[e] = a[e] + s` at its own level, each loading the element after the
//! previous addition into `a`, and nothing else in the body reads `a`. Additions commute, so
//! those at an index `e` that the loop does not change can wait until after the loop, whatever
//! the others add into (the same element included). For each such index the rewrite declares
//! `a_sum = 0` before the loop, turns those additions into `a_sum += s`, and adds
//! `a[e] += a_sum` after the loop, when the loop ran (so an index that is out of bounds still
//! panics only where it did).
//!
//! The sum's rounding differs from adding into memory in order, as any reassociation does.

use crate::hash::{HashMap, HashSet};

use crate::graph::{Block, CmpOp, Graph, Loop, Node, NodeId, Op, Shape, Stmt, Ty, Var, VarId};
use crate::prim::Prim;

/// Rewrites every loop in `code` (innermost first) whose body adds into an element of an array
/// in `adjoints` that it does not move, as the module describes.
pub(super) fn promote(graph: &mut Graph, code: &mut Block, adjoints: &HashSet<VarId>) {
    if adjoints.is_empty()
        || !code
            .0
            .iter()
            .any(|s| s.blocks().iter().any(|b| has_loop(b)))
    {
        return;
    }
    let mut placed = HashSet::default();
    code.for_each_stmt(|s| {
        if let Stmt::Node(n) = s {
            placed.insert(*n);
        }
    });
    block(graph, code, adjoints, &placed);
}

fn block(graph: &mut Graph, code: &mut Block, adjoints: &HashSet<VarId>, placed: &HashSet<NodeId>) {
    let mut out = Vec::with_capacity(code.0.len());
    for mut stmt in std::mem::take(&mut code.0) {
        match &mut stmt {
            Stmt::If {
                then, otherwise, ..
            } => {
                block(graph, then, adjoints, placed);
                block(graph, otherwise, adjoints, placed);
            }
            Stmt::While { cond, body, .. } => {
                block(graph, cond, adjoints, placed);
                block(graph, body, adjoints, placed);
            }
            Stmt::For(l) => {
                block(graph, &mut l.body, adjoints, placed);
                let mut after = Vec::new();
                for (var, index) in candidates(graph, l, adjoints, placed) {
                    let (declare, add) = rewrite(graph, l, var, index);
                    out.push(declare);
                    after.extend(add);
                }
                if after.is_empty() {
                    out.push(stmt);
                    continue;
                }
                // The sums are added when the loop ran.
                let op = if l.inclusive { CmpOp::Le } else { CmpOp::Lt };
                let ran = graph.push(Node::new(Op::Cmp(op), vec![l.start, l.end], Ty::Bool));
                out.push(stmt);
                out.push(Stmt::If {
                    cond: ran,
                    then: Block(after),
                    otherwise: Block::default(),
                });
                continue;
            }
            _ => {}
        }
        out.push(stmt);
    }
    code.0 = out;
}

/// Whether `code` is or holds a loop.
fn has_loop(code: &Block) -> bool {
    code.0
        .iter()
        .any(|s| matches!(s, Stmt::For(_)) || s.blocks().iter().any(|b| has_loop(b)))
}

/// An element `a[e] = a[e] + s` of the loop body's own level: `(a, e, the load, the sum, s)`.
fn added(graph: &Graph, stmt: &Stmt) -> Option<(VarId, NodeId, NodeId, NodeId, NodeId)> {
    let Stmt::Store { var, index, value } = *stmt else {
        return None;
    };
    let sum = graph.node(value);
    if !matches!(sum.op, Op::Prim(Prim::Add)) {
        return None;
    }
    let is_element = |n: NodeId| {
        let load = graph.node(n);
        matches!(load.op, Op::Load(v) if v == var) && load.args.first() == Some(&index)
    };
    let (load, s) = match sum.args[..] {
        [a, b] if is_element(a) => (a, b),
        [a, b] if is_element(b) => (b, a),
        _ => return None,
    };
    Some((var, index, load, value, s))
}

/// The arrays of `adjoints` that the loop only adds into, each with an index it does not change.
fn candidates(
    graph: &Graph,
    l: &Loop,
    adjoints: &HashSet<VarId>,
    placed: &HashSet<NodeId>,
) -> Vec<(VarId, NodeId)> {
    let body = &l.body;
    // The indices each array is added into at, and the nodes those statements use. Each load
    // must read the element after the previous addition into the array wrote it: computed
    // inline, or placed in the body after that addition.
    let mut indices: HashMap<VarId, Vec<NodeId>> = HashMap::default();
    let mut own: HashSet<NodeId> = HashSet::default();
    let mut refused: HashSet<VarId> = HashSet::default();
    let mut at: HashMap<NodeId, usize> = HashMap::default();
    let mut last: HashMap<VarId, usize> = HashMap::default();
    for (k, stmt) in body.0.iter().enumerate() {
        if let Stmt::Node(n) = stmt {
            at.insert(*n, k);
        }
        if let Some((var, e, load, sum, _)) = added(graph, stmt)
            && adjoints.contains(&var)
        {
            let fresh = match at.get(&load) {
                Some(&p) => last.get(&var).is_none_or(|&l| p > l),
                None => !placed.contains(&load),
            };
            if !fresh {
                refused.insert(var);
            }
            let list = indices.entry(var).or_default();
            if !list.contains(&e) {
                list.push(e);
            }
            last.insert(var, k);
            own.extend([load, sum]);
        }
    }
    if indices.is_empty() {
        return Vec::new();
    }

    // The indices the loop does not change, of loops whose bounds it does not change either.
    let mut inside = HashSet::default();
    body.for_each_stmt(|s| {
        if let Stmt::Node(n) = s {
            inside.insert(*n);
        }
    });
    let written = super::written(body);
    let bounds = graph.invariant_in_loop(l.start, l.counter, &inside, &written, placed)
        && graph.invariant_in_loop(l.end, l.counter, &inside, &written, placed);
    if !bounds {
        return Vec::new();
    }
    for es in indices.values_mut() {
        es.retain(|&e| graph.invariant_in_loop(e, l.counter, &inside, &written, placed));
    }
    indices.retain(|_, es| !es.is_empty());
    if indices.is_empty() {
        return Vec::new();
    }

    // Everything the body evaluates: its placed nodes and what its statements use, down to the
    // names of values placed outside it; how often each node is used, and which variables are
    // read or written other than by the additions.
    let mut uses: HashMap<NodeId, usize> = HashMap::default();
    let mut seen = HashSet::default();
    let mut work: Vec<NodeId> = inside.iter().copied().collect();
    body.for_each_use(&mut |n| {
        *uses.entry(n).or_default() += 1;
        work.push(n);
    });
    body.for_each_stmt(|s| match s {
        Stmt::Declare(v, _) | Stmt::Assign(v, _) => {
            refused.insert(*v);
        }
        Stmt::Store { var, value, .. } if !own.contains(value) => {
            refused.insert(*var);
        }
        _ => {}
    });
    while let Some(n) = work.pop() {
        if !seen.insert(n) || (placed.contains(&n) && !inside.contains(&n)) {
            continue;
        }
        let node = graph.node(n);
        if let Some(v) = mentions(&node.op)
            && !own.contains(&n)
        {
            refused.insert(v);
        }
        for &a in &node.args {
            *uses.entry(a).or_default() += 1;
            work.push(a);
        }
    }

    // Additions commute: those at an index the loop does not change can wait until after it,
    // whatever the others add into (the same element included), as long as nothing else reads
    // the array in the loop.
    let mut found: Vec<(VarId, NodeId)> = indices
        .into_iter()
        .filter(|(v, _)| {
            !refused.contains(v)
                && body
                    .0
                    .iter()
                    .filter_map(|s| added(graph, s))
                    .filter(|a| a.0 == *v)
                    .all(|(_, _, load, sum, _)| {
                        uses.get(&load) == Some(&1) && uses.get(&sum) == Some(&1)
                    })
        })
        .flat_map(|(v, es)| es.into_iter().map(move |e| (v, e)))
        .collect();
    found.sort_by_key(|&(v, e)| (v, e));
    found
}

/// The variable a node reads or passes on, if any.
fn mentions(op: &Op) -> Option<VarId> {
    match *op {
        Op::Read(v) | Op::Load(v) | Op::Len(v) | Op::Array(v, _) | Op::Part(v) | Op::Pop(v) => {
            Some(v)
        }
        _ => None,
    }
}

/// Sums the loop's additions into `var[index]` in a new local: returns its declaration, to go
/// before the loop, and the statements that add it into the element after the loop.
fn rewrite(graph: &mut Graph, l: &mut Loop, var: VarId, index: NodeId) -> (Stmt, Vec<Stmt>) {
    let array = graph.vars[var.0].clone();
    let ty = array.ty;
    let sum = VarId(graph.vars.len());
    graph.vars.push(Var {
        name: format!("{}_sum", array.name),
        shape: Shape::Scalar,
        active: false,
        param: None,
        ..array
    });
    let node =
        |graph: &mut Graph, op: Op, args: Vec<NodeId>, ty: Ty| graph.push(Node::new(op, args, ty));
    let zero = node(
        graph,
        Op::Lit(crate::graph::LitValue::Float(0.0), None),
        vec![],
        ty,
    );

    let mut dead = HashSet::default();
    let mut out = Vec::with_capacity(l.body.0.len());
    for stmt in std::mem::take(&mut l.body.0) {
        match added(graph, &stmt) {
            Some((v, e, load, old, s)) if v == var && e == index => {
                dead.extend([load, old]);
                let read = node(graph, Op::Read(sum), vec![], ty);
                let total = node(graph, Op::Prim(Prim::Add), vec![read, s], ty);
                out.extend([
                    Stmt::Node(read),
                    Stmt::Node(total),
                    Stmt::Assign(sum, total),
                ]);
            }
            _ => out.push(stmt),
        }
    }
    out.retain(|s| !matches!(s, Stmt::Node(n) if dead.contains(n)));
    l.body.0 = out;

    let read = node(graph, Op::Read(sum), vec![], ty);
    let mut add = vec![Stmt::Node(read)];
    add.extend(graph.add_to_element(var, index, read, ty));
    (Stmt::Declare(sum, Some(zero)), add)
}

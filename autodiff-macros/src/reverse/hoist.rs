//! Elements an inner loop reads at an index it does not change, read once before it.
//!
//! In `for i in 0..d { for j in i + 1..d { y[j] += l[k] * x[i]; } }` every iteration over `j`
//! reads `x[i]`. Inside a loop that the backward sweep reverses, a value the backward code needs
//! and cannot recompute (`x` is overwritten later) is saved on a tape where it is computed: here
//! once per `j`, `d (d - 1) / 2` values where `d` would do. Read before the loop over `j`, it is
//! saved once per `i`, and its adjoint is summed in a local over `j` and added to `d_x[i]` once,
//! as a hand-written adjoint does.
//!
//! [`hoist`] moves a load `v[e]` from the top level of the body of a loop nested in another to
//! just before the loop, when the loop neither writes `v` nor changes `e`, and `v` changes
//! elsewhere (an array that never changes is read again by the backward code, not saved):
//!
//! ```text
//! if i + 1 < d {
//!     let t = x[i];
//!     for j in i + 1..d { .. t .. }
//! }
//! ```
//!
//! The load runs only when the loop runs, so an index out of bounds panics only where it did.
//! The primal value is unchanged: the function's own body is emitted as written, and the
//! derivative code reads the same element once instead of at every iteration.

use crate::hash::HashSet;

use crate::graph::{Block, CmpOp, Graph, Loop, Node, NodeId, Op, Stmt, Ty, VarId};

/// Hoists, in the loops of `graph`'s body nested in other loops, the loads the module describes.
pub(super) fn hoist(graph: &mut Graph) {
    let body = std::mem::take(&mut graph.body);
    let mut function = Function::default();
    changed(&body, false, &mut function.changing);
    body.for_each_stmt(|s| {
        if let Stmt::Node(n) = s {
            function.placed.insert(*n);
        }
    });
    graph.body = block(graph, body, &function, 0);
}

/// What the whole function tells about its arrays and nodes.
#[derive(Default)]
struct Function {
    /// The arrays whose elements change ([`changed`]).
    changing: HashSet<VarId>,
    /// The nodes the body places: a name where they are placed.
    placed: HashSet<NodeId>,
}

/// The arrays whose elements change while the function runs: stored into, written by a call,
/// or declared in a loop. The backward code reads the others where it needs them, so reading
/// them before a loop saves nothing.
fn changed(code: &Block, in_loop: bool, into: &mut HashSet<VarId>) {
    for stmt in &code.0 {
        match stmt {
            Stmt::Store { var, .. } | Stmt::Assign(var, _) => {
                into.insert(*var);
            }
            Stmt::Declare(var, _) if in_loop => {
                into.insert(*var);
            }
            _ => {}
        }
        let looped = in_loop || matches!(stmt, Stmt::For(_) | Stmt::While { .. });
        for inner in stmt.blocks() {
            changed(inner, looped, into);
        }
    }
}

/// `depth`: how many loops enclose `code`.
fn block(graph: &mut Graph, code: Block, function: &Function, depth: usize) -> Block {
    let mut out = Vec::with_capacity(code.0.len());
    for stmt in code.0 {
        match stmt {
            Stmt::For(mut l) => {
                l.body = block(graph, std::mem::take(&mut l.body), function, depth + 1);
                if depth == 0 {
                    out.push(Stmt::For(l));
                } else {
                    out.extend(hoist_loads(graph, l, function));
                }
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => out.push(Stmt::If {
                cond,
                then: block(graph, then, function, depth),
                otherwise: block(graph, otherwise, function, depth),
            }),
            Stmt::While { cond, test, body } => {
                // A `while` loop repeats too: a `for` loop in it is nested.
                let (cond, body) = (
                    block(graph, cond, function, depth + 1),
                    block(graph, body, function, depth + 1),
                );
                out.push(Stmt::While { cond, test, body });
            }
            other => out.push(other),
        }
    }
    Block(out)
}

/// Moves the loads of `l`'s body that qualify out of it: returns the loop as it was, or, with
/// loads moved, whether the loop runs and `if` it does, the loads and then the loop.
fn hoist_loads(graph: &mut Graph, mut l: Loop, function: &Function) -> Vec<Stmt> {
    // Loads at the top level of the body, of arrays that change, before looking deeper.
    let changing_load =
        |n: NodeId| matches!(graph.node(n).op, Op::Load(v) if function.changing.contains(&v));
    let loads = l
        .body
        .0
        .iter()
        .any(|s| matches!(*s, Stmt::Node(n) if changing_load(n)));
    if !loads {
        return vec![Stmt::For(l)];
    }
    let mut inside = HashSet::default();
    l.body.for_each_stmt(|s| {
        if let Stmt::Node(n) = s {
            inside.insert(*n);
        }
    });
    let written = super::written(&l.body);
    let hoisted: Vec<NodeId> = l
        .body
        .0
        .iter()
        .filter_map(|s| match *s {
            Stmt::Node(n) => Some(n),
            _ => None,
        })
        .filter(|&n| {
            let node = graph.node(n);
            let unwritten = |v: VarId| function.changing.contains(&v) && !written.contains(&v);
            let index = node.args.first().copied();
            matches!(node.op, Op::Load(v) if unwritten(v))
                && matches!(node.ty, Ty::Float(_))
                && index.is_some_and(|e| {
                    graph.invariant_in_loop(e, l.counter, &inside, &written, &function.placed)
                })
        })
        .collect();
    if hoisted.is_empty() {
        return vec![Stmt::For(l)];
    }
    l.body
        .0
        .retain(|s| !matches!(s, Stmt::Node(n) if hoisted.contains(n)));
    let op = if l.inclusive { CmpOp::Le } else { CmpOp::Lt };
    let span = graph.node(l.end).span;
    let ran = graph.push(Node {
        op: Op::Cmp(op),
        args: vec![l.start, l.end],
        ty: Ty::Bool,
        active: false,
        span,
        name: None,
        origin: crate::graph::Origin::Primal,
    });
    let mut then: Vec<Stmt> = hoisted.into_iter().map(Stmt::Node).collect();
    then.push(Stmt::For(l));
    vec![
        Stmt::Node(ran),
        Stmt::If {
            cond: ran,
            then: Block(then),
            otherwise: Block::default(),
        },
    ]
}

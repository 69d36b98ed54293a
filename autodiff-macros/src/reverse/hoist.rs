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
//! just before the loop, when the loop neither writes `v` nor changes `e`:
//!
//! ```text
//! let x_i: f64;
//! if i + 1 < d { x_i = x[i]; } else { x_i = 0.0; }
//! for j in i + 1..d { .. x_i .. }
//! ```
//!
//! The load runs only when the loop would run, so an index out of bounds panics only where it
//! did. The primal value is unchanged: the function's own body is emitted as written, and the
//! derivative code reads the same element once instead of at every iteration.

use std::collections::HashSet;

use crate::graph::{Block, CmpOp, Graph, LitValue, Loop, Node, NodeId, Op, Shape, Stmt, Ty, Var};

/// Hoists, in the loops of `graph`'s body nested in other loops, the loads the module describes.
pub(super) fn hoist(graph: &mut Graph) {
    let body = std::mem::take(&mut graph.body);
    graph.body = block(graph, body, &mut Vec::new());
}

/// `loops` are the enclosing loops' counters and names.
fn block(graph: &mut Graph, code: Block, loops: &mut Vec<(usize, String)>) -> Block {
    let mut out = Vec::with_capacity(code.0.len());
    for stmt in code.0 {
        match stmt {
            Stmt::For(mut l) => {
                loops.push((l.counter, l.name.clone()));
                l.body = block(graph, std::mem::take(&mut l.body), loops);
                loops.pop();
                if !loops.is_empty() {
                    out.extend(hoist_loads(graph, &mut l, loops));
                }
                out.push(Stmt::For(l));
            }
            Stmt::If {
                cond,
                then,
                otherwise,
            } => out.push(Stmt::If {
                cond,
                then: block(graph, then, loops),
                otherwise: block(graph, otherwise, loops),
            }),
            Stmt::While { cond, test, body } => {
                // A `while` loop repeats too: a `for` loop in it is nested.
                loops.push((usize::MAX, String::new()));
                let (cond, body) = (block(graph, cond, loops), block(graph, body, loops));
                loops.pop();
                out.push(Stmt::While { cond, test, body });
            }
            other => out.push(other),
        }
    }
    Block(out)
}

/// Moves the loads of `l`'s body that qualify out of it; returns what goes before the loop.
fn hoist_loads(graph: &mut Graph, l: &mut Loop, loops: &[(usize, String)]) -> Vec<Stmt> {
    let mut inside = HashSet::new();
    let mut written = HashSet::new();
    l.body.for_each_stmt(|s| match s {
        Stmt::Node(n) => {
            inside.insert(*n);
        }
        Stmt::Declare(v, _) | Stmt::Assign(v, _) | Stmt::Store { var: v, .. } => {
            written.insert(*v);
        }
        _ => {}
    });
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
            matches!(node.op, Op::Load(v) if !written.contains(&v))
                && matches!(node.ty, Ty::Float(_))
                && invariant(graph, node.args[0], l.counter, &inside, &written)
        })
        .collect();
    if hoisted.is_empty() {
        return Vec::new();
    }
    l.body
        .0
        .retain(|s| !matches!(s, Stmt::Node(n) if hoisted.contains(n)));

    // For each load: a variable, assigned the element when the loop runs, else zero; the load's
    // node becomes a read of that variable, placed before the loop.
    let (mut declare, mut then, mut otherwise, mut reads) = (vec![], vec![], vec![], vec![]);
    for n in hoisted {
        let load = graph.node(n).clone();
        let Op::Load(array) = load.op else {
            unreachable!("a load")
        };
        let index = load.args[0];
        let counter = match graph.node(index).op {
            Op::Counter(c) => loops.iter().find(|(k, _)| *k == c).map(|(_, name)| name),
            _ => None,
        };
        let name = format!(
            "{}_{}",
            graph.vars[array.0].name.trim_start_matches("r#"),
            counter.map_or("at", String::as_str)
        );
        let var = crate::graph::VarId(graph.vars.len());
        graph.vars.push(Var {
            name,
            ty: load.ty,
            shape: Shape::Scalar,
            active: load.active,
            param: None,
            span: load.span,
        });
        let element = graph.push(load.clone());
        let zero = graph.push(Node {
            op: Op::Lit(LitValue::Float(0.0), None),
            args: vec![],
            active: false,
            name: None,
            ..load.clone()
        });
        let node = &mut graph.nodes[n.0];
        node.op = Op::Read(var);
        node.args.clear();
        declare.push(Stmt::Declare(var, None));
        then.extend([Stmt::Node(element), Stmt::Assign(var, element)]);
        otherwise.push(Stmt::Assign(var, zero));
        reads.push(Stmt::Node(n));
    }
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
    declare.push(Stmt::Node(ran));
    declare.push(Stmt::If {
        cond: ran,
        then: Block(then),
        otherwise: Block(otherwise),
    });
    declare.extend(reads);
    declare
}

/// Whether the index `n` has one value in every iteration of the loop over `counter` and can be
/// computed before it: not computed in its body, and computed from nothing the body writes.
fn invariant(
    graph: &Graph,
    n: NodeId,
    counter: usize,
    inside: &HashSet<NodeId>,
    written: &HashSet<crate::graph::VarId>,
) -> bool {
    let mut work = vec![n];
    let mut seen = HashSet::new();
    while let Some(n) = work.pop() {
        if !seen.insert(n) {
            continue;
        }
        let node = graph.node(n);
        let fine = !inside.contains(&n)
            && match node.op {
                Op::Counter(c) => c != counter,
                Op::Read(v) | Op::Load(v) | Op::Len(v) => !written.contains(&v),
                Op::Param(_)
                | Op::Lit(..)
                | Op::Const(_)
                | Op::Known(_)
                | Op::Prim(_)
                | Op::Cast(_) => true,
                _ => false,
            };
        if !fine {
            return false;
        }
        work.extend(&node.args);
    }
    true
}

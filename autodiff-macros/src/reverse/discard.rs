//! The adjoints alone of a function with out-parameters, for a caller's backward code.
//!
//! `g_vjp_into` writes its outputs into the out-parameters and runs the backward sweep, so a
//! caller that only wants the adjoints (its backward code passes a scratch buffer as `out` and
//! drops it afterwards) pays for the function's forward sweep again. When nothing but those
//! stores reads what they store (neither the backward sweep nor another forward statement nor
//! the returned values), the stores can go: [`adjoint_only`] removes them, and with them every
//! computation that only fed them, which for a linear function such as `out = Q x` is the whole
//! forward sweep. The caller calls the result, `g_adjoint_into`, with `g_vjp_into`'s arguments.

use crate::hash::HashSet;

use super::Adjoint;
use crate::graph::{Block, Graph, Loop, NodeId, Op, Stmt, VarId};

/// `adjoint` without the stores into out-parameters, or `None` when something reads what they
/// store (or a call writes an out-parameter), when a store's value was taken off a tape, or when
/// removing them would leave a local variable that was read never read (which Rust would warn
/// about).
pub fn adjoint_only(adjoint: &Adjoint) -> Option<Adjoint> {
    let graph = &adjoint.graph;
    let outs: HashSet<VarId> = graph
        .params
        .iter()
        .filter(|p| p.out())
        .filter_map(|p| p.var)
        .collect();
    if outs.is_empty() {
        return None;
    }
    let mut assigned = false;
    adjoint.code.for_each_stmt(|s| {
        assigned |= matches!(s, Stmt::Assign(v, _) if outs.contains(v));
    });
    if assigned {
        return None;
    }
    let code = without_stores(&adjoint.code, &outs);
    // The values only those stores used, and the loops and branches left with nothing to do.
    let used = reads(adjoint, &code);
    let code = without_dead(graph, &code, &used);
    let before = reads(adjoint, &adjoint.code);
    let after = reads(adjoint, &code);
    let reads_outputs = after.iter().any(|&n| {
        matches!(graph.node(n).op, Op::Load(v) | Op::Array(v, _) | Op::Part(v) | Op::Read(v)
            if outs.contains(&v))
    });
    // A value taken off a tape must still be taken off, or the pops after it would read what
    // an earlier push left.
    let pops = |used: &HashSet<NodeId>| -> HashSet<NodeId> {
        used.iter()
            .copied()
            .filter(|&n| matches!(graph.node(n).op, Op::Pop(_)))
            .collect()
    };
    // A parameter no longer read gets `let _ = x;` ([`unread_params`]); a local would be
    // left unread.
    let params: HashSet<VarId> = graph.params.iter().filter_map(|p| p.var).collect();
    let still_read = read_vars(graph, &after);
    let lost = read_vars(graph, &before)
        .into_iter()
        .any(|v| !still_read.contains(&v) && !params.contains(&v));
    if reads_outputs || lost || pops(&before) != pops(&after) {
        return None;
    }
    Some(Adjoint {
        graph: adjoint.graph.clone(),
        code,
        adjoint_of: adjoint.adjoint_of.clone(),
        array_gradients: adjoint.array_gradients.clone(),
        reads: adjoint.reads.clone(),
        seed: adjoint.seed,
        self_gradient: adjoint.self_gradient,
        fusion_notes: adjoint.fusion_notes.clone(),
        assumed: adjoint.assumed.clone(),
    })
}

/// The indices of the array parameters that `adjoint`'s code does not read.
pub fn unread_params(adjoint: &Adjoint) -> Vec<usize> {
    let read = read_vars(&adjoint.graph, &reads(adjoint, &adjoint.code));
    adjoint
        .graph
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.var.is_some_and(|v| !read.contains(&v)))
        .map(|(i, _)| i)
        .collect()
}

/// `block` without its stores into `outs`, and without the loops and branches left empty.
fn without_stores(block: &Block, outs: &HashSet<VarId>) -> Block {
    prune(
        block,
        &|s| matches!(s, Stmt::Store { var, .. } if outs.contains(var)),
        &|l, body| (!body.0.is_empty()).then(|| Stmt::For(l.with_body(body))),
    )
}

/// `block` without the nodes computed for nothing in `used`, and without the loops and branches
/// left empty.
fn without_dead(graph: &Graph, block: &Block, used: &HashSet<NodeId>) -> Block {
    prune(
        block,
        &|s| matches!(s, Stmt::Node(n) if !used.contains(n)),
        &|l, body| loop_left(graph, l, body),
    )
}

/// `block` without the statements `drop` picks and without the branches left empty; each loop
/// becomes what `rebuild` makes of it with its pruned body (`None`: nothing).
fn prune(
    block: &Block,
    drop: &dyn Fn(&Stmt) -> bool,
    rebuild: &dyn Fn(&Loop, Block) -> Option<Stmt>,
) -> Block {
    let mut kept = Vec::new();
    for stmt in &block.0 {
        match stmt {
            _ if drop(stmt) => {}
            Stmt::For(l) => kept.extend(rebuild(l, prune(&l.body, drop, rebuild))),
            Stmt::If {
                cond,
                then,
                otherwise,
            } => {
                let (then, otherwise) =
                    (prune(then, drop, rebuild), prune(otherwise, drop, rebuild));
                if !(then.0.is_empty() && otherwise.0.is_empty()) {
                    kept.push(Stmt::If {
                        cond: *cond,
                        then,
                        otherwise,
                    });
                }
            }
            Stmt::While { cond, test, body } => kept.push(Stmt::While {
                cond: prune(cond, drop, rebuild),
                test: *test,
                body: prune(body, drop, rebuild),
            }),
            _ => kept.push(stmt.clone()),
        }
    }
    Block(kept)
}

/// The loop `l` with its body pruned to `body`: nothing if the body only places the counter,
/// which the backward loop of the same number may still read; as it is if the body reads the
/// counter; else a loop that only repeats something, which places no counter and gets a number
/// no node names, so that it prints as `for _ in ..`.
fn loop_left(graph: &Graph, l: &Loop, body: Block) -> Option<Stmt> {
    let counter = |n: NodeId| matches!(graph.node(n).op, Op::Counter(k) if k == l.counter);
    let counts = |s: &Stmt| matches!(s, Stmt::Node(n) if counter(*n));
    if body.0.iter().all(counts) {
        return None;
    }
    let mut read = false;
    let mut work = Vec::new();
    body.for_each_use(&mut |n| work.push(n));
    let mut seen = HashSet::default();
    while let Some(n) = work.pop() {
        if seen.insert(n) {
            read |= counter(n);
            work.extend(graph.node(n).args.iter().copied());
        }
    }
    if read {
        return Some(Stmt::For(l.with_body(body)));
    }
    let body = Block(body.0.into_iter().filter(|s| !counts(s)).collect());
    let mut l = l.with_body(body);
    l.counter = usize::MAX;
    Some(Stmt::For(l))
}

/// Every node that `code`'s statements or the function's results use, directly or through the
/// nodes they are computed from.
fn reads(adjoint: &Adjoint, code: &Block) -> HashSet<NodeId> {
    let mut work: Vec<NodeId> = Vec::new();
    code.for_each_use(&mut |n| work.push(n));
    work.push(adjoint.graph.output);
    work.extend(adjoint.self_gradient);
    work.extend(adjoint.gradients().into_iter().flatten());
    work.extend(adjoint.reads.values().copied());
    let mut seen = HashSet::default();
    while let Some(n) = work.pop() {
        if seen.insert(n) {
            work.extend(adjoint.graph.node(n).args.iter().copied());
        }
    }
    seen
}

/// The variables the nodes `used` read.
fn read_vars(graph: &Graph, used: &HashSet<NodeId>) -> HashSet<VarId> {
    used.iter()
        .filter_map(|&n| match graph.node(n).op {
            Op::Read(v) | Op::Load(v) | Op::Len(v) | Op::Array(v, _) | Op::Part(v) | Op::Pop(v) => {
                Some(v)
            }
            _ => None,
        })
        .collect()
}

//! When a loop's backward code can run inside the loop itself.
//!
//! The backward code of a loop runs its iterations in reverse: iteration `i` needs the adjoints
//! that iterations `i + 1, …` left. Most loops that compute a loss only accumulate into what they
//! carry from one iteration to the next (`sum += term`): the adjoint of `sum` is then the same
//! before and after each backward iteration, every other adjoint an iteration writes is a sum
//! (`d_x[i] += …`), and the iterations can be reversed in any order, in particular each right
//! after its own forward code, while its values are still in scope. [`accumulates_only`] decides
//! that from the primal loop body; the reverse pass decides the rest (that the adjoints the loop
//! starts from are known before it runs).

use crate::hash::{HashMap, HashSet};

use crate::graph::{
    Block, CmpOp, Graph, LitValue, Loop, NodeId, Op, Origin, Place, Shape, Stmt, Ty, VarId, Visit,
    walk_stmt,
};
use crate::prim::Prim;

/// What a loop body does to variables, at any depth.
#[derive(Default)]
struct Effects {
    declared: HashSet<VarId>,
    assigned: Vec<(VarId, NodeId)>,
    stored: HashSet<VarId>,
    nodes: Vec<NodeId>,
}

impl Effects {
    fn of(block: &Block, into: &mut Effects) {
        block.for_each_stmt(|stmt| match stmt {
            Stmt::Node(n) => into.nodes.push(*n),
            Stmt::Declare(v, _) => {
                into.declared.insert(*v);
            }
            Stmt::Assign(v, n) => into.assigned.push((*v, *n)),
            Stmt::Store { var, .. } => {
                into.stored.insert(*var);
            }
            Stmt::Push(..)
            | Stmt::Assert { .. }
            | Stmt::If { .. }
            | Stmt::For(Loop { .. })
            | Stmt::While { .. } => {}
        });
    }
}

/// Whether, in the loop with this `body`, every active variable declared outside the loop is only
/// accumulated into, and no array declared outside it is stored into.
///
/// Accumulated means: every value computed from the variable's value at the start of the
/// iteration is that value plus or minus something that does not depend on it (`s + e`, `e + s`,
/// `s - e`, and sums of those), used only by the next such sum or assigned back to the variable.
/// Then the variable's value after the iteration is its value before plus a term, and its
/// adjoint passes through the backward iteration unchanged.
///
/// An array declared outside the loop that the loop uses as a temporary of each iteration
/// ([`per_iteration`]) does not count as stored into.
pub fn accumulates_only(graph: &Graph, body: &Block) -> bool {
    accumulates(graph, body, &HashSet::default())
}

/// When [`accumulates_only`] refuses the loop with this `body` only because calls write into
/// arrays declared outside it (`subtract(x, mu, &mut xcentered)`): the calls (their `Invoke`
/// nodes) such that, if each overwrites every element of the buffers it writes before reading
/// any (its `g_overwrites()`), every array declared outside the loop that the loop writes is a
/// temporary of each iteration ([`temporary`]) and the loop only accumulates. `None` when the
/// loop is refused for another reason, or needs no such call.
pub fn accumulates_if_overwritten(graph: &Graph, body: &Block) -> Option<Vec<NodeId>> {
    let mut effects = Effects::default();
    Effects::of(body, &mut effects);
    let mut written: Vec<VarId> = effects
        .stored
        .iter()
        .copied()
        .chain(effects.assigned.iter().map(|(v, _)| *v))
        .filter(|v| {
            !effects.declared.contains(v) && !matches!(graph.vars[v.0].shape, Shape::Scalar)
        })
        .collect();
    written.sort();
    written.dedup();
    let mut calls = Vec::new();
    let mut exempt = HashSet::default();
    for v in written {
        let assigned = effects.assigned.iter().any(|(w, _)| *w == v);
        if !assigned && per_iteration(graph, body, v) {
            continue;
        }
        if !temporary(graph, body, v, &mut calls) {
            return None;
        }
        exempt.insert(v);
    }
    calls.sort();
    calls.dedup();
    (!calls.is_empty() && accumulates(graph, body, &exempt)).then_some(calls)
}

/// [`accumulates_only`], with the arrays in `exempt`, declared outside the loop, known to be
/// temporaries of each iteration.
fn accumulates(graph: &Graph, body: &Block, exempt: &HashSet<VarId>) -> bool {
    let mut effects = Effects::default();
    Effects::of(body, &mut effects);
    if effects.stored.iter().any(|v| {
        !effects.declared.contains(v) && !exempt.contains(v) && !per_iteration(graph, body, *v)
    }) {
        return false;
    }
    // A call that writes into an array declared outside the loop stores into it.
    if effects.assigned.iter().any(|(v, _)| {
        !effects.declared.contains(v)
            && !exempt.contains(v)
            && !matches!(graph.vars[v.0].shape, Shape::Scalar)
    }) {
        return false;
    }
    let carried: HashSet<VarId> = effects
        .assigned
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| {
            let var = &graph.vars[v.0];
            !effects.declared.contains(v) && var.active && matches!(var.shape, Shape::Scalar)
        })
        .collect();
    if carried.is_empty() {
        return true;
    }

    // The accumulating values of each carried variable, and which operand carries it.
    let mut nodes = effects.nodes.clone();
    nodes.sort();
    let mut acc: HashMap<NodeId, (VarId, usize)> = HashMap::default();
    for &n in &nodes {
        let node = &graph.nodes[n.0];
        let from = |k: usize| node.args.get(k).and_then(|a| acc.get(a)).map(|(v, _)| *v);
        let entry = match node.op {
            Op::Read(v) if carried.contains(&v) => Some((v, usize::MAX)),
            Op::Prim(Prim::Add) => match (from(0), from(1)) {
                (Some(v), None) => Some((v, 0)),
                (None, Some(v)) => Some((v, 1)),
                _ => None,
            },
            Op::Prim(Prim::Sub) => from(0).map(|v| (v, 0)),
            _ => None,
        };
        if let Some(e) = entry {
            acc.insert(n, e);
        }
    }

    // Every use of an accumulating value is the next sum of the same variable, through its
    // accumulating operand, or an assignment back to that variable inside the loop.
    for (i, node) in graph.nodes.iter().enumerate() {
        if node.origin != Origin::Primal {
            continue;
        }
        for (k, a) in node.args.iter().enumerate() {
            if let Some(&(v, _)) = acc.get(a) {
                match acc.get(&NodeId(i)) {
                    Some(&(w, operand)) if w == v && operand == k => {}
                    _ => return false,
                }
            }
        }
    }
    let mut allowed: HashMap<NodeId, usize> = HashMap::default();
    for &(v, n) in &effects.assigned {
        if carried.contains(&v) {
            match acc.get(&n) {
                Some(&(w, _)) if w == v => *allowed.entry(n).or_default() += 1,
                _ => return false,
            }
        }
    }
    let mut statement_uses: HashMap<NodeId, usize> = HashMap::default();
    graph
        .body
        .for_each_use(&mut |n| *statement_uses.entry(n).or_default() += 1);
    *statement_uses.entry(graph.output).or_default() += 1;
    acc.keys().all(|n| {
        statement_uses.get(n).copied().unwrap_or(0) == allowed.get(n).copied().unwrap_or(0)
    })
}

/// Whether the local array `var`, declared outside the loop with this `body` and stored into in
/// it, is a temporary of each iteration: nothing outside the loop but its declaration uses it,
/// nothing passes it or a part of it to a call, and every element an iteration reads was
/// written earlier in the same iteration. Then the values an iteration reads are its own, and the backward code of an
/// iteration consumes every adjoint its reads leave in the array's adjoint, as fusion needs.
///
/// Written earlier means: a loop `for c in s..e` whose body stores `var[c]` unconditionally
/// (a covering loop) comes before the read in a block that encloses it, and the read's index is
/// the counter of a loop over `s'..e` with `s' >= s` (any `s'` when `s` is `0`), or a literal
/// `l` with `s = 0` and `e` computed before the loop: if `l < e` the covering loop wrote it; if
/// not, no store in the loop writes it, when every store's index is such a counter too.
pub fn per_iteration(graph: &Graph, body: &Block, var: VarId) -> bool {
    let v = &graph.vars[var.0];
    if v.param.is_some() || !matches!(v.shape, Shape::Array { .. }) {
        return false;
    }
    let mut inside = Vec::new();
    nodes_placed(&body.0, &mut inside);
    let inside: HashSet<NodeId> = inside.into_iter().collect();
    // Nothing outside the loop reads it (its declaration's value is a fill, not a read), and
    // nothing passes it, whole or a part, to a call: which elements a call reads is not known
    // here, so it could read one that an earlier iteration stored.
    for (i, node) in graph.nodes.iter().enumerate() {
        if let Op::Load(w) | Op::Array(w, _) | Op::Part(w) = node.op
            && w == var
            && (!inside.contains(&NodeId(i)) || matches!(node.op, Op::Array(..) | Op::Part(_)))
        {
            return false;
        }
    }
    if count_writes(&graph.body, var) != count_writes(body, var) {
        return false;
    }
    let mut bounds: HashMap<usize, (NodeId, NodeId, bool)> = HashMap::default();
    collect_bounds(body, &mut bounds);
    // An index within `s..e`, as far as the loops' bounds show.
    // `c - k` over `m..e` with `m >= k` is within `0..e` too.
    let within = |index: NodeId, s: NodeId, e: NodeId| -> bool {
        let node = &graph.nodes[index.0];
        let (c, less) = match node.op {
            Op::Counter(c) => (c, 0),
            Op::Prim(Prim::Sub) => match (
                &graph.nodes[node.args[0].0].op,
                &graph.nodes[node.args[1].0].op,
            ) {
                (Op::Counter(c), Op::Lit(LitValue::Int(k), _)) if *k >= 0 => (*c, *k),
                _ => return false,
            },
            _ => return false,
        };
        let Some(&(s2, e2, inclusive)) = bounds.get(&c) else {
            return false;
        };
        let starts = match graph.nodes[s2.0].op {
            Op::Lit(LitValue::Int(m), _) => m >= less,
            _ => less == 0,
        };
        !inclusive
            && starts
            && same(graph, e, e2)
            && (is_zero(graph, s) || (less == 0 && same(graph, s, s2)))
    };
    // Every store's index within the range of one covering loop, for literal reads.
    let mut stores = Vec::new();
    collect_stores(body, var, &mut stores);
    let covered = |block: &Block, at: usize, index: NodeId| -> bool {
        block.0[..at].iter().any(|stmt| {
            let Stmt::For(Loop {
                counter,
                start,
                end,
                inclusive: false,
                body: inner,
                ..
            }) = stmt
            else {
                return false;
            };
            let writes = inner.0.iter().any(|s| {
                matches!(s, Stmt::Store { var: w, index: i, .. }
                    if *w == var && matches!(graph.nodes[i.0].op, Op::Counter(k) if k == *counter))
            });
            if !writes {
                return false;
            }
            match graph.nodes[index.0].op {
                Op::Counter(_) | Op::Prim(Prim::Sub) => within(index, *start, *end),
                Op::Lit(LitValue::Int(_), _) => {
                    is_zero(graph, *start)
                        && (!inside.contains(end)
                            || matches!(graph.nodes[end.0].op, Op::Lit(LitValue::Int(_), _)))
                        && stores.iter().all(|&i| within(i, *start, *end))
                }
                _ => false,
            }
        })
    };
    // Every read whose value is used, with the blocks enclosing it and its statement's position
    // in each.
    let mut used = HashSet::default();
    for &n in &inside {
        used.extend(graph.nodes[n.0].args.iter().copied());
    }
    body.for_each_use(&mut |n| {
        used.insert(n);
    });
    let mut ok = true;
    let mut path: Vec<(&Block, usize)> = Vec::new();
    walk_reads(graph, &used, body, var, &mut path, &mut |path, index| {
        let c = path.iter().any(|&(block, at)| covered(block, at, index));
        ok &= c;
    });
    ok
}

/// Whether the local array `var`, declared outside the loop with this `body` and written in it,
/// is a temporary of each iteration provided the calls that write it overwrite it (which this
/// adds to `calls`): nothing outside the loop reads or writes it, every call that writes it in
/// the loop writes it whole (`&mut buf`, not a part), and every read of it in the loop (a load,
/// or the array or a part of it passed to a call) comes after, in the same iteration, a
/// statement that writes it whole: such a call, or a loop `for c in 0..buf.len()` whose body
/// stores `buf[c]` unconditionally, in a block enclosing the read.
fn temporary(graph: &Graph, body: &Block, var: VarId, calls: &mut Vec<NodeId>) -> bool {
    let v = &graph.vars[var.0];
    if v.param.is_some() || !matches!(v.shape, Shape::Array { .. } | Shape::Buffer(_)) {
        return false;
    }
    if count_writes(&graph.body, var) != count_writes(body, var) {
        return false;
    }
    let placed: HashSet<NodeId> = {
        let mut placed = Vec::new();
        nodes_placed(&body.0, &mut placed);
        placed.into_iter().collect()
    };
    // A load whose value nothing uses (the old value of an element a store overwrites) reads
    // nothing.
    let mut used = HashSet::default();
    for node in &graph.nodes {
        used.extend(node.args.iter().copied());
    }
    graph.body.for_each_use(&mut |n| {
        used.insert(n);
    });
    body.for_each_use(&mut |n| {
        used.insert(n);
    });
    let reads = |n: usize| {
        let node = &graph.nodes[n];
        node.origin == Origin::Primal
            && reads_array(graph, node, var)
            && (used.contains(&NodeId(n)) || !matches!(node.op, Op::Load(_)))
    };
    let mut t = Temporary {
        graph,
        var,
        placed: &placed,
        is_read: &reads,
        reads: HashSet::default(),
        covered: true,
        calls: Vec::new(),
    };
    let mut path = Vec::new();
    if !t.block(body, &mut path) || !t.covered {
        return false;
    }
    // Every read of it in the program is one of those.
    if (0..graph.nodes.len()).any(|i| reads(i) && !t.reads.contains(&NodeId(i))) {
        return false;
    }
    calls.extend(t.calls);
    true
}

/// Whether `node` reads the array `var`: a load of it, or a call passed it or a part of it
/// other than as the buffer it writes.
fn reads_array(graph: &Graph, node: &crate::graph::Node, var: VarId) -> bool {
    if matches!(node.op, Op::Load(w) if w == var) {
        return true;
    }
    node.args.iter().enumerate().any(|(k, a)| {
        matches!(graph.nodes[a.0].op, Op::Array(w, _) | Op::Part(w) if w == var)
            && !matches!(&node.op, Op::Invoke(invoke)
                if invoke.modes.get(k) == Some(&crate::graph::Pass::Mut))
    })
}

/// The walk of [`temporary`].
struct Temporary<'a> {
    graph: &'a Graph,
    var: VarId,
    placed: &'a HashSet<NodeId>,
    /// Whether a node reads the array.
    is_read: &'a dyn Fn(usize) -> bool,
    /// The reads found, each after a statement that writes the array whole.
    reads: HashSet<NodeId>,
    /// Whether every read found so far is after such a statement.
    covered: bool,
    /// The calls that write the array.
    calls: Vec<NodeId>,
}

impl Temporary<'_> {
    /// Walks `block`; `path` holds, for each enclosing block, whether a statement before the
    /// current one wrote the array whole. False when a write is not of a form allowed.
    fn block(&mut self, block: &Block, path: &mut Vec<bool>) -> bool {
        path.push(false);
        for stmt in &block.0 {
            let covered = path.iter().any(|&c| c);
            let mut roots = Vec::new();
            match stmt {
                Stmt::Node(n) | Stmt::Push(_, n) => roots.push(*n),
                Stmt::Declare(_, init) => roots.extend(init.iter().copied()),
                Stmt::Assign(w, n) => {
                    if *w == self.var {
                        let Some(call) = self.whole_call(*n) else {
                            return false;
                        };
                        self.calls.push(call);
                    }
                    roots.push(*n);
                }
                Stmt::Store { index, value, .. } => roots.extend([*index, *value]),
                Stmt::Assert { args, .. } => roots.extend(args.iter().copied()),
                Stmt::If { cond, .. } => roots.push(*cond),
                Stmt::For(Loop { start, end, .. }) => roots.extend([*start, *end]),
                Stmt::While { test, .. } => roots.push(*test),
            }
            self.uses(&roots, covered);
            for inner in stmt.blocks() {
                if !self.block(inner, path) {
                    return false;
                }
            }
            if self.writes_whole(stmt) {
                *path.last_mut().expect("pushed above") = true;
            }
        }
        path.pop();
        true
    }

    /// Records the reads among `roots` and the values they use that no statement places.
    fn uses(&mut self, roots: &[NodeId], covered: bool) {
        let mut work: Vec<NodeId> = roots.to_vec();
        let mut seen = HashSet::default();
        while let Some(n) = work.pop() {
            if !seen.insert(n) {
                continue;
            }
            let node = &self.graph.nodes[n.0];
            if (self.is_read)(n.0) {
                self.reads.insert(n);
                self.covered &= covered;
            }
            work.extend(
                node.args
                    .iter()
                    .filter(|a| !self.placed.contains(a))
                    .copied(),
            );
        }
    }

    /// The call that `Assign(var, n)` is, when it writes the whole array: `n` itself or, for a
    /// second buffer of a call, `Written(call)`.
    fn whole_call(&self, n: NodeId) -> Option<NodeId> {
        let call = match self.graph.nodes[n.0].op {
            Op::Written(call) => call,
            _ => n,
        };
        let node = &self.graph.nodes[call.0];
        let Op::Invoke(invoke) = &node.op else {
            return None;
        };
        if invoke.several || !invoke.suffix.is_empty() {
            return None;
        }
        node.args
            .iter()
            .zip(&invoke.modes)
            .any(|(a, m)| {
                *m == crate::graph::Pass::Mut
                    && matches!(self.graph.nodes[a.0].op, Op::Array(w, _) if w == self.var)
            })
            .then_some(call)
    }

    /// Whether `stmt` writes the whole array: a call that writes it whole, or a loop over
    /// `0..len` whose body stores each element at the counter.
    fn writes_whole(&self, stmt: &Stmt) -> bool {
        match stmt {
            Stmt::Assign(w, n) => *w == self.var && self.whole_call(*n).is_some(),
            Stmt::For(Loop {
                counter,
                start,
                end,
                inclusive: false,
                body,
                ..
            }) => {
                let graph = self.graph;
                let to_len = match (&graph.nodes[end.0].op, &graph.vars[self.var.0].shape) {
                    (Op::Len(w), _) => *w == self.var,
                    (_, Shape::Buffer(len)) => same(graph, *end, *len),
                    _ => false,
                };
                is_zero(graph, *start)
                    && to_len
                    && body.0.iter().any(|s| {
                        matches!(s, Stmt::Store { var, index, .. } if *var == self.var
                            && matches!(graph.nodes[index.0].op, Op::Counter(c) if c == *counter))
                    })
            }
            _ => false,
        }
    }
}

/// Every load of `var` in `block`, at any depth, with the path of enclosing blocks.
fn walk_reads<'b>(
    graph: &Graph,
    used: &HashSet<NodeId>,
    block: &'b Block,
    var: VarId,
    path: &mut Vec<(&'b Block, usize)>,
    f: &mut impl FnMut(&[(&'b Block, usize)], NodeId),
) {
    for (at, stmt) in block.0.iter().enumerate() {
        path.push((block, at));
        if let Stmt::Node(n) = stmt
            && matches!(graph.nodes[n.0].op, Op::Load(w) if w == var)
            && used.contains(n)
        {
            f(path, graph.nodes[n.0].args[0]);
        }
        for inner in stmt.blocks() {
            walk_reads(graph, used, inner, var, path, f);
        }
        path.pop();
    }
}

fn collect_bounds(block: &Block, into: &mut HashMap<usize, (NodeId, NodeId, bool)>) {
    block.for_each_stmt(|stmt| {
        if let Stmt::For(Loop {
            counter,
            start,
            end,
            inclusive,
            ..
        }) = stmt
        {
            into.insert(*counter, (*start, *end, *inclusive));
        }
    });
}

fn collect_stores(block: &Block, var: VarId, into: &mut Vec<NodeId>) {
    block.for_each_stmt(|stmt| {
        if let Stmt::Store { var: w, index, .. } = stmt
            && *w == var
        {
            into.push(*index);
        }
    });
}

/// How many statements write `var` other than by declaring it, at any depth.
fn count_writes(block: &Block, var: VarId) -> usize {
    let mut count = 0;
    block.for_each_stmt(|stmt| {
        count += usize::from(matches!(stmt,
            Stmt::Store { var: w, .. } | Stmt::Assign(w, _) if *w == var));
    });
    count
}

fn is_zero(graph: &Graph, n: NodeId) -> bool {
    matches!(graph.nodes[n.0].op, Op::Lit(LitValue::Int(0), _))
}

/// Whether two integer nodes compute the same value: the same node, or the same pure operation
/// on the same values.
fn same(graph: &Graph, a: NodeId, b: NodeId) -> bool {
    if a == b {
        return true;
    }
    let (x, y) = (&graph.nodes[a.0], &graph.nodes[b.0]);
    // `3` and `3usize`.
    if let (Op::Lit(LitValue::Int(p), _), Op::Lit(LitValue::Int(q), _)) = (&x.op, &y.op) {
        return p == q;
    }
    let pure = |op: &Op| {
        matches!(
            op,
            Op::Param(_) | Op::Lit(..) | Op::Const(_) | Op::Prim(_) | Op::Len(_)
        )
    };
    pure(&x.op)
        && pure(&y.op)
        && format!("{:?}", x.op) == format!("{:?}", y.op)
        && x.args.len() == y.args.len()
        && x.args.iter().zip(&y.args).all(|(&p, &q)| same(graph, p, q))
}

/// How some code touches one variable.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct Touch {
    /// Reads it, other than to add to it.
    read: bool,
    /// Adds to it: `v = v + c` (or `a[i] = a[i] + c`) with `c` computed without it.
    accumulate: bool,
    /// Writes it otherwise.
    write: bool,
}

impl Touch {
    fn join(&mut self, other: Touch) {
        self.read |= other.read;
        self.accumulate |= other.accumulate;
        self.write |= other.write;
    }

    /// Whether two pieces of code that touch a variable like this can run in either order:
    /// when both only read it, or both only add to it.
    fn commutes(self, other: Touch) -> bool {
        let reads = |t: Touch| !t.write && !t.accumulate;
        let sums = |t: Touch| !t.write && !t.read;
        (reads(self) && reads(other)) || (sums(self) && sums(other))
    }
}

type Touches = HashMap<VarId, Touch>;

fn commute(a: &Touches, b: &Touches) -> bool {
    a.iter()
        .all(|(v, t)| b.get(v).is_none_or(|u| t.commutes(*u)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum User {
    Node(NodeId),
    Assign(VarId),
    Store(VarId, NodeId),
    Other,
}

/// What backward code does, as far as reordering it is concerned.
struct Code<'g> {
    graph: &'g Graph,
    /// Whether a derivative call's addition into the gradient buffer of an input counts as
    /// adding to it (see [`before_loop`]).
    calls_add: bool,
    /// The users of every node the code computes or uses.
    users: HashMap<NodeId, Vec<User>>,
}

impl<'g> Code<'g> {
    fn new(graph: &'g Graph, stmts: &[Stmt]) -> Self {
        /// Records the statement that uses each node, and collects the nodes the code computes
        /// or uses.
        struct Walk<'u> {
            users: &'u mut HashMap<NodeId, Vec<User>>,
            roots: &'u mut Vec<NodeId>,
        }
        impl Walk<'_> {
            fn push(&mut self, n: NodeId, u: User) {
                self.users.entry(n).or_default().push(u);
                self.roots.push(n);
            }
        }
        impl Visit<'_> for Walk<'_> {
            fn stmt(&mut self, stmt: &Stmt) {
                match stmt {
                    Stmt::Node(n) => self.roots.push(*n),
                    Stmt::Assign(v, n) => self.push(*n, User::Assign(*v)),
                    Stmt::Store { var, index, value } => {
                        self.push(*value, User::Store(*var, *index));
                        self.push(*index, User::Other);
                    }
                    _ => walk_stmt(self, stmt),
                }
            }

            fn use_node(&mut self, n: NodeId) {
                self.push(n, User::Other);
            }
        }
        let mut users = HashMap::default();
        let mut work = Vec::new();
        let mut visit = Walk {
            users: &mut users,
            roots: &mut work,
        };
        for stmt in stmts {
            visit.stmt(stmt);
        }
        let mut seen = HashSet::default();
        while let Some(n) = work.pop() {
            if !seen.insert(n) {
                continue;
            }
            for &a in &graph.nodes[n.0].args {
                users.entry(a).or_default().push(User::Node(n));
                work.push(a);
            }
        }
        Code {
            graph,
            calls_add: false,
            users,
        }
    }

    fn users(&self, n: NodeId) -> &[User] {
        self.users.get(&n).map_or(&[], Vec::as_slice)
    }

    /// The variable `n` reads only to add to it, if it is such a read.
    fn accumulator(&self, n: NodeId) -> Option<VarId> {
        let Place { var, index } = self.graph.nodes[n.0].reads()?;
        let &[User::Node(sum)] = self.users(n) else {
            return None;
        };
        let s = &self.graph.nodes[sum.0];
        let once = s.args.iter().filter(|&&a| a == n).count() == 1;
        let sum_of = match s.op {
            Op::Prim(Prim::Add) => once,
            // `v - c`: adding `-c`.
            Op::Prim(Prim::Sub) => once && s.args[0] == n,
            _ => false,
        };
        if !sum_of {
            return None;
        }
        match (self.users(sum), index) {
            (&[User::Assign(v)], None) | (&[User::Store(v, _)], Some(_)) if v != var => None,
            (&[User::Assign(_)], None) => Some(var),
            (&[User::Store(_, i)], Some(j)) if i == j => Some(var),
            _ => None,
        }
    }

    /// Whether `value`, assigned to `var`, is `var` plus or minus something.
    fn adds_to(&self, var: VarId, value: NodeId) -> bool {
        self.addend(var, value).is_some()
    }

    /// What `value`, assigned to `var`, adds to `var`, and whether it subtracts it instead
    /// (`var - c`).
    fn addend(&self, var: VarId, value: NodeId) -> Option<(NodeId, bool)> {
        let node = &self.graph.nodes[value.0];
        let acc = |k: usize| self.accumulator(node.args[k]) == Some(var);
        match node.op {
            Op::Prim(Prim::Add) if acc(0) => Some((node.args[1], false)),
            Op::Prim(Prim::Add) if acc(1) => Some((node.args[0], false)),
            Op::Prim(Prim::Sub) if acc(0) => Some((node.args[1], true)),
            _ => None,
        }
    }

    /// Whether `value`, assigned to `var`, is a call of `g_vjp_into` (or a second buffer it
    /// writes) that only adds into `var`: every buffer of `var` it is passed is the gradient
    /// buffer of an input slice, which follows that slice (`&x[..], &mut d_x[..]`), where the
    /// seed of an out-parameter follows a scratch buffer.
    fn call_adds_to(&self, var: VarId, value: NodeId) -> bool {
        let call = match self.graph.nodes[value.0].op {
            Op::Written(call) => call,
            _ => value,
        };
        let node = &self.graph.nodes[call.0];
        let Op::Invoke(invoke) = &node.op else {
            return false;
        };
        if invoke.suffix != "adjoint_into" {
            return false;
        }
        let mut passed = false;
        for (k, a) in node.args.iter().enumerate() {
            if matches!(self.graph.nodes[a.0].op, Op::Array(w, _) | Op::Part(w) if w == var) {
                passed = true;
                let gradient = k > 0
                    && invoke.modes.get(k) == Some(&crate::graph::Pass::Mut)
                    && invoke.modes.get(k - 1) == Some(&crate::graph::Pass::Ref);
                if !gradient {
                    return false;
                }
            }
        }
        passed
    }

    /// How `stmts` touch each variable.
    fn touches(&self, stmts: &[Stmt], into: &mut Touches) {
        let mut touch = |v: VarId, t: Touch| into.entry(v).or_default().join(t);
        let read = Touch {
            read: true,
            ..Touch::default()
        };
        let add = Touch {
            accumulate: true,
            ..Touch::default()
        };
        let write = Touch {
            write: true,
            ..Touch::default()
        };
        for stmt in stmts {
            match stmt {
                Stmt::Node(n) => match self.graph.nodes[n.0].op {
                    Op::Read(v) | Op::Load(v) => {
                        touch(
                            v,
                            if self.accumulator(*n).is_some() {
                                add
                            } else {
                                read
                            },
                        );
                    }
                    Op::Pop(v) => touch(v, write),
                    _ => {}
                },
                Stmt::Declare(v, _) | Stmt::Push(v, _) => touch(*v, write),
                Stmt::Assign(v, n)
                | Stmt::Store {
                    var: v, value: n, ..
                } => {
                    let adds =
                        self.adds_to(*v, *n) || (self.calls_add && self.call_adds_to(*v, *n));
                    touch(*v, if adds { add } else { write });
                }
                Stmt::If { .. }
                | Stmt::For(Loop { .. })
                | Stmt::While { .. }
                | Stmt::Assert { .. } => {}
            }
        }
        for stmt in stmts {
            for block in stmt.blocks() {
                self.touches(&block.0, into);
            }
        }
    }
}

/// Which statements of `tail`, the backward code of what follows a fused loop, must run before
/// the loop, whose iterations run the backward code `body`: those that write what `body` reads
/// or touch what it adds to other than by adding too, those whose values they need, and those
/// that cannot run after them. The others can run after the loop, where the values after it
/// exist.
///
/// The loop's iterations, and each fused loop of the tail (`fused[j]`), pop off the tapes only
/// what the same iteration pushed: they leave every tape as they found it, so their pops do not
/// conflict with other code's.
///
/// With `calls_add`, a derivative call that adds into the gradient buffer of an input slice
/// (`qtimesx_vjp_into(.., &mut d_icf[a..b], ..)`) adds to it, as `d_icf[i] += …` does, rather
/// than writing it; without it, it writes it.
pub fn before_loop(
    graph: &Graph,
    tail: &[Stmt],
    fused: &[bool],
    body: &[Stmt],
    calls_add: bool,
) -> Vec<bool> {
    let mut all = tail.to_vec();
    all.extend(body.iter().cloned());
    let mut code = Code::new(graph, &all);
    code.calls_add = calls_add;
    let balanced =
        |t: &mut Touches| t.retain(|v, _| !matches!(graph.vars[v.0].shape, Shape::Tape(_)));
    let mut in_body = Touches::default();
    code.touches(body, &mut in_body);
    balanced(&mut in_body);
    let touches: Vec<Touches> = tail
        .iter()
        .zip(fused)
        .map(|(s, &fused)| {
            let mut t = Touches::default();
            code.touches(std::slice::from_ref(s), &mut t);
            if fused {
                balanced(&mut t);
            }
            t
        })
        .collect();

    // Where each node the tail computes is placed, and what each statement needs.
    let mut placed: HashMap<NodeId, usize> = HashMap::default();
    for (j, stmt) in tail.iter().enumerate() {
        let mut nodes = Vec::new();
        nodes_placed(std::slice::from_ref(stmt), &mut nodes);
        for n in nodes {
            placed.insert(n, j);
        }
    }
    let mut needs: Vec<Vec<(usize, NodeId)>> = tail
        .iter()
        .enumerate()
        .map(|(j, stmt)| {
            let mut work = Vec::new();
            let block = Block(vec![stmt.clone()]);
            block.for_each_use(&mut |n| work.push(n));
            let mut own = Vec::new();
            nodes_placed(std::slice::from_ref(stmt), &mut own);
            for n in own {
                work.extend(&graph.nodes[n.0].args);
            }
            let mut seen = HashSet::default();
            let mut needs = Vec::new();
            while let Some(n) = work.pop() {
                if !seen.insert(n) {
                    continue;
                }
                match placed.get(&n) {
                    Some(&k) if k != j => needs.push((k, n)),
                    None if !graph.is_primal(n) => work.extend(&graph.nodes[n.0].args),
                    Some(_) | None => {}
                }
            }
            needs
        })
        .collect();
    // A call that writes several buffers is its statement and one `Assign(b, Written(call))`
    // per other buffer: they go before the loop together or not at all.
    let mut calls: HashMap<NodeId, usize> = HashMap::default();
    for (j, stmt) in tail.iter().enumerate() {
        if let Stmt::Assign(_, n) | Stmt::Declare(_, Some(n)) = stmt
            && matches!(graph.nodes[n.0].op, Op::Invoke(_))
        {
            calls.insert(*n, j);
        }
    }
    for (j, stmt) in tail.iter().enumerate() {
        if let Stmt::Assign(_, n) = stmt
            && let Op::Written(call) = graph.nodes[n.0].op
            && let Some(&k) = calls.get(&call)
        {
            needs[j].push((k, call));
            needs[k].push((j, *n));
        }
    }
    // A value read from a variable the loop adds to, or computed from one, is only right
    // before the loop.
    let stale = |n: NodeId| {
        let mut work = vec![n];
        let mut seen = HashSet::default();
        while let Some(m) = work.pop() {
            if graph.is_primal(m) || !seen.insert(m) {
                continue;
            }
            let node = &graph.nodes[m.0];
            if let Op::Read(v) | Op::Load(v) = node.op
                && in_body.get(&v).is_some_and(|t| t.accumulate || t.write)
            {
                return true;
            }
            work.extend(&node.args);
        }
        false
    };

    let mut before: Vec<bool> = touches.iter().map(|t| !commute(t, &in_body)).collect();
    loop {
        let mut changed = false;
        for j in (0..tail.len()).rev() {
            if before[j] {
                for &(k, _) in &needs[j] {
                    changed |= !std::mem::replace(&mut before[k], true);
                }
                for k in 0..j {
                    if !before[k] && !commute(&touches[k], &touches[j]) {
                        before[k] = true;
                        changed = true;
                    }
                }
            } else if needs[j].iter().any(|&(k, n)| before[k] && stale(n)) {
                before[j] = true;
                changed = true;
            }
        }
        if !changed {
            return before;
        }
    }
}

/// The nodes `stmts` compute, at any depth.
pub fn nodes_placed(stmts: &[Stmt], into: &mut Vec<NodeId>) {
    for stmt in stmts {
        stmt.for_each_stmt(|s| {
            if let Stmt::Node(n) = s {
                into.push(*n);
            }
        });
    }
}

/// A fused loop's addition into the next element of an adjoint array, kept in a variable
/// instead: the next iteration adds it together with its own addition to that element.
pub struct Carry {
    /// `let mut d_x_next = 0.0;`, before the loop.
    pub declare: Vec<Stmt>,
    /// After the loop: the last iteration's carry, added to the element after the last.
    pub flush: Vec<Stmt>,
}

fn push(graph: &mut Graph, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
    graph.push(crate::graph::Node::new(op, args, ty))
}

/// In the backward code `body` of a fused loop over `counter` from `start` to `end`, running
/// forwards, finds arrays that each iteration adds to at two neighbouring elements, `i + k` and
/// `i + k + 1`, and nowhere else, and turns the addition at `i + k + 1` into a carry. Adding at `i + 1` and then, one iteration
/// later, at `i` again makes each element's update wait on the previous iteration's store to
/// it, which is slow when the two additions become one vector store; with a carry, each element
/// is read and written once.
pub fn carry_neighbours(
    graph: &mut Graph,
    body: &mut Block,
    counter: usize,
    (start, end, inclusive): (NodeId, NodeId, bool),
) -> Vec<Carry> {
    // An index as the counter plus a constant: `i`, `i + 1`, `i - 1`, `1 + i`.
    let offset = |g: &Graph, n: NodeId| -> Option<i128> {
        let literal = |a: NodeId| match g.nodes[a.0].op {
            Op::Lit(LitValue::Int(v), _) => Some(v),
            _ => None,
        };
        let node = &g.nodes[n.0];
        let is_counter = |a: NodeId| matches!(g.nodes[a.0].op, Op::Counter(k) if k == counter);
        match node.op {
            Op::Counter(k) if k == counter => Some(0),
            Op::Prim(Prim::Add) if is_counter(node.args[0]) => literal(node.args[1]),
            Op::Prim(Prim::Add) if is_counter(node.args[1]) => literal(node.args[0]),
            Op::Prim(Prim::Sub) if is_counter(node.args[0]) => literal(node.args[1]).map(|v| -v),
            _ => None,
        }
    };
    // Every top-level addition into an array element: its statement, index and addend.
    let mut additions: HashMap<VarId, Vec<(usize, NodeId, NodeId)>> = HashMap::default();
    let mut subtracted: HashSet<VarId> = HashSet::default();
    let mut touched = Touches::default();
    let mut loads: HashMap<VarId, usize> = HashMap::default();
    {
        let code = Code::new(graph, &body.0);
        for (k, stmt) in body.0.iter().enumerate() {
            if let Stmt::Store { var, index, value } = stmt
                && let Some((addend, minus)) = code.addend(*var, *value)
            {
                // The carry adds what it holds: an array also subtracted from keeps its code.
                if minus {
                    subtracted.insert(*var);
                }
                additions.entry(*var).or_default().push((k, *index, addend));
            }
        }
        code.touches(&body.0, &mut touched);
        let mut nodes = Vec::new();
        nodes_placed(&body.0, &mut nodes);
        for n in nodes {
            if let Op::Load(v) = graph.nodes[n.0].op {
                *loads.entry(v).or_default() += 1;
            }
        }
    }

    let mut carries = Vec::new();
    let mut replace: HashMap<usize, Vec<Stmt>> = HashMap::default();
    let mut reads = Vec::new();
    let mut vars: Vec<VarId> = additions.keys().copied().collect();
    vars.sort();
    for var in vars {
        if subtracted.contains(&var) {
            continue;
        }
        let &[a, b] = additions[&var].as_slice() else {
            continue;
        };
        let (Some(oa), Some(ob)) = (offset(graph, a.1), offset(graph, b.1)) else {
            continue;
        };
        let (here, next, step) = if ob == oa + 1 {
            (a, b, ob)
        } else if oa == ob + 1 {
            (b, a, oa)
        } else {
            continue;
        };
        // Nothing else reads or writes the array in the loop: one load per addition.
        if touched.get(&var).is_some_and(|t| t.read || t.write) || loads.get(&var) != Some(&2) {
            continue;
        }
        let float = Ty::Float(graph.vars[var.0].ty.float());
        graph.vars.push(crate::graph::Var {
            name: crate::names::suffixed(&graph.vars[var.0].name, "next"),
            ty: float,
            shape: Shape::Scalar,
            active: false,
            param: None,
            span: proc_macro2::Span::call_site(),
        });
        let carry = VarId(graph.vars.len() - 1);
        let zero = push(graph, Op::Lit(LitValue::Float(0.0), None), vec![], float);
        let read = push(graph, Op::Read(carry), vec![], float);
        reads.push(Stmt::Node(read));
        // The element at `i` gets this iteration's addition and the previous one's carry.
        let (k, index, own) = here;
        let sum = push(graph, Op::Prim(Prim::Add), vec![own, read], float);
        let mut add = vec![Stmt::Node(sum)];
        add.extend(graph.add_to_element(var, index, sum, float));
        replace.insert(k, add);
        replace.insert(next.0, vec![Stmt::Assign(carry, next.2)]);

        // After the loop, if it ran: the element after the last iteration's.
        // The last iteration's counter is `end - 1` (`end` for `..=`): its `i + step`. The index
        // is computed inside the branch, where the last iteration used it, so it cannot overflow
        // when the range is empty.
        let mut then = Vec::new();
        let (delta, cmp) = if inclusive {
            (step, CmpOp::Le)
        } else {
            (step - 1, CmpOp::Lt)
        };
        let last = match delta {
            0 => end,
            _ => {
                let k = push(
                    graph,
                    Op::Lit(LitValue::Int(delta.abs()), None),
                    vec![],
                    Ty::Int,
                );
                let prim = if delta > 0 { Prim::Add } else { Prim::Sub };
                let last = push(graph, Op::Prim(prim), vec![end, k], Ty::Int);
                then.push(Stmt::Node(k));
                then.push(Stmt::Node(last));
                last
            }
        };
        let ran = push(graph, Op::Cmp(cmp), vec![start, end], Ty::Bool);
        let left = push(graph, Op::Read(carry), vec![], float);
        let element = push(graph, Op::Load(var), vec![last], float);
        let added = push(graph, Op::Prim(Prim::Add), vec![element, left], float);
        then.extend([
            Stmt::Node(left),
            Stmt::Node(element),
            Stmt::Node(added),
            Stmt::Store {
                var,
                index: last,
                value: added,
            },
        ]);
        let flush = vec![
            Stmt::Node(ran),
            Stmt::If {
                cond: ran,
                then: Block(then),
                otherwise: Block::default(),
            },
        ];
        carries.push(Carry {
            declare: vec![Stmt::Node(zero), Stmt::Declare(carry, Some(zero))],
            flush,
        });
    }
    if !carries.is_empty() {
        let old = std::mem::take(&mut body.0);
        body.0 = reads;
        for (k, stmt) in old.into_iter().enumerate() {
            match replace.remove(&k) {
                Some(new) => body.0.extend(new),
                None => body.0.push(stmt),
            }
        }
    }
    carries
}

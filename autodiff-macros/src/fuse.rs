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

use std::collections::{HashMap, HashSet};

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
    let mut effects = Effects::default();
    Effects::of(body, &mut effects);
    if effects
        .stored
        .iter()
        .any(|v| !effects.declared.contains(v) && !per_iteration(graph, body, *v))
    {
        return false;
    }
    // A call that writes into an array declared outside the loop stores into it.
    if effects.assigned.iter().any(|(v, _)| {
        !effects.declared.contains(v) && !matches!(graph.vars[v.0].shape, Shape::Scalar)
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
    let mut acc: HashMap<NodeId, (VarId, usize)> = HashMap::new();
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
    let mut allowed: HashMap<NodeId, usize> = HashMap::new();
    for &(v, n) in &effects.assigned {
        if carried.contains(&v) {
            match acc.get(&n) {
                Some(&(w, _)) if w == v => *allowed.entry(n).or_default() += 1,
                _ => return false,
            }
        }
    }
    let mut statement_uses: HashMap<NodeId, usize> = HashMap::new();
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
    let mut bounds: HashMap<usize, (NodeId, NodeId, bool)> = HashMap::new();
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
    let mut used = HashSet::new();
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
        let mut users = HashMap::new();
        let mut work = Vec::new();
        let mut visit = Walk {
            users: &mut users,
            roots: &mut work,
        };
        for stmt in stmts {
            visit.stmt(stmt);
        }
        let mut seen = HashSet::new();
        while let Some(n) = work.pop() {
            if !seen.insert(n) {
                continue;
            }
            for &a in &graph.nodes[n.0].args {
                users.entry(a).or_default().push(User::Node(n));
                work.push(a);
            }
        }
        Code { graph, users }
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
                    touch(*v, if self.adds_to(*v, *n) { add } else { write });
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
pub fn before_loop(graph: &Graph, tail: &[Stmt], fused: &[bool], body: &[Stmt]) -> Vec<bool> {
    let mut all = tail.to_vec();
    all.extend(body.iter().cloned());
    let code = Code::new(graph, &all);
    let balanced =
        |t: &mut Touches| t.retain(|v, _| !matches!(graph.vars[v.0].shape, Shape::Tape(_)));
    let mut in_body = Touches::new();
    code.touches(body, &mut in_body);
    balanced(&mut in_body);
    let touches: Vec<Touches> = tail
        .iter()
        .zip(fused)
        .map(|(s, &fused)| {
            let mut t = Touches::new();
            code.touches(std::slice::from_ref(s), &mut t);
            if fused {
                balanced(&mut t);
            }
            t
        })
        .collect();

    // Where each node the tail computes is placed, and what each statement needs.
    let mut placed: HashMap<NodeId, usize> = HashMap::new();
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
            let mut seen = HashSet::new();
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
    let mut calls: HashMap<NodeId, usize> = HashMap::new();
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
        let mut seen = HashSet::new();
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
    let mut additions: HashMap<VarId, Vec<(usize, NodeId, NodeId)>> = HashMap::new();
    let mut subtracted: HashSet<VarId> = HashSet::new();
    let mut touched = Touches::new();
    let mut loads: HashMap<VarId, usize> = HashMap::new();
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
    let mut replace: HashMap<usize, Vec<Stmt>> = HashMap::new();
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

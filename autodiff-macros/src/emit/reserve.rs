//! Room made on a tape before a loop that fills it: `tape.reserve(k * d);`.
//!
//! A tape allocates when a push finds it full, at first 512 bytes, then twice its size. Where the
//! loop that fills a tape pops nothing of it, and how many values it pushes follows from what is
//! known where it starts (its bounds, those of the loops in it, the lengths of the arrays whose
//! gradients calls save), the tape is given exactly that room first. A loop over the points that
//! saves `k · d` values per point and pops them again before the next point then holds `k · d`
//! values, not 512 bytes; a loop that saves `n` values allocates once, not once per doubling.
//!
//! The room is a hint: the loop pushes what it pushes whatever the room, so a count that is off
//! costs memory or an allocation, never a value. What is counted is what cannot be off by much:
//! pushes in `for` loops, but not in `while` loops or in branches (other than on a helper's
//! constant `g_overwrites()`), and only bounds that the code before the loop can compute
//! (parameters, constants, lengths and variables in scope, counters of the loops around it).
//!
//! Room is made outside loops, or inside a loop that pops the tape (a fused loop, which empties
//! it at every iteration), and there once, before the outermost such loop where the count is
//! known: on a tape that only grows, a push's doubling is as good. Counts known at compile time
//! get none: they are the tape's inline part.

use crate::hash::{HashMap, HashSet};

use crate::graph::{Block, Graph, IntoBuffer, Loop, NodeId, Op, Stmt, VarId, Visit, walk_stmt};
use crate::prim::Prim;

/// How many values a loop pushes on a tape.
#[derive(Clone, Debug)]
pub(super) enum Amount {
    Known(u64),
    /// The iterations of `start..end` (`..=` when inclusive).
    Trips {
        start: NodeId,
        end: NodeId,
        inclusive: bool,
    },
    /// The length of an array in scope, whose gradient a call saves whole.
    Len(VarId),
    Sum(Vec<Amount>),
    Times(Box<Amount>, Box<Amount>),
    /// `if test { then } else { otherwise }`, with `test` a constant function's value.
    Choose {
        test: NodeId,
        then: Box<Amount>,
        otherwise: Box<Amount>,
    },
}

impl Amount {
    fn sum(terms: Vec<Amount>) -> Amount {
        let mut known = 0_u64;
        let mut terms: Vec<Amount> = terms
            .into_iter()
            .filter(|t| match t {
                Amount::Known(n) => {
                    known = known.saturating_add(*n);
                    false
                }
                _ => true,
            })
            .collect();
        if known > 0 {
            terms.push(Amount::Known(known));
        }
        match terms.len() {
            0 => Amount::Known(0),
            1 => terms.pop().expect("one term"),
            _ => Amount::Sum(terms),
        }
    }

    /// Whether every value the count is computed from passes `node` (the bounds of loops and
    /// parts) or `len` (the arrays whose lengths it reads); a branch's test, a constant
    /// function's value, is known everywhere.
    fn all(
        &self,
        node: &mut impl FnMut(NodeId) -> bool,
        len: &mut impl FnMut(VarId) -> bool,
    ) -> bool {
        match self {
            Amount::Known(_) => true,
            Amount::Trips { start, end, .. } => node(*start) && node(*end),
            Amount::Len(v) => len(*v),
            Amount::Sum(terms) => terms.iter().all(|t| t.all(node, len)),
            Amount::Times(a, b) => a.all(node, len) && b.all(node, len),
            Amount::Choose {
                then, otherwise, ..
            } => then.all(node, len) && otherwise.all(node, len),
        }
    }

    fn times(a: Amount, b: Amount) -> Amount {
        match (a, b) {
            (Amount::Known(0), _) | (_, Amount::Known(0)) => Amount::Known(0),
            (Amount::Known(1), x) | (x, Amount::Known(1)) => x,
            (Amount::Known(a), Amount::Known(b)) => Amount::Known(a.saturating_mul(b)),
            (a, b) => Amount::Times(Box::new(a), Box::new(b)),
        }
    }
}

/// The room made before one loop on one tape.
pub(super) struct Reserve {
    pub tape: VarId,
    pub amount: Amount,
}

/// The room to make before each loop of `code`, by the loop's address.
pub(super) fn plan(graph: &Graph, code: &Block) -> HashMap<usize, Vec<Reserve>> {
    let mut planner = Planner {
        graph,
        in_scope: Vec::new(),
        reserved: Vec::new(),
        frames: Vec::new(),
        out: HashMap::default(),
    };
    planner.block(code);
    planner.out
}

/// A loop's identity while the code is printed: its address.
pub(super) fn address(l: &Loop) -> usize {
    std::ptr::from_ref(l).addr()
}

struct Planner<'g> {
    graph: &'g Graph,
    /// The variables declared with a value in the blocks around the statement walked.
    in_scope: Vec<VarId>,
    /// The tapes a loop around it makes room on already.
    reserved: Vec<VarId>,
    /// The loops around it, outermost first. Room is made on a tape only outside loops or
    /// where the innermost loop pops from it, which it empties while it runs: on a tape that
    /// only grows, the doubling of a push is as good.
    frames: Vec<Frame>,
    out: HashMap<usize, Vec<Reserve>>,
}

/// A loop around the statement walked: where it is, its counter, how many variables are in
/// scope where it starts, and the tapes it pops from.
struct Frame {
    address: usize,
    counter: usize,
    scope: usize,
    popped: HashSet<VarId>,
}

impl Planner<'_> {
    fn block(&mut self, block: &Block) {
        let mark = self.in_scope.len();
        // The tapes room is made on in this block, up to the index of the statement that pops
        // them.
        let mut covered: HashMap<VarId, usize> = HashMap::default();
        // The tapes each statement pops from, where a loop may make room.
        let pops: Vec<HashSet<VarId>> = if block.0.iter().any(|s| matches!(s, Stmt::For(_))) {
            block
                .0
                .iter()
                .map(|s| Touched::of(self.graph, std::slice::from_ref(s)).popped)
                .collect()
        } else {
            Vec::new()
        };
        for (index, stmt) in block.0.iter().enumerate() {
            match stmt {
                Stmt::Declare(v, Some(_)) => self.in_scope.push(*v),
                Stmt::For(l) => {
                    let rest = (&block.0[index..], &pops[index..]);
                    self.for_loop(l, rest, index, &mut covered);
                }
                _ => {
                    for b in stmt.blocks() {
                        self.block(b);
                    }
                }
            }
        }
        self.in_scope.truncate(mark);
    }

    /// Loop `l`, the first of `rest`, at `index` in its block: room on each tape it fills for
    /// what it and the statements after it push before one pops (two loops that save values
    /// for one backward loop get their room at once).
    fn for_loop(
        &mut self,
        l: &Loop,
        (rest, pops): (&[Stmt], &[HashSet<VarId>]),
        index: usize,
        covered: &mut HashMap<VarId, usize>,
    ) {
        let touched = Touched::of(self.graph, std::slice::from_ref(&rest[0]));
        let mut here: Vec<Reserve> = Vec::new();
        let mut tapes: Vec<VarId> = touched
            .pushed
            .iter()
            .filter(|t| {
                !touched.popped.contains(t)
                    && !self.reserved.contains(t)
                    && self.frames.last().is_none_or(|f| f.popped.contains(t))
                    && covered.get(t).is_none_or(|&until| index >= until)
            })
            .copied()
            .collect();
        tapes.sort();
        for tape in tapes {
            let until = pops
                .iter()
                .position(|p| p.contains(&tape))
                .unwrap_or(rest.len());
            let amount = match self.pushes(&rest[..until], tape) {
                Some(amount) => Some((amount, until)),
                None => self.pushes(&rest[..1], tape).map(|amount| (amount, 1)),
            };
            // A count known at compile time is the tape's inline part already.
            if let Some((amount, until)) = amount.filter(|(a, _)| !self.constant(a)) {
                covered.insert(tape, index + until);
                here.push(Reserve { tape, amount });
            }
        }
        let mark = self.reserved.len();
        self.reserved.extend(here.iter().map(|r| r.tape));
        for reserve in here {
            // Before the loops around that empty the tape, where what it counts is known
            // there: once, rather than once per iteration of theirs.
            let at = self
                .frames
                .iter()
                .rev()
                .enumerate()
                .take_while(|&(k, f)| {
                    // Known where the loop starts: what the loops around it know.
                    let around = self.frames.len() - 1 - k;
                    f.popped.contains(&reserve.tape)
                        && reserve
                            .amount
                            .all(&mut |n| self.known_in(n, f.scope, around), &mut |v| {
                                self.in_scope_in(v, f.scope)
                            })
                })
                .last()
                .map_or_else(|| address(l), |(_, f)| f.address);
            self.out.entry(at).or_default().push(reserve);
        }
        self.frames.push(Frame {
            address: address(l),
            counter: l.counter,
            scope: self.in_scope.len(),
            popped: touched.popped,
        });
        self.block(&l.body);
        self.frames.pop();
        self.reserved.truncate(mark);
    }

    /// Whether a test is the value of a function without arguments, or its negation.
    fn constant_test(&self, n: NodeId) -> bool {
        let node = self.graph.node(n);
        match &node.op {
            Op::Not => self.constant_test(node.args[0]),
            Op::Call(_) => node.args.is_empty(),
            _ => false,
        }
    }

    /// Whether a count is known at compile time: built from literals and constants alone.
    fn constant(&self, amount: &Amount) -> bool {
        amount.all(
            &mut |n| {
                let mut work = vec![n];
                while let Some(n) = work.pop() {
                    let node = self.graph.node(n);
                    match node.op {
                        Op::Lit(..) | Op::Const(_) => {}
                        Op::Prim(_) => work.extend(node.args.iter().copied()),
                        _ => return false,
                    }
                }
                true
            },
            &mut |_| false,
        )
    }

    /// The iterations of loop `l`, if the code before the loop walked can compute its bounds.
    fn trips(&self, l: &Loop) -> Option<Amount> {
        (self.known(l.start) && self.known(l.end)).then_some(Amount::Trips {
            start: l.start,
            end: l.end,
            inclusive: l.inclusive,
        })
    }

    /// What `stmts` push on `tape` per run, if it can be counted before the loop walked.
    fn pushes(&self, stmts: &[Stmt], tape: VarId) -> Option<Amount> {
        let mut terms = Vec::new();
        for stmt in stmts {
            match stmt {
                Stmt::Push(t, _) if *t == tape => terms.push(Amount::Known(1)),
                Stmt::Node(n) => {
                    let node = self.graph.node(*n);
                    let Op::CallGrad(c) = &node.op else {
                        continue;
                    };
                    let buffers = c.buffers.as_deref().unwrap_or_default();
                    let slices = node
                        .args
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| buffers.get(*i) == Some(&true));
                    for ((_, &a), b) in slices.zip(&c.scratch) {
                        if *b == IntoBuffer::Tape(tape) {
                            terms.push(self.length(a)?);
                        }
                    }
                }
                Stmt::For(inner)
                    if Touched::of(self.graph, &inner.body.0)
                        .pushed
                        .contains(&tape) =>
                {
                    let each = self.pushes(&inner.body.0, tape)?;
                    terms.push(Amount::times(self.trips(inner)?, each));
                }
                // A branch on a constant function's value (`if !g_overwrites() { save }`):
                // what the branch taken pushes.
                Stmt::If {
                    cond,
                    then,
                    otherwise,
                } if self.constant_test(*cond) => {
                    let (a, b) = (
                        self.pushes(&then.0, tape)?,
                        self.pushes(&otherwise.0, tape)?,
                    );
                    if !matches!((&a, &b), (Amount::Known(0), Amount::Known(0))) {
                        terms.push(Amount::Choose {
                            test: *cond,
                            then: Box::new(a),
                            otherwise: Box::new(b),
                        });
                    }
                }
                // Any other branch, or a `while` loop, that pushes: not counted.
                Stmt::If { .. } | Stmt::While { .. }
                    if stmt
                        .blocks()
                        .into_iter()
                        .any(|b| Touched::of(self.graph, &b.0).pushed.contains(&tape)) =>
                {
                    return None;
                }
                _ => {}
            }
        }
        Some(Amount::sum(terms))
    }

    /// The length of a slice argument: the whole of an array in scope, or a part of one.
    fn length(&self, arg: NodeId) -> Option<Amount> {
        let node = self.graph.node(arg);
        match node.op {
            Op::Array(v, _) if self.in_scope(v) => Some(Amount::Len(v)),
            Op::Part(_) if self.known(node.args[0]) && self.known(node.args[1]) => {
                Some(Amount::Trips {
                    start: node.args[0],
                    end: node.args[1],
                    inclusive: false,
                })
            }
            _ => None,
        }
    }

    fn in_scope(&self, v: VarId) -> bool {
        self.in_scope_in(v, self.in_scope.len())
    }

    /// Whether `v` is a parameter or among the first `scope` variables in scope.
    fn in_scope_in(&self, v: VarId, scope: usize) -> bool {
        self.graph.vars[v.0].param.is_some() || self.in_scope[..scope].contains(&v)
    }

    /// Whether an integer value can be computed before the loop walked: built by `+`, `-` and
    /// `*` from literals, constants, parameters, variables and lengths in scope, and counters of
    /// the loops around it.
    fn known(&self, n: NodeId) -> bool {
        self.known_in(n, self.in_scope.len(), self.frames.len())
    }

    /// [`Planner::known`] with the first `scope` variables in scope and the counters of the
    /// outermost `frames` loops around.
    fn known_in(&self, n: NodeId, scope: usize, frames: usize) -> bool {
        let node = self.graph.node(n);
        match &node.op {
            Op::Lit(crate::graph::LitValue::Int(_), _) | Op::Param(_) | Op::Const(_) => true,
            Op::Read(v) | Op::Len(v) => self.in_scope_in(*v, scope),
            Op::Counter(c) => self.frames[..frames].iter().any(|f| f.counter == *c),
            Op::Prim(Prim::Add | Prim::Sub | Prim::Mul) => {
                node.args.iter().all(|a| self.known_in(*a, scope, frames))
            }
            _ => false,
        }
    }
}

/// The tapes a block pushes on (a push, or a call saving a gradient on it) and pops from.
#[derive(Default)]
struct Touched {
    pushed: HashSet<VarId>,
    popped: HashSet<VarId>,
}

impl Touched {
    /// What `stmts` and the blocks in them push and pop, from the statements alone: the reverse
    /// pass places every pop and every call that saves a gradient (`Stmt::Node`), so no walk
    /// over what the values are computed from is needed, and a block of thousands of
    /// statements is looked at once per loop that makes room.
    fn of(graph: &Graph, stmts: &[Stmt]) -> Touched {
        let mut walk = TouchWalk {
            graph,
            touched: Touched::default(),
        };
        for stmt in stmts {
            walk.stmt(stmt);
        }
        walk.touched
    }
}

/// The walk of [`Touched::of`].
struct TouchWalk<'g> {
    graph: &'g Graph,
    touched: Touched,
}

impl TouchWalk<'_> {
    fn node(&mut self, n: NodeId) {
        match &self.graph.node(n).op {
            Op::Pop(t) => {
                self.touched.popped.insert(*t);
            }
            Op::CallGrad(c) => {
                self.touched
                    .pushed
                    .extend(c.scratch.iter().filter_map(|b| match b {
                        IntoBuffer::Tape(t) => Some(*t),
                        _ => None,
                    }));
            }
            _ => {}
        }
    }
}

impl Visit<'_> for TouchWalk<'_> {
    fn stmt(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::Push(t, _) => {
                self.touched.pushed.insert(*t);
            }
            Stmt::Node(n) => self.node(*n),
            _ => {}
        }
        walk_stmt(self, stmt);
    }

    /// A pop read where it is used, without a placement of its own.
    fn use_node(&mut self, n: NodeId) {
        if let Op::Pop(t) = self.graph.node(n).op {
            self.touched.popped.insert(t);
        }
    }
}

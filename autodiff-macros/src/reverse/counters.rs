//! Integer counters run backwards instead of saved.
//!
//! A running index such as the `lparamsidx` of `ADBench`'s `Qtimesx` (declared at the top,
//! `+= 1` in an inner loop, read there to index a packed triangle) would be saved on a tape at
//! every iteration, since its value at a given iteration is not in scope in the backward sweep. But each update adds a
//! constant, so the backward code can undo it: at the start of a backward iteration of the loop
//! body that updates it, the counter is stepped back over that iteration's updates, last first,
//! and each read of it in the body is taken at its place in that sequence. When the backward
//! sweep reaches the body the counter holds its final value, since nothing after the body
//! writes it; after each backward iteration it holds what it held before the forward one.
//!
//! A counter qualifies when it is an integer variable declared at the top level of the
//! function, every assignment to it (after its declaration) is directly in one block inside a
//! loop, and each is `v = v + c` or `v = v - c` of an integer literal `c`, `v` the value right
//! before the assignment (a read of it since the previous assignment, or the previous
//! assignment's value). Nothing else changes it, so running the body's updates backwards is
//! exact, and nothing reads it in the backward code before the body. A loop being reversed for
//! fusion runs each iteration's backward code before the next forward one, which the stepping
//! back would disturb: there the counter's reads are in scope or saved, as before.

use std::collections::{HashMap, HashSet};

use super::Reverse;
use crate::graph::{Block, LitValue, Node, NodeId, Op, Origin, Shape, Stmt, Ty, VarId};
use crate::prim::Prim;

/// A counter whose updates can be undone, and where they are.
pub(super) struct Counter {
    /// The block that updates it.
    block: usize,
    /// The updates, by position in the block: the constant, and whether it is added.
    updates: Vec<(usize, NodeId, bool)>,
}

/// What the primal body does to integer variables, block by block.
#[derive(Default)]
struct Uses {
    assigns: HashMap<VarId, Vec<(usize, usize, NodeId)>>,
    declared_inside: HashSet<VarId>,
}

impl Reverse {
    /// The counters of the body (see the module's documentation), after [`Reverse::locate`].
    pub(super) fn find_counters(&self, body: &Block) -> HashMap<VarId, Counter> {
        let mut uses = Uses::default();
        self.integer_uses(body, true, &mut uses);
        let mut counters = HashMap::new();
        for (v, assigns) in uses.assigns {
            if uses.declared_inside.contains(&v) {
                continue;
            }
            let (block, _, _) = assigns[0];
            if block == 0
                || !self.looped.contains(&block)
                || assigns.iter().any(|&(b, _, _)| b != block)
                || !self.b.with_graph(|g| {
                    let var = &g.vars[v.0];
                    var.param.is_none()
                        && matches!(var.shape, Shape::Scalar)
                        && matches!(var.ty, Ty::Int)
                })
            {
                continue;
            }
            let mut updates = Vec::new();
            let mut previous: Option<(usize, NodeId)> = None;
            let ok = assigns.iter().all(|&(_, at, value)| {
                let Some((before, c, add)) = self.step(value) else {
                    return false;
                };
                let current = match self.b.node(before).op {
                    // A read of the counter since the previous update.
                    Op::Read(w) if w == v => self.home.get(&before).is_some_and(|h| {
                        h.block == block && h.at.0 < at && previous.is_none_or(|(p, _)| h.at.0 > p)
                    }),
                    // The previous update's value.
                    _ => previous.is_some_and(|(_, n)| n == before),
                };
                previous = Some((at, value));
                updates.push((at, c, add));
                current
            });
            if ok {
                counters.insert(v, Counter { block, updates });
            }
        }
        counters
    }

    /// `before + c` or `before - c` of an integer literal `c`: `(before, c, added)`.
    fn step(&self, value: NodeId) -> Option<(NodeId, NodeId, bool)> {
        let node = self.b.node(value);
        let literal = |n: NodeId| matches!(self.b.node(n).op, Op::Lit(LitValue::Int(_), _));
        match (node.op, node.args.as_slice()) {
            (Op::Prim(Prim::Add), &[a, c]) if literal(c) => Some((a, c, true)),
            (Op::Prim(Prim::Add), &[c, a]) if literal(c) => Some((a, c, true)),
            (Op::Prim(Prim::Sub), &[a, c]) if literal(c) => Some((a, c, false)),
            _ => None,
        }
    }

    fn integer_uses(&self, block: &Block, top: bool, uses: &mut Uses) {
        let id = self.block_ids[&super::address(block)];
        for (at, stmt) in block.0.iter().enumerate() {
            match stmt {
                Stmt::Assign(v, value) => {
                    uses.assigns.entry(*v).or_default().push((id, at, *value));
                }
                Stmt::Declare(v, _) if !top => {
                    uses.declared_inside.insert(*v);
                }
                _ => {}
            }
            for nested in stmt.blocks() {
                self.integer_uses(nested, false, uses);
            }
        }
    }

    /// Whether `n` reads a counter in the block that updates it, outside a loop being reversed
    /// for fusion: its value is had by stepping the counter back ([`Reverse::counter_read`]).
    pub(super) fn steps_back(&self, n: NodeId) -> bool {
        if self.fused_block.is_some() {
            return false;
        }
        let Op::Read(v) = self.b.node(n).op else {
            return false;
        };
        self.counters
            .get(&v)
            .zip(self.home.get(&n))
            .is_some_and(|(c, h)| h.block == c.block)
    }

    /// The value of a read of a counter in the backward code of the block that updates it, when
    /// it can be had by stepping the counter back: the first such read in a backward run of
    /// the block builds the whole sequence at the start of that run.
    pub(super) fn counter_read(&mut self, n: NodeId) -> Option<NodeId> {
        if !self.steps_back(n) {
            return None;
        }
        let Op::Read(v) = self.b.node(n).op else {
            return None;
        };
        let counter = &self.counters[&v];
        let block = counter.block;
        let updates = counter.updates.clone();
        let mut reads: Vec<(usize, NodeId)> = self
            .home
            .iter()
            .filter(|(id, h)| {
                h.block == block && matches!(self.b.node(**id).op, Op::Read(w) if w == v)
            })
            .map(|(id, h)| (h.at.0, *id))
            .collect();
        reads.sort_unstable();
        let ty = self.b.node(n).ty;
        let read_now = |r: &mut Self| {
            r.b.with_graph(|g| {
                g.push(Node {
                    origin: Origin::Derivative,
                    ..Node::new(Op::Read(v), vec![], ty)
                })
            })
        };
        let mut prologue = Vec::new();
        let mut values = Vec::new();
        // Last first: undo an update, or take a read's value.
        let mut updates = updates.into_iter().rev().peekable();
        let mut reads = reads.into_iter().rev().peekable();
        loop {
            let update_next = match (updates.peek(), reads.peek()) {
                (Some(&(u, _, _)), Some(&(r, _))) => u > r,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if update_next {
                let (_, c, added) = updates.next().expect("peeked");
                let now = read_now(self);
                let prim = if added { Prim::Sub } else { Prim::Add };
                let back = self.b.with_graph(|g| {
                    g.push(Node {
                        origin: Origin::Derivative,
                        ..Node::new(Op::Prim(prim), vec![now, c], ty)
                    })
                });
                prologue.extend([Stmt::Node(now), Stmt::Node(back), Stmt::Assign(v, back)]);
            } else {
                let (_, read) = reads.next().expect("peeked");
                let now = read_now(self);
                prologue.push(Stmt::Node(now));
                values.push((read, now));
            }
        }
        self.undone.insert(v);
        let frame = self
            .stack
            .iter_mut()
            .rev()
            .find(|f| f.block == block)
            .expect("a value is needed only inside the block that computes it");
        frame.prologue.extend(prologue);
        frame.values.extend(values);
        frame.values.get(&n).copied()
    }
}

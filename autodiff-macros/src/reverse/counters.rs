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

use crate::hash::HashMap;

use super::Reverse;
use crate::graph::{Block, LitValue, Node, NodeId, Op, Origin, Shape, Stmt, Ty, VarId};
use crate::prim::Prim;

/// A counter whose updates can be undone, and where they are.
pub(super) struct Counter {
    /// The block that updates it.
    block: usize,
    /// The updates, by position in the block: the constant, and whether it is added.
    updates: Vec<(usize, NodeId, bool)>,
    /// For a counter declared in a block that runs more than once (a loop body), the read of
    /// it that ends that block: its value when the backward code of the block starts.
    last: Option<NodeId>,
}

/// What the primal body does to integer variables, block by block.
#[derive(Default)]
struct Uses {
    assigns: HashMap<VarId, Vec<(usize, usize, NodeId)>>,
    declared: HashMap<VarId, usize>,
}

impl Reverse {
    /// Ends every nested block that declares an integer variable assigned deeper inside it with
    /// a read of that variable, before [`Reverse::locate`]: the value a counter declared there
    /// has when the block ends ([`Counter::last`]). Unused reads are not emitted.
    pub(super) fn end_with_reads(&self, block: &mut Block, top: bool) -> HashMap<VarId, NodeId> {
        let mut reads = HashMap::default();
        let mut declared = Vec::new();
        for stmt in &mut block.0 {
            if let Stmt::Declare(v, _) = stmt {
                declared.push(*v);
            }
            let nested: Vec<&mut Block> = match stmt {
                Stmt::If {
                    then, otherwise, ..
                } => vec![then, otherwise],
                Stmt::For(l) => vec![&mut l.body],
                Stmt::While { cond, body, .. } => vec![cond, body],
                _ => Vec::new(),
            };
            for nested in nested {
                reads.extend(self.end_with_reads(nested, false));
            }
        }
        if top {
            return reads;
        }
        for v in declared {
            let assigned_inside = block
                .0
                .iter()
                .any(|s| s.blocks().iter().any(|b| b.stores(v)));
            if self.integer_local(v) && assigned_inside {
                let read = self.b.with_graph(|g| {
                    g.push(Node {
                        origin: Origin::Primal,
                        ..Node::new(Op::Read(v), vec![], Ty::Int)
                    })
                });
                block.0.push(Stmt::Node(read));
                reads.insert(v, read);
            }
        }
        reads
    }

    /// The counters of the body (see the module's documentation), after [`Reverse::locate`];
    /// `last` is what [`Reverse::end_with_reads`] added.
    pub(super) fn find_counters(
        &self,
        body: &Block,
        last: &HashMap<VarId, NodeId>,
    ) -> HashMap<VarId, Counter> {
        let mut uses = Uses::default();
        self.integer_uses(body, &mut uses);
        let mut counters = HashMap::default();
        for (v, assigns) in uses.assigns {
            let Some(&declared) = uses.declared.get(&v) else {
                continue;
            };
            let (block, _, _) = assigns[0];
            // Declared at the top, or in a block around the one that updates it, which ends
            // with a read of it.
            let last = last.get(&v).copied();
            let around = declared == 0 || (declared != block && last.is_some());
            if block == 0
                || !around
                || !self.looped.contains(&block)
                || assigns.iter().any(|&(b, _, _)| b != block)
                || !self.integer_local(v)
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
                counters.insert(
                    v,
                    Counter {
                        block,
                        updates,
                        last,
                    },
                );
            }
        }
        counters
    }

    /// Whether `v` is a local integer variable, not a parameter.
    fn integer_local(&self, v: VarId) -> bool {
        self.b.with_graph(|g| {
            let var = &g.vars[v.0];
            var.param.is_none() && matches!(var.shape, Shape::Scalar) && var.ty == Ty::Int
        })
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

    fn integer_uses(&self, block: &Block, uses: &mut Uses) {
        let id = self.block_ids[&super::address(block)];
        for (at, stmt) in block.0.iter().enumerate() {
            match stmt {
                Stmt::Assign(v, value) => {
                    uses.assigns.entry(*v).or_default().push((id, at, *value));
                }
                Stmt::Declare(v, _) => {
                    uses.declared.insert(*v, id);
                }
                _ => {}
            }
            for nested in stmt.blocks() {
                self.integer_uses(nested, uses);
            }
        }
    }

    /// Whether `n` reads a counter in the block that updates it, outside a loop being reversed
    /// for fusion: its value is had by stepping the counter back ([`Reverse::counter_read`]).
    pub(super) fn steps_back(&self, n: NodeId) -> bool {
        let Op::Read(v) = self.b.node(n).op else {
            return false;
        };
        // In a loop reversed for fusion, a counter declared outside its body carries from one
        // iteration to the next, which stepping it back in each iteration would disturb.
        self.counters
            .get(&v)
            .zip(self.home.get(&n))
            .is_some_and(|(c, h)| {
                h.block == c.block && (self.fused_block.is_none() || c.last.is_some())
            })
    }

    /// For a counter declared in a block that runs more than once: where the backward code of
    /// that block starts, the counter takes the value it had when the block ended (saved, or
    /// in scope), once per run of that backward code.
    fn start_from_last(&mut self, v: VarId, last: NodeId) -> VarId {
        let declared = self.home[&last].block;
        if self.frame_of(declared).values.contains_key(&last) {
            return self.stepped[&v];
        }
        let value = self.value(last);
        let name = self.b.with_graph(|g| g.vars[v.0].name.clone());
        let w = self.new_var(&name, Ty::Int, Shape::Scalar, None);
        let frame = self.frame_of(declared);
        frame.values.insert(last, value);
        frame.out.insert(0, Stmt::Declare(w, Some(value)));
        self.stepped.insert(v, w);
        w
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
        // The variable stepped back: the counter itself when it is declared at the top, else
        // one of the backward code's, since the counter's own is not in scope there.
        let stepped = match counter.last {
            Some(last) => self.start_from_last(v, last),
            None => v,
        };
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
                    ..Node::new(Op::Read(stepped), vec![], ty)
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
                prologue.extend([
                    Stmt::Node(now),
                    Stmt::Node(back),
                    Stmt::Assign(stepped, back),
                ]);
            } else {
                let (_, read) = reads.next().expect("peeked");
                let now = read_now(self);
                prologue.push(Stmt::Node(now));
                values.push((read, now));
            }
        }
        // A counter declared at the top holds its final value only once the forward sweep
        // is over; one declared inside a loop starts from a value of the block it is declared
        // in, which the backward code of that block declares.
        if stepped == v {
            self.undone.insert(v);
        }
        let frame = self.frame_of(block);
        frame.prologue.extend(prologue);
        frame.values.extend(values);
        let value = frame.values.get(&n).copied();
        assert!(
            value.is_some(),
            "every read of a counter in its block is stepped back"
        );
        value
    }
}

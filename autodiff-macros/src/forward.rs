//! The forward pass: pushes tangents from the parameters to the output.
//!
//! The tangent code runs alongside the primal, statement by statement: after a node, its tangent
//! is the sum over its active arguments of the same rule-table entry the reverse pass uses, fed
//! with the argument's tangent instead of the node's adjoint. A variable `s` has a tangent
//! variable `d_s` assigned wherever `s` is; an array `h` a tangent array `d_h`. One pass gives one
//! directional derivative: forward mode costs one pass per input direction, reverse mode one pass
//! per output.

use crate::hash::HashMap;

use crate::algebra::Builder;
use crate::graph::{Block, Graph, Loop, Node, NodeId, Op, Origin, Shape, Stmt, Ty, Var, VarId};
use crate::prim::Prim;
use crate::reverse::site;
use crate::rules::{self, Mode};

mod call_into;
mod fields;
mod hvp;

pub(crate) use hvp::ArgTangent;

/// A graph extended with its tangent code.
pub struct Tangent {
    pub graph: Graph,
    /// The body of `f_jvp`: the primal with tangent statements interleaved.
    pub code: Block,
    /// The tangent of each active primal node whose tangent is not zero, computed right after it.
    #[allow(clippy::struct_field_names)] // the map's name in the IR contract
    pub tangent_of: HashMap<NodeId, NodeId>,
    /// The tangent input of each active parameter, by parameter index: a node for a scalar,
    /// a variable for an array or slice.
    pub seeds: HashMap<usize, Seed>,
    /// The tangent of `self`, when `wrt` names it and the body reads its fields.
    pub self_seed: Option<NodeId>,
}

impl Tangent {
    /// The directional derivative of the output; `None` is zero.
    pub fn derivative(&self) -> Option<NodeId> {
        self.tangent_of.get(&self.graph.output).copied()
    }
}

/// The tangent input of a parameter.
#[derive(Clone, Copy)]
pub enum Seed {
    Scalar(NodeId),
    Array(VarId),
}

pub(crate) struct Forward {
    pub(crate) b: Builder,
    pub(crate) tangent: HashMap<NodeId, NodeId>,
    pub(crate) var_tangent: HashMap<VarId, VarId>,
    pub(crate) seeds: HashMap<usize, Seed>,
    pub(crate) self_seed: Option<NodeId>,
    /// Over code that is not the graph's own body (the reverse pass's, for second order): which
    /// nodes depend on the active parameters, since derivative nodes carry no activity flag.
    pub(crate) varying: Option<Vec<bool>>,
    /// Under second order, the `g_grad` calls made `g_hvp` calls, with their float arguments'
    /// tangents.
    pub(crate) hvp_calls: HashMap<NodeId, Vec<ArgTangent>>,
    /// How many dot-product loops the tangents of `g_hvp` calls' values have added.
    pub(crate) dots: usize,
    /// Under second order, the nodes whose tangents have been built (or found not to vary).
    pub(crate) visited: crate::hash::HashSet<NodeId>,
    /// Under second order, the tuples of gradients a `g_vjp_into` call made a `g_hvp_into` call
    /// returns, with the number of gradients: the tangent of entry `k` is entry `m + k`.
    pub(crate) hvp_grads: HashMap<VarId, usize>,
}

pub fn forward(graph: Graph) -> Tangent {
    let body = graph.body.clone();
    let infinite = rules::has_infinite_derivative(&graph, Mode::Forward);
    let b = Builder::new(graph);
    b.set_infinite_variables(infinite);
    // Only values already computed can be shared: the walk makes them known as it goes.
    b.retain(|_| false);
    let mut f = Forward {
        b,
        tangent: HashMap::default(),
        var_tangent: HashMap::default(),
        seeds: HashMap::default(),
        self_seed: None,
        varying: None,
        hvp_calls: HashMap::default(),
        dots: 0,
        visited: crate::hash::HashSet::default(),
        hvp_grads: HashMap::default(),
    };
    let vars: Vec<Var> = f.b.with_graph(|g| g.vars.clone());
    let mut prologue = Vec::new();
    for (i, var) in vars.iter().enumerate().filter(|(_, v)| v.active) {
        let d = f.b.with_graph(|g| {
            g.vars.push(Var {
                name: crate::names::derivative(&var.name),
                active: false,
                ..var.clone()
            });
            VarId(g.vars.len() - 1)
        });
        f.var_tangent.insert(VarId(i), d);
        match var.param {
            Some(p) if f.b.with_graph(|g| g.params[p].active) => {
                f.seeds.insert(p, Seed::Array(d));
            }
            // A parameter outside `wrt` that the body stores active values into: its tangent
            // starts at zero.
            Some(_) => {
                let zero = f.b.lit(0.0);
                let len = match &var.shape {
                    Shape::Array { len, .. } => len.clone(),
                    _ => proc_macro2::TokenStream::new(),
                };
                let fill =
                    f.b.with_graph(|g| g.push(Node::new(Op::Fill(len), vec![zero], var.ty)));
                prologue.extend([
                    Stmt::Node(zero),
                    Stmt::Node(fill),
                    Stmt::Declare(d, Some(fill)),
                ]);
            }
            None => {}
        }
    }
    let mut code = Block(prologue);
    code.0.extend(f.block(&body).0);
    Tangent {
        graph: f.b.finish(),
        code,
        tangent_of: f.tangent,
        seeds: f.seeds,
        self_seed: f.self_seed,
    }
}

impl Forward {
    pub(crate) fn block(&mut self, block: &Block) -> Block {
        let scope = self.b.save_scope();
        let mut out = Vec::new();
        for stmt in &block.0 {
            match stmt {
                Stmt::Node(n) if matches!(self.b.node(*n).op, Op::Call(_)) => {
                    // The callee runs once: `g_jvp` gives the value and the tangent.
                    self.b.remember(*n);
                    let mut tangent = Vec::new();
                    self.node(*n, &mut tangent);
                    let jvp = self.tangent.get(n).map(|&t| self.b.node(t)).and_then(|t| {
                        match (&t.op, t.args.first()) {
                            (Op::Field(1), Some(&j))
                                if matches!(self.b.node(j).op, Op::CallJvp(_)) =>
                            {
                                Some(j)
                            }
                            _ => None,
                        }
                    });
                    match jvp {
                        Some(j) => {
                            out.extend(tangent);
                            self.b.with_graph(|g| {
                                g.nodes[n.0].op = Op::Field(0);
                                g.nodes[n.0].args = vec![j];
                            });
                            out.push(stmt.clone());
                        }
                        None => {
                            out.push(stmt.clone());
                            out.extend(tangent);
                        }
                    }
                }
                Stmt::Node(n) => {
                    out.push(stmt.clone());
                    self.b.remember(*n);
                    self.node(*n, &mut out);
                }
                Stmt::Declare(..) | Stmt::Assign(..) if self.hvp_invoke(stmt, &mut out) => {}
                Stmt::Declare(v, init) => {
                    out.push(stmt.clone());
                    if let Some(&d) = self.var_tangent.get(v) {
                        let shape = self.b.with_graph(|g| g.vars[v.0].shape.clone());
                        let t = match (shape, init) {
                            (Shape::Array { len, .. }, Some(_)) => {
                                Some(self.zero_array(*v, len, &mut out))
                            }
                            (Shape::Buffer(_), Some(init))
                                if matches!(self.b.node(*init).op, Op::FieldSlice(_)) =>
                            {
                                let t = self.field_slice_tangent(*v, *init);
                                out.extend(t.map(Stmt::Node));
                                t
                            }
                            // A buffer allocated zero (a scratch buffer of the reverse
                            // pass): its tangent is allocated alike.
                            (Shape::Buffer(_), Some(init))
                                if matches!(self.b.node(*init).op, Op::Vec | Op::Resized) =>
                            {
                                Some(self.zeros_again(*init, &mut out))
                            }
                            (Shape::Buffer(len), Some(_)) => {
                                Some(self.tangent_buffer(*v, len, &mut out))
                            }
                            (_, init) => init.map(|n| self.tangent_or_zero(n, &mut out)),
                        };
                        out.push(Stmt::Declare(d, t));
                    }
                }
                Stmt::Assign(..) if self.forward_invoke(stmt, &mut out) => {}
                Stmt::Assign(v, n) => {
                    out.push(stmt.clone());
                    if let Some(&d) = self.var_tangent.get(v) {
                        let shape = self.b.with_graph(|g| g.vars[v.0].shape.clone());
                        let t = match shape {
                            // A whole array assigned a constant (the adjoint of a local array
                            // zeroed for the next iteration): its tangent is zeros too.
                            Shape::Array { len, .. } if !self.tangent.contains_key(n) => {
                                self.zero_array(*v, len, &mut out)
                            }
                            // A buffer zeroed (or resized) to a length: its tangent too.
                            Shape::Buffer(_)
                                if matches!(self.b.node(*n).op, Op::Vec | Op::Resized) =>
                            {
                                self.zeros_again(*n, &mut out)
                            }
                            _ => self.tangent_or_zero(*n, &mut out),
                        };
                        out.push(Stmt::Assign(d, t));
                    }
                }
                Stmt::Store { var, index, value } => {
                    out.push(stmt.clone());
                    if let Some(&d) = self.var_tangent.get(var) {
                        let t = self.tangent_or_zero(*value, &mut out);
                        out.push(Stmt::Store {
                            var: d,
                            index: *index,
                            value: t,
                        });
                    }
                }
                Stmt::If { .. } | Stmt::For(Loop { .. }) | Stmt::While { .. } => {
                    out.push(stmt.with_blocks(|b| self.block(b)));
                }
                Stmt::Assert { .. } => out.push(stmt.clone()),
                Stmt::Push(tape, n) => {
                    out.push(stmt.clone());
                    // A parallel tape carries the tangents, pushed and popped in step.
                    if let Some(&d) = self.var_tangent.get(tape) {
                        let t = self.tangent_or_zero(*n, &mut out);
                        out.push(Stmt::Push(d, t));
                    }
                }
            }
        }
        self.b.restore_scope(scope);
        Block(out)
    }

    /// The tangent of `n`, or a zero of its type where it has none.
    /// `[0.0; len]` of the float type of the array `v`, placed in `out`: the tangent of an array
    /// declared or assigned whole.
    fn zero_array(
        &mut self,
        v: VarId,
        len: proc_macro2::TokenStream,
        out: &mut Vec<Stmt>,
    ) -> NodeId {
        let zero = self.b.lit(0.0);
        let ty = self.b.with_graph(|g| g.vars[v.0].ty);
        let fill = self
            .b
            .with_graph(|g| g.push(Node::new(Op::Fill(len), vec![zero], ty)));
        out.extend([Stmt::Node(zero), Stmt::Node(fill)]);
        fill
    }

    fn tangent_or_zero(&mut self, n: NodeId, out: &mut Vec<Stmt>) -> NodeId {
        if let Some(&t) = self.tangent.get(&n) {
            return t;
        }
        let node = self.b.node(n);
        self.b.set_site(site(&self.b, &node));
        let zero = self.b.lit(0.0);
        out.push(Stmt::Node(zero));
        zero
    }

    fn node(&mut self, n: NodeId, out: &mut Vec<Stmt>) {
        let node = self.b.node(n);
        let active = match &self.varying {
            Some(varying) => varying.get(n.0).copied().unwrap_or(false),
            None => node.active,
        };
        if !active {
            return;
        }
        if self.varying.is_some() {
            if !self.visited.insert(n) {
                return;
            }
            self.unplaced_args(n, out);
            if self.hvp_call(n, &node, out) {
                return;
            }
        }
        let before = self.b.len();
        let mut unplaced = before;
        let t = match node.op {
            Op::Param(p) => Some(self.seed(p, &node)),
            Op::Read(v) | Op::Pop(v) => self.var_tangent.get(&v).map(|&d| {
                let ty = node.ty;
                let op = match node.op {
                    Op::Pop(_) => Op::Pop(d),
                    _ => Op::Read(d),
                };
                self.b.with_graph(|g| g.push(Node::new(op, vec![], ty)))
            }),
            Op::Load(v) => self.var_tangent.get(&v).map(|&d| {
                let ty = node.ty;
                let i = node.args[0];
                self.b
                    .with_graph(|g| g.push(Node::new(Op::Load(d), vec![i], ty)))
            }),
            Op::Call(ref callee) => {
                // The call places its own nodes, among the zero tangents it declares.
                let t = self.call(callee, &node, before, out);
                unplaced = self.b.len();
                t
            }
            Op::Field(k) if self.varying.is_some() => {
                let t = self.hvp_entry(k, &node, out);
                unplaced = self.b.len();
                t
            }
            Op::Element => self.element_tangent(&node),
            // A guard the rules wrote, not the user's own `zero_wins(f, p)`.
            Op::Prim(Prim::ZeroWins) if node.origin == Origin::Derivative => self
                .guard_tangent(&node)
                .or_else(|| self.derivative(n, &node)),
            Op::Member(_) => self.field_tangent(n, &node),
            _ => self.derivative(n, &node),
        };
        for id in unplaced..self.b.len() {
            out.push(Stmt::Node(NodeId(id)));
        }
        if let Some(t) = t {
            // Named only if built here: a tangent passed on unchanged keeps its own name.
            if t.0 >= before {
                self.b.name_derivative(&node, t);
            }
            self.tangent.insert(n, t);
        }
    }

    /// Over code that is not the graph's own body, the varying arguments of `n` (and theirs)
    /// that no statement places: expressions the passes built inside others, which emission
    /// writes inline where they are used. Their tangents are built here, before `n`'s, so that
    /// `n`'s reads them; without them they would count as constants.
    fn unplaced_args(&mut self, n: NodeId, out: &mut Vec<Stmt>) {
        let pending = |f: &Self, a: NodeId| {
            let varying = f
                .varying
                .as_ref()
                .is_some_and(|v| v.get(a.0).copied().unwrap_or(false));
            varying
                && !f.visited.contains(&a)
                && matches!(
                    f.b.node(a).op,
                    Op::Prim(_) | Op::Select | Op::Cast(_) | Op::Element
                )
        };
        // Post-order, without recursion: arguments before the nodes that read them.
        let mut order = Vec::new();
        let mut work: Vec<(NodeId, bool)> = self
            .b
            .node(n)
            .args
            .iter()
            .filter(|&&a| pending(self, a))
            .map(|&a| (a, false))
            .collect();
        let mut seen = crate::hash::HashSet::default();
        while let Some((a, done)) = work.pop() {
            if done {
                order.push(a);
                continue;
            }
            if !seen.insert(a) {
                continue;
            }
            work.push((a, true));
            for &b in &self.b.node(a).args {
                if pending(self, b) && !seen.contains(&b) {
                    work.push((b, false));
                }
            }
        }
        for a in order {
            self.b.remember(a);
            self.node(a, out);
        }
    }

    /// The tangent of the guard `zero_wins(f, p)`, `p = f·c` with `0 · ∞ = 0`: `ṗ` where `f ≠ 0`,
    /// and where `f = 0` the tangent of `f·c` there, `ḟ·c` (with `0 · ∞ = 0` again), not the 0
    /// of the guard's value: an adjoint that is 0 at a point may still change along `v`. Under
    /// second order the reverse pass's guards are differentiated so.
    /// `None` where `f` does not vary: then the rule's tangent, `ṗ` guarded by `f`, holds. Where
    /// `c` cannot be read off `p`, `ṗ` unguarded: right wherever it is finite.
    fn guard_tangent(&mut self, node: &Node) -> Option<NodeId> {
        let (f, p) = (node.args[0], node.args[1]);
        let df = self.tangent.get(&f).copied()?;
        self.b.set_site(site(&self.b, node));
        let zero = self.b.lit(0.0);
        let c = match self.cofactor(p, f, 8) {
            Some(c) => c,
            // `f = -f₀`: `p = f₀·c₀` is `f·(-c₀)`.
            None => match self.b.node(f).op {
                Op::Prim(Prim::Neg) => match self.cofactor(p, self.b.node(f).args[0], 8) {
                    Some(c) => self.b.prim(Prim::Neg, &[c]),
                    None => return Some(self.tangent.get(&p).copied().unwrap_or(zero)),
                },
                _ => return Some(self.tangent.get(&p).copied().unwrap_or(zero)),
            },
        };
        let product = self.b.prim(Prim::Mul, &[df, c]);
        let at_zero = self.b.prim(Prim::ZeroWins, &[df, product]);
        let dp = self.tangent.get(&p).copied().unwrap_or(zero);
        let is_zero = self.b.cmp(crate::graph::CmpOp::Eq, f, zero);
        Some(self.b.select(is_zero, at_zero, dp))
    }

    /// `c` such that `p = f·c`, read off the products (negations, quotients) `p` is built of, looking
    /// `depth` levels down; `None` if `f` is not a factor of `p` there.
    fn cofactor(&self, p: NodeId, f: NodeId, depth: usize) -> Option<NodeId> {
        if p == f {
            return Some(self.b.lit(1.0));
        }
        if depth == 0 {
            return None;
        }
        let node = self.b.node(p);
        match node.op {
            Op::Prim(Prim::Mul) => {
                let [a, b] = node.args[..] else { return None };
                if a == f {
                    return Some(b);
                }
                if b == f {
                    return Some(a);
                }
                if let Some(c) = self.cofactor(a, f, depth - 1) {
                    return Some(self.b.prim(Prim::Mul, &[c, b]));
                }
                let c = self.cofactor(b, f, depth - 1)?;
                Some(self.b.prim(Prim::Mul, &[a, c]))
            }
            Op::Prim(Prim::Neg) => {
                let c = self.cofactor(node.args[0], f, depth - 1)?;
                Some(self.b.prim(Prim::Neg, &[c]))
            }
            Op::Prim(Prim::Div) => {
                let [a, b] = node.args[..] else { return None };
                let c = self.cofactor(a, f, depth - 1)?;
                Some(self.b.prim(Prim::Div, &[c, b]))
            }
            _ => None,
        }
    }

    /// The tangent of an operation: the rule table, fed with its arguments' tangents.
    fn derivative(&mut self, n: NodeId, node: &Node) -> Option<NodeId> {
        self.b.set_site(site(&self.b, node));
        let mut sum = None;
        for (k, &arg) in node.args.iter().enumerate() {
            let Some(&t) = self.tangent.get(&arg) else {
                continue;
            };
            let partial = {
                let args: Vec<_> = node.args.iter().map(|&a| self.b.v(a)).collect();
                let partials =
                    rules::chain(&node.op, self.b.v(t), self.b.v(n), &args, Mode::Forward);
                partials.get(k).copied().flatten().map(|d| d.id)
            };
            let Some(d) = partial else { continue };
            sum = Some(match sum {
                None => d,
                Some(s) => self.b.prim(Prim::Add, &[s, d]),
            });
        }
        sum
    }

    /// The tangent of a call `g(a, b)`: `g_jvp(a, d_a, b, d_b).1`, each float argument followed
    /// by its tangent (zero for a constant: a zero array or buffer of its length for a constant
    /// array or slice, declared before the call and passed as the array is). Places the nodes
    /// it makes from `start` on in `out`.
    fn call(
        &mut self,
        callee: &crate::graph::Callee,
        node: &Node,
        start: usize,
        out: &mut Vec<Stmt>,
    ) -> Option<NodeId> {
        let varies = |a: &NodeId| match self.b.node(*a).op {
            Op::Array(v, _) | Op::Part(v) => self.var_tangent.contains_key(&v),
            _ => self.tangent.contains_key(a),
        };
        if !node.args.iter().any(varies) {
            return None;
        }
        self.b.set_site(site(&self.b, node));
        let mut placed = start;
        let mut args = Vec::new();
        for (&a, &float) in node.args.iter().zip(&callee.floats) {
            args.push(a);
            if !float {
                continue;
            }
            let t = self.arg_tangent(a, &mut placed, out);
            args.push(t);
        }
        let jvp = self.b.call(Op::CallJvp(callee.clone()), &args);
        let t = self.b.field(jvp, 1);
        // The callee's derivative may be infinite.
        self.b.mark_infinite(t);
        out.extend((placed..self.b.len()).map(|id| Stmt::Node(NodeId(id))));
        Some(t)
    }

    /// The tangent of argument `a` of a call, as the call's derivative function takes it: an
    /// array's tangent array, or zeros of its length for a constant array or slice (declared in
    /// `out` after the nodes made from `placed` on, and passed as the array is); a float's
    /// tangent, or `0.0`.
    pub(super) fn arg_tangent(
        &mut self,
        a: NodeId,
        placed: &mut usize,
        out: &mut Vec<Stmt>,
    ) -> NodeId {
        match (self.b.node(a).op, self.tangent.get(&a)) {
            // An array's tangent is its tangent array.
            (Op::Array(v, refs), _) => match self.var_tangent.get(&v) {
                // Of the variable's type, written as the primal is.
                Some(&d) => {
                    let ty = self.b.node(a).ty;
                    self.b
                        .with_graph(|g| g.push(Node::new(Op::Array(d, refs), vec![], ty)))
                }
                None => {
                    let shape = self.b.with_graph(|g| g.var(v).shape.clone());
                    // The argument's `&`s counted from an owned array: a reference parameter
                    // or a slice is one already.
                    let owned = refs
                        + i8::from(!matches!(
                            shape,
                            Shape::Array { by_ref: false, .. } | Shape::Buffer(_)
                        ));
                    match shape {
                        // A constant array passed by value: `[0.0; N]`.
                        Shape::Array { len, .. } if owned <= 0 => {
                            let zero = self.b.lit(0.0);
                            let ty = self.b.node(a).ty;
                            self.b
                                .with_graph(|g| g.push(Node::new(Op::Fill(len), vec![zero], ty)))
                        }
                        // By reference, or a slice: a reference to zeros of its length.
                        _ => {
                            let z = self.zeros_like(v, placed, out);
                            let ty = self.b.node(a).ty;
                            self.b.with_graph(|g| {
                                g.push(Node::new(Op::Array(z, owned.max(1)), vec![], ty))
                            })
                        }
                    }
                }
            },
            // Part of an array: the same part of its tangent array, or of zeros.
            (Op::Part(v), _) => {
                let d = match self.var_tangent.get(&v) {
                    Some(&d) => d,
                    None => self.zeros_like(v, placed, out),
                };
                let node = self.b.node(a);
                self.b
                    .with_graph(|g| g.push(Node::new(Op::Part(d), node.args, node.ty)))
            }
            (_, Some(&t)) => t,
            (_, None) => self.b.lit(0.0),
        }
    }

    /// A variable of zeros as long as the constant array or slice `v`, declared in `out` after
    /// the nodes made from `placed` on: `[0.0; N]` for an array, `vec![0.0; v.len()]` for a
    /// slice.
    fn zeros_like(&mut self, v: VarId, placed: &mut usize, out: &mut Vec<Stmt>) -> VarId {
        let var = self.b.with_graph(|g| g.vars[v.0].clone());
        let zero = self.b.lit(0.0);
        let (zeros, shape) = match &var.shape {
            Shape::Array { len, .. } => {
                let fill = Op::Fill(len.clone());
                let zeros = self
                    .b
                    .with_graph(|g| g.push(Node::new(fill, vec![zero], var.ty)));
                let shape = Shape::Array {
                    len: len.clone(),
                    by_ref: false,
                };
                (zeros, shape)
            }
            _ => {
                let len = self
                    .b
                    .with_graph(|g| g.push(Node::new(Op::Len(v), vec![], Ty::Int)));
                let zeros = self
                    .b
                    .with_graph(|g| g.push(Node::new(Op::Vec, vec![zero, len], var.ty)));
                (zeros, Shape::Buffer(len))
            }
        };
        let d = self.b.with_graph(|g| {
            g.vars.push(Var {
                name: format!("zero_{}", var.name),
                shape,
                param: None,
                active: false,
                ..var
            });
            VarId(g.vars.len() - 1)
        });
        out.extend((*placed..self.b.len()).map(|id| Stmt::Node(NodeId(id))));
        out.push(Stmt::Declare(d, Some(zeros)));
        *placed = self.b.len();
        d
    }

    /// The tangent input `d_<param>` of `f_jvp`.
    fn seed(&mut self, param: usize, node: &Node) -> NodeId {
        let seed = self.b.with_graph(|g| {
            g.push(Node {
                op: Op::Seed(param),
                args: vec![],
                ty: node.ty,
                active: false,
                span: node.span,
                name: None,
                origin: Origin::Derivative,
            })
        });
        self.seeds.insert(param, Seed::Scalar(seed));
        seed
    }
}

impl Forward {
    /// `vec![0.0; len]` of the length of the `vec![x; len]` node `filled`, placed in `out`
    /// (a buffer resized alike, for a scratch buffer only resized).
    fn zeros_again(&mut self, filled: NodeId, out: &mut Vec<Stmt>) -> NodeId {
        let node = self.b.node(filled);
        let zero = self.b.lit(0.0);
        let zeros = self
            .b
            .with_graph(|g| g.push(Node::new(node.op, vec![zero, node.args[1]], node.ty)));
        out.extend([Stmt::Node(zero), Stmt::Node(zeros)]);
        zeros
    }

    /// `vec![0.0; len]`, the tangent of a run-time-sized buffer, declared beside it.
    fn tangent_buffer(&mut self, v: VarId, len: NodeId, out: &mut Vec<Stmt>) -> NodeId {
        let zero = self.b.lit(0.0);
        let ty = self.b.with_graph(|g| g.vars[v.0].ty);
        let zeros = self
            .b
            .with_graph(|g| g.push(Node::new(Op::Vec, vec![zero, len], ty)));
        out.push(Stmt::Node(zeros));
        zeros
    }
}

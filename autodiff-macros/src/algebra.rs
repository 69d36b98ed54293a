//! The algebra the derivative rules are written in.
//!
//! A [`V`] is a handle to a graph node that supports `+ - * /`, the float methods and comparisons,
//! so that a row of the rule table reads like the formula it encodes (`g * x.cos()`). Every
//! operation goes through the [`Builder`], which appends a node to the graph after
//!
//! - folding what the algebra makes trivial (`g * 1.0`, `0.0 + g`, `-(-g)`, `x.powi(1)`), so the
//!   emitted adjoint code has no noise, and
//! - looking the operation up among the nodes built so far, forward nodes included, so that a value
//!   the primal already computed (`x.cos()`) or another rule built is computed once.
//!
//! Folding never touches the forward nodes lowering built: those compute what the user wrote,
//! operation for operation, so the value `f_grad` returns is bit for bit that of `f`.
//!
//! The builder also knows which derivative nodes may be infinite (see [`Builder::may_be_infinite`]),
//! so that the chain rule guards a product against `0 · ∞` only where an infinity can reach it.

use crate::hash::{HashMap, HashSet};
use std::cell::{Cell, RefCell};
use std::ops;

use proc_macro2::Span;

use crate::graph::{
    CastTo, CmpOp, FloatTy, Graph, KnownConst, LitValue, Node, NodeId, Op, Origin, Ty,
};
use crate::prim::Prim;

/// The key under which a pure operation is remembered, so it is built once.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Prim(Prim, Vec<NodeId>),
    Cmp(CmpOp, NodeId, NodeId),
    Select(NodeId, NodeId, NodeId),
    Cast(FloatTy, bool, NodeId),
    Known(KnownConst, FloatTy),
    /// A `_grad` or `_jvp` call, by the path it is printed with.
    Call(String, Vec<NodeId>),
    /// An element of an array nothing writes to.
    Load(crate::graph::VarId, NodeId),
    Field(usize, NodeId),
}

/// The shareable nodes of a scope, saved by [`Builder::save_scope`].
pub struct Scope(HashMap<Key, NodeId>);

/// Where new nodes come from: the span and float type of the primal operation whose derivative
/// is being built.
#[derive(Clone, Copy)]
pub struct Site {
    pub span: Span,
    pub ty: FloatTy,
}

/// Appends derivative nodes to a graph, folding and sharing as it goes.
pub struct Builder {
    graph: RefCell<Graph>,
    memo: RefCell<HashMap<Key, NodeId>>,
    site: Cell<Site>,
    infinite: RefCell<Infinite>,
    signs: RefCell<HashMap<NodeId, Sign>>,
}

/// The sign of a value for every input, NaN aside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    /// At least some positive constant: floating point cannot round it to 0.
    Positive,
    NonNegative,
    Unknown,
}

/// Which derivative nodes may be infinite: the results of local derivatives the table marks as
/// possibly infinite, everything computed from them, and, when the function has such a local
/// derivative anywhere, the values read from derivative variables (a loop carries them around).
#[derive(Default)]
struct Infinite {
    /// The marked nodes.
    marked: HashSet<NodeId>,
    /// Whether reads of derivative variables count as possibly infinite.
    variables: bool,
    /// The variables that lowering made; the passes add the derivative ones after them.
    primal_vars: usize,
    /// The verdict for each node visited so far, by node.
    known: Vec<Option<bool>>,
}

impl Builder {
    pub fn new(graph: Graph) -> Self {
        let mut memo = HashMap::default();
        for (i, node) in graph.nodes.iter().enumerate() {
            if let Some(key) = key_of(node) {
                memo.entry(key).or_insert(NodeId(i));
            }
        }
        let site = Site {
            span: Span::call_site(),
            ty: graph.output_ty,
        };
        let infinite = Infinite {
            primal_vars: graph.vars.len(),
            ..Infinite::default()
        };
        Builder {
            graph: RefCell::new(graph),
            memo: RefCell::new(memo),
            site: Cell::new(site),
            infinite: RefCell::new(infinite),
            signs: RefCell::new(HashMap::default()),
        }
    }

    /// Counts the values read from derivative variables as possibly infinite: set when some
    /// local derivative of the function may be infinite.
    pub fn set_infinite_variables(&self, yes: bool) {
        let mut inf = self.infinite.borrow_mut();
        inf.variables = yes;
        inf.known.clear();
    }

    /// Marks `id` as possibly infinite, with everything computed from it.
    pub fn mark_infinite(&self, id: NodeId) {
        let mut inf = self.infinite.borrow_mut();
        inf.marked.insert(id);
        if inf.known.get(id.0).copied().flatten() == Some(false) {
            // A node shared with one built earlier: the verdicts that read it are stale.
            inf.known.clear();
        }
    }

    /// Whether the derivative node `id` may be infinite, so that a zero factor multiplying it
    /// needs the guard `0 · ∞ = 0`: it is marked, reads a derivative variable that may be, or
    /// has an argument that may be. Arguments are visited first, without recursion, once.
    pub fn may_be_infinite(&self, id: NodeId) -> bool {
        let graph = self.graph.borrow();
        let mut inf = self.infinite.borrow_mut();
        let len = graph.nodes.len();
        inf.known.resize(len, None);
        let mut work = vec![(id, false)];
        while let Some((n, args_done)) = work.pop() {
            if inf.known[n.0].is_some() {
                continue;
            }
            let node = &graph.nodes[n.0];
            if !args_done {
                work.push((n, true));
                work.extend(
                    node.args
                        .iter()
                        .filter(|a| inf.known[a.0].is_none())
                        .map(|&a| (a, false)),
                );
                continue;
            }
            let read = match node.op {
                Op::Read(v) | Op::Load(v) => inf.variables && v.0 >= inf.primal_vars,
                _ => false,
            };
            let verdict = read
                || inf.marked.contains(&n)
                || node.args.iter().any(|a| inf.known[a.0] == Some(true));
            inf.known[n.0] = Some(verdict);
        }
        inf.known[id.0] == Some(true)
    }

    /// What has been built and can be shared, to restore when leaving a block whose values go
    /// out of scope.
    pub fn save_scope(&self) -> Scope {
        Scope(self.memo.borrow().clone())
    }

    pub fn restore_scope(&self, scope: Scope) {
        *self.memo.borrow_mut() = scope.0;
    }

    /// A copy of `node` over `args` (recomputing a primal value), shared with an equal copy
    /// already in scope. Loads are shared too: the caller copies only loads of arrays nothing
    /// writes to. Returns the node and whether it is new.
    pub fn recompute(
        &self,
        node: &Node,
        args: Vec<NodeId>,
        usable: impl Fn(NodeId) -> bool,
    ) -> (NodeId, bool) {
        let key = match (&node.op, args.as_slice()) {
            (Op::Load(v), [i]) => Some(Key::Load(*v, *i)),
            (op, args) => key_of_parts(op, args, node.ty),
        };
        if let Some(key) = &key
            && let Some(&id) = self.memo.borrow().get(key)
            && usable(id)
        {
            return (id, false);
        }
        let id = self.graph.borrow_mut().push(Node {
            args,
            origin: Origin::Derivative,
            ..node.clone()
        });
        if let Some(key) = key {
            self.memo.borrow_mut().insert(key, id);
        }
        (id, true)
    }

    /// Makes a node the program computes available for sharing from here on.
    pub fn remember(&self, id: NodeId) {
        let key = key_of(self.graph.borrow().node(id));
        if let Some(key) = key {
            self.memo.borrow_mut().entry(key).or_insert(id);
        }
    }

    /// Forgets the nodes that are not in scope where derivative code is built.
    pub fn retain(&self, keep: impl Fn(NodeId) -> bool) {
        self.memo.borrow_mut().retain(|_, id| keep(*id));
    }

    pub fn finish(self) -> Graph {
        self.graph.into_inner()
    }

    pub fn set_site(&self, site: Site) {
        self.site.set(site);
    }

    pub fn len(&self) -> usize {
        self.graph.borrow().nodes.len()
    }

    pub fn node(&self, id: NodeId) -> Node {
        self.graph.borrow().node(id).clone()
    }

    /// Whether a node belongs to the program as lowered, rather than to derivative code.
    pub fn is_primal(&self, id: NodeId) -> bool {
        self.graph.borrow().is_primal(id)
    }

    pub fn with_graph<R>(&self, f: impl FnOnce(&mut Graph) -> R) -> R {
        f(&mut self.graph.borrow_mut())
    }

    /// Names the complete derivative of a named value `d_<name>`, so the derivative sweep reads
    /// like the forward one. Values of the forward sweep keep their own names.
    pub fn name_derivative(&self, of: &Node, derivative: NodeId) {
        let Some(name) = &of.name else { return };
        let target = &mut self.graph.borrow_mut().nodes[derivative.0];
        if target.origin == Origin::Derivative && target.name.is_none() && !target.is_leaf() {
            target.name = Some(crate::names::derivative(name));
        }
    }

    /// What the algebra can tell of the sign of a value for every input (NaN aside), from its
    /// arguments first, without recursion, once per node.
    fn sign(&self, id: NodeId) -> Sign {
        let mut work = vec![(id, false)];
        while let Some((n, args_done)) = work.pop() {
            if self.signs.borrow().contains_key(&n) {
                continue;
            }
            let node = self.node(n);
            // Only these depend on the signs of their arguments.
            let composite = matches!(node.op, Op::Prim(Prim::Add | Prim::Mul | Prim::Sqrt));
            if composite && !args_done {
                work.push((n, true));
                work.extend(node.args.iter().map(|&a| (a, false)));
                continue;
            }
            let arg = |k: usize| self.signs.borrow()[&node.args[k]];
            let sign = match (node.op, node.args.len()) {
                (Op::Lit(LitValue::Float(v), _), _) if v > 0.0 => Sign::Positive,
                (Op::Lit(LitValue::Float(v), _), _) if v >= 0.0 => Sign::NonNegative,
                (Op::Known(_) | Op::Prim(Prim::Cosh), _) => Sign::Positive,
                (Op::Prim(Prim::Exp | Prim::Exp2 | Prim::Abs | Prim::Hypot | Prim::Sigmoid), _) => {
                    Sign::NonNegative
                }
                // Rounding is monotone: `a + b >= a` for `b >= 0`, and `√a > 0` for `a > 0`.
                (Op::Prim(Prim::Add), 2) => match (arg(0), arg(1)) {
                    (Sign::Positive, Sign::Positive | Sign::NonNegative)
                    | (Sign::NonNegative, Sign::Positive) => Sign::Positive,
                    (Sign::NonNegative, Sign::NonNegative) => Sign::NonNegative,
                    _ => Sign::Unknown,
                },
                (Op::Prim(Prim::Sqrt), 1) => match arg(0) {
                    Sign::Positive => Sign::Positive,
                    _ => Sign::NonNegative,
                },
                // A product of positive values may underflow to 0: only `>= 0` is sure.
                (Op::Prim(Prim::Mul), 2) if node.args[0] == node.args[1] => Sign::NonNegative,
                (Op::Prim(Prim::Mul), 2) => match (arg(0), arg(1)) {
                    (Sign::Unknown, _) | (_, Sign::Unknown) => Sign::Unknown,
                    _ => Sign::NonNegative,
                },
                _ => Sign::Unknown,
            };
            self.signs.borrow_mut().insert(n, sign);
        }
        self.signs.borrow()[&id]
    }

    pub fn v(&self, id: NodeId) -> V<'_> {
        V { id, b: self }
    }

    fn push(&self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        let site = self.site.get();
        let key = key_of_parts(&op, &args, ty);
        if let Some(key) = &key
            && let Some(&id) = self.memo.borrow().get(key)
        {
            return id;
        }
        let id = self.graph.borrow_mut().push(Node {
            op,
            args,
            ty,
            active: false,
            span: site.span,
            name: None,
            origin: Origin::Derivative,
        });
        if let Some(key) = key {
            self.memo.borrow_mut().insert(key, id);
        }
        id
    }

    fn float_ty(&self) -> Ty {
        Ty::Float(Some(self.site.get().ty))
    }

    pub fn lit(&self, value: f64) -> NodeId {
        self.push(
            Op::Lit(LitValue::Float(value), None),
            vec![],
            self.float_ty(),
        )
    }

    pub fn int(&self, value: i128) -> NodeId {
        self.push(Op::Lit(LitValue::Int(value), None), vec![], Ty::Int)
    }

    pub fn known(&self, k: KnownConst) -> NodeId {
        self.push(Op::Known(k), vec![], self.float_ty())
    }

    /// The value of a literal, or of a negated one (`-1` is a negation of `1` in Rust's syntax).
    fn lit_value(&self, id: NodeId) -> Option<LitValue> {
        let g = self.graph.borrow();
        let node = g.node(id);
        match node.op {
            Op::Lit(v, _) => Some(v),
            Op::Prim(Prim::Neg) => match g.node(node.args[0]).op {
                Op::Lit(LitValue::Float(v), _) => Some(LitValue::Float(-v)),
                Op::Lit(LitValue::Int(v), _) => Some(LitValue::Int(-v)),
                _ => None,
            },
            _ => None,
        }
    }

    fn float_lit(&self, id: NodeId) -> Option<f64> {
        match self.lit_value(id) {
            Some(LitValue::Float(v)) => Some(v),
            _ => None,
        }
    }

    fn is_lit(&self, id: NodeId, value: f64) -> bool {
        self.float_lit(id) == Some(value)
    }

    /// The operand of a negation, if `id` is one.
    fn negated(&self, id: NodeId) -> Option<NodeId> {
        let g = self.graph.borrow();
        let node = g.node(id);
        matches!(node.op, Op::Prim(Prim::Neg)).then(|| node.args[0])
    }

    fn is_float(&self, id: NodeId) -> bool {
        matches!(self.ty_of(id), Ty::Float(_))
    }

    /// `k·a` for `k = ±2` in one operation where `a + a` (or `-a - a`) takes one or two: the
    /// factor goes into a literal factor of `a`, or a negation becomes the factor `-2`. `None`
    /// where `a + a` is as cheap.
    fn doubled(&self, a: NodeId, k: f64) -> Option<NodeId> {
        if let Some(m) = self.negated(a) {
            return self.doubled(m, -k);
        }
        self.scaled(a, k, 8)
            .or_else(|| (k < 0.0).then(|| self.prim(Prim::Mul, &[a, self.lit(k)])))
    }

    /// `k·a` for `k = ±2`, exactly as IEEE rounds `a + a`, where `a` is a product with a float
    /// literal among its factors (looked for `depth` products down): the literal scaled.
    fn scaled(&self, a: NodeId, k: f64, depth: usize) -> Option<NodeId> {
        if let Some(c) = self.float_lit(a) {
            let v = k * c;
            return v.is_finite().then(|| self.lit(v));
        }
        let node = self.node(a);
        match node.op {
            Op::Prim(Prim::Mul) if depth > 0 => {
                let [p, q] = node.args[..] else { return None };
                let product = match self.scaled(p, k, depth - 1) {
                    Some(p) => self.prim(Prim::Mul, &[p, q]),
                    None => {
                        let q = self.scaled(q, k, depth - 1)?;
                        self.prim(Prim::Mul, &[p, q])
                    }
                };
                // A local derivative marked as possibly infinite stays marked.
                if self.infinite.borrow().marked.contains(&a) {
                    self.mark_infinite(product);
                }
                Some(product)
            }
            _ => None,
        }
    }

    fn ty_of(&self, id: NodeId) -> Ty {
        self.graph.borrow().node(id).ty
    }

    /// Builds `p(args)`, folded and shared.
    pub fn prim(&self, p: Prim, args: &[NodeId]) -> NodeId {
        if let Some(id) = self.fold(p, args) {
            return id;
        }
        let ty = match p {
            // Values of unknown type (a struct's fields) are floats or integers as the lowering
            // left them: unknown.
            Prim::Add | Prim::Sub | Prim::Mul | Prim::Div | Prim::Rem
                if args.iter().all(|&a| self.ty_of(a) == Ty::Other) =>
            {
                Ty::Other
            }
            Prim::Add | Prim::Sub | Prim::Mul | Prim::Div | Prim::Rem
                if !args.iter().any(|&a| matches!(self.ty_of(a), Ty::Float(_))) =>
            {
                Ty::Int
            }
            // A bit operator is on integers only, of the left operand's type for a shift.
            Prim::Shl | Prim::Shr => self.ty_of(args[0]),
            p if p.is_bitwise() => self.ty_of(args[0]).join(self.ty_of(args[1])),
            _ => self.float_ty(),
        };
        self.push(Op::Prim(p), args.to_vec(), ty)
    }

    /// The algebraic identities that keep generated code free of noise.
    fn fold(&self, p: Prim, args: &[NodeId]) -> Option<NodeId> {
        let lits: Vec<Option<LitValue>> = args.iter().map(|&a| self.lit_value(a)).collect();
        match (p, args, lits.as_slice()) {
            // Integer arithmetic on literals, as in `n - 1` for a literal exponent.
            (_, _, [Some(LitValue::Int(a)), Some(LitValue::Int(b))]) => {
                let v = match p {
                    Prim::Add => a.checked_add(*b),
                    Prim::Sub => a.checked_sub(*b),
                    Prim::Mul => a.checked_mul(*b),
                    _ => None,
                }?;
                Some(self.int(v))
            }
            (_, _, [Some(LitValue::Float(a)), Some(LitValue::Float(b))]) => {
                let v = match p {
                    Prim::Add => a + b,
                    Prim::Sub => a - b,
                    Prim::Mul => a * b,
                    // `1.0 / 3.0` reads better than `0.3333333333333333`.
                    _ => return None,
                };
                v.is_finite().then(|| self.lit(v))
            }
            (Prim::Neg, [a], [Some(LitValue::Float(v))]) if *v != 0.0 => {
                let _ = a;
                Some(self.lit(-v))
            }
            (Prim::Neg, [a], _) => self.negated(*a),
            // `a + a` and `-a - a` are `±2a` exactly: the factor goes into a literal factor of
            // `a` where it has one (`(g·100)·t + (g·100)·t` is `(g·200)·t`), saving an operation.
            (Prim::Add, [a, b], _) if a == b && self.is_float(*a) => self.doubled(*a, 2.0),
            (Prim::Sub, [a, b], _) if self.negated(*a) == Some(*b) && self.is_float(*b) => {
                self.doubled(*b, -2.0)
            }
            (Prim::Add, [a, b], _) => {
                if self.is_lit(*a, 0.0) {
                    Some(*b)
                } else if self.is_lit(*b, 0.0) {
                    Some(*a)
                } else if let Some(nb) = self.negated(*b) {
                    Some(self.prim(Prim::Sub, &[*a, nb]))
                } else {
                    self.negated(*a).map(|na| self.prim(Prim::Sub, &[*b, na]))
                }
            }
            (Prim::Sub, [a, b], _) => {
                if self.is_lit(*b, 0.0) {
                    Some(*a)
                } else if self.is_lit(*a, 0.0) {
                    Some(self.prim(Prim::Neg, &[*b]))
                } else {
                    self.negated(*b).map(|nb| self.prim(Prim::Add, &[*a, nb]))
                }
            }
            (Prim::Mul, [a, b], _) => {
                if self.is_lit(*a, 0.0) || self.is_lit(*b, 0.0) {
                    // A structural zero of derivative code, not an IEEE product.
                    Some(self.lit(0.0))
                } else if self.is_lit(*a, 1.0) {
                    Some(*b)
                } else if self.is_lit(*b, 1.0) {
                    Some(*a)
                } else if self.is_lit(*a, -1.0) {
                    Some(self.prim(Prim::Neg, &[*b]))
                } else if self.is_lit(*b, -1.0) {
                    Some(self.prim(Prim::Neg, &[*a]))
                } else if let Some(na) = self.negated(*a) {
                    let m = self.prim(Prim::Mul, &[na, *b]);
                    Some(self.prim(Prim::Neg, &[m]))
                } else if let Some(nb) = self.negated(*b) {
                    let m = self.prim(Prim::Mul, &[*a, nb]);
                    Some(self.prim(Prim::Neg, &[m]))
                } else {
                    None
                }
            }
            (Prim::Div, [a, b], _) => {
                if self.is_lit(*b, 1.0) {
                    Some(*a)
                } else if let Some(na) = self.negated(*a) {
                    let d = self.prim(Prim::Div, &[na, *b]);
                    Some(self.prim(Prim::Neg, &[d]))
                } else {
                    None
                }
            }
            // `zero_wins(1.0, v)` is `v`; `zero_wins(0.0, v)` and `zero_wins(f, 0.0)` are 0.
            (Prim::ZeroWins, [_, v], [Some(LitValue::Float(f)), _]) => {
                Some(if *f == 0.0 { self.lit(0.0) } else { *v })
            }
            (Prim::ZeroWins, _, [_, Some(LitValue::Float(p))]) if *p == 0.0 => Some(self.lit(0.0)),
            (Prim::Powi, [a, _], [_, Some(LitValue::Int(1))]) => Some(*a),
            (Prim::Powi, [_, _], [_, Some(LitValue::Int(0))]) => Some(self.lit(1.0)),
            _ => None,
        }
    }

    pub fn cmp(&self, op: CmpOp, a: NodeId, b: NodeId) -> NodeId {
        if let (Some(LitValue::Int(x)), Some(LitValue::Int(y))) =
            (self.lit_value(a), self.lit_value(b))
        {
            let v = match op {
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                CmpOp::Ge => x >= y,
                CmpOp::Eq | CmpOp::Is => x == y,
                CmpOp::Ne => x != y,
            };
            return self.push(Op::Lit(LitValue::Bool(v), None), vec![], Ty::Bool);
        }
        // `1.0 == 0.0`: a guard on a literal seed folds away.
        if let (Some(x), Some(y)) = (self.float_lit(a), self.float_lit(b))
            && op == CmpOp::Eq
        {
            #[allow(clippy::float_cmp)] // exactly what the emitted `==` would compute
            let v = x == y;
            return self.push(Op::Lit(LitValue::Bool(v), None), vec![], Ty::Bool);
        }
        self.push(Op::Cmp(op), vec![a, b], Ty::Bool)
    }

    pub fn select(&self, cond: NodeId, then: NodeId, otherwise: NodeId) -> NodeId {
        if then == otherwise {
            return then;
        }
        // `if c { 0.0 } else { 0.0 }`, as the rule of `min` gives when both sides' adjoints
        // are zero.
        if let (Some(LitValue::Float(a)), Some(LitValue::Float(b))) =
            (self.lit_value(then), self.lit_value(otherwise))
            && a.to_bits() == b.to_bits()
            && self.ty_of(then) == self.ty_of(otherwise)
        {
            return then;
        }
        if let Some(LitValue::Bool(c)) = self.lit_value(cond) {
            return if c { then } else { otherwise };
        }
        self.push(Op::Select, vec![cond, then, otherwise], self.float_ty())
    }

    /// `g_grad(args)` (or `g_jvp`, by `op`): a tuple.
    pub fn call(&self, op: Op, args: &[NodeId]) -> NodeId {
        self.push(op, args.to_vec(), Ty::Other)
    }

    /// Element `k` of a tuple a call returned.
    pub fn field(&self, tuple: NodeId, k: usize) -> NodeId {
        self.push(Op::Field(k), vec![tuple], self.float_ty())
    }

    /// Converts `a` to the float type `to`: a no-op when it already is one, a fold for literals.
    pub fn cast(&self, a: NodeId, to: FloatTy) -> NodeId {
        let from = self.ty_of(a);
        if from == Ty::Float(Some(to)) {
            return a;
        }
        match self.lit_value(a) {
            #[allow(clippy::cast_precision_loss)] // exponents are small integers
            Some(LitValue::Int(v)) => return self.lit(v as f64),
            Some(LitValue::Float(v)) => return self.lit(v),
            _ => {}
        }
        let to_op = if from == Ty::Int {
            CastTo::Lossless(to)
        } else {
            CastTo::Float(to)
        };
        self.push(Op::Cast(to_op), vec![a], Ty::Float(Some(to)))
    }
}

fn key_of(node: &Node) -> Option<Key> {
    key_of_parts(&node.op, &node.args, node.ty)
}

fn key_of_parts(op: &Op, args: &[NodeId], ty: Ty) -> Option<Key> {
    Some(match (op, args) {
        (Op::Prim(p), _) => Key::Prim(*p, args.to_vec()),
        (Op::Cmp(c), [a, b]) => Key::Cmp(*c, *a, *b),
        (Op::Select, [c, a, b]) => Key::Select(*c, *a, *b),
        (Op::Cast(CastTo::Float(t)), [a]) => Key::Cast(*t, false, *a),
        (Op::Cast(CastTo::Lossless(t)), [a]) => Key::Cast(*t, true, *a),
        (Op::Known(k), []) => Key::Known(*k, ty.float()?),
        (Op::CallGrad(c), _) => Key::Call(format!("{}{}_grad", c.prefix, c.name), args.to_vec()),
        (Op::CallJvp(c), _) => Key::Call(format!("{}{}_jvp", c.prefix, c.name), args.to_vec()),
        (Op::Field(k), [a]) => Key::Field(*k, *a),
        _ => return None,
    })
}

/// A node handle the rules compute with.
#[derive(Clone, Copy)]
pub struct V<'a> {
    pub id: NodeId,
    b: &'a Builder,
}

/// A local derivative: zero, or the incoming adjoint (or tangent) scaled by the partial.
#[derive(Clone, Copy)]
pub enum Partial<'a> {
    Zero,
    /// Finite wherever the operation's arguments are finite.
    Of(V<'a>),
    /// May be infinite (or `0 / 0`) where the operation's value is finite: `sqrt` at 0.
    Singular(V<'a>),
    /// May be infinite only where the operation's value is infinite too: `ln` at 0, `1 / 0`.
    Pole(V<'a>),
}

impl<'a> Partial<'a> {
    /// The derivative, unless it is zero.
    pub fn value(self) -> Option<V<'a>> {
        match self {
            Partial::Zero => None,
            Partial::Of(v) | Partial::Singular(v) | Partial::Pole(v) => Some(v),
        }
    }
}

/// Marks a local derivative that may be infinite where the operation's value is finite.
pub fn singular(v: V<'_>) -> Partial<'_> {
    Partial::Singular(v)
}

/// Marks a local derivative that may be infinite at a pole, where the value is infinite too.
pub fn pole(v: V<'_>) -> Partial<'_> {
    Partial::Pole(v)
}

impl<'a> From<V<'a>> for Partial<'a> {
    fn from(v: V<'a>) -> Self {
        Partial::Of(v)
    }
}

/// The derivative of a piecewise-constant operation, or with respect to a constant argument.
pub const ZERO: Partial<'static> = Partial::Zero;

/// Anything a rule can use as an operand: a node or a float constant.
pub trait Operand<'a> {
    fn node(self, b: &'a Builder) -> NodeId;
}

impl<'a> Operand<'a> for V<'a> {
    fn node(self, _: &'a Builder) -> NodeId {
        self.id
    }
}

impl<'a> Operand<'a> for f64 {
    fn node(self, b: &'a Builder) -> NodeId {
        b.lit(self)
    }
}

impl<'a> Operand<'a> for i32 {
    fn node(self, b: &'a Builder) -> NodeId {
        b.int(i128::from(self))
    }
}

impl<'a> V<'a> {
    fn wrap(self, id: NodeId) -> V<'a> {
        V { id, b: self.b }
    }

    pub fn builder(self) -> &'a Builder {
        self.b
    }

    /// The value of a float or integer literal, known at compile time.
    pub fn literal(self) -> Option<f64> {
        match self.b.lit_value(self.id) {
            Some(LitValue::Float(v)) => Some(v),
            #[allow(clippy::cast_precision_loss)] // only compared with small bounds
            Some(LitValue::Int(v)) => Some(v as f64),
            _ => None,
        }
    }

    /// Whether this value is, for every input, at least some positive constant (or NaN): a
    /// positive literal, `a + b` with `a` such a value and `b >= 0`, or `√a` of one. Floating
    /// point cannot round it to 0, so no pole or infinite derivative sits there: `ln(x² + 1)`,
    /// `√(x² + y² + 1)`, a division by either.
    pub fn is_bounded_away_from_zero(self) -> bool {
        self.b.sign(self.id) == Sign::Positive
    }

    /// Whether this value is `>= 0` (or NaN) for every input: `x * x`, `exp`, `√`, `abs`, sums
    /// of such values, and the values bounded away from zero.
    pub fn is_nonnegative(self) -> bool {
        self.b.sign(self.id) != Sign::Unknown
    }

    /// Whether this partial derivative only routes the incoming derivative, unscaled or
    /// negated, or by a nonzero constant: a literal, a known constant, or a selection among
    /// them. Such a partial never turns an infinite input into `0 · ∞`.
    pub fn is_routing(self) -> bool {
        let node = self.b.node(self.id);
        match node.op {
            Op::Lit(..) | Op::Known(_) => true,
            Op::Select => {
                self.wrap(node.args[1]).is_routing() && self.wrap(node.args[2]).is_routing()
            }
            _ => self.literal().is_some(),
        }
    }

    fn call(self, p: Prim, rest: &[NodeId]) -> V<'a> {
        let mut args = vec![self.id];
        args.extend_from_slice(rest);
        self.wrap(self.b.prim(p, &args))
    }

    pub fn exp(self) -> V<'a> {
        self.call(Prim::Exp, &[])
    }
    pub fn ln(self) -> V<'a> {
        self.call(Prim::Ln, &[])
    }
    pub fn sqrt(self) -> V<'a> {
        self.call(Prim::Sqrt, &[])
    }
    pub fn sin(self) -> V<'a> {
        self.call(Prim::Sin, &[])
    }
    pub fn cos(self) -> V<'a> {
        self.call(Prim::Cos, &[])
    }
    pub fn sinh(self) -> V<'a> {
        self.call(Prim::Sinh, &[])
    }
    pub fn cosh(self) -> V<'a> {
        self.call(Prim::Cosh, &[])
    }
    pub fn trunc(self) -> V<'a> {
        self.call(Prim::Trunc, &[])
    }
    /// `g_grad(args)` for the call `g(args)`.
    pub fn call_grad(self, callee: &crate::graph::Callee, args: &[V<'a>]) -> V<'a> {
        let args: Vec<NodeId> = args.iter().map(|a| a.id).collect();
        self.wrap(self.b.call(Op::CallGrad(callee.clone()), &args))
    }

    /// Whether this is a whole array passed to a call.
    pub fn is_array(self) -> bool {
        matches!(
            self.b.graph.borrow().node(self.id).op,
            Op::Array(..) | Op::Part(_)
        )
    }

    /// Element `k` of the tuple `self`.
    pub fn field(self, k: usize) -> V<'a> {
        self.wrap(self.b.field(self.id, k))
    }

    /// `0` if `self` is exactly `0`, else `product`: the guard `0 · ∞ = 0`.
    pub fn zero_wins(self, product: V<'a>) -> V<'a> {
        self.call(Prim::ZeroWins, &[product.id])
    }

    pub fn sigmoid(self) -> V<'a> {
        self.call(Prim::Sigmoid, &[])
    }
    pub fn powi(self, n: V<'a>) -> V<'a> {
        self.call(Prim::Powi, &[n.id])
    }
    pub fn powf(self, y: impl Operand<'a>) -> V<'a> {
        let y = y.node(self.b);
        self.call(Prim::Powf, &[y])
    }

    /// The integer `self` as a float of the site's type (exponents of `powi`).
    pub fn to_float(self) -> V<'a> {
        self.wrap(self.b.cast(self.id, self.b.site.get().ty))
    }

    /// `self`, a derivative on one side of a cast between `a` and `b`, converted to the float
    /// type of the other side: an adjoint flows from output to input, a tangent from input to
    /// output, and the same rule serves both.
    pub fn across(self, a: V<'a>, b: V<'a>) -> V<'a> {
        let (ta, tb) = (self.b.ty_of(a.id).float(), self.b.ty_of(b.id).float());
        let mine = self.b.ty_of(self.id).float();
        match if mine == ta { tb } else { ta } {
            Some(t) => self.wrap(self.b.cast(self.id, t)),
            None => self,
        }
    }

    pub fn known(self, k: KnownConst) -> V<'a> {
        self.wrap(self.b.known(k))
    }

    fn compare(self, op: CmpOp, rhs: impl Operand<'a>) -> V<'a> {
        let rhs = rhs.node(self.b);
        self.wrap(self.b.cmp(op, self.id, rhs))
    }
    pub fn gt(self, rhs: impl Operand<'a>) -> V<'a> {
        self.compare(CmpOp::Gt, rhs)
    }
    pub fn ge(self, rhs: impl Operand<'a>) -> V<'a> {
        self.compare(CmpOp::Ge, rhs)
    }
    pub fn lt(self, rhs: impl Operand<'a>) -> V<'a> {
        self.compare(CmpOp::Lt, rhs)
    }
    pub fn le(self, rhs: impl Operand<'a>) -> V<'a> {
        self.compare(CmpOp::Le, rhs)
    }
    pub fn eq(self, rhs: impl Operand<'a>) -> V<'a> {
        self.compare(CmpOp::Eq, rhs)
    }
}

/// `if cond { then } else { otherwise }`: the derivative at a kink follows the branch taken.
pub fn when<'a>(cond: V<'a>, then: impl Operand<'a>, otherwise: impl Operand<'a>) -> V<'a> {
    let b = cond.b;
    let (then, otherwise) = (then.node(b), otherwise.node(b));
    cond.wrap(b.select(cond.id, then, otherwise))
}

macro_rules! binary_ops {
    ($($trait:ident $method:ident $prim:ident;)*) => {$(
        impl<'a> ops::$trait<V<'a>> for V<'a> {
            type Output = V<'a>;
            fn $method(self, rhs: V<'a>) -> V<'a> {
                self.call(Prim::$prim, &[rhs.id])
            }
        }
        impl<'a> ops::$trait<f64> for V<'a> {
            type Output = V<'a>;
            fn $method(self, rhs: f64) -> V<'a> {
                let rhs = self.b.lit(rhs);
                self.call(Prim::$prim, &[rhs])
            }
        }
        impl<'a> ops::$trait<V<'a>> for f64 {
            type Output = V<'a>;
            fn $method(self, rhs: V<'a>) -> V<'a> {
                let lhs = rhs.b.lit(self);
                rhs.wrap(rhs.b.prim(Prim::$prim, &[lhs, rhs.id]))
            }
        }
    )*};
}

binary_ops! {
    Add add Add;
    Sub sub Sub;
    Mul mul Mul;
    Div div Div;
}

impl<'a> ops::Sub<i32> for V<'a> {
    type Output = V<'a>;
    fn sub(self, rhs: i32) -> V<'a> {
        let rhs = self.b.int(i128::from(rhs));
        self.call(Prim::Sub, &[rhs])
    }
}

impl<'a> ops::Mul<KnownConst> for V<'a> {
    type Output = V<'a>;
    fn mul(self, k: KnownConst) -> V<'a> {
        self * self.known(k)
    }
}

impl<'a> ops::Neg for V<'a> {
    type Output = V<'a>;
    fn neg(self) -> V<'a> {
        self.call(Prim::Neg, &[])
    }
}

//! Calls under second order: the tangent of `g_grad(a, b)` comes from `g_hvp`.
//!
//! Over the reverse pass's code a call is `g_grad(a, b)`, whose entries are the value and the
//! partial derivatives. Its tangent along the arguments' tangents is what
//! `g_hvp(a, d_a, b, d_b) -> (value, grads..., hvs...)` returns after the gradient: the call
//! becomes that one call (the value and gradient entries are where `g_grad` had them), the
//! tangent of gradient entry `k` is entry `m + k` (`m` float arguments), and the tangent of the
//! value is the sum of the gradient entries times the arguments' tangents. A hand-written `g_hvp`
//! is how a user supplies second derivatives of an opaque function.
//!
//! An array or slice argument (`&h`, `x`, `&x[a..b]`) is followed by its tangent array, or by
//! zeros of its length where it is constant, as in `f_jvp`; its gradient and `H·v` entries are
//! arrays, read element by element (`Op::Element`) where the backward code adds them into the
//! argument's adjoint, and its share of the value's tangent is a loop: the dot product of its
//! gradient entry with its tangent.

use super::Forward;
use crate::graph::{
    Block, Invoke, LitValue, Loop, Node, NodeId, Op, Pass, Shape, Stmt, Ty, Var, VarId,
};
use crate::prim::Prim;
use crate::reverse::site;

/// The tangent of one float argument of a call made a `g_hvp` call, for the value's tangent.
#[derive(Clone, Copy)]
pub(crate) enum ArgTangent {
    /// A constant argument: no share.
    Zero,
    /// A float's tangent.
    Scalar(NodeId),
    /// The tangent array of an array or slice argument, passed as the array is; `part` holds
    /// the bounds of `&x[start..end]`.
    Array {
        var: VarId,
        part: Option<(NodeId, NodeId)>,
    },
}

/// Loops this pass adds (dot products), numbered apart from the user's and the reverse pass's.
const DOT_LOOPS: usize = usize::MAX / 4 * 3;

impl Forward {
    /// Makes the `g_grad` node `n` a `g_hvp` call when an argument varies. Returns whether it
    /// did.
    pub(super) fn hvp_call(&mut self, n: NodeId, node: &Node, out: &mut Vec<Stmt>) -> bool {
        let Op::CallGrad(callee) = &node.op else {
            return false;
        };
        self.b.set_site(site(&self.b, node));
        // The call's statement is placed again after the zeros of its constant arguments.
        let at = out
            .iter()
            .rposition(|s| matches!(s, Stmt::Node(m) if *m == n));
        if let Some(at) = at {
            out.remove(at);
        }
        let mut placed = self.b.len();
        let mut args = Vec::new();
        let mut tangents = Vec::new();
        for (&a, &float) in node.args.iter().zip(&callee.floats) {
            args.push(a);
            if !float {
                continue;
            }
            let arg = self.b.node(a);
            tangents.push(match arg.op {
                Op::Array(v, _) | Op::Part(v) => match self.var_tangent.get(&v) {
                    Some(&var) => ArgTangent::Array {
                        var,
                        part: matches!(arg.op, Op::Part(_)).then(|| (arg.args[0], arg.args[1])),
                    },
                    None => ArgTangent::Zero,
                },
                _ => self
                    .tangent
                    .get(&a)
                    .map_or(ArgTangent::Zero, |&t| ArgTangent::Scalar(t)),
            });
            let t = self.arg_tangent(a, &mut placed, out);
            args.push(t);
        }
        out.extend((placed..self.b.len()).map(|id| Stmt::Node(NodeId(id))));
        let modes = vec![Pass::Value; args.len()];
        self.b.with_graph(|g| {
            let call = &mut g.nodes[n.0];
            call.op = Op::Invoke(Invoke {
                callee: callee.clone(),
                suffix: "hvp",
                modes,
                several: false,
            });
            call.args = args;
            call.ty = Ty::Other;
        });
        out.push(Stmt::Node(n));
        self.hvp_calls.insert(n, tangents);
        true
    }

    /// The tangent of entry `k` of a call made a `g_hvp` call, its nodes and statements placed
    /// in `out`.
    pub(super) fn hvp_entry(
        &mut self,
        k: usize,
        node: &Node,
        out: &mut Vec<Stmt>,
    ) -> Option<NodeId> {
        let call = node.args[0];
        // An entry of the scalar gradients of a `g_hvp_into` call: its tangent follows them.
        if let Op::Read(v) = self.b.node(call).op
            && let Some(&m) = self.hvp_grads.get(&v)
        {
            self.b.set_site(site(&self.b, node));
            let t = self.b.field(call, m + k);
            self.b.mark_infinite(t);
            out.push(Stmt::Node(t));
            return Some(t);
        }
        let tangents = self.hvp_calls.get(&call)?.clone();
        self.b.set_site(site(&self.b, node));
        let m = tangents.len();
        let mut placed = self.b.len();
        let place = |f: &Self, placed: &mut usize, out: &mut Vec<Stmt>| {
            out.extend((*placed..f.b.len()).map(|id| Stmt::Node(NodeId(id))));
            *placed = f.b.len();
        };
        if k > 0 {
            let t = self.b.field(call, m + k);
            // The callee's second derivative may be infinite.
            self.b.mark_infinite(t);
            place(self, &mut placed, out);
            return Some(t);
        }
        // The value's tangent: the gradient entries times the arguments' tangents.
        let mut sum = None;
        for (j, t) in tangents.iter().enumerate() {
            let term = match *t {
                ArgTangent::Zero => continue,
                ArgTangent::Scalar(t) => {
                    let entry = self.b.field(call, j + 1);
                    self.b.prim(Prim::Mul, &[entry, t])
                }
                ArgTangent::Array { var, part } => {
                    place(self, &mut placed, out);
                    let dot = self.dot(call, j + 1, var, part, out);
                    placed = self.b.len();
                    dot
                }
            };
            sum = Some(match sum {
                None => term,
                Some(s) => self.b.prim(Prim::Add, &[s, term]),
            });
            place(self, &mut placed, out);
        }
        sum
    }

    /// `Σ_k call.entry[k] · tangent[k]` over the tangent array (from `start` in a part), as a
    /// loop placed in `out`: the share of an array argument in the tangent of a call's value.
    fn dot(
        &mut self,
        call: NodeId,
        entry: usize,
        tangent: VarId,
        part: Option<(NodeId, NodeId)>,
        out: &mut Vec<Stmt>,
    ) -> NodeId {
        let counter = DOT_LOOPS + self.dots;
        self.dots += 1;
        let var = self.b.with_graph(|g| g.vars[tangent.0].clone());
        let ty = var.ty;
        let push = |f: &mut Self, op: Op, args: Vec<NodeId>, ty: Ty| {
            f.b.with_graph(|g| g.push(Node::new(op, args, ty)))
        };
        let acc = self.b.with_graph(|g| {
            g.vars.push(Var {
                name: format!("dot_{}", var.name),
                shape: Shape::Scalar,
                param: None,
                active: false,
                ..var
            });
            VarId(g.vars.len() - 1)
        });
        let zero = self.b.lit(0.0);
        let start = push(self, Op::Lit(LitValue::Int(0), None), vec![], Ty::Int);
        let len = match part {
            Some((from, to)) => push(self, Op::Prim(Prim::Sub), vec![to, from], Ty::Int),
            None => push(self, Op::Len(tangent), vec![], Ty::Int),
        };
        out.extend([Stmt::Node(zero), Stmt::Node(start), Stmt::Node(len)]);
        out.push(Stmt::Declare(acc, Some(zero)));
        let i = push(self, Op::Counter(counter), vec![], Ty::Int);
        self.b
            .with_graph(|g| g.nodes[i.0].name = Some("k".to_owned()));
        let at = match part {
            Some((from, _)) => push(self, Op::Prim(Prim::Add), vec![from, i], Ty::Int),
            None => i,
        };
        let grad = self.b.field(call, entry);
        let element = push(self, Op::Element, vec![grad, i], ty);
        let t = push(self, Op::Load(tangent), vec![at], ty);
        let product = push(self, Op::Prim(Prim::Mul), vec![element, t], ty);
        let read = push(self, Op::Read(acc), vec![], ty);
        let sum = push(self, Op::Prim(Prim::Add), vec![read, product], ty);
        let mut body = vec![Stmt::Node(i)];
        if at != i {
            body.push(Stmt::Node(at));
        }
        body.extend([
            Stmt::Node(grad),
            Stmt::Node(element),
            Stmt::Node(t),
            Stmt::Node(product),
            Stmt::Node(read),
            Stmt::Node(sum),
            Stmt::Assign(acc, sum),
        ]);
        out.push(Stmt::For(Loop {
            counter,
            name: "k".to_owned(),
            start,
            end: len,
            inclusive: false,
            reverse: false,
            body: Block(body),
        }));
        let total = push(self, Op::Read(acc), vec![], ty);
        out.push(Stmt::Node(total));
        total
    }

    /// The tangent of `arg0[arg1]`, an element of an array a call returned: the same element of
    /// that array's tangent.
    pub(super) fn element_tangent(&mut self, node: &Node) -> Option<NodeId> {
        let &t = self.tangent.get(&node.args[0])?;
        let i = node.args[1];
        let ty = node.ty;
        Some(
            self.b
                .with_graph(|g| g.push(Node::new(Op::Element, vec![t, i], ty))),
        )
    }
}

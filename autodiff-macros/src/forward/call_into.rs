//! The tangent of a call that writes into a buffer: `g(&x, mu, &mut out);` becomes
//! `g_jvp(&x, &d_x, mu, d_mu, &mut out, &mut d_out);`, which writes `out` and its tangent.
//! A constant slice input gets a zero tangent buffer of its length.
//!
//! Under second order the reverse pass's `g_vjp_into(&x, &mut d_x, mu, &mut out, &mut d_out)`
//! becomes `g_hvp_into(&x, &v_x, &mut d_x, &mut hv_x, mu, v_mu, &mut out, &mut v_out, &mut d_out,
//! &mut hv_out)`: each argument followed by its tangent, each adjoint buffer by the buffer of its
//! tangent; the scalar gradients it returns are followed by their tangents. A call with several
//! outputs goes through `g_hvp` alike, in the forward sweep too (with a zero seed), since a
//! second-order caller needs only that of its callee.

use super::Forward;
use crate::graph::{Invoke, Node, NodeId, Op, Pass, Shape, Stmt, Ty, VarId};
use crate::reverse::site;

impl Forward {
    fn push_node(&self, op: Op, args: Vec<NodeId>, ty: Ty) -> NodeId {
        self.b.with_graph(|g| g.push(Node::new(op, args, ty)))
    }

    /// `out = g(args)` with its tangent: the call through `g_jvp`, when `out` has a tangent.
    pub(super) fn forward_invoke(&mut self, stmt: &Stmt, out: &mut Vec<Stmt>) -> bool {
        let Stmt::Assign(v, call) = stmt else {
            return false;
        };
        let node = self.b.node(*call);
        let invoke = match node.op.clone() {
            Op::Invoke(invoke) => invoke,
            // Another buffer the call before writes: its tangent is written there.
            Op::Written(_) => {
                out.push(stmt.clone());
                return true;
            }
            _ => return false,
        };
        let written = |a: &NodeId| match self.b.node(*a).op {
            Op::Array(x, _) | Op::Part(x) => Some(x),
            _ => None,
        };
        let any_tangent = node
            .args
            .iter()
            .zip(&invoke.modes)
            .filter(|(_, m)| **m == Pass::Mut)
            .filter_map(|(a, _)| written(a))
            .any(|x| self.var_tangent.contains_key(&x));
        if !any_tangent {
            out.push(stmt.clone());
            return true;
        }
        if !invoke.suffix.is_empty() {
            return false;
        }
        let mut args = Vec::new();
        let mut modes = Vec::new();
        for ((&a, &mode), &float) in node
            .args
            .iter()
            .zip(&invoke.modes)
            .zip(&invoke.callee.floats)
        {
            args.push(a);
            modes.push(mode);
            match mode {
                Pass::Mut => {
                    let arg = self.b.node(a);
                    let (Op::Array(x, _) | Op::Part(x)) = arg.op else {
                        continue;
                    };
                    let ty = self.b.with_graph(|g| g.vars[x.0].ty);
                    let d_out = match self.var_tangent.get(&x) {
                        Some(&d) => d,
                        // A buffer whose tangent nothing reads: written into zeros.
                        None => self.zero_buffer(x, out),
                    };
                    // `&mut out[a..b]`: the same part of the tangent.
                    let node = match arg.op {
                        Op::Part(_) => self.push_node(Op::Part(d_out), arg.args.clone(), ty),
                        _ => self.push_node(Op::Array(d_out, 0), vec![], ty),
                    };
                    args.push(node);
                    modes.push(Pass::Mut);
                }
                Pass::Ref => {
                    // `&x[start..end]`: the same part of the tangent.
                    let Some(t) = self.array_arg_tangent(a, out) else {
                        continue;
                    };
                    args.push(t);
                    modes.push(Pass::Ref);
                }
                Pass::Value if float => {
                    let t = self.tangent_or_zero(a, out);
                    args.push(t);
                    modes.push(Pass::Value);
                }
                Pass::Value => {}
            }
        }
        // Under second order a function with several outputs is called through `g_hvp`.
        let suffix = if invoke.several && self.varying.is_some() {
            "hvp_forward"
        } else {
            "jvp"
        };
        let jvp = self.push_node(
            Op::Invoke(Invoke {
                callee: invoke.callee.clone(),
                suffix,
                modes,
                several: invoke.several,
            }),
            args,
            Ty::Other,
        );
        out.push(Stmt::Assign(*v, jvp));
        true
    }

    /// Whether `n` varies along the direction, under second order.
    fn varies(&self, n: NodeId) -> bool {
        self.varying
            .as_ref()
            .is_some_and(|v| v.get(n.0).copied().unwrap_or(false))
    }

    /// The tangent of the array argument `a` (`x` or `&x[a..b]`): the same of `x`'s tangent, or
    /// zeros of the argument's length (of the part's, not the whole array's: a part of a long
    /// constant array is passed in every iteration of a loop).
    fn array_arg_tangent(&mut self, a: NodeId, out: &mut Vec<Stmt>) -> Option<NodeId> {
        let arg = self.b.node(a);
        let (Op::Array(x, _) | Op::Part(x)) = arg.op else {
            return None;
        };
        let ty = self.b.with_graph(|g| g.vars[x.0].ty);
        Some(match (self.var_tangent.get(&x).copied(), &arg.op) {
            (Some(d), Op::Part(_)) => self.push_node(Op::Part(d), arg.args.clone(), ty),
            (Some(d), _) => self.push_node(Op::Array(d, 0), vec![], ty),
            (None, Op::Part(_)) => {
                let len = self.push_node(
                    Op::Prim(crate::prim::Prim::Sub),
                    vec![arg.args[1], arg.args[0]],
                    Ty::Int,
                );
                out.push(Stmt::Node(len));
                let zeros = self.zeros_of(x, len, out);
                self.push_node(Op::Array(zeros, 0), vec![], ty)
            }
            (None, _) => {
                let zeros = self.zero_buffer(x, out);
                self.push_node(Op::Array(zeros, 0), vec![], ty)
            }
        })
    }

    /// Under second order, `g_vjp_into(..)` (assigned to the last buffer it writes, or declared
    /// as the tuple of its scalar gradients) made `g_hvp_into(..)`. Returns whether `stmt` was
    /// such a call, placed in `out`.
    pub(super) fn hvp_invoke(&mut self, stmt: &Stmt, out: &mut Vec<Stmt>) -> bool {
        let (Stmt::Assign(v, call) | Stmt::Declare(v, Some(call))) = stmt else {
            return false;
        };
        let node = self.b.node(*call);
        let Op::Invoke(invoke) = node.op.clone() else {
            return false;
        };
        if self.varying.is_none() || !matches!(invoke.suffix, "vjp_into" | "adjoint_into") {
            return false;
        }
        if !self.varies(*call) {
            out.push(stmt.clone());
            return true;
        }
        self.unplaced_args(*call, out);
        let mut args = Vec::new();
        let mut modes = Vec::new();
        let mut scalars = 0;
        let mut floats = invoke.callee.floats.iter();
        let mut i = 0;
        while i < node.args.len() {
            let a = node.args[i];
            let float = floats.next().copied().unwrap_or(false);
            match invoke.modes[i] {
                Pass::Value => {
                    args.push(a);
                    modes.push(Pass::Value);
                    if float {
                        let t = self.tangent_or_zero(a, out);
                        args.push(t);
                        modes.push(Pass::Value);
                        scalars += 1;
                    }
                    i += 1;
                }
                // An input and the buffer of its gradient.
                Pass::Ref => {
                    let v_x = self
                        .array_arg_tangent(a, out)
                        .expect("an array input is an array");
                    let d_x = node.args[i + 1];
                    let hv_x = self
                        .array_arg_tangent(d_x, out)
                        .expect("a gradient buffer is an array");
                    args.extend([a, v_x, d_x, hv_x]);
                    modes.extend([Pass::Ref, Pass::Ref, Pass::Mut, Pass::Mut]);
                    i += 2;
                }
                // The seed of a function with several outputs, read from the adjoint of the
                // buffer the call's outputs are kept in.
                Pass::Mut if invoke.several => {
                    let hv = self
                        .array_arg_tangent(a, out)
                        .expect("an adjoint buffer is an array");
                    args.extend([a, hv]);
                    modes.extend([Pass::Mut, Pass::Mut]);
                    i += 1;
                }
                // What the buffer held before the call and the buffer's adjoint, each with its
                // tangent.
                Pass::Mut => {
                    let before = self
                        .array_arg_tangent(a, out)
                        .expect("a written buffer is an array");
                    let d_out = node.args[i + 1];
                    let hv_out = self
                        .array_arg_tangent(d_out, out)
                        .expect("an adjoint buffer is an array");
                    args.extend([a, before, d_out, hv_out]);
                    modes.extend([Pass::Mut; 4]);
                    i += 2;
                }
            }
        }
        let hvp = self.push_node(
            Op::Invoke(Invoke {
                callee: invoke.callee.clone(),
                suffix: "hvp_into",
                modes,
                several: invoke.several,
            }),
            args,
            Ty::Other,
        );
        out.push(match stmt {
            Stmt::Assign(..) => Stmt::Assign(*v, hvp),
            _ => {
                // The tuple's tangents are its own entries: it has no tangent variable.
                self.var_tangent.remove(v);
                self.hvp_grads.insert(*v, scalars);
                Stmt::Declare(*v, Some(hvp))
            }
        });
        true
    }

    /// `vec![0.0; x.len()]`: the tangent of a constant array input.
    fn zero_buffer(&mut self, x: VarId, out: &mut Vec<Stmt>) -> VarId {
        let len = self.push_node(Op::Len(x), vec![], Ty::Int);
        out.push(Stmt::Node(len));
        self.zeros_of(x, len, out)
    }

    /// `vec![0.0; len]` of `x`'s float type, declared in `out`.
    fn zeros_of(&mut self, x: VarId, len: NodeId, out: &mut Vec<Stmt>) -> VarId {
        let var = self.b.with_graph(|g| g.vars[x.0].clone());
        let node = self.b.node(self.b.with_graph(|g| g.output));
        self.b.set_site(site(&self.b, &node));
        let zero = self.b.lit(0.0);
        let zeros = self.push_node(Op::Vec, vec![zero, len], var.ty);
        let d = self.b.with_graph(|g| {
            g.vars.push(crate::graph::Var {
                name: format!("zero_{}", var.name),
                shape: Shape::Buffer(len),
                param: None,
                active: false,
                ..var
            });
            VarId(g.vars.len() - 1)
        });
        out.extend([Stmt::Node(zeros), Stmt::Declare(d, Some(zeros))]);
        d
    }
}

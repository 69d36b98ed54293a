//! The tangent of a call that writes into a buffer: `g(&x, mu, &mut out);` becomes
//! `g_jvp(&x, &d_x, mu, d_mu, &mut out, &mut d_out);`, which writes `out` and its tangent.
//! A constant slice input gets a zero tangent buffer of its length.

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
                    let arg = self.b.node(a);
                    let (Op::Array(x, _) | Op::Part(x)) = arg.op else {
                        continue;
                    };
                    let tangent = match self.var_tangent.get(&x) {
                        Some(&d) => d,
                        None => self.zero_buffer(x, out),
                    };
                    let ty = self.b.with_graph(|g| g.vars[x.0].ty);
                    // `&x[start..end]`: the same part of the tangent.
                    let (op, bounds) = match arg.op {
                        Op::Part(_) => (Op::Part(tangent), arg.args.clone()),
                        _ => (Op::Array(tangent, 0), vec![]),
                    };
                    args.push(self.push_node(op, bounds, ty));
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
        let jvp = self.push_node(
            Op::Invoke(Invoke {
                callee: invoke.callee.clone(),
                suffix: "jvp",
                modes,
                several: invoke.several,
            }),
            args,
            Ty::Other,
        );
        out.push(Stmt::Assign(*v, jvp));
        true
    }

    /// `vec![0.0; x.len()]`: the tangent of a constant array input.
    fn zero_buffer(&mut self, x: VarId, out: &mut Vec<Stmt>) -> VarId {
        let var = self.b.with_graph(|g| g.vars[x.0].clone());
        let node = self.b.node(self.b.with_graph(|g| g.output));
        self.b.set_site(site(&self.b, &node));
        let zero = self.b.lit(0.0);
        let len = self.push_node(Op::Len(x), vec![], Ty::Int);
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
        out.extend([
            Stmt::Node(len),
            Stmt::Node(zeros),
            Stmt::Declare(d, Some(zeros)),
        ]);
        d
    }
}

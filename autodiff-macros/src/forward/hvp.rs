//! Calls under second order: the tangent of `g_grad(a, b)` comes from `g_hvp`.
//!
//! Over the reverse pass's code a call is `g_grad(a, b)`, whose entries are the value and the
//! partial derivatives. Its tangent along the arguments' tangents is what
//! `g_hvp(a, d_a, b, d_b) -> (value, grads..., hvs...)` returns after the gradient: the call
//! becomes that one call (the value and gradient entries are where `g_grad` had them), the
//! tangent of gradient entry `k` is entry `m + k` (`m` float arguments), and the tangent of the
//! value is the sum of the gradient entries times the arguments' tangents. A hand-written `g_hvp`
//! is how a user supplies second derivatives of an opaque function.

use super::Forward;
use crate::graph::{Invoke, Node, NodeId, Op, Pass, Stmt, Ty};
use crate::prim::Prim;
use crate::reverse::site;

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
        let mut args = Vec::new();
        let mut tangents = Vec::new();
        for (&a, &float) in node.args.iter().zip(&callee.floats) {
            args.push(a);
            if float {
                let t = match self.tangent.get(&a) {
                    Some(&t) => t,
                    None => {
                        let zero = self.b.lit(0.0);
                        out.push(Stmt::Node(zero));
                        zero
                    }
                };
                args.push(t);
                tangents.push(self.tangent.get(&a).copied());
            }
        }
        let modes = vec![Pass::Value; args.len()];
        self.b.with_graph(|g| {
            let call = &mut g.nodes[n.0];
            call.op = Op::Invoke(Invoke {
                callee: callee.clone(),
                suffix: "hvp",
                modes,
            });
            call.args = args;
            call.ty = Ty::Other;
        });
        out.push(Stmt::Node(n));
        self.hvp_calls.insert(n, tangents);
        true
    }

    /// The tangent of entry `k` of a call made a `g_hvp` call.
    pub(super) fn hvp_entry(&mut self, k: usize, node: &Node) -> Option<NodeId> {
        let call = node.args[0];
        let tangents = self.hvp_calls.get(&call)?.clone();
        self.b.set_site(site(&self.b, node));
        let m = tangents.len();
        if k > 0 {
            let t = self.b.field(call, m + k);
            // The callee's second derivative may be infinite.
            self.b.mark_infinite(t);
            return Some(t);
        }
        // The value's tangent: the gradient entries times the arguments' tangents.
        let mut sum = None;
        for (j, t) in tangents.iter().enumerate() {
            let Some(t) = t else { continue };
            let entry = self.b.field(call, j + 1);
            let term = self.b.prim(Prim::Mul, &[entry, *t]);
            sum = Some(match sum {
                None => term,
                Some(s) => self.b.prim(Prim::Add, &[s, term]),
            });
        }
        sum
    }
}

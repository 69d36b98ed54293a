//! The forward pass: pushes tangents from the parameters to the output.
//!
//! Visiting nodes in evaluation order, the tangent of a node is the sum over its active arguments
//! of the same rule-table entry the reverse pass uses, fed with the argument's tangent instead of
//! the node's adjoint. One pass gives one directional derivative: forward mode costs one pass per
//! input direction, reverse mode one pass per output.

use crate::algebra::{Builder, Partial};
use crate::graph::{Graph, Node, NodeId, Op};
use crate::reverse::site;
use crate::rules::{self, Prim};

/// A graph extended with its tangent sweep.
pub struct Tangent {
    pub graph: Graph,
    /// The directional derivative of the output; `None` is zero.
    pub tangent: Option<NodeId>,
}

pub fn forward(graph: Graph) -> Tangent {
    let forward_len = graph.nodes.len();
    let output = graph.output;
    let b = Builder::new(graph);
    let mut tangent: Vec<Option<NodeId>> = vec![None; forward_len];

    for i in 0..forward_len {
        let node = b.node(NodeId(i));
        if !node.active {
            continue;
        }
        if let Op::Param(p) = node.op {
            tangent[i] = Some(seed(&b, &node, p));
            continue;
        }
        b.set_site(site(&b, &node));
        let args: Vec<_> = node.args.iter().map(|&a| b.v(a)).collect();
        let mut sum = None;
        for (k, &arg) in node.args.iter().enumerate() {
            let Some(t) = tangent[arg.0] else { continue };
            let partials = rules::local_derivatives(&node.op, b.v(t), b.v(NodeId(i)), &args);
            let Some(Partial::Of(d)) = partials.get(k).copied() else {
                continue;
            };
            sum = Some(match sum {
                None => d.id,
                Some(s) => b.prim(Prim::Add, &[s, d.id]),
            });
        }
        tangent[i] = sum;
        if let Some(t) = sum {
            b.name_derivative(&node, t, forward_len);
        }
    }

    let tangent_out = tangent[output.0];
    Tangent {
        graph: b.finish(),
        tangent: tangent_out,
    }
}

/// The tangent input `d_<param>` of `f_jvp`.
fn seed(b: &Builder, node: &Node, param: usize) -> NodeId {
    b.with_graph(|g| {
        g.push(Node {
            op: Op::Seed(param),
            args: vec![],
            ty: node.ty,
            active: false,
            span: node.span,
            name: None,
        })
    })
}

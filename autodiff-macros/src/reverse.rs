//! The reverse pass: walks the graph backwards and builds the adjoint of every active node.
//!
//! The adjoint of the output is 1. Visiting nodes from last to first, every consumer of a value
//! comes before the value itself, so when a node is reached its adjoint is complete: the sum of the
//! contributions `g · ∂out/∂arg` of every path from it to the output (the seed's `y`, used by both
//! `+` and `×`, gets `3 · 1 + 5`). The node's row of the rule table then passes that adjoint on to
//! its arguments. The adjoint nodes are appended to the same graph, after the forward nodes, so
//! that emission prints the forward sweep followed by the backward sweep.

use crate::algebra::{Builder, Partial, Site};
use crate::graph::{Graph, Node, NodeId};
use crate::rules::{self, Prim};

/// A graph extended with its backward sweep.
pub struct Adjoint {
    pub graph: Graph,
    /// The gradient entry of each active parameter, in declaration order; `None` is zero.
    pub gradients: Vec<Option<NodeId>>,
}

pub fn reverse(graph: Graph) -> Adjoint {
    let forward_len = graph.nodes.len();
    let output = graph.output;
    let b = Builder::new(graph);
    let mut adjoint: Vec<Option<NodeId>> = vec![None; forward_len];

    let out = b.node(output);
    if out.active {
        b.set_site(site(&b, &out));
        adjoint[output.0] = Some(b.lit(1.0));
    }

    for i in (0..forward_len).rev() {
        let Some(g) = adjoint[i] else { continue };
        let node = b.node(NodeId(i));
        b.name_derivative(&node, g, forward_len);
        if node.args.is_empty() {
            continue;
        }
        b.set_site(site(&b, &node));
        let args: Vec<_> = node.args.iter().map(|&a| b.v(a)).collect();
        let partials = rules::local_derivatives(&node.op, b.v(g), b.v(NodeId(i)), &args);
        for (&arg, partial) in node.args.iter().zip(partials) {
            let Partial::Of(d) = partial else { continue };
            if !b.node(arg).active {
                continue;
            }
            adjoint[arg.0] = Some(match adjoint[arg.0] {
                None => d.id,
                Some(sum) => b.prim(Prim::Add, &[sum, d.id]),
            });
        }
    }

    let graph = b.finish();
    let gradients = graph
        .params
        .iter()
        .filter(|p| p.active)
        .map(|p| adjoint[p.node.0])
        .collect();
    Adjoint { graph, gradients }
}

pub(crate) fn site(b: &Builder, node: &Node) -> Site {
    Site {
        span: node.span,
        ty: node
            .ty
            .float()
            .unwrap_or_else(|| b.with_graph(|g| g.output_ty)),
    }
}

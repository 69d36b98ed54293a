//! Tangents of struct fields: the tangent of `p.w` is `d_p.w`, a field of the tangent struct
//! that `f_jvp` takes after `p` (`d_self` after `&self`).

use super::{Forward, Seed};
use crate::graph::{Node, NodeId, Op, Shape, Stmt};

impl Forward {
    /// The tangent input of the struct `owner` (`None` for `self`).
    fn struct_seed(&mut self, owner: Option<usize>) -> NodeId {
        match owner {
            Some(i) => {
                if let Some(Seed::Scalar(n)) = self.seeds.get(&i) {
                    return *n;
                }
                let param = self.b.with_graph(|g| g.params[i].node);
                let node = self.b.node(param);
                self.seed(i, &node)
            }
            None => {
                if let Some(n) = self.self_seed {
                    return n;
                }
                let n = self.b.with_graph(|g| {
                    g.push(Node::new(
                        Op::Seed(usize::MAX),
                        vec![],
                        crate::graph::Ty::Other,
                    ))
                });
                self.self_seed = Some(n);
                n
            }
        }
    }

    /// The leaf a field node or a field slice reads, if `n` is one of an active struct.
    fn leaf_of(&self, n: NodeId) -> Option<crate::graph::FieldLeaf> {
        self.b.with_graph(|g| {
            g.fields
                .iter()
                .find(|f| f.active && f.node == Some(n))
                .cloned()
        })
    }

    /// `d_p.a` for the field node `p.a`.
    pub(super) fn field_tangent(&mut self, n: NodeId, node: &Node) -> Option<NodeId> {
        let owner = self.leaf_of(n)?.owner;
        let Op::Member(path) = &node.op else {
            return None;
        };
        let seed = self.struct_seed(owner);
        let ty = node.ty;
        let path = path.clone();
        Some(
            self.b
                .with_graph(|g| g.push(Node::new(Op::Member(path), vec![seed], ty))),
        )
    }

    /// `&d_p.w[..]` for the field slice `&p.w[..]` of an active struct.
    pub(super) fn field_slice_tangent(
        &mut self,
        v: crate::graph::VarId,
        init: NodeId,
    ) -> Option<NodeId> {
        let node = self.b.node(init);
        let Op::FieldSlice(path) = &node.op else {
            return None;
        };
        let leaf = self.b.with_graph(|g| {
            g.fields
                .iter()
                .find(|f| f.active && f.var == Some(v))
                .cloned()
        })?;
        let owner = leaf.owner;
        let seed = self.struct_seed(owner);
        let path = path.clone();
        Some(
            self.b
                .with_graph(|g| g.push(Node::new(Op::FieldSlice(path), vec![seed], node.ty))),
        )
    }
}

impl Forward {
    /// Under second order, the tangent of a struct's gradient entry `g` (`Op::Gradient`): the
    /// same struct built from the tangents of its fields' adjoints, zeros where one does not
    /// vary. An array field's zeros have the length of its adjoint, so that the entry's fields
    /// have the lengths of the gradient's. Nodes are placed in `out`.
    pub(crate) fn gradient_tangent(&mut self, g: NodeId, out: &mut Vec<Stmt>) -> NodeId {
        let node = self.b.node(g);
        let Op::Gradient(gradient) = &node.op else {
            unreachable!("a struct's gradient entry is an `Op::Gradient`")
        };
        self.b.set_site(crate::reverse::site(&self.b, &node));
        self.unplaced_args(g, out);
        let mut placed = self.b.len();
        let mut args = Vec::new();
        for (&a, (_, array)) in node.args.iter().zip(&gradient.fields) {
            let arg = self.b.node(a);
            let t = match (arg.op, *array) {
                (Op::Read(v), true) => match self.var_tangent.get(&v) {
                    Some(&d) => self
                        .b
                        .with_graph(|g| g.push(Node::new(Op::Read(d), vec![], arg.ty))),
                    None => {
                        let zero = self.b.lit(0.0);
                        let shape = self.b.with_graph(|g| g.vars[v.0].shape.clone());
                        let (op, args) = match shape {
                            Shape::Buffer(len) => (Op::Vec, vec![zero, len]),
                            Shape::Array { len, .. } => (Op::Fill(len), vec![zero]),
                            _ => unreachable!("an array field's adjoint is an array or a buffer"),
                        };
                        self.b.with_graph(|g| g.push(Node::new(op, args, arg.ty)))
                    }
                },
                (_, true) => unreachable!("an array field's adjoint is read whole"),
                (_, false) => {
                    if !self.tangent.contains_key(&a) && !self.visited.contains(&a) {
                        out.extend((placed..self.b.len()).map(|id| Stmt::Node(NodeId(id))));
                        self.b.remember(a);
                        self.node(a, out);
                        placed = self.b.len();
                    }
                    match self.tangent.get(&a) {
                        Some(&t) => t,
                        None => self.b.lit(0.0),
                    }
                }
            };
            args.push(t);
        }
        let op = node.op.clone();
        let t = self
            .b
            .with_graph(|graph| graph.push(Node::new(op, args, node.ty)));
        out.extend((placed..self.b.len()).map(|id| Stmt::Node(NodeId(id))));
        self.tangent.insert(g, t);
        t
    }
}

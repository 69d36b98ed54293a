//! Tangents of struct fields: the tangent of `p.w` is `d_p.w`, a field of the tangent struct
//! that `f_jvp` takes after `p` (`d_self` after `&self`).

use super::{Forward, Seed};
use crate::graph::{Node, NodeId, Op};

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

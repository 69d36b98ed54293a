//! Adjoint buffers of run-time-sized local buffers (`let mut q = vec![0.0; n];`).
//!
//! A buffer declared at the top of the function gets its adjoint `vec![0.0; n]` in the forward
//! sweep, right after the buffer itself: the length is in scope there, and the adjoint stays in
//! scope for the whole backward sweep. A buffer declared inside a branch or a loop has a length
//! that may change from one run of its block to the next: its adjoint is declared empty at the
//! top of the backward sweep, and the backward code of the block that declares the buffer starts
//! by resizing it to the buffer's length, all zeros (`clear` and `resize`, which reuse the
//! allocation). Either way the backward sweep allocates one adjoint buffer per buffer.

use crate::hash::HashSet;

use super::Reverse;
use crate::algebra::Site;
use crate::graph::{Block, LitValue, Node, NodeId, Op, Shape, Stmt, Ty, VarId};

impl Reverse {
    /// The length node of an active buffer that has an adjoint.
    fn buffer_len(&self, v: VarId) -> Option<NodeId> {
        if !self.var_adjoint.contains_key(&v) {
            return None;
        }
        match self.b.with_graph(|g| g.vars[v.0].shape.clone()) {
            Shape::Buffer(len) => Some(len),
            _ => None,
        }
    }

    /// `vec![0.0; len]` for the adjoint of buffer `v`.
    fn zeros(&self, v: VarId, len: NodeId) -> NodeId {
        let (ty, span) = self.b.with_graph(|g| (g.vars[v.0].ty, g.vars[v.0].span));
        let float = ty.float().unwrap_or_else(|| self.output_ty());
        self.b.set_site(Site { span, ty: float });
        let zero = self.b.lit(0.0);
        self.b
            .with_graph(|g| g.push(Node::new(Op::Vec, vec![zero, len], ty)))
    }

    /// The buffers declared directly in the top-level block, whose adjoints the forward sweep
    /// declares.
    pub(super) fn top_level_buffers(body: &Block) -> HashSet<VarId> {
        body.0
            .iter()
            .filter_map(|s| match s {
                Stmt::Declare(v, Some(_)) => Some(*v),
                _ => None,
            })
            .collect()
    }

    /// The initial value of the adjoint of buffer `v` at the top of the backward sweep: `None`
    /// when the forward sweep declares it, else an empty vector.
    pub(super) fn buffer_adjoint_start(&self, v: VarId, top: &HashSet<VarId>) -> Option<NodeId> {
        if top.contains(&v) {
            return None;
        }
        let empty = self
            .b
            .with_graph(|g| g.push(Node::new(Op::Lit(LitValue::Int(0), None), vec![], Ty::Int)));
        Some(self.zeros(v, empty))
    }

    /// In the forward sweep, after the top-level declaration `stmt`: the declaration of the
    /// adjoint, if `stmt` declares an active buffer.
    pub(super) fn declare_adjoint_buffer(&self, stmt: &Stmt, out: &mut Vec<Stmt>) {
        let Stmt::Declare(v, Some(_)) = stmt else {
            return;
        };
        let Some(len) = self.buffer_len(*v) else {
            return;
        };
        let zeros = self.zeros(*v, len);
        out.push(Stmt::Node(zeros));
        out.push(Stmt::Declare(self.var_adjoint[v], Some(zeros)));
    }

    /// At the start of the backward code of a nested block: the adjoint of each buffer the block
    /// declares, resized to the buffer's length and zeroed.
    pub(super) fn resize_adjoint_buffers(&mut self, block: &Block) {
        for stmt in &block.0 {
            let Stmt::Declare(v, Some(_)) = stmt else {
                continue;
            };
            let Some(len) = self.buffer_len(*v) else {
                continue;
            };
            let len = self.value(len);
            let zeros = self.zeros(*v, len);
            self.emit(Stmt::Assign(self.var_adjoint[v], zeros));
        }
    }

    /// Whether an active buffer is declared at the top level after statement `index`: the
    /// backward code before a fused loop at `index` would need its adjoint before it exists.
    pub(super) fn buffer_declared_after(&self, index: usize) -> bool {
        let declared: Vec<VarId> = self.b.with_graph(|g| {
            g.body.0[index + 1..]
                .iter()
                .filter_map(|s| match s {
                    Stmt::Declare(v, Some(_)) => Some(*v),
                    _ => None,
                })
                .collect()
        });
        declared.into_iter().any(|v| self.buffer_len(v).is_some())
    }
}

//! The reverse pass: the backward sweep, built by walking the program backwards.
//!
//! Within a straight-line stretch every value is a node, and adjoints are nodes too: the adjoint
//! of the output is 1, and visiting nodes from last to first, every consumer of a value comes
//! before the value, so when a node is reached its adjoint is complete — the sum over every path
//! from it to the output (the seed's `y`, used by both `+` and `×`, gets `3 · 1 + 5`). Its row
//! of the rule table passes it on to the node's arguments.
//!
//! Around that, structure: a variable `s` assigned in a loop or branch has a mutable adjoint
//! `d_s`; an array `h` has an adjoint array `d_h`; a branch is reversed as a branch on the same
//! condition, a loop as a loop running the other way (a `while` loop counts its iterations).
//! The backward code of a loop body needs the values of that iteration. A value that is a pure
//! function of the parameters and the loop counters is recomputed there, unless it is a call
//! into the math library (`exp`, `ln`, `tanh`: tens of instructions, where a saved value costs a
//! store and a load); any other (such a call, a value read from a variable the loop overwrites, a
//! branch decision) is pushed on a tape in the forward sweep and popped in the backward sweep. A block pushes its values when it ends, after the
//! blocks nested in it, and its backward code pops them first: so one tape per kind of value
//! serves every block, last in first out. Straight-line code at the top of the function needs no tape: its values are
//! still in scope when the backward sweep runs.

use crate::hash::{HashMap, HashSet};

use crate::algebra::{Builder, Site};
use crate::graph::{
    Block, Count, FloatTy, Graph, IntoBuffer, Loop, Node, NodeId, Op, Origin, Shape, Stmt, Ty, Var,
    VarId,
};
use crate::prim::{Cost, Prim};
use crate::rules::{self, Mode};

mod buffer;
mod call_into;
mod counters;
pub(crate) mod discard;
pub(crate) mod fields;
mod hoist;
mod promote;

/// A graph extended with its backward sweep.
pub struct Adjoint {
    pub graph: Graph,
    /// The whole body of `f_grad`: the forward sweep, then the backward sweep.
    pub code: Block,
    /// The complete adjoint of each active primal node whose adjoint is not zero: the node of
    /// the backward sweep where every contribution to it has been summed (inside a loop, the
    /// adjoint of the node's value in that iteration). For a parameter, its gradient entry: a
    /// scalar's adjoint at the end of the backward sweep, a struct's gradient struct.
    #[allow(clippy::struct_field_names)] // the map's name in the IR contract
    pub adjoint_of: HashMap<NodeId, NodeId>,
    /// The adjoint of each active array or slice parameter, by parameter index.
    pub array_gradients: HashMap<usize, VarId>,
    /// A read of each array adjoint at the end of the code, to return it.
    pub reads: HashMap<VarId, NodeId>,
    /// The adjoint of the returned value, an input of `f_vjp_into` for a function with
    /// out-parameters (else the adjoint is 1).
    pub seed: Option<NodeId>,
    /// The gradient entry of `self`, when `wrt` names it.
    pub self_gradient: Option<NodeId>,
    /// Which top-level loops run their backward code inside themselves, and what each
    /// iteration saves: one line per loop, for the generated function's documentation.
    pub fusion_notes: Vec<String>,
    /// The callees whose `g_overwrites()` this code assumes true (see [`reverse_assuming`]):
    /// empty for the code that holds whatever they are.
    pub assumed: Vec<crate::graph::Callee>,
}

impl Adjoint {
    /// The gradient entry of each active scalar (or struct) parameter, in declaration order;
    /// `None` is zero.
    pub fn gradients(&self) -> Vec<Option<NodeId>> {
        self.graph
            .params
            .iter()
            .filter(|p| p.active && p.var.is_none())
            .map(|p| self.adjoint_of.get(&p.node).copied())
            .collect()
    }
}

/// Where a primal node is computed: its block.
#[derive(Clone, Copy)]
struct Home {
    block: usize,
    /// The position in the block, with a second place for values the pass adds after a
    /// statement: the forward sweep pushes in this order.
    at: (usize, usize),
}

struct Reverse {
    b: Builder,
    /// Where each primal node is computed.
    home: HashMap<NodeId, Home>,
    /// The adjoint variable of each active variable.
    var_adjoint: HashMap<VarId, VarId>,
    /// The adjoints of nodes: summed as nodes within their own block.
    adjoint: HashMap<NodeId, NodeId>,
    /// The complete adjoint of each node reversed so far.
    adjoint_of: HashMap<NodeId, NodeId>,
    /// Adjoint variables of nodes that receive contributions from inside nested blocks.
    node_adjoint_var: HashMap<NodeId, VarId>,
    /// The primal blocks being reversed, outermost first, with the output being built for each.
    stack: Vec<Frame>,
    /// Values saved on tapes: the tape, and the node that pops the value back.
    taped: HashMap<NodeId, (VarId, NodeId)>,
    /// The tape of each kind of value.
    tapes: HashMap<TapeKind, VarId>,
    /// Pending values of variable adjoints in the current straight-line stretch.
    pending: HashMap<VarId, NodeId>,
    /// Pending additions to elements of array adjoints: the array, the index and the sum.
    pending_elements: PendingElements,
    /// Iteration counters added to `while` loops, by the loop's body block.
    counts: HashMap<usize, (VarId, NodeId)>,
    /// The number of each primal block, by its address in the body being reversed.
    block_ids: HashMap<usize, usize>,
    /// The primal blocks that run inside a loop (at any depth), by number.
    looped: HashSet<usize>,
    /// Derivative nodes already placed in the backward code.
    placed: HashSet<NodeId>,
    /// Where each popped value was pushed, to pop in the reverse order.
    pop_order: HashMap<NodeId, (usize, usize)>,
    /// Loops the pass adds to add array gradients of calls, numbered from [`COPY_LOOPS`].
    copies: usize,
    /// How many values each tape holds, as far as the compile time knows.
    capacity: HashMap<VarId, Count>,
    /// The body block of the loop being reversed for fusion: its values are in scope.
    fused_block: Option<usize>,
    /// For the body of the loop being reversed for fusion: the last statement writing each
    /// variable, and the statement each nested block is in.
    fused_writes: FusedWrites,
    /// The top-level loops whose backward code runs inside them, latest loop first.
    fusions: Vec<Fusion>,
    /// How many loops were reversed for fusion and then could not be fused.
    fusion_attempts: usize,
    /// Whether a loop that writes outer buffers through calls may be fused on the assumption
    /// that the callees overwrite them (see [`reverse_assuming`]).
    assume: bool,
    /// The calls of the fused loops whose callees are assumed to overwrite their buffers.
    assumed: Vec<NodeId>,
    /// Which primal nodes are recomputable, as far as asked.
    recomputable: std::cell::RefCell<HashMap<NodeId, bool>>,
    /// The variables the program stores into, once computed.
    stored: std::cell::OnceCell<HashSet<VarId>>,
    /// The constant tables the function's top block binds, found once: [`Reverse::table`].
    tables: std::cell::OnceCell<HashSet<VarId>>,
    /// The last top-level statement of the program that writes or declares each variable, once
    /// computed.
    last_writes: std::cell::OnceCell<HashMap<VarId, usize>>,
    /// Local arrays declared in a block whose every read element the same run of the block
    /// stored first (`fuse::per_iteration` of the block): the backward code of a run leaves
    /// their adjoints zero, so the declaration's reverse need not zero them again.
    cleared_by_stores: HashSet<VarId>,
    /// The calls the forward sweep evaluates through `g_grad`, by the node of their value.
    calls: HashMap<NodeId, CallSite>,
    /// Array gradients of calls that the backward sweep takes back element by element: the
    /// gradient's node, its tape and the argument array, pushed right after the call.
    array_tapes: HashMap<NodeId, (VarId, VarId)>,
    /// Array gradients of calls that took part of an array, `&x[start..end]`: the gradient's
    /// node, and `start` and `end` as the forward sweep computed them.
    parts: HashMap<NodeId, (NodeId, NodeId)>,
    /// Buffers the backward code of calls writes into, declared where the function starts.
    scratch: Vec<VarId>,
    /// The array inputs each call that writes into a buffer saves for its backward code.
    snapshots: HashMap<NodeId, Vec<call_into::Snapshot>>,
    /// Integer counters the backward code steps back instead of saving their values.
    counters: HashMap<VarId, counters::Counter>,
    /// The counters the backward code has stepped back: it writes them.
    undone: HashSet<VarId>,
    /// The backward code's variable for each counter declared inside a loop, in the backward
    /// code of the block that declares it being built.
    stepped: HashMap<VarId, VarId>,
}

/// A call `g(args)` whose forward sweep calls `g_grad(args)` once: its value is the first entry,
/// and the partial derivatives, primal values of the iteration that made the call, are saved
/// or kept in scope like any other value the backward sweep needs.
#[derive(Clone)]
struct CallSite {
    /// The arguments as the user passed them.
    args: Vec<NodeId>,
    /// The node of each argument's entry in `g_grad`'s result, for active arguments.
    partials: Vec<Option<NodeId>>,
}

/// Makes every active call `g(args)` a call of `g_grad(args)` in the forward sweep: the call's
/// node becomes the first entry of the result, and one node per active argument reads its
/// partial derivative (an array for an array argument) right after the call.
fn evaluate_calls_once(graph: &mut Graph) -> HashMap<NodeId, CallSite> {
    fn visit(
        graph: &mut Graph,
        block: &Block,
        top: bool,
        calls: &mut HashMap<NodeId, CallSite>,
    ) -> Block {
        let mut out = Vec::new();
        for stmt in &block.0 {
            let Stmt::Node(n) = stmt else {
                out.push(stmt.with_blocks(|b| visit(graph, b, false, calls)));
                continue;
            };
            let node = graph.node(*n).clone();
            let Op::Call(callee) = &node.op else {
                out.push(stmt.clone());
                continue;
            };
            if !node.active {
                out.push(stmt.clone());
                continue;
            }
            let mut callee = callee.clone();
            if let Some(buffers) = &callee.buffers {
                let seeded = top && is_seeded_output(graph, *n);
                callee.scratch = grad_into_buffers(graph, buffers, &node.args, seeded);
            }
            let grad = graph.push(Node {
                op: Op::CallGrad(callee.clone()),
                args: node.args.clone(),
                ty: Ty::Other,
                active: false,
                span: node.span,
                name: None,
                origin: Origin::Primal,
            });
            out.push(Stmt::Node(grad));
            let value = &mut graph.nodes[n.0];
            value.op = Op::Field(0);
            value.args = vec![grad];
            out.push(stmt.clone());
            let mut entry = 0;
            let mut partials = Vec::new();
            let mut buffers = callee.scratch.iter();
            for (i, (&arg, &float)) in node.args.iter().zip(&callee.floats).enumerate() {
                if float {
                    entry += 1;
                }
                // `g_grad_into` adds this gradient into the argument's adjoint itself.
                let slice = callee.buffers.as_ref().is_some_and(|b| b[i]);
                if slice && let Some(IntoBuffer::Adjoint(_)) = buffers.next() {
                    partials.push(None);
                    continue;
                }
                let a = graph.node(arg);
                let active = match a.op {
                    Op::Array(v, _) => graph.vars[v.0].active,
                    _ => a.active,
                };
                if !(float && active) {
                    partials.push(None);
                    continue;
                }
                let ty = a.ty;
                let p = graph.push(Node {
                    op: Op::Field(entry),
                    args: vec![grad],
                    ty,
                    active: false,
                    span: node.span,
                    name: None,
                    origin: Origin::Primal,
                });
                out.push(Stmt::Node(p));
                partials.push(Some(p));
            }
            calls.insert(
                *n,
                CallSite {
                    args: node.args.clone(),
                    partials,
                },
            );
        }
        Block(out)
    }
    let mut calls = HashMap::default();
    let body = graph.body.clone();
    graph.body = visit(graph, &body, true, &mut calls);
    calls
}

/// For `p`, an array gradient of a call of `g_grad_into` (`Field(k)` of its `CallGrad`) that
/// the call adds into a buffer of its own (a scratch buffer, or zeros pushed on a tape): the
/// call, and the index of that buffer among its buffers.
fn scratch_of(graph: &Graph, p: NodeId) -> Option<(NodeId, usize)> {
    let Op::Field(entry) = graph.node(p).op else {
        return None;
    };
    let call = *graph.node(p).args.first()?;
    let Op::CallGrad(c) = &graph.node(call).op else {
        return None;
    };
    let buffers = c.buffers.as_deref()?;
    let i = c.entries().position(|e| e == Some(entry))?;
    let k = buffers[..i].iter().filter(|&&b| b).count();
    let own = matches!(
        c.scratch.get(k),
        Some(IntoBuffer::Scratch(_) | IntoBuffer::Tape(_))
    );
    (buffers.get(i) == Some(&true) && own).then_some((call, k))
}

/// Whether the adjoint of node `n`, made at the top of the body, is the seed 1: it is the
/// function's output, there are no out-parameters (whose seeds come from the caller), and no
/// other node or statement reads it.
fn is_seeded_output(graph: &Graph, n: NodeId) -> bool {
    fn read_by_stmts(block: &Block, n: NodeId) -> bool {
        block.0.iter().any(|stmt| {
            let reads = match stmt {
                Stmt::Node(_) | Stmt::For(_) => false,
                Stmt::Declare(_, init) => *init == Some(n),
                Stmt::Assign(_, value) | Stmt::Push(_, value) => *value == n,
                Stmt::Store { index, value, .. } => *index == n || *value == n,
                Stmt::If { cond, .. } => *cond == n,
                Stmt::While { test, .. } => *test == n,
                Stmt::Assert { args, .. } => args.contains(&n),
            };
            reads || stmt.blocks().into_iter().any(|b| read_by_stmts(b, n))
        })
    }
    graph.output == n
        && graph.returned.is_none()
        && !graph.params.iter().any(crate::graph::Param::out)
        && !graph.nodes.iter().any(|m| m.args.contains(&n))
        && !read_by_stmts(&graph.body, n)
}

/// For a call of `g_grad_into` (a function differentiated beside this one): the buffer for each
/// slice argument. Where the call's adjoint is the seed 1 (`seeded`), a slice parameter's
/// gradient goes straight into its adjoint, passed once; elsewhere into a scratch buffer, which
/// the call zeroes, declared once where the function starts ([`Reverse::call_declarations`]).
fn grad_into_buffers(
    graph: &mut Graph,
    buffers: &[bool],
    args: &[NodeId],
    seeded: bool,
) -> Vec<IntoBuffer> {
    let mut scratch = Vec::new();
    let mut direct = HashSet::default();
    for (&buffer, &a) in buffers.iter().zip(args) {
        if !buffer {
            continue;
        }
        if seeded
            && let Op::Array(v, _) = graph.node(a).op
            && graph.vars[v.0]
                .param
                .is_some_and(|p| graph.params[p].active && !graph.params[p].out())
            && direct.insert(v)
        {
            scratch.push(IntoBuffer::Adjoint(v));
            continue;
        }
        let ty = graph.node(a).ty;
        let empty = graph.push(Node::new(
            Op::Lit(crate::graph::LitValue::Int(0), None),
            vec![],
            Ty::Int,
        ));
        graph.vars.push(Var {
            name: "scratch".to_owned(),
            ty,
            shape: Shape::Buffer(empty),
            active: false,
            param: None,
            span: proc_macro2::Span::call_site(),
        });
        scratch.push(IntoBuffer::Scratch(VarId(graph.vars.len() - 1)));
    }
    scratch
}

/// The most loops reversed for fusion, each at the cost of saving the pass's state.
const MAX_FUSION_ATTEMPTS: usize = 8;

/// Pending additions to elements of array adjoints, in the order they were first made, with
/// an index by array and element: a stretch that updates thousands of elements (the gradient of
/// a sum of thousands of products) looks each one up in constant time.
#[derive(Default)]
struct PendingElements {
    /// The array, the index and the sum.
    list: Vec<(VarId, NodeId, NodeId)>,
    index: HashMap<(VarId, NodeId), usize>,
}

impl PendingElements {
    fn get_mut(&mut self, array: VarId, i: NodeId) -> Option<&mut NodeId> {
        let k = *self.index.get(&(array, i))?;
        Some(&mut self.list[k].2)
    }

    fn push(&mut self, array: VarId, i: NodeId, sum: NodeId) {
        self.index.insert((array, i), self.list.len());
        self.list.push((array, i, sum));
    }
}

impl IntoIterator for PendingElements {
    type Item = (VarId, NodeId, NodeId);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

/// What [`Reverse::save`] keeps.
struct Saved {
    home: HashMap<NodeId, Home>,
    adjoint: HashMap<NodeId, NodeId>,
    adjoint_of: HashMap<NodeId, NodeId>,
    node_adjoint_var: HashMap<NodeId, VarId>,
    taped: HashMap<NodeId, (VarId, NodeId)>,
    counts: HashMap<usize, (VarId, NodeId)>,
    placed: HashSet<NodeId>,
    pop_order: HashMap<NodeId, (usize, usize)>,
    array_tapes: HashMap<NodeId, (VarId, VarId)>,
    scratch: Vec<VarId>,
    snapshots: HashMap<NodeId, Vec<call_into::Snapshot>>,
}

/// A top-level loop whose iterations each run their own backward code (see [`crate::fuse`]).
struct Fusion {
    /// The loop's index in the function's top-level block.
    index: usize,
    /// The backward code of what follows the loop that must run before the loop: what computes
    /// the adjoints the loop reads.
    head: Vec<Stmt>,
    /// The rest of that backward code, which runs after the loop, as it would without fusion.
    deferred: Vec<Stmt>,
    /// The backward code of one iteration, which ends the iteration.
    body: Block,
    /// What runs right after the loop: the carries of [`crate::fuse::carry_neighbours`].
    after: Vec<Stmt>,
    /// Primal values after the loop that `head` needs, computed before the loop instead.
    moved: Vec<NodeId>,
    /// The loop with `body` and `after` as its body: what the fused loop's backward code does,
    /// for deciding what must run before an earlier fused loop.
    unit: Stmt,
}

/// Where a statement of the backward code after a loop being fused comes from: a later fused
/// loop's head (by its place in [`Reverse::fusions`]), a later fused loop itself, what one
/// deferred, or the backward code of what follows the loop up to the next fused loop.
#[derive(Clone, Copy, PartialEq)]
enum From {
    Head(usize),
    Unit,
    Deferred(usize),
    Out,
}

/// The first number of the loops the reverse pass adds, above any the program has.
const COPY_LOOPS: usize = usize::MAX / 2;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum TapeKind {
    Float(FloatTy),
    Bool,
    Int,
    /// A value of a struct's field, or computed from one, whose type the macro does not know:
    /// a float or an integer. Its tape has that unknown type too, so that second order, which
    /// gives a tape of a type that may be a float a tape of tangents, does not take it for an
    /// integer's.
    Other,
    /// The slices' gradients that calls of `g_grad_into` in a reversed loop add straight into
    /// zeros pushed on the tape ([`IntoBuffer::Tape`]): pushed whole, so the tape keeps no value
    /// inline, where a slice could straddle the inline part and the heap.
    Gradients(FloatTy),
}

/// One primal block being reversed.
struct Frame {
    block: usize,
    /// Statements of the backward code at this level.
    out: Vec<Stmt>,
    /// Statements that must come first: adjoint variables and values popped off tapes.
    prologue: Vec<Stmt>,
    /// Primal nodes recomputed or popped at this level, and their backward-code node.
    values: HashMap<NodeId, NodeId>,
}

pub fn reverse(graph: Graph) -> Adjoint {
    reverse_with(graph, false).expect("without assumptions the pass always succeeds")
}

/// The backward code of `graph` on the assumption that the callees of some calls into buffers
/// declared outside a top-level loop overwrite every element of those buffers before reading
/// any (their constant `g_overwrites()` is true): then such a buffer is a temporary of each
/// iteration and the loop can be fused ([`crate::fuse::accumulates_if_overwritten`]). The
/// constants are known to rustc, not here: the generated function runs this code when they
/// are all true, and [`reverse`]'s otherwise. `None` when no loop is fused that way.
pub fn reverse_assuming(graph: &Graph) -> Option<Adjoint> {
    let candidate = graph.body.0.iter().any(|stmt| {
        matches!(stmt, Stmt::For(l) if !l.reverse
            && !crate::fuse::accumulates_only(graph, &l.body)
            && crate::fuse::accumulates_if_overwritten(graph, &l.body).is_some())
    });
    if !candidate {
        return None;
    }
    reverse_with(graph.clone(), true)
}

fn reverse_with(mut graph: Graph, assume: bool) -> Option<Adjoint> {
    let calls = evaluate_calls_once(&mut graph);
    let sibling_scratch: Vec<VarId> = graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::CallGrad(c) => Some(c.scratch.iter().filter_map(|b| b.scratch())),
            _ => None,
        })
        .flatten()
        .collect();
    hoist::hoist(&mut graph);
    let mut body = graph.body.clone();
    let infinite = rules::has_infinite_derivative(&graph, Mode::Reverse);
    let b = Builder::new(graph);
    b.set_infinite_variables(infinite);
    let mut r = Reverse {
        b,
        home: HashMap::default(),
        var_adjoint: HashMap::default(),
        adjoint: HashMap::default(),
        adjoint_of: HashMap::default(),
        node_adjoint_var: HashMap::default(),
        stack: Vec::new(),
        taped: HashMap::default(),
        tapes: HashMap::default(),
        pending: HashMap::default(),
        pending_elements: PendingElements::default(),
        counts: HashMap::default(),
        block_ids: HashMap::default(),
        looped: HashSet::default(),
        placed: HashSet::default(),
        pop_order: HashMap::default(),
        copies: 0,
        capacity: HashMap::default(),
        fused_block: None,
        fused_writes: FusedWrites::default(),
        fusions: Vec::new(),
        fusion_attempts: 0,
        assume,
        assumed: Vec::new(),
        recomputable: std::cell::RefCell::new(HashMap::default()),
        stored: std::cell::OnceCell::new(),
        tables: std::cell::OnceCell::new(),
        last_writes: std::cell::OnceCell::new(),
        calls,
        array_tapes: HashMap::default(),
        parts: HashMap::default(),
        scratch: sibling_scratch,
        snapshots: HashMap::default(),
        counters: HashMap::default(),
        undone: HashSet::default(),
        stepped: HashMap::default(),
        cleared_by_stores: HashSet::default(),
    };
    r.cleared_by_stores = r.b.with_graph(|g| {
        let mut cleared = HashSet::default();
        cleared_by_stores(g, &g.body, &mut cleared);
        cleared
    });
    let last = r.end_with_reads(&mut body, true);
    let mut ids = 0;
    r.locate(&body, &mut ids, false);
    r.counters = r.find_counters(&body, &last);
    // Only values computed at the top of the function are in scope everywhere in the backward
    // sweep; the others must be recomputed or taped, not shared.
    let home = r.home.clone();
    r.b.retain(|id| !r.b.is_primal(id) || home.get(&id).is_none_or(|h| h.block == 0));

    // Adjoint variables for every active variable, zero before the backward sweep.
    let vars: Vec<(VarId, Var)> = r.b.with_graph(|g| {
        g.vars
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, v)| (VarId(i), v))
            .collect()
    });
    let mut backward = Vec::new();
    let top = Reverse::top_level_buffers(&body);
    for (id, var) in vars.iter().filter(|(_, v)| v.active) {
        let float = var.ty.float().unwrap_or_else(|| r.output_ty());
        r.b.set_site(Site {
            span: var.span,
            ty: float,
        });
        let adj = r.new_var(
            &crate::names::derivative(&var.name),
            var.ty,
            var.shape.clone(),
            var.param,
        );
        let zero = r.b.lit(0.0);
        let init = match var.shape {
            Shape::Scalar => Some(zero),
            Shape::Buffer(_) => r.buffer_adjoint_start(*id, &top),
            _ => Some(r.fill(zero, *id)),
        };
        // The gradients of active parameters are the function's outputs, declared by emission;
        // every other adjoint (of a local, or of a parameter outside `wrt` that the body stores
        // into) starts at zero here.
        let output = var
            .param
            .is_some_and(|p| r.b.with_graph(|g| g.params[p].active));
        if !output && let Some(init) = init {
            backward.push(Stmt::Node(init));
            backward.push(Stmt::Declare(adj, Some(init)));
        }
        r.var_adjoint.insert(*id, adj);
    }
    // The calls of `g_grad_into` that add into an argument's adjoint now name it.
    r.b.with_graph(|g| {
        for node in &mut g.nodes {
            if let Op::CallGrad(c) = &mut node.op {
                for buffer in &mut c.scratch {
                    if let IntoBuffer::Adjoint(v) = buffer {
                        *v = r.var_adjoint[v];
                    }
                }
            }
        }
    });

    // The adjoint of the output is 1.
    let output = r.b.with_graph(|g| g.output);
    let out = r.b.node(output);
    let mut seed = None;
    if out.active {
        r.b.set_site(site(&r.b, &out));
        let one = if r
            .b
            .with_graph(|g| g.params.iter().any(crate::graph::Param::out))
        {
            let s =
                r.b.with_graph(|g| g.push(Node::new(Op::Seed(usize::MAX), vec![], out.ty)));
            seed = Some(s);
            s
        } else {
            r.b.lit(1.0)
        };
        r.adjoint.insert(output, one);
    }

    r.stack.push(Frame {
        block: 0,
        out: Vec::new(),
        prologue: Vec::new(),
        values: HashMap::default(),
    });
    r.reverse_stmts(&body);

    // Gradients: what reached each parameter.
    let params = r.b.with_graph(|g| g.params.clone());
    let mut array_gradients = HashMap::default();
    for (i, p) in params.iter().enumerate().filter(|(_, p)| p.active) {
        let gradient = match p.var {
            Some(v) => {
                array_gradients.insert(i, r.var_adjoint[&v]);
                continue;
            }
            None if p.fields() => Some(r.struct_gradient(Some(i))),
            None => {
                let node = r.b.node(p.node);
                r.final_adjoint(p.node, &node)
            }
        };
        match gradient {
            Some(g) => r.adjoint_of.insert(p.node, g),
            None => r.adjoint_of.remove(&p.node),
        };
    }
    let gradients: Vec<Option<NodeId>> = params
        .iter()
        .filter(|p| p.active && p.var.is_none())
        .map(|p| r.adjoint_of.get(&p.node).copied())
        .collect();

    let self_gradient =
        r.b.with_graph(|g| g.self_active)
            .then(|| r.struct_gradient(None));

    let frame = r.stack.pop().expect("the top frame");
    backward.extend(r.ordered(frame.prologue));
    // With fused loops, the declarations join the backward code that runs before the first, and
    // what they deferred runs first at the end, the latest loop's first.
    let first = r.fusions.iter_mut().min_by_key(|f| f.index);
    let rest = match first {
        Some(fusion) => {
            fusion.head.splice(0..0, backward);
            let mut rest: Vec<Stmt> = r
                .fusions
                .iter_mut()
                .flat_map(|f| std::mem::take(&mut f.deferred))
                .collect();
            rest.extend(frame.out);
            rest
        }
        None => {
            backward.extend(frame.out);
            backward
        }
    };
    let mut everything: Vec<Stmt> = r
        .fusions
        .iter()
        .flat_map(|f| f.head.iter().chain(&f.body.0).chain(&f.after))
        .cloned()
        .collect();
    everything.extend(rest.iter().cloned());

    // Push only what the backward code pops and uses, so every tape stays balanced.
    let mut results: Vec<NodeId> = gradients.iter().flatten().copied().collect();
    results.extend(self_gradient);
    results.push(output);
    let live = r.b.with_graph(|g| g.live(&Block(everything), &results));
    r.taped.retain(|_, (_, pop)| live[pop.0]);

    let fusion_notes = r.fusion_notes(&body);
    let mut forward = Vec::new();
    r.forward_copy(&body, &mut forward, &Count::Known(1));
    let used = r.b.with_graph(|g| {
        let mut used = HashSet::default();
        for (i, node) in g.nodes.iter().enumerate() {
            if let Op::Array(v, _) | Op::Part(v) = node.op
                && live.get(i).copied().unwrap_or(false)
            {
                used.insert(v);
            }
        }
        // The scratch buffers of the calls of `g_grad_into` the forward sweep makes.
        let mut open = vec![&forward[..]];
        while let Some(code) = open.pop() {
            for stmt in code {
                if let Stmt::Node(n) = stmt
                    && let Op::CallGrad(c) = &g.node(*n).op
                {
                    used.extend(c.scratch.iter().filter_map(|b| b.scratch()));
                }
                open.extend(stmt.blocks().into_iter().map(|b| &b.0[..]));
            }
        }
        used
    });
    let mut code = r.call_declarations(|v| used.contains(&v));
    let mut rest = rest;
    r.b.with_graph(|g| call_into::sized_once(g, &mut code, &mut [&mut forward, &mut rest]));
    let once =
        r.b.with_graph(|g| declared_once(g, &mut forward, false, &r.cleared_by_stores));
    code.extend(once);
    code.extend(forward);
    code.extend(rest);
    let mut reads = HashMap::default();
    let mut returned: Vec<VarId> = array_gradients.values().copied().collect();
    returned.sort();
    for d in returned {
        let read = r.read_node(d);
        code.push(Stmt::Node(read));
        reads.insert(d, read);
    }
    let adjoint_arrays: HashSet<VarId> = r
        .var_adjoint
        .values()
        .copied()
        .filter(|v| {
            r.b.with_graph(|g| {
                matches!(
                    g.vars[v.0].shape,
                    Shape::Array { .. } | Shape::Slice | Shape::Buffer(_)
                )
            })
        })
        .collect();
    if assume && r.assumed.is_empty() {
        return None;
    }
    let mut graph = r.b.finish();
    let mut assumed: Vec<crate::graph::Callee> = Vec::new();
    for call in &r.assumed {
        if let Op::Invoke(invoke) = &graph.nodes[call.0].op
            && !assumed.iter().any(|c| same_callee(c, &invoke.callee))
        {
            assumed.push(invoke.callee.clone());
        }
    }
    let mut code = Block(code);
    promote::promote(&mut graph, &mut code, &adjoint_arrays);
    Some(Adjoint {
        graph,
        code,
        adjoint_of: r.adjoint_of,
        array_gradients,
        reads,
        seed,
        self_gradient,
        fusion_notes,
        assumed,
    })
}

fn same_callee(a: &crate::graph::Callee, b: &crate::graph::Callee) -> bool {
    a.name == b.name && a.prefix.to_string() == b.prefix.to_string()
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

impl Reverse {
    fn output_ty(&self) -> FloatTy {
        self.b.with_graph(|g| g.output_ty)
    }

    fn new_var(&self, name: &str, ty: Ty, shape: Shape, param: Option<usize>) -> VarId {
        self.b.with_graph(|g| {
            g.vars.push(Var {
                name: name.to_owned(),
                ty,
                shape,
                active: false,
                param,
                span: proc_macro2::Span::call_site(),
            });
            VarId(g.vars.len() - 1)
        })
    }

    /// `[zero; N]` shaped like the array `like` (a `Vec` for a slice).
    fn fill(&self, zero: NodeId, like: VarId) -> NodeId {
        let shape = self.b.with_graph(|g| g.vars[like.0].shape.clone());
        let len = match shape {
            Shape::Array { len, .. } => len,
            _ => proc_macro2::TokenStream::new(),
        };
        let ty = self.b.with_graph(|g| g.vars[like.0].ty);
        self.b
            .with_graph(|g| g.push(Node::new(Op::Fill(len), vec![zero], ty)))
    }

    /// Numbers the primal blocks in order, records where each node is computed and which
    /// blocks run inside a loop.
    fn locate(&mut self, block: &Block, ids: &mut usize, in_loop: bool) {
        let id = *ids;
        *ids += 1;
        self.block_ids.insert(address(block), id);
        if in_loop {
            self.looped.insert(id);
        }
        for (index, stmt) in block.0.iter().enumerate() {
            if let Stmt::Node(n) = stmt {
                let at = (index, 0);
                self.home.insert(*n, Home { block: id, at });
            }
            // A loop's blocks (a `while`'s condition too) run repeatedly; a branch's as often
            // as the branch.
            let looped = in_loop || matches!(stmt, Stmt::For(_) | Stmt::While { .. });
            for nested in stmt.blocks() {
                self.locate(nested, ids, looped);
            }
        }
    }

    fn frame(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("a frame is open")
    }

    /// The frame of the primal block `block`, which encloses the block being reversed: a value
    /// is needed only inside the block that computes it.
    fn frame_of(&mut self, block: usize) -> &mut Frame {
        self.stack
            .iter_mut()
            .rev()
            .find(|f| f.block == block)
            .expect("the block is open around the one being reversed")
    }

    fn emit(&mut self, stmt: Stmt) {
        self.frame().out.push(stmt);
    }

    /// Places a node the builder just made (or found) in the current backward code.
    fn place(&mut self, id: NodeId) -> NodeId {
        if !self.b.is_primal(id) && self.placed.insert(id) {
            self.emit(Stmt::Node(id));
        }
        id
    }

    /// The value of a primal node, where the backward code being built needs it.
    fn value(&mut self, n: NodeId) -> NodeId {
        let node = self.b.node(n);
        // Derivative nodes are built where they are used; only primal values (and the loop
        // counts the pass adds) have a home elsewhere.
        let Some(home) = self.home.get(&n).copied() else {
            return n;
        };
        if node.is_leaf() {
            return n;
        }
        if self.in_scope(home.block) {
            // Computed once at the top of the function (or of a fused loop's iteration), and
            // still in scope.
            return n;
        }
        for f in self.stack.iter().rev() {
            if let Some(&v) = f.values.get(&n) {
                return v;
            }
        }
        // Recompute what the parameters and counters determine; save the rest. A value computed
        // from a saved one (`tanh` of a popped sum) is saved itself rather than recomputed,
        // except a load from an active array that holds the same values in the backward code:
        // its index is needed there anyway, for the adjoint, so the element is loaded again at
        // the (saved) index rather than saved beside it.
        if let Some(value) = self.counter_read(n) {
            return value;
        }
        let reload = matches!(node.op, Op::Load(v) if self.b.with_graph(|g| g.vars[v.0].active))
            && (self.pure(&node) || self.unchanged_in_fused_loop(n, &node));
        if reload || self.recomputable(n) {
            let args: Vec<NodeId> = node.args.iter().map(|&a| self.value(a)).collect();
            // Only a copy already placed can be shared: one the rules just built is placed later.
            let placed = &self.placed;
            let (copy, fresh) = self.b.recompute(&node, args, |id| {
                self.b.is_primal(id) || placed.contains(&id)
            });
            if fresh {
                self.emit(Stmt::Node(copy));
            }
            self.frame().values.insert(n, copy);
            return copy;
        }
        // Pushed in the forward sweep right after it is computed, popped at the start of the
        // backward code of its block.
        let kind = match node.ty {
            Ty::Float(t) => TapeKind::Float(t.unwrap_or_else(|| self.output_ty())),
            Ty::Bool => TapeKind::Bool,
            Ty::Int => TapeKind::Int,
            Ty::Other => TapeKind::Other,
        };
        let tape = self.tape(kind);
        let pop = self.b.with_graph(|g| {
            g.push(Node {
                op: Op::Pop(tape),
                args: vec![],
                origin: Origin::Derivative,
                ..node.clone()
            })
        });
        self.taped.insert(n, (tape, pop));
        self.pop_order.insert(pop, home.at);
        let frame = self.frame_of(home.block);
        frame.prologue.push(Stmt::Node(pop));
        frame.values.insert(n, pop);
        pop
    }

    /// Whether a node can be recomputed in the backward sweep from values that are in scope
    /// there without a tape: parameters, counters, top-level values, and pure operations on them.
    ///
    /// Answers are kept (until [`Reverse::fused_block`] changes what is in scope), and the
    /// arguments are visited with a work list: a chain of thousands of values in a loop body is
    /// neither walked once per value nor recursed through.
    fn recomputable(&self, n: NodeId) -> bool {
        let mut known = self.recomputable.borrow_mut();
        let mut work = vec![(n, false)];
        while let Some((id, visited)) = work.pop() {
            if known.contains_key(&id) {
                continue;
            }
            let node = self.b.node(id);
            // A local array passed whole is a leaf, but its contents change: never in scope.
            if matches!(node.op, Op::Array(..)) && !self.pure(&node) {
                known.insert(id, false);
                continue;
            }
            let in_scope =
                node.is_leaf() || self.home.get(&id).is_none_or(|h| self.in_scope(h.block));
            if !in_scope && self.steps_back(id) {
                known.insert(id, true);
            } else if !in_scope
                && matches!(node.op, Op::Prim(p) if p.cost() == Cost::Call)
                && self
                    .home
                    .get(&id)
                    .is_some_and(|h| self.looped.contains(&h.block))
            {
                // `exp` of a loop's element is saved: a push and a pop cost less than a
                // second call into the math library. (A branch outside loops runs once: its
                // values are computed again.)
                known.insert(id, false);
            } else if in_scope || !(self.pure(&node) || self.unchanged_in_fused_loop(id, &node)) {
                known.insert(id, in_scope);
            } else if visited {
                let all = node.args.iter().all(|a| known[a]);
                known.insert(id, all);
            } else {
                work.push((id, true));
                work.extend(node.args.iter().map(|&a| (a, false)));
            }
        }
        known[&n]
    }

    /// Whether the values a primal block computes are in scope throughout the backward code
    /// being built: those of the top-level block, and of the body of a fused loop.
    fn in_scope(&self, block: usize) -> bool {
        block == 0 || self.fused_block == Some(block)
    }

    /// Whether an operation has no effects and reads no variable the program changes.
    fn pure(&self, node: &Node) -> bool {
        match node.op {
            // A callee runs once, in the forward sweep: the value of a call (and the entries of
            // `g_grad`) is saved, not computed again.
            Op::Read(_)
            | Op::Pop(_)
            | Op::Fill(_)
            | Op::Vec
            | Op::Resized
            | Op::Call(_)
            | Op::CallGrad(_) => false,
            // A whole array is read where it is passed: only a parameter never stored into
            // holds the same values in the backward sweep.
            // So does a constant table the function's top block binds, `let w = &W;`.
            Op::Load(v) | Op::Array(v, _) => {
                (self.b.with_graph(|g| g.vars[v.0].param.is_some()) || self.table(v))
                    && !self.stored(v)
            }
            _ => true,
        }
    }

    /// Whether `node` loads from an array that the body of the loop being reversed for fusion
    /// does not write from the statement holding the load on: the backward code of that
    /// statement runs in the same iteration, after the forward code of the statements after
    /// it and the backward code of theirs (which writes no primal array), so the load gives the
    /// same value again and need not be saved. (`main_term[ik]`, written by one loop of the
    /// body and read by the next, is read again in the backward code of the second.)
    fn unchanged_in_fused_loop(&self, id: NodeId, node: &Node) -> bool {
        let Some(fused) = self.fused_block else {
            return false;
        };
        let Op::Load(v) = node.op else {
            return false;
        };
        let w = &self.fused_writes;
        let from = self.home.get(&id).map_or(0, |h| {
            if h.block == fused {
                h.at.0
            } else {
                w.statement.get(&h.block).copied().unwrap_or(0)
            }
        });
        w.last.get(&v).is_none_or(|&last| last < from)
    }

    /// Whether a primal value is computed before the fused loop rather than where it was.
    fn moved(&self, n: NodeId) -> bool {
        self.fusions.iter().any(|f| f.moved.contains(&n))
    }

    /// Whether `v` is a reference to a constant, `let w = &W;`, bound in the function's top
    /// block (where the lowering binds every constant table): in scope everywhere after it.
    fn table(&self, v: VarId) -> bool {
        self.tables
            .get_or_init(|| {
                self.b.with_graph(|g| {
                    g.body
                        .0
                        .iter()
                        .filter_map(|s| match s {
                            Stmt::Declare(w, Some(n)) if matches!(g.node(*n).op, Op::Const(_)) => {
                                Some(*w)
                            }
                            _ => None,
                        })
                        .collect()
                })
            })
            .contains(&v)
    }

    fn stored(&self, v: VarId) -> bool {
        self.stored
            .get_or_init(|| {
                self.b.with_graph(|g| {
                    (0..g.vars.len())
                        .map(VarId)
                        .filter(|&v| g.body.stores(v))
                        .collect()
                })
            })
            .contains(&v)
    }

    fn tape(&mut self, kind: TapeKind) -> VarId {
        if let Some(&t) = self.tapes.get(&kind) {
            return t;
        }
        let ty = match kind {
            TapeKind::Float(t) | TapeKind::Gradients(t) => Ty::Float(Some(t)),
            TapeKind::Bool => Ty::Bool,
            TapeKind::Int => Ty::Int,
            TapeKind::Other => Ty::Other,
        };
        let t = self.new_var("tape", ty, Shape::Tape(Count::Known(0)), None);
        self.tapes.insert(kind, t);
        t
    }

    /// Adds `c` to the adjoint of the primal node `n`.
    fn contribute(&mut self, n: NodeId, c: NodeId) {
        let home = self.home.get(&n).map_or(0, |h| h.block);
        let current = self.frame().block;
        if home == current {
            let sum = match self.adjoint.get(&n) {
                None => c,
                Some(&s) => self.place(self.b.prim(Prim::Add, &[s, c])),
            };
            self.adjoint.insert(n, sum);
        } else {
            // From inside a nested block: accumulate in a variable declared where `n` lives.
            let v = match self.node_adjoint_var.get(&n) {
                Some(&v) => v,
                None => {
                    let node = self.b.node(n);
                    let name = node.name.clone().unwrap_or_else(|| "t".to_owned());
                    let v = self.new_var(
                        &crate::names::derivative(&name),
                        node.ty,
                        Shape::Scalar,
                        None,
                    );
                    self.b.set_site(site(&self.b, &node));
                    let zero = self.b.lit(0.0);
                    self.frame_of(home)
                        .prologue
                        .push(Stmt::Declare(v, Some(zero)));
                    self.node_adjoint_var.insert(n, v);
                    v
                }
            };
            let read = self.place(self.read_node(v));
            let sum = self.place(self.b.prim(Prim::Add, &[read, c]));
            self.emit(Stmt::Assign(v, sum));
        }
    }

    fn read_node(&self, v: VarId) -> NodeId {
        let ty = self.b.with_graph(|g| g.vars[v.0].ty);
        self.b
            .with_graph(|g| g.push(Node::new(Op::Read(v), vec![], ty)))
    }

    /// The complete adjoint of `n`, once every later statement has been reversed.
    fn final_adjoint(&mut self, n: NodeId, node: &Node) -> Option<NodeId> {
        let ssa = self.adjoint.get(&n).copied();
        let from_nested = self.node_adjoint_var.get(&n).copied().map(|v| {
            let r = self.read_node(v);
            self.place(r)
        });
        let total = match (ssa, from_nested) {
            (Some(a), Some(b)) => Some(self.place(self.b.prim(Prim::Add, &[a, b]))),
            (a, b) => a.or(b),
        };
        if let Some(t) = total {
            self.b.name_derivative(node, t);
            self.adjoint_of.insert(n, t);
        }
        total
    }

    /// The current value of a scalar variable's adjoint in this straight-line stretch.
    fn var_adjoint_value(&mut self, adj: VarId) -> NodeId {
        if let Some(&v) = self.pending.get(&adj) {
            return v;
        }
        let r = self.place(self.read_node(adj));
        self.pending.insert(adj, r);
        r
    }

    /// Writes the pending adjoint values back to their variables, before control flow.
    fn flush(&mut self) {
        for (adj, i, sum) in std::mem::take(&mut self.pending_elements) {
            let ty = self.b.node(sum).ty;
            let current = self.place(
                self.b
                    .with_graph(|g| g.push(Node::new(Op::Load(adj), vec![i], ty))),
            );
            let total = self.place(self.b.prim(Prim::Add, &[current, sum]));
            self.emit(Stmt::Store {
                var: adj,
                index: i,
                value: total,
            });
        }
        let mut pending: Vec<(VarId, NodeId)> = self.pending.drain().collect();
        pending.sort_by_key(|(v, _)| *v);
        for (adj, value) in pending {
            let unchanged = matches!(self.b.node(value).op, Op::Read(v) if v == adj);
            if !unchanged {
                self.emit(Stmt::Assign(adj, value));
            }
        }
    }

    fn reverse_stmts(&mut self, block: &Block) {
        for (index, stmt) in block.0.iter().enumerate().rev() {
            match stmt {
                Stmt::Node(n) => self.reverse_node(*n),
                Stmt::Declare(v, Some(value)) | Stmt::Assign(v, value) => {
                    // A call into buffers is reversed once, for every buffer it writes, at its
                    // own statement; `Written` names another of them.
                    match self.b.node(*value).op {
                        Op::Invoke(_) => {
                            self.reverse_invoke(*v, *value);
                            continue;
                        }
                        Op::Written(_) => continue,
                        _ => {}
                    }
                    let Some(&adj) = self.var_adjoint.get(v) else {
                        continue;
                    };
                    match self.b.with_graph(|g| g.vars[v.0].shape.clone()) {
                        Shape::Scalar => {}
                        Shape::Array { .. } if matches!(stmt, Stmt::Declare(..)) => {
                            self.reset_array_adjoint(*v, adj, *value);
                            continue;
                        }
                        _ => continue,
                    }
                    let d = self.var_adjoint_value(adj);
                    if self.b.node(*value).active {
                        self.contribute(*value, d);
                    }
                    let site = site(&self.b, &self.b.node(*value));
                    self.b.set_site(site);
                    let zero = self.b.lit(0.0);
                    self.pending.insert(adj, zero);
                }
                Stmt::Declare(_, None) | Stmt::Push(..) | Stmt::Assert { .. } => {}
                Stmt::Store {
                    var,
                    index: element,
                    value,
                } => {
                    let Some(&adj) = self.var_adjoint.get(var) else {
                        continue;
                    };
                    // The store reads and clears its element's adjoint: updates land first.
                    self.flush();
                    let i = self.value(*element);
                    let node = self.b.node(*value);
                    self.b.set_site(site(&self.b, &node));
                    let ty = node.ty;
                    let d = self
                        .b
                        .with_graph(|g| g.push(Node::new(Op::Load(adj), vec![i], ty)));
                    self.place(d);
                    // `h[i] += e`: the element's adjoint is also that of what it held, so it
                    // stays where it is and only `e` takes it.
                    if let Some(e) = self.accumulated(block, index, *var, *element, *value) {
                        if self.b.node(e).active {
                            self.contribute(e, d);
                        }
                        continue;
                    }
                    if node.active {
                        self.contribute(*value, d);
                    }
                    let zero = self.place(self.b.lit(0.0));
                    self.emit(Stmt::Store {
                        var: adj,
                        index: i,
                        value: zero,
                    });
                }
                Stmt::If {
                    cond,
                    then,
                    otherwise,
                } => {
                    self.flush();
                    let then = self.nested(then);
                    let otherwise = self.nested(otherwise);
                    // A branch with nothing to differentiate is not reversed at all.
                    if !(inert(&then) && inert(&otherwise)) {
                        let c = self.value(*cond);
                        self.emit(Stmt::If {
                            cond: c,
                            then,
                            otherwise,
                        });
                    }
                }
                Stmt::For(l) => {
                    self.flush();
                    let bounds = (l.start, l.end, l.inclusive);
                    if !l.reverse && self.try_fuse(index, &l.body, l.counter, bounds) {
                        continue;
                    }
                    let body = self.nested(&l.body);
                    if inert(&body) {
                        continue;
                    }
                    // The same loop run backwards, its bounds where the backward code is.
                    let (start, end) = (self.value(l.start), self.value(l.end));
                    self.emit(Stmt::For(Loop {
                        start,
                        end,
                        reverse: !l.reverse,
                        ..l.with_body(body)
                    }));
                }
                Stmt::While { body, .. } => {
                    self.flush();
                    let body_id = self.block_ids[&address(body)];
                    let body = self.nested(body);
                    if inert(&body) {
                        continue;
                    }
                    let count_read = self.while_count(body_id, index);
                    let n = self.value(count_read);
                    let zero = self.b.int(0);
                    self.emit(Stmt::For(Loop::counted(
                        usize::MAX - body_id,
                        "_",
                        zero,
                        n,
                        body,
                    )));
                }
            }
        }
        self.flush();
    }

    /// For the store `var[index] = value` at `at` in `block`: `e` when `value` is
    /// `var[index] + e` (or `e + var[index]`), loaded in the same block with no store into `var`
    /// between the load and the store. Then the adjoint of the element before the store is the
    /// adjoint after it, plus what other uses of the load add.
    fn accumulated(
        &self,
        block: &Block,
        at: usize,
        var: VarId,
        index: NodeId,
        value: NodeId,
    ) -> Option<NodeId> {
        let node = self.b.node(value);
        let (Op::Prim(Prim::Add), &[a, b]) = (node.op, node.args.as_slice()) else {
            return None;
        };
        let current = self.frame_block();
        let is_element = |n: NodeId| {
            let load = self.b.node(n);
            matches!(load.op, Op::Load(v) if v == var)
                && load.args.first() == Some(&index)
                && self.home.get(&n).is_some_and(|h| {
                    h.block == current
                        && h.at.0 < at
                        && !block.0[h.at.0 + 1..at].iter().any(|s| s.stores(var))
                })
        };
        if is_element(a) {
            Some(b)
        } else if is_element(b) {
            Some(a)
        } else {
            None
        }
    }

    fn frame_block(&self) -> usize {
        self.stack.last().expect("a frame is open").block
    }

    /// Reverses the top-level `for` loop at `index` into its own body when that is sound (see
    /// [`crate::fuse`]): its carried variables only accumulate, and the backward code that runs
    /// after it today (what follows it, and the loops after it already fused) either commutes
    /// with its backward code or can run before it, from values computed before it. Returns
    /// whether it did. Loops are tried last first, so every fused loop after this one is known.
    fn try_fuse(
        &mut self,
        index: usize,
        body: &Block,
        counter: usize,
        bounds: (NodeId, NodeId, bool),
    ) -> bool {
        if self.stack.len() != 1
            || self.fusion_attempts >= MAX_FUSION_ATTEMPTS
            || self.buffer_declared_after(index)
        {
            return false;
        }
        let mut assumed = Vec::new();
        if !self
            .b
            .with_graph(|g| crate::fuse::accumulates_only(g, body))
        {
            let calls = self
                .assume
                .then(|| {
                    self.b
                        .with_graph(|g| crate::fuse::accumulates_if_overwritten(g, body))
                })
                .flatten();
            match calls {
                Some(calls) => assumed = calls,
                None => return false,
            }
        }
        self.fusion_attempts += 1;

        let saved = self.save();
        let id = self.block_ids[&address(body)];
        // The backward code of the loop shares only primal values: derivative values the tail
        // computed may end up after the loop.
        let memo = self.b.save_scope();
        self.b.retain(|n| self.b.is_primal(n));
        self.fused_block = Some(id);
        self.fused_writes = FusedWrites::of(body, &self.block_ids);
        self.recomputable.borrow_mut().clear();
        let reversed = self.nested(body);
        self.fused_block = None;
        self.fused_writes = FusedWrites::default();
        self.recomputable.borrow_mut().clear();
        self.b.restore_scope(memo);
        if inert(&reversed) {
            self.assumed.extend(assumed);
            return true;
        }

        // The backward code that runs after this loop today, in the order it runs: the head and
        // the loop of each fused loop after it, earliest first, then what they deferred, latest
        // first, then the backward code of what follows this loop up to the next fused loop.
        let mut tail: Vec<Stmt> = Vec::new();
        let mut from: Vec<From> = Vec::new();
        let mut order: Vec<usize> = (0..self.fusions.len()).collect();
        order.sort_by_key(|&f| self.fusions[f].index);
        for &f in &order {
            let fusion = &self.fusions[f];
            tail.extend(fusion.head.iter().cloned());
            from.extend(std::iter::repeat_n(From::Head(f), fusion.head.len()));
            tail.push(fusion.unit.clone());
            from.push(From::Unit);
        }
        for (f, fusion) in self.fusions.iter().enumerate() {
            tail.extend(fusion.deferred.iter().cloned());
            from.extend(std::iter::repeat_n(
                From::Deferred(f),
                fusion.deferred.len(),
            ));
        }
        tail.extend(self.stack[0].out.iter().cloned());
        from.extend(std::iter::repeat_n(From::Out, self.stack[0].out.len()));

        let fused: Vec<bool> = from.iter().map(|f| *f == From::Unit).collect();
        let assume = self.assume;
        let before = self
            .b
            .with_graph(|g| crate::fuse::before_loop(g, &tail, &fused, &reversed.0, assume));
        // A fused loop after this one cannot run before it.
        if from
            .iter()
            .zip(&before)
            .any(|(f, &first)| first && *f == From::Unit)
        {
            self.restore(saved);
            return false;
        }
        let mut head = Block::default();
        let mut kept: Vec<(From, Stmt)> = Vec::new();
        let mut late = Vec::new();
        for ((stmt, first), f) in tail.into_iter().zip(before).zip(from) {
            if first {
                head.0.push(stmt);
            } else {
                crate::fuse::nodes_placed(std::slice::from_ref(&stmt), &mut late);
                kept.push((f, stmt));
            }
        }
        let late: HashSet<NodeId> = late.into_iter().collect();
        let moved = self
            .computable_before(&head, index, None, &late)
            .zip(self.computable_before(&reversed, index, Some(id), &late));
        let Some((mut moved, more)) = moved else {
            self.restore(saved);
            return false;
        };
        moved.extend(more);
        moved.sort();
        moved.dedup();

        // Commit: the later fused loops keep what did not move before this one.
        for fusion in &mut self.fusions {
            fusion.head.clear();
            fusion.deferred.clear();
            fusion.moved.retain(|n| !moved.contains(n));
        }
        let mut deferred = Vec::new();
        for (f, stmt) in kept {
            match f {
                From::Head(f) => self.fusions[f].head.push(stmt),
                From::Deferred(f) => self.fusions[f].deferred.push(stmt),
                From::Out => deferred.push(stmt),
                From::Unit => {}
            }
        }
        self.stack[0].out.clear();
        let mut reversed = reversed;
        let carries = self
            .b
            .with_graph(|g| crate::fuse::carry_neighbours(g, &mut reversed, counter, bounds));
        let mut head = head.0;
        let mut after = Vec::new();
        for carry in carries {
            head.splice(0..0, carry.declare);
            after.extend(carry.flush);
        }
        let mut unit_body = reversed.0.clone();
        unit_body.extend(after.iter().cloned());
        let unit = Stmt::For(Loop {
            counter,
            name: "_".to_owned(),
            start: bounds.0,
            end: bounds.1,
            inclusive: bounds.2,
            reverse: false,
            body: Block(unit_body),
        });
        self.fusions.push(Fusion {
            index,
            head,
            deferred,
            body: reversed,
            after,
            moved,
            unit,
        });
        self.assumed.extend(assumed);
        true
    }

    /// One line per top-level loop whose backward code saves values or runs inside it: whether
    /// its backward code runs inside it, and how many values its body saves on a tape (per
    /// iteration, counting a value saved in a nested loop once per run of that loop).
    fn fusion_notes(&self, body: &Block) -> Vec<String> {
        let mut notes = Vec::new();
        let mut ordinal = 0;
        for (index, stmt) in body.0.iter().enumerate() {
            let (name, block) = match stmt {
                Stmt::For(Loop { name, body, .. }) => (format!("`for {name}`"), body),
                Stmt::While { body, .. } => ("`while`".to_owned(), body),
                _ => continue,
            };
            ordinal += 1;
            let mut nodes = Vec::new();
            crate::fuse::nodes_placed(&block.0, &mut nodes);
            let saved = nodes
                .iter()
                .filter(|n| self.taped.contains_key(n) || self.array_tapes.contains_key(n))
                .count();
            let values = match saved {
                1 => "1 value".to_owned(),
                k => format!("{k} values"),
            };
            let fused = self.fusions.iter().any(|f| f.index == index);
            let note = match (fused, saved) {
                (true, 0) => "backward code inside the loop; nothing saved on a tape".to_owned(),
                (true, _) => format!(
                    "backward code inside the loop; each iteration saves {values} on a tape (once per run of a nested loop) and takes them back"
                ),
                (false, 0) => continue,
                (false, _) => format!(
                    "backward code in a second loop; each iteration saves {values} on a tape (once per run of a nested loop)"
                ),
            };
            notes.push(format!("- loop {ordinal} ({name}): {note}."));
        }
        notes
    }

    /// The state that reversing a block changes, to reverse it again another way.
    fn save(&self) -> Saved {
        Saved {
            home: self.home.clone(),
            adjoint: self.adjoint.clone(),
            adjoint_of: self.adjoint_of.clone(),
            node_adjoint_var: self.node_adjoint_var.clone(),
            taped: self.taped.clone(),
            counts: self.counts.clone(),
            placed: self.placed.clone(),
            pop_order: self.pop_order.clone(),
            array_tapes: self.array_tapes.clone(),
            scratch: self.scratch.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    fn restore(&mut self, saved: Saved) {
        self.home = saved.home;
        self.adjoint = saved.adjoint;
        self.adjoint_of = saved.adjoint_of;
        self.node_adjoint_var = saved.node_adjoint_var;
        self.taped = saved.taped;
        self.counts = saved.counts;
        self.placed = saved.placed;
        self.pop_order = saved.pop_order;
        self.array_tapes = saved.array_tapes;
        self.scratch = saved.scratch;
        self.snapshots = saved.snapshots;
    }

    /// Whether `code` can run before top-level statement `index`: if so, the primal values after
    /// that statement it needs, all pure functions of values before it, which can be computed
    /// there instead. `code` is top-level backward code, or the backward code of the body
    /// `inside` of the loop at `index`, which reads that body's values and pops what nested
    /// blocks pushed. Values the backward code computes in `late` statements are not available.
    fn computable_before(
        &self,
        code: &Block,
        index: usize,
        inside: Option<usize>,
        late: &HashSet<NodeId>,
    ) -> Option<Vec<NodeId>> {
        let mut work = Vec::new();
        code.for_each_use(&mut |n| work.push(n));
        crate::fuse::nodes_placed(&code.0, &mut work);
        let mut seen = HashSet::default();
        let mut moved = Vec::new();
        while let Some(id) = work.pop() {
            if !seen.insert(id) {
                continue;
            }
            let node = self.b.node(id);
            if node.is_leaf() {
                continue;
            }
            if late.contains(&id) {
                return None;
            }
            match self.home.get(&id) {
                // Pops are in place only in the backward code of the loop body.
                None if matches!(node.op, Op::Pop(_)) => {
                    inside?;
                }
                // A counter stepped back holds its final value only after the forward sweep.
                None if matches!(node.op, Op::Read(v) if self.undone.contains(&v)) => return None,
                // An array of the program passed to a derivative call, or loaded, by backward
                // code moved before the loop: there, it does not yet hold what the loop (or a
                // statement after it) writes into it. (The loop's own backward code runs in its
                // iterations, where the array holds what it read.)
                None if inside.is_none()
                    && matches!(
                        node.op,
                        Op::Array(v, _) | Op::Part(v) | Op::Load(v) if self.written_from(v, index)
                    ) =>
                {
                    return None;
                }
                None => {}
                Some(home) if home.block == 0 && home.at.0 < index => continue,
                Some(home) if inside == Some(home.block) => continue,
                Some(home)
                    if home.block == 0 && self.pure(&node) && !matches!(node.op, Op::Call(_)) =>
                {
                    moved.push(id);
                }
                // A scalar variable's value that nothing from `index` on changes before it is
                // read: the same before the loop.
                Some(home) if home.block == 0 && self.unchanged(&node, index, home.at.0) => {
                    moved.push(id);
                }
                Some(_) => return None,
            }
            work.extend(node.args);
        }
        moved.sort();
        Some(moved)
    }

    /// Whether a top-level statement of the program from `index` on writes or declares `v`, at
    /// any depth.
    fn written_from(&self, v: VarId, index: usize) -> bool {
        self.last_writes
            .get_or_init(|| self.b.with_graph(|g| last_writes(&g.body)))
            .get(&v)
            .is_some_and(|&last| last >= index)
    }

    /// Whether `node` reads a scalar variable that no top-level statement from `from` up to
    /// (not including) `to` writes, at any depth.
    fn unchanged(&self, node: &Node, from: usize, to: usize) -> bool {
        let Op::Read(v) = node.op else {
            return false;
        };
        self.b.with_graph(|g| {
            matches!(g.vars[v.0].shape, Shape::Scalar)
                && g.body.0.get(from..to).is_some_and(|stmts| {
                    !stmts
                        .iter()
                        .any(|s| s.stores(v) || matches!(s, Stmt::Declare(w, _) if *w == v))
                })
        })
    }

    /// `for k in 0..h.len() { tape.push(p[k]); }` right after the call that returned the array
    /// gradient `p` of `h`: the backward sweep pops it at the call, last element first. Where
    /// `g_grad_into` added `p` into a scratch buffer, the call adds it into zeros pushed on the
    /// tape instead ([`IntoBuffer::Tape`]), in the same order, and nothing is copied.
    fn push_elements(
        &mut self,
        p: NodeId,
        tape: VarId,
        v: VarId,
        out: &mut Vec<Stmt>,
        runs: &Count,
    ) {
        let gradients = self
            .tapes
            .iter()
            .any(|(kind, &t)| t == tape && matches!(kind, TapeKind::Gradients(_)));
        // One slice per call (the call borrows the tape once), the first this loop saves: its
        // zeros are pushed during the call, before the copies of the others after it.
        if gradients
            && let Some((call, k)) = self.b.with_graph(|g| scratch_of(g, p))
            && self.b.with_graph(|g| match &g.nodes[call.0].op {
                Op::CallGrad(c) => c
                    .scratch
                    .iter()
                    .enumerate()
                    .all(|(j, b)| j == k || !matches!(b, IntoBuffer::Tape(_))),
                _ => false,
            })
        {
            self.b.with_graph(|g| {
                if let Op::CallGrad(c) = &mut g.nodes[call.0].op {
                    c.scratch[k] = IntoBuffer::Tape(tape);
                }
            });
            return;
        }
        let counter = COPY_LOOPS + self.copies;
        self.copies += 1;
        let ty = self.b.node(p).ty;
        let push = |op: Op, args: Vec<NodeId>, ty: Ty| {
            self.b.with_graph(|gr| gr.push(Node::new(op, args, ty)))
        };
        let i = push(Op::Counter(counter), vec![], Ty::Int);
        let zero = push(
            Op::Lit(crate::graph::LitValue::Int(0), None),
            vec![],
            Ty::Int,
        );
        let len = match self.parts.get(&p) {
            Some(&(start, end)) => self.b.with_graph(|gr| {
                gr.push(Node::new(Op::Prim(Prim::Sub), vec![end, start], Ty::Int))
            }),
            None => push(Op::Len(v), vec![], Ty::Int),
        };
        let element = push(Op::Element, vec![p, i], ty);
        self.b
            .with_graph(|gr| gr.nodes[i.0].name = Some("k".to_owned()));
        out.push(Stmt::Node(len));
        out.push(Stmt::For(Loop {
            counter,
            name: "k".to_owned(),
            start: zero,
            end: len,
            inclusive: false,
            reverse: false,
            body: Block(vec![
                Stmt::Node(i),
                Stmt::Node(element),
                Stmt::Push(tape, element),
            ]),
        }));
        // The tape of gradients pushed whole keeps nothing inline.
        if gradients {
            return;
        }
        let this = runs.times(&self.constant(len));
        let total = self
            .capacity
            .get(&tape)
            .unwrap_or(&Count::Known(0))
            .plus(&this.inline_part());
        self.capacity.insert(tape, total);
    }

    /// How many times a `for` loop runs, when its bounds are known at compile time.
    fn trips(&self, start: NodeId, end: NodeId, inclusive: bool) -> Count {
        let span = self.constant(end).minus(&self.constant(start));
        if inclusive {
            span.plus(&Count::Known(1))
        } else {
            span
        }
    }

    /// The value of an integer node, when it is a compile-time constant.
    fn constant(&self, n: NodeId) -> Count {
        let node = self.b.node(n);
        match &node.op {
            Op::Lit(crate::graph::LitValue::Int(v), _) => {
                u64::try_from(*v).map_or(Count::Unknown, Count::Known)
            }
            Op::Const(tokens) => Count::Const(tokens.clone()),
            Op::Len(v) => match self.b.with_graph(|g| g.vars[v.0].shape.clone()) {
                Shape::Array { len, .. } => Count::Const(len),
                Shape::Slice if self.b.with_graph(|g| g.vars[v.0].param.is_some()) => {
                    Count::Slice(1)
                }
                _ => Count::Unknown,
            },
            Op::Prim(Prim::Add) => self
                .constant(node.args[0])
                .plus(&self.constant(node.args[1])),
            Op::Prim(Prim::Sub) => self
                .constant(node.args[0])
                .minus(&self.constant(node.args[1])),
            Op::Prim(Prim::Mul) => self
                .constant(node.args[0])
                .times(&self.constant(node.args[1])),
            _ => Count::Unknown,
        }
    }

    /// The node that reads how many times the `while` loop with this body block ran.
    fn while_count(&mut self, body: usize, index: usize) -> NodeId {
        if let Some(&(_, read)) = self.counts.get(&body) {
            return read;
        }
        let v = self.new_var("iterations", Ty::Int, Shape::Scalar, None);
        let read = self.read_node(v);
        // It is computed right after the loop, in the loop's own block.
        let home = self.frame().block;
        self.home.insert(
            read,
            Home {
                block: home,
                at: (index, 1),
            },
        );
        self.counts.insert(body, (v, read));
        read
    }

    /// A block's prologue: adjoint variables first, then the pops, last pushed first.
    fn ordered(&self, prologue: Vec<Stmt>) -> Vec<Stmt> {
        let (mut pops, mut rest): (Vec<Stmt>, Vec<Stmt>) = prologue
            .into_iter()
            .partition(|s| matches!(s, Stmt::Node(n) if self.pop_order.contains_key(n)));
        pops.sort_by_key(|s| match s {
            Stmt::Node(n) => std::cmp::Reverse(self.pop_order[n]),
            _ => unreachable!("partitioned above"),
        });
        rest.extend(pops);
        rest
    }

    /// Reverses a nested block into a block of its own.
    fn nested(&mut self, block: &Block) -> Block {
        let id = self.block_ids[&address(block)];
        let pending = std::mem::take(&mut self.pending);
        let pending_elements = std::mem::take(&mut self.pending_elements);
        let scope = self.b.save_scope();
        self.stack.push(Frame {
            block: id,
            out: Vec::new(),
            prologue: Vec::new(),
            values: HashMap::default(),
        });
        self.resize_adjoint_buffers(block);
        self.reverse_stmts(block);
        let frame = self.stack.pop().expect("pushed above");
        self.b.restore_scope(scope);
        self.pending = pending;
        self.pending_elements = pending_elements;
        let mut stmts = self.ordered(frame.prologue);
        stmts.extend(frame.out);
        Block(stmts)
    }

    /// The reverse of `let mut h = [c; N];` for an active local array `h`: what is left in its
    /// adjoint belongs to elements read before any store, whose value `c` is a constant, so it
    /// is dropped. Inside a loop the adjoint must be zeroed there, or what the backward code of
    /// one run of the block leaves in it would reach the stores of the run before (an element
    /// that one iteration reads without storing to it, and the previous iteration stored to).
    fn reset_array_adjoint(&mut self, v: VarId, adj: VarId, value: NodeId) {
        debug_assert!(
            !self.b.node(value).active,
            "a local array is declared filled with a constant"
        );
        let block = self.stack.last().map(|f| f.block);
        if !block.is_some_and(|b| self.looped.contains(&b)) || self.cleared_by_stores.contains(&v) {
            return;
        }
        self.flush();
        let span = self.b.with_graph(|g| g.vars[v.0].span);
        let float = self
            .b
            .node(value)
            .ty
            .float()
            .unwrap_or_else(|| self.output_ty());
        self.b.set_site(Site { span, ty: float });
        let zero = self.b.lit(0.0);
        let zeros = self.fill(zero, v);
        self.place(zero);
        self.place(zeros);
        self.emit(Stmt::Assign(adj, zeros));
    }

    fn reverse_node(&mut self, n: NodeId) {
        let node = self.b.node(n);
        if !node.active {
            return;
        }
        let Some(g) = self.final_adjoint(n, &node) else {
            return;
        };
        if let Some(call) = self.calls.get(&n).cloned() {
            self.reverse_call(&call, &node, g);
            return;
        }
        match node.op {
            Op::Read(v) => {
                if let Some(&adj) = self.var_adjoint.get(&v) {
                    let current = self.var_adjoint_value(adj);
                    let sum = self.place(self.b.prim(Prim::Add, &[current, g]));
                    self.pending.insert(adj, sum);
                }
                return;
            }
            Op::Load(v) => {
                if let Some(&adj) = self.var_adjoint.get(&v) {
                    // Summed with the other updates of the same element in this stretch, and
                    // added to the array once.
                    let i = self.value(node.args[0]);
                    match self.pending_elements.get_mut(adj, i) {
                        Some(entry) => {
                            let sum = self.b.prim(Prim::Add, &[*entry, g]);
                            *entry = sum;
                            self.place(sum);
                        }
                        None => self.pending_elements.push(adj, i, g),
                    }
                }
                return;
            }
            _ => {}
        }
        if node.args.is_empty() {
            return;
        }
        self.b.set_site(site(&self.b, &node));
        let before = self.b.len();
        let partials: Vec<Option<NodeId>> = {
            let vs: Vec<_> = node.args.iter().map(|&a| self.b.v(a)).collect();
            rules::chain(&node.op, self.b.v(g), self.b.v(n), &vs, Mode::Reverse)
                .into_iter()
                .map(|d| d.map(|d| d.id))
                .collect()
        };
        let mut needed = Vec::new();
        for (&arg, partial) in node.args.iter().zip(partials) {
            if let Some(d) = partial
                && self.b.node(arg).active
            {
                needed.push((arg, d));
            }
        }
        // Every new node, needed or not: the builder may share any of them later.
        let fresh: Vec<NodeId> = (before..self.b.len()).map(NodeId).collect();
        self.materialize(&fresh, before);
        for (arg, d) in needed {
            let d = self.value(d);
            let d = self.place(d);
            self.contribute(arg, d);
        }
    }

    /// Reverses a call that the forward sweep made through `g_grad`: each active argument gets
    /// the call's adjoint times its partial derivative, taken from the forward sweep (in scope,
    /// or saved for the iteration that made the call).
    fn reverse_call(&mut self, call: &CallSite, node: &Node, g: NodeId) {
        self.b.set_site(site(&self.b, node));
        // Last argument first: where the forward sweep pushed the array gradients after the
        // call, in the order of the arguments, the backward code pops the last one first.
        for (&arg, &partial) in call.args.iter().zip(&call.partials).rev() {
            let Some(p) = partial else {
                continue;
            };
            if let Op::Array(v, _) = self.b.node(arg).op {
                self.array_argument(v, p, g, node.ty);
                continue;
            }
            if let Op::Part(v) = self.b.node(arg).op {
                let bounds = self.b.node(arg).args;
                self.parts.insert(p, (bounds[0], bounds[1]));
                self.array_argument(v, p, g, node.ty);
                continue;
            }
            let before = self.b.len();
            let d = rules::times_callee_partial(self.b.v(g), self.b.v(p)).id;
            let fresh: Vec<NodeId> = (before..self.b.len()).map(NodeId).collect();
            self.materialize(&fresh, before);
            let d = self.value(d);
            let d = self.place(d);
            self.contribute(arg, d);
        }
    }

    /// `g(h, b)` with an array `h`: `g_grad` returned its gradient as an array `p`, added into
    /// the adjoint of `h` element by element, scaled by the call's adjoint `g`. Where `p` is
    /// out of scope (in a reversed loop), the forward sweep pushes its elements right after the
    /// call and this loop pops them, last element first.
    fn array_argument(&mut self, v: VarId, p: NodeId, g: NodeId, ty: Ty) {
        let Some(&adj) = self.var_adjoint.get(&v) else {
            return;
        };
        self.flush();
        let in_scope = self.home.get(&p).is_none_or(|h| self.in_scope(h.block));
        let tape = (!in_scope).then(|| {
            let float = ty.float().unwrap_or_else(|| self.output_ty());
            // A gradient that `g_grad_into` adds into a scratch buffer goes on the tape whole:
            // the call adds it into zeros pushed there, which saves the copy.
            let kind = if self.b.with_graph(|g| scratch_of(g, p)).is_some() {
                TapeKind::Gradients(float)
            } else {
                TapeKind::Float(float)
            };
            let tape = self.tape(kind);
            self.array_tapes.insert(p, (tape, v));
            tape
        });
        // Part of an array, `&x[start..end]`: its bounds where this backward code runs.
        let bounds = self
            .parts
            .get(&p)
            .copied()
            .map(|(start, end)| (self.value(start), self.value(end)));
        let counter = COPY_LOOPS + self.copies;
        self.copies += 1;
        let push = |op: Op, args: Vec<NodeId>, ty: Ty| {
            self.b.with_graph(|gr| gr.push(Node::new(op, args, ty)))
        };
        let i = push(Op::Counter(counter), vec![], Ty::Int);
        let zero = push(
            Op::Lit(crate::graph::LitValue::Int(0), None),
            vec![],
            Ty::Int,
        );
        // The adjoint has the array's length, and is in scope where the array may not be.
        let (len, at) = match bounds {
            None => (push(Op::Len(adj), vec![], Ty::Int), i),
            Some((start, end)) => (
                push(Op::Prim(Prim::Sub), vec![end, start], Ty::Int),
                push(Op::Prim(Prim::Add), vec![start, i], Ty::Int),
            ),
        };
        let element = match tape {
            None => push(Op::Element, vec![p, i], ty),
            Some(tape) => push(Op::Pop(tape), vec![], ty),
        };
        // With the guards of a scalar argument's partial (`reverse_call`): `0 · ∞ = 0` both ways.
        let product = push(Op::Prim(Prim::Mul), vec![g, element], ty);
        let guarded = self
            .b
            .may_be_infinite(g)
            .then(|| push(Op::Prim(Prim::ZeroWins), vec![element, product], ty));
        let scaled = push(
            Op::Prim(Prim::ZeroWins),
            vec![g, guarded.unwrap_or(product)],
            ty,
        );
        let current = push(Op::Load(adj), vec![at], ty);
        let sum = push(Op::Prim(Prim::Add), vec![current, scaled], ty);
        self.b
            .with_graph(|gr| gr.nodes[i.0].name = Some("k".to_owned()));
        self.emit(Stmt::Node(len));
        let mut body = vec![Stmt::Node(i)];
        if at != i {
            body.push(Stmt::Node(at));
        }
        body.push(Stmt::Node(element));
        body.push(Stmt::Node(product));
        body.extend(guarded.map(Stmt::Node));
        body.extend([
            Stmt::Node(scaled),
            Stmt::Node(current),
            Stmt::Node(sum),
            Stmt::Store {
                var: adj,
                index: at,
                value: sum,
            },
        ]);
        self.emit(Stmt::For(Loop {
            counter,
            name: "k".to_owned(),
            start: zero,
            end: len,
            inclusive: false,
            reverse: !in_scope,
            body: Block(body),
        }));
    }

    /// The rules build derivative nodes over primal values; this gives the new nodes that
    /// `roots` use the values as they are in scope here (recomputed or popped), and places them.
    fn materialize(&mut self, roots: &[NodeId], first_new: usize) {
        let mut new = Vec::new();
        let mut work = roots.to_vec();
        let mut seen = HashSet::default();
        while let Some(id) = work.pop() {
            if id.0 < first_new || !seen.insert(id) {
                continue;
            }
            new.push(id);
            work.extend(self.b.node(id).args);
        }
        new.sort();
        for id in new {
            let args = self.b.node(id).args;
            let args: Vec<NodeId> = args
                .into_iter()
                .map(|a| {
                    if self.b.is_primal(a) {
                        self.value(a)
                    } else {
                        a
                    }
                })
                .collect();
            self.b.with_graph(|g| g.nodes[id.0].args = args);
            self.place(id);
        }
    }

    /// The forward sweep: the primal program, with values pushed on tapes where the backward
    /// sweep needs them and `while` loops counting their iterations.
    fn forward_copy(&mut self, block: &Block, out: &mut Vec<Stmt>, runs: &Count) {
        let id = self.block_ids[&address(block)];
        // A block pushes its values when it ends, after whatever the blocks nested in it pushed,
        // so one tape per kind of value serves every block: the backward code of a block pops
        // its values first, then reverses the blocks nested in it.
        let mut pushes: Vec<((usize, usize), NodeId)> = Vec::new();
        for (index, stmt) in block.0.iter().enumerate() {
            match stmt {
                Stmt::Node(n) if id == 0 && self.moved(*n) => {}
                Stmt::For(Loop { body, .. })
                    if id == 0 && self.fusions.iter().any(|f| f.index == index) =>
                {
                    let at = self
                        .fusions
                        .iter()
                        .position(|f| f.index == index)
                        .expect("checked by the guard");
                    let fusion = self.fusions.remove(at);
                    out.extend(fusion.moved.iter().map(|&n| Stmt::Node(n)));
                    out.extend(fusion.head.iter().cloned());
                    // Each iteration empties the tapes it fills: they need room for one.
                    let mut copy = Vec::new();
                    self.forward_copy(body, &mut copy, runs);
                    copy.extend(fusion.body.0.iter().cloned());
                    out.push(stmt.with_blocks(|_| Block(std::mem::take(&mut copy))));
                    out.extend(fusion.after.iter().cloned());
                    self.fusions.insert(at, fusion);
                }
                Stmt::Node(n) => {
                    out.push(stmt.clone());
                    if self.taped.contains_key(n) {
                        pushes.push((self.home[n].at, *n));
                    }
                    if let Some(&(tape, v)) = self.array_tapes.get(n) {
                        self.push_elements(*n, tape, v, out, runs);
                    }
                }
                Stmt::If { .. } => out.push(stmt.with_blocks(|b| {
                    let mut copy = Vec::new();
                    self.forward_copy(b, &mut copy, runs);
                    Block(copy)
                })),
                Stmt::For(Loop {
                    start,
                    end,
                    inclusive,
                    ..
                }) => {
                    let runs = runs.times(&self.trips(*start, *end, *inclusive));
                    out.push(stmt.with_blocks(|b| {
                        let mut copy = Vec::new();
                        self.forward_copy(b, &mut copy, &runs);
                        Block(copy)
                    }));
                }
                Stmt::While { cond, test, body } => {
                    let mut c = Vec::new();
                    self.forward_copy(cond, &mut c, &Count::Unknown);
                    let body_id = self.block_ids[&address(body)];
                    let mut b = Vec::new();
                    self.forward_copy(body, &mut b, &Count::Unknown);
                    if let Some(&(count, read)) = self.counts.get(&body_id) {
                        let zero = self.b.int(0);
                        out.push(Stmt::Declare(count, Some(zero)));
                        let r = self.read_node(count);
                        let one = self.b.int(1);
                        let next = self.b.prim(Prim::Add, &[r, one]);
                        b.push(Stmt::Node(r));
                        b.push(Stmt::Node(next));
                        b.push(Stmt::Assign(count, next));
                        out.push(Stmt::While {
                            cond: Block(c),
                            test: *test,
                            body: Block(b),
                        });
                        out.push(Stmt::Node(read));
                        if self.taped.contains_key(&read) {
                            pushes.push((self.home[&read].at, read));
                        }
                    } else {
                        out.push(Stmt::While {
                            cond: Block(c),
                            test: *test,
                            body: Block(b),
                        });
                    }
                }
                other => {
                    self.save_inputs(other, out, true);
                    out.push(other.clone());
                    if id == 0 {
                        self.declare_adjoint_buffer(other, out);
                    }
                    self.save_inputs(other, out, false);
                }
            }
        }
        pushes.sort_by_key(|(at, _)| *at);
        let mut counts: HashMap<VarId, u64> = HashMap::default();
        for (_, n) in pushes {
            let tape = self.taped[&n].0;
            *counts.entry(tape).or_default() += 1;
            out.push(Stmt::Push(tape, n));
        }
        // A tape holds what each block pushes times the runs of the block: the part known at
        // compile time fits inline, so loops of a known trip count need no heap, and a loop over
        // a slice parameter keeps its first values inline too.
        for (tape, n) in counts {
            let this = runs.times(&Count::Known(n));
            let total = self
                .capacity
                .get(&tape)
                .unwrap_or(&Count::Known(0))
                .plus(&this.inline_part());
            self.capacity.insert(tape, total);
        }
        // Tapes are declared where the function starts.
        if id == 0 {
            let used: HashSet<VarId> = self
                .taped
                .values()
                .map(|(t, _)| *t)
                .chain(self.array_tapes.values().map(|(t, _)| *t))
                .collect();
            let mut tapes: Vec<VarId> = self
                .tapes
                .values()
                .copied()
                .filter(|t| used.contains(t))
                .collect();
            tapes.sort();
            for t in &tapes {
                let capacity = self.capacity.get(t).cloned().unwrap_or(Count::Known(0));
                self.b
                    .with_graph(|g| g.vars[t.0].shape = Shape::Tape(capacity));
            }
            let decls: Vec<Stmt> = tapes.into_iter().map(|t| Stmt::Declare(t, None)).collect();
            out.splice(0..0, decls);
        }
    }
}

/// Whether backward code does nothing: it only computes values, which nothing outside the
/// block can read.
fn inert(block: &Block) -> bool {
    block.0.iter().all(|s| matches!(s, Stmt::Node(_)))
}

/// A block's identity while the pass runs: its address in the body being reversed.
fn address(block: &Block) -> usize {
    std::ptr::from_ref(block).addr()
}

impl Node {
    /// A node of derivative code, with no source span of its own yet.
    pub fn new(op: Op, args: Vec<NodeId>, ty: Ty) -> Node {
        Node {
            op,
            args,
            ty,
            active: false,
            span: proc_macro2::Span::call_site(),
            name: None,
            origin: Origin::Derivative,
        }
    }
}

/// The variables `block` assigns, stores into or declares, at any depth.
pub(super) fn written(block: &Block) -> HashSet<VarId> {
    let mut into = HashSet::default();
    for stmt in &block.0 {
        written_by(stmt, &mut into);
    }
    into
}

/// Adds the variables `stmt` assigns, stores into or declares, at any depth, to `into`.
fn written_by(stmt: &Stmt, into: &mut HashSet<VarId>) {
    stmt.for_each_stmt(|s| {
        if let Stmt::Declare(v, _) | Stmt::Assign(v, _) | Stmt::Store { var: v, .. } = s {
            into.insert(*v);
        }
    });
}

/// The last statement of `block` that assigns, stores into or declares each variable (at any
/// depth within it), by its index in the block.
fn last_writes(block: &Block) -> HashMap<VarId, usize> {
    let mut last = HashMap::default();
    for (j, stmt) in block.0.iter().enumerate() {
        let mut written = HashSet::default();
        written_by(stmt, &mut written);
        for v in written {
            last.insert(v, j);
        }
    }
    last
}

/// What the body of a loop reversed for fusion writes, statement by statement.
#[derive(Default)]
struct FusedWrites {
    /// The last statement of the body that writes or declares each variable.
    last: HashMap<VarId, usize>,
    /// The statement of the body each block nested in it is in, by block number.
    statement: HashMap<usize, usize>,
}

impl FusedWrites {
    fn of(body: &Block, block_ids: &HashMap<usize, usize>) -> FusedWrites {
        let mut statement = HashMap::default();
        for (j, stmt) in body.0.iter().enumerate() {
            stmt.for_each_stmt(|s| {
                for block in s.blocks() {
                    if let Some(&id) = block_ids.get(&address(block)) {
                        statement.insert(id, j);
                    }
                }
            });
        }
        FusedWrites {
            last: last_writes(body),
            statement,
        }
    }
}

/// The local arrays of `block` and the blocks inside it whose every read element is stored
/// earlier in the same run of the block that declares them (see `Reverse::cleared_by_stores`).
/// Each element's adjoint is then cleared by the backward code of the store that covers it,
/// after (in backward order) every read of the element has added into it.
fn cleared_by_stores(graph: &Graph, block: &Block, into: &mut HashSet<VarId>) {
    for stmt in &block.0 {
        if let Stmt::Declare(v, Some(_)) = stmt
            && matches!(graph.vars[v.0].shape, Shape::Array { .. })
            && crate::fuse::per_iteration(graph, block, *v)
        {
            into.insert(*v);
        }
        for inner in stmt.blocks() {
            cleared_by_stores(graph, inner, into);
        }
    }
}

/// Takes out of the loops of `code` the declarations of the arrays of `cleared` (every element a
/// run of their block reads, it stored first) filled with a constant, to declare them once
/// before the code: no iteration reads what an earlier one left, so the forward sweep need not
/// fill them again at every iteration (the function itself still does).
fn declared_once(
    graph: &Graph,
    code: &mut Vec<Stmt>,
    in_loop: bool,
    cleared: &HashSet<VarId>,
) -> Vec<Stmt> {
    let mut out = Vec::new();
    if in_loop {
        // The declarations that move, with the placements of their fill and its constant.
        let mut moving: Vec<usize> = Vec::new();
        let mut nodes: HashSet<NodeId> = HashSet::default();
        for (k, stmt) in code.iter().enumerate() {
            let Stmt::Declare(v, Some(fill)) = stmt else {
                continue;
            };
            let node = &graph.nodes[fill.0];
            let constant = matches!(node.op, Op::Fill(_))
                && node
                    .args
                    .iter()
                    .all(|a| matches!(graph.nodes[a.0].op, Op::Lit(..) | Op::Const(_)));
            if constant && cleared.contains(v) {
                moving.push(k);
                nodes.insert(*fill);
                nodes.extend(node.args.iter().copied());
            }
        }
        // Nothing that stays uses the nodes that move.
        let stays = Block(
            code.iter()
                .enumerate()
                .filter(|(k, s)| {
                    !moving.contains(k) && !matches!(s, Stmt::Node(n) if nodes.contains(n))
                })
                .map(|(_, s)| s.clone())
                .collect(),
        );
        let mut used = false;
        stays.for_each_use(&mut |n| used |= nodes.contains(&n));
        if !moving.is_empty() && !used {
            let mut k = 0;
            code.retain(|stmt| {
                let moves =
                    moving.contains(&k) || matches!(stmt, Stmt::Node(n) if nodes.contains(n));
                k += 1;
                if moves {
                    out.push(stmt.clone());
                }
                !moves
            });
        }
    }
    for stmt in code.iter_mut() {
        match stmt {
            Stmt::If {
                then, otherwise, ..
            } => {
                out.extend(declared_once(graph, &mut then.0, in_loop, cleared));
                out.extend(declared_once(graph, &mut otherwise.0, in_loop, cleared));
            }
            Stmt::For(l) => out.extend(declared_once(graph, &mut l.body.0, true, cleared)),
            Stmt::While { cond, body, .. } => {
                out.extend(declared_once(graph, &mut cond.0, true, cleared));
                out.extend(declared_once(graph, &mut body.0, true, cleared));
            }
            _ => {}
        }
    }
    out
}

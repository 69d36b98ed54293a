//! Second order: forward mode over the reverse sweep.
//!
//! The reverse pass's result is code over a graph like any other: the forward sweep, then the
//! backward sweep that builds the gradient. Running the forward (tangent) pass over that code,
//! with the tangent inputs `v_x` seeded for the active parameters, gives the directional
//! derivative of every gradient entry: the Hessian-vector product `H·v`. Nothing new enters the
//! rule table: the nodes the reverse rules built are differentiated by the same rows. Tapes get
//! parallel tangent tapes, pushed and popped in step; adjoint variables and arrays get tangent
//! variables as primal ones do.

use crate::hash::HashMap;

use crate::algebra::Builder;
use crate::forward::{Forward, Seed};
use crate::graph::{Block, Graph, Loop, Node, NodeId, Op, Pass, Shape, Stmt, Ty, Var, VarId};
use crate::reverse::Adjoint;
use crate::rules::{self, Mode};

/// The reverse pass's code with tangent statements interleaved: the body of `f_hvp`.
pub struct Hvp {
    pub adjoint: Adjoint,
    pub code: Block,
    /// The tangent input of each active parameter, by parameter index.
    pub seeds: HashMap<usize, Seed>,
    /// The tangent of each scalar gradient entry, in the order of `adjoint.gradients`.
    pub hvs: Vec<Option<NodeId>>,
    /// The tangent variable of each array adjoint, by parameter index.
    pub array_hvs: HashMap<usize, VarId>,
    /// A read of each array parameter's `H·v` entry at the end of the code, to return it.
    pub array_hv_reads: HashMap<usize, NodeId>,
    /// The direction of `self`, when `wrt` names it and the body reads its fields.
    pub self_seed: Option<NodeId>,
    /// The `H·v` entry of `self`, a `Self`, when `wrt` names it.
    pub self_hv: Option<NodeId>,
    /// With out-parameters and a float return value: the tangent of the return value's seed, an
    /// input as the seed is.
    pub seed_tangent: Option<NodeId>,
    /// Each pop of a tangent tape, with the pop of the primal tape it mirrors: written wherever
    /// that one is, so the two tapes stay in step.
    pub tangent_pops: HashMap<NodeId, NodeId>,
}

/// Forward mode over `adjoint.code`.
pub fn hvp(primal: &Graph, adjoint: Adjoint) -> Hvp {
    let graph = adjoint.graph.clone();
    // With out-parameters the adjoints of the outputs are inputs (the seeds of `f_vjp_into`),
    // and vary along the direction as the caller's adjoints do: each gets a tangent input.
    let seeded: Vec<VarId> = graph
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.out())
        .filter_map(|(i, _)| adjoint.array_gradients.get(&i).copied())
        .collect();
    let (varying, varying_vars) = varying(&graph, &adjoint.code, &seeded, adjoint.seed);
    let infinite = rules::has_infinite_derivative(primal, Mode::Forward)
        || rules::has_infinite_derivative(primal, Mode::Reverse);
    let b = Builder::new(graph);
    b.set_infinite_variables(infinite);
    b.retain(|_| false);
    let mut f = Forward {
        b,
        tangent: HashMap::default(),
        var_tangent: HashMap::default(),
        seeds: HashMap::default(),
        self_seed: None,
        varying: Some(varying),
        hvp_calls: HashMap::default(),
        dots: 0,
        visited: crate::hash::HashSet::default(),
        hvp_grads: HashMap::default(),
    };
    let vars: Vec<Var> = f.b.with_graph(|g| g.vars.clone());
    let graph_params = primal.params.clone();
    for (i, var) in vars.iter().enumerate() {
        if !varying_vars[i] {
            continue;
        }
        let d = f.b.with_graph(|g| {
            g.vars.push(Var {
                name: crate::names::derivative(&var.name),
                active: false,
                param: None,
                ..var.clone()
            });
            VarId(g.vars.len() - 1)
        });
        f.var_tangent.insert(VarId(i), d);
        if let Some(p) = var.param
            && primal_param(&graph_params, p, VarId(i))
        {
            f.seeds.insert(p, Seed::Array(d));
        }
    }
    let seed_tangent = adjoint.seed.map(|s| {
        let node = f.b.node(s);
        let t = f.b.with_graph(|g| {
            g.push(Node {
                op: Op::Seed(usize::MAX - 1),
                ..node
            })
        });
        f.visited.insert(s);
        f.tangent.insert(s, t);
        t
    });
    let mut code = f.block(&adjoint.code);
    // The `H·v` entry of a struct (or of `self`) is a struct too: built at the end, beside the
    // gradient entry it is the tangent of.
    let struct_gradients = graph_params
        .iter()
        .filter(|p| p.active && p.fields())
        .filter_map(|p| adjoint.adjoint_of.get(&p.node).copied());
    let mut tail = Vec::new();
    for g in struct_gradients {
        f.gradient_tangent(g, &mut tail);
    }
    let self_hv = adjoint
        .self_gradient
        .map(|g| f.gradient_tangent(g, &mut tail));
    code.0.extend(tail);
    let tangent_pops = f
        .tangent
        .iter()
        .filter(|&(&n, _)| matches!(f.b.node(n).op, Op::Pop(_)))
        .map(|(&n, &t)| (t, n))
        .collect();
    let hvs = adjoint
        .gradients()
        .into_iter()
        .map(|g| g.and_then(|g| f.tangent.get(&g).copied()))
        .collect();
    let mut array_hvs = HashMap::default();
    let mut array_hv_reads = HashMap::default();
    for (&p, &d) in &adjoint.array_gradients {
        let t = match f.var_tangent.get(&d) {
            Some(&t) => t,
            // Nothing varying reaches this gradient: its tangent stays the zeros it is declared
            // with.
            None => f.b.with_graph(|g| {
                let var = g.vars[d.0].clone();
                g.vars.push(Var {
                    name: crate::names::derivative(&var.name),
                    active: false,
                    param: None,
                    ..var
                });
                VarId(g.vars.len() - 1)
            }),
        };
        array_hvs.insert(p, t);
        // Read at the end, to return it.
        let read = f.b.with_graph(|g| {
            let ty = g.vars[t.0].ty;
            g.push(Node::new(Op::Read(t), vec![], ty))
        });
        code.0.push(Stmt::Node(read));
        array_hv_reads.insert(p, read);
    }
    let mut adjoint = adjoint;
    adjoint.graph = f.b.finish();
    Hvp {
        adjoint,
        code,
        seeds: f.seeds,
        hvs,
        array_hvs,
        array_hv_reads,
        self_seed: f.self_seed,
        self_hv,
        seed_tangent,
        tangent_pops,
    }
}

/// Which nodes and variables of the reverse pass's code depend on the active parameters: a
/// fixed point over the code, since a loop may store into a variable after reading it.
/// `seeded` are the adjoints of out-parameters and `seed` the return value's seed, inputs that
/// vary.
fn varying(
    graph: &Graph,
    code: &Block,
    seeded: &[VarId],
    seed: Option<NodeId>,
) -> (Vec<bool>, Vec<bool>) {
    let mut vars: Vec<bool> = graph
        .vars
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (v.param.is_some_and(|p| {
                primal_param(&graph.params, p, VarId(i)) && graph.params[p].active
            }) || seeded.contains(&VarId(i)))
                && is_float(v.ty)
        })
        .collect();
    // Monotone: a node or variable once varying stays so. The reverse pass patches arguments
    // after the fact, so a node may read a later one: the nodes too are iterated to a fixed point.
    let mut nodes = vec![false; graph.nodes.len()];
    loop {
        let mut changed = false;
        for (i, node) in graph.nodes.iter().enumerate() {
            if nodes[i] {
                continue;
            }
            nodes[i] = match node.op {
                Op::Param(p) => {
                    graph.params[p].active && matches!(graph.params[p].shape, Shape::Scalar)
                }
                // `self` named in `wrt`: its fields vary as a struct parameter's do.
                Op::SelfValue(_) => graph.self_active,
                // A field varies where the primal's analysis found it active: a float field
                // of a struct that `wrt` names, not an integer one.
                Op::Member(_) => node.active,
                Op::Read(v) | Op::Load(v) | Op::Pop(v) | Op::Array(v, _) | Op::Part(v) => vars[v.0],
                // The reverse pass made every active call a `g_grad` call: a call left as it is
                // computes a value no gradient reads (a branch's condition), whose tangent no
                // `H·v` entry needs either.
                Op::Seed(_) => Some(NodeId(i)) == seed,
                Op::Call(_)
                | Op::Cmp(_)
                | Op::Not
                | Op::And
                | Op::Or
                | Op::Len(_)
                | Op::Counter(_)
                | Op::Lit(..)
                | Op::Const(_)
                | Op::Known(_) => false,
                _ if matches!(node.ty, Ty::Int | Ty::Bool) => false,
                _ => node.args.iter().any(|a| nodes[a.0]),
            };
            changed |= nodes[i];
        }
        stores(graph, code, &mut |v, n| {
            if nodes[n.0] && !vars[v.0] && is_float(graph.vars[v.0].ty) {
                vars[v.0] = true;
                changed = true;
            }
        });
        if !changed {
            return (nodes, vars);
        }
    }
}

/// Whether `v` is parameter `p` itself, not its adjoint (which names the parameter too).
fn primal_param(params: &[crate::graph::Param], p: usize, v: VarId) -> bool {
    params[p].var == Some(v)
}

/// Whether a variable may hold a float: one of a float type, or of the unknown type of a value
/// read from a struct's field.
fn is_float(ty: Ty) -> bool {
    matches!(ty, Ty::Float(_) | Ty::Other)
}

/// Calls `f(var, value)` for every statement that writes `value` into `var`; a call writes
/// every buffer it is passed `&mut`.
fn stores(graph: &Graph, block: &Block, f: &mut impl FnMut(VarId, NodeId)) {
    block.for_each_stmt(|stmt| match stmt {
        Stmt::Declare(v, Some(n)) | Stmt::Assign(v, n) => {
            f(*v, *n);
            let node = &graph.nodes[n.0];
            if let Op::Invoke(invoke) = &node.op {
                for (a, mode) in node.args.iter().zip(&invoke.modes) {
                    if let (Pass::Mut, Op::Array(w, _) | Op::Part(w)) = (mode, &graph.nodes[a.0].op)
                    {
                        f(*w, *n);
                    }
                }
            }
        }
        Stmt::Push(v, n) => f(*v, *n),
        Stmt::Store { var, value, .. } => f(*var, *value),
        Stmt::Node(_)
        | Stmt::Declare(_, None)
        | Stmt::Assert { .. }
        | Stmt::If { .. }
        | Stmt::For(Loop { .. })
        | Stmt::While { .. } => {}
    });
}

//! Tangents in lanes: `f_jvp_lanes`, forward mode carrying `L` directions at once, from which
//! `f_jacobian` takes `L` columns in one sweep.
//!
//! Forward-mode code is linear in its tangents: every tangent is a sum of tangents scaled by
//! local derivatives, which are primal values. The same code, with each tangent a
//! `::autodiff::private::Lanes<T, L>` and the seeds unit vectors, computes the primal values and
//! the local derivatives once for all `L` directions. Which values are lanes follows from the
//! seeds; the code is written in lanes only if every operation on lanes is one that linear code
//! has (lanes plus or minus lanes, lanes times or over a primal value, negation, a select, the
//! `0 · ∞` guard of a product, a call's tangent). A call's tangent is `Σ ṫₖ · ∂g/∂aₖ` from
//! `g_grad`, which `f_jacobian`'s reverse sweeps need anyway, as `g_jvp` carries one direction.
//! A value that is not lanes but is added to lanes or stored where lanes are is a constant's
//! tangent, zero, and is written in every lane. Anything else (a helper writing into buffers, a
//! tape of tangents, a generic float, a method) leaves the function without lanes, and
//! `f_jacobian` with one sweep per column.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::{Signature, Sweep};
use crate::graph::{Block, Graph, NodeId, Op, Shape, Stmt, VarId};
use crate::prim::Prim;

/// Which values and variables of a sweep are lanes.
pub struct LaneSet {
    pub nodes: Vec<bool>,
    pub vars: Vec<bool>,
    /// `::autodiff::private::Lanes<f64, L>`.
    pub ty: TokenStream,
}

impl LaneSet {
    /// A value that is not lanes, in every lane.
    pub fn splat(&self, value: &TokenStream) -> TokenStream {
        let ty = &self.ty;
        quote!(<#ty>::splat(#value))
    }
}

/// `::autodiff::private::Lanes<f64, LANES_>` for the function's float type, `LANES_` the const
/// parameter of `f_jvp_lanes`.
pub fn lane_type(graph: &Graph) -> TokenStream {
    let float = format_ident!("{}", graph.output_ty.name());
    quote!(::autodiff::private::Lanes<#float, LANES_>)
}

/// A parameter's type with its float type replaced by `lane`: `[f64; 3]` is `[Lanes; 3]`,
/// `&mut [f64]` is `&mut [Lanes]`.
pub fn replace_float(ty: &TokenStream, lane: &TokenStream) -> TokenStream {
    fn replace(ty: &syn::Type, lane: &TokenStream) -> TokenStream {
        match ty {
            syn::Type::Array(a) => {
                let (elem, len) = (replace(&a.elem, lane), &a.len);
                quote!([#elem; #len])
            }
            syn::Type::Slice(s) => {
                let elem = replace(&s.elem, lane);
                quote!([#elem])
            }
            syn::Type::Reference(r) => {
                let (mutability, elem) = (&r.mutability, replace(&r.elem, lane));
                quote!(& #mutability #elem)
            }
            syn::Type::Paren(p) => replace(&p.elem, lane),
            syn::Type::Group(g) => replace(&g.elem, lane),
            _ => lane.clone(),
        }
    }
    match syn::parse2::<syn::Type>(ty.clone()) {
        Ok(t) => replace(&t, lane),
        Err(_) => lane.clone(),
    }
}

/// Which values of `code` are lanes, from the tangent inputs `seeds` and `seed_vars`; `None` if
/// an operation on lanes is not one of linear code.
pub(super) fn analyse(
    sweep: &Sweep<'_>,
    code: &Block,
    seeds: &[NodeId],
    seed_vars: &[VarId],
    ty: TokenStream,
) -> Option<LaneSet> {
    let graph = sweep.graph;
    if graph.generic.is_some() {
        return None;
    }
    let mut nodes = vec![false; graph.nodes.len()];
    let mut vars = vec![false; graph.vars.len()];
    for s in seeds {
        nodes[s.0] = true;
    }
    for v in seed_vars {
        vars[v.0] = true;
    }
    // To a fixed point: a loop reads lanes stored after the read, and the forward pass may
    // refer to later nodes.
    loop {
        let mut changed = false;
        for (i, node) in graph.nodes.iter().enumerate() {
            if nodes[i] {
                continue;
            }
            let lane = match node.op {
                Op::Read(v) | Op::Load(v) | Op::Pop(v) | Op::Array(v, _) | Op::Part(v) => vars[v.0],
                Op::Len(_) => false,
                // The value of `g_jvp(..)`, not its tangent.
                Op::Field(0) if matches!(graph.node(node.args[0]).op, Op::CallJvp(_)) => false,
                _ => node.args.iter().any(|a| nodes[a.0]),
            };
            if lane {
                nodes[i] = true;
                changed = true;
            }
        }
        code.for_each_stmt(|stmt| {
            let (var, value) = match stmt {
                Stmt::Declare(v, Some(n)) | Stmt::Assign(v, n) | Stmt::Push(v, n) => (*v, *n),
                Stmt::Store { var, value, .. } => (*var, *value),
                _ => return,
            };
            if nodes[value.0] && !vars[var.0] {
                vars[var.0] = true;
                changed = true;
            }
        });
        if !changed {
            break;
        }
    }
    // Only the operations of linear code on lanes, in values that are written.
    for (i, node) in graph.nodes.iter().enumerate() {
        if !nodes[i] || !sweep.live[i] {
            continue;
        }
        let lane = |k: usize| nodes[node.args[k].0];
        let linear = match node.op {
            // An array of lanes is read whole only by a call's tangent, validated there.
            Op::Read(_)
            | Op::Load(_)
            | Op::Array(..)
            | Op::Part(_)
            | Op::Param(_)
            | Op::Seed(_)
            | Op::Prim(Prim::Add | Prim::Sub | Prim::Neg) => true,
            Op::Prim(Prim::Mul) => lane(0) != lane(1),
            Op::Prim(Prim::Div) => lane(0) && !lane(1),
            Op::Prim(Prim::ZeroWins) => lane(1),
            Op::Select => !lane(0),
            // A call's tangent, from `g_grad`: lanes are only the arguments' tangents, each
            // after its float argument.
            Op::CallJvp(ref c) => {
                let mut at = 0;
                let mut fits = true;
                for entry in c.entries() {
                    fits &= node.args.get(at).is_some_and(|a| !nodes[a.0]);
                    at += 1 + usize::from(entry.is_some());
                }
                fits && at == node.args.len()
            }
            Op::Field(1) => matches!(graph.node(node.args[0]).op, Op::CallJvp(_)),
            _ => false,
        };
        if !linear {
            return None;
        }
    }
    // Variables of lanes: scalars, arrays and buffers, never tapes; what is stored into them is
    // lanes or a scalar.
    let mut fits = true;
    code.for_each_stmt(|stmt| {
        let (var, value) = match stmt {
            Stmt::Declare(v, Some(n)) | Stmt::Assign(v, n) => (*v, Some(*n)),
            Stmt::Declare(v, None) => (*v, None),
            Stmt::Store { var, value, .. } => (*var, Some(*value)),
            Stmt::Push(v, _) => {
                fits &= !vars[v.0];
                return;
            }
            _ => return,
        };
        if !vars[var.0] {
            return;
        }
        fits &= !matches!(graph.vars[var.0].shape, Shape::Tape(_));
        if let Some(n) = value
            && !nodes[n.0]
        {
            let op = &graph.node(n).op;
            let scalar_into_array = matches!(op, Op::Fill(_) | Op::Vec | Op::Resized);
            let scalar = graph.node(n).ty.float().is_some()
                && !matches!(
                    op,
                    Op::Array(..) | Op::Part(_) | Op::Fill(_) | Op::Vec | Op::Resized
                );
            fits &= scalar || scalar_into_array;
        }
    });
    fits.then_some(LaneSet { nodes, vars, ty })
}

/// The hidden `f_jvp_lanes`: `f_jvp` with every tangent `lane`.
#[allow(clippy::too_many_arguments)]
pub(super) fn function(
    sig: &Signature<'_>,
    graph: &Graph,
    params: &[TokenStream],
    unread: &[TokenStream],
    body: &TokenStream,
    lane: &TokenStream,
    unit: bool,
) -> TokenStream {
    let name = sig.name("jvp_lanes");
    let use_original = sig.use_original(graph);
    let items = &graph.items;
    let output = &sig.output;
    let ret = if unit {
        TokenStream::new()
    } else {
        quote!(-> (#output, #lane))
    };
    let doc = format!(
        " [`{}`] along several directions at once: `{}_jvp` with each tangent in lanes, one per direction.\n\n Generated by `#[differentiate]`.",
        sig.link(graph),
        sig.ident()
    );
    let vis = sig.vis();
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[allow(dead_code, clippy::too_many_arguments)]
        #vis fn #name<const LANES_: usize>(#(#params),*) #ret {
            #use_original
            #(#items)*
            #(#unread)*
            #body
        }
    }
}

//! The derivative functions of a function with out-parameters (`out: &mut [f64]`).
//!
//! Its outputs are the buffers it writes, and its return value if it has one. Reverse mode
//! emits `f_vjp_into`: each slice parameter is followed by a buffer, as in `f_grad_into`; for
//! an input the function adds that input's gradient into it, for an out-parameter it holds the
//! adjoint of the output on entry (the seed) and, on return, the adjoint of what the buffer held
//! before the call (zero where the function overwrote it). A float return value takes its seed
//! last. The result is the returned value (if any) and the gradients of the other parameters.

use proc_macro2::TokenStream;
use quote::quote;

use super::{Inputs, Signature, doc_lines, gradient_type, stored_param};
use crate::graph::{Block, Graph, LitValue, Loop, Op, Shape, Stmt, VarId};
use crate::reverse::Adjoint;

/// What `reverse_fn` has laid out.
pub(super) struct Parts<'a> {
    pub adjoint: &'a Adjoint,
    pub inputs: &'a Inputs,
    /// Whether the function returns nothing.
    pub unit: bool,
    pub seed: Option<&'a proc_macro2::Ident>,
    pub body: &'a TokenStream,
    pub prelude: &'a [TokenStream],
    pub form: Form,
}

/// Which of the two functions `vjp_into` emits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `f_vjp_into`: the outputs written into the out-parameters, and the adjoints.
    Vjp,
    /// The hidden `f_adjoint_into` that callers' backward code calls: the adjoints alone, what
    /// the out-parameters hold on return unspecified ([`crate::reverse::discard`]).
    AdjointOnly,
    /// `f_adjoint_into` as a call of `f_vjp_into`, when the stores cannot be told apart from
    /// what reads them.
    AdjointByVjp,
}

pub(super) fn vjp_into(parts: &Parts<'_>) -> TokenStream {
    let Parts {
        adjoint,
        inputs,
        unit,
        seed,
        body,
        prelude,
        form,
    } = parts;
    let graph = &adjoint.graph;
    let sig = Signature::new(graph);
    let (generics, where_clause) = sig.generics();
    let receiver = Signature::receiver(graph);
    let use_original = sig.use_original(graph);
    let vjp_name = sig.name("vjp_into");
    let name = match form {
        Form::Vjp => vjp_name.clone(),
        Form::AdjointOnly | Form::AdjointByVjp => sig.name("adjoint_into"),
    };

    let mut params = Vec::new();
    // The arguments of a call of `f_vjp_into` with these parameters.
    let mut args = Vec::new();
    // Slices whose entry in `params` is two arguments, the slice and its buffer.
    let mut paired = 0;
    let mut checks = Vec::new();
    let mut buffers = Vec::new();
    let mut seeds = Vec::new();
    for (i, p) in graph.params.iter().enumerate() {
        let ident = inputs.param(graph, i);
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        match (p.active, &p.shape, adjoint.array_gradients.get(&i)) {
            (true, Shape::Slice, Some(d)) => {
                let d = inputs.var(*d).expect("named by reverse_fn");
                let float = super::element_type(p);
                params.push(quote!(#ident: #ty, #d: &mut [#float]));
                args.extend([quote!(#ident), quote!(#d)]);
                paired += 1;
                let message = format!("`{d}` must have the length of `{ident}`");
                checks.push(quote! {
                    let #d = ::autodiff::private::buffer(#d, #ident.len(), #message);
                });
                if p.out() {
                    seeds.push(format!("`{d}`"));
                } else {
                    buffers.push(format!("`{d}`"));
                }
            }
            // A wrapper passes a parameter on without changing it.
            _ if *form == Form::AdjointByVjp => {
                params.push(quote!(#ident: #ty));
                args.push(quote!(#ident));
            }
            _ => {
                params.push(quote!(#mutability #ident: #ty));
                args.push(quote!(#ident));
            }
        }
    }
    let output = &sig.output;
    if let Some(seed) = seed {
        params.push(quote!(#seed: #output));
        args.push(quote!(#seed));
    }
    let returned: Vec<&crate::graph::Param> = graph
        .params
        .iter()
        .filter(|p| p.active && !matches!(p.shape, Shape::Slice))
        .collect();
    let tys = returned.iter().map(|p| gradient_type(p));
    let ret = match (unit, returned.is_empty()) {
        (true, true) => TokenStream::new(),
        (true, false) => quote!(-> (#(#tys,)*)),
        (false, _) => quote!(-> (#output, #(#tys,)*)),
    };
    let mut entries: Vec<String> = returned
        .iter()
        .map(|p| format!("∂{}/∂{}", sig.ident(), p.name))
        .collect();
    if !*unit {
        entries.insert(0, sig.call(graph));
    }
    let mut lines = vec![
        format!(
            "The vector-Jacobian product of [`{}`], by reverse-mode automatic differentiation:",
            sig.link(graph)
        ),
        format!(
            "the buffer after each out-parameter ({}) holds the adjoint of that output on entry, and the",
            seeds.join(", ")
        ),
        "adjoint of what the buffer held before the call on return (zero where it is overwritten);"
            .to_owned(),
    ];
    if !buffers.is_empty() {
        lines.push(format!(
            "the gradient of each input slice is added into the buffer after it ({});",
            buffers.join(", ")
        ));
    }
    if seed.is_some() {
        lines.push("`seed` is the adjoint of the returned value;".to_owned());
    }
    lines.push(format!("returns `({})`.", entries.join(", ")));
    lines.extend([
        String::new(),
        "# Panics".to_owned(),
        String::new(),
        "If a buffer's length differs from its slice's.".to_owned(),
    ]);
    if *form != Form::Vjp {
        lines = vec![
            format!(
                "The adjoints of [`{}_vjp_into`] alone, for a caller's backward code: the same",
                sig.link(graph)
            ),
            "arguments and result, but what each out-parameter holds on return is unspecified."
                .to_owned(),
        ];
    }
    // Parameters only the removed stores read.
    if *form == Form::AdjointOnly {
        for i in crate::reverse::discard::unread_params(adjoint) {
            let ident = inputs.param(graph, i);
            checks.push(quote!(let _ = #ident;));
        }
    }
    let doc = doc_lines(&lines);
    let hidden = (*form != Form::Vjp).then(|| quote!(#[doc(hidden)]));
    let attrs: Vec<_> = sig.attrs().collect();
    let vis = sig.vis();
    let items = &graph.items;
    let arity = params.len() + paired + usize::from(graph.receiver.is_some());
    let many = (arity > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
    if *form == Form::AdjointByVjp {
        let vjp = Signature::sibling(graph, &vjp_name);
        return quote! {
            #(#doc)*
            #hidden
            #(#attrs)*
            #many
            #vis fn #name #generics(#receiver #(#params),*) #ret #where_clause {
                #vjp(#(#args),*)
            }
        };
    }
    quote! {
        #(#doc)*
        #hidden
        #(#attrs)*
        #many
        #vis fn #name #generics(#receiver #(#params),*) #ret #where_clause {
            #use_original
            #(#checks)*
            #(#items)*
            #(#prelude)*
            #body
        }
    }
}

/// `g_overwrites()`: whether `g` writes every element of each out-parameter before it reads
/// any, so that `g_vjp_into` never reads what the buffer held before the call. A caller's
/// forward sweep saves a buffer's elements before the call for `g_vjp_into` only when it is
/// false; the constant folds away. A method's is an associated function of its type.
pub(crate) fn overwrites_fn(graph: &Graph) -> TokenStream {
    let sig = Signature::new(graph);
    let name = sig.name("overwrites");
    let vis = sig.vis();
    let value = overwrites(graph);
    let doc = format!(
        " Whether [`{}`] writes every element of its out-parameters before reading any.",
        sig.link(graph)
    );
    quote! {
        #[doc = #doc]
        #[doc(hidden)]
        #[must_use]
        #[inline]
        #vis const fn #name() -> bool {
            #value
        }
    }
}

/// Whether the function writes every element of each out-parameter before it reads any: the
/// first top-level statement that touches the buffer (other than reading its length) is a loop
/// `for i in 0..out.len()` whose body stores `out[i]` unconditionally and reads nothing of
/// `out`.
pub(crate) fn overwrites(graph: &Graph) -> bool {
    let outs: Vec<VarId> = graph
        .params
        .iter()
        .filter(|p| p.out())
        .filter_map(|p| p.var)
        .collect();
    !outs.is_empty() && outs.iter().all(|&o| overwritten_first(graph, o))
}

fn overwritten_first(graph: &Graph, out: VarId) -> bool {
    for stmt in &graph.body.0 {
        if !touches(graph, stmt, out, true) {
            continue;
        }
        let Stmt::For(Loop {
            counter,
            start,
            end,
            inclusive: false,
            reverse: false,
            body,
            ..
        }) = stmt
        else {
            return false;
        };
        let from_zero = matches!(graph.node(*start).op, Op::Lit(LitValue::Int(0), _));
        let to_len = matches!(graph.node(*end).op, Op::Len(v) if v == out);
        let stored = body.0.iter().any(|s| {
            matches!(s, Stmt::Store { var, index, .. }
                if *var == out && matches!(graph.node(*index).op, Op::Counter(c) if c == *counter))
        });
        let reads = body.0.iter().any(|s| touches(graph, s, out, false));
        return from_zero && to_len && stored && !reads;
    }
    false
}

/// Whether `stmt` (or a statement nested in it) reads `out` (a load of an element, the buffer
/// or a part of it passed to a call), or, with `writes`, also writes it.
fn touches(graph: &Graph, stmt: &Stmt, out: VarId, writes: bool) -> bool {
    let mut found = false;
    let mut nodes = Vec::new();
    stmt.for_each_stmt(|s| match s {
        Stmt::Store { var, .. } | Stmt::Assign(var, _) if *var == out => found |= writes,
        _ => {}
    });
    let block = Block(vec![stmt.clone()]);
    block.for_each_use(&mut |n| nodes.push(n));
    let mut seen = crate::hash::HashSet::default();
    while let Some(n) = nodes.pop() {
        if !seen.insert(n) {
            continue;
        }
        let node = graph.node(n);
        if matches!(node.op, Op::Load(v) | Op::Array(v, _) | Op::Part(v) if v == out) {
            found = true;
        }
        nodes.extend(node.args.iter().copied());
    }
    found
}

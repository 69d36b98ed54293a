//! `f_hvp`, `f_hvp_into` and `f_hessian`: second order, from [`crate::second`].

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Inputs, Namer, Signature, Sweep, doc_lines, element_type, gradient_type, stored_param, zero_of,
};
use crate::forward::Seed;
use crate::graph::{NodeId, Op, Param, Shape};
use crate::names;
use crate::second::Hvp;

/// `f_hvp` (over `f_hvp_into` when the function takes slices) and `f_hessian`.
pub fn hvp_fns(hvp: &Hvp) -> TokenStream {
    let adjoint = &hvp.adjoint;
    let graph = &adjoint.graph;
    let sig = Signature::new(graph);
    let (generics, where_clause) = sig.generics();
    let use_original = sig.use_original(graph);
    let receiver = Signature::receiver(graph);
    let mut inputs = Inputs::new(graph);
    let active: Vec<(usize, &Param)> = graph
        .params
        .iter()
        .enumerate()
        .filter(|(_, p)| p.active)
        .collect();
    // A function with out-parameters gets `f_hvp_into` only, on `f_vjp_into`'s pattern: the
    // caller passes the outputs' adjoints (the seeds) and their tangents in buffers.
    let outs = graph.params.iter().any(Param::out);
    let unit = graph.sig.returns_unit();
    let has_slices = outs || active.iter().any(|(_, p)| matches!(p.shape, Shape::Slice));
    let zero = zero_of(graph);

    // Parameters: each active one followed by its direction, and with slices (in `f_hvp_into`)
    // by its gradient and `H·v` buffers.
    let mut params = Vec::new();
    let mut prelude = Vec::new();
    let mut length_checks = Vec::new();
    let mut directions = Vec::new();
    // `wrt(self)`: the direction of `self` comes first, as `self` does.
    if graph.self_active {
        let v = inputs.namer.fresh("v_self");
        params.push(quote!(#v: &Self));
        directions.push(v.clone());
        inputs
            .nodes
            .push((hvp.self_seed.unwrap_or(NodeId(usize::MAX)), v));
    }
    for (i, p) in graph.params.iter().enumerate() {
        let ident = inputs.param(graph, i).clone();
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        params.push(quote!(#mutability #ident: #ty));
        if !p.active {
            continue;
        }
        let v = inputs.namer.fresh(&format!("v_{}", names::plain(&p.name)));
        // A parameter the body stores into has a direction the tangent code stores into too.
        params.push(quote!(#mutability #v: #ty));
        directions.push(v.clone());
        match hvp.seeds.get(&i) {
            Some(Seed::Scalar(n)) => inputs.nodes.push((*n, v.clone())),
            Some(Seed::Array(var)) => inputs.vars.push((*var, v.clone())),
            None => inputs.nodes.push((NodeId(usize::MAX), v.clone())),
        }
        let (Some(&d), Some(&hv)) = (adjoint.array_gradients.get(&i), hvp.array_hvs.get(&i)) else {
            continue;
        };
        let d_ident = inputs.namer.fresh(&names::derivative(&p.name));
        let hv_ident = inputs.namer.fresh(&format!("hv_{}", names::plain(&p.name)));
        inputs.vars.push((d, d_ident.clone()));
        inputs.vars.push((hv, hv_ident.clone()));
        let float = element_type(p);
        // Zeros of the parameter's own float type, which in a function generic over `T` may be
        // `f64`.
        let zero = literal_of(0.0, &float, graph.generic.as_ref());
        match &p.shape {
            Shape::Array { len, .. } => {
                prelude.push(quote!(let mut #d_ident = [#zero; #len];));
                prelude.push(quote!(#[allow(unused_mut)] let mut #hv_ident = [#zero; #len];));
            }
            Shape::Slice => {
                params.push(quote!(#d_ident: &mut [#float]));
                params.push(quote!(#hv_ident: &mut [#float]));
                let whats = if p.out() {
                    ["adjoint", "adjoint's tangent"]
                } else {
                    ["gradient", "H·v"]
                };
                for (buffer, what) in [(&d_ident, whats[0]), (&hv_ident, whats[1])] {
                    let message =
                        format!("the {what} buffer `{buffer}` must have the length of `{ident}`");
                    length_checks.push(quote! {
                        let #buffer = ::autodiff::private::buffer(#buffer, #ident.len(), #message);
                    });
                }
                let message = format!("the direction `{v}` must have the length of `{ident}`");
                length_checks.push(
                    quote!(::autodiff::private::same_length(#v.len(), #ident.len(), #message);),
                );
            }
            _ => {}
        }
    }
    // A float returned beside the out-parameters: its seed and the seed's tangent come last.
    if let Some(seed) = adjoint.seed {
        let output = &sig.output;
        let s = inputs.namer.fresh("seed");
        let v = inputs.namer.fresh("v_seed");
        params.push(quote!(#s: #output));
        params.push(quote!(#v: #output));
        inputs.nodes.push((seed, s));
        inputs
            .nodes
            .push((hvp.seed_tangent.unwrap_or(NodeId(usize::MAX)), v));
    }
    let unread: Vec<TokenStream> = inputs
        .nodes
        .iter()
        .filter(|(n, _)| n.0 == usize::MAX)
        .map(|(_, d)| quote!(let _ = #d;))
        .collect();
    inputs.nodes.retain(|(n, _)| n.0 != usize::MAX);

    // Results: the value, the gradient as `f_grad` returns it, then `H·v` alike; slices' entries
    // are in their buffers.
    let mut results = vec![(Some(graph.output), "value".to_owned())];
    if unit {
        results.clear();
    }
    let mut hv_results = Vec::new();
    if let Some(g) = adjoint.self_gradient {
        results.push((Some(g), "d_self".to_owned()));
        hv_results.push((hvp.self_hv, "hv_self".to_owned()));
    }
    let gradients = adjoint.gradients();
    let mut scalar = gradients.iter().zip(&hvp.hvs);
    for (i, p) in &active {
        match p.shape {
            Shape::Scalar => {
                let (g, h) = scalar.next().expect("one gradient per scalar");
                results.push((*g, names::derivative(&p.name)));
                hv_results.push((*h, format!("hv_{}", names::plain(&p.name))));
            }
            Shape::Array { .. } => {
                let d = adjoint.array_gradients[i];
                results.push((adjoint.reads.get(&d).copied(), names::derivative(&p.name)));
                hv_results.push((
                    hvp.array_hv_reads.get(i).copied(),
                    format!("hv_{}", names::plain(&p.name)),
                ));
            }
            _ => {}
        }
    }
    results.extend(hv_results);
    let mut sweep = Sweep::new(
        graph,
        &hvp.code,
        &inputs.nodes,
        &inputs.vars,
        &results,
        &mut inputs.namer,
    );
    sweep.keep_pops(&hvp.tangent_pops);
    let body = sweep.body(&hvp.code, &inputs.nodes, &results);

    let vis = sig.vis();
    let output = &sig.output;
    let items = &graph.items;
    let attrs: Vec<_> = sig.attrs().collect();
    let f = sig.ident();
    let returned: Vec<&(usize, &Param)> = active
        .iter()
        .filter(|(_, p)| !matches!(p.shape, Shape::Slice))
        .collect();
    let self_ty = graph.self_active.then(|| quote!(Self));
    let tys: Vec<TokenStream> = self_ty
        .iter()
        .cloned()
        .chain(returned.iter().map(|(_, p)| gradient_type(p)))
        .collect();
    let entry_names: Vec<&str> = graph
        .self_active
        .then_some("self")
        .into_iter()
        .chain(
            active
                .iter()
                .filter(|(_, p)| !p.out())
                .map(|(_, p)| p.name.as_str()),
        )
        .collect();
    let grads: Vec<String> = entry_names.iter().map(|x| format!("∂{f}/∂{x}")).collect();
    let hvs: Vec<String> = entry_names.iter().map(|x| format!("(H·v)_{x}")).collect();
    let value = (!unit).then(|| sig.call(graph));
    let entries = format!(
        "returns `({})`",
        value
            .into_iter()
            .chain(grads.iter().cloned())
            .chain(hvs.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let name = sig.name("hvp");
    let many = (params.len() + usize::from(graph.receiver.is_some()) > 7)
        .then(|| quote!(#[allow(clippy::too_many_arguments)]));
    let mut out = TokenStream::new();
    let hvp_name = if has_slices {
        sig.name("hvp_into")
    } else {
        name.clone()
    };
    let doc = if outs {
        doc_lines(&[
            format!(
                "The vector-Jacobian product of [`{}`] and its tangent along the direction given after",
                sig.link(graph)
            ),
            "each parameter, by forward mode over the reverse sweep. Each out-parameter is followed by"
                .to_owned(),
            "the buffer of its tangent, which the function writes as `f_jvp` does, then by the adjoint"
                .to_owned(),
            "of the output (the seed, as in `f_vjp_into`) and that adjoint's tangent; both are the"
                .to_owned(),
            "adjoints of what the buffer held before the call on return. Each input slice is followed"
                .to_owned(),
            "by its direction and two buffers, into which the gradient and its tangent are added;"
                .to_owned(),
            format!("{entries} without the slices' entries."),
            String::new(),
            "# Panics".to_owned(),
            String::new(),
            "If a direction's or a buffer's length differs from its slice's.".to_owned(),
        ])
    } else if has_slices {
        doc_lines(&[
            format!(
                "The value of [`{}`], its gradient and the Hessian-vector product `H·v` along the",
                sig.link(graph)
            ),
            "direction given after each parameter, by forward mode over the reverse sweep, adding"
                .to_owned(),
            "the gradient and `H·v` of each slice into the two buffers after its direction;"
                .to_owned(),
            format!("{entries} without the slices' entries."),
            String::new(),
            "# Panics".to_owned(),
            String::new(),
            "If a direction's or a buffer's length differs from its slice's.".to_owned(),
        ])
    } else {
        doc_lines(&[
            format!(
                "The value of [`{}`], its gradient and the Hessian-vector product `H·v` along the",
                sig.link(graph)
            ),
            format!(
                "direction given after each parameter, by forward mode over the reverse sweep: {entries}."
            ),
        ])
    };
    let must_use = (!has_slices).then(|| quote!(#[must_use]));
    let value_ty = (!unit).then(|| quote!(#output,));
    quote! {
        #(#doc)*
        #(#attrs)*
        #many
        #must_use
        #[allow(clippy::type_complexity)]
        #vis fn #hvp_name #generics(#receiver #(#params),*) -> (#value_ty #(#tys,)* #(#tys,)*) #where_clause {
            #use_original
            #(#length_checks)*
            #(#items)*
            #(#unread)*
            #(#prelude)*
            #body
        }
    }
    .to_tokens_into(&mut out);
    if outs {
        return out;
    }

    // Plain values for the wrappers below.
    let mut locals = Namer::default();
    let plain_params: Vec<(usize, &Param, proc_macro2::Ident)> = graph
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| (i, p, inputs.param(graph, i).clone()))
        .collect();
    for (_, _, ident) in &plain_params {
        locals.fresh(&ident.to_string());
    }
    let signature: Vec<TokenStream> = plain_params
        .iter()
        .map(|(_, p, ident)| {
            let ty = &p.ty_tokens;
            let mutability = stored_param(graph, p).then(|| quote!(mut));
            quote!(#mutability #ident: #ty)
        })
        .collect();
    let all_tys: Vec<TokenStream> = self_ty
        .iter()
        .cloned()
        .chain(active.iter().map(|(_, p)| gradient_type(p)))
        .collect();

    if has_slices {
        // `f_hvp`: allocates the slices' buffers.
        let mut alloc = Vec::new();
        let mut args = Vec::new();
        let mut into_results = vec![quote!(value)];
        let mut into_hvs = Vec::new();
        let mut grads_out = vec![quote!(value)];
        let mut hvs_out = Vec::new();
        let mut hvp_params = Vec::new();
        locals.fresh("value");
        if graph.self_active {
            let v = locals.fresh("v_self");
            let d = locals.fresh("d_self");
            let hv = locals.fresh("hv_self");
            hvp_params.push(quote!(#v: &Self));
            args.push(quote!(#v));
            into_results.push(quote!(#d));
            into_hvs.push(quote!(#hv));
            grads_out.push(quote!(#d));
            hvs_out.push(quote!(#hv));
        }
        for (_, p, ident) in &plain_params {
            let ty = &p.ty_tokens;
            hvp_params.push(quote!(#ident: #ty));
            args.push(quote!(#ident));
            if !p.active {
                continue;
            }
            let v = locals.fresh(&format!("v_{}", names::plain(&p.name)));
            hvp_params.push(quote!(#v: #ty));
            args.push(quote!(#v));
            let d = locals.fresh(&names::derivative(&p.name));
            let hv = locals.fresh(&format!("hv_{}", names::plain(&p.name)));
            if matches!(p.shape, Shape::Slice) {
                let zero = literal_of(0.0, &element_type(p), graph.generic.as_ref());
                alloc.push(quote!(let mut #d = ::std::vec![#zero; #ident.len()];));
                alloc.push(quote!(let mut #hv = ::std::vec![#zero; #ident.len()];));
                args.push(quote!(&mut #d, &mut #hv));
            } else {
                into_results.push(quote!(#d));
                into_hvs.push(quote!(#hv));
            }
            grads_out.push(quote!(#d));
            hvs_out.push(quote!(#hv));
        }
        into_results.extend(into_hvs);
        let into_callee = Signature::sibling(graph, &hvp_name);
        let many = (hvp_params.len() + usize::from(graph.receiver.is_some()) > 7)
            .then(|| quote!(#[allow(clippy::too_many_arguments)]));
        let doc = doc_lines(&[
            format!(
                "The value of [`{}`], its gradient and the Hessian-vector product `H·v` along the",
                sig.link(graph)
            ),
            format!(
                "direction given after each parameter, by forward mode over the reverse sweep: {entries}."
            ),
            format!("[`{hvp_name}`] fills caller buffers instead of allocating."),
            String::new(),
            "# Panics".to_owned(),
            String::new(),
            "If a direction's length differs from its slice's.".to_owned(),
        ]);
        quote! {
            #(#doc)*
            #(#attrs)*
            #many
            #[must_use]
            #[allow(clippy::type_complexity)]
            #vis fn #name #generics(#receiver #(#hvp_params),*) -> (#output, #(#all_tys,)* #(#all_tys,)*) #where_clause {
                #(#alloc)*
                let (#(#into_results,)*) = #into_callee(#(#args),*);
                (#(#grads_out,)* #(#hvs_out,)*)
            }
        }
        .to_tokens_into(&mut out);
    }

    // `f_hessian`: one `H·v` along each unit direction, filling a row each; with slices through
    // `f_hvp_into`, whose buffers are allocated once and whose `H·v` adds into the zeroed row
    // itself. Then the two triangles are averaged, so that `hess` is symmetric exactly.
    let cast = |c: f64| {
        let c = proc_macro2::Literal::f64_unsuffixed(c);
        match &graph.generic {
            Some(t) => quote!(::autodiff::cast::<#t, f64>(#c)),
            None => quote!(#c),
        }
    };
    let half = cast(0.5);
    let generic = graph.generic.as_ref();
    // Names apart from the parameters.
    let mut own = Namer::default();
    for (_, _, ident) in &plain_params {
        own.fresh(&ident.to_string());
    }
    let k = own.fresh("k");
    let hess = own.fresh("hess");
    let n = own.fresh("n");
    let e = own.fresh("e");
    let j = own.fresh("j");
    let row_i = own.fresh("i");
    let value = own.fresh("value");
    let rest = own.fresh("rest");
    let x_ = own.fresh("x");
    let sym = own.fresh("s");
    let entry = own.fresh("entry");
    // What each active input is to the flattening: `self` first, then the parameters.
    let mut entries: Vec<Entry> = Vec::new();
    if let Some(g) = adjoint.self_gradient {
        entries.push(Entry {
            param: None,
            name: "self".to_owned(),
            kind: Kind::Struct {
                base: quote!(self),
                ty: quote!(Self),
                by_ref: true,
                leaves: leaves_of(graph, g),
            },
        });
    }
    for (i, p) in &active {
        let ident = &plain_params[*i].2;
        let kind = match &p.shape {
            Shape::Scalar if p.fields() => Kind::Struct {
                base: quote!(#ident),
                ty: gradient_type(p),
                by_ref: is_reference(&p.ty_tokens),
                leaves: adjoint
                    .adjoint_of
                    .get(&p.node)
                    .map(|&g| leaves_of(graph, g))
                    .unwrap_or_default(),
            },
            Shape::Scalar => Kind::Scalar { by_ref: p.by_ref },
            Shape::Array { len, by_ref } => Kind::Array {
                len: len.clone(),
                by_ref: *by_ref,
            },
            _ => Kind::Slice,
        };
        entries.push(Entry {
            param: Some(*i),
            name: p.name.clone(),
            kind,
        });
    }
    // With a slice or a struct, `N` is known only at run time: `hess` is a `Vec`, each row split
    // into the entries' parts.
    let dynamic = entries.iter().any(|x| !x.kind.fixed());
    // The offset of each entry in the flattened input, and its length.
    let mut scalars = 0usize;
    let mut sized: Vec<TokenStream> = Vec::new();
    let mut layout = Vec::new();
    for x in &entries {
        let here = offset_tokens(scalars, &sized);
        let len = match &x.kind {
            Kind::Scalar { .. } => {
                scalars += 1;
                None
            }
            Kind::Array { len, .. } => {
                sized.push(quote!((#len)));
                Some(len.clone())
            }
            Kind::Slice => {
                let x = &plain_params[x.param.expect("a slice parameter")].2;
                sized.push(quote!(#x.len()));
                Some(quote!(#x.len()))
            }
            Kind::Struct { base, leaves, .. } => {
                let width = struct_layout(base, leaves).1;
                sized.push(quote!((#width)));
                Some(width)
            }
        };
        layout.push((here, len));
    }
    let total = offset_tokens(scalars, &sized);
    // Sets entry `k - at` of the array `v` to `x`, if `k` falls in it.
    let set = |v: &TokenStream, at: &TokenStream, x: &TokenStream| {
        quote! {
            if let Some(#e) = #k.checked_sub(#at).and_then(|#j| #v.get_mut(#j)) {
                *#e = #x;
            }
        }
    };
    let mut once = Vec::new();
    let mut directions = Vec::new();
    let mut resets = Vec::new();
    let mut splits = Vec::new();
    // The arguments of each call, by parameter (`None`: `self`'s direction, first).
    let mut direction_args: Vec<(Option<usize>, TokenStream, TokenStream)> = Vec::new();
    let mut fill = Vec::new();
    let mut grads_returned = Vec::new();
    let mut hvs_returned = Vec::new();
    let mut grads_out = vec![value.clone()];
    let mut remaining = entries.len();
    for (x, (at, len)) in entries.iter().zip(&layout) {
        let plain = names::plain(&x.name);
        let v = own.fresh(&format!("v_{plain}"));
        let d = own.fresh(&names::derivative(&x.name));
        let hv = own.fresh(&format!("hv_{plain}"));
        // With a dynamic layout, this entry's part of the row.
        let h = own.fresh(&format!("row_{plain}"));
        remaining -= 1;
        if dynamic {
            let width = len.clone().unwrap_or_else(|| quote!(1));
            splits.push(if remaining == 0 {
                quote!(let #h = #rest;)
            } else {
                quote!(let (#h, #rest) = #rest.split_at_mut(#width);)
            });
        }
        grads_out.push(d.clone());
        let mut args = |first: TokenStream, rest: TokenStream| {
            direction_args.push((x.param, first, rest));
        };
        // A float parameter's element type, its direction's constants in it, and an entry of its
        // `H·v` converted into `hess`'s type (the output's, as `f_jacobian`'s `jac` is).
        let elem = x
            .param
            .map_or_else(|| output.clone(), |i| element_type(&graph.params[i]));
        let (one, zero) = (
            literal_of(1.0, &elem, generic),
            literal_of(0.0, &elem, generic),
        );
        let same = elem.to_string() == output.to_string();
        let to_output = |x: &TokenStream| convert(x, &elem, output, generic);
        // `dst[..] = src[..]`, entry by entry converted where the types differ.
        let copy = |dst: TokenStream, src: TokenStream| {
            if same {
                quote!(#dst.copy_from_slice(&#src);)
            } else {
                let value = to_output(&quote!(*#x_));
                quote! {
                    for (#e, #x_) in #dst.iter_mut().zip(&#src) {
                        *#e = #value;
                    }
                }
            }
        };
        match &x.kind {
            Kind::Scalar { by_ref } => {
                directions.push(quote!(let #v = if #k == #at { #one } else { #zero };));
                let by_ref = by_ref.then(|| quote!(&));
                args(quote!(#by_ref #v), quote!(#by_ref #v));
                let value = to_output(&quote!(#hv));
                fill.push(if dynamic {
                    quote!(#h[0] = #value;)
                } else {
                    quote!(#hess[#k][#at] = #value;)
                });
                grads_returned.push(d);
                hvs_returned.push(hv);
            }
            Kind::Array { len, by_ref } => {
                let one_at = set(&quote!(#v), at, &one);
                directions.push(quote! {
                    let mut #v = [#zero; #len];
                    #one_at
                });
                let by_ref = by_ref.then(|| quote!(&));
                args(quote!(#by_ref #v), quote!(#by_ref #v));
                fill.push(if dynamic {
                    copy(quote!(#h), quote!(#hv))
                } else {
                    copy(quote!(#hess[#k][#at..#at + #len]), quote!(#hv))
                });
                grads_returned.push(d);
                hvs_returned.push(hv);
            }
            Kind::Slice => {
                let ident = &plain_params[x.param.expect("a slice parameter")].2;
                let sink = own.fresh(&format!("sink_{plain}"));
                once.push(quote! {
                    let mut #v = ::std::vec![#zero; #ident.len()];
                    let mut #d = ::std::vec![#zero; #ident.len()];
                    let mut #sink = ::std::vec![#zero; #ident.len()];
                });
                directions.push(set(&quote!(#v), at, &one));
                resets.push(set(&quote!(#v), at, &zero));
                if same {
                    // `f_hvp_into` adds `H·v` into the zeroed row itself.
                    args(quote!(&#v, &mut #d, #h), quote!(&#v, &mut #sink, #h));
                } else {
                    // Of another type than the row: into a buffer of the slice's type, zeroed
                    // again after its entries are converted into the row.
                    let buffer = own.fresh(&format!("hv_row_{plain}"));
                    once.push(quote!(let mut #buffer = ::std::vec![#zero; #ident.len()];));
                    args(
                        quote!(&#v, &mut #d, &mut #buffer),
                        quote!(&#v, &mut #sink, &mut #buffer),
                    );
                    let value = to_output(&quote!(*#x_));
                    fill.push(quote! {
                        for (#e, #x_) in #h.iter_mut().zip(#buffer.iter_mut()) {
                            *#e = #value;
                            *#x_ = #zero;
                        }
                    });
                }
            }
            Kind::Struct {
                base,
                ty,
                by_ref,
                leaves,
            } => {
                // The direction: a `P` whose fields the gradient holds are zeros of their
                // lengths, made once; each row sets one entry to 1 and back.
                let (offsets, _) = struct_layout(base, leaves);
                let mut zeros = Vec::new();
                for ((path, array), o) in leaves.iter().zip(&offsets) {
                    let field = quote!(#v.#path);
                    let at = quote!(#at + #o);
                    if *array {
                        zeros.push(quote! {
                            #entry.#path = ::autodiff::FieldGradient::from_gradient(&::std::vec![#zero; #base.#path.len()][..]);
                        });
                        directions.push(set(&field, &at, &one));
                        resets.push(set(&field, &at, &zero));
                        fill.push(match generic {
                            Some(_) => quote! {
                                #h[#o..#o + #base.#path.len()].copy_from_slice(&#hv.#path[..]);
                            },
                            None => quote! {
                                for (#e, #x_) in #h[#o..#o + #base.#path.len()].iter_mut().zip(&#hv.#path[..]) {
                                    *#e = *#x_ as #output;
                                }
                            },
                        });
                    } else {
                        zeros.push(quote!(#entry.#path = #zero;));
                        directions.push(quote!(#field = if #k == #at { #one } else { #zero };));
                        fill.push(match generic {
                            Some(_) => quote!(#h[#o] = #hv.#path;),
                            None => quote!(#h[#o] = #hv.#path as #output;),
                        });
                    }
                }
                once.push(if zeros.is_empty() {
                    quote!(let #v = <#ty as ::core::default::Default>::default();)
                } else {
                    quote! {
                        let mut #v = ::autodiff::gradient_of(|#entry: &mut #ty| { #(#zeros)* });
                    }
                });
                if *by_ref {
                    args(quote!(&#v), quote!(&#v));
                } else {
                    args(quote!(#v.clone()), quote!(#v.clone()));
                }
                grads_returned.push(d);
                hvs_returned.push(hv);
            }
        }
    }
    // The calls' arguments: each parameter (a struct passed by value, cloned: every row takes
    // it), an active one followed by its direction.
    let mut args_first = Vec::new();
    let mut args_rest = Vec::new();
    let mut by_param = direction_args.into_iter().peekable();
    if let Some((None, first, rest)) = by_param.next_if(|(p, ..)| p.is_none()) {
        args_first.push(first);
        args_rest.push(rest);
    }
    for (i, p, ident) in &plain_params {
        let passed = if by_value_struct(graph, p) {
            quote!(#ident.clone())
        } else {
            quote!(#ident)
        };
        args_first.push(passed.clone());
        args_rest.push(passed);
        if let Some((_, first, rest)) = by_param.next_if(|(q, ..)| *q == Some(*i)) {
            args_first.push(first);
            args_rest.push(rest);
        }
    }
    let ignored = grads_returned.iter().map(|_| quote!(_));
    let callee = if has_slices { &hvp_name } else { &name };
    let callee = Signature::sibling(graph, callee);
    let hessian = sig.name("hessian");
    let (hess_ty, hess_init, upper, lower, row) = if dynamic {
        (
            quote!(::std::vec::Vec<#output>),
            quote!(::std::vec![#zero; #n * #n]),
            quote!(#hess[#j * #n + #row_i]),
            quote!(#hess[#row_i * #n + #j]),
            quote!(let #rest = &mut #hess[#k * #n..#k * #n + #n];),
        )
    } else {
        (
            quote!([[#output; #total]; #total]),
            quote!([[#zero; #total]; #total]),
            quote!(#hess[#j][#row_i]),
            quote!(#hess[#row_i][#j]),
            TokenStream::new(),
        )
    };
    // Without a dynamic layout, a row exists only if `n > 0`.
    let first_fill = if dynamic {
        quote!(#(#fill)*)
    } else {
        quote!(if #n > 0 { #(#fill)* })
    };
    let mut doc = vec![
        format!(
            "The value of [`{}`], its gradient and its Hessian, by one Hessian-vector product per",
            sig.link(graph)
        ),
        format!(
            "active input: returns `({}, {}, hess)`, with the inputs flattened in order; `hess` is {},",
            sig.call(graph),
            grads.join(", "),
            if dynamic {
                "a `Vec` of length N·N, row-major"
            } else {
                "an N × N array"
            }
        ),
        "symmetric: the two triangles' entries, equal but for rounding, are averaged.".to_owned(),
    ];
    if let Some(structs) = struct_note(&entries) {
        doc.push(String::new());
        doc.push(structs);
    }
    let doc = doc_lines(&doc);
    let many = (signature.len() + usize::from(graph.receiver.is_some()) > 7)
        .then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        #(#doc)*
        #(#attrs)*
        #many
        #[must_use]
        #[allow(clippy::type_complexity, clippy::identity_op, clippy::needless_range_loop, clippy::clone_on_copy, clippy::redundant_clone, clippy::unnecessary_cast)]
        #vis fn #hessian #generics(#receiver #(#signature),*) -> (#output, #(#all_tys,)* #hess_ty) #where_clause {
            let #n: usize = #total;
            let mut #hess: #hess_ty = #hess_init;
            #(#once)*
            let (#value, #(#grads_returned,)*) = {
                let #k: usize = 0;
                #(#directions)*
                #row
                #(#splits)*
                let (#value, #(#grads_returned,)* #(#hvs_returned,)*) = #callee(#(#args_first),*);
                #first_fill
                #(#resets)*
                (#value, #(#grads_returned,)*)
            };
            for #k in 1..#n {
                #(#directions)*
                #row
                #(#splits)*
                let (_, #(#ignored,)* #(#hvs_returned,)*) = #callee(#(#args_rest),*);
                #(#fill)*
                #(#resets)*
            }
            for #row_i in 0..#n {
                for #j in 0..#row_i {
                    let #sym = #half * #lower + #half * #upper;
                    #lower = #sym;
                    #upper = #sym;
                }
            }
            (#(#grads_out,)* #hess)
        }
    }
    .to_tokens_into(&mut out);
    out
}

/// An active input of `f_hessian`: `self` (no parameter) or a parameter.
struct Entry {
    param: Option<usize>,
    name: String,
    kind: Kind,
}

/// How an active input is flattened.
enum Kind {
    /// A float, `by_ref` for `&f64`.
    Scalar {
        by_ref: bool,
    },
    Array {
        len: TokenStream,
        by_ref: bool,
    },
    Slice,
    /// A struct named in `wrt`, or `self`: the fields its gradient entry holds, in the order
    /// the body first reads them, arrays element by element.
    Struct {
        /// How `f_hessian` names it: the parameter, or `self`.
        base: TokenStream,
        /// `P`, or `Self`.
        ty: TokenStream,
        by_ref: bool,
        /// Each field's path and whether it is an array.
        leaves: Vec<(TokenStream, bool)>,
    },
}

impl Kind {
    /// Whether its length is known at compile time.
    fn fixed(&self) -> bool {
        matches!(self, Kind::Scalar { .. } | Kind::Array { .. })
    }
}

/// The fields a struct's gradient entry `g` holds.
fn leaves_of(graph: &crate::graph::Graph, g: NodeId) -> Vec<(TokenStream, bool)> {
    match &graph.nodes[g.0].op {
        Op::Gradient(gradient) => gradient.fields.clone(),
        _ => Vec::new(),
    }
}

/// The offset of each field of a struct in its part of the flattened input, and the part's
/// length: a scalar field is one entry, an array field `base.path.len()`.
fn struct_layout(
    base: &TokenStream,
    leaves: &[(TokenStream, bool)],
) -> (Vec<TokenStream>, TokenStream) {
    let mut scalars = 0usize;
    let mut sized = Vec::new();
    let mut offsets = Vec::new();
    for (path, array) in leaves {
        offsets.push(offset_tokens(scalars, &sized));
        if *array {
            sized.push(quote!(#base.#path.len()));
        } else {
            scalars += 1;
        }
    }
    (offsets, offset_tokens(scalars, &sized))
}

/// The documentation's note on how struct inputs are flattened, if there are any.
fn struct_note(entries: &[Entry]) -> Option<String> {
    let parts: Vec<String> = entries
        .iter()
        .filter_map(|x| match &x.kind {
            Kind::Struct { leaves, .. } => {
                let fields: Vec<String> = leaves
                    .iter()
                    .map(|(path, array)| {
                        let path = path.to_string().replace(' ', "");
                        if *array {
                            format!("{}.{path}[..]", x.name)
                        } else {
                            format!("{}.{path}", x.name)
                        }
                    })
                    .collect();
                Some(if fields.is_empty() {
                    format!("`{}` has no entries", x.name)
                } else {
                    format!("`{}` is `{}`", x.name, fields.join(", "))
                })
            }
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| {
        format!(
            "A struct's part is the fields its gradient entry holds, arrays element by element: {}.",
            parts.join("; ")
        )
    })
}

/// Whether a type is a reference, `&P`.
fn is_reference(ty: &TokenStream) -> bool {
    matches!(
        syn::parse2::<syn::Type>(ty.clone()),
        Ok(syn::Type::Reference(_))
    )
}

/// Whether a parameter is a struct passed by value, which each row's call takes a clone of.
fn by_value_struct(graph: &crate::graph::Graph, p: &Param) -> bool {
    p.var.is_none()
        && p.float.is_none()
        && graph.nodes[p.node.0].ty == crate::graph::Ty::Other
        && !is_reference(&p.ty_tokens)
}

/// `x`, a value of float type `from`, as a value of float type `to`: itself when they are the
/// same, else `f64::from` (lossless), an `as` cast (rounding to `f32`), or, in a function generic
/// over `T`, `autodiff::cast`. A `hess` of mixed-precision inputs is of the output's type, as
/// `f_jacobian`'s `jac` is: each entry of an `H·v` of another type is converted into it.
fn convert(
    x: &TokenStream,
    from: &TokenStream,
    to: &TokenStream,
    generic: Option<&proc_macro2::Ident>,
) -> TokenStream {
    let (f, t) = (from.to_string(), to.to_string());
    if f == t {
        return x.clone();
    }
    match generic {
        Some(_) => quote!(::autodiff::cast::<#to, _>(#x)),
        None if f == "f32" && t == "f64" => quote!(::core::primitive::f64::from(#x)),
        None => quote!(#x as #to),
    }
}

/// The constant `c` as a value of float type `elem`: spelled through `T` where `elem` is the
/// generic `T`, else an unsuffixed literal whose type the context gives.
fn literal_of(c: f64, elem: &TokenStream, generic: Option<&proc_macro2::Ident>) -> TokenStream {
    let c = proc_macro2::Literal::f64_unsuffixed(c);
    match generic {
        Some(t) if t == &elem.to_string() => quote!(::autodiff::cast::<#t, f64>(#c)),
        _ => quote!(#c),
    }
}

/// `scalars + len₁ + len₂ + ...`, the offset after the parameters laid out so far.
fn offset_tokens(scalars: usize, sized: &[TokenStream]) -> TokenStream {
    let mut terms: Vec<TokenStream> = Vec::new();
    if scalars > 0 || sized.is_empty() {
        terms.push(quote!(#scalars));
    }
    terms.extend(sized.iter().cloned());
    quote!(#(#terms)+*)
}

trait IntoTokens {
    fn to_tokens_into(self, out: &mut TokenStream);
}

impl IntoTokens for TokenStream {
    fn to_tokens_into(self, out: &mut TokenStream) {
        out.extend(self);
    }
}

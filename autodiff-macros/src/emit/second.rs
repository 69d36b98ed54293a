//! `f_hvp`, `f_hvp_into` and `f_hessian`: second order, from [`crate::second`].

use proc_macro2::TokenStream;
use quote::quote;

use super::{
    Inputs, Namer, Signature, Sweep, doc_lines, element_type, gradient_type, stored_param, zero_of,
};
use crate::forward::Seed;
use crate::graph::{NodeId, Param, Shape};
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
    let has_slices = active.iter().any(|(_, p)| matches!(p.shape, Shape::Slice));
    let zero = zero_of(graph);

    // Parameters: each active one followed by its direction, and with slices (in `f_hvp_into`)
    // by its gradient and `H·v` buffers.
    let mut params = Vec::new();
    let mut prelude = Vec::new();
    let mut length_checks = Vec::new();
    let mut directions = Vec::new();
    for (i, p) in graph.params.iter().enumerate() {
        let ident = inputs.param(graph, i).clone();
        let ty = &p.ty_tokens;
        let mutability = stored_param(graph, p).then(|| quote!(mut));
        params.push(quote!(#mutability #ident: #ty));
        if !p.active {
            continue;
        }
        let v = inputs.namer.fresh(&format!("v_{}", names::plain(&p.name)));
        params.push(quote!(#v: #ty));
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
        match &p.shape {
            Shape::Array { len, .. } => {
                prelude.push(quote!(let mut #d_ident = [#zero; #len];));
                prelude.push(quote!(#[allow(unused_mut)] let mut #hv_ident = [#zero; #len];));
            }
            Shape::Slice => {
                params.push(quote!(#d_ident: &mut [#float]));
                params.push(quote!(#hv_ident: &mut [#float]));
                for (buffer, what) in [(&d_ident, "gradient"), (&hv_ident, "H·v")] {
                    let message =
                        format!("the {what} buffer `{buffer}` must have the length of `{ident}`");
                    length_checks.push(quote! {
                        ::core::assert_eq!(#buffer.len(), #ident.len(), #message);
                        let #buffer = &mut #buffer[..#ident.len()];
                    });
                }
                let message = format!("the direction `{v}` must have the length of `{ident}`");
                length_checks.push(quote!(::core::assert_eq!(#v.len(), #ident.len(), #message);));
            }
            _ => {}
        }
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
    let mut hv_results = Vec::new();
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
    let tys: Vec<TokenStream> = returned.iter().map(|(_, p)| gradient_type(p)).collect();
    let grads: Vec<String> = active
        .iter()
        .map(|(_, p)| format!("∂{f}/∂{}", p.name))
        .collect();
    let hvs: Vec<String> = active
        .iter()
        .map(|(_, p)| format!("(H·v)_{}", p.name))
        .collect();
    let entries = format!(
        "returns `({}, {}, {})`",
        sig.call(graph),
        grads.join(", "),
        hvs.join(", ")
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
    let doc = if has_slices {
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
    quote! {
        #(#doc)*
        #(#attrs)*
        #many
        #must_use
        #[allow(clippy::type_complexity)]
        #vis fn #hvp_name #generics(#receiver #(#params),*) -> (#output, #(#tys,)* #(#tys,)*) #where_clause {
            #use_original
            #(#length_checks)*
            #(#items)*
            #(#unread)*
            #(#prelude)*
            #body
        }
    }
    .to_tokens_into(&mut out);

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
    let all_tys: Vec<TokenStream> = active.iter().map(|(_, p)| gradient_type(p)).collect();

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
        let into_callee = match graph.receiver {
            Some(_) => quote!(self.#hvp_name),
            None => quote!(#hvp_name),
        };
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
    let (one, half) = (cast(1.0), cast(0.5));
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
    let sym = own.fresh("s");
    // The offset of each active parameter in the flattened input, and its length.
    let mut offset = quote!(0);
    let mut scalars = 0usize;
    let mut sized: Vec<TokenStream> = Vec::new();
    let mut layout = Vec::new();
    for (i, p) in &active {
        let here = offset_tokens(scalars, &sized);
        let len = match &p.shape {
            Shape::Scalar => {
                scalars += 1;
                None
            }
            Shape::Array { len, .. } => {
                sized.push(quote!((#len)));
                Some(len.clone())
            }
            _ => {
                let x = &plain_params[*i].2;
                sized.push(quote!(#x.len()));
                Some(quote!(#x.len()))
            }
        };
        layout.push((here, len));
        offset = offset_tokens(scalars, &sized);
    }
    let total = offset;
    // Sets entry `k - at` of a direction `v` to `x`, if `k` falls in it.
    let set = |v: &proc_macro2::Ident, at: &TokenStream, x: &TokenStream| {
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
    let mut args_first = Vec::new();
    let mut args_rest = Vec::new();
    let mut fill = Vec::new();
    let mut grads_returned = Vec::new();
    let mut hvs_returned = Vec::new();
    let mut grads_out = vec![value.clone()];
    let mut layout_iter = layout.iter();
    let mut remaining = active.len();
    for (_, p, ident) in &plain_params {
        args_first.push(quote!(#ident));
        args_rest.push(quote!(#ident));
        if !p.active {
            continue;
        }
        let (at, len) = layout_iter.next().expect("laid out");
        let plain = names::plain(&p.name);
        let v = own.fresh(&format!("v_{plain}"));
        let d = own.fresh(&names::derivative(&p.name));
        let hv = own.fresh(&format!("hv_{plain}"));
        // With slices, this parameter's part of the row.
        let h = own.fresh(&format!("row_{plain}"));
        remaining -= 1;
        if has_slices {
            let width = len.clone().unwrap_or_else(|| quote!(1));
            splits.push(if remaining == 0 {
                quote!(let #h = #rest;)
            } else {
                quote!(let (#h, #rest) = #rest.split_at_mut(#width);)
            });
        }
        grads_out.push(d.clone());
        match &p.shape {
            Shape::Scalar => {
                directions.push(quote!(let #v = if #k == #at { #one } else { #zero };));
                args_first.push(quote!(#v));
                args_rest.push(quote!(#v));
                fill.push(if has_slices {
                    quote!(#h[0] = #hv;)
                } else {
                    quote!(#hess[#k][#at] = #hv;)
                });
                grads_returned.push(d);
                hvs_returned.push(hv);
            }
            Shape::Array { len, by_ref } => {
                let one_at = set(&v, at, &one);
                directions.push(quote! {
                    let mut #v = [#zero; #len];
                    #one_at
                });
                let by_ref = by_ref.then(|| quote!(&));
                args_first.push(quote!(#by_ref #v));
                args_rest.push(quote!(#by_ref #v));
                fill.push(if has_slices {
                    quote!(#h.copy_from_slice(&#hv);)
                } else {
                    quote!(#hess[#k][#at..#at + #len].copy_from_slice(&#hv);)
                });
                grads_returned.push(d);
                hvs_returned.push(hv);
            }
            _ => {
                let sink = own.fresh(&format!("sink_{plain}"));
                once.push(quote! {
                    let mut #v = ::std::vec![#zero; #ident.len()];
                    let mut #d = ::std::vec![#zero; #ident.len()];
                    let mut #sink = ::std::vec![#zero; #ident.len()];
                });
                directions.push(set(&v, at, &one));
                resets.push(set(&v, at, &zero));
                args_first.push(quote!(&#v, &mut #d, #h));
                args_rest.push(quote!(&#v, &mut #sink, #h));
            }
        }
    }
    let ignored = grads_returned.iter().map(|_| quote!(_));
    let callee = if has_slices { &hvp_name } else { &name };
    let callee = match graph.receiver {
        Some(_) => quote!(self.#callee),
        None => quote!(#callee),
    };
    let hessian = sig.name("hessian");
    let (hess_ty, hess_init, upper, lower, row) = if has_slices {
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
    // Without slices, a row exists only if `n > 0`.
    let first_fill = if has_slices {
        quote!(#(#fill)*)
    } else {
        quote!(if #n > 0 { #(#fill)* })
    };
    let doc = doc_lines(&[
        format!(
            "The value of [`{}`], its gradient and its Hessian, by one Hessian-vector product per",
            sig.link(graph)
        ),
        format!(
            "active input: returns `({}, {}, hess)`, with the inputs flattened in order; `hess` is {},",
            sig.call(graph),
            grads.join(", "),
            if has_slices {
                "a `Vec` of length N·N, row-major"
            } else {
                "an N × N array"
            }
        ),
        "symmetric: the two triangles' entries, equal but for rounding, are averaged.".to_owned(),
    ]);
    let many = (signature.len() + usize::from(graph.receiver.is_some()) > 7)
        .then(|| quote!(#[allow(clippy::too_many_arguments)]));
    quote! {
        #(#doc)*
        #(#attrs)*
        #many
        #[must_use]
        #[allow(clippy::type_complexity, clippy::identity_op, clippy::needless_range_loop)]
        #vis fn #hessian #generics(#receiver #(#signature),*) -> (#output, #(#all_tys,)* #hess_ty) #where_clause {
            let #n: usize = #total;
            let mut #hess = #hess_init;
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

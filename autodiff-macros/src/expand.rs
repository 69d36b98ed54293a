//! The driver: runs the stages in order and assembles the output.
//!
//! options → lower → reverse / forward → emit. The original function is always emitted as
//! written; when any stage reports errors they are emitted beside it, so the rest of the user's
//! crate still type-checks and only the attribute's mistakes are shown.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::ItemFn;

use crate::options::Options;
use crate::{draw, emit, forward, lower, options, outputs, reverse, second};

pub mod context;

use context::{Context, Place};

/// The stack of the thread that expands a function nested beyond the limits of rustc's 8 MiB:
/// reserved, and used only as deep as the function needs (a few megabytes for the deepest
/// nesting rustc itself compiles).
const DEEP_STACK: usize = 1 << 30;

/// Expands `#[differentiate(attr)] item`, a function written at module level or where its
/// tokens show it.
#[cfg(test)]
pub fn differentiate(attr: TokenStream, item: &TokenStream) -> TokenStream {
    differentiate_in(attr, item, &Context::default())
}

/// Expands `#[differentiate(attr)] item`, a function written where `context` says.
pub fn differentiate_in(attr: TokenStream, item: &TokenStream, context: &Context) -> TokenStream {
    let (head, generated) = parts(attr, item, context);
    quote!(#head #item #generated)
}

/// Expands `#[differentiate(attr)] item` as [`differentiate`] does, and where a limit of nesting
/// refuses it, expands it again on a thread with a stack large enough for the deepest nesting
/// rustc compiles. Tokens cannot cross threads (the compiler's live on the macro's thread), so
/// that thread reads and writes them as text, with `proc_macro2`'s own implementation: its
/// output has no spans, so the function's own tokens are kept from the input and an error of
/// the deep expansion points at the attribute.
pub fn differentiate_at_any_depth(
    attr: &TokenStream,
    item: &TokenStream,
    context: Context,
) -> TokenStream {
    lower::take_limit_met();
    let expanded = differentiate_in(attr.clone(), item, &context);
    if !lower::take_limit_met() {
        return expanded;
    }
    let (attr_text, item_text) = (attr.to_string(), item.to_string());
    proc_macro2::fallback::force();
    let deep = std::thread::Builder::new()
        .name("differentiate".into())
        .stack_size(DEEP_STACK)
        .spawn(move || {
            lower::set_deep();
            let attr: TokenStream = attr_text.parse().expect("printed tokens parse again");
            let item: TokenStream = item_text.parse().expect("printed tokens parse again");
            let (head, generated) = parts(attr, &item, &context);
            (head.to_string(), generated.to_string())
        })
        .map(std::thread::JoinHandle::join);
    proc_macro2::fallback::unforce();
    match deep {
        Ok(Ok((head, generated))) => {
            let head: TokenStream = head.parse().expect("printed tokens parse again");
            let generated: TokenStream = generated.parse().expect("printed tokens parse again");
            quote!(#head #item #generated)
        }
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        // No thread: the refusal stands.
        Err(_) => expanded,
    }
}

/// What goes before the function as written (attributes) and after it (the generated
/// functions, or the errors).
fn parts(attr: TokenStream, item: &TokenStream, context: &Context) -> (TokenStream, TokenStream) {
    let place = context.place;
    lower::set_context(
        place == Place::Associated,
        context.siblings.clone(),
        context.impl_float.clone(),
    );
    if let Some(span) = nested_too_deep(item) {
        lower::met_limit();
        let error = syn::Error::new(
            span,
            format!(
                "nested more than {} levels deep in brackets, braces or parentheses, more than the macro's parser follows: move the inner part into a function, or split it with `let` bindings",
                lower::max_depth()
            ),
        )
        .into_compile_error();
        return (TokenStream::new(), error);
    }
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let error = syn::Error::new(
                e.span(),
                format!(
                    "{e}\n`#[differentiate]` applies to a function: `fn f(x: f64) -> f64 {{ ... }}`"
                ),
            )
            .into_compile_error();
            return (TokenStream::new(), error);
        }
    };
    if place == Place::TraitImpl {
        let f = &function.sig.ident;
        let error = syn::Error::new(
            f.span(),
            format!(
                "`#[differentiate]` cannot add `{f}_grad` and the other functions it generates to a trait's `impl` block, which holds only the trait's items: differentiate a free function or a method of an inherent `impl` block with this body, and call it from `{f}`"
            ),
        )
        .into_compile_error();
        lower::dispose(function);
        return (TokenStream::new(), error);
    }
    let function = name_parameters(function, item);
    lower::set_names_self(Some(item));
    // The function as written is its tokens: printing the parsed function again would recurse
    // down every chain of binary operators in it, a sum of thousands of terms as deep as long.
    let generated = generate(attr, &function);
    // A function without receiver that does not name `Self`, where its source file does not
    // show an `impl` block around it, may be a free function or an associated one: generated
    // code cannot name it (`f` or `Self::f`) to mark it used, so it is allowed to be unused, as
    // a crate that only calls `f_grad` leaves it.
    let allow = (!lower::has_receiver(&function) && !lower::associated(&function))
        .then(|| quote!(#[allow(dead_code)]));
    lower::set_names_self(None);
    lower::dispose(function);
    match generated {
        Ok(generated) => (quote!(#allow), generated),
        Err(e) => (TokenStream::new(), e.into_compile_error()),
    }
}

/// The function with a name for each parameter that `_` or an array pattern binds, as the
/// generated functions pass their parameters on by name: `_` becomes `_argK` (K its position),
/// and `[x, y]: [f64; 2]` (or `&[x, y]: &[f64; 2]`) becomes `argK: [f64; 2]` destructured first
/// thing in the body, `let [x, y] = argK;`. A name already in the item gets a further `_`.
fn name_parameters(mut function: ItemFn, item: &TokenStream) -> ItemFn {
    // `_`, `[a, b]` and `&[a, b]`; another pattern (a tuple's, whose type no parameter may
    // have) keeps lowering's error.
    let named = |pat: &syn::Pat| match pat {
        syn::Pat::Wild(_) | syn::Pat::Slice(_) => true,
        syn::Pat::Reference(r) => matches!(*r.pat, syn::Pat::Slice(_)),
        _ => false,
    };
    let patterned = |arg: &syn::FnArg| matches!(arg, syn::FnArg::Typed(t) if named(&t.pat));
    if !function.sig.inputs.iter().any(patterned) {
        return function;
    }
    // Every identifier of the item, read without recursion (a body may nest deeply).
    let mut taken = crate::hash::HashSet::default();
    let mut open = vec![item.clone()];
    while let Some(tokens) = open.pop() {
        for t in tokens {
            match t {
                proc_macro2::TokenTree::Ident(i) => {
                    taken.insert(i.to_string());
                }
                proc_macro2::TokenTree::Group(g) => open.push(g.stream()),
                _ => {}
            }
        }
    }
    let mut lets = Vec::new();
    for (k, arg) in function.sig.inputs.iter_mut().enumerate() {
        let syn::FnArg::Typed(typed) = arg else {
            continue;
        };
        if !named(&typed.pat) {
            continue;
        }
        let wild = matches!(*typed.pat, syn::Pat::Wild(_));
        let mut name = if wild {
            format!("_arg{k}")
        } else {
            format!("arg{k}")
        };
        while taken.contains(&name) {
            name.push('_');
        }
        taken.insert(name.clone());
        let ident = syn::Ident::new(&name, syn::spanned::Spanned::span(&*typed.pat));
        let pat = std::mem::replace(&mut *typed.pat, syn::parse_quote!(#ident));
        // `&[a, b]: &[f64; 2]`: the elements of the array referred to, as `let [a, b] = r;`
        // binds them (the body reads them as values either way).
        let pat = match pat {
            syn::Pat::Reference(r) => *r.pat,
            pat => pat,
        };
        if !wild {
            lets.push(syn::parse_quote!(let #pat = #ident;));
        }
    }
    if !lets.is_empty() {
        lets.append(&mut function.block.stmts);
        function.block.stmts = lets;
    }
    function
}

/// The first group nested deeper than lowering's limit in the item, if any: the item is then
/// refused before it is parsed. Each group is at least one level of nesting as lowering counts
/// it, so nothing it accepts is refused here; deeper items are refused before `syn`, whose
/// recursive parser needs several kilobytes of stack a level and, on rustc's 8 MiB, overflows a
/// little beyond 400 nested `if`s, between 400 and 500 right-nested products `x * (x * (..))` and
/// between 600 and 1,000 nested parentheses (rustc itself compiles about 850 and 1,100 of the
/// last two). A flat chain `a + b + c + ..` has no groups and no limit. On the thread of
/// [`differentiate_at_any_depth`] the limit is that thread's.
pub(crate) fn nested_too_deep(item: &TokenStream) -> Option<proc_macro2::Span> {
    // One more for the braces of the function's body.
    too_deep(item, lower::max_depth() + 1)
}

/// The span of the first group nested more than `limit` deep in `tokens`, found without
/// recursion.
fn too_deep(tokens: &TokenStream, limit: usize) -> Option<proc_macro2::Span> {
    let mut open = vec![tokens.clone().into_iter()];
    while let Some(level) = open.last_mut() {
        match level.next() {
            Some(proc_macro2::TokenTree::Group(g)) => {
                if open.len() > limit {
                    return Some(g.span_open());
                }
                open.push(g.stream().into_iter());
            }
            Some(_) => {}
            None => {
                open.pop();
            }
        }
    }
    None
}

fn generate(attr: TokenStream, function: &ItemFn) -> syn::Result<TokenStream> {
    let rewritten = outputs::calls(function);
    let function = rewritten.as_ref().unwrap_or(function);
    if outputs::several(function) {
        return outputs::generate(&options::parse(attr)?, function);
    }
    let options = options::parse(attr);
    let graph = lower::lower(function, options.as_ref().unwrap_or(&Options::default()));
    let (options, graph) = match (options, graph) {
        (Ok(o), Ok(g)) => (o, g),
        (Err(mut a), Err(b)) => {
            a.combine(b);
            return Err(a);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };
    derive(&options, graph)
}

/// The derivative functions of the function lowered to `graph`, for `options`: every pass
/// takes the graph, and what it emits comes from the graph alone, its signature included.
pub(crate) fn derive(options: &Options, graph: crate::graph::Graph) -> syn::Result<TokenStream> {
    let mut out = TokenStream::new();
    if options.graph {
        draw::check(&graph)?;
    }
    let checks = graph.checks.clone();
    if options.reverse || options.graph {
        let adjoint = reverse::reverse(graph.clone());
        let fused = if options.reverse {
            reverse::reverse_assuming(&graph)
        } else {
            None
        };
        let grad = emit::reverse_fn_dual(&adjoint, fused.as_ref());
        // `f_graph` shows the text of `f_grad`, which is built for it even when not emitted.
        if options.graph {
            draw::graph_fn(&graph, &grad.to_string()).to_tokens(&mut out);
        }
        if options.reverse {
            grad.to_tokens(&mut out);
            if graph.params.iter().any(crate::graph::Param::out) {
                emit::adjoint_into_fn(&adjoint, fused.as_ref()).to_tokens(&mut out);
            }
        }
    }
    if options.hessian {
        let graph = graph.clone().without_grad_into();
        let adjoint = reverse::reverse(graph.clone());
        let hvp = second::hvp(&graph, adjoint);
        emit::second::hvp_fns(&hvp).to_tokens(&mut out);
    }
    if (options.reverse || options.hessian) && graph.params.iter().any(crate::graph::Param::out) {
        emit::out_params::overwrites_fn(&graph).to_tokens(&mut out);
    }
    if options.forward {
        let tangent = forward::forward(graph);
        emit::forward_fn(&tangent).to_tokens(&mut out);
    }
    out.extend(checks);
    Ok(out)
}

#[cfg(test)]
mod tests;

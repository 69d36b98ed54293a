//! The driver: runs the stages in order and assembles the output.
//!
//! options → lower → reverse / forward → emit. The original function is always emitted as
//! written; when any stage reports errors they are emitted beside it, so the rest of the user's
//! crate still type-checks and only the attribute's mistakes are shown.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::ItemFn;

use crate::options::Options;
use crate::{emit, forward, lower, options, reverse};

/// Expands `#[differentiate(attr)] item`.
pub fn differentiate(attr: TokenStream, item: &TokenStream) -> TokenStream {
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
            return quote!(#item #error);
        }
    };
    match generate(attr, &function) {
        Ok(generated) => quote!(#function #generated),
        Err(e) => {
            let error = e.into_compile_error();
            quote!(#function #error)
        }
    }
}

fn generate(attr: TokenStream, function: &ItemFn) -> syn::Result<TokenStream> {
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
    let mut out = TokenStream::new();
    if options.reverse {
        let adjoint = reverse::reverse(graph.clone());
        emit::reverse_fn(function, &adjoint).to_tokens(&mut out);
    }
    if options.forward {
        let tangent = forward::forward(graph);
        emit::forward_fn(function, &tangent).to_tokens(&mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;

//! The `#[differentiate]` attribute of the [`autodiff`](https://docs.rs/autodiff) crate.
//!
//! The stages, one module each, in the order they run: `options` parses the attribute, `lower`
//! turns the function into a computational graph (`graph`, whose operations are named in
//! `prim`), `activity` marks what depends on the
//! active parameters, `reverse` and `forward` extend the graph with derivative code built from the
//! table in `rules` through the `algebra`, and `emit` prints the result as plain Rust; `draw` emits `f_graph`, which records the graph at a point. `expand`
//! drives them. Only the stages at the two ends read or write Rust syntax (`options`, `lower`,
//! `emit`, and `expand` which parses the item): the passes in between see the graph alone. The
//! project's `ARCHITECTURE.md` describes them.
#![forbid(unsafe_code)]

mod activity;
mod algebra;
#[cfg(test)]
mod check;
mod draw;
mod emit;
mod expand;
mod forward;
mod fuse;
mod graph;
mod hash;
mod lower;
mod names;
mod options;
mod outputs;
mod prim;
mod reverse;
mod rules;
mod second;

/// Generates derivative functions for a function of `f64`/`f32` values.
///
/// See the `autodiff` crate for the contract and examples.
#[proc_macro_attribute]
pub fn differentiate(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    let item_tokens = item.clone();
    let item: proc_macro2::TokenStream = item.into();
    let attr: proc_macro2::TokenStream = attr.into();
    // A bug in the macro must not take the user's function down with it: the function is still
    // emitted, with an error that asks for a report. (Tests call `expand` directly, so a panic
    // there still fails them.)
    let expanded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let context = expand::context::context(&item_tokens);
        expand::differentiate_at_any_depth(&attr, &item, context)
    }));
    match expanded {
        Ok(tokens) => tokens.into(),
        Err(_) => quote::quote! {
            #item
            ::core::compile_error!("internal error in #[differentiate]: please report this function");
        }
        .into(),
    }
}

//! The `#[differentiate]` attribute of the [`autodiff`](https://docs.rs/autodiff) crate.
//!
//! The stages, one module each, in the order they run: [`options`] parses the attribute,
//! [`lower`] turns the function into a computational [`graph`], [`reverse`] and [`forward`]
//! extend the graph with derivative sweeps built from the table in [`rules`] through the
//! [`algebra`], and [`emit`] prints the result as plain Rust. [`expand`] drives them. Only
//! `lower` and `emit` see `syn` and `quote`.
#![forbid(unsafe_code)]

mod activity;
mod algebra;
mod emit;
mod expand;
mod forward;
mod graph;
mod lower;
mod options;
mod reverse;
mod rules;

/// Generates derivative functions for a function of `f64`/`f32` values.
///
/// See the `autodiff` crate for the contract and examples.
#[proc_macro_attribute]
pub fn differentiate(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::differentiate(attr.into(), &item.into()).into()
}

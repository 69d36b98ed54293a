//! Long chains of binary operators, as symbolic code generators print them: a flat sum of
//! 10,000 products, with `+`, `-` and `*` mixed, runs through every stage on the stack rustc
//! gives a proc macro, and its gradient and tangent are the closed form's.
//!
//! (rustc 1.95 itself overflows its stack on a single expression of about 5,500 terms, in the
//! original function, with or without the attribute: the compiled test in
//! `tests/long_expressions.rs` stays below that.)

use proc_macro2::TokenStream;

use super::interpret::{self, Input};
use super::reference;
use crate::options::Options;
use crate::{emit, expand, forward, lower, reverse};

/// The stack a proc macro gets inside rustc.
const COMPILER_STACK: usize = 8 << 20;

/// The term `k` of the sum: `c x[k] x[k + 1]` with `c` one of `1`, `-1`, `2`, `-0.5`, so that
/// the chain mixes `+`, `-` and `*`. Returns its source and its coefficient.
fn term(k: usize) -> (String, f64) {
    match k % 4 {
        0 => (format!(" + x[{k}] * x[{}]", k + 1), 1.0),
        1 => (format!(" - x[{k}] * x[{}]", k + 1), -1.0),
        2 => (format!(" + 2.0 * x[{k}] * x[{}]", k + 1), 2.0),
        _ => (format!(" - x[{k}] * 0.5 * x[{}]", k + 1), -0.5),
    }
}

/// `fn f(x: &[f64]) -> f64 { x[0] * x[1] - x[1] * x[2] + 2.0 * x[2] * x[3] - .. }`, `n` terms,
/// and the coefficients.
fn sum(n: usize) -> (String, Vec<f64>) {
    let (terms, coefficients): (Vec<String>, Vec<f64>) = (0..n).map(term).unzip();
    let body = terms.concat();
    let body = body.strip_prefix(" + ").expect("the first term is added");
    (format!("fn f(x: &[f64]) -> f64 {{ {body} }}"), coefficients)
}

/// `∂/∂x_k = c_{k-1} x_{k-1} + c_k x_{k+1}`.
fn closed_gradient(c: &[f64], x: &[f64]) -> Vec<f64> {
    let mut g = vec![0.0; x.len()];
    for (k, c) in c.iter().enumerate() {
        g[k] += c * x[k + 1];
        g[k + 1] += c * x[k];
    }
    g
}

/// Runs `f` on a thread with the compiler's stack.
fn on_compiler_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(COMPILER_STACK)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .expect("no panic and no stack overflow")
}

/// What the stages compute for a sum at a point: the value by the reference evaluator of the
/// source and by the IR, the gradient, the tangent along `direction`; and the size of the two
/// generated functions, in top-level tokens.
struct Run {
    source_value: f64,
    value: f64,
    gradient: Vec<f64>,
    tangent: f64,
    emitted: usize,
}

/// Every stage of the expansion, as `expand::differentiate` runs them, on the compiler's stack.
fn run(source: String, x: Vec<f64>, direction: Vec<f64>) -> Run {
    on_compiler_stack(move || {
        let tokens: TokenStream = source.parse().expect("tokens");
        assert!(expand::nested_too_deep(&tokens).is_none());
        let item: syn::ItemFn = syn::parse2(tokens).expect("a function");
        let graph = lower::lower(&item, &Options::default()).expect("lowers");
        let adjoint = reverse::reverse(graph.clone());
        let tangent = forward::forward(graph);
        let emitted = emit::reverse_fn(&adjoint).into_iter().count()
            + emit::forward_fn(&tangent).into_iter().count();
        let inputs = [Input::Array(x)];
        let source_value = reference::run(&item, &inputs).expect("the reference evaluates");
        lower::dispose(item);
        let g = interpret::gradient(&adjoint, &inputs).expect("runs");
        let (value, tangent) =
            interpret::tangent(&tangent, &inputs, &[Some(Input::Array(direction))]).expect("runs");
        assert_eq!(value.to_bits(), g.value.to_bits());
        Run {
            source_value,
            value,
            gradient: g.entries,
            tangent,
            emitted,
        }
    })
}

/// A flat sum of 10,000 products, mixed `+`, `-`, `*`: refused before as "nested more than 256
/// levels deep", it now expands, and its gradient and tangent are the closed form's.
#[test]
fn sum_of_10_000_products() {
    let n = 10_000;
    let (source, c) = sum(n);
    #[allow(clippy::cast_precision_loss, reason = "small integers")]
    let x: Vec<f64> = (0..=n).map(|k| 1.0 + (k % 7) as f64 * 0.25).collect();
    #[allow(clippy::cast_precision_loss, reason = "small integers")]
    let direction: Vec<f64> = (0..=n).map(|k| ((k % 5) as f64 - 2.0) * 0.5).collect();
    let r = run(source, x.clone(), direction.clone());
    assert!(r.emitted > 0);
    assert_eq!(r.value.to_bits(), r.source_value.to_bits());
    let want = closed_gradient(&c, &x);
    assert_eq!(r.gradient.len(), want.len());
    for (k, (g, w)) in r.gradient.iter().zip(&want).enumerate() {
        // Each entry is a sum of two products: exact up to one rounding of each.
        assert!(
            (g - w).abs() <= 1e-14 * w.abs().max(1.0),
            "∂/∂x{k}: {g} != {w}"
        );
    }
    let dot: f64 = want.iter().zip(&direction).map(|(g, d)| g * d).sum();
    let scale: f64 = want
        .iter()
        .zip(&direction)
        .map(|(g, d)| (g * d).abs())
        .sum();
    assert!(
        (r.tangent - dot).abs() <= 1e-12 * scale,
        "{} != {dot}",
        r.tangent
    );
}

/// The source of the case is what it says: the first terms, and the count of operators.
#[test]
fn the_sum_mixes_its_operators() {
    let (source, c) = sum(4);
    assert_eq!(
        source,
        "fn f(x: &[f64]) -> f64 { x[0] * x[1] - x[1] * x[2] + 2.0 * x[2] * x[3] - x[3] * 0.5 * x[4] }"
    );
    assert_eq!(c, [1.0, -1.0, 2.0, -0.5]);
}

//! Iterator forms against their index-loop twins: the same function written with an iterator
//! chain and with an index loop, each differentiated by `#[differentiate]`. The macro lowers a
//! chain to the loop the twin writes, so each pair's gradients should take the same time
//! (`examples/bench_report.rs` prints the ratios; the target is within 5%).

#![allow(clippy::needless_range_loop)] // The twins index on purpose: they are the reference.

use autodiff::differentiate;

/// The dot product through `zip`, `map` and `sum`.
#[differentiate]
#[must_use]
pub fn dot_iter(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| a * b).sum()
}

/// The dot product by index: the twin of [`dot_iter`] (starting from `-0.0`, as `sum` does).
#[differentiate]
#[must_use]
pub fn dot_loop(x: &[f64], y: &[f64]) -> f64 {
    let mut s = -0.0;
    for i in 0..x.len() {
        s += x[i] * y[i];
    }
    s
}

/// Rosenbrock through `windows(2)`.
#[differentiate]
#[must_use]
pub fn rosenbrock_windows(x: &[f64]) -> f64 {
    x.windows(2)
        .map(|w| 100.0 * (w[1] - w[0] * w[0]).powi(2) + (1.0 - w[0]).powi(2))
        .sum()
}

/// Rosenbrock by index: the twin of [`rosenbrock_windows`].
#[differentiate]
#[must_use]
pub fn rosenbrock_loop(x: &[f64]) -> f64 {
    let mut s = -0.0;
    for i in 0..x.len() - 1 {
        s += 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2);
    }
    s
}

/// The pairs, as `(name, iterator form, index loop)`, each `(x, grad) -> value` with `grad`
/// overwritten (a dot product's two halves of `x` are its two vectors).
pub type Pair = (
    &'static str,
    fn(&[f64], &mut [f64]) -> f64,
    fn(&[f64], &mut [f64]) -> f64,
);

fn dot_iter_into(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    let (a, b) = x.split_at(x.len() / 2);
    let (ga, gb) = g.split_at_mut(x.len() / 2);
    dot_iter_grad_into(a, ga, b, gb).0
}

fn dot_loop_into(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    let (a, b) = x.split_at(x.len() / 2);
    let (ga, gb) = g.split_at_mut(x.len() / 2);
    dot_loop_grad_into(a, ga, b, gb).0
}

fn rosenbrock_windows_into(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    rosenbrock_windows_grad_into(x, g).0
}

fn rosenbrock_loop_into(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    rosenbrock_loop_grad_into(x, g).0
}

/// The benchmark pairs.
pub const PAIRS: [Pair; 2] = [
    ("dot: zip().map().sum()", dot_iter_into, dot_loop_into),
    (
        "rosenbrock: windows(2).map().sum()",
        rosenbrock_windows_into,
        rosenbrock_loop_into,
    ),
];

/// The sizes at which the pairs are timed.
pub const SIZES: [usize; 2] = [100, 10_000];

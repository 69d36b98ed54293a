//! `0 · ∞ = 0` through calls: a callee's partial derivative is a value the caller does not see,
//! so the caller's backward code guards both ways, as the chain rule does inline. An infinite
//! adjoint (from `sqrt` at 0) meeting a callee's partial of exactly 0, and an adjoint of exactly
//! 0 meeting a callee's infinite partial, give 0, never NaN: the gradient of `sq(x).sqrt()` at 0
//! is that of `(x * x).sqrt()`, and forward mode agrees.
use autodiff::differentiate;

#[differentiate(reverse, forward)]
fn sq(x: f64) -> f64 {
    x * x
}

/// `|x|` through a helper: at 0 the helper's partial is 0 and the adjoint `1 / (2 √0)` is ∞.
#[differentiate(reverse, forward)]
fn abs_by_call(x: f64) -> f64 {
    sq(x).sqrt()
}

/// The same, written inline: the reference the call must agree with.
#[differentiate(reverse, forward)]
fn abs_inline(x: f64) -> f64 {
    (x * x).sqrt()
}

/// The Euclidean norm through two calls, and used again after it.
#[differentiate(reverse, forward)]
fn norm_by_calls(x: f64, y: f64) -> f64 {
    let r = sq(x) + sq(y);
    r.sqrt() * 2.0 + x
}

#[differentiate(reverse, forward)]
fn root(x: f64) -> f64 {
    x.sqrt()
}

/// `w √x`: at `x = 0` the helper's partial is ∞, and with `w = 0` the adjoint reaching it is 0.
#[differentiate(reverse, forward)]
fn scaled_root(x: f64, w: f64) -> f64 {
    w * root(x)
}

/// Calls in a loop: `Σ √(xᵢ²)` through the helper, reversed with its partials on a tape.
#[differentiate(reverse, forward)]
#[allow(clippy::needless_range_loop)]
fn abs_sum_loop(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += sq(x[i]).sqrt();
    }
    s
}

#[differentiate(reverse, forward)]
#[allow(clippy::needless_range_loop)]
fn sum_sq(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i] * x[i];
    }
    s
}

/// The norm of a slice through a helper of the slice: its gradient is a buffer of zeros at the
/// origin, scaled by an infinite adjoint.
#[differentiate(reverse, forward)]
fn slice_norm(x: &[f64]) -> f64 {
    sum_sq(x).sqrt()
}

#[differentiate(reverse, forward)]
#[allow(clippy::needless_range_loop)]
fn sum_roots(x: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += x[i].sqrt();
    }
    s
}

/// `w Σ √xᵢ`: an element where the helper's gradient is ∞, scaled by an adjoint of 0.
#[differentiate(reverse, forward)]
fn scaled_roots(x: &[f64], w: f64) -> f64 {
    w * sum_roots(x)
}

#[test]
fn an_infinite_adjoint_times_a_callees_zero_partial_is_zero() {
    assert_eq!(abs_by_call_grad(0.0), (0.0, 0.0));
    assert_eq!(abs_by_call_grad(0.0), abs_inline_grad(0.0));
    assert_eq!(abs_by_call_jvp(0.0, 1.0), (0.0, 0.0));
    // Away from 0 the guard changes nothing: d|x|/dx = sign(x).
    assert_eq!(abs_by_call_grad(-1.5), (1.5, -1.0));
    assert_eq!(abs_by_call_grad(2.0), abs_inline_grad(2.0));

    // The norm's subgradient at the origin is (0, 0); the `+ x` adds 1 to ∂/∂x.
    assert_eq!(norm_by_calls_grad(0.0, 0.0), (0.0, 1.0, 0.0));
    assert_eq!(norm_by_calls_jvp(0.0, 1.0, 0.0, 0.0), (0.0, 1.0));
    // Closed form elsewhere: ∂/∂x = 2x/r + 1, ∂/∂y = 2y/r at r = 5.
    let (v, dx, dy) = norm_by_calls_grad(3.0, 4.0);
    assert_eq!(v, 13.0);
    assert!((dx - (2.0 * 3.0 / 5.0 + 1.0)).abs() < 1e-15);
    assert!((dy - 2.0 * 4.0 / 5.0).abs() < 1e-15);

    let x = [0.0, -2.0, 0.0, 3.0];
    let (v, g) = abs_sum_loop_grad(&x);
    assert_eq!(v, 5.0);
    assert_eq!(g, vec![0.0, -1.0, 0.0, 1.0]);

    let (v, g) = slice_norm_grad(&[0.0, 0.0, 0.0]);
    assert_eq!((v, g), (0.0, vec![0.0, 0.0, 0.0]));
    let (v, g) = slice_norm_grad(&[3.0, 0.0, -4.0]);
    assert_eq!(v, 5.0);
    for (gi, expected) in g.iter().zip([0.6, 0.0, -0.8]) {
        assert!((gi - expected).abs() < 1e-15, "{g:?}");
    }
}

#[test]
fn a_zero_adjoint_times_a_callees_infinite_partial_is_zero() {
    // ∂/∂x = w / (2 √x): 0 · ∞ at x = w = 0; ∂/∂w = √x = 0.
    assert_eq!(root_grad(0.0), (0.0, f64::INFINITY));
    assert_eq!(scaled_root_grad(0.0, 0.0), (0.0, 0.0, 0.0));
    assert_eq!(scaled_root_jvp(0.0, 1.0, 0.0, 0.0), (0.0, 0.0));
    // With w ≠ 0 the derivative is infinite, as the mathematics says.
    assert_eq!(scaled_root_grad(0.0, 2.0), (0.0, f64::INFINITY, 0.0));
    assert_eq!(scaled_root_grad(4.0, 3.0), (6.0, 0.75, 2.0));

    let (v, g, dw) = scaled_roots_grad(&[0.0, 4.0], 0.0);
    assert_eq!((v, dw), (0.0, 2.0));
    assert_eq!(g, vec![0.0, 0.0]);
    let (v, g, dw) = scaled_roots_grad(&[1.0, 4.0], 2.0);
    assert_eq!((v, dw), (6.0, 3.0));
    assert_eq!(g, vec![1.0, 0.5]);
}

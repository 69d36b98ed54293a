//! Floats taken by reference, `x: &f64`: a constant unless `wrt` names it, then an active
//! float whose gradient entry is a float and whose tangent and direction are references too.
// The functions take `&f64` on purpose, as rustc's autodiff tests do.
#![allow(clippy::trivially_copy_pass_by_ref)]

use approx::assert_relative_eq;
use autodiff::differentiate;

#[allow(dead_code)]
mod common;

use common::oracles::{FD, assert_near, fd_gradient};
use num_traits::Float;

/// rustc's `tests/codegen-llvm/autodiff/scalar.rs`.
#[differentiate(reverse, forward, hessian, graph, wrt(x))]
fn square(x: &f64) -> f64 {
    x * x
}

#[differentiate(reverse, forward, hessian, wrt(x))]
fn square32(x: &f32) -> f32 {
    x * x
}

/// Read through `*x`, by a method, and compared.
#[differentiate(reverse, forward, hessian, wrt(x, y))]
fn mixed(x: &f64, y: f64, k: &f64) -> f64 {
    let a = *x;
    let mut s = 0.0;
    for i in 0..3 {
        s += a * y * f64::from(i) + x.sin() * k;
    }
    if *x > 0.0 { s * x } else { s - *x }
}

/// Generic over the float type.
#[differentiate(reverse, forward, hessian, wrt(x))]
fn wave<T: Float>(x: &T) -> T {
    *x * x.sin()
}

/// Beside a slice.
#[differentiate(reverse, forward, hessian, wrt(x, w))]
fn weighted(x: &f64, w: &[f64]) -> f64 {
    let mut s = 0.0;
    for wi in w {
        s += wi * x.powi(2);
    }
    s
}

/// A call passing `&y` of a float, and a parameter `x: &f64` passed on by its name.
#[differentiate(reverse, forward, hessian, graph)]
fn outer(y: f64) -> f64 {
    square(&y) * 2.0 + scaled(&(y * y), &3.0)
}

#[differentiate(reverse, forward, hessian, wrt(x, k))]
fn scaled(x: &f64, k: &f64) -> f64 {
    x.sin() * k
}

#[differentiate(reverse, forward, hessian, wrt(x))]
fn passes(x: &f64) -> f64 {
    square(x) + *x
}

/// Shadowed by its value: a call then passes the value.
#[differentiate(reverse, forward, hessian, wrt(x))]
fn shadowed(x: &f64) -> f64 {
    let x = *x;
    x * x.exp()
}

/// Without `wrt`, `&f64` is a constant, read as `*c` or as `c`.
#[differentiate(reverse, forward)]
fn constant_ref(y: f64, c: &f64) -> f64 {
    y * c + *c
}

#[test]
fn a_reference_named_in_wrt_has_a_gradient() {
    assert_eq!(square_grad(&3.0), (9.0, 6.0));
    assert_eq!(square_jvp(&3.0, &1.0), (9.0, 6.0));
    assert_eq!(square_jvp(&3.0, &0.5), (9.0, 3.0));
    assert_eq!(square_hvp(&3.0, &1.0), (9.0, 6.0, 2.0));
    assert_eq!(square_hessian(&3.0), (9.0, 6.0, [[2.0]]));
    let g = square_graph(&3.0);
    assert_eq!(g.node("x").map(autodiff::GraphNode::adjoint), Some(6.0));
}

#[test]
fn f32_references() {
    let (v, d): (f32, f32) = square32_grad(&3.0);
    assert_eq!((v, d), (9.0, 6.0));
    assert_eq!(square32_jvp(&3.0, &1.0), (9.0, 6.0));
    assert_eq!(square32_hvp(&3.0, &1.0), (9.0, 6.0, 2.0));
}

#[test]
fn deref_methods_and_branches() {
    // f = x (3xy + 3k sin x) for x > 0, s - x otherwise.
    for (x, y, k) in [(0.5, 2.0, 3.0), (-0.5, 2.0, 3.0), (1.25, -0.75, 0.5)] {
        let s = 3.0 * x * y + 3.0 * k * f64::sin(x);
        let ds_dx = 3.0 * y + 3.0 * k * x.cos();
        let (want, dx, dy) = if x > 0.0 {
            (s * x, s + x * ds_dx, 3.0 * x * x)
        } else {
            (s - x, ds_dx - 1.0, 3.0 * x)
        };
        let (v, gx, gy) = mixed_grad(&x, y, &k);
        assert_relative_eq!(v, want, max_relative = 1e-14);
        assert_relative_eq!(gx, dx, max_relative = 1e-13);
        assert_relative_eq!(gy, dy, max_relative = 1e-13);
        let fd = fd_gradient(|p| mixed(&p[0], p[1], &k), &[x, y]);
        assert_near("mixed", &[gx, gy], &fd, FD);
        let (_, t) = mixed_jvp(&x, &0.25, y, -2.0, &k);
        assert_relative_eq!(t, 0.25 * gx - 2.0 * gy, max_relative = 1e-13);
        let (_, hx, hy, hess) = mixed_hessian(&x, y, &k);
        assert_eq!((hx, hy), (gx, gy));
        let d2x = if x > 0.0 {
            2.0 * ds_dx - 3.0 * k * x * x.sin()
        } else {
            -3.0 * k * x.sin()
        };
        let dxy = if x > 0.0 { 6.0 * x } else { 3.0 };
        assert_relative_eq!(hess[0][0], d2x, max_relative = 1e-13);
        assert_relative_eq!(hess[0][1], dxy, max_relative = 1e-13);
        assert_relative_eq!(hess[1][0], dxy, max_relative = 1e-13);
        assert_eq!(hess[1][1], 0.0);
    }
}

#[test]
fn generic_references() {
    let x = 0.5_f64;
    let (v, d) = wave_grad(&x);
    assert_relative_eq!(v, x * x.sin(), max_relative = 1e-15);
    assert_relative_eq!(d, x.sin() + x * x.cos(), max_relative = 1e-15);
    assert_eq!(wave_jvp(&x, &1.0), (v, d));
    let (_, _, hv) = wave_hvp(&x, &1.0);
    assert_relative_eq!(hv, 2.0 * x.cos() - x * x.sin(), max_relative = 1e-14);
    let (v32, d32) = wave_grad(&0.5_f32);
    assert_relative_eq!(v32, 0.5_f32 * 0.5_f32.sin(), max_relative = 1e-6);
    assert_relative_eq!(
        d32,
        0.5_f32.sin() + 0.5 * 0.5_f32.cos(),
        max_relative = 1e-6
    );
}

#[test]
fn beside_a_slice() {
    let w = [1.0, 2.0];
    assert_eq!(weighted_grad(&0.5, &w), (0.75, 3.0, vec![0.25, 0.25]));
    let mut dw = [0.0; 2];
    assert_eq!(weighted_grad_into(&0.5, &w, &mut dw), (0.75, 3.0));
    assert_eq!(dw, [0.25, 0.25]);
    assert_eq!(
        weighted_hvp(&0.5, &1.0, &w, &[0.0, 0.0]),
        (0.75, 3.0, vec![0.25, 0.25], 6.0, vec![1.0, 1.0])
    );
    let (_, _, _, hess) = weighted_hessian(&0.5, &w);
    assert_eq!(hess, vec![6.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
}

#[test]
fn calls_pass_references() {
    // 2y² + 3 sin(y²).
    let y = 1.5_f64;
    let (v, d) = outer_grad(y);
    assert_relative_eq!(v, 2.0 * y * y + 3.0 * (y * y).sin(), max_relative = 1e-15);
    let want = 4.0 * y + 6.0 * y * (y * y).cos();
    assert_relative_eq!(d, want, max_relative = 1e-13);
    assert_eq!(outer_jvp(y, 1.0), (v, d));
    let (_, _, hv) = outer_hvp(y, 1.0);
    let want2 = 4.0 + 6.0 * (y * y).cos() - 12.0 * y * y * (y * y).sin();
    assert_relative_eq!(hv, want2, max_relative = 1e-13);
    let g = outer_graph(y);
    assert_relative_eq!(
        g.node("y").map(autodiff::GraphNode::adjoint).unwrap(),
        want,
        max_relative = 1e-13
    );
    // x² + x.
    assert_eq!(passes_grad(&1.5), (3.75, 4.0));
    assert_eq!(passes_jvp(&1.5, &1.0), (3.75, 4.0));
    assert_eq!(passes_hvp(&1.5, &1.0), (3.75, 4.0, 2.0));
    // x eˣ.
    let (v, d) = shadowed_grad(&1.5);
    assert_relative_eq!(v, 1.5 * 1.5_f64.exp(), max_relative = 1e-15);
    assert_relative_eq!(d, 2.5 * 1.5_f64.exp(), max_relative = 1e-15);
    let (_, _, h) = shadowed_hvp(&1.5, &1.0);
    assert_relative_eq!(h, 3.5 * 1.5_f64.exp(), max_relative = 1e-14);
}

#[test]
fn without_wrt_a_reference_is_a_constant() {
    assert_eq!(constant_ref_grad(1.5, &2.0), (5.0, 2.0));
    assert_eq!(constant_ref_jvp(1.5, 1.0, &2.0), (5.0, 2.0));
}

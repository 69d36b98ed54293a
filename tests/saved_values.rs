//! Calls into the math library inside a reversed loop (`exp`, `tanh`, `sin`, `ln`) are saved on
//! a tape in the forward sweep rather than computed again in the backward sweep. These check the
//! gradients and Hessians of such loops against closed forms derived by hand, and a loop over a
//! short slice (whose tape lives on the stack) against one over a long slice (whose tape
//! spills to the heap).
#![allow(clippy::needless_range_loop)]
// Test sizes are far below 2^52.
#![allow(clippy::cast_precision_loss)]

use allocation_counter::measure;
use autodiff::differentiate;
use std::hint::black_box;

// Shared with the other tests, which use the parts this file does not.
#[allow(dead_code)]
mod common;

use common::oracles::{EXACT, assert_near, check_hessian};

/// `ln Σ exp(xᵢ)`, about the largest element, as `ADBench`'s `logsumexp` writes it.
#[differentiate(reverse, hessian)]
fn logsumexp(x: &[f64]) -> f64 {
    let mut mx = x[0];
    for i in 1..x.len() {
        mx = mx.max(x[i]);
    }
    let mut semx = 0.0;
    for i in 0..x.len() {
        semx += (x[i] - mx).exp();
    }
    semx.ln() + mx
}

/// `Σ tanh(xᵢ) sin(xᵢ) + ln(1 + xᵢ²)`, with a weight read from a second slice.
#[differentiate(reverse, hessian, wrt(x))]
fn waves(x: &[f64], w: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..x.len() {
        s += w[i] * x[i].tanh() * x[i].sin() + (1.0 + x[i] * x[i]).ln();
    }
    s
}

fn points(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7 + 3) % 11) as f64 * 0.37 - 1.6)
        .collect()
}

#[test]
fn logsumexp_gradient_and_hessian_are_the_softmax_and_its_jacobian() {
    // 5 elements keep the tape on the stack; 40 spill it to the heap.
    for n in [1, 5, 16, 17, 40] {
        let x = points(n);
        let mx = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = x.iter().map(|v| (v - mx).exp()).sum();
        let p: Vec<f64> = x.iter().map(|v| (v - mx).exp() / z).collect();
        let (value, grad) = logsumexp_grad(&x);
        assert_near("value", &[value], &[z.ln() + mx], EXACT);
        assert_near("softmax", &grad, &p, EXACT);
        let (_, _, hess) = logsumexp_hessian(&x);
        let want: Vec<f64> = (0..n * n)
            .map(|k| {
                let (i, j) = (k / n, k % n);
                if i == j {
                    p[i] - p[i] * p[j]
                } else {
                    -p[i] * p[j]
                }
            })
            .collect();
        assert_near("diag(p) - p pᵀ", &hess, &want, EXACT);
    }
}

#[test]
fn waves_gradient_and_hessian_match_their_closed_forms() {
    for n in [3, 16, 100] {
        let x = points(n);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + 0.1 * i as f64).collect();
        let (_, grad) = waves_grad(&x, &w);
        let (_, _, hess) = waves_hessian(&x, &w);
        let mut want_grad = vec![0.0; n];
        let mut want_hess = vec![0.0; n * n];
        for i in 0..n {
            let (t, s, c, v) = (x[i].tanh(), x[i].sin(), x[i].cos(), x[i]);
            let sech2 = 1.0 - t * t;
            want_grad[i] = w[i] * (sech2 * s + t * c) + 2.0 * v / (1.0 + v * v);
            want_hess[i * n + i] = w[i] * (-2.0 * t * sech2 * s + 2.0 * sech2 * c - t * s)
                + (2.0 - 2.0 * v * v) / ((1.0 + v * v) * (1.0 + v * v));
        }
        assert_near("gradient", &grad, &want_grad, EXACT);
        assert_near("hessian", &hess, &want_hess, EXACT);
    }
}

/// A product over a fixed-size array with a method reading a field: the loop is reversed as a
/// second loop, so its `sin` values are saved, and their tangents with them in `f_hvp`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Wave {
    a: f64,
}

// `&self`, as a method is usually written, though `Wave` is small.
#[allow(clippy::trivially_copy_pass_by_ref)]
impl Wave {
    #[differentiate(reverse, hessian, wrt(self, x))]
    fn product(&self, x: &[f64; 3]) -> f64 {
        let mut p = 1.0;
        for i in 0..3 {
            p *= (self.a * x[i]).sin() + 2.0;
        }
        p
    }
}

#[differentiate(reverse, hessian)]
fn wave_product(a: f64, x: &[f64; 3]) -> f64 {
    let mut p = 1.0;
    for i in 0..3 {
        p *= (a * x[i]).sin() + 2.0;
    }
    p
}

#[test]
fn a_product_of_saved_sines_has_the_hessian_of_finite_differences() {
    let a = 0.7;
    let x = [0.3, -0.4, 0.9];
    let (_, _, _, hess) = wave_product_hessian(a, &x);
    let hess: Vec<f64> = hess.iter().flatten().copied().collect();
    // Central differences of the gradient (an oracle outside the Hessian's code).
    let grad = |q: &[f64]| {
        let (_, da, dx) = wave_product_grad(q[0], &[q[1], q[2], q[3]]);
        vec![da, dx[0], dx[1], dx[2]]
    };
    check_hessian("H", &hess, grad, &[a, x[0], x[1], x[2]]);
    // The method, with `a` a field of `self`, flattens `self.a` first, then `x`.
    let (_, _, _, by_method) = Wave { a }.product_hessian(&x);
    assert_near("method", &by_method, &hess, EXACT);
}

#[test]
fn a_loop_over_a_short_slice_keeps_its_tape_on_the_stack() {
    // A loop over a slice parameter keeps 16 values per push inline: a point's few coordinates
    // (a helper called once per point) need no heap.
    for n in [1_u8, 5, 16] {
        let x: Vec<f64> = (0..n).map(|i| f64::from(i).sin()).collect();
        let mut d_x = vec![0.0; x.len()];
        let info = measure(|| {
            black_box(logsumexp_grad_into(black_box(&x), &mut d_x));
        });
        assert_eq!(info.count_total, 0, "n = {n}");
    }
    // Past them, the float tape (one per kind of value: the maxima and the exponentials, 32
    // inline) spills once.
    let x: Vec<f64> = (0..40).map(|i| f64::from(i).sin()).collect();
    let mut d_x = vec![0.0; 40];
    let info = measure(|| {
        black_box(logsumexp_grad_into(black_box(&x), &mut d_x));
    });
    assert_eq!(info.count_total, 1);
}

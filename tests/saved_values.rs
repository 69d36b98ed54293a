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

/// `a · b`, a sibling of two slices.
#[differentiate(reverse)]
fn dot2(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i];
    }
    s
}

/// `h ← tanh(h + w · vᵣ)` over the rows `vᵣ` of `v` (each as long as `w`): a sibling of two
/// active slices called in a loop whose backward code runs after it, so both of the call's
/// gradients are saved for it; the first is added straight into zeros pushed on the tape, the
/// second copied there after the call.
#[differentiate(reverse)]
fn recurrence(w: &[f64], v: &[f64]) -> f64 {
    let d = w.len();
    let mut h = 0.0;
    for r in 0..v.len() / d {
        h = (h + dot2(w, &v[r * d..(r + 1) * d])).tanh();
    }
    h
}

/// The same recurrence and its gradient by hand: `hᵣ = tanh(hᵣ₋₁ + w · vᵣ)`, and backwards
/// `gᵣ = gᵣ₊₁ (1 − hᵣ²)`, `∂/∂w += gᵣ vᵣ`, `∂/∂vᵣ = gᵣ w`, `∂/∂hᵣ₋₁ = gᵣ`.
fn recurrence_by_hand(w: &[f64], v: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let d = w.len();
    let rows = v.len() / d;
    let mut hs = vec![0.0; rows + 1];
    for r in 0..rows {
        let z: f64 = (0..d).map(|i| w[i] * v[r * d + i]).sum();
        hs[r + 1] = (hs[r] + z).tanh();
    }
    let (mut d_w, mut d_v) = (vec![0.0; d], vec![0.0; v.len()]);
    let mut g = 1.0;
    for r in (0..rows).rev() {
        g *= 1.0 - hs[r + 1] * hs[r + 1];
        for i in 0..d {
            d_w[i] += g * v[r * d + i];
            d_v[r * d + i] += g * w[i];
        }
    }
    (hs[rows], d_w, d_v)
}

/// `d` weights and `rows` rows of `d` values, the inputs of the recurrences below.
fn weights_and_rows(d: usize, rows: usize) -> (Vec<f64>, Vec<f64>) {
    let w = (0..d).map(|i| 0.3 * (i as f64 + 1.0).sin()).collect();
    let v = (0..d * rows)
        .map(|i| 0.2 * (0.7 * i as f64).cos())
        .collect();
    (w, v)
}

/// A generated `f_grad_into(w, d_w, v, d_v)`.
type GradInto = fn(&[f64], &mut [f64], &[f64], &mut [f64]) -> (f64,);

/// The value and the gradients that a generated `_grad_into` of `(w, v)` gives.
fn gradient_at(grad_into: GradInto, w: &[f64], v: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    let (mut d_w, mut d_v) = (vec![0.0; w.len()], vec![0.0; v.len()]);
    let (value,) = grad_into(w, &mut d_w, v, &mut d_v);
    (value, d_w, d_v)
}

/// Asserts gradients of `f` at `(w, v)` against its central differences.
fn against_differences(
    f: fn(&[f64], &[f64]) -> f64,
    w: &[f64],
    v: &[f64],
    d_w: &[f64],
    d_v: &[f64],
) {
    let fd_w = common::oracles::fd_gradient(|p| f(p, v), w);
    let fd_v = common::oracles::fd_gradient(|p| f(w, p), v);
    assert_near("d_w against differences", d_w, &fd_w, 1e-7);
    assert_near("d_v against differences", d_v, &fd_v, 1e-7);
}

/// A call of a sibling in a reversed loop saves the gradients of its slices on the tape (the
/// first without a copy): against the gradient by hand, and finite differences, for rows short
/// enough for the sibling's scratch to live on the stack and longer ones.
#[test]
fn gradients_of_a_call_in_a_reversed_loop_are_saved_whole() {
    for (d, rows) in [(3, 4), (20, 3)] {
        let (w, v) = weights_and_rows(d, rows);
        let (value, d_w, d_v) = gradient_at(recurrence_grad_into, &w, &v);
        let (want, want_w, want_v) = recurrence_by_hand(&w, &v);
        assert_near("value", &[value], &[want], EXACT);
        assert_near("d_w", &d_w, &want_w, EXACT);
        assert_near("d_v", &d_v, &want_v, EXACT);
        against_differences(recurrence, &w, &v, &d_w, &d_v);
    }
}

/// `a · b` with a derivative written by hand, `dot_by_hand_grad`: a function the macro does not
/// see, called through its `_grad`, whose two gradients come back as `Vec`s.
fn dot_by_hand(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot_by_hand_grad(a: &[f64], b: &[f64]) -> (f64, Vec<f64>, Vec<f64>) {
    (dot_by_hand(a, b), b.to_vec(), a.to_vec())
}

/// [`recurrence`] through the hand-written derivative.
#[differentiate(reverse)]
fn recurrence_by_custom(w: &[f64], v: &[f64]) -> f64 {
    let d = w.len();
    let mut h = 0.0;
    for r in 0..v.len() / d {
        h = (h + dot_by_hand(w, &v[r * d..(r + 1) * d])).tanh();
    }
    h
}

/// The same through `g_grad`, whose `Vec`s the forward sweep copies onto the tape.
#[test]
fn gradients_of_a_custom_call_in_a_reversed_loop_come_back_in_order() {
    let (w, v) = weights_and_rows(3, 4);
    let (value, d_w, d_v) = gradient_at(recurrence_by_custom_grad_into, &w, &v);
    let (want, want_w, want_v) = recurrence_by_hand(&w, &v);
    assert_near("value", &[value], &[want], EXACT);
    assert_near("d_w", &d_w, &want_w, EXACT);
    assert_near("d_v", &d_v, &want_v, EXACT);
}

/// `Σ aᵢ bᵢ cᵢ`, a sibling of three slices.
#[differentiate(reverse)]
fn triple(a: &[f64], b: &[f64], c: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..a.len() {
        s += a[i] * b[i] * c[i];
    }
    s
}

/// The call shapes around [`recurrence`]'s: three slice arguments, a local array overwritten
/// per iteration passed beside a parameter, and the call in a branch of the loop, each in a loop
/// whose backward code runs after it.
#[differentiate(reverse)]
fn recurrences(w: &[f64], v: &[f64]) -> f64 {
    let d = w.len();
    let mut h = 0.0;
    let mut row = [0.0; 3];
    for r in 0..v.len() / d {
        h = (h + triple(w, &v[r * d..(r + 1) * d], w)).tanh();
        for i in 0..3 {
            row[i] = (v[r * d + i] * h).sin();
        }
        if r % 2 == 0 {
            h = (h * 0.5 + dot2(&row, &w[0..3])).tanh();
        } else {
            h = h.sin() + dot2(&w[0..3], &row) * h;
        }
    }
    h
}

/// Those shapes against central differences of the primal.
#[test]
fn gradients_of_calls_with_several_arrays_in_reversed_loops_match_differences() {
    let (w, v) = weights_and_rows(4, 5);
    let (value, d_w, d_v) = gradient_at(recurrences_grad_into, &w, &v);
    assert_near("value", &[value], &[recurrences(&w, &v)], EXACT);
    against_differences(recurrences, &w, &v, &d_w, &d_v);
}

//! Calls into the math library inside a reversed loop (`exp`, `tanh`, `sin`, `ln`) are saved on
//! a tape in the forward sweep rather than computed again in the backward sweep. These check the
//! gradients and Hessians of such loops against closed forms derived by hand, and a loop over a
//! short slice (whose tape lives on the stack) against one over a long slice (whose tape
//! spills to the heap).
#![allow(clippy::needless_range_loop)]
// Test sizes are far below 2^52.
#![allow(clippy::cast_precision_loss)]

use autodiff::differentiate;

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

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-12 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
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
        close("value", value, z.ln() + mx);
        for i in 0..n {
            close("softmax", grad[i], p[i]);
        }
        let (_, _, hess) = logsumexp_hessian(&x);
        for i in 0..n {
            for j in 0..n {
                let want = if i == j {
                    p[i] - p[i] * p[j]
                } else {
                    -p[i] * p[j]
                };
                close("diag(p) - p pᵀ", hess[i * n + j], want);
            }
        }
    }
}

#[test]
fn waves_gradient_and_hessian_match_their_closed_forms() {
    for n in [3, 16, 100] {
        let x = points(n);
        let w: Vec<f64> = (0..n).map(|i| 0.5 + 0.1 * i as f64).collect();
        let (_, grad) = waves_grad(&x, &w);
        let (_, _, hess) = waves_hessian(&x, &w);
        for i in 0..n {
            let (t, s, c, v) = (x[i].tanh(), x[i].sin(), x[i].cos(), x[i]);
            let sech2 = 1.0 - t * t;
            let want = w[i] * (sech2 * s + t * c) + 2.0 * v / (1.0 + v * v);
            close("gradient", grad[i], want);
            let second = w[i] * (-2.0 * t * sech2 * s + 2.0 * sech2 * c - t * s)
                + (2.0 - 2.0 * v * v) / ((1.0 + v * v) * (1.0 + v * v));
            for j in 0..n {
                close(
                    "hessian",
                    hess[i * n + j],
                    if i == j { second } else { 0.0 },
                );
            }
        }
    }
}
